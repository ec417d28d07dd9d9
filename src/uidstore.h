/* SPDX-License-Identifier: ISC */
/*
 * The UID store: which messages of one account have been delivered, in a
 * transactional Berkeley DB environment (one directory per account), plus a
 * one-record journal of the delivery batch in flight so that a run killed at
 * any instant can be finished or rolled back by the next one.
 *
 * Keys are the UID bytes exactly as the server sent them. The environment is
 * guarded by an flock(2) on DIR/lock taken before anything else, so two runs
 * of one account never overlap and a killed run never leaves a stale lock.
 * The environment is opened with DB_RECOVER every time, which is safe
 * because the lock guarantees we are alone.
 *
 * One transaction at a time: uidstore_put/del/journal_* must be called
 * between uidstore_begin and uidstore_commit (or uidstore_abort).
 */
#ifndef POPFETCH_UIDSTORE_H
#define POPFETCH_UIDSTORE_H

#include <stddef.h>
#include <stdint.h>

#include "digest.h"

#define UID_MAXLEN	512	/* RFC 1939 says 70; be tolerant, not unbounded */
#define UIDREC_MAXDIG	32	/* distinct contents remembered for one UID */

#define UIDREC_TOOBIG	0x01	/* abandoned over --max-size, not delivered */

struct uidrec {
	unsigned	flags;
	int64_t		first_seen;	/* time(2) of the first delivery */
	uint64_t	size;		/* octets delivered (LF form), last copy;
					   for TOOBIG the limit it exceeded */
	uint64_t	list_size;	/* the server's LIST size then (a hint) */
	unsigned char	hdr[DIGEST_LEN]; /* SHA-256 of the header block */
	unsigned	ndig;		/* distinct contents delivered */
	uint32_t	ncopies;	/* most copies of this UID in one listing
					   that were all handled (duplicate UIDs) */
	unsigned char	dig[UIDREC_MAXDIG][DIGEST_LEN];
};

enum us_rc {
	US_OK = 0,
	US_NOTFOUND,
	US_LOCKED,	/* another run holds the lock */
	US_ERR,		/* see uidstore_error() */
};

struct uidstore;

/*
 * Creates DIR (0700) if needed, takes the lock (waiting up to wait_secs,
 * 0 = fail at once), opens the environment with recovery. On failure *errstr
 * is an allocated one-line explanation that says what to do.
 */
enum us_rc uidstore_open(const char *dir, int wait_secs, struct uidstore **,
    char **errstr);
/* uidstore_open in two steps: the directory and its lock, then (after the
 * caller has started what may go on meanwhile, a connection) the
 * databases. A failed attach has closed the store. */
enum us_rc uidstore_lock(const char *dir, int wait_secs, struct uidstore **,
    char **errstr);
enum us_rc uidstore_attach(struct uidstore *, char **errstr);
/* Checkpoints (when it wrote), removes old logs, closes, releases the
 * lock. */
void uidstore_close(struct uidstore *);
const char *uidstore_error(const struct uidstore *);
/* Whether the open ran Berkeley DB's recovery: only when the store was
 * not closed whole before (uidstore_close leaves a marker). */
int uidstore_recovered(const struct uidstore *);

enum us_rc uidstore_get(struct uidstore *, const void *uid, size_t len,
    struct uidrec *);
/* Many lookups in a row (a listing): uidstore_get goes through one cursor,
 * fastest when the UIDs come in the store's order. No transaction may
 * begin in between (uidstore_begin ends the scan). */
enum us_rc uidstore_scan_begin(struct uidstore *);
/* 1 when the scan's lookups found every record in the store (so none is
 * left for a prune to forget); before uidstore_scan_end. Conservative: 0
 * whenever a found record was not the one after the last found. */
int uidstore_scan_covered(struct uidstore *);
void uidstore_scan_end(struct uidstore *);
enum us_rc uidstore_begin(struct uidstore *);
enum us_rc uidstore_commit(struct uidstore *);	/* durable on return */
void uidstore_abort(struct uidstore *);
enum us_rc uidstore_put(struct uidstore *, const void *uid, size_t len,
    const struct uidrec *);
enum us_rc uidstore_del(struct uidstore *, const void *uid, size_t len);
/* Records that a content of the UID was delivered: merges its digest into
 * the UID's record (creating it), with the sizes and header digest of this
 * copy and the copies count if larger. Inside a transaction. */
enum us_rc uidstore_add_content(struct uidstore *, const void *uid,
    size_t len, const unsigned char digest[DIGEST_LEN], uint64_t size,
    uint32_t copies, uint64_t list_size, const unsigned char hdr[DIGEST_LEN]);

/* The journal: one opaque blob, or none (US_NOTFOUND). get returns an
 * allocated copy. */
enum us_rc uidstore_journal_get(struct uidstore *, void **blob, size_t *len);
enum us_rc uidstore_journal_put(struct uidstore *, const void *, size_t);
enum us_rc uidstore_journal_del(struct uidstore *);
/* Small named settings of the account (the identity scheme): a value of
 * at most outsz - 1 bytes, or US_NOTFOUND. put inside a transaction. */
enum us_rc uidstore_meta_get(struct uidstore *, const char *name, char *out,
    size_t outsz);
enum us_rc uidstore_meta_put(struct uidstore *, const char *name,
    const char *value);

/* Calls fn for every record, in key order; fn returns 0 to go on, 1 to
 * delete the record, -1 to stop. Runs in its own transaction. */
enum us_rc uidstore_walk(struct uidstore *,
    int (*fn)(void *ctx, const void *uid, size_t len, const struct uidrec *),
    void *ctx, size_t *deleted);

/* Serialization, exposed for the unit test. Returns bytes written. */
size_t uidrec_pack(const struct uidrec *, unsigned char *buf, size_t bufsz);
int uidrec_unpack(struct uidrec *, const unsigned char *buf, size_t len);

#endif
