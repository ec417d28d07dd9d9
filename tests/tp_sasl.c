/* SPDX-License-Identifier: ISC */
/* testpop3d: APOP and SASL AUTH, with the ways servers get them wrong. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "testpop3d.h"

/* ---- APOP and SASL ---- */

static const char *const denied_text = "[AUTH] invalid credentials";

/* A fresh <pid.seconds.nanoseconds@testpop3d>: unique per use, as RFC 1939
 * wants of the APOP timestamp (and CRAM-MD5 of its challenge). */
void make_stamp(char *out, size_t n)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(out, n, "<%ld.%lld.%09ld@testpop3d>", (long)getpid(),
		 (long long)ts.tv_sec, (long)ts.tv_nsec);
}

void hex_add(struct buf *b, const unsigned char *p, size_t n)
{
	static const char digits_hex[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		char two[2] = { digits_hex[p[i] >> 4], digits_hex[p[i] & 15] };
		buf_add(b, two, 2);
	}
}

void digest(const EVP_MD *md, const void *p, size_t n,
		   unsigned char *out, unsigned *outlen)
{
	if (EVP_Digest(p, n, out, outlen, md, NULL) != 1)
		die_ssl("EVP_Digest", NULL);
}

void hmac(const EVP_MD *md, const void *key, size_t keylen,
		 const void *p, size_t n, unsigned char *out)
{
	unsigned len;
	if (!HMAC(md, key, (int)keylen, p, n, out, &len))
		die_ssl("HMAC", NULL);
}

void b64_add(struct buf *b, const void *p, size_t n)
{
	if (n == 0)
		return;
	/* Bounded by the line buffer, far below INT_MAX. */
	unsigned char *out = malloc(4 * ((n + 2) / 3) + 1);
	if (!out)
		die("malloc");
	int len = EVP_EncodeBlock(out, p, (int)n);
	buf_add(b, out, (size_t)len);
	free(out);
}

int b64_value(char c)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const char *p = c ? strchr(alphabet, c) : NULL;
	return p ? (int)(p - alphabet) : -1;
}

/* Strict base64 (RFC 4648 section 4): padded, canonical, nothing else.
 * Appends the decoded bytes to out; false for anything else. */
bool b64_decode(const char *p, size_t n, struct buf *out)
{
	if (n % 4 != 0)
		return false;
	for (size_t i = 0; i < n; i += 4) {
		int v[4];
		size_t pad = 0;
		for (size_t j = 0; j < 4; j++) {
			if (p[i + j] == '=' && i + 4 == n && j >= 2 &&
			    (j == 3 || p[i + 3] == '=')) {
				v[j] = 0;
				pad++;
			} else if (pad || (v[j] = b64_value(p[i + j])) < 0) {
				return false;
			}
		}
		/* The bits the padding leaves over must be zero. */
		if ((pad == 1 && (v[2] & 3)) || (pad == 2 && (v[1] & 15)))
			return false;
		unsigned char o[3] = {
			(unsigned char)(v[0] << 2 | v[1] >> 4),
			(unsigned char)((v[1] & 15) << 4 | v[2] >> 2),
			(unsigned char)((v[2] & 3) << 6 | v[3]),
		};
		buf_add(out, o, 3 - pad);
	}
	return true;
}

/* Outcome of one exchange step or of a whole mechanism. */
enum sasl_rc {
	A_OK,        /* step: a response; mechanism: credentials right */
	A_DENIED,    /* credentials wrong */
	A_CANCEL,    /* the client sent "*" */
	A_MALFORMED, /* a response that is not base64 or not the mechanism's */
	A_GONE       /* the connection failed */
};

/* Leaves b allocated and NUL-terminated, however empty. */
void buf_nul(struct buf *b)
{
	buf_add(b, "", 1);
	b->len--;
}

