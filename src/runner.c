/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fetch.h"
#include "log.h"
#include "runner.h"
#include "util.h"
#include "xmalloc.h"

/* What a child reports to the parent: the counts, then the error text. */
struct wire {
	unsigned long	messages, fresh, fetched, deleted, skipped, failed;
	uint64_t	bytes;
	int		listed;
	int		worst;
	uint32_t	errlen;
};

static void
run_one(const struct runopts *ro, struct account *a, struct outcome *o)
{
	int64_t t0 = now_ms();

	result_init(&o->res);
	if (ro->mode == MODE_IMPORT) {
		fetch_import(ro, a, &o->res);
		o->seconds = (double)(now_ms() - t0) / 1000.0;
		log_set_account(NULL);
		return;
	}
	switch (ro->mode) {
	case MODE_LIST_SEEN:
		fetch_list_seen(ro, a, &o->res);
		break;
	case MODE_SERVER_INFO:
		fetch_server_info(ro, a, &o->res);
		break;
	default:
		/* Named: with several accounts, which one is in clear. */
		log_set_account(a->name);
		if (a->tls == TLS_OFF && ro->verbosity >= 0)
			log_warnx("warning: --no-tls: the session, password "
			    "included, is not encrypted");
		fetch_account(ro, a, &o->res);
		break;
	}
	o->seconds = (double)(now_ms() - t0) / 1000.0;
	log_set_account(NULL);
}

static void
send_outcome(int fd, const struct outcome *o)
{
	struct wire w;

	memset(&w, 0, sizeof w);
	w.messages = o->res.messages;
	w.fresh = o->res.fresh;
	w.fetched = o->res.fetched;
	w.deleted = o->res.deleted;
	w.skipped = o->res.skipped;
	w.failed = o->res.failed;
	w.bytes = o->res.bytes;
	w.listed = o->res.listed;
	w.worst = (int)o->res.worst;
	w.errlen = o->res.error != NULL ? (uint32_t)strlen(o->res.error) : 0;
	if (write_all(fd, &w, sizeof w) == 0 && w.errlen > 0)
		write_all(fd, o->res.error, w.errlen);
}

/* A child that died without a word failed for a reason it did not say. */
static void
read_outcome(int fd, struct outcome *o)
{
	struct wire w;
	size_t got = 0;
	ssize_t n;

	result_init(&o->res);
	while (got < sizeof w && (n = read(fd, (char *)&w + got,
	    sizeof w - got)) > 0)
		got += (size_t)n;
	if (got < sizeof w) {
		o->res.worst = FAIL_INTERNAL;
		o->res.error = xstrdup("the account's process ended without a "
		    "result");
		return;
	}
	o->res.messages = w.messages;
	o->res.fresh = w.fresh;
	o->res.fetched = w.fetched;
	o->res.deleted = w.deleted;
	o->res.skipped = w.skipped;
	o->res.failed = w.failed;
	o->res.bytes = w.bytes;
	o->res.listed = w.listed;
	o->res.worst = w.worst >= FAIL_NONE && w.worst <= FAIL_INTERNAL ?
	    (enum failure)w.worst : FAIL_INTERNAL;
	if (w.errlen > 0 && w.errlen < 65536) {
		o->res.error = xmalloc(w.errlen + 1);
		got = 0;
		while (got < w.errlen && (n = read(fd, o->res.error + got,
		    w.errlen - got)) > 0)
			got += (size_t)n;
		o->res.error[got] = '\0';
	}
}

struct child {
	pid_t	pid;
	int	fd;
	size_t	index;
	int64_t	t0;
};

void
runner_run(const struct runopts *ro, struct account *accounts, size_t n,
    struct outcome *out)
{
	struct child *kids;
	size_t next = 0, running = 0, i;
	int p[2], status, jobs = ro->jobs;
	pid_t pid;

	if (jobs <= 1 || n <= 1) {
		for (i = 0; i < n; i++)
			run_one(ro, &accounts[i], &out[i]);
		return;
	}
	kids = xcalloc((size_t)jobs, sizeof *kids);
	while (next < n || running > 0) {
		while (next < n && running < (size_t)jobs) {
			if (pipe2(p, O_CLOEXEC) == -1 || (pid = fork()) == -1) {
				/* No process: run it here, in turn. */
				run_one(ro, &accounts[next], &out[next]);
				next++;
				continue;
			}
			if (pid == 0) {
				struct outcome o;

				close(p[0]);
				run_one(ro, &accounts[next], &o);
				send_outcome(p[1], &o);
				_exit(0);
			}
			close(p[1]);
			for (i = 0; kids[i].pid != 0; i++)
				;
			kids[i].pid = pid;
			kids[i].fd = p[0];
			kids[i].index = next++;
			kids[i].t0 = now_ms();
			running++;
		}
		if (running == 0)
			break;
		while ((pid = waitpid(-1, &status, 0)) == -1 && errno == EINTR)
			;
		for (i = 0; i < (size_t)jobs && pid > 0; i++) {
			if (kids[i].pid != pid)
				continue;
			read_outcome(kids[i].fd, &out[kids[i].index]);
			out[kids[i].index].seconds = (double)(now_ms() -
			    kids[i].t0) / 1000.0;
			close(kids[i].fd);
			kids[i].pid = 0;
			running--;
		}
		if (pid == -1)
			break;
	}
	free(kids);
}
