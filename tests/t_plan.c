/* SPDX-License-Identifier: ISC */
/*
 * Unit tests of plan.c, the pure planner: a listing (UIDL lines, LIST
 * sizes) and the store's records in, jobs and deletions out. Each case is
 * a table row: the listing as "msgno uid [size]" lines, the store's
 * records, the options, and the expected jobs (with dup, copies, verify),
 * deletions and UIDs still listed. Clause ids refer to ../shared/seeds.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan.h"
#include "unit.h"
#include "util.h"

struct rec {
	const char	*uid;
	uint32_t	 ncopies;
	unsigned	 ndig;
	uint64_t	 list_size;
	unsigned	 flags;
	uint64_t	 size;
};

struct tcase {
	const char	*name;
	const char	*listing;	/* "msgno uid size" lines, ';'-separated */
	struct rec	 recs[4];
	int		 all, delete;
	uint64_t	 max_size;
	const char	*jobs;	/* "msgno:dup:copies:verify" ... sorted */
	const char	*dele;	/* "msgno ..." */
	const char	*toobig;
};

static const struct rec *
find_rec(const struct tcase *t, const char *uid)
{
	size_t i;

	for (i = 0; i < 4 && t->recs[i].uid != NULL; i++)
		if (strcmp(t->recs[i].uid, uid) == 0)
			return &t->recs[i];
	return NULL;
}

static void
to_uidrec(const struct rec *r, struct uidrec *u)
{
	memset(u, 0, sizeof *u);
	u->ncopies = r->ncopies;
	u->ndig = r->ndig;
	u->list_size = r->list_size;
	u->flags = r->flags;
	u->size = r->size;
}

/* Runs the planner over t's listing, as listing.c does with a server. */
static void
run_case(const struct tcase *t)
{
	struct plan pl;
	struct uidrec u;
	char lines[1024], *line, *save, uid[64], got[1024], toobig[256];
	unsigned msgno;
	unsigned long long size;
	const struct rec *r;
	size_t i, o;
	int n;

	plan_init(&pl, t->all, t->delete, t->max_size);
	snprintf(lines, sizeof lines, "%s", t->listing);
	toobig[0] = '\0';
	/* UIDL pass. */
	for (line = strtok_r(lines, ";", &save); line != NULL;
	    line = strtok_r(NULL, ";", &save)) {
		n = sscanf(line, "%u %63s %llu", &msgno, uid, &size);
		if (n < 2)
			continue;
		if (n < 3)
			size = 0;	/* not in the LIST listing */
		r = find_rec(t, uid);
		if (r != NULL)
			to_uidrec(r, &u);
		if (plan_line(&pl, msgno, uid, strlen(uid), size,
		    r ? &u : NULL) == PLAN_TOOBIG)
			snprintf(toobig + strlen(toobig), sizeof toobig -
			    strlen(toobig), "%s%u", toobig[0] ? " " : "",
			    msgno);
	}
	plan_listed(&pl);
	plan_group(&pl);
	/* Second UIDL pass. */
	snprintf(lines, sizeof lines, "%s", t->listing);
	for (line = strtok_r(lines, ";", &save); line != NULL;
	    line = strtok_r(NULL, ";", &save))
		if ((n = sscanf(line, "%u %63s %llu", &msgno, uid, &size)) >= 2 &&
		    plan_needed(&pl, msgno))
			plan_need_job(&pl, msgno, uid, strlen(uid),
			    n == 3 ? size : 0);
	plan_finish(&pl);
	o = 0;
	got[0] = '\0';
	for (i = 0; i < pl.njobs && o < sizeof got; i++)
		o += (size_t)snprintf(got + o, sizeof got - o, "%s%u:%d:%u:%d",
		    i ? " " : "", pl.jobs[i].msgno, pl.jobs[i].dup,
		    pl.jobs[i].copies, pl.jobs[i].verify);
	CHECK(strcmp(got, t->jobs) == 0, "%s: jobs \"%s\", want \"%s\"",
	    t->name, got, t->jobs);
	o = 0;
	got[0] = '\0';
	for (i = 0; i < pl.ndele && o < sizeof got; i++)
		o += (size_t)snprintf(got + o, sizeof got - o, "%s%u",
		    i ? " " : "", pl.dele[i]);
	CHECK(strcmp(got, t->dele) == 0, "%s: dele \"%s\", want \"%s\"",
	    t->name, got, t->dele);
	CHECK(strcmp(toobig, t->toobig) == 0, "%s: toobig \"%s\", want "
	    "\"%s\"", t->name, toobig, t->toobig);
	plan_free(&pl);
}

