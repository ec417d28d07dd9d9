/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dotdec.h"
#include "log.h"
#include "pop3.h"
#include "pop3_int.h"
#include "pop3_parse.h"
#include "util.h"
#include "xmalloc.h"

/* RFC 1939 allows 512 octets; be generous but bounded. */
#define STATUS_MAX	8192
#define LISTLINE_MAX	8192
#define CAPA_MAX_LINES	1000
/* A listing that streams forever never idles into a timeout: cap it. Two
 * million lines is far beyond any real maildrop. */
#define LISTING_MAX	2000000


static const char *state_names[] = {
	[POP3_AUTHORIZATION] = "AUTHORIZATION",
	[POP3_TRANSACTION] = "TRANSACTION",
	[POP3_UPDATE] = "UPDATE",
	[POP3_CLOSED] = "CLOSED",
};

struct pop3 *
pop3_new(struct conn *c)
{
	struct pop3 *p = xcalloc(1, sizeof *p);

	p->conn = c;
	p->state = POP3_AUTHORIZATION;
	p->listing_max = LISTING_MAX;
	p->drain_max = DRAIN_MAX;
	p->win_cmds = POP3_WINDOW_CMDS;
	p->win_bytes = POP3_WINDOW_BYTES;
	return p;
}

void
pop3_free(struct pop3 *p)
{
	if (p == NULL)
		return;
	conn_free(p->conn);
	free(p->body);
	free(p);
}

enum pop3_state
pop3_state(const struct pop3 *p)
{
	return p->state;
}

const char *
pop3_state_name(enum pop3_state s)
{
	return state_names[s];
}

unsigned
pop3_capa_bits(const struct pop3 *p)
{
	return p->capa;
}

const char *
pop3_error(const struct pop3 *p)
{
	return p->error;
}

const char *
pop3_server_text(const struct pop3 *p)
{
	return p->srvtext;
}

enum pop3_code
pop3_last_code(const struct pop3 *p)
{
	return p->code;
}

static void
pop3_set_state(struct pop3 *p, enum pop3_state s)
{
	if (p->state != s)
		log_debug("%s -> %s", state_names[p->state], state_names[s]);
	p->state = s;
}

/* The connection is unusable; rc is what the commands still in flight
 * will get, since they will never be answered. */
void
p3_close_session(struct pop3 *p, enum pop3_rc rc)
{
	if (p->dead == POP3_OK) {
		p->dead = rc;
		memcpy(p->deadwhy, p->error, sizeof p->deadwhy);
	}
	pop3_set_state(p, POP3_CLOSED);
}

enum pop3_rc
p3_fail(struct pop3 *p, enum pop3_rc rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

enum pop3_rc
p3_fail(struct pop3 *p, enum pop3_rc rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->error, sizeof p->error, fmt, ap);
	va_end(ap);
	/* After a transport failure nothing more may be sent. */
	if (rc == POP3_NET || rc == POP3_TIMEOUT || rc == POP3_PROTO ||
	    rc == POP3_TLS)
		p3_close_session(p, rc);
	return rc;
}

enum pop3_rc
p3_conn_fail(struct pop3 *p, enum conn_err e, const char *what)
{
	if (e == CONN_TIMEOUT)
		return p3_fail(p, POP3_TIMEOUT, "%s: %s", what,
		    conn_strerror(p->conn, e));
	if (e == CONN_TOOLONG)
		return p3_fail(p, POP3_PROTO, "%s: server line too long", what);
	if (e == CONN_TLS)
		return p3_fail(p, POP3_TLS, "%s: %s", what,
		    conn_strerror(p->conn, e));
	return p3_fail(p, POP3_NET, "%s: %s", what, conn_strerror(p->conn, e));
}

int
p3_check_state(struct pop3 *p, enum pop3_state want, const char *cmd)
{
	if (p->state == want)
		return 0;
	p3_fail(p, POP3_USAGE, "%s not allowed in state %s", cmd,
	    state_names[p->state]);
	return -1;
}

/* Only printable ASCII goes out (C0003); spaces only where we put them. */
static int
arg_ok(const char *s, int spaces_ok)
{
	const unsigned char *u = (const unsigned char *)s;

	if (*u == '\0')
		return 0;
	for (; *u != '\0'; u++)
		if (*u < 0x20 || *u > 0x7e || (*u == ' ' && !spaces_ok))
			return 0;
	return 1;
}

static const char *const ahead_cmds[] = { "STAT", "UIDL" };
#define AHEAD_N		2
#define AHEAD_ALL	3u

