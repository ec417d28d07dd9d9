/* SPDX-License-Identifier: ISC */
/*
 * Message digests, fed in pieces as a message streams by (whole messages
 * with RETR, header blocks with TOP n 0). All SHA-256.
 *
 *  - content: the message with its volatile status fields left out (see
 *    below): what "the same message" means for duplicate UIDs and reused
 *    UIDs, whatever status headers a server adds between sessions.
 *  - ident: the message's identity from its header block: its
 *    Message-ID, Date and Received fields, in order, each as its
 *    lower-case name and its value with runs of blanks and line breaks
 *    made one space. A header block without any of the three is
 *    identified by all its fields but the volatile ones, written the same
 *    way. This identifies a message without UIDL (issue 10) and proves or
 *    disproves a reused UID (issue 9).
 *  - raw_header: the header block as sent (popfetch 0.1's header digest,
 *    kept so old records still match), and raw_content, the whole message
 *    as sent (0.1's content digest), when asked for.
 *
 * Volatile fields are those mbox-backed servers add or rewrite when mail
 * is read: Status, X-Status, X-UID, X-IMAPbase, X-Keywords, X-UIDL,
 * Content-Length and Lines.
 *
 * The only module besides tls.c and sasl.c that uses OpenSSL.
 */
#ifndef POPFETCH_DIGEST_H
#define POPFETCH_DIGEST_H

#include <stddef.h>

#define DIGEST_LEN	32

struct digest;

struct digests {
	unsigned char	content[DIGEST_LEN];
	unsigned char	ident[DIGEST_LEN];
	unsigned char	raw_header[DIGEST_LEN];
	unsigned char	raw_content[DIGEST_LEN];
};

#define DIGEST_CONTENT	0x1	/* the whole message follows, not a TOP */
#define DIGEST_RAW	0x2	/* raw_content too */

/* The key of a message identified by its header block, in place of a
 * UID: "hdr-" and the identity in hex (DIGEST_KEYLEN characters). */
#define DIGEST_KEYLEN	(4 + 2 * DIGEST_LEN)
void digest_key(const unsigned char ident[DIGEST_LEN],
    char key[DIGEST_KEYLEN + 1]);

/* Never NULL (out of memory is fatal). */
struct digest *digest_new(void);
void digest_free(struct digest *);
void digest_start(struct digest *, int flags);
void digest_feed(struct digest *, const char *, size_t);
/* Fields not asked for are left untouched. */
void digest_end(struct digest *, struct digests *);
/* The message's From and Subject (values made one line, at most 200
 * bytes, unsanitized), for -v; "" when there was none. Valid until the
 * next start. */
const char *digest_from(const struct digest *);
const char *digest_subject(const struct digest *);

#endif
