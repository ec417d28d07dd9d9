/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crash.h"
#include "fetch.h"
#include "import.h"
#include "journal.h"
#include "log.h"
#include "report.h"
#include "run.h"
#include "util.h"

static int
store_failed(struct result *res, enum us_rc rc, char *err)
{
	result_fail(res, rc == US_LOCKED ? FAIL_LOCKED : FAIL_LOCAL, "%s", err);
	free(err);
	return -1;
}

/* Takes the account's lock; before any connection. */
static int
lock_store(const struct runopts *ro, const struct account *a,
    struct result *res, struct uidstore **us)
{
	enum us_rc rc;
	char *err = NULL;

	if ((rc = uidstore_lock(a->state_dir, ro->wait_lock, us, &err)) !=
	    US_OK)
		return store_failed(res, rc, err);
	return 0;
}

/* Opens the locked store's databases; a failure has closed it. */
static int
attach_store(struct result *res, struct uidstore **us)
{
	enum us_rc rc;
	char *err = NULL;

	if ((rc = uidstore_attach(*us, &err)) != US_OK) {
		*us = NULL;
		return store_failed(res, rc, err);
	}
	if (uidstore_recovered(*us))
		log_debug("the UID store was not closed whole last time (or "
		    "is new): recovered");
	return 0;
}

static int
open_store(const struct runopts *ro, const struct account *a,
    struct result *res, struct uidstore **us)
{
	return lock_store(ro, a, res, us) == -1 ? -1 : attach_store(res, us);
}

static int
open_delivery(struct run *r)
{
	char *err = NULL;

	/* Only a fetch delivers; the others need a method's name at most. */
	r->d.ops = deliver_ops_for(r->ro->mode != MODE_FETCH ?
	    DELIVER_STDOUT : r->a->dkind);
	r->d.target = r->a->dtarget;
	r->d.state_dir = r->a->state_dir;
	r->d.account = r->a->state_dir;
	r->d.timeout_ms = r->a->timeout_ms;
	if (r->ro->mode != MODE_FETCH)
		return 0;
	if (r->d.ops->open(&r->d, &err) != DELIVER_OK) {
		result_fail(r->res, FAIL_LOCAL, "%s", err);
		free(err);
		return -1;
	}
	return 0;
}

/* The whole run's output is confirmed (standard output closed without an
 * error): only now is any of it recorded. */
static void
confirm(struct run *r)
{
	char *err = NULL;

	if (r->d.ops->finish(&r->d, &err) != DELIVER_OK) {
		result_fail(r->res, FAIL_LOCAL, "%s; nothing of this run is "
		    "recorded, so it is sent again next time", err);
		free(err);
		return;
	}
	record_batch(r, 0, r->pl.njobs);
}

struct groups {
	struct run	*r;
	int		 begun;	/* a transaction, begun at the first change */
};

static int
group_done(void *ctx, const struct job *j, uint32_t copies)
{
	struct groups *g = ctx;
	struct uidstore *us = g->r->us;
	struct uidrec rec;

	if (uidstore_get(us, j->uid, j->uidlen, &rec) != US_OK ||
	    rec.ncopies >= copies)
		return 0;
	if (!g->begun && uidstore_begin(us) != US_OK)
		return -1;
	g->begun = 1;
	rec.ncopies = copies;
	return uidstore_put(us, j->uid, j->uidlen, &rec) == US_OK ? 0 : -1;
}

/* Duplicate groups all of whose copies were handled: remember how many,
 * so the same listing next time fetches nothing. A run that changes none
 * writes nothing. */
static void
record_groups(struct run *r)
{
	struct groups g = { r, 0 };
	int rc;

	rc = plan_groups_done(&r->pl, group_done, &g);
	if (g.begun ? uidstore_commit(r->us) != US_OK : rc == -1)
		log_warnx("%s", uidstore_error(r->us));
}

static int
prune_cb(void *ctx, const void *uid, size_t len, const struct uidrec *rec)
{
	const struct plan *pl = ctx;

	(void)rec;
	return plan_listed_uid(pl, uid, len) ? 0 : 1;
}

/* After a complete run, the store forgets UIDs no longer on the server. */
static void
prune(struct run *r)
{
	size_t pruned;

	if (uidstore_walk(r->us, prune_cb, &r->pl, &pruned) != US_OK)
		log_warnx("%s", uidstore_error(r->us));
	else if (pruned > 0)
		log_debug("forgot %zu UIDs no longer on the server", pruned);
}

