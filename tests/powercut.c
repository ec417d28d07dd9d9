/* SPDX-License-Identifier: ISC */
/*
 * powercut - simulated power loss for popfetch's crash tests.
 *
 * kill -9 keeps the page cache: everything written survives, durable or
 * not. A power cut keeps only what was made durable. This file is built
 * twice:
 *
 *  - tests/powercut.so, an LD_PRELOAD shim. With POWERCUT_DIR (a shadow
 *    store) and POWERCUT_ROOTS (colon-separated directories) set, it
 *    records at each fsync(2), fdatasync(2), syncfs(2) and sync(2) what that
 *    call made durable under the roots. Unset, it only passes calls on.
 *  - tests/powercut, the tool: "sync" takes the baseline (everything that
 *    exists before the test is durable), "restore" rebuilds a root as a
 *    power cut at this instant would leave it, "show" prints that tree.
 *
 * The model is what POSIX promises and nothing more:
 *  - a regular file's data is what it held at its last fsync or fdatasync
 *    (a durable name whose data was never synced comes back empty);
 *  - a directory's entries are what it listed at its last fsync: a name
 *    created, renamed or unlinked since is undone, and a directory whose
 *    name is durable but which was never fsynced itself comes back empty;
 *  - sync() and syncfs() make everything under the roots durable;
 *  - a root itself is durable (the baseline lists it).
 * One file reached by two durable names (tmp/x and new/x after a rename
 * whose source directory was not synced) comes back as two hard links.
 *
 * Shadow store (POWERCUT_DIR): data/KEY holds a file's durable bytes,
 * dirs/KEY a directory's durable listing, roots each root's KEY at the
 * baseline, log one line per event. KEY is device, inode and birth time,
 * so a reused inode number is a new key.
 * Every record is written under a temporary name and renamed into place,
 * so a process killed while recording leaves the previous record whole.
 *
 * sync_file_range(2) promises nothing durable (no metadata, no device
 * cache flush) and is not looked at.
 * Not modelled (logged as UNMODELLED, and as an alert: see logf_):
 * files opened O_SYNC or O_DSYNC under a root. Writes through mmap are not
 * seen either; popfetch and Berkeley DB (as popfetch configures it) use
 * neither.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAXROOTS	8
#define KEYLEN		64
#define CHUNK		65536

static char	 shadow[PATH_MAX];
static char	 roots[MAXROOTS][PATH_MAX];
static int	 nroots;

struct node {
	char		 key[KEYLEN];
	mode_t		 mode;
};

/* snprintf for paths: -1 (ENAMETOOLONG) instead of a truncated path. */
static int __attribute__((format(printf, 3, 4)))
pathf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= size) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

static void
append(const char *path, const char *line, size_t n)
{
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd == -1)
		return;
	if (write(fd, line, n) != (ssize_t)n) {
		/* nothing to do: the log is only for reading */
	}
	close(fd);
}

/*
 * Appends one line to the shadow's log (best effort: it is for humans).
 * An alert (the model is wrong or incomplete) also goes to the file named
 * by POWERCUT_ALERTS, which outlives the shadow, for the test to check.
 */
static void __attribute__((format(printf, 2, 3)))
logf_(int alert, const char *fmt, ...)
{
	char path[PATH_MAX + 8], line[2 * PATH_MAX];
	const char *alerts;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof line - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof line - 2)
		n = (int)sizeof line - 2;
	line[n++] = '\n';
	if (pathf(path, sizeof path, "%s/log", shadow) == 0)
		append(path, line, (size_t)n);
	if (alert && (alerts = getenv("POWERCUT_ALERTS")) != NULL &&
	    *alerts != '\0')
		append(alerts, line, (size_t)n);
}

