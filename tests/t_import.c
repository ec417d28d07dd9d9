/* SPDX-License-Identifier: ISC */
/*
 * Unit tests of src/import.c, the readers of mpop's, fetchmail's and
 * getmail's UID files (issue 11, "Switching without downloading again").
 * Three kinds of input, each fed whole through import_uids:
 *   - files the real programs wrote (tests/data/import, its README says how),
 *   - hand-made rows, marked as such, for what a real run rarely shows:
 *     older versions, hand edits, CRLF conversions, every error,
 *   - hostile input: cut short at every byte, binary junk, huge lines.
 * Every error must be one printable line, and must leave nothing passed on.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "import.h"
#include "uidstore.h"
#include "unit.h"

#define S(s)	s, sizeof(s) - 1

/* The UIDs a run passed on, each followed by '\n' (no test UID holds one). */
struct got {
	char	*buf;
	size_t	 len, cap;
	long	 n;
	long	 stop_at;	/* return nonzero at this call; -1: never */
};

static int
got_uid(const char *uid, size_t len, void *arg)
{
	struct got *g = arg;

	if (g->stop_at >= 0 && g->n == g->stop_at)
		return 1;
	g->n++;
	if (g->len + len + 1 > g->cap) {
		g->cap = (g->len + len + 1) * 2;
		if ((g->buf = realloc(g->buf, g->cap)) == NULL)
			abort();
	}
	memcpy(g->buf + g->len, uid, len);
	g->len += len;
	g->buf[g->len++] = '\n';
	return 0;
}

static const struct import_account dflt = { "test", "127.0.0.1", "110" };

/* An error must be one line of printable ASCII. */
static int
printable_line(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return 0;
	return 1;
}

/*
 * One run on an exact heap copy of the input (so that ASan sees a read past
 * it). Checks what holds for every run: an error is one printable line and
 * passes nothing on; a success passes on as many UIDs as it returns, none
 * empty, too long or holding a NUL; counting without a callback agrees.
 */
static long
run(const char *what, enum import_format fmt, const char *name,
    const char *in, size_t inlen, const struct import_account *a,
    struct got *g, char **err)
{
	char *copy, *err2;
	long rc, rc2;
	size_t i, start, bad;

	copy = malloc(inlen > 0 ? inlen : 1);
	memcpy(copy, in, inlen);
	memset(g, 0, sizeof *g);
	g->stop_at = -1;
	rc = import_uids(fmt, name, copy, inlen, a, got_uid, g, err);
	if (rc == -1) {
		CHECK(*err != NULL && printable_line(*err),
		    "%s: error not one printable line: %s", what,
		    *err != NULL ? *err : "(null)");
		CHECK(g->n == 0, "%s: %ld UIDs passed on before an error",
		    what, g->n);
	} else {
		CHECK(*err == NULL, "%s: errstr set on success", what);
		CHECK(rc == g->n, "%s: returned %ld, passed on %ld", what, rc,
		    g->n);
		/* One check for all the UIDs, so the count stays a count of
		 * cases, not of lines. */
		for (i = 0, start = 0, bad = 0; i < g->len && !bad; i++) {
			if (g->buf[i] != '\n')
				continue;
			if (i == start || i - start > IMPORT_UID_MAXLEN ||
			    memchr(g->buf + start, '\0', i - start) != NULL)
				bad = i - start + 1;
			start = i + 1;
		}
		CHECK(bad == 0, "%s: bad UID of %zu bytes", what, bad - 1);
	}
	rc2 = import_uids(fmt, name, copy, inlen, a, NULL, NULL, &err2);
	CHECK(rc2 == rc, "%s: %ld without a callback, %ld with", what, rc2,
	    rc);
	free(err2);
	free(copy);
	return rc;
}

struct row {
	const char		*what;
	enum import_format	 fmt;
	const char		*name;
	const char		*in;
	size_t			 inlen;
	struct import_account	 acct;	/* user NULL: dflt */
	long			 rc;
	const char		*uids;	/* rc >= 0: each followed by '\n' */
	const char		*err;	/* rc == -1: a part of the message */
};

/*
 * Every proper prefix of a good file is a file cut short: it may fail, or
 * give fewer UIDs, but never a UID that the whole file does not hold (a UID
 * cut short could be another message's).
 */
