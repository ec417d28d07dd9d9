/* SPDX-License-Identifier: ISC */
/*
 * mbox delivery (mboxrd quoting), locked with fcntl(2) and a dotlock as
 * procmail and mutt expect. A batch is first written to a spool file in
 * the account's state directory; at its end the mbox is locked, the spool
 * journaled with the offset it goes to, appended in large writes and
 * fsynced. Nothing of a batch is in the mbox while it downloads, so a
 * failed message or batch never leaves a partial message there, and
 * popfetch never truncates what another program appended: recovery after
 * kill -9 completes the journaled append from the spool, and where another
 * program wrote after a partial append of ours, only our bytes are taken
 * out (DESIGN.md: clean up only what is provably your own).
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
#include "safepath.h"
#include "util.h"
#include "xmalloc.h"

#define MBOX_BUFSZ	(64 * 1024)
/* procmail breaks dotlocks older than 17 minutes; so do we. */
#define DOTLOCK_STALE	1024

/* Marks the current journal layout (0.1's began with the path). */
#define MBOX_JOURNAL_V2	0x3258424du
/* The most of another program's mail recovery moves in memory. */
#define MOVE_MAX	((off_t)64 * 1024 * 1024)

/* A locked mbox: the file, its directory (checked, for the dotlock's
 * names), and whether we hold the dotlock. */
struct mlock {
	int	fd;
	int	dirfd;
	int	dotlocked;
	char	lock[NAME_MAX + 8];	/* BASE.lock */
	char	tmp[NAME_MAX + 40];	/* BASE.lock.PID.popfetch */
};

struct mbox {
	int		 spoolfd;	/* this batch, mboxrd-quoted */
	char		*spool;		/* its path */
	off_t		 len;		/* its logical length, buffered too */
	off_t		 msgstart;	/* where the current message began */
	off_t		 start;		/* where the batch goes in the mbox */
	int		 addnl;		/* newlines the mbox lacks before it */
	int		 journaled;	/* the spool may be journaled: keep it */
	char		 from[512];	/* this batch's From_ line */
	size_t		 fromlen;
	struct mboxrd	 q;
	char		*buf;
	size_t		 buflen;
	struct mlock	 l;		/* the mbox, when locked */
};

static enum deliver_rc
mb_open(struct deliver *d, char **errstr)
{
	struct mbox *m = xcalloc(1, sizeof *m);
	char *err = NULL;

	m->spoolfd = m->l.fd = m->l.dirfd = -1;
	m->buf = xmalloc(MBOX_BUFSZ + 8);
	d->priv = m;
	/* Fail before connecting when the mbox cannot be used (as root,
	 * one that another user could swap: safepath.h). */
	if (safepath_check(d->target, SAFEPATH_MISSING_OK, &err) < 0) {
		*errstr = xasprintf("mbox %s", err);
		free(err);
		return DELIVER_TARGET_FAILED;
	}
	m->spool = xasprintf("%s/mbox-batch", d->state_dir);
	return DELIVER_OK;
}

/*
 * A dotlock we (or another popfetch) left when killed names a dead process
 * on this host: it is stale at once, not after DOTLOCK_STALE seconds.
 */
static int
dotlock_dead(const struct mlock *l, const char *host)
{
	char buf[300], h[256];
	long pid;
	ssize_t n;
	int fd;

	fd = openat(l->dirfd, l->lock, O_RDONLY | O_CLOEXEC | O_NOFOLLOW |
	    O_NONBLOCK);
	if (fd == -1)
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
 * looks alive for 17 minutes). Every name is taken relative to the checked
 * directory, and never through a link.
 */
static int
dotlock_try(const struct mlock *l, const char *id, size_t len)
{
	int fd, rc, saved;

	unlinkat(l->dirfd, l->tmp, 0);
	fd = openat(l->dirfd, l->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
	    O_NOFOLLOW, 0600);
	if (fd == -1)
		return -1;
	if (write_all(fd, id, len) == -1 || fsync(fd) == -1) {
		saved = errno;
		close(fd);
		unlinkat(l->dirfd, l->tmp, 0);
		errno = saved;
		return -1;
	}
	close(fd);
	rc = linkat(l->dirfd, l->tmp, l->dirfd, l->lock, 0);
	saved = errno;
	unlinkat(l->dirfd, l->tmp, 0);
	errno = saved;
	return rc;
}