/* Reads one client response, logged as received, decoded into out. */
enum sasl_rc sasl_read(struct session *s, struct buf *out)
{
	const char *line;
	size_t len;
	int got = read_line(s, &line, &len);
	out->len = 0;
	if (got == 0)
		return A_GONE;
	if (got == 2) {
		log_bytes("-- overlong line discarded", strlen("-- overlong line discarded"));
		return A_MALFORMED;
	}
	log_bytes(line, len);
	if (len == 1 && line[0] == '*')
		return A_CANCEL;
	bool ok = b64_decode(line, len, out);
	buf_nul(out);
	return ok ? A_OK : A_MALFORMED;
}

/* Sends a challenge ("+ " and its base64, only "+ " when empty) and reads
 * the response to it. */
enum sasl_rc sasl_step(struct session *s, const void *chal, size_t n,
			      struct buf *out)
{
	struct buf b = { 0 };
	buf_str(&b, "+ ");
	b64_add(&b, chal, n);
	buf_str(&b, eol());
	int rc = send_all(s, b.p, b.len);
	free(b.p);
	return rc == 0 ? sasl_read(s, out) : A_GONE;
}

/* The first response of a client-first mechanism: the initial response
 * of "AUTH MECH IR" ("=" for an empty one), else the answer to an empty
 * challenge. */
enum sasl_rc sasl_first(struct session *s, const struct arg *ir,
			       struct buf *out)
{
	if (!ir)
		return sasl_step(s, NULL, 0, out);
	out->len = 0;
	bool ok = (ir->n == 1 && ir->p[0] == '=') || b64_decode(ir->p, ir->n, out);
	buf_nul(out);
	return ok ? A_OK : A_MALFORMED;
}

/* RFC 4616: authzid NUL authcid NUL passwd; the authzid may only be
 * empty or the user itself. */
enum sasl_rc mech_plain(struct session *s, const struct arg *ir)
{
	struct buf in = { 0 };
	enum sasl_rc rc = sasl_first(s, ir, &in);
	if (rc == A_OK) {
		const char *p = in.p, *end = in.p + in.len;
		const char *n1 = in.len ? memchr(p, '\0', in.len) : NULL;
		const char *n2 = n1 ? memchr(n1 + 1, '\0', (size_t)(end - n1 - 1)) : NULL;
		if (!n2)
			rc = A_MALFORMED;
		else if ((n1 > p && !same(p, (size_t)(n1 - p), opt.user)) ||
			 !same(n1 + 1, (size_t)(n2 - n1 - 1), opt.user) ||
			 !same(n2 + 1, (size_t)(end - n2 - 1), opt.pass))
			rc = A_DENIED;
	}
	free(in.p);
	return rc;
}

/* The LOGIN draft: "Username:", "Password:". An initial response is
 * taken as the user name, as some servers do. */
enum sasl_rc mech_login(struct session *s, const struct arg *ir)
{
	struct buf user = { 0 }, pw = { 0 };
	enum sasl_rc rc = ir ? sasl_first(s, ir, &user)
			     : sasl_step(s, "Username:", 9, &user);
	if (rc == A_OK)
		rc = sasl_step(s, "Password:", 9, &pw);
	if (rc == A_OK && (!same(user.p, user.len, opt.user) ||
			   !same(pw.p, pw.len, opt.pass)))
		rc = A_DENIED;
	free(user.p);
	free(pw.p);
	return rc;
}

/* RFC 2195: the response is "user HEX(HMAC-MD5(password, challenge))". */
enum sasl_rc mech_cram_md5(struct session *s, const struct arg *ir)
{
	char chal[80];
	unsigned char mac[EVP_MAX_MD_SIZE];
	struct buf in = { 0 }, want = { 0 };
	if (ir)
		return A_MALFORMED; /* the server speaks first */
	make_stamp(chal, sizeof chal);
	enum sasl_rc rc = sasl_step(s, chal, strlen(chal), &in);
	if (rc == A_OK) {
		hmac(EVP_md5(), opt.pass, strlen(opt.pass), chal, strlen(chal), mac);
		buf_str(&want, opt.user);
		buf_str(&want, " ");
		hex_add(&want, mac, 16);
		if (in.len != want.len || memcmp(in.p, want.p, in.len) != 0)
			rc = A_DENIED;
	}
	free(in.p);
	free(want.p);
	return rc;
}

