/*
 * testpop3d - scripted POP3 server for popfetch's test suite.
 *
 * It serves a directory of files as a maildrop on 127.0.0.1 and can be told
 * to misbehave the way real servers do, so that client code paths a
 * well-behaved server never reaches can be tested deterministically.
 * Connections are served one after another in-process: a test can then
 * reason about the maildrop and the log changing only between sessions.
 * Generated ("synthetic") messages cost a bit each, so that a client can
 * be tried against maildrops far larger than a test would write to disk.
 *
 * Deliberately dependency-free (libc + POSIX) so it builds wherever the
 * test suite runs, whatever the client itself links against.
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
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

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
	C_TOP, C_DELE, C_NOOP, C_RSET, C_QUIT, C_NCMDS
};
static const char *const cmd_names[C_NCMDS] = {
	"GREETING", "CAPA", "USER", "PASS", "STAT", "LIST", "UIDL", "RETR",
	"TOP", "DELE", "NOOP", "RSET", "QUIT"
};
static const int min_args[C_NCMDS] = { 0, 0, 0, 0, 0, 0, 0, 1, 2, 1, 0, 0, 0 };
static const int max_args[C_NCMDS] = { 0, 0, 0, 0, 0, 1, 1, 1, 2, 1, 0, 0, 0 };

enum fault_kind { F_DROP, F_HANG, F_NOTERM, F_AUTOLOGOUT, F_STRAY };
struct fault {
	enum fault_kind kind;
	enum cmd cmd;
	long n;
	size_t bytes;
};

/* Booleans are int so that getopt_long can set them by flag pointer. */
static struct {
	const char *maildrop, *port_file, *pid_file, *log_file;
	const char *user, *pass, *greeting;
	long max_sessions, session_filter, trickle_ms, port;
	long synthetic, stat_count, list_skip;
	int auth_fail_temp, in_use, lowercase, bare_plus, tabs, extra_text;
	int fake_sizes, no_uidl, no_capa, no_top, bare_lf, no_greeting;
	int uidl_extra, exit_with_parent;
	struct fault faults[MAX_FAULTS];
	size_t nfaults;
} opt = { .user = "test", .pass = "secret", .greeting = "testpop3d ready",
	  .stat_count = -1 /* 0 is a count a test may want reported */ };

static FILE *logfp;
static pid_t watched_parent;

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
};

/* Messages are numbered files first, then synthetic ones. A synthetic
 * message is nothing but its number and a deleted bit; its text and UID
 * are made up whenever needed, so that a maildrop of millions costs a
 * bitmap rather than millions of allocations. */
