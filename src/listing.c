/* SPDX-License-Identifier: ISC */
/*
 * The listing of one run: STAT, LIST for the size hints, UIDL with a
 * store lookup per UID, the plan (plan.c), a second UIDL pass for the seen UIDs
 * that must be fetched again, and TOP n 0 for UIDs the server may have
 * reused.
 *
 * Messages without a usable UID (no UIDL at all, an empty or overlong UID
 * or one with blanks or control bytes, UIDs that are only message
 * numbers) are identified by their header block instead (digest.h): TOP
 * n 0, pipelined, gives each a key "hdr-" and the hex of its identity
 * digest, which takes the place of the UID. Without TOP either, every
 * such message is downloaded and identified when it arrives (batch.c).
 * When UIDs change under us (a server migration renumbers them, or the
 * account changes scheme), records are found again by identity and
 * re-keyed, not downloaded again. The store remembers the scheme.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#include "log.h"
#include "run.h"
#include "util.h"
#include "xmalloc.h"

#define IDKEY_LEN	DIGEST_KEYLEN

/* RFC 1939: 1 to 70 characters from 0x21 to 0x7E; we accept up to
 * UID_MAXLEN, but nothing empty, blank or with control bytes. */
static int
usable_uid(const char *uid, size_t len)
{
	size_t i;

	if (len == 0 || len > UID_MAXLEN)
		return 0;
	for (i = 0; i < len; i++)
		if ((unsigned char)uid[i] < 0x21 || (unsigned char)uid[i] > 0x7e)
			return 0;
	return 1;
}

static int
uid_is_msgno(uint32_t msgno, const char *uid, size_t len)
{
	char num[16];
	int n = snprintf(num, sizeof num, "%u", msgno);

	return (size_t)n == len && memcmp(num, uid, len) == 0;
}

/* The LIST sizes, read before UIDL so that each UIDL line is planned with
 * its size: 4 bytes a message while the listing numbers its messages 1, 2,
 * 3 and on, as servers do; 8 (number and size) from the first line that
 * does not. */
struct lsize {
	uint32_t	msgno;
	uint32_t	size;	/* up to PLAN_SIZE_MAX */
};

struct lsizes {
	uint32_t	*dense;		/* the size of message k + 1 */
	struct lsize	*v;		/* or in any order (sparse) */
	size_t		 n, cap;
	int		 sparse;
};

static int
list_keep_cb(void *ctx, uint32_t msgno, uint64_t size)
{
	struct lsizes *ls = ctx;
	uint32_t sz = size > PLAN_SIZE_MAX ? PLAN_SIZE_MAX : (uint32_t)size;
	size_t i;

	if (!ls->sparse && msgno == ls->n + 1) {
		if (ls->n == ls->cap) {
			ls->cap = ls->cap ? ls->cap * 2 : 256;
			ls->dense = xreallocarray(ls->dense, ls->cap,
			    sizeof *ls->dense);
		}
		ls->dense[ls->n++] = sz;
		return 0;
	}
	if (!ls->sparse) {
		ls->cap = ls->n + 256;
		ls->v = xreallocarray(NULL, ls->cap, sizeof *ls->v);
		for (i = 0; i < ls->n; i++) {
			ls->v[i].msgno = (uint32_t)(i + 1);
			ls->v[i].size = ls->dense[i];
		}
		free(ls->dense);
		ls->dense = NULL;
		ls->sparse = 1;
	}
	if (ls->n == ls->cap) {
		ls->cap *= 2;
		ls->v = xreallocarray(ls->v, ls->cap, sizeof *ls->v);
	}
	ls->v[ls->n].msgno = msgno;
	ls->v[ls->n++].size = sz;
	return 0;
}

static int
cmp_lsize(const void *a, const void *b)
{
	const struct lsize *x = a, *y = b;

	return x->msgno < y->msgno ? -1 : x->msgno > y->msgno;
}

/* The number of the i-th message listed, in order. */
static uint32_t
listed_msgno(const struct lsizes *ls, size_t i)
{
	return ls->sparse ? ls->v[i].msgno : (uint32_t)(i + 1);
}

static uint64_t size_of(const struct lsizes *, uint32_t);

static uint64_t
size_cb(const void *ctx, uint32_t msgno)
{
	return size_of(ctx, msgno);
}

