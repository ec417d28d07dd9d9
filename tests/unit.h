/* SPDX-License-Identifier: ISC */
/* A minimal table-test harness: CHECK counts and reports, main returns
 * nonzero when anything failed. */
#ifndef POPFETCH_UNIT_H
#define POPFETCH_UNIT_H

#include <stdio.h>

static int unit_pass, unit_fail;

#define CHECK(cond, ...) do {						\
	if (cond)							\
		unit_pass++;						\
	else {								\
		unit_fail++;						\
		fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);	\
		fprintf(stderr, __VA_ARGS__);				\
		fputc('\n', stderr);					\
	}								\
} while (0)

#endif
