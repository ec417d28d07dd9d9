/* SPDX-License-Identifier: ISC */
/*
 * Maildir delivery, exactly once: each message is written and fsynced in
 * tmp/, the batch's names are journaled, then renamed into new/ and new/ is
 * fsynced. Recovery renames whatever the journal lists and is still in tmp/
 * (the message was complete and durable before it was journaled).
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/time.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "deliver.h"
#include "util.h"
#include "xmalloc.h"

struct maildir {
	char	**names;	/* this batch's files, ended and in tmp/ */
	size_t	  nnames;
	char	 *cur;		/* the message being written */
	int	  fd;
	unsigned  seq;
	char	  host[256];
};

/*
 * A run killed before it journaled its batch leaves complete or partial
 * files in tmp/. Our names carry "P<pid>Q<n>PF.<host>": one whose process
 * is gone on this host is ours to remove (its message was never recorded,
 * so it is fetched again). Others' files are never touched.
 */
static void
md_clean_tmp(struct deliver *d)
{
	struct maildir *m = d->priv;
	char path[PATH_MAX];
	struct dirent *de;
	const char *p, *dot;
	long pid;
	int n;
	DIR *dir;

	snprintf(path, sizeof path, "%s/tmp", d->target);
	if ((dir = opendir(path)) == NULL)
		return;
	while ((de = readdir(dir)) != NULL) {
		p = strstr(de->d_name, ".M");
		if (p == NULL || (p = strchr(p, 'P')) == NULL ||
		    sscanf(p, "P%ldQ%*uPF%n", &pid, &n) != 1 || n <= 0)
			continue;
		dot = p + n;
		if (*dot != '.' || strcmp(dot + 1, m->host) != 0 || pid <= 0 ||
		    pid == (long)getpid())
			continue;
		if (kill((pid_t)pid, 0) == -1 && errno == ESRCH) {
			snprintf(path, sizeof path, "%s/tmp/%s", d->target,
			    de->d_name);
			unlink(path);
		}
	}
	closedir(dir);
}

static enum deliver_rc
md_open(struct deliver *d, char **errstr)
{
	static const char *sub[] = { "tmp", "new", "cur" };
	struct maildir *m = xcalloc(1, sizeof *m);
	char path[PATH_MAX];
	size_t i, o = 0;
	char h[256];

	d->priv = m;
	m->fd = -1;
	if (gethostname(h, sizeof h) == -1)
		snprintf(h, sizeof h, "localhost");
	h[sizeof h - 1] = '\0';
	/* '/' and ':' cannot appear in a Maildir name (Maildir spec). */
	for (i = 0; h[i] != '\0' && o + 5 < sizeof m->host; i++) {
		if (h[i] == '/')
			o += (size_t)snprintf(m->host + o, 5, "\\057");
		else if (h[i] == ':')
			o += (size_t)snprintf(m->host + o, 5, "\\072");
		else
			m->host[o++] = h[i];
	}
	m->host[o] = '\0';
	for (i = 0; i < 3; i++) {
		snprintf(path, sizeof path, "%s/%s", d->target, sub[i]);
		if (mkdir_p(path, 0700) == -1) {
			*errstr = xasprintf("maildir %s: cannot create %s: %s",
			    d->target, path, strerror(errno));
			return DELIVER_TARGET_FAILED;
		}
	}
	md_clean_tmp(d);
	return 0;
}

static void
md_clear(struct maildir *m)
{
	size_t i;

	for (i = 0; i < m->nnames; i++)
		free(m->names[i]);
	free(m->names);
	m->names = NULL;
	m->nnames = 0;
}

static enum deliver_rc
md_batch_begin(struct deliver *d, char **errstr)
{
	md_clear(d->priv);
	return 0;
}

static enum deliver_rc
md_begin(struct deliver *d, const struct msg_meta *meta, char **errstr)
{
	struct maildir *m = d->priv;
	struct timeval tv;
	char path[PATH_MAX];

	gettimeofday(&tv, NULL);
	free(m->cur);
	m->cur = xasprintf("%lld.M%06ldP%dQ%uPF.%s", (long long)tv.tv_sec,
	    (long)tv.tv_usec, (int)getpid(), ++m->seq, m->host);
	snprintf(path, sizeof path, "%s/tmp/%s", d->target, m->cur);
	m->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (m->fd == -1) {
		*errstr = xasprintf("maildir %s: cannot create %s: %s",
		    d->target, path, strerror(errno));
		return DELIVER_TARGET_FAILED;
	}
	return 0;
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
	return 0;
}

static void
md_abort(struct deliver *d)
{
	struct maildir *m = d->priv;
	char path[PATH_MAX];

	if (m->fd != -1)
		close(m->fd);
	m->fd = -1;
	if (m->cur != NULL) {
		snprintf(path, sizeof path, "%s/tmp/%s", d->target, m->cur);
		unlink(path);
		free(m->cur);
		m->cur = NULL;
	}
}

