/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "deliver.h"
#include "util.h"
#include "xmalloc.h"

void
conf_defaults(struct account *a)
{
	memset(a, 0, sizeof *a);
	a->password_fd = -1;
	a->timeout_ms = 60 * 1000;
	a->max_size = (uint64_t)1 << 30;
	a->batch = 512;
	a->received = 1;
}

char *
conf_account_dirname(const char *user, const char *host, const char *port)
{
	struct buf b = { 0 };
	const char *parts[] = { user, "@", host, ":", port };
	const unsigned char *p;
	char hex[4];
	size_t i;

	for (i = 0; i < 5; i++) {
		/* Separators are literal; user and host bytes are escaped. */
		if (i == 1 || i == 3) {
			buf_add(&b, parts[i], 1);
			continue;
		}
		for (p = (const unsigned char *)parts[i]; *p != '\0'; p++) {
			if ((*p >= 'a' && *p <= 'z') ||
			    (*p >= 'A' && *p <= 'Z') ||
			    (*p >= '0' && *p <= '9') || *p == '.' ||
			    *p == '_' || *p == '+' || *p == '-') {
				/* A leading dot would hide the directory. */
				if (!(b.len == 0 && *p == '.')) {
					buf_add(&b, p, 1);
					continue;
				}
			}
			snprintf(hex, sizeof hex, "%%%02X", *p);
			buf_add(&b, hex, 3);
		}
	}
	buf_add(&b, "", 1);
	return (char *)b.data;
}

/* FNV-1a of what a copy goes into: the target's absolute path, or the
 * command. */
static uint64_t
target_key(const struct account *a)
{
	char cwd[PATH_MAX], *s;
	const unsigned char *p;
	uint64_t h = 0xcbf29ce484222325ULL;

	if (a->dtarget == NULL)
		s = xasprintf("%d:", (int)a->dkind);
	else if (a->dkind != DELIVER_MDA && a->dtarget[0] != '/' &&
	    getcwd(cwd, sizeof cwd) != NULL)
		s = xasprintf("%d:%s/%s", (int)a->dkind, cwd, a->dtarget);
	else
		s = xasprintf("%d:%s", (int)a->dkind, a->dtarget);
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		h ^= *p;
		h *= 0x100000001b3ULL;
	}
	free(s);
	return h;
}

int
conf_finish(struct account *a, const struct runopts *ro, char **errstr)
{
	const char *xdg, *home;
	struct passwd *pw;
	char *dir, *p;

	if (a->server == NULL || *a->server == '\0') {
		*errstr = xasprintf("no server given");
		return -1;
	}
	/* Host names are not case-sensitive: MAIL.Example.NET is the same
	 * account, with the same state, as mail.example.net. */
	for (p = a->server; *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	if (a->dkind == DELIVER_NONE && ro->mode == MODE_FETCH) {
		*errstr = xasprintf("no delivery method: give one of --maildir "
		    "DIR, --mbox FILE, --mda CMD or --stdout");
		return -1;
	}
	if (a->tls == TLS_DEFAULT)
		a->tls = a->port != NULL && strcmp(a->port, "995") == 0 ?
		    TLS_IMPLICIT : TLS_STARTTLS;
	if (a->port == NULL)
		a->port = xstrdup(a->tls == TLS_IMPLICIT ? "995" : "110");
	if (a->dkind == DELIVER_STDOUT && a->delete) {
		*errstr = xasprintf("--stdout cannot know whether the reader "
		    "stored a message, so --delete is refused: use --mda CMD, "
		    "whose exit status confirms each delivery");
		return -1;
	}
	if (a->tls_key != NULL && a->tls_cert == NULL) {
		*errstr = xasprintf("--tls-key needs --tls-cert");
		return -1;
	}
	if (a->user == NULL) {
		/* As fetchmail does: the local login name. */
		const char *u = getenv("USER");

		if (u == NULL || *u == '\0') {
			pw = getpwuid(getuid());
			u = pw != NULL ? pw->pw_name : NULL;
		}
		if (u == NULL) {
			*errstr = xasprintf("no user name: use -u USER");
			return -1;
		}
		a->user = xstrdup(u);
	}
	if (a->state_base == NULL) {
		xdg = getenv("XDG_STATE_HOME");
		home = getenv("HOME");
		if (xdg != NULL && *xdg == '/')
			a->state_base = xasprintf("%s/popfetch", xdg);
		else if (home != NULL && *home == '/')
			a->state_base = xasprintf("%s/.local/state/popfetch",
			    home);
		else {
			*errstr = xasprintf("no state directory: set HOME or "
			    "use --state-dir DIR");
			return -1;
		}
	}
	dir = conf_account_dirname(a->user, a->server, a->port);
	if (a->copy) {
		/* A copy is recorded apart, per target, so a backup never
		 * marks mail as fetched for the account's own runs. */
		if (a->delete) {
			free(dir);
			*errstr = xasprintf("--copy never deletes: leave out "
			    "--delete");
			return -1;
		}
		a->state_dir = xasprintf("%s/%s.copy-%016llx", a->state_base,
		    dir, (unsigned long long)target_key(a));
	} else
		a->state_dir = xasprintf("%s/%s", a->state_base, dir);
	free(dir);
	if (a->name == NULL)
		a->name = xasprintf("%s@%s", a->user, a->server);
	return 0;
}

int
conf_check_target(const struct account *a, const struct runopts *ro,
    char **errstr)
{
	struct stat st;
	char *dir, *slash;
	int rc = 0;

	if (ro->mode != MODE_FETCH || (a->dkind != DELIVER_MAILDIR &&
	    a->dkind != DELIVER_MBOX))
		return 0;
	if (stat(a->dtarget, &st) == 0) {
		if (a->dkind == DELIVER_MAILDIR && !S_ISDIR(st.st_mode))
			*errstr = xasprintf("--maildir %s: not a directory",
			    a->dtarget);
		else if (a->dkind == DELIVER_MBOX && S_ISDIR(st.st_mode))
			*errstr = xasprintf("--mbox %s: a directory, not a "
			    "file (for a Maildir, use --maildir)", a->dtarget);
		else
			return 0;
		return -1;
	}
	if (errno == ENOTDIR) {
		*errstr = xasprintf("%s %s: a part of the path is not a "
		    "directory", a->dkind == DELIVER_MAILDIR ? "--maildir" :
		    "--mbox", a->dtarget);
		return -1;
	}
	/* A Maildir is made with its parents; an mbox only in a directory
	 * that exists (a typo should not grow a tree). */
	if (a->dkind != DELIVER_MBOX || errno != ENOENT)
		return 0;
	dir = xstrdup(a->dtarget);
	if ((slash = strrchr(dir, '/')) != NULL) {
		*(slash == dir ? slash + 1 : slash) = '\0';
		if (stat(dir, &st) == -1 || !S_ISDIR(st.st_mode)) {
			*errstr = xasprintf("--mbox %s: the directory %s does "
			    "not exist", a->dtarget, dir);
			rc = -1;
		}
	}
	free(dir);
	return rc;
}

void
conf_free(struct account *a)
{
	free(a->server);
	free(a->port);
	free(a->user);
	free(a->dtarget);
	free(a->state_base);
	free(a->state_dir);
	free(a->name);
	free(a->password_file);
	free(a->tls_trust_file);
	free(a->tls_fingerprint);
	free(a->tls_cert);
	free(a->tls_key);
	free(a->auth);
	free(a->password_cmd);
	free(a->tunnel);
	free_secret(a->password);
}
