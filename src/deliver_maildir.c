/* SPDX-License-Identifier: ISC */
/*
 * Maildir delivery, exactly once (DESIGN.md invariant 2). Messages are
 * written into tmp/ without a sync each; at the end of the batch one
 * syncfs(2) makes all of them, and tmp/'s entries, durable together. The
 * batch's names are journaled in the UID store, then renamed into new/, and
 * new/ is fsynced: the sync and the renames in a thread of their own (the
 * sealed batch) while the next batch downloads. Recovery counts a
 * journaled name as delivered only where it can see it: in new/, or in
 * cur/ with any flags; a name still in tmp/ is renamed, one found nowhere
 * is fetched again.
 *
 * File names are time.MusecPpidQseqPFtag.host: "PF" marks popfetch and
 * tag identifies the account, so a run cleans up after a killed run of its
 * own account only, never after other accounts sharing the Maildir (their
 * files may be journaled for their next run), and leaves other programs'
 * files to them, except popfetch files older than 36 hours (the Maildir
 * convention for stale files in tmp/).
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "deliver.h"
#include "safepath.h"
#include "util.h"
#include "xmalloc.h"

#define TMP_STALE	(36 * 3600)
#define WRITEBACK_MIN	((uint64_t)256 * 1024)

/* The steps of making a batch durable and visible, for their errors. */
enum md_step { MD_SYNCFS, MD_RENAME, MD_FSYNC_NEW };

struct maildir {
	int	  tmpfd, newfd, curfd;	/* the subdirectories, O_DIRECTORY */
	char	**names;	/* this batch's files, ended and in tmp/ */
	size_t	  nnames;
	int	  journaled;	/* names may be in the journal: keep them */
	char	 *cur;		/* the message being written */
	int	  fd;
	uint64_t  written;	/* into it so far */
	unsigned  seq;
	long	  pid;
	uint32_t  tag;		/* the account's */
	char	  host[256];
	/* md_writeback's syncfs, running beside the download. */
	pthread_t early;
	int	  early_on;
	atomic_int early_done;	/* its syncfs returned: joinable now */
	/* The sealed batch (md_seal) and the thread that makes it durable
	 * and publishes it; the flags under mu. */
	struct publisher {
		pthread_t	 th;
		int		 on;
		pthread_mutex_t	 mu;
		pthread_cond_t	 cv;
		int		 synced;	/* its syncfs returned */
		int		 go;		/* journaled: publish */
		int		 stop;		/* given up: do not */
		int		 done;		/* the thread is over */
		int		 tmpfd, newfd;
		char		**names;
		size_t		 nnames;
		size_t		 failed;	/* names[failed] not renamed */
		int		 err;		/* errno of a failure; 0: none */
		enum md_step	 step;		/* the step that failed */
	} pub;
};

/*
 * Through syscall(2), not syncfs(3): nothing relies on this one (md_sync
 * makes the batch durable), so like sync_file_range it is not a
 * durability point, and the power-cut shim (tests/powercut.c), which
 * models the libc calls, does not see it.
 */
static void *
early_sync(void *arg)
{
	struct maildir *m = arg;

	(void)syscall(SYS_syncfs, m->tmpfd);
	atomic_store(&m->early_done, 1);
	return NULL;
}

static void
early_join(struct maildir *m)
{
	if (m->early_on)
		pthread_join(m->early, NULL);
	m->early_on = 0;
}

/* FNV-1a of the account's state directory: which account made a file. */
static uint32_t
account_tag(const char *s)
{
	uint32_t h = 2166136261u;

	for (; s != NULL && *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	}
	return h;
}

/* '/' and ':' cannot appear in a Maildir name (Maildir spec). */
static void
safe_host(char *out, size_t sz)
{
	char h[256];
	size_t i, o = 0;

	if (gethostname(h, sizeof h) == -1)
		snprintf(h, sizeof h, "localhost");
	h[sizeof h - 1] = '\0';
	for (i = 0; h[i] != '\0' && o + 5 < sz; i++) {
		if (h[i] == '/')
			o += (size_t)snprintf(out + o, 5, "\\057");
		else if (h[i] == ':')
			o += (size_t)snprintf(out + o, 5, "\\072");
		else
			out[o++] = h[i];
	}
	out[o] = '\0';
}

