/* SPDX-License-Identifier: ISC */
/*
 * Unit tests of the pure modules: every parser and decoder is fed each
 * input whole and one byte at a time. Conformance clause ids refer to
 * ../shared/seeds (MS-STANOPOP3 = Outlook client profile).
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "conf.h"
#include "digest.h"
#include "journal.h"
#include "result.h"
#include "dotdec.h"
#include "log.h"
#include "mboxrd.h"
#include "pop3_parse.h"
#include "secret.h"
#include "uidstore.h"
#include "unit.h"
#include "util.h"

static void
test_status(void)
{
	static const struct {
		const char	*line;
		int		 ok;
		const char	*text;
		const char	*code;
	} t[] = {
		/* V0001: any reply starting with '+' is positive, any case */
		{ "+OK hello", 1, "hello", NULL },
		{ "+ok hello", 1, "hello", NULL },
		{ "+", 1, "", NULL },
		{ "+OKAY fine", 1, "fine", NULL },
		{ "-ERR no", 0, "no", NULL },
		{ "-err no", 0, "no", NULL },
		{ "ERR no", 0, "no", NULL },
		{ "", 0, "", NULL },
		/* C0004: several blanks or tabs between fields */
		{ "+OK \t  2 320", 1, "2 320", NULL },
		{ "-ERR [AUTH] bad password", 0, "[AUTH] bad password",
		    "AUTH" },
		{ "-ERR [SYS/TEMP] later", 0, "[SYS/TEMP] later", "SYS/TEMP" },
		{ "-ERR [IN-USE", 0, "[IN-USE", NULL },
		{ "-ERR [] x", 0, "[] x", NULL },
	};
	struct pop3_status st;
	size_t i;

	for (i = 0; i < sizeof t / sizeof t[0]; i++) {
		pop3_parse_status(t[i].line, strlen(t[i].line), &st);
		CHECK(st.ok == t[i].ok, "status \"%s\": ok %d", t[i].line,
		    st.ok);
		CHECK(st.textlen == strlen(t[i].text) &&
		    memcmp(st.text, t[i].text, st.textlen) == 0,
		    "status \"%s\": text \"%.*s\"", t[i].line, (int)st.textlen,
		    st.text);
		if (t[i].code == NULL)
			CHECK(st.codelen == 0, "status \"%s\": unexpected code",
			    t[i].line);
		else
			CHECK(pop3_code_is(&st, t[i].code),
			    "status \"%s\": code", t[i].line);
	}
}

static void
test_stat_list_uidl(void)
{
	static const struct {
		const char	*in;
		int		 rc;
		uint64_t	 a, b;
	} st[] = {
		/* C0017: one or more blanks, more text may follow */
		{ "2 320", 0, 2, 320 },
		{ "2\t\t320 messages", 0, 2, 320 },
		{ "  0 0", 0, 0, 0 },
		{ "3", 0, 3, 0 },	/* size is a hint; missing is fine */
		{ "x 3", -1, 0, 0 },
		{ "-1 3", -1, 0, 0 },
		{ "12abc 3", -1, 0, 0 },
		{ "99999999999999999999999 1", -1, 0, 0 },
		{ "", -1, 0, 0 },
	}, li[] = {
		/* C0021 */
		{ "1 120", 0, 1, 120 },
		{ "1 \t 120 extra text", 0, 1, 120 },
		{ "0 120", -1, 0, 0 },
		{ "1", -1, 0, 0 },
		{ "4294967296 1", -1, 0, 0 },
		{ "1 x", -1, 0, 0 },
	};
	static const struct {
		const char	*in;
		int		 rc;
		uint32_t	 n;
		const char	*uid;
	} ui[] = {
		/* C0038: blanks and tabs, extra text after the UID */
		{ "1 abc", 0, 1, "abc" },
		{ "2\t\tXYZ.123 extra", 0, 2, "XYZ.123" },
		{ "3 a/b/../c", 0, 3, "a/b/../c" },
		/* Issue 10: an empty UID is reported, for the header block to
		 * identify the message. */
		{ "4 ", 0, 4, "" },
		{ "4", 0, 4, "" },
		{ "x abc", -1, 0, NULL },
		{ "0 abc", -1, 0, NULL },
	};
	uint64_t a, b;
	uint32_t n;
	const char *uid;
	size_t i, ulen;
	int rc;

	for (i = 0; i < sizeof st / sizeof st[0]; i++) {
		rc = pop3_parse_stat(st[i].in, strlen(st[i].in), &a, &b);
		CHECK(rc == st[i].rc && (rc == -1 || (a == st[i].a &&
		    b == st[i].b)), "stat \"%s\"", st[i].in);
	}
	for (i = 0; i < sizeof li / sizeof li[0]; i++) {
		rc = pop3_parse_list(li[i].in, strlen(li[i].in), &n, &b);
		CHECK(rc == li[i].rc && (rc == -1 || (n == li[i].a &&
		    b == li[i].b)), "list \"%s\"", li[i].in);
	}
	for (i = 0; i < sizeof ui / sizeof ui[0]; i++) {
		rc = pop3_parse_uidl(ui[i].in, strlen(ui[i].in), &n, &uid,
		    &ulen);
		CHECK(rc == ui[i].rc && (rc == -1 || (n == ui[i].n &&
		    ulen == strlen(ui[i].uid) &&
		    memcmp(uid, ui[i].uid, ulen) == 0)), "uidl \"%s\"",
		    ui[i].in);
	}
	CHECK(pop3_parse_capa("UIDL", 4) == CAPA_UIDL, "capa UIDL");
	CHECK(pop3_parse_capa("top", 3) == CAPA_TOP, "capa top");
	CHECK(pop3_parse_capa("SASL PLAIN LOGIN", 16) == CAPA_SASL, "capa sasl");
	CHECK(pop3_parse_capa("TOPX", 4) == 0, "capa TOPX");
	CHECK(pop3_parse_capa("", 0) == 0, "capa empty");
}

