/* SPDX-License-Identifier: ISC */
/*
 * Unit tests of the config-file reader (src/rcfile.c): good files rendered
 * back as one string per file, bad files with their exact "file:line:"
 * error, then rcfile_load on real files for the checks that need a file
 * (permissions, owner, type, size, a missing file) and the home directory
 * and default path helpers under a fake environment.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rcfile.h"
#include "unit.h"

#define HOME	"/home/u"

static struct rc_keyword keywords[] = {
	{ "host", RC_VALUE },
	{ "port", RC_VALUE },
	{ "user", RC_VALUE },
	{ "timeout", RC_VALUE },
	{ "mda", RC_VALUE },
	{ "password-cmd", RC_VALUE },
	{ "no-tls", RC_FLAG },
	{ "delete", RC_FLAG },
	{ "maildir", RC_PATH },
	{ "mbox", RC_PATH },
	{ "password-file", RC_PATH },
	{ "password", RC_SECRET },
	{ NULL, RC_UNKNOWN },
};

struct buf {
	char	s[8192];
	size_t	n;
};

static void put(struct buf *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static void
put(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vsnprintf(b->s + b->n, sizeof b->s - b->n, fmt, ap);
	va_end(ap);
	if (r > 0)
		b->n += (size_t)r < sizeof b->s - b->n ? (size_t)r :
		    sizeof b->s - b->n - 1;
}

static void
put_item(struct buf *b, const struct rc_item *it)
{
	put(b, " %s@%u", it->keyword, it->line);
	if (it->type == RC_FLAG)
		put(b, it->on ? ":on" : ":off");
	else
		put(b, "=\"%s\"", it->value);
}

/* "NAME(LINE): KW@LINE=\"VALUE\" FLAG@LINE:on; ..." and "| DEFAULTS". */
static void
render(const struct rcfile *rc, struct buf *b)
{
	const struct rc_account *a;
	const struct rc_item *d;
	size_t i, j, n;

	b->n = 0;
	b->s[0] = '\0';
	for (i = 0; i < rcfile_naccounts(rc); i++) {
		a = rcfile_account_at(rc, i);
		put(b, "%s%s(%u):", i > 0 ? "; " : "", a->name, a->line);
		for (j = 0; j < rc_account_nitems(a); j++)
			put_item(b, rc_account_item(a, j));
	}
	d = rcfile_defaults(rc, &n);
	if (n > 0) {
		put(b, " |");
		for (j = 0; j < n; j++)
			put_item(b, &d[j]);
	}
}

static char *
repeat(char c, size_t n, const char *before, const char *after)
{
	size_t lb = strlen(before), la = strlen(after);
	char *s = malloc(lb + n + la + 1);

	memcpy(s, before, lb);
	memset(s + lb, c, n);
	memcpy(s + lb + n, after, la + 1);
	return s;
}

