/* SPDX-License-Identifier: ISC */
/*
 * Why: every byte of a status line and of a STAT, LIST, UIDL or CAPA line is
 * chosen by the server, and the parsers return pointers into that line. This
 * target checks that nothing is read or returned outside the line, that the
 * numbers are exactly the digits the server sent (no wrap-around, no message
 * number 0), that a UID is never empty, and that log_sanitize, which prints
 * such bytes, stays inside its buffer and prints nothing it was not given.
 *
 * Input: any bytes, split on '\n'; every line goes to every parser, each in
 * a heap copy of its exact length so that ASan sees a read past its end.
 * Links: pop3_parse.c log.c
 */
#include "config.h"

#include <ctype.h>
#include <inttypes.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "pop3_parse.h"

#include "fuzz.h"

static int
is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Pointer p with n bytes lies inside line[0..len). */
static int
inside(const char *line, size_t len, const char *p, size_t n)
{
	return p >= line && p <= line + len && n <= (size_t)(line + len - p);
}

/*
 * After blanks at *i, the line holds v in decimal (leading zeros allowed),
 * followed by a blank or the end. Advances *i past the digits.
 */
static int
digits_are(const char *s, size_t len, size_t *i, uint64_t v)
{
	char want[24];
	size_t n;

	while (*i < len && is_blank(s[*i]))
		(*i)++;
	while (*i + 1 < len && s[*i] == '0' && s[*i + 1] >= '0' &&
	    s[*i + 1] <= '9')
		(*i)++;
	n = (size_t)snprintf(want, sizeof want, "%" PRIu64, v);
	if (len - *i < n || memcmp(s + *i, want, n) != 0)
		return 0;
	*i += n;
	return *i == len || is_blank(s[*i]);
}

static void
check_status(const char *line, size_t len)
{
	struct pop3_status st;
	char name[64];
	size_t i;

	pop3_parse_status(line, len, &st);
	FUZZ_ASSERT(st.ok == (len > 0 && line[0] == '+'));
	FUZZ_ASSERT(inside(line, len, st.text, st.textlen));
	FUZZ_ASSERT(st.text + st.textlen == line + len);
	FUZZ_ASSERT(st.textlen == 0 || !is_blank(st.text[0]));
	if (st.codelen == 0) {
		FUZZ_ASSERT(st.code == NULL);
		return;
	}
	FUZZ_ASSERT(st.code == st.text + 1 && st.text[0] == '[');
	FUZZ_ASSERT(inside(line, len, st.code, st.codelen + 1));
	FUZZ_ASSERT(st.code[st.codelen] == ']');
	for (i = 0; i < st.codelen; i++)
		FUZZ_ASSERT(!is_blank(st.code[i]) && st.code[i] != ']');
	/* The code matches its own name, in any case, and nothing longer. */
	if (st.codelen + 2 > sizeof name || memchr(st.code, '\0', st.codelen))
		return;
	for (i = 0; i < st.codelen; i++)
		name[i] = (char)tolower((unsigned char)st.code[i]);
	name[i] = '\0';
	FUZZ_ASSERT(pop3_code_is(&st, name) == 1);
	name[i] = 'X';
	name[i + 1] = '\0';
	FUZZ_ASSERT(pop3_code_is(&st, name) == 0);
}

static void
check_stat(const char *text, size_t len)
{
	uint64_t count = 1, size = 1;
	size_t i = 0;

	if (pop3_parse_stat(text, len, &count, &size) == -1)
		return;
	FUZZ_ASSERT(digits_are(text, len, &i, count));
	while (i < len && is_blank(text[i]))
		i++;
	if (i == len)
		FUZZ_ASSERT(size == 0);
	else
		FUZZ_ASSERT(digits_are(text, len, &i, size));
}

static void
check_list(const char *line, size_t len)
{
	uint64_t size = 0;
	uint32_t msgno = 0;
	size_t i = 0;

	if (pop3_parse_list(line, len, &msgno, &size) == -1)
		return;
	FUZZ_ASSERT(msgno > 0);
	FUZZ_ASSERT(digits_are(line, len, &i, msgno));
	FUZZ_ASSERT(digits_are(line, len, &i, size));
}