static void
check_prefixes(const struct row *r, const struct import_account *a,
    const char *full, size_t fulllen)
{
	struct got g;
	char *err, what[128], *needle;
	size_t k, i, start;
	int bad = 0;

	for (k = 0; k < r->inlen && !bad; k++) {
		snprintf(what, sizeof what, "%s, first %zu bytes", r->what, k);
		if (run(what, r->fmt, r->name, r->in, k, a, &g, &err) == -1) {
			free(err);
			free(g.buf);
			continue;
		}
		for (i = 0, start = 0; i < g.len; i++) {
			if (g.buf[i] != '\n')
				continue;
			needle = malloc(i - start + 3);
			needle[0] = '\n';
			memcpy(needle + 1, g.buf + start, i - start + 1);
			needle[i - start + 2] = '\0';
			/* full is "\n" + the UIDs, each ending in '\n'. */
			if (memmem(full, fulllen, needle, i - start + 2) ==
			    NULL) {
				CHECK(0, "%s: UID \"%.*s\" not in the whole "
				    "file", what, (int)(i - start),
				    g.buf + start);
				bad = 1;
			}
			free(needle);
			start = i + 1;
		}
		free(g.buf);
	}
	CHECK(!bad, "%s: prefixes", r->what);
}

static void
check_row(const struct row *r)
{
	const struct import_account *a = r->acct.user != NULL ? &r->acct :
	    &dflt;
	struct got g;
	char *err = NULL, *full;
	long rc;

	rc = run(r->what, r->fmt, r->name, r->in, r->inlen, a, &g, &err);
	CHECK(rc == r->rc, "%s: returned %ld, want %ld (%s)", r->what, rc,
	    r->rc, err != NULL ? err : "no error");
	if (rc >= 0 && r->rc >= 0) {
		CHECK(g.len == strlen(r->uids) &&
		    (g.len == 0 || memcmp(g.buf, r->uids, g.len) == 0),
		    "%s: UIDs\n%.*s\nwant\n%s", r->what, (int)g.len,
		    g.buf != NULL ? g.buf : "", r->uids);
		/* Stopped by the callback: -1, no message, no more calls. */
		if (rc > 0) {
			free(g.buf);
			memset(&g, 0, sizeof g);
			g.stop_at = rc - 1;
			CHECK(import_uids(r->fmt, r->name, r->in, r->inlen, a,
			    got_uid, &g, &err) == -1 && err == NULL &&
			    g.n == rc - 1, "%s: stop at the last UID", r->what);
		}
		full = malloc(strlen(r->uids) + 2);
		full[0] = '\n';
		memcpy(full + 1, r->uids, strlen(r->uids) + 1);
		check_prefixes(r, a, full, strlen(full));
		free(full);
	}
	if (rc == -1 && r->rc == -1)
		CHECK(err != NULL && strstr(err, r->err) != NULL,
		    "%s: error \"%s\" lacks \"%s\"", r->what,
		    err != NULL ? err : "(null)", r->err);
	free(err);
	free(g.buf);
}

#define HAND(...)	__VA_ARGS__	/* marks a hand-made input */
#define ACCT(u, h, p)	{ u, h, p }
#define DFLT		{ NULL, NULL, NULL }

