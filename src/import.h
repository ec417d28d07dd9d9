/* SPDX-License-Identifier: ISC */
/*
 * Pure readers for the state files in which other POP3 fetchers record the
 * UIDs they have fetched, so that "--import-uids FORMAT:FILE" lets a user
 * switch to popfetch without downloading the mailbox again. The caller reads
 * the file; nothing here does I/O, and the UID handed to the callback points
 * into the caller's buffer, valid until the callback returns.
 *
 * What each program writes (samples and how they were made:
 * tests/data/import/README):
 *   mpop       uidls_file: "#" comment lines at the top, then per account a
 *              line " COUNT HOST USER" followed by COUNT lines of one UID
 *              each (the whole line, blanks included). No port.
 *   fetchmail  .fetchids / --idfile: one "USER@HOST UID" line per UID; HOST
 *              is the "via" name, else the poll name. No port. A UID is one
 *              word: fetchmail keeps only the first word of what it got.
 *   getmail    oldmail-HOST-PORT-USER in its getmaildir: one
 *              "UID" NUL "TIMESTAMP" line per UID; the account is only in
 *              the file name. getmail writes a '/' in a UID as '-'.
 * A UID is passed on exactly as the file holds it. Where the program altered
 * it (the first word, '/' as '-') it no longer matches the server's UID, so
 * that message is fetched once more; nothing is ever marked as fetched that
 * the program did not record. Host names are compared without regard to
 * case; user names as the program compares them (mpop exactly, fetchmail
 * without regard to case).
 */
#ifndef POPFETCH_IMPORT_H
#define POPFETCH_IMPORT_H

#include <stddef.h>

/* The UID store's limit (UID_MAXLEN); t_import checks that they agree. */
#define IMPORT_UID_MAXLEN	512

enum import_format {
	IMPORT_MPOP,
	IMPORT_FETCHMAIL,
	IMPORT_GETMAIL
};

/* The account whose UIDs are wanted, as popfetch knows it. */
struct import_account {
	const char	*user;
	const char	*host;
	const char	*port;		/* decimal; only getmail records it */
};

/* The format called NAME ("mpop", "fetchmail", "getmail"): 0, or -1. */
int import_format_parse(const char *name, enum import_format *);

/* The name of a format. */
const char *import_format_name(enum import_format);

/*
 * Splits the argument of --import-uids, "FORMAT:FILE"; *file points into
 * arg. 0, or -1 with an allocated *errstr (no colon, an unknown format, no
 * file name) that lists the formats.
 */
int import_spec_parse(const char *arg, enum import_format *,
    const char **file, char **errstr);

/* Called once per UID; returns 0 to go on, anything else to stop. */
typedef int (*import_cb)(const char *uid, size_t len, void *arg);

/*
 * Calls cb for every UID that the file's bytes (buf, len) record for the
 * account, in file order, and returns how many (cb may be NULL to count
 * only). name is the file's base name or NULL; getmail keeps the account
 * only there, so a name starting with "oldmail-" must be the one getmail
 * uses for this account.
 *
 * The whole file is checked before cb is first called: on an error no UID
 * has been passed on. A file that records no account at all (empty, or
 * comments only) gives 0.
 *
 * Errors: -1 with an allocated one-line *errstr, "line N: ..." for a fault
 * in the file (a line that is not of the format, a file cut short, one of
 * this account's UIDs that is empty, holds a NUL or is longer than
 * IMPORT_UID_MAXLEN), or, for getmail, a file name of another account, or,
 * when the file holds UIDs of other accounts only, which ones (sanitized,
 * at most five). -1 with *errstr NULL when cb stopped the import.
 */
long import_uids(enum import_format, const char *name, const void *buf,
    size_t len, const struct import_account *, import_cb cb, void *arg,
    char **errstr);

#endif
