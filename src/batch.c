/* SPDX-License-Identifier: ISC */
/*
 * One durable batch: fetch its messages (streamed into the delivery
 * method, or spooled first), make them durable together, journal them,
 * publish them, record their UIDs in one transaction, and only then DELE
 * them (DESIGN.md invariants 1 and 2).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "crash.h"
#include "journal.h"
#include "log.h"
#include "report.h"
#include "run.h"
#include "util.h"
#include "xmalloc.h"

/* What the sinks need while one message streams by. */
struct sink {
	struct run	*r;
	char		*errstr;	/* the delivery method's or spool's */
	enum deliver_rc	 drc;		/* the delivery method's verdict */
	int		 spool_failed;
};

/* Job i's sum, or NULL when no batch of this session fetched it. */
static struct job_sum *
sum_at(struct run *r, size_t i)
{
	if (i < r->sums_from || i - r->sums_from >= r->nsums)
		return NULL;
	return &r->sums[i - r->sums_from];
}

struct job_sum *
job_sum(struct run *r, const struct job *j)
{
	struct job_sum *js = sum_at(r, (size_t)(j - r->pl.jobs));

	if (js == NULL)
		abort();	/* only jobs of the current batch are fetched */
	return js;
}

/*
 * The sums for jobs [from, to), zeroed: the batch's own, or, for a method
 * that confirms at the end (all batches are recorded then), the session's
 * so far and these.
 */
static void
sums_begin(struct run *r, size_t from, size_t to)
{
	size_t keep = 0;

	if (r->d.ops->confirm_at_end && from > 0) {
		keep = r->nsums < from ? r->nsums : from;
		r->sums_from = 0;
	} else if (r->pending) {
		/* The batch being published is recorded during this one. */
		if (r->pend_to != from || r->pend_from < r->sums_from)
			abort();
		keep = r->pend_to - r->pend_from;
		memmove(r->sums, r->sums + (r->pend_from - r->sums_from),
		    keep * sizeof *r->sums);
		r->sums_from = r->pend_from;
	} else
		r->sums_from = from;
	if (to - r->sums_from > r->capsums) {
		r->capsums = to - r->sums_from;
		r->sums = xreallocarray(r->sums, r->capsums, sizeof *r->sums);
	}
	r->nsums = to - r->sums_from;
	if (r->nsums > keep)
		memset(r->sums + keep, 0, (r->nsums - keep) * sizeof *r->sums);
}

