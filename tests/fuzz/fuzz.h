/* SPDX-License-Identifier: ISC */
/*
 * Shared by the libFuzzer targets in this directory. FUZZ_ASSERT names the
 * broken invariant on stderr before abort(), so run.sh can give a one-line
 * reason. The chunk schedule lets the streaming targets (dotdec, mboxrd) take
 * the sizes of their reads from the input itself, so the fuzzer explores the
 * splits that TCP would choose.
 */
#ifndef POPFETCH_FUZZ_H
#define POPFETCH_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define FUZZ_ASSERT(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "fuzz invariant failed: %s (%s:%d)\n",	\
		    #cond, __FILE__, __LINE__);				\
		abort();						\
	}								\
} while (0)

/*
 * Byte 0 of the input says how many size bytes follow (0-7); size byte b
 * means a chunk of b + 1 bytes, and the sizes are used in turn. With no size
 * bytes the input goes one byte at a time, the hardest split.
 */
struct fuzz_chunks {
	const uint8_t	*size;
	size_t		 nsize;
	size_t		 next;
};

/* Takes the schedule off the front of the input. */
static inline void
fuzz_chunks_init(struct fuzz_chunks *c, const uint8_t **data, size_t *len)
{
	size_t n = *len > 0 ? (*data)[0] % 8 : 0;

	if (*len > 0) {
		(*data)++;
		(*len)--;
	}
	if (n > *len)
		n = *len;
	c->size = *data;
	c->nsize = n;
	c->next = 0;
	*data += n;
	*len -= n;
}

/* The size of the next chunk, at least 1 and at most left (left > 0). */
static inline size_t
fuzz_chunks_next(struct fuzz_chunks *c, size_t left)
{
	size_t n = 1;

	if (c->nsize > 0) {
		n = (size_t)c->size[c->next] + 1;
		c->next = (c->next + 1) % c->nsize;
	}
	return n < left ? n : left;
}

#endif
