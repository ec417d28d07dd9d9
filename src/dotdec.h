/* SPDX-License-Identifier: ISC */
/*
 * Streaming decoder for POP3 multi-line responses (RFC 1939 section 3,
 * MS-STANOPOP3 V0002): strips one byte-stuffed leading dot, turns CRLF into
 * LF, tolerates bare LF, keeps NUL, 8-bit bytes and lone CRs, and stops at a
 * line that is exactly "." (".\r\n" or ".\n"). It works on arbitrary chunks,
 * so a 10 MB line passes through in pieces and the terminator may arrive one
 * byte at a time. Pure: no I/O, no allocation.
 */
#ifndef POPFETCH_DOTDEC_H
#define POPFETCH_DOTDEC_H

#include <stddef.h>

struct dotdec {
	int	state;
	int	done;
};

void dotdec_init(struct dotdec *);

/*
 * Decodes up to inlen bytes into out, which must hold inlen + 1 bytes.
 * Returns the number of input bytes consumed: all of them, unless the
 * terminator was seen, in which case d->done is set and the bytes after the
 * terminator line are left unconsumed (they belong to the next response).
 */
size_t dotdec_run(struct dotdec *d, const char *in, size_t inlen, char *out,
    size_t *outlen);

/* Nonzero when the decoder is at the start of a line (used to tell whether a
 * message ends with a newline). */
int dotdec_at_bol(const struct dotdec *);

#endif
