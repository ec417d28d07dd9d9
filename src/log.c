/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <syslog.h>
#include <unistd.h>

#include "log.h"

static const char *progname = "popfetch";
static int level;
static int to_syslog;
static char account[256];

void
log_syslog(int on)
{
	if (on && !to_syslog)
		openlog(progname, LOG_PID, LOG_MAIL);
	to_syslog = on;
}

void
log_init(const char *name, int lvl)
{
	progname = name;
	level = lvl;
}

int
log_level(void)
{
	return level;
}

void
log_set_account(const char *acct)
{
	if (acct == NULL)
		account[0] = '\0';
	else
		snprintf(account, sizeof account, "%s", acct);
}

static void vlog(int, int, const char *, va_list, const char *)
    __attribute__((format(printf, 3, 0)));

/* To stderr when tty is set, to syslog at prio (-1: not) when asked. */
static void
vlog(int tty, int prio, const char *fmt, va_list ap, const char *suffix)
{
	char msg[2048], line[2560];
	int n;

	vsnprintf(msg, sizeof msg, fmt, ap);
	if (to_syslog && prio >= 0)
		syslog(prio, "%s%s%s%s%s", account, account[0] ? ": " : "", msg,
		    suffix ? ": " : "", suffix ? suffix : "");
	if (!tty)
		return;
	n = snprintf(line, sizeof line, "%s: %s%s%s%s%s\n", progname, account,
	    account[0] ? ": " : "", msg, suffix ? ": " : "",
	    suffix ? suffix : "");
	if (n < 0)
		return;
	if ((size_t)n >= sizeof line) {
		n = sizeof line - 1;
		line[n - 1] = '\n';
	}
	/* One write per line, so concurrent accounts' lines do not mix. */
	(void)!write(STDERR_FILENO, line, (size_t)n);
}

void
log_notice(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(level >= 1, LOG_INFO, fmt, ap, NULL);
	va_end(ap);
}

void
log_warn(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	vlog(1, LOG_WARNING, fmt, ap, strerror(saved));
	va_end(ap);
	errno = saved;
}

void
log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(1, LOG_WARNING, fmt, ap, NULL);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	if (level < 1)
		return;
	va_start(ap, fmt);
	vlog(1, -1, fmt, ap, NULL);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list ap;

	if (level < 2)
		return;
	va_start(ap, fmt);
	vlog(1, -1, fmt, ap, NULL);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	vlog(1, LOG_ERR, fmt, ap, strerror(saved));
	va_end(ap);
	exit(EX_OSERR);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(1, LOG_ERR, fmt, ap, NULL);
	va_end(ap);
	exit(EX_SOFTWARE);
}

char *
log_sanitize(char *buf, size_t bufsz, const void *data, size_t len)
{
	const unsigned char *p = data;
	size_t i, o = 0;

	if (bufsz == 0)
		return buf;
	for (i = 0; i < len; i++) {
		if (o + 8 >= bufsz) {
			if (o + 4 <= bufsz) {
				memcpy(buf + o, "...", 3);
				o += 3;
			}
			break;
		}
		if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\')
			buf[o++] = (char)p[i];
		else
			o += (size_t)snprintf(buf + o, bufsz - o, "\\x%02x", p[i]);
	}
	buf[o] = '\0';
	return buf;
}