/* KEY of the file at dirfd/name (name "" with AT_EMPTY_PATH: dirfd). */
static int
node_at(int dirfd, const char *name, int flags, struct node *nd)
{
	struct statx sx;
	unsigned long long bt = 0;

	if (statx(dirfd, name, flags | AT_SYMLINK_NOFOLLOW,
	    STATX_TYPE | STATX_MODE | STATX_INO | STATX_BTIME, &sx) == -1)
		return -1;
	if (sx.stx_mask & STATX_BTIME)
		bt = (unsigned long long)sx.stx_btime.tv_sec * 1000000000ULL +
		    sx.stx_btime.tv_nsec;
	snprintf(nd->key, sizeof nd->key, "%x.%x-%llx-%llx",
	    sx.stx_dev_major, sx.stx_dev_minor,
	    (unsigned long long)sx.stx_ino, bt);
	nd->mode = sx.stx_mode;
	return 0;
}

/* Writes len bytes at path under a temporary name, then renames. */
static int
put_file(const char *path, int (*fill)(int, void *), void *ctx)
{
	char tmp[PATH_MAX + 32];
	int fd, rc;

	/* By thread: popfetch syncs from more than one (a Maildir batch's
	 * new/ is fsynced by the thread that publishes it). */
	if (pathf(tmp, sizeof tmp, "%s.tmp.%ld.%ld", path, (long)getpid(),
	    (long)gettid()) == -1)
		return -1;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd == -1)
		return -1;
	rc = fill(fd, ctx);
	if (close(fd) == -1)
		rc = -1;
	if (rc == 0)
		rc = rename(tmp, path);
	if (rc == -1)
		unlink(tmp);
	return rc;
}

static int
write_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = write(fd, p, n);
		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Copies the file open on *(int *)ctx, keeping holes (Berkeley DB's log is
 * a megabyte of mostly zeros). */
