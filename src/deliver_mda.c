/* SPDX-License-Identifier: ISC */
/*
 * Delivery through a command (procmail, maildrop, ...): the message on the
 * standard input of /bin/sh -c CMD. Exit 0 means delivered; anything else
 * (75 = try later, a signal, stopping reading early) means not delivered.
 * Only complete messages get here (stream = 0), so an MDA never sees a
 * partial download. At least once: the MDA is outside our transaction.
 *
 * Substitutions in CMD: %F the envelope sender (from the Return-Path
 * header, MAILER-DAEMON if none), %T the local user, %u the account's user
 * name, each replaced by a reference to the environment variable that
 * holds it (POPFETCH_SENDER, POPFETCH_RECIPIENT, POPFETCH_USER), so no
 * value from a message is ever parsed by the shell; %% and \% are a percent
 * sign; any other % sequence is left alone (printf formats in the command
 * keep working). POPFETCH_SERVER and POPFETCH_UID are set too.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "deliver.h"
#include "util.h"
#include "xmalloc.h"

static char *expand(const char *, char **);
static const char *recipient(void);

struct mda {
	pid_t	 pid;
	int	 fd;
	char	*cmd;		/* with references instead of % sequences */
	char	*recipient;
};

static enum deliver_rc
mda_open(struct deliver *d, char **errstr)
{
	struct mda *m = xcalloc(1, sizeof *m);

	m->fd = -1;
	m->pid = -1;
	d->priv = m;
	if ((m->cmd = expand(d->target, errstr)) == NULL)
		return DELIVER_TARGET_FAILED;
	m->recipient = xstrdup(recipient());
	return DELIVER_OK;
}

static enum deliver_rc
mda_batch_begin(struct deliver *d, char **errstr)
{
	return 0;
}

/*
 * The command with %F, %T and %u replaced by references to environment
 * variables that hold the values, never the values themselves: whatever
 * the message says, the shell only ever sees a parameter expansion, and
 * a reference is quoted as the surrounding text needs (outside quotes it
 * gets double quotes of its own). A reference inside single quotes would
 * not be expanded, so that is an error; "\%" is a literal percent sign,
 * as is "%%". NULL with *errstr for a command that cannot work.
 */
static char *
expand(const char *cmd, char **errstr)
{
	struct buf b = { 0 };
	const char *p, *var;
	int squote = 0, dquote = 0;

	for (p = cmd; *p != '\0'; p++) {
		if (squote) {
			if (*p == '\'')
				squote = 0;
			else if (*p == '%' && p[1] == '%') {
				buf_add(&b, "%", 1);
				p++;
				continue;
			} else if (*p == '%' && p[1] != '\0' &&
			    strchr("FTu", p[1]) != NULL) {
				*errstr = xasprintf("mda \"%s\": %%%c inside single "
				    "quotes would not be replaced; write it "
				    "without quotes (popfetch quotes it)", cmd,
				    p[1]);
				buf_free(&b);
				return NULL;
			}
			buf_add(&b, p, 1);
			continue;
		}
		if (*p == '\\' && p[1] == '%') {
			buf_add(&b, "%", 1);
			p++;
			continue;
		}
		if (*p == '\\' && p[1] != '\0') {
			buf_add(&b, p, 2);
			p++;
			continue;
		}
		if (*p == '\'' && !dquote)
			squote = 1;
		else if (*p == '"')
			dquote = !dquote;
		if (*p != '%' || p[1] == '\0') {
			buf_add(&b, p, 1);
			continue;
		}
		switch (*++p) {
		case 'F':
			var = "POPFETCH_SENDER";
			break;
		case 'T':
			var = "POPFETCH_RECIPIENT";
			break;
		case 'u':
			var = "POPFETCH_USER";
			break;
		case '%':
			buf_add(&b, "%", 1);
			continue;
		default:
			buf_add(&b, p - 1, 2);
			continue;
		}
		if (!dquote)
			buf_add(&b, "\"", 1);
		buf_add(&b, "${", 2);
		buf_add(&b, var, strlen(var));
		buf_add(&b, "}", 1);
		if (!dquote)
			buf_add(&b, "\"", 1);
	}
	buf_add(&b, "", 1);
	return (char *)b.data;
}

/* The local user, for %T (procmail -d %T from a system cron job). */
static const char *
recipient(void)
{
	struct passwd *pw = getpwuid(geteuid());

	return pw != NULL ? pw->pw_name : "";
}

