/* SPDX-License-Identifier: ISC */
/*
 * Unit tests of sasl.c: the published vectors (RFC 2195 CRAM-MD5, RFC 5802
 * SCRAM-SHA-1, RFC 7677 SCRAM-SHA-256, RFC 1939 APOP, RFC 4616 PLAIN,
 * RFC 7628 OAUTHBEARER, the XOAUTH2 example of Google's and Microsoft's
 * documentation) byte for byte, then hostile servers: every one must get an
 * error, never a crash and never a verified exchange.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "sasl.h"
#include "unit.h"

/* RFC 5802 section 5 */
#define SHA1_NONCE	"fyko+d2lbbFgONRv9qkxdawL"
#define SHA1_SFIRST	"r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j," \
			"s=QSXCR+Q6sek8bf92,i=4096"
#define SHA1_CFINAL	"c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j," \
			"p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts="
#define SHA1_SFINAL	"v=rmF9pqV8S7suAoZWja4dJRkFsKQ="

/* RFC 7677 section 3 */
#define SHA256_NONCE	"rOprNGfwEbeRWgbNEkqO"
#define SHA256_SNONCE	"rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
#define SHA256_SALT	"W22ZaJ0SNY7soEsUEjb6gQ=="
#define SHA256_SFIRST	"r=" SHA256_SNONCE ",s=" SHA256_SALT ",i=4096"
#define SHA256_CFINAL	"c=biws,r=" SHA256_SNONCE \
			",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
#define SHA256_SFINAL	"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="

static char *
enc(const void *data, size_t len)
{
	char *out = malloc(4 * ((len + 2) / 3) + 1);

	if (out == NULL)
		abort();
	EVP_EncodeBlock((unsigned char *)out, data, (int)len);
	return out;
}

/* got is the base64 of want (len bytes)? */
static int
is_b64_of(const char *got, const void *want, size_t len)
{
	char *w;
	int ok;

	if (got == NULL)
		return 0;
	w = enc(want, len);
	ok = strcmp(got, w) == 0;
	free(w);
	return ok;
}

static int
is_b64_of_str(const char *got, const char *want)
{
	return is_b64_of(got, want, strlen(want));
}

static int
contains(const char *s, const char *needle)
{
	return s != NULL && strstr(s, needle) != NULL;
}

/* Steps with the base64 of a plain-text challenge. */
static char *
step_plain(struct sasl *s, const void *chal, size_t len, char **err)
{
	char *c = enc(chal, len), *r;

	r = sasl_step(s, c, strlen(c), err);
	free(c);
	return r;
}

static char *
step_str(struct sasl *s, const char *chal, char **err)
{
	return step_plain(s, chal, strlen(chal), err);
}

static char *
step_raw(struct sasl *s, const char *b64, char **err)
{
	return sasl_step(s, b64, strlen(b64), err);
}

static void
test_names(void)
{
	static const struct {
		const char	*name;
		enum sasl_mech	 mech;
	} t[] = {
		{ "PLAIN", SASL_PLAIN },
		{ "LOGIN", SASL_LOGIN },
		{ "CRAM-MD5", SASL_CRAM_MD5 },
		{ "SCRAM-SHA-1", SASL_SCRAM_SHA_1 },
		{ "SCRAM-SHA-256", SASL_SCRAM_SHA_256 },
		{ "XOAUTH2", SASL_XOAUTH2 },
		{ "OAUTHBEARER", SASL_OAUTHBEARER },
	};
	static const char *const bad[] = {
		"", "PLAI", "PLAINX", "SCRAM-SHA-1-PLUS", "SCRAM-SHA-2",
		"CRAM_MD5", "GSSAPI", "XOAUTH",
	};
	enum sasl_mech m;
	size_t i;

	for (i = 0; i < sizeof t / sizeof t[0]; i++) {
		CHECK(strcmp(sasl_mech_name(t[i].mech), t[i].name) == 0,
		    "name of %s", t[i].name);
		m = SASL_PLAIN;
		CHECK(sasl_mech_parse(t[i].name, strlen(t[i].name), &m) == 0 &&
		    m == t[i].mech, "parse %s", t[i].name);
	}
	CHECK(sasl_mech_parse("scram-sha-256", 13, &m) == 0 &&
	    m == SASL_SCRAM_SHA_256, "parse is case-insensitive");
	CHECK(sasl_mech_parse("Cram-Md5", 8, &m) == 0 && m == SASL_CRAM_MD5,
	    "parse Cram-Md5");
	/* the length counts, not the NUL: "PLAIN LOGIN" with len 5 */
	CHECK(sasl_mech_parse("PLAIN LOGIN", 5, &m) == 0 && m == SASL_PLAIN,
	    "parse by length");
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CHECK(sasl_mech_parse(bad[i], strlen(bad[i]), &m) == -1,
		    "parse \"%s\" is unknown", bad[i]);
}

