/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "report.h"
#include "runner.h"
#include "util.h"

void
report_text(const char *text)
{
	fputs(text, stdout);
}

void
report_server_info(const char *heading, const char *text)
{
	if (heading != NULL)
		printf("%s\n", heading);
	fputs(text, stdout);
}

void
report_seen(const void *uid, size_t len, const struct uidrec *rec)
{
	char show[UID_MAXLEN * 4 + 8];

	printf("%s\t%llu\t%lld\t%u\t%u\n", log_sanitize(show, sizeof show, uid,
	    len), (unsigned long long)rec->size, (long long)rec->first_seen,
	    rec->ndig, rec->ncopies);
}

void
report_check(const struct runopts *ro, const struct account *a,
    const struct result *r)
{
	/* As fetchmail -c. */
	if (ro->verbosity >= 0 && r->worst == FAIL_NONE)
		printf("%s: %lu new message%s of %lu on the server\n", a->name,
		    r->fresh, r->fresh == 1 ? "" : "s", r->messages);
}

void
report_summary(const struct runopts *ro, const struct account *a,
    const struct result *r)
{
	/* Mail on stdout must not be mixed with the summary. */
	FILE *f = a->dkind == DELIVER_STDOUT ? stderr : stdout;

	/* Like the progress line: nothing of it unless someone watches. */
	if (ro->verbosity < 0 || (ro->verbosity == 0 &&
	    (!isatty(fileno(f)) || !isatty(STDERR_FILENO))))
		return;
	fprintf(f, "%s: %lu new message%s (%llu octets) fetched, %lu deleted, "
	    "%lu left after errors", a->name, r->fetched,
	    r->fetched == 1 ? "" : "s", (unsigned long long)r->bytes,
	    r->deleted, r->failed);
	/* After a failed login nothing is known of the mailbox. */
	if (r->listed)
		fprintf(f, ", %lu on the server", r->messages);
	fputc('\n', f);
}

void
report_recorded(const struct runopts *ro, const struct account *a,
    const char *what, unsigned long n)
{
	if (ro->verbosity >= 0)
		printf("%s: %lu message%s %s\n", a->name, n, n == 1 ? "" : "s",
		    what);
}

/* A JSON string: quotes, backslashes and control bytes escaped; bytes
 * that are not UTF-8 are written as U+FFFD. */
static void
json_str(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n, i;

	if (s == NULL) {
		fputs("null", f);
		return;
	}
	fputc('"', f);
	while (*p != '\0') {
		if (*p == '"' || *p == '\\') {
			fputc('\\', f);
			fputc(*p++, f);
			continue;
		}
		if (*p < 0x20 || *p == 0x7f) {
			fprintf(f, "\\u%04x", *p++);
			continue;
		}
		if (*p < 0x80) {
			fputc(*p++, f);
			continue;
		}
		n = *p >= 0xf0 && *p < 0xf5 ? 4 : *p >= 0xe0 ? 3 :
		    *p >= 0xc2 && *p < 0xe0 ? 2 : 0;
		for (i = 1; i < n; i++)
			if ((p[i] & 0xc0) != 0x80)
				n = 0;
		if (n == 0) {
			fputs("\\ufffd", f);
			p++;
			continue;
		}
		fwrite(p, 1, n, f);
		p += n;
	}
	fputc('"', f);
}

