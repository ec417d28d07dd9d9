/* SPDX-License-Identifier: ISC */
/*
 * popfetch: sets up the process, reads the command line (cli.c) and the
 * config file (rcfile.c), builds the accounts, runs them (runner.c),
 * reports (report.c) and exits with the status of the most severe
 * failure (result.c).
 */
#include "config.h"

#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "cli.h"
#include "conf.h"
#include "crash.h"
#include "log.h"
#include "rcfile.h"
#include "report.h"
#include "result.h"
#include "runner.h"
#include "util.h"
#include "xmalloc.h"

/*
 * Before anything else: a process started with its standard descriptors
 * closed (some daemons and cron wrappers do that) would give them to the
 * lock and the store, and log lines would be written into uids.db; so
 * they are opened on /dev/null. Descriptors inherited beyond them are
 * marked close-on-exec (none reaches an MDA, a password command or a
 * tunnel; --password-fd is still readable by us). Signal dispositions a
 * parent may have left are reset: an ignored SIGCHLD makes every child's
 * exit status unreadable. No core dump: a password is in memory.
 */
static void
sane_process(void)
{
	struct rlimit nocore = { 0, 0 };
	sigset_t none;
	int fd, n;

	for (fd = 0; fd < 3; fd++) {
		if (fcntl(fd, F_GETFD) != -1 || errno != EBADF)
			continue;
		if ((n = open("/dev/null", O_RDWR)) == -1)
			_exit(EX_OSERR);
		if (n != fd) {
			/* Lower ones were open; n is the lowest free. */
			if (dup2(n, fd) == -1)
				_exit(EX_OSERR);
			close(n);
		}
	}
	if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) == -1)
		for (fd = 3; fd < 1024; fd++)
			fcntl(fd, F_SETFD, FD_CLOEXEC);
	signal(SIGCHLD, SIG_DFL);
	signal(SIGPIPE, SIG_IGN);
	/* A file size limit must give EFBIG, a clean write error, not a
	 * kill. */
	signal(SIGXFSZ, SIG_IGN);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	setrlimit(RLIMIT_CORE, &nocore);
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	umask(077);
}

/* Applies config items as one layer; "FILE:LINE: ..." on error. */
static int
apply_items(struct account *a, const struct rc_item *items, size_t n,
    char **errstr)
{
	char *err = NULL;
	size_t i;
	int rc;

	cli_layer(a);
	for (i = 0; i < n; i++) {
		rc = cli_apply(a, items[i].keyword, items[i].value, items[i].on,
		    &err);
		if (rc != 0) {
			*errstr = xasprintf("%s:%u: %s", items[i].file,
			    items[i].line, err);
			free(err);
			return EX_CONFIG;
		}
	}
	return 0;
}

/*
 * One account: the defaults, its config file section (if it is one), the
 * command line, in that order. A name that is no account of the file is
 * a server host name, with the file's defaults. 0 or an exit status.
 */
static int
build(struct account *a, const struct rcfile *rc, const char *name,
    const struct cliargs *ca, const struct runopts *ro)
{
	const struct rc_account *acct = rc != NULL && name != NULL ?
	    rcfile_account(rc, name) : NULL;
	const struct rc_item *items;
	char *err = NULL;
	size_t i, n;
	int ret;

	conf_defaults(a);
	if (acct != NULL) {
		if ((ret = apply_items(a, acct->defaults, acct->ndefaults,
		    &err)) != 0 || (ret = apply_items(a, acct->items,
		    acct->nitems, &err)) != 0)
			goto fail;
		a->name = xstrdup(acct->name);
	} else if (rc != NULL) {
		items = rcfile_defaults(rc, &n);
		if ((ret = apply_items(a, items, n, &err)) != 0)
			goto fail;
	}
	cli_layer(a);
	for (i = 0; i < ca->nitems; i++)
		if ((ret = cli_apply(a, ca->items[i].name, ca->items[i].value, 1,
		    &err)) != 0)
			goto fail;
	if (acct == NULL) {
		free(a->server);
		a->server = xstrdup(name);
	} else if (a->server == NULL) {
		err = xasprintf("%s:%u: account %s has no host", acct->file,
		    acct->line, acct->name);
		ret = EX_CONFIG;
		goto fail;
	} else if (a->dkind == DELIVER_NONE && ro->mode == MODE_FETCH) {
		err = xasprintf("%s:%u: account %s has no delivery: give one "
		    "of maildir, mbox, mda or stdout", acct->file, acct->line,
		    acct->name);
		ret = EX_CONFIG;
		goto fail;
	}
	if (conf_finish(a, ro, &err) == -1) {
		ret = EX_CONFIG;
		goto fail;
	}
	if (conf_check_target(a, ro, &err) == -1) {
		ret = acct != NULL ? EX_CONFIG : EX_USAGE;
		goto fail;
	}
	return 0;
fail:
	if (ret == EX_USAGE) {
		cli_usage_error(err);
	} else
		log_warnx("%s", err);
	free(err);
	return ret;
}