static const struct row mpop_rows[] = {
	{ "mpop: hand-made empty file", IMPORT_MPOP, NULL, S(HAND("")), DFLT,
	    0, "", NULL },
	{ "mpop: hand-made comments only (mpop writes them for no UIDs)",
	    IMPORT_MPOP, NULL, S(HAND("# one\n#\n")), DFLT, 0, "", NULL },
	{ "mpop: hand-made two accounts", IMPORT_MPOP, NULL,
	    S(HAND("# c\n 2 localhost bob\nb1\nb2\n 3 127.0.0.1 test\n"
	    "a1\n#a2\na 3\n")), DFLT, 3, "a1\n#a2\na 3\n", NULL },
	{ "mpop: hand-made host without regard to case, user exactly",
	    IMPORT_MPOP, NULL, S(HAND(" 1 POP.Example.ORG test\nx\n")),
	    ACCT("test", "pop.example.org", "995"), 1, "x\n", NULL },
	{ "mpop: hand-made user case differs", IMPORT_MPOP, NULL,
	    S(HAND(" 1 127.0.0.1 Test\nx\n")), DFLT, -1, "",
	    "no UIDs of test at 127.0.0.1, only of: Test at 127.0.0.1" },
	{ "mpop: hand-made only the first list of an account counts",
	    IMPORT_MPOP, NULL, S(HAND(" 1 127.0.0.1 test\nfirst\n"
	    " 1 127.0.0.1 test\nsecond\n")), DFLT, 1, "first\n", NULL },
	{ "mpop: hand-made user with a blank (mpop writes it so)",
	    IMPORT_MPOP, NULL, S(HAND(" 1 h John Doe\nx\n")),
	    ACCT("John Doe", "h", "110"), 1, "x\n", NULL },
	{ "mpop: hand-made CRLF conversion", IMPORT_MPOP, NULL,
	    S(HAND("# c\r\n 2 127.0.0.1 test\r\na\r\nb c\r\n")), DFLT, 2,
	    "a\nb c\n", NULL },
	{ "mpop: hand-made control bytes and 8-bit in UIDs", IMPORT_MPOP,
	    NULL, S(HAND(" 3 127.0.0.1 test\n\001x\nt\tab\ncaf\303\251\n")),
	    DFLT, 3, "\001x\nt\tab\ncaf\303\251\n", NULL },
	{ "mpop: hand-made a comment after the first list", IMPORT_MPOP,
	    NULL, S(HAND(" 1 127.0.0.1 test\na\n# late\n")), DFLT, -1, "",
	    "line 3: a UID outside any list" },
	{ "mpop: hand-made UID before any list", IMPORT_MPOP, NULL,
	    S(HAND("# c\nuid\n")), DFLT, -1, "", "line 2: a UID outside" },
	{ "mpop: hand-made empty line at the top", IMPORT_MPOP, NULL,
	    S(HAND("\n 1 127.0.0.1 test\na\n")), DFLT, -1, "", "line 1:" },
	{ "mpop: hand-made count 0", IMPORT_MPOP, NULL,
	    S(HAND(" 0 127.0.0.1 test\n")), DFLT, -1, "",
	    "line 1: no UID count" },
	{ "mpop: hand-made count with a sign", IMPORT_MPOP, NULL,
	    S(HAND(" +1 127.0.0.1 test\na\n")), DFLT, -1, "",
	    "line 1: no UID count" },
	{ "mpop: hand-made count too large", IMPORT_MPOP, NULL,
	    S(HAND(" 99999999999999999999999 127.0.0.1 test\na\n")), DFLT,
	    -1, "", "line 1: a UID count too large" },
	{ "mpop: hand-made no host", IMPORT_MPOP, NULL,
	    S(HAND(" 1 127.0.0.1\na\n")), DFLT, -1, "", "line 1: no host" },
	{ "mpop: hand-made empty host", IMPORT_MPOP, NULL,
	    S(HAND(" 1  test\na\n")), DFLT, -1, "", "line 1: no host" },
	{ "mpop: hand-made no user", IMPORT_MPOP, NULL,
	    S(HAND(" 1 127.0.0.1 \na\n")), DFLT, -1, "", "line 1: no user" },
	{ "mpop: hand-made too few UIDs before the next list", IMPORT_MPOP,
	    NULL, S(HAND(" 3 127.0.0.1 test\na\nb\n 1 h u\nc\n")), DFLT, -1,
	    "", "line 4: a new list, but the one of test at 127.0.0.1 has "
	    "only 2 of its 3 UIDs" },
	{ "mpop: hand-made too few UIDs at the end", IMPORT_MPOP, NULL,
	    S(HAND(" 1 h u\nx\n 3 127.0.0.1 test\na\n")), DFLT, -1, "",
	    "line 4: the file ends after 1 of the 3 UIDs of test at "
	    "127.0.0.1" },
	{ "mpop: hand-made too few UIDs of another account", IMPORT_MPOP,
	    NULL, S(HAND(" 1 127.0.0.1 test\na\n 2 h u\nx\n")), DFLT, -1, "",
	    "the file ends after 1 of the 2 UIDs of u at h" },
	{ "mpop: hand-made empty UID", IMPORT_MPOP, NULL,
	    S(HAND(" 2 127.0.0.1 test\na\n\n")), DFLT, -1, "",
	    "line 3: an empty UID" },
	{ "mpop: hand-made NUL in a UID", IMPORT_MPOP, NULL,
	    S(HAND(" 1 127.0.0.1 test\na\0b\n")), DFLT, -1, "",
	    "line 2: a NUL byte in a UID" },
	{ "mpop: hand-made cut short inside a UID", IMPORT_MPOP, NULL,
	    S(HAND(" 1 127.0.0.1 test\nabc")), DFLT, -1, "",
	    "line 2: no newline at its end" },
	{ "mpop: hand-made a bad UID of another account is not ours",
	    IMPORT_MPOP, NULL, S(HAND(" 1 h u\n\n 1 127.0.0.1 test\na\n")),
	    DFLT, 1, "a\n", NULL },
	{ "mpop: hand-made no list for us, six others", IMPORT_MPOP, NULL,
	    S(HAND(" 1 h1 u\na\n 1 h2 u\na\n 1 h3 u\na\n 1 h4 u\na\n"
	    " 1 h5 u\na\n 1 h1 u\na\n 1 h6 u\na\n")), DFLT, -1, "",
	    "no UIDs of test at 127.0.0.1, only of: u at h1, u at h2, "
	    "u at h3, u at h4, u at h5, ... (mpop records" },
	{ "mpop: hand-made hostile account name is sanitized", IMPORT_MPOP,
	    NULL, S(HAND(" 1 h \033[2J\\\nx\n")), DFLT, -1, "",
	    "only of: \\x1b[2J\\x5c at h" },
};

