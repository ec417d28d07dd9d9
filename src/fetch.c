#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "conn.h"
#include "deliver.h"
#include "fetch.h"
#include "log.h"
#include "net.h"
#include "pop3.h"
#include "pop3_parse.h"
#include "sasl.h"
#include "secret.h"
#include "uidstore.h"
#include "util.h"
#include "xmalloc.h"

#define SPOOL_HDR_SCAN	(64 * 1024)

/* One line of the server's listing: 16 bytes, kept for every message so
 * duplicates can be counted and the store pruned without keeping UIDs. */
struct entry {
	uint64_t	hash;
	uint32_t	msgno;
	uint32_t	ncopies;	/* from the store; 0 = never seen */
	uint64_t	stored_size;	/* LIST size recorded at delivery */
	uint64_t	cur_size;	/* LIST size now */
};
/* In entry.ncopies: the UID has had several copies or contents, so a copy
 * is only deleted after its content is compared. */
#define KNOWN_DUP	0x80000000u
/* In entry.ncopies: a seen UID whose LIST size changed; the server may
 * have reused the UID for a new message (C0040). */
#define SUSPECT		0x40000000u
#define COPIES(e)	((e)->ncopies & ~(KNOWN_DUP | SUSPECT))

enum job_state {
	J_PENDING,
	J_DELIVERED,	/* delivered in this run */
	J_SAME,		/* identical content already delivered: not again */
	J_FAILED,
	J_OLD,		/* a suspected reuse that turned out the same message */
};

struct job {
	uint32_t	 msgno;
	char		*uid;
	size_t		 uidlen;
	uint64_t	 size_hint;	/* LIST size: a hint (Exchange) */
	uint64_t	 octets;
	uint32_t	 copies;	/* copies of this UID in the listing */
	int		 dup;		/* spool and compare contents first */
	int		 verify;	/* compare headers (TOP n 0) first */
	enum job_state	 state;
	unsigned char	 digest[DIGEST_LEN];
	unsigned char	 hdr[DIGEST_LEN];
};

struct run {
	struct account		*a;
	struct fetch_result	*res;
	struct uidstore		*us;
	struct pop3		*p;
	struct deliver		 d;
	struct entry		*ents;
	size_t			 nents, capents;
	struct job		*jobs;
	size_t			 njobs, capjobs;
	uint32_t		*oldseen;	/* seen before: DELE them */
	size_t			 noldseen, capoldseen;
	uint32_t		*need;		/* msgnos whose UID we need */
	size_t			 nneed;
	uint32_t		*suspect;	/* of those, UID reuse suspects */
	size_t			 nsuspect;
	int			 listing_ok;
	int			 alive;		/* the connection is usable */
	int			 dele_sent;
	int			 rc_account;	/* account-level failure */
	int			 rc_msg;	/* message-level failure */
	int			 spoolfd;
	EVP_MD_CTX		*md;
	EVP_MD_CTX		*hmd;		/* header block digest */
	int			 hdr_done;
	char			 hdr_last;
	struct job		*cur;
	size_t			 batch_from;	/* the batch being fetched */
	size_t			 batch_to;
	char			*errstr;
	int			 tunnel_pid;	/* --tunnel's command, or 0 */
};

/*
 * Test-only: POPFETCH_CRASH_AT=point[:n] kills the process with SIGKILL the
 * n-th time (default first) it reaches that point, so the crash tests can
 * prove recovery at every step. Harmless when unset.
 */
static void
crashpoint(const char *point)
{
	static int hits;
	const char *want = getenv("POPFETCH_CRASH_AT"), *colon;
	size_t n;
	long nth = 1;

	if (want == NULL)
		return;
	colon = strchr(want, ':');
	n = colon ? (size_t)(colon - want) : strlen(want);
	if (strlen(point) != n || strncmp(want, point, n) != 0)
		return;
	if (colon != NULL)
		nth = strtol(colon + 1, NULL, 10);
	if (++hits == nth)
		kill(getpid(), SIGKILL);
}

static uint64_t
uid_hash(const char *p, size_t n)
{
	/* FNV-1a: a collision only makes two UIDs look like duplicates,
	 * which is handled safely by comparing contents. */
	uint64_t h = 0xcbf29ce484222325ULL;

	while (n--) {
		h ^= (unsigned char)*p++;
		h *= 0x100000001b3ULL;
	}
	return h;
}

static const char *
show_uid(char *buf, size_t sz, const char *uid, size_t len)
{
	return log_sanitize(buf, sz, uid, len);
}

static void
account_fail(struct run *r, int rc)
{
	if (r->rc_account == 0)
		r->rc_account = rc;
}

/* Maps a POP3 failure to an exit status and logs it. */
static void
pop3_fail(struct run *r, enum pop3_rc rc, int during_login)
{
	int ex;

	switch (rc) {
	case POP3_NET:
	case POP3_TIMEOUT:
		ex = EX_TEMPFAIL;
		break;
	case POP3_TLS:
		/* An alert (a client certificate wanted or refused) is not
		 * going to pass by retrying. */
		ex = EX_UNAVAILABLE;
		break;
	case POP3_NEG:
		switch (pop3_last_code(r->p)) {
		case CODE_SYS_TEMP:
		case CODE_IN_USE:
		case CODE_LOGIN_DELAY:
			ex = EX_TEMPFAIL;
			break;
		case CODE_SYS_PERM:
			ex = EX_UNAVAILABLE;
			break;
		case CODE_AUTH:
			ex = EX_NOPERM;
			break;
		default:
			ex = during_login ? EX_NOPERM : EX_PROTOCOL;
			break;
		}
		break;
	case POP3_USAGE:
		ex = during_login ? EX_CONFIG : EX_SOFTWARE;
		break;
	default:
		ex = EX_PROTOCOL;
		break;
	}
	log_warnx("%s", pop3_error(r->p));
	account_fail(r, ex);
	if (pop3_state(r->p) == POP3_CLOSED)
		r->alive = 0;
}

/* ---- recovery of an interrupted batch ---- */

static const struct deliver_ops *
ops_by_name(const char *name)
{
	static const struct deliver_ops *all[] = {
		&deliver_maildir_ops, &deliver_mbox_ops, &deliver_mda_ops,
		&deliver_stdout_ops,
	};
	size_t i;

	for (i = 0; i < sizeof all / sizeof all[0]; i++)
		if (strcmp(all[i]->name, name) == 0)
			return all[i];
	return NULL;
}

