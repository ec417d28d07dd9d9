/* SPDX-License-Identifier: ISC */
/*
 * Test-only crash hook: POPFETCH_CRASH_AT=POINT[:N] kills the process with
 * SIGKILL the N-th time (default: the first) it reaches POINT, so the crash
 * tests can prove recovery at every step. POINT is a name or a number; the
 * points are numbered 1..CRASH_NPOINTS - 1 in the order a batch reaches
 * them, so a test can walk them all without keeping a list: a number past
 * the last is refused at start ("unknown crash point"), and
 * POPFETCH_CRASH_AT=list prints "NUMBER NAME" lines on stderr and exits. The
 * environment is
 * read once, by crash_init(); unset, every crash_at() is a no-op.
 */
#ifndef POPFETCH_CRASH_H
#define POPFETCH_CRASH_H

enum crash_point {
	CRASH_RETR = 1,		/* a message downloaded */
	CRASH_WRITTEN,		/* a message handed to the delivery method */
	CRASH_SYNCED,		/* the batch made durable */
	CRASH_JOURNALED,	/* the batch's intent recorded */
	CRASH_PUBLISHED,	/* the batch published (renamed, appended) */
	CRASH_COMMITTED,	/* the batch's UIDs committed */
	CRASH_DELE,		/* a DELE accepted */
	CRASH_BEFORE_QUIT,	/* about to send QUIT */
	CRASH_RECOVERY,		/* about to recover a journal */
	CRASH_NPOINTS
};

/* Reads POPFETCH_CRASH_AT; -1 with a message in *errstr (static) when it
 * names no crash point. */
int crash_init(const char **errstr);
const char *crash_name(enum crash_point);
void crash_at(enum crash_point);

#endif
