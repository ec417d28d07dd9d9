/* SPDX-License-Identifier: ISC */
/*
 * mbox delivery (mboxrd quoting), locked with fcntl(2) and a dotlock as
 * procmail and mutt expect. The batch's start offset and From_ line are
 * journaled before the first byte is written; any failure in this run, or a
 * kill -9 found by the next run's recovery, truncates the file back to that
 * offset, so no partial message is ever left behind. Recovery only
 * truncates when the bytes at the offset are still the From_ line we
 * journaled: if someone rewrote the mbox since, it is left alone.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "deliver.h"
#include "mboxrd.h"
#include "util.h"
#include "xmalloc.h"

#define MBOX_BUFSZ	(64 * 1024)
/* procmail breaks dotlocks older than 17 minutes; so do we. */
#define DOTLOCK_STALE	1024

struct mbox {
	int		 fd;
	int		 dotlocked;
	off_t		 start;		/* file size when the batch began */
	off_t		 msgstart;	/* where the current message began */
	off_t		 pos;		/* logical end, including buffered */
	char		 from[512];	/* this batch's From_ line */
	size_t		 fromlen;
	int		 addnl;		/* newlines still owed before From_ */
	int		 addnl0;	/* newlines the file lacked at the start */
	struct mboxrd	 q;
	char		*buf;
	size_t		 buflen;
};

static enum deliver_rc
mb_open(struct deliver *d, char **errstr)
{
	struct mbox *m = xcalloc(1, sizeof *m);

	m->fd = -1;
	m->buf = xmalloc(MBOX_BUFSZ + 8);
	d->priv = m;
	return 0;
}

/*
 * A dotlock we (or another popfetch) left when killed names a dead process
 * on this host: it is stale at once, not after DOTLOCK_STALE seconds.
 */
static int
dotlock_dead(const char *lock, const char *host)
{
	char buf[300], h[256];
	long pid;
	ssize_t n;
	int fd;

	if ((fd = open(lock, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		return 0;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	if (sscanf(buf, "%ld %255s", &pid, h) != 2 || pid <= 0 ||
	    strcmp(h, host) != 0)
		return 0;
	return kill((pid_t)pid, 0) == -1 && errno == ESRCH;
}

/*
 * The lock file is written under a private name and linked into place, so
 * it never exists without the pid and host of its owner in it (a process
 * killed between create and write would otherwise leave an empty lock that
 * looks alive for 17 minutes).
 */
static int
dotlock_try(const char *lock, const char *tmp, const char *id, size_t len)
{
	int fd, rc, saved;

	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd == -1)
		return -1;
	if (write_all(fd, id, len) == -1 || fsync(fd) == -1) {
		saved = errno;
		close(fd);
		unlink(tmp);
		errno = saved;
		return -1;
	}
	close(fd);
	rc = link(tmp, lock);
	saved = errno;
	unlink(tmp);
	errno = saved;
	return rc;
}

static int
dotlock(const char *path, int timeout_ms)
{
	char lock[PATH_MAX], tmp[PATH_MAX], host[256], id[300];
	struct stat st;
	int waited = 0, len;

	snprintf(lock, sizeof lock, "%s.lock", path);
	if (gethostname(host, sizeof host) == -1)
		snprintf(host, sizeof host, "localhost");
	host[sizeof host - 1] = '\0';
	len = snprintf(id, sizeof id, "%ld %s\n", (long)getpid(), host);
	snprintf(tmp, sizeof tmp, "%s.lock.%ld.popfetch", path,
	    (long)getpid());
	for (;;) {
		if (dotlock_try(lock, tmp, id, (size_t)len) == 0)
			return 1;
		/* An unwritable spool directory: fcntl alone, as mutt does. */
		if (errno == EACCES || errno == EROFS || errno == EPERM)
			return 0;
		if (errno != EEXIST)
			return -1;
		if (dotlock_dead(lock, host) || (stat(lock, &st) == 0 &&
		    time(NULL) - st.st_mtime > DOTLOCK_STALE)) {
			unlink(lock);
			continue;
		}
		if (waited >= timeout_ms) {
			errno = EWOULDBLOCK;
			return -1;
		}
		usleep(100000);
		waited += 100;
	}
}

static void
dotunlock(const char *path)
{
	char lock[PATH_MAX];

	snprintf(lock, sizeof lock, "%s.lock", path);
	unlink(lock);
}

static int
fcntl_lock(int fd, int timeout_ms)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	int waited = 0;

	while (fcntl(fd, F_SETLK, &fl) == -1) {
		if ((errno != EACCES && errno != EAGAIN) ||
		    waited >= timeout_ms)
			return -1;
		usleep(100000);
		waited += 100;
	}
	return 0;
}

/* Opens and locks the mbox; returns the fd and sets *dotlocked. */
static int
lock_mbox(const char *path, int timeout_ms, int *dotlocked, char **errstr)
{
	int fd;

	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd == -1) {
		*errstr = xasprintf("mbox %s: cannot open: %s", path,
		    strerror(errno));
		return -1;
	}
	if ((*dotlocked = dotlock(path, timeout_ms)) == -1) {
		*errstr = xasprintf("mbox %s: cannot take the dotlock %s.lock:"
		    " %s", path, path, strerror(errno));
		close(fd);
		return -1;
	}
	if (fcntl_lock(fd, timeout_ms) == -1) {
		*errstr = xasprintf("mbox %s: cannot lock: %s", path,
		    strerror(errno));
		if (*dotlocked)
			dotunlock(path);
		close(fd);
		return -1;
	}
	return fd;
}

