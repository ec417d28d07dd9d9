/* SPDX-License-Identifier: ISC */
/*
 * The POP3 client's state machine and strict writing, driven over a
 * socketpair: the "server" side is pre-loaded with replies, and after each
 * call we read exactly what the client sent. Clause ids refer to the
 * Outlook profile (MS-STANOPOP3) in ../shared/seeds.
 */
#include "config.h"

#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conn.h"
#include "pop3.h"
#include "unit.h"

/*
 * The peer is a child process that answers each command line with the
 * next reply of its script, after logging the command to a pipe we read:
 * replies never arrive before the command (popfetch treats that as a
 * reply to no command).
 */
static int logfd = -1;
static pid_t peer = -1;

/* Everything the client has sent since the last call. */
static const char *
sent(void)
{
	static char buf[4096];
	ssize_t n;

	n = read(logfd, buf, sizeof buf - 1);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

static void
run_peer(int fd, int lfd, const char *greeting, const char *const *script)
{
	char line[1024];
	size_t n = 0;
	char c;

	if (write(fd, greeting, strlen(greeting)) < 0)
		_exit(1);
	while (read(fd, &c, 1) == 1) {
		if (n < sizeof line - 1)
			line[n++] = c;
		if (c != '\n')
			continue;
		if (write(lfd, line, n) < 0 || *script == NULL)
			_exit(1);
		if (write(fd, *script, strlen(*script)) < 0)
			_exit(1);
		script++;
		n = 0;
	}
	_exit(0);
}

static struct pop3 *
client(const char *greeting, const char *const *script)
{
	int sv[2], lp[2];

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1 || pipe(lp) == -1)
		abort();
	if ((peer = fork()) == 0) {
		close(sv[0]);
		close(lp[0]);
		run_peer(sv[1], lp[1], greeting, script);
	}
	close(sv[1]);
	close(lp[1]);
	logfd = lp[0];
	fcntl(logfd, F_SETFL, O_NONBLOCK);
	return pop3_new(conn_new(sv[0], 2000));
}

static void
done(struct pop3 *p)
{
	pop3_free(p);
	close(logfd);
	waitpid(peer, NULL, 0);
}

/*
 * The pipelining peer: each step waits for its number of command lines,
 * logs them, and answers them all in one write, so that several replies
 * arrive together as a pipelining server sends them; a step may then
 * close the connection (a drop in the middle of the window).
 */
struct step {
	int		 ncmds;
	const char	*reply;
	int		 close;
	const char	*more;		/* then this, in a write of its own */
};

/* With a server context the peer speaks TLS after answering STLS. */
static SSL_CTX *peer_tls;
static SSL *peer_ssl;

static int
peer_getc(int fd, char *c)
{
	if (peer_ssl != NULL)
		return SSL_read(peer_ssl, c, 1) == 1;
	return read(fd, c, 1) == 1;
}

static int
peer_put(int fd, const char *b, size_t n)
{
	if (peer_ssl != NULL)
		return SSL_write(peer_ssl, b, (int)n) == (int)n ? 0 : -1;
	return write(fd, b, n) == (ssize_t)n ? 0 : -1;
}

static void
run_steps(int fd, int lfd, const char *greeting, const struct step *st)
{
	char line[4096];
	size_t n = 0;
	int got = 0;
	char c;

	if (write(fd, greeting, strlen(greeting)) < 0)
		_exit(1);
	while (st->reply != NULL && peer_getc(fd, &c)) {
		if (n < sizeof line - 1)
			line[n++] = c;
		if (c != '\n' || ++got < st->ncmds)
			continue;
		if (write(lfd, line, n) < 0 ||
		    peer_put(fd, st->reply, strlen(st->reply)) < 0 ||
		    (st->more != NULL &&
		    peer_put(fd, st->more, strlen(st->more)) < 0))
			_exit(1);
		if (peer_tls != NULL && peer_ssl == NULL &&
		    strncmp(line, "STLS", 4) == 0) {
			/* The handshake; TLS 1.3 session tickets follow it. */
			if ((peer_ssl = SSL_new(peer_tls)) == NULL ||
			    SSL_set_fd(peer_ssl, fd) != 1 ||
			    SSL_accept(peer_ssl) != 1)
				_exit(1);
		}
		if (st->close)
			_exit(0);
		st++;
		n = 0;
		got = 0;
	}
	/* Quiet until the client hangs up: a close would wake its poll. */
	while (peer_getc(fd, &c))
		continue;
	_exit(0);
}

static struct conn *last_conn;
static int peer_fd;

static struct pop3 *
client_steps(const char *greeting, const struct step *st)
{
	int sv[2], lp[2];

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1 || pipe(lp) == -1)
		abort();
	if ((peer = fork()) == 0) {
		close(sv[0]);
		close(lp[0]);
		run_steps(sv[1], lp[1], greeting, st);
	}
	close(sv[1]);
	close(lp[1]);
	logfd = lp[0];
	fcntl(logfd, F_SETFL, O_NONBLOCK);
	peer_fd = sv[0];
	return pop3_new(last_conn = conn_new(sv[0], 2000));
}

