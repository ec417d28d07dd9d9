/* SPDX-License-Identifier: ISC */
/*
 * A POP3 session of one account: connect (TCP or --tunnel), implicit TLS
 * or STLS, CAPA, the password (fetched only once the connection is
 * secured), login with fallback, and --server-info. Failures are reported
 * into the run's result with their class (result.h).
 */
#ifndef POPFETCH_SESSION_H
#define POPFETCH_SESSION_H

#include <stdint.h>

#include "conf.h"
#include "pop3.h"
#include "result.h"

struct session {
	struct pop3	*p;
	int		 alive;		/* the connection is usable */
	int		 tunnel_pid;	/* --tunnel's command, or 0 */
	int		 timeout_ms;
	/* session_dial's connection, or why there is none, until
	 * session_open takes it. */
	int		 dialed;
	int		 dial_fd;
	int		 dial_lookup;	/* the host name did not resolve */
	int64_t		 dial_ms;	/* when (now_ms) */
	char		*dial_err;
};

/*
 * Only the connection (TCP or --tunnel), made early: the server prepares
 * its greeting while the caller gets ready (its store, its delivery).
 * Never fails itself: session_open reports what went wrong. The session
 * must be zeroed before.
 */
void session_dial(struct session *, const struct account *);
/* Connects (or takes session_dial's connection), secures, logs in. 0, or
 * -1 with the failure in res. */
int session_open(struct session *, const struct account *, struct result *);
/* --server-info: greeting, CAPA before and after STLS, the certificate;
 * never logs in, never reads the password. */
int session_server_info(struct session *, const struct account *,
    struct result *);
/* Reports a failed POP3 command into res, with its class. */
void session_fail(struct session *, struct result *, enum pop3_rc,
    int during_login);
/* Closes the connection (without QUIT), or one dialed and never used, and
 * reaps a tunnel. */
void session_close(struct session *);

#endif
