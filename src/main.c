/*
 * popfetch: the command line. Parses options into a struct account, runs
 * it, and maps the outcome to the exit status documented in popfetch(1).
 */
#include "config.h"

#include <sys/resource.h>
#include <sys/stat.h>

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <unistd.h>

#include "conf.h"
#include "fetch.h"
#include "log.h"
#include "util.h"
#include "xmalloc.h"

enum {
	OPT_MAILDIR = 256,
	OPT_MBOX,
	OPT_STDOUT,
	OPT_DELETE,
	OPT_ALL,
	OPT_STATE_DIR,
	OPT_TIMEOUT,
	OPT_SESSION_TIMEOUT,
	OPT_NO_TLS,
	OPT_PASSWORD_FILE,
	OPT_PASSWORD_FD,
	OPT_WAIT_LOCK,
	OPT_MAX_SIZE,
	OPT_BATCH,
	OPT_LIST_SEEN,
	OPT_TLS,
	OPT_TLS_TRUST_FILE,
	OPT_TLS_FINGERPRINT,
	OPT_TLS_CERT,
	OPT_TLS_KEY,
	OPT_AUTH,
	OPT_PASSWORD_CMD,
	OPT_SERVER_INFO,
	OPT_TUNNEL,
};

static const struct option longopts[] = {
	{ "user", required_argument, NULL, 'u' },
	{ "port", required_argument, NULL, 'P' },
	{ "maildir", required_argument, NULL, OPT_MAILDIR },
	{ "mbox", required_argument, NULL, OPT_MBOX },
	{ "mda", required_argument, NULL, 'm' },
	{ "stdout", no_argument, NULL, OPT_STDOUT },
	{ "keep", no_argument, NULL, 'k' },
	{ "delete", no_argument, NULL, OPT_DELETE },
	{ "all", no_argument, NULL, OPT_ALL },
	{ "verbose", no_argument, NULL, 'v' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "state-dir", required_argument, NULL, OPT_STATE_DIR },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "session-timeout", required_argument, NULL, OPT_SESSION_TIMEOUT },
	{ "no-tls", no_argument, NULL, OPT_NO_TLS },
	{ "password-file", required_argument, NULL, OPT_PASSWORD_FILE },
	{ "password-fd", required_argument, NULL, OPT_PASSWORD_FD },
	{ "wait-lock", required_argument, NULL, OPT_WAIT_LOCK },
	{ "max-size", required_argument, NULL, OPT_MAX_SIZE },
	{ "batch", required_argument, NULL, OPT_BATCH },
	{ "list-seen", no_argument, NULL, OPT_LIST_SEEN },
	{ "check", no_argument, NULL, 'c' },
	{ "tls", required_argument, NULL, OPT_TLS },
	{ "tls-trust-file", required_argument, NULL, OPT_TLS_TRUST_FILE },
	{ "tls-fingerprint", required_argument, NULL, OPT_TLS_FINGERPRINT },
	{ "tls-cert", required_argument, NULL, OPT_TLS_CERT },
	{ "tls-key", required_argument, NULL, OPT_TLS_KEY },
	{ "auth", required_argument, NULL, OPT_AUTH },
	{ "password-cmd", required_argument, NULL, OPT_PASSWORD_CMD },
	{ "server-info", no_argument, NULL, OPT_SERVER_INFO },
	{ "tunnel", required_argument, NULL, OPT_TUNNEL },
	{ "version", no_argument, NULL, 'V' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static void
usage(FILE *f)
{
	fprintf(f,
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
"      --server-info        show greeting, capabilities and certificate\n"
"      --tunnel CMD         speak POP3 over /bin/sh -c CMD's standard input\n"
"                           and output (e.g. ssh HOST dovecot --exec pop3)\n"
"Behaviour:\n"
"  -k, --keep               leave messages on the server (default)\n"
"      --delete             delete messages after durable delivery\n"
"      --all                fetch messages seen before, too\n"
"      --max-size BYTES     leave larger messages on the server (1 GiB)\n"
"      --timeout SECONDS    idle network timeout (60; fractions allowed)\n"
"      --session-timeout S  cap on the whole session (none)\n"
"      --wait-lock SECONDS  wait for another run of the account (0)\n"
"      --state-dir DIR      where UIDs are kept\n"
"                           (default $XDG_STATE_HOME/popfetch)\n"
"      --batch N            messages per durable batch (64)\n"
"      --list-seen          print the account's UID store and exit\n"
"  -c, --check              count new messages, fetch nothing; exit 0 when\n"
"                           there are some, 1 when there are none\n"
"  -v, --verbose            more output; -vv traces the protocol\n"
"                           (passwords redacted)\n"
"  -q, --quiet              only errors\n"
"  -V, --version            print the version\n"
"  -h, --help               this help\n");
}

static int
number(const char *opt, const char *arg, long long min, long long max,
    long long *out)
{
	if (parse_number(arg, min, max, out) == -1) {
		log_warnx("%s: expected a number from %lld to %lld, got \"%s\"",
		    opt, min, max, arg);
		return -1;
	}
	return 0;
}

static int
seconds(const char *opt, const char *arg, long long min_ms, long long max_ms,
    long long *out)
{
	if (parse_seconds_ms(arg, min_ms, max_ms, out) == -1) {
		log_warnx("%s: expected seconds from %lld.%03lld to %lld, got "
		    "\"%s\"", opt, min_ms / 1000, min_ms % 1000, max_ms / 1000,
		    arg);
		return -1;
	}
	return 0;
}

static int
check_auth(const char *name)
{
	static const char *known[] = {
		"user", "apop", "plain", "login", "cram-md5", "scram-sha-1",
		"scram-sha-256", "xoauth2", "oauthbearer",
	};
	size_t i;

	for (i = 0; i < sizeof known / sizeof known[0]; i++)
		if (strcasecmp(name, known[i]) == 0)
			return 0;
	log_warnx("--auth: unknown method \"%s\"", name);
	return -1;
}

static int
set_delivery(struct account *a, enum deliver_kind k, const char *target)
{
	if (a->dkind != DELIVER_NONE) {
		log_warnx("give only one of --maildir, --mbox, --mda and "
		    "--stdout");
		return -1;
	}
	a->dkind = k;
	a->dtarget = target ? xstrdup(target) : NULL;
	return 0;
}

int
main(int argc, char *argv[])
{
	struct fetch_result res;
	struct rusage ru;
	struct account a;
	long long n;
	int ch, verbose = 0, quiet = 0, list_seen = 0, rc;
	char *err = NULL;
	FILE *summary;

	umask(077);
	signal(SIGPIPE, SIG_IGN);
	/* A file size limit must give EFBIG, a clean write error, not a kill. */
	signal(SIGXFSZ, SIG_IGN);
	log_init("popfetch", 0);
	conf_defaults(&a);
	while ((ch = getopt_long(argc, argv, "u:P:m:ckvqVh", longopts, NULL))
	    != -1) {
		switch (ch) {
		case 'u':
			free(a.user);
			a.user = xstrdup(optarg);
			break;
		case 'P':
			if (number("--port", optarg, 1, 65535, &n) == -1)
				goto usage_error;
			free(a.port);
			a.port = xstrdup(optarg);
			break;
		case OPT_MAILDIR:
			if (set_delivery(&a, DELIVER_MAILDIR, optarg) == -1)
				goto usage_error;
			break;
		case OPT_MBOX:
			if (set_delivery(&a, DELIVER_MBOX, optarg) == -1)
				goto usage_error;
			break;
		case 'm':
			if (set_delivery(&a, DELIVER_MDA, optarg) == -1)
				goto usage_error;
			break;
		case OPT_STDOUT:
			if (set_delivery(&a, DELIVER_STDOUT, NULL) == -1)
				goto usage_error;
			break;
		case 'c':
			a.check = 1;
			break;
		case 'k':
			a.delete = 0;
			break;
		case OPT_DELETE:
			a.delete = 1;
			break;
		case OPT_ALL:
			a.all = 1;
			break;
		case 'v':
			verbose++;
			break;
		case 'q':
			quiet = 1;
			break;
		case OPT_STATE_DIR:
			free(a.state_base);
			a.state_base = xstrdup(optarg);
			break;
		case OPT_TIMEOUT:
			if (seconds("--timeout", optarg, 1, 86400000, &n) == -1)
				goto usage_error;
			a.timeout_ms = (int)n;
			break;
		case OPT_SESSION_TIMEOUT:
			if (seconds("--session-timeout", optarg, 1, 864000000,
			    &n) == -1)
				goto usage_error;
			a.session_timeout_ms = n;
			break;
		case OPT_NO_TLS:
			a.no_tls = 1;
			break;
		case OPT_PASSWORD_FILE:
			free(a.password_file);
			a.password_file = xstrdup(optarg);
			break;
		case OPT_PASSWORD_FD:
			if (number("--password-fd", optarg, 0, 1 << 20, &n)
			    == -1)
				goto usage_error;
			a.password_fd = (int)n;
			break;
		case OPT_WAIT_LOCK:
			if (number("--wait-lock", optarg, 0, 86400, &n) == -1)
				goto usage_error;
			a.wait_lock = (int)n;
			break;
		case OPT_MAX_SIZE:
			if (number("--max-size", optarg, 0, INT64_MAX, &n)
			    == -1)
				goto usage_error;
			a.max_size = (uint64_t)n;
			break;
		case OPT_BATCH:
			if (number("--batch", optarg, 1, 100000, &n) == -1)
				goto usage_error;
			a.batch = (unsigned)n;
			break;
		case OPT_LIST_SEEN:
			list_seen = 1;
			break;
		case OPT_TLS:
			if (strcmp(optarg, "implicit") == 0)
				a.tls = TLS_IMPLICIT;
			else if (strcmp(optarg, "starttls") == 0)
				a.tls = TLS_STARTTLS;
			else {
				log_warnx("--tls: expected implicit or starttls, "
				    "got \"%s\"", optarg);
				goto usage_error;
			}
			break;
		case OPT_TLS_TRUST_FILE:
			free(a.tls_trust_file);
			a.tls_trust_file = xstrdup(optarg);
			break;
		case OPT_TLS_FINGERPRINT:
			free(a.tls_fingerprint);
			a.tls_fingerprint = xstrdup(optarg);
			break;
		case OPT_TLS_CERT:
			free(a.tls_cert);
			a.tls_cert = xstrdup(optarg);
			break;
		case OPT_TLS_KEY:
			free(a.tls_key);
			a.tls_key = xstrdup(optarg);
			break;
		case OPT_AUTH:
			if (check_auth(optarg) == -1)
				goto usage_error;
			free(a.auth);
			a.auth = xstrdup(optarg);
			break;
		case OPT_PASSWORD_CMD:
			free(a.password_cmd);
			a.password_cmd = xstrdup(optarg);
			break;
		case OPT_TUNNEL:
			free(a.tunnel);
			a.tunnel = xstrdup(optarg);
			break;
		case OPT_SERVER_INFO:
			a.server_info = 1;
			break;
		case 'V':
			printf("popfetch %s\n", PACKAGE_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			goto usage_error;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 1) {
		log_warnx(argc == 0 ? "no server given" :
		    "only one server per run");
		usage(stderr);
		goto usage_error;
	}
	a.server = xstrdup(argv[0]);
	log_init("popfetch", quiet ? -1 : verbose);
	a.offline = list_seen;
	if (conf_finish(&a, &err) == -1) {
		log_warnx("%s", err);
		free(err);
		conf_free(&a);
		return EX_CONFIG;
	}
	if (list_seen) {
		rc = fetch_list_seen(&a);
		conf_free(&a);
		return rc;
	}
	if (a.server_info) {
		rc = fetch_server_info(&a);
		conf_free(&a);
		return rc;
	}
	if (a.tls == TLS_OFF && !quiet)
		log_warnx("warning: --no-tls: the session, password included, "
		    "is not encrypted");
	rc = fetch_account(&a, &res);
	if (getrusage(RUSAGE_SELF, &ru) == 0)
		log_debug("max resident set size %ld KiB", ru.ru_maxrss);
	if (a.check) {
		/* As fetchmail -c: 0 when there is new mail, 1 when not. */
		if (rc == 0 && !quiet)
			printf("%s: %lu new message%s of %lu on the server\n",
			    a.name, res.fresh, res.fresh == 1 ? "" : "s",
			    res.messages);
		conf_free(&a);
		return rc != 0 ? rc : res.fresh > 0 ? 0 : 1;
	}
	summary = a.dkind == DELIVER_STDOUT ? stderr : stdout;
	if (!quiet && (verbose > 0 || isatty(fileno(summary))))
		fprintf(summary, "%s: %lu new message%s (%llu octets) fetched, "
		    "%lu deleted, %lu left after errors, %lu on the server\n",
		    a.name, res.fetched, res.fetched == 1 ? "" : "s",
		    (unsigned long long)res.bytes, res.deleted, res.failed,
		    res.messages);
	conf_free(&a);
	return rc;
usage_error:
	conf_free(&a);
	return EX_USAGE;
}