static const struct row fetchmail_rows[] = {
	{ "fetchmail: hand-made empty file", IMPORT_FETCHMAIL, NULL,
	    S(HAND("")), DFLT, 0, "", NULL },
	{ "fetchmail: hand-made other accounts in between", IMPORT_FETCHMAIL,
	    NULL, S(HAND("test@127.0.0.1 a\nbob@127.0.0.1 x\n"
	    "test@127.0.0.1 b\n")), DFLT, 2, "a\nb\n", NULL },
	{ "fetchmail: hand-made user and host without regard to case",
	    IMPORT_FETCHMAIL, NULL, S(HAND("TEST@Pop.Example.Org a\n")),
	    ACCT("test", "pop.example.org", "110"), 1, "a\n", NULL },
	{ "fetchmail: hand-made user with '@' and blanks (Lotus Notes)",
	    IMPORT_FETCHMAIL, NULL, S(HAND("John Doe@corp@mail.corp a@b\n"
	    "  John Doe@corp@mail.corp c\n")),
	    ACCT("John Doe@corp", "mail.corp", "110"), 2, "a@b\nc\n", NULL },
	{ "fetchmail: hand-made blank lines, tabs, trailing blanks, CRLF",
	    IMPORT_FETCHMAIL, NULL, S(HAND("\n  \t\ntest@127.0.0.1\ta \t\r\n"
	    "test@127.0.0.1  b\r\n")), DFLT, 2, "a\nb\n", NULL },
	{ "fetchmail: hand-made control and 8-bit bytes (6.4.37 keeps them)",
	    IMPORT_FETCHMAIL, NULL, S(HAND("test@127.0.0.1 c\001x\177\n"
	    "test@127.0.0.1 caf\303\251\n")), DFLT, 2,
	    "c\001x\177\ncaf\303\251\n", NULL },
	{ "fetchmail: hand-made 6.2 and older wrote the DNS name",
	    IMPORT_FETCHMAIL, NULL,
	    S(HAND("test@mail.example.net 000000016b0fcdcd\n")),
	    ACCT("test", "pop.example.org", "110"), -1, "",
	    "no UIDs of test at pop.example.org, only of: test at "
	    "mail.example.net (fetchmail records the user and the \"via\" "
	    "or poll name)" },
	{ "fetchmail: hand-made two words after USER@HOST", IMPORT_FETCHMAIL,
	    NULL, S(HAND("test@127.0.0.1 a\ntest@127.0.0.1 a b\n")), DFLT,
	    -1, "", "line 2: more than one word after test@127.0.0.1" },
	{ "fetchmail: hand-made no '@'", IMPORT_FETCHMAIL, NULL,
	    S(HAND("# comment\n")), DFLT, -1, "",
	    "line 1: not \"USER@HOST UID\"" },
	{ "fetchmail: hand-made no UID", IMPORT_FETCHMAIL, NULL,
	    S(HAND("test@127.0.0.1 a\ntest@127.0.0.1  \n")), DFLT, -1, "",
	    "line 2: no UID" },
	{ "fetchmail: hand-made no user", IMPORT_FETCHMAIL, NULL,
	    S(HAND("@127.0.0.1 a\n")), DFLT, -1, "", "line 1: no user" },
	{ "fetchmail: hand-made no host", IMPORT_FETCHMAIL, NULL,
	    S(HAND("test@ a\n")), DFLT, -1, "", "line 1: no user or no host" },
	{ "fetchmail: hand-made NUL in a UID", IMPORT_FETCHMAIL, NULL,
	    S(HAND("test@127.0.0.1 a\0b\n")), DFLT, -1, "",
	    "line 1: a NUL byte" },
	{ "fetchmail: hand-made cut short", IMPORT_FETCHMAIL, NULL,
	    S(HAND("test@127.0.0.1 a\ntest@127.0.0.1 b")), DFLT, -1, "",
	    "line 2: no newline at its end" },
	{ "fetchmail: hand-made a mpop file", IMPORT_FETCHMAIL, NULL,
	    S(HAND("# This file was generated by mpop version 1.4.18.\n")),
	    DFLT, -1, "", "line 1: not \"USER@HOST UID\"" },
};

