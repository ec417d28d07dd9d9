/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <string.h>

#include "dotdec.h"

enum {
	ST_BOL,		/* at the start of a line */
	ST_DOT,		/* saw '.' at the start of a line */
	ST_DOTCR,	/* saw ".\r" at the start of a line */
	ST_MID,		/* inside a line */
	ST_CR,		/* inside a line, holding a '\r' that may start CRLF */
};

void
dotdec_init(struct dotdec *d)
{
	d->state = ST_BOL;
	d->done = 0;
}

int
dotdec_at_bol(const struct dotdec *d)
{
	return d->state == ST_BOL;
}

/*
 * Line content is scanned for the next LF with memchr and copied in one
 * piece; only the first bytes of a line (a possible dot) and a CR held at
 * the end of a chunk go through the state machine. Lone CRs inside a line
 * are content, so only the CR right before an LF is dropped.
 */
size_t
dotdec_run(struct dotdec *d, const char *in, size_t inlen, char *out,
    size_t *outlen)
{
	const char *nl;
	size_t i = 0, o = 0, n, end;

	while (i < inlen && !d->done) {
		switch (d->state) {
		case ST_BOL:
			if (in[i] == '.') {
				d->state = ST_DOT;
				i++;
			} else
				d->state = ST_MID;
			continue;
		case ST_DOT:
			if (in[i] == '\r') {
				d->state = ST_DOTCR;
				i++;
			} else if (in[i] == '\n') {
				d->done = 1;
				i++;
			} else	/* a stuffed dot: drop it, keep the line */
				d->state = ST_MID;
			continue;
		case ST_DOTCR:
			if (in[i] == '\n') {
				d->done = 1;
				i++;
				continue;
			}
			/* ".\rX": not the terminator; the dot was stuffing. */
			out[o++] = '\r';
			d->state = ST_MID;
			continue;
		case ST_CR:
			if (in[i] == '\n') {
				out[o++] = '\n';
				d->state = ST_BOL;
				i++;
				continue;
			}
			out[o++] = '\r';
			d->state = ST_MID;
			continue;
		default:
			break;
		}
		/* Inside a line: copy up to and including its LF. */
		nl = memchr(in + i, '\n', inlen - i);
		end = nl != NULL ? (size_t)(nl - in) : inlen;
		n = end - i;
		if (n > 0 && in[end - 1] == '\r') {
			n--;
			d->state = ST_CR;	/* settled below if an LF follows */
		} else
			d->state = ST_MID;
		memcpy(out + o, in + i, n);
		o += n;
		i = end;
		if (nl != NULL) {
			out[o++] = '\n';
			d->state = ST_BOL;
			i++;
		}
	}
	*outlen = o;
	return i;
}