static void
quit(struct run *r)
{
	enum pop3_rc rc;

	crash_at(CRASH_BEFORE_QUIT);
	if (r->s.p == NULL || !r->s.alive || pop3_state(r->s.p) == POP3_CLOSED)
		return;
	rc = pop3_quit(r->s.p);
	if (rc == POP3_OK && r->res->worst < FAIL_ACCOUNT && r->listing_ok &&
	    !r->a->all && r->ro->mode == MODE_FETCH) {
		if (r->store_covered)
			log_debug("every recorded UID is still listed: nothing "
			    "to forget");
		else
			prune(r);
	}
	if (rc == POP3_OK)
		r->res->deleted = r->dele_sent;
	else if (r->dele_sent > 0)
		result_fail(r->res, FAIL_TEMP, "QUIT failed (%s): the %lu "
		    "deletions may not have happened; the next --delete run "
		    "retries", pop3_error(r->s.p), r->dele_sent);
}

static void
run_free(struct run *r)
{
	if (r->d.ops != NULL && r->d.priv != NULL)
		r->d.ops->close(&r->d);
	session_close(&r->s);
	plan_free(&r->pl);
	digest_free(r->dg);
	spool_free(r->sp);
	uidstore_close(r->us);
	free(r->idmsg);
	free(r->idkeys);
	free(r->deleq);
	free(r->sums);
	free(r->olds);
	while (r->nretry > 0)
		free(r->retry[--r->nretry]);
	free(r->retry);
}

/* The plan for this account's settings. */
void
plan_setup(struct plan *pl, const struct account *a)
{
	plan_init(pl, a->all, a->delete, a->max_size);
	if (a->delete_after > 0)
		pl->expire_before = (int64_t)time(NULL) -
		    (int64_t)a->delete_after * 86400;
}

/* A fresh record: delivered, as far as this account is concerned. */
static enum us_rc
record_uid(struct uidstore *us, const char *uid, size_t len, uint32_t copies,
    uint64_t list_size)
{
	struct uidrec rec;

	memset(&rec, 0, sizeof rec);
	rec.first_seen = (int64_t)time(NULL);
	rec.ncopies = copies > 0 ? copies : 1;
	rec.list_size = list_size;
	return uidstore_put(us, uid, len, &rec);
}

/* --mark-seen: every new message recorded as fetched, none downloaded. */
static int
mark_seen(struct run *r)
{
	unsigned long n = 0;
	size_t i;

	if (uidstore_begin(r->us) != US_OK)
		goto dberr;
	for (i = 0; i < r->pl.njobs; i++) {
		struct job *j = &r->pl.jobs[i];

		if (j->blind || (j->state != J_PENDING && j->state != J_SKIPPED))
			continue;
		if (record_uid(r->us, j->uid, j->uidlen, j->copies,
		    j->size_hint) != US_OK) {
			uidstore_abort(r->us);
			goto dberr;
		}
		n++;
	}
	if (uidstore_commit(r->us) != US_OK)
		goto dberr;
	report_recorded(r->ro, r->a, "marked as seen", n);
	return 0;
dberr:
	result_fail(r->res, FAIL_LOCAL, "%s", uidstore_error(r->us));
	return -1;
}

/*
 * One session: log in, list, plan, delete what was delivered before, fetch
 * in batches, quit. -1 when the account's run must end.
 */
static int
session_run(struct run *r)
{
	const struct account *a = r->a;
	size_t i, to;
	int rc = 0;

	if (session_open(&r->s, a, r->res) == -1 || listing_read(r) == -1) {
		rc = -1;
		goto quit;
	}
	if (!r->retry_pass)
		for (i = 0; i < r->pl.njobs; i++)
			if (r->pl.jobs[i].state == J_PENDING)
				r->res->fresh++;
	if (r->ro->mode == MODE_CHECK)
		goto quit;
	if (r->ro->mode == MODE_MARK_SEEN) {
		rc = mark_seen(r);
		goto quit;
	}
	/* Already delivered earlier (kept, or a DELE whose QUIT never came):
	 * durable and recorded, so they may go. */
	if (r->s.alive && batch_dele_old(r) == -1) {
		rc = -1;
		goto quit;
	}
	log_info("%lu messages, %zu to fetch", r->res->messages,
	    r->pl.njobs);
	{
		uint64_t bytes = 0;
		unsigned long n = 0;

		for (i = 0; i < r->pl.njobs; i++)
			if (r->pl.jobs[i].state == J_PENDING) {
				n++;
				bytes += r->pl.jobs[i].size_hint;
			}
		progress_start(r->ro, n, bytes);
	}
	r->sent_upto = 0;
	for (i = 0; i < r->pl.njobs; i = to) {
		to = i + a->batch < r->pl.njobs ? i + a->batch : r->pl.njobs;
		if (batch_run(r, i, &to) == -1) {
			rc = -1;
			break;
		}
	}
	if (batch_settle(r) == -1)
		rc = -1;
	if (batch_finish(r) == -1)
		rc = -1;
	progress_end();
	if (r->d.ops->confirm_at_end && rc == 0)
		confirm(r);
	record_groups(r);
quit:
	quit(r);
	return rc;
}