static enum deliver_rc
mda_begin(struct deliver *d, const struct msg_meta *meta, char **errstr)
{
	struct mda *m = d->priv;
	int p[2];

	if (pipe2(p, O_CLOEXEC) == -1) {
		*errstr = xasprintf("mda: pipe: %s", strerror(errno));
		return DELIVER_MSG_FAILED;
	}
	m->pid = fork();
	if (m->pid == -1) {
		*errstr = xasprintf("mda: fork: %s", strerror(errno));
		close(p[0]);
		close(p[1]);
		return DELIVER_MSG_FAILED;
	}
	if (m->pid == 0) {
		/* The MDA's stdout would mix with --stdout mail or be lost:
		 * send it to our stderr, where cron sees it. */
		if (dup2(p[0], 0) == -1 || dup2(2, 1) == -1)
			_exit(EX_OSERR);
		signal(SIGPIPE, SIG_DFL);
		setenv("POPFETCH_SENDER", meta->sender != NULL &&
		    *meta->sender != '\0' ? meta->sender : "MAILER-DAEMON", 1);
		setenv("POPFETCH_RECIPIENT", m->recipient, 1);
		setenv("POPFETCH_USER", meta->user ? meta->user : "", 1);
		setenv("POPFETCH_SERVER", meta->server ? meta->server : "", 1);
		setenv("POPFETCH_UID", meta->uid ? meta->uid : "", 1);
		execl("/bin/sh", "sh", "-c", m->cmd, (char *)NULL);
		_exit(127);
	}
	close(p[0]);
	m->fd = p[1];
	fcntl(m->fd, F_SETFL, fcntl(m->fd, F_GETFL) | O_NONBLOCK);
	return 0;
}

static enum deliver_rc
mda_write(struct deliver *d, const char *buf, size_t n, char **errstr)
{
	struct mda *m = d->priv;
	struct pollfd pfd = { .fd = m->fd, .events = POLLOUT };
	ssize_t w;
	int rc;
	char t[32];

	while (n > 0) {
		w = write(m->fd, buf, n);
		if (w > 0) {
			buf += w;
			n -= (size_t)w;
			continue;
		}
		if (w == -1 && errno == EINTR)
			continue;
		if (w == -1 && errno == EPIPE) {
			*errstr = xasprintf("mda \"%s\" stopped reading the "
			    "message before its end", d->target);
			return DELIVER_MSG_FAILED;
		}
		if (w == -1 && errno != EAGAIN) {
			*errstr = xasprintf("mda: write: %s", strerror(errno));
			return DELIVER_MSG_FAILED;
		}
		do
			rc = poll(&pfd, 1, d->timeout_ms);
		while (rc == -1 && errno == EINTR);
		if (rc == 0) {
			*errstr = xasprintf("mda \"%s\" did not read its input "
			    "for %s", d->target, show_ms(t, sizeof t, d->timeout_ms));
			return DELIVER_MSG_FAILED;
		}
	}
	return 0;
}

static void
mda_reap(struct mda *m, int kill_it)
{
	if (m->fd != -1)
		close(m->fd);
	m->fd = -1;
	if (m->pid > 0) {
		if (kill_it)
			kill(m->pid, SIGKILL);
		while (waitpid(m->pid, NULL, 0) == -1 && errno == EINTR)
			;
	}
	m->pid = -1;
}

static enum deliver_rc
mda_end(struct deliver *d, char **errstr)
{
	struct mda *m = d->priv;
	int status, waited = 0;
	pid_t r;
	char t[32];

	close(m->fd);
	m->fd = -1;
	/* Bounded: an MDA that hangs must not hang a cron job forever. */
	while ((r = waitpid(m->pid, &status, WNOHANG)) == 0) {
		if (waited >= d->timeout_ms * 10) {
			*errstr = xasprintf("mda \"%s\" did not finish within "
			    "%s; killed", d->target, show_ms(t, sizeof t,
			    d->timeout_ms * 10LL));
			mda_reap(m, 1);
			return DELIVER_MSG_TEMP;
		}
		usleep(10000);
		waited += 10;
	}
	m->pid = -1;
	if (r == -1) {
		*errstr = xasprintf("mda: waitpid: %s", strerror(errno));
		return DELIVER_MSG_FAILED;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return DELIVER_OK;
	if (WIFEXITED(status) && WEXITSTATUS(status) == EX_TEMPFAIL) {
		*errstr = xasprintf("mda \"%s\" exited with status %d "
		    "(temporary failure)", d->target, EX_TEMPFAIL);
		return DELIVER_MSG_TEMP;
	}
	if (WIFEXITED(status))
		*errstr = xasprintf("mda \"%s\" exited with status %d",
		    d->target, WEXITSTATUS(status));
	else
		*errstr = xasprintf("mda \"%s\" was killed by signal %d",
		    d->target, WTERMSIG(status));
	return DELIVER_MSG_FAILED;
}

static void
mda_abort(struct deliver *d)
{
	mda_reap(d->priv, 1);
}

static enum deliver_rc
mda_nop(struct deliver *d, char **errstr)
{
	return 0;
}

static void
mda_batch_abort(struct deliver *d)
{
	mda_reap(d->priv, 1);
}

static void
mda_close(struct deliver *d)
{
	if (d->priv == NULL)
		return;
	mda_reap(d->priv, 1);
	free(((struct mda *)d->priv)->cmd);
	free(((struct mda *)d->priv)->recipient);
	free(d->priv);
	d->priv = NULL;
}

const struct deliver_ops deliver_mda_ops = {
	.name = "mda",
	.stream = 0,
	.open = mda_open,
	.batch_begin = mda_batch_begin,
	.begin = mda_begin,
	.write = mda_write,
	.end = mda_end,
	.abort = mda_abort,
	.sync = mda_nop,
	.publish = mda_nop,
	.batch_abort = mda_batch_abort,
	.close = mda_close,
};
