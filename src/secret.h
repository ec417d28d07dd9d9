/* SPDX-License-Identifier: ISC */
/*
 * Where the password comes from: never the command line. In order:
 * --password-fd N, --password-file FILE, ~/.netrc (machine SERVER, login
 * USER), then a prompt on the terminal. The returned string is allocated;
 * release it with free_secret() (util.h), which wipes it.
 */
#ifndef POPFETCH_SECRET_H
#define POPFETCH_SECRET_H

#include <stddef.h>

/* Finds the entry for host (and user, if not NULL) in .netrc text. Sets
 * allocated *login (may stay NULL) and *password (may stay NULL). Returns 1
 * when a machine (or default) entry matched, 0 when none did. Pure. */
int netrc_lookup(const char *text, size_t len, const char *host,
    const char *user, char **login, char **password);

/* Reads the first line of a file descriptor or file, without its newline.
 * The descriptor is closed after reading. NULL with *errstr on failure. */
char *secret_from_fd(int fd, char **errstr);
char *secret_from_file(const char *path, char **errstr);
/* Reads ~/.netrc (or $NETRC); NULL without error when there is no entry. */
char *secret_from_netrc(const char *host, const char *user, char **login,
    char **errstr);
/* Runs /bin/sh -c cmd and takes the first line of its output (a password
 * manager or an OAuth2 token helper); the command must exit 0 within
 * timeout_ms. NULL with *errstr otherwise. */
char *secret_from_cmd(const char *cmd, int timeout_ms, char **errstr);
/* Prompts on /dev/tty with echo off; NULL when there is no terminal. */
char *secret_prompt(const char *prompt, char **errstr);

#endif