static void
test_good(void)
{
	static const struct {
		const char	*text;
		const char	*want;
	} t[] = {
		{ "", "" },
		{ "# only a comment\n\n   \n\t# indented\n", "" },
		/* The example of issue 11 */
		{ "# comment\n"
		  "defaults\n"
		  "    no-tls\n"
		  "    password-file ~/pw\n"
		  "    timeout 20\n"
		  "account work\n"
		  "    host pop.example.org\n"
		  "    user alice\n"
		  "    maildir ~/Maildir\n"
		  "account home\n"
		  "    host 127.0.0.1\n"
		  "    port 11110\n"
		  "    mbox \"~/mail/home mbox\"\n",
		  "work(6): no-tls@3:on password-file@4=\"" HOME "/pw\""
		  " timeout@5=\"20\" host@7=\"pop.example.org\""
		  " user@8=\"alice\" maildir@9=\"" HOME "/Maildir\"; "
		  "home(10): no-tls@3:on password-file@4=\"" HOME "/pw\""
		  " timeout@5=\"20\" host@11=\"127.0.0.1\" port@12=\"11110\""
		  " mbox@13=\"" HOME "/mail/home mbox\""
		  " | no-tls@3:on password-file@4=\"" HOME "/pw\""
		  " timeout@5=\"20\"" },
		/* Layering: a second defaults section applies from there on,
		 * after the first; one after the last account to none. */
		{ "defaults\ntimeout 1\naccount a\nhost x\n"
		  "defaults\ntimeout 2\ndelete\naccount b\ntimeout 3\n"
		  "account c\ndefaults\nuser late\n",
		  "a(3): timeout@2=\"1\" host@4=\"x\"; "
		  "b(8): timeout@2=\"1\" timeout@6=\"2\" delete@7:on"
		  " timeout@9=\"3\"; "
		  "c(10): timeout@2=\"1\" timeout@6=\"2\" delete@7:on"
		  " | timeout@2=\"1\" timeout@6=\"2\" delete@7:on"
		  " user@12=\"late\"" },
		/* An account before any defaults gets none; an empty one. */
		{ "account a\naccount b\n", "a(1):; b(2):" },
		/* Flags */
		{ "account a\ndelete\ndelete on\ndelete off\ndelete \"off\"\n"
		  "no-tls   on  \n",
		  "a(1): delete@2:on delete@3:on delete@4:off delete@5:off"
		  " no-tls@6:on" },
		/* Quoting */
		{ "account a\nuser \"a b\"\nuser \"  spaced  \"\nuser \"\"\n"
		  "user \"q\\\"x\\\\y\"\nuser \"v\" # comment\nuser \"v\"#c\n"
		  "user \"v\"  \t\nuser ab\"c\nuser \"#\"\n",
		  "a(1): user@2=\"a b\" user@3=\"  spaced  \" user@4=\"\""
		  " user@5=\"q\"x\\y\" user@6=\"v\" user@7=\"v\" user@8=\"v\""
		  " user@9=\"ab\"c\" user@10=\"#\"" },
		/* '#' after a value is part of it */
		{ "account a\npassword-cmd pass show x#y # z\npassword a#b\n",
		  "a(1): password-cmd@2=\"pass show x#y # z\""
		  " password@3=\"a#b\"" },
		/* Blanks: tabs and spaces at either end and between */
		{ "\taccount\t a \t\n \thost\t\th  \t\n",
		  "a(1): host@2=\"h\"" },
		/* CRLF, mixed with LF, and no newline at the end */
		{ "account a\r\nhost h\r\n\r\n# c\r\nuser u\nport 1",
		  "a(1): host@2=\"h\" user@5=\"u\" port@6=\"1\"" },
		/* "~" only in RC_PATH values, only at the start */
		{ "account a\nmaildir ~\nmaildir ~/\nmbox \"~/a b\"\n"
		  "mda ~/bin/x\nmaildir /x/~/y\npassword-cmd ~/pw\n"
		  "password ~/p\n",
		  "a(1): maildir@2=\"" HOME "\" maildir@3=\"" HOME "/\""
		  " mbox@4=\"" HOME "/a b\" mda@5=\"~/bin/x\""
		  " maildir@6=\"/x/~/y\" password-cmd@7=\"~/pw\""
		  " password@8=\"~/p\"" },
		/* Names: printable ASCII, quoted or not */
		{ "account a.b-c_1@x:y\naccount \"q\"\n",
		  "a.b-c_1@x:y(1):; q(2):" },
		/* Bytes that are not UTF-8 are values like any other */
		{ "account a\nuser \xff\xfe\xc3\xa9\n",
		  "a(1): user@2=\"\xff\xfe\xc3\xa9\"" },
	};
	struct rcfile *rc;
	struct buf b;
	char *err;
	size_t i;
	int r;

	for (i = 0; i < sizeof t / sizeof t[0]; i++) {
		err = NULL;
		r = rcfile_parse(t[i].text, strlen(t[i].text), "rc", HOME,
		    rc_table_lookup, keywords, &rc, &err);
		CHECK(r == 0, "good %zu: %s", i, err ? err : "?");
		if (r != 0) {
			free(err);
			continue;
		}
		render(rc, &b);
		CHECK(strcmp(b.s, t[i].want) == 0,
		    "good %zu:\n got  %s\n want %s", i, b.s, t[i].want);
		rcfile_free(rc);
	}
}