static int
sink(void *ctx, const char *b, size_t n)
{
	return 0;
}

/* A sink that keeps what it gets, and counts its calls. */
struct msgbuf {
	char	 data[1024];
	size_t	 len;
	int	 calls;
};

static int
sink_keep(void *ctx, const char *b, size_t n)
{
	struct msgbuf *m = ctx;

	m->calls++;
	if (m->len + n > sizeof m->data - 1)
		return -1;
	memcpy(m->data + m->len, b, n);
	m->len += n;
	m->data[m->len] = '\0';
	return 0;
}

/* The same for a big message. */
struct bigbuf {
	char	 data[128 * 1024];
	size_t	 len;
};

static int
sink_big(void *ctx, const char *b, size_t n)
{
	struct bigbuf *k = ctx;

	if (k->len + n > sizeof k->data)
		return -1;
	memcpy(k->data + k->len, b, n);
	k->len += n;
	return 0;
}

static enum pop3_rc
read_msg(struct pop3 *p, uint32_t msgno, struct msgbuf *m)
{
	uint64_t octets;

	memset(m, 0, sizeof *m);
	return pop3_read_retr(p, msgno, 0, sink_keep, m, &octets);
}

#define CAPA_PIPE	"+OK\r\nUIDL\r\nPIPELINING\r\n.\r\n"
#define CAPA_NOPIPE	"+OK\r\nUIDL\r\nUSER\r\n.\r\n"
#define R1	"+OK 30 octets\r\nSubject: one\r\n\r\n..dot\r\nline\r\n.\r\n"
#define M1	"Subject: one\n\n.dot\nline\n"
#define R2	"+OK\r\nSubject: two\r\n\r\nbody two\r\n.\r\n"
#define M2	"Subject: two\n\nbody two\n"
#define R3	"+OK\r\nSubject: three\r\n\r\n.\r\n"
#define M3	"Subject: three\n\n"
#define R4	"+OK\r\nSubject: four\r\n\r\nx\r\n.\r\n"

/* Greeting, CAPA, USER and PASS, checked. */
static struct pop3 *
login_steps(const struct step *st, const char *what)
{
	struct pop3 *p = client_steps("+OK hi\r\n", st);

	CHECK(pop3_greeting(p) == POP3_OK && pop3_capa(p) == POP3_OK &&
	    pop3_login_user(p, "u", "p") == POP3_OK, "%s: login", what);
	sent();
	return p;
}

static int
count_list(void *ctx, uint32_t msgno, uint64_t size)
{
	(void)msgno;
	(void)size;
	(*(int *)ctx)++;
	return 0;
}

static int
count_uidl(void *ctx, uint32_t msgno, const char *uid, size_t len)
{
	(void)msgno;
	(void)uid;
	(void)len;
	(*(int *)ctx)++;
	return 0;
}

/* STAT and UIDL in one write with PIPELINING (issue 12); their replies
 * read by pop3_stat and pop3_uidl; LIST, when it is needed, after them;
 * replies not read (a listing given up on) read before the next command;
 * one at a time without PIPELINING. */
