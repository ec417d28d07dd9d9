/* SPDX-License-Identifier: ISC */
/*
 * The listing of one run: STAT, UIDL with a store lookup per UID, LIST for
 * the size hints, the plan (plan.c), a second UIDL pass for the seen UIDs
 * that must be fetched again, and TOP n 0 for UIDs the server may have
 * reused.
 */
#include "config.h"

#include <string.h>


#include "log.h"
#include "run.h"
#include "xmalloc.h"

static int
uidl_cb(void *ctx, uint32_t msgno, const char *uid, size_t uidlen)
{
	struct run *r = ctx;
	struct uidrec rec;
	enum us_rc rc;
	char show[128];

	if (uidlen > UID_MAXLEN && r->retry_pass)
		return 0;
	if (uidlen > UID_MAXLEN) {
		result_msg(r->res, msgno, NULL, MSG_FAILED, FAIL_MESSAGE,
		    "message %u: UID of %zu bytes is longer than %d; message "
		    "left on the server", msgno, uidlen, UID_MAXLEN);
		return 0;
	}
	rc = uidstore_get(r->us, uid, uidlen, &rec);
	if (rc == US_ERR) {
		result_fail(r->res, FAIL_LOCAL, "%s", uidstore_error(r->us));
		return -1;
	}
	log_sanitize(show, sizeof show, uid, uidlen);
	switch (plan_line(&r->pl, msgno, uid, uidlen, rc == US_OK ? &rec :
	    NULL)) {
	case PLAN_TOOBIG:
		if (r->retry_pass)
			break;
		/* Not downloaded again, but said on every run. */
		result_msg(r->res, msgno, show, MSG_SKIPPED, FAIL_MESSAGE,
		    "message %u (UID %s) is over --max-size; left on the "
		    "server", msgno, show);
		break;
	case PLAN_NEW:
		log_debug("message %u is new: UID %s", msgno, show);
		break;
	case PLAN_SEEN:
		break;
	}
	return 0;
}

static int
list_cb(void *ctx, uint32_t msgno, uint64_t size)
{
	struct run *r = ctx;

	plan_size(&r->pl, msgno, size);
	return 0;
}

static int
need_cb(void *ctx, uint32_t msgno, const char *uid, size_t uidlen)
{
	struct run *r = ctx;

	if (uidlen <= UID_MAXLEN && plan_needed(&r->pl, msgno))
		plan_need_job(&r->pl, msgno, uid, uidlen);
	return 0;
}

static int
sink_hdr(void *ctx, const char *buf, size_t len)
{
	digest_feed(ctx, buf, len);
	return 0;
}

/*
 * A suspected UID reuse (its size changed): compare its identity (TOP n 0:
 * Message-ID, Date, Received; digest.h) with the one recorded. The same:
 * the same message, whatever status headers the server added (Mailutils
 * does), nothing to fetch. Another: fetched, but in a second session,
 * never right after its TOP (Mailutils 3.15 may answer such a RETR with
 * the headers alone), and compared again when it arrives (batch.c).
 */
static int
verify_reuse(struct run *r, struct job *j)
{
	struct digests dg;
	struct uidrec rec;
	enum pop3_rc rc;
	uint64_t n;
	char show[128];

	j->dup = 1;
	if (r->retry_pass || uidstore_get(r->us, j->uid, j->uidlen, &rec) !=
	    US_OK)
		return 0;
	digest_start(r->dg, 0);
	rc = pop3_retr(r->s.p, j->msgno, 0, r->a->max_size, sink_hdr, r->dg,
	    &n);
	if (rc == POP3_NEG)
		return 0;
	if (rc != POP3_OK) {
		session_fail(&r->s, r->res, rc, 0);
		return -1;
	}
	digest_end(r->dg, &dg);
	log_sanitize(show, sizeof show, j->uid, j->uidlen);
	if (memcmp(dg.ident, rec.hdr, DIGEST_LEN) == 0 ||
	    memcmp(dg.raw_header, rec.hdr, DIGEST_LEN) == 0) {
		log_info("message %u: UID %s has a new size but the same "
		    "identity (TOP): the same message, not fetched", j->msgno,
		    show);
		memcpy(j->hdr, dg.ident, DIGEST_LEN);
		j->state = J_OLD;
	} else if (memchr(j->uid, '\0', j->uidlen) == NULL) {
		log_info("message %u: UID %s was seen before with another "
		    "identity (TOP): the server reused it; fetching it in a "
		    "new session", j->msgno, show);
		j->state = J_RETRY;
		r->need_retry = 1;
		r->retry = xreallocarray(r->retry, r->nretry + 1,
		    sizeof *r->retry);
		r->retry[r->nretry++] = xstrndup(j->uid, j->uidlen);
	}
	return 0;
}