static void
test_plain(void)
{
	/* RFC 4616: authzid empty, authcid "tim", passwd "tanstaaftanstaaf" */
	static const char want[] = "AHRpbQB0YW5zdGFhZnRhbnN0YWFm";
	struct sasl *s;
	char *err = NULL, *r;

	s = sasl_new(SASL_PLAIN, "tim", "tanstaaftanstaaf", NULL, NULL, &err);
	CHECK(s != NULL, "plain: new");
	r = sasl_initial(s);
	CHECK(r != NULL && strcmp(r, want) == 0, "plain: initial %s", r);
	free(r);
	r = sasl_initial(s);
	CHECK(r == NULL, "plain: a second initial response");
	CHECK(sasl_finish(s, &err) == 0, "plain: finish: %s", err);
	sasl_free(s);

	/* no initial response sent: the empty challenge gets it */
	s = sasl_new(SASL_PLAIN, "tim", "tanstaaftanstaaf", NULL, NULL, &err);
	r = step_raw(s, "", &err);
	CHECK(r != NULL && strcmp(r, want) == 0, "plain: after \"+ \": %s", r);
	free(r);
	r = step_raw(s, "", &err);
	CHECK(r == NULL && err != NULL, "plain: a second challenge");
	free(err);
	err = NULL;
	CHECK(sasl_finish(s, &err) == -1, "plain: +OK after a failure");
	free(err);
	err = NULL;
	sasl_free(s);

	/* "=" is an empty challenge too; +OK before anything was sent */
	s = sasl_new(SASL_PLAIN, "tim", "x", NULL, NULL, &err);
	CHECK(sasl_finish(s, &err) == -1 && contains(err, "before"),
	    "plain: +OK before the response: %s", err);
	free(err);
	err = NULL;
	sasl_free(s);
	s = sasl_new(SASL_PLAIN, "tim", "x", NULL, NULL, &err);
	r = step_raw(s, " = ", &err);
	CHECK(is_b64_of(r, "\0tim\0x", 6), "plain: \"=\" challenge: %s", r);
	free(r);
	sasl_free(s);

	s = sasl_new(SASL_PLAIN, "", "x", NULL, NULL, &err);
	CHECK(s == NULL && err != NULL, "plain: empty user refused");
	free(err);
	err = NULL;
	sasl_free(NULL);
}

static void
test_login(void)
{
	struct sasl *s;
	char *err = NULL, *r, *big;

	s = sasl_new(SASL_LOGIN, "tim", "tanstaaf", NULL, NULL, &err);
	CHECK(sasl_initial(s) == NULL, "login: no initial response");
	/* answered by position: the prompts are deliberately swapped */
	r = step_str(s, "Password:", &err);
	CHECK(is_b64_of_str(r, "tim"), "login: user: %s", r);
	free(r);
	CHECK(sasl_finish(s, &err) == -1, "login: +OK after the user name");
	free(err);
	err = NULL;
	sasl_free(s);

	s = sasl_new(SASL_LOGIN, "tim", "tanstaaf", NULL, NULL, &err);
	r = step_raw(s, "VXNlcm5hbWU6", &err);		/* "Username:" */
	CHECK(is_b64_of_str(r, "tim"), "login: user: %s", r);
	free(r);
	r = step_raw(s, "not base64 at all", &err);	/* text is not read */
	CHECK(is_b64_of_str(r, "tanstaaf"), "login: password: %s", r);
	free(r);
	CHECK(sasl_finish(s, &err) == 0, "login: finish: %s", err);
	sasl_free(s);

	s = sasl_new(SASL_LOGIN, "tim", "tanstaaf", NULL, NULL, &err);
	free(step_raw(s, "VXNlcm5hbWU6", &err));
	free(step_raw(s, "UGFzc3dvcmQ6", &err));
	r = step_raw(s, "UGFzc3dvcmQ6", &err);
	CHECK(r == NULL && contains(err, "LOGIN"), "login: third "
	    "challenge: %s", err);
	free(err);
	err = NULL;
	sasl_free(s);

	/* the prompt is not read, but its size is still bounded */
	big = malloc(1 << 20);
	memset(big, 'A', 1 << 20);
	s = sasl_new(SASL_LOGIN, "tim", "tanstaaf", NULL, NULL, &err);
	r = sasl_step(s, big, 1 << 20, &err);
	CHECK(r == NULL && contains(err, "too long"), "login: 1 MiB: %s", err);
	free(err);
	err = NULL;
	sasl_free(s);
	free(big);
}

