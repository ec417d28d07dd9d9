/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "log.h"
#include "tls.h"
#include "util.h"
#include "xmalloc.h"

/*
 * Records are read through our own BIO over the fd with a large buffer:
 * one read(2) brings in as many records as the socket holds, and OpenSSL's
 * small reads (a 5-byte header, then the record) are served from it. Unlike
 * OpenSSL's read-ahead, the bytes it holds are visible to us (tls_buffered),
 * and it can be told not to touch the socket (nosys), so that tls_read
 * decrypts every complete record already read without a system call that
 * would only say EAGAIN.
 */
#define TLS_RBUFSZ	(128 * 1024)

struct tls {
	SSL_CTX	*ctx;
	SSL	*ssl;
	int	 fd;
	int	 nosys;		/* serve reads from rbuf only */
	int	 eof;		/* read(2) returned 0 */
	int	 deferred;	/* a read failure held back for the next call */
	ssize_t	 deferred_rc;	/* its result: 0 (closed) or -1 */
	char	*rbuf;
	size_t	 rstart, rend;
	char	 error[512];
};

static BIO_METHOD *fdbuf_method;

/*
 * After a failed handshake: a POP3 status line the server sent in the
 * clear (a plaintext greeting on a port we took for implicit TLS, or the
 * -ERR some servers send after aborting STLS), sanitized into out, or "".
 * Waits a moment for it, at most a fifth of a second.
 */
static void
plaintext_reply(struct tls *t, int timeout_ms, char *out, size_t outsz)
{
	struct pollfd pfd = { .fd = t->fd, .events = POLLIN };
	char *p, *end, *line;
	ssize_t n;
	int waited = 0, wait = timeout_ms < 200 ? timeout_ms : 200;

	out[0] = '\0';
	while (t->rend < TLS_RBUFSZ && !t->eof && waited < wait &&
	    poll(&pfd, 1, 20) >= 0) {
		waited += 20;
		if (!(pfd.revents & (POLLIN | POLLHUP)))
			continue;
		n = read(t->fd, t->rbuf + t->rend, TLS_RBUFSZ - t->rend);
		if (n <= 0)
			break;
		t->rend += (size_t)n;
	}
	end = t->rbuf + t->rend;
	for (p = t->rbuf; p < end; p++) {
		/* "-ERR" may follow an alert record directly. */
		if ((end - p >= 5 && memcmp(p, "-ERR ", 5) == 0) ||
		    ((p == t->rbuf || p[-1] == '\n') && end - p >= 3 &&
		    memcmp(p, "+OK", 3) == 0)) {
			for (line = p; p < end && *p != '\r' && *p != '\n'; p++)
				;
			log_sanitize(out, outsz, line, (size_t)(p - line));
			return;
		}
	}
}

static int
fdbuf_read(BIO *b, char *out, size_t len, size_t *done)
{
	struct tls *t = BIO_get_data(b);
	ssize_t n;

	BIO_clear_retry_flags(b);
	*done = 0;
	if (t->rstart == t->rend) {
		if (t->nosys) {
			BIO_set_retry_read(b);
			return 0;
		}
		t->rstart = t->rend = 0;
		do
			n = read(t->fd, t->rbuf, TLS_RBUFSZ);
		while (n == -1 && errno == EINTR);
		if (n == 0) {
			t->eof = 1;
			return 0;
		}
		if (n == -1) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				BIO_set_retry_read(b);
			return 0;
		}
		t->rend = (size_t)n;
	}
	if (len > t->rend - t->rstart)
		len = t->rend - t->rstart;
	memcpy(out, t->rbuf + t->rstart, len);
	t->rstart += len;
	*done = len;
	return 1;
}

static int
fdbuf_write(BIO *b, const char *buf, size_t len, size_t *done)
{
	struct tls *t = BIO_get_data(b);
	ssize_t n;

	BIO_clear_retry_flags(b);
	*done = 0;
	do
		n = write(t->fd, buf, len);
	while (n == -1 && errno == EINTR);
	if (n == -1) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			BIO_set_retry_write(b);
		return 0;
	}
	*done = (size_t)n;
	return 1;
}

static long
fdbuf_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	struct tls *t = BIO_get_data(b);

	switch (cmd) {
	case BIO_CTRL_FLUSH:
		return 1;
	case BIO_CTRL_PENDING:
		return (long)(t->rend - t->rstart);
	case BIO_CTRL_EOF:
		/* As the socket BIO: an EOF cut a record short. */
		return t->eof;
	default:
		return 0;
	}
}

