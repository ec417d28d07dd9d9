/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "deliver.h"
#include "xmalloc.h"

void
buf_add(struct buf *b, const void *p, size_t n)
{
	if (n == 0)
		return;
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2 + 64;
		b->data = xreallocarray(b->data, 1, b->cap);
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

void
buf_add_u32(struct buf *b, uint32_t v)
{
	unsigned char p[4] = { v, v >> 8, v >> 16, v >> 24 };

	buf_add(b, p, sizeof p);
}

void
buf_add_u64(struct buf *b, uint64_t v)
{
	buf_add_u32(b, (uint32_t)v);
	buf_add_u32(b, (uint32_t)(v >> 32));
}

void
buf_add_str(struct buf *b, const char *s)
{
	size_t n = strlen(s);

	buf_add_u32(b, (uint32_t)n);
	buf_add(b, s, n);
}

void
buf_free(struct buf *b)
{
	free(b->data);
	memset(b, 0, sizeof *b);
}

int
bufrd_bytes(struct bufrd *r, const unsigned char **p, size_t n)
{
	if (r->left < n)
		return -1;
	*p = r->p;
	r->p += n;
	r->left -= n;
	return 0;
}

int
bufrd_u32(struct bufrd *r, uint32_t *v)
{
	const unsigned char *p;

	if (bufrd_bytes(r, &p, 4) == -1)
		return -1;
	*v = p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
	return 0;
}

int
bufrd_u64(struct bufrd *r, uint64_t *v)
{
	uint32_t lo, hi;

	if (bufrd_u32(r, &lo) == -1 || bufrd_u32(r, &hi) == -1)
		return -1;
	*v = (uint64_t)hi << 32 | lo;
	return 0;
}

char *
bufrd_str(struct bufrd *r)
{
	const unsigned char *p;
	uint32_t n;

	if (bufrd_u32(r, &n) == -1 || bufrd_bytes(r, &p, n) == -1 ||
	    memchr(p, '\0', n) != NULL)
		return NULL;
	return xstrndup((const char *)p, n);
}

static const struct {
	enum deliver_kind		 kind;
	const struct deliver_ops	*ops;
} methods[] = {
	{ DELIVER_MAILDIR, &deliver_maildir_ops },
	{ DELIVER_MBOX, &deliver_mbox_ops },
	{ DELIVER_MDA, &deliver_mda_ops },
	{ DELIVER_STDOUT, &deliver_stdout_ops },
};

const struct deliver_ops *
deliver_ops_for(int kind)
{
	size_t i;

	for (i = 0; i < sizeof methods / sizeof methods[0]; i++)
		if (methods[i].kind == (enum deliver_kind)kind)
			return methods[i].ops;
	return NULL;
}

const struct deliver_ops *
deliver_ops_by_name(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof methods / sizeof methods[0]; i++)
		if (strcmp(methods[i].ops->name, name) == 0)
			return methods[i].ops;
	return NULL;
}