#define NOREC	{ { NULL, 0, 0, 0, 0, 0 } }

static const struct tcase cases[] = {
	{ "all new", "1 a 10;2 b 20;3 c 30", NOREC, 0, 0, 0,
	    "1:0:1:0 2:0:1:0 3:0:1:0", "", "" },
	{ "seen, kept: nothing to do", "1 a 10;2 b 20",
	    { { "a", 1, 1, 10, 0, 10 } }, 0, 0, 0, "2:0:1:0", "", "" },
	{ "seen, --delete: deleted without fetching", "1 a 10;2 b 20",
	    { { "a", 1, 1, 10, 0, 10 } }, 0, 1, 0, "2:0:1:0", "1", "" },
	{ "seen, --all: fetched again, not compared", "1 a 10",
	    { { "a", 1, 1, 10, 0, 10 } }, 1, 0, 0, "1:0:1:0", "", "" },
	/* Invariant 7: new duplicates are all fetched and compared. */
	{ "new duplicate UID", "1 a 10;2 a 10;3 b 5", NOREC, 0, 0, 0,
	    "1:1:2:0 2:1:2:0 3:0:1:0", "", "" },
	{ "seen UID now listed twice: both compared", "1 a 10;2 a 12",
	    { { "a", 1, 1, 10, 0, 10 } }, 0, 0, 0, "1:1:2:0 2:1:2:0", "",
	    "" },
	{ "seen twice, listed twice, kept: nothing", "1 a 10;2 a 12",
	    { { "a", 2, 2, 10, 0, 10 } }, 0, 0, 0, "", "", "" },
	{ "seen twice, listed twice, --delete: each compared first",
	    "1 a 10;2 a 12", { { "a", 2, 2, 10, 0, 10 } }, 0, 1, 0,
	    "1:1:2:0 2:1:2:0", "", "" },
	{ "a known duplicate listed once, --delete: compared, not blindly "
	    "deleted", "1 a 10", { { "a", 2, 2, 10, 0, 10 } }, 0, 1, 0,
	    "1:1:1:0", "", "" },
	/* C0040: a seen UID with another size may be a reused UID. */
	{ "C0040: size changed: verified with TOP first", "1 a 99",
	    { { "a", 1, 1, 10, 0, 10 } }, 0, 0, 0, "1:1:1:1", "", "" },
	{ "size unknown at delivery: not a suspect", "1 a 99",
	    { { "a", 1, 1, 0, 0, 10 } }, 0, 0, 0, "", "", "" },
	{ "C0040: size changed, --delete: verified, not deleted blindly",
	    "1 a 99", { { "a", 1, 1, 10, 0, 10 } }, 0, 1, 0, "1:1:1:1", "",
	    "" },
	/* Counts that disagree between UIDL and LIST (C0028). */
	{ "a seen UID LIST does not name: not a suspect", "1 a",
	    { { "a", 1, 1, 10, 0, 10 } }, 0, 0, 0, "", "", "" },
	{ "sizes of 4 GiB and more compare equal (PLAN_SIZE_MAX)",
	    "1 a 5000000000", { { "a", 1, 1, 6000000000ULL, 0, 10 } }, 0, 0, 0,
	    "", "", "" },
	{ "a listing out of order: jobs in message order", "3 c 30;1 a 10;2 b 20",
	    NOREC, 0, 0, 0, "1:0:1:0 2:0:1:0 3:0:1:0", "", "" },
	{ "UIDL names a message LIST does not: no size hint", "1 a 10;7 ghost",
	    NOREC, 0, 0, 0, "1:0:1:0 7:0:1:0", "", "" },
	{ "a record never fully handled (ncopies 0) is fetched again",
	    "1 a 10", { { "a", 0, 1, 10, 0, 10 } }, 0, 0, 0, "1:1:1:0", "",
	    "" },
	{ "over --max-size before, same limit: left alone", "1 a 5000",
	    { { "a", 0, 0, 5000, UIDREC_TOOBIG, 1000 } }, 0, 0, 1000, "", "",
	    "1" },
	{ "over --max-size before, a larger limit: fetched", "1 a 5000",
	    { { "a", 0, 0, 5000, UIDREC_TOOBIG, 1000 } }, 0, 0, 9000,
	    "1:0:1:0", "", "" },
};