/* Runs the decoder over in with a given chunk size; returns the decoded
 * bytes (static buffer), *done, and how many input bytes were consumed. */
static const char *
dotdec_all(const char *in, size_t inlen, size_t chunk, size_t *outlen,
    int *done, size_t *consumed)
{
	static char out[8192];
	char tmp[8192];
	struct dotdec d;
	size_t i = 0, n, o;

	dotdec_init(&d);
	*outlen = 0;
	while (i < inlen && !d.done) {
		n = inlen - i < chunk ? inlen - i : chunk;
		i += dotdec_run(&d, in + i, n, tmp, &o);
		memcpy(out + *outlen, tmp, o);
		*outlen += o;
	}
	*done = d.done;
	*consumed = i;
	return out;
}

static void
test_dotdec(void)
{
	static const struct {
		const char	*in;
		const char	*out;
		int		 done;
		size_t		 rest;	/* bytes left after the terminator */
	} t[] = {
		{ "a\r\nb\r\n.\r\n", "a\nb\n", 1, 0 },
		/* V0002: a leading dot followed by more is stuffing */
		{ "..a\r\n.\r\n", ".a\n", 1, 0 },
		{ "...\r\n.\r\n", "..\n", 1, 0 },
		{ ". \r\n.\r\n", " \n", 1, 0 },
		{ "a.\r\n.\r\n", "a.\n", 1, 0 },
		/* bare LF tolerated */
		{ "a\nb\n.\n", "a\nb\n", 1, 0 },
		{ "a\r\n.\r\n+OK next\r\n", "a\n", 1, 10 },
		/* lone CRs, NUL and 8-bit bytes are kept */
		{ "a\rb\r\n.\r\n", "a\rb\n", 1, 0 },
		{ "a\r\r\n.\r\n", "a\r\n", 1, 0 },
		{ ".\rx\r\n.\r\n", "\rx\n", 1, 0 },
		{ "\xff\xfe\r\n.\r\n", "\xff\xfe\n", 1, 0 },
		/* no terminator: not done */
		{ "a\r\n", "a\n", 0, 0 },
		{ "a\r\n.", "a\n", 0, 0 },
		{ "a\r\n.\r", "a\n", 0, 0 },
		{ "a\r\n.x", "a\nx", 0, 0 },
		/* the terminator must start a line */
		{ "a.\r\n", "a.\n", 0, 0 },
		{ ".\r\n", "", 1, 0 },
	};
	size_t i, c, chunk, outlen, used;
	const char *out;
	int done;
	char nul[] = "a\0b\r\n.\r\n";

	for (i = 0; i < sizeof t / sizeof t[0]; i++) {
		size_t len = strlen(t[i].in);

		/* Whole, then one byte at a time. */
		for (c = 0; c < 2; c++) {
			chunk = c == 0 ? len + 1 : 1;
			out = dotdec_all(t[i].in, len, chunk, &outlen, &done,
			    &used);
			CHECK(done == t[i].done && outlen == strlen(t[i].out) &&
			    memcmp(out, t[i].out, outlen) == 0 &&
			    len - used == t[i].rest,
			    "dotdec #%zu chunk %zu: done %d out \"%.*s\" rest %zu",
			    i, chunk, done, (int)outlen, out, len - used);
		}
	}
	out = dotdec_all(nul, sizeof nul - 1, 1, &outlen, &done, &used);
	CHECK(done && outlen == 4 && memcmp(out, "a\0b\n", 4) == 0,
	    "dotdec keeps NUL");
}

static void
test_dotdec_long_line(void)
{
	/* A 10 MB single line passes through in pieces, unchanged. */
	size_t len = 10 * 1024 * 1024, i, o, total = 0, bad = 0;
	char *in = malloc(len + 5), *out = malloc(65536 + 1);
	struct dotdec d;

	for (i = 0; i < len; i++)
		in[i] = (char)('a' + i % 26);
	memcpy(in + len, "\r\n.\r\n", 5);
	dotdec_init(&d);
	for (i = 0; i < len + 5 && !d.done;) {
		size_t n = len + 5 - i < 65536 ? len + 5 - i : 65536, k;
		size_t used = dotdec_run(&d, in + i, n, out, &o);

		for (k = 0; k < o; k++)
			if (total + k < len && out[k] != (char)('a' +
			    (total + k) % 26))
				bad++;
		total += o;
		i += used;
	}
	CHECK(d.done && total == len + 1 && bad == 0,
	    "10 MB line: done %d total %zu bad %zu", d.done, total, bad);
	free(in);
	free(out);
}