static enum pop3_rc command(struct pop3 *, const char *, const char *,
    struct pop3_status *);
static enum pop3_rc listing(struct pop3 *, const char *, pop3_list_cb,
    pop3_uidl_cb, void *, size_t *);

/* The next reply pop3_listing_ahead's commands are owed, or -1. */
static int
ahead_next(const struct pop3 *p)
{
	int i;

	for (i = 0; i < AHEAD_N; i++)
		if (p->ahead & (1u << i))
			return i;
	return -1;
}

/* Reads and drops the listing replies still owed (a listing given up on
 * midway), so that the next command's reply is the next one read. */
static enum pop3_rc
drain_ahead(struct pop3 *p)
{
	struct pop3_status st;
	enum pop3_rc rc;
	size_t bad;
	int i;

	while ((i = ahead_next(p)) != -1) {
		rc = i == 0 ? command(p, ahead_cmds[i], NULL, &st) :
		    listing(p, ahead_cmds[i], NULL, NULL, NULL, &bad);
		if (rc != POP3_OK && rc != POP3_NEG)
			return rc;
	}
	return POP3_OK;
}

enum pop3_rc
pop3_listing_ahead(struct pop3 *p)
{
	enum conn_err e;
	enum pop3_rc rc;
	int i;

	if (!pop3_pipelining(p) || p->fl_n > 0 || p->ahead != 0 ||
	    p->state != POP3_TRANSACTION)
		return POP3_OK;
	if ((rc = p3_check_unsolicited(p, "STAT")) != POP3_OK)
		return rc;
	for (i = 0; i < AHEAD_N; i++) {
		char line[8];

		snprintf(line, sizeof line, "%s\r\n", ahead_cmds[i]);
		conn_queue(p->conn, line, strlen(line));
	}
	if ((e = conn_flush(p->conn)) != CONN_OK)
		return p3_conn_fail(p, e, "STAT");
	p->ahead = AHEAD_ALL;
	return POP3_OK;
}

/*
 * The server speaks only when spoken to: with nothing in flight, anything
 * that is already there before a command is a reply to no command (a server
 * answering twice, which would shift every later reply by one and could
 * prepend a stray line to the next message) or an autologout notice before
 * a close (Exchange V0003). Either way the session cannot be trusted. With
 * commands in flight the bytes are expected; see read_body for the check
 * that replaces this one there.
 */
enum pop3_rc
p3_check_unsolicited(struct pop3 *p, const char *cmd)
{
	char text[256];
	const char *line;
	enum conn_err e;
	enum pop3_rc rc;
	size_t len;

	/* Listing replies nobody read (a listing given up on): read now. */
	if (p->ahead != 0 && (rc = drain_ahead(p)) != POP3_OK)
		return rc;
	if (!conn_pending(p->conn))
		return POP3_OK;
	e = conn_getline(p->conn, &line, &len, STATUS_MAX);
	if (e == CONN_EOF)
		return p3_fail(p, POP3_NET, "%s: connection closed by the server",
		    cmd);
	if (e != CONN_OK)
		return p3_conn_fail(p, e, cmd);
	log_sanitize(text, sizeof text, line, len);
	log_sanitize(p->srvtext, sizeof p->srvtext, line, len);
	return p3_fail(p, POP3_PROTO, "before %s, the server sent a reply to no "
	    "command: %s", cmd, text);
}

static enum pop3_rc
send_cmd_traced(struct pop3 *p, const char *cmd, const char *arg,
    const char *trace_text);

static enum pop3_rc
send_cmd(struct pop3 *p, const char *cmd, const char *arg, int secret)
{
	char *trace = secret && arg != NULL ? xasprintf("%s <redacted>", cmd) :
	    NULL;
	enum pop3_rc rc;

	rc = send_cmd_traced(p, cmd, arg, trace);
	free(trace);
	return rc;
}

/* trace_text, when given, is what the trace shows instead of the line,
 * and marks the line as secret (wiped after sending). */
