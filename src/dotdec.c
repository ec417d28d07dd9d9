/* SPDX-License-Identifier: ISC */
#include "config.h"

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

size_t
dotdec_run(struct dotdec *d, const char *in, size_t inlen, char *out,
    size_t *outlen)
{
	size_t i, o = 0;
	char c;

	for (i = 0; i < inlen && !d->done; i++) {
		c = in[i];
		switch (d->state) {
		case ST_BOL:
			if (c == '.') {
				d->state = ST_DOT;
				continue;
			}
			break;
		case ST_DOT:
			if (c == '\r') {
				d->state = ST_DOTCR;
				continue;
			}
			if (c == '\n') {
				d->done = 1;
				continue;
			}
			/* A stuffed dot: drop it, keep the rest of the line. */
			d->state = ST_MID;
			break;
		case ST_DOTCR:
			if (c == '\n') {
				d->done = 1;
				continue;
			}
			/* ".\rX": not the terminator; the dot was stuffing. */
			out[o++] = '\r';
			d->state = ST_MID;
			break;
		case ST_CR:
			if (c == '\n') {
				out[o++] = '\n';
				d->state = ST_BOL;
				continue;
			}
			out[o++] = '\r';
			d->state = ST_MID;
			break;
		default:
			break;
		}
		/* Here the byte is ordinary line content. */
		if (c == '\r') {
			d->state = ST_CR;
			continue;
		}
		out[o++] = c;
		d->state = c == '\n' ? ST_BOL : ST_MID;
	}
	*outlen = o;
	return i;
}