static int
cmp_old(const void *a, const void *b)
{
	const struct old_hdr *x = a, *y = b;

	if (x->job != y->job)
		return x->job < y->job ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* The identity job i was found to have before any batch, or NULL. */
static const unsigned char *
old_hdr(struct run *r, size_t i)
{
	size_t lo = 0, hi = r->nolds, mid;

	if (!r->olds_sorted) {
		qsort(r->olds, r->nolds, sizeof *r->olds, cmp_old);
		r->olds_sorted = 1;
	}
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (r->olds[mid].job <= i)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo > 0 && r->olds[lo - 1].job == i ? r->olds[lo - 1].hdr : NULL;
}

static int
sink_deliver(void *ctx, const char *buf, size_t len)
{
	struct sink *k = ctx;

	digest_feed(k->r->dg, buf, len);
	k->drc = k->r->d.ops->write(&k->r->d, buf, len, &k->errstr);
	return k->drc == DELIVER_OK ? 0 : -1;
}

static int
sink_spool(void *ctx, const char *buf, size_t len)
{
	struct sink *k = ctx;

	digest_feed(k->r->dg, buf, len);
	if (spool_write(k->r->sp, buf, len, &k->errstr) == -1) {
		k->spool_failed = 1;
		return -1;
	}
	return 0;
}

static int
replay_write(void *ctx, const char *buf, size_t len)
{
	struct sink *k = ctx;

	k->drc = k->r->d.ops->write(&k->r->d, buf, len, &k->errstr);
	return k->drc == DELIVER_OK ? 0 : -1;
}

/* Hands the spooled message to the delivery method. */
/*
 * The Received: field popfetch adds (as mpop and fetchmail do; RFC 5321
 * section 4.4): where the message came from, who took it, and when.
 * Server and UID are the server's: bytes that could break the field are
 * written as '?'.
 */
static enum deliver_rc
received(struct run *r, const struct msg_meta *meta, char **errstr)
{
	char line[1024], date[64], host[256];
	const char *parts[2] = { r->a->server, meta->uid };
	char clean[2][600];
	struct tm tm;
	time_t now = time(NULL);
	size_t i, k;
	int n;

	if (!r->a->received)
		return DELIVER_OK;
	for (k = 0; k < 2; k++) {
		for (i = 0; parts[k] != NULL && parts[k][i] != '\0' &&
		    i < sizeof clean[k] - 1; i++)
			clean[k][i] = parts[k][i] > 0x20 && parts[k][i] < 0x7f &&
			    strchr("();\\", parts[k][i]) == NULL ? parts[k][i] :
			    '?';
		clean[k][i] = '\0';
	}
	if (gethostname(host, sizeof host) == -1)
		snprintf(host, sizeof host, "localhost");
	host[sizeof host - 1] = '\0';
	for (i = 0; host[i] != '\0'; i++)
		if (host[i] <= 0x20 || host[i] >= 0x7f || strchr("();", host[i]))
			host[i] = '?';
	gmtime_r(&now, &tm);
	strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
	n = snprintf(line, sizeof line, "Received: from %s\n\tby %s (popfetch "
	    PACKAGE_VERSION ") with POP3\n\tid %s; %s\n", clean[0], host,
	    clean[1], date);
	if (n < 0 || (size_t)n >= sizeof line)
		n = snprintf(line, sizeof line, "Received: from %s\n\tby %s "
		    "(popfetch " PACKAGE_VERSION ") with POP3; %s\n", clean[0],
		    host, date);
	return r->d.ops->write(&r->d, line, (size_t)n, errstr);
}

static enum deliver_rc
replay_spool(struct run *r, struct sink *k, const struct msg_meta *meta)
{
	if ((k->drc = r->d.ops->begin(&r->d, meta, &k->errstr)) != DELIVER_OK)
		return k->drc;
	if ((k->drc = received(r, meta, &k->errstr)) != DELIVER_OK) {
		r->d.ops->abort(&r->d);
		return k->drc;
	}
	if (spool_replay(r->sp, replay_write, k, &k->errstr) == -1) {
		if (k->drc == DELIVER_OK) {
			/* Our own spool could not be read back. */
			k->spool_failed = 1;
			k->drc = DELIVER_TARGET_FAILED;
		}
		r->d.ops->abort(&r->d);
		return k->drc;
	}
	return k->drc = r->d.ops->end(&r->d, &k->errstr);
}

/*
 * Was this content of this UID delivered already? Earlier batches are
 * committed to the store, but for one still being published: only its and
 * this batch's jobs need a look, so the cost per message stays independent
 * of the size of the run.
 */
static int
content_known(struct run *r, const struct job *j, const struct digests *dg,
    size_t from, size_t to)
{
	const unsigned char *digest = job_sum(r, j)->digest;
	struct uidrec rec;
	size_t i;
	unsigned k;

	if (r->pending)		/* its jobs end where this batch starts */
		from = r->pend_from;
	for (i = from; i < to; i++) {
		const struct job *o = &r->pl.jobs[i];

		if (o != j && (o->state == J_DELIVERED || o->state == J_SAME) &&
		    o->uidlen == j->uidlen &&
		    memcmp(o->uid, j->uid, j->uidlen) == 0 &&
		    memcmp(job_sum(r, o)->digest, digest, DIGEST_LEN) == 0)
			return 1;
	}
	if (uidstore_get(r->us, j->uid, j->uidlen, &rec) != US_OK)
		return 0;
	/* popfetch 0.1 recorded digests of the raw content. */
	for (k = 0; k < rec.ndig; k++)
		if (memcmp(rec.dig[k], digest, DIGEST_LEN) == 0 ||
		    memcmp(rec.dig[k], dg->raw_content, DIGEST_LEN) == 0)
			return 1;
	return 0;
}

/* A suspected reuse checked on the message itself: the same identity as
 * recorded means the same message with new status headers. */
static int
same_identity(struct run *r, const struct job *j, const struct digests *dg)
{
	struct uidrec rec;

	if (!j->verify || uidstore_get(r->us, j->uid, j->uidlen, &rec) != US_OK)
		return 0;
	return memcmp(dg->ident, rec.hdr, DIGEST_LEN) == 0 ||
	    memcmp(dg->raw_header, rec.hdr, DIGEST_LEN) == 0;
}

/*
 * A message far shorter than its LIST size said (Mailutils 3.15 answers a
 * RETR after a TOP of the same message with the headers alone): LIST sizes
 * are hints, but such a message is fetched once more, in a new session,
 * before it is accepted.
 */
static int
suspiciously_short(const struct run *r, const struct job *j, uint64_t octets)
{
	if (j->size_hint <= 2048 || octets >= j->size_hint / 2 ||
	    j->size_hint - octets <= 1024 || r->d.ops->confirm_at_end ||
	    memchr(j->uid, '\0', j->uidlen) != NULL)
		return 0;
	if (r->retry_pass) {
		log_warnx("message %u arrived short again (%llu of %llu "
		    "octets); delivered as the server sends it", j->msgno,
		    (unsigned long long)octets,
		    (unsigned long long)j->size_hint);
		return 0;
	}
	return 1;
}

/* An oversized message is remembered, so that later runs leave it alone
 * instead of downloading it again and again. Not for a UID that has a
 * record already (a duplicate whose other copies were delivered). */
static void
remember_toobig(struct run *r, const struct job *j)
{
	struct uidrec rec;

	if (uidstore_get(r->us, j->uid, j->uidlen, &rec) != US_NOTFOUND)
		return;
	memset(&rec, 0, sizeof rec);
	rec.flags = UIDREC_TOOBIG;
	rec.first_seen = (int64_t)time(NULL);
	rec.size = r->a->max_size;
	rec.list_size = j->size_hint;
	if (uidstore_begin(r->us) != US_OK)
		return;
	if (uidstore_put(r->us, j->uid, j->uidlen, &rec) != US_OK) {
		uidstore_abort(r->us);
		return;
	}
	uidstore_commit(r->us);
}

/*
 * How much of a message is read: --max-size, or less for a message whose
 * LIST size is known. LIST sizes are hints (Exchange reports storage
 * sizes), but a reply that runs to twice its listed size and a mebibyte
 * more is not a message any more: an endless response is given up within
 * seconds instead of after a gigabyte (issue 10).
 */
static uint64_t
message_limit(const struct run *r, const struct job *j)
{
	uint64_t bound;

	if (j->size_hint == 0)
		return r->a->max_size;
	bound = (uint64_t)j->size_hint * 2 + 1024 * 1024;
	return r->a->max_size != 0 && r->a->max_size <= bound ?
	    r->a->max_size : bound;
}

/* RETR's reply into the sink; past a LIST-derived limit the connection is
 * dropped at once rather than drained. */
static enum pop3_rc
read_message(struct run *r, struct job *j, uint64_t *octets, uint64_t limit,
    pop3_sink sink, void *ctx)
{
	enum pop3_rc rc;
	int own = limit < r->a->max_size || r->a->max_size == 0;

	if (own)
		pop3_set_drain_max(r->s.p, 0);
	rc = pop3_read_retr(r->s.p, j->msgno, limit, sink, ctx, octets);
	if (own)
		pop3_set_drain_max(r->s.p, (uint64_t)64 * 1024 * 1024);
	return rc;
}

/* Fetches and delivers one message. -1 when the account must stop. */
static int
fetch_one(struct run *r, struct job *j, size_t from, size_t to)
{
	struct msg_meta meta = { 0 };
	struct sink k = { .r = r };
	char show[128];
	enum pop3_rc rc;
	int spool = j->dup || !r->d.ops->stream, stop = 0;
	char *sender = NULL;
	struct digests dg;
	struct job_sum *js = job_sum(r, j);
	uint64_t limit = message_limit(r, j);

	log_sanitize(show, sizeof show, j->uid, j->uidlen);
	meta.msgno = j->msgno;
	meta.uid = show;
	meta.user = r->a->user;
	meta.server = r->a->server;
	digest_start(r->dg, DIGEST_CONTENT | (j->dup ? DIGEST_RAW : 0));
	if (spool) {
		if (spool_reset(r->sp, &k.errstr) == -1) {
			result_fail(r->res, FAIL_LOCAL, "%s", k.errstr);
			free(k.errstr);
			return -1;
		}
		rc = read_message(r, j, &js->octets, limit, sink_spool, &k);
	} else {
		k.drc = r->d.ops->begin(&r->d, &meta, &k.errstr);
		if (k.drc == DELIVER_OK &&
		    (k.drc = received(r, &meta, &k.errstr)) != DELIVER_OK)
			r->d.ops->abort(&r->d);
		if (k.drc != DELIVER_OK) {
			j->state = J_FAILED;
			result_fail(r->res, FAIL_LOCAL, "message %u: %s",
			    j->msgno, k.errstr);
			free(k.errstr);
			return -1;
		}
		rc = read_message(r, j, &js->octets, limit, sink_deliver, &k);
	}
	crash_at(CRASH_RETR);
	if (rc == POP3_OK) {
		digest_end(r->dg, &dg);
		memcpy(js->digest, dg.content, DIGEST_LEN);
		memcpy(js->hdr, dg.ident, DIGEST_LEN);
		if (j->blind) {
			/* Known only now: its key, from its header block. */
			char key[DIGEST_KEYLEN + 1];

			digest_key(dg.ident, key);
			j->uid = plan_keep_uid(&r->pl, key, DIGEST_KEYLEN);
			j->uidlen = DIGEST_KEYLEN;
			j->blind = 0;
			log_sanitize(show, sizeof show, j->uid, j->uidlen);
		}
		if (suspiciously_short(r, j, js->octets)) {
			log_warnx("message %u (UID %s) arrived with %llu octets "
			    "where LIST said %llu; fetching it again in a new "
			    "session", j->msgno, show,
			    (unsigned long long)js->octets,
			    (unsigned long long)j->size_hint);
			if (!spool)
				r->d.ops->abort(&r->d);
			retry_later(r, j);
			return 0;
		}
		if (spool && same_identity(r, j, &dg)) {
			log_info("message %u: UID %s has a new size but the "
			    "same identity: the same message, not delivered "
			    "again", j->msgno, show);
			j->state = J_OLD;
			return 0;
		}
		if (spool && j->verify && !content_known(r, j, &dg, from, to))
			log_info("message %u: UID %s was seen before with "
			    "another identity: the server reused it; delivering",
			    j->msgno, show);
		if (spool) {
			if (j->dup && content_known(r, j, &dg, from, to)) {
				log_info("message %u (UID %s) is an identical "
				    "copy of one already delivered", j->msgno,
				    show);
				j->state = J_SAME;
				return 0;
			}
			sender = spool_sender(r->sp);
			meta.sender = sender;
			if (replay_spool(r, &k, &meta) != DELIVER_OK)
				rc = POP3_SINK;
			free(sender);
		} else if ((k.drc = r->d.ops->end(&r->d, &k.errstr)) !=
		    DELIVER_OK)
			rc = POP3_SINK;
		if (rc == POP3_OK) {
			crash_at(CRASH_WRITTEN);
			j->state = J_DELIVERED;
			progress_step(js->octets);
			report_message(r->ro, j->msgno, js->octets,
			    digest_from(r->dg), digest_subject(r->dg),
			    r->d.ops->name, r->d.target);
			return 0;
		}
	} else if (!spool)
		r->d.ops->abort(&r->d);
	j->state = J_FAILED;
	switch (rc) {
	case POP3_NEG:
		result_msg(r->res, j->msgno, show, MSG_FAILED, FAIL_MESSAGE,
		    "message %u (UID %s): %s; left on the server", j->msgno,
		    show, pop3_error(r->s.p));
		break;
	case POP3_TOOBIG:
		if (limit < r->a->max_size || r->a->max_size == 0) {
			/* Not too big: a reply that does not end. */
			r->s.alive = 0;
			result_fail(r->res, FAIL_TEMP, "message %u (UID %s) "
			    "ran past %llu octets, twice its LIST size and "
			    "more: the server's reply does not end; left on the "
			    "server, connection dropped", j->msgno, show,
			    (unsigned long long)limit);
			r->res->failed++;
			stop = 1;
			break;
		}
		result_msg(r->res, j->msgno, show, MSG_FAILED, FAIL_MESSAGE,
		    "message %u (UID %s): larger than the limit of %llu octets "
		    "(--max-size); left on the server", j->msgno, show,
		    (unsigned long long)r->a->max_size);
		remember_toobig(r, j);
		if (pop3_state(r->s.p) == POP3_CLOSED) {
			r->s.alive = 0;
			result_worsen(r->res, FAIL_TEMP);
			stop = 1;
		}
		break;
	case POP3_SINK:
		if (k.spool_failed) {
			/* Our own disk: the account cannot go on. */
			result_fail(r->res, FAIL_LOCAL, "message %u (UID %s): "
			    "%s; left on the server", j->msgno, show,
			    k.errstr);
			r->res->failed++;
			stop = 1;
			break;
		}
		/* A method that fails one message (an MDA's verdict) goes on;
		 * a full disk or broken mailbox stops the account. */
		switch (k.drc) {
		case DELIVER_MSG_TEMP:
			result_msg(r->res, j->msgno, show, MSG_FAILED,
			    FAIL_MESSAGE_TEMP, "message %u (UID %s): %s; left "
			    "on the server", j->msgno, show, k.errstr);
			break;
		case DELIVER_MSG_FAILED:
			result_msg(r->res, j->msgno, show, MSG_FAILED,
			    FAIL_MESSAGE, "message %u (UID %s): %s; left on "
			    "the server", j->msgno, show, k.errstr);
			break;
		default:
			result_fail(r->res, FAIL_LOCAL, "message %u (UID %s): "
			    "%s; left on the server", j->msgno, show,
			    k.errstr != NULL ? k.errstr : "delivery failed");
			r->res->failed++;
			stop = 1;
			break;
		}
		break;
	default:
		r->res->failed++;
		session_fail(&r->s, r->res, rc, 0);
		stop = 1;
		break;
	}
	free(k.errstr);
	return stop ? -1 : 0;
}

static int
journal_commit(struct run *r, int phase, struct buf *mdata, size_t from,
    size_t to)
{
	struct buf b = { 0 };
	enum us_rc rc;

	journal_encode(&b, phase, r->d.ops->name, mdata, r->pl.jobs,
	    sum_at(r, from), from, to);
	rc = uidstore_begin(r->us);
	if (rc == US_OK && (rc = uidstore_journal_put(r->us, b.data, b.len))
	    == US_OK)
		rc = uidstore_commit(r->us);
	else
		uidstore_abort(r->us);
	buf_free(&b);
	if (rc != US_OK) {
		result_fail(r->res, FAIL_LOCAL, "%s", uidstore_error(r->us));
		return -1;
	}
	return 0;
}

/* Records the batch's messages as seen, in one transaction that also
 * drops its journal. */
int
record_batch(struct run *r, size_t from, size_t to)
{
	struct uidrec rec;
	size_t i;

	if (uidstore_begin(r->us) != US_OK)
		goto dberr;
	for (i = from; i < to; i++) {
		struct job *j = &r->pl.jobs[i];
		struct job_sum *js = sum_at(r, i);

		if (j->state == J_OLD) {
			/* What the check decided: the same message, with its
			 * new size and its identity, so it is not repeated:
			 * the identity found by TOP before any batch, or on
			 * arrival in this one. */
			static const unsigned char zero[DIGEST_LEN];
			const unsigned char *hdr = old_hdr(r, i);

			if (js != NULL && memcmp(js->hdr, zero, DIGEST_LEN) != 0)
				hdr = js->hdr;
			if (uidstore_get(r->us, j->uid, j->uidlen, &rec) ==
			    US_OK) {
				rec.list_size = j->size_hint;
				if (hdr != NULL)
					memcpy(rec.hdr, hdr, DIGEST_LEN);
				uidstore_put(r->us, j->uid, j->uidlen, &rec);
			}
			continue;
		}
		if (j->state != J_DELIVERED && j->state != J_SAME)
			continue;
		js = job_sum(r, j);
		if (uidstore_add_content(r->us, j->uid, j->uidlen, js->digest,
		    js->octets, j->dup ? 0 : 1, j->size_hint, js->hdr) != US_OK) {
			uidstore_abort(r->us);
			goto dberr;
		}
	}
	if (uidstore_journal_del(r->us) != US_OK) {
		uidstore_abort(r->us);
		goto dberr;
	}
	if (uidstore_commit(r->us) != US_OK)
		goto dberr;
	for (i = from; i < to; i++) {
		if (r->pl.jobs[i].state == J_DELIVERED) {
			r->res->fetched++;
			r->res->bytes += job_sum(r, &r->pl.jobs[i])->octets;
		}
	}
	return 0;
dberr:
	result_fail(r->res, FAIL_LOCAL, "%s", uidstore_error(r->us));
	return -1;
}

int
send_window(struct run *r, enum pop3_rc (*send)(struct pop3 *, uint32_t),
    const uint32_t *msgnos, size_t n, size_t *sent)
{
	enum pop3_rc rc;

	while (*sent < n && pop3_window_room(r->s.p, 0)) {
		if ((rc = send(r->s.p, msgnos[*sent])) != POP3_OK) {
			session_fail(&r->s, r->res, rc, 0);
			return -1;
		}
		(*sent)++;
	}
	return 0;
}

/* The reply to DELE msgno, next in line. -1 when the connection failed
 * (reported); a refused DELE is a failed message. */
static int
dele_reply(struct run *r, uint32_t msgno)
{
	enum pop3_rc rc = pop3_read_dele(r->s.p, msgno);

	if (rc == POP3_OK) {
		r->dele_sent++;
		crash_at(CRASH_DELE);
	} else if (rc == POP3_NEG) {
		log_warnx("message %u: %s", msgno, pop3_error(r->s.p));
		result_worsen(r->res, FAIL_MESSAGE);
	} else {
		session_fail(&r->s, r->res, rc, 0);
		return -1;
	}
	return 0;
}

/*
 * DELE of msgnos[0, n), pipelined where the server allows: commands go out
 * while the window has room, replies are read in order. -1 when the
 * connection failed (reported).
 */
static int
dele_many(struct run *r, const uint32_t *msgnos, size_t n)
{
	size_t sent = 0, read;

	for (read = 0; read < n && r->s.alive; read++)
		if (send_window(r, pop3_send_dele, msgnos, n, &sent) == -1 ||
		    dele_reply(r, msgnos[read]) == -1)
			return -1;
	return 0;
}

int
batch_dele_old(struct run *r)
{
	return dele_many(r, r->pl.dele, r->pl.ndele);
}

/* The head of the line is the command in flight longest. */
static int
head_is(struct run *r, enum pop3_cmd cmd, struct pop3_flight *f)
{
	return pop3_unanswered(r->s.p, f, 1) > 0 && f->cmd == cmd;
}

/* Replies to DELEs sent ahead of the next RETR. */
static int
read_deles(struct run *r)
{
	struct pop3_flight f;

	while (r->s.alive && head_is(r, POP3_CMD_DELE, &f))
		if (dele_reply(r, f.msgno) == -1)
			return -1;
	return 0;
}

static int
null_sink(void *ctx, const char *buf, size_t len)
{
	(void)ctx;
	(void)buf;
	(void)len;
	return 0;
}

/* After a stop, replies still in flight are read, so that the session can
 * end with QUIT: a message's is dropped (it stays unfetched), a DELE's
 * counts. */
static void
drain(struct run *r)
{
	struct pop3_flight f;
	uint64_t n;

	while (r->s.alive && pop3_in_flight(r->s.p) > 0 &&
	    pop3_unanswered(r->s.p, &f, 1) > 0) {
		if (f.cmd == POP3_CMD_DELE) {
			if (dele_reply(r, f.msgno) == -1)
				break;
		} else if (pop3_read_retr(r->s.p, f.msgno, r->a->max_size,
		    null_sink, NULL, &n) != POP3_OK &&
		    pop3_state(r->s.p) == POP3_CLOSED)
			r->s.alive = 0;
	}
	if (r->s.alive && pop3_in_flight(r->s.p) > 0)
		r->s.alive = 0;
}

int
batch_finish(struct run *r)
{
	int rc = 0;

	drain(r);
	if (r->s.alive && r->deleq_sent < r->ndeleq)
		rc = dele_many(r, r->deleq + r->deleq_sent,
		    r->ndeleq - r->deleq_sent);
	r->ndeleq = r->deleq_sent = 0;
	return rc;
}

/* Keeps the window full from *next on: first the DELEs of recorded
 * batches, then RETRs up to job to. 0, or -1 when sending failed
 * (reported). */
static int
send_ahead(struct run *r, size_t *next, size_t to)
{
	struct job *j;
	enum pop3_rc rc;

	if (send_window(r, pop3_send_dele, r->deleq, r->ndeleq,
	    &r->deleq_sent) == -1)
		return -1;
	if (r->deleq_sent < r->ndeleq)
		return 0;
	for (; *next < to; (*next)++) {
		j = &r->pl.jobs[*next];
		if (j->state != J_PENDING)
			continue;
		if (!pop3_window_room(r->s.p, j->size_hint))
			break;
		if ((rc = pop3_send_retr(r->s.p, j->msgno, j->size_hint)) !=
		    POP3_OK) {
			session_fail(&r->s, r->res, rc, 0);
			return -1;
		}
	}
	return 0;
}

/*
 * Job i's RETR goes out (with those after it, as the window allows) and the
 * DELE replies ahead of it are read, so that its reply is next. A window
 * full of DELEs: their replies make room. 0, or -1 (reported).
 */
static int
retr_ahead(struct run *r, size_t *next, size_t i, size_t to)
{
	size_t was;

	if (send_ahead(r, next, to) == -1)
		return -1;
	while (*next <= i && r->s.alive) {
		was = pop3_in_flight(r->s.p);
		if (read_deles(r) == -1)
			return -1;
		if (pop3_in_flight(r->s.p) == was)
			break;	/* fetch_one says what is wrong */
		if (send_ahead(r, next, to) == -1)
			return -1;
	}
	return read_deles(r);
}

/* The batch's messages that may go, once it is recorded: queued, to go out
 * ahead of the next batch's RETRs (or at once when nothing is in flight). */
static int
queue_deles(struct run *r, size_t from, size_t to)
{
	size_t i;

	if (r->deleq_sent == r->ndeleq)
		r->ndeleq = r->deleq_sent = 0;
	for (i = from; i < to; i++) {
		struct job *j = &r->pl.jobs[i];

		if (j->state == J_DELIVERED || j->state == J_SAME ||
		    j->state == J_OLD)
			push_u32(&r->deleq, &r->ndeleq, &r->deleq_cap,
			    j->msgno);
	}
	if (pop3_in_flight(r->s.p) > 0)
		return 0;
	return batch_finish(r);
}

/*
 * The sealed batch (the previous one), as far as it got without waiting,
 * or to its end with wait: once durable, journaled, and its publishing let
 * go on; once published, recorded, and then its mail may go. 0; -1 when a
 * step failed (reported; a journal that was written stays for the next
 * run, so no other batch may be journaled: settle_failed); -2 when the
 * connection failed sending its DELEs (reported; it is recorded).
 */
static int
settle(struct run *r, int wait)
{
	size_t from = r->pend_from, to = r->pend_to;
	struct buf md = { 0 };
	char *err = NULL;
	int rc, keep = 0;

	if (r->settle_failed)
		return -1;
	if (r->pending == PEND_SYNCING) {
		if ((rc = r->d.ops->seal_synced(&r->d, wait, &err)) == 0)
			return 0;
		if (rc == -1) {
			result_fail(r->res, FAIL_LOCAL, "%s", err);
			free(err);
			goto fail;
		}
		crash_at(CRASH_SYNCED);
		r->d.ops->seal_journal(&r->d, &md);
		rc = journal_commit(r, DELIVER_PHASE_POST, &md, from, to);
		buf_free(&md);
		if (rc == -1) {
			keep = 1;	/* the journal may have made it */
			goto fail;
		}
		crash_at(CRASH_JOURNALED);
		r->d.ops->seal_publish(&r->d);
		r->pending = PEND_PUBLISHING;
	}
	if (r->pending == PEND_PUBLISHING) {
		if ((rc = r->d.ops->seal_done(&r->d, wait, &err)) == 0)
			return 0;
		r->pending = PEND_NONE;
		if (rc == -1) {
			/* The journal lets the next run finish this. */
			result_fail(r->res, FAIL_LOCAL, "%s", err);
			free(err);
			r->settle_failed = 1;
			return -1;
		}
		crash_at(CRASH_PUBLISHED);
		if (record_batch(r, from, to) == -1) {
			r->settle_failed = 1;
			return -1;
		}
		crash_at(CRASH_COMMITTED);
		/* Only now, with delivery and record durable, may mail go. */
		if (r->a->delete && r->s.alive &&
		    queue_deles(r, from, to) == -1)
			return -2;
	}
	return 0;
fail:
	/* Not journaled: its files go, and it is fetched again next time. */
	r->d.ops->seal_abort(&r->d, keep);
	r->pending = PEND_NONE;
	r->settle_failed = 1;
	return -1;
}

int
batch_settle(struct run *r)
{
	return settle(r, 1) == 0 ? 0 : -1;
}

int
batch_run(struct run *r, size_t from, size_t *top)
{
	size_t to = *top;
	uint64_t bytes = 0;
	int64_t t0 = now_ms();
	struct buf md = { 0 };
	size_t i, next, ndone = 0;
	enum pop3_rc rc;
	int stop = 0, half = 0, at_half, given_up = 0;
	uint64_t wb_at = WRITEBACK_BYTES;
	char *err = NULL;

	sums_begin(r, from, to);
	if (r->d.ops->batch_begin(&r->d, &err) != DELIVER_OK) {
		result_fail(r->res, FAIL_LOCAL, "%s", err);
		free(err);
		return -1;
	}
	if (r->d.ops->pre_journal != NULL) {
		r->d.ops->pre_journal(&r->d, &md);
		if (journal_commit(r, DELIVER_PHASE_PRE, &md, from, from) == -1)
			goto abort;
		buf_free(&md);
	}
	/* RETRs are sent ahead of their replies as far as the server's
	 * PIPELINING allows (one at a time without it). */
	next = r->sent_upto > from ? r->sent_upto : from;
	for (i = from; i < to && !stop; i++) {
		if (r->pl.jobs[i].state != J_PENDING)
			continue;
		if (next <= i)
			next = i;
		if (retr_ahead(r, &next, i, to) == -1 ||
		    fetch_one(r, &r->pl.jobs[i], from, to) == -1)
			stop = 1;
		bytes += job_sum(r, &r->pl.jobs[i])->octets;
		/* The previous batch, published meanwhile, is recorded and
		 * its DELEs queued without waiting for this one. */
		if (r->pending && settle(r, 0) != 0)
			stop = 1;
		/* Half of a batch of many messages, or every WRITEBACK_BYTES
		 * of one: what is written starts its way to the disk. */
		at_half = !half && to - from >= 64 &&
		    i + 1 - from >= (to - from) / 2;
		half |= at_half;
		if (r->d.ops->writeback != NULL && (at_half || bytes >= wb_at)) {
			r->d.ops->writeback(&r->d);
			wb_at = bytes + WRITEBACK_BYTES;
		}
		/* Large or slow: the batch ends with what is in flight. */
		if (bytes >= BATCH_BYTES || now_ms() - t0 >= BATCH_MS)
			to = *top = next > i + 1 ? next : i + 1;
	}
	r->sent_upto = next;
	/* One journal at a time: the previous batch's goes first (recorded,
	 * and its DELEs ahead of the next batch's RETRs), or, if it cannot,
	 * this batch is given up. */
	switch (settle(r, 1)) {
	case -1:
		given_up = stop = 1;
		break;
	case -2:
		stop = 1;
		break;
	}
	/* DELEs that found no RETR to go ahead of. */
	if (!stop && batch_finish(r) == -1)
		stop = 1;
	if (stop)
		drain(r);
	else if (r->s.alive && pop3_pipelining(r->s.p)) {
		if (pop3_check_stray(r->s.p) != POP3_OK) {
			/* A reply with no command: every reply read may have
			 * been one out of step; nothing of this batch is
			 * kept. */
			session_fail(&r->s, r->res, POP3_PROTO, 0);
			r->s.alive = 0;
			goto abort;
		}
		/* Every reply was in step. The next batch's first RETRs go
		 * out now, so the server works while this one is made
		 * durable. */
		next = to;
		if (send_ahead(r, &next, to + r->a->batch < r->pl.njobs ?
		    to + r->a->batch : r->pl.njobs) == -1)
			goto abort;
		if ((rc = pop3_flush(r->s.p)) != POP3_OK) {
			session_fail(&r->s, r->res, rc, 0);
			goto abort;
		}
		r->sent_upto = next;
	}
	if (given_up)
		goto abort;
	/* What arrived completely before a failure is still made durable. */
	for (i = from; i < to; i++)
		if (r->pl.jobs[i].state == J_DELIVERED)
			ndone++;
	/* Sealed: made durable, journaled and published while the next
	 * batch is fetched, recorded then (settle). */
	if (ndone > 0 && r->d.ops->seal != NULL && !r->d.ops->confirm_at_end &&
	    r->d.ops->seal(&r->d) == 0) {
		r->pending = PEND_SYNCING;
		r->pend_from = from;
		r->pend_to = to;
		return stop ? -1 : 0;
	}
	if (ndone > 0 || r->d.ops->pre_journal != NULL) {
		if (r->d.ops->sync(&r->d, &err) != DELIVER_OK) {
			result_fail(r->res, FAIL_LOCAL, "%s", err);
			free(err);
			goto abort;
		}
		crash_at(CRASH_SYNCED);
		if (r->d.ops->post_journal != NULL) {
			r->d.ops->post_journal(&r->d, &md);
			if (journal_commit(r, DELIVER_PHASE_POST, &md, from, to)
			    == -1)
				goto abort;
			buf_free(&md);
			crash_at(CRASH_JOURNALED);
		}
		if (r->d.ops->publish(&r->d, &err) != DELIVER_OK) {
			/* The journal lets the next run finish this. */
			result_fail(r->res, FAIL_LOCAL, "%s", err);
			free(err);
			return -1;
		}
		crash_at(CRASH_PUBLISHED);
	}
	/* Output that only the end of the run confirms is recorded then
	 * (fetch.c), and never deleted. */
	if (r->d.ops->confirm_at_end)
		return stop ? -1 : 0;
	if (record_batch(r, from, to) == -1)
		return -1;
	crash_at(CRASH_COMMITTED);
	/* Only now, with delivery and record durable, may mail go away. */
	if (!r->a->delete || !r->s.alive)
		return stop ? -1 : 0;
	if (queue_deles(r, from, to) == -1)
		stop = 1;
	return stop ? -1 : 0;
abort:
	buf_free(&md);
	r->d.ops->batch_abort(&r->d);
	return -1;
}