static BIO *
fdbuf_new(struct tls *t)
{
	BIO *b;

	if (fdbuf_method == NULL) {
		fdbuf_method = BIO_meth_new(BIO_get_new_index() |
		    BIO_TYPE_SOURCE_SINK, "popfetch fd buffer");
		if (fdbuf_method == NULL ||
		    BIO_meth_set_read_ex(fdbuf_method, fdbuf_read) != 1 ||
		    BIO_meth_set_write_ex(fdbuf_method, fdbuf_write) != 1 ||
		    BIO_meth_set_ctrl(fdbuf_method, fdbuf_ctrl) != 1)
			return NULL;
	}
	if ((b = BIO_new(fdbuf_method)) == NULL)
		return NULL;
	BIO_set_data(b, t);
	BIO_set_init(b, 1);
	return b;
}

/* The most useful words OpenSSL has about the last failure. */
static void
ssl_reason(char *buf, size_t sz)
{
	unsigned long e = ERR_peek_last_error();

	if (e == 0)
		snprintf(buf, sz, "%s", errno ? strerror(errno) : "no details");
	else
		ERR_error_string_n(e, buf, sz);
	ERR_clear_error();
}

int
tls_parse_fingerprint(const char *s, unsigned char out[32])
{
	size_t n = 0;
	int hi = -1, v;

	/* The forms people paste: "sha256:HEX", bare hex, colon-separated
	 * pairs, "SHA256 Fingerprint=AB:CD:..." (openssl x509 -fingerprint),
	 * "SHA256: AB:CD:..." (mpop). */
	while (*s == ' ' || *s == '\t')
		s++;
	if (strncasecmp(s, "sha256", 6) == 0) {
		s += 6;
		if (strncasecmp(s, " fingerprint", 12) == 0)
			s += 12;
		if (*s != ':' && *s != '=')
			return -1;
		for (s++; *s == ' ' || *s == '\t'; s++)
			;
	}
	for (; *s != '\0'; s++) {
		if (*s == ':')
			continue;
		if ((*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r') &&
		    s[strspn(s, " \t\r\n")] == '\0')
			break;
		if (*s >= '0' && *s <= '9')
			v = *s - '0';
		else if (*s >= 'a' && *s <= 'f')
			v = *s - 'a' + 10;
		else if (*s >= 'A' && *s <= 'F')
			v = *s - 'A' + 10;
		else
			return -1;
		if (hi == -1)
			hi = v;
		else {
			if (n == 32)
				return -1;
			out[n++] = (unsigned char)(hi << 4 | v);
			hi = -1;
		}
	}
	return n == 32 && hi == -1 ? 0 : -1;
}

static int
cert_sha256(X509 *cert, unsigned char md[32])
{
	unsigned int len = 0;

	return X509_digest(cert, EVP_sha256(), md, &len) == 1 && len == 32 ?
	    0 : -1;
}

/* 0 when the fd is ready; -1 after the idle timeout; -2 at the deadline. */
static int
wait_fd(int fd, int want, int timeout_ms, int64_t deadline_ms)
{
	struct pollfd pfd = { .fd = fd };
	int64_t wait, left;
	int n;

	pfd.events = want == TLS_WANT_WRITE ? POLLOUT : POLLIN;
	do {
		wait = timeout_ms;
		if (deadline_ms != 0) {
			if ((left = deadline_ms - now_ms()) <= 0)
				return -2;
			if (left < wait)
				wait = left;
		}
		n = poll(&pfd, 1, (int)wait);
	} while (n == -1 && errno == EINTR);
	if (n > 0)
		return 0;
	return deadline_ms != 0 && now_ms() >= deadline_ms ? -2 : -1;
}

static int
is_ip(const char *host)
{
	unsigned char buf[16];

	return inet_pton(AF_INET, host, buf) == 1 ||
	    inet_pton(AF_INET6, host, buf) == 1;
}

struct tls *
tls_connect(int fd, const char *host, const struct tls_config *cfg,
    int timeout_ms, int64_t deadline_ms, char **errstr)
{
	struct tls *t = xcalloc(1, sizeof *t);
	unsigned char pin[32], got[32];
	char reason[256];
	X509 *peer = NULL;
	BIO *bio;
	long vr;
	int rc, err, want;

	t->fd = fd;
	t->rbuf = xmalloc(TLS_RBUFSZ);
	ERR_clear_error();
	t->ctx = SSL_CTX_new(TLS_client_method());
	if (t->ctx == NULL)
		goto sslfail;
	SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION);
	if (cfg->fingerprint != NULL &&
	    tls_parse_fingerprint(cfg->fingerprint, pin) == -1) {
		*errstr = xasprintf("bad --tls-fingerprint \"%s\": expected "
		    "64 hex digits (sha256:HEX, AB:CD:...)", cfg->fingerprint);
		goto fail;
	}
	if (cfg->trust_file != NULL) {
		if (SSL_CTX_load_verify_locations(t->ctx, cfg->trust_file,
		    NULL) != 1) {
			ssl_reason(reason, sizeof reason);
			*errstr = xasprintf("cannot load the trust file %s: %s",
			    cfg->trust_file, reason);
			goto fail;
		}
	} else if (SSL_CTX_set_default_verify_paths(t->ctx) != 1)
		goto sslfail;
	/* A pin replaces the CA check: the fingerprint is checked below. */
	SSL_CTX_set_verify(t->ctx, cfg->fingerprint != NULL || cfg->no_verify ?
	    SSL_VERIFY_NONE : SSL_VERIFY_PEER, NULL);
	if (cfg->cert_file != NULL) {
		const char *key = cfg->key_file ? cfg->key_file : cfg->cert_file;

		if (SSL_CTX_use_certificate_chain_file(t->ctx, cfg->cert_file)
		    != 1 || SSL_CTX_use_PrivateKey_file(t->ctx, key,
		    SSL_FILETYPE_PEM) != 1 ||
		    SSL_CTX_check_private_key(t->ctx) != 1) {
			ssl_reason(reason, sizeof reason);
			*errstr = xasprintf("cannot use the client certificate "
			    "%s with key %s: %s", cfg->cert_file, key, reason);
			goto fail;
		}
	}
	if ((t->ssl = SSL_new(t->ctx)) == NULL || (bio = fdbuf_new(t)) == NULL)
		goto sslfail;
	SSL_set_bio(t->ssl, bio, bio);
	if (!is_ip(host))
		SSL_set_tlsext_host_name(t->ssl, host);
	if (cfg->fingerprint == NULL && !cfg->no_verify) {
		X509_VERIFY_PARAM *vp = SSL_get0_param(t->ssl);

		if (is_ip(host) ? X509_VERIFY_PARAM_set1_ip_asc(vp, host) != 1 :
		    SSL_set1_host(t->ssl, host) != 1)
			goto sslfail;
	}
	for (;;) {
		ERR_clear_error();
		errno = 0;
		if ((rc = SSL_connect(t->ssl)) == 1)
			break;
		err = SSL_get_error(t->ssl, rc);
		want = err == SSL_ERROR_WANT_READ ? TLS_WANT_READ :
		    err == SSL_ERROR_WANT_WRITE ? TLS_WANT_WRITE : 0;
		if (want != 0) {
			if ((rc = wait_fd(fd, want, timeout_ms,
			    deadline_ms)) != 0) {
				*errstr = xasprintf("TLS handshake with %s timed "
				    "out%s", host, rc == -2 ? " (the session time "
				    "limit, --session-timeout)" : "");
				goto fail;
			}
			continue;
		}
		vr = SSL_get_verify_result(t->ssl);
		if (vr == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT ||
		    vr == X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN)
			*errstr = xasprintf("the certificate of %s is not "
			    "trusted: %s; if it is the server's own, pin it: "
			    "popfetch --server-info shows the fingerprint for "
			    "--tls-fingerprint (or give its CA with "
			    "--tls-trust-file)", host,
			    X509_verify_cert_error_string(vr));
		else if (vr != X509_V_OK)
			*errstr = xasprintf("the certificate of %s is not "
			    "trusted: %s", host,
			    X509_verify_cert_error_string(vr));
		else {
			char said[256];

			ssl_reason(reason, sizeof reason);
			plaintext_reply(t, timeout_ms, said, sizeof said);
			if (said[0] == '+')
				*errstr = xasprintf("TLS handshake with %s failed: "
				    "the server answered in plaintext (\"%s\"): it "
				    "does not speak TLS from the first byte on this "
				    "port; use --tls=starttls (port 110)", host,
				    said);
			else if (said[0] != '\0')
				*errstr = xasprintf("TLS handshake with %s failed; "
				    "the server said \"%s\"", host, said);
			else
				*errstr = xasprintf("TLS handshake with %s failed: "
				    "%s", host, err == SSL_ERROR_SYSCALL &&
				    errno == 0 ? "connection closed" : reason);
		}
		goto fail;
	}
	if (cfg->fingerprint != NULL) {
		peer = SSL_get1_peer_certificate(t->ssl);
		if (peer == NULL || cert_sha256(peer, got) == -1 ||
		    CRYPTO_memcmp(pin, got, 32) != 0) {
			*errstr = xasprintf("the certificate of %s does not "
			    "match the pinned fingerprint (--server-info shows "
			    "the one it has)", host);
			X509_free(peer);
			goto fail;
		}
		X509_free(peer);
	}
	return t;
sslfail:
	ssl_reason(reason, sizeof reason);
	*errstr = xasprintf("TLS setup failed: %s", reason);
fail:
	tls_free(t);
	return NULL;
}

