/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <sys/file.h>
#include <sys/stat.h>

#include <db.h>
#include <dirent.h>
#include <inttypes.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "safepath.h"
#include "uidstore.h"
#include "util.h"
#include "xmalloc.h"

#define UIDREC_VERSION	1
#define UIDREC_HDR	64
#define JOURNAL_KEY	"batch"
/* In the state directory after a clean close (uidstore_close), naming the
 * log as it was left. */
#define CLEAN_MARKER	"clean"
#define MARKER_MAX	128

struct uidstore {
	char	*dir;
	int	 lockfd;
	int	 dirfd;		/* the directory, to make its entries durable */
	struct timespec dirmtime; /* its mtime when last fsynced */
	DB_ENV	*env;
	DB	*uids;
	DB	*journal;
	DB_TXN	*txn;
	/* uidstore_scan_begin: lookups through one cursor, which tries the
	 * record after the last one found before it searches. */
	DBC	*scan;
	int	 scan_at;	/* the cursor is on a record */
	/* Whether the scan found every record: its hits came one after
	 * another in key order, from the first key to the last. */
	int	 scan_gap;	/* a hit came from a search, not a step */
	size_t	 scan_hits;
	unsigned char scan_first[UID_MAXLEN], scan_last[UID_MAXLEN];
	size_t	 scan_firstlen, scan_lastlen;
	int	 wrote;		/* something was written since the open */
	int	 opened;	/* uidstore_open succeeded */
	int	 recovered;	/* the open ran recovery */
	int	 failed;	/* Berkeley DB reported an error */
	char	 error[512];
};

static void
errcall(const DB_ENV *env, const char *pfx, const char *msg)
{
	struct uidstore *s = env->app_private;

	if (s != NULL) {
		snprintf(s->error, sizeof s->error, "%s", msg);
		s->failed = 1;
	}
}

static enum us_rc
dberr(struct uidstore *s, const char *what, int rc)
{
	s->failed = 1;
	/* Keep Berkeley DB's own detail when it gave one. */
	if (s->error[0] == '\0' || rc != 0)
		snprintf(s->error, sizeof s->error, "%s: %s", what,
		    db_strerror(rc));
	return US_ERR;
}

const char *
uidstore_error(const struct uidstore *s)
{
	return s->error;
}

static int
take_lock(const char *dir, int wait_secs, int *fdp)
{
	char path[4096];
	int fd, tries;

	snprintf(path, sizeof path, "%s/lock", dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd == -1)
		return -1;
	/* flock belongs to the open file: it dies with the process, so a
	 * kill -9 never leaves a stale lock. */
	for (tries = 0;; tries++) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			break;
		if (errno != EWOULDBLOCK || tries >= wait_secs * 10) {
			int saved = errno;

			close(fd);
			errno = saved;
			return -1;
		}
		usleep(100000);
	}
	*fdp = fd;
	return 0;
}

static int
open_db(struct uidstore *s, DB **dbp, const char *name)
{
	DB *db;
	int rc;

	if ((rc = db_create(&db, s->env, 0)) != 0)
		return rc;
	rc = db->open(db, NULL, name, NULL, DB_BTREE,
	    DB_CREATE | DB_AUTO_COMMIT, 0600);
	if (rc != 0) {
		db->close(db, 0);
		return rc;
	}
	*dbp = db;
	return 0;
}

/* New entries in the directory (a log file Berkeley DB just created, the
 * databases) are made durable: their commits are in them. */
static int
sync_dir(struct uidstore *s, int force)
{
	struct stat st;

	if (fstat(s->dirfd, &st) == -1)
		return -1;
	if (!force && st.st_mtim.tv_sec == s->dirmtime.tv_sec &&
	    st.st_mtim.tv_nsec == s->dirmtime.tv_nsec)
		return 0;
	if (fsync(s->dirfd) == -1)
		return -1;
	s->dirmtime = st.st_mtim;
	return 0;
}

