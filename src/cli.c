/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "auth.h"
#include "cli.h"
#include "log.h"
#include "report.h"
#include "tls.h"
#include "util.h"
#include "xmalloc.h"

/* Options without a short form get ids past the characters. */
enum {
	O_MAILDIR = 256, O_MBOX, O_STDOUT, O_DELETE, O_ALL, O_STATE_DIR,
	O_TIMEOUT, O_SESSION_TIMEOUT, O_NO_TLS, O_PASSWORD_FILE,
	O_PASSWORD_FD, O_WAIT_LOCK, O_MAX_SIZE, O_BATCH, O_LIST_SEEN, O_TLS,
	O_TLS_TRUST_FILE, O_TLS_FINGERPRINT, O_TLS_CERT, O_TLS_KEY, O_AUTH,
	O_PASSWORD_CMD, O_SERVER_INFO, O_TUNNEL, O_COPY, O_HOST, O_PASSWORD,
	O_DELETE_AFTER, O_FETCH_LIMIT, O_RECEIVED, O_NO_RECEIVED, O_JOBS,
	O_SUMMARY, O_SUMMARY_FILE, O_SYSLOG, O_MARK_SEEN, O_IMPORT_UIDS,
};

enum scope {
	RUN,		/* the whole run; command line only */
	ACCOUNT,	/* an account setting; also a config keyword */
	CONFIG,		/* an account setting only the config file has */
};

