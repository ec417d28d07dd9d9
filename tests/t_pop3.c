/*
 * The POP3 client's state machine and strict writing, driven over a
 * socketpair: the "server" side is pre-loaded with replies, and after each
 * call we read exactly what the client sent. Clause ids refer to the
 * Outlook profile (MS-STANOPOP3) in ../shared/seeds.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/wait.h>

#include <fcntl.h>
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

static int
sink(void *ctx, const char *b, size_t n)
{
	return 0;
}

static int
count_uid(void *ctx, uint32_t msgno, const char *uid, size_t len)
{
	(*(size_t *)ctx)++;
	return 0;
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

	printf("t_pop3: %d passed, %d failed\n", unit_pass, unit_fail);
	return unit_fail != 0;
}
