/* SPDX-License-Identifier: ISC */
/*
 * The spool: one private, unnamed file in the account's state directory
 * that holds a message while it downloads, for delivery methods that must
 * only ever see complete messages (an MDA, standard output) and for copies
 * of a duplicate UID that are compared before they are delivered.
 */
#ifndef POPFETCH_SPOOL_H
#define POPFETCH_SPOOL_H

#include <stddef.h>

struct spool;

/* Lazily opens in dir; NULL never (allocation is fatal). */
struct spool *spool_new(const char *dir);
void spool_free(struct spool *);
/* Empties it for the next message (creating the file the first time).
 * 0, or -1 with an allocated *errstr. */
int spool_reset(struct spool *, char **errstr);
int spool_write(struct spool *, const char *, size_t, char **errstr);
/* Calls fn over the spooled bytes in large pieces; fn's -1 stops it.
 * 0, -1 with *errstr for a read error, or fn's -1 (*errstr untouched). */
int spool_replay(struct spool *, int (*fn)(void *, const char *, size_t),
    void *ctx, char **errstr);
/* The envelope sender from a Return-Path header, allocated, or NULL. */
char *spool_sender(struct spool *);

#endif