/* One "X=value" attribute of a SCRAM message at *p, moving *p past it
 * and its comma; false when it is not there or empty. */
bool scram_attr(const char **p, const char *end, char name, struct arg *val)
{
	const char *q = *p;
	if (end - q < 3 || q[0] != name || q[1] != '=')
		return false;
	q += 2;
	const char *comma = memchr(q, ',', (size_t)(end - q));
	val->p = q;
	val->n = (size_t)((comma ? comma : end) - q);
	*p = comma ? comma + 1 : end;
	return val->n > 0;
}

/* A SCRAM saslname (RFC 5802: "=2C" for ',', "=3D" for '=') unescaped
 * into out; false when badly escaped. */
bool scram_unescape(struct arg a, struct buf *out)
{
	for (size_t i = 0; i < a.n; i++) {
		if (a.p[i] != '=') {
			buf_add(out, a.p + i, 1);
		} else if (a.n - i >= 3 && a.p[i + 1] == '2' && a.p[i + 2] == 'C') {
			buf_str(out, ",");
			i += 2;
		} else if (a.n - i >= 3 && a.p[i + 1] == '3' && a.p[i + 2] == 'D') {
			buf_str(out, "=");
			i += 2;
		} else {
			return false;
		}
	}
	return true;
}

bool same_buf(const char *p, size_t n, const struct buf *b)
{
	return n == b->len && (n == 0 || memcmp(p, b->p, n) == 0);
}

/* The salt: --scram-salt, or 16 random bytes for each exchange. */
void scram_salt(struct buf *salt)
{
	unsigned char rnd[16];
	if (opt.scram_salt) {
		b64_decode(opt.scram_salt, strlen(opt.scram_salt), salt);
		return;
	}
	if (RAND_bytes(rnd, sizeof rnd) != 1)
		die_ssl("RAND_bytes", NULL);
	buf_add(salt, rnd, sizeof rnd);
}

/* The server's part of the nonce: --scram-nonce, or 24 random base64
 * characters (never a comma). */
void scram_nonce(struct buf *nonce)
{
	unsigned char rnd[18];
	if (opt.scram_nonce) {
		buf_str(nonce, opt.scram_nonce);
		return;
	}
	if (RAND_bytes(rnd, sizeof rnd) != 1)
		die_ssl("RAND_bytes", NULL);
	b64_add(nonce, rnd, sizeof rnd);
}

/* RFC 5802 (RFC 7677 for SHA-256), server side: client-first ->
 * server-first -> client-final, checked by its proof -> "v=" the server
 * signature as a last challenge, which the client answers empty. The
 * password is used as given: no SASLprep. */
