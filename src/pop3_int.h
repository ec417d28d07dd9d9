/* SPDX-License-Identifier: ISC */
/*
 * Private to pop3.c and pop3_flight.c (the commands in flight and the
 * reading of message bodies): the client's state, and the helpers both
 * use. Nothing else includes this.
 */
#ifndef POPFETCH_POP3_INT_H
#define POPFETCH_POP3_INT_H

#include <stdint.h>

#include "conn.h"
#include "pop3.h"
#include "pop3_parse.h"

/* How much of an oversized message is read and thrown away to keep the
 * session usable; past this the connection is dropped instead, so an
 * endless message cannot keep us reading forever. */
#define DRAIN_MAX	((uint64_t)64 * 1024 * 1024)
/* Room in front of the decoded bytes for the first bytes of a message,
 * held until it is known whether they are a status line. */
#define HOLD_MAX	4

/* A command sent (or queued) and not yet answered. */
struct flight {
	enum pop3_cmd	 cmd;
	uint32_t	 msgno;
	uint64_t	 size;		/* expected octets of the reply */
	int		 behind;	/* sent while others were in flight */
};

struct pop3 {
	struct conn	*conn;
	enum pop3_state	 state;
	unsigned	 capa;
	enum pop3_code	 code;
	char		 error[512];
	char		 srvtext[512];
	char		 greeting[512];
	char		 sasl[512];	/* SASL mechanisms from CAPA */
	char		 capatext[2048];
	size_t		 listing_max;
	uint64_t	 drain_max;	/* of an oversized message */
	char		*body;		/* decode buffer */
	/* The commands in flight: a ring, oldest at fl_head. */
	struct flight	 fl[POP3_WINDOW_MAX];
	size_t		 fl_head, fl_n;
	uint64_t	 fl_bytes;
	size_t		 unsent;	/* the newest this many are queued */
	size_t		 win_cmds;
	uint64_t	 win_bytes;
	/* STAT, LIST, UIDL sent together (pop3_listing_ahead): the ones
	 * whose replies are still to be read, in that order. */
	unsigned	 ahead;
	int		 was_ahead;	/* the last reply read was one */
	enum pop3_rc	 dead;		/* what closed the connection */
	char		 deadwhy[512];	/* and its explanation */
};

extern const char *p3_cmd_names[];

/* Records an error (and its class) for pop3_error(); returns rc. */
enum pop3_rc p3_fail(struct pop3 *, enum pop3_rc, const char *, ...)
    __attribute__((format(printf, 3, 4)));
/* A connection error, as a POP3 failure; the session is closed. */
enum pop3_rc p3_conn_fail(struct pop3 *, enum conn_err, const char *what);
/* -1 (an error recorded) unless the client is in state want. */
int p3_check_state(struct pop3 *, enum pop3_state want, const char *cmd);
/* POP3_PROTO when the server sent something nothing asked for. */
enum pop3_rc p3_check_unsolicited(struct pop3 *, const char *cmd);
/* Reads a status line; classifies an -ERR's response code. */
enum pop3_rc p3_read_status(struct pop3 *, const char *cmd,
    struct pop3_status *);
/* The session is over: nothing more is sent. */
void p3_close_session(struct pop3 *, enum pop3_rc);
/* pop3_flight.c: queue a command; read the oldest reply's status; read a
 * multi-line body into the sink. */
enum pop3_rc p3_send_flight(struct pop3 *, enum pop3_cmd, uint32_t msgno,
    long top, uint64_t size);
enum pop3_rc p3_begin_read(struct pop3 *, enum pop3_cmd, uint32_t msgno,
    struct flight *);
enum pop3_rc p3_read_body(struct pop3 *, const struct flight *,
    uint64_t max_octets, pop3_sink, void *ctx, uint64_t *octets);

#endif
