/* SPDX-License-Identifier: ISC */
/*
 * popfetch: sets up the process, reads the command line (cli.c), runs the
 * account (fetch.c), reports (report.c) and exits with the status of the
 * most severe failure (result.c).
 */
#include "config.h"

#include <sys/resource.h>
#include <sys/stat.h>

#include <signal.h>
#include <stdlib.h>
#include <sysexits.h>

#include "cli.h"
#include "conf.h"
#include "crash.h"
#include "fetch.h"
#include "log.h"
#include "report.h"
#include "result.h"

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

	umask(077);
	signal(SIGPIPE, SIG_IGN);
	/* A file size limit must give EFBIG, a clean write error, not a kill. */
	signal(SIGXFSZ, SIG_IGN);
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
