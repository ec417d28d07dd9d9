/* SPDX-License-Identifier: ISC */
/*
 * Private to the files of one account's run (fetch.c, listing.c,
 * batch.c): the run's state, shared behind this header as isync shares
 * its sync state. Only these files use the protocol, the UID store and the
 * delivery methods together.
 */
#ifndef POPFETCH_RUN_H
#define POPFETCH_RUN_H

#include <stddef.h>

#include "conf.h"
#include "deliver.h"
#include "digest.h"
#include "plan.h"
#include "result.h"
#include "session.h"
#include "spool.h"
#include "uidstore.h"

/* A message identified by its header block: the key it goes by. */
struct idkey {
	uint32_t	msgno;
	char		key[4 + 2 * DIGEST_LEN + 1];
};

struct lsizes;

struct old_hdr {
	size_t		job;
	size_t		seq;	/* the later of two for one job counts */
	unsigned char	hdr[DIGEST_LEN];
};

struct run {
	const struct runopts	*ro;
	const struct account	*a;
	struct result		*res;
	struct uidstore		*us;
	struct session		 s;
	struct deliver		 d;
	struct plan		 pl;
	struct digest		*dg;
	struct spool		*sp;
	int			 listing_ok;	/* every UIDL line was read */
	/* Every record in the store was found by a UIDL line: nothing to
	 * prune (uidstore_scan_covered). */
	int			 store_covered;
	int			 retry_pass;	/* the second session, for J_RETRY */
	int			 need_retry;	/* some job wants a second session */
	char			**retry;	/* their UIDs (NUL-free copies) */
	size_t			 nretry;
	/* listing.c: messages identified by their header block. */
	int			 by_header;	/* the account's scheme */
	int			 uids_not_msgnos; /* some UID is not its number */
	size_t			 nuids;		/* usable UIDs listed */
	const struct lsizes	*ls;		/* LIST sizes, while listing */
	int			 relisted;	/* UIDL read again, with sizes */
	uint32_t		*idmsg;		/* to identify with TOP */
	size_t			 nidmsg, capidmsg;
	struct idkey		*idkeys;	/* what TOP made of them */
	size_t			 nidkeys;
	int			 blind;		/* no UIDL, no TOP: by RETR */
	unsigned long		 dele_sent;	/* DELEs the server accepted */
	/* batch.c: what fetching made of jobs [sums_from, sums_from +
	 * nsums): the current batch's, or with a method that confirms at
	 * the end, every batch's so far. */
	struct job_sum		*sums;
	size_t			 sums_from, nsums, capsums;
	/* listing.c: suspected reuses found the same message by TOP before
	 * any batch (J_OLD), with the identity to record; by job index. */
	struct old_hdr		*olds;
	size_t			 nolds, capolds;
	int			 olds_sorted;
	/* batch.c: the pipeline runs on across batches. */
	size_t			 sent_upto;	/* jobs before: RETR sent or none */
	uint32_t		*deleq;		/* recorded, DELE not yet sent */
	size_t			 ndeleq, deleq_sent, deleq_cap;
	/* batch.c: the sealed batch (deliver ops seal), made durable and
	 * published in the background, recorded by settle. */
	enum { PEND_NONE, PEND_SYNCING, PEND_PUBLISHING } pending;
	size_t			 pend_from, pend_to;
	int			 settle_failed;	/* its journal stays */
};

/* fetch.c: a plan for the account's settings (--delete-after too). */
void plan_setup(struct plan *, const struct account *);

/* listing.c: STAT, LIST, UIDL, the plan, and TOP for suspected reuses.
 * 0, or -1 when the account must stop (reported in r->res). */
int listing_read(struct run *);
/* Leaves job j for a second session of this run (by its UID, as the
 * message numbers may differ there). */
void retry_later(struct run *, struct job *j);

/* listing.c: job j is the message recorded before (J_OLD), of identity
 * hdr, which its batch records. */
void job_old(struct run *, struct job *j, const unsigned char *hdr);
/* batch.c: what fetching made of job j (in the current batch). */
struct job_sum *job_sum(struct run *, const struct job *j);
/* batch.c: delivers jobs [from, *to) durably, records them, then deletes
 * them. A batch also ends early, at a new *to, once it holds BATCH_BYTES
 * or has taken BATCH_MS, so a slow server never keeps delivered mail
 * unrecorded for long. 0, or -1 when the account must stop (reported in
 * r->res). */
#define BATCH_BYTES	((uint64_t)32 * 1024 * 1024)
#define BATCH_MS	3000
/* A Maildir batch's writeback starts after every so many bytes. */
#ifndef WRITEBACK_BYTES
#define WRITEBACK_BYTES	(BATCH_BYTES / 4)
#endif
int batch_run(struct run *, size_t from, size_t *to);
/* After the last batch, or a failed one: replies still in flight are read
 * (a message's dropped, it stays unfetched), then the DELEs of recorded
 * batches not yet sent go out. -1 when the connection failed (reported). */
int batch_finish(struct run *);
/* Waits for the batch being published, records it and queues its DELEs.
 * 0, or -1 (reported): after a failure to publish or record, its journal
 * stays for the next run to finish, and no other batch may be journaled. */
int batch_settle(struct run *);
/* DELE the messages delivered in earlier runs (plan.dele). 0 or -1. */
int batch_dele_old(struct run *);
/* Sends send(msgnos[*sent]) and on while the pipelining window has room
 * (one command when the server does not pipeline), advancing *sent up to
 * n. 0, or -1 when the connection failed (reported). */
int send_window(struct run *, enum pop3_rc (*send)(struct pop3 *, uint32_t),
    const uint32_t *msgnos, size_t n, size_t *sent);
/* Records jobs [from, to) that were delivered, in one transaction that
 * also drops the journal, and counts them. 0 or -1 (reported). */
int record_batch(struct run *, size_t from, size_t to);

#endif
