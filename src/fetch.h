/*
 * One account's run: lock, recover, connect, log in, list, fetch in
 * durable batches, record, delete, quit. The only module that talks to the
 * UID store, the POP3 client and the delivery method together.
 *
 * The data path of one message: pop3 yields decoded chunks -> the delivery
 * method writes them (or a spool does, for methods that must not see a
 * partial message) -> the batch is made durable -> the UIDs are committed
 * -> only then DELE.
 */
#ifndef POPFETCH_FETCH_H
#define POPFETCH_FETCH_H

#include <stdint.h>

#include "conf.h"

struct fetch_result {
	unsigned long	fetched;	/* delivered in this run */
	unsigned long	deleted;	/* DELE accepted and QUIT committed */
	unsigned long	failed;		/* left on the server after an error */
	unsigned long	messages;	/* in the mailbox */
	unsigned long	fresh;		/* new, to fetch (--check counts them) */
	uint64_t	bytes;
};

/* Runs one account; returns a sysexits.h status (see popfetch(1)). The
 * password is obtained here, after the lock, only when needed. */
int fetch_account(struct account *, struct fetch_result *);

/* --server-info: greeting, CAPA before and after STLS, the certificate;
 * never logs in. */
int fetch_server_info(struct account *);

/* Prints the account's UID store: one line per UID. */
int fetch_list_seen(struct account *);

#endif