static void
test_cram_md5(void)
{
	/* RFC 2195 section 2 */
	static const char chal[] =
	    "PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+";
	static const char want[] =
	    "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw";
	struct sasl *s;
	char *err = NULL, *r;

	s = sasl_new(SASL_CRAM_MD5, "tim", "tanstaaftanstaaf", NULL, NULL,
	    &err);
	CHECK(sasl_initial(s) == NULL, "cram: no initial response");
	CHECK(sasl_finish(s, &err) == -1, "cram: +OK before the response");
	free(err);
	err = NULL;
	sasl_free(s);

	s = sasl_new(SASL_CRAM_MD5, "tim", "tanstaaftanstaaf", NULL, NULL,
	    &err);
	r = step_raw(s, chal, &err);
	CHECK(r != NULL && strcmp(r, want) == 0, "cram: RFC 2195: %s", r);
	free(r);
	CHECK(sasl_finish(s, &err) == 0, "cram: finish: %s", err);
	sasl_free(s);

	/* an empty challenge has nothing to sign; bad base64 */
	s = sasl_new(SASL_CRAM_MD5, "tim", "x", NULL, NULL, &err);
	r = step_raw(s, "", &err);
	CHECK(r == NULL && contains(err, "empty"), "cram: empty: %s", err);
	free(err);
	err = NULL;
	sasl_free(s);
	s = sasl_new(SASL_CRAM_MD5, "tim", "x", NULL, NULL, &err);
	r = step_raw(s, "PDE4OTYu*jk3", &err);
	CHECK(r == NULL && contains(err, "base64"), "cram: bad base64: %s",
	    err);
	free(err);
	err = NULL;
	CHECK(sasl_finish(s, &err) == -1, "cram: +OK after bad base64");
	free(err);
	err = NULL;
	sasl_free(s);
}

/* A SCRAM exchange with the user "user" and password "pencil", the
 * client-first message sent. */
static struct sasl *
scram_start(enum sasl_mech mech, const char *nonce)
{
	struct sasl *s;
	char *err = NULL;

	s = sasl_new(mech, "user", "pencil", NULL, NULL, &err);
	if (s == NULL)
		abort();
	CHECK(sasl_set_nonce(s, nonce) == 0, "scram: set nonce %s", nonce);
	free(sasl_initial(s));
	return s;
}

static void
test_scram_vector(enum sasl_mech mech, const char *nonce, const char *sfirst,
    const char *cfinal, const char *sfinal)
{
	const char *name = sasl_mech_name(mech);
	struct sasl *s;
	char *err = NULL, *r, *cfirst;

	s = sasl_new(mech, "user", "pencil", NULL, NULL, &err);
	CHECK(sasl_set_nonce(s, nonce) == 0, "%s: set nonce", name);
	r = sasl_initial(s);
	cfirst = malloc(strlen(nonce) + 32);
	strcpy(cfirst, "n,,n=user,r=");
	strcat(cfirst, nonce);
	CHECK(is_b64_of_str(r, cfirst), "%s: client-first %s", name, r);
	free(cfirst);
	free(r);
	CHECK(sasl_set_nonce(s, "late") == -1, "%s: nonce after initial",
	    name);
	r = step_str(s, sfirst, &err);
	CHECK(is_b64_of_str(r, cfinal), "%s: client-final %s (%s)", name, r,
	    err);
	free(r);
	r = step_str(s, sfinal, &err);
	CHECK(r != NULL && *r == '\0', "%s: server-final verified: %s", name,
	    err);
	free(r);
	CHECK(sasl_finish(s, &err) == 0, "%s: finish: %s", name, err);
	r = step_str(s, sfinal, &err);
	CHECK(r == NULL && err != NULL, "%s: challenge after success", name);
	free(err);
	sasl_free(s);

	/* again without sasl_initial(): the empty challenge gets it */
	s = sasl_new(mech, "user", "pencil", NULL, NULL, &err);
	sasl_set_nonce(s, nonce);
	free(step_raw(s, "", &err));
	r = step_str(s, sfirst, &err);
	CHECK(is_b64_of_str(r, cfinal), "%s: no-IR client-final", name);
	free(r);
	r = step_str(s, sfinal, &err);
	CHECK(r != NULL && *r == '\0', "%s: no-IR server-final", name);
	free(r);
	CHECK(sasl_finish(s, &err) == 0, "%s: no-IR finish", name);
	sasl_free(s);
}