void
fetch_account(const struct runopts *ro, const struct account *a,
    struct result *res)
{
	struct run r;

	memset(&r, 0, sizeof r);
	r.ro = ro;
	r.a = a;
	r.res = res;
	log_set_account(a->name);
	plan_setup(&r.pl, a);
	/* The lock and the delivery's checks come before anything touches
	 * the network; the server prepares its greeting while the store
	 * opens and recovers. */
	if (lock_store(ro, a, res, &r.us) == -1)
		return;
	if (open_delivery(&r) == -1)
		goto out;
	session_dial(&r.s, a);
	if (attach_store(res, &r.us) == -1 ||
	    journal_recover(r.us, a->state_dir, a->timeout_ms, res) == -1)
		goto out;
	r.dg = digest_new();
	r.sp = spool_new(a->state_dir);
	if (session_run(&r) == 0 && r.need_retry) {
		/* Messages that arrived far shorter than listed, once more in
		 * a session of their own (batch.c). */
		r.retry_pass = 1;
		session_close(&r.s);
		plan_free(&r.pl);
		plan_setup(&r.pl, a);
		session_run(&r);
	}
out:
	run_free(&r);
}

void
fetch_server_info(const struct runopts *ro, const struct account *a,
    struct result *res)
{
	struct session s;

	(void)ro;
	log_set_account(a->name);
	session_server_info(&s, a, res);
	session_close(&s);
}

static int
seen_cb(void *ctx, const void *uid, size_t len, const struct uidrec *rec)
{
	(void)ctx;
	report_seen(uid, len, rec);
	return 0;
}

void
fetch_list_seen(const struct runopts *ro, const struct account *a,
    struct result *res)
{
	struct uidstore *us;
	size_t n;

	log_set_account(a->name);
	if (open_store(ro, a, res, &us) == -1)
		return;
	if (uidstore_walk(us, seen_cb, NULL, &n) != US_OK)
		result_fail(res, FAIL_LOCAL, "%s", uidstore_error(us));
	uidstore_close(us);
}

struct importing {
	struct uidstore	*us;
	unsigned long	 n;
	int		 failed;
};

static int
import_one(const char *uid, size_t len, void *arg)
{
	struct importing *im = arg;
	struct uidrec rec;

	/* A UID recorded already keeps its record. */
	if (uidstore_get(im->us, uid, len, &rec) == US_OK)
		return 0;
	if (record_uid(im->us, uid, len, 1, 0) != US_OK) {
		im->failed = 1;
		return 1;
	}
	im->n++;
	return 0;
}

void
fetch_import(const struct runopts *ro, const struct account *a,
    struct result *res)
{
	struct import_account ia = { a->user, a->server, a->port };
	struct importing im = { 0 };
	enum import_format fmt;
	const char *file, *base;
	char *err = NULL, *buf = NULL;
	size_t len = 0;
	long rc;

	log_set_account(a->name);
	if (import_spec_parse(ro->import_uids, &fmt, &file, &err) == -1) {
		result_fail(res, FAIL_CONFIG, "--import-uids: %s", err);
		free(err);
		return;
	}
	if (read_file(file, 64 << 20, &buf, &len) == -1) {
		result_fail(res, FAIL_CONFIG, "--import-uids %s: %s", file,
		    strerror(errno));
		return;
	}
	if (open_store(ro, a, res, &im.us) == -1) {
		free(buf);
		return;
	}
	base = strrchr(file, '/') != NULL ? strrchr(file, '/') + 1 : file;
	/* Checked whole first: nothing is recorded from a bad file. */
	rc = import_uids(fmt, base, buf, len, &ia, NULL, NULL, &err);
	if (rc == -1) {
		result_fail(res, FAIL_CONFIG, "--import-uids %s: %s", file, err);
		goto out;
	}
	if (uidstore_begin(im.us) != US_OK) {
		result_fail(res, FAIL_LOCAL, "%s", uidstore_error(im.us));
		goto out;
	}
	rc = import_uids(fmt, base, buf, len, &ia, import_one, &im, &err);
	if (rc == -1 || im.failed || uidstore_commit(im.us) != US_OK) {
		uidstore_abort(im.us);
		result_fail(res, FAIL_LOCAL, "%s", im.failed || rc != -1 ?
		    uidstore_error(im.us) : err);
		goto out;
	}
	report_recorded(ro, a, "imported as fetched", im.n);
out:
	free(err);
	free(buf);
	uidstore_close(im.us);
}
