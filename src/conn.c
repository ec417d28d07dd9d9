/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conn.h"
#include "log.h"
#include "util.h"
#include "xmalloc.h"

/* Big enough that a body streams in few syscalls, small enough to not
 * matter; a status line longer than this is hostile anyway. */
#define CONN_BUFSZ	CONN_MAXPEEK

struct conn {
	int	 fd;
	int	 timeout_ms;
	int64_t	 deadline;
	int	 trace;
	int	 err_no;
	struct tls *tls;
	char	*buf;
	size_t	 start;		/* first unread byte */
	size_t	 end;		/* one past the last buffered byte */
	char	*out;		/* queued commands, not yet written */
	size_t	 outlen, outsize;
	char	 errbuf[160];
};

struct conn *
conn_new(int fd, int timeout_ms)
{
	struct conn *c = xcalloc(1, sizeof *c);
	int fl;

	c->fd = fd;
	c->timeout_ms = timeout_ms;
	c->buf = xmalloc(CONN_BUFSZ);
	fl = fcntl(fd, F_GETFL);
	if (fl != -1)
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	return c;
}

void
conn_free(struct conn *c)
{
	if (c == NULL)
		return;
	tls_free(c->tls);
	close(c->fd);
	free(c->buf);
	free(c->out);
	free(c);
}

void
conn_set_deadline(struct conn *c, int64_t deadline_ms)
{
	c->deadline = deadline_ms;
}

void
conn_set_trace(struct conn *c, int on)
{
	c->trace = on;
}

int
conn_trace(const struct conn *c)
{
	return c->trace;
}

/* Waits for the fd; the wait is the idle timeout, shortened by a deadline. */
static enum conn_err
conn_wait(struct conn *c, short events)
{
	struct pollfd pfd = { .fd = c->fd, .events = events };
	int64_t wait = c->timeout_ms, left;
	int n;

	for (;;) {
		if (c->deadline != 0) {
			left = c->deadline - now_ms();
			if (left <= 0)
				return CONN_TIMEOUT;
			if (left < wait)
				wait = left;
		}
		n = poll(&pfd, 1, (int)wait);
		if (n > 0)
			return CONN_OK;
		if (n == 0)
			return CONN_TIMEOUT;
		if (errno != EINTR) {
			c->err_no = errno;
			return CONN_IO;
		}
	}
}

/*
 * Reads what the socket has, as much as fits. Unread bytes (a partial line,
 * the start of the next reply) move to the front first, so every read may
 * fill most of the buffer. Queued commands go out before we wait: a reply
 * is never awaited while the command it answers sits in our buffer.
 */
static enum conn_err
conn_fill(struct conn *c)
{
	enum conn_err e;
	ssize_t n;

	if (c->start == c->end)
		c->start = c->end = 0;
	else if (c->start > 0) {
		memmove(c->buf, c->buf + c->start, c->end - c->start);
		c->end -= c->start;
		c->start = 0;
	}
	if (c->end == CONN_BUFSZ)
		return CONN_TOOLONG;
	for (;;) {
		if (c->tls != NULL) {
			int want;

			n = tls_read(c->tls, c->buf + c->end, CONN_BUFSZ - c->end,
			    &want);
			if (n > 0) {
				c->end += (size_t)n;
				return CONN_OK;
			}
			if (n == 0)
				return CONN_EOF;
			if (want == 0)
				return CONN_TLS;
			if ((e = conn_flush(c)) != CONN_OK)
				return e;
			if ((e = conn_wait(c, want == TLS_WANT_WRITE ? POLLOUT :
			    POLLIN)) != CONN_OK)
				return e;
			continue;
		}
		n = read(c->fd, c->buf + c->end, CONN_BUFSZ - c->end);
		if (n > 0) {
			c->end += (size_t)n;
			return CONN_OK;
		}
		if (n == 0)
			return CONN_EOF;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			c->err_no = errno;
			return CONN_IO;
		}
		if ((e = conn_flush(c)) != CONN_OK)
			return e;
		if ((e = conn_wait(c, POLLIN)) != CONN_OK)
			return e;
	}
}

static void
trace_line(const char *dir, const char *p, size_t len)
{
	char buf[1024];

	fprintf(stderr, "%s%s\n", dir, log_sanitize(buf, sizeof buf, p, len));
}

enum conn_err
conn_getline(struct conn *c, const char **line, size_t *len, size_t max)
{
	size_t scanned = 0, n;
	enum conn_err e;
	char *nl;

	if (max > CONN_BUFSZ - 2)
		max = CONN_BUFSZ - 2;
	for (;;) {
		nl = memchr(c->buf + c->start + scanned, '\n',
		    c->end - c->start - scanned);
		if (nl != NULL)
			break;
		scanned = c->end - c->start;
		if (scanned > max + 1)
			return CONN_TOOLONG;
		if ((e = conn_fill(c)) != CONN_OK)
			return e;
	}
	n = (size_t)(nl - (c->buf + c->start));
	*line = c->buf + c->start;
	c->start += n + 1;
	if (n > 0 && (*line)[n - 1] == '\r')
		n--;
	if (n > max)
		return CONN_TOOLONG;
	*len = n;
	if (c->trace)
		trace_line("S: ", *line, n);
	return CONN_OK;
}