/* The server-first message sfirst must be refused with an error holding
 * why; a +OK after it must be refused too. */
static void
scram_first_fails(const void *sfirst, size_t len, const char *why)
{
	struct sasl *s = scram_start(SASL_SCRAM_SHA_256, SHA256_NONCE);
	char *err = NULL, *r;

	r = step_plain(s, sfirst, len, &err);
	CHECK(r == NULL && contains(err, why), "server-first \"%.*s\": "
	    "want \"%s\", got \"%s\"", (int)(len > 100 ? 100 : len),
	    (const char *)sfirst, why, err != NULL ? err : r);
	free(r);
	free(err);
	err = NULL;
	CHECK(sasl_finish(s, &err) == -1, "+OK after server-first \"%.*s\"",
	    (int)(len > 100 ? 100 : len), (const char *)sfirst);
	free(err);
	sasl_free(s);
}

static void
scram_final_fails(const void *sfinal, size_t len, const char *why)
{
	struct sasl *s = scram_start(SASL_SCRAM_SHA_256, SHA256_NONCE);
	char *err = NULL, *r;

	r = step_str(s, SHA256_SFIRST, &err);
	CHECK(is_b64_of_str(r, SHA256_CFINAL), "client-final");
	free(r);
	r = step_plain(s, sfinal, len, &err);
	CHECK(r == NULL && contains(err, why), "server-final \"%.*s\": "
	    "want \"%s\", got \"%s\"", (int)len, (const char *)sfinal, why,
	    err != NULL ? err : r);
	free(r);
	free(err);
	err = NULL;
	CHECK(sasl_finish(s, &err) == -1, "+OK after server-final \"%.*s\"",
	    (int)len, (const char *)sfinal);
	free(err);
	sasl_free(s);
}