static enum deliver_rc
md_end(struct deliver *d, char **errstr)
{
	struct maildir *m = d->priv;
	int rc;

	rc = fsync(m->fd);
	if (rc == 0)
		rc = close(m->fd);
	else
		close(m->fd);
	m->fd = -1;
	if (rc == -1) {
		*errstr = xasprintf("maildir %s: saving tmp/%s: %s",
		    d->target, m->cur, strerror(errno));
		md_abort(d);
		return DELIVER_TARGET_FAILED;
	}
	m->names = xreallocarray(m->names, m->nnames + 1, sizeof *m->names);
	m->names[m->nnames++] = m->cur;
	m->cur = NULL;
	return 0;
}

static enum deliver_rc
md_sync(struct deliver *d, char **errstr)
{
	char path[PATH_MAX];

	/* The journal will name these files: their entries must outlive a
	 * power failure before it does. */
	snprintf(path, sizeof path, "%s/tmp", d->target);
	if (fsync_dir(path) == -1) {
		*errstr = xasprintf("maildir %s: fsync tmp/: %s", d->target,
		    strerror(errno));
		return DELIVER_TARGET_FAILED;
	}
	return 0;
}

static void
md_post_journal(struct deliver *d, struct buf *b)
{
	struct maildir *m = d->priv;
	size_t i;

	buf_add_str(b, d->target);
	buf_add_u32(b, (uint32_t)m->nnames);
	for (i = 0; i < m->nnames; i++)
		buf_add_str(b, m->names[i]);
}

/* Renames tmp/name to new/name; a name already gone from tmp/ was moved by
 * an earlier attempt (or by the user's mail reader afterwards). */
static int
md_move(const char *dir, const char *name, char **errstr)
{
	char from[PATH_MAX], to[PATH_MAX];

	if (strchr(name, '/') != NULL || strcmp(name, "..") == 0) {
		*errstr = xasprintf("maildir %s: bad name in journal", dir);
		return -1;
	}
	snprintf(from, sizeof from, "%s/tmp/%s", dir, name);
	snprintf(to, sizeof to, "%s/new/%s", dir, name);
	if (rename(from, to) == -1 && errno != ENOENT) {
		*errstr = xasprintf("maildir %s: rename tmp/%s to new/: %s",
		    dir, name, strerror(errno));
		return -1;
	}
	return 0;
}

static int
md_fsync_new(const char *dir, char **errstr)
{
	char path[PATH_MAX];

	snprintf(path, sizeof path, "%s/new", dir);
	if (fsync_dir(path) == -1) {
		*errstr = xasprintf("maildir %s: fsync new/: %s", dir,
		    strerror(errno));
		return -1;
	}
	return 0;
}

static enum deliver_rc
md_publish(struct deliver *d, char **errstr)
{
	struct maildir *m = d->priv;
	size_t i;

	for (i = 0; i < m->nnames; i++)
		if (md_move(d->target, m->names[i], errstr) == -1)
			return DELIVER_TARGET_FAILED;
	if (md_fsync_new(d->target, errstr) == -1)
		return DELIVER_TARGET_FAILED;
	md_clear(m);
	return 0;
}

static void
md_batch_abort(struct deliver *d)
{
	struct maildir *m = d->priv;
	char path[PATH_MAX];
	size_t i;

	md_abort(d);
	for (i = 0; i < m->nnames; i++) {
		snprintf(path, sizeof path, "%s/tmp/%s", d->target,
		    m->names[i]);
		unlink(path);
	}
	md_clear(m);
}

static enum deliver_recovery
md_recover(struct deliver *d, int phase, const unsigned char *p, size_t len,
    char **errstr)
{
	struct bufrd r = { p, len };
	enum deliver_recovery res = DELIVER_FINISHED;
	char *dir, *name;
	uint32_t i, n;

	if ((dir = bufrd_str(&r)) == NULL || bufrd_u32(&r, &n) == -1) {
		free(dir);
		*errstr = xasprintf("maildir: damaged journal");
		return DELIVER_RECOVERY_FAILED;
	}
	for (i = 0; i < n && res == DELIVER_FINISHED; i++) {
		if ((name = bufrd_str(&r)) == NULL) {
			*errstr = xasprintf("maildir %s: damaged journal", dir);
			res = DELIVER_RECOVERY_FAILED;
			break;
		}
		if (md_move(dir, name, errstr) == -1)
			res = DELIVER_RECOVERY_FAILED;
		free(name);
	}
	if (res == DELIVER_FINISHED && md_fsync_new(dir, errstr) == -1)
		res = DELIVER_RECOVERY_FAILED;
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
	free(m->cur);
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
	.sync = md_sync,
	.post_journal = md_post_journal,
	.publish = md_publish,
	.batch_abort = md_batch_abort,
	.recover = md_recover,
	.close = md_close,
};
