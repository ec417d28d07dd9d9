/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "safepath.h"
#include "xmalloc.h"

#ifndef O_PATH
#error "safepath.c needs O_PATH (Linux)"
#endif

/* As the kernel: more links than this in one lookup is a loop. */
#define SP_MAXLINKS	40
/* Retries when a name appears or vanishes between two of our calls. */
#define SP_RETRIES	4

enum sp_end { SP_DIR, SP_FILE, SP_MISSING };

/* One checked directory of the walk, held open so nothing can swap it. */
struct level {
	int		 fd;		/* O_PATH */
	struct stat	 st;
	size_t		 clen;		/* length of its path in canon */
	int		 checked;	/* passed sp_container */
};

struct walk {
	const char	 *path;		/* as the caller gave it */
	int		  flags;
	uid_t		  euid;
	char		**errstr;
	struct level	 *lv;		/* lv[0] is "/" */
	size_t		  n, cap;
	char		  canon[PATH_MAX];	/* what is being looked at */
	size_t		  clen;
	int		  links;
	int		  lastlink;	/* a link at the last component */
};

static int sp_refuse(struct walk *, const char *, ...)
    __attribute__((format(printf, 2, 3)));
static int sp_fail(struct walk *, int, const char *, ...)
    __attribute__((format(printf, 3, 4)));

static int
sp_refuse(struct walk *w, const char *fmt, ...)
{
	char detail[PATH_MAX * 3];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof detail, fmt, ap);
	va_end(ap);
	*w->errstr = xasprintf("%s: %s", w->path, detail);
	errno = EPERM;
	return SAFEPATH_REFUSED;
}

static int
sp_fail(struct walk *w, int err, const char *fmt, ...)
{
	char detail[PATH_MAX * 3];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof detail, fmt, ap);
	va_end(ap);
	*w->errstr = xasprintf("%s: %s: %s", w->path, detail, strerror(err));
	errno = err;
	return SAFEPATH_ERR;
}

/* The path of what is being looked at, or of the directory at clen. */
static const char *
sp_here(struct walk *w)
{
	return w->clen == 0 ? "/" : w->canon;
}

static char *
sp_at(struct walk *w, size_t clen)
{
	return clen == 0 ? xstrdup("/") : xstrndup(w->canon, clen);
}

static const char *
sp_user(uid_t uid, char *buf, size_t sz)
{
	struct passwd *pw;

	if ((pw = getpwuid(uid)) != NULL)
		snprintf(buf, sz, "%s", pw->pw_name);
	else
		snprintf(buf, sz, "uid %lu", (unsigned long)uid);
	return buf;
}

/* Who, besides the owner, may write a directory with this mode. */
static const char *
sp_writers(const struct stat *st, char *buf, size_t sz)
{
	struct group *gr;

	if (st->st_mode & S_IWOTH)
		snprintf(buf, sz, "everyone");
	else if ((gr = getgrgid(st->st_gid)) != NULL)
		snprintf(buf, sz, "group %s", gr->gr_name);
	else
		snprintf(buf, sz, "gid %lu", (unsigned long)st->st_gid);
	return buf;
}

static const char *
sp_kind(const struct stat *st)
{
	if (S_ISDIR(st->st_mode))
		return "a directory";
	if (S_ISLNK(st->st_mode))
		return "a symbolic link";
	if (S_ISREG(st->st_mode))
		return "a file";
	return "a special file";
}

static int
sp_trusted(struct walk *w, uid_t uid)
{
	return uid == 0 || uid == w->euid;
}

/* Root and a private directory's parents trust no writer but the owner;
 * other users only refuse what every local user could change. */
static mode_t
sp_foreign_write(struct walk *w, const struct stat *st)
{
	if (w->euid == 0 || (w->flags & SAFEPATH_PRIVATE))
		return st->st_mode & (S_IWGRP | S_IWOTH);
	return st->st_mode & S_IWOTH;
}

