/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "mboxrd.h"

static const char from[] = "From ";

void
mboxrd_init(struct mboxrd *m)
{
	m->bol = 1;
	m->nfrom = 0;
	m->last_nl = 1;
}

size_t
mboxrd_held(const struct mboxrd *m)
{
	return m->nfrom;
}

/* Emits the held part of "From " as it was. */
static size_t
release(struct mboxrd *m, char *out)
{
	size_t n = m->nfrom;

	memcpy(out, from, n);
	m->nfrom = 0;
	if (n > 0)
		m->last_nl = 0;
	return n;
}

/*
 * All '>' are alike, so adding the quoting '>' at the end of a '>' run is
 * the same as adding it at the start: the run streams through and only the
 * "From " candidate (at most 5 bytes) is ever held.
 */
size_t
mboxrd_quote(struct mboxrd *m, const char *in, size_t inlen, char *out)
{
	size_t i, o = 0;
	char c;

	for (i = 0; i < inlen; i++) {
		c = in[i];
		if (m->bol) {
			if (c == '>' && m->nfrom == 0) {
				out[o++] = c;
				m->last_nl = 0;
				continue;
			}
			if (c == from[m->nfrom]) {
				if (++m->nfrom == sizeof from - 1) {
					out[o++] = '>';
					o += release(m, out + o);
					m->bol = 0;
				}
				continue;
			}
			o += release(m, out + o);
			m->bol = 0;
		}
		out[o++] = c;
		m->last_nl = c == '\n';
		if (c == '\n')
			m->bol = 1;
	}
	return o;
}

size_t
mboxrd_finish(struct mboxrd *m, char *out)
{
	size_t o = release(m, out);

	if (!m->last_nl)
		out[o++] = '\n';
	out[o++] = '\n';
	mboxrd_init(m);
	return o;
}

size_t
mboxrd_from_line(char *buf, size_t bufsz, const char *sender, time_t t)
{
	char who[256], date[64];
	struct tm tm;
	size_t i, o = 0;

	for (i = 0; sender != NULL && sender[i] != '\0' && o + 1 < sizeof who;
	    i++) {
		unsigned char c = (unsigned char)sender[i];

		if (c > 0x20 && c < 0x7f)
			who[o++] = (char)c;
	}
	who[o] = '\0';
	if (o == 0)
		snprintf(who, sizeof who, "MAILER-DAEMON");
	/* asctime layout in UTC, as mutt and procmail write it. */
	gmtime_r(&t, &tm);
	strftime(date, sizeof date, "%a %b %e %H:%M:%S %Y", &tm);
	return (size_t)snprintf(buf, bufsz, "From %s %s\n", who, date) < bufsz ?
	    strlen(buf) : 0;
}