/* Merges one delivered content into the UID's record (inside a txn). */
static enum us_rc
record_seen(struct uidstore *us, const char *uid, size_t len,
    const unsigned char *digest, uint64_t size, uint32_t copies,
    uint64_t list_size, const unsigned char *hdr)
{
	struct uidrec rec;
	enum us_rc rc;
	unsigned i;

	rc = uidstore_get(us, uid, len, &rec);
	if (rc == US_ERR)
		return rc;
	if (rc == US_NOTFOUND) {
		memset(&rec, 0, sizeof rec);
		rec.first_seen = (int64_t)time(NULL);
	}
	rec.size = size;
	rec.flags &= ~UIDREC_TOOBIG;
	rec.list_size = list_size;
	memcpy(rec.hdr, hdr, DIGEST_LEN);
	if (copies > rec.ncopies)
		rec.ncopies = copies;
	for (i = 0; i < rec.ndig; i++)
		if (memcmp(rec.dig[i], digest, DIGEST_LEN) == 0)
			break;
	if (i == rec.ndig) {
		/* Past the cap the oldest content is forgotten: at worst it
		 * is delivered once more, never lost. */
		if (rec.ndig == UIDREC_MAXDIG) {
			memmove(rec.dig[0], rec.dig[1],
			    (UIDREC_MAXDIG - 1) * DIGEST_LEN);
			rec.ndig--;
		}
		memcpy(rec.dig[rec.ndig++], digest, DIGEST_LEN);
	}
	return uidstore_put(us, uid, len, &rec);
}

static void
journal_entries(struct buf *b, struct run *r, size_t from, size_t to)
{
	size_t i, n = 0;

	for (i = from; i < to; i++)
		if (r->jobs[i].state == J_DELIVERED)
			n++;
	buf_add_u32(b, (uint32_t)n);
	for (i = from; i < to; i++) {
		struct job *j = &r->jobs[i];

		if (j->state != J_DELIVERED)
			continue;
		buf_add_u32(b, (uint32_t)j->uidlen);
		buf_add(b, j->uid, j->uidlen);
		buf_add(b, j->digest, DIGEST_LEN);
		buf_add_u64(b, j->octets);
		buf_add_u32(b, j->dup ? 0 : 1);
		buf_add_u64(b, j->size_hint);
		buf_add(b, j->hdr, DIGEST_LEN);
	}
}

