/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The SHA-256 functions, not EVP: EVP fetches its algorithm from the
 * default provider, whose start-up touches about 1.8 MiB more of libcrypto
 * (issue 12's memory bound); these are the same implementation. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "digest.h"
#include "log.h"
#include "xmalloc.h"

/* The longest field name recognised (longer ones are kept, never volatile),
 * and how much of a field's value goes into the identity. */
#define NAME_MAX_LEN	64
#define VALUE_MAX_LEN	4096

static const char *const volatile_fields[] = {
	"status", "x-status", "x-uid", "x-imapbase", "x-keywords", "x-uidl",
	"content-length", "lines",
};

static const char *const ident_fields[] = {
	"message-id", "date", "received",
};

enum hstate {
	H_LINE_START,	/* at the start of a header line */
	H_NAME,		/* in a field name */
	H_VALUE,	/* in a field's value (or continuation) */
	H_BODY,		/* the header block has ended */
};

struct digest {
	SHA256_CTX	 content;
	SHA256_CTX	 raw;		/* the whole message as sent */
	SHA256_CTX	 raw_header;
	SHA256_CTX	 ident;		/* identity fields */
	SHA256_CTX	 stable;	/* every non-volatile field */
	int		 flags;
	int		 nident;	/* identity fields seen */
	enum hstate	 state;
	char		 last;		/* for the raw header's end */
	int		 raw_done;
	/* The field being read. */
	char		 name[NAME_MAX_LEN + 1];
	size_t		 namelen;
	int		 is_volatile;
	int		 is_ident;
	char		 value[VALUE_MAX_LEN];
	size_t		 valuelen;
	int		 space;		/* a blank is pending in value */
	char		 from[201];
	char		 subject[201];
};

struct digest *
digest_new(void)
{
	return xcalloc(1, sizeof(struct digest));
}

void
digest_free(struct digest *d)
{
	if (d == NULL)
		return;
	OPENSSL_cleanse(d, sizeof *d);
	free(d);
}

void
digest_start(struct digest *d, int flags)
{
	d->flags = flags;
	if (flags & DIGEST_CONTENT)
		SHA256_Init(&d->content);
	if (flags & DIGEST_RAW)
		SHA256_Init(&d->raw);
	SHA256_Init(&d->raw_header);
	SHA256_Init(&d->ident);
	SHA256_Init(&d->stable);
	d->nident = 0;
	d->state = H_LINE_START;
	d->last = '\n';
	d->raw_done = 0;
	d->namelen = d->valuelen = 0;
	d->space = 0;
	d->from[0] = d->subject[0] = '\0';
}

static void
content(struct digest *d, const char *p, size_t n)
{
	if ((d->flags & DIGEST_CONTENT) && n > 0)
		SHA256_Update(&d->content, p, n);
}

static int
in_list(const char *name, const char *const *list, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcasecmp(name, list[i]) == 0)
			return 1;
	return 0;
}

/* The field's name is known: decide what it is and let its bytes on. */
static void
name_done(struct digest *d)
{
	size_t i;

	d->name[d->namelen] = '\0';
	d->is_volatile = in_list(d->name, volatile_fields,
	    sizeof volatile_fields / sizeof volatile_fields[0]);
	d->is_ident = in_list(d->name, ident_fields,
	    sizeof ident_fields / sizeof ident_fields[0]);
	/* The content keeps the name as sent; the identity lower-cases it. */
	if (!d->is_volatile)
		content(d, d->name, d->namelen);
	for (i = 0; i < d->namelen; i++)
		if (d->name[i] >= 'A' && d->name[i] <= 'Z')
			d->name[i] = (char)(d->name[i] - 'A' + 'a');
	d->valuelen = 0;
	d->space = 0;
}

/* A field ended: it goes into the identity in its normal form. */
static void
keep(char *out, size_t sz, const char *v, size_t len)
{
	if (out[0] != '\0')
		return;
	if (len >= sz)
		len = sz - 1;
	memcpy(out, v, len);
	out[len] = '\0';
}