static void
test_bad(void)
{
	static const struct {
		const char	*text;
		size_t		 len;	/* 0: strlen */
		const char	*want;
	} t[] = {
		/* Structure */
		{ "host x\n", 0,
		  "rc:1: host before the first account or defaults line" },
		{ "# c\n\n  delete\naccount a\n", 0,
		  "rc:3: delete before the first account or defaults line" },
		{ "defaults x\n", 0, "rc:1: defaults takes no value" },
		{ "account\n", 0, "rc:1: account needs a name" },
		{ "account   \t\n", 0, "rc:1: account needs a name" },
		{ "account \"\"\n", 0, "rc:1: account needs a name" },
		{ "account a b\n", 0,
		  "rc:1: an account name is printable ASCII without blanks" },
		{ "account \"a b\"\n", 0,
		  "rc:1: an account name is printable ASCII without blanks" },
		{ "account \xc3\xa9t\xc3\xa9\n", 0,
		  "rc:1: an account name is printable ASCII without blanks" },
		{ "account a # work\n", 0,
		  "rc:1: an account name is printable ASCII without blanks" },
		{ "account a\nhost x\naccount b\n\naccount a\n", 0,
		  "rc:5: account \"a\" is already defined on line 1" },
		/* The first error in the file is the one reported */
		{ "account a\naccount a\nbogus\n", 0,
		  "rc:2: account \"a\" is already defined on line 1" },
		{ "account a\nbogus\naccount a\n", 0,
		  "rc:2: unknown keyword \"bogus\"" },
		/* Keywords */
		{ "# c\n\naccount a\nbogus 1\n", 0,
		  "rc:4: unknown keyword \"bogus\"" },
		{ "bogus\n", 0, "rc:1: unknown keyword \"bogus\"" },
		{ "Account a\n", 0, "rc:1: unknown keyword \"Account\"" },
		{ "account a\nHOST x\n", 0, "rc:2: unknown keyword \"HOST\"" },
		{ "account a\n--host x\n", 0,
		  "rc:2: unknown keyword \"--host\"" },
		{ "\xef\xbb\xbf" "account a\n", 0,
		  "rc:1: unknown keyword \"\\xef\\xbb\\xbfaccount\"" },
		{ "account a\n\x01x\"y\\ 1\n", 0,
		  "rc:2: unknown keyword \"\\x01x\\x22y\\x5c\"" },
		/* Values */
		{ "account a\nhost\n", 0, "rc:2: host needs a value" },
		{ "account a\nhost  \t \n", 0, "rc:2: host needs a value" },
		{ "account a\nmaildir\r\n", 0, "rc:2: maildir needs a value" },
		{ "account a\npassword\n", 0, "rc:2: password needs a value" },
		{ "account a\ndelete yes\n", 0,
		  "rc:2: delete takes no value, or on or off" },
		{ "account a\ndelete ON\n", 0,
		  "rc:2: delete takes no value, or on or off" },
		{ "account a\ndelete 1\n", 0,
		  "rc:2: delete takes no value, or on or off" },
		{ "account a\ndelete \"\"\n", 0,
		  "rc:2: delete takes no value, or on or off" },
		{ "account a\ndelete on # yes\n", 0,
		  "rc:2: delete takes no value, or on or off" },
		/* Quoting */
		{ "account a\nuser \"abc\n", 0,
		  "rc:2: unterminated quoted value" },
		{ "account a\nuser \"abc\\\"\n", 0,
		  "rc:2: unterminated quoted value" },
		{ "account a\nuser \"abc\\\n", 0,
		  "rc:2: unterminated quoted value" },
		{ "account a\nuser \"\n", 0, "rc:2: unterminated quoted value" },
		{ "account \"a\n", 0, "rc:1: unterminated quoted value" },
		{ "account a\nuser \"a\\nb\"\n", 0,
		  "rc:2: only \\\" and \\\\ are escapes in a quoted value" },
		{ "account a\nuser \"a\" b\n", 0,
		  "rc:2: text after the closing quote" },
		{ "account a\nuser \"a\"\"b\"\n", 0,
		  "rc:2: text after the closing quote" },
		/* Bytes */
		{ "account a\nuser a\x01" "b\n", 0,
		  "rc:2: user: control character in the value" },
		{ "account a\nuser a\tb\n", 0,
		  "rc:2: user: control character in the value" },
		{ "account a\nuser a\rb\n", 0,
		  "rc:2: user: control character in the value" },
		{ "account a\nuser a\r\r\n", 0,
		  "rc:2: user: control character in the value" },
		{ "account a\nuser \"a\x7f\"\n", 0,
		  "rc:2: user: control character in the value" },
		{ "account a\nuser \"a\tb\"\n", 0,
		  "rc:2: user: control character in the value" },
		{ "account a\nuser a\0b\n", 19, "rc:2: NUL byte" },
		{ "# \0\n", 4, "rc:1: NUL byte" },
		{ "account a\nuser a\n\0", 18, "rc:3: NUL byte" },
		/* "~" */
		{ "account a\nmaildir ~bob/x\n", 0,
		  "rc:2: maildir: only ~ and ~/ are expanded, not ~user" },
		{ "account a\nmbox \"~x\"\n", 0,
		  "rc:2: mbox: only ~ and ~/ are expanded, not ~user" },
	};
	struct rcfile *rc;
	char *err;
	size_t i, len;
	int r;

	for (i = 0; i < sizeof t / sizeof t[0]; i++) {
		err = NULL;
		rc = (struct rcfile *)1;
		len = t[i].len ? t[i].len : strlen(t[i].text);
		r = rcfile_parse(t[i].text, len, "rc", HOME, rc_table_lookup,
		    keywords, &rc, &err);
		CHECK(r == -1 && rc == NULL, "bad %zu: parsed", i);
		CHECK(err != NULL && strcmp(err, t[i].want) == 0,
		    "bad %zu:\n got  %s\n want %s", i, err ? err : "(null)",
		    t[i].want);
		if (r == 0)
			rcfile_free(rc);
		free(err);
	}
}