static void
test_listing_ahead(void)
{
#define UIDLS "+OK\r\n1 a\r\n2 b\r\n.\r\n"
	static const struct step all[] = {
		{ 1, CAPA_PIPE, 0, NULL }, { 1, "+OK\r\n", 0, NULL },
		{ 1, "+OK\r\n", 0, NULL }, { 2, "+OK 2 60\r\n" UIDLS, 0, NULL },
		{ 1, "+OK\r\n1 30\r\n2 30\r\n.\r\n", 0, NULL },
		{ 1, "+OK bye\r\n", 0, NULL }, { 0, NULL, 0, NULL },
	};
	static const struct step given_up[] = {
		{ 1, CAPA_PIPE, 0, NULL }, { 1, "+OK\r\n", 0, NULL },
		{ 1, "+OK\r\n", 0, NULL }, { 2, "+OK 2 60\r\n" UIDLS, 0, NULL },
		{ 1, "+OK bye\r\n", 0, NULL }, { 0, NULL, 0, NULL },
	};
	static const struct step nopipe[] = {
		{ 1, CAPA_NOPIPE, 0, NULL }, { 1, "+OK\r\n", 0, NULL },
		{ 1, "+OK\r\n", 0, NULL }, { 1, "+OK 2 60\r\n", 0, NULL },
		{ 1, "+OK bye\r\n", 0, NULL }, { 0, NULL, 0, NULL },
	};
	static const struct step stray_ok[] = {
		{ 1, CAPA_PIPE, 0, NULL }, { 1, "+OK\r\n", 0, NULL },
		{ 1, "+OK\r\n", 0, NULL },
		{ 2, "+OK 2 60\r\n+OK stray\r\n" UIDLS, 0, NULL },
		{ 0, NULL, 0, NULL },
	};
	static const struct step stray_err[] = {
		{ 1, CAPA_PIPE, 0, NULL }, { 1, "+OK\r\n", 0, NULL },
		{ 1, "+OK\r\n", 0, NULL },
		{ 2, "+OK 2 60\r\n-ERR stray\r\n" UIDLS, 0, NULL },
		{ 0, NULL, 0, NULL },
	};
	struct pop3 *p;
	uint64_t count = 0, size = 0;
	size_t bad = 0;
	int nl = 0, nu = 0;

	p = login_steps(all, "listing ahead");
	CHECK(pop3_listing_ahead(p) == POP3_OK &&
	    pop3_stat(p, &count, &size) == POP3_OK && count == 2,
	    "listing ahead: STAT's reply");
	CHECK(strcmp(sent(), "STAT\r\nUIDL\r\n") == 0,
	    "listing ahead: STAT and UIDL in one go, before STAT's reply");
	CHECK(pop3_uidl(p, count_uidl, &nu, &bad) == POP3_OK && nu == 2 &&
	    strcmp(sent(), "") == 0,
	    "listing ahead: UIDL's reply, not sent again");
	CHECK(pop3_list(p, count_list, &nl, &bad) == POP3_OK && nl == 2 &&
	    strcmp(sent(), "LIST\r\n") == 0,
	    "listing ahead: LIST after it, when asked for");
	CHECK(pop3_quit(p) == POP3_OK && strcmp(sent(), "QUIT\r\n") == 0,
	    "listing ahead: then QUIT");
	pop3_free(p);

	p = login_steps(given_up, "listing given up");
	CHECK(pop3_listing_ahead(p) == POP3_OK &&
	    pop3_stat(p, &count, &size) == POP3_OK, "listing given up: STAT");
	sent();
	CHECK(pop3_quit(p) == POP3_OK, "listing given up: QUIT after the "
	    "UIDL reply still owed (%s)", pop3_error(p));
	CHECK(strcmp(sent(), "QUIT\r\n") == 0, "listing given up: only QUIT "
	    "more on the wire");
	pop3_free(p);

	/* A server that answers STAT twice: its stray reply read in UIDL's
	 * place puts every later one out of step; that is noticed. */
	p = login_steps(stray_ok, "stray +OK");
	CHECK(pop3_listing_ahead(p) == POP3_OK &&
	    pop3_stat(p, &count, &size) == POP3_OK, "stray +OK: STAT");
	nu = 0;
	CHECK(pop3_uidl(p, count_uidl, &nu, &bad) == POP3_PROTO &&
	    strstr(pop3_error(p), "reply to no command") != NULL,
	    "stray +OK: UIDL fails as out of step (%s)", pop3_error(p));
	pop3_free(p);
	p = login_steps(stray_err, "stray -ERR");
	CHECK(pop3_listing_ahead(p) == POP3_OK &&
	    pop3_stat(p, &count, &size) == POP3_OK, "stray -ERR: STAT");
	CHECK(pop3_uidl(p, count_uidl, &nu, &bad) == POP3_NEG,
	    "stray -ERR: UIDL refused");
	sent();
	CHECK(pop3_list(p, count_list, &nl, &bad) == POP3_PROTO &&
	    strstr(pop3_error(p), "reply to no command") != NULL,
	    "stray -ERR: LIST sees the reply left over (%s)", pop3_error(p));
	CHECK(strcmp(sent(), "") == 0, "stray -ERR: LIST not sent");
	pop3_free(p);

	p = login_steps(nopipe, "no PIPELINING");
	CHECK(pop3_listing_ahead(p) == POP3_OK && conn_queued(last_conn) == 0,
	    "no PIPELINING: nothing sent ahead");
	CHECK(pop3_stat(p, &count, &size) == POP3_OK && count == 2 &&
	    strcmp(sent(), "STAT\r\n") == 0, "no PIPELINING: STAT alone");
	CHECK(pop3_quit(p) == POP3_OK, "no PIPELINING: QUIT");
	pop3_free(p);
#undef UIDLS
}