enum conn_err
conn_peek(struct conn *c, const char **p, size_t *len)
{
	enum conn_err e;

	if (c->start == c->end && (e = conn_fill(c)) != CONN_OK)
		return e;
	*p = c->buf + c->start;
	*len = c->end - c->start;
	return CONN_OK;
}

void
conn_consume(struct conn *c, size_t n)
{
	c->start += n;
}

int
conn_starttls(struct conn *c, const char *host, const struct tls_config *cfg,
    char **errstr)
{
	if (c->start < c->end) {
		*errstr = xasprintf("the server sent data before the TLS "
		    "handshake; refusing it (STARTTLS injection)");
		return -1;
	}
	c->tls = tls_connect(c->fd, host, cfg, c->timeout_ms, c->deadline,
	    errstr);
	return c->tls != NULL ? 0 : -1;
}

char *
conn_tls_describe(struct conn *c)
{
	return c->tls != NULL ? tls_describe(c->tls) : NULL;
}

/*
 * A readable socket is not enough: under TLS it may hold only protocol
 * records (TLS 1.3 session tickets after a handshake), and such records may
 * also sit unread in the TLS layer's buffer while the socket is empty; so
 * one non-blocking read decides. Bytes read are kept for the next line read.
 */
int
conn_pending(struct conn *c)
{
	struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
	ssize_t n;
	int want;

	if (c->start < c->end)
		return 1;
	if ((c->tls == NULL || !tls_buffered(c->tls)) && poll(&pfd, 1, 0) <= 0)
		return 0;
	if (c->start == c->end)
		c->start = c->end = 0;
	if (c->tls != NULL) {
		n = tls_read(c->tls, c->buf + c->end, CONN_BUFSZ - c->end, &want);
		if (n < 0)
			return want == 0;	/* an error: let the read say it */
	} else {
		n = read(c->fd, c->buf + c->end, CONN_BUFSZ - c->end);
		if (n < 0)
			return errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR;
	}
	if (n == 0)
		return 1;		/* closed: the next read reports it */
	c->end += (size_t)n;
	return 1;
}

static void
trace_out(struct conn *c, const char *buf, size_t len, const char *trace_text)
{
	if (!c->trace)
		return;
	if (trace_text != NULL)
		fprintf(stderr, "C: %s\n", trace_text);
	else
		trace_line("C: ", buf,
		    len >= 2 && buf[len - 2] == '\r' ? len - 2 : len);
}

static enum conn_err
send_all(struct conn *c, const char *buf, size_t len)
{
	enum conn_err e;
	ssize_t n;

	while (len > 0) {
		if (c->tls != NULL) {
			int want;

			n = tls_write(c->tls, buf, len, &want);
			if (n > 0) {
				buf += n;
				len -= (size_t)n;
				continue;
			}
			if (want == 0)
				return CONN_TLS;
			if ((e = conn_wait(c, want == TLS_WANT_READ ? POLLIN :
			    POLLOUT)) != CONN_OK)
				return e;
			continue;
		}
		n = write(c->fd, buf, len);
		if (n > 0) {
			buf += n;
			len -= (size_t)n;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno != EAGAIN && errno != EWOULDBLOCK) {
			c->err_no = errno;
			return errno == EPIPE ? CONN_EOF : CONN_IO;
		}
		if ((e = conn_wait(c, POLLOUT)) != CONN_OK)
			return e;
	}
	return CONN_OK;
}

void
conn_queue(struct conn *c, const char *buf, size_t len)
{
	trace_out(c, buf, len, NULL);
	if (c->outlen + len > c->outsize) {
		c->outsize = c->outlen + len < 256 ? 256 : 2 * (c->outlen + len);
		c->out = xreallocarray(c->out, c->outsize, 1);
	}
	memcpy(c->out + c->outlen, buf, len);
	c->outlen += len;
}

size_t
conn_queued(const struct conn *c)
{
	return c->outlen;
}

enum conn_err
conn_flush(struct conn *c)
{
	size_t len = c->outlen;

	if (len == 0)
		return CONN_OK;
	/* Whatever happens, the commands are not sent twice. */
	c->outlen = 0;
	return send_all(c, c->out, len);
}

enum conn_err
conn_write(struct conn *c, const char *buf, size_t len, const char *trace_text)
{
	enum conn_err e;

	if ((e = conn_flush(c)) != CONN_OK)
		return e;
	trace_out(c, buf, len, trace_text);
	return send_all(c, buf, len);
}

const char *
conn_strerror(struct conn *c, enum conn_err e)
{
	switch (e) {
	case CONN_OK:
		return "no error";
	case CONN_EOF:
		return "connection closed by the server";
	case CONN_TIMEOUT:
		if (c->deadline != 0 && now_ms() >= c->deadline)
			return "session time limit reached";
		{
			char t[32];

			snprintf(c->errbuf, sizeof c->errbuf,
			    "timed out: no data for %s", show_ms(t, sizeof t,
			    c->timeout_ms));
		}
		return c->errbuf;
	case CONN_IO:
		snprintf(c->errbuf, sizeof c->errbuf, "connection error: %s",
		    strerror(c->err_no));
		return c->errbuf;
	case CONN_TOOLONG:
		return "server line too long";
	case CONN_TLS:
		snprintf(c->errbuf, sizeof c->errbuf, "TLS error: %s",
		    c->tls != NULL ? tls_error(c->tls) : "unknown");
		return c->errbuf;
	}
	return "unknown error";
}