static void
test_scram_hostile(void)
{
	static const struct {
		const char	*msg;
		const char	*why;
	} first[] = {
		/* the server nonce must extend ours */
		{ "r=XOprNGfwEbeRWgbNEkqO%hvYD,s=" SHA256_SALT ",i=4096",
		    "nonce" },
		{ "r=" SHA256_NONCE ",s=" SHA256_SALT ",i=4096", "nonce" },
		{ "r=rOprNGfw,s=" SHA256_SALT ",i=4096", "nonce" },
		{ "r=" SHA256_SNONCE "\x7f,s=" SHA256_SALT ",i=4096", "nonce" },
		/* missing or misplaced fields */
		{ "", "malformed" },
		{ "r=" SHA256_SNONCE, "malformed" },
		{ "r=" SHA256_SNONCE ",s=" SHA256_SALT, "malformed" },
		{ "r=" SHA256_SNONCE ",i=4096", "malformed" },
		{ "s=" SHA256_SALT ",i=4096", "malformed" },
		{ "s=" SHA256_SALT ",r=" SHA256_SNONCE ",i=4096",
		    "malformed" },
		{ "r=" SHA256_SNONCE ",s=,i=4096", "malformed" },
		{ "r=" SHA256_SNONCE ",s=" SHA256_SALT ",i=", "malformed" },
		{ "r=,s=" SHA256_SALT ",i=4096", "malformed" },
		{ "r" SHA256_SNONCE ",s=" SHA256_SALT ",i=4096", "malformed" },
		/* a mandatory extension, a server error */
		{ "m=foo,r=" SHA256_SNONCE ",s=" SHA256_SALT ",i=4096",
		    "extension" },
		{ "e=other-error", "other-error" },
		/* iteration counts */
		{ "r=" SHA256_SNONCE ",s=" SHA256_SALT ",i=0", "iteration" },
		{ "r=" SHA256_SNONCE ",s=" SHA256_SALT ",i=1000000000",
		    "iteration" },
		{ "r=" SHA256_SNONCE ",s=" SHA256_SALT ",i=1000001",
		    "iteration" },
		{ "r=" SHA256_SNONCE ",s=" SHA256_SALT
		    ",i=99999999999999999999999999999", "iteration" },
		{ "r=" SHA256_SNONCE ",s=" SHA256_SALT ",i=-1", "iteration" },
		{ "r=" SHA256_SNONCE ",s=" SHA256_SALT ",i=4096x",
		    "iteration" },
		{ "r=" SHA256_SNONCE ",s=" SHA256_SALT ",i= 4096",
		    "iteration" },
		/* the salt */
		{ "r=" SHA256_SNONCE ",s=W22ZaJ0SNY7soEsUEjb6gQ,i=4096",
		    "salt" },
		{ "r=" SHA256_SNONCE ",s=W22Z!J0S,i=4096", "salt" },
		{ "r=" SHA256_SNONCE ",s====,i=4096", "salt" },
	};
	static const struct {
		const char	*msg;
		const char	*why;
	} final[] = {
		/* one bit off, the SHA-1 signature, nothing, garbage */
		{ "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G8=",
		    "signature" },
		{ "v=7rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
		    "signature" },
		{ SHA1_SFINAL, "signature" },
		{ "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl9", "signature" },
		{ "v=6rri", "signature" },
		{ "v=", "malformed" },
		{ "", "malformed" },
		{ "x=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
		    "malformed" },
		{ "e=invalid-proof", "invalid-proof" },
		{ "e=bad\r\nS: +OK forged", "\\x0d\\x0a" },
	};
	struct sasl *s;
	char *err = NULL, *r, *big;
	size_t i;

	for (i = 0; i < sizeof first / sizeof first[0]; i++)
		scram_first_fails(first[i].msg, strlen(first[i].msg),
		    first[i].why);
	scram_first_fails("r=" SHA256_SNONCE "\0,s=" SHA256_SALT ",i=4096",
	    sizeof("r=" SHA256_SNONCE "\0,s=" SHA256_SALT ",i=4096") - 1,
	    "NUL");
	for (i = 0; i < sizeof final / sizeof final[0]; i++)
		scram_final_fails(final[i].msg, strlen(final[i].msg),
		    final[i].why);
	scram_final_fails(SHA256_SFINAL "\0", sizeof(SHA256_SFINAL), "NUL");

	/* i=1 is the smallest legal count and is accepted */
	s = scram_start(SASL_SCRAM_SHA_256, SHA256_NONCE);
	r = step_str(s, "r=" SHA256_SNONCE ",s=" SHA256_SALT ",i=1,x=ext",
	    &err);
	CHECK(r != NULL && *r != '\0', "scram: i=1 with an extension: %s",
	    err);
	free(r);
	sasl_free(s);

	/* +OK right after the client-final: the server proved nothing */
	s = scram_start(SASL_SCRAM_SHA_1, SHA1_NONCE);
	free(step_str(s, SHA1_SFIRST, &err));
	CHECK(sasl_finish(s, &err) == -1 && contains(err, "signature"),
	    "scram: +OK without server-final: %s", err);
	free(err);
	err = NULL;
	sasl_free(s);

	/* +OK right after the client-first */
	s = scram_start(SASL_SCRAM_SHA_1, SHA1_NONCE);
	CHECK(sasl_finish(s, &err) == -1, "scram: +OK after client-first");
	free(err);
	err = NULL;
	sasl_free(s);

	/* bad base64 in the challenge itself */
	static const char *const badb64[] = {
		"abc", "ab=c", "a===", "====", "cj0*", "cj0=cj0=", "cj 0",
		"\xff\xfe\xfd\xfc",
	};
	for (i = 0; i < sizeof badb64 / sizeof badb64[0]; i++) {
		s = scram_start(SASL_SCRAM_SHA_256, SHA256_NONCE);
		r = step_raw(s, badb64[i], &err);
		CHECK(r == NULL && contains(err, "base64"), "scram: bad base64 "
		    "\"%s\": %s", badb64[i], err);
		free(r);
		free(err);
		err = NULL;
		r = step_str(s, SHA256_SFIRST, &err);
		CHECK(r == NULL, "scram: step after a failure");
		free(err);
		err = NULL;
		sasl_free(s);
	}

	/* oversized: 64 KiB + 1 decoded, and a megabyte of text */
	big = malloc(SASL_MAX_CHALLENGE + 1);
	memset(big, 'a', SASL_MAX_CHALLENGE + 1);
	s = scram_start(SASL_SCRAM_SHA_256, SHA256_NONCE);
	r = step_plain(s, big, SASL_MAX_CHALLENGE + 1, &err);
	CHECK(r == NULL && contains(err, "too long"), "scram: 64 KiB + 1: %s",
	    err);
	free(err);
	err = NULL;
	sasl_free(s);
	free(big);
	big = malloc(1 << 20);
	memset(big, 'A', 1 << 20);
	s = scram_start(SASL_SCRAM_SHA_256, SHA256_NONCE);
	r = sasl_step(s, big, 1 << 20, &err);
	CHECK(r == NULL && contains(err, "too long"), "scram: 1 MiB: %s", err);
	free(err);
	err = NULL;
	sasl_free(s);
	free(big);

	/* every truncation of a good server-first fails cleanly */
	for (i = 0; i < strlen(SHA256_SFIRST) - 1; i++) {
		s = scram_start(SASL_SCRAM_SHA_256, SHA256_NONCE);
		r = step_plain(s, SHA256_SFIRST, i, &err);
		/* "...,i=409" is a shorter count, still legal */
		if (i < strlen(SHA256_SFIRST) - 3)
			CHECK(r == NULL && err != NULL, "scram: server-first cut "
			    "at %zu", i);
		free(r);
		free(err);
		err = NULL;
		sasl_free(s);
	}
}

