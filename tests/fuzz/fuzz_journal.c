/* SPDX-License-Identifier: ISC */
/*
 * Why: the journal comes back from the UID store after a crash, where a
 * bad disk or another version may have left any bytes, and recovery acts
 * on it (renames files, truncates an mbox, records UIDs as delivered).
 * journal_decode must refuse what it cannot represent rather than read
 * past the blob, and what it accepts must mean one thing: encoding the
 * decoded journal again gives the same bytes.
 *
 * Input: the bytes of one journal blob.
 * Links: journal.c deliver.c deliver_maildir.c deliver_mbox.c deliver_mda.c deliver_stdout.c mboxrd.c util.c xmalloc.c log.c crash.c uidstore.c result.c safepath.c
 * Libs: -ldb
 */
#include "config.h"

#include <string.h>

#include "journal.h"

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct journal j;
	struct job *jobs;
	struct job_sum *sums;
	struct buf b = { 0 }, md = { 0 };
	unsigned char *blob;
	uint32_t i;
	int canonical = 1;

	/* An exact copy, so that ASan sees a read past the blob. */
	blob = malloc(size > 0 ? size : 1);
	memcpy(blob, data, size);
	if (journal_decode(blob, size, &j) == -1) {
		free(blob);
		return 0;
	}
	FUZZ_ASSERT(j.n <= JOURNAL_MAX_ENTRIES);
	FUZZ_ASSERT(j.phase == DELIVER_PHASE_PRE ||
	    j.phase == DELIVER_PHASE_POST);
	jobs = calloc(j.n + 1, sizeof *jobs);
	sums = calloc(j.n + 1, sizeof *sums);
	for (i = 0; i < j.n; i++) {
		struct journal_entry *e = &j.entries[i];

		FUZZ_ASSERT(e->uid >= blob && e->uid + e->uidlen <= blob + size);
		FUZZ_ASSERT(e->hdr >= blob && e->hdr + DIGEST_LEN <= blob + size);
		FUZZ_ASSERT(e->uidlen <= UID_MAXLEN);
		jobs[i].uid = (char *)e->uid;
		jobs[i].uidlen = e->uidlen;
		memcpy(sums[i].digest, e->digest, DIGEST_LEN);
		memcpy(sums[i].hdr, e->hdr, DIGEST_LEN);
		sums[i].octets = e->octets;
		jobs[i].size_hint = e->list_size;
		jobs[i].dup = e->copies == 0;
		jobs[i].state = J_DELIVERED;
		/* A job keeps a LIST size in 32 bits (plan.h: sizes past
		 * that are all "4 GiB or more"); a journal popfetch wrote
		 * never holds a larger one. */
		if (e->copies > 1 || e->list_size > UINT32_MAX)
			canonical = 0;
	}
	buf_add(&md, j.mdata, j.mlen);
	journal_encode(&b, (int)j.phase, j.method, &md, jobs, sums, 0,
	    j.n);
	if (canonical && memchr(j.method, '\0', strlen(j.method) + 1) ==
	    j.method + strlen(j.method))
		FUZZ_ASSERT(b.len == size && memcmp(b.data, blob, size) == 0);
	buf_free(&b);
	buf_free(&md);
	free(jobs);
	free(sums);
	journal_free(&j);
	free(blob);
	return 0;
}