/*
 * The newest log file as the close left it: any later write to the
 * environment (by a popfetch that keeps no marker, say an older one)
 * changes its time or size or starts a newer file. 0, or -1 when there
 * is no telling.
 */
static int
log_state(int dirfd, char *out, size_t outsz)
{
	char best[64] = "";
	struct dirent *de;
	struct stat st;
	DIR *d;
	int fd;

	if ((fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) ==
	    -1 || (d = fdopendir(fd)) == NULL) {
		if (fd != -1)
			close(fd);
		return -1;
	}
	/* Fixed-width numbers: the greatest name is the newest file. */
	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, "log.", 4) == 0 &&
		    strlen(de->d_name) < sizeof best &&
		    strcmp(de->d_name, best) > 0)
			snprintf(best, sizeof best, "%s", de->d_name);
	closedir(d);
	if (best[0] == '\0' || fstatat(dirfd, best, &st,
	    AT_SYMLINK_NOFOLLOW) == -1)
		return -1;
	snprintf(out, outsz, "%s %ju %jd %jd.%09ld\n", best, (uintmax_t)
	    st.st_ino, (intmax_t)st.st_size, (intmax_t)st.st_mtim.tv_sec,
	    st.st_mtim.tv_nsec);
	return 0;
}

/* Whether the marker is there and the log is as it says; the marker is
 * gone either way. 1: no recovery needed; 0: recover; -1: an error. */
