/* SPDX-License-Identifier: ISC */
/*
 * POP3 client (RFC 1939, RFC 2449 CAPA and RESP-CODES) over a struct conn.
 * An explicit state machine: every command checks that it runs in its state.
 * Reading is tolerant (see pop3_parse.h), writing strict: single spaces,
 * CRLF, printable ASCII, no arguments to STAT/NOOP/QUIT, none to LIST and
 * UIDL (MS-STANOPOP3 C0003, C0004, C0012, C0015, C0027, V0003, V0007).
 *
 * Errors are values: a function returns enum pop3_rc; on anything but
 * POP3_OK, pop3_error() explains it in one line, and pop3_server_text() holds
 * the server's own (sanitized) text, kept apart.
 */
#ifndef POPFETCH_POP3_H
#define POPFETCH_POP3_H

#include <stddef.h>
#include <stdint.h>

#include "conn.h"
#include "sasl.h"

enum pop3_state {
	POP3_AUTHORIZATION,
	POP3_TRANSACTION,
	POP3_UPDATE,
	POP3_CLOSED,
};

enum pop3_rc {
	POP3_OK = 0,
	POP3_NEG,	/* the server said -ERR */
	POP3_NET,	/* connection closed or failed */
	POP3_TIMEOUT,	/* idle timeout or session deadline */
	POP3_PROTO,	/* the reply makes no sense (too long, malformed) */
	POP3_TOOBIG,	/* a message over the size limit (response drained) */
	POP3_SINK,	/* the sink failed (response drained) */
	POP3_USAGE,	/* we were asked to send something we must not */
	POP3_TLS,	/* the secure channel failed (an alert, a bad record) */
};

/* RFC 2449/3206 response codes of the last -ERR. */
enum pop3_code {
	CODE_NONE,
	CODE_AUTH,
	CODE_SYS_TEMP,
	CODE_SYS_PERM,
	CODE_IN_USE,
	CODE_LOGIN_DELAY,
};

struct pop3;

struct pop3 *pop3_new(struct conn *);
/* Frees the client and its connection. */
void pop3_free(struct pop3 *);
enum pop3_state pop3_state(const struct pop3 *);
const char *pop3_state_name(enum pop3_state);
unsigned pop3_capa_bits(const struct pop3 *);
const char *pop3_error(const struct pop3 *);
const char *pop3_server_text(const struct pop3 *);
enum pop3_code pop3_last_code(const struct pop3 *);

/* Reads the greeting (C0002: a missing one is a timeout, not a hang). */
enum pop3_rc pop3_greeting(struct pop3 *);
/* CAPA; an -ERR just means no capabilities are known (POP3_OK). */
enum pop3_rc pop3_capa(struct pop3 *);
/* The greeting's text (for the APOP timestamp) and the SASL mechanisms the
 * last CAPA listed, space-separated ("" when none). */
const char *pop3_greeting_text(const struct pop3 *);
const char *pop3_sasl_list(const struct pop3 *);
/* Logs the capabilities of the last CAPA (for --server-info). */
const char *pop3_capa_text(const struct pop3 *);
/* STLS (RFC 2595) and the TLS handshake. POP3_NEG when refused; on a
 * handshake failure POP3_PROTO with the reason in pop3_error(). */
enum pop3_rc pop3_stls(struct pop3 *, const char *host,
    const struct tls_config *);
/* AUTH with a SASL exchange (RFC 5034); responses are redacted in the
 * trace. POP3_PROTO when the server's proof is wrong (SCRAM). */
enum pop3_rc pop3_auth(struct pop3 *, struct sasl *, enum sasl_mech);
/* The most lines a LIST or UIDL listing may have (tests lower it). */
void pop3_set_listing_max(struct pop3 *, size_t);
/* The TLS peer description of the connection, or NULL (allocated). */
char *pop3_conn_describe(struct pop3 *);
/* APOP (RFC 1939) with a precomputed digest. */
enum pop3_rc pop3_apop(struct pop3 *, const char *user, const char *digest);
/* USER then PASS; the password is the whole rest of the PASS line and is
 * redacted in the trace (V0011 of the Exchange profile). */
enum pop3_rc pop3_login_user(struct pop3 *, const char *user,
    const char *pass);
enum pop3_rc pop3_stat(struct pop3 *, uint64_t *count, uint64_t *size);

/* Listing callbacks return 0 to go on, -1 to record a local failure (the
 * listing is still read to its end). bad counts unparseable lines. */
typedef int (*pop3_list_cb)(void *ctx, uint32_t msgno, uint64_t size);
typedef int (*pop3_uidl_cb)(void *ctx, uint32_t msgno, const char *uid,
    size_t uidlen);
enum pop3_rc pop3_list(struct pop3 *, pop3_list_cb, void *ctx, size_t *bad);
enum pop3_rc pop3_uidl(struct pop3 *, pop3_uidl_cb, void *ctx, size_t *bad);

/* Receives decoded message bytes (LF line ends). Returns 0 or -1. */
typedef int (*pop3_sink)(void *ctx, const char *buf, size_t len);

/*
 * RETR (or TOP msgno lines when top >= 0) streamed to sink. POP3_OK only
 * when the terminating "." arrived. A message that grows past max_octets
 * (0 = no limit) or a failing sink drains the rest of the response and
 * returns POP3_TOOBIG / POP3_SINK; the connection stays usable.
 * *octets gets the decoded size.
 */
enum pop3_rc pop3_retr(struct pop3 *, uint32_t msgno, long top,
    uint64_t max_octets, pop3_sink, void *ctx, uint64_t *octets);
enum pop3_rc pop3_dele(struct pop3 *, uint32_t msgno);
enum pop3_rc pop3_noop(struct pop3 *);
enum pop3_rc pop3_rset(struct pop3 *);
/* QUIT; in TRANSACTION state, POP3_OK means the deletions are committed. */
enum pop3_rc pop3_quit(struct pop3 *);

#endif
