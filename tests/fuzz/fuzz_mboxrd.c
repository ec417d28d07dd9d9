/* SPDX-License-Identifier: ISC */
/*
 * Why: mboxrd quoting is only worth having because it is reversible. A reader
 * that takes one '>' off every line matching ^>+From  must get the message
 * back exactly, wherever the network split it, and no body line may start
 * with "From " (it would split the mbox). Callers size their buffers by the
 * header (MBOXRD_OUTMAX(inlen) per call, 8 for finish), so they must hold.
 *
 * Input: a chunk schedule (fuzz.h), then the message bytes. They are quoted
 * whole and in chunks, each call into a heap buffer of exactly the promised
 * size; then un-quoted here the way an mboxrd reader does it.
 * Links: mboxrd.c
 */
#include "config.h"

#include <string.h>

#include "mboxrd.h"

#include "fuzz.h"

/* Quotes in chunks and finishes; returns an allocated result. */
static char *
quote(const char *in, size_t len, struct fuzz_chunks sched, size_t *outlen)
{
	/* At most one '>' per 5 input bytes, plus 8 for finish. */
	size_t cap = len + len / 5 + 8, off = 0, n, o;
	char *out = malloc(cap), *buf;
	struct mboxrd m;

	*outlen = 0;
	mboxrd_init(&m);
	while (off < len) {
		n = fuzz_chunks_next(&sched, len - off);
		buf = malloc(MBOXRD_OUTMAX(n));
		o = mboxrd_quote(&m, in + off, n, buf);
		FUZZ_ASSERT(o <= MBOXRD_OUTMAX(n));
		FUZZ_ASSERT(mboxrd_held(&m) <= 5);
		FUZZ_ASSERT(*outlen + o <= cap - 8);
		memcpy(out + *outlen, buf, o);
		*outlen += o;
		off += n;
		free(buf);
	}
	buf = malloc(8);
	o = mboxrd_finish(&m, buf);
	FUZZ_ASSERT(o <= 8);
	FUZZ_ASSERT(mboxrd_held(&m) == 0);
	memcpy(out + *outlen, buf, o);
	*outlen += o;
	free(buf);
	return out;
}

/* The same in one call. */
static char *
quote_whole(const char *in, size_t len, size_t *outlen)
{
	char *out = malloc(MBOXRD_OUTMAX(len) + 8);
	struct mboxrd m;
	size_t n;

	mboxrd_init(&m);
	*outlen = mboxrd_quote(&m, in, len, out);
	FUZZ_ASSERT(*outlen <= MBOXRD_OUTMAX(len));
	n = mboxrd_finish(&m, out + *outlen);
	FUZZ_ASSERT(n <= 8);
	*outlen += n;
	return out;
}

/* What an mboxrd reader does: one '>' less on each line matching
 * ^>+From . out holds len bytes. */
static size_t
unquote(const char *in, size_t len, char *out)
{
	size_t i = 0, j, o = 0;

	while (i < len) {
		for (j = i; j < len && in[j] == '>'; j++)
			;
		if (j > i && len - j >= 5 && memcmp(in + j, "From ", 5) == 0)
			i++;
		while (i < len) {
			out[o++] = in[i];
			if (in[i++] == '\n')
				break;
		}
	}
	return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_chunks sched;
	char *q1, *q2, *plain;
	const char *in;
	size_t len, n1, n2, i, n;

	fuzz_chunks_init(&sched, &data, &size);
	in = (const char *)data;
	len = size;

	/* The split changes nothing: one call for everything, then chunks. */
	q1 = quote_whole(in, len, &n1);
	q2 = quote(in, len, sched, &n2);
	FUZZ_ASSERT(n1 == n2 && memcmp(q1, q2, n1) == 0);

	/* No line of the entry starts with "From ". */
	for (i = 0; i < n2; i++)
		if (i == 0 || q2[i - 1] == '\n')
			FUZZ_ASSERT(n2 - i < 5 || memcmp(q2 + i, "From ", 5) != 0);

	/* Un-quoting gives the message back, with its last line ended and the
	 * blank line that ends an mbox entry. */
	plain = malloc(n2 > 0 ? n2 : 1);
	n = unquote(q2, n2, plain);
	FUZZ_ASSERT(n >= 1 && plain[n - 1] == '\n');
	n--;
	if (len > 0 && in[len - 1] != '\n') {
		FUZZ_ASSERT(n >= 1 && plain[n - 1] == '\n');
		n--;
	}
	FUZZ_ASSERT(n == len && memcmp(plain, in, len) == 0);

	free(plain);
	free(q1);
	free(q2);
	return 0;
}