static int
fill_copy(int out, void *ctx)
{
	static const char zero[CHUNK];
	char buf[CHUNK];
	int in = *(int *)ctx;
	off_t off = 0;
	ssize_t n;

	for (;;) {
		n = pread(in, buf, sizeof buf, off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		if (n == 0)
			break;
		if (memcmp(buf, zero, (size_t)n) != 0 &&
		    (lseek(out, off, SEEK_SET) == -1 ||
		    write_all(out, buf, (size_t)n) == -1))
			return -1;
		off += n;
	}
	return ftruncate(out, off);
}

/* Records the current bytes of the regular file open on fd as durable. */
static int
record_data(int fd, const struct node *nd, const char *path)
{
	char proc[64], dst[PATH_MAX];
	int in, rc;

	/* fd may be write-only: read through a second open of the same file. */
	snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
	if ((in = open(proc, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	rc = pathf(dst, sizeof dst, "%s/data/%s", shadow, nd->key);
	if (rc == 0)
		rc = put_file(dst, fill_copy, &in);
	close(in);
	logf_(rc == -1, "%ld data %s %s%s", (long)getpid(), nd->key, path,
	    rc == -1 ? " (FAILED TO RECORD)" : "");
	return rc;
}

/* One listing line per entry: TYPE MODE KEY NAMELEN NAME [TLEN TARGET]. */
static int
fill_listing(int out, void *ctx)
{
	int dfd = *(int *)ctx, fd;
	char line[3 * PATH_MAX], target[PATH_MAX];
	struct dirent *de;
	struct node nd;
	ssize_t tl;
	int n, rc = 0;
	DIR *d;

	/* A new open file description: reading must not move the caller's
	 * offset in its own directory stream. */
	if ((fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (node_at(dfd, de->d_name, 0, &nd) == -1)
			continue;	/* gone meanwhile */
		n = snprintf(line, sizeof line, "%c %o %s %zu %s",
		    S_ISDIR(nd.mode) ? 'd' : S_ISREG(nd.mode) ? 'f' :
		    S_ISLNK(nd.mode) ? 'l' : 'o', (unsigned)(nd.mode & 07777),
		    nd.key, strlen(de->d_name), de->d_name);
		if (S_ISLNK(nd.mode)) {
			tl = readlinkat(dfd, de->d_name, target,
			    sizeof target - 1);
			if (tl < 0)
				tl = 0;
			target[tl] = '\0';
			n += snprintf(line + n, sizeof line - (size_t)n,
			    " %zd %s", tl, target);
		}
		line[n++] = '\n';
		if (write_all(out, line, (size_t)n) == -1) {
			rc = -1;
			break;
		}
	}
	closedir(d);
	return rc;
}

/* Records the current entries of the directory open on fd as durable. */
static int
record_listing(int fd, const struct node *nd, const char *path)
{
	char dst[PATH_MAX];
	int rc;

	rc = pathf(dst, sizeof dst, "%s/dirs/%s", shadow, nd->key);
	if (rc == 0)
		rc = put_file(dst, fill_listing, &fd);
	logf_(rc == -1, "%ld dir %s %s%s", (long)getpid(), nd->key, path,
	    rc == -1 ? " (FAILED TO RECORD)" : "");
	return rc;
}

static int
under_root(const char *path)
{
	size_t n;
	int i;

	for (i = 0; i < nroots; i++) {
		n = strlen(roots[i]);
		if (strncmp(path, roots[i], n) == 0 &&
		    (path[n] == '\0' || path[n] == '/'))
			return 1;
	}
	return 0;
}

/* Records everything under path (a directory) as durable. */
static int
record_tree(const char *path)
{
	char sub[PATH_MAX];
	struct dirent *de;
	struct node nd;
	int fd, efd, rc = 0;
	DIR *d;

	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	if (node_at(fd, "", AT_EMPTY_PATH, &nd) == -1 ||
	    record_listing(fd, &nd, path) == -1) {
		close(fd);
		return -1;
	}
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (node_at(fd, de->d_name, 0, &nd) == -1)
			continue;
		if (pathf(sub, sizeof sub, "%s/%s", path, de->d_name) == -1) {
			rc = -1;
			continue;
		}
		if (S_ISDIR(nd.mode)) {
			if (record_tree(sub) == -1)
				rc = -1;
		} else if (S_ISREG(nd.mode)) {
			efd = openat(fd, de->d_name,
			    O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
			if (efd == -1 || record_data(efd, &nd, sub) == -1)
				rc = -1;
			if (efd != -1)
				close(efd);
		}
	}
	closedir(d);
	return rc;
}

static void
note_sync_all(const char *call)
{
	int i;

	logf_(0, "%ld %s: everything under the roots is durable", (long)getpid(),
	    call);
	for (i = 0; i < nroots; i++)
		record_tree(roots[i]);
}

#ifndef POWERCUT_TOOL

/* ---- the LD_PRELOAD shim ---- */

static int	 active = -1;	/* not yet looked at; 0 inert; 1 recording */


/* Reads the environment once; returns whether we are recording. */
static int
setup(void)
{
	const char *d, *r, *colon;
	char part[PATH_MAX];
	size_t n;

	if (active != -1)
		return active;
	active = 0;
	if ((d = getenv("POWERCUT_DIR")) == NULL || *d == '\0' ||
	    (r = getenv("POWERCUT_ROOTS")) == NULL)
		return 0;
	if (realpath(d, shadow) == NULL)
		return 0;
	while (*r != '\0' && nroots < MAXROOTS) {
		colon = strchr(r, ':');
		n = colon ? (size_t)(colon - r) : strlen(r);
		if (n > 0 && n < sizeof part) {
			memcpy(part, r, n);
			part[n] = '\0';
			if (realpath(part, roots[nroots]) != NULL)
				nroots++;
		}
		r += n;
		if (*r == ':')
			r++;
	}
	if (under_root(shadow)) {
		fprintf(stderr, "powercut.so: POWERCUT_DIR %s is inside a "
		    "watched root: not recording\n", shadow);
		nroots = 0;
	}
	active = nroots > 0;
	return active;
}

/* Records what fsync(fd) makes durable, if fd is under a root. */
static void
note_fsync(int fd, const char *call)
{
	char proc[64], path[PATH_MAX];
	struct node nd;
	ssize_t n;
	char *del;

	snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
	if ((n = readlink(proc, path, sizeof path - 1)) <= 0)
		return;
	path[n] = '\0';
	/* An unlinked (or O_TMPFILE) file keeps its data under its key, for a
	 * later link(2) to find. */
	if ((del = strstr(path, " (deleted)")) != NULL && del[10] == '\0')
		*del = '\0';
	if (!under_root(path) || node_at(fd, "", AT_EMPTY_PATH, &nd) == -1)
		return;
	logf_(0, "%ld %s(%d) %s", (long)getpid(), call, fd, path);
	if (S_ISREG(nd.mode))
		record_data(fd, &nd, path);
	else if (S_ISDIR(nd.mode))
		record_listing(fd, &nd, path);
}

static void *
real(const char *name)
{
	void *f = dlsym(RTLD_NEXT, name);

	if (f == NULL) {
		fprintf(stderr, "powercut.so: no %s in libc\n", name);
		abort();
	}
	return f;
}

int
fsync(int fd)
{
	static int (*f)(int);
	int rc;

	if (f == NULL)
		f = (int (*)(int))real("fsync");
	rc = f(fd);
	if (rc == 0 && setup())
		note_fsync(fd, "fsync");
	return rc;
}

int
fdatasync(int fd)
{
	static int (*f)(int);
	int rc;

	if (f == NULL)
		f = (int (*)(int))real("fdatasync");
	rc = f(fd);
	if (rc == 0 && setup())
		note_fsync(fd, "fdatasync");
	return rc;
}

int
syncfs(int fd)
{
	static int (*f)(int);
	int rc;

	if (f == NULL)
		f = (int (*)(int))real("syncfs");
	rc = f(fd);
	if (rc == 0 && setup())
		note_sync_all("syncfs");
	return rc;
}

void
sync(void)
{
	static void (*f)(void);

	if (f == NULL)
		f = (void (*)(void))real("sync");
	f();
	if (setup())
		note_sync_all("sync");
}

/* Synchronous writes are durable per write(2): not modelled, so flagged. */
static void
check_open(int dirfd, const char *path, int flags)
{
	char full[PATH_MAX], abs[PATH_MAX], proc[64];
	ssize_t n;

	if (!(flags & (O_SYNC | O_DSYNC)) || !setup())
		return;
	if (path[0] == '/') {
		if (pathf(full, sizeof full, "%s", path) == -1)
			return;
	} else {
		if (dirfd == AT_FDCWD) {
			if (getcwd(abs, sizeof abs) == NULL)
				return;
		} else {
			snprintf(proc, sizeof proc, "/proc/self/fd/%d", dirfd);
			if ((n = readlink(proc, abs, sizeof abs - 1)) <= 0)
				return;
			abs[n] = '\0';
		}
		if (pathf(full, sizeof full, "%s/%s", abs, path) == -1)
			return;
	}
	if (under_root(full))
		logf_(1, "%ld UNMODELLED open with O_SYNC/O_DSYNC: %s",
		    (long)getpid(), full);
}

static int
open_mode(int flags, va_list ap)
{
	return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ?
	    va_arg(ap, int) : 0;
}

int
open(const char *path, int flags, ...)
{
	static int (*f)(const char *, int, ...);
	va_list ap;
	int mode;

	if (f == NULL)
		f = (int (*)(const char *, int, ...))real("open");
	va_start(ap, flags);
	mode = open_mode(flags, ap);
	va_end(ap);
	check_open(AT_FDCWD, path, flags);
	return f(path, flags, mode);
}

int
open64(const char *path, int flags, ...)
{
	static int (*f)(const char *, int, ...);
	va_list ap;
	int mode;

	if (f == NULL)
		f = (int (*)(const char *, int, ...))real("open64");
	va_start(ap, flags);
	mode = open_mode(flags, ap);
	va_end(ap);
	check_open(AT_FDCWD, path, flags);
	return f(path, flags, mode);
}

int
openat(int dirfd, const char *path, int flags, ...)
{
	static int (*f)(int, const char *, int, ...);
	va_list ap;
	int mode;

	if (f == NULL)
		f = (int (*)(int, const char *, int, ...))real("openat");
	va_start(ap, flags);
	mode = open_mode(flags, ap);
	va_end(ap);
	check_open(dirfd, path, flags);
	return f(dirfd, path, flags, mode);
}

int
openat64(int dirfd, const char *path, int flags, ...)
{
	static int (*f)(int, const char *, int, ...);
	va_list ap;
	int mode;

	if (f == NULL)
		f = (int (*)(int, const char *, int, ...))real("openat64");
	va_start(ap, flags);
	mode = open_mode(flags, ap);
	va_end(ap);
	check_open(dirfd, path, flags);
	return f(dirfd, path, flags, mode);
}

#else /* POWERCUT_TOOL */

/* ---- the tool: baseline, restore, show ---- */

/* Where each key was first materialised, to make hard links. */
struct made {
	char		 key[KEYLEN];
	char		*path;
};
static struct made	*made;
static size_t		 nmade;
static int		 errors;

static void __attribute__((format(printf, 1, 2)))
warnx_(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "powercut: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	errors++;
}

static const char *
made_path(const char *key)
{
	size_t i;

	for (i = 0; i < nmade; i++)
		if (strcmp(made[i].key, key) == 0)
			return made[i].path;
	return NULL;
}

static void
made_add(const char *key, const char *path)
{
	struct made *m = realloc(made, (nmade + 1) * sizeof *made);

	if (m == NULL || (m[nmade].path = strdup(path)) == NULL) {
		fprintf(stderr, "powercut: out of memory\n");
		exit(1);
	}
	made = m;
	snprintf(made[nmade].key, sizeof made[nmade].key, "%s", key);
	nmade++;
}

struct entry {
	char		 type;
	unsigned	 mode;
	char		 key[KEYLEN];
	char		 name[NAME_MAX + 1];
	char		 target[PATH_MAX];
};

/* Parses one listing line; 0, or -1 when damaged. */
static int
parse_entry(const char *line, struct entry *e)
{
	char key[KEYLEN];
	size_t nlen, tlen;
	int off = 0;
	const char *p;

	memset(e, 0, sizeof *e);
	if (sscanf(line, "%c %o %63s %zu %n", &e->type, &e->mode, key, &nlen,
	    &off) != 4 || off == 0 || nlen == 0 || nlen > NAME_MAX ||
	    strlen(line + off) < nlen)
		return -1;
	snprintf(e->key, sizeof e->key, "%s", key);
	memcpy(e->name, line + off, nlen);
	p = line + off + nlen;
	if (e->type == 'l') {
		off = 0;
		if (sscanf(p, " %zu %n", &tlen, &off) != 1 || off == 0 ||
		    tlen >= sizeof e->target || strlen(p + off) < tlen)
			return -1;
		memcpy(e->target, p + off, tlen);
	}
	return 0;
}

/* Copies the durable bytes of key into a new file at path. */
static int
make_file(const char *key, const char *path, unsigned mode)
{
	char src[PATH_MAX], buf[CHUNK];
	int in, out, rc = 0;
	ssize_t n;

	out = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out == -1)
		return -1;
	if (pathf(src, sizeof src, "%s/data/%s", shadow, key) == -1)
		in = -1, rc = -1;
	else if ((in = open(src, O_RDONLY | O_CLOEXEC)) != -1) {
		while ((n = read(in, buf, sizeof buf)) > 0)
			if (write_all(out, buf, (size_t)n) == -1) {
				rc = -1;
				break;
			}
		if (n == -1)
			rc = -1;
		close(in);
	}
	/* No record: the name is durable, the data never was. */
	if (fchmod(out, mode) == -1)
		rc = -1;
	if (close(out) == -1)
		rc = -1;
	return rc;
}

/*
 * Builds the durable contents of directory key into path (which exists),
 * or with show set prints them. depth bounds a damaged or cyclic shadow.
 */
static void
build(const char *key, const char *path, int show, int depth)
{
	char lpath[PATH_MAX], sub[PATH_MAX], line[3 * PATH_MAX];
	const char *old;
	struct entry e;
	FILE *f;

	if (depth > 64) {
		warnx_("%s: directories nested too deep", path);
		return;
	}
	if (pathf(lpath, sizeof lpath, "%s/dirs/%s", shadow, key) == -1) {
		warnx_("%s: path too long", path);
		return;
	}
	if ((f = fopen(lpath, "r")) == NULL)
		return;		/* never fsynced: comes back empty */
	while (fgets(line, sizeof line, f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if (parse_entry(line, &e) == -1) {
			warnx_("%s: damaged listing line: %s", lpath, line);
			continue;
		}
		if (pathf(sub, sizeof sub, "%s/%s", path, e.name) == -1) {
			warnx_("%s/%s: path too long", path, e.name);
			continue;
		}
		if (show) {
			struct stat st;
			char dpath[PATH_MAX];

			if (pathf(dpath, sizeof dpath, "%s/data/%s", shadow,
			    e.key) == -1)
				dpath[0] = '\0';
			if (e.type == 'f')
				printf("%s %s (%lld bytes)\n", e.key, sub,
				    stat(dpath, &st) == 0 ?
				    (long long)st.st_size : 0LL);
			else
				printf("%s %s%s\n", e.key, sub,
				    e.type == 'd' ? "/" : "");
			if (e.type == 'd')
				build(e.key, sub, show, depth + 1);
			continue;
		}
		switch (e.type) {
		case 'd':
			if (mkdir(sub, e.mode) == -1) {
				warnx_("mkdir %s: %s", sub, strerror(errno));
				break;
			}
			build(e.key, sub, show, depth + 1);
			chmod(sub, e.mode);
			break;
		case 'f':
			if ((old = made_path(e.key)) != NULL) {
				if (link(old, sub) == -1)
					warnx_("link %s: %s", sub,
					    strerror(errno));
				break;
			}
			if (make_file(e.key, sub, e.mode) == -1)
				warnx_("%s: %s", sub, strerror(errno));
			made_add(e.key, sub);
			break;
		case 'l':
			if (symlink(e.target, sub) == -1)
				warnx_("symlink %s: %s", sub, strerror(errno));
			break;
		default:
			fprintf(stderr, "powercut: %s: not a file, directory "
			    "or symlink; left out\n", sub);
			break;
		}
	}
	fclose(f);
}

/* Removes everything inside dir (not dir itself). */
static int
empty_dir(int dfd)
{
	struct dirent *de;
	struct stat st;
	int fd, sub, rc = 0;
	DIR *d;

	fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1)
		return -1;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1)
			continue;
		if (S_ISDIR(st.st_mode)) {
			sub = openat(dfd, de->d_name,
			    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub == -1 || empty_dir(sub) == -1)
				rc = -1;
			if (sub != -1)
				close(sub);
			if (unlinkat(dfd, de->d_name, AT_REMOVEDIR) == -1)
				rc = -1;
		} else if (unlinkat(dfd, de->d_name, 0) == -1)
			rc = -1;
	}
	closedir(d);
	return rc;
}

/*
 * The baseline names each root's key in roots, so that a root copied away
 * and back (a new inode) is still found: "restore" may then be tried on
 * several copies of one cut.
 */
static void
save_root_keys(void)
{
	char path[PATH_MAX + 8], line[PATH_MAX + KEYLEN + 4];
	struct node nd;
	int i, fd, n;

	if (pathf(path, sizeof path, "%s/roots", shadow) == -1)
		return;
	for (i = 0; i < nroots; i++) {
		fd = open(roots[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd == -1)
			continue;
		if (node_at(fd, "", AT_EMPTY_PATH, &nd) == 0) {
			n = snprintf(line, sizeof line, "%s %s\n", nd.key,
			    roots[i]);
			if (n > 0 && (size_t)n < sizeof line)
				append(path, line, (size_t)n);
		}
		close(fd);
	}
}

/* The key the baseline gave root, or else that of the live directory. */
static int
root_key(const char *root, int fd, struct node *nd)
{
	char path[PATH_MAX + 8], line[PATH_MAX + KEYLEN + 4];
	char *sp;
	FILE *f;
	int found = 0;

	if (pathf(path, sizeof path, "%s/roots", shadow) == 0 &&
	    (f = fopen(path, "r")) != NULL) {
		while (fgets(line, sizeof line, f) != NULL) {
			line[strcspn(line, "\n")] = '\0';
			if ((sp = strchr(line, ' ')) == NULL ||
			    strcmp(sp + 1, root) != 0 ||
			    (size_t)(sp - line) >= sizeof nd->key)
				continue;
			memcpy(nd->key, line, (size_t)(sp - line));
			nd->key[sp - line] = '\0';
			found = 1;	/* the last one wins */
		}
		fclose(f);
	}
	if (found)
		return 0;
	return node_at(fd, "", AT_EMPTY_PATH, nd);
}

static int
usage(void)
{
	fprintf(stderr,
	    "usage: powercut sync SHADOW ROOT...     everything under the "
	    "ROOTs is durable now\n"
	    "       powercut restore SHADOW ROOT...  rebuild each ROOT as a "
	    "power cut now leaves it\n"
	    "       powercut show SHADOW ROOT...     print what would "
	    "survive\n");
	return 2;
}

int
main(int argc, char **argv)
{
	char dir[PATH_MAX + 8];
	struct node nd;
	int i, fd;

	if (argc < 4)
		return usage();
	if (realpath(argv[2], shadow) == NULL) {
		fprintf(stderr, "powercut: %s: %s\n", argv[2], strerror(errno));
		return 1;
	}
	if (pathf(dir, sizeof dir, "%s/data", shadow) == 0)
		mkdir(dir, 0700);
	if (pathf(dir, sizeof dir, "%s/dirs", shadow) == 0)
		mkdir(dir, 0700);
	for (i = 3; i < argc && nroots < MAXROOTS; i++)
		if (realpath(argv[i], roots[nroots++]) == NULL) {
			fprintf(stderr, "powercut: %s: %s\n", argv[i],
			    strerror(errno));
			return 1;
		}
	if (under_root(shadow)) {
		fprintf(stderr, "powercut: the shadow %s is inside a root\n",
		    shadow);
		return 1;
	}
	if (strcmp(argv[1], "sync") == 0) {
		note_sync_all("baseline");
		save_root_keys();
		return 0;
	}
	if (strcmp(argv[1], "restore") != 0 && strcmp(argv[1], "show") != 0)
		return usage();
	for (i = 0; i < nroots; i++) {
		fd = open(roots[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd == -1 || root_key(roots[i], fd, &nd) == -1) {
			fprintf(stderr, "powercut: %s: %s\n", roots[i],
			    strerror(errno));
			return 1;
		}
		if (pathf(dir, sizeof dir, "%s/dirs/%s", shadow, nd.key) == -1 ||
		    access(dir, F_OK) == -1) {
			fprintf(stderr, "powercut: %s has no durable listing:"
			    " take a baseline with \"powercut sync\" first\n",
			    roots[i]);
			return 1;
		}
		if (strcmp(argv[1], "show") == 0) {
			printf("%s %s/\n", nd.key, roots[i]);
			build(nd.key, roots[i], 1, 0);
		} else {
			if (empty_dir(fd) == -1)
				warnx_("%s: cannot empty it", roots[i]);
			build(nd.key, roots[i], 0, 0);
			logf_(0, "restored %s", roots[i]);
		}
		close(fd);
	}
	return errors ? 1 : 0;
}

#endif /* POWERCUT_TOOL */