static void
test_pipelining(void)
{
	static const struct step window[] = {
		{ 1, CAPA_PIPE, 0, NULL }, { 1, "+OK\r\n", 0, NULL }, { 1, "+OK\r\n", 0, NULL },
		{ 3, R1 R2 R3, 0, NULL },
		{ 2, "+OK\r\n+OK\r\n", 0, NULL },
		{ 1, "+OK bye\r\n", 0, NULL },
		{ 0, NULL, 0, NULL },
	};
	static const struct step neg[] = {
		{ 1, CAPA_PIPE, 0, NULL }, { 1, "+OK\r\n", 0, NULL }, { 1, "+OK\r\n", 0, NULL },
		{ 3, R1 "-ERR [SYS/TEMP] no such message\r\n" R3, 0, NULL },
		{ 1, "+OK bye\r\n", 0, NULL },
		{ 0, NULL, 0, NULL },
	};
	static const struct step drop[] = {
		{ 1, CAPA_PIPE, 0, NULL }, { 1, "+OK\r\n", 0, NULL }, { 1, "+OK\r\n", 0, NULL },
		{ 4, R1 "+OK\r\nSubject: two\r\n", 1, NULL },
		{ 0, NULL, 0, NULL },
	};
	static const struct step stray_end[] = {
		{ 1, CAPA_PIPE, 0, NULL }, { 1, "+OK\r\n", 0, NULL }, { 1, "+OK\r\n", 0, NULL },
		{ 2, R1 R2 "+OK stray reply\r\n", 0, NULL },
		{ 0, NULL, 0, NULL },
	};
	static const struct step stray_mid[] = {
		{ 1, CAPA_PIPE, 0, NULL }, { 1, "+OK\r\n", 0, NULL }, { 1, "+OK\r\n", 0, NULL },
		{ 2, R1 "+OK stray reply\r\n" R2, 0, NULL },
		{ 0, NULL, 0, NULL },
	};
	static const struct step nopipe[] = {
		{ 1, CAPA_NOPIPE, 0, NULL }, { 1, "+OK\r\n", 0, NULL }, { 1, "+OK\r\n", 0, NULL },
		{ 1, R1, 0, NULL },
		{ 1, "+OK bye\r\n", 0, NULL },
		{ 0, NULL, 0, NULL },
	};
	static const struct step bytes[] = {
		{ 1, CAPA_PIPE, 0, NULL }, { 1, "+OK\r\n", 0, NULL }, { 1, "+OK\r\n", 0, NULL },
		{ 2, R1 R2, 0, NULL },
		{ 2, R3 "+OK\r\n", 0, NULL },
		{ 1, "+OK bye\r\n", 0, NULL },
		{ 0, NULL, 0, NULL },
	};
	static const struct step autologout[] = {
		{ 1, CAPA_PIPE, 0, NULL }, { 1, "+OK\r\n", 0, NULL },
		{ 1, "+OK\r\n", 0, NULL },
		{ 3, R1 "-ERR autologout\r\n", 1, NULL },
		{ 0, NULL, 0, NULL },
	};
	static const struct step toobig[] = {
		{ 1, CAPA_PIPE, 0, NULL }, { 1, "+OK\r\n", 0, NULL },
		{ 1, "+OK\r\n", 0, NULL },
		{ 2, R1 R2, 0, NULL },
		{ 0, NULL, 0, NULL },
	};
	struct pop3_flight fl[8];
	struct msgbuf m;
	struct pop3 *p;
	uint64_t oct;
	size_t n;

	/* A window of three RETRs goes out in one write and the three
	 * replies, arriving together, are read in order. */
	p = login_steps(window, "window");
	CHECK(pop3_pipelining(p), "window: PIPELINING seen in CAPA");
	CHECK(pop3_send_retr(p, 1, 30) == POP3_OK &&
	    pop3_send_retr(p, 2, 30) == POP3_OK &&
	    pop3_send_retr(p, 3, 30) == POP3_OK && pop3_in_flight(p) == 3,
	    "window: three RETRs in flight");
	CHECK(conn_queued(last_conn) == strlen("RETR 1\r\nRETR 2\r\n"
	    "RETR 3\r\n"), "window: the three are queued for one write");
	CHECK(read_msg(p, 1, &m) == POP3_OK && strcmp(m.data, M1) == 0,
	    "window: message 1 (dot-unstuffed, LF)");
	CHECK(strcmp(sent(), "RETR 1\r\nRETR 2\r\nRETR 3\r\n") == 0 &&
	    conn_queued(last_conn) == 0, "window: the commands went out "
	    "together");
	CHECK(read_msg(p, 2, &m) == POP3_OK && strcmp(m.data, M2) == 0,
	    "window: message 2");
	CHECK(read_msg(p, 3, &m) == POP3_OK && strcmp(m.data, M3) == 0 &&
	    pop3_in_flight(p) == 0, "window: message 3, nothing in flight");
	CHECK(pop3_check_stray(p) == POP3_OK, "window: no reply to no "
	    "command after the window");
	CHECK(pop3_send_dele(p, 1) == POP3_OK &&
	    pop3_send_dele(p, 2) == POP3_OK &&
	    pop3_read_dele(p, 1) == POP3_OK && pop3_read_dele(p, 2) ==
	    POP3_OK && strcmp(sent(), "DELE 1\r\nDELE 2\r\n") == 0,
	    "window: two DELEs pipelined");
	CHECK(pop3_quit(p) == POP3_OK && strcmp(sent(), "QUIT\r\n") == 0,
	    "window: QUIT");
	done(p);

	/* A -ERR in the middle fails that message only. */
	p = login_steps(neg, "-ERR mid-window");
	pop3_send_retr(p, 1, 0);
	pop3_send_retr(p, 2, 0);
	pop3_send_retr(p, 3, 0);
	CHECK(read_msg(p, 1, &m) == POP3_OK && strcmp(m.data, M1) == 0,
	    "-ERR mid-window: message 1");
	CHECK(read_msg(p, 2, &m) == POP3_NEG && m.calls == 0 &&
	    pop3_last_code(p) == CODE_SYS_TEMP &&
	    pop3_state(p) == POP3_TRANSACTION, "-ERR mid-window: message 2 "
	    "fails alone");
	CHECK(read_msg(p, 3, &m) == POP3_OK && strcmp(m.data, M3) == 0,
	    "-ERR mid-window: message 3 read after it");
	CHECK(pop3_quit(p) == POP3_OK, "-ERR mid-window: QUIT");
	done(p);

	/* A drop in the middle: what was never answered is known. */
	p = login_steps(drop, "drop mid-window");
	pop3_send_retr(p, 1, 0);
	pop3_send_retr(p, 2, 0);
	pop3_send_retr(p, 3, 0);
	pop3_send_dele(p, 7);
	CHECK(read_msg(p, 1, &m) == POP3_OK && strcmp(m.data, M1) == 0,
	    "drop mid-window: message 1");
	CHECK(read_msg(p, 2, &m) == POP3_NET && pop3_state(p) == POP3_CLOSED,
	    "drop mid-window: message 2 cut short");
	n = pop3_unanswered(p, fl, 8);
	CHECK(n == 2 && fl[0].cmd == POP3_CMD_RETR && fl[0].msgno == 3 &&
	    fl[1].cmd == POP3_CMD_DELE && fl[1].msgno == 7,
	    "drop mid-window: RETR 3 and DELE 7 never answered (%zu)", n);
	CHECK(read_msg(p, 3, &m) == POP3_NET && m.calls == 0 &&
	    strstr(pop3_error(p), "RETR 3: never answered: RETR: connection "
	    "closed") != NULL, "drop mid-window: RETR 3 gets the error "
	    "(%s)", pop3_error(p));
	CHECK(pop3_read_dele(p, 7) == POP3_NET && pop3_in_flight(p) == 0,
	    "drop mid-window: so does DELE 7");
	CHECK(pop3_quit(p) == POP3_USAGE, "drop mid-window: no QUIT");
	done(p);

	/* Exchange V0003: an autologout notice, then a close, in the middle:
	 * as without pipelining, that reply fails, the next finds the close. */
	p = login_steps(autologout, "autologout mid-window");
	pop3_send_retr(p, 1, 0);
	pop3_send_retr(p, 2, 0);
	pop3_send_retr(p, 3, 0);
	CHECK(read_msg(p, 1, &m) == POP3_OK && read_msg(p, 2, &m) == POP3_NEG &&
	    strstr(pop3_server_text(p), "autologout") != NULL,
	    "autologout mid-window: message 1, then -ERR");
	CHECK(read_msg(p, 3, &m) == POP3_NET && pop3_in_flight(p) == 0 &&
	    pop3_state(p) == POP3_CLOSED, "autologout mid-window: then closed");
	done(p);

	/* A message over the limit is drained; the next reply is intact. */
	p = login_steps(toobig, "too big mid-window");
	pop3_send_retr(p, 1, 0);
	pop3_send_retr(p, 2, 0);
	memset(&m, 0, sizeof m);
	CHECK(pop3_read_retr(p, 1, 5, sink_keep, &m, &oct) == POP3_TOOBIG &&
	    m.len <= 5 && pop3_state(p) == POP3_TRANSACTION,
	    "too big mid-window: message 1 refused, drained");
	CHECK(read_msg(p, 2, &m) == POP3_OK && strcmp(m.data, M2) == 0,
	    "too big mid-window: message 2 intact");
	done(p);

	/* A reply to no command with commands in flight: extra after the
	 * last reply, caught once nothing is in flight ... */
	p = login_steps(stray_end, "stray at the end");
	pop3_send_retr(p, 1, 0);
	pop3_send_retr(p, 2, 0);
	CHECK(read_msg(p, 1, &m) == POP3_OK && read_msg(p, 2, &m) == POP3_OK &&
	    strcmp(m.data, M2) == 0, "stray at the end: both messages");
	CHECK(pop3_check_stray(p) == POP3_PROTO &&
	    strstr(pop3_error(p), "no command") != NULL,
	    "stray at the end: caught as a reply to no command");
	done(p);
	p = login_steps(stray_end, "stray at the end, then DELE");
	pop3_send_retr(p, 1, 0);
	pop3_send_retr(p, 2, 0);
	read_msg(p, 1, &m);
	read_msg(p, 2, &m);
	CHECK(pop3_send_dele(p, 1) == POP3_PROTO && strcmp(sent(), "RETR 1\r\n"
	    "RETR 2\r\n") == 0, "stray at the end: caught before the next "
	    "command goes out");
	done(p);
	/* ... and in the middle, where it shifts the next reply. */
	p = login_steps(stray_mid, "stray mid-window");
	pop3_send_retr(p, 1, 0);
	pop3_send_retr(p, 2, 0);
	CHECK(read_msg(p, 1, &m) == POP3_OK, "stray mid-window: message 1");
	CHECK(read_msg(p, 2, &m) == POP3_PROTO && m.calls == 0 &&
	    strstr(pop3_error(p), "no command") != NULL,
	    "stray mid-window: the shifted reply is caught, nothing delivered");
	done(p);

	/* Without PIPELINING one command at a time, whatever is asked. */
	p = login_steps(nopipe, "no PIPELINING");
	CHECK(!pop3_pipelining(p) && pop3_window_room(p, 0),
	    "no PIPELINING: room for one");
	CHECK(pop3_send_retr(p, 1, 0) == POP3_OK, "no PIPELINING: RETR 1");
	CHECK(!pop3_window_room(p, 0) && pop3_send_retr(p, 2, 0) ==
	    POP3_USAGE && pop3_send_dele(p, 1) == POP3_USAGE &&
	    pop3_in_flight(p) == 1, "no PIPELINING: a second command in "
	    "flight is refused");
	CHECK(pop3_retr(p, 2, -1, 0, sink, NULL, &oct) == POP3_USAGE,
	    "no PIPELINING: RETR and wait refused while a reply is unread");
	CHECK(pop3_quit(p) == POP3_USAGE && pop3_noop(p) == POP3_USAGE,
	    "no PIPELINING: QUIT and NOOP refused while a reply is unread");
	CHECK(read_msg(p, 2, &m) == POP3_USAGE && m.calls == 0,
	    "no PIPELINING: reading the wrong reply is refused");
	CHECK(read_msg(p, 1, &m) == POP3_OK && strcmp(m.data, M1) == 0,
	    "no PIPELINING: message 1");
	CHECK(pop3_quit(p) == POP3_OK && strcmp(sent(), "RETR 1\r\nQUIT\r\n")
	    == 0, "no PIPELINING: only RETR 1 and QUIT went out");
	done(p);

	/* The window is bounded by the octets expected and by commands. */
	p = login_steps(bytes, "window bytes");
	pop3_set_window(p, 8, 10000);
	CHECK(pop3_send_retr(p, 1, 6000) == POP3_OK, "window bytes: 6000");
	CHECK(!pop3_window_room(p, 5000) && pop3_send_retr(p, 2, 5000) ==
	    POP3_USAGE && pop3_in_flight(p) == 1, "window bytes: 6000 + 5000 "
	    "over 10000 refused");
	CHECK(pop3_send_retr(p, 2, 4000) == POP3_OK && pop3_in_flight(p) == 2,
	    "window bytes: 6000 + 4000 fits");
	CHECK(read_msg(p, 1, &m) == POP3_OK && read_msg(p, 2, &m) == POP3_OK &&
	    strcmp(m.data, M2) == 0, "window bytes: both read");
	CHECK(pop3_send_retr(p, 3, 50000) == POP3_OK, "window bytes: a big one "
	    "alone is fine");
	pop3_set_window(p, 2, 0);
	CHECK(pop3_send_dele(p, 1) == POP3_OK && pop3_send_dele(p, 2) ==
	    POP3_USAGE && pop3_in_flight(p) == 2, "window commands: a third "
	    "over two refused");
	CHECK(read_msg(p, 3, &m) == POP3_OK && strcmp(m.data, M3) == 0 &&
	    pop3_read_dele(p, 1) == POP3_OK, "window commands: read");
	CHECK(strcmp(sent(), "RETR 1\r\nRETR 2\r\nRETR 3\r\nDELE 1\r\n") == 0,
	    "window: nothing refused went out");
	CHECK(pop3_quit(p) == POP3_OK, "window: QUIT");
	done(p);
}