/*
 * Files in tmp/ that are provably ours to remove: popfetch files of this
 * account whose process is gone on this host (a killed run's unrecorded
 * messages; the journal's were moved by recovery before this runs), and
 * popfetch files older than 36 hours. Nothing else is touched.
 */
static void
md_clean_tmp(struct maildir *m)
{
	struct dirent *de;
	struct stat st;
	const char *p, *dot;
	unsigned tag;
	long pid;
	int n, fd, ours;
	DIR *dir;

	if ((fd = dup(m->tmpfd)) == -1)
		return;
	if ((dir = fdopendir(fd)) == NULL) {
		close(fd);
		return;
	}
	while ((de = readdir(dir)) != NULL) {
		/* %n is stored only when the whole pattern matched. */
		n = 0;
		p = strstr(de->d_name, ".M");
		if (p == NULL || (p = strchr(p, 'P')) == NULL ||
		    sscanf(p, "P%ldQ%*uPF%n", &pid, &n) != 1 || n <= 0)
			continue;
		dot = p + n;
		ours = sscanf(dot, "%8x", &tag) == 1 && tag == m->tag &&
		    (dot = strchr(dot, '.')) != NULL &&
		    strcmp(dot + 1, m->host) == 0 && pid > 0 &&
		    pid != m->pid && kill((pid_t)pid, 0) == -1 &&
		    errno == ESRCH;
		if (!ours && (fstatat(m->tmpfd, de->d_name, &st,
		    AT_SYMLINK_NOFOLLOW) == -1 ||
		    time(NULL) - st.st_mtime < TMP_STALE))
			continue;
		unlinkat(m->tmpfd, de->d_name, 0);
	}
	closedir(dir);
}

/* A subdirectory, created durably if missing, checked on the way
 * (safepath.h: as root, nothing another user could swap). */
static int
open_dir(const char *target, const char *sub, char **errstr)
{
	char path[PATH_MAX], *err = NULL;
	int fd;

	snprintf(path, sizeof path, "%s/%s", target, sub);
	if ((fd = safepath_mkdirs(path, 0700, 0, &err)) < 0) {
		*errstr = xasprintf("maildir %s", err);
		free(err);
		return -1;
	}
	return fd;
}

static enum deliver_rc
md_open(struct deliver *d, char **errstr)
{
	struct maildir *m = xcalloc(1, sizeof *m);

	d->priv = m;
	m->fd = m->tmpfd = m->newfd = m->curfd = -1;
	m->pid = (long)getpid();
	m->tag = account_tag(d->account);
	safe_host(m->host, sizeof m->host);
	if ((m->tmpfd = open_dir(d->target, "tmp", errstr)) == -1 ||
	    (m->newfd = open_dir(d->target, "new", errstr)) == -1 ||
	    (m->curfd = open_dir(d->target, "cur", errstr)) == -1)
		return DELIVER_TARGET_FAILED;
	md_clean_tmp(m);
	return DELIVER_OK;
}

static void
free_names(char ***names, size_t *n)
{
	size_t i;

	for (i = 0; i < *n; i++)
		free((*names)[i]);
	free(*names);
	*names = NULL;
	*n = 0;
}

static void
md_clear(struct maildir *m)
{
	early_join(m);
	free_names(&m->names, &m->nnames);
	m->journaled = 0;
}

/* The error of a step that failed with err (a rename: of names[failed]). */
static char *
md_error(const struct deliver *d, enum md_step step, char **names,
    size_t failed, int err)
{
	switch (step) {
	case MD_RENAME:
		return xasprintf("maildir %s: rename tmp/%s to new/: %s",
		    d->target, names[failed], strerror(err));
	case MD_FSYNC_NEW:
		return xasprintf("maildir %s: fsync new/: %s", d->target,
		    strerror(err));
	default:
		return xasprintf("maildir %s: syncfs: %s", d->target,
		    strerror(err));
	}
}