/* One table: getopt_long's options, and the config file's keywords. */
static const struct optdef {
	struct option	 opt;
	enum scope	 scope;
	enum rc_type	 type;
} optdefs[] = {
	{ { "user", required_argument, NULL, 'u' }, ACCOUNT, RC_VALUE },
	{ { "port", required_argument, NULL, 'P' }, ACCOUNT, RC_VALUE },
	{ { "host", required_argument, NULL, O_HOST }, CONFIG, RC_VALUE },
	{ { "maildir", required_argument, NULL, O_MAILDIR }, ACCOUNT, RC_PATH },
	{ { "mbox", required_argument, NULL, O_MBOX }, ACCOUNT, RC_PATH },
	{ { "mda", required_argument, NULL, 'm' }, ACCOUNT, RC_VALUE },
	{ { "stdout", no_argument, NULL, O_STDOUT }, ACCOUNT, RC_FLAG },
	{ { "keep", no_argument, NULL, 'k' }, ACCOUNT, RC_FLAG },
	{ { "delete", no_argument, NULL, O_DELETE }, ACCOUNT, RC_FLAG },
	{ { "all", no_argument, NULL, O_ALL }, ACCOUNT, RC_FLAG },
	{ { "copy", no_argument, NULL, O_COPY }, ACCOUNT, RC_FLAG },
	{ { "delete-after", required_argument, NULL, O_DELETE_AFTER },
	    ACCOUNT, RC_VALUE },
	{ { "fetch-limit", required_argument, NULL, O_FETCH_LIMIT },
	    ACCOUNT, RC_VALUE },
	{ { "received", no_argument, NULL, O_RECEIVED }, ACCOUNT, RC_FLAG },
	{ { "no-received", no_argument, NULL, O_NO_RECEIVED }, ACCOUNT,
	    RC_FLAG },
	{ { "state-dir", required_argument, NULL, O_STATE_DIR }, ACCOUNT,
	    RC_PATH },
	{ { "timeout", required_argument, NULL, O_TIMEOUT }, ACCOUNT,
	    RC_VALUE },
	{ { "session-timeout", required_argument, NULL, O_SESSION_TIMEOUT },
	    ACCOUNT, RC_VALUE },
	{ { "no-tls", no_argument, NULL, O_NO_TLS }, ACCOUNT, RC_FLAG },
	{ { "tls", required_argument, NULL, O_TLS }, ACCOUNT, RC_VALUE },
	{ { "tls-trust-file", required_argument, NULL, O_TLS_TRUST_FILE },
	    ACCOUNT, RC_PATH },
	{ { "tls-fingerprint", required_argument, NULL, O_TLS_FINGERPRINT },
	    ACCOUNT, RC_VALUE },
	{ { "tls-cert", required_argument, NULL, O_TLS_CERT }, ACCOUNT,
	    RC_PATH },
	{ { "tls-key", required_argument, NULL, O_TLS_KEY }, ACCOUNT,
	    RC_PATH },
	{ { "auth", required_argument, NULL, O_AUTH }, ACCOUNT, RC_VALUE },
	{ { "password", required_argument, NULL, O_PASSWORD }, CONFIG,
	    RC_SECRET },
	{ { "password-file", required_argument, NULL, O_PASSWORD_FILE },
	    ACCOUNT, RC_PATH },
	{ { "password-fd", required_argument, NULL, O_PASSWORD_FD }, ACCOUNT,
	    RC_VALUE },
	{ { "password-cmd", required_argument, NULL, O_PASSWORD_CMD },
	    ACCOUNT, RC_VALUE },
	{ { "tunnel", required_argument, NULL, O_TUNNEL }, ACCOUNT, RC_VALUE },
	{ { "max-size", required_argument, NULL, O_MAX_SIZE }, ACCOUNT,
	    RC_VALUE },
	{ { "batch", required_argument, NULL, O_BATCH }, ACCOUNT, RC_VALUE },
	/* Run options. */
	{ { "config", required_argument, NULL, 'C' }, RUN, RC_UNKNOWN },
	{ { "jobs", required_argument, NULL, O_JOBS }, RUN, RC_UNKNOWN },
	{ { "summary", required_argument, NULL, O_SUMMARY }, RUN, RC_UNKNOWN },
	{ { "summary-file", required_argument, NULL, O_SUMMARY_FILE }, RUN,
	    RC_UNKNOWN },
	{ { "syslog", no_argument, NULL, O_SYSLOG }, RUN, RC_UNKNOWN },
	{ { "mark-seen", no_argument, NULL, O_MARK_SEEN }, RUN, RC_UNKNOWN },
	{ { "import-uids", required_argument, NULL, O_IMPORT_UIDS }, RUN,
	    RC_UNKNOWN },
	{ { "wait-lock", required_argument, NULL, O_WAIT_LOCK }, RUN,
	    RC_UNKNOWN },
	{ { "list-seen", no_argument, NULL, O_LIST_SEEN }, RUN, RC_UNKNOWN },
	{ { "check", no_argument, NULL, 'c' }, RUN, RC_UNKNOWN },
	{ { "server-info", no_argument, NULL, O_SERVER_INFO }, RUN,
	    RC_UNKNOWN },
	{ { "verbose", no_argument, NULL, 'v' }, RUN, RC_UNKNOWN },
	{ { "quiet", no_argument, NULL, 'q' }, RUN, RC_UNKNOWN },
	{ { "version", no_argument, NULL, 'V' }, RUN, RC_UNKNOWN },
	{ { "help", no_argument, NULL, 'h' }, RUN, RC_UNKNOWN },
};
#define NOPTDEFS	(sizeof optdefs / sizeof optdefs[0])

