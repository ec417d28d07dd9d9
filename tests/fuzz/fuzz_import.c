/* SPDX-License-Identifier: ISC */
/*
 * Why: --import-uids reads a file that another program wrote, or that the
 * user edited, or that a crash cut short, so import_uids must take any bytes
 * without reading past them (the input is not NUL-terminated) and without
 * leaking its error string. What it accepts must be consistent: an error is
 * one printable line and passes no UID on; a success passes on exactly as
 * many UIDs as it returns, each non-empty, at most IMPORT_UID_MAXLEN bytes,
 * without NUL or LF, inside the input (for fetchmail also without blanks);
 * counting without a callback gives the same number; a callback that stops
 * at the last UID gets -1 without an error string; and a second run gives
 * the same UIDs.
 *
 * Input: byte 0 (bits 0-1: the format, 0 mpop, 1 fetchmail, 2 and 3
 * getmail; bit 2: pass the getmail file name of the account), then
 * USER NUL HOST NUL and the file. Without the two NULs the account is test
 * at 127.0.0.1 and everything after byte 0 is the file. The port is 110.
 * Links: import.c log.c xmalloc.c
 */
#include "config.h"

#include <string.h>

#include "import.h"

#include "fuzz.h"

struct seen {
	const char	*start, *end;
	size_t		 n, bytes;
	long		 stop_at;	/* -1: never */
	unsigned long	 hash;
	int		 fetchmail;
};

static int
take(const char *uid, size_t len, void *arg)
{
	struct seen *s = arg;
	size_t i;

	if (s->stop_at >= 0 && (long)s->n == s->stop_at)
		return 1;
	FUZZ_ASSERT(len > 0 && len <= IMPORT_UID_MAXLEN);
	FUZZ_ASSERT(uid >= s->start && uid + len <= s->end);
	FUZZ_ASSERT(memchr(uid, '\0', len) == NULL);
	FUZZ_ASSERT(memchr(uid, '\n', len) == NULL);
	if (s->fetchmail)
		FUZZ_ASSERT(memchr(uid, ' ', len) == NULL &&
		    memchr(uid, '\t', len) == NULL);
	for (i = 0; i < len; i++)
		s->hash = s->hash * 31 + (unsigned char)uid[i];
	s->hash = s->hash * 31 + len;
	s->n++;
	s->bytes += len;
	return 0;
}

static void
check_error(const char *err)
{
	const char *p;

	FUZZ_ASSERT(err != NULL);
	FUZZ_ASSERT(strlen(err) < 2048);
	for (p = err; *p != '\0'; p++)
		FUZZ_ASSERT((unsigned char)*p >= 0x20 &&
		    (unsigned char)*p < 0x7f);
}

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct import_account a = { "test", "127.0.0.1", "110" };
	enum import_format fmt;
	struct seen s, s2;
	const char *p, *end, *nul1, *nul2, *name = NULL;
	char *user = NULL, *host = NULL, *file, *err, *err2, *oldmail = NULL;
	size_t len;
	long rc, rc2;

	if (size == 0)
		return 0;
	fmt = (data[0] & 3) == 0 ? IMPORT_MPOP : (data[0] & 3) == 1 ?
	    IMPORT_FETCHMAIL : IMPORT_GETMAIL;
	p = (const char *)data + 1;
	end = (const char *)data + size;
	nul1 = memchr(p, '\0', (size_t)(end - p));
	nul2 = nul1 != NULL ? memchr(nul1 + 1, '\0', (size_t)(end - nul1 - 1)) :
	    NULL;
	if (nul2 != NULL) {
		a.user = user = strdup(p);
		a.host = host = strdup(nul1 + 1);
		p = nul2 + 1;
	}
	if (data[0] & 4) {
		/* Not getmail's exact sanitizing: what matters is that a
		 * name is checked without harm, whichever way it goes. */
		oldmail = malloc(strlen(a.user) + strlen(a.host) + 16);
		sprintf(oldmail, "oldmail-%s-110-%s", a.host, a.user);
		name = oldmail;
	}
	len = (size_t)(end - p);
	/* An exact copy, so that ASan sees a read past the file. */
	file = malloc(len > 0 ? len : 1);
	memcpy(file, p, len);

	memset(&s, 0, sizeof s);
	s.start = file;
	s.end = file + len;
	s.stop_at = -1;
	s.fetchmail = fmt == IMPORT_FETCHMAIL;
	err = (char *)1;
	rc = import_uids(fmt, name, file, len, &a, take, &s, &err);
	if (rc == -1) {
		check_error(err);
		FUZZ_ASSERT(s.n == 0);
	} else {
		FUZZ_ASSERT(err == NULL);
		FUZZ_ASSERT(rc >= 0 && (size_t)rc == s.n);
		FUZZ_ASSERT(s.bytes <= len);
	}
	free(err);

	/* Counting only. */
	rc2 = import_uids(fmt, name, file, len, &a, NULL, NULL, &err2);
	FUZZ_ASSERT(rc2 == rc);
	free(err2);

	/* Again: the same UIDs, or stopped at the last one. */
	s2 = s;
	s2.n = 0;
	s2.bytes = 0;
	s2.hash = 0;
	s2.stop_at = rc > 0 ? rc - 1 : -1;
	rc2 = import_uids(fmt, name, file, len, &a, take, &s2, &err2);
	if (rc > 0) {
		FUZZ_ASSERT(rc2 == -1 && err2 == NULL);
		FUZZ_ASSERT((long)s2.n == rc - 1);
	} else
		FUZZ_ASSERT(rc2 == rc);
	free(err2);
	if (rc > 0) {
		s2 = s;
		s2.n = 0;
		s2.bytes = 0;
		s2.hash = 0;
		rc2 = import_uids(fmt, name, file, len, &a, take, &s2, &err2);
		FUZZ_ASSERT(rc2 == rc && s2.hash == s.hash &&
		    s2.bytes == s.bytes);
		free(err2);
	}

	free(file);
	free(oldmail);
	free(user);
	free(host);
	return 0;
}