/* The LIST size of msgno, 0 when it was not listed. */
static uint64_t
size_of(const struct lsizes *ls, uint32_t msgno)
{
	size_t lo = 0, hi = ls->n, mid;

	if (!ls->sparse)
		return msgno >= 1 && msgno <= ls->n ? ls->dense[msgno - 1] : 0;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (ls->v[mid].msgno < msgno)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < ls->n && ls->v[lo].msgno == msgno ? ls->v[lo].size : 0;
}

static int
uidl_cb(void *ctx, uint32_t msgno, const char *uid, size_t uidlen)
{
	struct run *r = ctx;
	struct uidrec rec;
	enum us_rc rc;
	char show[128];
	enum plan_line prc;

	if (!usable_uid(uid, uidlen) || r->by_header) {
		/* Identified by its header block instead. */
		push_u32(&r->idmsg, &r->nidmsg, &r->capidmsg, msgno);
		return 0;
	}
	if (!r->uids_not_msgnos && !uid_is_msgno(msgno, uid, uidlen))
		r->uids_not_msgnos = 1;
	r->nuids++;
	rc = uidstore_get(r->us, uid, uidlen, &rec);
	if (rc == US_ERR) {
		result_fail(r->res, FAIL_LOCAL, "%s", uidstore_error(r->us));
		return -1;
	}
	prc = plan_line(&r->pl, msgno, uid, uidlen, size_of(r->ls, msgno),
	    rc == US_OK ? &rec : NULL);
	if (prc == PLAN_SEEN)
		return 0;
	log_sanitize(show, sizeof show, uid, uidlen);
	switch (prc) {
	case PLAN_TOOBIG:
		if (r->retry_pass || r->relisted)
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
need_cb(void *ctx, uint32_t msgno, const char *uid, size_t uidlen)
{
	struct run *r = ctx;

	if (uidlen <= UID_MAXLEN && plan_needed(&r->pl, msgno))
		plan_need_job(&r->pl, msgno, uid, uidlen,
		    size_of(r->ls, msgno));
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
		job_old(r, j, dg.ident);
	} else if (memchr(j->uid, '\0', j->uidlen) == NULL) {
		log_info("message %u: UID %s was seen before with another "
		    "identity (TOP): the server reused it; fetching it in a "
		    "new session", j->msgno, show);
		retry_later(r, j);
	}
	return 0;
}

void
job_old(struct run *r, struct job *j, const unsigned char *hdr)
{
	size_t i = (size_t)(j - r->pl.jobs);

	j->state = J_OLD;
	if (r->nolds == r->capolds) {
		r->capolds = r->capolds ? r->capolds * 2 : 16;
		r->olds = xreallocarray(r->olds, r->capolds, sizeof *r->olds);
	}
	if (r->nolds > 0 && r->olds[r->nolds - 1].job >= i)
		r->olds_sorted = 0;
	r->olds[r->nolds].job = i;
	r->olds[r->nolds].seq = r->nolds;
	memcpy(r->olds[r->nolds++].hdr, hdr, DIGEST_LEN);
}

void
retry_later(struct run *r, struct job *j)
{
	j->state = J_RETRY;
	r->need_retry = 1;
	r->retry = xreallocarray(r->retry, r->nretry + 1, sizeof *r->retry);
	r->retry[r->nretry++] = xstrndup(j->uid, j->uidlen);
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

/* --fetch-limit: at most so many messages a run, oldest (lowest number)
 * first; the rest wait for the next run. */
static void
limit_fetches(struct run *r)
{
	size_t i, n = 0, later = 0;

	for (i = 0; i < r->pl.njobs && r->a->fetch_limit > 0 &&
	    r->ro->mode == MODE_FETCH; i++) {
		if (r->pl.jobs[i].state != J_PENDING)
			continue;
		if (n++ < r->a->fetch_limit)
			continue;
		r->pl.jobs[i].state = J_SKIPPED;
		later++;
	}
	if (later > 0)
		log_info("--fetch-limit %u: %zu message%s left for the next "
		    "run", r->a->fetch_limit, later, later == 1 ? "" : "s");
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

/* Records by identity, for finding a message again under a new key. */
struct byident {
	unsigned char	 hdr[DIGEST_LEN];
	char		*uid;
	size_t		 len;
};

struct identindex {
	struct byident	*v;
	size_t		 n, cap;
	int		 built;
};

static int
index_cb(void *ctx, const void *uid, size_t len, const struct uidrec *rec)
{
	struct identindex *ix = ctx;

	if (rec->ncopies == 0 || (rec->flags & UIDREC_TOOBIG))
		return 0;
	if (ix->n == ix->cap) {
		ix->cap = ix->cap ? ix->cap * 2 : 256;
		ix->v = xreallocarray(ix->v, ix->cap, sizeof *ix->v);
	}
	memcpy(ix->v[ix->n].hdr, rec->hdr, DIGEST_LEN);
	ix->v[ix->n].uid = xmemdup(uid, len);
	ix->v[ix->n++].len = len;
	return 0;
}

static int
cmp_byident(const void *a, const void *b)
{
	return memcmp(((const struct byident *)a)->hdr,
	    ((const struct byident *)b)->hdr, DIGEST_LEN);
}

static void
index_free(struct identindex *ix)
{
	while (ix->n > 0)
		free(ix->v[--ix->n].uid);
	free(ix->v);
	memset(ix, 0, sizeof *ix);
}

/* The store's records by identity, read once per run. */
static int
index_build(struct run *r, struct identindex *ix)
{
	size_t none;

	if (ix->built)
		return 0;
	ix->built = 1;
	if (uidstore_walk(r->us, index_cb, ix, &none) != US_OK) {
		result_fail(r->res, FAIL_LOCAL, "%s", uidstore_error(r->us));
		return -1;
	}
	sort_inplace(ix->v, ix->n, sizeof *ix->v, cmp_byident);
	return 0;
}

/*
 * A message whose key the store does not know, but whose identity it
 * does (under another UID, or a UID before a migration): its record is
 * copied to the new key. 1 when re-keyed, 0 when not known, -1 on a store
 * error (reported).
 */
static int
rekey(struct run *r, struct identindex *ix, const unsigned char ident[DIGEST_LEN],
    const char *key, size_t keylen, uint32_t msgno)
{
	struct byident k, *f;
	struct uidrec rec;
	char show[128], was[128];

	if (index_build(r, ix) == -1)
		return -1;
	memcpy(k.hdr, ident, DIGEST_LEN);
	if (ix->n == 0 || (f = bsearch(&k, ix->v, ix->n, sizeof *ix->v,
	    cmp_byident)) == NULL)
		return 0;
	if (uidstore_get(r->us, f->uid, f->len, &rec) != US_OK)
		return 0;
	if (uidstore_begin(r->us) != US_OK ||
	    uidstore_put(r->us, key, keylen, &rec) != US_OK ||
	    uidstore_commit(r->us) != US_OK) {
		uidstore_abort(r->us);
		result_fail(r->res, FAIL_LOCAL, "%s", uidstore_error(r->us));
		return -1;
	}
	/* Store keys are server UIDs: not NUL-terminated, and hostile. */
	log_info("message %u is %s, delivered before as %s: recorded under "
	    "its new key", msgno, log_sanitize(show, sizeof show, key,
	    keylen), log_sanitize(was, sizeof was, f->uid, f->len));
	return 1;
}

static int
sink_ident(void *ctx, const char *buf, size_t len)
{
	digest_feed(ctx, buf, len);
	return 0;
}

/*
 * TOP n 0 for each of msgnos, pipelined, into idents. 1 when the server
 * has no TOP, 0, or -1 when the session failed (reported).
 */
static int
top_all(struct run *r, const uint32_t *msgnos, size_t n,
    unsigned char (*idents)[DIGEST_LEN])
{
	struct digests dg;
	enum pop3_rc rc;
	uint64_t octets;
	size_t sent = 0, i;

	for (i = 0; i < n; i++) {
		if (send_window(r, pop3_send_top, msgnos, n, &sent) == -1)
			return -1;
		digest_start(r->dg, 0);
		rc = pop3_read_top(r->s.p, msgnos[i], (uint64_t)16 << 20,
		    sink_ident, r->dg, &octets);
		if (rc == POP3_NEG && i == 0) {
			/* No TOP: what was sent after it is read and
			 * dropped. */
			while (++i < sent)
				pop3_read_top(r->s.p, msgnos[i], 1, sink_ident,
				    r->dg, &octets);
			return pop3_state(r->s.p) == POP3_CLOSED ? -1 : 1;
		}
		if (rc != POP3_OK && rc != POP3_NEG && rc != POP3_TOOBIG) {
			session_fail(&r->s, r->res, rc, 0);
			return -1;
		}
		digest_end(r->dg, &dg);
		memcpy(idents[i], dg.ident, DIGEST_LEN);
	}
	return 0;
}

/*
 * Gives the messages in r->idmsg keys from their header blocks and puts
 * them in the plan; without TOP, they are left for RETR (r->blind).
 */
static int
identify(struct run *r, struct identindex *ix)
{
	unsigned char (*idents)[DIGEST_LEN];
	struct uidrec rec;
	enum us_rc urc;
	size_t i;
	int rc;

	if (r->nidmsg == 0)
		return 0;
	idents = xreallocarray(NULL, r->nidmsg, DIGEST_LEN);
	rc = top_all(r, r->idmsg, r->nidmsg, idents);
	if (rc != 0) {
		free(idents);
		if (rc == -1)
			return -1;
		r->blind = 1;
		if (!r->retry_pass)
			log_warnx("the server offers neither usable UIDs nor "
			    "TOP: every such message is downloaded on every "
			    "run to tell whether it is new (%zu now); --delete "
			    "avoids that", r->nidmsg);
		for (i = 0; i < r->nidmsg; i++)
			plan_blind_job(&r->pl, r->idmsg[i]);
		return 0;
	}
	r->idkeys = xreallocarray(NULL, r->nidmsg, sizeof *r->idkeys);
	for (i = 0; i < r->nidmsg; i++) {
		struct idkey *k = &r->idkeys[r->nidkeys++];

		k->msgno = r->idmsg[i];
		digest_key(idents[i], k->key);
		urc = uidstore_get(r->us, k->key, IDKEY_LEN, &rec);
		if (urc == US_ERR) {
			result_fail(r->res, FAIL_LOCAL, "%s",
			    uidstore_error(r->us));
			free(idents);
			return -1;
		}
		if (urc == US_NOTFOUND) {
			if ((rc = rekey(r, ix, idents[i], k->key, IDKEY_LEN,
			    k->msgno)) == -1) {
				free(idents);
				return -1;
			}
			if (rc == 1)
				urc = uidstore_get(r->us, k->key, IDKEY_LEN,
				    &rec);
		}
		if (plan_line(&r->pl, k->msgno, k->key, IDKEY_LEN,
		    size_of(r->ls, k->msgno), urc == US_OK ? &rec : NULL) ==
		    PLAN_NEW)
			log_debug("message %u is new: %s", k->msgno, k->key);
	}
	free(idents);
	return 0;
}

/*
 * UIDs that were all reset (a migration renumbered them): most listed
 * UIDs unknown, none of the recorded ones listed, on a maildrop of some
 * size. The unknown ones are compared with TOP n 0 against the records'
 * identities and re-keyed where found: not downloaded again.
 */
static int
find_renumbered(struct run *r, struct identindex *ix, int force)
{
	unsigned char (*idents)[DIGEST_LEN];
	uint32_t *msgnos;
	size_t i, n = 0, seen = r->nuids > r->pl.njobs ? r->nuids -
	    r->pl.njobs : 0;
	int rc = 0;

	if (r->pl.all || r->retry_pass || r->pl.njobs == 0 ||
	    (!force && (seen > 0 || r->pl.njobs < 10 ||
	    r->pl.njobs * 2 < r->nuids)))
		return 0;
	/* Nothing recorded (a first run): nothing to find again, and no
	 * reason for a TOP per message. */
	if (index_build(r, ix) == -1)
		return -1;
	if (ix->n == 0)
		return 0;
	msgnos = xreallocarray(NULL, r->pl.njobs, sizeof *msgnos);
	for (i = 0; i < r->pl.njobs; i++)
		if (r->pl.jobs[i].uidlen > 0)
			msgnos[n++] = r->pl.jobs[i].msgno;
	idents = xreallocarray(NULL, n + 1, DIGEST_LEN);
	if (!force)
		log_info("none of the %zu UIDs listed is known: looking for "
		    "renumbered messages", r->nuids);
	rc = top_all(r, msgnos, n, idents);
	for (i = 0; rc == 0 && i < n; i++) {
		struct job *j = &r->pl.jobs[i];

		rc = rekey(r, ix, idents[i], j->uid, j->uidlen, j->msgno);
		if (rc == 1) {
			job_old(r, j, idents[i]);
			rc = 0;
		}
	}
	free(idents);
	free(msgnos);
	return rc == -1 ? -1 : 0;
}

/* The account's identity scheme: kept in the store, changed with a log
 * line. */
static int
set_scheme(struct run *r, int by_header, const char *why)
{
	if (uidstore_begin(r->us) != US_OK ||
	    uidstore_meta_put(r->us, "scheme", by_header ? "header" : "uidl")
	    != US_OK || uidstore_commit(r->us) != US_OK) {
		uidstore_abort(r->us);
		result_fail(r->res, FAIL_LOCAL, "%s", uidstore_error(r->us));
		return -1;
	}
	log_warnx("%s", why);
	return 0;
}

static int
need_keys(struct run *r)
{
	size_t i;

	for (i = 0; i < r->nidkeys; i++)
		if (plan_needed(&r->pl, r->idkeys[i].msgno))
			plan_need_job(&r->pl, r->idkeys[i].msgno,
			    r->idkeys[i].key, IDKEY_LEN,
			    size_of(r->ls, r->idkeys[i].msgno));
	return 0;
}

/*
 * UIDL into the plan (with the LIST sizes read so far), through one store
 * cursor; *covered: the lookups found every record (uidstore_scan_covered).
 * -1 when the store failed (reported); else *rc is UIDL's.
 */
static int
read_uidl(struct run *r, enum pop3_rc *rc, size_t *bad, int *covered)
{
	if (uidstore_scan_begin(r->us) != US_OK) {
		result_fail(r->res, FAIL_LOCAL, "%s", uidstore_error(r->us));
		return -1;
	}
	*rc = pop3_uidl(r->s.p, uidl_cb, r, bad);
	*covered = *rc == POP3_OK && uidstore_scan_covered(r->us);
	uidstore_scan_end(r->us);
	return 0;
}

static void
uidl_failed(struct run *r, enum pop3_rc rc)
{
	/* A failing callback has reported itself already. */
	if (rc != POP3_SINK)
		session_fail(&r->s, r->res, rc, 0);
}

/*
 * LIST only when a size is needed (issue 12): not when every message
 * listed was seen before, under a usable UID, and the sizes recorded for
 * them add up to STAT's total, so that none can have changed but by
 * changes that cancel out exactly (a UID reused for a message of another
 * size, C0040, shows in the total). New messages need their sizes (limits,
 * the pipelining window, --max-size); header digests need LIST's numbers.
 */
static int
sizes_unneeded(const struct run *r, int no_uidl, int was_header,
    uint64_t count, uint64_t size)
{
	return !no_uidl && !was_header && !r->by_header && !r->retry_pass &&
	    r->nidmsg == 0 && r->pl.njobs == 0 && r->pl.unsized == 0 &&
	    r->pl.nents == count && r->pl.rec_sizes == size &&
	    !(r->nuids >= 2 && !r->uids_not_msgnos);
}

int
listing_read(struct run *r)
{
	struct identindex ix = { 0 };
	struct lsizes ls = { 0 };
	uint64_t count, size;
	enum pop3_rc rc;
	size_t bad = 0, lbad = 0, i;
	int no_uidl = 0, ret = -1, was_header, covered;
	char scheme[16];

	if ((rc = pop3_listing_ahead(r->s.p)) != POP3_OK ||
	    (rc = pop3_stat(r->s.p, &count, &size)) != POP3_OK) {
		session_fail(&r->s, r->res, rc, 0);
		return -1;
	}
	r->res->messages = (unsigned long)count;
	r->res->listed = 1;
	r->nolds = 0;
	r->olds_sorted = 1;
	was_header = uidstore_meta_get(r->us, "scheme", scheme,
	    sizeof scheme) == US_OK && strcmp(scheme, "header") == 0;
	r->by_header = 0;
	r->blind = 0;
	r->nidmsg = 0;
	free(r->idkeys);
	r->idkeys = NULL;
	r->nidkeys = 0;
	r->nuids = 0;
	r->uids_not_msgnos = 0;
	r->store_covered = 0;
	r->relisted = 0;
	/* UIDL first, planned without sizes (LIST is read only when a size
	 * is needed, below). */
	r->ls = &ls;
	if (read_uidl(r, &rc, &bad, &covered) == -1)
		goto out;
	if (rc == POP3_NEG)
		no_uidl = 1;
	else if (rc != POP3_OK) {
		uidl_failed(r, rc);
		goto out;
	}
	if (sizes_unneeded(r, no_uidl, was_header, count, size))
		log_debug("every message listed was seen, and the sizes "
		    "recorded add up to STAT's: no LIST");
	else {
		/* A failing LIST costs nothing but the hints. */
		rc = pop3_list(r->s.p, list_keep_cb, &ls, &lbad);
		if (rc != POP3_OK && rc != POP3_NEG) {
			session_fail(&r->s, r->res, rc, 0);
			goto out;
		}
		/* A server that lists out of order only costs a sort. */
		if (ls.sparse)
			sort_inplace(ls.v, ls.n, sizeof *ls.v, cmp_lsize);
		if (!no_uidl && plan_sized_sum(&r->pl, size_cb, &ls) !=
		    r->pl.rec_sizes) {
			/* Some seen message has a new size: a UID the server
			 * may have reused (C0040). Planned again with sizes,
			 * to know which. */
			log_debug("sizes changed since they were recorded: "
			    "UIDL again, with the LIST sizes");
			plan_free(&r->pl);
			plan_setup(&r->pl, r->a);
			r->nidmsg = 0;
			r->nuids = 0;
			r->uids_not_msgnos = 0;
			r->relisted = 1;
			bad = 0;
			if (read_uidl(r, &rc, &bad, &covered) == -1)
				goto out;
			if (rc != POP3_OK) {
				uidl_failed(r, rc);
				goto out;
			}
		}
	}
	if (bad > 0 && !r->retry_pass) {
		log_warnx("%zu unreadable lines in the UIDL listing; those "
		    "messages are left on the server", bad);
		r->res->failed += bad;
		result_worsen(r->res, FAIL_MESSAGE);
	}
	r->listing_ok = bad == 0;
	if (no_uidl) {
		/* Every message, by its header block. */
		r->nidmsg = 0;
		if (ls.n > 0)
			for (i = 0; i < ls.n; i++)
				push_u32(&r->idmsg, &r->nidmsg, &r->capidmsg,
				    listed_msgno(&ls, i));
		else
			for (i = 1; i <= count && i <= 2000000; i++)
				push_u32(&r->idmsg, &r->nidmsg, &r->capidmsg,
				    (uint32_t)i);
		if (!was_header && r->nidmsg > 0 && !r->retry_pass &&
		    set_scheme(r, 1, "the server does not support UIDL: "
		    "messages are identified by their header blocks") == -1)
			goto out;
	} else if (r->nuids >= 2 && !r->uids_not_msgnos) {
		/* UIDs that are message numbers name another message as
		 * soon as one is deleted: new mail would look seen. */
		if (!was_header && !r->retry_pass && set_scheme(r, 1, "the "
		    "server's UIDs are message numbers, which another client's "
		    "deletions reuse for new mail: messages are identified by "
		    "their header blocks from now on") == -1)
			goto out;
		r->nidmsg = 0;
		for (i = 0; i < r->pl.nents; i++)
			push_u32(&r->idmsg, &r->nidmsg, &r->capidmsg,
			    r->pl.ents[i].msgno);
		plan_free(&r->pl);
		plan_setup(&r->pl, r->a);
		r->nuids = 0;
	} else if (was_header && r->nuids > 0 && !r->retry_pass) {
		if (set_scheme(r, 0, "the server's UIDs are usable again: "
		    "messages are identified by UID from now on") == -1 ||
		    find_renumbered(r, &ix, 1) == -1)
			goto out;
	} else {
		if (find_renumbered(r, &ix, 0) == -1)
			goto out;
		r->store_covered = covered;
	}
	if (identify(r, &ix) == -1)
		goto out;
	plan_listed(&r->pl);
	plan_group(&r->pl);
	if (r->pl.nneed > 0) {
		need_keys(r);
		if (!no_uidl && r->nuids > 0) {
			rc = pop3_uidl(r->s.p, need_cb, r, &bad);
			if (rc != POP3_OK) {
				session_fail(&r->s, r->res, rc, 0);
				goto out;
			}
		}
	}
	plan_finish(&r->pl);
	/* Jobs planned before LIST was read, and blind ones, have no sizes
	 * in the plan yet. */
	for (i = 0; i < r->pl.njobs; i++)
		if (r->pl.jobs[i].size_hint == 0)
			r->pl.jobs[i].size_hint = size_of(&ls,
			    r->pl.jobs[i].msgno);
	if (r->blind)
		r->listing_ok = 0;	/* keys unknown: nothing forgotten */
	if (r->retry_pass)
		only_retries(r);
	for (i = 0; i < r->pl.njobs; i++)
		if (r->pl.jobs[i].verify &&
		    verify_reuse(r, &r->pl.jobs[i]) == -1)
			goto out;
	skip_oversized(r);
	limit_fetches(r);
	ret = 0;
out:
	index_free(&ix);
	r->ls = NULL;
	free(ls.v);
	free(ls.dense);
	return ret;
}