/* The result of SSL_read or SSL_write: bytes, 0 at the end, or -1 with
 * *want set when the call must be repeated once the fd is ready. */
static ssize_t
io_result(struct tls *t, int rc, int *want, int reading)
{
	int err;

	*want = 0;
	if (rc > 0)
		return rc;
	err = SSL_get_error(t->ssl, rc);
	if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
		*want = err == SSL_ERROR_WANT_READ ? TLS_WANT_READ :
		    TLS_WANT_WRITE;
		return -1;
	}
	if (reading && err == SSL_ERROR_ZERO_RETURN)
		return 0;
	/* A close without close_notify: a truncation attack or a rude
	 * server; the caller treats it as a dropped connection. */
	if (reading && err == SSL_ERROR_SYSCALL && errno == 0)
		return 0;
	ssl_reason(t->error, sizeof t->error);
	return -1;
}

/*
 * One SSL_read returns at most one record. The first may read the socket;
 * the rest only decrypt what is already buffered, and stop where the buffer
 * holds no complete record. A close or failure met after some bytes is
 * held back and returned by the next call, after those bytes are used.
 */
ssize_t
tls_read(struct tls *t, void *buf, size_t n, int *want)
{
	size_t got = 0;
	ssize_t r;
	int rc, err, w;

	*want = 0;
	if (t->deferred)
		return t->deferred_rc;
	if (n > INT32_MAX)
		n = INT32_MAX;
	for (;;) {
		ERR_clear_error();
		errno = 0;
		rc = SSL_read(t->ssl, (char *)buf + got, (int)(n - got));
		if (rc <= 0)
			break;
		got += (size_t)rc;
		if (got == n)
			break;
		t->nosys = 1;
	}
	t->nosys = 0;
	if (got == 0)
		return io_result(t, rc, want, 1);
	if (rc <= 0) {
		err = SSL_get_error(t->ssl, rc);
		if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
			r = io_result(t, rc, &w, 1);
			t->deferred = 1;
			t->deferred_rc = r;
		}
	}
	ERR_clear_error();
	return (ssize_t)got;
}

