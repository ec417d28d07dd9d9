/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "import.h"
#include "log.h"
#include "xmalloc.h"

/* Accounts named when the file holds none for ours, and how much of each
 * name: enough to spot a typo, bounded whatever the file holds. */
#define SHOW_ACCOUNTS	5
#define SHOW_LEN	64

static const char *const format_names[] = {
	[IMPORT_MPOP] = "mpop",
	[IMPORT_FETCHMAIL] = "fetchmail",
	[IMPORT_GETMAIL] = "getmail",
};
#define NFORMATS (sizeof format_names / sizeof format_names[0])

struct line {
	const char	*p;
	size_t		 len;
	size_t		 no;
};

struct account_seen {
	const char	*user;
	size_t		 userlen;
	const char	*host;
	size_t		 hostlen;
};

struct imp {
	const char			*buf;
	size_t				 len;
	size_t				 off;
	size_t				 no;
	const char			*name;
	const struct import_account	*acct;
	import_cb			 cb;	/* NULL while checking */
	void				*arg;
	long				 count;
	int				 stopped;
	char				*err;
	struct account_seen		 others[SHOW_ACCOUNTS];
	size_t				 nothers;
	int				 more;
};

static int
fail(struct imp *im, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Keeps the first error: it is the one that explains the others. */
static int
fail(struct imp *im, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	if (im->err == NULL) {
		va_start(ap, fmt);
		vsnprintf(buf, sizeof buf, fmt, ap);
		va_end(ap);
		im->err = xstrdup(buf);
	}
	return -1;
}

static int
is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static int
lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* ASCII case folding only, whatever the locale. */
static int
bytes_eq(const char *a, const char *b, size_t len, int nocase)
{
	size_t i;

	if (!nocase)
		return memcmp(a, b, len) == 0;
	for (i = 0; i < len; i++)
		if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
			return 0;
	return 1;
}

/* Bytes from the file against a C string of the account. */
static int
same(const char *p, size_t len, const char *s, int nocase)
{
	return strlen(s) == len && bytes_eq(p, s, len, nocase);
}

/*
 * The next line without its LF, and without a CR before it: none of the
 * three programs ever records a CR at the end of a UID, so a CR there comes
 * from a CRLF conversion. 1, 0 at the end, or -1 for a last line without
 * its LF: a file cut short may end in a UID cut short, which must not be
 * taken for a whole one.
 */
static int
next_line(struct imp *im, struct line *l)
{
	const char *p, *lf;
	size_t left;

	if (im->off == im->len)
		return 0;
	p = im->buf + im->off;
	left = im->len - im->off;
	l->no = ++im->no;
	if ((lf = memchr(p, '\n', left)) == NULL)
		return fail(im, "line %zu: no newline at its end "
		    "(the file is cut short?)", l->no);
	l->p = p;
	l->len = (size_t)(lf - p);
	im->off += l->len + 1;
	if (l->len > 0 && p[l->len - 1] == '\r')
		l->len--;
	return 1;
}

/* A UID of this account: checked, counted, passed on in the second pass. */
static int
take_uid(struct imp *im, const struct line *l, const char *p, size_t len)
{
	if (len == 0)
		return fail(im, "line %zu: an empty UID", l->no);
	if (len > IMPORT_UID_MAXLEN)
		return fail(im, "line %zu: a UID of %zu bytes; popfetch takes "
		    "at most %d", l->no, len, IMPORT_UID_MAXLEN);
	if (memchr(p, '\0', len) != NULL)
		return fail(im, "line %zu: a NUL byte in a UID", l->no);
	im->count++;
	if (im->cb != NULL && im->cb(p, len, im->arg) != 0) {
		im->stopped = 1;
		return -1;
	}
	return 0;
}

/* Remembers an account that is not ours, for the error if ours is absent. */
static void
note_other(struct imp *im, const char *user, size_t userlen,
    const char *host, size_t hostlen)
{
	struct account_seen *a;
	size_t i;

	for (i = 0; i < im->nothers; i++) {
		a = &im->others[i];
		if (a->userlen == userlen && a->hostlen == hostlen &&
		    memcmp(a->user, user, userlen) == 0 &&
		    memcmp(a->host, host, hostlen) == 0)
			return;
	}
	if (im->nothers == SHOW_ACCOUNTS) {
		im->more = 1;
		return;
	}
	a = &im->others[im->nothers++];
	a->user = user;
	a->userlen = userlen;
	a->host = host;
	a->hostlen = hostlen;
}

/* " COUNT HOST USER"; the user is the rest of the line, as mpop writes it. */
static int
mpop_header(struct imp *im, const struct line *l, uint64_t *count,
    struct account_seen *a)
{
	size_t i = 1, j;
	uint64_t n = 0;

	if (l->len == 0 || l->p[0] != ' ')
		return fail(im, "line %zu: a UID outside any list (a list "
		    "starts with \" COUNT HOST USER\")", l->no);
	for (j = i; j < l->len && l->p[j] >= '0' && l->p[j] <= '9'; j++) {
		if (n > (UINT64_MAX - 9) / 10)
			return fail(im, "line %zu: a UID count too large",
			    l->no);
		n = n * 10 + (uint64_t)(l->p[j] - '0');
	}
	if (j == i || n == 0 || j == l->len || l->p[j] != ' ')
		return fail(im, "line %zu: no UID count in \" COUNT HOST "
		    "USER\"", l->no);
	i = j + 1;
	for (j = i; j < l->len && l->p[j] != ' '; j++)
		;
	if (j == i || j == l->len)
		return fail(im, "line %zu: no host name in \" COUNT HOST "
		    "USER\"", l->no);
	a->host = l->p + i;
	a->hostlen = j - i;
	a->user = l->p + j + 1;
	a->userlen = l->len - j - 1;
	if (a->userlen == 0)
		return fail(im, "line %zu: no user name in \" COUNT HOST "
		    "USER\"", l->no);
	*count = n;
	return 0;
}

/*
 * mpop writes comments at the top only, so that a UID starting with '#' is
 * a UID. Like mpop, the first list of an account counts and later ones are
 * ignored; a list holds at least one UID.
 */
static void
parse_mpop(struct imp *im)
{
	struct account_seen a = { NULL, 0, NULL, 0 };
	struct line l;
	uint64_t want = 0, got = 0;
	int comments = 1, ours = 0, found = 0, r;
	char u[SHOW_LEN], h[SHOW_LEN];

	while ((r = next_line(im, &l)) == 1) {
		if (comments && l.len > 0 && l.p[0] == '#')
			continue;
		comments = 0;
		if (got == want) {
			if (mpop_header(im, &l, &want, &a) == -1)
				return;
			got = 0;
			ours = 0;
			if (same(a.host, a.hostlen, im->acct->host, 1) &&
			    same(a.user, a.userlen, im->acct->user, 0))
				ours = !found;
			else
				note_other(im, a.user, a.userlen, a.host,
				    a.hostlen);
			found |= ours;
			continue;
		}
		if (l.len > 0 && l.p[0] == ' ') {
			fail(im, "line %zu: a new list, but the one of %s at "
			    "%s has only %ju of its %ju UIDs", l.no,
			    log_sanitize(u, sizeof u, a.user, a.userlen),
			    log_sanitize(h, sizeof h, a.host, a.hostlen),
			    (uintmax_t)got, (uintmax_t)want);
			return;
		}
		got++;
		if (ours && take_uid(im, &l, l.p, l.len) == -1)
			return;
	}
	if (r == 0 && got != want)
		fail(im, "line %zu: the file ends after %ju of the %ju UIDs "
		    "of %s at %s (cut short?)", im->no, (uintmax_t)got,
		    (uintmax_t)want,
		    log_sanitize(u, sizeof u, a.user, a.userlen),
		    log_sanitize(h, sizeof h, a.host, a.hostlen));
}

/*
 * "USER@HOST UID". The user may hold '@' and blanks (fetchmail quotes
 * neither), so like fetchmail: the first blank after the first '@' ends
 * USER@HOST, and the last '@' before that blank starts HOST.
 */
static void
parse_fetchmail(struct imp *im)
{
	struct line l;
	const char *p, *at;
	size_t i, k, keyend, hostat, us, ue;
	char u[SHOW_LEN], h[SHOW_LEN];

	while (next_line(im, &l) == 1) {
		p = l.p;
		for (i = 0; i < l.len && is_blank(p[i]); i++)
			;
		if (i == l.len)
			continue;
		if ((at = memchr(p + i, '@', l.len - i)) == NULL) {
			fail(im, "line %zu: not \"USER@HOST UID\"", l.no);
			return;
		}
		for (keyend = (size_t)(at - p); keyend < l.len &&
		    !is_blank(p[keyend]); keyend++)
			;
		for (hostat = keyend; p[hostat - 1] != '@'; hostat--)
			;
		if (hostat - 1 == i || hostat == keyend) {
			fail(im, "line %zu: no user or no host in USER@HOST",
			    l.no);
			return;
		}
		for (us = keyend; us < l.len && is_blank(p[us]); us++)
			;
		if (us == l.len) {
			fail(im, "line %zu: no UID after USER@HOST", l.no);
			return;
		}
		for (ue = us; ue < l.len && !is_blank(p[ue]); ue++)
			;
		for (k = ue; k < l.len && is_blank(p[k]); k++)
			;
		if (k < l.len) {
			fail(im, "line %zu: more than one word after %s@%s",
			    l.no, log_sanitize(u, sizeof u, p + i,
			    hostat - 1 - i),
			    log_sanitize(h, sizeof h, p + hostat,
			    keyend - hostat));
			return;
		}
		if (!same(p + hostat, keyend - hostat, im->acct->host, 1) ||
		    !same(p + i, hostat - 1 - i, im->acct->user, 1))
			note_other(im, p + i, hostat - 1 - i, p + hostat,
			    keyend - hostat);
		else if (take_uid(im, &l, p + us, ue - us) == -1)
			return;
	}
}

/* getmail's file name for a host, port or user: runs of / : ; < > | as one
 * '-' (its STRIP_CHAR_RE). Appends to buf at *o, which has room. */
static void
getmail_part(char *buf, size_t *o, const char *s)
{
	int run = 0;

	for (; *s != '\0'; s++) {
		if (strchr("/:;<>|", *s) != NULL) {
			if (!run)
				buf[(*o)++] = '-';
			run = 1;
		} else {
			buf[(*o)++] = *s;
			run = 0;
		}
	}
}

/*
 * getmail names the file "oldmail-" SERVER "-" PORT "-" USERNAME, port in
 * decimal without leading zeros. A file that was renamed (no "oldmail-")
 * cannot be checked and is taken as the user says.
 */
static int
getmail_name(struct imp *im)
{
	const char *port = im->acct->port;
	char *want, n[SHOW_LEN * 4], w[SHOW_LEN * 4];
	size_t o, hoststart, hostend, len;
	int ok;

	if (im->name == NULL || strncmp(im->name, "oldmail-", 8) != 0)
		return 0;
	while (port[0] == '0' && port[1] != '\0')
		port++;
	want = xmalloc(8 + strlen(im->acct->host) + 1 + strlen(port) + 1 +
	    strlen(im->acct->user) + 1);
	memcpy(want, "oldmail-", 8);
	o = 8;
	hoststart = o;
	getmail_part(want, &o, im->acct->host);
	hostend = o;
	want[o++] = '-';
	getmail_part(want, &o, port);
	want[o++] = '-';
	getmail_part(want, &o, im->acct->user);
	want[o] = '\0';
	len = strlen(im->name);
	ok = len == o && memcmp(im->name, want, hoststart) == 0 &&
	    bytes_eq(im->name + hoststart, want + hoststart,
	    hostend - hoststart, 1) &&
	    memcmp(im->name + hostend, want + hostend, o - hostend) == 0;
	if (!ok)
		fail(im, "getmail keeps the UIDs of this account in \"%s\", "
		    "not in \"%s\"", log_sanitize(w, sizeof w, want, o),
		    log_sanitize(n, sizeof n, im->name, len));
	free(want);
	return ok ? 0 : -1;
}

/*
 * "UID" NUL "TIMESTAMP" per line. getmail strips blanks around the line
 * and skips blank ones; it never writes a '/' in a POP3 UID, because a '/'
 * marks its state for an IMAP folder ("UIDVALIDITY/UID").
 */
static void
parse_getmail(struct imp *im)
{
	struct line l;
	const char *p, *nul;
	size_t i, k;

	if (getmail_name(im) == -1)
		return;
	while (next_line(im, &l) == 1) {
		p = l.p;
		for (i = 0; i < l.len && is_blank(p[i]); i++)
			;
		if (i == l.len)
			continue;
		if ((nul = memchr(p + i, '\0', l.len - i)) == NULL) {
			fail(im, "line %zu: not UID, NUL, time", l.no);
			return;
		}
		k = (size_t)(nul - p) + 1;
		if (k < l.len && p[k] == '-')
			k++;
		if (k == l.len || p[k] < '0' || p[k] > '9') {
			fail(im, "line %zu: no time after the NUL", l.no);
			return;
		}
		while (k < l.len && p[k] >= '0' && p[k] <= '9')
			k++;
		while (k < l.len && is_blank(p[k]))
			k++;
		if (k < l.len) {
			fail(im, "line %zu: text after the time", l.no);
			return;
		}
		if (memchr(p + i, '/', (size_t)(nul - p) - i) != NULL) {
			fail(im, "line %zu: a '/' in a UID: this is getmail's "
			    "state of an IMAP folder, not of POP3", l.no);
			return;
		}
		if (take_uid(im, &l, p + i, (size_t)(nul - p) - i) == -1)
			return;
	}
}

/* Our account is absent; say which ones the file has instead. */
static char *
others_error(const struct imp *im, enum import_format fmt)
{
	char list[SHOW_ACCOUNTS * (2 * SHOW_LEN + 8) + 8];
	char u[SHOW_LEN], h[SHOW_LEN];
	size_t i, o = 0;

	/* Sized for SHOW_ACCOUNTS names of at most SHOW_LEN - 1 each. */
	list[0] = '\0';
	for (i = 0; i < im->nothers && o < sizeof list; i++)
		o += (size_t)snprintf(list + o, sizeof list - o, "%s%s at %s",
		    i > 0 ? ", " : "",
		    log_sanitize(u, sizeof u, im->others[i].user,
		    im->others[i].userlen),
		    log_sanitize(h, sizeof h, im->others[i].host,
		    im->others[i].hostlen));
	if (im->more && o < sizeof list)
		snprintf(list + o, sizeof list - o, ", ...");
	return xasprintf("no UIDs of %s at %s, only of: %s (%s)",
	    log_sanitize(u, sizeof u, im->acct->user, strlen(im->acct->user)),
	    log_sanitize(h, sizeof h, im->acct->host, strlen(im->acct->host)),
	    list, fmt == IMPORT_MPOP ?
	    "mpop records the host and user of its own configuration" :
	    "fetchmail records the user and the \"via\" or poll name");
}

long
import_uids(enum import_format fmt, const char *name, const void *buf,
    size_t len, const struct import_account *acct, import_cb cb, void *arg,
    char **errstr)
{
	struct imp im;
	int pass;

	*errstr = NULL;
	/* First check everything, so that an error leaves nothing half
	 * imported; then pass the UIDs on. */
	for (pass = 0; pass < 2; pass++) {
		memset(&im, 0, sizeof im);
		im.buf = buf;
		im.len = len;
		im.name = name;
		im.acct = acct;
		im.cb = pass == 1 ? cb : NULL;
		im.arg = arg;
		switch (fmt) {
		case IMPORT_MPOP:
			parse_mpop(&im);
			break;
		case IMPORT_FETCHMAIL:
			parse_fetchmail(&im);
			break;
		case IMPORT_GETMAIL:
			parse_getmail(&im);
			break;
		default:
			im.err = xstrdup("unknown format");
			break;
		}
		if (im.stopped)
			return -1;
		if (im.err != NULL) {
			*errstr = im.err;
			return -1;
		}
		if (im.count == 0) {
			if (im.nothers > 0) {
				*errstr = others_error(&im, fmt);
				return -1;
			}
			return 0;
		}
	}
	return im.count;
}

int
import_format_parse(const char *name, enum import_format *fmt)
{
	size_t i;

	for (i = 0; i < NFORMATS; i++)
		if (strcmp(name, format_names[i]) == 0) {
			*fmt = (enum import_format)i;
			return 0;
		}
	return -1;
}

const char *
import_format_name(enum import_format fmt)
{
	return (size_t)fmt < NFORMATS ? format_names[fmt] : "?";
}

int
import_spec_parse(const char *arg, enum import_format *fmt, const char **file,
    char **errstr)
{
	const char *colon = strchr(arg, ':');
	char name[16], show[SHOW_LEN], all[64];
	size_t i, n, o = 0;

	n = colon != NULL ? (size_t)(colon - arg) : 0;
	if (colon != NULL && n < sizeof name) {
		memcpy(name, arg, n);
		name[n] = '\0';
		if (import_format_parse(name, fmt) == 0) {
			if (colon[1] == '\0') {
				*errstr = xasprintf("no file name after "
				    "\"%s:\"", name);
				return -1;
			}
			*file = colon + 1;
			return 0;
		}
	}
	all[0] = '\0';
	for (i = 0; i < NFORMATS; i++)
		o += (size_t)snprintf(all + o, sizeof all - o, "%s%s",
		    i > 0 ? ", " : "", format_names[i]);
	*errstr = xasprintf("\"%s\" is not FORMAT:FILE with FORMAT one of %s",
	    log_sanitize(show, sizeof show, arg, strlen(arg)), all);
	return -1;
}