static void
expect_error(const char *text, const char *home, const char *want)
{
	struct rcfile *rc;
	char *err = NULL;
	int r;

	r = rcfile_parse(text, strlen(text), "rc", home, rc_table_lookup,
	    keywords, &rc, &err);
	CHECK(r == -1, "\"%.20s...\": parsed", text);
	CHECK(err != NULL && strcmp(err, want) == 0,
	    "\"%.20s...\":\n got  %s\n want %s", text, err ? err : "(null)",
	    want);
	if (r == 0)
		rcfile_free(rc);
	free(err);
}

static void
expect_value(const char *text, const char *home, const char *want)
{
	const struct rc_account *a;
	struct rcfile *rc;
	char *err = NULL;
	const char *v = NULL;

	if (rcfile_parse(text, strlen(text), "rc", home, rc_table_lookup,
	    keywords, &rc, &err) == -1) {
		CHECK(0, "\"%s\": %s", text, err);
		free(err);
		return;
	}
	a = rcfile_account_at(rc, 0);
	if (a != NULL && rc_account_nitems(a) > 0)
		v = rc_account_item(a, rc_account_nitems(a) - 1)->value;
	CHECK(v != NULL && strcmp(v, want) == 0, "\"%s\": got \"%s\", want "
	    "\"%s\"", text, v ? v : "(null)", want);
	rcfile_free(rc);
}

static void
test_lines(void)
{
	char *s, *want;

	/* RCFILE_LINE_MAX bytes, with or without CR: fine; one more: not */
	want = repeat('x', RCFILE_LINE_MAX - 5, "", "");
	s = repeat('x', RCFILE_LINE_MAX - 5, "account a\nuser ", "\n");
	expect_value(s, HOME, want);
	free(s);
	s = repeat('x', RCFILE_LINE_MAX - 5, "account a\nuser ", "\r\n");
	expect_value(s, HOME, want);
	free(s);
	free(want);
	s = repeat('x', RCFILE_LINE_MAX - 4, "account a\nuser ", "\n");
	expect_error(s, HOME, "rc:2: line longer than 4096 bytes");
	free(s);
	/* A long comment is a long line, too */
	s = repeat('#', RCFILE_LINE_MAX + 1, "account a\n\n", "\n");
	expect_error(s, HOME, "rc:3: line longer than 4096 bytes");
	free(s);
	/* The last line, without a newline */
	s = repeat('x', RCFILE_LINE_MAX, "account a\n", "");
	expect_error(s, HOME, "rc:2: unknown keyword \""
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "...\"");
	free(s);
	s = repeat('x', RCFILE_LINE_MAX + 1, "account a\n", "");
	expect_error(s, HOME, "rc:2: line longer than 4096 bytes");
	free(s);
}

