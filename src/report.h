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

/* -v: one line per delivered message. */
void report_message(const struct runopts *, uint32_t msgno, uint64_t octets,
    const char *from, const char *subject, const char *method,
    const char *target);
/* The progress line on a terminal (stderr), redrawn in place while an
 * account's messages download; progress_end clears it. Nothing when
 * stderr is not a terminal, with -q, or with several accounts at once. */
void progress_start(const struct runopts *, unsigned long messages,
    uint64_t bytes);
void progress_step(uint64_t octets);
void progress_end(void);

/* --summary json: {"accounts": [...]} to stdout or --summary-file. 0, or
 * -1 when the file could not be written (said). */
struct outcome;
int report_json(const struct runopts *, const struct account *,
    const struct outcome *, size_t n);
/* --mark-seen and --import-uids: how many UIDs were recorded. */
void report_recorded(const struct runopts *, const struct account *,
    const char *what, unsigned long n);

#endif
