/* SPDX-License-Identifier: ISC */
/*
 * The POP3 client's commands in flight (RFC 2449 PIPELINING): RETR, TOP
 * and DELE sent ahead of their replies in a bounded window, the replies
 * read in order, and message bodies streamed into a sink with the dots
 * undone. See pop3.h.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dotdec.h"
#include "log.h"
#include "pop3_int.h"
#include "pop3_parse.h"
#include "util.h"
#include "xmalloc.h"

const char *p3_cmd_names[] = {
	[POP3_CMD_RETR] = "RETR",
	[POP3_CMD_TOP] = "TOP",
	[POP3_CMD_DELE] = "DELE",
};

int
pop3_pipelining(const struct pop3 *p)
{
	return (p->capa & CAPA_PIPELINING) != 0;
}

void
pop3_set_window(struct pop3 *p, size_t cmds, uint64_t bytes)
{
	p->win_cmds = cmds < 1 ? 1 : cmds > POP3_WINDOW_MAX ?
	    POP3_WINDOW_MAX : cmds;
	p->win_bytes = bytes;
}

int
pop3_window_room(const struct pop3 *p, uint64_t size)
{
	if (p->state != POP3_TRANSACTION)
		return 0;
	if (p->fl_n == 0)
		return 1;
	if (!pop3_pipelining(p) || p->fl_n >= p->win_cmds)
		return 0;
	if (p->win_bytes != 0 && (p->fl_bytes > p->win_bytes ||
	    size > p->win_bytes - p->fl_bytes))
		return 0;
	return 1;
}

size_t
pop3_in_flight(const struct pop3 *p)
{
	return p->fl_n;
}

size_t
pop3_unanswered(const struct pop3 *p, struct pop3_flight *out, size_t max)
{
	const struct flight *f;
	size_t i;

	for (i = 0; i < p->fl_n && i < max; i++) {
		f = &p->fl[(p->fl_head + i) % POP3_WINDOW_MAX];
		out[i].cmd = f->cmd;
		out[i].msgno = f->msgno;
	}
	return p->fl_n;
}

/* Queues the command; it goes out with others in begin_read. */
enum pop3_rc
p3_send_flight(struct pop3 *p, enum pop3_cmd cmd, uint32_t msgno, long top,
    uint64_t size)
{
	const char *name = p3_cmd_names[cmd];
	struct flight *f;
	enum pop3_rc rc;
	char line[64];
	int n;

	if (p3_check_state(p, POP3_TRANSACTION, name) == -1)
		return POP3_USAGE;
	if (!pop3_window_room(p, size))
		return p3_fail(p, POP3_USAGE, "%s %u: %s", name, msgno,
		    pop3_pipelining(p) ? "the pipelining window is full" :
		    "the server does not pipeline and a reply is unread");
	if (p->fl_n == 0 && (rc = p3_check_unsolicited(p, name)) != POP3_OK)
		return rc;
	if (cmd == POP3_CMD_TOP)
		n = snprintf(line, sizeof line, "TOP %u %ld\r\n", msgno, top);
	else
		n = snprintf(line, sizeof line, "%s %u\r\n", name, msgno);
	conn_queue(p->conn, line, (size_t)n);
	f = &p->fl[(p->fl_head + p->fl_n) % POP3_WINDOW_MAX];
	f->cmd = cmd;
	f->msgno = msgno;
	f->size = size;
	f->behind = p->fl_n > 0;
	p->fl_n++;
	p->fl_bytes += size;
	p->unsent++;
	return POP3_OK;
}

enum pop3_rc
pop3_send_retr(struct pop3 *p, uint32_t msgno, uint64_t size)
{
	return p3_send_flight(p, POP3_CMD_RETR, msgno, -1, size);
}

enum pop3_rc
pop3_send_top(struct pop3 *p, uint32_t msgno)
{
	return p3_send_flight(p, POP3_CMD_TOP, msgno, 0, 0);
}

