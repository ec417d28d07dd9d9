/* SPDX-License-Identifier: ISC */
/*
 * Message digests: SHA-256 of a message's delivered bytes (its content
 * identity, for duplicate UIDs) and of its header block, everything before
 * the first empty line (for a UID the server may have reused). Fed in
 * pieces as the message streams by. The only module besides tls.c and
 * sasl.c that uses OpenSSL.
 */
#ifndef POPFETCH_DIGEST_H
#define POPFETCH_DIGEST_H

#include <stddef.h>

#define DIGEST_LEN	32

struct digest;

/* Never NULL (out of memory is fatal). */
struct digest *digest_new(void);
void digest_free(struct digest *);
/* Starts a message; with content = 0 only the header block is digested. */
void digest_start(struct digest *, int content);
void digest_feed(struct digest *, const char *, size_t);
/* Ends the message; content may be NULL when it was not digested. */
void digest_end(struct digest *, unsigned char content[DIGEST_LEN],
    unsigned char header[DIGEST_LEN]);

#endif