/*
 * Every name renamed from tmp/ to new/, then new/ fsynced. 0, or the errno
 * of the step that failed (*step; *failed: the name not renamed).
 */
static int
publish_names(int tmpfd, int newfd, char **names, size_t n,
    enum md_step *step, size_t *failed)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (renameat(tmpfd, names[i], newfd, names[i]) == -1) {
			*step = MD_RENAME;
			*failed = i;
			return errno;
		}
	if (fsync(newfd) == -1) {
		*step = MD_FSYNC_NEW;
		return errno;
	}
	return 0;
}

/* What the journal keeps of a batch: the Maildir and the names in tmp/. */
static void
journal_names(const struct deliver *d, struct buf *b, char **names,
    size_t n)
{
	size_t i;

	buf_add_str(b, d->target);
	buf_add_u32(b, (uint32_t)n);
	for (i = 0; i < n; i++)
		buf_add_str(b, names[i]);
}

static enum deliver_rc
md_batch_begin(struct deliver *d, char **errstr)
{
	(void)errstr;
	md_clear(d->priv);
	return DELIVER_OK;
}

static enum deliver_rc
md_begin(struct deliver *d, const struct msg_meta *meta, char **errstr)
{
	struct maildir *m = d->priv;
	struct timeval tv;

	(void)meta;
	gettimeofday(&tv, NULL);
	free(m->cur);
	m->cur = xasprintf("%lld.M%06ldP%ldQ%uPF%08x.%s",
	    (long long)tv.tv_sec, (long)tv.tv_usec, m->pid, ++m->seq, m->tag,
	    m->host);
	m->written = 0;
	m->fd = openat(m->tmpfd, m->cur, O_WRONLY | O_CREAT | O_EXCL |
	    O_CLOEXEC | O_NOFOLLOW, 0600);
	if (m->fd == -1) {
		*errstr = xasprintf("maildir %s: cannot create %s/tmp/%s: %s",
		    d->target, d->target, m->cur, strerror(errno));
		return DELIVER_TARGET_FAILED;
	}
	return DELIVER_OK;
}

static enum deliver_rc
md_write(struct deliver *d, const char *p, size_t n, char **errstr)
{
	struct maildir *m = d->priv;

	if (write_all(m->fd, p, n) == -1) {
		*errstr = xasprintf("maildir %s: writing tmp/%s: %s",
		    d->target, m->cur, strerror(errno));
		return DELIVER_TARGET_FAILED;
	}
	m->written += n;
	return DELIVER_OK;
}

static void
md_abort(struct deliver *d)
{
	struct maildir *m = d->priv;

	if (m->fd != -1)
		close(m->fd);
	m->fd = -1;
	if (m->cur != NULL) {
		unlinkat(m->tmpfd, m->cur, 0);
		free(m->cur);
		m->cur = NULL;
	}
}

static enum deliver_rc
md_end(struct deliver *d, char **errstr)
{
	struct maildir *m = d->priv;

	/* No fsync here: the batch is made durable at once by md_sync. But
	 * a large file's writeback starts now, without waiting, so that the
	 * disk works while the next messages download and md_sync finds
	 * little left to write. A close error still means the data did not
	 * make it. */
	if (m->written >= WRITEBACK_MIN)
		(void)sync_file_range(m->fd, 0, 0, SYNC_FILE_RANGE_WRITE);
	m->written = 0;
	if (close(m->fd) == -1) {
		m->fd = -1;
		*errstr = xasprintf("maildir %s: saving tmp/%s: %s",
		    d->target, m->cur, strerror(errno));
		md_abort(d);
		return DELIVER_TARGET_FAILED;
	}
	m->fd = -1;
	m->names = xreallocarray(m->names, m->nnames + 1, sizeof *m->names);
	m->names[m->nnames++] = m->cur;
	m->cur = NULL;
	return DELIVER_OK;
}