static void
mb_unlock(struct deliver *d)
{
	struct mbox *m = d->priv;

	if (m->fd == -1)
		return;
	if (m->dotlocked)
		dotunlock(d->target);
	close(m->fd);	/* drops the fcntl lock */
	m->fd = -1;
}

static enum deliver_rc
mb_batch_begin(struct deliver *d, char **errstr)
{
	struct mbox *m = d->priv;
	struct stat st;
	char last[2];
	ssize_t n;

	m->fd = lock_mbox(d->target, d->timeout_ms, &m->dotlocked, errstr);
	if (m->fd == -1)
		return DELIVER_TARGET_FAILED;
	if (fstat(m->fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		*errstr = xasprintf("mbox %s: not a regular file", d->target);
		mb_unlock(d);
		return DELIVER_TARGET_FAILED;
	}
	m->start = m->pos = st.st_size;
	/* A From_ line must follow a blank line, or the previous message
	 * would swallow ours. */
	m->addnl = 0;
	if (st.st_size > 0) {
		n = pread(m->fd, last, 2, st.st_size >= 2 ? st.st_size - 2 : 0);
		if (n >= 1 && last[n - 1] != '\n')
			m->addnl = 2;
		else if (n == 2 && last[0] != '\n')
			m->addnl = 1;
	}
	m->addnl0 = m->addnl;
	m->fromlen = mboxrd_from_line(m->from, sizeof m->from, NULL,
	    time(NULL));
	m->buflen = 0;
	return 0;
}

static void
mb_pre_journal(struct deliver *d, struct buf *b)
{
	struct mbox *m = d->priv;

	buf_add_str(b, d->target);
	buf_add_u64(b, (uint64_t)m->start);
	buf_add_u32(b, (uint32_t)m->addnl0);
	buf_add_str(b, m->from);
}

/* After sync the batch is complete and durable: the journal says so, and
 * recovery then finishes instead of cutting (someone may append to the
 * mbox as soon as we unlock it). */
static void
mb_post_journal(struct deliver *d, struct buf *b)
{
	mb_pre_journal(d, b);
}

static int
mb_flush(struct deliver *d, char **errstr)
{
	struct mbox *m = d->priv;
	ssize_t n;
	size_t off = 0;

	while (off < m->buflen) {
		n = pwrite(m->fd, m->buf + off, m->buflen - off,
		    m->pos - (off_t)(m->buflen - off));
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			*errstr = xasprintf("mbox %s: write: %s", d->target,
			    n == 0 ? "no space" : strerror(errno));
			return -1;
		}
		off += (size_t)n;
	}
	m->buflen = 0;
	return 0;
}

static int
mb_add(struct deliver *d, const char *p, size_t n, char **errstr)
{
	struct mbox *m = d->priv;

	if (m->buflen + n > MBOX_BUFSZ && mb_flush(d, errstr) == -1)
		return -1;
	memcpy(m->buf + m->buflen, p, n);
	m->buflen += n;
	m->pos += (off_t)n;
	return 0;
}

static enum deliver_rc
mb_begin(struct deliver *d, const struct msg_meta *meta, char **errstr)
{
	struct mbox *m = d->priv;

	m->msgstart = m->pos;
	mboxrd_init(&m->q);
	if (m->addnl > 0) {
		if (mb_add(d, "\n\n", (size_t)m->addnl, errstr) == -1)
			return DELIVER_TARGET_FAILED;
		m->addnl = 0;
	}
	return mb_add(d, m->from, m->fromlen, errstr) == -1 ?
	    DELIVER_TARGET_FAILED : DELIVER_OK;
}

static enum deliver_rc
mb_write(struct deliver *d, const char *p, size_t n, char **errstr)
{
	struct mbox *m = d->priv;
	char out[MBOXRD_OUTMAX(4096)];
	size_t chunk, o;

	while (n > 0) {
		chunk = n > 4096 ? 4096 : n;
		o = mboxrd_quote(&m->q, p, chunk, out);
		if (mb_add(d, out, o, errstr) == -1)
			return DELIVER_TARGET_FAILED;
		p += chunk;
		n -= chunk;
	}
	return 0;
}

