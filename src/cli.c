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
#include "util.h"
#include "xmalloc.h"

/* Options without a short form get ids past the characters. */
enum {
	O_MAILDIR = 256, O_MBOX, O_STDOUT, O_DELETE, O_ALL, O_STATE_DIR,
	O_TIMEOUT, O_SESSION_TIMEOUT, O_NO_TLS, O_PASSWORD_FILE,
	O_PASSWORD_FD, O_WAIT_LOCK, O_MAX_SIZE, O_BATCH, O_LIST_SEEN, O_TLS,
	O_TLS_TRUST_FILE, O_TLS_FINGERPRINT, O_TLS_CERT, O_TLS_KEY, O_AUTH,
	O_PASSWORD_CMD, O_SERVER_INFO, O_TUNNEL, O_COPY,
};

/* Every option; account settings go through cli_apply by name. */
static const struct option longopts[] = {
	{ "user", required_argument, NULL, 'u' },
	{ "port", required_argument, NULL, 'P' },
	{ "maildir", required_argument, NULL, O_MAILDIR },
	{ "mbox", required_argument, NULL, O_MBOX },
	{ "mda", required_argument, NULL, 'm' },
	{ "stdout", no_argument, NULL, O_STDOUT },
	{ "keep", no_argument, NULL, 'k' },
	{ "delete", no_argument, NULL, O_DELETE },
	{ "all", no_argument, NULL, O_ALL },
	{ "copy", no_argument, NULL, O_COPY },
	{ "state-dir", required_argument, NULL, O_STATE_DIR },
	{ "timeout", required_argument, NULL, O_TIMEOUT },
	{ "session-timeout", required_argument, NULL, O_SESSION_TIMEOUT },
	{ "no-tls", no_argument, NULL, O_NO_TLS },
	{ "tls", required_argument, NULL, O_TLS },
	{ "tls-trust-file", required_argument, NULL, O_TLS_TRUST_FILE },
	{ "tls-fingerprint", required_argument, NULL, O_TLS_FINGERPRINT },
	{ "tls-cert", required_argument, NULL, O_TLS_CERT },
	{ "tls-key", required_argument, NULL, O_TLS_KEY },
	{ "auth", required_argument, NULL, O_AUTH },
	{ "password-file", required_argument, NULL, O_PASSWORD_FILE },
	{ "password-fd", required_argument, NULL, O_PASSWORD_FD },
	{ "password-cmd", required_argument, NULL, O_PASSWORD_CMD },
	{ "tunnel", required_argument, NULL, O_TUNNEL },
	{ "max-size", required_argument, NULL, O_MAX_SIZE },
	{ "batch", required_argument, NULL, O_BATCH },
	/* Run options. */
	{ "wait-lock", required_argument, NULL, O_WAIT_LOCK },
	{ "list-seen", no_argument, NULL, O_LIST_SEEN },
	{ "check", no_argument, NULL, 'c' },
	{ "server-info", no_argument, NULL, O_SERVER_INFO },
	{ "verbose", no_argument, NULL, 'v' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "version", no_argument, NULL, 'V' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static const char usage_text[] =
"usage: popfetch [OPTIONS] SERVER\n"
"Fetch new mail from a POP3 server, exactly once.\n"
"\n"
"Delivery (one of):\n"
"      --maildir DIR        into a Maildir (created if missing)\n"
"      --mbox FILE          append to an mbox (mboxrd, locked)\n"
"  -m, --mda CMD            pipe each message to /bin/sh -c CMD\n"
"      --stdout             write an mboxrd stream to standard output\n"
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
"      --all                fetch messages seen before, too\n"
"      --copy               copy into this target, keeping a record of its own\n"
"                           (a backup): the account's record is untouched,\n"
"                           nothing is deleted\n"
"      --max-size BYTES     leave larger messages on the server (1 GiB)\n"
"      --timeout SECONDS    idle network timeout (60; fractions allowed)\n"
"      --session-timeout S  cap on the whole session (none)\n"
"      --wait-lock SECONDS  wait for another run of the account (0)\n"
"      --state-dir DIR      where UIDs are kept\n"
"                           (default $XDG_STATE_HOME/popfetch)\n"
"      --batch N            messages per durable batch (256)\n"
"      --list-seen          print the account's UID store and exit\n"
"  -c, --check              count new messages, fetch nothing; exit 0 when\n"
"                           there are some, 1 when there are none\n"
"  -v, --verbose            more output; -vv traces the protocol\n"
"                           (passwords redacted)\n"
"  -q, --quiet              only errors\n"
"  -V, --version            print the version\n"
"  -h, --help               this help\n";

static const char *
optname(int id)
{
	const struct option *o;

	for (o = longopts; o->name != NULL; o++)
		if (o->val == id)
			return o->name;
	return "?";
}

static int
optid(const char *name)
{
	const struct option *o;

	for (o = longopts; o->name != NULL; o++)
		if (strcmp(o->name, name) == 0)
			return o->val;
	return -1;
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
cli_apply(struct account *a, const char *name, const char *value,
    char **errstr)
{
	long long n;
	int id = optid(name);

	if (value != NULL && *value == '\0') {
		*errstr = xasprintf("--%s: the value is empty", name);
		return EX_USAGE;
	}
	switch (id) {
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
		a->all = 1;
		mark(a, AF_ALL);
		return 0;
	case O_COPY:
		a->copy = 1;
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
	case O_TLS_FINGERPRINT:
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

static int
usage_error(const char *msg)
{
	if (msg != NULL)
		log_warnx("%s", msg);
	fprintf(stderr, "Try 'popfetch --help'.\n");
	return EX_USAGE;
}

int
cli_parse(int argc, char *argv[], struct runopts *ro, struct account *a)
{
	long long n;
	int ch, rc;
	char *err = NULL;

	memset(ro, 0, sizeof *ro);
	cli_layer(a);
	while ((ch = getopt_long(argc, argv, "u:P:m:ckvqVh", longopts, NULL))
	    != -1) {
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
		case O_WAIT_LOCK:
			if (parse_number(optarg, 0, 86400, &n) == -1) {
				bad_number("wait-lock", optarg, 0, 86400, &err);
				rc = usage_error(err);
				free(err);
				return rc;
			}
			ro->wait_lock = (int)n;
			break;
		case 'v':
			if (ro->verbosity >= 0)
				ro->verbosity++;
			break;
		case 'q':
			ro->verbosity = -1;
			break;
		case 'V':
			report_text("popfetch " PACKAGE_VERSION "\n");
			return 0;
		case 'h':
			report_text(usage_text);
			return 0;
		case '?':
			return usage_error(NULL);
		default:
			rc = cli_apply(a, optname(ch), optarg, &err);
			if (rc == EX_USAGE) {
				rc = usage_error(err);
				free(err);
				return rc;
			}
			if (rc != 0) {
				log_warnx("%s", err);
				free(err);
				return rc;
			}
			break;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 1)
		return usage_error(argc == 0 ? "no server given" :
		    "only one server per run");
	a->server = xstrdup(argv[0]);
	a->set |= AF_BIT(AF_SERVER);
	return -1;
}
