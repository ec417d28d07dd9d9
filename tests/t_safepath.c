/* SPDX-License-Identifier: ISC */
/*
 * Unit tests of safepath (issue 8 points 8 and 9): trees with links,
 * directories writable by others, other users' directories, a sticky
 * /tmp-like directory, links and special files at the last component.
 * Root's expectations run as root; a user's run in a child that drops to
 * popfetch-test (root ignores permissions, so only a real user can show
 * them). Another user is "nobody" (uid 65534); neither needs to exist by
 * name, uids are enough.
 *
 * "t_safepath attempt maildir|mbox|state-dir PATH" is the driver of
 * tests/t-root.sh: it does with PATH what popfetch's Maildir, mbox and
 * state code will do through safepath, and exits 0 (done), 1 (refused) or
 * 2 (failed) with the message on stderr.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "safepath.h"
#include "unit.h"
#include "xmalloc.h"

static char base[PATH_MAX];
static uid_t uid_a = 65533, uid_b = 65534;
static gid_t gid_a = 65533, gid_b = 65534;
static char name_a[64], name_b[64];

/* base/rel, from a ring of buffers so a few can be used at once. */
static const char *
P(const char *rel)
{
	static char ring[16][PATH_MAX + 256];
	static int i;

	i = (i + 1) % 16;
	snprintf(ring[i], sizeof ring[i], "%.*s/%.200s", PATH_MAX - 1, base,
	    rel);
	return ring[i];
}

static void setup_fail(const char *, const char *)
    __attribute__((noreturn));

static void
setup_fail(const char *what, const char *path)
{
	fprintf(stderr, "t_safepath: setup: %s %s: %s\n", what, path,
	    strerror(errno));
	exit(1);
}

static void
mkd(const char *rel, mode_t mode, uid_t uid, gid_t gid)
{
	const char *p = P(rel);

	if (mkdir(p, 0700) == -1 || chown(p, uid, gid) == -1 ||
	    chmod(p, mode) == -1)
		setup_fail("mkdir", p);
}

static void
mkf(const char *rel, const char *content, mode_t mode, uid_t uid, gid_t gid)
{
	const char *p = P(rel);
	int fd;

	if ((fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0600)) == -1 ||
	    write(fd, content, strlen(content)) != (ssize_t)strlen(content) ||
	    fchown(fd, uid, gid) == -1 || fchmod(fd, mode) == -1 ||
	    close(fd) == -1)
		setup_fail("create", p);
}

static void
mkl(const char *target, const char *rel, uid_t uid)
{
	const char *p = P(rel);

	if (symlink(target, p) == -1 || lchown(p, uid, (gid_t)-1) == -1)
		setup_fail("symlink", p);
}

/* The contents of a small file, or "" */
static const char *
slurp(const char *path)
{
	static char buf[4096];
	ssize_t n = -1;
	int fd;

	if ((fd = open(path, O_RDONLY | O_NOFOLLOW)) != -1) {
		n = read(fd, buf, sizeof buf - 1);
		close(fd);
	}
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

static int
entries(const char *path)
{
	struct dirent *de;
	DIR *d;
	int n = 0;

	if ((d = opendir(path)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		n++;
	closedir(d);
	return n;
}

static int
exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

static int
mode_of(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0 ? (int)(st.st_mode & 07777) : -1;
}

static long
owner_of(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0 ? (long)st.st_uid : -1;
}

/* want: 0 for success (an fd or 0), SAFEPATH_REFUSED or SAFEPATH_ERR. */
static void
outcome(int line, const char *what, const char *path, int rc, int want,
    int want_errno, char *err, const char *needle)
{
	int saved = errno;

	if (want == 0)
		CHECK(rc >= 0, "line %d: %s %s: rc %d: %s", line, what, path,
		    rc, err != NULL ? err : "");
	else {
		CHECK(rc == want, "line %d: %s %s: rc %d, want %d (%s)", line,
		    what, path, rc, want, err != NULL ? err : "no message");
		CHECK(err != NULL && strncmp(err, path, strlen(path)) == 0 &&
		    strchr(err, '\n') == NULL, "line %d: %s %s: the message "
		    "must start with the path, one line: %s", line, what, path,
		    err != NULL ? err : "none");
		if (want_errno != 0)
			CHECK(saved == want_errno, "line %d: %s %s: errno %d, "
			    "want %d", line, what, path, saved, want_errno);
	}
	if (needle != NULL)
		CHECK(err != NULL && strstr(err, needle) != NULL, "line %d: %s "
		    "%s: message \"%s\" lacks \"%s\"", line, what, path,
		    err != NULL ? err : "", needle);
	free(err);
}

#define T_CHECK(path, flags, want, eno, needle) do {			\
	char *err_ = NULL;						\
	int rc_ = safepath_check((path), (flags), &err_);		\
	outcome(__LINE__, "check", (path), rc_, (want), (eno), err_,	\
	    (needle));							\
} while (0)

#define T_MKDIRS(path, mode, flags, want, eno, needle) do {		\
	char *err_ = NULL;						\
	int rc_ = safepath_mkdirs((path), (mode), (flags), &err_);	\
	outcome(__LINE__, "mkdirs", (path), rc_, (want), (eno), err_,	\
	    (needle));							\
	if (rc_ >= 0)							\
		close(rc_);						\
} while (0)

#define T_OPEN(path, oflags, flags, want, eno, needle) do {		\
	char *err_ = NULL;						\
	int rc_ = safepath_open_file((path), (oflags), 0600, (flags),	\
	    NULL, &err_);						\
	outcome(__LINE__, "open", (path), rc_, (want), (eno), err_,	\
	    (needle));							\
	if (rc_ >= 0)							\
		close(rc_);						\
} while (0)