static enum pop3_rc
send_cmd_traced(struct pop3 *p, const char *cmd, const char *arg,
    const char *trace_text)
{
	enum conn_err e;
	enum pop3_rc rc;
	char *line;
	size_t len;

	if (p->fl_n > 0)
		return p3_fail(p, POP3_USAGE, "%s while %zu %s unread", cmd,
		    p->fl_n, p->fl_n == 1 ? "reply is" : "replies are");
	if ((rc = p3_check_unsolicited(p, cmd)) != POP3_OK)
		return rc;
	if (arg != NULL)
		line = xasprintf("%s %s\r\n", cmd, arg);
	else
		line = xasprintf("%s\r\n", cmd);
	len = strlen(line);
	e = conn_write(p->conn, line, len, trace_text);
	if (trace_text != NULL)
		wipe(line, len);
	free(line);
	if (e != CONN_OK)
		return p3_conn_fail(p, e, cmd);
	return POP3_OK;
}

static void
classify(struct pop3 *p, const struct pop3_status *st)
{
	log_sanitize(p->srvtext, sizeof p->srvtext, st->text, st->textlen);
	if (pop3_code_is(st, "AUTH"))
		p->code = CODE_AUTH;
	else if (pop3_code_is(st, "SYS/TEMP"))
		p->code = CODE_SYS_TEMP;
	else if (pop3_code_is(st, "SYS/PERM"))
		p->code = CODE_SYS_PERM;
	else if (pop3_code_is(st, "IN-USE"))
		p->code = CODE_IN_USE;
	else if (pop3_code_is(st, "LOGIN-DELAY"))
		p->code = CODE_LOGIN_DELAY;
	else
		p->code = CODE_NONE;
}

/* Reads a status line; st points into the connection buffer. */
enum pop3_rc
p3_read_status(struct pop3 *p, const char *cmd, struct pop3_status *st)
{
	const char *line;
	enum conn_err e;
	size_t len;

	e = conn_getline(p->conn, &line, &len, STATUS_MAX);
	if (e != CONN_OK)
		return p3_conn_fail(p, e, cmd);
	pop3_parse_status(line, len, st);
	classify(p, st);
	if (!st->ok)
		return p3_fail(p, POP3_NEG, "%s failed: %s", cmd, p->srvtext);
	return POP3_OK;
}

static enum pop3_rc
command(struct pop3 *p, const char *cmd, const char *arg,
    struct pop3_status *st)
{
	struct pop3_status tmp;
	enum pop3_rc rc;
	int i = ahead_next(p);

	/* Sent already, by pop3_listing_ahead: its reply is next. */
	p->was_ahead = i != -1 && arg == NULL && strcmp(cmd, ahead_cmds[i]) == 0;
	if (p->was_ahead)
		p->ahead &= ~(1u << i);
	else if ((rc = send_cmd(p, cmd, arg, 0)) != POP3_OK)
		return rc;
	rc = p3_read_status(p, cmd, st ? st : &tmp);
	/* Refused, or a stray -ERR read in its place: the replies still owed
	 * are read and dropped, and their commands go out again one by one,
	 * where the check for replies to no command applies. */
	if (rc == POP3_NEG && p->was_ahead && p->ahead != 0) {
		enum pop3_rc drc;
		char keep[sizeof p->error];

		snprintf(keep, sizeof keep, "%s", p->error);
		if ((drc = drain_ahead(p)) != POP3_OK)
			return drc;
		snprintf(p->error, sizeof p->error, "%s", keep);
	}
	return rc;
}

/* Reads one line of a multi-line listing: *end set on the "." line. */
static enum pop3_rc
list_line(struct pop3 *p, const char *cmd, const char **line, size_t *len,
    int *end)
{
	enum conn_err e;

	e = conn_getline(p->conn, line, len, LISTLINE_MAX);
	if (e != CONN_OK)
		return p3_conn_fail(p, e, cmd);
	*end = *len == 1 && (*line)[0] == '.';
	if (!*end && *len > 0 && (*line)[0] == '.') {
		(*line)++;
		(*len)--;
	}
	return POP3_OK;
}

enum pop3_rc
pop3_greeting(struct pop3 *p)
{
	struct pop3_status st;
	enum pop3_rc rc;

	rc = p3_read_status(p, "greeting", &st);
	if (rc == POP3_NEG)
		pop3_set_state(p, POP3_CLOSED);
	if (rc == POP3_OK)
		snprintf(p->greeting, sizeof p->greeting, "%.*s",
		    (int)(st.textlen < sizeof p->greeting ? st.textlen :
		    sizeof p->greeting - 1), st.text);
	return rc;
}

