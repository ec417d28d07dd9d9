/*
 * One account's settings: defaults, then the command line. (A run control
 * file comes later; it will fill the same struct.) conf_finish validates
 * the combination and derives what the run needs.
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

/* "auto": the strongest the server offers; else one method, by name. */
#define AUTH_AUTO	NULL

struct account {
	char			*server;
	char			*port;
	char			*user;
	int			 no_tls;	/* plaintext explicitly allowed */
	enum tls_mode		 tls;
	char			*tls_trust_file;
	char			*tls_fingerprint;
	char			*tls_cert;
	char			*tls_key;
	char			*auth;		/* method name, or AUTH_AUTO */
	char			*password_cmd;
	int			 server_info;	/* --server-info */
	enum deliver_kind	 dkind;
	char			*dtarget;
	int			 delete;	/* DELE after durable delivery */
	int			 all;		/* fetch seen messages again */
	char			*state_base;	/* the state directory */
	char			*state_dir;	/* this account's, derived */
	char			*name;		/* "user@server" for messages */
	int			 timeout_ms;	/* idle timeout */
	int64_t			 session_timeout_ms; /* whole run, 0 = none */
	char			*tunnel;	/* --tunnel: a command, not TCP */
	char			*password_file;
	int			 password_fd;	/* -1: none */
	int			 wait_lock;	/* seconds */
	uint64_t		 max_size;	/* octets; 0 = unlimited */
	unsigned		 batch;		/* messages per durable batch */
	int			 offline;	/* no connection: --list-seen */
	int			 check;		/* count new mail, fetch nothing */
};

void conf_defaults(struct account *);
/* Checks and derives; returns 0, or -1 with an allocated *errstr. */
int conf_finish(struct account *, char **errstr);
void conf_free(struct account *);
/* The account's directory name inside the state directory: user@host:port
 * with every byte outside [A-Za-z0-9._@:+-] written as %XX. Allocated. */
char *conf_account_dirname(const char *user, const char *host,
    const char *port);

#endif
