/* SPDX-License-Identifier: ISC */
/*
 * Logging to stderr. Every line is "popfetch: ACCOUNT: message" so that a cron
 * mail with several accounts says which one failed. Only fetch.c and main.c
 * log; other modules return errors as values.
 *
 * Levels: -1 quiet (errors only), 0 default (errors and warnings),
 * 1 verbose (-v, progress), 2 trace (-vv, protocol trace with secrets redacted).
 */
#ifndef POPFETCH_LOG_H
#define POPFETCH_LOG_H

#define PF_PRINTF(a, b) __attribute__((format(printf, a, b)))

void log_init(const char *progname, int level);
int log_level(void);
/* The account prefix; NULL for none. The string is copied. */
void log_set_account(const char *account);

void log_warn(const char *, ...) PF_PRINTF(1, 2);	/* adds strerror(errno) */
void log_warnx(const char *, ...) PF_PRINTF(1, 2);
void log_info(const char *, ...) PF_PRINTF(1, 2);	/* level >= 1 */
/* One line per account run: syslog (when on) and, with -v, stderr. */
void log_notice(const char *, ...) PF_PRINTF(1, 2);
/* --syslog: warnings, errors and notices go to syslog (facility mail)
 * too. */
void log_syslog(int on);
void log_debug(const char *, ...) PF_PRINTF(1, 2);	/* level >= 2 */
void fatal(const char *, ...) PF_PRINTF(1, 2) __attribute__((noreturn));
void fatalx(const char *, ...) PF_PRINTF(1, 2) __attribute__((noreturn));

/* Writes a printable rendering of untrusted bytes (UIDs, server text) into
 * buf: control and 8-bit bytes become \xHH, and long input is cut with "...".
 * Returns buf. */
char *log_sanitize(char *buf, size_t bufsz, const void *data, size_t len);

#endif