static void
test_home(void)
{
	expect_value("account a\nmaildir ~/M\n", "/", "/M");
	expect_value("account a\nmaildir ~\n", "/", "/");
	expect_value("account a\nmaildir ~/M\n", "/h//", "/h/M");
	expect_value("account a\nmaildir /abs\n", NULL, "/abs");
	expect_value("account a\nmda ~/bin/x\n", NULL, "~/bin/x");
	expect_error("account a\nmaildir ~/M\n", NULL,
	    "rc:2: maildir: no home directory to expand ~ in (set HOME)");
	expect_error("defaults\n\npassword-file ~\n", NULL,
	    "rc:3: password-file: no home directory to expand ~ in "
	    "(set HOME)");
}

/* A password must not end up in an error message. */
static void
test_no_secret_in_errors(void)
{
	static const char *t[] = {
		"account a\npassword \"hunter2\x01\"\n",
		"account a\npassword \"hunter2\n",
		"account a\npassword \"hunter2\\x\"\n",
		"account a\npassword \"hunter2\" x\n",
		"account a\npassword hunter2\tx\n",
		"account a\npasword hunter2\n",
		"account a\ndelete hunter2\n",
		"account hunter2 x\n",
	};
	struct rcfile *rc;
	char *err;
	size_t i;

	for (i = 0; i < sizeof t / sizeof t[0]; i++) {
		err = NULL;
		CHECK(rcfile_parse(t[i], strlen(t[i]), "rc", HOME,
		    rc_table_lookup, keywords, &rc, &err) == -1,
		    "secret %zu: parsed", i);
		CHECK(err != NULL && strstr(err, "hunter2") == NULL &&
		    strchr(err, '\n') == NULL, "secret %zu: %s", i, err);
		free(err);
	}
	/* ...except as the keyword itself, which is no secret */
	expect_error("account a\nhunter2\n", HOME,
	    "rc:2: unknown keyword \"hunter2\"");
}

static int lookups, reserved_seen;

static enum rc_type
counting_lookup(const char *kw, void *arg)
{
	lookups++;
	if (strcmp(kw, "account") == 0 || strcmp(kw, "defaults") == 0)
		reserved_seen++;
	return rc_table_lookup(kw, arg);
}

static void
test_api(void)
{
	static const char text[] =
	    "defaults\nhost d\naccount one\nport 1\naccount two\n"
	    "password x\naccount three\n";
	const struct rc_account *a;
	struct rcfile *rc;
	char *err = NULL, name[16];
	struct buf b;
	size_t i, found;

	lookups = reserved_seen = 0;
	if (rcfile_parse(text, sizeof text - 1, "f", NULL, counting_lookup,
	    keywords, &rc, &err) == -1) {
		CHECK(0, "api: %s", err);
		free(err);
		return;
	}
	CHECK(lookups == 3 && reserved_seen == 0, "api: %d lookups, %d of "
	    "account/defaults", lookups, reserved_seen);
	CHECK(rcfile_naccounts(rc) == 3, "api: %zu accounts",
	    rcfile_naccounts(rc));
	a = rcfile_account(rc, "two");
	CHECK(a != NULL && a == rcfile_account_at(rc, 1) &&
	    strcmp(a->name, "two") == 0 && a->line == 5 &&
	    strcmp(a->file, "f") == 0, "api: account two");
	CHECK(a != NULL && rc_account_nitems(a) == 2 &&
	    rc_account_item(a, 2) == NULL &&
	    strcmp(rc_account_item(a, 1)->keyword, "password") == 0 &&
	    rc_account_item(a, 1)->type == RC_SECRET &&
	    strcmp(rc_account_item(a, 1)->file, "f") == 0 &&
	    rc_account_item(a, 1)->line == 6, "api: items of two");
	CHECK(rcfile_account(rc, "four") == NULL, "api: four");
	CHECK(rcfile_account(rc, "Two") == NULL, "api: Two");
	CHECK(rcfile_account(rc, "") == NULL, "api: empty name");
	CHECK(rcfile_account_at(rc, 3) == NULL, "api: account_at(3)");
	CHECK(rcfile_has_secret(rc), "api: secret");
	render(rc, &b);
	CHECK(strcmp(b.s, "one(3): host@2=\"d\" port@4=\"1\"; two(5): host@2="
	    "\"d\" password@6=\"x\"; three(7): host@2=\"d\" | host@2=\"d\"") ==
	    0, "api: %s", b.s);
	rcfile_free(rc);

	CHECK(rcfile_parse("account a\npassword-file x\n", 26, "f", NULL,
	    rc_table_lookup, keywords, &rc, &err) == 0 &&
	    !rcfile_has_secret(rc), "api: no secret");
	rcfile_free(rc);

	/* Many accounts: each is found by name, none twice */
	{
		char *big = malloc(5000 * 16), *p = big;

		for (i = 0; i < 5000; i++)
			p += sprintf(p, "account a%zu\n", i);
		CHECK(rcfile_parse(big, (size_t)(p - big), "f", NULL,
		    rc_table_lookup, keywords, &rc, &err) == 0, "api: 5000");
		for (i = 0, found = 0; i < 5000; i++) {
			snprintf(name, sizeof name, "a%zu", i);
			a = rcfile_account(rc, name);
			found += a != NULL && a->line == i + 1 &&
			    a == rcfile_account_at(rc, i);
		}
		CHECK(found == 5000, "api: %zu of 5000 found", found);
		CHECK(rcfile_account(rc, "a5000") == NULL, "api: a5000");
		rcfile_free(rc);
		p += sprintf(p, "account a4321\n");
		CHECK(rcfile_parse(big, (size_t)(p - big), "f", NULL,
		    rc_table_lookup, keywords, &rc, &err) == -1 && err != NULL &&
		    strcmp(err, "f:5001: account \"a4321\" is already defined "
		    "on line 4322") == 0, "api: dup of 5000: %s", err);
		free(err);
		free(big);
	}
	rcfile_free(NULL);
}