struct session {
	int fd;
	long number;
	bool authed, have_user, quit;
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
 * silent client still notices its parent is gone. Returns 1 when
 * readable, 0 on timeout, -1 on error; timeout_ms < 0 waits forever. */
static int wait_readable(int fd, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
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

static void log_bytes(const char *p, size_t n)
{
	/* Tests read this file while the server runs: flush every line. */
	if (logfp && ((n > 0 && fwrite(p, 1, n, logfp) != n) ||
		      putc('\n', logfp) == EOF || fflush(logfp) != 0))
		die(opt.log_file);
}

static int send_all(int fd, const char *p, size_t n)
{
	size_t chunk = opt.trickle_ms > 0 ? 1 : n;
	while (n > 0) {
		ssize_t w = send(fd, p, n < chunk ? n : chunk, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		p += w;
		n -= (size_t)w;
		if (opt.trickle_ms > 0)
			sleep_ms(opt.trickle_ms);
	}
	return 0;
}

/* Reads and discards input until EOF, an error or, when budget_ms >= 0,
 * that many milliseconds of silence, then closes the socket. */
static void drain_and_close(int fd, int budget_ms)
{
	char tmp[512];
	for (;;) {
		int r = wait_readable(fd, budget_ms < 0 ? -1 : 100);
		if (r == 0 && (budget_ms -= 100) > 0)
			continue;
		ssize_t n = r > 0 ? read(fd, tmp, sizeof tmp) : 0;
		if (n == 0 || (n < 0 && errno != EINTR))
			break;
	}
	close(fd);
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
	/* Exchange reports storage sizes, which are not octet counts. */
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
		if (wait_readable(s->fd, -1) < 0)
			return 0;
		ssize_t got = read(s->fd, s->in + s->in_end, sizeof s->in - s->in_end);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return 0;
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
	if (send_all(s->fd, r->b.p, n) != 0) {
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
	int rc = send_all(s->fd, r->b.p, n);
	if (!f || f->kind == F_STRAY)
		return rc;
	if (rc == 0 && f->kind == F_AUTOLOGOUT) {
		struct buf m = { 0 };
		buf_str(&m, eol());
		err_line(&m, "autologout; idle for too long");
		send_all(s->fd, m.p, m.len);
		free(m.p);
	}
	/* SIGTERM keeps its default action, so a hang ends with the test. */
	while (f->kind == F_HANG) {
		sleep(1);
		check_parent();
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

static bool check_login(const struct session *s, const char *pw, size_t pwlen)
{
	return s->user.len == strlen(opt.user) && pwlen == strlen(opt.pass) &&
		(s->user.len == 0 || memcmp(s->user.p, opt.user, s->user.len) == 0) &&
		(pwlen == 0 || memcmp(pw, opt.pass, pwlen) == 0);
}

static void do_pass(struct session *s, const char *pw, size_t pwlen,
		    struct buf *b)
{
	s->have_user = false;
	/* A backend outage comes before the check, a lock after it. */
	if (opt.auth_fail_temp) {
		err_line(b, "[SYS/TEMP] try later");
	} else if (!check_login(s, pw, pwlen)) {
		err_line(b, "[AUTH] invalid login");
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
	    (cmd == C_TOP && opt.no_top)) {
		err_line(b, "command not supported");
		return false;
	}
	if (cmd != C_CAPA && cmd != C_QUIT &&
	    s->authed != (cmd != C_USER && cmd != C_PASS)) {
		err_line(b, "command not valid in this state");
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
		ok_line(b, NULL, "capability list follows", false);
		for (size_t i = 0; i < sizeof capas / sizeof capas[0]; i++)
			if (!(i == 0 && opt.no_top) && !(i == 1 && opt.no_uidl))
				add_body_line(b, capas[i], strlen(capas[i]));
		add_terminator(b);
		return true;
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
	int rc = send_response(s, &r, multiline);
	free(r.b.p);
	return s->quit ? -1 : rc;
}

static void run_session(int fd, long number)
{
	static struct session s; /* static: its input buffer is not small */
	struct buf b = { 0 };
	memset(&s, 0, sizeof s);
	s.fd = fd;
	s.number = number;
	buf_fmt(&b, "-- session %ld", number);
	log_bytes(b.p, b.len);
	b.len = 0;

	/* --no-greeting stays silent until the client gives up. */
	struct reply greeting = { .cmd = C_GREETING };
	ok_line(&greeting.b, NULL, opt.greeting, true);
	s.count[C_GREETING]++;
	int r = opt.no_greeting ? -1 : send_response(&s, &greeting, false);
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
		r = send_all(fd, b.p, b.len);
	}
	/* Closing with unread input makes the kernel send RST, which can
	 * destroy replies the client has not read yet: half-close instead
	 * and give the client a moment to read everything and hang up. */
	if (!opt.no_greeting)
		shutdown(fd, SHUT_WR);
	drain_and_close(fd, opt.no_greeting ? -1 : 1000);
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

/* One table drives both getopt_long and the handling of each option. */
enum opt_type { T_FLAG, T_STR, T_NUM, T_FAULT };
static const struct optdef {
	const char *name;
	enum opt_type type;
	void *target;
	long min, max; /* bounds for T_NUM; min is the fault kind for T_FAULT */
} optdefs[] = {
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
	{ "no-uidl", T_FLAG, &opt.no_uidl, 0, 0 },
	{ "no-capa", T_FLAG, &opt.no_capa, 0, 0 },
	{ "no-top", T_FLAG, &opt.no_top, 0, 0 },
	{ "bare-lf", T_FLAG, &opt.bare_lf, 0, 0 },
	{ "no-greeting", T_FLAG, &opt.no_greeting, 0, 0 },
	{ "help", T_FLAG, NULL, 0, 0 },
};
#define NOPTS (sizeof optdefs / sizeof optdefs[0])

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
	if (strpbrk(opt.greeting, "\r\n"))
		usage_error("--greeting must be one line", opt.greeting);
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
			run_session(fd, ++sessions);
		else if (errno != EINTR && errno != ECONNABORTED && errno != EAGAIN)
			die("accept");
	}
	close(lfd);
	if (logfp && fclose(logfp) != 0)
		die(opt.log_file);
	return 0;
}
