/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crash.h"

static const char *names[CRASH_NPOINTS] = {
	[CRASH_RETR] = "retr",
	[CRASH_WRITTEN] = "written",
	[CRASH_SYNCED] = "synced",
	[CRASH_JOURNALED] = "journaled",
	[CRASH_PUBLISHED] = "published",
	[CRASH_COMMITTED] = "committed",
	[CRASH_DELE] = "dele",
	[CRASH_BEFORE_QUIT] = "before-quit",
	[CRASH_RECOVERY] = "recovery",
};

static enum crash_point armed;	/* 0: none */
static long nth = 1, hits;

const char *
crash_name(enum crash_point p)
{
	return p > 0 && p < CRASH_NPOINTS ? names[p] : "?";
}

int
crash_init(const char **errstr)
{
	const char *want = getenv("POPFETCH_CRASH_AT"), *colon;
	char *end;
	size_t n;
	long v;
	int i;

	armed = 0;
	if (want == NULL || *want == '\0')
		return 0;
	/* The crash tests walk every point: "list" names them, in order. */
	if (strcmp(want, "list") == 0) {
		for (i = 1; i < CRASH_NPOINTS; i++)
			fprintf(stderr, "%d %s\n", i, names[i]);
		exit(0);
	}
	colon = strchr(want, ':');
	n = colon != NULL ? (size_t)(colon - want) : strlen(want);
	if (colon != NULL) {
		nth = strtol(colon + 1, &end, 10);
		if (*end != '\0' || nth < 1)
			goto bad;
	}
	for (i = 1; i < CRASH_NPOINTS; i++)
		if (strlen(names[i]) == n && strncmp(want, names[i], n) == 0)
			armed = (enum crash_point)i;
	if (armed == 0) {
		v = strtol(want, &end, 10);
		if (end != want + n || v < 1 || v >= CRASH_NPOINTS)
			goto bad;
		armed = (enum crash_point)v;
	}
	return 0;
bad:
	*errstr = "POPFETCH_CRASH_AT: unknown crash point";
	return -1;
}

void
crash_at(enum crash_point p)
{
	if (armed != 0 && p == armed && ++hits == nth)
		kill(getpid(), SIGKILL);
}