static void
check_uidl(const char *line, size_t len)
{
	const char *uid = NULL;
	size_t uidlen = 0, i = 0, k;
	uint32_t msgno = 0;

	if (pop3_parse_uidl(line, len, &msgno, &uid, &uidlen) == -1)
		return;
	FUZZ_ASSERT(msgno > 0);
	/* An empty UID is returned as such (issue 10: the caller identifies
	 * that message by its header block), always inside the line. */
	FUZZ_ASSERT(inside(line, len, uid, uidlen));
	FUZZ_ASSERT(digits_are(line, len, &i, msgno));
	while (i < len && is_blank(line[i]))
		i++;
	/* The UID is the whole next field: no blank in it, one after it. */
	FUZZ_ASSERT(uid == line + i);
	for (k = 0; k < uidlen; k++)
		FUZZ_ASSERT(!is_blank(uid[k]));
	FUZZ_ASSERT(uid + uidlen == line + len || is_blank(uid[uidlen]));
}

static void
check_capa(const char *line, size_t len)
{
	static const struct {
		const char	*name;
		unsigned	 bit;
	} caps[] = {
		{ "TOP", CAPA_TOP }, { "UIDL", CAPA_UIDL },
		{ "USER", CAPA_USER }, { "PIPELINING", CAPA_PIPELINING },
		{ "RESP-CODES", CAPA_RESPCODES }, { "STLS", CAPA_STLS },
		{ "SASL", CAPA_SASL }, { "AUTH-RESP-CODE", CAPA_AUTHRESP },
	};
	unsigned bit = pop3_parse_capa(line, len);
	size_t i = 0, j, k;

	while (i < len && is_blank(line[i]))
		i++;
	for (j = i; j < len && !is_blank(line[j]); j++)
		;
	/* Exactly the bit whose name is the first word, or none. */
	for (k = 0; k < sizeof caps / sizeof caps[0]; k++) {
		int named = strlen(caps[k].name) == j - i &&
		    strncasecmp(line + i, caps[k].name, j - i) == 0;

		FUZZ_ASSERT(named == (bit == caps[k].bit));
	}
}

static unsigned
hexval(char c)
{
	return c <= '9' ? (unsigned)(c - '0') :
	    (unsigned)(tolower((unsigned char)c) - 'a' + 10);
}

/* Undoes the \xHH escapes of log_sanitize; -1 on anything it cannot have
 * written (a control or 8-bit byte, a bare backslash). */
static long
unescape(const char *s, size_t n, char *out)
{
	size_t i, o = 0;
	unsigned v;

	for (i = 0; i < n; i++) {
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f)
			return -1;
		if (s[i] != '\\') {
			out[o++] = s[i];
			continue;
		}
		if (n - i < 4 || s[i + 1] != 'x' ||
		    !isxdigit((unsigned char)s[i + 2]) ||
		    !isxdigit((unsigned char)s[i + 3]))
			return -1;
		v = hexval(s[i + 2]) << 4 | hexval(s[i + 3]);
		out[o++] = (char)v;
		i += 3;
	}
	return (long)o;
}

/* fits: bufsz leaves room for the worst case, so nothing may be cut. */
static void
check_sanitize(const char *line, size_t len, size_t bufsz, int fits)
{
	char *buf = malloc(bufsz > 0 ? bufsz : 1), *plain;
	size_t n;
	long u;

	buf[0] = '\x7f';
	FUZZ_ASSERT(log_sanitize(buf, bufsz, line, len) == buf);
	if (bufsz == 0) {
		FUZZ_ASSERT(buf[0] == '\x7f');	/* untouched */
		free(buf);
		return;
	}
	n = strnlen(buf, bufsz);
	FUZZ_ASSERT(n < bufsz);
	plain = malloc(n + 1);
	u = unescape(buf, n, plain);
	FUZZ_ASSERT(u >= 0);
	if ((size_t)u != len || memcmp(plain, line, len) != 0) {
		FUZZ_ASSERT(!fits);
		/* Cut: marked with "..." when there is room for it, and what
		 * comes before is the start of the line. */
		if (bufsz >= 4) {
			FUZZ_ASSERT(n >= 3 && memcmp(buf + n - 3, "...", 3) == 0);
			u = unescape(buf, n - 3, plain);
		}
		FUZZ_ASSERT(u >= 0 && (size_t)u < len &&
		    memcmp(plain, line, (size_t)u) == 0);
	}
	free(plain);
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size, *nl;
	struct pop3_status st;
	char *line;
	size_t len;

	while (p <= end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		len = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
		line = malloc(len > 0 ? len : 1);
		memcpy(line, p, len);

		check_status(line, len);
		pop3_parse_status(line, len, &st);
		check_stat(st.text, st.textlen);
		check_stat(line, len);
		check_list(line, len);
		check_uidl(line, len);
		check_capa(line, len);
		check_sanitize(line, len, len > 0 ?
		    (unsigned char)line[0] % 48 : 0, 0);
		check_sanitize(line, len, 4 * len + 9, 1);

		free(line);
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	return 0;
}