static int
sp_sticky_shared(struct walk *w, const struct stat *st)
{
	return sp_foreign_write(w, st) != 0 && (st->st_mode & S_ISVTX);
}

static int
sp_append(struct walk *w, const char *name)
{
	size_t len = strlen(name);

	if (w->clen + 1 + len >= sizeof w->canon)
		return sp_fail(w, ENAMETOOLONG, "%s/%s", sp_here(w), name);
	w->canon[w->clen++] = '/';
	memcpy(w->canon + w->clen, name, len + 1);
	w->clen += len;
	return 0;
}

static void
sp_truncate(struct walk *w, size_t clen)
{
	w->clen = clen;
	w->canon[clen] = '\0';
}

static void
sp_push(struct walk *w, int fd, const struct stat *st)
{
	if (w->n == w->cap) {
		w->cap = w->cap == 0 ? 16 : w->cap * 2;
		w->lv = xreallocarray(w->lv, w->cap, sizeof *w->lv);
	}
	w->lv[w->n].fd = fd;
	w->lv[w->n].st = *st;
	w->lv[w->n].clen = w->clen;
	w->lv[w->n].checked = 0;
	w->n++;
}

static void
sp_pop_to(struct walk *w, size_t n)
{
	while (w->n > n) {
		w->n--;
		if (w->lv[w->n].fd != -1)
			close(w->lv[w->n].fd);
	}
	sp_truncate(w, w->lv[w->n - 1].clen);
}

static void
sp_free(struct walk *w)
{
	while (w->n > 0) {
		w->n--;
		if (w->lv[w->n].fd != -1)
			close(w->lv[w->n].fd);
	}
	free(w->lv);
}

/* Who owns a component, given the directory it is in. */
static int
sp_owner(struct walk *w, const struct level *parent, const struct stat *st)
{
	char u[64], *pp;
	int rc;

	if (w->euid == 0 && st->st_uid != 0)
		return sp_refuse(w, "%s is %s owned by %s, not root, and as "
		    "root popfetch refuses what another user controls: run "
		    "popfetch as %s", sp_here(w), sp_kind(st),
		    sp_user(st->st_uid, u, sizeof u), u);
	if (parent != NULL && sp_sticky_shared(w, &parent->st) &&
	    !sp_trusted(w, st->st_uid)) {
		pp = sp_at(w, parent->clen);
		rc = sp_refuse(w, "%s belongs to %s, in %s where anyone may "
		    "create names: use a path of your own", sp_here(w),
		    sp_user(st->st_uid, u, sizeof u), pp);
		free(pp);
		return rc;
	}
	if ((w->flags & SAFEPATH_PRIVATE) && !sp_trusted(w, st->st_uid))
		return sp_refuse(w, "%s belongs to %s, and a private directory"
		    " must lie in directories that only you or root control: "
		    "use a directory of your own", sp_here(w),
		    sp_user(st->st_uid, u, sizeof u));
	return 0;
}

/* A directory we look up or create names in: nobody untrusted may swap
 * them, unless the sticky bit stops them (then sp_owner checks the name). */
static int
sp_container(struct walk *w, struct level *l)
{
	char who[64], *p;
	int rc;

	if (l->checked)
		return 0;
	if (sp_foreign_write(w, &l->st) == 0 || (l->st.st_mode & S_ISVTX)) {
		l->checked = 1;
		return 0;
	}
	p = sp_at(w, l->clen);
	sp_writers(&l->st, who, sizeof who);
	if (w->euid == 0)
		rc = sp_refuse(w, "directory %s is writable by %s (mode %04o),"
		    " who could swap what popfetch run as root uses in it: "
		    "chmod go-w %s, or run popfetch as the user the mail is "
		    "for", p, who, (unsigned)(l->st.st_mode & 07777), p);
	else if (w->flags & SAFEPATH_PRIVATE)
		rc = sp_refuse(w, "directory %s is writable by %s (mode %04o),"
		    " who could swap the private directory below it: chmod "
		    "go-w %s", p, who, (unsigned)(l->st.st_mode & 07777), p);
	else
		rc = sp_refuse(w, "directory %s is writable by everyone (mode "
		    "%04o), so anyone could swap what popfetch uses in it: "
		    "chmod o-w %s", p, (unsigned)(l->st.st_mode & 07777), p);
	free(p);
	return rc;
}

