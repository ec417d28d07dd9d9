/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <stdio.h>
#include <unistd.h>

#include "log.h"
#include "report.h"

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

	if (ro->verbosity < 0 || (ro->verbosity == 0 && !isatty(fileno(f))))
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