void
pop3_set_drain_max(struct pop3 *p, uint64_t n)
{
	p->drain_max = n;
}

enum pop3_rc
pop3_send_dele(struct pop3 *p, uint32_t msgno)
{
	return p3_send_flight(p, POP3_CMD_DELE, msgno, -1, 0);
}

enum pop3_rc
pop3_flush(struct pop3 *p)
{
	enum conn_err e;

	if (p->state == POP3_CLOSED || conn_queued(p->conn) == 0)
		return POP3_OK;
	p->unsent = 0;
	if ((e = conn_flush(p->conn)) != CONN_OK)
		return p3_conn_fail(p, e, "sending ahead");
	return POP3_OK;
}

/*
 * Takes the oldest command in flight, which must be cmd msgno, into *f.
 * Queued commands go out together once the one to be read is among them
 * or they are half of those in flight, so the server is never short of
 * work while we read. After the connection failed, the command gets the
 * error that closed it.
 */
enum pop3_rc
p3_begin_read(struct pop3 *p, enum pop3_cmd cmd, uint32_t msgno,
    struct flight *f)
{
	const struct flight *h = &p->fl[p->fl_head];
	enum conn_err e;

	if (p->fl_n == 0)
		return p3_fail(p, POP3_USAGE, "no %s %u in flight",
		    p3_cmd_names[cmd], msgno);
	if (h->cmd != cmd || h->msgno != msgno)
		return p3_fail(p, POP3_USAGE, "the next reply is to %s %u, not "
		    "%s %u", p3_cmd_names[h->cmd], h->msgno, p3_cmd_names[cmd], msgno);
	*f = *h;
	p->fl_head = (p->fl_head + 1) % POP3_WINDOW_MAX;
	p->fl_n--;
	p->fl_bytes -= f->size;
	if (p->state == POP3_CLOSED)
		return p3_fail(p, p->dead != POP3_OK ? p->dead : POP3_NET,
		    "%s %u: never answered: %s", p3_cmd_names[cmd], msgno,
		    p->dead != POP3_OK ? p->deadwhy : "the connection is closed");
	if (conn_queued(p->conn) == 0)
		p->unsent = 0;
	/* fl_n no longer counts the command taken. */
	if (p->unsent > 0 && 2 * p->unsent > p->fl_n) {
		p->unsent = 0;
		if ((e = conn_flush(p->conn)) != CONN_OK)
			return p3_conn_fail(p, e, p3_cmd_names[cmd]);
	}
	return POP3_OK;
}

/*
 * A reply to no command among pipelined replies shifts them: the stray
 * status line is taken for this command's, and this command's own status
 * line becomes the first line of the message. No message starts so: its
 * first line is a header field, and "+OK" or "-ERR" followed by a blank is
 * not one.
 */
static int
status_like(const char *b, size_t n)
{
	size_t k;

	if (n >= 3 && strncasecmp(b, "+OK", 3) == 0)
		k = 3;
	else if (n >= 4 && strncasecmp(b, "-ERR", 4) == 0)
		k = 4;
	else
		return 0;
	return n == k || b[k] == ' ' || b[k] == '\t' || b[k] == '\r' ||
	    b[k] == '\n';
}