ssize_t
tls_write(struct tls *t, const void *buf, size_t n, int *want)
{
	ERR_clear_error();
	errno = 0;
	return io_result(t, SSL_write(t->ssl, buf, n > INT32_MAX ? INT32_MAX :
	    (int)n), want, 0);
}

int
tls_buffered(struct tls *t)
{
	return t->rstart < t->rend || SSL_has_pending(t->ssl);
}

const char *
tls_error(struct tls *t)
{
	return t->error;
}

void
tls_free(struct tls *t)
{
	if (t == NULL)
		return;
	if (t->ssl != NULL) {
		SSL_shutdown(t->ssl);
		SSL_free(t->ssl);
	}
	SSL_CTX_free(t->ctx);
	free(t->rbuf);
	free(t);
}

static void
name_line(BIO *b, const char *label, const X509_NAME *name)
{
	BIO_printf(b, "%s", label);
	/* Control and 8-bit bytes escaped: a certificate is the server's. */
	X509_NAME_print_ex(b, name, 0, XN_FLAG_ONELINE);
	BIO_printf(b, "\n");
}

char *
tls_describe(struct tls *t)
{
	unsigned char md[32];
	X509 *peer;
	BIO *b;
	char *out, *p;
	long n;
	int i;

	if ((b = BIO_new(BIO_s_mem())) == NULL)
		fatalx("BIO_new");
	BIO_printf(b, "TLS: %s, %s\n", SSL_get_version(t->ssl),
	    SSL_get_cipher_name(t->ssl));
	if ((peer = SSL_get1_peer_certificate(t->ssl)) != NULL) {
		name_line(b, "subject: ", X509_get_subject_name(peer));
		name_line(b, "issuer: ", X509_get_issuer_name(peer));
		BIO_printf(b, "valid from: ");
		ASN1_TIME_print(b, X509_get0_notBefore(peer));
		BIO_printf(b, "\nvalid until: ");
		ASN1_TIME_print(b, X509_get0_notAfter(peer));
		BIO_printf(b, "\nfingerprint: sha256:");
		if (cert_sha256(peer, md) == 0)
			for (i = 0; i < 32; i++)
				BIO_printf(b, "%02X%s", md[i], i < 31 ? ":" : "");
		BIO_printf(b, "\nverification: %s\n",
		    X509_verify_cert_error_string(SSL_get_verify_result(
		    t->ssl)));
		X509_free(peer);
	}
	n = BIO_get_mem_data(b, &p);
	out = xstrndup(p, (size_t)n);
	BIO_free(b);
	return out;
}