static const char *
mboxrd_all(const char *in, size_t chunk, size_t *outlen)
{
	static char out[8192];
	struct mboxrd m;
	size_t i = 0, len = strlen(in), n;

	mboxrd_init(&m);
	*outlen = 0;
	while (i < len) {
		n = len - i < chunk ? len - i : chunk;
		*outlen += mboxrd_quote(&m, in + i, n, out + *outlen);
		i += n;
	}
	*outlen += mboxrd_finish(&m, out + *outlen);
	return out;
}

static void
test_mboxrd(void)
{
	static const struct {
		const char	*in;
		const char	*out;
	} t[] = {
		{ "a\n", "a\n\n" },
		{ "From x\n", ">From x\n\n" },
		{ ">From x\n", ">>From x\n\n" },
		{ ">>>From x\n", ">>>>From x\n\n" },
		{ "a\nFrom b\n", "a\n>From b\n\n" },
		{ "From\n", "From\n\n" },
		{ "Fro", "Fro\n\n" },
		{ "xFrom y\n", "xFrom y\n\n" },
		{ "> From y\n", "> From y\n\n" },
		{ "no newline", "no newline\n\n" },
		{ "", "\n" },
		{ ">", ">\n\n" },
		{ "FromX\n", "FromX\n\n" },
	};
	size_t i, c, chunk, outlen, len;
	const char *out;
	char buf[128];

	for (i = 0; i < sizeof t / sizeof t[0]; i++) {
		len = strlen(t[i].in);
		for (c = 0; c < 2; c++) {
			chunk = c == 0 ? len + 1 : 1;
			out = mboxrd_all(t[i].in, chunk, &outlen);
			CHECK(outlen == strlen(t[i].out) &&
			    memcmp(out, t[i].out, outlen) == 0,
			    "mboxrd \"%s\" chunk %zu: \"%.*s\"", t[i].in,
			    chunk, (int)outlen, out);
		}
	}
	len = mboxrd_from_line(buf, sizeof buf, "a b\n@c", 0);
	CHECK(len > 0 && strcmp(buf, "From ab@c Thu Jan  1 00:00:00 1970\n")
	    == 0, "From_ line: %s", buf);
	mboxrd_from_line(buf, sizeof buf, NULL, 0);
	CHECK(strncmp(buf, "From MAILER-DAEMON ", 19) == 0, "From_ default");
}

static void
test_netrc(void)
{
	static const char text[] =
	    "machine other login x password y\n"
	    "machine Mail.Example.org\n  login alice\n  password \"s p\\\"w\"\n"
	    "machine mail.example.org login bob password bobpw\n"
	    "macdef init\nmachine evil login x password z\n\n"
	    "default login anon password anonpw\n";
	char *l, *p;
	int rc;

	rc = netrc_lookup(text, strlen(text), "mail.example.org", "alice", &l,
	    &p);
	CHECK(rc == 1 && l && strcmp(l, "alice") == 0 && p &&
	    strcmp(p, "s p\"w") == 0, "netrc alice: %s", p ? p : "(null)");
	free(l);
	free(p);
	rc = netrc_lookup(text, strlen(text), "mail.example.org", "bob", &l,
	    &p);
	CHECK(rc == 1 && p && strcmp(p, "bobpw") == 0, "netrc bob");
	free(l);
	free(p);
	rc = netrc_lookup(text, strlen(text), "mail.example.org", NULL, &l,
	    &p);
	CHECK(rc == 1 && l && strcmp(l, "alice") == 0, "netrc first match");
	free(l);
	free(p);
	rc = netrc_lookup(text, strlen(text), "evil", NULL, &l, &p);
	CHECK(rc == 1 && p && strcmp(p, "anonpw") == 0,
	    "netrc: macdef body is not an entry");
	free(l);
	free(p);
	rc = netrc_lookup("machine a login b", 17, "c", NULL, &l, &p);
	CHECK(rc == 0 && l == NULL && p == NULL, "netrc no match");
}

static void
test_uidrec(void)
{
	struct uidrec r, s;
	unsigned char buf[4096];
	size_t n;

	memset(&r, 0, sizeof r);
	r.first_seen = 1700000000;
	r.size = 123456789012ULL;
	r.ndig = 2;
	r.ncopies = 3;
	r.flags = UIDREC_TOOBIG;
	r.list_size = 987654321;
	memset(r.hdr, 0x5a, DIGEST_LEN);
	memset(r.dig[0], 0xab, DIGEST_LEN);
	memset(r.dig[1], 0xcd, DIGEST_LEN);
	n = uidrec_pack(&r, buf, sizeof buf);
	CHECK(n > 0 && uidrec_unpack(&s, buf, n) == 0 &&
	    s.first_seen == r.first_seen && s.size == r.size && s.ndig == 2 &&
	    s.ncopies == 3 && memcmp(s.dig, r.dig, 2 * DIGEST_LEN) == 0 &&
	    s.flags == UIDREC_TOOBIG && s.list_size == r.list_size &&
	    memcmp(s.hdr, r.hdr, DIGEST_LEN) == 0,
	    "uidrec round trip");
	CHECK(uidrec_unpack(&s, buf, n - 1) == -1, "uidrec short");
	buf[0] = 99;
	CHECK(uidrec_unpack(&s, buf, n) == -1, "uidrec foreign version");
}