static enum deliver_rc
mb_end(struct deliver *d, char **errstr)
{
	struct mbox *m = d->priv;
	char out[16];

	return mb_add(d, out, mboxrd_finish(&m->q, out), errstr) == -1 ?
	    DELIVER_TARGET_FAILED : DELIVER_OK;
}

/*
 * Takes the current message back. Bytes before pos - buflen are on disk in
 * order; a failed flush may also have left some bytes past that point,
 * which are cut off too (what they held is still in the buffer if it
 * belongs to an earlier message of the batch).
 */
static void
mb_abort(struct deliver *d)
{
	struct mbox *m = d->priv;
	off_t flushed = m->pos - (off_t)m->buflen, keep;
	struct stat st;

	if (m->msgstart >= flushed)
		m->buflen -= (size_t)(m->pos - m->msgstart);
	else
		m->buflen = 0;
	keep = m->msgstart < flushed ? m->msgstart : flushed;
	m->pos = m->msgstart;
	if (fstat(m->fd, &st) == 0 && st.st_size > keep)
		(void)ftruncate(m->fd, keep);
	if (m->msgstart == m->start)
		m->addnl = m->addnl0;
}

static enum deliver_rc
mb_sync(struct deliver *d, char **errstr)
{
	struct mbox *m = d->priv;

	if (mb_flush(d, errstr) == -1)
		return DELIVER_TARGET_FAILED;
	if (fsync(m->fd) == -1) {
		*errstr = xasprintf("mbox %s: fsync: %s", d->target,
		    strerror(errno));
		return DELIVER_TARGET_FAILED;
	}
	return 0;
}

static enum deliver_rc
mb_publish(struct deliver *d, char **errstr)
{
	mb_unlock(d);
	return 0;
}

static void
mb_batch_abort(struct deliver *d)
{
	struct mbox *m = d->priv;

	if (m->fd == -1)
		return;
	m->buflen = 0;
	if (ftruncate(m->fd, m->start) == 0)
		fsync(m->fd);
	mb_unlock(d);
}

static enum deliver_recovery
mb_recover(struct deliver *d, int phase, const unsigned char *p, size_t len,
    char **errstr)
{
	struct bufrd r = { p, len };
	char *path, *from = NULL, *got = NULL;
	uint64_t start;
	uint32_t addnl;
	struct stat st;
	size_t need;
	int fd, dl;
	enum deliver_recovery res = DELIVER_ROLLED_BACK;

	if ((path = bufrd_str(&r)) == NULL || bufrd_u64(&r, &start) == -1 ||
	    bufrd_u32(&r, &addnl) == -1 || (from = bufrd_str(&r)) == NULL) {
		free(path);
		*errstr = xasprintf("mbox: damaged journal");
		return DELIVER_RECOVERY_FAILED;
	}
	if (phase == DELIVER_PHASE_POST) {
		free(path);
		free(from);
		return DELIVER_FINISHED;
	}
	fd = lock_mbox(path, d->timeout_ms, &dl, errstr);
	if (fd == -1) {
		free(path);
		free(from);
		return DELIVER_RECOVERY_FAILED;
	}
	if (addnl > 2)
		addnl = 0;
	need = strlen(from) + addnl;
	got = xmalloc(need + 1);
	if (fstat(fd, &st) == 0 && (uint64_t)st.st_size > start &&
	    pread(fd, got, need, (off_t)start) == (ssize_t)need &&
	    memcmp(got, "\n\n", addnl) == 0 &&
	    memcmp(got + addnl, from, need - addnl) == 0) {
		if (ftruncate(fd, (off_t)start) == -1 || fsync(fd) == -1) {
			*errstr = xasprintf("mbox %s: cannot roll back an "
			    "interrupted delivery at offset %llu: %s", path,
			    (unsigned long long)start, strerror(errno));
			res = DELIVER_RECOVERY_FAILED;
		}
	}
	if (dl)
		dotunlock(path);
	close(fd);
	free(got);
	free(path);
	free(from);
	return res;
}

static void
mb_close(struct deliver *d)
{
	struct mbox *m = d->priv;

	if (m == NULL)
		return;
	mb_batch_abort(d);
	free(m->buf);
	free(m);
	d->priv = NULL;
}

const struct deliver_ops deliver_mbox_ops = {
	.name = "mbox",
	.stream = 1,
	.open = mb_open,
	.batch_begin = mb_batch_begin,
	.pre_journal = mb_pre_journal,
	.begin = mb_begin,
	.write = mb_write,
	.end = mb_end,
	.abort = mb_abort,
	.sync = mb_sync,
	.post_journal = mb_post_journal,
	.publish = mb_publish,
	.batch_abort = mb_batch_abort,
	.recover = mb_recover,
	.close = mb_close,
};
