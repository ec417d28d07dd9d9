/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "log.h"

static const char *progname = "popfetch";
static int level;
static char account[256];

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

static void vlog(const char *, va_list, const char *)
    __attribute__((format(printf, 1, 0)));

static void
vlog(const char *fmt, va_list ap, const char *suffix)
{
	char msg[2048];

	vsnprintf(msg, sizeof msg, fmt, ap);
	/* One write per line so lines from concurrent runs do not interleave. */
	if (account[0] != '\0')
		fprintf(stderr, "%s: %s: %s%s%s\n", progname, account, msg,
		    suffix ? ": " : "", suffix ? suffix : "");
	else
		fprintf(stderr, "%s: %s%s%s\n", progname, msg,
		    suffix ? ": " : "", suffix ? suffix : "");
	fflush(stderr);
}

void
log_warn(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	vlog(fmt, ap, strerror(saved));
	va_end(ap);
	errno = saved;
}

void
log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(fmt, ap, NULL);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	if (level < 1)
		return;
	va_start(ap, fmt);
	vlog(fmt, ap, NULL);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list ap;

	if (level < 2)
		return;
	va_start(ap, fmt);
	vlog(fmt, ap, NULL);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	vlog(fmt, ap, strerror(saved));
	va_end(ap);
	exit(EX_OSERR);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(fmt, ap, NULL);
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