enum pop3_rc
pop3_capa(struct pop3 *p)
{
	const char *line;
	enum pop3_rc rc;
	size_t len, n = 0;
	int end;

	p->capa = 0;
	p->sasl[0] = p->capatext[0] = '\0';
	rc = command(p, "CAPA", NULL, NULL);
	if (rc == POP3_NEG)
		return POP3_OK;
	if (rc != POP3_OK)
		return rc;
	for (;;) {
		unsigned bit;
		char show[256];

		if ((rc = list_line(p, "CAPA", &line, &len, &end)) != POP3_OK)
			return rc;
		if (end)
			break;
		if (++n > CAPA_MAX_LINES)
			return p3_fail(p, POP3_PROTO, "CAPA: more than %d lines",
			    CAPA_MAX_LINES);
		bit = pop3_parse_capa(line, len);
		p->capa |= bit;
		log_sanitize(show, sizeof show, line, len);
		if (strlen(p->capatext) + strlen(show) + 2 < sizeof p->capatext) {
			strcat(p->capatext, show);
			strcat(p->capatext, "\n");
		}
		/* "SASL mech mech...": keep the list after the keyword. */
		if (bit == CAPA_SASL && len > 5)
			log_sanitize(p->sasl, sizeof p->sasl, line + 5, len - 5);
	}
	return POP3_OK;
}

const char *
pop3_greeting_text(const struct pop3 *p)
{
	return p->greeting;
}

const char *
pop3_sasl_list(const struct pop3 *p)
{
	return p->sasl;
}

const char *
pop3_capa_text(const struct pop3 *p)
{
	return p->capatext;
}

enum pop3_rc
pop3_stls(struct pop3 *p, const char *host, const struct tls_config *cfg)
{
	enum pop3_rc rc;
	char *err = NULL;

	if (p3_check_state(p, POP3_AUTHORIZATION, "STLS") == -1)
		return POP3_USAGE;
	if ((rc = command(p, "STLS", NULL, NULL)) != POP3_OK)
		return rc;
	if (conn_starttls(p->conn, host, cfg, &err) == -1) {
		p3_fail(p, POP3_PROTO, "STLS: %s", err);
		free(err);
		pop3_set_state(p, POP3_CLOSED);
		return POP3_PROTO;
	}
	return POP3_OK;
}

/*
 * During AUTH a line "+" followed by a blank or nothing is a continuation
 * (RFC 5034), "+OK" (any case, V0001) is success, anything else failure.
 */
enum pop3_rc
pop3_auth(struct pop3 *p, struct sasl *s, enum sasl_mech mech)
{
	const char *line, *name = sasl_mech_name(mech);
	char *resp, *err = NULL, *cmd;
	struct pop3_status st;
	enum conn_err e;
	enum pop3_rc rc;
	size_t len;
	int steps = 0;

	if (p3_check_state(p, POP3_AUTHORIZATION, "AUTH") == -1)
		return POP3_USAGE;
	resp = sasl_initial(s);
	/* RFC 5034: an initial response only if the line fits 255 octets;
	 * otherwise it answers the first, empty, challenge. */
	if (resp != NULL && strlen(resp) + strlen(name) + 8 <= 255) {
		cmd = xasprintf("AUTH %s", name);
		rc = send_cmd(p, cmd, resp, 1);
		free(cmd);
		wipe(resp, strlen(resp));
		free(resp);
		resp = NULL;
	} else
		rc = send_cmd(p, "AUTH", name, 0);
	for (; rc == POP3_OK; ) {
		e = conn_getline(p->conn, &line, &len, STATUS_MAX);
		if (e != CONN_OK) {
			rc = p3_conn_fail(p, e, "AUTH");
			break;
		}
		if (len >= 1 && line[0] == '+' && (len == 1 || line[1] == ' ')) {
			if (++steps > 10) {
				rc = p3_fail(p, POP3_PROTO, "AUTH %s: too many "
				    "challenges", name);
				break;
			}
			if (resp == NULL)
				resp = sasl_step(s, len > 2 ? line + 2 : "",
				    len > 2 ? len - 2 : 0, &err);
			if (resp == NULL) {
				/* Cancel, as RFC 5034 says, then report. */
				send_cmd(p, "*", NULL, 0);
				p3_read_status(p, "AUTH", &st);
				rc = p3_fail(p, POP3_PROTO, "AUTH %s: %s", name, err);
				free(err);
				break;
			}
			cmd = xasprintf("%s\r\n", resp);
			e = conn_write(p->conn, cmd, strlen(cmd), "<redacted>");
			wipe(cmd, strlen(cmd));
			free(cmd);
			wipe(resp, strlen(resp));
			free(resp);
			resp = NULL;
			if (e != CONN_OK)
				rc = p3_conn_fail(p, e, "AUTH");
			continue;
		}
		pop3_parse_status(line, len, &st);
		classify(p, &st);
		if (!st.ok) {
			const char *d = sasl_error_detail(s);
			char detail[256] = "";

			if (d != NULL)
				log_sanitize(detail, sizeof detail, d, strlen(d));
			rc = p3_fail(p, POP3_NEG, "AUTH %s failed: %s%s%s", name,
			    p->srvtext, d ? ": " : "", detail);
			break;
		}
		if (sasl_finish(s, &err) == -1) {
			rc = p3_fail(p, POP3_PROTO, "AUTH %s: %s", name, err);
			free(err);
			pop3_set_state(p, POP3_CLOSED);
			break;
		}
		pop3_set_state(p, POP3_TRANSACTION);
		break;
	}
	if (resp != NULL) {
		wipe(resp, strlen(resp));
		free(resp);
	}
	return rc;
}