static void
test_scram_misc(void)
{
	struct sasl *s, *t;
	char *err = NULL, *r, *r2;
	unsigned char dec[128];
	int n;

	/* saslname escaping */
	s = sasl_new(SASL_SCRAM_SHA_1, "a,b=c", "p", NULL, NULL, &err);
	CHECK(sasl_set_nonce(s, "abc") == 0, "scram: nonce abc");
	r = sasl_initial(s);
	CHECK(is_b64_of_str(r, "n,,n=a=2Cb=3Dc,r=abc"), "scram: saslname %s",
	    r);
	free(r);
	sasl_free(s);

	/* bad test nonces; the test hook is SCRAM only */
	s = sasl_new(SASL_SCRAM_SHA_1, "u", "p", NULL, NULL, &err);
	CHECK(sasl_set_nonce(s, "") == -1, "scram: empty nonce");
	CHECK(sasl_set_nonce(s, "a,b") == -1, "scram: ',' in nonce");
	CHECK(sasl_set_nonce(s, "a b") == -1, "scram: ' ' in nonce");
	CHECK(sasl_set_nonce(s, "a\xc3\xa9") == -1, "scram: 8-bit nonce");
	sasl_free(s);
	s = sasl_new(SASL_PLAIN, "u", "p", NULL, NULL, &err);
	CHECK(sasl_set_nonce(s, "abc") == -1, "plain: no nonce");
	sasl_free(s);

	/* the random nonce: 32 printable characters, different each time */
	s = sasl_new(SASL_SCRAM_SHA_256, "u", "p", NULL, NULL, &err);
	t = sasl_new(SASL_SCRAM_SHA_256, "u", "p", NULL, NULL, &err);
	r = sasl_initial(s);
	r2 = sasl_initial(t);
	n = EVP_DecodeBlock(dec, (unsigned char *)r, (int)strlen(r));
	CHECK(n >= 0 && (size_t)n >= strlen("n,,n=u,r=") + 32 &&
	    memcmp(dec, "n,,n=u,r=", 9) == 0 && memchr(dec + 9, ',', 32) ==
	    NULL, "scram: random nonce %s", r);
	CHECK(strcmp(r, r2) != 0, "scram: two nonces differ");
	free(r);
	free(r2);
	sasl_free(s);
	sasl_free(t);
}

static void
test_xoauth2(void)
{
	/* the example of Google's and Microsoft's XOAUTH2 documentation */
	static const char want[] =
	    "dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRm"
	    "dDRxbVRjMk52YjNSbGNrQmhkSFJoZG1semRHRXVZMjl0Q2cBAQ==";
	static const char json[] = "{\"status\":\"401\",\"schemes\":"
	    "\"bearer mac\",\"scope\":\"https://mail.google.com/\"}";
	struct sasl *s;
	char *err = NULL, *r;

	s = sasl_new(SASL_XOAUTH2, "someuser@example.com",
	    "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg", NULL, NULL, &err);
	r = sasl_initial(s);
	CHECK(r != NULL && strcmp(r, want) == 0, "xoauth2: initial %s", r);
	free(r);
	CHECK(sasl_error_detail(s) == NULL, "xoauth2: no detail yet");
	CHECK(sasl_finish(s, &err) == 0, "xoauth2: finish: %s", err);
	sasl_free(s);

	/* the error challenge: answered with an empty line, kept */
	s = sasl_new(SASL_XOAUTH2, "someuser@example.com",
	    "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg", NULL, NULL, &err);
	r = step_raw(s, "", &err);
	CHECK(r != NULL && strcmp(r, want) == 0, "xoauth2: no-IR initial");
	free(r);
	r = step_str(s, json, &err);
	CHECK(r != NULL && *r == '\0', "xoauth2: error answered with \"\"");
	free(r);
	CHECK(sasl_error_detail(s) != NULL &&
	    strcmp(sasl_error_detail(s), json) == 0, "xoauth2: detail %s",
	    sasl_error_detail(s));
	CHECK(sasl_finish(s, &err) == -1, "xoauth2: +OK after an error");
	free(err);
	err = NULL;
	sasl_free(s);

	/* a \x01 in the token would forge a field */
	s = sasl_new(SASL_XOAUTH2, "u", "tok\001auth=x", NULL, NULL, &err);
	CHECK(s == NULL && contains(err, "control"), "xoauth2: \\x01 in token");
	free(err);
	err = NULL;
	s = sasl_new(SASL_XOAUTH2, "u", "", NULL, NULL, &err);
	CHECK(s == NULL && contains(err, "token"), "xoauth2: empty token");
	free(err);
	err = NULL;
}