static void
make_tree(void)
{
	mkd("ok", 0755, 0, 0);
	mkd("ok/dir", 0755, 0, 0);
	mkf("ok/file", "root's file\n", 0644, 0, 0);
	mkd("etc", 0755, 0, 0);		/* stands in for /etc */
	mkf("etc/passwd", "root:x:0:0\n", 0644, 0, 0);
	mkd("home", 0755, 0, 0);
	mkd("home/a", 0755, uid_a, gid_a);
	mkd("home/a/Maildir", 0700, uid_a, gid_a);
	mkl(P("etc"), "home/a/Maildir/new", uid_a);
	mkf("home/a/mbox", "From a\n\nmail of a\n", 0600, uid_a, gid_a);
	mkd("rootmd", 0755, 0, 0);
	mkl(P("etc"), "rootmd/new", uid_a);
	mkl(P("ok/dir"), "rlink", 0);
	mkl("ok/dir", "rlink-rel", 0);
	mkl("home/a", "rlink-user", 0);
	mkl("loop2", "loop1", 0);
	mkl("loop1", "loop2", 0);
	mkd("w777", 0777, 0, 0);
	mkd("g775", 0775, 0, gid_a);
	mkd("sticky", 01777, 0, 0);
	mkd("sticky/mine", 0755, 0, 0);
	mkd("sticky/theirs", 0755, uid_a, gid_a);
	mkd("sticky/bdir", 0755, uid_b, gid_b);
	mkl(P("ok/dir"), "sticky/alink", uid_a);
	mkl(P("n"), "sticky/blink", uid_b);
	mkf("sticky/afile", "a's\n", 0666, uid_a, gid_a);
	mkl(P("etc/passwd"), "ok/mlink", 0);
	mkl(P("etc/created"), "ok/dangle", 0);
	mkf("ok/hfile", "root's linked file\n", 0644, 0, 0);
	if (link(P("ok/hfile"), P("ok/hard")) == -1)
		setup_fail("link", P("ok/hard"));
	if (mkfifo(P("ok/fifo"), 0600) == -1)
		setup_fail("mkfifo", P("ok/fifo"));
	mkf("ok/afile", "a's data\n", 0644, uid_a, gid_a);
	mkd("state", 0700, 0, 0);
	mkd("state775", 0775, 0, 0);
	mkd("statea", 0700, uid_a, gid_a);
	/* for the user's tests */
	mkd("n", 0755, uid_a, gid_a);
	mkd("n/own", 0755, uid_a, gid_a);
	mkl("own", "n/link", uid_a);
	mkl("own/f", "n/flink", uid_a);
	mkd("n/st700", 0700, uid_a, gid_a);
	mkd("n/st750", 0750, uid_a, gid_a);
	mkd("n/st770", 0770, uid_a, gid_a);
	mkd("n/st707", 0707, uid_a, gid_a);
	mkd("n/stb", 0700, uid_b, gid_b);
	mkf("n/bfile", "b's\n", 0666, uid_b, gid_b);
	mkd("nb", 0755, uid_b, gid_b);
	mkd("nb/state", 0700, uid_b, gid_b);
	mkd("shared", 0775, uid_b, gid_a);
	mkd("gw", 0775, 0, gid_a);
	mkd("gw/state", 0700, uid_a, gid_a);
	mkd("ro", 0755, 0, 0);
}

