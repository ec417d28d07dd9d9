/* SPDX-License-Identifier: ISC */
/*
 * Why: the decoder sees every byte of every message, and the network, not
 * us, decides where the reads split them. So the result must not depend on
 * the split; each call must stay inside the inlen + 1 bytes the header
 * promises; the terminator must be found exactly where it is, leaving the
 * next response unconsumed; and whatever a correct server sends must come
 * back byte for byte.
 *
 * Input: a chunk schedule (fuzz.h), then bytes. They are decoded once as a
 * raw server stream, whole and in chunks. Then they are used as a message:
 * dot-stuffed and CRLF-encoded here, ended with ".\r\n" and followed by the
 * next reply, and decoded again in chunks.
 * Links: dotdec.c
 */
#include "config.h"

#include <string.h>

#include "dotdec.h"

#include "fuzz.h"

struct decoded {
	char	*out;
	size_t	 outlen;
	size_t	 used;		/* input bytes consumed */
	int	 done;
	int	 bol;
};

/* Decodes in chunks of the schedule, each into a heap buffer of exactly the
 * promised inlen + 1 bytes, until the input ends or the terminator is seen. */
static void
decode(const char *in, size_t len, struct fuzz_chunks sched,
    struct decoded *r)
{
	struct dotdec d;
	size_t n, o, used;
	char *buf;

	r->out = malloc(len + 1);
	r->outlen = r->used = 0;
	dotdec_init(&d);
	FUZZ_ASSERT(dotdec_at_bol(&d));
	while (r->used < len && !d.done) {
		n = fuzz_chunks_next(&sched, len - r->used);
		buf = malloc(n + 1);
		o = (size_t)-1;
		used = dotdec_run(&d, in + r->used, n, buf, &o);
		FUZZ_ASSERT(o <= n + 1);
		FUZZ_ASSERT(used <= n);
		FUZZ_ASSERT(d.done || used == n);
		r->used += used;
		/* Every byte out stands for a byte consumed. */
		FUZZ_ASSERT(r->outlen + o <= r->used);
		memcpy(r->out + r->outlen, buf, o);
		r->outlen += o;
		free(buf);
	}
	r->done = d.done;
	r->bol = dotdec_at_bol(&d);
}

static void
decode_whole(const char *in, size_t len, struct decoded *r)
{
	struct dotdec d;

	r->out = malloc(len + 1);
	r->outlen = (size_t)-1;
	dotdec_init(&d);
	r->used = dotdec_run(&d, in, len, r->out, &r->outlen);
	FUZZ_ASSERT(r->outlen <= len + 1);
	FUZZ_ASSERT(r->used <= len);
	FUZZ_ASSERT(d.done || r->used == len);
	FUZZ_ASSERT(r->outlen <= r->used);
	r->done = d.done;
	r->bol = dotdec_at_bol(&d);
}

/*
 * What a correct server sends for LF-ended content: a dot before every line
 * that starts with one, CRLF line ends, a line end added to an unfinished
 * last line, then ".\r\n". out holds 2 * len + 5 bytes.
 */
static size_t
encode(const char *in, size_t len, char *out)
{
	size_t i, o = 0;
	int bol = 1;

	for (i = 0; i < len; i++) {
		if (bol && in[i] == '.')
			out[o++] = '.';
		if (in[i] == '\n')
			out[o++] = '\r';
		out[o++] = in[i];
		bol = in[i] == '\n';
	}
	if (!bol) {
		out[o++] = '\r';
		out[o++] = '\n';
	}
	memcpy(out + o, ".\r\n", 3);
	return o + 3;
}

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char next[] = "+OK next\r\n";
	struct fuzz_chunks sched;
	struct decoded whole, part;
	const char *in;
	char *wire;
	size_t len, wlen, want;

	fuzz_chunks_init(&sched, &data, &size);
	in = (const char *)data;
	len = size;

	/* A raw stream: the split changes nothing. */
	decode_whole(in, len, &whole);
	decode(in, len, sched, &part);
	FUZZ_ASSERT(part.used == whole.used);
	FUZZ_ASSERT(part.done == whole.done);
	FUZZ_ASSERT(part.bol == whole.bol);
	FUZZ_ASSERT(part.outlen == whole.outlen);
	FUZZ_ASSERT(memcmp(part.out, whole.out, whole.outlen) == 0);
	free(whole.out);
	free(part.out);

	/* A message: encode, decode, get it back with LF line ends. */
	wire = malloc(2 * len + 5 + sizeof next - 1);
	wlen = encode(in, len, wire);
	memcpy(wire + wlen, next, sizeof next - 1);
	decode(wire, wlen + sizeof next - 1, sched, &part);
	FUZZ_ASSERT(part.done);
	FUZZ_ASSERT(part.used == wlen);		/* "+OK next" is left */
	want = len > 0 && in[len - 1] != '\n' ? len + 1 : len;
	FUZZ_ASSERT(part.outlen == want);
	FUZZ_ASSERT(memcmp(part.out, in, len) == 0);
	FUZZ_ASSERT(want == len || part.out[len] == '\n');
	free(part.out);
	free(wire);
	return 0;
}