static void
test_oauthbearer(void)
{
	/* RFC 7628 section 4.1 */
	static const char want[] =
	    "bixhPXVzZXJAZXhhbXBsZS5jb20sAWhvc3Q9c2VydmVyLmV4YW1wbGUuY29tAXBv"
	    "cnQ9MTQzAWF1dGg9QmVhcmVyIHZGOWRmdDRxbVRjMk52YjNSbGNrQmhiSFJoZG1s"
	    "emRHRXVZMjl0Q2c9PQEB";
	/* RFC 7628 section 4.3, with its line breaks */
	static const char json[] = "{\n  \"status\":\"invalid_token\",\n"
	    "  \"scope\":\"example_scope\",\n  \"openid-configuration\":"
	    "\"https://example.com/.well-known/openid-configuration\"\n}";
	static const char shown[] = "{   \"status\":\"invalid_token\",   "
	    "\"scope\":\"example_scope\",   \"openid-configuration\":"
	    "\"https://example.com/.well-known/openid-configuration\" }";
	struct sasl *s;
	char *err = NULL, *r;

	s = sasl_new(SASL_OAUTHBEARER, "user@example.com",
	    "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==", "server.example.com",
	    "143", &err);
	r = sasl_initial(s);
	CHECK(r != NULL && strcmp(r, want) == 0, "oauthbearer: initial %s",
	    r);
	free(r);
	r = step_str(s, json, &err);
	CHECK(r != NULL && strcmp(r, "AQ==") == 0, "oauthbearer: error "
	    "answered with %%x01: %s", r);
	free(r);
	CHECK(sasl_error_detail(s) != NULL &&
	    strcmp(sasl_error_detail(s), shown) == 0, "oauthbearer: detail %s",
	    sasl_error_detail(s));
	r = step_str(s, json, &err);
	CHECK(r == NULL && err != NULL, "oauthbearer: a second error");
	free(err);
	err = NULL;
	CHECK(sasl_finish(s, &err) == -1, "oauthbearer: +OK after an error");
	free(err);
	err = NULL;
	sasl_free(s);

	/* no authzid, host or port; escaping of the authzid */
	s = sasl_new(SASL_OAUTHBEARER, NULL, "tok", NULL, NULL, &err);
	r = sasl_initial(s);
	CHECK(is_b64_of_str(r, "n,,\001auth=Bearer tok\001\001"),
	    "oauthbearer: bare %s", r);
	free(r);
	CHECK(sasl_finish(s, &err) == 0, "oauthbearer: finish");
	sasl_free(s);
	s = sasl_new(SASL_OAUTHBEARER, "a,b=c", "tok", NULL, "995", &err);
	r = sasl_initial(s);
	CHECK(is_b64_of_str(r, "n,a=a=2Cb=3Dc,\001port=995\001"
	    "auth=Bearer tok\001\001"), "oauthbearer: escaped %s", r);
	free(r);
	sasl_free(s);

	s = sasl_new(SASL_OAUTHBEARER, "u", "tok", "evil\001auth=x", "1",
	    &err);
	CHECK(s == NULL && contains(err, "control"), "oauthbearer: \\x01 in "
	    "host");
	free(err);
	err = NULL;

	/* the largest error JSON is kept, one byte more is refused */
	char *big = malloc(SASL_MAX_CHALLENGE + 1);
	memset(big, 'x', SASL_MAX_CHALLENGE + 1);
	s = sasl_new(SASL_OAUTHBEARER, "u", "tok", NULL, NULL, &err);
	free(sasl_initial(s));
	r = step_plain(s, big, SASL_MAX_CHALLENGE, &err);
	CHECK(r != NULL && sasl_error_detail(s) != NULL &&
	    strlen(sasl_error_detail(s)) == SASL_MAX_CHALLENGE,
	    "oauthbearer: 64 KiB error");
	free(r);
	sasl_free(s);
	s = sasl_new(SASL_OAUTHBEARER, "u", "tok", NULL, NULL, &err);
	free(sasl_initial(s));
	r = step_plain(s, big, SASL_MAX_CHALLENGE + 1, &err);
	CHECK(r == NULL && contains(err, "too long"), "oauthbearer: 64 KiB "
	    "+ 1 error: %s", err);
	free(err);
	err = NULL;
	sasl_free(s);
	free(big);
}

