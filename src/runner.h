/* SPDX-License-Identifier: ISC */
/*
 * Runs the accounts of one invocation, in order or up to --jobs at once
 * (each in a process of its own, with its own lock and store), and
 * collects each one's result. One failing account never stops the others.
 */
#ifndef POPFETCH_RUNNER_H
#define POPFETCH_RUNNER_H

#include <stddef.h>

#include "conf.h"
#include "result.h"

struct outcome {
	struct result	res;
	double		seconds;
};

/* Runs accounts[0, n) as ro says; out[i] gets account i's outcome. */
void runner_run(const struct runopts *ro, struct account *accounts,
    size_t n, struct outcome *out);

#endif