static void
field_done(struct digest *d)
{
	if (d->is_volatile)
		return;
	if (strcmp(d->name, "from") == 0)
		keep(d->from, sizeof d->from, d->value, d->valuelen);
	else if (strcmp(d->name, "subject") == 0)
		keep(d->subject, sizeof d->subject, d->value, d->valuelen);
	SHA256_Update(&d->stable, d->name, strlen(d->name));
	SHA256_Update(&d->stable, ":", 1);
	SHA256_Update(&d->stable, d->value, d->valuelen);
	SHA256_Update(&d->stable, "\n", 1);
	if (d->is_ident) {
		d->nident++;
		SHA256_Update(&d->ident, d->name, strlen(d->name));
		SHA256_Update(&d->ident, ":", 1);
		SHA256_Update(&d->ident, d->value, d->valuelen);
		SHA256_Update(&d->ident, "\n", 1);
	}
}

static void
value_byte(struct digest *d, char c)
{
	if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
		d->space = d->valuelen > 0;
		return;
	}
	if (d->valuelen + 2 > sizeof d->value)
		return;
	if (d->space)
		d->value[d->valuelen++] = ' ';
	d->space = 0;
	d->value[d->valuelen++] = c;
}

/* The raw header digest as popfetch 0.1 made it: every byte before the
 * first empty line. */
static void
raw_header(struct digest *d, const char *buf, size_t len)
{
	size_t i;

	if (d->raw_done)
		return;
	for (i = 0; i < len; i++) {
		if (buf[i] == '\n' && d->last == '\n') {
			d->raw_done = 1;
			break;
		}
		d->last = buf[i];
	}
	SHA256_Update(&d->raw_header, buf, i);
}

void
digest_feed(struct digest *d, const char *buf, size_t len)
{
	const char *p = buf, *end = buf + len, *run;
	char c;

	if (d->flags & DIGEST_RAW)
		SHA256_Update(&d->raw, buf, len);
	raw_header(d, buf, len);
	while (p < end) {
		switch (d->state) {
		case H_BODY:
			content(d, p, (size_t)(end - p));
			return;
		case H_LINE_START:
			c = *p;
			if (c == ' ' || c == '\t') {
				/* A continuation of the field before. */
				d->state = H_VALUE;
				break;
			}
			if (d->namelen > 0 || d->valuelen > 0)
				field_done(d);
			d->namelen = d->valuelen = 0;
			d->is_volatile = d->is_ident = 0;
			if (c == '\n') {
				d->state = H_BODY;
				content(d, p, 1);
				p++;
				break;
			}
			d->state = H_NAME;
			break;
		case H_NAME:
			c = *p;
			if (c == ':' || c == '\n' || d->namelen == NAME_MAX_LEN) {
				name_done(d);
				d->state = H_VALUE;
				if (c == ':') {
					/* The colon is no part of the value. */
					if (!d->is_volatile)
						content(d, p, 1);
					p++;
				}
				break;
			}
			d->name[d->namelen++] = c;
			p++;
			break;
		case H_VALUE:
			for (run = p; p < end && *p != '\n'; p++)
				value_byte(d, *p);
			if (!d->is_volatile)
				content(d, run, (size_t)(p - run));
			if (p < end) {
				/* The line break: kept with the field. */
				if (!d->is_volatile)
					content(d, p, 1);
				value_byte(d, '\n');
				p++;
				d->state = H_LINE_START;
			}
			break;
		}
	}
}

void
digest_end(struct digest *d, struct digests *out)
{
	/* A message that ends inside its header block: its last field. */
	if (d->state == H_NAME)
		name_done(d);
	if (d->state != H_BODY && (d->namelen > 0 || d->valuelen > 0))
		field_done(d);
	if (d->flags & DIGEST_CONTENT)
		SHA256_Final(out->content, &d->content);
	if (d->flags & DIGEST_RAW)
		SHA256_Final(out->raw_content, &d->raw);
	SHA256_Final(out->raw_header, &d->raw_header);
	/* SHA256_Init at the next start resets the one not used. */
	if (d->nident > 0)
		SHA256_Final(out->ident, &d->ident);
	else
		SHA256_Final(out->ident, &d->stable);
}

void
digest_key(const unsigned char ident[DIGEST_LEN], char key[DIGEST_KEYLEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	memcpy(key, "hdr-", 4);
	for (i = 0; i < DIGEST_LEN; i++) {
		key[4 + 2 * i] = hex[ident[i] >> 4];
		key[5 + 2 * i] = hex[ident[i] & 0xf];
	}
	key[DIGEST_KEYLEN] = '\0';
}

const char *
digest_from(const struct digest *d)
{
	return d->from;
}

const char *
digest_subject(const struct digest *d)
{
	return d->subject;
}
