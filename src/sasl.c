/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "log.h"	/* log_sanitize() only: this module does not log */
#include "sasl.h"
#include "util.h"
#include "xmalloc.h"

#define SCRAM_NONCE_BYTES	24	/* 32 base64 characters, no padding */
#define APOP_MAX_TIMESTAMP	512	/* brackets included */
/* The longest base64 text that can decode to SASL_MAX_CHALLENGE bytes. */
#define MAX_B64	(4 * ((SASL_MAX_CHALLENGE + 2) / 3))

enum sasl_state {
	ST_START,	/* nothing sent */
	ST_LOGIN_USER,	/* LOGIN: the user name was sent */
	ST_SCRAM_FIRST,	/* SCRAM: client-first sent, server-first due */
	ST_SCRAM_FINAL,	/* SCRAM: client-final sent, server-final due */
	ST_DONE,	/* all sent (SCRAM: server verified); +OK due */
	ST_OAUTH_ERROR,	/* XOAUTH2/OAUTHBEARER: the server sent its error */
	ST_FAILED
};

struct sasl {
	enum sasl_mech	 mech;
	enum sasl_state	 state;
	char		*user;
	char		*secret;
	char		*host;		/* OAUTHBEARER; may be NULL */
	char		*port;		/* OAUTHBEARER; may be NULL */
	char		*nonce;		/* SCRAM client nonce */
	char		*cfirst_bare;	/* SCRAM client-first-message-bare */
	unsigned char	 server_sig[EVP_MAX_MD_SIZE]; /* SCRAM, expected */
	size_t		 siglen;
	char		*detail;	/* OAuth error JSON, made printable */
};

static const char *const mech_names[] = {
	[SASL_PLAIN] = "PLAIN",
	[SASL_LOGIN] = "LOGIN",
	[SASL_CRAM_MD5] = "CRAM-MD5",
	[SASL_SCRAM_SHA_1] = "SCRAM-SHA-1",
	[SASL_SCRAM_SHA_256] = "SCRAM-SHA-256",
	[SASL_XOAUTH2] = "XOAUTH2",
	[SASL_OAUTHBEARER] = "OAUTHBEARER",
};
#define NMECHS	(sizeof mech_names / sizeof mech_names[0])

/* A growing byte buffer for messages that hold secrets: every copy it
 * leaves behind is wiped. Always NUL-terminated. */
struct sbuf {
	char	*p;
	size_t	 len;
	size_t	 cap;
};