/* uidstore_walk reads the records a buffer at a time and deletes after
 * its cursor closes; the scan cursor steps to the next record before it
 * searches (issue 12). Enough records for several buffers. */
struct walkctx {
	unsigned	 seen;
	int		 ordered;
	char		 last[32];
};

static int
walk_every_third(void *ctx, const void *key, size_t len, const struct uidrec *r)
{
	struct walkctx *w = ctx;
	char k[32];
	unsigned n;

	snprintf(k, sizeof k, "%.*s", (int)len, (const char *)key);
	if (w->seen > 0 && strcmp(w->last, k) >= 0)
		w->ordered = 0;
	snprintf(w->last, sizeof w->last, "%s", k);
	w->seen++;
	n = (unsigned)strtoul(k + 4, NULL, 10);
	return r->size == n && n % 3 == 0;
}

static int
walk_count(void *ctx, const void *key, size_t len, const struct uidrec *r)
{
	struct walkctx *w = ctx;

	(void)key;
	(void)len;
	(void)r;
	w->seen++;
	return 0;
}

static void
test_store_walk(void)
{
	const unsigned n = 20000;
	char tmpl[4096], key[32], cmd[4200], *err = NULL;
	struct uidstore *us = NULL;
	struct walkctx w = { 0, 1, "" };
	struct uidrec r;
	size_t deleted = 0;
	unsigned i, got = 0, found = 0, missing = 0;
	int ok = 1;

	snprintf(tmpl, sizeof tmpl, "%s/t_unit.XXXXXX",
	    getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(tmpl) == NULL || uidstore_open(tmpl, 0, &us, &err) !=
	    US_OK) {
		CHECK(0, "store for the walk: %s", err ? err : "mkdtemp");
		free(err);
		return;
	}
	ok &= uidstore_begin(us) == US_OK;
	for (i = 0; i < n && ok; i++) {
		memset(&r, 0, sizeof r);
		r.size = i;
		r.ndig = 1;
		memset(r.dig[0], (int)(i & 0xff), DIGEST_LEN);
		snprintf(key, sizeof key, "uid-%06u", i);
		ok &= uidstore_put(us, key, strlen(key), &r) == US_OK;
	}
	ok &= uidstore_commit(us) == US_OK;
	CHECK(ok, "20,000 records written");
	CHECK(uidstore_walk(us, walk_every_third, &w, &deleted) == US_OK &&
	    w.seen == n && w.ordered && deleted == (n + 2) / 3,
	    "walk: every record once, in key order, a third deleted (%u seen, "
	    "%zu deleted)", w.seen, deleted);
	w.seen = 0;
	CHECK(uidstore_walk(us, walk_count, &w, &deleted) == US_OK &&
	    w.seen == n - (n + 2) / 3 && deleted == 0,
	    "walk again: the deleted are gone (%u left)", w.seen);
	/* In order, then out of order, through the scan cursor. */
	ok = uidstore_scan_begin(us) == US_OK;
	for (i = 0; i < n && ok; i++) {
		enum us_rc rc;

		snprintf(key, sizeof key, "uid-%06u",
		    i < n / 2 ? i : (i * 7919) % n);
		rc = uidstore_get(us, key, strlen(key), &r);
		if (rc == US_OK) {
			found++;
			if (r.size != (unsigned)strtoul(key + 4, NULL, 10) ||
			    r.size % 3 == 0)
				ok = 0;
		} else if (rc == US_NOTFOUND) {
			missing++;
			if (strtoul(key + 4, NULL, 10) % 3 != 0)
				ok = 0;
		} else
			ok = 0;
		got++;
	}
	uidstore_scan_end(us);
	CHECK(ok && got == n && missing > 0 && found > 0,
	    "scan lookups: each record right (%u found, %u missing)", found,
	    missing);
	snprintf(key, sizeof key, "uid-%06u", 3u);
	CHECK(uidstore_get(us, key, strlen(key), &r) == US_NOTFOUND,
	    "a deleted UID is not found after the scan");
	uidstore_close(us);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpl);
	if (system(cmd) != 0)
		CHECK(0, "removing %s", tmpl);
}

/* Lookups of these keys through the scan cursor; whether they covered
 * the store (uidstore_scan_covered, issue 12). */