static int
dotlock(struct mlock *l, int timeout_ms)
{
	char host[256], id[300];
	struct stat st;
	int waited = 0, len;

	if (gethostname(host, sizeof host) == -1)
		snprintf(host, sizeof host, "localhost");
	host[sizeof host - 1] = '\0';
	len = snprintf(id, sizeof id, "%ld %s\n", (long)getpid(), host);
	for (;;) {
		if (dotlock_try(l, id, (size_t)len) == 0)
			return 1;
		/* An unwritable spool directory: fcntl alone, as mutt does. */
		if (errno == EACCES || errno == EROFS || errno == EPERM)
			return 0;
		if (errno != EEXIST)
			return -1;
		if (dotlock_dead(l, host) || (fstatat(l->dirfd, l->lock, &st,
		    AT_SYMLINK_NOFOLLOW) == 0 &&
		    time(NULL) - st.st_mtime > DOTLOCK_STALE)) {
			unlinkat(l->dirfd, l->lock, 0);
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

static void
unlock_mbox(struct mlock *l)
{
	if (l->fd == -1)
		return;
	if (l->dotlocked)
		unlinkat(l->dirfd, l->lock, 0);
	close(l->fd);	/* drops the fcntl lock */
	close(l->dirfd);
	l->fd = l->dirfd = -1;
	l->dotlocked = 0;
}

/*
 * Opens (creating it durably, never through a link, and as root never
 * another user's: safepath.h) and locks the mbox. 0, or -1 with *errstr.
 */
static int
lock_mbox(const char *path, int timeout_ms, struct mlock *l, char **errstr)
{
	const char *base = strrchr(path, '/');
	char *err = NULL;

	base = base != NULL ? base + 1 : path;
	l->fd = l->dirfd = -1;
	l->dotlocked = 0;
	if (strlen(base) > NAME_MAX) {
		*errstr = xasprintf("mbox %s: name too long", path);
		return -1;
	}
	snprintf(l->lock, sizeof l->lock, "%s.lock", base);
	snprintf(l->tmp, sizeof l->tmp, "%s.lock.%ld.popfetch", base,
	    (long)getpid());
	l->fd = safepath_open_file(path, O_RDWR | O_CREAT, 0600, 0, &l->dirfd,
	    &err);
	if (l->fd < 0) {
		*errstr = xasprintf("mbox %s", err);
		free(err);
		l->fd = -1;
		return -1;
	}
	if ((l->dotlocked = dotlock(l, timeout_ms)) == -1) {
		*errstr = xasprintf("mbox %s: cannot take the dotlock %s.lock:"
		    " %s", path, path, strerror(errno));
		l->dotlocked = 0;
		unlock_mbox(l);
		return -1;
	}
	if (fcntl_lock(l->fd, timeout_ms) == -1) {
		*errstr = xasprintf("mbox %s: cannot lock: %s", path,
		    strerror(errno));
		unlock_mbox(l);
		return -1;
	}
	return 0;
}

static void
mb_unlock(struct deliver *d)
{
	struct mbox *m = d->priv;

	unlock_mbox(&m->l);
}

/* Newlines the mbox needs at its end before a From_ line can follow. */
static int
separator(int fd, off_t size)
{
	char last[2];
	ssize_t n;

	if (size == 0)
		return 0;
	n = pread(fd, last, 2, size >= 2 ? size - 2 : 0);
	if (n >= 1 && last[n - 1] != '\n')
		return 2;
	if (n == 2 && last[0] != '\n')
		return 1;
	return 0;
}

static enum deliver_rc
mb_batch_begin(struct deliver *d, char **errstr)
{
	struct mbox *m = d->priv;

	m->journaled = 0;
	if (m->spoolfd == -1) {
		m->spoolfd = open(m->spool, O_RDWR | O_CREAT | O_CLOEXEC |
		    O_NOFOLLOW, 0600);
		if (m->spoolfd == -1) {
			*errstr = xasprintf("mbox %s: cannot create the batch "
			    "spool %s: %s", d->target, m->spool,
			    strerror(errno));
			return DELIVER_TARGET_FAILED;
		}
	}
	if (ftruncate(m->spoolfd, 0) == -1) {
		*errstr = xasprintf("mbox %s: batch spool %s: %s", d->target,
		    m->spool, strerror(errno));
		return DELIVER_TARGET_FAILED;
	}
	m->len = 0;
	m->buflen = 0;
	m->fromlen = mboxrd_from_line(m->from, sizeof m->from, NULL,
	    time(NULL));
	return DELIVER_OK;
}

static int
mb_flush(struct deliver *d, char **errstr)
{
	struct mbox *m = d->priv;
	off_t at = m->len - (off_t)m->buflen;
	ssize_t n;
	size_t off = 0;

	while (off < m->buflen) {
		n = pwrite(m->spoolfd, m->buf + off, m->buflen - off,
		    at + (off_t)off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			*errstr = xasprintf("mbox %s: batch spool %s: %s",
			    d->target, m->spool,
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
	m->len += (off_t)n;
	return 0;
}

static enum deliver_rc
mb_begin(struct deliver *d, const struct msg_meta *meta, char **errstr)
{
	struct mbox *m = d->priv;

	(void)meta;
	m->msgstart = m->len;
	mboxrd_init(&m->q);
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
	return DELIVER_OK;
}

static enum deliver_rc
mb_end(struct deliver *d, char **errstr)
{
	struct mbox *m = d->priv;
	char out[16];

	return mb_add(d, out, mboxrd_finish(&m->q, out), errstr) == -1 ?
	    DELIVER_TARGET_FAILED : DELIVER_OK;
}

/* Takes the current message back: it is only in the spool. */
static void
mb_abort(struct deliver *d)
{
	struct mbox *m = d->priv;
	off_t flushed = m->len - (off_t)m->buflen;

	if (m->msgstart >= flushed)
		m->buflen -= (size_t)(m->len - m->msgstart);
	else {
		m->buflen = 0;
		(void)ftruncate(m->spoolfd, m->msgstart);
	}
	m->len = m->msgstart;
}

/* The spool is durable (recovery appends from it); then the mbox is
 * locked and the batch's place in it is fixed. */
static enum deliver_rc
mb_sync(struct deliver *d, char **errstr)
{
	struct mbox *m = d->priv;
	struct stat st;

	if (mb_flush(d, errstr) == -1)
		return DELIVER_TARGET_FAILED;
	if (fdatasync(m->spoolfd) == -1) {
		*errstr = xasprintf("mbox %s: batch spool %s: fsync: %s",
		    d->target, m->spool, strerror(errno));
		return DELIVER_TARGET_FAILED;
	}
	if (lock_mbox(d->target, d->timeout_ms, &m->l, errstr) == -1)
		return DELIVER_TARGET_FAILED;
	if (fstat(m->l.fd, &st) == -1) {
		*errstr = xasprintf("mbox %s: %s", d->target, strerror(errno));
		mb_unlock(d);
		return DELIVER_TARGET_FAILED;
	}
	m->start = st.st_size;
	/* A From_ line must follow a blank line, or the previous message
	 * would swallow ours. */
	m->addnl = separator(m->l.fd, st.st_size);
	return DELIVER_OK;
}

static void
mb_post_journal(struct deliver *d, struct buf *b)
{
	struct mbox *m = d->priv;

	m->journaled = 1;
	buf_add_u32(b, MBOX_JOURNAL_V2);
	buf_add_str(b, d->target);
	buf_add_str(b, m->spool);
	buf_add_u64(b, (uint64_t)m->start);
	buf_add_u32(b, (uint32_t)m->addnl);
	buf_add_u64(b, (uint64_t)m->len);
}

/* Writes addnl newlines and spool[from, len) to fd at off, in large
 * pieces. 0 or -1 (errno). */
static int
append_spool(int fd, off_t off, int addnl, int spoolfd, off_t from,
    off_t len)
{
	char buf[MBOX_BUFSZ];
	ssize_t n;
	size_t want;

	if (addnl > 0) {
		if (pwrite(fd, "\n\n", (size_t)addnl, off) != addnl)
			return -1;
		off += addnl;
	}
	while (from < len) {
		want = len - from > (off_t)sizeof buf ? sizeof buf :
		    (size_t)(len - from);
		n = pread(spoolfd, buf, want, from);
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			return -1;
		}
		if (write_at(fd, buf, (size_t)n, off) == -1)
			return -1;
		from += n;
		off += n;
	}
	return 0;
}

static enum deliver_rc
mb_publish(struct deliver *d, char **errstr)
{
	struct mbox *m = d->priv;

	if (append_spool(m->l.fd, m->start, m->addnl, m->spoolfd, 0, m->len) ==
	    -1 || fsync(m->l.fd) == -1) {
		*errstr = xasprintf("mbox %s: write: %s", d->target,
		    strerror(errno));
		/* Only our own bytes, under our lock; the journal still lets
		 * the next run deliver the batch from the spool. */
		if (ftruncate(m->l.fd, m->start) == 0)
			fsync(m->l.fd);
		mb_unlock(d);
		return DELIVER_TARGET_FAILED;
	}
	mb_unlock(d);
	return DELIVER_OK;
}

static void
mb_batch_abort(struct deliver *d)
{
	struct mbox *m = d->priv;

	m->buflen = 0;
	m->len = 0;
	if (!m->journaled && m->spoolfd != -1)
		(void)ftruncate(m->spoolfd, 0);
	mb_unlock(d);
}

/*
 * How many bytes at off in fd equal exp[0, explen) (read from the spool
 * after addnl newlines): the length of the matching prefix, up to the end
 * of the file. -1 on a read error.
 */
static off_t
match_prefix(int fd, off_t off, off_t size, int addnl, int spoolfd,
    off_t len)
{
	char a[MBOX_BUFSZ], b[MBOX_BUFSZ];
	off_t k = 0, total = addnl + len;
	ssize_t na, nb;
	size_t want, i;

	while (k < total && off + k < size) {
		want = sizeof a;
		if ((off_t)want > total - k)
			want = (size_t)(total - k);
		if ((off_t)want > size - off - k)
			want = (size_t)(size - off - k);
		if (k < addnl) {
			want = (size_t)(addnl - k);
			memset(b, '\n', want);
			nb = (ssize_t)want;
		} else if ((nb = pread(spoolfd, b, want, k - addnl)) <= 0)
			return -1;
		if ((na = pread(fd, a, (size_t)nb, off + k)) != nb)
			return -1;
		for (i = 0; i < (size_t)nb && a[i] == b[i]; i++)
			;
		k += (off_t)i;
		if (i < (size_t)nb)
			break;
	}
	return k;
}

/*
 * Where another program's mail begins, after a partial append of ours that
 * matched our batch for k bytes from at: the first line in that stretch
 * that starts a message ("From ") but is not our own From_ line (every
 * message of a batch has the same one, the spool's first line). Its first
 * bytes may have matched ours by chance ("From "). at + k when there is
 * none. -1 on a read error.
 */
static off_t
foreign_start(int fd, off_t at, off_t k, off_t size, int spoolfd)
{
	char ours[512], *buf, *p, *end;
	ssize_t n;
	size_t len, ourlen;
	off_t q = -1;

	if ((n = pread(spoolfd, ours, sizeof ours - 1, 0)) <= 0)
		return -1;
	ours[n] = '\0';
	if ((p = memchr(ours, '\n', (size_t)n)) == NULL)
		return at + k;
	ourlen = (size_t)(p - ours) + 1;
	len = (size_t)(size - at < k + 1024 ? size - at : k + 1024);
	buf = xmalloc(len + 1);
	if (pread(fd, buf, len, at) != (ssize_t)len) {
		free(buf);
		return -1;
	}
	end = buf + len;
	for (p = buf; p <= buf + k && p < end; p++) {
		if (p != buf && p[-1] != '\n')
			continue;
		if (end - p >= 5 && memcmp(p, "From ", 5) == 0 &&
		    !((size_t)(end - p) >= ourlen && memcmp(p, ours, ourlen) ==
		    0)) {
			q = at + (p - buf);
			break;
		}
	}
	free(buf);
	return q != -1 ? q : at + k;
}

/* Takes [at, at + k) out of the file: another program's mail after our
 * partial append moves down over it. */
static int
cut_ours(int fd, off_t at, off_t k, off_t size)
{
	off_t tail = size - at - k;
	char *buf;
	int rc = -1;

	if (tail > MOVE_MAX) {
		errno = EFBIG;
		return -1;
	}
	buf = xmalloc(tail > 0 ? (size_t)tail : 1);
	if (pread(fd, buf, (size_t)tail, at + k) == (ssize_t)tail &&
	    write_at(fd, buf, (size_t)tail, at) == 0 &&
	    ftruncate(fd, at + tail) == 0 && fsync(fd) == 0)
		rc = 0;
	free(buf);
	return rc;
}

/*
 * Finishes a journaled append after kill -9, from the spool: whatever of
 * it reached the mbox is completed, or, where another program appended
 * after a partial write of ours, our bytes are cut out first and the batch
 * appended whole. Nothing of anyone else's is truncated.
 */
static enum deliver_recovery
mb_recover(struct deliver *d, int phase, const unsigned char *p, size_t len,
    size_t n, unsigned char *delivered, char **errstr)
{
	struct bufrd r = { p, len };
	char *path = NULL, *spool = NULL;
	uint64_t start, slen;
	uint32_t magic, addnl;
	struct stat st;
	off_t k, f, size;
	struct mlock l;
	int fd, spoolfd = -1;
	enum deliver_recovery res = DELIVER_FINISHED;
	size_t i;

	if (bufrd_u32(&r, &magic) == -1 || magic != MBOX_JOURNAL_V2) {
		/* A journal of popfetch 0.1: its batch was complete when it
		 * said so after sync; before, it may be partial, and is left
		 * alone rather than cut (another program may have written
		 * after it): fetched again. */
		if (phase != DELIVER_PHASE_POST)
			return DELIVER_ROLLED_BACK;
		for (i = 0; i < n; i++)
			delivered[i] = 1;
		return DELIVER_FINISHED;
	}
	if ((path = bufrd_str(&r)) == NULL || (spool = bufrd_str(&r)) ==
	    NULL || bufrd_u64(&r, &start) == -1 || bufrd_u32(&r, &addnl) ==
	    -1 || addnl > 2 || bufrd_u64(&r, &slen) == -1 ||
	    start > INT64_MAX / 2 || slen > INT64_MAX / 2) {
		*errstr = xasprintf("mbox: damaged journal");
		res = DELIVER_RECOVERY_FAILED;
		goto out;
	}
	spoolfd = open(spool, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (spoolfd == -1 || fstat(spoolfd, &st) == -1 ||
	    st.st_size != (off_t)slen) {
		/* The batch cannot be rebuilt: fetched again (at most one
		 * duplicate, never a loss). */
		res = DELIVER_ROLLED_BACK;
		goto out;
	}
	if (lock_mbox(path, d->timeout_ms, &l, errstr) == -1) {
		res = DELIVER_RECOVERY_FAILED;
		goto out;
	}
	fd = l.fd;
	if (fstat(fd, &st) == -1)
		goto ioerr;
	size = st.st_size;
	k = (off_t)start <= size ? match_prefix(fd, (off_t)start, size,
	    (int)addnl, spoolfd, (off_t)slen) : 0;
	if (k == -1)
		goto ioerr;
	if ((off_t)start > size || (k == 0 && (off_t)start < size)) {
		/* Nothing of ours there, and the file changed: append. */
		if (append_spool(fd, size, separator(fd, size), spoolfd, 0,
		    (off_t)slen) == -1)
			goto ioerr;
	} else if (k < (off_t)(addnl + slen) && (off_t)start + k < size) {
		/* Ours, cut short, then someone else's: our bytes go, theirs
		 * move down, and the batch is appended whole. */
		if (k > MOVE_MAX || (f = foreign_start(fd, (off_t)start, k,
		    size, spoolfd)) == -1)
			goto ioerr;
		if (cut_ours(fd, (off_t)start, f - (off_t)start, size) == -1)
			goto ioerr;
		size -= f - (off_t)start;
		if (append_spool(fd, size, separator(fd, size), spoolfd, 0,
		    (off_t)slen) == -1)
			goto ioerr;
	} else if (k < (off_t)(addnl + slen)) {
		/* Ours, cut short at the end: complete it. */
		if (k < (off_t)addnl) {
			if (append_spool(fd, (off_t)start + k,
			    (int)(addnl - k), spoolfd, 0, (off_t)slen) == -1)
				goto ioerr;
		} else if (append_spool(fd, (off_t)start + k, 0, spoolfd,
		    k - addnl, (off_t)slen) == -1)
			goto ioerr;
	}
	if (fsync(fd) == -1)
		goto ioerr;
	for (i = 0; i < n; i++)
		delivered[i] = 1;
	goto unlock;
ioerr:
	*errstr = xasprintf("mbox %s: cannot finish an interrupted delivery: "
	    "%s", path, strerror(errno));
	res = DELIVER_RECOVERY_FAILED;
unlock:
	unlock_mbox(&l);
out:
	if (spoolfd != -1)
		close(spoolfd);
	free(path);
	free(spool);
	return res;
}

static void
mb_close(struct deliver *d)
{
	struct mbox *m = d->priv;

	if (m == NULL)
		return;
	mb_batch_abort(d);
	if (m->spoolfd != -1)
		close(m->spoolfd);
	free(m->spool);
	free(m->buf);
	free(m);
	d->priv = NULL;
}

const struct deliver_ops deliver_mbox_ops = {
	.name = "mbox",
	.stream = 1,
	.open = mb_open,
	.batch_begin = mb_batch_begin,
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