static void
sb_add(struct sbuf *b, const void *data, size_t n)
{
	char *np;
	size_t cap;

	if (b->p == NULL || b->cap - b->len <= n) {
		cap = (b->len + n + 1) * 2;
		np = xmalloc(cap);
		if (b->p != NULL) {
			memcpy(np, b->p, b->len);
			wipe(b->p, b->cap);
			free(b->p);
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
sb_str(struct sbuf *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

static void
sb_wipe(struct sbuf *b)
{
	if (b->p != NULL) {
		wipe(b->p, b->cap);
		free(b->p);
	}
	b->p = NULL;
	b->len = b->cap = 0;
}

/* All inputs are bounded by SASL_MAX_FIELD or SASL_MAX_CHALLENGE, far below
 * INT_MAX, so the int lengths OpenSSL's base64 takes cannot overflow. */
static char *
b64_encode(const void *data, size_t len)
{
	char *out = xmalloc(4 * ((len + 2) / 3) + 1);

	EVP_EncodeBlock((unsigned char *)out, data, (int)len);
	return out;
}

static int
b64_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '+' || c == '/';
}

/*
 * Strict base64 (RFC 4648 section 4, padded, no blanks inside), decoded
 * into an allocated NUL-terminated buffer. OpenSSL's EVP_DecodeBlock skips
 * blanks and counts padding as zero bytes, so the text is checked here
 * first. 0, or -1 with a constant message in *why.
 */
static int
b64_decode(const char *in, size_t len, unsigned char **out, size_t *outlen,
    const char **why)
{
	unsigned char *buf;
	size_t i, pad = 0;
	int n;

	*out = NULL;
	*outlen = 0;
	if (len > MAX_B64) {
		*why = "challenge too long";
		return -1;
	}
	if (len % 4 != 0) {
		*why = "bad base64 (length)";
		return -1;
	}
	if (len > 0 && in[len - 1] == '=')
		pad = in[len - 2] == '=' ? 2 : 1;
	for (i = 0; i < len - pad; i++) {
		if (!b64_char((unsigned char)in[i])) {
			*why = "bad base64 (character)";
			return -1;
		}
	}
	buf = xmalloc(len / 4 * 3 + 1);
	if (len > 0) {
		n = EVP_DecodeBlock(buf, (const unsigned char *)in, (int)len);
		if (n < 0 || (size_t)n < pad) {
			free(buf);
			*why = "bad base64";
			return -1;
		}
		*outlen = (size_t)n - pad;
	}
	if (*outlen > SASL_MAX_CHALLENGE) {
		free(buf);
		*why = "challenge too long";
		return -1;
	}
	buf[*outlen] = '\0';
	*out = buf;
	return 0;
}

static void
hex_encode(char *out, const unsigned char *in, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = hex[in[i] >> 4];
		out[2 * i + 1] = hex[in[i] & 0x0f];
	}
	out[2 * len] = '\0';
}

static int
hmac(const char *mdname, const void *key, size_t keylen, const void *data,
    size_t len, unsigned char *out, size_t *outlen)
{
	if (EVP_Q_mac(NULL, "HMAC", NULL, mdname, NULL, key, keylen, data, len,
	    out, EVP_MAX_MD_SIZE, outlen) == NULL)
		return -1;
	return 0;
}

/* A SCRAM saslname or OAUTHBEARER authzid: ',' and '=' escaped. */
static void
sb_saslname(struct sbuf *b, const char *user)
{
	for (; *user != '\0'; user++) {
		if (*user == ',')
			sb_str(b, "=2C");
		else if (*user == '=')
			sb_str(b, "=3D");
		else
			sb_add(b, user, 1);
	}
}

static int
has_control(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

static int
is_scram(enum sasl_mech mech)
{
	return mech == SASL_SCRAM_SHA_1 || mech == SASL_SCRAM_SHA_256;
}

static int
is_oauth(enum sasl_mech mech)
{
	return mech == SASL_XOAUTH2 || mech == SASL_OAUTHBEARER;
}

static void
set_err(char **errstr, char *msg)
{
	if (errstr != NULL)
		*errstr = msg;
	else
		free(msg);
}

/* Marks the exchange dead and returns NULL with msg (allocated) as the
 * error. */
static char *
step_fail(struct sasl *s, char **errstr, char *msg)
{
	s->state = ST_FAILED;
	set_err(errstr, msg);
	return NULL;
}

const char *
sasl_mech_name(enum sasl_mech mech)
{
	if ((size_t)mech >= NMECHS)
		return "UNKNOWN";
	return mech_names[mech];
}

int
sasl_mech_parse(const char *name, size_t len, enum sasl_mech *mech)
{
	size_t i;

	for (i = 0; i < NMECHS; i++) {
		if (strlen(mech_names[i]) == len &&
		    strncasecmp(name, mech_names[i], len) == 0) {
			*mech = (enum sasl_mech)i;
			return 0;
		}
	}
	return -1;
}

struct sasl *
sasl_new(enum sasl_mech mech, const char *user, const char *secret,
    const char *host, const char *port, char **errstr)
{
	unsigned char rnd[SCRAM_NONCE_BYTES];
	struct sasl *s;

	if ((size_t)mech >= NMECHS) {
		set_err(errstr, xstrdup("unknown SASL mechanism"));
		return NULL;
	}
	if (user == NULL)
		user = "";
	if (secret == NULL)
		secret = "";
	if (!is_oauth(mech))
		host = port = NULL;
	if (strlen(user) > SASL_MAX_FIELD || strlen(secret) > SASL_MAX_FIELD ||
	    (host != NULL && strlen(host) > SASL_MAX_FIELD) ||
	    (port != NULL && strlen(port) > SASL_MAX_FIELD)) {
		set_err(errstr, xasprintf("%s: user name, secret, host or port "
		    "longer than %d bytes", mech_names[mech], SASL_MAX_FIELD));
		return NULL;
	}
	if (*user == '\0' && mech != SASL_OAUTHBEARER) {
		set_err(errstr, xasprintf("%s needs a user name",
		    mech_names[mech]));
		return NULL;
	}
	if (is_oauth(mech)) {
		if (*secret == '\0') {
			set_err(errstr, xasprintf("%s needs an access token",
			    mech_names[mech]));
			return NULL;
		}
		/* %x01 separates the fields: none may hold a control byte */
		if (has_control(user) || has_control(secret) ||
		    (host != NULL && has_control(host)) ||
		    (port != NULL && has_control(port))) {
			set_err(errstr, xasprintf("%s: control character in "
			    "the user name, token, host or port",
			    mech_names[mech]));
			return NULL;
		}
	}

	s = xcalloc(1, sizeof *s);
	s->mech = mech;
	s->state = ST_START;
	s->user = xstrdup(user);
	s->secret = xstrdup(secret);
	if (host != NULL)
		s->host = xstrdup(host);
	if (port != NULL)
		s->port = xstrdup(port);
	if (is_scram(mech)) {
		if (RAND_bytes(rnd, sizeof rnd) != 1) {
			sasl_free(s);
			set_err(errstr, xstrdup("no random bytes for the "
			    "SCRAM nonce"));
			return NULL;
		}
		s->nonce = b64_encode(rnd, sizeof rnd);
		wipe(rnd, sizeof rnd);
	}
	return s;
}

void
sasl_free(struct sasl *s)
{
	if (s == NULL)
		return;
	free_secret(s->user);
	free_secret(s->secret);
	free_secret(s->host);
	free_secret(s->port);
	free_secret(s->nonce);
	free_secret(s->cfirst_bare);
	free(s->detail);
	wipe(s, sizeof *s);
	free(s);
}

int
sasl_set_nonce(struct sasl *s, const char *nonce)
{
	const char *p;

	if (!is_scram(s->mech) || s->state != ST_START || *nonce == '\0' ||
	    strlen(nonce) > 1024)
		return -1;
	for (p = nonce; *p != '\0'; p++)
		if (*p < 0x21 || *p > 0x7e || *p == ',')
			return -1;
	free_secret(s->nonce);
	s->nonce = xstrdup(nonce);
	return 0;
}

char *
sasl_initial(struct sasl *s)
{
	struct sbuf b = { NULL, 0, 0 };
	char *out;

	if (s->state != ST_START)
		return NULL;
	switch (s->mech) {
	case SASL_LOGIN:
	case SASL_CRAM_MD5:
		return NULL;
	case SASL_PLAIN:
		/* RFC 4616: authzid (empty) NUL authcid NUL passwd */
		sb_add(&b, "", 1);
		sb_str(&b, s->user);
		sb_add(&b, "", 1);
		sb_str(&b, s->secret);
		s->state = ST_DONE;
		break;
	case SASL_SCRAM_SHA_1:
	case SASL_SCRAM_SHA_256:
		/* RFC 5802: no channel binding, no authzid */
		sb_str(&b, "n,,n=");
		sb_saslname(&b, s->user);
		sb_str(&b, ",r=");
		sb_str(&b, s->nonce);
		s->cfirst_bare = xstrdup(b.p + 3);
		s->state = ST_SCRAM_FIRST;
		break;
	case SASL_XOAUTH2:
		sb_str(&b, "user=");
		sb_str(&b, s->user);
		sb_str(&b, "\001auth=Bearer ");
		sb_str(&b, s->secret);
		sb_str(&b, "\001\001");
		s->state = ST_DONE;
		break;
	case SASL_OAUTHBEARER:
		/* RFC 7628 section 3.1: gs2-header kvsep *(kvpair) kvsep */
		sb_str(&b, "n,");
		if (*s->user != '\0') {
			sb_str(&b, "a=");
			sb_saslname(&b, s->user);
		}
		sb_str(&b, ",\001");
		if (s->host != NULL) {
			sb_str(&b, "host=");
			sb_str(&b, s->host);
			sb_str(&b, "\001");
		}
		if (s->port != NULL) {
			sb_str(&b, "port=");
			sb_str(&b, s->port);
			sb_str(&b, "\001");
		}
		sb_str(&b, "auth=Bearer ");
		sb_str(&b, s->secret);
		sb_str(&b, "\001\001");
		s->state = ST_DONE;
		break;
	default:
		return NULL;
	}
	if (b.len == 0)
		out = xstrdup("=");	/* RFC 5034: an empty initial response */
	else
		out = b64_encode(b.p, b.len);
	sb_wipe(&b);
	return out;
}

/* One "X=value" attribute at *p: the value runs to the next ',' or the
 * end, and *p moves past that ','. 0, or -1 when the name does not match
 * or the value is empty. */
static int
scram_attr(const char **p, const char *end, char name, const char **val,
    size_t *vlen)
{
	const char *q = *p, *comma;

	if (end - q < 3 || q[0] != name || q[1] != '=')
		return -1;
	q += 2;
	comma = memchr(q, ',', (size_t)(end - q));
	*val = q;
	*vlen = (size_t)((comma != NULL ? comma : end) - q);
	*p = comma != NULL ? comma + 1 : end;
	return *vlen == 0 ? -1 : 0;
}

static char *
scram_server_error(struct sasl *s, const char *msg, size_t len,
    char **errstr)
{
	char buf[256];
	const char *v = msg + 2, *comma;
	size_t vlen;

	comma = memchr(v, ',', len - 2);
	vlen = (size_t)((comma != NULL ? comma : msg + len) - v);
	log_sanitize(buf, sizeof buf, v, vlen);
	return step_fail(s, errstr, xasprintf("%s: server error: %s",
	    mech_names[s->mech], buf));
}

/* SCRAM keys for one exchange, wiped as a whole. */
struct scram_keys {
	unsigned char	salted[EVP_MAX_MD_SIZE];
	unsigned char	client_key[EVP_MAX_MD_SIZE];
	unsigned char	stored_key[EVP_MAX_MD_SIZE];
	unsigned char	client_sig[EVP_MAX_MD_SIZE];
	unsigned char	proof[EVP_MAX_MD_SIZE];
	unsigned char	server_key[EVP_MAX_MD_SIZE];
};

/* server-first-message -> client-final-message (RFC 5802 section 3). */
static char *
scram_client_final(struct sasl *s, const char *msg, size_t len,
    char **errstr)
{
	const char *name = mech_names[s->mech];
	const char *mdname = s->mech == SASL_SCRAM_SHA_1 ? "SHA1" : "SHA256";
	const EVP_MD *md = s->mech == SASL_SCRAM_SHA_1 ? EVP_sha1() :
	    EVP_sha256();
	const char *p = msg, *end = msg + len, *why;
	const char *rnonce, *salt64, *iter;
	size_t rlen, slen, ilen, ourlen, hlen, n, i;
	unsigned char *salt = NULL;
	size_t saltlen;
	unsigned int mdlen;
	long iterations = 0;
	struct scram_keys k;
	struct sbuf am = { NULL, 0, 0 }, cf = { NULL, 0, 0 };
	char *proof64, *out = NULL;

	if (memchr(msg, '\0', len) != NULL)
		return step_fail(s, errstr, xasprintf("%s: NUL byte in the "
		    "server-first message", name));
	if (len >= 2 && msg[0] == 'e' && msg[1] == '=')
		return scram_server_error(s, msg, len, errstr);
	if (len >= 2 && msg[0] == 'm' && msg[1] == '=')
		return step_fail(s, errstr, xasprintf("%s: the server requires "
		    "an extension (m=) that is not supported", name));
	if (scram_attr(&p, end, 'r', &rnonce, &rlen) == -1 ||
	    scram_attr(&p, end, 's', &salt64, &slen) == -1 ||
	    scram_attr(&p, end, 'i', &iter, &ilen) == -1)
		return step_fail(s, errstr, xasprintf("%s: malformed "
		    "server-first message (want r=,s=,i=)", name));
	/* what follows, if anything, is extensions: ignored */

	ourlen = strlen(s->nonce);
	if (rlen <= ourlen || memcmp(rnonce, s->nonce, ourlen) != 0)
		return step_fail(s, errstr, xasprintf("%s: the server nonce "
		    "does not extend ours", name));
	for (i = 0; i < rlen; i++)
		if (rnonce[i] < 0x21 || rnonce[i] > 0x7e)
			return step_fail(s, errstr, xasprintf("%s: bad "
			    "character in the server nonce", name));
	for (i = 0; i < ilen; i++) {
		if (iter[i] < '0' || iter[i] > '9')
			return step_fail(s, errstr, xasprintf("%s: bad "
			    "iteration count", name));
		iterations = iterations * 10 + (iter[i] - '0');
		if (iterations > SASL_SCRAM_MAX_ITER)
			break;
	}
	if (iterations < 1 || iterations > SASL_SCRAM_MAX_ITER)
		return step_fail(s, errstr, xasprintf("%s: iteration count "
		    "%.*s%s outside 1..%d", name, ilen > 12 ? 12 : (int)ilen,
		    iter, ilen > 12 ? "..." : "", SASL_SCRAM_MAX_ITER));
	if (b64_decode(salt64, slen, &salt, &saltlen, &why) == -1)
		return step_fail(s, errstr, xasprintf("%s: salt: %s", name,
		    why));
	if (saltlen == 0) {
		free(salt);
		return step_fail(s, errstr, xasprintf("%s: empty salt",
		    name));
	}

	/* client-final-message-without-proof; "biws" is base64("n,,") */
	sb_str(&cf, "c=biws,r=");
	sb_add(&cf, rnonce, rlen);
	/* AuthMessage = client-first-bare "," server-first "," c-f-w-p */
	sb_str(&am, s->cfirst_bare);
	sb_str(&am, ",");
	sb_add(&am, msg, len);
	sb_str(&am, ",");
	sb_add(&am, cf.p, cf.len);

	memset(&k, 0, sizeof k);
	hlen = (size_t)EVP_MD_get_size(md);
	if (PKCS5_PBKDF2_HMAC(s->secret, (int)strlen(s->secret), salt,
	    (int)saltlen, (int)iterations, md, (int)hlen, k.salted) != 1 ||
	    hmac(mdname, k.salted, hlen, "Client Key", 10, k.client_key,
	    &n) == -1 ||
	    EVP_Digest(k.client_key, hlen, k.stored_key, &mdlen, md,
	    NULL) != 1 ||
	    hmac(mdname, k.stored_key, hlen, am.p, am.len, k.client_sig,
	    &n) == -1 ||
	    hmac(mdname, k.salted, hlen, "Server Key", 10, k.server_key,
	    &n) == -1 ||
	    hmac(mdname, k.server_key, hlen, am.p, am.len, s->server_sig,
	    &s->siglen) == -1) {
		set_err(errstr, xasprintf("%s: %s failed in OpenSSL", name,
		    mdname));
		s->state = ST_FAILED;
		goto done;
	}
	for (i = 0; i < hlen; i++)
		k.proof[i] = k.client_key[i] ^ k.client_sig[i];

	proof64 = b64_encode(k.proof, hlen);
	sb_str(&cf, ",p=");
	sb_str(&cf, proof64);
	free(proof64);
	out = b64_encode(cf.p, cf.len);
	s->state = ST_SCRAM_FINAL;
done:
	wipe(&k, sizeof k);
	sb_wipe(&am);
	sb_wipe(&cf);
	free(salt);
	return out;
}

/* server-final-message: "v=" the server signature, or "e=" an error. */
static char *
scram_verify(struct sasl *s, const char *msg, size_t len, char **errstr)
{
	const char *name = mech_names[s->mech];
	const char *p = msg, *v, *why;
	unsigned char *sig;
	size_t vlen, siglen;
	int ok;

	if (memchr(msg, '\0', len) != NULL)
		return step_fail(s, errstr, xasprintf("%s: NUL byte in the "
		    "server-final message", name));
	if (len >= 2 && msg[0] == 'e' && msg[1] == '=')
		return scram_server_error(s, msg, len, errstr);
	if (scram_attr(&p, msg + len, 'v', &v, &vlen) == -1)
		return step_fail(s, errstr, xasprintf("%s: malformed "
		    "server-final message (want v=)", name));
	if (b64_decode(v, vlen, &sig, &siglen, &why) == -1)
		return step_fail(s, errstr, xasprintf("%s: server "
		    "signature: %s", name, why));
	ok = siglen == s->siglen &&
	    CRYPTO_memcmp(sig, s->server_sig, siglen) == 0;
	free(sig);
	if (!ok)
		return step_fail(s, errstr, xasprintf("%s: wrong server "
		    "signature: the server does not know the password", name));
	s->state = ST_DONE;
	return xstrdup("");
}

static char *
cram_md5(struct sasl *s, const unsigned char *chal, size_t len,
    char **errstr)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	char hex[2 * EVP_MAX_MD_SIZE + 1];
	struct sbuf b = { NULL, 0, 0 };
	size_t maclen;
	char *out;

	if (len == 0)
		return step_fail(s, errstr, xstrdup("CRAM-MD5: empty "
		    "challenge"));
	if (hmac("MD5", s->secret, strlen(s->secret), chal, len, mac,
	    &maclen) == -1)
		return step_fail(s, errstr, xstrdup("CRAM-MD5: HMAC-MD5 "
		    "failed in OpenSSL"));
	hex_encode(hex, mac, maclen);
	sb_str(&b, s->user);
	sb_str(&b, " ");
	sb_str(&b, hex);
	out = b64_encode(b.p, b.len);
	wipe(mac, sizeof mac);
	wipe(hex, sizeof hex);
	sb_wipe(&b);
	s->state = ST_DONE;
	return out;
}

/* Keeps the OAuth error JSON printable: blanks for line breaks and tabs,
 * '?' for other control bytes. */
static void
oauth_keep_detail(struct sasl *s, const unsigned char *json, size_t len)
{
	size_t i;

	free(s->detail);
	s->detail = xmalloc(len + 1);
	for (i = 0; i < len; i++) {
		if (json[i] == '\t' || json[i] == '\r' || json[i] == '\n')
			s->detail[i] = ' ';
		else if (json[i] < 0x20 || json[i] == 0x7f)
			s->detail[i] = '?';
		else
			s->detail[i] = (char)json[i];
	}
	s->detail[len] = '\0';
}

static int
is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

char *
sasl_step(struct sasl *s, const char *b64, size_t len, char **errstr)
{
	const char *name = mech_names[s->mech];
	unsigned char *chal;
	size_t clen;
	const char *why;
	char *out;

	if (s->state == ST_FAILED)
		return step_fail(s, errstr, xasprintf("%s: challenge after "
		    "the exchange failed", name));
	while (len > 0 && is_blank(*b64)) {
		b64++;
		len--;
	}
	while (len > 0 && is_blank(b64[len - 1]))
		len--;
	if (len > MAX_B64)
		return step_fail(s, errstr, xasprintf("%s: challenge too "
		    "long", name));

	if (s->mech == SASL_LOGIN) {
		/* Answer by position; the prompt text is not read. */
		switch (s->state) {
		case ST_START:
			s->state = ST_LOGIN_USER;
			return b64_encode(s->user, strlen(s->user));
		case ST_LOGIN_USER:
			s->state = ST_DONE;
			return b64_encode(s->secret, strlen(s->secret));
		default:
			return step_fail(s, errstr, xstrdup("LOGIN: more than "
			    "two challenges"));
		}
	}

	if (len == 1 && b64[0] == '=')
		len = 0;	/* an empty challenge written as "=" */
	if (b64_decode(b64, len, &chal, &clen, &why) == -1)
		return step_fail(s, errstr, xasprintf("%s: %s", name, why));

	out = NULL;
	if (s->state == ST_START && s->mech != SASL_CRAM_MD5) {
		/* No initial response was sent: the first challenge is
		 * empty and is answered with it. */
		if (clen == 0)
			out = sasl_initial(s);
		else
			step_fail(s, errstr, xasprintf("%s: non-empty first "
			    "challenge", name));
	} else if (s->mech == SASL_CRAM_MD5 && s->state == ST_START)
		out = cram_md5(s, chal, clen, errstr);
	else if (is_scram(s->mech) && s->state == ST_SCRAM_FIRST)
		out = scram_client_final(s, (const char *)chal, clen, errstr);
	else if (is_scram(s->mech) && s->state == ST_SCRAM_FINAL)
		out = scram_verify(s, (const char *)chal, clen, errstr);
	else if (is_oauth(s->mech) && s->state == ST_DONE) {
		/* The error JSON (RFC 7628 section 3.2.2; Google's XOAUTH2
		 * the same way); the server answers -ERR next. */
		oauth_keep_detail(s, chal, clen);
		s->state = ST_OAUTH_ERROR;
		out = xstrdup(s->mech == SASL_XOAUTH2 ? "" : "AQ==");
	} else
		step_fail(s, errstr, xasprintf("%s: unexpected challenge",
		    name));
	free(chal);
	return out;
}

int
sasl_finish(struct sasl *s, char **errstr)
{
	const char *name = mech_names[s->mech];

	switch (s->state) {
	case ST_DONE:
		return 0;
	case ST_SCRAM_FINAL:
		set_err(errstr, xasprintf("%s: the server accepted without "
		    "proving that it knows the password (no server "
		    "signature)", name));
		break;
	case ST_OAUTH_ERROR:
		set_err(errstr, xasprintf("%s: the server accepted after "
		    "reporting an error", name));
		break;
	case ST_FAILED:
		set_err(errstr, xasprintf("%s: the server accepted a failed "
		    "exchange", name));
		break;
	default:
		set_err(errstr, xasprintf("%s: the server accepted before "
		    "the exchange was complete", name));
		break;
	}
	s->state = ST_FAILED;
	return -1;
}

const char *
sasl_error_detail(const struct sasl *s)
{
	return s->detail;
}

char *
apop_digest(const char *timestamp, const char *secret)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx;
	char *out;
	int ok;

	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return NULL;
	ok = EVP_DigestInit_ex(ctx, EVP_md5(), NULL) == 1 &&
	    EVP_DigestUpdate(ctx, timestamp, strlen(timestamp)) == 1 &&
	    EVP_DigestUpdate(ctx, secret, strlen(secret)) == 1 &&
	    EVP_DigestFinal_ex(ctx, md, &mdlen) == 1;
	EVP_MD_CTX_free(ctx);
	if (!ok)
		return NULL;
	out = xmalloc(2 * (size_t)mdlen + 1);
	hex_encode(out, md, mdlen);
	wipe(md, sizeof md);
	return out;
}

char *
apop_timestamp(const char *greeting, size_t len)
{
	size_t i, j;
	int at;

	for (i = 0; i < len; i++) {
		if (greeting[i] != '<')
			continue;
		at = 0;
		for (j = i + 1; j < len && j - i < APOP_MAX_TIMESTAMP - 1;
		    j++) {
			unsigned char c = (unsigned char)greeting[j];

			if (c == '>' || c == '<' || c <= 0x20 || c >= 0x7f)
				break;
			if (c == '@')
				at = 1;
		}
		if (j < len && greeting[j] == '>' && at)
			return xstrndup(greeting + i, j - i + 1);
		/* nothing from i + 1 to j - 1 is a '<': go on at j */
		i = j - 1;
	}
	return NULL;
}
