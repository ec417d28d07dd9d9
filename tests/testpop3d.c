/*
 * testpop3d - scripted POP3 server for popfetch's test suite.
 *
 * It serves a directory of files as a maildrop on 127.0.0.1 and can be told
 * to misbehave the way real servers do, so that client code paths a
 * well-behaved server never reaches can be tested deterministically.
 * Connections are served one after another in-process: a test can then
 * reason about the maildrop and the log changing only between sessions.
 * With --stdio it serves one session on its standard input and output
 * instead, for a client's pipe transport (popfetch --tunnel): no port, no
 * server to start and stop, and each session its own process.
 * Generated ("synthetic") messages cost a bit each, so that a client can
 * be tried against maildrops far larger than a test would write to disk.
 *
 * It speaks TLS (implicit, or after STLS) and SASL AUTH (RFC 5034: PLAIN,
 * LOGIN, CRAM-MD5, SCRAM-SHA-1/256, XOAUTH2, OAUTHBEARER) and APOP, each
 * with the ways real servers get them wrong, so it links OpenSSL (libssl
 * and libcrypto), as the client does; nothing else beyond libc + POSIX.
 * All of a session's I/O goes through one layer (io_read, send_all) that
 * uses TLS once it is up, so every fault works over TLS too.
 * Run with --help for the options; tests/server.sh starts and stops it.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* getopt_long */
#endif

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdnoreturn.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

/* Holds one command line including its CRLF: well above the 1024 bytes a
 * client may send, small enough to bound a hostile one. */
#define LINE_BUF 4096
#define MAX_FAULTS 32
/* Long listings go out in pieces of about this size: few enough writes to
 * send a million UIDL lines quickly, little enough memory to hold one. */
#define FLUSH_AT 65536
#define MAX_SYNTHETIC 10000000L

/* Synthetic message i, generated directly in its CRLF wire form. Both
 * lines carry i, so its size follows from the number of digits of i. */
#define SYN_TEXT "Subject: synthetic %zu\r\n\r\nbody of synthetic message %zu\r\n"
#define SYN_UID "syn-%zu"
/* Room for either with the largest i allowed. */
#define SYN_BUF 96

/* GREETING is not a client command; it is there so that faults can
 * target the greeting like any other response. */
enum cmd {
	C_GREETING, C_CAPA, C_USER, C_PASS, C_STAT, C_LIST, C_UIDL, C_RETR,
	C_TOP, C_DELE, C_NOOP, C_RSET, C_QUIT, C_STLS, C_AUTH, C_APOP, C_NCMDS
};
static const char *const cmd_names[C_NCMDS] = {
	"GREETING", "CAPA", "USER", "PASS", "STAT", "LIST", "UIDL", "RETR",
	"TOP", "DELE", "NOOP", "RSET", "QUIT", "STLS", "AUTH", "APOP"
};
static const int min_args[C_NCMDS] = { 0, 0, 0, 0, 0, 0, 0, 1, 2, 1, 0, 0, 0, 0, 1, 2 };
static const int max_args[C_NCMDS] = { 0, 0, 0, 0, 0, 1, 1, 1, 2, 1, 0, 0, 0, 0, 2, 2 };

/* SASL mechanisms this server implements, as advertised. */
enum mech {
	M_PLAIN, M_LOGIN, M_CRAM_MD5, M_SCRAM_SHA_1, M_SCRAM_SHA_256,
	M_XOAUTH2, M_OAUTHBEARER, M_NMECHS
};
static const char *const mech_names[M_NMECHS] = {
	"PLAIN", "LOGIN", "CRAM-MD5", "SCRAM-SHA-1", "SCRAM-SHA-256",
	"XOAUTH2", "OAUTHBEARER"
};
/* RFC 4422: at most 20 characters; room for that many in the lists. */
#define MECH_MAX 20
#define MAX_LISTED 16
#define SCRAM_ITER 4096
/* The OAuth error (RFC 7628 section 3.2.2) sent for a wrong token. */
#define OAUTH_ERROR "{\"status\":\"401\",\"schemes\":\"bearer\",\"scope\":\"mail\"}"

enum fault_kind { F_DROP, F_HANG, F_NOTERM, F_AUTOLOGOUT, F_STRAY };
struct fault {
	enum fault_kind kind;
	enum cmd cmd;
	long n;
	size_t bytes;
};

/* Booleans are int so that getopt_long can set them by flag pointer. */
static struct {
	const char *maildrop, *port_file, *pid_file, *log_file, *count_file;
	const char *user, *pass, *greeting;
	long max_sessions, session_filter, trickle_ms, port;
	long synthetic, stat_count, list_skip;
	int auth_fail_temp, in_use, lowercase, bare_plus, tabs, extra_text;
	int fake_sizes, no_uidl, no_capa, no_top, bare_lf, no_greeting;
	int uidl_extra, exit_with_parent, small_sizes, stdio;
	/* What real servers taught us (issue 9). */
	int status_rewrite, top_then_headers, close_after_fail, apop_no_secret;
	int big_sizes;
	struct fault faults[MAX_FAULTS];
	size_t nfaults;
	/* TLS */
	const char *tls_cert, *tls_key, *client_ca;
	int implicit_tls, stls, stls_fail, stls_fake, stls_inject;
	/* Authentication. sasl and sasl_lie are the option texts; listed is
	 * what CAPA advertises (both, in order, once each). */
	const char *sasl, *sasl_lie, *token, *scram_salt, *scram_nonce;
	int scram_bad_signature, no_user, apop;
	char listed[MAX_LISTED][MECH_MAX + 1];
	int listed_mech[MAX_LISTED]; /* enum mech; -1 for a lie we cannot do */
	bool lie[MAX_LISTED];
	size_t nlisted;
} opt = { .user = "test", .pass = "secret", .greeting = "testpop3d ready",
	  .stat_count = -1 /* 0 is a count a test may want reported */ };

static FILE *logfp;
static pid_t watched_parent;
static SSL_CTX *tls_ctx;

struct buf {
	char *p;
	size_t len, cap;
};

struct msg {
	char *name;
	struct buf data; /* CRLF line endings, not dot-stuffed */
	char *uid;
	size_t uidlen;
	bool deleted;
	bool topped;	/* TOP was sent for it in this session */
};

/* Messages are numbered files first, then synthetic ones. A synthetic
 * message is nothing but its number and a deleted bit; its text and UID
 * are made up whenever needed, so that a maildrop of millions costs a
 * bitmap rather than millions of allocations. */
struct session {
	int rfd, wfd;      /* the same socket, or stdin and stdout */
	bool wsock;        /* wfd is a socket: send() without SIGPIPE */
	long number;
	bool authed, have_user, quit;
	bool closed;       /* the connection failed: send nothing more */
	bool stls_done;    /* STLS was answered +OK (CAPA drops it) */
	bool want_tls;     /* the handshake is due once the reply is sent */
	SSL *ssl;          /* set while TLS is up */
	bool tls_broken;   /* TLS failed: no close_notify at the end */
	char stamp[80];    /* <...@testpop3d>: APOP and CRAM-MD5 */
	struct buf user;
	struct msg *msgs;
	size_t nmsgs;
	unsigned char *syn_deleted;
	size_t nsyn;
	long count[C_NCMDS], mlcount[C_NCMDS];
	unsigned sepidx;
	char in[LINE_BUF];
	size_t in_start, in_end;
};

/* A reply on its way out. Most are built whole and sent in one write;
 * a long listing is sent in pieces while it is built, and faults are then
 * applied across the pieces as if it had been built whole. */
struct reply {
	struct buf b;     /* built, not yet sent */
	int cmd;          /* -1 for a reply to an unknown command */
	size_t sent;      /* bytes of the reply sent in earlier pieces */
	const struct fault *fault;
	bool started;     /* fault looked up, mlcount counted */
	bool stop;        /* building is pointless: failed or cut short */
	bool failed;
};

struct arg {
	const char *p;
	size_t n;
};

static noreturn void die(const char *what)
{
	fprintf(stderr, "testpop3d: %s: %s\n", what, strerror(errno));
	exit(1);
}

static noreturn void die_ssl(const char *what, const char *arg)
{
	fprintf(stderr, "testpop3d: %s%s%s\n", what, arg ? ": " : "", arg ? arg : "");
	ERR_print_errors_fp(stderr);
	exit(1);
}

static noreturn void usage_error(const char *msg, const char *arg)
{
	fprintf(stderr, "testpop3d: %s%s%s\n", msg, arg ? ": " : "", arg ? arg : "");
	fputs("usage: testpop3d [options] MAILDROP_DIR (see --help)\n", stderr);
	exit(2);
}

static void buf_add(struct buf *b, const void *data, size_t n)
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

