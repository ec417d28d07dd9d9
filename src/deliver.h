/* SPDX-License-Identifier: ISC */
/*
 * Delivery methods behind one table: maildir, mbox, mda, stdout. fetch.c
 * drives a method through batches:
 *
 *   batch_begin -> [pre_journal] -> (begin write* end | abort)* -> sync
 *     -> [post_journal] -> publish -> (fetch commits the UIDs as seen)
 *
 * A method that can take a message while it downloads and take it back
 * (maildir, mbox) says stream = 1; the others get only complete messages,
 * from a spool, so an interrupted download never reaches them.
 *
 * The journal blobs make a batch recoverable after kill -9 (DESIGN.md
 * invariant 2): pre_journal is recorded before the first byte is written,
 * post_journal after sync and before publish. recover() is given what was
 * recorded and the number n of messages journaled; it returns
 * DELIVER_FINISHED with delivered[i] set for each message it can see
 * delivered (only those are marked seen), or DELIVER_ROLLED_BACK (nothing
 * of the batch remains). Once a batch's post_journal was taken, neither
 * batch_abort nor close may remove what it names: the journal may hold it.
 *
 * Errors: a deliver_rc other than DELIVER_OK, with an allocated *errstr
 * naming the target and what failed.
 */
#ifndef POPFETCH_DELIVER_H
#define POPFETCH_DELIVER_H

#include <stddef.h>
#include <stdint.h>

struct msg_meta {
	uint32_t	 msgno;
	const char	*uid;		/* printable rendering, for messages */
	const char	*sender;	/* envelope sender or NULL */
	const char	*user;		/* account user name */
	const char	*server;
};

/* A growable byte buffer for journal blobs. */
struct buf {
	unsigned char	*data;
	size_t		 len;
	size_t		 cap;
};
void buf_add(struct buf *, const void *, size_t);
void buf_add_u32(struct buf *, uint32_t);
void buf_add_u64(struct buf *, uint64_t);
void buf_add_str(struct buf *, const char *);
void buf_free(struct buf *);
/* Readers over a blob: return -1 when it is too short. */
struct bufrd {
	const unsigned char	*p;
	size_t			 left;
};
int bufrd_u32(struct bufrd *, uint32_t *);
int bufrd_u64(struct bufrd *, uint64_t *);
int bufrd_bytes(struct bufrd *, const unsigned char **, size_t);
char *bufrd_str(struct bufrd *);	/* allocated, NULL on error */

/* The phase a journal was recorded in. */
#define DELIVER_PHASE_PRE	1	/* before the first byte was written */
#define DELIVER_PHASE_POST	2	/* after sync, before publish */

enum deliver_rc {
	DELIVER_OK = 0,
	DELIVER_MSG_FAILED,	/* this message was not delivered; go on */
	DELIVER_MSG_TEMP,	/* not delivered, try later (an MDA's 75) */
	DELIVER_TARGET_FAILED,	/* the target is unusable: stop the account */
};

enum deliver_recovery {
	DELIVER_FINISHED,
	DELIVER_ROLLED_BACK,
	DELIVER_RECOVERY_FAILED,
};

struct deliver;

struct deliver_ops {
	const char	*name;
	int		 stream;
	/* Nothing is delivered until finish() confirms the whole run's
	 * output (a pipe: only its successful close says the reader got
	 * it all); until then nothing is recorded, nothing deleted. */
	int		 confirm_at_end;
	enum deliver_rc (*open)(struct deliver *, char **errstr);
	enum deliver_rc (*batch_begin)(struct deliver *, char **errstr);
	void	(*pre_journal)(struct deliver *, struct buf *);
	enum deliver_rc (*begin)(struct deliver *, const struct msg_meta *,
		    char **errstr);
	enum deliver_rc (*write)(struct deliver *, const char *, size_t,
		    char **errstr);
	enum deliver_rc (*end)(struct deliver *, char **errstr);
	void	(*abort)(struct deliver *);
	/* Optional: half the batch is written; start writing it back
	 * without waiting (sync still makes the whole batch durable). */
	void	(*writeback)(struct deliver *);
	enum deliver_rc (*sync)(struct deliver *, char **errstr);
	void	(*post_journal)(struct deliver *, struct buf *);
	enum deliver_rc (*publish)(struct deliver *, char **errstr);
	/* Optional, all or none: a batch made durable and published in the
	 * background while the next one is fetched. seal takes the batch's
	 * output over (0; -1: not possible, the batch stays as it was) and
	 * starts its sync; seal_synced says whether that is over (1), not
	 * yet (0; with wait, never) or failed (-1); seal_journal gives what
	 * the journal keeps (as post_journal); seal_publish, once it is
	 * journaled, lets publishing go on; seal_done says whether that is
	 * over (1, the batch is in place), not yet (0) or failed (-1);
	 * seal_abort gives up a batch not journaled (its output goes, but
	 * with keep: a journal may name it). One at a time. */
	int	(*seal)(struct deliver *);
	int	(*seal_synced)(struct deliver *, int wait, char **errstr);
	void	(*seal_journal)(struct deliver *, struct buf *);
	void	(*seal_publish)(struct deliver *);
	int	(*seal_done)(struct deliver *, int wait, char **errstr);
	void	(*seal_abort)(struct deliver *, int keep);
	/* Undo whatever the batch left (after a failure in this run). */
	void	(*batch_abort)(struct deliver *);
	enum deliver_recovery (*recover)(struct deliver *, int phase,
		    const unsigned char *, size_t, size_t n,
		    unsigned char *delivered, char **errstr);
	enum deliver_rc (*finish)(struct deliver *, char **errstr);
	void	(*close)(struct deliver *);
};

struct deliver {
	const struct deliver_ops	*ops;
	char				*target;	/* dir, file, command */
	const char			*state_dir;	/* the account's */
	const char			*account;	/* its identity */
	int				 timeout_ms;
	void				*priv;
};

/* The method of that kind, or called name; NULL when there is none. */
const struct deliver_ops *deliver_ops_for(int kind);
const struct deliver_ops *deliver_ops_by_name(const char *name);

extern const struct deliver_ops deliver_maildir_ops;
extern const struct deliver_ops deliver_mbox_ops;
extern const struct deliver_ops deliver_mda_ops;
extern const struct deliver_ops deliver_stdout_ops;

#endif
