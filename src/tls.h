/* SPDX-License-Identifier: ISC */
/*
 * TLS for the connection: all OpenSSL code lives behind this opaque
 * struct. Secure by default: TLS 1.2 at least, the peer certificate checked
 * against the system trust store (or a given trust file) and the host
 * name, SNI sent. A pinned SHA-256 fingerprint may replace the CA check.
 *
 * The fd stays owned by the caller (struct conn); tls_free does not close
 * it. Reads and writes never block: they report what they wait for.
 */
#ifndef POPFETCH_TLS_H
#define POPFETCH_TLS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct tls_config {
	const char	*trust_file;	/* CA bundle; NULL: system store */
	const char	*fingerprint;	/* "sha256:HEX" pin, or NULL */
	const char	*cert_file;	/* client certificate chain, or NULL */
	const char	*key_file;	/* its key (default: cert_file) */
	int		 no_verify;	/* --server-info only: look, don't trust */
};

struct tls;

/* Handshakes over the connected non-blocking fd, waiting at most
 * timeout_ms for each step and giving up at deadline_ms (now_ms() time, 0 =
 * none: --session-timeout bounds a handshake trickled byte by byte). NULL
 * with an allocated one-line *errstr naming what failed. */
struct tls *tls_connect(int fd, const char *host,
    const struct tls_config *, int timeout_ms, int64_t deadline_ms,
    char **errstr);

/* > 0 bytes, 0 at a clean close, -1 on error; TLS_WANT_* in *want means
 * "try again when the fd is readable/writable". A read returns as many
 * records as are already buffered and fit, with at most one read(2). */
#define TLS_WANT_READ	1
#define TLS_WANT_WRITE	2
ssize_t tls_read(struct tls *, void *, size_t, int *want);
ssize_t tls_write(struct tls *, const void *, size_t, int *want);
/*
 * Nonzero when bytes read from the socket are held in the TLS layer, whole
 * records or part of one, decrypted or not: a read may then return data
 * although the socket is not readable, or find only protocol records (a
 * TLS 1.3 session ticket) and nothing for us. Only a read tells which.
 */
int tls_buffered(struct tls *);
const char *tls_error(struct tls *);
void tls_free(struct tls *);

/* The peer certificate for --server-info: subject, issuer, validity,
 * SHA-256 fingerprint, protocol and cipher; allocated. */
char *tls_describe(struct tls *);

/* Parses "sha256:HEX" (colons allowed in HEX) into 32 bytes; 0 or -1. */
int tls_parse_fingerprint(const char *, unsigned char out[32]);

#endif