/* A HOME of another user (setpriv, su without -) is not searched for a
 * config file: it is not ours to follow. */
static int
own_home(void)
{
	const char *home = getenv("HOME");
	struct stat st;

	return home == NULL || home[0] != '/' || (stat(home, &st) == 0 &&
	    st.st_uid == getuid());
}

static struct rcfile *
load_config(const struct runopts *ro, int *rc)
{
	struct rcfile *f = NULL;
	char *path, *err = NULL;
	int r;

	*rc = 0;
	if (ro->config == NULL && !own_home())
		return NULL;
	path = ro->config != NULL ? xstrdup(ro->config) :
	    rcfile_default_path(&err);
	if (path == NULL) {
		free(err);	/* no home: no default file either */
		return NULL;
	}
	r = rcfile_load(path, ro->config != NULL ? 0 : RCFILE_OPTIONAL,
	    cli_keyword_type, NULL, &f, &err);
	free(path);
	if (r == RCFILE_MISSING)
		return NULL;
	if (r == -1) {
		log_warnx("%s", err);
		free(err);
		*rc = EX_CONFIG;
		return NULL;
	}
	return f;
}

int
main(int argc, char *argv[])
{
	struct runopts ro;
	struct cliargs ca;
	struct account *accounts = NULL;
	struct outcome *out = NULL;
	struct rcfile *rcf = NULL;
	struct rusage ru;
	enum failure worst = FAIL_NONE;
	unsigned long fresh = 0;
	const char *cerr;
	size_t n = 0, i;
	int rc;

	sane_process();
	log_init("popfetch", 0);
	if (crash_init(&cerr) == -1) {
		log_warnx("%s", cerr);
		return EX_USAGE;
	}
	if ((rc = cli_parse(argc, argv, &ro, &ca)) != -1)
		goto done;
	log_init("popfetch", ro.verbosity);
	if (ro.use_syslog)
		log_syslog(1);
	rcf = load_config(&ro, &rc);
	if (rc != 0)
		goto done;
	/* Every account is built, and every setting checked, before any
	 * connection. */
	n = ca.nnames > 0 ? ca.nnames : rcf != NULL ? rcfile_naccounts(rcf) : 0;
	if (n == 0) {
		rc = cli_usage_error(rcf != NULL ? "no server given, and the "
		    "config file has no account" : "no server given");
		goto done;
	}
	accounts = xcalloc(n, sizeof *accounts);
	for (i = 0; i < n; i++) {
		const char *name = ca.nnames > 0 ? ca.names[i] :
		    rcfile_account_at(rcf, i)->name;

		if ((rc = build(&accounts[i], rcf, name, &ca, &ro)) != 0)
			goto done;
		if (accounts[i].dkind == DELIVER_STDOUT && (ro.jobs > 1 ||
		    (ro.summary_json && ro.summary_file == NULL))) {
			rc = cli_usage_error("--stdout gives mail on standard "
			    "output: no --jobs, and --summary-file for the "
			    "summary");
			goto done;
		}
	}
	rcfile_free(rcf);
	rcf = NULL;
	out = xcalloc(n, sizeof *out);
	runner_run(&ro, accounts, n, out);
	if (getrusage(RUSAGE_SELF, &ru) == 0)
		log_debug("max resident set size %ld KiB", ru.ru_maxrss);
	for (i = 0; i < n; i++) {
		log_set_account(accounts[i].name);
		if (ro.mode == MODE_CHECK)
			report_check(&ro, &accounts[i], &out[i].res);
		else if (ro.mode == MODE_FETCH || ro.mode == MODE_MARK_SEEN)
			report_summary(&ro, &accounts[i], &out[i].res);
		log_notice("%s: %lu fetched, %lu deleted, %lu left after errors"
		    "%s%s", failure_name(out[i].res.worst), out[i].res.fetched,
		    out[i].res.deleted, out[i].res.failed,
		    out[i].res.error != NULL ? ": " : "",
		    out[i].res.error != NULL ? out[i].res.error : "");
		log_set_account(NULL);
		worst = failure_worse(worst, out[i].res.worst);
		fresh += out[i].res.fresh;
	}
	if (ro.summary_json && report_json(&ro, accounts, out, n) == -1 &&
	    worst < FAIL_LOCAL)
		worst = FAIL_LOCAL;
	{
		struct result all;

		result_init(&all);
		all.worst = worst;
		all.fresh = fresh;
		rc = result_exit(&all, ro.mode == MODE_CHECK);
	}
done:
	for (i = 0; accounts != NULL && i < n; i++)
		conf_free(&accounts[i]);
	for (i = 0; out != NULL && i < n; i++)
		result_free(&out[i].res);
	free(accounts);
	free(out);
	rcfile_free(rcf);
	cli_free(&ca);
	free(ro.config);
	free(ro.summary_file);
	free(ro.import_uids);
	return rc;
}
