/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "log.h"
#include "net.h"
#include "pop3_parse.h"
#include "report.h"
#include "sasl.h"
#include "secret.h"
#include "session.h"
#include "util.h"
#include "xmalloc.h"

/* How long session_dial's connection may wait unused. */
#define DIAL_STALE_MS	10000

void
session_fail(struct session *s, struct result *res, enum pop3_rc rc,
    int during_login)
{
	enum failure f;

	switch (rc) {
	case POP3_NET:
	case POP3_TIMEOUT:
		f = FAIL_TEMP;
		break;
	case POP3_TLS:
		/* An alert (a client certificate wanted or refused) is not
		 * going to pass by retrying. */
		f = FAIL_UNAVAILABLE;
		break;
	case POP3_NEG:
		switch (pop3_last_code(s->p)) {
		case CODE_SYS_TEMP:
		case CODE_IN_USE:
		case CODE_LOGIN_DELAY:
			f = FAIL_TEMP;
			break;
		case CODE_SYS_PERM:
			f = FAIL_UNAVAILABLE;
			break;
		case CODE_AUTH:
			f = FAIL_AUTH;
			break;
		default:
			f = during_login ? FAIL_AUTH : FAIL_PROTOCOL;
			break;
		}
		break;
	case POP3_USAGE:
		f = during_login ? FAIL_CONFIG : FAIL_INTERNAL;
		break;
	default:
		f = FAIL_PROTOCOL;
		break;
	}
	result_fail(res, f, "%s", pop3_error(s->p));
	if (pop3_state(s->p) == POP3_CLOSED)
		s->alive = 0;
}

/* A TLS failure: nothing more is sent (no QUIT in the clear). */
static int
tls_fail(struct session *s, struct result *res, const char *msg)
{
	s->alive = 0;
	result_fail(res, FAIL_UNAVAILABLE, "%s", msg);
	return -1;
}

static char *
get_password(const struct account *a, struct result *res)
{
	char *pw = NULL, *err = NULL, *login = NULL, *prompt;

	if (a->password != NULL)
		pw = xstrdup(a->password);	/* the config file's */
	else if (a->password_fd >= 0)
		pw = secret_from_fd(a->password_fd, &err);
	else if (a->password_file != NULL)
		pw = secret_from_file(a->password_file, &err);
	else if (a->password_cmd != NULL)
		pw = secret_from_cmd(a->password_cmd, a->timeout_ms, &err);
	else {
		pw = secret_from_netrc(a->server, a->user, &login, &err);
		free(login);
		if (pw == NULL && err == NULL) {
			prompt = xasprintf("Password for %s: ", a->name);
			pw = secret_prompt(prompt, &err);
			free(prompt);
			if (pw == NULL && err == NULL)
				err = xasprintf("no password: use "
				    "--password-file, --password-fd, "
				    "--password-cmd or ~/.netrc, or run on a "
				    "terminal");
		}
	}
	if (pw == NULL) {
		result_fail(res, FAIL_CONFIG, "%s", err);
		free(err);
	}
	return pw;
}

static struct tls_config
tls_config_of(const struct account *a, int server_info)
{
	struct tls_config c = {
		.trust_file = a->tls_trust_file,
		.fingerprint = a->tls_fingerprint,
		.cert_file = a->tls_cert,
		.key_file = a->tls_key,
		.no_verify = server_info,
	};

	return c;
}

/* Connects, secures and reads the capabilities, without logging in. */
static int
connect_secure(struct session *s, const struct account *a, int server_info,
    struct result *res)
{
	struct tls_config tc = tls_config_of(a, server_info);
	enum net_err ne = NET_CONNECT;
	enum pop3_rc rc;
	char *err = NULL, *heading;
	struct conn *c;
	int fd;

