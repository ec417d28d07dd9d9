/* SPDX-License-Identifier: ISC */
/* testpop3d: errors, buffers, and the I/O layer every session uses. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "testpop3d.h"

noreturn void die(const char *what)
{
	fprintf(stderr, "testpop3d: %s: %s\n", what, strerror(errno));
	exit(1);
}

noreturn void die_ssl(const char *what, const char *arg)
{
	fprintf(stderr, "testpop3d: %s%s%s\n", what, arg ? ": " : "", arg ? arg : "");
	ERR_print_errors_fp(stderr);
	exit(1);
}

noreturn void usage_error(const char *msg, const char *arg)
{
	fprintf(stderr, "testpop3d: %s%s%s\n", msg, arg ? ": " : "", arg ? arg : "");
	fputs("usage: testpop3d [options] MAILDROP_DIR (see --help)\n", stderr);
	exit(2);
}

void buf_add(struct buf *b, const void *data, size_t n)
{
	if (n == 0)
		return; /* memcpy from a NULL buffer is undefined even for 0 */
	if (n > SIZE_MAX / 4 - b->len) {
		errno = ENOMEM;
		die("buffer");
	}
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (!p)
			die("realloc");
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
}

void buf_str(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

void buf_fmt(struct buf *b, const char *fmt, ...)
{
	/* Only for numbers and fixed text; client bytes go through buf_add
	 * so that NULs survive. */
	char tmp[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof tmp) {
		errno = EOVERFLOW;
		die("buf_fmt");
	}
	buf_add(b, tmp, (size_t)n);
}

char *path_join(const char *dir, const char *name)
{
	struct buf b = { 0 };
	buf_str(&b, dir);
	buf_str(&b, "/");
	buf_add(&b, name, strlen(name) + 1);
	return b.p;
}

void check_parent(void)
{
	/* A test script can die without running its cleanup trap; being
	 * reparented is the only sign of that the server can see. */
	if (watched_parent != 0 && getppid() != watched_parent) {
		fputs("testpop3d: parent went away, exiting\n", stderr);
		exit(1);
	}
}

void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* Polls in slices of at most a second so that a server blocked on a
 * silent client still notices its parent is gone. Returns 1 when ready
 * (or hung up), 0 on timeout, -1 on error; timeout_ms < 0 waits forever. */
int wait_fd(int fd, short events, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = events };
	for (;;) {
		int slice = timeout_ms >= 0 && timeout_ms < 1000 ? timeout_ms : 1000;
		int r = poll(&p, 1, slice);
		if (r > 0)
			return 1;
		if (r < 0 && errno != EINTR)
			return -1;
		check_parent();
		if (r == 0 && timeout_ms >= 0 && (timeout_ms -= slice) <= 0)
			return 0;
	}
}

int wait_readable(int fd, int timeout_ms)
{
	return wait_fd(fd, POLLIN, timeout_ms);
}

void log_bytes(const char *p, size_t n)
{
	/* Tests read this file while the server runs: flush every line. */
	if (logfp && ((n > 0 && fwrite(p, 1, n, logfp) != n) ||
		      putc('\n', logfp) == EOF || fflush(logfp) != 0))
		die(opt.log_file);
}

/* ---- The I/O layer: everything a session reads or writes goes through
 * io_read and send_all, over TLS once s->ssl is set. With TLS the socket
 * is non-blocking, so that waiting is done here, in slices (wait_fd). */

/* After an SSL call returned ret: waits for what it wants and returns 0 to
 * call it again, or -1 when the connection is finished (a TLS failure
 * marks it broken: no close_notify is sent after one). */
int ssl_wait(struct session *s, int ret)
{
	switch (SSL_get_error(s->ssl, ret)) {
	case SSL_ERROR_WANT_READ:
		return wait_fd(s->rfd, POLLIN, -1) < 0 ? -1 : 0;
	case SSL_ERROR_WANT_WRITE:
		return wait_fd(s->wfd, POLLOUT, -1) < 0 ? -1 : 0;
	case SSL_ERROR_ZERO_RETURN:
		return -1;
	default:
		s->tls_broken = true;
		return -1;
	}
}

/* Returns the number of bytes read, 0 at EOF, -1 on an error. */
ssize_t io_read(struct session *s, char *p, size_t n)
{
	int cap = n > INT_MAX ? INT_MAX : (int)n;
	if (s->closed)
		return -1;
	for (;;) {
		if (!s->ssl) {
			if (wait_readable(s->rfd, -1) < 0)
				return -1;
			ssize_t got = read(s->rfd, p, n);
			if (got < 0 && errno == EINTR)
				continue;
			return got;
		}
		ERR_clear_error();
		int got = SSL_read(s->ssl, p, cap);
		if (got > 0)
			return got;
		if (SSL_get_error(s->ssl, got) == SSL_ERROR_ZERO_RETURN)
			return 0;
		if (ssl_wait(s, got) != 0)
			return -1;
	}
}

