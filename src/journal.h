/* SPDX-License-Identifier: ISC */
/*
 * The journal of the delivery batch in flight (DESIGN.md invariant 2): one
 * blob in the UID store that says which delivery method holds which
 * messages in which phase, so that the next run can finish or roll back
 * what a killed run left.
 *
 * Layout (little-endian): u32 phase, str method, u32 n + n bytes of the
 * method's own data, u32 count, then per message: u32 uidlen, the UID,
 * the content digest, u64 octets, u32 copies (0 for a duplicate UID),
 * u64 LIST size, the header digest. str is u32 n + n bytes.
 *
 * journal_decode is pure and checks everything (a fuzz target feeds it);
 * journal_recover does the I/O.
 */
#ifndef POPFETCH_JOURNAL_H
#define POPFETCH_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include "deliver.h"
#include "plan.h"
#include "result.h"
#include "uidstore.h"

#define JOURNAL_MAX_ENTRIES	1000000

struct journal_entry {
	const unsigned char	*uid;
	uint32_t		 uidlen;
	const unsigned char	*digest;	/* DIGEST_LEN bytes */
	uint64_t		 octets;
	uint32_t		 copies;
	uint64_t		 list_size;
	const unsigned char	*hdr;		/* DIGEST_LEN bytes */
};

/* Points into the decoded blob, but for method and entries (allocated). */
struct journal {
	uint32_t		 phase;
	char			*method;
	const unsigned char	*mdata;
	uint32_t		 mlen;
	uint32_t		 n;
	struct journal_entry	*entries;
};

/* The journal of jobs[from, to) that were delivered, in phase; sums[k]
 * is what fetching made of jobs[from + k]. */
void journal_encode(struct buf *, int phase, const char *method,
    const struct buf *mdata, const struct job *jobs,
    const struct job_sum *sums, size_t from, size_t to);
/* 0, or -1 for a blob that is damaged anywhere. */
int journal_decode(const void *blob, size_t len, struct journal *);
void journal_free(struct journal *);

/*
 * Finishes or rolls back what a killed run left in the store at dir, and
 * records what it finished. 0 (also when there was nothing to do), or -1
 * with the failure reported in res.
 */
int journal_recover(struct uidstore *, const char *state_dir, int timeout_ms,
    struct result *);

#endif
