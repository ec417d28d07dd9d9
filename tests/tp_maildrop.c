/* SPDX-License-Identifier: ISC */
/* testpop3d: the maildrop, replies and their faults, logins. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "testpop3d.h"

size_t msg_count(const struct session *s)
{
	return s->nmsgs + s->nsyn;
}

bool msg_deleted(const struct session *s, size_t idx)
{
	if (idx < s->nmsgs)
		return s->msgs[idx].deleted;
	idx -= s->nmsgs;
	return s->syn_deleted[idx / 8] & (1u << (idx % 8));
}

void set_deleted(struct session *s, size_t idx)
{
	if (idx < s->nmsgs) {
		s->msgs[idx].deleted = true;
	} else {
		idx -= s->nmsgs;
		s->syn_deleted[idx / 8] |= (unsigned char)(1u << (idx % 8));
	}
}

size_t digits(size_t n)
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
size_t syn_octets(size_t i)
{
	return sizeof SYN_TEXT - 1 - 2 * strlen("%zu") + 2 * digits(i);
}

size_t msg_octets(const struct session *s, size_t idx)
{
	return idx < s->nmsgs ? s->msgs[idx].data.len : syn_octets(idx - s->nmsgs + 1);
}

unsigned long long msg_size(const struct session *s, size_t idx)
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
const char *msg_uid(const struct session *s, size_t idx,
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
const char *msg_text(const struct session *s, size_t idx,
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

bool uid_is_word(const char *uid, size_t len)
{
	return !memchr(uid, ' ', len) && !memchr(uid, '\t', len);
}

const char *field_sep(struct session *s)
{
	/* Rotating, so that a client which copes with one odd separator by
	 * accident still gets caught by the next. */
	static const char *const seps[] = { " \t  ", "\t\t", "  \t ", "\t ", "   " };
	return opt.tabs ? seps[s->sepidx++ % 5] : " ";
}

/* "N SIZE" for LIST, "N UID" for UIDL; appends to f. Returns whether
 * text may follow: not after a UID with blanks, which it would extend. */
bool item_fields(struct session *s, struct buf *f, int cmd, size_t num)
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

void add_body_line(struct buf *b, const char *p, size_t n)
{
	if (n > 0 && p[0] == '.')
		buf_str(b, ".");
	buf_add(b, p, n);
	buf_str(b, eol());
}

void add_terminator(struct buf *b)
{
	buf_str(b, ".");
	buf_str(b, eol());
}

/* body_lines < 0 sends the whole message; otherwise the header, the blank
 * line after it and that many body lines (TOP). */
void add_message(struct buf *b, const struct session *s, size_t idx,
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

int read_file(const char *path, struct buf *out)
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
void to_wire(const struct buf *raw, struct buf *out)
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

int cmp_msg(const void *a, const void *b)
{
	return strcmp(((const struct msg *)a)->name, ((const struct msg *)b)->name);
}

void free_msgs(struct session *s)
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

void set_uid(struct msg *m, const char *uid, size_t len)
{
	if (!(m->uid = malloc(len + 1)))
		die("malloc");
	memcpy(m->uid, uid, len);
	m->uid[len] = '\0';
	m->uidlen = len;
}

/* Each line is NAME<TAB>UID; the first line naming a file wins. */
void apply_uidl_file(struct session *s, const struct buf *u)
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
int load_maildrop(struct session *s)
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
int read_line(struct session *s, const char **line, size_t *len)
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

const struct fault *find_fault(const struct session *s, int cmd,
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
void reply_start(struct session *s, struct reply *r, bool multiline)
{
	if (r->started)
		return;
	r->started = true;
	if (r->cmd >= 0 && multiline)
		s->mlcount[r->cmd]++;
	r->fault = find_fault(s, r->cmd, multiline);
}

/* How many of the built bytes may go out; final when r->b ends the reply. */
size_t reply_allowance(const struct reply *r, bool final)
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
bool reply_flush(struct session *s, struct reply *r)
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
int send_response(struct session *s, struct reply *r, bool multiline)
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
int split_args(const char *p, size_t n, bool present, struct arg *out)
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

bool parse_number(struct arg a, long *out)
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
bool find_msg(struct session *s, struct arg a, struct buf *b,
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

void totals(const struct session *s, size_t *count,
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

int lookup_cmd(const char *p, size_t n, int first)
{
	for (int c = first; c < C_NCMDS; c++)
		if (strlen(cmd_names[c]) == n && !memchr(p, '\0', n) &&
		    strncasecmp(p, cmd_names[c], n) == 0)
			return c;
	return -1;
}

/* Whether [p, p + n) is exactly the string want. */
bool same(const char *p, size_t n, const char *want)
{
	return n == strlen(want) && (n == 0 || memcmp(p, want, n) == 0);
}

bool check_login(const struct session *s, const char *pw, size_t pwlen)
{
	return same(s->user.p, s->user.len, opt.user) && same(pw, pwlen, opt.pass);
}

/* The end of every login (USER/PASS, APOP, AUTH): ok says whether the
 * credentials were right, denied is the -ERR text when they were not. */
void finish_login(struct session *s, bool ok, const char *denied,
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

void do_pass(struct session *s, const char *pw, size_t pwlen,
		    struct buf *b)
{
	finish_login(s, check_login(s, pw, pwlen), "[AUTH] invalid login", b);
}