static void
test_root(void)
{
	char run_as[128], *err = NULL;
	struct stat st, st2;
	int n, fd, dfd;

	snprintf(run_as, sizeof run_as, "run popfetch as %s", name_a);

	/* what only root controls */
	T_CHECK(P("ok/dir"), 0, 0, 0, NULL);
	T_CHECK(P("ok/file"), 0, 0, 0, NULL);
	/* private may be readable by others (ssh-like), not writable */
	T_CHECK(P("ok"), SAFEPATH_PRIVATE, 0, 0, NULL);

	/* issue 8 point 8: a user's Maildir whose new/ leads to /etc */
	n = entries(P("etc"));
	T_CHECK(P("home/a/Maildir"), 0, SAFEPATH_REFUSED, EPERM, run_as);
	T_CHECK(P("home/a/Maildir"), 0, SAFEPATH_REFUSED, 0, P("home/a "));
	T_MKDIRS(P("home/a/Maildir/new"), 0700, 0, SAFEPATH_REFUSED, 0,
	    run_as);
	/* a user's link in root's directory */
	T_MKDIRS(P("rootmd/new"), 0700, 0, SAFEPATH_REFUSED, 0,
	    "symbolic link owned by");
	T_CHECK(P("rootmd/new/x"), SAFEPATH_MISSING_OK, SAFEPATH_REFUSED, 0,
	    run_as);
	CHECK(entries(P("etc")) == n && mode_of(P("etc")) == 0755,
	    "nothing may be made in the link's target");
	T_MKDIRS(P("rootmd/tmp"), 0700, 0, 0, 0, NULL);
	CHECK(mode_of(P("rootmd/tmp")) == 0700 &&
	    owner_of(P("rootmd/tmp")) == 0, "rootmd/tmp made 0700 by root");

	/* root's links are followed, and their targets checked */
	T_CHECK(P("rlink"), 0, 0, 0, NULL);
	T_CHECK(P("rlink-rel"), 0, 0, 0, NULL);
	T_MKDIRS(P("rlink-rel/sub"), 0700, 0, 0, 0, NULL);
	CHECK(mode_of(P("ok/dir/sub")) == 0700, "made through a relative "
	    "link");
	T_CHECK(P("rlink-user/Maildir"), 0, SAFEPATH_REFUSED, 0, run_as);
	T_CHECK(P("rlink-user/Maildir"), 0, SAFEPATH_REFUSED, 0,
	    P("home/a "));
	T_CHECK(P("loop1"), 0, SAFEPATH_ERR, ELOOP, NULL);
	/* ".." is the physical parent, as for the kernel */
	T_MKDIRS(P("rlink/../dotdot"), 0700, 0, 0, 0, NULL);
	CHECK(exists(P("ok/dotdot")) && !exists(P("dotdot")),
	    "rlink/.. is ok/, not the link's directory");

	/* directories others may write */
	T_CHECK(P("w777/x"), SAFEPATH_MISSING_OK, SAFEPATH_REFUSED, 0,
	    "writable by everyone");
	T_CHECK(P("w777/x"), SAFEPATH_MISSING_OK, SAFEPATH_REFUSED, 0,
	    "chmod go-w");
	T_MKDIRS(P("w777/x"), 0700, 0, SAFEPATH_REFUSED, 0, NULL);
	CHECK(!exists(P("w777/x")), "nothing made in a 0777 directory");
	T_CHECK(P("g775"), 0, SAFEPATH_REFUSED, 0, "writable by group");
	T_OPEN(P("g775/mbox"), O_RDWR | O_CREAT, 0, SAFEPATH_REFUSED, 0,
	    NULL);
	CHECK(!exists(P("g775/mbox")), "no mbox made in a g+w directory");

	/* a sticky /tmp: root's names only */
	T_CHECK(P("sticky/mine"), 0, 0, 0, NULL);
	T_CHECK(P("sticky/theirs"), 0, SAFEPATH_REFUSED, 0, run_as);
	T_CHECK(P("sticky/alink"), 0, SAFEPATH_REFUSED, 0, run_as);
	T_MKDIRS(P("sticky/new"), 0700, 0, 0, 0, NULL);
	T_OPEN(P("sticky/afile"), O_RDWR | O_CREAT, 0, SAFEPATH_REFUSED, 0,
	    run_as);
	T_OPEN(P("sticky/newf"), O_RDWR | O_CREAT, 0, 0, 0, NULL);
	CHECK(owner_of(P("sticky/newf")) == 0 &&
	    mode_of(P("sticky/newf")) == 0600, "sticky/newf made 0600");

	/* the last component of a file */
	T_OPEN(P("ok/mlink"), O_RDWR | O_CREAT, 0, SAFEPATH_REFUSED, 0,
	    "symbolic link");
	T_OPEN(P("ok/mlink"), O_RDWR | O_APPEND, 0, SAFEPATH_REFUSED, 0,
	    NULL);
	CHECK(strcmp(slurp(P("etc/passwd")), "root:x:0:0\n") == 0,
	    "the link's target is untouched");
	T_CHECK(P("ok/mlink"), 0, SAFEPATH_REFUSED, 0, "symbolic link");
	T_OPEN(P("ok/dangle"), O_RDWR | O_CREAT, 0, SAFEPATH_REFUSED, 0,
	    "symbolic link");
	T_OPEN(P("ok/dangle"), O_RDWR | O_CREAT | O_EXCL, 0,
	    SAFEPATH_REFUSED, 0, NULL);
	CHECK(!exists(P("etc/created")), "nothing made through a dangling "
	    "link");
	T_OPEN(P("ok/hard"), O_RDWR, 0, SAFEPATH_REFUSED, 0, "hard links");
	T_CHECK(P("ok/hard"), 0, SAFEPATH_REFUSED, 0, "hard links");
	T_OPEN(P("ok/fifo"), O_RDWR, 0, SAFEPATH_REFUSED, 0,
	    "not a regular file");
	T_OPEN(P("ok/fifo"), O_WRONLY, 0, SAFEPATH_REFUSED, 0, NULL);
	T_OPEN(P("ok/afile"), O_RDWR | O_TRUNC, 0, SAFEPATH_REFUSED, 0,
	    run_as);
	CHECK(strcmp(slurp(P("ok/afile")), "a's data\n") == 0,
	    "O_TRUNC only after the checks");
	T_OPEN(P("home/a/mbox"), O_RDWR | O_CREAT, 0, SAFEPATH_REFUSED, 0,
	    run_as);
	CHECK(strcmp(slurp(P("home/a/mbox")), "From a\n\nmail of a\n") == 0,
	    "a's mbox is untouched");
	T_OPEN(P("ok/nodir/x"), O_RDWR | O_CREAT, 0, SAFEPATH_ERR, ENOENT,
	    NULL);
	T_OPEN(P("ok/"), O_RDWR, 0, SAFEPATH_ERR, EISDIR, NULL);
	T_OPEN(P("ok/dir"), O_RDWR, 0, SAFEPATH_REFUSED, 0,
	    "not a regular file");

	/* a new mbox: created 0600, exclusive, the parent handed back */
	fd = safepath_open_file(P("ok/new.mbox"), O_RDWR | O_CREAT, 0600, 0,
	    &dfd, &err);
	CHECK(fd >= 0 && dfd >= 0, "ok/new.mbox: %s", err ? err : "");
	free(err);
	err = NULL;
	if (fd >= 0 && dfd >= 0) {
		CHECK(fstat(dfd, &st) == 0 && stat(P("ok"), &st2) == 0 &&
		    st.st_ino == st2.st_ino && st.st_dev == st2.st_dev,
		    "dirfd is the parent");
		CHECK(mode_of(P("ok/new.mbox")) == 0600 &&
		    owner_of(P("ok/new.mbox")) == 0, "new.mbox 0600 root");
		CHECK(write(fd, "From x\n", 7) == 7, "write to new.mbox");
		CHECK((fcntl(fd, F_GETFL) & O_NONBLOCK) == 0, "blocking again");
		CHECK((fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0, "close-on-exec");
		CHECK(fstatat(dfd, "new.mbox", &st, AT_SYMLINK_NOFOLLOW) == 0,
		    "names resolve against dirfd");
		close(fd);
		close(dfd);
	}
	T_OPEN(P("ok/new.mbox"), O_RDWR | O_CREAT | O_EXCL, 0, SAFEPATH_ERR,
	    EEXIST, NULL);
	T_OPEN(P("ok/new.mbox"), O_RDWR | O_TRUNC, 0, 0, 0, NULL);
	CHECK(strcmp(slurp(P("ok/new.mbox")), "") == 0, "O_TRUNC applied");

	/* issue 8 point 9: the state directory */
	T_MKDIRS(P("state"), 0700, SAFEPATH_PRIVATE, 0, 0, NULL);
	T_MKDIRS(P("state775"), 0700, SAFEPATH_PRIVATE, SAFEPATH_REFUSED, 0,
	    "chmod go-w");
	CHECK(mode_of(P("state775")) == 0775, "a refused mode is left as is");
	T_MKDIRS(P("statea"), 0700, SAFEPATH_PRIVATE, SAFEPATH_REFUSED, 0,
	    run_as);
	T_MKDIRS(P("home/a/.state/acct"), 0700, SAFEPATH_PRIVATE,
	    SAFEPATH_REFUSED, 0, run_as);
	CHECK(!exists(P("home/a/.state")), "nothing made in a's home");
	T_MKDIRS(P("newstate/acct"), 0700, SAFEPATH_PRIVATE, 0, 0, NULL);
	CHECK(mode_of(P("newstate")) == 0700 &&
	    mode_of(P("newstate/acct")) == 0700, "state made 0700");
	T_CHECK(P("newstate/acct"), SAFEPATH_PRIVATE, 0, 0, NULL);
	T_CHECK(P("ok/file"), SAFEPATH_PRIVATE, SAFEPATH_ERR, ENOTDIR, NULL);
	T_OPEN(P("newstate/acct/lock"), O_RDWR | O_CREAT, SAFEPATH_PRIVATE, 0,
	    0, NULL);
	mkl(P("etc/passwd"), "newstate/acct/lock2", 0);
	T_OPEN(P("newstate/acct/lock2"), O_RDWR | O_CREAT, SAFEPATH_PRIVATE,
	    SAFEPATH_REFUSED, 0, "symbolic link");
	CHECK(strcmp(slurp(P("etc/passwd")), "root:x:0:0\n") == 0,
	    "a lock link is not followed");
	T_OPEN(P("state775/lock"), O_RDWR | O_CREAT, SAFEPATH_PRIVATE,
	    SAFEPATH_REFUSED, 0, NULL);

	/* modes and the returned descriptor */
	fd = safepath_mkdirs(P("ok/m1/m2"), 0750, 0, &err);
	CHECK(fd >= 0, "ok/m1/m2: %s", err ? err : "");
	free(err);
	err = NULL;
	CHECK(mode_of(P("ok/m1")) == 0750 && mode_of(P("ok/m1/m2")) == 0750,
	    "made 0750");
	if (fd >= 0) {
		CHECK(fstat(fd, &st) == 0 && stat(P("ok/m1/m2"), &st2) == 0 &&
		    st.st_ino == st2.st_ino, "the fd is the final directory");
		CHECK(fsync(fd) == 0, "the fd can be fsynced");
		close(fd);
	}
	T_MKDIRS(P("ok/m1/m2"), 0700, 0, 0, 0, NULL);
	CHECK(mode_of(P("ok/m1/m2")) == 0750, "an existing mode is kept");

	/* relative paths: the working directory's parents count too */
	if (chdir(P("ok")) == 0) {
		T_CHECK("dir", 0, 0, 0, NULL);
		T_CHECK("../home/a/Maildir", 0, SAFEPATH_REFUSED, 0,
		    P("home/a "));
		T_MKDIRS("rel/one", 0700, 0, 0, 0, NULL);
		CHECK(exists(P("ok/rel/one")), "made relative to the cwd");
		T_OPEN("rel.mbox", O_RDWR | O_CREAT, 0, 0, 0, NULL);
		CHECK(exists(P("ok/rel.mbox")), "opened relative to the cwd");
		if (chdir(P("home/a")) == 0)
			T_MKDIRS("Maildir/tmp", 0700, 0, SAFEPATH_REFUSED, 0,
			    run_as);
		if (chdir("/") == -1)
			setup_fail("chdir", "/");
	} else
		CHECK(0, "chdir %s", P("ok"));

	/* missing, not a directory, empty */
	T_CHECK(P("ok/nope"), 0, SAFEPATH_ERR, ENOENT, NULL);
	T_CHECK(P("ok/nope/deeper"), SAFEPATH_MISSING_OK, 0, 0, NULL);
	T_CHECK(P("home/a/nope"), SAFEPATH_MISSING_OK, SAFEPATH_REFUSED, 0,
	    run_as);
	T_CHECK(P("ok/file/x"), 0, SAFEPATH_ERR, ENOTDIR, NULL);
	T_MKDIRS(P("ok/file"), 0700, 0, SAFEPATH_ERR, ENOTDIR, NULL);
	T_MKDIRS(P("ok/file/x"), 0700, 0, SAFEPATH_ERR, ENOTDIR, NULL);
	T_CHECK("", 0, SAFEPATH_ERR, EINVAL, NULL);
}

/* In a child as user a: permissions hold, the user's own choices too. */
static void
test_user(void)
{
	char belongs[128], *err = NULL;
	int fd;

	snprintf(belongs, sizeof belongs, "belongs to %s", name_b);

	/* own directories; shared ones are the user's choice */
	T_MKDIRS(P("n/Maildir/tmp"), 0700, 0, 0, 0, NULL);
	CHECK(owner_of(P("n/Maildir/tmp")) == (long)uid_a &&
	    mode_of(P("n/Maildir")) == 0700, "Maildir made by a, 0700");
	T_CHECK(P("shared"), 0, 0, 0, NULL);
	T_MKDIRS(P("shared/md"), 0700, 0, 0, 0, NULL);
	T_CHECK(P("nb"), 0, 0, 0, NULL);
	T_CHECK(P("n/link"), 0, 0, 0, NULL);

	/* where any user could interfere */
	T_CHECK(P("w777"), 0, SAFEPATH_REFUSED, 0, "chmod o-w");
	T_MKDIRS(P("w777/u"), 0700, 0, SAFEPATH_REFUSED, 0, NULL);
	CHECK(!exists(P("w777/u")), "nothing made in a 0777 directory");
	T_CHECK(P("sticky/theirs"), 0, 0, 0, NULL);
	T_CHECK(P("sticky/mine"), 0, 0, 0, NULL);
	T_CHECK(P("sticky/bdir"), 0, SAFEPATH_REFUSED, 0,
	    "anyone may create");
	T_CHECK(P("sticky/blink/own"), 0, SAFEPATH_REFUSED, 0,
	    "anyone may create");
	T_MKDIRS(P("sticky/unew"), 0700, 0, 0, 0, NULL);
	CHECK(owner_of(P("sticky/unew")) == (long)uid_a, "sticky/unew is a's");

	/* files: never through a link; others' files if permitted */
	T_OPEN(P("n/flink"), O_RDWR | O_CREAT, 0, SAFEPATH_REFUSED, 0,
	    "symbolic link");
	CHECK(!exists(P("n/own/f")), "nothing made through a's own link");
	T_OPEN(P("n/bfile"), O_RDWR, 0, 0, 0, NULL);
	T_OPEN(P("n/newmbox"), O_RDWR | O_CREAT, 0, 0, 0, NULL);
	CHECK(owner_of(P("n/newmbox")) == (long)uid_a, "newmbox is a's");
	T_MKDIRS(P("ro/x"), 0700, 0, SAFEPATH_ERR, EACCES, P("ro/x"));
	T_OPEN(P("ro/mbox"), O_RDWR | O_CREAT, 0, SAFEPATH_ERR, EACCES, NULL);

	/* the state directory, as ssh's ~/.ssh */
	T_MKDIRS(P("n/st700"), 0700, SAFEPATH_PRIVATE, 0, 0, NULL);
	T_MKDIRS(P("n/st750"), 0700, SAFEPATH_PRIVATE, 0, 0, NULL);
	T_MKDIRS(P("n/st770"), 0700, SAFEPATH_PRIVATE, SAFEPATH_REFUSED, 0,
	    "chmod go-w");
	T_MKDIRS(P("n/st707"), 0700, SAFEPATH_PRIVATE, SAFEPATH_REFUSED, 0,
	    "writable by everyone");
	T_MKDIRS(P("n/stb"), 0700, SAFEPATH_PRIVATE, SAFEPATH_REFUSED, 0,
	    belongs);
	T_MKDIRS(P("nb/state"), 0700, SAFEPATH_PRIVATE, SAFEPATH_REFUSED, 0,
	    P("nb "));
	T_MKDIRS(P("gw/state"), 0700, SAFEPATH_PRIVATE, SAFEPATH_REFUSED, 0,
	    "writable by group");
	T_CHECK(P("gw/state"), 0, 0, 0, NULL);
	T_MKDIRS(P("n/newstate/acct"), 0700, SAFEPATH_PRIVATE, 0, 0, NULL);
	CHECK(mode_of(P("n/newstate/acct")) == 0700 &&
	    owner_of(P("n/newstate/acct")) == (long)uid_a, "state made 0700");
	T_MKDIRS(P("n/link/pst"), 0700, SAFEPATH_PRIVATE, 0, 0, NULL);
	T_CHECK(P("sticky/theirs"), SAFEPATH_PRIVATE, 0, 0, NULL);
	T_OPEN(P("n/stb/lock"), O_RDWR | O_CREAT, SAFEPATH_PRIVATE,
	    SAFEPATH_REFUSED, 0, NULL);
	fd = safepath_open_file(P("n/st700/lock"), O_RDWR | O_CREAT, 0600,
	    SAFEPATH_PRIVATE, NULL, &err);
	CHECK(fd >= 0, "st700/lock: %s", err ? err : "");
	free(err);
	if (fd >= 0)
		close(fd);
}

/* Runs test_user as a, adds its counts to ours. */
static void
as_user(void)
{
	int pfd[2], counts[2] = { 0, 1 }, status;
	pid_t pid;

	if (pipe(pfd) == -1 || (pid = fork()) == -1)
		setup_fail("fork", "");
	if (pid == 0) {
		close(pfd[0]);
		unit_pass = unit_fail = 0;
		if (setgroups(0, NULL) == -1 ||
		    setresgid(gid_a, gid_a, gid_a) == -1 ||
		    setresuid(uid_a, uid_a, uid_a) == -1 ||
		    geteuid() != uid_a) {
			fprintf(stderr, "t_safepath: cannot become uid %lu: "
			    "%s\n", (unsigned long)uid_a, strerror(errno));
			_exit(1);
		}
		test_user();
		counts[0] = unit_pass;
		counts[1] = unit_fail;
		if (write(pfd[1], counts, sizeof counts) != sizeof counts)
			_exit(1);
		_exit(0);
	}
	close(pfd[1]);
	if (read(pfd[0], counts, sizeof counts) != sizeof counts)
		counts[0] = 0, counts[1] = 1;
	close(pfd[0]);
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0, "the unprivileged child");
	unit_pass += counts[0];
	unit_fail += counts[1];
	if (counts[0] == 0)
		CHECK(0, "the unprivileged child ran no checks");
}