static const struct row getmail_rows[] = {
	{ "getmail: hand-made empty file (getmail writes it so)",
	    IMPORT_GETMAIL, "oldmail-127.0.0.1-110-test", S(HAND("")), DFLT,
	    0, "", NULL },
	{ "getmail: hand-made blank lines, leading blanks, negative time",
	    IMPORT_GETMAIL, NULL, S(HAND("\n  a\0001\nb c \0-5 \r\n")), DFLT,
	    2, "a\nb c \n", NULL },
	{ "getmail: hand-made control and 8-bit bytes", IMPORT_GETMAIL, NULL,
	    S(HAND("t\tab\0001\ncr\rx\0001\ncaf\303\251\0001\n")), DFLT, 3,
	    "t\tab\ncr\rx\ncaf\303\251\n", NULL },
	{ "getmail: hand-made renamed file: not checked", IMPORT_GETMAIL,
	    "getmail-state", S(HAND("a\0001\n")), DFLT, 1, "a\n", NULL },
	{ "getmail: hand-made name: getmail writes no leading zero",
	    IMPORT_GETMAIL, "oldmail-LocalHost-0995-test", S(HAND("a\0001\n")),
	    ACCT("test", "localhost", "995"), -1, "", "oldmail-localhost-995" },
	{ "getmail: hand-made name: host case, port without leading zeros",
	    IMPORT_GETMAIL, "oldmail-LocalHost-995-test", S(HAND("a\0001\n")),
	    ACCT("test", "localhost", "0995"), 1, "a\n", NULL },
	{ "getmail: hand-made name: user exactly", IMPORT_GETMAIL,
	    "oldmail-localhost-995-Test", S(HAND("a\0001\n")),
	    ACCT("test", "localhost", "995"), -1, "",
	    "getmail keeps the UIDs of this account in "
	    "\"oldmail-localhost-995-test\", not in "
	    "\"oldmail-localhost-995-Test\"" },
	{ "getmail: hand-made name: IPv6 address and '/' in the user",
	    IMPORT_GETMAIL, "oldmail--1-110-dom-a-b", S(HAND("a\0001\n")),
	    ACCT("dom/a|;b", "::1", "110"), 1, "a\n", NULL },
	{ "getmail: hand-made name of an IMAP folder", IMPORT_GETMAIL,
	    "oldmail-127.0.0.1-110-test-INBOX", S(HAND("a\0001\n")), DFLT, -1,
	    "", "not in \"oldmail-127.0.0.1-110-test-INBOX\"" },
	{ "getmail: hand-made state of an IMAP folder", IMPORT_GETMAIL, NULL,
	    S(HAND("1234/17\0001\n")), DFLT, -1, "",
	    "line 1: a '/' in a UID: this is getmail's state of an IMAP folder" },
	{ "getmail: hand-made no NUL", IMPORT_GETMAIL, NULL,
	    S(HAND("a\0001\nb 2\n")), DFLT, -1, "",
	    "line 2: not UID, NUL, time" },
	{ "getmail: hand-made no time", IMPORT_GETMAIL, NULL,
	    S(HAND("a\0\n")), DFLT, -1, "", "line 1: no time after the NUL" },
	{ "getmail: hand-made text after the time", IMPORT_GETMAIL, NULL,
	    S(HAND("a\0001x\n")), DFLT, -1, "", "line 1: text after the time" },
	{ "getmail: hand-made two NULs", IMPORT_GETMAIL, NULL,
	    S(HAND("a\0001\0002\n")), DFLT, -1, "", "line 1: text after" },
	{ "getmail: hand-made empty UID", IMPORT_GETMAIL, NULL,
	    S(HAND("\0001\n")), DFLT, -1, "", "line 1: an empty UID" },
	{ "getmail: hand-made cut short", IMPORT_GETMAIL, NULL,
	    S(HAND("a\0001\nb\0001")), DFLT, -1, "",
	    "line 2: no newline at its end" },
};

static void
test_rows(void)
{
	size_t i;

	for (i = 0; i < sizeof mpop_rows / sizeof mpop_rows[0]; i++)
		check_row(&mpop_rows[i]);
	for (i = 0; i < sizeof fetchmail_rows / sizeof fetchmail_rows[0]; i++)
		check_row(&fetchmail_rows[i]);
	for (i = 0; i < sizeof getmail_rows / sizeof getmail_rows[0]; i++)
		check_row(&getmail_rows[i]);
}

