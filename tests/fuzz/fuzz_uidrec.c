/* SPDX-License-Identifier: ISC */
/*
 * Why: a UID-store record comes back from disk, where a crash, a bad disk or
 * a newer popfetch may have left any bytes. uidrec_unpack must refuse what
 * it cannot represent rather than read past the record, and what it accepts
 * must mean exactly one thing: packing it again gives the same bytes, so a
 * record read and written back (every delivery does that) is not silently
 * changed.
 *
 * Input: the bytes of one record.
 * Links: uidstore.c util.c xmalloc.c log.c safepath.c
 * Libs: -ldb
 */
#include "config.h"

#include <string.h>

#include "uidstore.h"

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char *rec, *buf;
	struct uidrec r, s;
	size_t n;

	/* An exact copy, so that ASan sees a read past the record. */
	rec = malloc(size > 0 ? size : 1);
	memcpy(rec, data, size);
	if (uidrec_unpack(&r, rec, size) == -1) {
		free(rec);
		return 0;
	}
	FUZZ_ASSERT(r.ndig <= UIDREC_MAXDIG);

	buf = malloc(size);
	n = uidrec_pack(&r, buf, size);
	FUZZ_ASSERT(n == size);
	FUZZ_ASSERT(memcmp(buf, rec, size) == 0);
	FUZZ_ASSERT(size == 0 || uidrec_pack(&r, buf, size - 1) == 0);

	/* unpack zeroes the struct up to the digests, padding included,
	 * and writes ndig digests; the ones past ndig it leaves alone (a
	 * kilobyte a lookup). With both cleared first, the two can be
	 * compared as bytes whatever fields the struct has. */
	memset(&r, 0, sizeof r);
	memset(&s, 0, sizeof s);
	FUZZ_ASSERT(uidrec_unpack(&r, rec, size) == 0);
	FUZZ_ASSERT(uidrec_unpack(&s, buf, n) == 0);
	FUZZ_ASSERT(memcmp(&s, &r, sizeof r) == 0);
	free(buf);
	free(rec);
	return 0;
}