enum sasl_rc mech_scram(struct session *s, const struct arg *ir,
			       const EVP_MD *md)
{
	struct buf cfirst = { 0 }, sfirst = { 0 }, cfinal = { 0 }, user = { 0 };
	struct buf authz = { 0 }, salt = { 0 }, am = { 0 }, tmp = { 0 };
	struct {
		unsigned char salted[EVP_MAX_MD_SIZE], client_key[EVP_MAX_MD_SIZE];
		unsigned char stored_key[EVP_MAX_MD_SIZE], client_sig[EVP_MAX_MD_SIZE];
		unsigned char recovered[EVP_MAX_MD_SIZE], server_key[EVP_MAX_MD_SIZE];
		unsigned char server_sig[EVP_MAX_MD_SIZE], check[EVP_MAX_MD_SIZE];
	} k;
	struct buf last = { 0 };
	size_t hlen = (size_t)EVP_MD_get_size(md), nonce_len;
	unsigned dlen;
	struct arg name, cnonce, cb, rnonce;
	const char *p, *end, *q, *comma, *bare, *proof = NULL;
	bool user_ok;

	enum sasl_rc rc = sasl_first(s, ir, &cfirst);
	if (rc != A_OK)
		goto out;
	rc = A_MALFORMED;
	p = cfirst.p;
	end = p + cfirst.len;
	/* gs2-header: "n" or "y" (no channel binding here: "p=" is refused),
	 * ",", an optional "a=" authzid, ",". */
	if (cfirst.len < 3 || memchr(p, '\0', cfirst.len) ||
	    (p[0] != 'n' && p[0] != 'y') || p[1] != ',')
		goto out;
	comma = memchr(p + 2, ',', (size_t)(end - p - 2));
	if (!comma)
		goto out;
	bare = comma + 1;
	if (comma > p + 2) {
		struct arg a = { p + 4, (size_t)(comma - p - 4) };
		if (comma - p < 5 || p[2] != 'a' || p[3] != '=' ||
		    !scram_unescape(a, &authz))
			goto out;
	}
	q = bare;
	if (!scram_attr(&q, end, 'n', &name) || !scram_attr(&q, end, 'r', &cnonce) ||
	    !scram_unescape(name, &user))
		goto out;
	for (size_t i = 0; i < cnonce.n; i++)
		if (cnonce.p[i] < 0x21 || cnonce.p[i] > 0x7e)
			goto out;
	user_ok = same(user.p, user.len, opt.user) &&
		(authz.len == 0 || same(authz.p, authz.len, opt.user));

	buf_str(&sfirst, "r=");
	buf_add(&sfirst, cnonce.p, cnonce.n);
	scram_nonce(&sfirst);
	nonce_len = sfirst.len - 2;
	buf_str(&sfirst, ",s=");
	scram_salt(&salt);
	b64_add(&sfirst, salt.p, salt.len);
	buf_fmt(&sfirst, ",i=%d", SCRAM_ITER);
	if ((rc = sasl_step(s, sfirst.p, sfirst.len, &cfinal)) != A_OK)
		goto out;

	/* client-final: "c=" base64(gs2-header) ",r=" nonce [extensions]
	 * ",p=" proof, the proof last. */
	rc = A_MALFORMED;
	p = cfinal.p;
	end = p + cfinal.len;
	for (const char *x = end; x - p >= 3; x--)
		if (x[-3] == ',' && x[-2] == 'p' && x[-1] == '=') {
			proof = x;
			break;
		}
	if (!proof || memchr(p, '\0', cfinal.len))
		goto out;
	q = p;
	tmp.len = 0;
	b64_add(&tmp, cfirst.p, (size_t)(bare - cfirst.p));
	if (!scram_attr(&q, proof - 3, 'c', &cb) || !same_buf(cb.p, cb.n, &tmp) ||
	    !scram_attr(&q, proof - 3, 'r', &rnonce) || rnonce.n != nonce_len ||
	    memcmp(rnonce.p, sfirst.p + 2, nonce_len) != 0)
		goto out;
	tmp.len = 0;
	if (!b64_decode(proof, (size_t)(end - proof), &tmp) || tmp.len != hlen)
		goto out;

	/* AuthMessage = client-first-bare "," server-first ","
	 * client-final-without-proof */
	buf_add(&am, bare, (size_t)(cfirst.p + cfirst.len - bare));
	buf_str(&am, ",");
	buf_add(&am, sfirst.p, sfirst.len);
	buf_str(&am, ",");
	buf_add(&am, p, (size_t)(proof - 3 - p));

	if (PKCS5_PBKDF2_HMAC(opt.pass, (int)strlen(opt.pass),
			      (const unsigned char *)salt.p, (int)salt.len,
			      SCRAM_ITER, md, (int)hlen, k.salted) != 1)
		die_ssl("PBKDF2", NULL);
	hmac(md, k.salted, hlen, "Client Key", 10, k.client_key);
	digest(md, k.client_key, hlen, k.stored_key, &dlen);
	hmac(md, k.stored_key, hlen, am.p, am.len, k.client_sig);
	for (size_t i = 0; i < hlen; i++)
		k.recovered[i] = (unsigned char)tmp.p[i] ^ k.client_sig[i];
	digest(md, k.recovered, hlen, k.check, &dlen);
	hmac(md, k.salted, hlen, "Server Key", 10, k.server_key);
	hmac(md, k.server_key, hlen, am.p, am.len, k.server_sig);
	if (!user_ok || memcmp(k.check, k.stored_key, hlen) != 0) {
		rc = A_DENIED;
		goto out;
	}
	/* An outage is reported before the server proves anything. */
	rc = A_OK;
	if (opt.auth_fail_temp)
		goto out;
	if (opt.scram_bad_signature)
		k.server_sig[hlen - 1] ^= 0x01;
	tmp.len = 0;
	buf_str(&tmp, "v=");
	b64_add(&tmp, k.server_sig, hlen);
	rc = sasl_step(s, tmp.p, tmp.len, &last);
	if (rc == A_OK && last.len != 0)
		rc = A_MALFORMED; /* RFC 5034: the answer to the last is empty */
out:
	free(last.p);
	free(cfirst.p);
	free(sfirst.p);
	free(cfinal.p);
	free(user.p);
	free(authz.p);
	free(salt.p);
	free(am.p);
	free(tmp.p);
	return rc;
}