/*
 * --max-size acts on the LIST size, before any download: such a message is
 * left on the server, and said so on every run (a cron job's mail), never
 * silently forever. A LIST size is a hint: one that understated the size
 * is caught while downloading (pop3_retr's limit).
 */
static void
skip_oversized(struct run *r)
{
	char show[128];
	size_t i;

	for (i = 0; i < r->pl.njobs && r->a->max_size > 0; i++) {
		struct job *j = &r->pl.jobs[i];

		if (j->state != J_PENDING || j->size_hint <= r->a->max_size)
			continue;
		j->state = J_SKIPPED;
		log_sanitize(show, sizeof show, j->uid, j->uidlen);
		result_msg(r->res, j->msgno, show, MSG_SKIPPED, FAIL_MESSAGE,
		    "message %u (UID %s) of %llu octets is over --max-size; "
		    "left on the server", j->msgno, show,
		    (unsigned long long)j->size_hint);
	}
	if (r->res->skipped > 0)
		log_warnx("%lu message%s over --max-size (%llu octets) left on "
		    "the server", r->res->skipped, r->res->skipped == 1 ? "" :
		    "s", (unsigned long long)r->a->max_size);
}

/* The second session fetches only what arrived short in the first. */
static void
only_retries(struct run *r)
{
	size_t i, k;

	for (i = 0; i < r->pl.njobs; i++) {
		struct job *j = &r->pl.jobs[i];

		for (k = 0; k < r->nretry; k++)
			if (strlen(r->retry[k]) == j->uidlen &&
			    memcmp(r->retry[k], j->uid, j->uidlen) == 0)
				break;
		if (k == r->nretry)
			j->state = J_SKIPPED;
	}
}

int
listing_read(struct run *r)
{
	uint64_t count, size;
	enum pop3_rc rc;
	size_t bad = 0, i;

	if ((rc = pop3_stat(r->s.p, &count, &size)) != POP3_OK) {
		session_fail(&r->s, r->res, rc, 0);
		return -1;
	}
	r->res->messages = (unsigned long)count;
	r->res->listed = 1;
	rc = pop3_uidl(r->s.p, uidl_cb, r, &bad);
	if (rc == POP3_NEG) {
		result_fail(r->res, FAIL_UNAVAILABLE, "the server does not "
		    "support UIDL (%s): popfetch cannot tell new messages from "
		    "old ones", pop3_server_text(r->s.p));
		return -1;
	}
	if (rc != POP3_OK) {
		/* A failing callback has reported itself already. */
		if (rc != POP3_SINK)
			session_fail(&r->s, r->res, rc, 0);
		return -1;
	}
	if (bad > 0 && !r->retry_pass) {
		log_warnx("%zu unreadable lines in the UIDL listing; those "
		    "messages are left on the server", bad);
		r->res->failed += bad;
		result_worsen(r->res, FAIL_MESSAGE);
	}
	r->listing_ok = bad == 0;
	plan_listed(&r->pl);
	/* A failing LIST costs nothing but the hints. */
	if (r->pl.nents > 0) {
		rc = pop3_list(r->s.p, list_cb, r, &bad);
		if (rc != POP3_OK && rc != POP3_NEG) {
			session_fail(&r->s, r->res, rc, 0);
			return -1;
		}
	}
	plan_group(&r->pl);
	if (r->pl.nneed > 0) {
		rc = pop3_uidl(r->s.p, need_cb, r, &bad);
		if (rc != POP3_OK) {
			session_fail(&r->s, r->res, rc, 0);
			return -1;
		}
	}
	plan_finish(&r->pl);
	if (r->retry_pass)
		only_retries(r);
	for (i = 0; i < r->pl.njobs; i++)
		if (r->pl.jobs[i].verify &&
		    verify_reuse(r, &r->pl.jobs[i]) == -1)
			return -1;
	skip_oversized(r);
	return 0;
}