static int
count_uid(void *ctx, uint32_t msgno, const char *uid, size_t len)
{
	(*(size_t *)ctx)++;
	return 0;
}

/* A throw-away self-signed EC certificate for the TLS peer. */
static SSL_CTX *
server_ctx(void)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (key == NULL || x == NULL || ctx == NULL)
		abort();
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, key);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
	    (const unsigned char *)"localhost", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	/* TLS 1.3: every record costs 22 octets more than its data. */
	SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
	if (X509_sign(x, key, EVP_sha256()) == 0 ||
	    SSL_CTX_use_certificate(ctx, x) != 1 ||
	    SSL_CTX_use_PrivateKey(ctx, key) != 1)
		abort();
	X509_free(x);
	EVP_PKEY_free(key);
	return ctx;
}

/*
 * TLS reads many records at a time and keeps what it read but did not
 * decrypt in its own buffer: the "reply to no command" check must look
 * there too, and must not take TLS 1.3 session tickets for a reply.
 */
static void
test_tls(void)
{
	static const char line[] = "..a line of the big message, stuffed\r\n";
	static char big[128 * 1024], want[128 * 1024], full[64 * 1024 + 1];
	static struct step steps[] = {
		{ 1, "+OK begin TLS\r\n", 0, NULL },
		{ 1, CAPA_PIPE, 0, NULL }, { 1, "+OK\r\n", 0, NULL },
		{ 1, "+OK\r\n", 0, NULL },
		{ 2, big, 0, NULL },
		{ 1, full, 0, "+OK stray reply\r\n" },
		{ 0, NULL, 0, NULL },
	};
	struct tls_config cfg = { .no_verify = 1 };
	struct pollfd pfd = { .events = POLLIN };
	static struct bigbuf k;
	static struct msgbuf m;
	size_t i, o, w = 0, len = sizeof line - 1;
	SSL_CTX *ctx = server_ctx();
	struct pop3 *p;
	uint64_t oct;
	int avail = 0;

	/* A 100 KB message (more than the connection's buffer holds), then
	 * the next in the same records. */
	o = (size_t)snprintf(big, sizeof big, "+OK\r\n");
	for (i = 0; i < 100 * 1024 / len; i++) {
		memcpy(big + o, line, len);
		o += len;
		memcpy(want + w, line + 1, len - 3);
		w += len - 3;
		want[w++] = '\n';
	}
	memcpy(big + o, ".\r\n" R2, sizeof ".\r\n" R2);
	/* A reply of exactly 64 KiB, four full records that fill the
	 * connection's buffer, and a stray reply in a fifth record. */
	memset(full, 'x', sizeof full - 1);
	memcpy(full, "+OK\r\n", 5);
	for (i = 5 + 62; i < sizeof full - 1 - 3 - 64; i += 64)
		memcpy(full + i, "\r\n", 2);
	memcpy(full + sizeof full - 1 - 5, "\r\n.\r\n", 5);
	peer_tls = ctx;
	p = client_steps("+OK hi\r\n", steps);
	peer_tls = NULL;
	CHECK(pop3_greeting(p) == POP3_OK &&
	    pop3_stls(p, "localhost", &cfg) == POP3_OK, "TLS: STLS");
	/* The peer's session tickets are on their way: wait for them. */
	pfd.fd = peer_fd;
	CHECK(poll(&pfd, 1, 2000) == 1, "TLS: session tickets after STLS");
	CHECK(pop3_capa(p) == POP3_OK && pop3_pipelining(p),
	    "TLS: session tickets are not a reply to no command (%s)",
	    pop3_error(p));
	CHECK(pop3_login_user(p, "u", "p") == POP3_OK, "TLS: login");
	pop3_send_retr(p, 1, 0);
	pop3_send_retr(p, 2, 0);
	CHECK(pop3_read_retr(p, 1, 0, sink_big, &k, &oct) == POP3_OK &&
	    k.len == w && memcmp(k.data, want, w) == 0, "TLS: a 100 KB "
	    "message intact (%zu octets of %zu)", k.len, w);
	CHECK(read_msg(p, 2, &m) == POP3_OK && strcmp(m.data, M2) == 0,
	    "TLS: the next message, from the same records");
	CHECK(pop3_check_stray(p) == POP3_OK, "TLS: no reply to no command "
	    "(%s)", pop3_error(p));
	/* All of the 64 KiB reply and the stray record read at once: the
	 * stray stays in the TLS layer's buffer, the socket is empty. */
	pop3_send_retr(p, 3, 0);
	conn_flush(last_conn);
	for (i = 0; i < 200 && avail < 65536 + 4 * 22 + 17 + 22; i++) {
		usleep(10000);
		ioctl(peer_fd, FIONREAD, &avail);
	}
	for (i = 5, w = 0; i < sizeof full - 1 - 3; i++)
		w += full[i] == '\n';
	CHECK(pop3_read_retr(p, 3, 0, sink, NULL, &oct) == POP3_OK &&
	    oct == 65536 - 5 - 3 - w, "TLS: a 64 KiB reply");
	CHECK(pop3_check_stray(p) == POP3_PROTO &&
	    strstr(pop3_error(p), "no command") != NULL,
	    "TLS: a stray reply held in the TLS buffer is caught");
	done(p);
	SSL_CTX_free(ctx);
}