/* A file of tests/data/import, whole; NULL (and a FAIL) if unreadable. */
static char *
slurp(const char *rel, size_t *len)
{
	const char *srcdir = getenv("srcdir");
	char path[1024], *buf = NULL;
	size_t cap = 0, n;
	FILE *f;

	snprintf(path, sizeof path, "%s/tests/data/import/%s",
	    srcdir != NULL ? srcdir : ".", rel);
	if ((f = fopen(path, "rb")) == NULL) {
		CHECK(0, "%s: %s", path, strerror(errno));
		return NULL;
	}
	*len = 0;
	do {
		if (*len == cap) {
			cap = cap ? cap * 2 : 4096;
			if ((buf = realloc(buf, cap)) == NULL)
				abort();
		}
		n = fread(buf + *len, 1, cap - *len, f);
		*len += n;
	} while (n > 0);
	fclose(f);
	return buf;
}

/* What the real programs wrote; see tests/data/import/README. */
#define DC	"000000016b0fcdcd\n000000026b0fcdcd\n000000036b0fcdcd\n"
#define L70	"LLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLL"
#define ALICE	ACCT("alice@example.org", "localhost", "110")

static const struct {
	const char		*file;
	struct row		 r;
} real[] = {
	{ "mpop-uidls", { "mpop 1.4.18: dovecot account", IMPORT_MPOP, NULL,
	    NULL, 0, DFLT, 3, DC, NULL } },
	{ "mpop-uidls", { "mpop 1.4.18: odd UIDs, sorted, blank kept",
	    IMPORT_MPOP, NULL, NULL, 0, ALICE, 8,
	    "#starts-with-hash\n" L70 "\nat@sign@x\nplain-1\n"
	    "quo\"te'd\\back\nslash/ed\nwith space\nz-last\n", NULL } },
	{ "mpop-uidls", { "mpop 1.4.18: host case", IMPORT_MPOP, NULL, NULL, 0,
	    ACCT("alice@example.org", "LOCALHOST", "995"), 8, NULL, NULL } },
	{ "mpop-uidls", { "mpop 1.4.18: an account it does not hold",
	    IMPORT_MPOP, NULL, NULL, 0, ACCT("test", "pop.example.org", "110"),
	    -1, "", "no UIDs of test at pop.example.org, only of: "
	    "alice@example.org at localhost, test at 127.0.0.1 (mpop records "
	    "the host and user of its own configuration)" } },
	{ "mpop-uidls-huge", { "mpop 1.4.18: a 600-byte UID", IMPORT_MPOP,
	    NULL, NULL, 0, ALICE, -1, "",
	    "line 10: a UID of 600 bytes; popfetch takes at most 512" } },
	{ "mpop-uidls-empty", { "mpop 1.4.18: no UIDs", IMPORT_MPOP, NULL,
	    NULL, 0, DFLT, 0, "", NULL } },
	{ "fetchids", { "fetchmail 6.4.37: dovecot account", IMPORT_FETCHMAIL,
	    NULL, NULL, 0, DFLT, 3, DC, NULL } },
	{ "fetchids", { "fetchmail 6.4.37: odd UIDs, first word, via name",
	    IMPORT_FETCHMAIL, NULL, NULL, 0,
	    ACCT("Alice@Example.org", "LocalHost", "1"), 9,
	    "plain-1\n#starts-with-hash\nquo\"te'd\\back\nat@sign@x\n"
	    "slash/ed\n" L70 "\nwith\nz-last\ncaf\303\251\n", NULL } },
	{ "fetchids", { "fetchmail 6.4.37: the poll name is not recorded",
	    IMPORT_FETCHMAIL, NULL, NULL, 0,
	    ACCT("alice@example.org", "oddalias", "110"), -1, "",
	    "only of: test at 127.0.0.1, alice@example.org at localhost" } },
	{ "getmail/oldmail-127.0.0.1-26410-test", { "getmail 6.18.11: dovecot",
	    IMPORT_GETMAIL, "oldmail-127.0.0.1-26410-test", NULL, 0,
	    ACCT("test", "127.0.0.1", "26410"), 3,
	    "000000036b0fcdcd\n000000026b0fcdcd\n000000016b0fcdcd\n", NULL } },
	{ "getmail/oldmail-127.0.0.1-26410-test", { "getmail 6.18.11: "
	    "another port", IMPORT_GETMAIL, "oldmail-127.0.0.1-26410-test",
	    NULL, 0, DFLT, -1, "", "getmail keeps the UIDs of this account in "
	    "\"oldmail-127.0.0.1-110-test\", not in "
	    "\"oldmail-127.0.0.1-26410-test\"" } },
	{ "getmail/oldmail-127.0.0.1-26410-test", { "getmail 6.18.11: no name",
	    IMPORT_GETMAIL, NULL, NULL, 0, DFLT, 3,
	    "000000036b0fcdcd\n000000026b0fcdcd\n000000016b0fcdcd\n", NULL } },
	{ "getmail/oldmail-localhost-38929-alice@example.org", { "getmail "
	    "6.18.11: odd UIDs, '/' as '-', blank and UTF-8 kept",
	    IMPORT_GETMAIL, "oldmail-localhost-38929-alice@example.org", NULL,
	    0, ACCT("alice@example.org", "localhost", "38929"), 9,
	    "plain-1\nz-last\nat@sign@x\nquo\"te'd\\back\ncaf\303\251\n"
	    "slash-ed\nwith space\n#starts-with-hash\n" L70 "\n", NULL } },
	{ "getmail/oldmail-localhost-33923-alice@example.org", { "getmail "
	    "6.18.11: a 600-byte UID", IMPORT_GETMAIL,
	    "oldmail-localhost-33923-alice@example.org", NULL, 0,
	    ACCT("alice@example.org", "localhost", "33923"), -1, "",
	    "line 9: a UID of 600 bytes" } },
	{ "getmail/oldmail-localhost-35201-nobody", { "getmail 6.18.11: no "
	    "UIDs", IMPORT_GETMAIL, "oldmail-localhost-35201-nobody", NULL, 0,
	    ACCT("nobody", "localhost", "35201"), 0, "", NULL } },
};