enum pop3_rc
p3_read_body(struct pop3 *p, const struct flight *f, uint64_t max_octets,
    pop3_sink sink, void *ctx, uint64_t *octets)
{
	const char *cmd = p3_cmd_names[f->cmd], *in;
	struct pop3_status st;
	struct dotdec d;
	enum conn_err e;
	enum pop3_rc rc;
	size_t inlen, used, outlen, held = 0;
	int toobig = 0, sinkfail = 0, checking = f->behind;
	char *out;

	if ((rc = p3_read_status(p, cmd, &st)) != POP3_OK)
		return rc;
	dotdec_init(&d);
	/* One buffer for the session, not one per message. */
	if (p->body == NULL)
		p->body = xmalloc(HOLD_MAX + CONN_MAXPEEK + 1);
	out = p->body;
	while (!d.done) {
		if ((e = conn_peek(p->conn, &in, &inlen)) != CONN_OK)
			return p3_conn_fail(p, e, cmd);
		used = dotdec_run(&d, in, inlen, out + held, &outlen);
		conn_consume(p->conn, used);
		*octets += outlen;
		outlen += held;
		held = 0;
		if (checking) {
			if (outlen <= HOLD_MAX && !d.done) {
				held = outlen;
				continue;
			}
			checking = 0;
			if (status_like(out, outlen))
				return p3_fail(p, POP3_PROTO, "%s %u: the message "
				    "starts with a status line: the server sent "
				    "a reply to no command before it", cmd,
				    f->msgno);
		}
		if (max_octets != 0 && *octets > max_octets)
			toobig = 1;
		if (toobig && *octets - max_octets > p->drain_max) {
			p3_fail(p, POP3_TOOBIG, "%s %u: message larger than %llu "
			    "octets; connection dropped rather than reading it "
			    "all", cmd, f->msgno, (unsigned long long)max_octets);
			p3_close_session(p, POP3_TOOBIG);
			return POP3_TOOBIG;
		}
		if (toobig || sinkfail || outlen == 0)
			continue;
		if (sink(ctx, out, outlen) == -1)
			sinkfail = 1;
	}
	if (conn_trace(p->conn))
		fprintf(stderr, "S: <%llu octets of message data>\nS: .\n",
		    (unsigned long long)*octets);
	if (toobig)
		return p3_fail(p, POP3_TOOBIG, "%s %u: message larger than %llu "
		    "octets", cmd, f->msgno, (unsigned long long)max_octets);
	if (sinkfail)
		return p3_fail(p, POP3_SINK, "%s %u: local failure", cmd,
		    f->msgno);
	return POP3_OK;
}

static enum pop3_rc
read_multi(struct pop3 *p, enum pop3_cmd cmd, uint32_t msgno, uint64_t max_octets,
    pop3_sink sink, void *ctx, uint64_t *octets)
{
	struct flight f;
	enum pop3_rc rc;

	*octets = 0;
	if ((rc = p3_begin_read(p, cmd, msgno, &f)) != POP3_OK)
		return rc;
	return p3_read_body(p, &f, max_octets, sink, ctx, octets);
}

enum pop3_rc
pop3_read_retr(struct pop3 *p, uint32_t msgno, uint64_t max_octets,
    pop3_sink sink, void *ctx, uint64_t *octets)
{
	return read_multi(p, POP3_CMD_RETR, msgno, max_octets, sink, ctx,
	    octets);
}

enum pop3_rc
pop3_read_top(struct pop3 *p, uint32_t msgno, uint64_t max_octets,
    pop3_sink sink, void *ctx, uint64_t *octets)
{
	return read_multi(p, POP3_CMD_TOP, msgno, max_octets, sink, ctx,
	    octets);
}

enum pop3_rc
pop3_read_dele(struct pop3 *p, uint32_t msgno)
{
	struct pop3_status st;
	struct flight f;
	enum pop3_rc rc;

	if ((rc = p3_begin_read(p, POP3_CMD_DELE, msgno, &f)) != POP3_OK)
		return rc;
	return p3_read_status(p, "DELE", &st);
}

enum pop3_rc
pop3_check_stray(struct pop3 *p)
{
	if (p->fl_n > 0)
		return p3_fail(p, POP3_USAGE, "%zu %s unread", p->fl_n,
		    p->fl_n == 1 ? "reply is" : "replies are");
	if (p->state == POP3_CLOSED)
		return p3_fail(p, POP3_USAGE, "the connection is closed");
	return p3_check_unsolicited(p, "the next command");
}

/* Not while others are in flight: the reply read would be theirs. */