static const char usage_text[] =
"usage: popfetch [OPTIONS] [ACCOUNT|SERVER...]\n"
"Fetch new mail from POP3 servers, exactly once. Without arguments, every\n"
"account of the config file; an argument that is no account is a server.\n"
"\n"
"Delivery (one of):\n"
"      --maildir DIR        into a Maildir (created if missing)\n"
"      --mbox FILE          append to an mbox (mboxrd, locked)\n"
"  -m, --mda CMD            pipe each message to /bin/sh -c CMD\n"
"      --stdout             write an mboxrd stream to standard output\n"
"      --received, --no-received  add a Received: field (default) or\n"
"                           deliver the server's bytes unchanged\n"
"Server:\n"
"  -u, --user USER          login name (default: $USER)\n"
"  -P, --port PORT          port (default 995 with --tls=implicit, else 110)\n"
"      --tls=implicit|starttls  TLS from the start (default on port 995) or\n"
"                           STLS (default otherwise); TLS is required\n"
"      --no-tls             allow plaintext (the password can be read)\n"
"      --tls-trust-file F   trust the CAs in F instead of the system store\n"
"      --tls-fingerprint sha256:HEX  pin the server certificate\n"
"      --tls-cert F, --tls-key F  client certificate and key (PEM)\n"
"      --auth METHOD        user, apop, plain, login, cram-md5, scram-sha-1,\n"
"                           scram-sha-256, xoauth2, oauthbearer (default:\n"
"                           the strongest the server offers)\n"
"      --password-file FILE read the password from FILE's first line\n"
"      --password-fd N      read the password from file descriptor N\n"
"      --password-cmd CMD   the first line CMD prints (a password manager,\n"
"                           an OAuth2 token helper); run only when needed\n"
"                           (default: ~/.netrc, else a terminal prompt)\n"
"      --tunnel CMD         speak POP3 over /bin/sh -c CMD's standard input\n"
"                           and output (e.g. ssh HOST dovecot --exec pop3)\n"
"      --server-info        show greeting, capabilities and certificate\n"
"Behaviour:\n"
"  -k, --keep               leave messages on the server (default)\n"
"      --delete             delete messages after durable delivery\n"
"      --delete-after DAYS  delete each message DAYS days after it was\n"
"                           first fetched\n"
"      --all                fetch messages seen before, too\n"
"      --fetch-limit N      at most N messages per run, oldest first\n"
"      --copy               copy into this target, keeping a record of its own\n"
"                           (a backup): the account's record is untouched,\n"
"                           nothing is deleted\n"
"      --max-size BYTES     leave larger messages on the server (1 GiB)\n"
"      --timeout SECONDS    idle network timeout (60; fractions allowed)\n"
"      --session-timeout S  cap on the whole session (none)\n"
"      --wait-lock SECONDS  wait for another run of the account (0)\n"
"      --state-dir DIR      where UIDs are kept\n"
"                           (default $XDG_STATE_HOME/popfetch)\n"
"      --batch N            messages per durable batch (512)\n"
"Accounts and switching:\n"
"  -C, --config FILE        the config file (default\n"
"                           $XDG_CONFIG_HOME/popfetch/config)\n"
"      --jobs N             run up to N accounts at once (1)\n"
"      --mark-seen          record every message now on the server as\n"
"                           fetched; download nothing\n"
"      --import-uids FORMAT:FILE  record the UIDs that mpop, fetchmail or\n"
"                           getmail kept for this account\n"
"      --list-seen          print the account's UID store and exit\n"
"  -c, --check              count new messages, fetch nothing; exit 0 when\n"
"                           there are some, 1 when there are none\n"
"Output:\n"
"      --summary json       a JSON summary of every account on stdout\n"
"      --summary-file FILE  the JSON summary into FILE instead\n"
"      --syslog             also log to syslog, facility mail\n"
"  -v, --verbose            more output; -vv traces the protocol\n"
"                           (passwords redacted)\n"
"  -q, --quiet              only errors\n"
"  -V, --version            print the version\n"
"  -h, --help               this help\n"
"See popfetch(1) and popfetchrc(5).\n";

static const struct optdef *
by_id(int id)
{
	size_t i;

	for (i = 0; i < NOPTDEFS; i++)
		if (optdefs[i].opt.val == id)
			return &optdefs[i];
	return NULL;
}

static const struct optdef *
by_name(const char *name)
{
	size_t i;

	for (i = 0; i < NOPTDEFS; i++)
		if (strcmp(optdefs[i].opt.name, name) == 0)
			return &optdefs[i];
	return NULL;
}

enum rc_type
cli_keyword_type(const char *keyword, void *arg)
{
	const struct optdef *o = by_name(keyword);

	(void)arg;
	return o != NULL && o->scope != RUN ? o->type : RC_UNKNOWN;
}

static void
set_str(char **field, const char *value)
{
	free(*field);
	*field = xstrdup(value);
}

void
cli_layer(struct account *a)
{
	a->layer_set = 0;
}

static void
mark(struct account *a, enum account_field f)
{
	a->set |= AF_BIT(f);
	a->layer_set |= AF_BIT(f);
}

static int
bad_number(const char *name, const char *value, long long min, long long max,
    char **errstr)
{
	*errstr = xasprintf("--%s: expected a number from %lld to %lld, got "
	    "\"%s\"", name, min, max, value);
	return EX_USAGE;
}