/* Pairs "key=value" each ended by ^A, then one more ^A (RFC 7628's
 * kvpair* kvsep; Google's XOAUTH2 the same). Sets *val to key's value,
 * { NULL, 0 } when absent; false when the list is malformed. */
bool kv_find(const char *p, size_t n, const char *key, struct arg *val)
{
	val->p = NULL;
	val->n = 0;
	while (n > 0) {
		if (n == 1 && *p == '\x01')
			return true;
		const char *sep = memchr(p, '\x01', n);
		const char *eq = memchr(p, '=', n);
		if (!sep || !eq || eq > sep || eq == p)
			return false;
		if (!val->p && same(p, (size_t)(eq - p), key)) {
			val->p = eq + 1;
			val->n = (size_t)(sep - eq - 1);
		}
		n -= (size_t)(sep + 1 - p);
		p = sep + 1;
	}
	return false;
}

bool bearer_ok(struct arg auth)
{
	const char *token = opt.token ? opt.token : opt.pass;
	return auth.p && auth.n > 7 && strncasecmp(auth.p, "Bearer ", 7) == 0 &&
		same(auth.p + 7, auth.n - 7, token);
}

/* A refused token: the error JSON as a challenge, whatever answer to it
 * (RFC 7628 wants ^A, XOAUTH2 clients send an empty line), then -ERR. */
enum sasl_rc oauth_deny(struct session *s)
{
	struct buf in = { 0 };
	enum sasl_rc rc = sasl_step(s, OAUTH_ERROR, strlen(OAUTH_ERROR), &in);
	free(in.p);
	return rc == A_GONE ? A_GONE : A_DENIED;
}

/* "user=" USER ^A "auth=Bearer " TOKEN ^A ^A */
enum sasl_rc mech_xoauth2(struct session *s, const struct arg *ir)
{
	struct buf in = { 0 };
	struct arg user, auth;
	enum sasl_rc rc = sasl_first(s, ir, &in);
	if (rc == A_OK) {
		if (!kv_find(in.p, in.len, "user", &user) || !user.p ||
		    !kv_find(in.p, in.len, "auth", &auth) || !auth.p)
			rc = A_MALFORMED;
		else if (!same(user.p, user.n, opt.user) || !bearer_ok(auth))
			rc = oauth_deny(s);
	}
	free(in.p);
	return rc;
}

/* RFC 7628: gs2-header ("n," or "y,", optional "a=" authzid, ",") ^A
 * then pairs (host=, port=, auth=) and a final ^A. */
