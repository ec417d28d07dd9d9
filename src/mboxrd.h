/* SPDX-License-Identifier: ISC */
/*
 * mboxrd quoting, streaming: every line that matches ^>*From  gets one more
 * '>' in front, so the quoting is reversible (unlike mboxo). Works on
 * arbitrary chunks: a "From " split across chunks is still found. Also writes
 * the From_ separator line. Pure: no I/O, no allocation.
 */
#ifndef POPFETCH_MBOXRD_H
#define POPFETCH_MBOXRD_H

#include <stddef.h>
#include <time.h>

struct mboxrd {
	int	bol;		/* at the start of a line */
	size_t	nfrom;		/* bytes of "From " matched after them, held */
	int	last_nl;	/* the last byte emitted was '\n' */
};

void mboxrd_init(struct mboxrd *);

/*
 * The most mboxrd_quote writes for inlen bytes: every quoted line grows by
 * one '>' and takes at least 5 input bytes ("From "), and up to 5 held
 * bytes from the previous call come out too.
 */
#define MBOXRD_OUTMAX(inlen)	((inlen) + (inlen) / 5 + 1 + 5)

/*
 * Quotes in into out, which must hold MBOXRD_OUTMAX(inlen) bytes. A line
 * start that may still become "From " (at most 5 bytes) is held and emitted
 * by a later call or by mboxrd_finish. Returns the bytes written to out.
 */
size_t mboxrd_quote(struct mboxrd *, const char *in, size_t inlen, char *out);

/* Emits the held bytes and, if the message did not end with a newline, adds
 * one, then the blank line that ends an mbox entry. out holds >= 8 bytes.
 * Returns bytes written and resets the quoter for the next message. */
size_t mboxrd_finish(struct mboxrd *, char *out);

/* Bytes currently held back. */
size_t mboxrd_held(const struct mboxrd *);

/* Formats "From SENDER DATE\n" into buf; sender is sanitized (no blanks or
 * control bytes; "MAILER-DAEMON" when empty). Returns the length. */
size_t mboxrd_from_line(char *buf, size_t bufsz, const char *sender, time_t);

#endif
