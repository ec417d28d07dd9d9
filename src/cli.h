/* SPDX-License-Identifier: ISC */
/*
 * The command line and the config file's keywords: one table of options,
 * each a run option or an account setting. Account settings are applied
 * by name and value through cli_apply, so the config file sets them with
 * the same words and the same checks (its keywords are the long option
 * names, plus host and password).
 */
#ifndef POPFETCH_CLI_H
#define POPFETCH_CLI_H

#include <stddef.h>

#include "conf.h"
#include "rcfile.h"

/* An account setting given on the command line, applied to each account
 * after its config file settings. */
struct cli_item {
	const char	*name;	/* long option name */
	const char	*value;	/* NULL for a flag */
};

struct cliargs {
	struct cli_item	*items;
	size_t		 nitems;
	char		**names;	/* accounts or server names */
	size_t		 nnames;
};

/*
 * Parses argv into ro and ca. Returns -1 when the run should go on, else
 * the exit status to end with (0 after --help or --version, 64 after a
 * usage error, already reported).
 */
int cli_parse(int argc, char *argv[], struct runopts *ro, struct cliargs *ca);
void cli_free(struct cliargs *);
/* Says msg (if any) and how to get help; returns 64. */
int cli_usage_error(const char *msg);

/* The config file's keyword types (rc_lookup_fn). */
enum rc_type cli_keyword_type(const char *keyword, void *arg);

/* Starts a layer of settings (the config file's defaults, an account's
 * section, the command line): within one layer, two delivery methods or
 * --no-tls with --tls are contradictions; a later layer overrides. */
void cli_layer(struct account *);
/* Sets one account setting by its long option name (or host, password);
 * value is NULL for a flag, on 0 turns a flag off. 0, or an exit status
 * (64 a bad value, 78 a contradiction) with an allocated *errstr naming
 * the option. */
int cli_apply(struct account *, const char *name, const char *value, int on,
    char **errstr);

#endif
