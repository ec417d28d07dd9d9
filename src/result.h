/* SPDX-License-Identifier: ISC */
/*
 * What happened in one account's run: counts, each failed or skipped
 * message with its reason, and the account's worst failure. Every module of
 * the fetch run reports into it (result_fail, result_msg), which also logs
 * the line; a summary of any account can be printed from it afterwards, and
 * several accounts' results are combined by severity.
 *
 * The one place that maps failures to exit statuses (sysexits.h). Failure
 * classes are ordered from least to most severe; when several happen, the
 * most severe decides (popfetch(1), EXIT STATUS).
 */
#ifndef POPFETCH_RESULT_H
#define POPFETCH_RESULT_H

#include <stddef.h>
#include <stdint.h>

#include "log.h"

enum failure {
	FAIL_NONE,
	FAIL_MESSAGE_TEMP,	/* a message to try later (an MDA's 75) */
	FAIL_MESSAGE,		/* a message left on the server after an error */
	FAIL_LOCKED,		/* another run of the account holds its lock */
	FAIL_TEMP,		/* timeout, dropped connection, [IN-USE], ... */
	FAIL_PROTOCOL,		/* the server's replies make no sense */
	FAIL_NOHOST,		/* the host name does not resolve */
	FAIL_UNAVAILABLE,	/* refused, TLS failed, [SYS/PERM], no UIDL */
	FAIL_AUTH,		/* the server refused the login */
	FAIL_LOCAL,		/* the delivery target or the state store */
	FAIL_CONFIG,		/* the account's settings cannot work */
	FAIL_INTERNAL,		/* a bug */
};

/* From this class on, the failure stopped the account's run. */
#define FAIL_ACCOUNT	FAIL_LOCKED

enum msg_outcome {
	MSG_FAILED,		/* left on the server after an error */
	MSG_SKIPPED,		/* left on the server on purpose (too big) */
};

/* A failed or skipped message; the UID is sanitized for printing. */
struct msg_event {
	uint32_t		 msgno;
	enum msg_outcome	 outcome;
	enum failure		 failure;
	char			*uid;
	char			*reason;
};

#define RESULT_MAX_EVENTS	1000	/* then only counted */

struct result {
	unsigned long		 messages;	/* on the server */
	int			 listed;	/* messages is known (STAT) */
	unsigned long		 fresh;		/* new: to fetch */
	unsigned long		 fetched;	/* delivered in this run */
	unsigned long		 deleted;	/* DELE committed by QUIT */
	unsigned long		 skipped;	/* left on purpose */
	unsigned long		 failed;	/* left after an error */
	uint64_t		 bytes;		/* delivered */
	enum failure		 worst;
	char			*error;		/* first account-level error */
	struct msg_event	*events;
	size_t			 nevents;
};

void result_init(struct result *);
void result_free(struct result *);
/* An account-level failure: logged, and the first one's text kept. */
void result_fail(struct result *, enum failure, const char *, ...)
    PF_PRINTF(3, 4);
/* A message left on the server, with its reason: logged and counted. */
void result_msg(struct result *, uint32_t msgno, const char *uid,
    enum msg_outcome, enum failure, const char *, ...) PF_PRINTF(6, 7);
/* Only raises the worst failure, without a message (already said). */
void result_worsen(struct result *, enum failure);

enum failure failure_worse(enum failure, enum failure);
int failure_exit(enum failure);
const char *failure_name(enum failure);
/* The exit status of a run; with check (--check, as fetchmail -c) a run
 * without failures is 0 when there is new mail and 1 when there is none. */
int result_exit(const struct result *, int check);

#endif
