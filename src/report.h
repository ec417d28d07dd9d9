/* SPDX-License-Identifier: ISC */
/*
 * Everything popfetch prints for people and scripts, as opposed to log
 * lines (log.h) and mail (deliver_stdout.c): the summary of an account's
 * run, --check's count, --list-seen's records, --server-info, --help and
 * --version. The only module that writes to standard output with stdio.
 */
#ifndef POPFETCH_REPORT_H
#define POPFETCH_REPORT_H

#include <stddef.h>

#include "conf.h"
#include "result.h"
#include "uidstore.h"

void report_text(const char *);		/* --help, --version */
/* A --server-info section: a heading line (or NULL) and text as given. */
void report_server_info(const char *heading, const char *text);
/* One --list-seen line: UID, size, first seen, contents, copies. */
void report_seen(const void *uid, size_t len, const struct uidrec *);
/* The line for --check, unless quiet. */
void report_check(const struct runopts *, const struct account *,
    const struct result *);
/* The one-line summary of a fetch: on a terminal, or with -v. */
void report_summary(const struct runopts *, const struct account *,
    const struct result *);

#endif