static void
test_real_files(void)
{
	struct row r;
	struct got g;
	char *buf, *err;
	size_t i, len;

	for (i = 0; i < sizeof real / sizeof real[0]; i++) {
		if ((buf = slurp(real[i].file, &len)) == NULL)
			continue;
		r = real[i].r;
		r.in = buf;
		r.inlen = len;
		if (r.uids != NULL) {
			check_row(&r);
		} else {
			/* Same as the row before it, other account. */
			CHECK(run(r.what, r.fmt, r.name, buf, len, &r.acct, &g,
			    &err) == r.rc, "%s: %s", r.what,
			    err != NULL ? err : "no error");
			free(err);
			free(g.buf);
		}
		free(buf);
	}
}

static void
test_names(void)
{
	enum import_format f;
	const char *file;
	char *err = NULL;

	CHECK(import_format_parse("mpop", &f) == 0 && f == IMPORT_MPOP,
	    "mpop");
	CHECK(import_format_parse("fetchmail", &f) == 0 &&
	    f == IMPORT_FETCHMAIL, "fetchmail");
	CHECK(import_format_parse("getmail", &f) == 0 && f == IMPORT_GETMAIL,
	    "getmail");
	CHECK(import_format_parse("getmail6", &f) == -1, "getmail6");
	CHECK(import_format_parse("", &f) == -1, "empty name");
	CHECK(strcmp(import_format_name(IMPORT_FETCHMAIL), "fetchmail") == 0,
	    "name of fetchmail");

	CHECK(import_spec_parse("mpop:~/.mpop_uidls/test_at_h", &f, &file,
	    &err) == 0 && f == IMPORT_MPOP &&
	    strcmp(file, "~/.mpop_uidls/test_at_h") == 0, "spec mpop");
	CHECK(import_spec_parse("getmail:/a:b", &f, &file, &err) == 0 &&
	    f == IMPORT_GETMAIL && strcmp(file, "/a:b") == 0,
	    "spec with a colon in the file name");
	CHECK(import_spec_parse("fetchmail:", &f, &file, &err) == -1 &&
	    err != NULL && strstr(err, "no file name after \"fetchmail:\"")
	    != NULL, "spec without file: %s", err);
	free(err);
	err = NULL;
	CHECK(import_spec_parse("thunderbird:x", &f, &file, &err) == -1 &&
	    err != NULL && strstr(err, "\"thunderbird:x\" is not FORMAT:FILE "
	    "with FORMAT one of mpop, fetchmail, getmail") != NULL,
	    "spec with unknown format: %s", err);
	free(err);
	err = NULL;
	CHECK(import_spec_parse("/home/u/.fetchids", &f, &file, &err) == -1 &&
	    err != NULL, "spec without format");
	free(err);
	err = NULL;
	CHECK(import_spec_parse("mpopmpopmpopmpopmpopmpop:x", &f, &file,
	    &err) == -1 && err != NULL, "spec with a long format");
	free(err);
	err = NULL;
	CHECK(import_spec_parse("\033[2J:x", &f, &file, &err) == -1 &&
	    err != NULL && printable_line(err), "spec error sanitized: %s",
	    err);
	free(err);

	/* Both limits stay together: an imported UID must fit the store. */
	CHECK(IMPORT_UID_MAXLEN == UID_MAXLEN, "IMPORT_UID_MAXLEN %d, "
	    "UID_MAXLEN %d", IMPORT_UID_MAXLEN, UID_MAXLEN);
}