void
pop3_set_listing_max(struct pop3 *p, size_t n)
{
	p->listing_max = n;
}

char *
pop3_conn_describe(struct pop3 *p)
{
	return conn_tls_describe(p->conn);
}

enum pop3_rc
pop3_apop(struct pop3 *p, const char *user, const char *digest)
{
	struct pop3_status st;
	enum pop3_rc rc;
	char *arg, *trace;

	if (p3_check_state(p, POP3_AUTHORIZATION, "APOP") == -1)
		return POP3_USAGE;
	if (!arg_ok(user, 0))
		return p3_fail(p, POP3_USAGE, "the user name must be printable "
		    "ASCII without spaces for APOP");
	/* The digest allows an offline guess at the password: not traced. */
	arg = xasprintf("%s %s", user, digest);
	trace = xasprintf("APOP %s <redacted>", user);
	rc = send_cmd_traced(p, "APOP", arg, trace);
	free(arg);
	free(trace);
	if (rc == POP3_OK && (rc = p3_read_status(p, "APOP", &st)) == POP3_OK)
		pop3_set_state(p, POP3_TRANSACTION);
	return rc;
}

enum pop3_rc
pop3_login_user(struct pop3 *p, const char *user, const char *pass)
{
	struct pop3_status st;
	enum pop3_rc rc;

	if (p3_check_state(p, POP3_AUTHORIZATION, "USER") == -1)
		return POP3_USAGE;
	if (!arg_ok(user, 0))
		return p3_fail(p, POP3_USAGE, "the user name must be printable "
		    "ASCII without spaces for USER");
	if (!arg_ok(pass, 1))
		return p3_fail(p, POP3_USAGE, "the password must be printable "
		    "ASCII for PASS");
	if ((rc = command(p, "USER", user, &st)) != POP3_OK)
		return rc;
	if ((rc = send_cmd(p, "PASS", pass, 1)) != POP3_OK)
		return rc;
	if ((rc = p3_read_status(p, "PASS", &st)) != POP3_OK)
		return rc;
	pop3_set_state(p, POP3_TRANSACTION);
	return POP3_OK;
}

enum pop3_rc
pop3_stat(struct pop3 *p, uint64_t *count, uint64_t *size)
{
	struct pop3_status st;
	enum pop3_rc rc;

	if (p3_check_state(p, POP3_TRANSACTION, "STAT") == -1)
		return POP3_USAGE;
	if ((rc = command(p, "STAT", NULL, &st)) != POP3_OK)
		return rc;
	if (pop3_parse_stat(st.text, st.textlen, count, size) == -1)
		return p3_fail(p, POP3_PROTO, "STAT: cannot parse reply: %s",
		    p->srvtext);
	return POP3_OK;
}