/* rcfile_load */

static char dir[64];

static const char *
path(const char *name)
{
	static char p[128];

	snprintf(p, sizeof p, "%s/%s", dir, name);
	return p;
}

static void
put_file(const char *name, mode_t mode, const char *text, size_t len)
{
	int fd;

	unlink(path(name));
	fd = open(path(name), O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd == -1 || write(fd, text, len) != (ssize_t)len) {
		perror(path(name));
		exit(1);
	}
	close(fd);
	if (chmod(path(name), mode) == -1) {
		perror(path(name));
		exit(1);
	}
}

/* want with each "%s" replaced by the directory. */
static void
subst(char *out, size_t outsz, const char *want)
{
	size_t o = 0, dl = strlen(dir);

	for (; *want != '\0' && o + dl + 1 < outsz; want++) {
		if (want[0] == '%' && want[1] == 's') {
			memcpy(out + o, dir, dl);
			o += dl;
			want++;
		} else
			out[o++] = *want;
	}
	out[o] = '\0';
}

/* want NULL: loads; else the exact error, with %s the directory. */
static void
load(const char *name, int flags, int want_rc, const char *want)
{
	struct rcfile *rc = (struct rcfile *)1;
	char *err = (char *)1, w[512];
	int r;

	r = rcfile_load(path(name), flags, rc_table_lookup, keywords, &rc,
	    &err);
	CHECK(r == want_rc, "load %s: returned %d, want %d (%s)", name, r,
	    want_rc, r == -1 ? err : "");
	if (want != NULL) {
		subst(w, sizeof w, want);
		CHECK(r == -1 && rc == NULL && err != NULL &&
		    strcmp(err, w) == 0, "load %s:\n got  %s\n want %s", name,
		    r == -1 ? err : "(none)", w);
	} else
		CHECK(r == -1 || err == NULL, "load %s: errstr set", name);
	if (r == 0)
		rcfile_free(rc);
	if (r == -1)
		free(err);
}