/* Finishes or rolls back what a killed run left; 0 or -1. */
static int
recover(struct run *r)
{
	const struct deliver_ops *ops;
	struct deliver d = { 0 };
	enum deliver_recovery res;
	const unsigned char *uid, *dig, *mdata, *hdr;
	struct bufrd rd;
	uint32_t phase, n, i, uidlen, copies, mlen;
	uint64_t size, list_size;
	char *method = NULL, *err = NULL;
	void *blob;
	size_t len;
	enum us_rc rc;

	rc = uidstore_journal_get(r->us, &blob, &len);
	if (rc == US_NOTFOUND)
		return 0;
	if (rc != US_OK) {
		log_warnx("%s", uidstore_error(r->us));
		return -1;
	}
	crashpoint("recovery");
	rd.p = blob;
	rd.left = len;
	if (bufrd_u32(&rd, &phase) == -1 || (method = bufrd_str(&rd)) == NULL ||
	    (ops = ops_by_name(method)) == NULL || bufrd_u32(&rd, &mlen) == -1 ||
	    bufrd_bytes(&rd, &mdata, mlen) == -1 || bufrd_u32(&rd, &n) == -1) {
		log_warnx("the journal of an interrupted run in %s is damaged; "
		    "move the directory aside to start afresh", r->a->state_dir);
		free(method);
		free(blob);
		return -1;
	}
	d.ops = ops;
	d.timeout_ms = r->a->timeout_ms;
	res = ops->recover(&d, (int)phase, mdata, mlen, &err);
	if (res == DELIVER_RECOVERY_FAILED) {
		log_warnx("cannot recover the interrupted run: %s", err);
		free(err);
		free(method);
		free(blob);
		return -1;
	}
	if (uidstore_begin(r->us) != US_OK)
		goto dberr;
	for (i = 0; res == DELIVER_FINISHED && i < n; i++) {
		if (bufrd_u32(&rd, &uidlen) == -1 ||
		    bufrd_bytes(&rd, &uid, uidlen) == -1 ||
		    bufrd_bytes(&rd, &dig, DIGEST_LEN) == -1 ||
		    bufrd_u64(&rd, &size) == -1 || bufrd_u32(&rd, &copies) == -1 ||
		    bufrd_u64(&rd, &list_size) == -1 ||
		    bufrd_bytes(&rd, &hdr, DIGEST_LEN) == -1)
			break;
		if (record_seen(r->us, (const char *)uid, uidlen, dig, size,
		    copies, list_size, hdr) != US_OK) {
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
	log_info("recovered an interrupted %s delivery: %s", method,
	    res == DELIVER_FINISHED ? "finished" : "rolled back");
	free(method);
	free(blob);
	return 0;
dberr:
	log_warnx("%s", uidstore_error(r->us));
	free(method);
	free(blob);
	return -1;
}

/* ---- listing ---- */

static int
uidl_cb(void *ctx, uint32_t msgno, const char *uid, size_t uidlen)
{
	struct run *r = ctx;
	struct uidrec rec;
	struct entry *e;
	struct job *j;
	enum us_rc rc;
	char show[128];

	if (uidlen > UID_MAXLEN) {
		log_warnx("message %u: UID of %zu bytes is longer than %d; "
		    "message left on the server", msgno, uidlen, UID_MAXLEN);
		r->res->failed++;
		r->rc_msg = EX_DATAERR;
		return 0;
	}
	if (r->nents == r->capents) {
		r->capents = r->capents ? r->capents * 2 : 256;
		r->ents = xreallocarray(r->ents, r->capents, sizeof *r->ents);
	}
	e = &r->ents[r->nents++];
	e->hash = uid_hash(uid, uidlen);
	e->msgno = msgno;
	e->ncopies = 0;
	e->stored_size = 0;
	e->cur_size = 0;
	rc = uidstore_get(r->us, uid, uidlen, &rec);
	if (rc == US_ERR) {
		log_warnx("%s", uidstore_error(r->us));
		return -1;
	}
	/* ncopies 0: a duplicate group some copy of which was never
	 * handled; it is not seen until its contents are compared again. */
	if (rc == US_OK && (rec.flags & UIDREC_TOOBIG) && !r->a->all &&
	    (r->a->max_size == 0 ? 0 : r->a->max_size <= rec.size)) {
		/* Abandoned before as too big for the same limit: said once,
		 * then left alone (a larger --max-size tries again). */
		log_info("message %u (UID %s) is over --max-size; left on the "
		    "server", msgno, show_uid(show, sizeof show, uid, uidlen));
		return 0;
	}
	if (rc == US_OK && rec.ncopies > 0) {
		e->ncopies = rec.ncopies;
		e->stored_size = rec.list_size;
		if (rec.ncopies > 1 || rec.ndig > 1)
			e->ncopies |= KNOWN_DUP;
		if (!r->a->all)
			return 0;
	}
	if (r->njobs == r->capjobs) {
		r->capjobs = r->capjobs ? r->capjobs * 2 : 64;
		r->jobs = xreallocarray(r->jobs, r->capjobs, sizeof *r->jobs);
	}
	j = &r->jobs[r->njobs++];
	memset(j, 0, sizeof *j);
	j->msgno = msgno;
	j->uid = xmemdup(uid, uidlen);
	j->uidlen = uidlen;
	j->copies = 1;
	/* Some content of this UID was delivered: compare before delivering. */
	j->dup = rc == US_OK && rec.ndig > 0 && !r->a->all;
	log_debug("message %u is new: UID %s", msgno,
	    show_uid(show, sizeof show, uid, uidlen));
	return 0;
}

static int
cmp_entry(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;

	if (x->hash != y->hash)
		return x->hash < y->hash ? -1 : 1;
	return x->msgno < y->msgno ? -1 : x->msgno > y->msgno;
}

static int
cmp_job(const void *a, const void *b)
{
	const struct job *x = a, *y = b;

	return x->msgno < y->msgno ? -1 : x->msgno > y->msgno;
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static struct job *
find_job(struct run *r, uint32_t msgno)
{
	struct job key = { .msgno = msgno };

	if (r->njobs == 0)
		return NULL;
	return bsearch(&key, r->jobs, r->njobs, sizeof *r->jobs, cmp_job);
}

/* Second UIDL pass: jobs for seen duplicate UIDs that need fetching. */
static int
need_cb(void *ctx, uint32_t msgno, const char *uid, size_t uidlen)
{
	struct run *r = ctx;
	struct entry key, *e;
	struct job *j;

	if (r->nneed == 0 || uidlen > UID_MAXLEN || bsearch(&msgno, r->need,
	    r->nneed, sizeof *r->need, cmp_u32) == NULL)
		return 0;
	if (r->njobs == r->capjobs) {
		r->capjobs = r->capjobs ? r->capjobs * 2 : 64;
		r->jobs = xreallocarray(r->jobs, r->capjobs, sizeof *r->jobs);
	}
	j = &r->jobs[r->njobs++];
	memset(j, 0, sizeof *j);
	j->msgno = msgno;
	j->uid = xmemdup(uid, uidlen);
	j->uidlen = uidlen;
	j->verify = r->nsuspect > 0 && bsearch(&msgno, r->suspect, r->nsuspect,
	    sizeof *r->suspect, cmp_u32) != NULL;
	key.hash = uid_hash(uid, uidlen);
	key.msgno = msgno;
	if ((e = bsearch(&key, r->ents, r->nents, sizeof *r->ents, cmp_entry))
	    != NULL)
		j->size_hint = e->cur_size;
	return 0;
}

static void
add_oldseen(struct run *r, uint32_t msgno)
{
	if (r->noldseen == r->capoldseen) {
		r->capoldseen = r->capoldseen ? r->capoldseen * 2 : 64;
		r->oldseen = xreallocarray(r->oldseen, r->capoldseen,
		    sizeof *r->oldseen);
	}
	r->oldseen[r->noldseen++] = msgno;
}

/*
 * Groups the listing by UID (DESIGN.md invariant 7). A UID listed more
 * often than it was ever handled, or listed several times with --delete,
 * has all its copies fetched and compared by content: identical copies are
 * delivered once, different ones each, and only copies whose content is
 * delivered are deleted.
 */
static int
plan(struct run *r)
{
	size_t i, k, g;
	size_t bad;
	enum pop3_rc rc;
	struct job *j;

	/* qsort and bsearch want a valid pointer even for zero elements. */
	if (r->nents > 0)
		qsort(r->ents, r->nents, sizeof *r->ents, cmp_entry);
	if (r->njobs > 0)
		qsort(r->jobs, r->njobs, sizeof *r->jobs, cmp_job);
	r->need = xreallocarray(NULL, r->nents + 1, sizeof *r->need);
	r->nneed = 0;
	r->suspect = xreallocarray(NULL, r->nents + 1, sizeof *r->suspect);
	r->nsuspect = 0;
	for (i = 0; i < r->nents; i = g) {
		for (g = i + 1; g < r->nents && r->ents[g].hash ==
		    r->ents[i].hash; g++)
			;
		if (g - i == 1) {
			if (r->ents[i].ncopies == 0 || r->a->all)
				continue;
			if (r->ents[i].ncopies & SUSPECT) {
				r->suspect[r->nsuspect++] = r->ents[i].msgno;
				r->need[r->nneed++] = r->ents[i].msgno;
			} else if (!r->a->delete)
				continue;
			else if (r->ents[i].ncopies & KNOWN_DUP)
				r->need[r->nneed++] = r->ents[i].msgno;
			else
				add_oldseen(r, r->ents[i].msgno);
			continue;
		}
		for (k = i; k < g; k++) {
			if (r->ents[k].ncopies == 0 || r->a->all) {
				if ((j = find_job(r, r->ents[k].msgno)) !=
				    NULL) {
					j->dup = !r->a->all;
					j->copies = (uint32_t)(g - i);
				}
			} else if (g - i > COPIES(&r->ents[k]) || r->a->delete)
				r->need[r->nneed++] = r->ents[k].msgno;
		}
	}
	if (r->nneed > 0) {
		size_t before = r->njobs;

		qsort(r->need, r->nneed, sizeof *r->need, cmp_u32);
		if (r->nsuspect > 0)
			qsort(r->suspect, r->nsuspect, sizeof *r->suspect,
			    cmp_u32);
		rc = pop3_uidl(r->p, need_cb, r, &bad);
		if (rc != POP3_OK) {
			pop3_fail(r, rc, 0);
			return -1;
		}
		for (k = before; k < r->njobs; k++) {
			uint64_t h;
			size_t lo;

			r->jobs[k].dup = 1;
			h = uid_hash(r->jobs[k].uid, r->jobs[k].uidlen);
			r->jobs[k].copies = 0;
			for (lo = 0; lo < r->nents; lo++)
				if (r->ents[lo].hash == h)
					r->jobs[k].copies++;
		}
		qsort(r->jobs, r->njobs, sizeof *r->jobs, cmp_job);
	}
	return 0;
}

static int
cmp_entry_msgno(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;

	return x->msgno < y->msgno ? -1 : x->msgno > y->msgno;
}

/* Sizes are hints (Exchange reports storage sizes), but a seen UID whose
 * size changed since its delivery is checked before it is called old. */
static int
list_cb(void *ctx, uint32_t msgno, uint64_t size)
{
	struct run *r = ctx;
	struct entry key = { .msgno = msgno }, *e;
	struct job *j = find_job(r, msgno);

	if (j != NULL)
		j->size_hint = size;
	if (r->nents == 0)
		return 0;
	e = bsearch(&key, r->ents, r->nents, sizeof *r->ents, cmp_entry_msgno);
	if (e != NULL)
		e->cur_size = size;
	if (e != NULL && e->ncopies != 0 && e->stored_size != 0 &&
	    e->stored_size != size)
		e->ncopies |= SUSPECT;
	return 0;
}

static void
hdr_reset(struct run *r)
{
	EVP_DigestInit_ex(r->hmd, EVP_sha256(), NULL);
	r->hdr_done = 0;
	r->hdr_last = '\n';
}

/* Digests the header block: everything before the first empty line. */
static void
hdr_feed(struct run *r, const char *buf, size_t len)
{
	size_t i;

	if (r->hdr_done)
		return;
	for (i = 0; i < len; i++) {
		if (buf[i] == '\n' && r->hdr_last == '\n') {
			r->hdr_done = 1;
			break;
		}
		r->hdr_last = buf[i];
	}
	EVP_DigestUpdate(r->hmd, buf, i);
}

static int
sink_hdr(void *ctx, const char *buf, size_t len)
{
	hdr_feed(ctx, buf, len);
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
	unsigned char dig[DIGEST_LEN];
	struct uidrec rec;
	enum pop3_rc rc;
	uint64_t n;
	unsigned dlen;
	char show[128];

	j->dup = 1;
	if (uidstore_get(r->us, j->uid, j->uidlen, &rec) != US_OK)
		return 0;
	hdr_reset(r);
	rc = pop3_retr(r->p, j->msgno, 0, r->a->max_size, sink_hdr, r, &n);
	if (rc == POP3_NEG)
		return 0;
	if (rc != POP3_OK) {
		pop3_fail(r, rc, 0);
		return -1;
	}
	EVP_DigestFinal_ex(r->hmd, dig, &dlen);
	if (memcmp(dig, rec.hdr, DIGEST_LEN) == 0)
		j->state = J_OLD;
	else
		log_info("message %u: UID %s was seen before with other "
		    "headers: the server reused it; fetching", j->msgno,
		    show_uid(show, sizeof show, j->uid, j->uidlen));
	return 0;
}

static int
listing(struct run *r)
{
	uint64_t count, size;
	enum pop3_rc rc;
	size_t bad = 0, i;

	if ((rc = pop3_stat(r->p, &count, &size)) != POP3_OK) {
		pop3_fail(r, rc, 0);
		return -1;
	}
	r->res->messages = (unsigned long)count;
	rc = pop3_uidl(r->p, uidl_cb, r, &bad);
	if (rc == POP3_NEG) {
		log_warnx("the server does not support UIDL (%s): popfetch "
		    "cannot tell new messages from old ones",
		    pop3_server_text(r->p));
		account_fail(r, EX_UNAVAILABLE);
		return -1;
	}
	if (rc != POP3_OK) {
		if (rc != POP3_SINK)
			pop3_fail(r, rc, 0);
		else
			account_fail(r, EX_IOERR);
		return -1;
	}
	if (bad > 0) {
		log_warnx("%zu unreadable lines in the UIDL listing; those "
		    "messages are left on the server", bad);
		r->rc_msg = EX_DATAERR;
		r->res->failed += bad;
	}
	r->listing_ok = bad == 0;
	if (r->nents > 0)
		qsort(r->ents, r->nents, sizeof *r->ents, cmp_entry_msgno);
	if (r->njobs > 0)
		qsort(r->jobs, r->njobs, sizeof *r->jobs, cmp_job);
	/* A failing LIST costs nothing but the hints. */
	if (r->nents > 0) {
		rc = pop3_list(r->p, list_cb, r, &bad);
		if (rc != POP3_OK && rc != POP3_NEG) {
			pop3_fail(r, rc, 0);
			return -1;
		}
	}
	if (plan(r) == -1)
		return -1;
	for (i = 0; i < r->njobs; i++) {
		if (r->jobs[i].verify && verify_reuse(r, &r->jobs[i]) == -1)
			return -1;
	}
	return 0;
}

/* ---- fetching ---- */

static int
sink_deliver(void *ctx, const char *buf, size_t len)
{
	struct run *r = ctx;

	EVP_DigestUpdate(r->md, buf, len);
	hdr_feed(r, buf, len);
	if (r->d.ops->write(&r->d, buf, len, &r->errstr) == -1)
		return -1;
	return 0;
}

static int
sink_spool(void *ctx, const char *buf, size_t len)
{
	struct run *r = ctx;

	EVP_DigestUpdate(r->md, buf, len);
	hdr_feed(r, buf, len);
	if (write_all(r->spoolfd, buf, len) == -1) {
		free(r->errstr);
		r->errstr = xasprintf("spool file in %s: %s", r->a->state_dir,
		    strerror(errno));
		return -1;
	}
	return 0;
}

static int
open_spool(struct run *r)
{
	char *path;

	if (r->spoolfd != -1)
		return 0;
	r->spoolfd = open(r->a->state_dir, O_TMPFILE | O_RDWR | O_CLOEXEC,
	    0600);
	if (r->spoolfd != -1)
		return 0;
	path = xasprintf("%s/spool.XXXXXX", r->a->state_dir);
	r->spoolfd = mkstemp(path);
	if (r->spoolfd != -1)
		unlink(path);
	free(path);
	if (r->spoolfd == -1) {
		log_warn("cannot create a spool file in %s", r->a->state_dir);
		return -1;
	}
	return 0;
}

/* The Return-Path of a spooled message, for the MDA's %F. */
static char *
spool_sender(int fd)
{
	char buf[SPOOL_HDR_SCAN + 1], *p, *end, *lt, *gt;
	ssize_t n;

	n = pread(fd, buf, SPOOL_HDR_SCAN, 0);
	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	for (p = buf; p < buf + n; p = end + 1) {
		end = memchr(p, '\n', (size_t)(buf + n - p));
		if (end == NULL || end == p)
			break;
		if (strncasecmp(p, "Return-Path:", 12) != 0)
			continue;
		*end = '\0';
		lt = strchr(p, '<');
		gt = lt ? strchr(lt, '>') : NULL;
		if (lt != NULL && gt != NULL)
			return xstrndup(lt + 1, (size_t)(gt - lt - 1));
		return NULL;
	}
	return NULL;
}

/*
 * Was this content of this UID delivered already? Earlier batches are
 * committed to the store, so only this batch's jobs need a look: the cost
 * per message stays independent of the size of the run.
 */
static int
content_known(struct run *r, const struct job *j)
{
	struct uidrec rec;
	size_t i;
	unsigned k;

	for (i = r->batch_from; i < r->batch_to; i++) {
		const struct job *o = &r->jobs[i];

		if (o != j && (o->state == J_DELIVERED || o->state == J_SAME) &&
		    o->uidlen == j->uidlen &&
		    memcmp(o->uid, j->uid, j->uidlen) == 0 &&
		    memcmp(o->digest, j->digest, DIGEST_LEN) == 0)
			return 1;
	}
	if (uidstore_get(r->us, j->uid, j->uidlen, &rec) != US_OK)
		return 0;
	for (k = 0; k < rec.ndig; k++)
		if (memcmp(rec.dig[k], j->digest, DIGEST_LEN) == 0)
			return 1;
	return 0;
}

static int
replay_spool(struct run *r, const struct msg_meta *meta)
{
	char buf[64 * 1024];
	ssize_t n;
	off_t off = 0;

	if (r->d.ops->begin(&r->d, meta, &r->errstr) == -1)
		return -1;
	while ((n = pread(r->spoolfd, buf, sizeof buf, off)) > 0) {
		off += n;
		if (r->d.ops->write(&r->d, buf, (size_t)n, &r->errstr) == -1)
			goto fail;
	}
	if (n == -1) {
		r->errstr = xasprintf("reading the spool: %s", strerror(errno));
		goto fail;
	}
	if (r->d.ops->end(&r->d, &r->errstr) == -1)
		return -1;
	return 0;
fail:
	r->d.ops->abort(&r->d);
	return -1;
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

/* Fetches and delivers one message. Returns -1 when the account must stop. */
static int
fetch_one(struct run *r, struct job *j)
{
	struct msg_meta meta = { 0 };
	char show[128];
	unsigned dlen;
	enum pop3_rc rc;
	int spool = j->dup || !r->d.ops->stream, local_fatal;
	char *sender = NULL;

	show_uid(show, sizeof show, j->uid, j->uidlen);
	meta.msgno = j->msgno;
	meta.uid = show;
	meta.user = r->a->user;
	meta.server = r->a->server;
	EVP_DigestInit_ex(r->md, EVP_sha256(), NULL);
	hdr_reset(r);
	free(r->errstr);
	r->errstr = NULL;
	if (spool) {
		if (open_spool(r) == -1) {
			account_fail(r, EX_IOERR);
			return -1;
		}
		if (ftruncate(r->spoolfd, 0) == -1 ||
		    lseek(r->spoolfd, 0, SEEK_SET) == -1) {
			log_warn("spool file");
			account_fail(r, EX_IOERR);
			return -1;
		}
		rc = pop3_retr(r->p, j->msgno, -1, r->a->max_size, sink_spool,
		    r, &j->octets);
	} else {
		if (r->d.ops->begin(&r->d, &meta, &r->errstr) == -1) {
			log_warnx("message %u: %s", j->msgno, r->errstr);
			j->state = J_FAILED;
			account_fail(r, EX_IOERR);
			return -1;
		}
		rc = pop3_retr(r->p, j->msgno, -1, r->a->max_size,
		    sink_deliver, r, &j->octets);
	}
	crashpoint("retr");
	if (rc == POP3_OK) {
		EVP_DigestFinal_ex(r->md, j->digest, &dlen);
		EVP_DigestFinal_ex(r->hmd, j->hdr, &dlen);
		if (spool) {
			if (j->dup && content_known(r, j)) {
				log_info("message %u (UID %s) is an identical "
				    "copy of one already delivered", j->msgno,
				    show);
				j->state = J_SAME;
				return 0;
			}
			sender = spool_sender(r->spoolfd);
			meta.sender = sender;
			if (replay_spool(r, &meta) == -1)
				rc = POP3_SINK;
			free(sender);
		} else if (r->d.ops->end(&r->d, &r->errstr) == -1)
			rc = POP3_SINK;
		if (rc == POP3_OK) {
			crashpoint("written");
			j->state = J_DELIVERED;
			return 0;
		}
	} else if (!spool)
		r->d.ops->abort(&r->d);
	j->state = J_FAILED;
	r->res->failed++;
	switch (rc) {
	case POP3_NEG:
		log_warnx("message %u (UID %s): %s; left on the server",
		    j->msgno, show, pop3_error(r->p));
		r->rc_msg = EX_DATAERR;
		return 0;
	case POP3_TOOBIG:
		log_warnx("message %u (UID %s): larger than the limit of %llu "
		    "octets (--max-size); left on the server", j->msgno, show,
		    (unsigned long long)r->a->max_size);
		r->rc_msg = EX_DATAERR;
		remember_toobig(r, j);
		if (pop3_state(r->p) == POP3_CLOSED) {
			r->alive = 0;
			account_fail(r, EX_TEMPFAIL);
			return -1;
		}
		return 0;
	case POP3_SINK:
		log_warnx("message %u (UID %s): %s; left on the server",
		    j->msgno, show, r->errstr ? r->errstr : "delivery failed");
		/* A method that fails one message (an MDA's verdict) goes on;
		 * a full disk or broken mailbox stops the account. */
		local_fatal = r->d.ops->stream || (spool && r->errstr != NULL &&
		    strncmp(r->errstr, "spool", 5) == 0);
		if (r->d.tempfail) {
			r->rc_msg = EX_TEMPFAIL;
			return 0;
		}
		if (!local_fatal && r->d.ops != &deliver_stdout_ops) {
			r->rc_msg = EX_DATAERR;
			return 0;
		}
		account_fail(r, EX_IOERR);
		return -1;
	default:
		pop3_fail(r, rc, 0);
		return -1;
	}
}

static int
journal_commit(struct run *r, int phase, struct buf *mdata, size_t from,
    size_t to)
{
	struct buf b = { 0 };
	enum us_rc rc;

	buf_add_u32(&b, (uint32_t)phase);
	buf_add_str(&b, r->d.ops->name);
	buf_add_u32(&b, (uint32_t)mdata->len);
	buf_add(&b, mdata->data, mdata->len);
	journal_entries(&b, r, from, to);
	rc = uidstore_begin(r->us);
	if (rc == US_OK && (rc = uidstore_journal_put(r->us, b.data, b.len))
	    == US_OK)
		rc = uidstore_commit(r->us);
	else
		uidstore_abort(r->us);
	buf_free(&b);
	if (rc != US_OK) {
		log_warnx("%s", uidstore_error(r->us));
		account_fail(r, EX_IOERR);
		return -1;
	}
	return 0;
}

/* Delivers jobs [from, to) durably, records them, then deletes them. */
static int
run_batch(struct run *r, size_t from, size_t to)
{
	struct buf md = { 0 };
	size_t i, ndone = 0;
	int stop = 0;
	enum pop3_rc rc;

	r->batch_from = from;
	r->batch_to = to;
	if (r->d.ops->batch_begin(&r->d, &r->errstr) == -1) {
		log_warnx("%s", r->errstr);
		account_fail(r, EX_IOERR);
		return -1;
	}
	if (r->d.ops->pre_journal != NULL) {
		r->d.ops->pre_journal(&r->d, &md);
		if (journal_commit(r, DELIVER_PHASE_PRE, &md, from, from) == -1)
			goto abort;
		buf_free(&md);
	}
	for (i = from; i < to && !stop; i++)
		if (r->jobs[i].state == J_PENDING &&
		    fetch_one(r, &r->jobs[i]) == -1)
			stop = 1;
	/* What arrived completely before a failure is still made durable. */
	for (i = from; i < to; i++)
		if (r->jobs[i].state == J_DELIVERED)
			ndone++;
	if (ndone > 0 || r->d.ops->pre_journal != NULL) {
		if (r->d.ops->sync(&r->d, &r->errstr) == -1) {
			log_warnx("%s", r->errstr);
			account_fail(r, EX_IOERR);
			goto abort;
		}
		crashpoint("synced");
		if (r->d.ops->post_journal != NULL) {
			r->d.ops->post_journal(&r->d, &md);
			if (journal_commit(r, DELIVER_PHASE_POST, &md, from, to)
			    == -1)
				goto abort;
			buf_free(&md);
			crashpoint("journaled");
		}
		if (r->d.ops->publish(&r->d, &r->errstr) == -1) {
			/* The journal lets the next run finish this. */
			log_warnx("%s", r->errstr);
			account_fail(r, EX_IOERR);
			return -1;
		}
		crashpoint("published");
	}
	if (uidstore_begin(r->us) != US_OK)
		goto dberr;
	for (i = from; i < to; i++) {
		struct job *j = &r->jobs[i];

		if (j->state == J_OLD) {
			/* Remember the new size so the check is not repeated. */
			struct uidrec rec;

			if (uidstore_get(r->us, j->uid, j->uidlen, &rec) ==
			    US_OK) {
				rec.list_size = j->size_hint;
				uidstore_put(r->us, j->uid, j->uidlen, &rec);
			}
			continue;
		}
		if (j->state != J_DELIVERED && j->state != J_SAME)
			continue;
		if (record_seen(r->us, j->uid, j->uidlen, j->digest, j->octets,
		    j->dup ? 0 : 1, j->size_hint, j->hdr) != US_OK) {
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
	crashpoint("committed");
	for (i = from; i < to; i++) {
		if (r->jobs[i].state == J_DELIVERED) {
			r->res->fetched++;
			r->res->bytes += r->jobs[i].octets;
		}
	}
	/* Only now, with delivery and record durable, may mail go away. */
	for (i = from; i < to && r->a->delete && r->alive; i++) {
		struct job *j = &r->jobs[i];

		if (j->state != J_DELIVERED && j->state != J_SAME &&
		    j->state != J_OLD)
			continue;
		if ((rc = pop3_dele(r->p, j->msgno)) == POP3_OK) {
			r->dele_sent++;
			crashpoint("dele");
		} else if (rc == POP3_NEG) {
			log_warnx("message %u: %s", j->msgno,
			    pop3_error(r->p));
			r->rc_msg = EX_DATAERR;
		} else {
			pop3_fail(r, rc, 0);
			return -1;
		}
	}
	return stop ? -1 : 0;
dberr:
	log_warnx("%s", uidstore_error(r->us));
	account_fail(r, EX_IOERR);
	/* Not recorded: roll the delivery back where the method can. */
	return -1;
abort:
	buf_free(&md);
	r->d.ops->batch_abort(&r->d);
	return -1;
}

/* Duplicate groups all of whose copies were handled: remember how many,
 * so the same listing next time fetches nothing. */
static void
record_groups(struct run *r)
{
	struct uidrec rec;
	size_t i, k;
	int ok;

	if (uidstore_begin(r->us) != US_OK)
		return;
	for (i = 0; i < r->njobs; i++) {
		struct job *j = &r->jobs[i];

		if (!j->dup || j->state == J_FAILED || j->state == J_PENDING)
			continue;
		ok = 1;
		for (k = 0; k < r->njobs; k++) {
			struct job *o = &r->jobs[k];

			if (o->uidlen == j->uidlen && memcmp(o->uid, j->uid,
			    j->uidlen) == 0 && (o->state == J_FAILED ||
			    o->state == J_PENDING))
				ok = 0;
		}
		if (!ok || uidstore_get(r->us, j->uid, j->uidlen, &rec) !=
		    US_OK || rec.ncopies >= j->copies)
			continue;
		rec.ncopies = j->copies;
		if (uidstore_put(r->us, j->uid, j->uidlen, &rec) != US_OK)
			break;
	}
	if (uidstore_commit(r->us) != US_OK)
		log_warnx("%s", uidstore_error(r->us));
}

static int
prune_cb(void *ctx, const void *uid, size_t len, const struct uidrec *rec)
{
	struct run *r = ctx;
	struct entry key = { .hash = uid_hash(uid, len) };
	size_t lo = 0, hi = r->nents, mid;

	while (lo < hi) {
		mid = (lo + hi) / 2;
		if (r->ents[mid].hash < key.hash)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < r->nents && r->ents[lo].hash == key.hash ? 0 : 1;
}

static char *
get_password(struct run *r)
{
	struct account *a = r->a;
	char *pw = NULL, *err = NULL, *login = NULL, *prompt;

	if (a->password_fd >= 0)
		pw = secret_from_fd(a->password_fd, &err);
	else if (a->password_file != NULL)
		pw = secret_from_file(a->password_file, &err);
	else if (a->password_cmd != NULL)
		pw = secret_from_cmd(a->password_cmd, a->timeout_ms, &err);
	else {
		pw = secret_from_netrc(a->server, a->user, &login, &err);
		free(login);
		if (pw == NULL && err == NULL) {
			prompt = xasprintf("Password for %s: ", a->name);
			pw = secret_prompt(prompt, &err);
			free(prompt);
			if (pw == NULL && err == NULL)
				err = xasprintf("no password: use "
				    "--password-file, --password-fd, "
				    "--password-cmd or ~/.netrc, or run on a "
				    "terminal");
		}
	}
	if (pw == NULL) {
		log_warnx("%s", err);
		free(err);
	}
	return pw;
}

static struct tls_config
tls_config_of(const struct account *a)
{
	struct tls_config c = {
		.trust_file = a->tls_trust_file,
		.fingerprint = a->tls_fingerprint,
		.cert_file = a->tls_cert,
		.key_file = a->tls_key,
		.no_verify = a->server_info,
	};

	return c;
}

/* A TLS failure: nothing more is sent (no QUIT in the clear). */
static int
tls_fail(struct run *r, const char *msg)
{
	log_warnx("%s", msg);
	r->alive = 0;
	account_fail(r, EX_UNAVAILABLE);
	return -1;
}

/* Connects, secures and reads the capabilities, without logging in. */
static int
connect_secure(struct run *r)
{
	struct account *a = r->a;
	struct tls_config tc = tls_config_of(a);
	enum net_err ne;
	enum pop3_rc rc;
	char *err = NULL;
	struct conn *c;
	int fd;

	if (a->tunnel != NULL) {
		fd = net_tunnel(a->tunnel, &r->tunnel_pid, &err);
		ne = NET_CONNECT;
	} else
		fd = net_connect(a->server, a->port, a->timeout_ms, &ne, &err);
	if (fd == -1) {
		log_warnx("%s", err);
		free(err);
		account_fail(r, ne == NET_LOOKUP ? EX_NOHOST : EX_UNAVAILABLE);
		return -1;
	}
	c = conn_new(fd, a->timeout_ms);
	if (a->session_timeout_ms > 0)
		conn_set_deadline(c, now_ms() + a->session_timeout_ms);
	conn_set_trace(c, log_level() >= 2);
	r->p = pop3_new(c);
	r->alive = 1;
	if (a->tls == TLS_IMPLICIT && conn_starttls(c, a->server, &tc, &err)) {
		tls_fail(r, err);
		free(err);
		return -1;
	}
	if ((rc = pop3_greeting(r->p)) != POP3_OK) {
		pop3_fail(r, rc, 0);
		if (rc == POP3_NEG)
			r->rc_account = EX_UNAVAILABLE;
		return -1;
	}
	if ((rc = pop3_capa(r->p)) != POP3_OK) {
		pop3_fail(r, rc, 0);
		return -1;
	}
	if (a->server_info)
		printf("greeting: %s\ncapabilities%s:\n%s", pop3_greeting_text(
		    r->p), a->tls == TLS_IMPLICIT ? " (over TLS)" : "",
		    pop3_capa_text(r->p));
	if (a->tls != TLS_STARTTLS)
		return 0;
	/* RFC 2595: STLS only when offered; without it, or when it fails,
	 * nothing more goes out in the clear. */
	if (!(pop3_capa_bits(r->p) & CAPA_STLS)) {
		if (a->server_info)
			return 0;
		return tls_fail(r, "the server does not offer STLS and TLS is "
		    "required: use --tls=implicit (port 995) if it speaks TLS "
		    "from the start, or --no-tls to accept plaintext");
	}
	rc = pop3_stls(r->p, a->server, &tc);
	if (rc != POP3_OK) {
		char *msg = xasprintf("%s; TLS is required, so nothing more "
		    "is sent", pop3_error(r->p));

		tls_fail(r, msg);
		free(msg);
		return -1;
	}
	/* RFC 2595: forget what was said in the clear and ask again. */
	if ((rc = pop3_capa(r->p)) != POP3_OK) {
		pop3_fail(r, rc, 0);
		return -1;
	}
	if (a->server_info)
		printf("capabilities after STLS:\n%s", pop3_capa_text(r->p));
	return 0;
}

/* The methods to try, strongest first, that this server offers. */
static size_t
auth_candidates(struct run *r, const char **out, size_t max)
{
	static const char *order[] = {
		"SCRAM-SHA-256", "SCRAM-SHA-1", "CRAM-MD5", "APOP", "PLAIN",
		"LOGIN", "USER",
	};
	const char *list = pop3_sasl_list(r->p);
	char *ts;
	size_t i, n = 0, len;
	const char *p;

	if (r->a->auth != AUTH_AUTO) {
		out[n++] = r->a->auth;
		return n;
	}
	for (i = 0; i < sizeof order / sizeof order[0] && n < max; i++) {
		if (strcmp(order[i], "USER") == 0) {
			out[n++] = order[i];
			continue;
		}
		if (strcmp(order[i], "APOP") == 0) {
			ts = apop_timestamp(pop3_greeting_text(r->p),
			    strlen(pop3_greeting_text(r->p)));
			if (ts != NULL)
				out[n++] = order[i];
			free(ts);
			continue;
		}
		len = strlen(order[i]);
		for (p = list; (p = strcasestr(p, order[i])) != NULL; p += len)
			if ((p == list || p[-1] == ' ') &&
			    (p[len] == ' ' || p[len] == '\0')) {
				out[n++] = order[i];
				break;
			}
	}
	return n;
}

static enum pop3_rc
try_auth(struct run *r, const char *method, const char *pw)
{
	enum sasl_mech mech;
	struct sasl *s;
	enum pop3_rc rc;
	char *ts, *dig, *err = NULL;

	if (strcasecmp(method, "USER") == 0)
		return pop3_login_user(r->p, r->a->user, pw);
	if (strcasecmp(method, "APOP") == 0) {
		ts = apop_timestamp(pop3_greeting_text(r->p),
		    strlen(pop3_greeting_text(r->p)));
		if (ts == NULL) {
			log_warnx("APOP: the greeting has no timestamp");
			return POP3_NEG;
		}
		if ((dig = apop_digest(ts, pw)) == NULL) {
			free(ts);
			log_warnx("APOP: MD5 is not available");
			return POP3_NEG;
		}
		rc = pop3_apop(r->p, r->a->user, dig);
		free(ts);
		free(dig);
		return rc;
	}
	if (sasl_mech_parse(method, strlen(method), &mech) == -1) {
		log_warnx("unknown authentication method %s", method);
		return POP3_USAGE;
	}
	s = sasl_new(mech, r->a->user, pw, r->a->server, r->a->port, &err);
	if (s == NULL) {
		log_warnx("%s: %s", method, err);
		free(err);
		return POP3_USAGE;
	}
	rc = pop3_auth(r->p, s, mech);
	sasl_free(s);
	return rc;
}

static int
connect_login(struct run *r)
{
	const char *methods[8];
	enum pop3_rc rc = POP3_NEG;
	size_t n, i;
	char *pw;

	if (connect_secure(r) == -1)
		return -1;
	/* Asked for only now: a password never leaves its source for a
	 * connection that failed to be secured. */
	if ((pw = get_password(r)) == NULL) {
		account_fail(r, EX_CONFIG);
		return -1;
	}
	n = auth_candidates(r, methods, sizeof methods / sizeof methods[0]);
	for (i = 0; i < n; i++) {
		log_debug("trying authentication method %s", methods[i]);
		rc = try_auth(r, methods[i], pw);
		if (rc == POP3_OK || pop3_state(r->p) == POP3_CLOSED)
			break;
		/* Servers lie in CAPA: a refused mechanism falls back to the
		 * next, but a wrong password ([AUTH]) is not tried again. */
		if (rc != POP3_NEG || pop3_last_code(r->p) != CODE_NONE)
			break;
		if (i + 1 < n)
			log_info("%s; trying %s", pop3_error(r->p),
			    methods[i + 1]);
	}
	free_secret(pw);
	if (rc != POP3_OK) {
		pop3_fail(r, rc, 1);
		return -1;
	}
	/* RFC 2449: capabilities may change after login. */
	if ((rc = pop3_capa(r->p)) != POP3_OK) {
		pop3_fail(r, rc, 0);
		return -1;
	}
	return 0;
}

static void
run_free(struct run *r)
{
	size_t i;

	for (i = 0; i < r->njobs; i++)
		free(r->jobs[i].uid);
	free(r->jobs);
	free(r->ents);
	free(r->oldseen);
	free(r->need);
	free(r->errstr);
	if (r->spoolfd != -1)
		close(r->spoolfd);
	if (r->md != NULL)
		EVP_MD_CTX_free(r->md);
	if (r->hmd != NULL)
		EVP_MD_CTX_free(r->hmd);
	free(r->suspect);
	if (r->d.ops != NULL && r->d.priv != NULL)
		r->d.ops->close(&r->d);
	pop3_free(r->p);
	net_tunnel_reap(r->tunnel_pid, r->a->timeout_ms);
	uidstore_close(r->us);
}

static const struct deliver_ops *
ops_for(enum deliver_kind k)
{
	switch (k) {
	case DELIVER_MAILDIR:
		return &deliver_maildir_ops;
	case DELIVER_MBOX:
		return &deliver_mbox_ops;
	case DELIVER_MDA:
		return &deliver_mda_ops;
	case DELIVER_STDOUT:
		return &deliver_stdout_ops;
	default:
		return NULL;
	}
}

int
fetch_account(struct account *a, struct fetch_result *res)
{
	struct run r;
	enum us_rc urc;
	enum pop3_rc rc;
	char *err = NULL;
	size_t i, pruned;

	memset(&r, 0, sizeof r);
	memset(res, 0, sizeof *res);
	r.a = a;
	r.res = res;
	r.spoolfd = -1;
	log_set_account(a->name);
	/* The lock comes before anything touches the network. */
	urc = uidstore_open(a->state_dir, a->wait_lock, &r.us, &err);
	if (urc != US_OK) {
		log_warnx("%s", err);
		free(err);
		return urc == US_LOCKED ? EX_CANTCREAT : EX_IOERR;
	}
	if (recover(&r) == -1) {
		run_free(&r);
		return EX_IOERR;
	}
	r.d.ops = ops_for(a->check ? DELIVER_STDOUT : a->dkind);
	r.d.target = a->dtarget;
	r.d.timeout_ms = a->timeout_ms;
	if (!a->check && r.d.ops->open(&r.d, &err) == -1) {
		log_warnx("%s", err);
		free(err);
		run_free(&r);
		return EX_IOERR;
	}
	r.md = EVP_MD_CTX_new();
	r.hmd = EVP_MD_CTX_new();
	if (r.md == NULL || r.hmd == NULL)
		fatalx("EVP_MD_CTX_new failed");
	if (connect_login(&r) == -1 || listing(&r) == -1)
		goto quit;
	for (i = 0; i < r.njobs; i++)
		if (r.jobs[i].state == J_PENDING)
			res->fresh++;
	if (a->check)
		goto quit;
	/* Already delivered earlier (kept, or a DELE whose QUIT never came):
	 * durable and recorded, so they may go. */
	for (i = 0; i < r.noldseen && r.alive; i++) {
		if ((rc = pop3_dele(r.p, r.oldseen[i])) == POP3_OK)
			r.dele_sent++;
		else if (rc == POP3_NEG)
			r.rc_msg = EX_DATAERR;
		else {
			pop3_fail(&r, rc, 0);
			goto quit;
		}
	}
	log_info("%lu messages, %zu to fetch", res->messages, r.njobs);
	for (i = 0; i < r.njobs; i += a->batch) {
		size_t to = i + a->batch < r.njobs ? i + a->batch : r.njobs;

		if (run_batch(&r, i, to) == -1)
			break;
	}
	record_groups(&r);
quit:
	crashpoint("before-quit");
	if (r.p != NULL && r.alive && pop3_state(r.p) != POP3_CLOSED) {
		rc = pop3_quit(r.p);
		if (rc == POP3_OK && r.rc_account == 0 && r.listing_ok &&
		    !a->all && !a->check) {
			if (uidstore_walk(r.us, prune_cb, &r, &pruned) != US_OK)
				log_warnx("%s", uidstore_error(r.us));
			else if (pruned > 0)
				log_debug("forgot %zu UIDs no longer on the "
				    "server", pruned);
		}
		if (rc == POP3_OK)
			res->deleted = (unsigned long)r.dele_sent;
		else if (r.dele_sent > 0) {
			log_warnx("QUIT failed (%s): the %d deletions may not "
			    "have happened; the next --delete run retries",
			    pop3_error(r.p), r.dele_sent);
			account_fail(&r, EX_TEMPFAIL);
		}
	}
	run_free(&r);
	if (r.rc_account != 0)
		return r.rc_account;
	return r.rc_msg;
}

int
fetch_server_info(struct account *a)
{
	struct fetch_result res;
	struct run r;
	char *desc;

	memset(&r, 0, sizeof r);
	memset(&res, 0, sizeof res);
	r.a = a;
	r.res = &res;
	r.spoolfd = -1;
	log_set_account(a->name);
	if (connect_secure(&r) == 0) {
		desc = pop3_conn_describe(r.p);
		printf("%s", desc ? desc : "TLS: none\n");
		free(desc);
		if (r.alive)
			pop3_quit(r.p);
	}
	pop3_free(r.p);
	net_tunnel_reap(r.tunnel_pid, a->timeout_ms);
	return r.rc_account;
}

static int
list_cb_print(void *ctx, const void *uid, size_t len, const struct uidrec *rec)
{
	char show[UID_MAXLEN * 4 + 8];

	printf("%s\t%llu\t%lld\t%u\t%u\n", log_sanitize(show, sizeof show, uid,
	    len), (unsigned long long)rec->size, (long long)rec->first_seen,
	    rec->ndig, rec->ncopies);
	return 0;
}

int
fetch_list_seen(struct account *a)
{
	struct uidstore *us;
	char *err = NULL;
	size_t n;
	enum us_rc rc;

	log_set_account(a->name);
	rc = uidstore_open(a->state_dir, a->wait_lock, &us, &err);
	if (rc != US_OK) {
		log_warnx("%s", err);
		free(err);
		return rc == US_LOCKED ? EX_CANTCREAT : EX_IOERR;
	}
	rc = uidstore_walk(us, list_cb_print, NULL, &n);
	if (rc != US_OK)
		log_warnx("%s", uidstore_error(us));
	uidstore_close(us);
	return rc == US_OK ? 0 : EX_IOERR;
}
