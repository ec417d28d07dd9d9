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

static int
uidl_cb(void *ctx, uint32_t msgno, const char *uid, size_t uidlen)
{
	struct run *r = ctx;
	struct uidrec rec;
	enum us_rc rc;
	char show[128];

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
 * A suspected UID reuse: compare the header block (TOP n 0) with the one
 * recorded. The same headers: the same message, nothing to fetch. Other
 * headers, or no TOP: fetch it and compare contents.
 */
static int
verify_reuse(struct run *r, struct job *j)
{
	unsigned char hdr[DIGEST_LEN];
	struct uidrec rec;
	enum pop3_rc rc;
	uint64_t n;
	char show[128];

	j->dup = 1;
	if (uidstore_get(r->us, j->uid, j->uidlen, &rec) != US_OK)
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
	digest_end(r->dg, NULL, hdr);
	if (memcmp(hdr, rec.hdr, DIGEST_LEN) == 0)
		j->state = J_OLD;
	else
		log_info("message %u: UID %s was seen before with other "
		    "headers: the server reused it; fetching", j->msgno,
		    log_sanitize(show, sizeof show, j->uid, j->uidlen));
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
	if (bad > 0) {
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
	for (i = 0; i < r->pl.njobs; i++)
		if (r->pl.jobs[i].verify &&
		    verify_reuse(r, &r->pl.jobs[i]) == -1)
			return -1;
	skip_oversized(r);
	return 0;
}