static void
user_name(uid_t uid, char *buf, size_t sz)
{
	struct passwd *pw;

	if ((pw = getpwuid(uid)) != NULL)
		snprintf(buf, sz, "%s", pw->pw_name);
	else
		snprintf(buf, sz, "uid %lu", (unsigned long)uid);
}

static void
cleanup(void)
{
	char cmd[PATH_MAX + 32];

	if (base[0] == '\0')
		return;
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
	if (system(cmd) != 0)
		fprintf(stderr, "t_safepath: could not remove %s\n", base);
}

/* --- the driver of tests/t-root.sh --- */

static int
drv_exit(int rc, char *err)
{
	fprintf(stderr, "%s\n", err != NULL ? err : "failed");
	free(err);
	return rc == SAFEPATH_REFUSED ? 1 : 2;
}

static int
drv_fail(const char *what)
{
	fprintf(stderr, "%s: %s\n", what, strerror(errno));
	return 2;
}

/* What deliver_maildir.c will do: make tmp/ new/ cur/, write a message in
 * tmp/, fsync it and tmp/, rename it into new/, fsync new/. */
static int
drv_maildir(const char *path)
{
	static const char *sub[] = { "tmp", "new", "cur" };
	static const char msg[] = "Subject: attempt\n\nbody\n";
	char p[PATH_MAX], name[64], *err = NULL;
	int fds[3], i, fd;

	for (i = 0; i < 3; i++) {
		snprintf(p, sizeof p, "%s/%s", path, sub[i]);
		if ((fds[i] = safepath_mkdirs(p, 0700, 0, &err)) < 0)
			return drv_exit(fds[i], err);
	}
	snprintf(name, sizeof name, "1.M1P%ldQ1.test", (long)getpid());
	fd = openat(fds[0], name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600);
	if (fd == -1 || write(fd, msg, sizeof msg - 1) != sizeof msg - 1 ||
	    fsync(fd) == -1 || close(fd) == -1 || fsync(fds[0]) == -1)
		return drv_fail("tmp/");
	if (renameat(fds[0], name, fds[1], name) == -1 || fsync(fds[1]) == -1)
		return drv_fail("new/");
	for (i = 0; i < 3; i++)
		close(fds[i]);
	return 0;
}