static int
covered_by(struct uidstore *us, const char *const *keys, size_t n)
{
	struct uidrec r;
	size_t i;
	int c;

	if (uidstore_scan_begin(us) != US_OK)
		return -1;
	for (i = 0; i < n; i++)
		if (uidstore_get(us, keys[i], strlen(keys[i]), &r) == US_ERR)
			return -1;
	c = uidstore_scan_covered(us);
	uidstore_scan_end(us);
	return c;
}

/* What a fresh process finds: the store opened by a child that exits
 * without closing it (a crash) or after closing it. */
static int
child_put(const char *dir, const char *key, int close_it)
{
	struct uidstore *us;
	struct uidrec r;
	char *err = NULL;
	pid_t pid;
	int st;

	if ((pid = fork()) == -1)
		return -1;
	if (pid == 0) {
		memset(&r, 0, sizeof r);
		r.ncopies = 1;
		if (uidstore_open(dir, 0, &us, &err) != US_OK ||
		    uidstore_begin(us) != US_OK ||
		    uidstore_put(us, key, strlen(key), &r) != US_OK ||
		    uidstore_commit(us) != US_OK)
			_exit(1);
		if (close_it)
			uidstore_close(us);
		_exit(0);
	}
	return waitpid(pid, &st, 0) == pid && WIFEXITED(st) &&
	    WEXITSTATUS(st) == 0 ? 0 : -1;
}

static void
test_store_covered(void)
{
	static const char *const all[] = { "k1", "k2", "k3", "k4", "k5" };
	const char *keys[8];
	char tmpl[4096], cmd[4200], path[4200], *err = NULL;
	struct uidstore *us = NULL;
	struct uidrec r;
	struct stat st;
	struct timespec ts[2];
	int ok = 1, rec1, rec2, rec3;
	size_t i;

	snprintf(tmpl, sizeof tmpl, "%s/t_unit.XXXXXX",
	    getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(tmpl) == NULL || uidstore_open(tmpl, 0, &us, &err) !=
	    US_OK) {
		CHECK(0, "store for coverage: %s", err ? err : "mkdtemp");
		free(err);
		return;
	}
	CHECK(uidstore_recovered(us), "a new store is opened with recovery");
	CHECK(covered_by(us, all, 0) == 1, "an empty store: covered by nothing");
	keys[0] = "new";
	CHECK(covered_by(us, keys, 1) == 1, "an empty store: covered by a "
	    "lookup that finds nothing");
	ok &= uidstore_begin(us) == US_OK;
	memset(&r, 0, sizeof r);
	r.ncopies = 1;
	for (i = 0; i < 5; i++)
		ok &= uidstore_put(us, all[i], strlen(all[i]), &r) == US_OK;
	ok &= uidstore_commit(us) == US_OK;
	CHECK(ok, "5 records written");
	CHECK(covered_by(us, all, 5) == 1, "all five in order: covered");
	memcpy(keys, all, sizeof all);
	keys[5] = "k6";
	keys[6] = "k7";
	CHECK(covered_by(us, keys, 7) == 1, "all five, then two new ones: "
	    "covered");
	CHECK(covered_by(us, all + 1, 4) == 0, "the first missing: not covered");
	CHECK(covered_by(us, all, 4) == 0, "the last missing: not covered");
	keys[0] = "k1"; keys[1] = "k2"; keys[2] = "k4"; keys[3] = "k5";
	CHECK(covered_by(us, keys, 4) == 0, "one in the middle missing: not "
	    "covered");
	keys[0] = "k1"; keys[1] = "k2"; keys[2] = "k3"; keys[3] = "k9";
	keys[4] = "k5";
	CHECK(covered_by(us, keys, 5) == 0, "k4 missing, k9 not found in its "
	    "place: not covered");
	uidstore_close(us);
	us = NULL;

	/* Recovery only after a close that did not happen. */
	snprintf(path, sizeof path, "%s/clean", tmpl);
	CHECK(lstat(path, &st) == 0 && S_ISREG(st.st_mode) &&
	    (st.st_mode & 0777) == 0600, "a clean close leaves a private "
	    "marker");
	rec1 = uidstore_open(tmpl, 0, &us, &err) == US_OK ?
	    uidstore_recovered(us) : -1;
	CHECK(rec1 == 0, "after a clean close: no recovery (%d)", rec1);
	CHECK(lstat(path, &st) == -1, "the marker is gone while the store is "
	    "open");
	CHECK(us != NULL && uidstore_get(us, "k3", 2, &r) == US_OK,
	    "the records are there without recovery");
	uidstore_close(us);
	us = NULL;
	CHECK(child_put(tmpl, "crashed", 0) == 0, "a child writes and exits "
	    "without closing");
	rec2 = uidstore_open(tmpl, 0, &us, &err) == US_OK ?
	    uidstore_recovered(us) : -1;
	CHECK(rec2 == 1, "after a crash: recovery (%d)", rec2);
	CHECK(us != NULL && uidstore_get(us, "crashed", 7, &r) == US_OK,
	    "the crashed run's commit is there");
	uidstore_close(us);
	us = NULL;
	/* A writer that keeps no marker (an older popfetch) changes the log
	 * under a marker left before it: the marker is not believed. */
	snprintf(cmd, sizeof cmd, "%s/log.0000000001", tmpl);
	ts[0].tv_sec = ts[1].tv_sec = 1000000000;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	CHECK(utimensat(AT_FDCWD, cmd, ts, 0) == 0, "touching %s", cmd);
	rec3 = uidstore_open(tmpl, 0, &us, &err) == US_OK ?
	    uidstore_recovered(us) : -1;
	CHECK(rec3 == 1, "a log changed after the marker: recovery (%d)",
	    rec3);
	uidstore_close(us);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpl);
	if (system(cmd) != 0)
		CHECK(0, "removing %s", tmpl);
}

