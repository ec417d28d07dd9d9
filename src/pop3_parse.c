/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <string.h>
#include <strings.h>

#include "pop3_parse.h"

static int
is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static size_t
skip_blanks(const char *s, size_t len, size_t i)
{
	while (i < len && is_blank(s[i]))
		i++;
	return i;
}

static size_t
skip_word(const char *s, size_t len, size_t i)
{
	while (i < len && !is_blank(s[i]))
		i++;
	return i;
}

/* Digits only, no sign, no overflow past max. */
static int
parse_u64(const char *s, size_t len, size_t *i, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	size_t start = *i;

	while (*i < len && s[*i] >= '0' && s[*i] <= '9') {
		unsigned d = (unsigned)(s[*i] - '0');

		if (v > (max - d) / 10)
			return -1;
		v = v * 10 + d;
		(*i)++;
	}
	if (*i == start)
		return -1;
	/* "12abc" is not a number followed by text. */
	if (*i < len && !is_blank(s[*i]))
		return -1;
	*out = v;
	return 0;
}

void
pop3_parse_status(const char *line, size_t len, struct pop3_status *st)
{
	size_t i, j;

	memset(st, 0, sizeof *st);
	st->ok = len > 0 && line[0] == '+';
	i = skip_word(line, len, 0);
	i = skip_blanks(line, len, i);
	st->text = line + i;
	st->textlen = len - i;
	if (i < len && line[i] == '[') {
		for (j = i + 1; j < len && line[j] != ']' && !is_blank(line[j]);
		    j++)
			;
		if (j < len && line[j] == ']' && j > i + 1) {
			st->code = line + i + 1;
			st->codelen = j - i - 1;
		}
	}
}

int
pop3_code_is(const struct pop3_status *st, const char *name)
{
	size_t n = strlen(name);

	return st->codelen == n && strncasecmp(st->code, name, n) == 0;
}

int
pop3_parse_stat(const char *text, size_t len, uint64_t *count, uint64_t *size)
{
	size_t i = skip_blanks(text, len, 0);

	if (parse_u64(text, len, &i, UINT64_MAX, count) == -1)
		return -1;
	i = skip_blanks(text, len, i);
	/* Exchange storage sizes and odd servers: a missing size is a hint lost,
	 * not an error. */
	if (i == len) {
		*size = 0;
		return 0;
	}
	return parse_u64(text, len, &i, UINT64_MAX, size);
}

int
pop3_parse_list(const char *line, size_t len, uint32_t *msgno, uint64_t *size)
{
	size_t i = skip_blanks(line, len, 0);
	uint64_t n;

	if (parse_u64(line, len, &i, UINT32_MAX, &n) == -1 || n == 0)
		return -1;
	i = skip_blanks(line, len, i);
	if (parse_u64(line, len, &i, UINT64_MAX, size) == -1)
		return -1;
	*msgno = (uint32_t)n;
	return 0;
}

int
pop3_parse_uidl(const char *line, size_t len, uint32_t *msgno,
    const char **uid, size_t *uidlen)
{
	size_t i = skip_blanks(line, len, 0), j;
	uint64_t n;

	if (parse_u64(line, len, &i, UINT32_MAX, &n) == -1 || n == 0)
		return -1;
	i = skip_blanks(line, len, i);
	j = skip_word(line, len, i);
	/* An empty UID is the caller's to judge (issue 10: identified by
	 * the header block instead). */
	*msgno = (uint32_t)n;
	*uid = line + i;
	*uidlen = j - i;
	return 0;
}

unsigned
pop3_parse_capa(const char *line, size_t len)
{
	static const struct {
		const char	*name;
		unsigned	 bit;
	} caps[] = {
		{ "TOP", CAPA_TOP },
		{ "UIDL", CAPA_UIDL },
		{ "USER", CAPA_USER },
		{ "PIPELINING", CAPA_PIPELINING },
		{ "RESP-CODES", CAPA_RESPCODES },
		{ "STLS", CAPA_STLS },
		{ "SASL", CAPA_SASL },
		{ "AUTH-RESP-CODE", CAPA_AUTHRESP },
	};
	size_t i = skip_blanks(line, len, 0), j, k;

	j = skip_word(line, len, i);
	for (k = 0; k < sizeof caps / sizeof caps[0]; k++) {
		if (strlen(caps[k].name) == j - i &&
		    strncasecmp(line + i, caps[k].name, j - i) == 0)
			return caps[k].bit;
	}
	return 0;
}
