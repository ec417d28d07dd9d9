/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan.h"
#include "util.h"
#include "xmalloc.h"

/* A UID listed more often than this is one group as far as counting goes;
 * the flags above it in plan_entry.ncopies stay clear. */
#define COPIES_MAX	0x0fffffffu

void
plan_init(struct plan *pl, int all, int delete, uint64_t max_size)
{
	memset(pl, 0, sizeof *pl);
	pl->all = all;
	pl->delete = delete;
	pl->max_size = max_size;
}

#define ARENA_CHUNK	65536

struct uidarena {
	struct uidarena	*next;
	size_t		 used, size;
	char		 data[];
};

char *
plan_keep_uid(struct plan *pl, const char *uid, size_t len)
{
	struct uidarena *a = pl->arena;
	char *p;

	if (a == NULL || a->size - a->used < len + 1) {
		size_t size = len + 1 > ARENA_CHUNK ? len + 1 : ARENA_CHUNK;

		a = xmalloc(sizeof *a + size);
		a->next = pl->arena;
		a->used = 0;
		a->size = size;
		pl->arena = a;
	}
	p = a->data + a->used;
	memcpy(p, uid, len);
	p[len] = '\0';
	a->used += len + 1;
	return p;
}

void
plan_free(struct plan *pl)
{
	struct uidarena *a, *next;

	for (a = pl->arena; a != NULL; a = next) {
		next = a->next;
		free(a);
	}
	free(pl->jobs);
	free(pl->ents);
	free(pl->dele);
	free(pl->need);
	free(pl->suspect);
	memset(pl, 0, sizeof *pl);
}

uint64_t
plan_uid_hash(const void *uid, size_t n)
{
	/* FNV-1a: a collision only makes two UIDs look like duplicates,
	 * which is handled safely by comparing contents. */
	const unsigned char *p = uid;
	uint64_t h = 0xcbf29ce484222325ULL;

	while (n--) {
		h ^= *p++;
		h *= 0x100000001b3ULL;
	}
	return h;
}

static int cmp_hash(const void *, const void *);

static int
pe_less(const struct plan_entry *a, const struct plan_entry *b)
{
	return a->hash < b->hash || (a->hash == b->hash && a->msgno < b->msgno);
}

static void
swap_pe(struct plan_entry *a, struct plan_entry *b)
{
	struct plan_entry t = *a;

	*a = *b;
	*b = t;
}

/*
 * The listing's entries by hash: the one sort of every run that listing
 * order never helps (hashes are random). sort_inplace through a function
 * pointer took a sixth of a nothing-new run's instructions; this is a
 * quicksort with the comparison inlined, median of three, insertion sort
 * for short runs, and sort_inplace (a heap sort) past a depth of 2 log n,
 * so no input makes it quadratic. No memory beyond the stack.
 */
static void
sort_entries(struct plan_entry *v, size_t n, unsigned depth)
{
	struct plan_entry p, t;
	size_t i, j, m;

	while (n > 16) {
		if (depth-- == 0) {
			sort_inplace(v, n, sizeof *v, cmp_hash);
			return;
		}
		m = (n - 1) / 2;
		if (pe_less(&v[m], &v[0]))
			swap_pe(&v[m], &v[0]);
		if (pe_less(&v[n - 1], &v[m])) {
			swap_pe(&v[m], &v[n - 1]);
			if (pe_less(&v[m], &v[0]))
				swap_pe(&v[m], &v[0]);
		}
		/* Hoare's partition around the median's value: [0, j] and
		 * [j + 1, n), neither empty. */
		p = v[m];
		i = 0;
		j = n - 1;
		for (;;) {
			while (pe_less(&v[i], &p))
				i++;
			while (pe_less(&p, &v[j]))
				j--;
			if (i >= j)
				break;
			swap_pe(&v[i], &v[j]);
			i++;
			j--;
		}
		/* The smaller part by recursion, the larger by the loop. */
		if (j + 1 < n - j - 1) {
			sort_entries(v, j + 1, depth);
			v += j + 1;
			n -= j + 1;
		} else {
			sort_entries(v + j + 1, n - j - 1, depth);
			n = j + 1;
		}
	}
	for (i = 1; i < n; i++) {
		t = v[i];
		for (j = i; j > 0 && pe_less(&t, &v[j - 1]); j--)
			v[j] = v[j - 1];
		v[j] = t;
	}
}

static struct job *
add_job(struct plan *pl, uint32_t msgno, const char *uid, size_t uidlen)
{
	struct job *j;

	if (pl->njobs == pl->capjobs) {
		pl->capjobs = pl->capjobs ? pl->capjobs * 2 : 64;
		pl->jobs = xreallocarray(pl->jobs, pl->capjobs,
		    sizeof *pl->jobs);
	}
	j = &pl->jobs[pl->njobs++];
	memset(j, 0, sizeof *j);
	j->msgno = msgno;
	j->uid = plan_keep_uid(pl, uid, uidlen);
	j->uidlen = (uint32_t)uidlen;
	j->copies = 1;
	return j;
}