static void
test_dirname(void)
{
	char *s;

	s = conf_account_dirname("alice", "mail.example.org", "995");
	CHECK(strcmp(s, "alice@mail.example.org:995") == 0, "dirname %s", s);
	free(s);
	s = conf_account_dirname("../x/y", ".hidden", "110");
	CHECK(strcmp(s, "..%2Fx%2Fy@.hidden:110") == 0 || strchr(s, '/') ==
	    NULL, "dirname escapes: %s", s);
	CHECK(strchr(s, '/') == NULL, "dirname has no slash: %s", s);
	free(s);
	s = conf_account_dirname(".x", "h", "1");
	CHECK(s[0] != '.', "dirname does not start with a dot: %s", s);
	free(s);
}

static void
test_sanitize(void)
{
	char buf[32];

	log_sanitize(buf, sizeof buf, "a\x01\xff\\", 4);
	CHECK(strcmp(buf, "a\\x01\\xff\\x5c") == 0, "sanitize: %s", buf);
	log_sanitize(buf, sizeof buf, "0123456789012345678901234567890123456789",
	    40);
	CHECK(strlen(buf) < sizeof buf && strstr(buf, "...") != NULL,
	    "sanitize cuts: %s", buf);
}

static void
test_seconds(void)
{
	static const struct {
		const char	*in;
		long long	 ms;	/* -1: rejected */
	} t[] = {
		{ "60", 60000 }, { "0.2", 200 }, { "1.5", 1500 },
		{ "0.001", 1 }, { "2.", 2000 }, { ".5", 500 }, { "0", -1 },
		{ "0.0001", -1 }, { "", -1 }, { ".", -1 }, { "-1", -1 },
		{ "1e3", -1 }, { " 1", -1 }, { "1 ", -1 }, { "86400", 86400000 },
		{ "86400.001", -1 }, { "99999999999999999999", -1 },
	};
	long long ms;
	size_t i;
	char buf[32];

	for (i = 0; i < sizeof t / sizeof t[0]; i++) {
		ms = -1;
		if (parse_seconds_ms(t[i].in, 1, 86400000, &ms) == -1)
			ms = -1;
		CHECK(ms == t[i].ms, "seconds \"%s\": %lld, want %lld",
		    t[i].in, ms, t[i].ms);
	}
	CHECK(strcmp(show_ms(buf, sizeof buf, 60000), "60 s") == 0, "%s", buf);
	CHECK(strcmp(show_ms(buf, sizeof buf, 200), "0.2 s") == 0, "%s", buf);
	CHECK(strcmp(show_ms(buf, sizeof buf, 1250), "1.250 s") == 0, "%s",
	    buf);
}

/* Journal blobs: what is encoded decodes the same; any damage is refused. */
static void
test_journal(void)
{
	struct job jobs[3];
	struct job_sum sums[3];
	struct buf b = { 0 }, md = { 0 };
	struct journal j;
	size_t i, cut;
	int bad = 0;

	memset(jobs, 0, sizeof jobs);
	memset(sums, 0, sizeof sums);
	for (i = 0; i < 3; i++) {
		jobs[i].uid = (char *)(i == 0 ? "uid-a" : i == 1 ? "b" : "c");
		jobs[i].uidlen = strlen(jobs[i].uid);
		jobs[i].state = i == 1 ? J_FAILED : J_DELIVERED;
		memset(sums[i].digest, 'd' + (int)i, DIGEST_LEN);
		memset(sums[i].hdr, 'h', DIGEST_LEN);
		sums[i].octets = 100 + i;
		jobs[i].size_hint = 200 + i;
		jobs[i].dup = i == 2;
	}
	buf_add_str(&md, "/some/maildir");
	journal_encode(&b, DELIVER_PHASE_POST, "maildir", &md, jobs, sums, 0,
	    3);
	CHECK(journal_decode(b.data, b.len, &j) == 0, "journal decodes");
	CHECK(j.phase == DELIVER_PHASE_POST && strcmp(j.method, "maildir") ==
	    0 && j.mlen == md.len && memcmp(j.mdata, md.data, md.len) == 0,
	    "journal header");
	CHECK(j.n == 2, "only delivered jobs are journaled: %u", j.n);
	CHECK(j.n == 2 && j.entries[0].uidlen == 5 &&
	    memcmp(j.entries[0].uid, "uid-a", 5) == 0 &&
	    j.entries[0].octets == 100 && j.entries[0].copies == 1 &&
	    j.entries[0].list_size == 200 && j.entries[0].digest[0] == 'd' &&
	    j.entries[1].copies == 0 && j.entries[1].octets == 102,
	    "journal entries");
	journal_free(&j);
	/* A range that starts later: its sums start with it. */
	buf_free(&b);
	journal_encode(&b, DELIVER_PHASE_POST, "maildir", &md, jobs, sums + 2,
	    2, 3);
	CHECK(journal_decode(b.data, b.len, &j) == 0 && j.n == 1 &&
	    j.entries[0].uidlen == 1 && j.entries[0].octets == 102 &&
	    j.entries[0].digest[0] == 'f' && j.entries[0].hdr[0] == 'h',
	    "journal of jobs [2, 3): their sums");
	journal_free(&j);
	buf_free(&b);
	journal_encode(&b, DELIVER_PHASE_POST, "maildir", &md, jobs, sums, 0,
	    3);
	for (cut = 0; cut < b.len; cut++)
		if (journal_decode(b.data, cut, &j) == 0) {
			bad++;
			journal_free(&j);
		}
	CHECK(bad == 0, "every truncated journal is refused (%d accepted)",
	    bad);
	buf_add(&b, "x", 1);
	CHECK(journal_decode(b.data, b.len, &j) == -1,
	    "trailing bytes are refused");
	b.data[0] = 7;
	CHECK(journal_decode(b.data, b.len - 1, &j) == -1,
	    "an unknown phase is refused");
	buf_free(&b);
	buf_free(&md);
}