/* The final directory of a SAFEPATH_PRIVATE walk (ssh's ~/.ssh rule). */
static int
sp_private(struct walk *w, struct level *l)
{
	char u[64], me[64], who[64], *p;
	int rc = 0;

	p = sp_at(w, l->clen);
	if (l->st.st_uid != w->euid)
		rc = sp_refuse(w, "%s belongs to %s, not to %s, and it must be "
		    "private: use a directory of your own, or run popfetch as "
		    "%s", p, sp_user(l->st.st_uid, u, sizeof u),
		    sp_user(w->euid, me, sizeof me), u);
	else if (l->st.st_mode & (S_IWGRP | S_IWOTH))
		rc = sp_refuse(w, "%s is writable by %s (mode %04o), and it "
		    "must be private (whoever can write it controls what "
		    "popfetch deletes): chmod go-w %s", p,
		    sp_writers(&l->st, who, sizeof who),
		    (unsigned)(l->st.st_mode & 07777), p);
	else
		l->checked = 1;
	free(p);
	return rc;
}

/* A file at the end of a path (canon names it). */
static int
sp_file(struct walk *w, const struct stat *st)
{
	char u[64];

	if (!S_ISREG(st->st_mode))
		return sp_refuse(w, "%s is %s, not a regular file", sp_here(w),
		    sp_kind(st));
	if (w->euid == 0 && st->st_nlink > 1)
		return sp_refuse(w, "%s has %ju names (hard links), and as root"
		    " popfetch writes only to a file with one name (another "
		    "may be in another user's hands): remove the other names",
		    sp_here(w), (uintmax_t)st->st_nlink);
	if ((w->flags & SAFEPATH_PRIVATE) && st->st_uid != w->euid)
		return sp_refuse(w, "%s belongs to %s, and it must be private: "
		    "remove it or run popfetch as its owner", sp_here(w),
		    sp_user(st->st_uid, u, sizeof u));
	return 0;
}

static int
sp_link_refused(struct walk *w)
{
	return sp_refuse(w, "%s is a symbolic link, and popfetch never "
	    "creates or writes a file through one: name the file it points "
	    "to instead", sp_here(w));
}

static int
sp_fsync_dir(struct walk *w, int dirfd, const char *what)
{
	int fd, saved;

	if ((fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) ==
	    -1)
		return sp_fail(w, errno, "cannot open %s to make it durable",
		    what);
	if (fsync(fd) == -1) {
		saved = errno;
		close(fd);
		return sp_fail(w, saved, "fsync %s", what);
	}
	close(fd);
	return 0;
}

/* After mkdirat: the new directory and the name in its parent must
 * survive a power cut before anything is put in it. */