static int
set_delivery(struct account *a, enum deliver_kind k, const char *target,
    char **errstr)
{
	if (a->layer_set & AF_BIT(AF_DELIVERY)) {
		*errstr = xasprintf("give only one of --maildir, --mbox, --mda "
		    "and --stdout");
		return EX_USAGE;
	}
	a->dkind = k;
	free(a->dtarget);
	a->dtarget = target != NULL ? xstrdup(target) : NULL;
	mark(a, AF_DELIVERY);
	return 0;
}

static int
set_tls(struct account *a, enum tls_mode mode, char **errstr)
{
	if ((a->layer_set & AF_BIT(AF_TLS)) && (a->tls == TLS_OFF) !=
	    (mode == TLS_OFF)) {
		*errstr = xasprintf("--no-tls and --tls=%s contradict each "
		    "other", (mode == TLS_OFF ? a->tls : mode) == TLS_IMPLICIT ?
		    "implicit" : "starttls");
		return EX_CONFIG;
	}
	a->tls = mode;
	mark(a, AF_TLS);
	return 0;
}

int
cli_apply(struct account *a, const char *name, const char *value, int on,
    char **errstr)
{
	const struct optdef *o = by_name(name);
	long long n;
	int id = o != NULL && o->scope != RUN ? o->opt.val : -1;

	if (value != NULL && *value == '\0') {
		*errstr = xasprintf("--%s: the value is empty", name);
		return EX_USAGE;
	}
	/* "keyword off" in the config file. */
	if (!on) {
		switch (id) {
		case 'k':
			id = O_DELETE;
			break;
		case O_DELETE:
			id = 'k';
			break;
		case O_RECEIVED:
			id = O_NO_RECEIVED;
			break;
		case O_NO_RECEIVED:
			id = O_RECEIVED;
			break;
		case O_NO_TLS:
			a->tls = TLS_DEFAULT;
			mark(a, AF_TLS);
			return 0;
		case O_ALL:
		case O_COPY:
			break;
		default:
			*errstr = xasprintf("%s: \"off\" makes no sense here",
			    name);
			return EX_USAGE;
		}
	}
	switch (id) {
	case O_HOST:
		set_str(&a->server, value);
		mark(a, AF_SERVER);
		return 0;
	case O_PASSWORD:
		free_secret(a->password);
		a->password = xstrdup(value);
		mark(a, AF_PASSWORD);
		return 0;
	case O_DELETE_AFTER:
		if (parse_number(value, 1, 36500, &n) == -1)
			return bad_number(name, value, 1, 36500, errstr);
		a->delete_after = (int)n;
		mark(a, AF_DELETE_AFTER);
		return 0;
	case O_FETCH_LIMIT:
		if (parse_number(value, 1, 100000000, &n) == -1)
			return bad_number(name, value, 1, 100000000, errstr);
		a->fetch_limit = (unsigned)n;
		mark(a, AF_FETCH_LIMIT);
		return 0;
	case O_RECEIVED:
	case O_NO_RECEIVED:
		a->received = id == O_RECEIVED;
		mark(a, AF_RECEIVED);
		return 0;
	case 'u':
		set_str(&a->user, value);
		mark(a, AF_USER);
		return 0;
	case 'P':
		if (parse_number(value, 1, 65535, &n) == -1)
			return bad_number(name, value, 1, 65535, errstr);
		set_str(&a->port, value);
		mark(a, AF_PORT);
		return 0;
	case O_MAILDIR:
		return set_delivery(a, DELIVER_MAILDIR, value, errstr);
	case O_MBOX:
		return set_delivery(a, DELIVER_MBOX, value, errstr);
	case 'm':
		return set_delivery(a, DELIVER_MDA, value, errstr);
	case O_STDOUT:
		return set_delivery(a, DELIVER_STDOUT, NULL, errstr);
	case 'k':
	case O_DELETE:
		a->delete = id == O_DELETE;
		mark(a, AF_DELETE);
		return 0;
	case O_ALL:
		a->all = on;
		mark(a, AF_ALL);
		return 0;
	case O_COPY:
		a->copy = on;
		mark(a, AF_COPY);
		return 0;
	case O_STATE_DIR:
		set_str(&a->state_base, value);
		mark(a, AF_STATE_DIR);
		return 0;
	case O_TIMEOUT:
	case O_SESSION_TIMEOUT: {
		long long max = id == O_TIMEOUT ? 86400000 : 864000000;

		if (parse_seconds_ms(value, 1, max, &n) == -1) {
			*errstr = xasprintf("--%s: expected seconds from 0.001 "
			    "to %lld, got \"%s\"", name, max / 1000, value);
			return EX_USAGE;
		}
		if (id == O_TIMEOUT) {
			a->timeout_ms = (int)n;
			mark(a, AF_TIMEOUT);
		} else {
			a->session_timeout_ms = n;
			mark(a, AF_SESSION_TIMEOUT);
		}
		return 0;
	}
	case O_NO_TLS:
		return set_tls(a, TLS_OFF, errstr);
	case O_TLS:
		if (strcmp(value, "implicit") == 0)
			return set_tls(a, TLS_IMPLICIT, errstr);
		if (strcmp(value, "starttls") == 0)
			return set_tls(a, TLS_STARTTLS, errstr);
		*errstr = xasprintf("--tls: expected implicit or starttls, got "
		    "\"%s\"", value);
		return EX_USAGE;
	case O_TLS_TRUST_FILE:
		set_str(&a->tls_trust_file, value);
		mark(a, AF_TLS_TRUST_FILE);
		return 0;
	case O_TLS_FINGERPRINT: {
		unsigned char pin[32];

		if (tls_parse_fingerprint(value, pin) == -1) {
			*errstr = xasprintf("--tls-fingerprint: expected a SHA-256 "
			    "fingerprint, 64 hex digits (sha256:HEX, AB:CD:..., "
			    "as --server-info or openssl print it), got \"%s\"",
			    value);
			return EX_USAGE;
		}
		}
		set_str(&a->tls_fingerprint, value);
		mark(a, AF_TLS_FINGERPRINT);
		return 0;
	case O_TLS_CERT:
		set_str(&a->tls_cert, value);
		mark(a, AF_TLS_CERT);
		return 0;
	case O_TLS_KEY:
		set_str(&a->tls_key, value);
		mark(a, AF_TLS_KEY);
		return 0;
	case O_AUTH:
		if (auth_lookup(value) == NULL) {
			*errstr = xasprintf("--auth: unknown method \"%s\" "
			    "(known: %s)", value, auth_names());
			return EX_USAGE;
		}
		set_str(&a->auth, value);
		mark(a, AF_AUTH);
		return 0;
	case O_PASSWORD_FILE:
		set_str(&a->password_file, value);
		mark(a, AF_PASSWORD_FILE);
		return 0;
	case O_PASSWORD_FD:
		if (parse_number(value, 0, 1 << 20, &n) == -1)
			return bad_number(name, value, 0, 1 << 20, errstr);
		a->password_fd = (int)n;
		mark(a, AF_PASSWORD_FD);
		return 0;
	case O_PASSWORD_CMD:
		set_str(&a->password_cmd, value);
		mark(a, AF_PASSWORD_CMD);
		return 0;
	case O_TUNNEL:
		set_str(&a->tunnel, value);
		mark(a, AF_TUNNEL);
		return 0;
	case O_MAX_SIZE:
		if (parse_number(value, 0, INT64_MAX, &n) == -1)
			return bad_number(name, value, 0, INT64_MAX, errstr);
		a->max_size = (uint64_t)n;
		mark(a, AF_MAX_SIZE);
		return 0;
	case O_BATCH:
		if (parse_number(value, 1, 100000, &n) == -1)
			return bad_number(name, value, 1, 100000, errstr);
		a->batch = (unsigned)n;
		mark(a, AF_BATCH);
		return 0;
	default:
		*errstr = xasprintf("unknown setting \"%s\"", name);
		return EX_USAGE;
	}
}

