/* SPDX-License-Identifier: ISC */
/*
 * Why: ~/.netrc is a file the user edits by hand (or another tool writes),
 * so netrc_lookup must take any bytes without reading past the text, which
 * is not NUL-terminated, and without leaking the logins and passwords it
 * copies on the way (LeakSanitizer checks every input). The answer must also
 * be consistent: no entry means no strings; an entry asked for by user has
 * that login; and the entry found without a user is found again, with the
 * same password, when asked for by its login.
 *
 * Input: byte 0 (bit 0: pass a user), then HOST NUL USER NUL and the .netrc
 * text. Without the two NULs the host is "pop.example.org", there is no user
 * and everything after byte 0 is the text.
 * Links: secret.c util.c xmalloc.c log.c
 */
#include "config.h"

#include <string.h>

#include "secret.h"
#include "util.h"

#include "fuzz.h"

static void
check_strings(const char *login, const char *password)
{
	/* Tokens are cut to fit the 4096-byte token buffer. */
	FUZZ_ASSERT(login == NULL || strlen(login) < 4096);
	FUZZ_ASSERT(password == NULL || strlen(password) < 4096);
}

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p, *end, *nul1, *nul2;
	char *host, *user = NULL, *text, *l, *pw, *l2, *pw2;
	size_t len;
	int rc, rc2, with_user;

	if (size == 0)
		return 0;
	with_user = data[0] & 1;
	p = (const char *)data + 1;
	end = (const char *)data + size;
	nul1 = memchr(p, '\0', (size_t)(end - p));
	nul2 = nul1 != NULL ? memchr(nul1 + 1, '\0', (size_t)(end - nul1 - 1)) :
	    NULL;
	if (nul2 != NULL) {
		host = strdup(p);
		if (with_user)
			user = strdup(nul1 + 1);
		p = nul2 + 1;
	} else
		host = strdup("pop.example.org");
	len = (size_t)(end - p);
	text = malloc(len > 0 ? len : 1);
	memcpy(text, p, len);

	l = pw = (char *)1;
	rc = netrc_lookup(text, len, host, user, &l, &pw);
	FUZZ_ASSERT(rc == 0 || rc == 1);
	if (rc == 0)
		FUZZ_ASSERT(l == NULL && pw == NULL);
	check_strings(l, pw);
	if (rc == 1 && user != NULL)
		FUZZ_ASSERT(l != NULL && strcmp(l, user) == 0);

	if (rc == 1 && user == NULL && l != NULL) {
		rc2 = netrc_lookup(text, len, host, l, &l2, &pw2);
		FUZZ_ASSERT(rc2 == 1);
		FUZZ_ASSERT(l2 != NULL && strcmp(l2, l) == 0);
		FUZZ_ASSERT((pw == NULL && pw2 == NULL) ||
		    (pw != NULL && pw2 != NULL && strcmp(pw, pw2) == 0));
		free(l2);
		free_secret(pw2);
	}

	free(l);
	free_secret(pw);
	free(host);
	free(user);
	free(text);
	return 0;
}