/* One table of login methods; the automatic choice follows it. */
static void
test_auth(void)
{
	const struct auth_method *m[16];
	size_t n;

	CHECK(auth_lookup("SCRAM-sha-256") != NULL && auth_lookup("user") &&
	    auth_lookup("xoauth2") && auth_lookup("bogus") == NULL,
	    "auth_lookup");
	n = auth_candidates(NULL, "PLAIN SCRAM-SHA-1 XOAUTH2", 0, 0, m, 16);
	CHECK(n == 3 && strcmp(m[0]->name, "scram-sha-1") == 0 &&
	    strcmp(m[1]->name, "plain") == 0 && strcmp(m[2]->name, "user") == 0,
	    "auto: strongest offered first, OAuth only on request, USER last");
	/* Issue 9: a greeting timestamp does not mean APOP secrets exist. */
	n = auth_candidates(NULL, "PLAIN", 1, 1, m, 16);
	CHECK(n == 3 && strcmp(m[0]->name, "plain") == 0 &&
	    strcmp(m[1]->name, "user") == 0 && strcmp(m[2]->name, "apop") == 0,
	    "advertised methods (SASL, USER) before an inferred APOP");
	n = auth_candidates(NULL, "", 1, 0, m, 16);
	CHECK(n == 2 && strcmp(m[0]->name, "apop") == 0 &&
	    strcmp(m[1]->name, "user") == 0, "APOP before an unadvertised USER");
	n = auth_candidates(NULL, "XPLAIN PLAINX", 0, 0, m, 16);
	CHECK(n == 1 && strcmp(m[0]->name, "user") == 0,
	    "mechanism names match whole words only");
	n = auth_candidates("cram-md5", "", 0, 0, m, 16);
	CHECK(n == 1 && strcmp(m[0]->name, "cram-md5") == 0, "--auth forces");
}

/* The most severe failure decides the exit status (popfetch(1)). */
static void
test_result(void)
{
	struct result r;

	result_init(&r);
	CHECK(result_exit(&r, 0) == 0, "no failure: 0");
	r.fresh = 0;
	CHECK(result_exit(&r, 1) == 1, "--check, no new mail: 1");
	r.fresh = 2;
	CHECK(result_exit(&r, 1) == 0, "--check, new mail: 0");
	result_worsen(&r, FAIL_MESSAGE);
	CHECK(result_exit(&r, 0) == 65, "a message left: 65");
	result_worsen(&r, FAIL_MESSAGE_TEMP);
	CHECK(result_exit(&r, 0) == 65, "65 outranks a message's 75");
	result_worsen(&r, FAIL_TEMP);
	CHECK(result_exit(&r, 1) == 75, "an account's 75 outranks 65");
	result_worsen(&r, FAIL_AUTH);
	result_worsen(&r, FAIL_PROTOCOL);
	CHECK(result_exit(&r, 0) == 77, "77 outranks 76");
	result_worsen(&r, FAIL_LOCAL);
	CHECK(result_exit(&r, 0) == 74, "74 outranks 77");
	CHECK(failure_exit(FAIL_LOCKED) == 73 &&
	    failure_exit(FAIL_UNAVAILABLE) == 69 &&
	    failure_exit(FAIL_NOHOST) == 68 && failure_exit(FAIL_CONFIG) == 78 &&
	    failure_exit(FAIL_INTERNAL) == 70, "sysexits");
	result_free(&r);
}

static void
digest_of(struct digest *d, const char *msg, int flags, int bytewise,
    struct digests *out)
{
	size_t i, n = strlen(msg);