int
main(void)
{
	static const char *const script[] = {
		"+OK\r\n", "+OK in\r\n",		/* USER, PASS */
		"+OK 2 320\r\n", "+OK\r\n", "+OK\r\n",	/* STAT, NOOP, DELE */
		"+OK\r\nSubject: x\r\n\r\n.\r\n",	/* TOP */
		"-ERR no such message\r\n",		/* RETR */
		"+OK bye\r\n", NULL,			/* QUIT */
	};
	static const char *const none[] = { NULL };
	struct pop3 *p;
	uint64_t a, b;
	enum pop3_rc rc;
	char *big;

	/* As popfetch: a write to a peer gone is an error, not a signal. */
	signal(SIGPIPE, SIG_IGN);
	p = client("+OK hi\r\n", script);
	CHECK(pop3_greeting(p) == POP3_OK, "greeting");
	CHECK(strcmp(sent(), "") == 0, "C0007: nothing sent before or with "
	    "the greeting");
	/* C0016 C0018 V0005 C0025 C0028 C0035: TRANSACTION commands are
	 * refused in AUTHORIZATION, and nothing goes out. */
	CHECK(pop3_stat(p, &a, &b) == POP3_USAGE, "C0016 STAT refused");
	CHECK(pop3_list(p, NULL, NULL, (size_t *)&a) == POP3_USAGE,
	    "C0018 LIST refused");
	CHECK(pop3_retr(p, 1, -1, 0, sink, NULL, &a) == POP3_USAGE,
	    "V0005 RETR refused");
	CHECK(pop3_dele(p, 1) == POP3_USAGE, "C0025 DELE refused");
	CHECK(pop3_noop(p) == POP3_USAGE, "C0028 NOOP refused");
	CHECK(pop3_uidl(p, NULL, NULL, (size_t *)&a) == POP3_USAGE,
	    "C0035 UIDL refused");
	CHECK(strcmp(sent(), "") == 0, "nothing sent for refused commands");
	/* C0042: exactly one argument: a user name with a space is refused;
	 * C0003: control characters never go out. */
	CHECK(pop3_login_user(p, "a b", "pw") == POP3_USAGE, "C0042 USER a b");
	CHECK(pop3_login_user(p, "a", "p\r\nDELE 1") == POP3_USAGE,
	    "C0003 no CR/LF injection through the password");
	CHECK(strcmp(sent(), "") == 0, "nothing sent for refused logins");
	/* C0044 C0046 C0047: USER first, then PASS with the whole rest. */
	rc = pop3_login_user(p, "alice", "two words");
	CHECK(rc == POP3_OK && strcmp(sent(), "USER alice\r\nPASS two words\r\n")
	    == 0, "C0044/C0046 USER then PASS");
	CHECK(pop3_state(p) == POP3_TRANSACTION, "TRANSACTION after PASS");
	/* C0043 C0047: USER/PASS only in AUTHORIZATION. */
	CHECK(pop3_login_user(p, "alice", "pw") == POP3_USAGE,
	    "C0043/C0047 USER refused in TRANSACTION");
	/* C0015 C0027: no arguments to STAT and NOOP. */
	CHECK(pop3_stat(p, &a, &b) == POP3_OK && a == 2 && b == 320 &&
	    strcmp(sent(), "STAT\r\n") == 0, "C0015 STAT bare");
	CHECK(pop3_noop(p) == POP3_OK && strcmp(sent(), "NOOP\r\n") == 0,
	    "C0027 NOOP bare");
	/* C0024: DELE carries the message number. */
	CHECK(pop3_dele(p, 7) == POP3_OK && strcmp(sent(), "DELE 7\r\n") == 0,
	    "C0024 DELE n");
	/* C0032: TOP with two arguments. */
	CHECK(pop3_retr(p, 3, 0, 0, sink, NULL, &a) == POP3_OK &&
	    strcmp(sent(), "TOP 3 0\r\n") == 0, "C0032 TOP n 0");
	/* C0026 (server side) / Exchange C0004: -ERR to RETR is a value. */
	CHECK(pop3_retr(p, 9, -1, 0, sink, NULL, &a) == POP3_NEG &&
	    pop3_state(p) == POP3_TRANSACTION, "RETR -ERR leaves the session "
	    "usable");
	sent();
	/* C0012 C0030: QUIT without arguments. */
	CHECK(pop3_quit(p) == POP3_OK && strcmp(sent(), "QUIT\r\n") == 0,
	    "C0012/C0030 QUIT bare");
	CHECK(pop3_state(p) == POP3_CLOSED, "CLOSED after QUIT");
	done(p);

	/* Exchange C0001: a status line far over 512 octets is an error,
	 * never an unbounded read. */
	big = malloc(20001);
	memset(big, 'x', 19998);
	memcpy(big, "+OK ", 4);
	memcpy(big + 19998, "\r\n", 3);
	p = client(big, none);
	free(big);
	CHECK(pop3_greeting(p) == POP3_PROTO && strstr(pop3_error(p), "too long"),
	    "Exchange C0001: an overlong status line is a protocol error");
	done(p);

	/* A reply to no command (a server answering twice) is caught before
	 * the next command is sent. */
	p = client("+OK hi\r\n+OK again\r\n", none);
	CHECK(pop3_greeting(p) == POP3_OK, "greeting before a double reply");
	usleep(100000);
	CHECK(pop3_capa(p) == POP3_PROTO && strstr(pop3_error(p), "no command")
	    && strcmp(sent(), "") == 0, "a reply to no command stops the "
	    "session before anything is sent");
	done(p);

	/* A listing that never ends is cut off at the cap, promptly. */
	{
		static const char *const endless[] = {
			"+OK\r\n", "+OK\r\n",
			"+OK\r\n1 a\r\n2 b\r\n3 c\r\n4 d\r\n5 e\r\n6 f\r\n",
			NULL,
		};
		size_t bad, seen = 0;

		p = client("+OK hi\r\n", endless);
		pop3_set_listing_max(p, 3);
		CHECK(pop3_greeting(p) == POP3_OK, "greeting (endless)");
		CHECK(pop3_login_user(p, "u", "p") == POP3_OK, "login (endless)");
		CHECK(pop3_uidl(p, count_uid, &seen, &bad) == POP3_PROTO &&
		    strstr(pop3_error(p), "more than 3 lines") != NULL &&
		    seen == 3, "a listing without end is cut off at the cap");
		done(p);
	}

	test_pipelining();
	test_listing_ahead();
	test_tls();

	printf("t_pop3: %d passed, %d failed\n", unit_pass, unit_fail);
	return unit_fail != 0;
}