static int
sp_durable_dir(struct walk *w, int parentfd, const char *name)
{
	char *pp;
	int fd, rc, saved;

	fd = openat(parentfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	if (fd == -1 || fsync(fd) == -1) {
		saved = errno;
		if (fd != -1)
			close(fd);
		return sp_fail(w, saved, "cannot make the new directory %s "
		    "durable", sp_here(w));
	}
	close(fd);
	pp = sp_at(w, w->lv[w->n - 1].clen);
	rc = sp_fsync_dir(w, parentfd, pp);
	free(pp);
	return rc;
}

/* Replaces the link just opened (canon names it) with its target in the
 * rest of the walk. */
static int
sp_follow(struct walk *w, int fd, int last, char **rest, char **p)
{
	char target[PATH_MAX], *next;
	ssize_t n;

	if (++w->links > SP_MAXLINKS)
		return sp_fail(w, ELOOP, "at %s", sp_here(w));
	/* Empty name: the link fd itself (O_PATH|O_NOFOLLOW). */
	n = readlinkat(fd, "", target, sizeof target);
	if (n == -1)
		return sp_fail(w, errno, "cannot read the link %s",
		    sp_here(w));
	if (n == 0)
		return sp_fail(w, ENOENT, "the link %s is empty", sp_here(w));
	if ((size_t)n >= sizeof target)
		return sp_fail(w, ENAMETOOLONG, "the link %s", sp_here(w));
	target[n] = '\0';
	if (last)
		w->lastlink = 1;
	next = xasprintf("%s%s", target, *p);
	free(*rest);
	*rest = *p = next;
	if (target[0] == '/')
		sp_pop_to(w, 1);
	else
		sp_truncate(w, w->lv[w->n - 1].clen);
	return 0;
}

/*
 * Walks the absolute path abs from "/", checking each component; leaves
 * the checked directories on the stack (the last is where the walk ended).
 * create: make missing directories with mode. file_ok: the last component
 * may be a file (then *st gets its stat and canon names it).
 */
static int
sp_walk(struct walk *w, const char *abs, int create, mode_t mode,
    int file_ok, enum sp_end *end, struct stat *fst)
{
	char name[NAME_MAX + 1], *rest, *p, *q;
	struct level *top;
	struct stat st;
	size_t len;
	int fd, rc = 0, last, tries;

	*end = SP_DIR;
	sp_truncate(w, 0);
	if ((fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC)) == -1)
		return sp_fail(w, errno, "cannot open /");
	if (fstat(fd, &st) == -1) {
		close(fd);
		return sp_fail(w, errno, "fstat /");
	}
	sp_push(w, fd, &st);
	if ((rc = sp_owner(w, NULL, &st)) != 0)
		return rc;
	rest = p = xstrdup(abs);
	for (;;) {
		while (*p == '/')
			p++;
		if (*p == '\0')
			break;
		for (q = p; *q != '\0' && *q != '/'; q++)
			;
		len = (size_t)(q - p);
		if (len > NAME_MAX) {
			rc = sp_fail(w, ENAMETOOLONG, "a name under %s",
			    sp_here(w));
			break;
		}
		memcpy(name, p, len);
		name[len] = '\0';
		p = q;
		last = *p == '\0';
		if (strcmp(name, ".") == 0)
			continue;
		if (strcmp(name, "..") == 0) {
			/* Physically, as the kernel does: the parent of
			 * where a link led, which is on the stack. */
			if (w->n > 1)
				sp_pop_to(w, w->n - 1);
			continue;
		}
		top = &w->lv[w->n - 1];
		if ((rc = sp_container(w, top)) != 0 ||
		    (rc = sp_append(w, name)) != 0)
			break;
		for (tries = 0;; tries++) {
			fd = openat(top->fd, name, O_PATH | O_NOFOLLOW |
			    O_CLOEXEC);
			if (fd != -1 || errno != ENOENT || !create ||
			    tries == SP_RETRIES)
				break;
			if (mkdirat(top->fd, name, mode) == -1) {
				if (errno == EEXIST)
					continue;
				rc = sp_fail(w, errno, "cannot create %s",
				    sp_here(w));
				break;
			}
			if ((rc = sp_durable_dir(w, top->fd, name)) != 0)
				break;
		}
		if (rc != 0)
			break;
		if (fd == -1) {
			if (errno == ENOENT &&
			    (w->flags & SAFEPATH_MISSING_OK)) {
				sp_truncate(w, top->clen);
				*end = SP_MISSING;
				break;
			}
			rc = sp_fail(w, errno, "%s", sp_here(w));
			break;
		}
		if (fstat(fd, &st) == -1) {
			rc = sp_fail(w, errno, "fstat %s", sp_here(w));
			close(fd);
			break;
		}
		if ((rc = sp_owner(w, top, &st)) != 0) {
			close(fd);
			break;
		}
		if (S_ISLNK(st.st_mode)) {
			rc = sp_follow(w, fd, last, &rest, &p);
			close(fd);
			if (rc != 0)
				break;
			continue;
		}
		if (S_ISDIR(st.st_mode)) {
			sp_push(w, fd, &st);
			continue;
		}
		close(fd);
		if (!last || !file_ok) {
			rc = sp_fail(w, ENOTDIR, "%s", sp_here(w));
			break;
		}
		*end = SP_FILE;
		*fst = st;
		break;
	}
	free(rest);
	return rc;
}