/*
 * What a batch has written so far goes to the disk while the rest
 * downloads: a syncfs in a thread of its own, so that the batch's own
 * syncfs finds little left to write (10,000 small messages: 7-9 % faster;
 * a sync_file_range per small file was 30 % slower; 200 x 1 MB: the
 * batch's syncfs 38 -> 19 ms). Called again while one still runs, it
 * leaves that one be: the disk is busy anyway.
 */
static void
md_writeback(struct deliver *d)
{
	struct maildir *m = d->priv;

	if (m->early_on) {
		if (!atomic_load(&m->early_done))
			return;
		early_join(m);
	}
	atomic_store(&m->early_done, 0);
	m->early_on = pthread_create(&m->early, NULL, early_sync, m) == 0;
}

static enum deliver_rc
md_sync(struct deliver *d, char **errstr)
{
	struct maildir *m = d->priv;

	early_join(m);
	/*
	 * One syncfs for the batch: every file's data and tmp/'s entries are
	 * durable before the journal names them. One call instead of one
	 * fsync per message; the file system commits the batch in one go.
	 */
	if (syncfs(m->tmpfd) == -1) {
		*errstr = md_error(d, MD_SYNCFS, NULL, 0, errno);
		return DELIVER_TARGET_FAILED;
	}
	return DELIVER_OK;
}

static void
md_post_journal(struct deliver *d, struct buf *b)
{
	struct maildir *m = d->priv;

	m->journaled = 1;
	journal_names(d, b, m->names, m->nnames);
}