	s->timeout_ms = a->timeout_ms;
	if (s->dialed) {
		fd = s->dial_fd;
		ne = s->dial_lookup ? NET_LOOKUP : NET_CONNECT;
		err = s->dial_err;
		s->dialed = 0;
		s->dial_err = NULL;
	} else if (a->tunnel != NULL)
		fd = net_tunnel(a->tunnel, &s->tunnel_pid, &err);
	else
		fd = net_connect(a->server, a->port, a->timeout_ms, &ne, &err);
	if (fd == -1) {
		result_fail(res, ne == NET_LOOKUP ? FAIL_NOHOST :
		    FAIL_UNAVAILABLE, "%s", err);
		free(err);
		return -1;
	}
	c = conn_new(fd, a->timeout_ms);
	if (a->session_timeout_ms > 0)
		conn_set_deadline(c, now_ms() + a->session_timeout_ms);
	conn_set_trace(c, log_level() >= 2);
	s->p = pop3_new(c);
	s->alive = 1;
	if (a->tls == TLS_IMPLICIT && conn_starttls(c, a->server, &tc, &err)) {
		tls_fail(s, res, err);
		free(err);
		return -1;
	}
	if ((rc = pop3_greeting(s->p)) != POP3_OK) {
		if (rc == POP3_TIMEOUT && a->tls != TLS_IMPLICIT) {
			/* A TLS port waits for our handshake in silence. */
			result_fail(res, FAIL_TEMP, "%s; if the server speaks "
			    "TLS from the first byte (port 995), use "
			    "--tls=implicit", pop3_error(s->p));
			s->alive = 0;
		} else if (rc == POP3_NEG) {
			/* A server that says -ERR at once will not serve. */
			result_fail(res, FAIL_UNAVAILABLE, "%s",
			    pop3_error(s->p));
			if (pop3_state(s->p) == POP3_CLOSED)
				s->alive = 0;
		} else
			session_fail(s, res, rc, 0);
		return -1;
	}
	if ((rc = pop3_capa(s->p)) != POP3_OK) {
		session_fail(s, res, rc, 0);
		return -1;
	}
	if (server_info) {
		const char *g = pop3_greeting_text(s->p);
		char show[1024];

		/* The server's text, with its control bytes escaped. */
		heading = xasprintf("greeting: %s\ncapabilities%s:",
		    log_sanitize(show, sizeof show, g, strlen(g)),
		    a->tls == TLS_IMPLICIT ? " (over TLS)" : "");
		report_server_info(heading, pop3_capa_text(s->p));
		free(heading);
	}
	if (a->tls != TLS_STARTTLS)
		return 0;
	/* RFC 2595: STLS only when offered; without it, or when it fails,
	 * nothing more goes out in the clear. */
	if (!(pop3_capa_bits(s->p) & CAPA_STLS)) {
		if (server_info)
			return 0;
		return tls_fail(s, res, "the server does not offer STLS and "
		    "TLS is required: use --tls=implicit (port 995) if it "
		    "speaks TLS from the start, or --no-tls to accept "
		    "plaintext");
	}
	rc = pop3_stls(s->p, a->server, &tc);
	if (rc != POP3_OK) {
		char *msg = xasprintf("%s; TLS is required, so nothing more "
		    "is sent", pop3_error(s->p));

		tls_fail(s, res, msg);
		free(msg);
		return -1;
	}
	/* RFC 2595: forget what was said in the clear and ask again. */
	if ((rc = pop3_capa(s->p)) != POP3_OK) {
		session_fail(s, res, rc, 0);
		return -1;
	}
	if (server_info)
		report_server_info("capabilities after STLS:",
		    pop3_capa_text(s->p));
	return 0;
}

static enum pop3_rc
try_auth(struct session *s, const struct account *a,
    const struct auth_method *m, const char *pw)
{
	const char *greeting = pop3_greeting_text(s->p);
	struct sasl *sasl;
	enum pop3_rc rc;
	char *ts, *dig, *err = NULL;

	switch (m->kind) {
	case AUTH_USER:
		return pop3_login_user(s->p, a->user, pw);
	case AUTH_APOP:
		if ((ts = apop_timestamp(greeting, strlen(greeting))) == NULL) {
			log_warnx("APOP: the greeting has no timestamp");
			return POP3_NEG;
		}
		if ((dig = apop_digest(ts, pw)) == NULL) {
			free(ts);
			log_warnx("APOP: MD5 is not available");
			return POP3_NEG;
		}
		rc = pop3_apop(s->p, a->user, dig);
		free(ts);
		free_secret(dig);
		return rc;
	case AUTH_SASL:
		break;
	}
	sasl = sasl_new(m->mech, a->user, pw, a->server, a->port, &err);
	if (sasl == NULL) {
		log_warnx("%s: %s", sasl_mech_name(m->mech), err);
		free(err);
		return POP3_USAGE;
	}
	rc = pop3_auth(s->p, sasl, m->mech);
	sasl_free(sasl);
	return rc;
}

static int connect_secure(struct session *, const struct account *, int,
    struct result *);

/*
 * A server that hangs up after a refused login (solid-pop3d does) gets a
 * new connection for the next method; the password is not asked for
 * again.
 */