static void
test_load(void)
{
	static const char secret[] = "defaults\n\npassword hunter2\naccount a\n";
	static const char plain[] = "account a\nhost h\n";
	static const char broken[] = "account a\nbogus\n";
	static const struct {
		mode_t		 mode;
		const char	*text;
		const char	*want;
	} modes[] = {
		{ 0600, secret, NULL },
		{ 0400, secret, NULL },
		{ 0700, secret, NULL },
		{ 0644, secret, "%s/rc:3: password in a file that group or "
		  "others can read or write; run: chmod 600 %s/rc" },
		{ 0640, secret, "%s/rc:3: password in a file that group or "
		  "others can read or write; run: chmod 600 %s/rc" },
		{ 0604, secret, "%s/rc:3: password in a file that group or "
		  "others can read or write; run: chmod 600 %s/rc" },
		{ 0620, secret, "%s/rc:3: password in a file that group or "
		  "others can read or write; run: chmod 600 %s/rc" },
		{ 0666, secret, "%s/rc:3: password in a file that group or "
		  "others can read or write; run: chmod 600 %s/rc" },
		{ 0644, plain, NULL },
		{ 0664, plain, "%s/rc: group or others can write to it; run: "
		  "chmod go-w %s/rc" },
		{ 0602, plain, "%s/rc: group or others can write to it; run: "
		  "chmod go-w %s/rc" },
		{ 0600, broken, "%s/rc:2: unknown keyword \"bogus\"" },
		/* someone else may have written the error in */
		{ 0666, broken, "%s/rc: group or others can write to it; run: "
		  "chmod go-w %s/rc" },
	};
	const struct rc_account *a;
	struct rcfile *rc;
	char *err, *big, *pre, target[128];
	size_t i;
	int fd;

	for (i = 0; i < sizeof modes / sizeof modes[0]; i++) {
		put_file("rc", modes[i].mode, modes[i].text,
		    strlen(modes[i].text));
		load("rc", 0, modes[i].want ? -1 : 0, modes[i].want);
	}

	/* The chmod is a shell word the user can paste */
	put_file("it's my rc", 0644, secret, sizeof secret - 1);
	load("it's my rc", 0, -1, "%s/it's my rc:3: password in a file that "
	    "group or others can read or write; run: chmod 600 "
	    "'%s/it'\\''s my rc'");

	/* Missing: the caller decides when it asks to */
	load("none", 0, -1, "%s/none: No such file or directory");
	load("none", RCFILE_OPTIONAL, RCFILE_MISSING, NULL);
	snprintf(target, sizeof target, "%s", path("nowhere"));
	if (symlink(target, path("dangling")) == 0) {
		load("dangling", RCFILE_OPTIONAL, -1, "%s/dangling: a symbolic "
		    "link to a file that does not exist");
		unlink(path("dangling"));
	} else
		CHECK(0, "symlink: %s", strerror(errno));

	/* Not a regular file; a FIFO must not block the open */
	mkdir(path("d"), 0700);
	load("d", 0, -1, "%s/d: not a regular file");
	rmdir(path("d"));
	if (mkfifo(path("fifo"), 0600) == 0) {
		load("fifo", 0, -1, "%s/fifo: not a regular file");
		unlink(path("fifo"));
	} else
		CHECK(0, "mkfifo: %s", strerror(errno));

	/* Size: RCFILE_SIZE_MAX bytes is fine, one more is not */
	big = repeat('#', RCFILE_SIZE_MAX, "", "");
	for (i = 99; i < RCFILE_SIZE_MAX; i += 100)
		big[i] = '\n';
	put_file("big", 0600, big, RCFILE_SIZE_MAX);
	load("big", 0, 0, NULL);
	put_file("big", 0600, big, RCFILE_SIZE_MAX);
	fd = open(path("big"), O_WRONLY | O_APPEND);
	CHECK(fd != -1 && write(fd, "\n", 1) == 1, "append");
	close(fd);
	load("big", 0, -1, "%s/big: larger than 1048576 bytes");
	free(big);
	unlink(path("big"));

	/* Owner: ourselves or root, not another user (as ssh) */
	put_file("rc", 0600, plain, sizeof plain - 1);
	if (geteuid() == 0) {
		CHECK(chown(path("rc"), 65534, 65534) == 0, "chown");
		if (getuid() == 0)
			load("rc", 0, -1, "%s/rc: owned by uid 65534, not by "
			    "you (uid 0) or root");
		CHECK(chown(path("rc"), 0, 0) == 0, "chown");
		load("rc", 0, 0, NULL);
	} else
		printf("t_rcfile: not root, owner check not run\n");

	/* "~" is $HOME; a CRLF file */
	pre = getenv("HOME") ? strdup(getenv("HOME")) : NULL;
	setenv("HOME", "/fake/home", 1);
	put_file("rc", 0600, "account a\r\nmaildir ~/Maildir\r\n", 30);
	err = NULL;
	CHECK(rcfile_load(path("rc"), 0, rc_table_lookup, keywords, &rc,
	    &err) == 0, "load ~: %s", err);
	if (err == NULL) {
		a = rcfile_account(rc, "a");
		CHECK(a != NULL && rc_account_nitems(a) == 1 &&
		    strcmp(rc_account_item(a, 0)->value,
		    "/fake/home/Maildir") == 0 &&
		    strcmp(rc_account_item(a, 0)->file, path("rc")) == 0,
		    "load ~: value");
		rcfile_free(rc);
	}
	free(err);
	if (pre != NULL)
		setenv("HOME", pre, 1);
	else
		unsetenv("HOME");
	free(pre);
	unlink(path("rc"));
	unlink(path("it's my rc"));
}