static void
test_cases(void)
{
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
		run_case(&cases[i]);
}

static int
groups_cb(void *ctx, const struct job *j, uint32_t copies)
{
	char *out = ctx;
	size_t o = strlen(out);

	snprintf(out + o, 256 - o, "%s%.*s=%u", o ? " " : "", (int)j->uidlen,
	    j->uid, copies);
	return 0;
}

/* Duplicate groups are recorded only when every copy was handled. */
static void
test_groups(void)
{
	struct plan pl;
	char out[256] = "";
	size_t i;

	plan_init(&pl, 0, 0, 0);
	plan_line(&pl, 1, "a", 1, 0, NULL);
	plan_line(&pl, 2, "a", 1, 0, NULL);
	plan_line(&pl, 3, "b", 1, 0, NULL);
	plan_line(&pl, 4, "b", 1, 0, NULL);
	plan_line(&pl, 5, "c", 1, 0, NULL);
	plan_listed(&pl);
	plan_group(&pl);
	plan_finish(&pl);
	for (i = 0; i < pl.njobs; i++)
		pl.jobs[i].state = J_DELIVERED;
	pl.jobs[1].state = J_SAME;	/* a's second copy was identical */
	pl.jobs[3].state = J_FAILED;	/* b's second copy failed */
	plan_groups_done(&pl, groups_cb, out);
	CHECK(strcmp(out, "a=2") == 0, "groups done: \"%s\"", out);
	CHECK(plan_listed_uid(&pl, "a", 1) && plan_listed_uid(&pl, "c", 1),
	    "listed UIDs are found");
	CHECK(!plan_listed_uid(&pl, "zz", 2), "an unlisted UID is not");
	plan_free(&pl);
}

/*
 * A million-line listing, all seen, and one UID listed two million times
 * (issue 8: O(n log n), not the quadratic walk of 0.1, which took forty
 * minutes of CPU). The test harness's time limit is the bound.
 */
