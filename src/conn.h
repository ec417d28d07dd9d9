/* SPDX-License-Identifier: ISC */
/*
 * A buffered, bounded, timed connection to a server: the only thing pop3.c
 * sees of the network. Every read and write waits at most the idle timeout
 * (a trickling server that keeps sending is fine; a silent one is not), and
 * optionally the whole session is capped by a deadline. Lines are capped;
 * bodies are read as raw buffered bytes (conn_peek/conn_consume) so that no
 * line length limit applies to message content.
 *
 * Returned pointers point into the connection's buffer and are valid until
 * the next read call.
 */
#ifndef POPFETCH_CONN_H
#define POPFETCH_CONN_H

#include <stddef.h>
#include <stdint.h>

#include "tls.h"

enum conn_err {
	CONN_OK = 0,
	CONN_EOF,	/* the server closed the connection */
	CONN_TIMEOUT,	/* idle timeout or session deadline */
	CONN_IO,	/* read/write error (errno kept in conn_errno) */
	CONN_TOOLONG,	/* a line longer than the cap */
	CONN_TLS,	/* a TLS failure (an alert, a bad record) */
};

/* conn_peek never returns more than this many bytes. */
#define CONN_MAXPEEK	(64 * 1024)

struct conn;

/* Takes ownership of fd (made non-blocking). timeout_ms: idle timeout. */
struct conn *conn_new(int fd, int timeout_ms);
void conn_free(struct conn *);
/* An absolute deadline in now_ms() time for the whole session; 0 = none. */
void conn_set_deadline(struct conn *, int64_t deadline_ms);
/* Wire trace on stderr: "C: " / "S: " lines. */
void conn_set_trace(struct conn *, int on);
int conn_trace(const struct conn *);

/*
 * Reads one line of at most max bytes (without its CRLF or LF). A longer line
 * is CONN_TOOLONG: the connection is then unusable, since the rest of the
 * line is unread.
 */
enum conn_err conn_getline(struct conn *, const char **line, size_t *len,
    size_t max);

/* Makes at least one byte available and returns all that is buffered. */
enum conn_err conn_peek(struct conn *, const char **p, size_t *len);
void conn_consume(struct conn *, size_t n);

/*
 * Starts TLS on the connection (implicit TLS right after connecting, or
 * after STLS's +OK). Refused when unread bytes are buffered: anything the
 * server sent before the handshake was not protected by it (the STARTTLS
 * injection attack). 0, or -1 with an allocated *errstr.
 */
int conn_starttls(struct conn *, const char *host, const struct tls_config *,
    char **errstr);
/* The peer certificate description (tls_describe), or NULL. */
char *conn_tls_describe(struct conn *);

/* Nonzero when the server has sent something we have not read: bytes in
 * the buffer, in the TLS layer or on the socket (or the connection
 * closed); TLS protocol records alone (session tickets) do not count.
 * Never blocks; costs a poll(2) when nothing is buffered. */
int conn_pending(struct conn *);

/* Writes everything (queued commands first) or fails. The trace shows the
 * bytes as sent unless trace_text is given, which is shown instead (for
 * redaction). */
enum conn_err conn_write(struct conn *, const char *buf, size_t len,
    const char *trace_text);

/*
 * Pipelining: conn_queue appends a command (never a secret one: the buffer
 * is not wiped) to be written later with others in one write; conn_flush
 * writes all that is queued. A read that has to wait for the server
 * flushes first, so a reply is never awaited for a command still queued.
 * conn_queued is the number of bytes queued.
 */
void conn_queue(struct conn *, const char *buf, size_t len);
size_t conn_queued(const struct conn *);
enum conn_err conn_flush(struct conn *);

/* A short English description, e.g. "timed out after 60 s". */
const char *conn_strerror(struct conn *, enum conn_err);

#endif