int
report_json(const struct runopts *ro, const struct account *a,
    const struct outcome *o, size_t n)
{
	FILE *f = stdout;
	size_t i;
	const char *status;

	if (ro->summary_file != NULL &&
	    (f = fopen(ro->summary_file, "w")) == NULL) {
		log_warnx("--summary-file %s: %s", ro->summary_file,
		    strerror(errno));
		return -1;
	}
	fputs("{\"accounts\": [", f);
	for (i = 0; i < n; i++) {
		const struct result *r = &o[i].res;

		status = r->worst == FAIL_NONE ? "ok" :
		    r->worst < FAIL_ACCOUNT ? "partial" : "failed";
		fprintf(f, "%s\n  {\"name\": ", i > 0 ? "," : "");
		json_str(f, a[i].name);
		fputs(", \"server\": ", f);
		json_str(f, a[i].server);
		fputs(", \"user\": ", f);
		json_str(f, a[i].user);
		fprintf(f, ", \"status\": \"%s\", \"exit\": %d, \"new\": %lu, "
		    "\"fetched\": %lu, \"bytes\": %llu, \"deleted\": %lu, "
		    "\"skipped\": %lu, \"failed\": %lu, \"seconds\": %.3f, "
		    "\"error\": ", status, failure_exit(r->worst), r->fresh,
		    r->fetched, (unsigned long long)r->bytes, r->deleted,
		    r->skipped, r->failed, o[i].seconds);
		json_str(f, r->error);
		fputc('}', f);
	}
	fputs("\n]}\n", f);
	if (f != stdout) {
		if (fclose(f) == EOF) {
			log_warnx("--summary-file %s: %s", ro->summary_file,
			    strerror(errno));
			return -1;
		}
	} else if (fflush(f) == EOF)
		return -1;
	return 0;
}

void
report_message(const struct runopts *ro, uint32_t msgno, uint64_t octets,
    const char *from, const char *subject, const char *method,
    const char *target)
{
	char f[256], s[256], t[256];

	if (ro->verbosity < 1)
		return;
	log_sanitize(f, sizeof f, from, strlen(from));
	log_sanitize(s, sizeof s, subject, strlen(subject));
	log_info("message %u, %llu octets, from %s, \"%s\": %s %s", msgno,
	    (unsigned long long)octets, f[0] ? f : "(nobody)", s, method,
	    target != NULL ? log_sanitize(t, sizeof t, target, strlen(target)) :
	    "");
}

static struct {
	int		 on;
	unsigned long	 total, done;
	uint64_t	 bytes, got;
	int64_t		 t0, last;
	int		 drawn;
} pg;

static void
human(char *buf, size_t sz, double v)
{
	static const char *unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	int u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	snprintf(buf, sz, u == 0 ? "%.0f %s" : "%.1f %s", v, unit[u]);
}

static void
draw(void)
{
	char line[160], got[32], rate[32], left[32];
	int64_t ms = now_ms() - pg.t0;
	double r = ms > 0 ? (double)pg.got * 1000.0 / (double)ms : 0;
	int n;

	human(got, sizeof got, (double)pg.got);
	human(rate, sizeof rate, r);
	if (r > 0 && pg.bytes > pg.got)
		snprintf(left, sizeof left, ", %.0f s left",
		    (double)(pg.bytes - pg.got) / r);
	else
		left[0] = '\0';
	n = snprintf(line, sizeof line, "\r%lu/%lu messages, %s, %s/s%s\033[K",
	    pg.done, pg.total, got, rate, left);
	if (n > 0)
		(void)!write(STDERR_FILENO, line, (size_t)n < sizeof line ?
		    (size_t)n : sizeof line - 1);
	pg.drawn = 1;
	pg.last = now_ms();
}

void
progress_start(const struct runopts *ro, unsigned long messages,
    uint64_t bytes)
{
	memset(&pg, 0, sizeof pg);
	pg.on = ro->verbosity == 0 && ro->jobs <= 1 && messages > 0 &&
	    isatty(STDERR_FILENO);
	pg.total = messages;
	pg.bytes = bytes;
	pg.t0 = pg.last = now_ms();
}

void
progress_step(uint64_t octets)
{
	if (!pg.on)
		return;
	pg.done++;
	pg.got += octets;
	/* Redrawn a few times a second, not per message. */
	if (now_ms() - pg.last >= 200 || pg.done == pg.total)
		draw();
}

void
progress_end(void)
{
	if (pg.on && pg.drawn)
		(void)!write(STDERR_FILENO, "\r\033[K", 4);
	pg.on = 0;
}