/* What deliver_mbox.c will do: open or create the mbox, take the dotlock
 * next to it through the parent's descriptor, append, fsync, unlock. */
static int
drv_mbox(const char *path)
{
	static const char msg[] = "From attempt Thu Jan  1 00:00:00 1970\n"
	    "Subject: attempt\n\nbody\n\n";
	char *err = NULL, lock[NAME_MAX + 1], tmp[NAME_MAX + 1];
	const char *b = strrchr(path, '/');
	int fd, dfd, lfd;

	b = b != NULL ? b + 1 : path;
	snprintf(lock, sizeof lock, "%s.lock", b);
	snprintf(tmp, sizeof tmp, "%s.lock.%ld.popfetch", b, (long)getpid());
	fd = safepath_open_file(path, O_RDWR | O_CREAT, 0600, 0, &dfd, &err);
	if (fd < 0)
		return drv_exit(fd, err);
	lfd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600);
	if (lfd == -1 || close(lfd) == -1 ||
	    linkat(dfd, tmp, dfd, lock, 0) == -1)
		return drv_fail("dotlock");
	unlinkat(dfd, tmp, 0);
	if (lseek(fd, 0, SEEK_END) == -1 ||
	    write(fd, msg, sizeof msg - 1) != sizeof msg - 1 || fsync(fd) == -1)
		return drv_fail("append");
	unlinkat(dfd, lock, 0);
	close(fd);
	close(dfd);
	return 0;
}