/* Returns the number of bytes written (at least 1), or -1. */
ssize_t io_write(struct session *s, const char *p, size_t n)
{
	int cap = n > INT_MAX ? INT_MAX : (int)n;
	for (;;) {
		if (!s->ssl) {
			/* SIGPIPE is ignored: a pipe's write fails
			 * with EPIPE as a socket's send does. */
			ssize_t w = s->wsock ? send(s->wfd, p, n, MSG_NOSIGNAL)
					     : write(s->wfd, p, n);
			if (w < 0 && errno == EINTR)
				continue;
			return w;
		}
		ERR_clear_error();
		int w = SSL_write(s->ssl, p, cap);
		if (w > 0)
			return w;
		if (ssl_wait(s, w) != 0)
			return -1;
	}
}

/* A failed write closes the session: nothing more is sent. */
int send_all(struct session *s, const char *p, size_t n)
{
	size_t chunk = opt.trickle_ms > 0 ? 1 : n;
	if (s->closed)
		return -1;
	while (n > 0) {
		/* One byte per TLS record when trickling. */
		ssize_t w = io_write(s, p, n < chunk ? n : chunk);
		if (w <= 0) {
			s->closed = true;
			return -1;
		}
		p += w;
		n -= (size_t)w;
		if (opt.trickle_ms > 0)
			sleep_ms(opt.trickle_ms);
	}
	return 0;
}

/* Reads and discards input until EOF, an error or, when budget_ms >= 0,
 * that many milliseconds of silence. Raw reads: what comes over TLS now
 * is not worth decrypting. */
void drain(int fd, int budget_ms)
{
	char tmp[512];
	for (;;) {
		int r = wait_readable(fd, budget_ms < 0 ? -1 : 100);
		if (r == 0 && (budget_ms -= 100) > 0)
			continue;
		ssize_t n = r > 0 ? read(fd, tmp, sizeof tmp) : 0;
		if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
			break;
	}
}

/* The TLS server handshake on the session's socket. Returns 0 with TLS
 * up, or -1 with the reason in the log and the session to be closed. */
int tls_start(struct session *s)
{
	int fds[2] = { s->rfd, s->wfd };
	for (int i = 0; i < 2; i++) {
		int fl = fcntl(fds[i], F_GETFL);
		if (fl < 0 || fcntl(fds[i], F_SETFL, fl | O_NONBLOCK) < 0)
			die("fcntl");
	}
	if (!(s->ssl = SSL_new(tls_ctx)) || SSL_set_rfd(s->ssl, s->rfd) != 1 ||
	    SSL_set_wfd(s->ssl, s->wfd) != 1)
		die_ssl("SSL_new", NULL);
	for (;;) {
		ERR_clear_error();
		int r = SSL_accept(s->ssl);
		if (r == 1)
			return 0;
		int e = SSL_get_error(s->ssl, r);
		unsigned long code = ERR_peek_error();
		if (ssl_wait(s, r) == 0)
			continue;
		char why[256];
		if (code != 0)
			ERR_error_string_n(code, why, sizeof why);
		else
			snprintf(why, sizeof why, "%s", e == SSL_ERROR_SYSCALL ?
				 "connection closed" : "failed");
		struct buf b = { 0 };
		buf_str(&b, "-- TLS handshake failed: ");
		buf_str(&b, why);
		long v = SSL_get_verify_result(s->ssl);
		if (v != X509_V_OK) {
			buf_str(&b, " (");
			buf_str(&b, X509_verify_cert_error_string(v));
			buf_str(&b, ")");
		}
		log_bytes(b.p, b.len);
		free(b.p);
		s->tls_broken = s->closed = true;
		return -1;
	}
}

const char *eol(void)
{
	return opt.bare_lf ? "\n" : "\r\n";
}

/* fields: data a client parses (may be NULL); text: for humans, sent only
 * with --extra-text unless always_text. */
void ok_line(struct buf *b, const struct buf *fields, const char *text,
		    bool always_text)
{
	bool show_text = text && *text && !opt.bare_plus &&
		(always_text || opt.extra_text);
	bool have_fields = fields && fields->len > 0;
	buf_str(b, opt.bare_plus ? "+" : opt.lowercase ? "+ok" : "+OK");
	if (opt.tabs)
		buf_str(b, "\t");
	else if (have_fields || show_text)
		buf_str(b, " ");
	if (have_fields)
		buf_add(b, fields->p, fields->len);
	if (have_fields && show_text)
		buf_str(b, " ");
	if (show_text)
		buf_str(b, text);
	buf_str(b, eol());
}

void err_line(struct buf *b, const char *text)
{
	buf_str(b, opt.lowercase ? "-err " : "-ERR ");
	buf_str(b, text);
	buf_str(b, eol());
}

/* Message indexes below are 0-based: message number - 1. */