static int
reconnect(struct session *s, const struct account *a, struct result *res)
{
	log_info("the server closed the connection; connecting again");
	session_close(s);
	return connect_secure(s, a, 0, res);
}

static int
login(struct session *s, const struct account *a, struct result *res)
{
	const struct auth_method *methods[16];
	const char *greeting = pop3_greeting_text(s->p);
	enum pop3_rc rc = POP3_NEG;
	enum pop3_code code;
	int refused = 0, again = 0;
	size_t n, i;
	char *pw, *ts;

	/* Asked for only now: a password never leaves its source for a
	 * connection that failed to be secured. */
	if ((pw = get_password(a, res)) == NULL)
		return -1;
	ts = apop_timestamp(greeting, strlen(greeting));
	n = auth_candidates(a->auth, pop3_sasl_list(s->p), ts != NULL,
	    (pop3_capa_bits(s->p) & CAPA_USER) != 0, methods,
	    sizeof methods / sizeof methods[0]);
	free(ts);
	for (i = 0; i < n; i++) {
		if (pop3_state(s->p) == POP3_CLOSED &&
		    reconnect(s, a, res) == -1) {
			free_secret(pw);
			return -1;
		}
		log_debug("trying authentication method %s", methods[i]->name);
		rc = try_auth(s, a, methods[i], pw);
		if (rc == POP3_OK)
			break;
		if (rc == POP3_NET && refused && !again) {
			/* Gone since the last refusal: once more, anew. */
			again = 1;
			if (reconnect(s, a, res) == -1) {
				free_secret(pw);
				return -1;
			}
			i--;
			continue;
		}
		again = 0;
		if (rc != POP3_NEG)
			break;
		refused = 1;
		/* Servers lie in CAPA and infer nothing from a greeting: a
		 * refused method falls back to the next. A wrong password
		 * ([AUTH]) is not tried again, except after APOP, which fails
		 * with [AUTH] where the user has no APOP secret. A server that
		 * is busy or refuses service is not asked again either. */
		code = pop3_last_code(s->p);
		if (code != CODE_NONE && !(code == CODE_AUTH &&
		    methods[i]->kind == AUTH_APOP))
			break;
		if (i + 1 < n)
			log_info("%s; trying %s", pop3_error(s->p),
			    methods[i + 1]->name);
	}
	free_secret(pw);
	if (rc != POP3_OK) {
		session_fail(s, res, rc, 1);
		return -1;
	}
	/* RFC 2449: capabilities may change after login. */
	if ((rc = pop3_capa(s->p)) != POP3_OK) {
		session_fail(s, res, rc, 0);
		return -1;
	}
	return 0;
}

void
session_dial(struct session *s, const struct account *a)
{
	enum net_err ne = NET_CONNECT;

	s->dialed = 1;
	s->dial_ms = now_ms();
	if (a->tunnel != NULL)
		s->dial_fd = net_tunnel(a->tunnel, &s->tunnel_pid, &s->dial_err);
	else
		s->dial_fd = net_connect(a->server, a->port, a->timeout_ms, &ne,
		    &s->dial_err);
	s->dial_lookup = ne == NET_LOOKUP;
}

int
session_open(struct session *s, const struct account *a, struct result *res)
{
	/* A connection left waiting long (a journal recovery that ran an
	 * MDA, say) may have been dropped by the server: a new one. */
	if (s->dialed && now_ms() - s->dial_ms > DIAL_STALE_MS)
		session_close(s);
	if (!s->dialed)
		memset(s, 0, sizeof *s);
	if (connect_secure(s, a, 0, res) == -1)
		return -1;
	return login(s, a, res);
}

int
session_server_info(struct session *s, const struct account *a,
    struct result *res)
{
	char *desc;

	memset(s, 0, sizeof *s);
	if (connect_secure(s, a, 1, res) == -1)
		return -1;
	desc = pop3_conn_describe(s->p);
	report_server_info(NULL, desc != NULL ? desc : "TLS: none\n");
	free(desc);
	if (s->alive)
		pop3_quit(s->p);
	return 0;
}

void
session_close(struct session *s)
{
	if (s->dialed && s->dial_fd != -1)
		close(s->dial_fd);
	s->dialed = 0;
	free(s->dial_err);
	s->dial_err = NULL;
	pop3_free(s->p);
	s->p = NULL;
	s->alive = 0;
	net_tunnel_reap(s->tunnel_pid, s->timeout_ms);
	s->tunnel_pid = 0;
}