/* What uidstore.c will do: the account's directory under the state base,
 * private, and the lock file in it (the DB files are opened by name). */
static int
drv_state(const char *path)
{
	char p[PATH_MAX], *err = NULL;
	int dfd, fd;

	snprintf(p, sizeof p, "%s/test@127.0.0.1", path);
	if ((dfd = safepath_mkdirs(p, 0700, SAFEPATH_PRIVATE, &err)) < 0)
		return drv_exit(dfd, err);
	snprintf(p, sizeof p, "%s/test@127.0.0.1/lock", path);
	fd = safepath_open_file(p, O_RDWR | O_CREAT, 0600, SAFEPATH_PRIVATE,
	    NULL, &err);
	if (fd < 0)
		return drv_exit(fd, err);
	close(fd);
	close(dfd);
	return 0;
}

static int
driver(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[2], "maildir") == 0)
		return drv_maildir(argv[3]);
	if (argc == 4 && strcmp(argv[2], "mbox") == 0)
		return drv_mbox(argv[3]);
	if (argc == 4 && strcmp(argv[2], "state-dir") == 0)
		return drv_state(argv[3]);
	fprintf(stderr, "usage: t_safepath attempt maildir|mbox|state-dir "
	    "PATH\n");
	return 2;
}

int
main(int argc, char **argv)
{
	const char *tmpdir = getenv("TMPDIR");
	struct passwd *pw;

	if (argc > 1 && strcmp(argv[1], "attempt") == 0)
		return driver(argc, argv);
	if (geteuid() != 0) {
		/* The checks need other users' files and a real user. */
		printf("FAIL: t_safepath must run as root (it makes other "
		    "users' files and drops to popfetch-test itself)\n");
		printf("t_safepath: 0 passed, 1 failed\n");
		return 1;
	}
	alarm(120);	/* a FIFO opened blocking would hang us */
	umask(022);
	if ((pw = getpwnam("popfetch-test")) != NULL) {
		uid_a = pw->pw_uid;
		gid_a = pw->pw_gid;
	}
	if ((pw = getpwnam("nobody")) != NULL) {
		uid_b = pw->pw_uid;
		gid_b = pw->pw_gid;
	}
	if (uid_a == 0 || uid_b == 0 || uid_a == uid_b) {
		printf("FAIL: unusable test users (popfetch-test %lu, nobody "
		    "%lu)\n", (unsigned long)uid_a, (unsigned long)uid_b);
		return 1;
	}
	user_name(uid_a, name_a, sizeof name_a);
	user_name(uid_b, name_b, sizeof name_b);
	if (tmpdir == NULL || *tmpdir != '/')
		tmpdir = "/tmp";
	snprintf(base, sizeof base, "%s/t_safepath.XXXXXX", tmpdir);
	if (mkdtemp(base) == NULL || chmod(base, 0755) == -1)
		setup_fail("mkdtemp", base);
	make_tree();
	test_root();
	as_user();
	cleanup();
	printf("t_safepath: %d passed, %d failed\n", unit_pass, unit_fail);
	return unit_fail != 0;
}
