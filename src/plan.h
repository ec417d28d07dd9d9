/* SPDX-License-Identifier: ISC */
/*
 * Planning a run, without I/O: the server's listing (LIST, then UIDL) and
 * the UID store's records go in; out come the jobs (messages to fetch, to
 * compare as duplicates, to verify with TOP n 0 first), the messages to
 * delete without fetching, and what the store may forget.
 *
 * Memory grows with the listing only by a 16-byte entry per message; UIDs
 * are kept only for jobs. Duplicate UIDs (DESIGN.md invariant 7) are
 * grouped by sorting in place, so a listing of n lines costs O(n log n)
 * whatever its duplicates, and no copy of it.
 *
 * The order of calls: plan_line for every UIDL line (with the message's
 * LIST size, read before), plan_listed, plan_group; then for each UIDL
 * line again whose message plan_needed says is needed, plan_need_job;
 * then plan_finish. Jobs are in message-number order after plan_listed
 * and after plan_finish.
 */
#ifndef POPFETCH_PLAN_H
#define POPFETCH_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "uidstore.h"

struct plan_entry {
	uint64_t	hash;		/* of the UID */
	uint32_t	msgno;
	uint32_t	ncopies;	/* from the store; 0: never seen */
};

/* LIST sizes are compared and kept up to this; larger ones are all the
 * same ("4 GiB or more"), which only a hostile server sends. */
#define PLAN_SIZE_MAX	UINT32_MAX
/* In plan_entry.ncopies: the UID has had several copies or contents, so a
 * copy is only deleted after its content is compared. */
#define PE_KNOWN_DUP	0x80000000u
/* A seen UID whose LIST size changed: the server may have reused the UID
 * for a new message (C0040). */
#define PE_SUSPECT	0x40000000u
/* Delivered longer ago than --delete-after: to be deleted. */
#define PE_EXPIRED	0x20000000u
/* Seen, and its record has a LIST size (one imported from another fetcher
 * may not). */
#define PE_SIZED	0x10000000u
#define PE_COPIES(e)	((e)->ncopies & ~(PE_KNOWN_DUP | PE_SUSPECT | \
			    PE_EXPIRED | PE_SIZED))

enum job_state {
	J_PENDING,
	J_DELIVERED,	/* delivered in this run */
	J_SAME,		/* identical content already delivered: not again */
	J_FAILED,
	J_OLD,		/* a suspected reuse that turned out the same message */
	J_SKIPPED,	/* left on the server on purpose (over --max-size) */
	J_RETRY,	/* arrived far shorter than listed: again, anew */
};

struct uidarena;

struct job {
	/* 24 bytes: a million new messages cost 24 MB here (issue 12). What
	 * only a message being fetched needs (its size as delivered, its
	 * digests) is in a struct job_sum, kept per batch (run.h). */
	char		*uid;
	uint32_t	 msgno;
	uint32_t	 size_hint;	/* LIST size, up to PLAN_SIZE_MAX: a hint
					   (Exchange) */
	uint32_t	 copies : 29;	/* copies of this UID in the listing,
					   up to COPIES_MAX */
	uint32_t	 state : 3;	/* enum job_state */
	uint16_t	 uidlen;	/* up to UID_MAXLEN */
	uint8_t		 dup : 1;	/* spool and compare contents first */
	uint8_t		 verify : 1;	/* compare headers (TOP n 0) first */
	uint8_t		 blind : 1;	/* no key yet: identified on arrival */
};

/* A fetched message: what its delivery made of it. */
struct job_sum {
	uint64_t	 octets;	/* delivered */
	unsigned char	 digest[DIGEST_LEN];
	unsigned char	 hdr[DIGEST_LEN];
};

struct plan {
	int			 all;		/* --all */
	int			 delete;	/* --delete */
	uint64_t		 max_size;	/* --max-size, 0: none */
	int64_t			 expire_before;	/* --delete-after: records
						   first seen before this
						   time(2) are deleted; 0 */
	struct plan_entry	*ents;
	size_t			 nents, capents;
	struct job		*jobs;
	size_t			 njobs, capjobs;
	uint32_t		*dele;		/* seen before: DELE them */
	size_t			 ndele, capdele;
	uint32_t		*need;		/* seen, but fetch and compare */
	size_t			 nneed;
	uint32_t		*suspect;	/* of those, verify with TOP */
	size_t			 nsuspect;
	size_t			 first_need;	/* jobs from plan_need_job */
	struct uidarena		*arena;		/* the jobs' UIDs */
	/* The recorded LIST sizes of the seen lines (PE_SIZED), added up,
	 * and how many seen lines have none. */
	uint64_t		 rec_sizes;
	size_t			 unsized;
};

enum plan_line {
	PLAN_NEW,		/* a job */
	PLAN_SEEN,		/* delivered before */
	PLAN_TOOBIG,		/* abandoned before over the same limit */
};

void plan_init(struct plan *, int all, int delete, uint64_t max_size);
void plan_free(struct plan *);
/* A copy of uid (NUL-terminated) that lives as long as the plan: the
 * jobs' UIDs are packed in chunks, not one allocation each. */
char *plan_keep_uid(struct plan *, const char *uid, size_t len);
uint64_t plan_uid_hash(const void *uid, size_t len);

/* One UIDL line with its LIST size (0: not listed) and the store's record
 * of its UID (NULL: none). Sizes are hints (Exchange reports storage
 * sizes), but a seen UID whose size changed since its delivery is checked
 * before it is called old (C0040). */
enum plan_line plan_line(struct plan *, uint32_t msgno, const char *uid,
    size_t uidlen, uint64_t list_size, const struct uidrec *);
void plan_listed(struct plan *);
/* Before plan_listed: the LIST sizes (size(ctx, msgno), clamped as
 * plan_line clamps) of the seen lines whose records have one, added up.
 * Equal to rec_sizes: no seen message changed its size (planned without
 * sizes, nothing is suspected). */
uint64_t plan_sized_sum(const struct plan *,
    uint64_t (*size)(const void *ctx, uint32_t msgno), const void *ctx);
/* Groups the listing by UID and decides what else to fetch or delete. */
void plan_group(struct plan *);
/* Is msgno one of the seen messages to fetch again (plan.need)? */
int plan_needed(const struct plan *, uint32_t msgno);
/* Its job, from the second UIDL pass. */
struct job *plan_need_job(struct plan *, uint32_t msgno, const char *uid,
    size_t uidlen, uint64_t list_size);
void plan_finish(struct plan *);
/* A message with no key at all (no UIDL, no TOP): a job that is given
 * its key when it arrives (digest_key), compared like a duplicate. */
struct job *plan_blind_job(struct plan *, uint32_t msgno);
/* Is a UID in the listing (a hash match may be a false yes: then a UID is
 * kept in the store a while longer, never forgotten too early)? */
int plan_listed_uid(const struct plan *, const void *uid, size_t len);
/*
 * Duplicate groups all of whose copies were handled in this run: calls fn
 * once per such UID with the number of copies listed, so the same listing
 * next time fetches nothing. fn returns 0 to go on, -1 to stop.
 */
int plan_groups_done(struct plan *, int (*fn)(void *, const struct job *,
    uint32_t copies), void *ctx);

#endif
