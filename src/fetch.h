/* SPDX-License-Identifier: ISC */
/*
 * One account's run: lock, recover, connect and log in, list and plan,
 * fetch in durable batches, record, delete, quit, forget what left the
 * server. The only module that glues the UID store, the POP3 session and
 * the delivery method together (with listing.c and batch.c, behind
 * run.h).
 *
 * The data path of one message: pop3 yields decoded chunks -> the delivery
 * method writes them (or the spool does, for methods that must not see a
 * partial message) -> the batch is made durable -> the UIDs are committed
 * -> only then DELE.
 */
#ifndef POPFETCH_FETCH_H
#define POPFETCH_FETCH_H

#include "conf.h"
#include "result.h"

/* Runs one account (--check too); what happened goes into res, which the
 * caller has initialised. The password is obtained after the lock, only
 * when needed. */
void fetch_account(const struct runopts *, const struct account *,
    struct result *);

/* --server-info; never logs in. */
void fetch_server_info(const struct runopts *, const struct account *,
    struct result *);

/* --list-seen: prints the account's UID store, one line per UID. */
void fetch_list_seen(const struct runopts *, const struct account *,
    struct result *);

/* --import-uids FORMAT:FILE: records the UIDs another fetcher recorded
 * for this account as fetched; no connection. */
void fetch_import(const struct runopts *, const struct account *,
    struct result *);

#endif