static char *
sp_absolute(const char *path)
{
	char cwd[PATH_MAX];

	if (path[0] == '/')
		return xstrdup(path);
	if (getcwd(cwd, sizeof cwd) == NULL)
		return NULL;
	return xasprintf("%s/%s", cwd, path);
}

static int
sp_init(struct walk *w, const char *path, int flags, char **errstr,
    char **abs)
{
	memset(w, 0, sizeof *w);
	w->path = path;
	w->flags = flags;
	w->euid = geteuid();
	w->errstr = errstr;
	*abs = NULL;
	if (path == NULL || *path == '\0')
		return sp_fail(w, EINVAL, "an empty path");
	if ((*abs = sp_absolute(path)) == NULL)
		return sp_fail(w, errno, "cannot find the working directory");
	return 0;
}

int
safepath_check(const char *path, int flags, char **errstr)
{
	struct walk w;
	struct stat st;
	enum sp_end end;
	char *abs;
	int rc;

	if ((rc = sp_init(&w, path, flags, errstr, &abs)) != 0)
		return rc;
	rc = sp_walk(&w, abs, 0, 0, 1, &end, &st);
	if (rc == 0) {
		switch (end) {
		case SP_MISSING:
			break;
		case SP_DIR:
			if (flags & SAFEPATH_PRIVATE)
				rc = sp_private(&w, &w.lv[w.n - 1]);
			else
				rc = sp_container(&w, &w.lv[w.n - 1]);
			break;
		case SP_FILE:
			if (flags & SAFEPATH_PRIVATE)
				rc = sp_fail(&w, ENOTDIR, "%s", sp_here(&w));
			else if (w.lastlink)
				rc = sp_link_refused(&w);
			else
				rc = sp_file(&w, &st);
			break;
		}
	}
	sp_free(&w);
	free(abs);
	return rc;
}

int
safepath_mkdirs(const char *path, mode_t mode, int flags, char **errstr)
{
	struct walk w;
	struct level *top;
	enum sp_end end;
	char *abs;
	int rc, fd;

	if ((rc = sp_init(&w, path, flags & ~SAFEPATH_MISSING_OK, errstr,
	    &abs)) != 0)
		return rc;
	if ((rc = sp_walk(&w, abs, 1, mode, 0, &end, NULL)) != 0)
		goto out;
	top = &w.lv[w.n - 1];
	if (flags & SAFEPATH_PRIVATE)
		rc = sp_private(&w, top);
	else
		rc = sp_container(&w, top);
	if (rc != 0)
		goto out;
	fd = openat(top->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1)
		rc = sp_fail(&w, errno, "cannot open %s", sp_here(&w));
	else
		rc = fd;
out:
	sp_free(&w);
	free(abs);
	return rc;
}

/* Opens base in the checked directory top: never through a link, never
 * blocking, exclusively when it creates. */
