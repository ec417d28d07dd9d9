/* SPDX-License-Identifier: ISC */
/*
 * popfetch: sets up the process, reads the command line (cli.c), runs the
 * account (fetch.c), reports (report.c) and exits with the status of the
 * most severe failure (result.c).
 */
#include "config.h"

#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sysexits.h>
#include <unistd.h>

#include "cli.h"
#include "conf.h"
#include "crash.h"
#include "fetch.h"
#include "log.h"
#include "report.h"
#include "result.h"

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

int
main(int argc, char *argv[])
{
	struct runopts ro;
	struct result res;
	struct rusage ru;
	struct account a;
	const char *cerr;
	char *err = NULL;
	int rc;

	sane_process();
	log_init("popfetch", 0);
	if (crash_init(&cerr) == -1) {
		log_warnx("%s", cerr);
		return EX_USAGE;
	}
	conf_defaults(&a);
	if ((rc = cli_parse(argc, argv, &ro, &a)) != -1) {
		conf_free(&a);
		return rc;
	}
	log_init("popfetch", ro.verbosity);
	if (conf_finish(&a, &ro, &err) == -1) {
		log_warnx("%s", err);
		free(err);
		conf_free(&a);
		return EX_CONFIG;
	}
	result_init(&res);
	switch (ro.mode) {
	case MODE_LIST_SEEN:
		fetch_list_seen(&ro, &a, &res);
		break;
	case MODE_SERVER_INFO:
		fetch_server_info(&ro, &a, &res);
		break;
	case MODE_CHECK:
	case MODE_FETCH:
		if (a.tls == TLS_OFF && ro.verbosity >= 0)
			log_warnx("warning: --no-tls: the session, password "
			    "included, is not encrypted");
		fetch_account(&ro, &a, &res);
		if (getrusage(RUSAGE_SELF, &ru) == 0)
			log_debug("max resident set size %ld KiB",
			    ru.ru_maxrss);
		if (ro.mode == MODE_CHECK)
			report_check(&ro, &a, &res);
		else
			report_summary(&ro, &a, &res);
		break;
	}
	rc = result_exit(&res, ro.mode == MODE_CHECK);
	result_free(&res);
	conf_free(&a);
	return rc;
}