enum sasl_rc mech_oauthbearer(struct session *s, const struct arg *ir)
{
	struct buf in = { 0 }, authz = { 0 };
	struct arg auth;
	const char *p, *end, *comma;
	enum sasl_rc rc = sasl_first(s, ir, &in);
	if (rc != A_OK)
		goto out;
	rc = A_MALFORMED;
	p = in.p;
	end = p + in.len;
	if (in.len < 4 || (p[0] != 'n' && p[0] != 'y') || p[1] != ',' ||
	    !(comma = memchr(p + 2, ',', in.len - 2)) || comma + 1 == end ||
	    comma[1] != '\x01')
		goto out;
	if (comma > p + 2) {
		struct arg a = { p + 4, (size_t)(comma - p - 4) };
		if (comma - p < 5 || p[2] != 'a' || p[3] != '=' ||
		    !scram_unescape(a, &authz))
			goto out;
	}
	if (!kv_find(comma + 2, (size_t)(end - comma - 2), "auth", &auth) || !auth.p)
		goto out;
	if ((authz.len && !same(authz.p, authz.len, opt.user)) || !bearer_ok(auth))
		rc = oauth_deny(s);
	else
		rc = A_OK;
out:
	free(in.p);
	free(authz.p);
	return rc;
}

/* RFC 5034: AUTH mechanism [initial-response]. a[] points into the input
 * buffer, which the reads of the exchange reuse: the initial response is
 * decoded before any of them. */
void do_auth(struct session *s, int na, const struct arg *a, struct buf *b)
{
	const struct arg *ir = na == 2 ? &a[1] : NULL;
	size_t i = 0;
	while (i < opt.nlisted && !(strlen(opt.listed[i]) == a[0].n &&
				    strncasecmp(a[0].p, opt.listed[i], a[0].n) == 0))
		i++;
	if (i == opt.nlisted) {
		err_line(b, "unsupported mechanism");
		return;
	}
	/* A server that lies in CAPA: no response code, as the real ones. */
	if (opt.lie[i]) {
		err_line(b, "mechanism not available");
		return;
	}
	enum sasl_rc rc;
	switch (opt.listed_mech[i]) {
	case M_PLAIN:
		rc = mech_plain(s, ir);
		break;
	case M_LOGIN:
		rc = mech_login(s, ir);
		break;
	case M_CRAM_MD5:
		rc = mech_cram_md5(s, ir);
		break;
	case M_SCRAM_SHA_1:
		rc = mech_scram(s, ir, EVP_sha1());
		break;
	case M_SCRAM_SHA_256:
		rc = mech_scram(s, ir, EVP_sha256());
		break;
	case M_XOAUTH2:
		rc = mech_xoauth2(s, ir);
		break;
	default:
		rc = mech_oauthbearer(s, ir);
		break;
	}
	switch (rc) {
	case A_OK:
	case A_DENIED:
		finish_login(s, rc == A_OK, denied_text, b);
		break;
	case A_CANCEL:
		err_line(b, "authentication cancelled");
		break;
	case A_MALFORMED:
		err_line(b, "malformed SASL response");
		break;
	case A_GONE:
		s->closed = true;
		break;
	}
}

/* RFC 1939: APOP name digest, the digest MD5(timestamp password) in
 * lower-case hex. */
void do_apop(struct session *s, const struct arg *a, struct buf *b)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned len;
	struct buf in = { 0 }, want = { 0 };
	buf_str(&in, s->stamp);
	buf_str(&in, opt.pass);
	digest(EVP_md5(), in.p, in.len, md, &len);
	hex_add(&want, md, len);
	/* A timestamp in the greeting, but no APOP secret for the user
	 * (Cyrus with saslauthd, Mailutils' default, solid-pop3d). */
	finish_login(s, !opt.apop_no_secret && same(a[0].p, a[0].n, opt.user) &&
		     same_buf(a[1].p, a[1].n, &want), opt.apop_no_secret ?
		     "[AUTH] authentication failed" : denied_text, b);
	free(in.p);
	free(want.p);
}

