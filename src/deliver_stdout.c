/* SPDX-License-Identifier: ISC */
/*
 * Delivery to standard output as an mboxrd stream, so that
 * "popfetch --stdout ... | formail -s procmail" works. Only complete
 * messages get here (stream = 0). Bytes written into a pipe are not mail
 * delivered: the UIDs of a run are recorded only once the whole stream was
 * written and standard output was flushed (fsynced when it is a file) and
 * closed without an error (confirm_at_end); a write error records nothing
 * of the run. Messages are never deleted (--delete is refused): a reader
 * that dies, or loses what it read, gets them again next time.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "deliver.h"
#include "log.h"
#include "mboxrd.h"
#include "util.h"
#include "xmalloc.h"

struct out {
	struct mboxrd	q;
	char		from[512];
};

static enum deliver_rc
so_open(struct deliver *d, char **errstr)
{
	d->priv = xcalloc(1, sizeof(struct out));
	return 0;
}

static int
so_put(const char *p, size_t n, char **errstr)
{
	if (write_all(STDOUT_FILENO, p, n) == -1) {
		*errstr = xasprintf("standard output: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static enum deliver_rc
so_nop(struct deliver *d, char **errstr)
{
	return 0;
}

static enum deliver_rc
so_begin(struct deliver *d, const struct msg_meta *meta, char **errstr)
{
	struct out *o = d->priv;
	size_t n;

	mboxrd_init(&o->q);
	n = mboxrd_from_line(o->from, sizeof o->from, meta->sender,
	    time(NULL));
	return so_put(o->from, n, errstr) == -1 ?
	    DELIVER_TARGET_FAILED : DELIVER_OK;
}

static enum deliver_rc
so_write(struct deliver *d, const char *p, size_t n, char **errstr)
{
	struct out *o = d->priv;
	char out[MBOXRD_OUTMAX(4096)];
	size_t chunk;

	while (n > 0) {
		chunk = n > 4096 ? 4096 : n;
		if (so_put(out, mboxrd_quote(&o->q, p, chunk, out), errstr)
		    == -1)
			return DELIVER_TARGET_FAILED;
		p += chunk;
		n -= chunk;
	}
	return 0;
}

static enum deliver_rc
so_end(struct deliver *d, char **errstr)
{
	struct out *o = d->priv;
	char out[16];

	return so_put(out, mboxrd_finish(&o->q, out), errstr) == -1 ?
	    DELIVER_TARGET_FAILED : DELIVER_OK;
}

static void
so_abort(struct deliver *d)
{
}

static enum deliver_rc
so_sync(struct deliver *d, char **errstr)
{
	/* A pipe or terminal cannot be fsynced; a file can and should. */
	if (fsync(STDOUT_FILENO) == -1 && errno != EINVAL && errno != EROFS) {
		*errstr = xasprintf("standard output: fsync: %s",
		    strerror(errno));
		return DELIVER_TARGET_FAILED;
	}
	return 0;
}

static void
so_batch_abort(struct deliver *d)
{
}

static enum deliver_rc
so_finish(struct deliver *d, char **errstr)
{
	enum deliver_rc rc;

	if ((rc = so_sync(d, errstr)) != DELIVER_OK)
		return rc;
	rc = DELIVER_OK;
	if (close(STDOUT_FILENO) == -1) {
		*errstr = xasprintf("standard output: close: %s",
		    strerror(errno));
		rc = DELIVER_TARGET_FAILED;
	}
	/* Nothing else may take descriptor 1. */
	if (open("/dev/null", O_WRONLY) == -1)
		fatal("/dev/null");
	return rc;
}

static void
so_close(struct deliver *d)
{
	free(d->priv);
	d->priv = NULL;
}

const struct deliver_ops deliver_stdout_ops = {
	.name = "stdout",
	.stream = 0,
	.confirm_at_end = 1,
	.open = so_open,
	.batch_begin = so_nop,
	.begin = so_begin,
	.write = so_write,
	.end = so_end,
	.abort = so_abort,
	.sync = so_sync,
	.publish = so_nop,
	.batch_abort = so_batch_abort,
	.finish = so_finish,
	.close = so_close,
};