static int
cmp_hash(const void *a, const void *b)
{
	const struct plan_entry *x = a, *y = b;

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

/* qsort and bsearch want a valid pointer even for zero elements. */
static void
sort(void *base, size_t n, size_t sz, int (*cmp)(const void *, const void *))
{
	sort_inplace(base, n, sz, cmp);
}

static void *
search(const void *key, const void *base, size_t n, size_t sz,
    int (*cmp)(const void *, const void *))
{
	return n > 0 ? bsearch(key, base, n, sz, cmp) : NULL;
}

static struct job *
find_job(struct plan *pl, uint32_t msgno)
{
	struct job key = { .msgno = msgno };

	return search(&key, pl->jobs, pl->njobs, sizeof *pl->jobs, cmp_job);
}

/* The first entry not before (hash, msgno), entries sorted by both. */
static size_t
lower_bound(const struct plan *pl, uint64_t hash, uint32_t msgno)
{
	size_t lo = 0, hi = pl->nents, mid;
	const struct plan_entry *e;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		e = &pl->ents[mid];
		if (e->hash < hash || (e->hash == hash && e->msgno < msgno))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static uint64_t
clamp_size(uint64_t size)
{
	return size > PLAN_SIZE_MAX ? PLAN_SIZE_MAX : size;
}

enum plan_line
plan_line(struct plan *pl, uint32_t msgno, const char *uid, size_t uidlen,
    uint64_t list_size, const struct uidrec *rec)
{
	struct plan_entry *e;
	struct job *j;

	if (pl->nents == pl->capents) {
		pl->capents = pl->capents ? pl->capents * 2 : 256;
		pl->ents = xreallocarray(pl->ents, pl->capents,
		    sizeof *pl->ents);
	}
	e = &pl->ents[pl->nents++];
	memset(e, 0, sizeof *e);
	e->hash = plan_uid_hash(uid, uidlen);
	e->msgno = msgno;
	/* Abandoned before as too big for the same limit: left alone (a
	 * larger --max-size tries again). */
	if (rec != NULL && (rec->flags & UIDREC_TOOBIG) && !pl->all &&
	    pl->max_size != 0 && pl->max_size <= rec->size)
		return PLAN_TOOBIG;
	/* ncopies 0: a duplicate group some copy of which was never
	 * handled; it is not seen until its contents are compared again. */
	if (rec != NULL && rec->ncopies > 0) {
		e->ncopies = rec->ncopies > COPIES_MAX ? COPIES_MAX :
		    rec->ncopies;
		if (rec->list_size != 0 && list_size != 0 &&
		    clamp_size(rec->list_size) != clamp_size(list_size))
			e->ncopies |= PE_SUSPECT;
		if (rec->list_size != 0) {
			e->ncopies |= PE_SIZED;
			pl->rec_sizes += clamp_size(rec->list_size);
		} else
			pl->unsized++;
		if (rec->ncopies > 1 || rec->ndig > 1)
			e->ncopies |= PE_KNOWN_DUP;
		if (pl->expire_before != 0 && rec->first_seen > 0 &&
		    rec->first_seen < pl->expire_before)
			e->ncopies |= PE_EXPIRED;
		if (!pl->all)
			return PLAN_SEEN;
	}
	j = add_job(pl, msgno, uid, uidlen);
	j->size_hint = clamp_size(list_size);
	/* Some content of this UID was delivered: compare before delivering. */
	j->dup = rec != NULL && rec->ndig > 0 && !pl->all;
	return PLAN_NEW;
}

void
plan_listed(struct plan *pl)
{
	sort(pl->jobs, pl->njobs, sizeof *pl->jobs, cmp_job);
}

/*
 * Groups the listing by UID (DESIGN.md invariant 7). A UID listed more
 * often than it was ever handled, or listed several times with --delete,
 * has all its copies fetched and compared by content: identical copies are
 * delivered once, different ones each, and only copies whose content is
 * delivered are deleted.
 */
void
plan_group(struct plan *pl)
{
	size_t i, k, g, cap_need = 0, cap_suspect = 0;
	struct plan_entry *e;
	struct job *j;

	{
		unsigned depth = 0;

		for (i = pl->nents; i > 1; i >>= 1)
			depth += 2;
		sort_entries(pl->ents, pl->nents, depth);
	}
	for (i = 0; i < pl->nents; i = g) {
		for (g = i + 1; g < pl->nents &&
		    pl->ents[g].hash == pl->ents[i].hash; g++)
			;
		if (g - i == 1) {
			e = &pl->ents[i];
			if (e->ncopies == 0 || pl->all)
				continue;
			if (e->ncopies & PE_SUSPECT) {
				push_u32(&pl->suspect, &pl->nsuspect,
				    &cap_suspect, e->msgno);
				push_u32(&pl->need, &pl->nneed, &cap_need,
				    e->msgno);
			} else if (!pl->delete && (!(e->ncopies & PE_EXPIRED) ||
			    (e->ncopies & PE_KNOWN_DUP)))
				continue;
			else if (e->ncopies & PE_KNOWN_DUP)
				push_u32(&pl->need, &pl->nneed, &cap_need,
				    e->msgno);
			else
				push_u32(&pl->dele, &pl->ndele, &pl->capdele,
				    e->msgno);
			continue;
		}
		for (k = i; k < g; k++) {
			e = &pl->ents[k];
			if (e->ncopies == 0 || pl->all) {
				if ((j = find_job(pl, e->msgno)) != NULL) {
					j->dup = !pl->all;
					j->copies = g - i > COPIES_MAX ?
					    COPIES_MAX : (uint32_t)(g - i);
				}
			} else if (g - i > PE_COPIES(e) || pl->delete)
				push_u32(&pl->need, &pl->nneed, &cap_need,
				    e->msgno);
		}
	}
	sort(pl->need, pl->nneed, sizeof *pl->need, cmp_u32);
	sort(pl->suspect, pl->nsuspect, sizeof *pl->suspect, cmp_u32);
	pl->first_need = pl->njobs;
}

uint64_t
plan_sized_sum(const struct plan *pl,
    uint64_t (*size)(const void *, uint32_t), const void *ctx)
{
	uint64_t sum = 0;
	size_t i;

	for (i = 0; i < pl->nents; i++)
		if (pl->ents[i].ncopies & PE_SIZED)
			sum += clamp_size(size(ctx, pl->ents[i].msgno));
	return sum;
}

int
plan_needed(const struct plan *pl, uint32_t msgno)
{
	return search(&msgno, pl->need, pl->nneed, sizeof *pl->need, cmp_u32)
	    != NULL;
}

struct job *
plan_need_job(struct plan *pl, uint32_t msgno, const char *uid,
    size_t uidlen, uint64_t list_size)
{
	uint64_t hash = plan_uid_hash(uid, uidlen);
	struct job *j = add_job(pl, msgno, uid, uidlen);
	size_t first, end;

	j->dup = 1;
	j->verify = search(&msgno, pl->suspect, pl->nsuspect,
	    sizeof *pl->suspect, cmp_u32) != NULL;
	/* Binary searches, not a walk of the group: one UID may be listed
	 * millions of times. */
	j->size_hint = clamp_size(list_size);
	first = lower_bound(pl, hash, 0);
	end = hash == UINT64_MAX ? pl->nents : lower_bound(pl, hash + 1, 0);
	j->copies = end - first > COPIES_MAX ? COPIES_MAX :
	    (uint32_t)(end - first);
	return j;
}

struct job *
plan_blind_job(struct plan *pl, uint32_t msgno)
{
	char name[32];
	struct job *j;

	snprintf(name, sizeof name, "message-%u", msgno);
	j = add_job(pl, msgno, name, strlen(name));
	j->blind = 1;
	j->dup = 1;
	return j;
}

void
plan_finish(struct plan *pl)
{
	sort(pl->jobs, pl->njobs, sizeof *pl->jobs, cmp_job);
}

int
plan_listed_uid(const struct plan *pl, const void *uid, size_t len)
{
	uint64_t hash = plan_uid_hash(uid, len);
	size_t i = lower_bound(pl, hash, 0);

	return i < pl->nents && pl->ents[i].hash == hash;
}

static int
cmp_job_uid(const void *a, const void *b)
{
	const struct job *x = *(const struct job *const *)a;
	const struct job *y = *(const struct job *const *)b;
	int c;

	if (x->uidlen != y->uidlen)
		return x->uidlen < y->uidlen ? -1 : 1;
	c = memcmp(x->uid, y->uid, x->uidlen);
	if (c != 0)
		return c;
	return x->msgno < y->msgno ? -1 : x->msgno > y->msgno;
}

static int
same_uid(const struct job *x, const struct job *y)
{
	return x->uidlen == y->uidlen && memcmp(x->uid, y->uid, x->uidlen) == 0;
}

int
plan_groups_done(struct plan *pl, int (*fn)(void *, const struct job *,
    uint32_t), void *ctx)
{
	struct job **by_uid;
	const struct job *done;
	size_t i, g;
	int ok, rc = 0;

	if (pl->njobs == 0)
		return 0;
	by_uid = xreallocarray(NULL, pl->njobs, sizeof *by_uid);
	for (i = 0; i < pl->njobs; i++)
		by_uid[i] = &pl->jobs[i];
	sort(by_uid, pl->njobs, sizeof *by_uid, cmp_job_uid);
	for (i = 0; i < pl->njobs && rc == 0; i = g) {
		ok = 1;
		done = NULL;
		for (g = i; g < pl->njobs && same_uid(by_uid[g], by_uid[i]);
		    g++) {
			if (by_uid[g]->state == J_FAILED ||
			    by_uid[g]->state == J_PENDING)
				ok = 0;
			else if (by_uid[g]->dup && done == NULL)
				done = by_uid[g];
		}
		if (ok && done != NULL)
			rc = fn(ctx, done, done->copies);
	}
	free(by_uid);
	return rc;
}