int
cli_usage_error(const char *msg)
{
	if (msg != NULL)
		log_warnx("%s", msg);
	fprintf(stderr, "Try 'popfetch --help'.\n");
	return EX_USAGE;
}

static struct option *
longopts(void)
{
	static struct option o[NOPTDEFS + 1];
	size_t i, n = 0;

	for (i = 0; i < NOPTDEFS; i++)
		if (optdefs[i].scope != CONFIG)
			o[n++] = optdefs[i].opt;
	memset(&o[n], 0, sizeof o[n]);
	return o;
}

static int
run_option(struct runopts *ro, int ch, const char *arg)
{
	long long n;
	char *err = NULL;
	int rc;

	switch (ch) {
	case 'c':
		ro->mode = MODE_CHECK;
		break;
	case O_LIST_SEEN:
		ro->mode = MODE_LIST_SEEN;
		break;
	case O_SERVER_INFO:
		ro->mode = MODE_SERVER_INFO;
		break;
	case O_MARK_SEEN:
		ro->mode = MODE_MARK_SEEN;
		break;
	case 'C':
		free(ro->config);
		ro->config = xstrdup(arg);
		break;
	case O_IMPORT_UIDS:
		ro->mode = MODE_IMPORT;
		free(ro->import_uids);
		ro->import_uids = xstrdup(arg);
		break;
	case O_SUMMARY:
		if (strcmp(arg, "json") != 0)
			return cli_usage_error("--summary: the one format is json");
		ro->summary_json = 1;
		break;
	case O_SUMMARY_FILE:
		free(ro->summary_file);
		ro->summary_file = xstrdup(arg);
		ro->summary_json = 1;
		break;
	case O_SYSLOG:
		ro->use_syslog = 1;
		break;
	case O_JOBS:
	case O_WAIT_LOCK:
		if (parse_number(arg, ch == O_JOBS ? 1 : 0, ch == O_JOBS ? 64 :
		    86400, &n) == -1) {
			bad_number(by_id(ch)->opt.name, arg, ch == O_JOBS ? 1 : 0,
			    ch == O_JOBS ? 64 : 86400, &err);
			rc = cli_usage_error(err);
			free(err);
			return rc;
		}
		if (ch == O_JOBS)
			ro->jobs = (int)n;
		else
			ro->wait_lock = (int)n;
		break;
	case 'v':
		if (ro->verbosity >= 0)
			ro->verbosity++;
		break;
	case 'q':
		ro->verbosity = -1;
		break;
	}
	return -1;
}