static void
check_str(char *got, const char *want, const char *what)
{
	CHECK(got != NULL && want != NULL && strcmp(got, want) == 0,
	    "%s: got %s, want %s", what, got ? got : "(null)",
	    want ? want : "(null)");
	free(got);
}

static void
test_env(void)
{
	struct passwd *pw = getpwuid(getuid());
	const char *pwdir = pw != NULL ? pw->pw_dir : NULL;
	char *err = NULL, *pwcopy, *p;

	pwcopy = pwdir != NULL ? strdup(pwdir) : NULL;
	setenv("HOME", "/x/home", 1);
	check_str(rcfile_home(), "/x/home", "home: HOME");
	setenv("HOME", "relative", 1);
	check_str(rcfile_home(), pwcopy, "home: relative HOME");
	setenv("HOME", "", 1);
	check_str(rcfile_home(), pwcopy, "home: empty HOME");
	unsetenv("HOME");
	check_str(rcfile_home(), pwcopy, "home: no HOME");

	setenv("HOME", "/h", 1);
	setenv("XDG_CONFIG_HOME", "/xdg", 1);
	check_str(rcfile_default_path(&err), "/xdg/popfetch/config",
	    "path: XDG");
	setenv("XDG_CONFIG_HOME", "/xdg/", 1);
	check_str(rcfile_default_path(&err), "/xdg/popfetch/config",
	    "path: XDG/");
	setenv("XDG_CONFIG_HOME", "rel", 1);
	check_str(rcfile_default_path(&err), "/h/.config/popfetch/config",
	    "path: relative XDG");
	unsetenv("XDG_CONFIG_HOME");
	check_str(rcfile_default_path(&err), "/h/.config/popfetch/config",
	    "path: no XDG");
	setenv("HOME", "/", 1);
	check_str(rcfile_default_path(&err), "/.config/popfetch/config",
	    "path: HOME=/");
	unsetenv("HOME");
	p = rcfile_default_path(&err);
	if (pwcopy != NULL) {
		char *want = malloc(strlen(pwcopy) + 32);

		sprintf(want, "%s/.config/popfetch/config",
		    strcmp(pwcopy, "/") == 0 ? "" : pwcopy);
		check_str(p, want, "path: no HOME");
		free(want);
	} else {
		CHECK(p == NULL && err != NULL, "path: no home at all");
		free(p);
		free(err);
	}
	free(pwcopy);
}

/* Whatever a failed check left behind. */
static void
cleanup(void)
{
	static const char *names[] = {
		"rc", "it's my rc", "big", "dangling", "nowhere", "fifo",
	};
	size_t i;

	for (i = 0; i < sizeof names / sizeof names[0]; i++)
		unlink(path(names[i]));
	rmdir(path("d"));
	if (rmdir(dir) == -1)
		fprintf(stderr, "t_rcfile: %s left behind: %s\n", dir,
		    strerror(errno));
}

int
main(void)
{
	char tmpl[64];
	const char *t = getenv("TMPDIR");

	snprintf(tmpl, sizeof tmpl, "%s/t_rcfile.XXXXXX",
	    t != NULL && *t == '/' && strlen(t) < 40 ? t : "/tmp");
	if (mkdtemp(tmpl) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(dir, sizeof dir, "%s", tmpl);

	test_good();
	test_bad();
	test_lines();
	test_home();
	test_no_secret_in_errors();
	test_api();
	test_load();
	test_env();
	cleanup();
	printf("t_rcfile: %d passed, %d failed\n", unit_pass, unit_fail);
	return unit_fail != 0;
}
