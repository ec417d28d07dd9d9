/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "result.h"
#include "xmalloc.h"

static const struct {
	const char	*name;
	int		 ex;
} classes[] = {
	[FAIL_NONE] = { "ok", EX_OK },
	[FAIL_MESSAGE_TEMP] = { "message-temporary", EX_TEMPFAIL },
	[FAIL_MESSAGE] = { "message", EX_DATAERR },
	[FAIL_LOCKED] = { "locked", EX_CANTCREAT },
	[FAIL_TEMP] = { "temporary", EX_TEMPFAIL },
	[FAIL_PROTOCOL] = { "protocol", EX_PROTOCOL },
	[FAIL_NOHOST] = { "host", EX_NOHOST },
	[FAIL_UNAVAILABLE] = { "unavailable", EX_UNAVAILABLE },
	[FAIL_AUTH] = { "authentication", EX_NOPERM },
	[FAIL_LOCAL] = { "local", EX_IOERR },
	[FAIL_CONFIG] = { "configuration", EX_CONFIG },
	[FAIL_INTERNAL] = { "internal", EX_SOFTWARE },
};

void
result_init(struct result *r)
{
	memset(r, 0, sizeof *r);
}

void
result_free(struct result *r)
{
	size_t i;

	for (i = 0; i < r->nevents; i++) {
		free(r->events[i].uid);
		free(r->events[i].reason);
	}
	free(r->events);
	free(r->error);
	memset(r, 0, sizeof *r);
}

enum failure
failure_worse(enum failure a, enum failure b)
{
	return a > b ? a : b;
}

int
failure_exit(enum failure f)
{
	return classes[f].ex;
}

const char *
failure_name(enum failure f)
{
	return classes[f].name;
}

int
result_exit(const struct result *r, int check)
{
	if (check && r->worst == FAIL_NONE)
		return r->fresh > 0 ? 0 : 1;
	return failure_exit(r->worst);
}

void
result_worsen(struct result *r, enum failure f)
{
	r->worst = failure_worse(r->worst, f);
}

void
result_fail(struct result *r, enum failure f, const char *fmt, ...)
{
	va_list ap;
	char *text;

	va_start(ap, fmt);
	text = xvasprintf(fmt, ap);
	va_end(ap);
	log_warnx("%s", text);
	if (r->error == NULL)
		r->error = text;
	else
		free(text);
	result_worsen(r, f);
}

void
result_msg(struct result *r, uint32_t msgno, const char *uid,
    enum msg_outcome o, enum failure f, const char *fmt, ...)
{
	struct msg_event *e;
	va_list ap;
	char *text;

	va_start(ap, fmt);
	text = xvasprintf(fmt, ap);
	va_end(ap);
	if (o == MSG_SKIPPED) {
		log_info("%s", text);
		r->skipped++;
	} else {
		log_warnx("%s", text);
		r->failed++;
	}
	result_worsen(r, f);
	if (r->nevents == RESULT_MAX_EVENTS) {
		free(text);
		return;
	}
	r->events = xreallocarray(r->events, r->nevents + 1,
	    sizeof *r->events);
	e = &r->events[r->nevents++];
	e->msgno = msgno;
	e->outcome = o;
	e->failure = f;
	e->uid = uid != NULL ? xstrdup(uid) : NULL;
	e->reason = text;
}
