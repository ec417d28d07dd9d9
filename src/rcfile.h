/* SPDX-License-Identifier: ISC */
/*
 * The run control file (popfetchrc(5)): its syntax and structure only.
 * What each keyword means belongs to the command line's option table; the
 * caller hands that knowledge in as a lookup function saying the type of
 * each keyword, and applies the items it gets back in order (a later item
 * overrides an earlier one), reporting item->file:item->line when it
 * rejects a value.
 *
 * The syntax, as msmtp and mpop write it:
 *
 *	# comment
 *	defaults
 *	    password-file ~/pw
 *	account work
 *	    host pop.example.org
 *	    mbox "~/mail/work mbox"
 *
 * - One "keyword [value]" per line. Blanks are spaces and tabs; those at
 *   either end of a line are ignored, as is one CR before the LF (CRLF
 *   files). Keywords are case-sensitive.
 * - A comment is a line whose first non-blank byte is '#'. A '#' anywhere
 *   else is part of the value (passwords and commands hold '#'), except
 *   after the closing quote of a quoted value.
 * - The value is the rest of the line after the keyword and its blanks. A
 *   value that starts with '"' is quoted: it ends at the next unescaped
 *   '"', inside which \" and \\ are the only escapes (any other backslash
 *   is an error); only blanks, optionally followed by a '#' comment, may
 *   follow the closing quote. An unterminated quote is an error. Quoting is
 *   how to keep blanks at either end, or to write an empty value ("").
 * - No value may hold a control character (a byte below 0x20, tab
 *   included, or 0x7f). Other bytes, UTF-8 or not, are taken as they are.
 * - RC_FLAG keywords are bare ("delete") or take exactly "on" or "off",
 *   lower case; yes/no, true/false, 1/0 are errors, not guesses.
 * - RC_PATH values that are "~" or start with "~/" have the "~" replaced
 *   by the home directory (quoted or not). "~user" is an error. No other
 *   type is expanded: a command (mda, password-cmd) is left as written.
 * - "defaults" starts a section whose items apply to every account after
 *   it; several accumulate, in file order. "account NAME" starts an
 *   account; a name is printable ASCII without blanks and appears once.
 *   An item before the first section is an error.
 * - Limits: a line of at most RCFILE_LINE_MAX bytes (without its CRLF or
 *   LF), no NUL byte anywhere, a file of at most RCFILE_SIZE_MAX bytes.
 *
 * Errors are one line, "FILE:LINE: message" (or "FILE: message" for the
 * file as a whole), returned in an allocated *errstr; nothing here logs.
 * Values are never quoted back in an error: one of them may be a password.
 */
#ifndef POPFETCH_RCFILE_H
#define POPFETCH_RCFILE_H

#include <stddef.h>

#define RCFILE_LINE_MAX	4096
#define RCFILE_SIZE_MAX	(1024 * 1024)

enum rc_type {
	RC_UNKNOWN = 0,	/* not a keyword of the file: an error */
	RC_FLAG,	/* bare, "on" or "off" */
	RC_VALUE,	/* needs a value, taken as written */
	RC_PATH,	/* needs a value; "~" and "~/" are expanded */
	RC_SECRET,	/* needs a value; the file must be private */
};

/* The type of a keyword, RC_UNKNOWN for none. Never sees "defaults" or
 * "account", which are the file's own. */
typedef enum rc_type (*rc_lookup_fn)(const char *keyword, void *arg);

/* A ready-made lookup: arg is an array of these ended by a NULL name. */
struct rc_keyword {
	const char	*name;
	enum rc_type	 type;
};
enum rc_type rc_table_lookup(const char *keyword, void *table);

struct rc_item {
	const char	*keyword;
	enum rc_type	 type;
	const char	*value;	/* unquoted and expanded; NULL for RC_FLAG */
	int		 on;	/* RC_FLAG: 1 bare or "on", 0 "off"; else 1 */
	const char	*file;
	unsigned	 line;
};

/* The effective items of an account are defaults[0..ndefaults) (the
 * defaults in effect where it starts), then items[0..nitems) (its own);
 * rc_account_item walks both as one list. */
struct rc_account {
	const char		*name;
	const char		*file;
	unsigned		 line;	/* of its "account" line */
	const struct rc_item	*defaults;
	size_t			 ndefaults;
	const struct rc_item	*items;
	size_t			 nitems;
};

struct rcfile;

/* Parses text (len bytes, not NUL-terminated) named file in messages;
 * home expands "~" in RC_PATH values (NULL: such a value is an error).
 * Returns 0 with *out, or -1 with *errstr (unknown keyword, missing or
 * unwanted value, bad quoting, control character, NUL byte, long line,
 * item before a section, bad or duplicate account name, "~" without a
 * home). Pure. */
int rcfile_parse(const char *text, size_t len, const char *file,
    const char *home, rc_lookup_fn lookup, void *arg, struct rcfile **out,
    char **errstr);

/* rcfile_load flag: a missing file is not an error (return RCFILE_MISSING). */
#define RCFILE_OPTIONAL	0x1
#define RCFILE_MISSING	1

/* Opens, checks and parses the file at path, with rcfile_home() for "~".
 * Returns 0 with *out; RCFILE_MISSING (no *errstr) when the file does not
 * exist and flags hold RCFILE_OPTIONAL; -1 with *errstr when it cannot be
 * opened or read, is missing (without RCFILE_OPTIONAL) or a dangling
 * symbolic link, is not a regular file, is owned by a user other than the
 * real uid and root (as ssh), is larger than RCFILE_SIZE_MAX, does not
 * parse, holds an RC_SECRET keyword and group or others may read or write
 * it ("FILE:LINE: password in a file ...; run: chmod 600 FILE"), or group
 * or others may write it at all (they could name our commands: "FILE:
 * ...; run: chmod go-w FILE", reported before a parse error). */
int rcfile_load(const char *path, int flags, rc_lookup_fn lookup, void *arg,
    struct rcfile **out, char **errstr);

/* Wipes the values (a password may be among them) and frees; NULL is fine. */
void rcfile_free(struct rcfile *);

/* The accounts in file order; i < rcfile_naccounts. */
size_t rcfile_naccounts(const struct rcfile *);
const struct rc_account *rcfile_account_at(const struct rcfile *, size_t i);
/* The account of that name, or NULL. */
const struct rc_account *rcfile_account(const struct rcfile *,
    const char *name);
/* Every defaults item of the file in order (those in effect at its end),
 * e.g. for a server named on the command line rather than an account. */
const struct rc_item *rcfile_defaults(const struct rcfile *, size_t *n);
/* 1 when an RC_SECRET keyword appears anywhere in the file. */
int rcfile_has_secret(const struct rcfile *);

/* An account's effective list: i < rc_account_nitems. */
size_t rc_account_nitems(const struct rc_account *);
const struct rc_item *rc_account_item(const struct rc_account *, size_t i);

/* The home directory: $HOME when it is absolute, else the password
 * database's for the real uid. Allocated; NULL when there is none. */
char *rcfile_home(void);
/* $XDG_CONFIG_HOME/popfetch/config when that is absolute, else
 * HOME/.config/popfetch/config. Allocated; NULL with *errstr when there
 * is no home directory. */
char *rcfile_default_path(char **errstr);

#endif
