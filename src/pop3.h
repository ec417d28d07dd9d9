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
/* STAT and UIDL in one write when the server announced PIPELINING
 * (nothing otherwise): two round trips become one, and the server lists
 * while the client reads. pop3_stat and pop3_uidl then read their
 * replies; any other command (LIST, sent only when a size is needed) first
 * reads what is still owed. */
enum pop3_rc pop3_listing_ahead(struct pop3 *);
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

/*
 * Pipelining (RFC 2449): RETR and DELE may be sent ahead of their replies,
 * which are then read in the order sent. The commands in flight are bounded
 * by a window of commands and of the octets their replies are expected to
 * bring (the LIST sizes given to pop3_send_retr; sizes are hints). Without
 * PIPELINING in the last CAPA the window is one command: a second command
 * in flight is refused. While any reply is unread every other command,
 * QUIT included, is refused with POP3_USAGE: read (or fail) them first.
 *
 * Commands are queued and written together: all that are queued go out in
 * one write when a reply is read whose command is still queued, when half
 * of the commands in flight are queued, or when a read has to wait.
 *
 * A -ERR fails that command only (POP3_NEG); later replies are read in
 * order as usual. A failure of the connection (POP3_NET, POP3_TIMEOUT,
 * POP3_TLS, POP3_PROTO, or POP3_TOOBIG past the drain limit) closes the
 * session: the commands after the failed one are never answered;
 * pop3_unanswered lists them, and reading them returns the same error.
 *
 * Replies to no command: with nothing in flight, any byte from the server
 * before a command is sent is one (POP3_PROTO, as for every command). With
 * commands in flight, bytes are expected; a stray status line then shifts
 * the replies by one, and is caught where it shows: a RETR sent behind
 * other commands whose message starts with a status line ("+OK", "-ERR",
 * followed by a blank or the line end) is POP3_PROTO, and nothing of it
 * reaches the sink; a stray left over after the last reply is caught by
 * pop3_check_stray or the next command sent with nothing in flight.
 */
#define POP3_WINDOW_CMDS	256	/* default window */
#define POP3_WINDOW_BYTES	((uint64_t)8 * 1024 * 1024)
#define POP3_WINDOW_MAX		256	/* the most commands in flight */

enum pop3_cmd {
	POP3_CMD_RETR,
	POP3_CMD_TOP,
	POP3_CMD_DELE,
};

struct pop3_flight {
	enum pop3_cmd	 cmd;
	uint32_t	 msgno;
};

/* Nonzero when the last CAPA announced PIPELINING. */
int pop3_pipelining(const struct pop3 *);
/* At most cmds (1 to POP3_WINDOW_MAX) commands and bytes octets of
 * expected replies (0: no bound) in flight. */
void pop3_set_window(struct pop3 *, size_t cmds, uint64_t bytes);
/* Nonzero when a RETR of a message of size octets (0: unknown) may be
 * sent now: nothing is in flight, or the server pipelines and it fits the
 * window. Always 0 outside TRANSACTION state. */
int pop3_window_room(const struct pop3 *, uint64_t size);
/* Commands sent (or queued) and not yet answered. */
size_t pop3_in_flight(const struct pop3 *);
/* Copies up to max of the commands not yet answered, oldest first;
 * returns how many there are. */
size_t pop3_unanswered(const struct pop3 *, struct pop3_flight *,
    size_t max);

/* Queue RETR msgno (a message of about size octets) or DELE msgno.
 * POP3_USAGE when it does not fit the window or the state (nothing is
 * queued); with nothing in flight, POP3_PROTO for a reply to no command
 * (the check of every command). Writing happens in the reads. */
enum pop3_rc pop3_send_retr(struct pop3 *, uint32_t msgno, uint64_t size);
enum pop3_rc pop3_send_dele(struct pop3 *, uint32_t msgno);
/* TOP msgno 0, pipelined like RETR; read with pop3_read_top. */
enum pop3_rc pop3_send_top(struct pop3 *, uint32_t msgno);
enum pop3_rc pop3_read_top(struct pop3 *, uint32_t msgno, uint64_t max_octets,
    pop3_sink, void *ctx, uint64_t *octets);
/* How much of an oversized message is read and thrown away before the
 * connection is dropped instead (default 64 MiB; 0: drop at once). */
void pop3_set_drain_max(struct pop3 *, uint64_t);
/* Reads the reply to the oldest command in flight, which must be RETR
 * msgno (DELE msgno), else POP3_USAGE and nothing is read. The message is
 * streamed to sink as by pop3_retr, with the same results; a failure to
 * write the queued commands is that command's (POP3_NET, ...). */
enum pop3_rc pop3_read_retr(struct pop3 *, uint32_t msgno,
    uint64_t max_octets, pop3_sink, void *ctx, uint64_t *octets);
enum pop3_rc pop3_read_dele(struct pop3 *, uint32_t msgno);
/* Commands queued go out now, not with the next read: for a server that
 * should work while we do something else. */
enum pop3_rc pop3_flush(struct pop3 *);
/* With nothing in flight: POP3_PROTO when the server has sent anything
 * no command asked for (then the replies read since the last check may
 * have been shifted: do not trust them), else POP3_OK; one poll(2), no
 * waiting. POP3_USAGE while replies are unread. */
enum pop3_rc pop3_check_stray(struct pop3 *);

enum pop3_rc pop3_noop(struct pop3 *);
enum pop3_rc pop3_rset(struct pop3 *);
/* QUIT; in TRANSACTION state, POP3_OK means the deletions are committed.
 * POP3_USAGE while replies are unread. */
enum pop3_rc pop3_quit(struct pop3 *);

#endif
