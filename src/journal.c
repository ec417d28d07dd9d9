/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "crash.h"
#include "journal.h"
#include "log.h"
#include "xmalloc.h"

void
journal_encode(struct buf *b, int phase, const char *method,
    const struct buf *mdata, const struct job *jobs,
    const struct job_sum *sums, size_t from, size_t to)
{
	size_t i, n = 0;

	buf_add_u32(b, (uint32_t)phase);
	buf_add_str(b, method);
	buf_add_u32(b, (uint32_t)mdata->len);
	buf_add(b, mdata->data, mdata->len);
	for (i = from; i < to; i++)
		if (jobs[i].state == J_DELIVERED)
			n++;
	buf_add_u32(b, (uint32_t)n);
	for (i = from; i < to; i++) {
		const struct job *j = &jobs[i];
		const struct job_sum *js = &sums[i - from];

		if (j->state != J_DELIVERED)
			continue;
		buf_add_u32(b, (uint32_t)j->uidlen);
		buf_add(b, j->uid, j->uidlen);
		buf_add(b, js->digest, DIGEST_LEN);
		buf_add_u64(b, js->octets);
		buf_add_u32(b, j->dup ? 0 : 1);
		buf_add_u64(b, j->size_hint);
		buf_add(b, js->hdr, DIGEST_LEN);
	}
}

void
journal_free(struct journal *j)
{
	free(j->method);
	free(j->entries);
	memset(j, 0, sizeof *j);
}

int
journal_decode(const void *blob, size_t len, struct journal *j)
{
	struct bufrd rd = { blob, len };
	struct journal_entry *e;
	uint32_t i;

	memset(j, 0, sizeof *j);
	if (bufrd_u32(&rd, &j->phase) == -1 ||
	    (j->phase != DELIVER_PHASE_PRE && j->phase != DELIVER_PHASE_POST) ||
	    (j->method = bufrd_str(&rd)) == NULL ||
	    bufrd_u32(&rd, &j->mlen) == -1 ||
	    bufrd_bytes(&rd, &j->mdata, j->mlen) == -1 ||
	    bufrd_u32(&rd, &j->n) == -1 || j->n > JOURNAL_MAX_ENTRIES ||
	    j->n > rd.left / (4 + 2 * DIGEST_LEN + 8 + 4 + 8))
		goto bad;
	j->entries = xreallocarray(NULL, j->n + 1, sizeof *j->entries);
	for (i = 0; i < j->n; i++) {
		e = &j->entries[i];
		if (bufrd_u32(&rd, &e->uidlen) == -1 ||
		    e->uidlen > UID_MAXLEN ||
		    bufrd_bytes(&rd, &e->uid, e->uidlen) == -1 ||
		    bufrd_bytes(&rd, &e->digest, DIGEST_LEN) == -1 ||
		    bufrd_u64(&rd, &e->octets) == -1 ||
		    bufrd_u32(&rd, &e->copies) == -1 ||
		    bufrd_u64(&rd, &e->list_size) == -1 ||
		    bufrd_bytes(&rd, &e->hdr, DIGEST_LEN) == -1)
			goto bad;
	}
	if (rd.left != 0)
		goto bad;
	return 0;
bad:
	journal_free(j);
	return -1;
}

int
journal_recover(struct uidstore *us, const char *state_dir, int timeout_ms,
    struct result *res)
{
	const struct deliver_ops *ops;
	struct deliver d = { 0 };
	enum deliver_recovery rec;
	struct journal j;
	char *err = NULL;
	unsigned char *delivered = NULL;
	void *blob;
	size_t len;
	uint32_t i, missing = 0;
	enum us_rc rc;

	rc = uidstore_journal_get(us, &blob, &len);
	if (rc == US_NOTFOUND)
		return 0;
	if (rc != US_OK) {
		result_fail(res, FAIL_LOCAL, "%s", uidstore_error(us));
		return -1;
	}
	crash_at(CRASH_RECOVERY);
	if (journal_decode(blob, len, &j) == -1 ||
	    (ops = deliver_ops_by_name(j.method)) == NULL ||
	    ops->recover == NULL) {
		if (j.method != NULL)
			journal_free(&j);
		free(blob);
		result_fail(res, FAIL_LOCAL, "the journal of an interrupted "
		    "run in %s is damaged; move the directory aside to start "
		    "afresh", state_dir);
		return -1;
	}
	d.ops = ops;
	d.timeout_ms = timeout_ms;
	d.state_dir = state_dir;
	d.account = state_dir;
	delivered = xcalloc(j.n + 1, 1);
	rec = ops->recover(&d, (int)j.phase, j.mdata, j.mlen, j.n, delivered,
	    &err);
	if (rec == DELIVER_RECOVERY_FAILED) {
		result_fail(res, FAIL_LOCAL, "cannot recover the interrupted "
		    "run: %s", err);
		free(err);
		goto fail;
	}
	if (uidstore_begin(us) != US_OK)
		goto dberr;
	for (i = 0; rec == DELIVER_FINISHED && i < j.n; i++) {
		struct journal_entry *e = &j.entries[i];

		if (!delivered[i]) {
			/* Not where it can be seen: fetched again. */
			missing++;
			continue;
		}
		if (uidstore_add_content(us, e->uid, e->uidlen, e->digest,
		    e->octets, e->copies, e->list_size, e->hdr) != US_OK) {
			uidstore_abort(us);
			goto dberr;
		}
	}
	if (uidstore_journal_del(us) != US_OK) {
		uidstore_abort(us);
		goto dberr;
	}
	if (uidstore_commit(us) != US_OK)
		goto dberr;
	log_info("recovered an interrupted %s delivery: %s", j.method,
	    rec == DELIVER_FINISHED ? "finished" : "rolled back");
	if (missing > 0)
		log_warnx("%u messages of an interrupted delivery are not in "
		    "%s; they will be fetched again", missing, j.method);
	journal_free(&j);
	free(delivered);
	free(blob);
	return 0;
dberr:
	result_fail(res, FAIL_LOCAL, "%s", uidstore_error(us));
fail:
	journal_free(&j);
	free(delivered);
	free(blob);
	return -1;
}