int
cli_parse(int argc, char *argv[], struct runopts *ro, struct cliargs *ca)
{
	const struct optdef *o;
	struct account scratch;
	int ch, rc;
	char *err = NULL;

	memset(ro, 0, sizeof *ro);
	memset(ca, 0, sizeof *ca);
	ro->jobs = 1;
	/* Account settings are checked at once, on a scratch account, and
	 * kept to be applied to every account after its config file. */
	conf_defaults(&scratch);
	cli_layer(&scratch);
	while ((ch = getopt_long(argc, argv, "u:P:m:C:ckvqVh", longopts(),
	    NULL)) != -1) {
		if (ch == 'V') {
			report_text("popfetch " PACKAGE_VERSION "\n");
			rc = 0;
			goto out;
		}
		if (ch == 'h') {
			report_text(usage_text);
			rc = 0;
			goto out;
		}
		if (ch == '?' || (o = by_id(ch)) == NULL) {
			rc = cli_usage_error(NULL);
			goto out;
		}
		if (o->scope == RUN) {
			if ((rc = run_option(ro, ch, optarg)) != -1)
				goto out;
			continue;
		}
		rc = cli_apply(&scratch, o->opt.name, optarg, 1, &err);
		if (rc == EX_USAGE) {
			rc = cli_usage_error(err);
			free(err);
			goto out;
		}
		if (rc != 0) {
			log_warnx("%s", err);
			free(err);
			goto out;
		}
		ca->items = xreallocarray(ca->items, ca->nitems + 1,
		    sizeof *ca->items);
		ca->items[ca->nitems].name = o->opt.name;
		ca->items[ca->nitems++].value = optarg;
	}
	ca->names = argv + optind;
	ca->nnames = (size_t)(argc - optind);
	rc = -1;
out:
	conf_free(&scratch);
	return rc;
}

void
cli_free(struct cliargs *ca)
{
	free(ca->items);
	memset(ca, 0, sizeof *ca);
}