static enum pop3_rc
listing(struct pop3 *p, const char *cmd, pop3_list_cb lcb, pop3_uidl_cb ucb,
    void *ctx, size_t *bad)
{
	const char *line, *uid;
	enum pop3_rc rc;
	uint32_t msgno;
	uint64_t size;
	size_t len, uidlen, lines = 0;
	int end, failed = 0;

	*bad = 0;
	if ((rc = command(p, cmd, NULL, NULL)) != POP3_OK)
		return rc;
	for (;;) {
		if ((rc = list_line(p, cmd, &line, &len, &end)) != POP3_OK)
			return rc;
		if (end)
			break;
		if (++lines > p->listing_max)
			return p3_fail(p, POP3_PROTO, "%s: more than %zu lines; "
			    "giving up", cmd, p->listing_max);
		/* A status line among the listing's lines: with the listing
		 * pipelined, a reply to no command read in place of this one's
		 * status, every reply after it one out of step. */
		if (p->was_ahead && (line[0] == '+' || line[0] == '-')) {
			log_sanitize(p->srvtext, sizeof p->srvtext, line, len);
			return p3_fail(p, POP3_PROTO, "%s: the server sent a reply "
			    "to no command (a status line inside the listing: "
			    "%s)", cmd, p->srvtext);
		}
		if (lcb == NULL && ucb == NULL)
			continue;	/* only read (drain_ahead) */
		if (lcb != NULL) {
			if (pop3_parse_list(line, len, &msgno, &size) == -1)
				(*bad)++;
			else if (!failed && lcb(ctx, msgno, size) == -1)
				failed = 1;
		} else {
			if (pop3_parse_uidl(line, len, &msgno, &uid, &uidlen)
			    == -1)
				(*bad)++;
			else if (!failed && ucb(ctx, msgno, uid, uidlen) == -1)
				failed = 1;
		}
	}
	if (failed)
		return p3_fail(p, POP3_SINK, "%s: local failure", cmd);
	return POP3_OK;
}

enum pop3_rc
pop3_list(struct pop3 *p, pop3_list_cb cb, void *ctx, size_t *bad)
{
	if (p3_check_state(p, POP3_TRANSACTION, "LIST") == -1)
		return POP3_USAGE;
	return listing(p, "LIST", cb, NULL, ctx, bad);
}

enum pop3_rc
pop3_uidl(struct pop3 *p, pop3_uidl_cb cb, void *ctx, size_t *bad)
{
	if (p3_check_state(p, POP3_TRANSACTION, "UIDL") == -1)
		return POP3_USAGE;
	return listing(p, "UIDL", NULL, cb, ctx, bad);
}

static int
check_idle(struct pop3 *p, const char *cmd)
{
	if (p->fl_n == 0)
		return 0;
	p3_fail(p, POP3_USAGE, "%s and wait while %zu %s unread", cmd, p->fl_n,
	    p->fl_n == 1 ? "reply is" : "replies are");
	return -1;
}

enum pop3_rc
pop3_retr(struct pop3 *p, uint32_t msgno, long top, uint64_t max_octets,
    pop3_sink sink, void *ctx, uint64_t *octets)
{
	enum pop3_cmd cmd = top >= 0 ? POP3_CMD_TOP : POP3_CMD_RETR;
	struct flight f;
	enum pop3_rc rc;

	*octets = 0;
	if (check_idle(p, p3_cmd_names[cmd]) == -1)
		return POP3_USAGE;
	if ((rc = p3_send_flight(p, cmd, msgno, top, 0)) != POP3_OK)
		return rc;
	if ((rc = p3_begin_read(p, cmd, msgno, &f)) != POP3_OK)
		return rc;
	return p3_read_body(p, &f, max_octets, sink, ctx, octets);
}

static enum pop3_rc
simple(struct pop3 *p, const char *cmd, const char *arg)
{
	if (p3_check_state(p, POP3_TRANSACTION, cmd) == -1)
		return POP3_USAGE;
	return command(p, cmd, arg, NULL);
}

enum pop3_rc
pop3_dele(struct pop3 *p, uint32_t msgno)
{
	enum pop3_rc rc;

	if (check_idle(p, "DELE") == -1)
		return POP3_USAGE;
	if ((rc = pop3_send_dele(p, msgno)) != POP3_OK)
		return rc;
	return pop3_read_dele(p, msgno);
}

enum pop3_rc
pop3_noop(struct pop3 *p)
{
	return simple(p, "NOOP", NULL);
}

enum pop3_rc
pop3_rset(struct pop3 *p)
{
	return simple(p, "RSET", NULL);
}

enum pop3_rc
pop3_quit(struct pop3 *p)
{
	enum pop3_rc rc;

	if (p->state == POP3_CLOSED)
		return p3_fail(p, POP3_USAGE, "QUIT after the connection closed");
	if (p->fl_n > 0)
		return p3_fail(p, POP3_USAGE, "QUIT while %zu %s unread", p->fl_n,
		    p->fl_n == 1 ? "reply is" : "replies are");
	if (p->state == POP3_TRANSACTION)
		pop3_set_state(p, POP3_UPDATE);
	rc = command(p, "QUIT", NULL, NULL);
	pop3_set_state(p, POP3_CLOSED);
	return rc;
}

