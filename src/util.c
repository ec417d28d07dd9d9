/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util.h"
#include "xmalloc.h"

int
write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
write_at(int fd, const void *buf, size_t len, off_t off)
{
	const char *p = buf;
	ssize_t n;

	while (len > 0) {
		n = pwrite(fd, p, len, off);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			errno = ENOSPC;
			return -1;
		}
		p += n;
		off += n;
		len -= (size_t)n;
	}
	return 0;
}

int
fsync_dir(const char *path)
{
	int fd, rc, saved;

	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1)
		return -1;
	rc = fsync(fd);
	saved = errno;
	close(fd);
	errno = saved;
	return rc;
}

/* Creates one directory; when it is new, its parent's entry for it is made
 * durable (a power cut must not take a directory that holds mail). */
static int
mkdir_durable(char *buf, mode_t mode)
{
	char *slash;
	int rc;

	if (mkdir(buf, mode) == -1)
		return errno == EEXIST ? 0 : -1;
	slash = strrchr(buf, '/');
	if (slash == NULL)
		return fsync_dir(".");
	if (slash == buf)
		return fsync_dir("/");
	*slash = '\0';
	rc = fsync_dir(buf);
	*slash = '/';
	return rc;
}

int
mkdir_p(const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	size_t len = strlen(path);
	char *p;

	if (len == 0 || len >= sizeof buf) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(buf, path, len + 1);
	for (p = buf + 1; *p != '\0'; p++) {
		if (*p != '/' || p[-1] == '/')
			continue;
		*p = '\0';
		if (mkdir_durable(buf, mode) == -1)
			return -1;
		*p = '/';
	}
	return mkdir_durable(buf, mode);
}

int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
wipe(void *p, size_t len)
{
#ifdef HAVE_EXPLICIT_BZERO
	explicit_bzero(p, len);
#else
	volatile unsigned char *v = p;

	while (len--)
		*v++ = 0;
#endif
}

void
free_secret(char *s)
{
	if (s == NULL)
		return;
	wipe(s, strlen(s));
	free(s);
}

int
parse_number(const char *s, long long min, long long max, long long *out)
{
	char *end;
	long long v;

	if (s == NULL || *s == '\0' || *s == '-' || *s == '+' || *s == ' ')
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int
parse_seconds_ms(const char *s, long long min_ms, long long max_ms,
    long long *out_ms)
{
	long long whole = 0, frac = 0;
	int digits = 0, nfrac = 0;

	if (s == NULL)
		return -1;
	for (; *s >= '0' && *s <= '9'; s++, digits++)
		if ((whole = whole * 10 + (*s - '0')) > 1000000000LL)
			return -1;
	if (*s == '.')
		for (s++; *s >= '0' && *s <= '9'; s++, nfrac++) {
			if (nfrac == 3)
				return -1;
			frac = frac * 10 + (*s - '0');
			digits++;
		}
	if (*s != '\0' || digits == 0)
		return -1;
	while (nfrac++ < 3)
		frac *= 10;
	whole = whole * 1000 + frac;
	if (whole < min_ms || whole > max_ms)
		return -1;
	*out_ms = whole;
	return 0;
}

const char *
show_ms(char *buf, size_t sz, long long ms)
{
	if (ms % 1000 == 0)
		snprintf(buf, sz, "%lld s", ms / 1000);
	else if (ms % 100 == 0)
		snprintf(buf, sz, "%lld.%lld s", ms / 1000, ms % 1000 / 100);
	else
		snprintf(buf, sz, "%lld.%03lld s", ms / 1000, ms % 1000);
	return buf;
}

int
read_file(const char *path, size_t max, char **buf, size_t *len)
{
	struct stat st;
	ssize_t n;
	size_t got = 0;
	int fd, saved;
	char *b;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1)
		return -1;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size > max) {
		saved = S_ISREG(st.st_mode) ? EFBIG : EINVAL;
		close(fd);
		errno = saved;
		return -1;
	}
	if ((b = malloc((size_t)st.st_size + 1)) == NULL) {
		close(fd);
		errno = ENOMEM;
		return -1;
	}
	while (got < (size_t)st.st_size && (n = read(fd, b + got,
	    (size_t)st.st_size - got)) != 0) {
		if (n == -1) {
			if (errno == EINTR)
				continue;
			saved = errno;
			free(b);
			close(fd);
			errno = saved;
			return -1;
		}
		got += (size_t)n;
	}
	close(fd);
	b[got] = '\0';
	*buf = b;
	*len = got;
	return 0;
}

/* Swaps two elements of sz bytes, in pieces, without a heap buffer. */
static void
swap_elems(unsigned char *a, unsigned char *b, size_t sz)
{
	unsigned char t[64];
	size_t n;

	while (sz > 0) {
		n = sz < sizeof t ? sz : sizeof t;
		memcpy(t, a, n);
		memcpy(a, b, n);
		memcpy(b, t, n);
		a += n;
		b += n;
		sz -= n;
	}
}

static void
sift_down(unsigned char *base, size_t root, size_t n, size_t sz,
    int (*cmp)(const void *, const void *))
{
	size_t child;

	while ((child = 2 * root + 1) < n) {
		if (child + 1 < n && cmp(base + child * sz,
		    base + (child + 1) * sz) < 0)
			child++;
		if (cmp(base + root * sz, base + child * sz) >= 0)
			return;
		swap_elems(base + root * sz, base + child * sz, sz);
		root = child;
	}
}

/*
 * glibc's qsort is a merge sort that mallocs a copy of the whole array:
 * for a listing of a million messages that copy is the peak of the run's
 * memory. A heap sort needs no memory and is O(n log n) on any input;
 * input already in order (listings come in message order) is only
 * checked.
 */
void
sort_inplace(void *base, size_t n, size_t sz,
    int (*cmp)(const void *, const void *))
{
	unsigned char *b = base;
	size_t i;

	for (i = 1; i < n && cmp(b + (i - 1) * sz, b + i * sz) <= 0; i++)
		;
	if (i >= n)
		return;
	for (i = n / 2; i-- > 0;)
		sift_down(b, i, n, sz, cmp);
	for (i = n; i-- > 1;) {
		swap_elems(b, b + i * sz, sz);
		sift_down(b, 0, i, sz, cmp);
	}
}

void
push_u32(uint32_t **a, size_t *n, size_t *cap, uint32_t v)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 64;
		*a = xreallocarray(*a, *cap, sizeof **a);
	}
	(*a)[(*n)++] = v;
}
