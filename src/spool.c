/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "spool.h"
#include "util.h"
#include "xmalloc.h"

#define SPOOL_HDR_SCAN	(64 * 1024)

struct spool {
	char	*dir;
	int	 fd;
};

struct spool *
spool_new(const char *dir)
{
	struct spool *s = xcalloc(1, sizeof *s);

	s->dir = xstrdup(dir);
	s->fd = -1;
	return s;
}

void
spool_free(struct spool *s)
{
	if (s == NULL)
		return;
	if (s->fd != -1)
		close(s->fd);
	free(s->dir);
	free(s);
}

static int
spool_open(struct spool *s, char **errstr)
{
	char *path;

	/* Unnamed: nothing to clean up after a crash. */
	s->fd = open(s->dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (s->fd != -1)
		return 0;
	path = xasprintf("%s/spool.XXXXXX", s->dir);
	s->fd = mkostemp(path, O_CLOEXEC);
	if (s->fd != -1)
		unlink(path);
	free(path);
	if (s->fd == -1) {
		*errstr = xasprintf("cannot create a spool file in %s: %s",
		    s->dir, strerror(errno));
		return -1;
	}
	return 0;
}

int
spool_reset(struct spool *s, char **errstr)
{
	if (s->fd == -1 && spool_open(s, errstr) == -1)
		return -1;
	if (ftruncate(s->fd, 0) == -1 || lseek(s->fd, 0, SEEK_SET) == -1) {
		*errstr = xasprintf("spool file in %s: %s", s->dir,
		    strerror(errno));
		return -1;
	}
	return 0;
}

int
spool_write(struct spool *s, const char *buf, size_t len, char **errstr)
{
	if (write_all(s->fd, buf, len) == -1) {
		*errstr = xasprintf("spool file in %s: %s", s->dir,
		    strerror(errno));
		return -1;
	}
	return 0;
}

int
spool_replay(struct spool *s, int (*fn)(void *, const char *, size_t),
    void *ctx, char **errstr)
{
	char buf[64 * 1024];
	ssize_t n;
	off_t off = 0;

	while ((n = pread(s->fd, buf, sizeof buf, off)) > 0) {
		off += n;
		if (fn(ctx, buf, (size_t)n) == -1)
			return -1;
	}
	if (n == -1) {
		*errstr = xasprintf("reading the spool: %s", strerror(errno));
		return -1;
	}
	return 0;
}

char *
spool_sender(struct spool *s)
{
	char buf[SPOOL_HDR_SCAN + 1], *p, *end, *lt, *gt;
	ssize_t n;

	n = pread(s->fd, buf, SPOOL_HDR_SCAN, 0);
	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	for (p = buf; p < buf + n; p = end + 1) {
		end = memchr(p, '\n', (size_t)(buf + n - p));
		if (end == NULL || end == p)
			break;
		if (strncasecmp(p, "Return-Path:", 12) != 0)
			continue;
		*end = '\0';
		lt = strchr(p, '<');
		gt = lt ? strchr(lt, '>') : NULL;
		if (lt != NULL && gt != NULL)
			return xstrndup(lt + 1, (size_t)(gt - lt - 1));
		return NULL;
	}
	return NULL;
}