static void
test_big(void)
{
	struct plan pl;
	struct uidrec u;
	char uid[32];
	uint32_t i;
	size_t bytes;
	int ok = 1;

	memset(&u, 0, sizeof u);
	u.ncopies = 1;
	u.ndig = 1;
	u.list_size = 100;
	plan_init(&pl, 0, 1, 0);
	for (i = 1; i <= 1000000; i++) {
		snprintf(uid, sizeof uid, "uid-%u", i);
		ok &= plan_line(&pl, i, uid, strlen(uid), 100, &u) ==
		    PLAN_SEEN;
	}
	plan_listed(&pl);
	plan_group(&pl);
	plan_finish(&pl);
	CHECK(ok, "1M lines: all seen");
	CHECK(pl.njobs == 0 && pl.ndele == 1000000 && pl.nneed == 0,
	    "1M lines, --delete: %zu jobs, %zu deletions", pl.njobs, pl.ndele);
	/* Issue 12: 16 bytes a listed message, and no copy of them while
	 * sorting (glibc's qsort mallocs one). */
	bytes = pl.capents * sizeof *pl.ents;
	CHECK(sizeof *pl.ents == 16 && bytes <= 1048576 * 16,
	    "1M lines: %zu bytes of entries, %zu each", bytes,
	    sizeof *pl.ents);
	CHECK(plan_listed_uid(&pl, "uid-777777", 10), "1M lines: lookup");
	/* And a new message's job: 24 bytes (104 before issue 12's million
	 * listing), its UID packed with others. */
	CHECK(sizeof(struct job) <= 24, "a job is %zu bytes",
	    sizeof(struct job));
	plan_free(&pl);

	/* One UID, two million times, seen once before: every copy is
	 * compared (invariant 7), and planning stays O(n log n). */
	plan_init(&pl, 0, 0, 0);
	for (i = 1; i <= 2000000; i++)
		plan_line(&pl, i, "same", 4, 100, &u);
	plan_listed(&pl);
	plan_group(&pl);
	for (i = 1; i <= 2000000; i++)
		if (plan_needed(&pl, i))
			plan_need_job(&pl, i, "same", 4, 100);
	plan_finish(&pl);
	CHECK(pl.njobs == 2000000 && pl.jobs[0].copies == 2000000 &&
	    pl.jobs[1999999].dup && pl.jobs[1999999].msgno == 2000000,
	    "2M copies of one UID: %zu jobs, copies %u", pl.njobs,
	    pl.njobs ? pl.jobs[0].copies : 0);
	plan_free(&pl);

	/* Copies far apart in a listing of 100,001 new messages: message i
	 * and message n + 1 - i share a UID when i is a multiple of 5; the
	 * hash sort (plan.c) must bring each pair together and no other. */
	{
		const uint32_t n = 100001;
		char u2[32];
		size_t pairs_ok = 0, singles_ok = 0, want_pairs = 0;
		uint32_t k, m;

		plan_init(&pl, 0, 0, 0);
		for (i = 1; i <= n; i++) {
			k = (uint32_t)i;
			m = n + 1 - k;
			if (k > m)
				k = m;
			if (k % 5 == 0)
				snprintf(u2, sizeof u2, "pair-%u", k);
			else
				snprintf(u2, sizeof u2, "one-%u", (unsigned)i);
			plan_line(&pl, (uint32_t)i, u2, strlen(u2), 100, NULL);
		}
		plan_listed(&pl);
		plan_group(&pl);
		plan_finish(&pl);
		for (i = 0; i < pl.njobs; i++) {
			const struct job *j = &pl.jobs[i];
			int paired = strncmp(j->uid, "pair-", 5) == 0;

			want_pairs += paired;
			if (paired && j->dup && j->copies == 2)
				pairs_ok++;
			else if (!paired && !j->dup)
				singles_ok++;
		}
		CHECK(pl.njobs == n && want_pairs == 20000 &&
		    pairs_ok == want_pairs && singles_ok == n - want_pairs,
		    "copies far apart in 100,001 messages: %zu of %zu paired "
		    "found, %zu of %zu single", pairs_ok, want_pairs,
		    singles_ok, (size_t)n - want_pairs);
		plan_free(&pl);
	}
}

static int
cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return x < y ? -1 : x > y;
}

struct wide {
	unsigned	key;
	char		pad[100];	/* swapped in pieces */
};

static int
cmp_wide(const void *a, const void *b)
{
	const struct wide *x = a, *y = b;

	return x->key < y->key ? -1 : x->key > y->key;
}

/* sort_inplace (util.c) against qsort: random, sorted, reversed, equal
 * keys, and elements wider than its swap buffer. */
static void
test_sort(void)
{
	static int a[5000], b[5000];
	static struct wide w[700];
	size_t i, n, k;
	int ok = 1;

	srand(12);
	for (k = 0; k < 4; k++) {
		for (n = 0; n <= 5000; n += n < 10 ? 1 : 997) {
			for (i = 0; i < n; i++)
				a[i] = k == 0 ? rand() % 50 : k == 1 ? (int)i :
				    k == 2 ? (int)(n - i) : 7;
			memcpy(b, a, n * sizeof *a);
			sort_inplace(a, n, sizeof *a, cmp_int);
			qsort(b, n, sizeof *b, cmp_int);
			ok &= memcmp(a, b, n * sizeof *a) == 0;
		}
	}
	CHECK(ok, "sort_inplace sorts as qsort does");
	for (i = 0; i < 700; i++) {
		w[i].key = (unsigned)rand() % 300;
		memset(w[i].pad, (int)(w[i].key & 0xff), sizeof w[i].pad);
	}
	sort_inplace(w, 700, sizeof *w, cmp_wide);
	for (ok = 1, i = 0; i < 700; i++) {
		ok &= i == 0 || w[i - 1].key <= w[i].key;
		ok &= (unsigned char)w[i].pad[99] == (w[i].key & 0xff);
	}
	CHECK(ok, "sort_inplace moves elements wider than its swap buffer "
	    "whole");
}

int
main(void)
{
	test_sort();
	test_cases();
	test_groups();
	test_big();
	printf("t_plan: %d passed, %d failed\n", unit_pass, unit_fail);
	return unit_fail != 0;
}