static int
take_marker(int dirfd)
{
	char was[MARKER_MAX], now[MARKER_MAX];
	ssize_t n;
	int fd;

	if ((fd = openat(dirfd, CLEAN_MARKER, O_RDONLY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1)
		return errno == ENOENT ? 0 : -1;
	n = read(fd, was, sizeof was - 1);
	close(fd);
	if (unlinkat(dirfd, CLEAN_MARKER, 0) == -1)
		return -1;
	if (n <= 0)
		return 0;
	was[n] = '\0';
	return log_state(dirfd, now, sizeof now) == 0 && strcmp(was, now) == 0;
}

static void
leave_marker(int dirfd)
{
	char buf[MARKER_MAX];
	int fd;

	if (log_state(dirfd, buf, sizeof buf) == -1)
		return;
	if ((fd = openat(dirfd, CLEAN_MARKER, O_WRONLY | O_CREAT | O_TRUNC |
	    O_NOFOLLOW | O_CLOEXEC, 0600)) == -1)
		return;
	/* Not synced: a marker lost costs the next open a recovery. */
	if (write(fd, buf, strlen(buf)) != (ssize_t)strlen(buf)) {
		close(fd);
		unlinkat(dirfd, CLEAN_MARKER, 0);
		return;
	}
	close(fd);
}

enum us_rc
uidstore_lock(const char *dir, int wait_secs, struct uidstore **out,
    char **errstr)
{
	struct uidstore *s;
	struct stat st;
	char *err = NULL;
	int dirfd;

	*out = NULL;
	/*
	 * Whoever controls the store controls what gets deleted: like ssh
	 * with ~/.ssh, a state directory that is not ours, or that others
	 * may write (or swap, through a directory above it), is refused.
	 * Created durably when missing.
	 */
	if ((dirfd = safepath_mkdirs(dir, 0700, SAFEPATH_PRIVATE, &err)) < 0) {
		*errstr = xasprintf("state directory %s", err);
		free(err);
		return US_ERR;
	}
	/* Readable by others is no danger, but it need not be. */
	if (fstat(dirfd, &st) == 0 && (st.st_mode & 077) != 0 &&
	    fchmod(dirfd, st.st_mode & 0700) == -1) {
		*errstr = xasprintf("state directory %s: chmod 700: %s", dir,
		    strerror(errno));
		close(dirfd);
		return US_ERR;
	}
	s = xcalloc(1, sizeof *s);
	s->dir = xstrdup(dir);
	s->dirfd = dirfd;
	if (take_lock(dir, wait_secs, &s->lockfd) == -1) {
		if (errno == EWOULDBLOCK) {
			*errstr = xasprintf("another popfetch run holds the "
			    "lock on %s/lock", dir);
			close(s->dirfd);
			free(s->dir);
			free(s);
			return US_LOCKED;
		}
		*errstr = xasprintf("cannot lock %s/lock: %s", dir,
		    strerror(errno));
		close(s->dirfd);
		free(s->dir);
		free(s);
		return US_ERR;
	}
	*out = s;
	return US_OK;
}

enum us_rc
uidstore_attach(struct uidstore *s, char **errstr)
{
	const char *dir = s->dir;
	int rc, clean;

	/*
	 * Recovery only after a run that did not close the store: its
	 * checkpoint put every change in the database files and left the
	 * marker. The marker goes, durably, before anything can be written,
	 * so a crash from here on leaves none.
	 */
	if ((clean = take_marker(s->dirfd)) == -1) {
		*errstr = xasprintf("state directory %s: %s: %s", dir,
		    CLEAN_MARKER, strerror(errno));
		uidstore_close(s);
		return US_ERR;
	}
	s->recovered = !clean;
	if (clean && sync_dir(s, 1) == -1) {
		*errstr = xasprintf("state directory %s: fsync: %s", dir,
		    strerror(errno));
		uidstore_close(s);
		return US_ERR;
	}
	if ((rc = db_env_create(&s->env, 0)) != 0)
		goto fail;
	s->env->app_private = s;
	s->env->set_errcall(s->env, errcall);
	/* A small cache: lookups come in UIDL order, which servers keep in
	 * key order or close to it, and the database file stays in the page
	 * cache anyway; 2 MiB bought no speed on 100,000 UIDs (issue 12). */
	s->env->set_cachesize(s->env, 0, 256 * 1024, 1);
	s->env->set_lg_max(s->env, 1024 * 1024);
	/* The log buffer is written out when full, synced only at commits:
	 * 64 KiB costs a batch's record a few more writes, and the run
	 * 192 KiB less memory than 256 KiB did. */
	s->env->set_lg_bsize(s->env, 64 * 1024);
	s->env->log_set_config(s->env, DB_LOG_AUTO_REMOVE, 1);
	/* DB_PRIVATE: the lock already makes us the only user, and private
	 * regions leave no shared-memory files to go stale after a crash. */
	rc = s->env->open(s->env, dir, DB_CREATE | DB_INIT_TXN | DB_INIT_LOG |
	    DB_INIT_LOCK | DB_INIT_MPOOL | DB_PRIVATE | (clean ? 0 : DB_RECOVER),
	    0600);
	if (rc != 0)
		goto fail;
	if ((rc = open_db(s, &s->uids, "uids.db")) != 0)
		goto fail;
	if ((rc = open_db(s, &s->journal, "journal.db")) != 0)
		goto fail;
	/* What recovery or a first open created is made durable. */
	if (sync_dir(s, 0) == -1) {
		*errstr = xasprintf("state directory %s: fsync: %s", dir,
		    strerror(errno));
		uidstore_close(s);
		return US_ERR;
	}
	s->opened = 1;
	return US_OK;
fail:
	*errstr = xasprintf("cannot open the UID store in %s: %s%s%s; it may "
	    "be damaged or not a popfetch store: move the directory aside to "
	    "start afresh (messages still on the server will be fetched "
	    "again)", dir, db_strerror(rc), s->error[0] ? ": " : "",
	    s->error);
	uidstore_close(s);
	return US_ERR;
}

enum us_rc
uidstore_open(const char *dir, int wait_secs, struct uidstore **out,
    char **errstr)
{
	enum us_rc rc;

	if ((rc = uidstore_lock(dir, wait_secs, out, errstr)) != US_OK)
		return rc;
	if ((rc = uidstore_attach(*out, errstr)) != US_OK)
		*out = NULL;
	return rc;
}

void
uidstore_close(struct uidstore *s)
{
	int rc = 0;

	if (s == NULL)
		return;
	uidstore_scan_end(s);
	if (s->txn != NULL)
		uidstore_abort(s);
	if (s->uids != NULL)
		rc |= s->uids->close(s->uids, 0);
	if (s->journal != NULL)
		rc |= s->journal->close(s->journal, 0);
	if (s->env != NULL) {
		/* The checkpoint puts every change in the database files and
		 * lets auto-remove drop old log files, so the state stays
		 * small. A run that wrote nothing has nothing to checkpoint,
		 * and its log flush would cost a disk wait. */
		if (s->wrote)
			rc |= s->env->txn_checkpoint(s->env, 0, 0, DB_FORCE);
		rc |= s->env->close(s->env, 0);
		/* Closed whole: the next open needs no recovery. */
		if (rc == 0 && s->opened && !s->failed)
			leave_marker(s->dirfd);
	}
	if (s->lockfd > 0)
		close(s->lockfd);
	if (s->dirfd > 0)
		close(s->dirfd);
	free(s->dir);
	free(s);
}

static void
put_u64(unsigned char *p, uint64_t v)
{
	int i;

	for (i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t
get_u64(const unsigned char *p)
{
	uint64_t v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

/* Layout: version, flags, ndig (u16), ncopies (u32), first_seen (u64),
 * size (u64), list_size (u64), header digest (32), then ndig digests;
 * little-endian. */
size_t
uidrec_pack(const struct uidrec *r, unsigned char *buf, size_t bufsz)
{
	size_t need = UIDREC_HDR + (size_t)r->ndig * DIGEST_LEN;

	if (need > bufsz || r->ndig > UIDREC_MAXDIG)
		return 0;
	buf[0] = UIDREC_VERSION;
	buf[1] = (unsigned char)r->flags;
	buf[2] = (unsigned char)(r->ndig & 0xff);
	buf[3] = (unsigned char)(r->ndig >> 8);
	buf[4] = (unsigned char)r->ncopies;
	buf[5] = (unsigned char)(r->ncopies >> 8);
	buf[6] = (unsigned char)(r->ncopies >> 16);
	buf[7] = (unsigned char)(r->ncopies >> 24);
	put_u64(buf + 8, (uint64_t)r->first_seen);
	put_u64(buf + 16, r->size);
	put_u64(buf + 24, r->list_size);
	memcpy(buf + 32, r->hdr, DIGEST_LEN);
	memcpy(buf + UIDREC_HDR, r->dig, (size_t)r->ndig * DIGEST_LEN);
	return need;
}

int
uidrec_unpack(struct uidrec *r, const unsigned char *buf, size_t len)
{
	/* Not the digests past ndig: a kilobyte a record, and no reader
	 * looks there. */
	memset(r, 0, offsetof(struct uidrec, dig));
	if (len < UIDREC_HDR || buf[0] != UIDREC_VERSION)
		return -1;
	r->ndig = buf[2] | (unsigned)buf[3] << 8;
	if (r->ndig > UIDREC_MAXDIG ||
	    len != UIDREC_HDR + (size_t)r->ndig * DIGEST_LEN)
		return -1;
	r->ncopies = buf[4] | (uint32_t)buf[5] << 8 | (uint32_t)buf[6] << 16 |
	    (uint32_t)buf[7] << 24;
	r->first_seen = (int64_t)get_u64(buf + 8);
	r->size = get_u64(buf + 16);
	r->list_size = get_u64(buf + 24);
	memcpy(r->hdr, buf + 32, DIGEST_LEN);
	r->flags = buf[1];
	memcpy(r->dig, buf + UIDREC_HDR, (size_t)r->ndig * DIGEST_LEN);
	return 0;
}

static void
dbt_init(DBT *d, const void *data, size_t len)
{
	memset(d, 0, sizeof *d);
	d->data = (void *)(uintptr_t)data;
	d->size = (u_int32_t)len;
}

static enum us_rc
unpacked(struct uidstore *s, struct uidrec *r, const DBT *val)
{
	if (uidrec_unpack(r, val->data, val->size) == -1) {
		snprintf(s->error, sizeof s->error, "damaged record in the "
		    "UID store in %s", s->dir);
		return US_ERR;
	}
	return US_OK;
}

static void
scan_hit(struct uidstore *s, const void *uid, size_t len, int stepped)
{
	if (s->scan_hits++ == 0) {
		memcpy(s->scan_first, uid, len);
		s->scan_firstlen = len;
	} else if (!stepped)
		s->scan_gap = 1;
	memcpy(s->scan_last, uid, len);
	s->scan_lastlen = len;
}

/* A lookup through the scan cursor. Listings mostly come in the order the
 * UIDs were recorded, which for most servers is the store's key order:
 * then the record after the last one found is the one wanted, and one
 * step of the cursor replaces a search from the root. */
static enum us_rc
scan_get(struct uidstore *s, const void *uid, size_t len, struct uidrec *r)
{
	unsigned char kbuf[UID_MAXLEN], vbuf[UIDREC_HDR +
	    UIDREC_MAXDIG * DIGEST_LEN];
	DBT key, val;
	int rc;

	memset(&val, 0, sizeof val);
	val.data = vbuf;
	val.ulen = sizeof vbuf;
	val.flags = DB_DBT_USERMEM;
	if (s->scan_at) {
		memset(&key, 0, sizeof key);
		key.data = kbuf;
		key.ulen = sizeof kbuf;
		key.flags = DB_DBT_USERMEM;
		rc = s->scan->get(s->scan, &key, &val, DB_NEXT);
		if (rc == 0 && key.size == len && memcmp(kbuf, uid, len) == 0) {
			scan_hit(s, uid, len, 1);
			return unpacked(s, r, &val);
		}
		if (rc != 0 && rc != DB_NOTFOUND && rc != DB_BUFFER_SMALL)
			return dberr(s, "reading the UID store", rc);
	}
	dbt_init(&key, uid, len);
	rc = s->scan->get(s->scan, &key, &val, DB_SET);
	s->scan_at = rc == 0;
	if (rc == DB_NOTFOUND)
		return US_NOTFOUND;
	if (rc == DB_BUFFER_SMALL) {
		/* Larger than any record popfetch writes. */
		snprintf(s->error, sizeof s->error, "damaged record in the "
		    "UID store in %s", s->dir);
		return US_ERR;
	}
	if (rc != 0)
		return dberr(s, "reading the UID store", rc);
	scan_hit(s, uid, len, 0);
	return unpacked(s, r, &val);
}

int
uidstore_recovered(const struct uidstore *s)
{
	return s->recovered;
}

enum us_rc
uidstore_get(struct uidstore *s, const void *uid, size_t len,
    struct uidrec *r)
{
	DBT key, val;
	enum us_rc urc;
	int rc;

	if (s->scan != NULL && len <= UID_MAXLEN)
		return scan_get(s, uid, len, r);
	dbt_init(&key, uid, len);
	memset(&val, 0, sizeof val);
	val.flags = DB_DBT_MALLOC;
	rc = s->uids->get(s->uids, s->txn, &key, &val, 0);
	if (rc == DB_NOTFOUND)
		return US_NOTFOUND;
	if (rc != 0)
		return dberr(s, "reading the UID store", rc);
	urc = unpacked(s, r, &val);
	free(val.data);
	return urc;
}

enum us_rc
uidstore_scan_begin(struct uidstore *s)
{
	int rc;

	if (s->txn != NULL || s->scan != NULL)
		return US_OK;
	if ((rc = s->uids->cursor(s->uids, NULL, &s->scan, 0)) != 0) {
		s->scan = NULL;
		return dberr(s, "reading the UID store", rc);
	}
	s->scan_at = 0;
	s->scan_gap = 0;
	s->scan_hits = 0;
	return US_OK;
}

/* The key at the cursor after op, without its record; 0 when there is
 * none, -1 on an error. */
static int
scan_key(struct uidstore *s, u_int32_t op, unsigned char *kbuf, size_t *len)
{
	DBT key, val;
	int rc;

	memset(&key, 0, sizeof key);
	key.data = kbuf;
	key.ulen = UID_MAXLEN;
	key.flags = DB_DBT_USERMEM;
	memset(&val, 0, sizeof val);
	val.flags = DB_DBT_PARTIAL;
	if ((rc = s->scan->get(s->scan, &key, &val, op)) == DB_NOTFOUND)
		return 0;
	if (rc != 0)
		return -1;
	*len = key.size;
	return 1;
}

int
uidstore_scan_covered(struct uidstore *s)
{
	unsigned char k[UID_MAXLEN];
	size_t len = 0;
	int rc;

	if (s->scan == NULL || s->scan_gap)
		return 0;
	/* Hits that stepped from one record to the next, from the first
	 * to the last: every record was found. */
	s->scan_at = 0;
	if ((rc = scan_key(s, DB_FIRST, k, &len)) <= 0)
		return rc == 0 && s->scan_hits == 0;
	if (s->scan_hits == 0 || len != s->scan_firstlen ||
	    memcmp(k, s->scan_first, len) != 0)
		return 0;
	return scan_key(s, DB_LAST, k, &len) == 1 &&
	    len == s->scan_lastlen && memcmp(k, s->scan_last, len) == 0;
}

void
uidstore_scan_end(struct uidstore *s)
{
	if (s->scan != NULL)
		s->scan->close(s->scan);
	s->scan = NULL;
	s->scan_at = 0;
}

enum us_rc
uidstore_begin(struct uidstore *s)
{
	int rc;

	if (s->txn != NULL) {
		snprintf(s->error, sizeof s->error, "nested transaction");
		return US_ERR;
	}
	/* Its read lock would stand in the transaction's way. */
	uidstore_scan_end(s);
	s->wrote = 1;
	if ((rc = s->env->txn_begin(s->env, NULL, &s->txn, 0)) != 0) {
		s->txn = NULL;
		return dberr(s, "starting a transaction", rc);
	}
	return US_OK;
}

enum us_rc
uidstore_commit(struct uidstore *s)
{
	DB_TXN *t = s->txn;
	int rc;

	s->txn = NULL;
	/* The default commit flushes the log synchronously: durable. */
	if ((rc = t->commit(t, 0)) != 0)
		return dberr(s, "committing to the UID store", rc);
	if (sync_dir(s, 0) == -1) {
		snprintf(s->error, sizeof s->error, "state directory %s: fsync: "
		    "%s", s->dir, strerror(errno));
		return US_ERR;
	}
	return US_OK;
}

void
uidstore_abort(struct uidstore *s)
{
	if (s->txn != NULL)
		s->txn->abort(s->txn);
	s->txn = NULL;
}

enum us_rc
uidstore_put(struct uidstore *s, const void *uid, size_t len,
    const struct uidrec *r)
{
	unsigned char buf[UIDREC_HDR + UIDREC_MAXDIG * DIGEST_LEN];
	DBT key, val;
	size_t n;
	int rc;

	if (len == 0 || len > UID_MAXLEN) {
		snprintf(s->error, sizeof s->error, "UID of %zu bytes", len);
		return US_ERR;
	}
	n = uidrec_pack(r, buf, sizeof buf);
	dbt_init(&key, uid, len);
	dbt_init(&val, buf, n);
	s->wrote = 1;
	if ((rc = s->uids->put(s->uids, s->txn, &key, &val, 0)) != 0)
		return dberr(s, "writing the UID store", rc);
	return US_OK;
}

enum us_rc
uidstore_del(struct uidstore *s, const void *uid, size_t len)
{
	DBT key;
	int rc;

	dbt_init(&key, uid, len);
	s->wrote = 1;
	rc = s->uids->del(s->uids, s->txn, &key, 0);
	if (rc != 0 && rc != DB_NOTFOUND)
		return dberr(s, "deleting from the UID store", rc);
	return US_OK;
}

enum us_rc
uidstore_journal_get(struct uidstore *s, void **blob, size_t *len)
{
	DBT key, val;
	int rc;

	dbt_init(&key, JOURNAL_KEY, sizeof JOURNAL_KEY - 1);
	memset(&val, 0, sizeof val);
	val.flags = DB_DBT_MALLOC;
	rc = s->journal->get(s->journal, s->txn, &key, &val, 0);
	if (rc == DB_NOTFOUND)
		return US_NOTFOUND;
	if (rc != 0)
		return dberr(s, "reading the journal", rc);
	*blob = val.data;
	*len = val.size;
	return US_OK;
}

enum us_rc
uidstore_journal_put(struct uidstore *s, const void *blob, size_t len)
{
	DBT key, val;
	int rc;

	dbt_init(&key, JOURNAL_KEY, sizeof JOURNAL_KEY - 1);
	dbt_init(&val, blob, len);
	s->wrote = 1;
	if ((rc = s->journal->put(s->journal, s->txn, &key, &val, 0)) != 0)
		return dberr(s, "writing the journal", rc);
	return US_OK;
}

enum us_rc
uidstore_meta_get(struct uidstore *s, const char *name, char *out,
    size_t outsz)
{
	DBT key, val;
	char k[64];
	int rc;

	snprintf(k, sizeof k, "meta:%s", name);
	dbt_init(&key, k, strlen(k));
	memset(&val, 0, sizeof val);
	val.flags = DB_DBT_USERMEM;
	val.data = out;
	val.ulen = (u_int32_t)(outsz - 1);
	rc = s->journal->get(s->journal, s->txn, &key, &val, 0);
	if (rc == DB_NOTFOUND)
		return US_NOTFOUND;
	if (rc != 0)
		return dberr(s, "reading the store's settings", rc);
	out[val.size] = '\0';
	return US_OK;
}

enum us_rc
uidstore_meta_put(struct uidstore *s, const char *name, const char *value)
{
	DBT key, val;
	char k[64];
	int rc;

	snprintf(k, sizeof k, "meta:%s", name);
	dbt_init(&key, k, strlen(k));
	dbt_init(&val, value, strlen(value));
	s->wrote = 1;
	if ((rc = s->journal->put(s->journal, s->txn, &key, &val, 0)) != 0)
		return dberr(s, "writing the store's settings", rc);
	return US_OK;
}

enum us_rc
uidstore_journal_del(struct uidstore *s)
{
	DBT key;
	int rc;

	dbt_init(&key, JOURNAL_KEY, sizeof JOURNAL_KEY - 1);
	s->wrote = 1;
	rc = s->journal->del(s->journal, s->txn, &key, 0);
	if (rc != 0 && rc != DB_NOTFOUND)
		return dberr(s, "clearing the journal", rc);
	return US_OK;
}

enum us_rc
uidstore_add_content(struct uidstore *s, const void *uid, size_t len,
    const unsigned char digest[DIGEST_LEN], uint64_t size, uint32_t copies,
    uint64_t list_size, const unsigned char hdr[DIGEST_LEN])
{
	struct uidrec rec;
	enum us_rc rc;
	unsigned i;

	rc = uidstore_get(s, uid, len, &rec);
	if (rc == US_ERR)
		return rc;
	if (rc == US_NOTFOUND) {
		memset(&rec, 0, sizeof rec);
		rec.first_seen = (int64_t)time(NULL);
	}
	rec.size = size;
	rec.flags &= ~UIDREC_TOOBIG;
	rec.list_size = list_size;
	memcpy(rec.hdr, hdr, DIGEST_LEN);
	if (copies > rec.ncopies)
		rec.ncopies = copies;
	for (i = 0; i < rec.ndig; i++)
		if (memcmp(rec.dig[i], digest, DIGEST_LEN) == 0)
			break;
	if (i == rec.ndig) {
		/* Past the cap the oldest content is forgotten: at worst it
		 * is delivered once more, never lost. */
		if (rec.ndig == UIDREC_MAXDIG) {
			memmove(rec.dig[0], rec.dig[1],
			    (UIDREC_MAXDIG - 1) * DIGEST_LEN);
			rec.ndig--;
		}
		memcpy(rec.dig[rec.ndig++], digest, DIGEST_LEN);
	}
	return uidstore_put(s, uid, len, &rec);
}

/* Keys the walk deletes once its cursor is closed. */
struct doomed {
	unsigned char	*keys;
	size_t		 len, cap;
	size_t		 n;
};

static void
doom(struct doomed *d, const void *key, size_t len)
{
	uint32_t l = (uint32_t)len;

	if (d->len + sizeof l + len > d->cap) {
		d->cap = d->cap ? 2 * d->cap : 4096;
		while (d->len + sizeof l + len > d->cap)
			d->cap *= 2;
		d->keys = xreallocarray(d->keys, d->cap, 1);
	}
	memcpy(d->keys + d->len, &l, sizeof l);
	memcpy(d->keys + d->len + sizeof l, key, len);
	d->len += sizeof l + len;
	d->n++;
}

/*
 * The records come 64 KiB at a time (DB_MULTIPLE_KEY; a larger buffer
 * only adds to the peak memory of a fetch, which walks after QUIT with its
 * jobs still in memory): stepping the
 * cursor one record at a time cost about 2,000 instructions a record, most
 * of a nothing-new run's walk of 100,000. Deletions wait for the cursor to
 * close, in the same transaction.
 */
enum us_rc
uidstore_walk(struct uidstore *s,
    int (*fn)(void *, const void *, size_t, const struct uidrec *),
    void *ctx, size_t *deleted)
{
	struct uidrec r;
	struct doomed d = { 0 };
	DBC *cur = NULL;
	DBT key, bulk;
	void *p, *k, *v;
	size_t off;
	u_int32_t klen, vlen, l;
	int rc, act = 0;

	*deleted = 0;
	if (uidstore_begin(s) != US_OK)
		return US_ERR;
	if ((rc = s->uids->cursor(s->uids, s->txn, &cur, 0)) != 0)
		goto fail;
	memset(&key, 0, sizeof key);
	memset(&bulk, 0, sizeof bulk);
	bulk.ulen = 64 * 1024;
	bulk.data = xmalloc(bulk.ulen);
	bulk.flags = DB_DBT_USERMEM;
	while (act != -1 && (rc = cur->get(cur, &key, &bulk,
	    DB_NEXT | DB_MULTIPLE_KEY)) == 0) {
		DB_MULTIPLE_INIT(p, &bulk);
		for (;;) {
			DB_MULTIPLE_KEY_NEXT(p, &bulk, k, klen, v, vlen);
			if (p == NULL)
				break;
			if (uidrec_unpack(&r, v, vlen) == -1) {
				rc = DB_RUNRECOVERY;
				snprintf(s->error, sizeof s->error, "damaged "
				    "record in the UID store in %s", s->dir);
				free(bulk.data);
				goto fail;
			}
			act = fn(ctx, k, klen, &r);
			if (act == -1)
				break;
			if (act == 1)
				doom(&d, k, klen);
		}
	}
	free(bulk.data);
	if (rc != 0 && rc != DB_NOTFOUND)
		goto fail;
	cur->close(cur);
	cur = NULL;
	for (off = 0; off < d.len; off += sizeof l + l) {
		memcpy(&l, d.keys + off, sizeof l);
		dbt_init(&key, d.keys + off + sizeof l, l);
		s->wrote = 1;
		if ((rc = s->uids->del(s->uids, s->txn, &key, 0)) != 0 &&
		    rc != DB_NOTFOUND)
			goto fail;
	}
	*deleted = d.n;
	free(d.keys);
	return uidstore_commit(s);
fail:
	free(d.keys);
	if (cur != NULL)
		cur->close(cur);
	uidstore_abort(s);
	return dberr(s, "walking the UID store", rc);
}