static int
sp_open_in(struct walk *w, struct level *top, const char *base, int oflags,
    mode_t mode, int *created)
{
	int fl, fd = -1, tries;

	*created = 0;
	fl = (oflags & ~(O_CREAT | O_EXCL | O_TRUNC)) | O_NOFOLLOW |
	    O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
	for (tries = 0; tries <= SP_RETRIES; tries++) {
		if ((oflags & (O_CREAT | O_EXCL)) != (O_CREAT | O_EXCL)) {
			fd = openat(top->fd, base, fl);
			if (fd != -1 || errno != ENOENT || !(oflags & O_CREAT))
				break;
		}
		fd = openat(top->fd, base, fl | O_CREAT | O_EXCL, mode);
		if (fd != -1) {
			*created = 1;
			break;
		}
		if (errno != EEXIST || (oflags & O_EXCL))
			break;
	}
	if (fd != -1)
		return fd;
	if (errno == ELOOP)	/* O_NOFOLLOW at the last component */
		return sp_link_refused(w);
	return sp_fail(w, errno, "cannot open %s", sp_here(w));
}

int
safepath_open_file(const char *path, int oflags, mode_t mode, int flags,
    int *dirfdp, char **errstr)
{
	struct walk w;
	struct level *top;
	struct stat st;
	enum sp_end end;
	char *abs, *dir = NULL, *base, *slash;
	int rc, fd = -1, created = 0, fl;

	if (dirfdp != NULL)
		*dirfdp = -1;
	if ((rc = sp_init(&w, path, flags & ~SAFEPATH_MISSING_OK, errstr,
	    &abs)) != 0)
		return rc;
	slash = strrchr(abs, '/');
	base = slash + 1;
	if (*base == '\0' || strcmp(base, ".") == 0 || strcmp(base, "..") ==
	    0) {
		rc = sp_fail(&w, EISDIR, "not a file name");
		goto out;
	}
	dir = slash == abs ? xstrdup("/") : xstrndup(abs, (size_t)(slash -
	    abs));
	if ((rc = sp_walk(&w, dir, 0, 0, 0, &end, NULL)) != 0)
		goto out;
	top = &w.lv[w.n - 1];
	if (flags & SAFEPATH_PRIVATE)
		rc = sp_private(&w, top);
	else
		rc = sp_container(&w, top);
	if (rc != 0 || (rc = sp_append(&w, base)) != 0)
		goto out;
	/* Refuse a link or special file before opening: opening a device
	 * can have effects. What is opened is checked again below. */
	if (fstatat(top->fd, base, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (S_ISLNK(st.st_mode)) {
			rc = sp_link_refused(&w);
			goto out;
		}
		if ((rc = sp_file(&w, &st)) != 0)
			goto out;
	} else if (errno != ENOENT) {
		rc = sp_fail(&w, errno, "%s", sp_here(&w));
		goto out;
	}
	if ((fd = sp_open_in(&w, top, base, oflags, mode, &created)) < 0) {
		rc = fd;
		goto out;
	}
	if (fstat(fd, &st) == -1) {
		rc = sp_fail(&w, errno, "fstat %s", sp_here(&w));
		goto out;
	}
	if ((rc = sp_owner(&w, top, &st)) != 0 || (rc = sp_file(&w, &st)) != 0)
		goto out;
	if (!(oflags & O_NONBLOCK) && ((fl = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) == -1)) {
		rc = sp_fail(&w, errno, "fcntl %s", sp_here(&w));
		goto out;
	}
	if ((oflags & O_TRUNC) && !created && (oflags & O_ACCMODE) !=
	    O_RDONLY && ftruncate(fd, 0) == -1) {
		rc = sp_fail(&w, errno, "cannot truncate %s", sp_here(&w));
		goto out;
	}
	if (created) {
		if (fsync(fd) == -1) {
			rc = sp_fail(&w, errno, "fsync %s", sp_here(&w));
			goto out;
		}
		if ((rc = sp_fsync_dir(&w, top->fd, dir)) != 0)
			goto out;
	}
	if (dirfdp != NULL) {
		*dirfdp = top->fd;
		top->fd = -1;
	}
	rc = fd;
	fd = -1;
out:
	if (fd != -1)
		close(fd);
	sp_free(&w);
	free(dir);
	free(abs);
	return rc;
}
