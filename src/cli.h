/* SPDX-License-Identifier: ISC */
/*
 * The command line: one table of options, each either a run option or an
 * account setting. Account settings are applied through cli_apply, by
 * name and value, so a config file can set them with the same words and
 * the same checks (its keywords are the long option names).
 */
#ifndef POPFETCH_CLI_H
#define POPFETCH_CLI_H

#include "conf.h"

/*
 * Parses argv into ro and a (which must hold conf_defaults). Returns -1
 * when the run should go on, else the exit status to end with (0 after
 * --help or --version, 64 after a usage error, already reported).
 */
int cli_parse(int argc, char *argv[], struct runopts *ro, struct account *a);

/* Starts a layer of settings (the config file's defaults, an account's
 * section, the command line): within one layer, two delivery methods or
 * --no-tls with --tls are contradictions; a later layer overrides. */
void cli_layer(struct account *);
/* Sets one account setting by its long option name; value is NULL for a
 * flag. 0, or an exit status (64 a bad value, 78 a contradiction) with an
 * allocated *errstr naming the option. */
int cli_apply(struct account *, const char *name, const char *value,
    char **errstr);

#endif
