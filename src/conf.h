/* SPDX-License-Identifier: ISC */
/*
 * Settings. struct runopts holds what belongs to the whole run (how much to
 * say, what to do, how to wait for locks); struct account what belongs to
 * one account (server, login, TLS, delivery, policies). An account is
 * built in layers: conf_defaults, then a config file's settings, then the
 * command line's; account.set records which fields a layer set explicitly.
 * conf_finish validates the result and derives what the run needs.
 */
#ifndef POPFETCH_CONF_H
#define POPFETCH_CONF_H

#include <stdint.h>

enum deliver_kind {
	DELIVER_NONE,
	DELIVER_MAILDIR,
	DELIVER_MBOX,
	DELIVER_MDA,
	DELIVER_STDOUT,
};

enum tls_mode {
	TLS_DEFAULT,	/* implicit on port 995, STLS otherwise */
	TLS_IMPLICIT,
	TLS_STARTTLS,
	TLS_OFF,	/* --no-tls: plaintext, explicitly */
};

enum run_mode {
	MODE_FETCH,
	MODE_CHECK,		/* count new mail, fetch nothing */
	MODE_LIST_SEEN,		/* print the UID store, no connection */
	MODE_SERVER_INFO,	/* greeting, CAPA, certificate; no login */
	MODE_MARK_SEEN,		/* record what is on the server, fetch nothing */
	MODE_IMPORT,		/* record another fetcher's UIDs; no connection */
};

struct runopts {
	int		 verbosity;	/* -1 quiet, 0, 1 -v, 2 -vv */
	enum run_mode	 mode;
	int		 wait_lock;	/* seconds to wait for an account */
	char		*config;	/* -C FILE, or NULL: the default */
	int		 jobs;		/* accounts run at once */
	int		 summary_json;	/* --summary json */
	char		*summary_file;	/* --summary-file, or NULL: stdout */
	int		 use_syslog;
	char		*import_uids;	/* FORMAT:FILE */
};

/* Bits of account.set: the fields a layer gave explicitly. */
enum account_field {
	AF_SERVER, AF_PORT, AF_USER, AF_TLS, AF_TLS_TRUST_FILE,
	AF_TLS_FINGERPRINT, AF_TLS_CERT, AF_TLS_KEY, AF_AUTH,
	AF_PASSWORD_CMD, AF_PASSWORD_FILE, AF_PASSWORD_FD, AF_TUNNEL,
	AF_DELIVERY, AF_DELETE, AF_ALL, AF_STATE_DIR, AF_TIMEOUT,
	AF_SESSION_TIMEOUT, AF_MAX_SIZE, AF_BATCH, AF_COPY, AF_PASSWORD,
	AF_DELETE_AFTER, AF_FETCH_LIMIT, AF_RECEIVED,
};
#define AF_BIT(f)	(UINT64_C(1) << (f))

struct account {
	char			*server;
	char			*port;
	char			*user;
	enum tls_mode		 tls;
	char			*tls_trust_file;
	char			*tls_fingerprint;
	char			*tls_cert;
	char			*tls_key;
	char			*auth;		/* a method name, NULL: auto */
	char			*password_cmd;
	char			*password_file;
	int			 password_fd;	/* -1: none */
	char			*tunnel;	/* a command instead of TCP */
	enum deliver_kind	 dkind;
	char			*dtarget;
	int			 delete;	/* DELE after durable delivery */
	int			 all;		/* fetch seen messages again */
	int			 copy;		/* a separate record per target */
	char			*password;	/* from the config file */
	int			 delete_after;	/* days; 0: not */
	unsigned		 fetch_limit;	/* messages per run; 0: all */
	int			 received;	/* add a Received: header */
	char			*state_base;	/* the state directory */
	int			 timeout_ms;	/* idle timeout */
	int64_t			 session_timeout_ms; /* whole run, 0: none */
	uint64_t		 max_size;	/* octets; 0: unlimited */
	unsigned		 batch;		/* messages per durable batch */
	uint64_t		 set;		/* AF_BIT()s given explicitly */
	uint64_t		 layer_set;	/* of those, by this layer */
	/* Derived by conf_finish: */
	char			*state_dir;	/* this account's */
	char			*name;		/* the config account's, or
						   "user@server" */
};

void conf_defaults(struct account *);
/* Checks and derives; returns 0, or -1 with an allocated *errstr. */
int conf_finish(struct account *, const struct runopts *, char **errstr);
/* The delivery target can be used as such (a Maildir path that is no
 * directory, an mbox that is one or whose directory is missing cannot):
 * checked before any connection. 0, or -1 with an allocated *errstr. */
int conf_check_target(const struct account *, const struct runopts *,
    char **errstr);
void conf_free(struct account *);
/* The account's directory name inside the state directory: user@host:port
 * with every byte outside [A-Za-z0-9._@:+-] written as %XX. Allocated. */
char *conf_account_dirname(const char *user, const char *host,
    const char *port);

#endif