/* A file of one UID of n bytes for our account, in the given format. */
static char *
one_uid(enum import_format fmt, size_t n, size_t *len)
{
	const char *pre = fmt == IMPORT_MPOP ? " 1 127.0.0.1 test\n" :
	    fmt == IMPORT_FETCHMAIL ? "test@127.0.0.1 " : "";
	const char *post = fmt == IMPORT_GETMAIL ? "\0" "17\n" : "\n";
	size_t plen = strlen(pre), qlen = fmt == IMPORT_GETMAIL ? 4 : 1;
	char *buf = malloc(plen + n + qlen);

	memcpy(buf, pre, plen);
	memset(buf + plen, 'u', n);
	memcpy(buf + plen + n, post, qlen);
	*len = plen + n + qlen;
	return buf;
}

static void
test_limits(void)
{
	static const enum import_format fmts[] = {
		IMPORT_MPOP, IMPORT_FETCHMAIL, IMPORT_GETMAIL
	};
	static const size_t sizes[] = { 1, 70, 511, 512, 513, 4096, 1 << 20 };
	struct got g;
	char *buf, *err, what[64];
	size_t i, j, len;
	long rc, want;

	for (i = 0; i < 3; i++) {
		for (j = 0; j < sizeof sizes / sizeof sizes[0]; j++) {
			buf = one_uid(fmts[i], sizes[j], &len);
			snprintf(what, sizeof what, "%s: UID of %zu bytes",
			    import_format_name(fmts[i]), sizes[j]);
			want = sizes[j] <= IMPORT_UID_MAXLEN ? 1 : -1;
			rc = run(what, fmts[i], NULL, buf, len, &dflt, &g,
			    &err);
			CHECK(rc == want, "%s: %ld", what, rc);
			if (rc == 1)
				CHECK(g.len == sizes[j] + 1, "%s: length %zu",
				    what, g.len);
			if (rc == -1)
				CHECK(err != NULL && strstr(err, "popfetch "
				    "takes at most 512") != NULL, "%s: %s",
				    what, err);
			free(err);
			free(g.buf);
			free(buf);
		}
	}
}

/* Many UIDs: each passed on once, in file order, in linear time. */
static void
test_many(void)
{
	const long n = 200000;
	struct got g;
	char *buf, *err, *p;
	size_t len = 0, cap = (size_t)n * 32;
	long i, rc;

	p = buf = malloc(cap);
	for (i = 0; i < n; i++)
		p += sprintf(p, "test@127.0.0.1 u%ld\n", i);
	len = (size_t)(p - buf);
	rc = run("fetchmail: 200000 UIDs", IMPORT_FETCHMAIL, NULL, buf, len,
	    &dflt, &g, &err);
	CHECK(rc == n, "200000 UIDs: %ld", rc);
	CHECK(g.len > 10 && memcmp(g.buf, "u0\nu1\nu2\n", 9) == 0 &&
	    memcmp(g.buf + g.len - 8, "u199999\n", 8) == 0,
	    "200000 UIDs: order");
	free(err);
	free(g.buf);
	free(buf);
}

/*
 * Junk: random bytes, and random lines of the characters that matter to
 * the parsers. Only the invariants of run() can be checked; ASan and
 * valgrind see the rest.
 */
static void
test_junk(void)
{
	static const char alphabet[] = " \t\n\r\0@#/:-0123456789abAB";
	struct got g;
	char *buf, *err, what[64];
	size_t len, i;
	unsigned long x = 12345;
	int round, f;

	buf = malloc(8192);
	for (round = 0; round < 3000; round++) {
		len = 1 + round % 8192;
		for (i = 0; i < len; i++) {
			x = x * 6364136223846793005UL + 1442695040888963407UL;
			buf[i] = round % 2 ? (char)(x >> 56) :
			    alphabet[(x >> 33) % (sizeof alphabet - 1)];
		}
		/* Some rounds with a likely start of each format. */
		if (round % 3 == 0 && len > 20)
			memcpy(buf, " 5 127.0.0.1 test\n", 18);
		for (f = 0; f < 3; f++) {
			snprintf(what, sizeof what, "junk round %d format %d",
			    round, f);
			run(what, (enum import_format)f,
			    "oldmail-127.0.0.1-110-test", buf, len, &dflt, &g,
			    &err);
			free(err);
			free(g.buf);
		}
	}
	free(buf);
}

int
main(void)
{
	test_names();
	test_rows();
	test_real_files();
	test_limits();
	test_many();
	test_junk();
	printf("t_import: %d passed, %d failed\n", unit_pass, unit_fail);
	return unit_fail != 0;
}