	memset(out, 0, sizeof *out);
	digest_start(d, flags);
	if (bytewise)
		for (i = 0; i < n; i++)
			digest_feed(d, msg + i, 1);
	else
		digest_feed(d, msg, n);
	digest_end(d, out);
}

/* Issue 9: status fields a server adds when mail is read change neither
 * the identity nor the content; everything else does. */
static void
test_digest(void)
{
	static const char base[] =
	    "Received: from a\n\tby b; Mon, 1 Jan 2024\n"
	    "Message-ID: <1@x>\nDate: Mon, 1 Jan 2024 00:00:00 +0000\n"
	    "Subject: hi\n\nbody\nStatus: RO in the body counts\n";
	static const char rewritten[] =
	    "Received: from a\n\tby b; Mon, 1 Jan 2024\n"
	    "X-IMAPbase: 1 2\nMessage-ID: <1@x>\n"
	    "Date: Mon, 1 Jan 2024 00:00:00 +0000\nSubject: hi\n"
	    "Status: RO\nX-UID: 7\nX-Status: A\nX-UIDL: abc\n"
	    "Content-Length: 5\nLines: 1\nX-Keywords:\n  folded\n"
	    "\nbody\nStatus: RO in the body counts\n";
	static const char refolded[] =
	    "Received: from a by b;\n  Mon, 1 Jan 2024\n"
	    "MESSAGE-ID: <1@x>\nDate:  Mon, 1 Jan 2024 00:00:00 +0000\n"
	    "Subject: other subject\n\nanother body\n";
	static const char other[] =
	    "Received: from a\n\tby b; Mon, 1 Jan 2024\n"
	    "Message-ID: <2@x>\nDate: Mon, 1 Jan 2024 00:00:00 +0000\n"
	    "Subject: hi\n\nbody\nStatus: RO in the body counts\n";
	static const char noident1[] = "Subject: a\nFrom: b\n\nx\n";
	static const char noident2[] = "Subject: a\nStatus: R\nFrom: b\n\ny\n";
	static const char noident3[] = "Subject: c\nFrom: b\n\nx\n";
	struct digest *d = digest_new();
	struct digests a, b, c;
	int bw;

	for (bw = 0; bw < 2; bw++) {
		digest_of(d, base, DIGEST_CONTENT | DIGEST_RAW, bw, &a);
		digest_of(d, rewritten, DIGEST_CONTENT | DIGEST_RAW, !bw, &b);
		CHECK(memcmp(a.ident, b.ident, DIGEST_LEN) == 0,
		    "volatile fields leave the identity alone (%d)", bw);
		CHECK(memcmp(a.content, b.content, DIGEST_LEN) == 0,
		    "volatile fields leave the content alone (%d)", bw);
		CHECK(memcmp(a.raw_content, b.raw_content, DIGEST_LEN) != 0 &&
		    memcmp(a.raw_header, b.raw_header, DIGEST_LEN) != 0,
		    "the raw digests see them (%d)", bw);
		digest_of(d, refolded, DIGEST_CONTENT, bw, &c);
		CHECK(memcmp(a.ident, c.ident, DIGEST_LEN) == 0,
		    "identity: case of names, folding and blanks do not "
		    "matter; other fields do not count (%d)", bw);
		CHECK(memcmp(a.content, c.content, DIGEST_LEN) != 0,
		    "another body is another content (%d)", bw);
		digest_of(d, other, DIGEST_CONTENT, bw, &c);
		CHECK(memcmp(a.ident, c.ident, DIGEST_LEN) != 0,
		    "another Message-ID is another identity (%d)", bw);
		digest_of(d, noident1, 0, bw, &a);
		digest_of(d, noident2, 0, !bw, &b);
		digest_of(d, noident3, 0, bw, &c);
		CHECK(memcmp(a.ident, b.ident, DIGEST_LEN) == 0 &&
		    memcmp(a.ident, c.ident, DIGEST_LEN) != 0,
		    "without Message-ID, Date, Received: every stable field "
		    "(%d)", bw);
	}
	/* A TOP reply (headers only) has the identity of the message. */
	digest_of(d, base, DIGEST_CONTENT, 0, &a);
	digest_of(d, "Received: from a\n\tby b; Mon, 1 Jan 2024\n"
	    "Message-ID: <1@x>\nDate: Mon, 1 Jan 2024 00:00:00 +0000\n"
	    "Subject: hi\n\n", 0, 1, &b);
	CHECK(memcmp(a.ident, b.ident, DIGEST_LEN) == 0 &&
	    memcmp(a.raw_header, b.raw_header, DIGEST_LEN) == 0,
	    "TOP n 0 and RETR agree on the identity");
	digest_free(d);
}

int
main(void)
{
	test_seconds();
	test_digest();
	test_journal();
	test_auth();
	test_result();
	test_status();
	test_stat_list_uidl();
	test_dotdec();
	test_dotdec_long_line();
	test_mboxrd();
	test_netrc();
	test_uidrec();
	test_store_walk();
	test_store_covered();
	test_dirname();
	test_sanitize();
	printf("t_unit: %d passed, %d failed\n", unit_pass, unit_fail);
	return unit_fail != 0;
}