/* Is name in dirfd, as itself or (in cur/) with a ":2,FLAGS" info? */
static int
present(int dirfd, const char *name, int with_info)
{
	struct dirent *de;
	size_t len = strlen(name);
	int fd, found = 0;
	DIR *dir;

	if (faccessat(dirfd, name, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
		return 1;
	if (!with_info || (fd = dup(dirfd)) == -1)
		return 0;
	if ((dir = fdopendir(fd)) == NULL) {
		close(fd);
		return 0;
	}
	rewinddir(dir);
	while (!found && (de = readdir(dir)) != NULL)
		found = strncmp(de->d_name, name, len) == 0 &&
		    de->d_name[len] == ':';
	closedir(dir);
	return found;
}

/*
 * A sealed batch, in a thread of its own while the next batch downloads:
 * syncfs makes its files and tmp/'s entries durable (this one is a
 * durability point: through syncfs(3), which the power-cut shim models);
 * then, once the caller has journaled the names (md_seal_publish), every
 * file is renamed into new/ and new/ is fsynced. A failure stops it, with
 * errno and the call in p.
 */
static void *
sealed_main(void *arg)
{
	struct publisher *p = arg;
	int go, err = 0;

	if (syncfs(p->tmpfd) == -1)
		err = errno;
	pthread_mutex_lock(&p->mu);
	p->err = err;
	p->step = MD_SYNCFS;
	p->synced = 1;
	pthread_cond_broadcast(&p->cv);
	while (err == 0 && !p->go && !p->stop)
		pthread_cond_wait(&p->cv, &p->mu);
	go = err == 0 && p->go;
	pthread_mutex_unlock(&p->mu);
	if (go)
		err = publish_names(p->tmpfd, p->newfd, p->names, p->nnames,
		    &p->step, &p->failed);
	pthread_mutex_lock(&p->mu);
	p->err = err;
	p->done = 1;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

static void
sealed_free(struct publisher *p)
{
	free_names(&p->names, &p->nnames);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	p->on = 0;
}

/*
 * The batch is sealed: its names leave it for the thread above, and the
 * next batch starts with none (an abort of it never touches these).
 * 10,000 small messages: the main thread no longer waits for 20 syncfs
 * calls and 175 ms of renames. -1 when no thread could be started (the
 * batch stays as it was).
 */
static int
md_seal(struct deliver *d)
{
	struct maildir *m = d->priv;
	struct publisher *p = &m->pub;

	if (p->on)
		abort();	/* one at a time: batch.c settles first */
	early_join(m);
	memset(p, 0, sizeof *p);
	p->tmpfd = m->tmpfd;
	p->newfd = m->newfd;
	p->names = m->names;
	p->nnames = m->nnames;
	if (pthread_mutex_init(&p->mu, NULL) != 0)
		return -1;
	if (pthread_cond_init(&p->cv, NULL) != 0) {
		pthread_mutex_destroy(&p->mu);
		return -1;
	}
	if (pthread_create(&p->th, NULL, sealed_main, p) != 0) {
		pthread_cond_destroy(&p->cv);
		pthread_mutex_destroy(&p->mu);
		p->names = NULL;
		return -1;
	}
	p->on = 1;
	m->names = NULL;
	m->nnames = 0;
	m->journaled = 0;
	return 0;
}

/* 1 when the sealed batch is durable, 0 not yet (wait: never), -1 when
 * its syncfs failed (*errstr; the batch is given up: md_seal_abort). */
static int
md_seal_synced(struct deliver *d, int wait, char **errstr)
{
	struct publisher *p = &((struct maildir *)d->priv)->pub;
	int synced, err;

	pthread_mutex_lock(&p->mu);
	while (wait && !p->synced)
		pthread_cond_wait(&p->cv, &p->mu);
	synced = p->synced;
	err = p->err;
	pthread_mutex_unlock(&p->mu);
	if (!synced)
		return 0;
	if (err != 0) {
		*errstr = md_error(d, p->step, p->names, p->failed, p->err);
		return -1;
	}
	return 1;
}

/* What the journal keeps of the sealed batch: as md_post_journal. */
static void
md_seal_journal(struct deliver *d, struct buf *b)
{
	struct publisher *p = &((struct maildir *)d->priv)->pub;

	journal_names(d, b, p->names, p->nnames);
}

static void
md_seal_publish(struct deliver *d)
{
	struct publisher *p = &((struct maildir *)d->priv)->pub;

	pthread_mutex_lock(&p->mu);
	p->go = 1;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

/* 1 when the sealed batch is in new/ and new/ is durable, 0 not yet
 * (wait: never), -1 when publishing failed (*errstr; the files stay,
 * journaled, for the next run). Either way the batch is then over. */
static int
md_seal_done(struct deliver *d, int wait, char **errstr)
{
	struct publisher *p = &((struct maildir *)d->priv)->pub;
	int done, rc = 1;

	pthread_mutex_lock(&p->mu);
	while (wait && !p->done)
		pthread_cond_wait(&p->cv, &p->mu);
	done = p->done;
	pthread_mutex_unlock(&p->mu);
	if (!done)
		return 0;
	pthread_join(p->th, NULL);
	if (p->err != 0) {
		*errstr = md_error(d, p->step, p->names, p->failed, p->err);
		rc = -1;
	}
	sealed_free(p);
	return rc;
}

/* Gives a sealed batch up before it is journaled: the thread stops after
 * its syncfs, and the files go (nothing names them) unless keep (a journal
 * may name them: the next run's recovery decides). */
static void
md_seal_abort(struct deliver *d, int keep)
{
	struct maildir *m = d->priv;
	struct publisher *p = &m->pub;
	size_t i;

	if (!p->on)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = 1;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	pthread_join(p->th, NULL);
	if (!p->go && !keep)
		for (i = 0; i < p->nnames; i++)
			unlinkat(m->tmpfd, p->names[i], 0);
	sealed_free(p);
}

static enum deliver_rc
md_publish(struct deliver *d, char **errstr)
{
	struct maildir *m = d->priv;
	enum md_step step;
	size_t failed = 0;
	int err;

	if ((err = publish_names(m->tmpfd, m->newfd, m->names, m->nnames,
	    &step, &failed)) != 0) {
		*errstr = md_error(d, step, m->names, failed, err);
		return DELIVER_TARGET_FAILED;
	}
	md_clear(m);
	return DELIVER_OK;
}

/* Removes what this batch wrote, but never what a journal may name: the
 * next run's recovery finishes that. */
static void
md_batch_abort(struct deliver *d)
{
	struct maildir *m = d->priv;
	size_t i;

	md_abort(d);
	if (!m->journaled)
		for (i = 0; i < m->nnames; i++)
			unlinkat(m->tmpfd, m->names[i], 0);
	md_clear(m);
}

static enum deliver_recovery
md_recover(struct deliver *d, int phase, const unsigned char *p, size_t len,
    size_t n, unsigned char *delivered, char **errstr)
{
	struct bufrd r = { p, len };
	char *dir = NULL, *name;
	struct maildir m = { .tmpfd = -1, .newfd = -1, .curfd = -1 };
	enum deliver_recovery res = DELIVER_FINISHED;
	uint32_t i, count;

	(void)d;
	(void)phase;
	if ((dir = bufrd_str(&r)) == NULL || bufrd_u32(&r, &count) == -1 ||
	    count != n) {
		free(dir);
		*errstr = xasprintf("maildir: damaged journal");
		return DELIVER_RECOVERY_FAILED;
	}
	if ((m.tmpfd = open_dir(dir, "tmp", errstr)) == -1 ||
	    (m.newfd = open_dir(dir, "new", errstr)) == -1 ||
	    (m.curfd = open_dir(dir, "cur", errstr)) == -1) {
		res = DELIVER_RECOVERY_FAILED;
		goto out;
	}
	for (i = 0; i < count; i++) {
		if ((name = bufrd_str(&r)) == NULL || *name == '\0' ||
		    strchr(name, '/') != NULL || strcmp(name, "..") == 0) {
			free(name);
			*errstr = xasprintf("maildir %s: damaged journal", dir);
			res = DELIVER_RECOVERY_FAILED;
			goto out;
		}
		if (renameat(m.tmpfd, name, m.newfd, name) == 0)
			delivered[i] = 1;
		else if (errno != ENOENT) {
			*errstr = xasprintf("maildir %s: rename tmp/%s to new/: "
			    "%s", dir, name, strerror(errno));
			res = DELIVER_RECOVERY_FAILED;
		} else
			/* Gone from tmp/: delivered only if it is to be
			 * seen; otherwise it is fetched again. */
			delivered[i] = present(m.newfd, name, 0) ||
			    present(m.curfd, name, 1);
		free(name);
		if (res != DELIVER_FINISHED)
			goto out;
	}
	if (fsync(m.newfd) == -1) {
		*errstr = xasprintf("maildir %s: fsync new/: %s", dir,
		    strerror(errno));
		res = DELIVER_RECOVERY_FAILED;
	}
out:
	if (m.tmpfd != -1)
		close(m.tmpfd);
	if (m.newfd != -1)
		close(m.newfd);
	if (m.curfd != -1)
		close(m.curfd);
	free(dir);
	return res;
}

static void
md_close(struct deliver *d)
{
	struct maildir *m = d->priv;

	if (m == NULL)
		return;
	md_batch_abort(d);
	if (m->pub.on) {
		/* Journaled: let it finish (the next run would); else gone. */
		char *err = NULL;

		if (m->pub.go)
			(void)md_seal_done(d, 1, &err);
		else
			md_seal_abort(d, 0);
		free(err);
	}
	free(m->cur);
	if (m->tmpfd != -1)
		close(m->tmpfd);
	if (m->newfd != -1)
		close(m->newfd);
	if (m->curfd != -1)
		close(m->curfd);
	free(m);
	d->priv = NULL;
}

const struct deliver_ops deliver_maildir_ops = {
	.name = "maildir",
	.stream = 1,
	.open = md_open,
	.batch_begin = md_batch_begin,
	.begin = md_begin,
	.write = md_write,
	.end = md_end,
	.abort = md_abort,
	.writeback = md_writeback,
	.sync = md_sync,
	.post_journal = md_post_journal,
	.publish = md_publish,
	.seal = md_seal,
	.seal_synced = md_seal_synced,
	.seal_journal = md_seal_journal,
	.seal_publish = md_seal_publish,
	.seal_done = md_seal_done,
	.seal_abort = md_seal_abort,
	.batch_abort = md_batch_abort,
	.recover = md_recover,
	.close = md_close,
};
