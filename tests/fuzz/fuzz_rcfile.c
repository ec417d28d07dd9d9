/* SPDX-License-Identifier: ISC */
/*
 * Why: the config file is edited by hand, pasted from web pages and written
 * on Windows, and a password sits in it, so rcfile_parse must take any bytes
 * without reading past the text (not NUL-terminated) or leaking what it
 * copied, and give a consistent answer: an error is one clean line
 * "rc:LINE: ..." with LINE inside the file and no control character (an
 * unknown keyword is echoed, escaped); a result has valid, unique account
 * names that the lookup finds, items in file order around their account's
 * line, flags without values, values without control characters, no "~"
 * left at the start of a path. The same text with CRLF line ends must give
 * exactly the same result.
 *
 * Input: the file text. The keywords are those of the table below; the
 * one-letter ones let the fuzzer reach every type quickly.
 * Links: rcfile.c util.c xmalloc.c log.c
 */
#include "config.h"

#include <string.h>

#include "rcfile.h"

#include "fuzz.h"

static struct rc_keyword keywords[] = {
	{ "f", RC_FLAG },
	{ "v", RC_VALUE },
	{ "p", RC_PATH },
	{ "s", RC_SECRET },
	{ "delete", RC_FLAG },
	{ "host", RC_VALUE },
	{ "maildir", RC_PATH },
	{ "password", RC_SECRET },
	{ NULL, RC_UNKNOWN },
};

static void
check_item(const struct rc_item *it)
{
	const char *c;

	FUZZ_ASSERT(it->keyword != NULL);
	FUZZ_ASSERT(it->type == rc_table_lookup(it->keyword, keywords));
	FUZZ_ASSERT(strcmp(it->file, "rc") == 0);
	if (it->type == RC_FLAG) {
		FUZZ_ASSERT(it->value == NULL);
		FUZZ_ASSERT(it->on == 0 || it->on == 1);
		return;
	}
	FUZZ_ASSERT(it->value != NULL && it->on == 1);
	for (c = it->value; *c != '\0'; c++)
		FUZZ_ASSERT((unsigned char)*c >= 0x20 && *c != 0x7f);
	if (it->type == RC_PATH)
		FUZZ_ASSERT(it->value[0] != '~');
}

static void
check_result(const struct rcfile *rc, unsigned nlines)
{
	const struct rc_account *a, *prev = NULL;
	const struct rc_item *it, *d;
	const unsigned char *c;
	size_t i, j, nd;
	unsigned last;

	d = rcfile_defaults(rc, &nd);
	for (j = 0; j < nd; j++) {
		check_item(&d[j]);
		FUZZ_ASSERT(d[j].line >= 1 && d[j].line <= nlines);
		FUZZ_ASSERT(j == 0 || d[j].line > d[j - 1].line);
	}
	FUZZ_ASSERT(rcfile_account_at(rc, rcfile_naccounts(rc)) == NULL);
	for (i = 0; i < rcfile_naccounts(rc); i++) {
		a = rcfile_account_at(rc, i);
		FUZZ_ASSERT(a != NULL && a->name[0] != '\0');
		for (c = (const unsigned char *)a->name; *c != '\0'; c++)
			FUZZ_ASSERT(*c > 0x20 && *c < 0x7f);
		FUZZ_ASSERT(rcfile_account(rc, a->name) == a);
		FUZZ_ASSERT(a->line >= 1 && a->line <= nlines);
		FUZZ_ASSERT(prev == NULL || a->line > prev->line);
		FUZZ_ASSERT(a->ndefaults <= nd);
		last = 0;
		for (j = 0; j < rc_account_nitems(a); j++) {
			it = rc_account_item(a, j);
			check_item(it);
			if (j < a->ndefaults)
				FUZZ_ASSERT(it == &d[j] && it->line < a->line);
			else {
				FUZZ_ASSERT(it->line > a->line &&
				    it->line > last && it->line <= nlines);
				if (i + 1 < rcfile_naccounts(rc))
					FUZZ_ASSERT(it->line <
					    rcfile_account_at(rc, i + 1)->line);
				last = it->line;
			}
		}
		FUZZ_ASSERT(rc_account_item(a, j) == NULL);
		prev = a;
	}
}

static void
check_error(const char *err, unsigned nlines)
{
	const char *c;
	unsigned long line;
	char *end;

	FUZZ_ASSERT(err != NULL && strncmp(err, "rc:", 3) == 0);
	line = strtoul(err + 3, &end, 10);
	FUZZ_ASSERT(end > err + 3 && end[0] == ':' && end[1] == ' ');
	FUZZ_ASSERT(line >= 1 && line <= nlines);
	for (c = err; *c != '\0'; c++)
		FUZZ_ASSERT((unsigned char)*c >= 0x20 && *c != 0x7f);
}

/* Both results, item by item. */
static void
check_same(const struct rcfile *x, const struct rcfile *y)
{
	const struct rc_account *a, *b;
	const struct rc_item *p, *q;
	size_t i, j;

	FUZZ_ASSERT(rcfile_naccounts(x) == rcfile_naccounts(y));
	FUZZ_ASSERT(rcfile_has_secret(x) == rcfile_has_secret(y));
	for (i = 0; i < rcfile_naccounts(x); i++) {
		a = rcfile_account_at(x, i);
		b = rcfile_account_at(y, i);
		FUZZ_ASSERT(strcmp(a->name, b->name) == 0 &&
		    a->line == b->line);
		FUZZ_ASSERT(rc_account_nitems(a) == rc_account_nitems(b));
		for (j = 0; j < rc_account_nitems(a); j++) {
			p = rc_account_item(a, j);
			q = rc_account_item(b, j);
			FUZZ_ASSERT(strcmp(p->keyword, q->keyword) == 0 &&
			    p->line == q->line && p->on == q->on);
			FUZZ_ASSERT((p->value == NULL && q->value == NULL) ||
			    (p->value != NULL && q->value != NULL &&
			    strcmp(p->value, q->value) == 0));
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	struct rcfile *rc, *rc2;
	char *err = NULL, *err2 = NULL, *crlf, *o;
	unsigned nlines = 1;
	size_t i;
	int r, r2;

	for (i = 0; i < size; i++)
		nlines += text[i] == '\n';

	rc = (struct rcfile *)1;
	r = rcfile_parse(text, size, "rc", "/h", rc_table_lookup, keywords,
	    &rc, &err);
	FUZZ_ASSERT(r == 0 || r == -1);
	if (r == 0) {
		FUZZ_ASSERT(rc != NULL && err == NULL);
		check_result(rc, nlines);
	} else {
		FUZZ_ASSERT(rc == NULL);
		check_error(err, nlines);
	}

	if (memchr(text, '\r', size) == NULL) {
		o = crlf = malloc(2 * size + 1);
		for (i = 0; i < size; i++) {
			if (text[i] == '\n')
				*o++ = '\r';
			*o++ = text[i];
		}
		r2 = rcfile_parse(crlf, (size_t)(o - crlf), "rc", "/h",
		    rc_table_lookup, keywords, &rc2, &err2);
		FUZZ_ASSERT(r2 == r);
		if (r == 0) {
			check_same(rc, rc2);
			rcfile_free(rc2);
		} else
			FUZZ_ASSERT(strcmp(err, err2) == 0);
		free(err2);
		free(crlf);
	}
	rcfile_free(rc);
	free(err);
	return 0;
}