static void
test_apop(void)
{
	static const char greeting[] =
	    "POP3 server ready <1896.697170952@dbc.mtview.ca.us>";
	static const struct {
		const char	*in;
		const char	*want;
	} t[] = {
		{ "<1@x>", "<1@x>" },
		{ "ready <a.b@c> and <d@e>", "<a.b@c>" },
		{ "<nope> <also no> <1@x>", "<1@x>" },
		{ "<<1@x>", "<1@x>" },
		{ "<1@x<2@y>", "<2@y>" },
		{ "ready", NULL },
		{ "<>", NULL },
		{ "<@>", "<@>" },
		{ "<abc>", NULL },
		{ "<a b@c>", NULL },
		{ "<a\t@c>", NULL },
		{ "<a@c", NULL },
		{ "a@c>", NULL },
		{ "<a\x80@c>", NULL },
	};
	char buf[700], *r;
	size_t i, len;

	/* RFC 1939 section 7 */
	r = apop_digest("<1896.697170952@dbc.mtview.ca.us>", "tanstaaf");
	CHECK(r != NULL && strcmp(r, "c4c9334bac560ecc979e58001b3e22fb") == 0,
	    "apop: RFC 1939: %s", r);
	free(r);

	r = apop_timestamp(greeting, strlen(greeting));
	CHECK(r != NULL && strcmp(r, "<1896.697170952@dbc.mtview.ca.us>") == 0,
	    "apop: timestamp %s", r);
	free(r);
	/* fed one byte at a time: nothing until the '>' arrives */
	for (len = 0; len < strlen(greeting); len++) {
		r = apop_timestamp(greeting, len);
		CHECK(r == NULL, "apop: prefix of %zu bytes gave %s", len, r);
		free(r);
	}
	for (i = 0; i < sizeof t / sizeof t[0]; i++) {
		r = apop_timestamp(t[i].in, strlen(t[i].in));
		CHECK(t[i].want == NULL ? r == NULL :
		    r != NULL && strcmp(r, t[i].want) == 0,
		    "apop: timestamp in \"%s\": %s", t[i].in, r);
		free(r);
	}
	/* a NUL inside, and the length bound (512 with the brackets) */
	r = apop_timestamp("<a\0@b>", 6);
	CHECK(r == NULL, "apop: NUL in the timestamp");
	free(r);
	r = apop_timestamp("<a@b>\0<c@d>", 11);
	CHECK(r != NULL && strcmp(r, "<a@b>") == 0, "apop: NUL after");
	free(r);
	memset(buf, 'a', sizeof buf);
	buf[0] = '<';
	buf[1] = '@';
	buf[511] = '>';
	r = apop_timestamp(buf, 512);
	CHECK(r != NULL && strlen(r) == 512, "apop: 512-byte timestamp");
	free(r);
	buf[511] = 'a';
	buf[512] = '>';
	r = apop_timestamp(buf, 513);
	CHECK(r == NULL, "apop: 513-byte timestamp");
	free(r);
	buf[600] = '<';
	buf[601] = '@';
	buf[602] = '>';
	r = apop_timestamp(buf, 603);
	CHECK(r != NULL && strcmp(r, "<@>") == 0, "apop: after a long one");
	free(r);
}

int
main(void)
{
	test_names();
	test_plain();
	test_login();
	test_cram_md5();
	test_scram_vector(SASL_SCRAM_SHA_1, SHA1_NONCE, SHA1_SFIRST,
	    SHA1_CFINAL, SHA1_SFINAL);
	test_scram_vector(SASL_SCRAM_SHA_256, SHA256_NONCE, SHA256_SFIRST,
	    SHA256_CFINAL, SHA256_SFINAL);
	test_scram_hostile();
	test_scram_misc();
	test_xoauth2();
	test_oauthbearer();
	test_apop();
	printf("t_sasl: %d passed, %d failed\n", unit_pass, unit_fail);
	return unit_fail != 0;
}
