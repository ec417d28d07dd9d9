/* SPDX-License-Identifier: ISC */
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
#define _GNU_SOURCE
#endif
#include "testpop3d.h"

const char *const cmd_names[C_NCMDS] = {
	"GREETING", "CAPA", "USER", "PASS", "STAT", "LIST", "UIDL", "RETR",
	"TOP", "DELE", "NOOP", "RSET", "QUIT", "STLS", "AUTH", "APOP"
};
const int min_args[C_NCMDS] = { 0, 0, 0, 0, 0, 0, 0, 1, 2, 1, 0, 0, 0, 0, 1, 2 };
const int max_args[C_NCMDS] = { 0, 0, 0, 0, 0, 1, 1, 1, 2, 1, 0, 0, 0, 0, 2, 2 };
const char *const mech_names[M_NMECHS] = {
	"PLAIN", "LOGIN", "CRAM-MD5", "SCRAM-SHA-1", "SCRAM-SHA-256",
	"XOAUTH2", "OAUTHBEARER"
};
struct options opt = { .user = "test", .pass = "secret", .greeting = "testpop3d ready",
	  .stat_count = -1 /* 0 is a count a test may want reported */ };
pid_t watched_parent;
FILE *logfp;
SSL_CTX *tls_ctx;

/* Inserts "Status: RO" and "X-UID: 1" at the end of a maildrop file's
 * header block, once. */
void add_status(const char *name)
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

void do_quit(struct session *s, struct buf *b)
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

void add_item(struct buf *b, const struct buf *f, bool text_ok)
{
	buf_add(b, f->p, f->len);
	if (opt.extra_text && text_ok)
		buf_str(b, " extra");
	buf_str(b, eol());
}

void do_listing(struct session *s, int cmd, int na, struct arg a,
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

bool stls_any(void)
{
	return opt.stls || opt.stls_fail || opt.stls_fake || opt.stls_inject;
}

/* Commands of the AUTHORIZATION state; the rest but CAPA and QUIT are
 * for the TRANSACTION state. */
bool login_cmd(int cmd)
{
	return cmd == C_USER || cmd == C_PASS || cmd == C_STLS || cmd == C_AUTH ||
		cmd == C_APOP;
}

void do_capa(struct session *s, struct buf *b)
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

void do_stls(struct session *s, struct buf *b)
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
bool dispatch(struct session *s, int cmd, const char *rest,
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
int begin_tls(struct session *s)
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
int handle_command(struct session *s, const char *line, size_t len)
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

void run_session(int rfd, int wfd, long number)
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
void write_file_atomic(const char *path, long value)
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
long next_session_number(const char *path)
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

long parse_long(const char *s, long min, long max, const char *what)
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
void add_fault(enum fault_kind kind, const char *arg)
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

void check_tls_options(void)
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
void add_mechs(const char *list, bool lie)
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

void check_scram_options(void)
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

void tls_setup(void)
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

void parse_options(int argc, char **argv)
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