static void buf_str(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

static void buf_fmt(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void buf_fmt(struct buf *b, const char *fmt, ...)
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

static char *path_join(const char *dir, const char *name)
{
	struct buf b = { 0 };
	buf_str(&b, dir);
	buf_str(&b, "/");
	buf_add(&b, name, strlen(name) + 1);
	return b.p;
}

static void check_parent(void)
{
	/* A test script can die without running its cleanup trap; being
	 * reparented is the only sign of that the server can see. */
	if (watched_parent != 0 && getppid() != watched_parent) {
		fputs("testpop3d: parent went away, exiting\n", stderr);
		exit(1);
	}
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* Polls in slices of at most a second so that a server blocked on a
 * silent client still notices its parent is gone. Returns 1 when ready
 * (or hung up), 0 on timeout, -1 on error; timeout_ms < 0 waits forever. */
static int wait_fd(int fd, short events, int timeout_ms)
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

static int wait_readable(int fd, int timeout_ms)
{
	return wait_fd(fd, POLLIN, timeout_ms);
}

static void log_bytes(const char *p, size_t n)
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
static int ssl_wait(struct session *s, int ret)
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
static ssize_t io_read(struct session *s, char *p, size_t n)
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
static ssize_t io_write(struct session *s, const char *p, size_t n)
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
static int send_all(struct session *s, const char *p, size_t n)
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
static void drain(int fd, int budget_ms)
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
static int tls_start(struct session *s)
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

static const char *eol(void)
{
	return opt.bare_lf ? "\n" : "\r\n";
}

/* fields: data a client parses (may be NULL); text: for humans, sent only
 * with --extra-text unless always_text. */
static void ok_line(struct buf *b, const struct buf *fields, const char *text,
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

static void err_line(struct buf *b, const char *text)
{
	buf_str(b, opt.lowercase ? "-err " : "-ERR ");
	buf_str(b, text);
	buf_str(b, eol());
}

/* Message indexes below are 0-based: message number - 1. */
static size_t msg_count(const struct session *s)
{
	return s->nmsgs + s->nsyn;
}

static bool msg_deleted(const struct session *s, size_t idx)
{
	if (idx < s->nmsgs)
		return s->msgs[idx].deleted;
	idx -= s->nmsgs;
	return s->syn_deleted[idx / 8] & (1u << (idx % 8));
}

static void set_deleted(struct session *s, size_t idx)
{
	if (idx < s->nmsgs) {
		s->msgs[idx].deleted = true;
	} else {
		idx -= s->nmsgs;
		s->syn_deleted[idx / 8] |= (unsigned char)(1u << (idx % 8));
	}
}

static size_t digits(size_t n)
{
	size_t d = 1;
	while (n >= 10) {
		n /= 10;
		d++;
	}
	return d;
}

/* Computed rather than formatted: STAT and LIST visit every message, and
 * the self-test checks that this matches what RETR sends. */
static size_t syn_octets(size_t i)
{
	return sizeof SYN_TEXT - 1 - 2 * strlen("%zu") + 2 * digits(i);
}

static size_t msg_octets(const struct session *s, size_t idx)
{
	return idx < s->nmsgs ? s->msgs[idx].data.len : syn_octets(idx - s->nmsgs + 1);
}

static unsigned long long msg_size(const struct session *s, size_t idx)
{
	unsigned long long n = msg_octets(s, idx);
	/* Exchange reports storage sizes, which are not octet counts; a
	 * lying server may also understate them. */
	if (opt.small_sizes)
		return n / 10000 + 1;
	if (opt.big_sizes)
		return n * 10;
	return opt.fake_sizes ? n * 3 / 2 + 1000 : n;
}

/* The UID of a message; a synthetic one's is formatted into tmp. */
static const char *msg_uid(const struct session *s, size_t idx,
			   char tmp[SYN_BUF], size_t *len)
{
	if (idx < s->nmsgs) {
		*len = s->msgs[idx].uidlen;
		return s->msgs[idx].uid;
	}
	*len = (size_t)snprintf(tmp, SYN_BUF, SYN_UID, idx - s->nmsgs + 1);
	return tmp;
}

/* The wire form of a message (CRLF, not dot-stuffed); a synthetic one's
 * is formatted into tmp. */
static const char *msg_text(const struct session *s, size_t idx,
			    char tmp[SYN_BUF], size_t *len)
{
	if (idx < s->nmsgs) {
		*len = s->msgs[idx].data.len;
		return s->msgs[idx].data.p;
	}
	size_t i = idx - s->nmsgs + 1;
	*len = (size_t)snprintf(tmp, SYN_BUF, SYN_TEXT, i, i);
	return tmp;
}

static bool uid_is_word(const char *uid, size_t len)
{
	return !memchr(uid, ' ', len) && !memchr(uid, '\t', len);
}

static const char *field_sep(struct session *s)
{
	/* Rotating, so that a client which copes with one odd separator by
	 * accident still gets caught by the next. */
	static const char *const seps[] = { " \t  ", "\t\t", "  \t ", "\t ", "   " };
	return opt.tabs ? seps[s->sepidx++ % 5] : " ";
}

/* "N SIZE" for LIST, "N UID" for UIDL; appends to f. Returns whether
 * text may follow: not after a UID with blanks, which it would extend. */
static bool item_fields(struct session *s, struct buf *f, int cmd, size_t num)
{
	const char *sep = field_sep(s);
	char tmp[SYN_BUF];
	size_t len;
	if (cmd == C_LIST) {
		buf_fmt(f, "%zu%s%llu", num, sep, msg_size(s, num - 1));
		return true;
	}
	const char *uid = msg_uid(s, num - 1, tmp, &len);
	buf_fmt(f, "%zu%s", num, sep);
	buf_add(f, uid, len);
	return uid_is_word(uid, len);
}

static void add_body_line(struct buf *b, const char *p, size_t n)
{
	if (n > 0 && p[0] == '.')
		buf_str(b, ".");
	buf_add(b, p, n);
	buf_str(b, eol());
}

static void add_terminator(struct buf *b)
{
	buf_str(b, ".");
	buf_str(b, eol());
}

/* body_lines < 0 sends the whole message; otherwise the header, the blank
 * line after it and that many body lines (TOP). */
static void add_message(struct buf *b, const struct session *s, size_t idx,
			long body_lines)
{
	char tmp[SYN_BUF];
	size_t left;
	const char *p = msg_text(s, idx, tmp, &left);
	bool in_header = true;
	long sent = 0;
	while (left > 0) {
		const char *lf = memchr(p, '\n', left);
		size_t advance = lf ? (size_t)(lf - p) + 1 : left;
		size_t linelen = lf ? advance - 1 : left;
		if (linelen > 0 && p[linelen - 1] == '\r')
			linelen--;
		if (!in_header && body_lines >= 0 && sent++ >= body_lines)
			break;
		add_body_line(b, p, linelen);
		in_header = in_header && linelen > 0;
		p += advance;
		left -= advance;
	}
	add_terminator(b);
}

static int read_file(const char *path, struct buf *out)
{
	char tmp[8192];
	ssize_t n;
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	while ((n = read(fd, tmp, sizeof tmp)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			close(fd);
			errno = e;
			return -1;
		}
		buf_add(out, tmp, (size_t)n);
	}
	close(fd);
	return 0;
}

/* Stored lines may already end in CRLF; only bare LFs are converted, so
 * LIST sizes match what RETR puts on the wire. */
static void to_wire(const struct buf *raw, struct buf *out)
{
	size_t run = 0;
	for (size_t i = 0; i < raw->len; i++) {
		if (raw->p[i] == '\n' && (i == 0 || raw->p[i - 1] != '\r')) {
			buf_add(out, raw->p + run, i - run);
			buf_str(out, "\r");
			run = i;
		}
	}
	buf_add(out, raw->p + run, raw->len - run);
	if (raw->len > 0 && raw->p[raw->len - 1] != '\n')
		buf_str(out, "\r\n");
}

static int cmp_msg(const void *a, const void *b)
{
	return strcmp(((const struct msg *)a)->name, ((const struct msg *)b)->name);
}

static void free_msgs(struct session *s)
{
	for (size_t i = 0; i < s->nmsgs; i++) {
		free(s->msgs[i].name);
		free(s->msgs[i].data.p);
		free(s->msgs[i].uid);
	}
	free(s->msgs);
	s->msgs = NULL;
	s->nmsgs = 0;
	free(s->syn_deleted);
	s->syn_deleted = NULL;
	s->nsyn = 0;
}

static void set_uid(struct msg *m, const char *uid, size_t len)
{
	if (!(m->uid = malloc(len + 1)))
		die("malloc");
	memcpy(m->uid, uid, len);
	m->uid[len] = '\0';
	m->uidlen = len;
}

/* Each line is NAME<TAB>UID; the first line naming a file wins. */
static void apply_uidl_file(struct session *s, const struct buf *u)
{
	const char *p = u->p;
	size_t left = u->len;
	while (left > 0) {
		const char *lf = memchr(p, '\n', left);
		size_t linelen = lf ? (size_t)(lf - p) : left;
		const char *tab = memchr(p, '\t', linelen);
		size_t namelen = tab ? (size_t)(tab - p) : 0;
		for (size_t i = 0; tab && i < s->nmsgs; i++) {
			struct msg *m = &s->msgs[i];
			if (!m->uid && strlen(m->name) == namelen &&
			    memcmp(m->name, p, namelen) == 0)
				set_uid(m, tab + 1, linelen - namelen - 1);
		}
		p += lf ? linelen + 1 : linelen;
		left -= lf ? linelen + 1 : linelen;
	}
}

/* Scanned at login rather than at startup so that tests can change the
 * maildrop between sessions. */
static int load_maildrop(struct session *s)
{
	size_t cap = 0;
	struct dirent *de;
	struct stat st;
	DIR *d = opendir(opt.maildrop);
	if (!d)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		char *path = path_join(opt.maildrop, de->d_name);
		int r = stat(path, &st);
		free(path);
		if (r != 0 || !S_ISREG(st.st_mode))
			continue;
		if (s->nmsgs == cap) {
			cap = cap ? cap * 2 : 16;
			struct msg *n = realloc(s->msgs, cap * sizeof *n);
			if (!n)
				die("realloc");
			s->msgs = n;
		}
		memset(&s->msgs[s->nmsgs], 0, sizeof s->msgs[0]);
		if (!(s->msgs[s->nmsgs++].name = strdup(de->d_name)))
			die("strdup");
	}
	closedir(d);
	if (s->nmsgs > 1)
		qsort(s->msgs, s->nmsgs, sizeof s->msgs[0], cmp_msg);

	for (size_t i = 0; i < s->nmsgs; i++) {
		struct buf raw = { 0 };
		char *path = path_join(opt.maildrop, s->msgs[i].name);
		int r = read_file(path, &raw);
		free(path);
		to_wire(&raw, &s->msgs[i].data);
		free(raw.p);
		if (r != 0)
			return -1;
	}

	struct buf u = { 0 };
	char *upath = path_join(opt.maildrop, ".uidl");
	bool ok = read_file(upath, &u) == 0 || errno == ENOENT;
	free(upath);
	if (ok)
		apply_uidl_file(s, &u);
	free(u.p);
	for (size_t i = 0; i < s->nmsgs; i++)
		if (!s->msgs[i].uid)
			set_uid(&s->msgs[i], s->msgs[i].name, strlen(s->msgs[i].name));

	/* Fresh in every session: their deletions are not worth persisting. */
	s->nsyn = (size_t)opt.synthetic;
	if (s->nsyn && !(s->syn_deleted = calloc((s->nsyn + 7) / 8, 1)))
		die("calloc");
	return ok ? 0 : -1;
}

/* Returns 1 with a line (terminator stripped), 2 for an over-long line
 * (already discarded), 0 on EOF or error. */
static int read_line(struct session *s, const char **line, size_t *len)
{
	bool overlong = false;
	for (;;) {
		char *p = s->in + s->in_start;
		char *lf = memchr(p, '\n', s->in_end - s->in_start);
		if (lf) {
			size_t n = (size_t)(lf - p);
			s->in_start += n + 1;
			if (overlong)
				return 2;
			*line = p;
			*len = n > 0 && p[n - 1] == '\r' ? n - 1 : n;
			return 1;
		}
		memmove(s->in, p, s->in_end - s->in_start);
		s->in_end -= s->in_start;
		s->in_start = 0;
		if (s->in_end == sizeof s->in) {
			overlong = true;
			s->in_end = 0;
		}
		ssize_t got = io_read(s, s->in + s->in_end, sizeof s->in - s->in_end);
		if (got <= 0) {
			s->closed = true;
			return 0;
		}
		s->in_end += (size_t)got;
	}
}

static const struct fault *find_fault(const struct session *s, int cmd,
				      bool multiline)
{
	if (cmd < 0 || (opt.session_filter && s->number != opt.session_filter))
		return NULL;
	for (size_t i = 0; i < opt.nfaults; i++) {
		const struct fault *f = &opt.faults[i];
		if (f->cmd == (enum cmd)cmd &&
		    (f->kind == F_NOTERM ? multiline && f->n == s->mlcount[cmd]
					 : f->n == s->count[cmd]))
			return f;
	}
	return NULL;
}

/* Done once per reply, when its first piece or all of it is sent, so that
 * a reply sent in pieces meets the same fault as one sent whole. */
static void reply_start(struct session *s, struct reply *r, bool multiline)
{
	if (r->started)
		return;
	r->started = true;
	if (r->cmd >= 0 && multiline)
		s->mlcount[r->cmd]++;
	r->fault = find_fault(s, r->cmd, multiline);
}

/* How many of the built bytes may go out; final when r->b ends the reply. */
static size_t reply_allowance(const struct reply *r, bool final)
{
	const struct fault *f = r->fault;
	size_t n = r->b.len;
	if (!f || f->kind == F_STRAY)
		return n;
	if (f->kind == F_NOTERM)
		return final ? n - 1 - strlen(eol()) : n;
	size_t left = f->bytes > r->sent ? f->bytes - r->sent : 0;
	return left < n ? left : n;
}

/* Sends what has been built of a multi-line reply so far. Returns false
 * when building more is pointless: the connection failed, or a fault cuts
 * the reply short within what is built (send_response then does that). */
static bool reply_flush(struct session *s, struct reply *r)
{
	reply_start(s, r, true);
	size_t n = reply_allowance(r, false);
	if (n < r->b.len) {
		r->stop = true;
		return false;
	}
	if (send_all(s, r->b.p, n) != 0) {
		r->stop = r->failed = true;
		return false;
	}
	r->sent += n;
	r->b.len = 0;
	return true;
}

/* Sends the rest of a response, or the part of it a fault allows. Returns
 * 0 to go on with the session, -1 to end it. */
static int send_response(struct session *s, struct reply *r, bool multiline)
{
	reply_start(s, r, multiline);
	if (r->failed)
		return -1;
	const struct fault *f = r->fault;
	/* Verbatim, whatever the other quirks: it stands for another
	 * server's reply, and must be told apart from this one's. */
	if (f && f->kind == F_STRAY)
		buf_str(&r->b, "+OK stray reply\r\n");
	size_t n = reply_allowance(r, true);
	int rc = send_all(s, r->b.p, n);
	if (!f || f->kind == F_STRAY)
		return rc;
	if (rc == 0 && f->kind == F_AUTOLOGOUT) {
		struct buf m = { 0 };
		buf_str(&m, eol());
		err_line(&m, "autologout; idle for too long");
		send_all(s, m.p, m.len);
		free(m.p);
	}
	/* A hang sends nothing more until the client gives up and hangs
	 * up, so that the next connection is served (and --stdio ends). */
	if (f->kind == F_HANG) {
		drain(s->rfd, -1);
		s->closed = true;
	}
	return -1;
}

/* Arguments are split at single spaces with no leniency: a client that
 * sends "LIST  1" or "STAT " is buggy, and this server is there to notice. */
static int split_args(const char *p, size_t n, bool present, struct arg *out)
{
	int count = 0;
	size_t i = 0;
	while (present) {
		size_t start = i;
		while (i < n && p[i] != ' ')
			i++;
		if (i == start || count == 2)
			return -1;
		out[count].p = p + start;
		out[count++].n = i - start;
		if (i++ == n)
			break;
	}
	return count;
}

static bool parse_number(struct arg a, long *out)
{
	long v = 0;
	if (a.n == 0 || a.n > 9)
		return false;
	for (size_t i = 0; i < a.n; i++) {
		if (a.p[i] < '0' || a.p[i] > '9')
			return false;
		v = v * 10 + (a.p[i] - '0');
	}
	*out = v;
	return true;
}

/* On success sets *num to the message number; else adds the -ERR. */
static bool find_msg(struct session *s, struct arg a, struct buf *b,
		     size_t *num)
{
	long n;
	if (!parse_number(a, &n) || n < 1 || (size_t)n > msg_count(s)) {
		err_line(b, "no such message");
		return false;
	}
	if (msg_deleted(s, (size_t)n - 1)) {
		err_line(b, "message is deleted");
		return false;
	}
	*num = (size_t)n;
	return true;
}

static void totals(const struct session *s, size_t *count,
		   unsigned long long *size)
{
	*count = 0;
	*size = 0;
	for (size_t i = 0; i < msg_count(s); i++) {
		if (!msg_deleted(s, i)) {
			++*count;
			*size += msg_size(s, i);
		}
	}
}

static int lookup_cmd(const char *p, size_t n, int first)
{
	for (int c = first; c < C_NCMDS; c++)
		if (strlen(cmd_names[c]) == n && !memchr(p, '\0', n) &&
		    strncasecmp(p, cmd_names[c], n) == 0)
			return c;
	return -1;
}

/* Whether [p, p + n) is exactly the string want. */
static bool same(const char *p, size_t n, const char *want)
{
	return n == strlen(want) && (n == 0 || memcmp(p, want, n) == 0);
}

static bool check_login(const struct session *s, const char *pw, size_t pwlen)
{
	return same(s->user.p, s->user.len, opt.user) && same(pw, pwlen, opt.pass);
}

/* The end of every login (USER/PASS, APOP, AUTH): ok says whether the
 * credentials were right, denied is the -ERR text when they were not. */
static void finish_login(struct session *s, bool ok, const char *denied,
			 struct buf *b)
{
	s->have_user = false;
	/* A backend outage comes before the check, a lock after it. */
	if (opt.auth_fail_temp) {
		err_line(b, "[SYS/TEMP] try later");
	} else if (!ok) {
		err_line(b, denied);
		/* solid-pop3d hangs up after a refused login. */
		if (opt.close_after_fail)
			s->quit = true;
	} else if (opt.in_use) {
		err_line(b, "[IN-USE] mailbox locked");
	} else if (load_maildrop(s) != 0) {
		free_msgs(s);
		err_line(b, "[SYS/PERM] cannot read maildrop");
	} else {
		s->authed = true;
		ok_line(b, NULL, "logged in", false);
	}
}

static void do_pass(struct session *s, const char *pw, size_t pwlen,
		    struct buf *b)
{
	finish_login(s, check_login(s, pw, pwlen), "[AUTH] invalid login", b);
}

/* ---- APOP and SASL ---- */

static const char *const denied_text = "[AUTH] invalid credentials";

/* A fresh <pid.seconds.nanoseconds@testpop3d>: unique per use, as RFC 1939
 * wants of the APOP timestamp (and CRAM-MD5 of its challenge). */
static void make_stamp(char *out, size_t n)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(out, n, "<%ld.%lld.%09ld@testpop3d>", (long)getpid(),
		 (long long)ts.tv_sec, (long)ts.tv_nsec);
}

static void hex_add(struct buf *b, const unsigned char *p, size_t n)
{
	static const char digits_hex[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		char two[2] = { digits_hex[p[i] >> 4], digits_hex[p[i] & 15] };
		buf_add(b, two, 2);
	}
}

static void digest(const EVP_MD *md, const void *p, size_t n,
		   unsigned char *out, unsigned *outlen)
{
	if (EVP_Digest(p, n, out, outlen, md, NULL) != 1)
		die_ssl("EVP_Digest", NULL);
}

static void hmac(const EVP_MD *md, const void *key, size_t keylen,
		 const void *p, size_t n, unsigned char *out)
{
	unsigned len;
	if (!HMAC(md, key, (int)keylen, p, n, out, &len))
		die_ssl("HMAC", NULL);
}

static void b64_add(struct buf *b, const void *p, size_t n)
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

static int b64_value(char c)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const char *p = c ? strchr(alphabet, c) : NULL;
	return p ? (int)(p - alphabet) : -1;
}

/* Strict base64 (RFC 4648 section 4): padded, canonical, nothing else.
 * Appends the decoded bytes to out; false for anything else. */
static bool b64_decode(const char *p, size_t n, struct buf *out)
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
static void buf_nul(struct buf *b)
{
	buf_add(b, "", 1);
	b->len--;
}

/* Reads one client response, logged as received, decoded into out. */
static enum sasl_rc sasl_read(struct session *s, struct buf *out)
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
static enum sasl_rc sasl_step(struct session *s, const void *chal, size_t n,
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
static enum sasl_rc sasl_first(struct session *s, const struct arg *ir,
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
static enum sasl_rc mech_plain(struct session *s, const struct arg *ir)
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
static enum sasl_rc mech_login(struct session *s, const struct arg *ir)
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
static enum sasl_rc mech_cram_md5(struct session *s, const struct arg *ir)
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
static bool scram_attr(const char **p, const char *end, char name, struct arg *val)
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
static bool scram_unescape(struct arg a, struct buf *out)
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

static bool same_buf(const char *p, size_t n, const struct buf *b)
{
	return n == b->len && (n == 0 || memcmp(p, b->p, n) == 0);
}

/* The salt: --scram-salt, or 16 random bytes for each exchange. */
static void scram_salt(struct buf *salt)
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
static void scram_nonce(struct buf *nonce)
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
static enum sasl_rc mech_scram(struct session *s, const struct arg *ir,
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
static bool kv_find(const char *p, size_t n, const char *key, struct arg *val)
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

static bool bearer_ok(struct arg auth)
{
	const char *token = opt.token ? opt.token : opt.pass;
	return auth.p && auth.n > 7 && strncasecmp(auth.p, "Bearer ", 7) == 0 &&
		same(auth.p + 7, auth.n - 7, token);
}

/* A refused token: the error JSON as a challenge, whatever answer to it
 * (RFC 7628 wants ^A, XOAUTH2 clients send an empty line), then -ERR. */
static enum sasl_rc oauth_deny(struct session *s)
{
	struct buf in = { 0 };
	enum sasl_rc rc = sasl_step(s, OAUTH_ERROR, strlen(OAUTH_ERROR), &in);
	free(in.p);
	return rc == A_GONE ? A_GONE : A_DENIED;
}

/* "user=" USER ^A "auth=Bearer " TOKEN ^A ^A */
static enum sasl_rc mech_xoauth2(struct session *s, const struct arg *ir)
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
static enum sasl_rc mech_oauthbearer(struct session *s, const struct arg *ir)
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
static void do_auth(struct session *s, int na, const struct arg *a, struct buf *b)
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
static void do_apop(struct session *s, const struct arg *a, struct buf *b)
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

/* Inserts "Status: RO" and "X-UID: 1" at the end of a maildrop file's
 * header block, once. */
static void add_status(const char *name)
{
	char *path = path_join(opt.maildrop, name), *p, *end;
	struct buf in = { 0 }, out = { 0 };
	char chunk[4096];
	ssize_t n;
	int fd = open(path, O_RDONLY);

	if (fd == -1) {
		free(path);
		return;
	}
	while ((n = read(fd, chunk, sizeof chunk)) > 0)
		buf_add(&in, chunk, (size_t)n);
	close(fd);
	buf_add(&in, "", 1);
	end = strstr(in.p, "\n\n");
	if (end != NULL && strstr(in.p, "\nStatus: ") == NULL) {
		p = end + 1;
		buf_add(&out, in.p, (size_t)(p - in.p));
		buf_str(&out, "Status: RO\nX-UID: 1\n");
		buf_add(&out, p, in.len - 1 - (size_t)(p - in.p));
		if ((fd = open(path, O_WRONLY | O_TRUNC)) != -1) {
			if (write(fd, out.p, out.len) != (ssize_t)out.len)
				fprintf(stderr, "testpop3d: rewriting %s failed\n", name);
			close(fd);
		}
	}
	free(in.p);
	free(out.p);
	free(path);
}

static void do_quit(struct session *s, struct buf *b)
{
	size_t removed = 0, failed = 0;
	char text[64];
	for (size_t i = 0; s->authed && i < s->nmsgs; i++) {
		if (!s->msgs[i].deleted)
			continue;
		char *path = path_join(opt.maildrop, s->msgs[i].name);
		if (unlink(path) == 0 || errno == ENOENT)
			removed++;
		else
			failed++;
		free(path);
	}
	/* mbox-backed servers (Mailutils) rewrite every message they kept
	 * with status fields, so its size grows while its UID stays. */
	for (size_t i = 0; opt.status_rewrite && s->authed && i < s->nmsgs; i++)
		if (!s->msgs[i].deleted)
			add_status(s->msgs[i].name);
	/* Synthetic messages have nothing to remove: they just go. */
	for (size_t i = s->nmsgs; s->authed && i < msg_count(s); i++)
		removed += msg_deleted(s, i);
	s->quit = true;
	snprintf(text, sizeof text, "bye (%zu messages deleted)", removed);
	if (failed)
		err_line(b, "[SYS/PERM] some deleted messages not removed");
	else
		ok_line(b, NULL, text, false);
}

static void add_item(struct buf *b, const struct buf *f, bool text_ok)
{
	buf_add(b, f->p, f->len);
	if (opt.extra_text && text_ok)
		buf_str(b, " extra");
	buf_str(b, eol());
}

static void do_listing(struct session *s, int cmd, int na, struct arg a,
		       struct reply *r)
{
	struct buf *b = &r->b, f = { 0 };
	char text[128];
	size_t num, count, total = msg_count(s);
	unsigned long long size;
	if (na == 1) {
		if (find_msg(s, a, b, &num)) {
			bool text_ok = item_fields(s, &f, cmd, num);
			ok_line(b, &f, text_ok ? "extra" : NULL, false);
		}
		free(f.p);
		return;
	}
	totals(s, &count, &size);
	snprintf(text, sizeof text, "%zu messages (%llu octets)", count, size);
	ok_line(b, NULL, text, false);
	for (size_t i = 0; i < total; i++) {
		if (msg_deleted(s, i) ||
		    (cmd == C_LIST && opt.list_skip > 0 && (size_t)opt.list_skip == i + 1))
			continue;
		f.len = 0;
		add_item(b, &f, item_fields(s, &f, cmd, i + 1));
		if (b->len >= FLUSH_AT && !reply_flush(s, r)) {
			free(f.p);
			return;
		}
	}
	/* A number past the last message: RETR, TOP and DELE of it fail. */
	if (cmd == C_UIDL && opt.uidl_extra) {
		f.len = 0;
		buf_fmt(&f, "%zu%sghost", total + 1, field_sep(s));
		add_item(b, &f, true);
	}
	add_terminator(b);
	free(f.p);
}

static const char *const capas[] = { "TOP", "UIDL", "USER", "RESP-CODES", "PIPELINING" };

static bool stls_any(void)
{
	return opt.stls || opt.stls_fail || opt.stls_fake || opt.stls_inject;
}

/* Commands of the AUTHORIZATION state; the rest but CAPA and QUIT are
 * for the TRANSACTION state. */
static bool login_cmd(int cmd)
{
	return cmd == C_USER || cmd == C_PASS || cmd == C_STLS || cmd == C_AUTH ||
		cmd == C_APOP;
}

static void do_capa(struct session *s, struct buf *b)
{
	ok_line(b, NULL, "capability list follows", false);
	for (size_t i = 0; i < sizeof capas / sizeof capas[0]; i++)
		if (!(i == 0 && opt.no_top) && !(i == 1 && opt.no_uidl) &&
		    !(i == 2 && opt.no_user))
			add_body_line(b, capas[i], strlen(capas[i]));
	if (opt.nlisted > 0) {
		struct buf l = { 0 };
		buf_str(&l, "SASL");
		for (size_t i = 0; i < opt.nlisted; i++) {
			buf_str(&l, " ");
			buf_str(&l, opt.listed[i]);
		}
		add_body_line(b, l.p, l.len);
		free(l.p);
	}
	/* RFC 2595: not once TLS is up (nor after a faked STLS). */
	if (stls_any() && !s->ssl && !s->stls_done)
		add_body_line(b, "STLS", 4);
	add_terminator(b);
}

static void do_stls(struct session *s, struct buf *b)
{
	if (s->ssl || s->stls_done) {
		err_line(b, "TLS already active");
	} else if (opt.stls_fail) {
		err_line(b, "TLS not available");
	} else {
		ok_line(b, NULL, "begin TLS", true);
		/* The STARTTLS command injection test: a reply the client
		 * must not take as coming over TLS. */
		if (opt.stls_inject)
			buf_str(b, "+OK injected\r\n");
		s->stls_done = true;
		s->want_tls = !opt.stls_fake;
		/* RFC 2595: what was said before TLS is forgotten. */
		s->have_user = false;
	}
}

/* Builds the reply to one command into r; returns whether it is multi-line. */
static bool dispatch(struct session *s, int cmd, const char *rest,
		     size_t restlen, bool present, struct reply *r)
{
	struct arg a[2];
	struct buf *b = &r->b, f = { 0 };
	char text[128];
	size_t num, count;
	unsigned long long size;
	long lines = -1;
	int na = 0;

	if ((cmd == C_CAPA && opt.no_capa) || (cmd == C_UIDL && opt.no_uidl) ||
	    (cmd == C_TOP && opt.no_top) || (cmd == C_STLS && !stls_any()) ||
	    (cmd == C_AUTH && opt.nlisted == 0) || (cmd == C_APOP && !opt.apop)) {
		err_line(b, "command not supported");
		return false;
	}
	if (cmd != C_CAPA && cmd != C_QUIT && s->authed == login_cmd(cmd)) {
		err_line(b, "command not valid in this state");
		return false;
	}
	if ((cmd == C_USER || cmd == C_PASS) && opt.no_user) {
		err_line(b, "USER/PASS not allowed, use AUTH");
		return false;
	}
	if (cmd == C_PASS && !s->have_user) {
		err_line(b, "USER first");
		return false;
	}
	/* USER and PASS take the whole rest of the line, spaces included. */
	if (cmd == C_USER || cmd == C_PASS)
		na = present && (cmd == C_PASS || restlen > 0) ? 0 : -1;
	else
		na = split_args(rest, restlen, present, a);
	if (na < min_args[cmd] || na > max_args[cmd] ||
	    (cmd == C_TOP && !parse_number(a[1], &lines))) {
		err_line(b, "syntax error");
		return false;
	}

	switch (cmd) {
	case C_CAPA:
		do_capa(s, b);
		return true;
	case C_STLS:
		do_stls(s, b);
		return false;
	case C_AUTH:
		do_auth(s, na, a, b);
		return false;
	case C_APOP:
		do_apop(s, a, b);
		return false;
	case C_USER:
		s->user.len = 0;
		buf_add(&s->user, rest, restlen);
		s->have_user = true;
		ok_line(b, NULL, "send PASS", false);
		return false;
	case C_PASS:
		do_pass(s, rest, restlen, b);
		return false;
	case C_STAT:
		totals(s, &count, &size);
		if (opt.stat_count >= 0)
			count = (size_t)opt.stat_count;
		buf_fmt(&f, "%zu%s%llu", count, field_sep(s), size);
		ok_line(b, &f, "messages", false);
		free(f.p);
		return false;
	case C_LIST:
	case C_UIDL:
		/* do_listing's reply_flush relies on this being multi-line. */
		do_listing(s, cmd, na, a[0], r);
		return na == 0;
	case C_RETR:
	case C_TOP:
		if (!find_msg(s, a[0], b, &num))
			return false;
		snprintf(text, sizeof text, "%llu octets", msg_size(s, num - 1));
		ok_line(b, NULL, text, false);
		/* Mailutils 3.15 answers a RETR after a TOP of the same
		 * message with the headers alone. */
		if (cmd == C_RETR && opt.top_then_headers && num - 1 < s->nmsgs &&
		    s->msgs[num - 1].topped)
			lines = 0;
		if (cmd == C_TOP && num - 1 < s->nmsgs)
			s->msgs[num - 1].topped = true;
		add_message(b, s, num - 1, lines);
		return true;
	case C_DELE:
		if (find_msg(s, a[0], b, &num)) {
			set_deleted(s, num - 1);
			snprintf(text, sizeof text, "message %zu deleted", num);
			ok_line(b, NULL, text, false);
		}
		return false;
	case C_NOOP:
		ok_line(b, NULL, "still here", false);
		return false;
	case C_RSET:
		for (size_t i = 0; i < s->nmsgs; i++)
			s->msgs[i].deleted = false;
		if (s->nsyn)
			memset(s->syn_deleted, 0, (s->nsyn + 7) / 8);
		totals(s, &count, &size);
		snprintf(text, sizeof text, "%zu messages (%llu octets)", count, size);
		ok_line(b, NULL, text, false);
		return false;
	default:
		do_quit(s, b);
		return false;
	}
}

/* The handshake after STLS. Whatever the client sent after STLS and before
 * its handshake is plaintext a client must not send (RFC 2595, the
 * STARTTLS command injection): thrown away, as a server must, and logged. */
static int begin_tls(struct session *s)
{
	if (s->in_end > s->in_start) {
		struct buf b = { 0 };
		buf_fmt(&b, "-- %zu bytes after STLS discarded", s->in_end - s->in_start);
		log_bytes(b.p, b.len);
		free(b.p);
		s->in_start = s->in_end = 0;
	}
	return tls_start(s);
}

/* Returns 0 to go on with the session, -1 to end it. */
static int handle_command(struct session *s, const char *line, size_t len)
{
	size_t kw = 0;
	while (kw < len && line[kw] != ' ')
		kw++;
	bool present = kw < len, multiline = false;
	int cmd = lookup_cmd(line, kw, C_CAPA);
	struct reply r = { .cmd = cmd };
	if (cmd < 0) {
		err_line(&r.b, "unknown command");
	} else {
		s->count[cmd]++;
		multiline = dispatch(s, cmd, line + kw + present,
				     present ? len - kw - 1 : 0, present, &r);
	}
	if (s->closed) {
		free(r.b.p);
		return -1;
	}
	int rc = send_response(s, &r, multiline);
	free(r.b.p);
	if (rc == 0 && s->want_tls) {
		s->want_tls = false;
		rc = begin_tls(s);
	}
	return s->quit ? -1 : rc;
}

static void run_session(int rfd, int wfd, long number)
{
	static struct session s; /* static: its input buffer is not small */
	struct buf b = { 0 };
	struct stat st;
	memset(&s, 0, sizeof s);
	s.rfd = rfd;
	s.wfd = wfd;
	s.wsock = fstat(wfd, &st) == 0 && S_ISSOCK(st.st_mode);
	s.number = number;
	buf_fmt(&b, "-- session %ld", number);
	log_bytes(b.p, b.len);
	b.len = 0;

	/* --no-greeting stays silent until the client gives up. */
	struct reply greeting = { .cmd = C_GREETING };
	struct buf text = { 0 };
	buf_str(&text, opt.greeting);
	if (opt.apop) {
		make_stamp(s.stamp, sizeof s.stamp);
		buf_str(&text, " ");
		buf_str(&text, s.stamp);
	}
	buf_nul(&text);
	ok_line(&greeting.b, NULL, text.p, true);
	free(text.p);
	s.count[C_GREETING]++;
	int r = opt.implicit_tls ? tls_start(&s) : 0;
	if (r == 0)
		r = opt.no_greeting ? -1 : send_response(&s, &greeting, false);
	free(greeting.b.p);
	while (r == 0) {
		const char *line;
		size_t len;
		int got = read_line(&s, &line, &len);
		if (got == 0)
			break;
		if (got == 1) {
			log_bytes(line, len);
			r = handle_command(&s, line, len);
			continue;
		}
		log_bytes("-- overlong line discarded", strlen("-- overlong line discarded"));
		b.len = 0;
		err_line(&b, "line too long");
		r = send_all(&s, b.p, b.len);
	}
	/* Closing with unread input makes the kernel send RST, which can
	 * destroy replies the client has not read yet: half-close instead
	 * and give the client a moment to read everything and hang up.
	 * Over TLS, a close_notify first (one try: the socket does not
	 * block), unless TLS or the connection failed. */
	if (s.ssl && !s.tls_broken && !s.closed && !opt.no_greeting) {
		ERR_clear_error();
		SSL_shutdown(s.ssl);
	}
	if (!opt.no_greeting && s.wsock)
		shutdown(wfd, SHUT_WR);
	if (wfd != rfd)
		close(wfd);
	drain(rfd, opt.no_greeting ? -1 : 1000);
	close(rfd);
	SSL_free(s.ssl);
	s.ssl = NULL;
	ERR_clear_error();
	free(b.p);
	free_msgs(&s);
	free(s.user.p);
}

/* Readers poll for these files, so they must never see one half-written. */
static void write_file_atomic(const char *path, long value)
{
	struct buf tmp = { 0 };
	buf_str(&tmp, path);
	buf_add(&tmp, ".tmp", 5);
	FILE *fp = fopen(tmp.p, "w");
	if (!fp || fprintf(fp, "%ld\n", value) < 0 || fclose(fp) != 0)
		die(tmp.p);
	if (rename(tmp.p, path) != 0)
		die(path);
	free(tmp.p);
}

/* --count-file: this session's number, one more than the file says (0 if
 * it is missing or empty), written back under a lock, so that sessions of
 * separate --stdio processes are numbered like those of one server. */
static long next_session_number(const char *path)
{
	char tmp[32];
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0 || flock(fd, LOCK_EX) != 0)
		die(path);
	ssize_t n = pread(fd, tmp, sizeof tmp - 1, 0);
	if (n < 0)
		die(path);
	tmp[n] = '\0';
	long number = strtol(tmp, NULL, 10) + 1;
	int len = snprintf(tmp, sizeof tmp, "%ld\n", number);
	if (number < 1 || ftruncate(fd, 0) != 0 ||
	    pwrite(fd, tmp, (size_t)len, 0) != len || close(fd) != 0)
		die(path);
	return number;
}

static long parse_long(const char *s, long min, long max, const char *what)
{
	char *end;
	/* strtol alone would accept leading blanks and signs. */
	if (*s < '0' || *s > '9')
		usage_error(what, s);
	errno = 0;
	long v = strtol(s, &end, 10);
	if (*end != '\0' || errno != 0 || v < min || v > max)
		usage_error(what, s);
	return v;
}

/* CMD:N:BYTES, or CMD:N for --no-terminator and --stray. */
static void add_fault(enum fault_kind kind, const char *arg)
{
	bool want_bytes = kind != F_NOTERM && kind != F_STRAY;
	if (opt.nfaults == MAX_FAULTS)
		usage_error("too many fault options", arg);
	char copy[64];
	if (strlen(arg) >= sizeof copy)
		usage_error("fault specification too long", arg);
	strcpy(copy, arg);
	char *c1 = strchr(copy, ':');
	char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
	if (!c1 || want_bytes != (c2 != NULL))
		usage_error(want_bytes ? "expected CMD:N:BYTES" : "expected CMD:N", arg);
	*c1 = '\0';
	if (c2)
		*c2 = '\0';
	int cmd = lookup_cmd(copy, strlen(copy), kind == F_NOTERM ? C_CAPA : C_GREETING);
	if (cmd < 0)
		usage_error("unknown command in fault", arg);
	struct fault *f = &opt.faults[opt.nfaults++];
	f->kind = kind;
	f->cmd = (enum cmd)cmd;
	f->n = parse_long(c1 + 1, 1, LONG_MAX, "bad occurrence number");
	f->bytes = c2 ? (size_t)parse_long(c2 + 1, 0, LONG_MAX, "bad byte count") : 0;
}

static const char usage_text[] =
	"usage: testpop3d [options] MAILDROP_DIR\n"
	"  --stdio             serve one session on stdin/stdout, then exit (no\n"
	"                      socket; with none of --port, --port-file, --pid-file,\n"
	"                      --max-sessions)\n"
	"  --count-file F      with --stdio: number the session one more than F\n"
	"                      says and write that back (sessions of several\n"
	"                      --stdio runs then count as those of one server)\n"
	"  --port-file F       write the listening port to F (else to stdout)\n"
	"  --port N            listen on port N instead of an ephemeral one\n"
	"  --pid-file F        write the pid to F\n"
	"  --log F             append client command lines to F\n"
	"  --max-sessions N    exit after N connections\n"
	"  --exit-with-parent  exit when the parent process goes away\n"
	"  --user U --pass P   credentials (default test / secret)\n"
	"  --greeting TEXT     greeting text after +OK\n"
	"  --auth-fail-temp    answer PASS with -ERR [SYS/TEMP]\n"
	"  --in-use            answer a correct PASS with -ERR [IN-USE]\n"
	"  --lowercase --bare-plus --tabs --extra-text --fake-sizes --bare-lf\n"
	"  --small-sizes       LIST and STAT say 1/10000 of each size (a lie)\n"
	"  --big-sizes         LIST and STAT say ten times each size (a lie)\n"
	"  --status-rewrite    at QUIT, add Status:/X-UID: to the header of every\n"
	"                      message kept (as mbox servers do when mail is read)\n"
	"  --top-then-headers  RETR n after TOP n in one session: the headers only\n"
	"  --close-after-fail  hang up after a refused login\n"
	"  --apop-no-secret    (with --apop) every APOP fails with [AUTH]\n"
	"  --no-uidl --no-capa --no-top --no-greeting   reply quirks\n"
	"  --trickle MS        sleep MS milliseconds after every byte sent\n"
	"  --drop-after CMD:N:BYTES   send BYTES of the Nth CMD reply, close\n"
	"  --hang-after CMD:N:BYTES   send BYTES of the Nth CMD reply, hang\n"
	"  --autologout CMD:N:BYTES   send BYTES, then -ERR autologout, close\n"
	"  --no-terminator CMD:N      omit the Nth multi-line CMD reply's \".\"\n"
	"  --stray CMD:N              after the Nth CMD reply, in the same write,\n"
	"                             send \"+OK stray reply\\r\\n\" as if answering twice\n"
	"  --session-filter N  apply the five faults above only in session N\n"
	"CMD is a command name or GREETING (not for --no-terminator).\n"
	"These apply in every session:\n"
	"  --synthetic N       also serve N generated messages after the files (N up\n"
	"                      to 10000000; an empty MAILDROP_DIR serves only them);\n"
	"                      message i of them is \"Subject: synthetic i\", a blank\n"
	"                      line, \"body of synthetic message i\", with UID \"syn-i\";\n"
	"                      QUIT does not persist their deletion: every session\n"
	"                      starts with all N\n"
	"  --stat-count N      STAT reports N messages (size unchanged)\n"
	"  --list-skip N       the multi-line LIST omits message N (LIST N works)\n"
	"  --uidl-extra        the multi-line UIDL adds message count+1, UID \"ghost\",\n"
	"                      which RETR, TOP and DELE call no such message\n";
/* Apart: C99 compilers need only take string literals of 4095 bytes. */
static const char usage_text_tls[] =
	"TLS (OpenSSL; TLS 1.2 or later):\n"
	"  --tls-cert F --tls-key F  the server certificate (chain) and key, PEM\n"
	"  --implicit-tls      TLS handshake right after accept, before the greeting\n"
	"  --stls              offer STLS in CAPA (until TLS is up) and do it:\n"
	"                      \"+OK begin TLS\", then the handshake; plaintext the\n"
	"                      client sent after STLS is discarded (and logged)\n"
	"  --stls-fail         offer STLS, answer it -ERR\n"
	"  --stls-fake         offer STLS, answer +OK, but go on in plaintext (CAPA\n"
	"                      no longer offers STLS, as if TLS were up)\n"
	"  --stls-inject       like --stls, but \"+OK injected\\r\\n\" follows \"+OK begin\n"
	"                      TLS\" in the same write, in plaintext, before the\n"
	"                      handshake (the STARTTLS command injection test)\n"
	"  --require-client-cert CAFILE  refuse a handshake without a client\n"
	"                      certificate that verifies against CAFILE\n"
	"A failed handshake ends the session; the log then says\n"
	"\"-- TLS handshake failed: REASON\".\n"
	"Authentication (checked against --user and --pass):\n"
	"  --sasl \"MECH ...\"   offer SASL AUTH (RFC 5034) with these mechanisms, in\n"
	"                      this order, of PLAIN LOGIN CRAM-MD5 SCRAM-SHA-1\n"
	"                      SCRAM-SHA-256 XOAUTH2 OAUTHBEARER; with or without\n"
	"                      an initial response; \"*\" cancels; a wrong password\n"
	"                      gets -ERR [AUTH] invalid credentials; every response\n"
	"                      line is logged as received (base64)\n"
	"  --token TOK         the bearer token XOAUTH2 and OAUTHBEARER expect\n"
	"                      (default: the --pass text); a wrong one gets the\n"
	"                      challenge \"+ \" and the base64 of\n"
	"                      " OAUTH_ERROR "\n"
	"                      and, after any response to it, -ERR [AUTH]\n"
	"  --scram-salt B64    the SCRAM salt (default: 16 random bytes each time)\n"
	"  --scram-nonce TEXT  the server's part of the SCRAM nonce (default: random);\n"
	"                      SCRAM uses i=4096 and the password without SASLprep\n"
	"  --scram-bad-signature  a wrong v= after a right SCRAM proof\n"
	"  --sasl-lie \"MECH ...\"  also offer these, but answer AUTH with them\n"
	"                      \"-ERR mechanism not available\" (no response code)\n"
	"  --no-user           refuse USER and PASS (and leave USER out of CAPA)\n"
	"  --apop              put <PID.SECONDS.NANOSECONDS@testpop3d> in the greeting\n"
	"                      and accept APOP (MD5 of it and the password)\n"
	"--auth-fail-temp and --in-use apply to every way of logging in.\n";

/* One table drives both getopt_long and the handling of each option. */
enum opt_type { T_FLAG, T_STR, T_NUM, T_FAULT };
static const struct optdef {
	const char *name;
	enum opt_type type;
	void *target;
	long min, max; /* bounds for T_NUM; min is the fault kind for T_FAULT */
} optdefs[] = {
	{ "stdio", T_FLAG, &opt.stdio, 0, 0 },
	{ "count-file", T_STR, &opt.count_file, 0, 0 },
	{ "port-file", T_STR, &opt.port_file, 0, 0 },
	{ "port", T_NUM, &opt.port, 1, 65535 },
	{ "pid-file", T_STR, &opt.pid_file, 0, 0 },
	{ "log", T_STR, &opt.log_file, 0, 0 },
	{ "user", T_STR, &opt.user, 0, 0 },
	{ "pass", T_STR, &opt.pass, 0, 0 },
	{ "greeting", T_STR, &opt.greeting, 0, 0 },
	{ "max-sessions", T_NUM, &opt.max_sessions, 1, LONG_MAX },
	{ "session-filter", T_NUM, &opt.session_filter, 1, LONG_MAX },
	{ "trickle", T_NUM, &opt.trickle_ms, 0, 60000 },
	{ "drop-after", T_FAULT, NULL, F_DROP, 0 },
	{ "hang-after", T_FAULT, NULL, F_HANG, 0 },
	{ "no-terminator", T_FAULT, NULL, F_NOTERM, 0 },
	{ "autologout", T_FAULT, NULL, F_AUTOLOGOUT, 0 },
	{ "stray", T_FAULT, NULL, F_STRAY, 0 },
	{ "synthetic", T_NUM, &opt.synthetic, 1, MAX_SYNTHETIC },
	{ "stat-count", T_NUM, &opt.stat_count, 0, LONG_MAX },
	{ "list-skip", T_NUM, &opt.list_skip, 1, LONG_MAX },
	{ "uidl-extra", T_FLAG, &opt.uidl_extra, 0, 0 },
	{ "exit-with-parent", T_FLAG, &opt.exit_with_parent, 0, 0 },
	{ "auth-fail-temp", T_FLAG, &opt.auth_fail_temp, 0, 0 },
	{ "in-use", T_FLAG, &opt.in_use, 0, 0 },
	{ "lowercase", T_FLAG, &opt.lowercase, 0, 0 },
	{ "bare-plus", T_FLAG, &opt.bare_plus, 0, 0 },
	{ "tabs", T_FLAG, &opt.tabs, 0, 0 },
	{ "extra-text", T_FLAG, &opt.extra_text, 0, 0 },
	{ "fake-sizes", T_FLAG, &opt.fake_sizes, 0, 0 },
	{ "small-sizes", T_FLAG, &opt.small_sizes, 0, 0 },
	{ "status-rewrite", T_FLAG, &opt.status_rewrite, 0, 0 },
	{ "big-sizes", T_FLAG, &opt.big_sizes, 0, 0 },
	{ "top-then-headers", T_FLAG, &opt.top_then_headers, 0, 0 },
	{ "close-after-fail", T_FLAG, &opt.close_after_fail, 0, 0 },
	{ "apop-no-secret", T_FLAG, &opt.apop_no_secret, 0, 0 },
	{ "no-uidl", T_FLAG, &opt.no_uidl, 0, 0 },
	{ "no-capa", T_FLAG, &opt.no_capa, 0, 0 },
	{ "no-top", T_FLAG, &opt.no_top, 0, 0 },
	{ "bare-lf", T_FLAG, &opt.bare_lf, 0, 0 },
	{ "no-greeting", T_FLAG, &opt.no_greeting, 0, 0 },
	{ "tls-cert", T_STR, &opt.tls_cert, 0, 0 },
	{ "tls-key", T_STR, &opt.tls_key, 0, 0 },
	{ "implicit-tls", T_FLAG, &opt.implicit_tls, 0, 0 },
	{ "stls", T_FLAG, &opt.stls, 0, 0 },
	{ "stls-fail", T_FLAG, &opt.stls_fail, 0, 0 },
	{ "stls-fake", T_FLAG, &opt.stls_fake, 0, 0 },
	{ "stls-inject", T_FLAG, &opt.stls_inject, 0, 0 },
	{ "require-client-cert", T_STR, &opt.client_ca, 0, 0 },
	{ "sasl", T_STR, &opt.sasl, 0, 0 },
	{ "sasl-lie", T_STR, &opt.sasl_lie, 0, 0 },
	{ "token", T_STR, &opt.token, 0, 0 },
	{ "scram-salt", T_STR, &opt.scram_salt, 0, 0 },
	{ "scram-nonce", T_STR, &opt.scram_nonce, 0, 0 },
	{ "scram-bad-signature", T_FLAG, &opt.scram_bad_signature, 0, 0 },
	{ "no-user", T_FLAG, &opt.no_user, 0, 0 },
	{ "apop", T_FLAG, &opt.apop, 0, 0 },
	{ "help", T_FLAG, NULL, 0, 0 },
};
#define NOPTS (sizeof optdefs / sizeof optdefs[0])

static void check_tls_options(void)
{
	if (!opt.tls_cert != !opt.tls_key)
		usage_error("--tls-cert and --tls-key go together", NULL);
	if (opt.stls + opt.stls_fail + opt.stls_fake + opt.stls_inject > 1)
		usage_error("at most one of --stls, --stls-fail, --stls-fake, --stls-inject", NULL);
	if (opt.implicit_tls && stls_any())
		usage_error("--implicit-tls and the --stls options exclude each other", NULL);
	if ((opt.implicit_tls || opt.stls || opt.stls_inject || opt.client_ca) &&
	    !opt.tls_cert)
		usage_error("TLS needs --tls-cert and --tls-key", NULL);
}

/* Adds the mechanisms of a --sasl or --sasl-lie list to opt.listed. */
static void add_mechs(const char *list, bool lie)
{
	while (list && *list) {
		size_t n = strcspn(list, " ");
		char name[MECH_MAX + 1];
		if (n == 0) {
			list++;
			continue;
		}
		/* RFC 4422: 1 to 20 of A-Z 0-9 - _ */
		if (n > MECH_MAX || strspn(list, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") < n)
			usage_error(lie ? "bad --sasl-lie" : "bad --sasl", list);
		memcpy(name, list, n);
		name[n] = '\0';
		list += n;
		int mech = -1;
		for (int m = 0; m < M_NMECHS; m++)
			if (strcmp(name, mech_names[m]) == 0)
				mech = m;
		if (mech < 0 && !lie)
			usage_error("unknown SASL mechanism", name);
		size_t i = 0;
		while (i < opt.nlisted && strcmp(opt.listed[i], name) != 0)
			i++;
		if (i == opt.nlisted) {
			if (opt.nlisted == MAX_LISTED)
				usage_error("too many SASL mechanisms", name);
			strcpy(opt.listed[i], name);
			opt.listed_mech[i] = mech;
			opt.nlisted++;
		}
		opt.lie[i] = opt.lie[i] || lie;
	}
}

static void check_scram_options(void)
{
	struct buf salt = { 0 };
	if (opt.scram_salt && (!b64_decode(opt.scram_salt, strlen(opt.scram_salt), &salt) ||
			       salt.len == 0))
		usage_error("--scram-salt must be non-empty base64", opt.scram_salt);
	free(salt.p);
	if (opt.scram_nonce) {
		const char *p = opt.scram_nonce;
		while (*p > 0x20 && *p < 0x7f && *p != ',')
			p++;
		if (*p || p == opt.scram_nonce)
			usage_error("--scram-nonce must be printable, without commas", opt.scram_nonce);
	}
}

static void tls_setup(void)
{
	if (!opt.tls_cert)
		return;
	if (!(tls_ctx = SSL_CTX_new(TLS_server_method())) ||
	    SSL_CTX_set_min_proto_version(tls_ctx, TLS1_2_VERSION) != 1)
		die_ssl("SSL_CTX_new", NULL);
	if (SSL_CTX_use_certificate_chain_file(tls_ctx, opt.tls_cert) != 1)
		die_ssl("--tls-cert", opt.tls_cert);
	if (SSL_CTX_use_PrivateKey_file(tls_ctx, opt.tls_key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(tls_ctx) != 1)
		die_ssl("--tls-key", opt.tls_key);
	/* No session tickets: nothing goes out after the handshake that the
	 * tests did not ask for. */
	SSL_CTX_set_num_tickets(tls_ctx, 0);
	if (opt.client_ca) {
		STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(opt.client_ca);
		if (!names || SSL_CTX_load_verify_locations(tls_ctx, opt.client_ca, NULL) != 1)
			die_ssl("--require-client-cert", opt.client_ca);
		SSL_CTX_set_client_CA_list(tls_ctx, names);
		SSL_CTX_set_verify(tls_ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	}
}

static void parse_options(int argc, char **argv)
{
	struct option longopts[NOPTS + 1];
	char what[64];
	int c;
	memset(longopts, 0, sizeof longopts);
	for (size_t i = 0; i < NOPTS; i++) {
		longopts[i].name = optdefs[i].name;
		longopts[i].has_arg = optdefs[i].type == T_FLAG ? no_argument
								: required_argument;
		longopts[i].val = 256 + (int)i;
	}
	/* '+' stops at the first operand, ':' leaves the messages to us. */
	while ((c = getopt_long(argc, argv, "+:", longopts, NULL)) != -1) {
		if (c == ':')
			usage_error("option needs an argument", argv[optind - 1]);
		if (c < 256)
			usage_error("unknown option", argv[optind - 1]);
		const struct optdef *d = &optdefs[c - 256];
		switch (d->type) {
		case T_FLAG:
			if (!d->target) {
				fputs(usage_text, stdout);
				fputs(usage_text_tls, stdout);
				exit(0);
			}
			*(int *)d->target = 1;
			break;
		case T_STR:
			*(const char **)d->target = optarg;
			break;
		case T_NUM:
			snprintf(what, sizeof what, "bad --%s", d->name);
			*(long *)d->target = parse_long(optarg, d->min, d->max, what);
			break;
		case T_FAULT:
			add_fault((enum fault_kind)d->min, optarg);
			break;
		}
	}
	if (opt.stdio && (opt.port || opt.port_file || opt.pid_file || opt.max_sessions))
		usage_error("--stdio has no port, port file, pid file or session limit", NULL);
	if (opt.count_file && !opt.stdio)
		usage_error("--count-file goes with --stdio", NULL);
	if (strpbrk(opt.greeting, "\r\n"))
		usage_error("--greeting must be one line", opt.greeting);
	check_tls_options();
	add_mechs(opt.sasl, false);
	add_mechs(opt.sasl_lie, true);
	check_scram_options();
	if (argc - optind != 1)
		usage_error("expected exactly one MAILDROP_DIR", NULL);
	opt.maildrop = argv[optind];
}

int main(int argc, char **argv)
{
	struct stat st;
	struct sigaction sa;
	struct sockaddr_in sin;
	socklen_t slen = sizeof sin;

	parse_options(argc, argv);
	tls_setup();
	if (stat(opt.maildrop, &st) != 0)
		die(opt.maildrop);
	if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		die(opt.maildrop);
	}

	/* A harness may have left TERM ignored; its default action is what
	 * ends the accept loop and hangs. */
	memset(&sa, 0, sizeof sa);
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &sa, NULL) != 0)
		die("sigaction");
	sa.sa_handler = SIG_DFL;
	if (sigaction(SIGTERM, &sa, NULL) != 0)
		die("sigaction");
	if (opt.exit_with_parent)
		watched_parent = getppid();
	if (opt.log_file && !(logfp = fopen(opt.log_file, "a")))
		die(opt.log_file);

	if (opt.stdio) {
		run_session(0, 1, opt.count_file ? next_session_number(opt.count_file) : 1);
		if (logfp && fclose(logfp) != 0)
			die(opt.log_file);
		return 0;
	}

	int lfd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	if (lfd < 0)
		die("socket");
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	/* A fixed port lets a test restart the server as the same account
	 * (popfetch's state is per user@host:port). */
	sin.sin_port = htons((uint16_t)opt.port);
	/* Always: accepted sockets inherit it, and a later server on the same
	 * port can only bind past their TIME_WAIT if they had it too. */
	if (setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0)
		die("setsockopt");
	if (bind(lfd, (struct sockaddr *)&sin, sizeof sin) != 0)
		die("bind");
	if (listen(lfd, 16) != 0)
		die("listen");
	if (getsockname(lfd, (struct sockaddr *)&sin, &slen) != 0)
		die("getsockname");

	/* The port file is the readiness signal, so it comes last. */
	if (opt.pid_file)
		write_file_atomic(opt.pid_file, (long)getpid());
	if (opt.port_file)
		write_file_atomic(opt.port_file, ntohs(sin.sin_port));
	else if (printf("%d\n", ntohs(sin.sin_port)) < 0 || fflush(stdout) != 0)
		die("stdout");

	for (long sessions = 0; !opt.max_sessions || sessions < opt.max_sessions;) {
		if (wait_readable(lfd, -1) < 0)
			die("poll");
		int fd = accept(lfd, NULL, NULL);
		if (fd >= 0)
			run_session(fd, fd, ++sessions);
		else if (errno != EINTR && errno != ECONNABORTED && errno != EAGAIN)
			die("accept");
	}
	close(lfd);
	if (logfp && fclose(logfp) != 0)
		die(opt.log_file);
	return 0;
}
