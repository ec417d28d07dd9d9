/* SPDX-License-Identifier: ISC */
/* testpop3d's parts: its types, options and functions (testpop3d.c). */
#ifndef TESTPOP3D_H
#define TESTPOP3D_H
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* getopt_long */
#endif

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdnoreturn.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

/* Holds one command line including its CRLF: well above the 1024 bytes a
 * client may send, small enough to bound a hostile one. */
#define LINE_BUF 4096
#define MAX_FAULTS 32
/* Long listings go out in pieces of about this size: few enough writes to
 * send a million UIDL lines quickly, little enough memory to hold one. */
#define FLUSH_AT 65536
#define MAX_SYNTHETIC 10000000L

/* Synthetic message i, generated directly in its CRLF wire form. Both
 * lines carry i, so its size follows from the number of digits of i. */
#define SYN_TEXT "Subject: synthetic %zu\r\n\r\nbody of synthetic message %zu\r\n"
#define SYN_UID "syn-%zu"
/* Room for either with the largest i allowed. */
#define SYN_BUF 96

/* GREETING is not a client command; it is there so that faults can
 * target the greeting like any other response. */
enum cmd {
	C_GREETING, C_CAPA, C_USER, C_PASS, C_STAT, C_LIST, C_UIDL, C_RETR,
	C_TOP, C_DELE, C_NOOP, C_RSET, C_QUIT, C_STLS, C_AUTH, C_APOP, C_NCMDS
};
extern const char *const cmd_names[C_NCMDS];
extern const int min_args[C_NCMDS];
extern const int max_args[C_NCMDS];

/* SASL mechanisms this server implements, as advertised. */
enum mech {
	M_PLAIN, M_LOGIN, M_CRAM_MD5, M_SCRAM_SHA_1, M_SCRAM_SHA_256,
	M_XOAUTH2, M_OAUTHBEARER, M_NMECHS
};
extern const char *const mech_names[M_NMECHS];
/* RFC 4422: at most 20 characters; room for that many in the lists. */
#define MECH_MAX 20
#define MAX_LISTED 16
#define SCRAM_ITER 4096
/* The OAuth error (RFC 7628 section 3.2.2) sent for a wrong token. */
#define OAUTH_ERROR "{\"status\":\"401\",\"schemes\":\"bearer\",\"scope\":\"mail\"}"

enum fault_kind { F_DROP, F_HANG, F_NOTERM, F_AUTOLOGOUT, F_STRAY };
struct fault {
	enum fault_kind kind;
	enum cmd cmd;
	long n;
	size_t bytes;
};

/* Booleans are int so that getopt_long can set them by flag pointer. */
struct options {
	const char *maildrop, *port_file, *pid_file, *log_file, *count_file;
	const char *user, *pass, *greeting;
	long max_sessions, session_filter, trickle_ms, port;
	long synthetic, stat_count, list_skip;
	int auth_fail_temp, in_use, lowercase, bare_plus, tabs, extra_text;
	int fake_sizes, no_uidl, no_capa, no_top, bare_lf, no_greeting;
	int uidl_extra, exit_with_parent, small_sizes, stdio;
	/* What real servers taught us (issue 9). */
	int status_rewrite, top_then_headers, close_after_fail, apop_no_secret;
	int big_sizes;
	struct fault faults[MAX_FAULTS];
	size_t nfaults;
	/* TLS */
	const char *tls_cert, *tls_key, *client_ca;
	int implicit_tls, stls, stls_fail, stls_fake, stls_inject;
	/* Authentication. sasl and sasl_lie are the option texts; listed is
	 * what CAPA advertises (both, in order, once each). */
	const char *sasl, *sasl_lie, *token, *scram_salt, *scram_nonce;
	int scram_bad_signature, no_user, apop;
	char listed[MAX_LISTED][MECH_MAX + 1];
	int listed_mech[MAX_LISTED]; /* enum mech; -1 for a lie we cannot do */
	bool lie[MAX_LISTED];
	size_t nlisted;
};
extern struct options opt;

extern FILE *logfp;
extern pid_t watched_parent;
extern SSL_CTX *tls_ctx;

struct buf {
	char *p;
	size_t len, cap;
};

struct msg {
	char *name;
	struct buf data; /* CRLF line endings, not dot-stuffed */
	char *uid;
	size_t uidlen;
	bool deleted;
	bool topped;	/* TOP was sent for it in this session */
};

/* Messages are numbered files first, then synthetic ones. A synthetic
 * message is nothing but its number and a deleted bit; its text and UID
 * are made up whenever needed, so that a maildrop of millions costs a
 * bitmap rather than millions of allocations. */
struct session {
	int rfd, wfd;      /* the same socket, or stdin and stdout */
	bool wsock;        /* wfd is a socket: send() without SIGPIPE */
	long number;
	bool authed, have_user, quit;
	bool closed;       /* the connection failed: send nothing more */
	bool stls_done;    /* STLS was answered +OK (CAPA drops it) */
	bool want_tls;     /* the handshake is due once the reply is sent */
	SSL *ssl;          /* set while TLS is up */
	bool tls_broken;   /* TLS failed: no close_notify at the end */
	char stamp[80];    /* <...@testpop3d>: APOP and CRAM-MD5 */
	struct buf user;
	struct msg *msgs;
	size_t nmsgs;
	unsigned char *syn_deleted;
	size_t nsyn;
	long count[C_NCMDS], mlcount[C_NCMDS];
	unsigned sepidx;
	char in[LINE_BUF];
	size_t in_start, in_end;
};

/* A reply on its way out. Most are built whole and sent in one write;
 * a long listing is sent in pieces while it is built, and faults are then
 * applied across the pieces as if it had been built whole. */
struct reply {
	struct buf b;     /* built, not yet sent */
	int cmd;          /* -1 for a reply to an unknown command */
	size_t sent;      /* bytes of the reply sent in earlier pieces */
	const struct fault *fault;
	bool started;     /* fault looked up, mlcount counted */
	bool stop;        /* building is pointless: failed or cut short */
	bool failed;
};

struct arg {
	const char *p;
	size_t n;
};

/* Functions shared by the parts of testpop3d. */
noreturn void die(const char *what);
noreturn void die_ssl(const char *what, const char *arg);
noreturn void usage_error(const char *msg, const char *arg);
void buf_add(struct buf *b, const void *data, size_t n);
void buf_str(struct buf *b, const char *s);
void buf_fmt(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
char *path_join(const char *dir, const char *name);
void check_parent(void);
void sleep_ms(long ms);
int wait_fd(int fd, short events, int timeout_ms);
int wait_readable(int fd, int timeout_ms);
void log_bytes(const char *p, size_t n);
int ssl_wait(struct session *s, int ret);
ssize_t io_read(struct session *s, char *p, size_t n);
ssize_t io_write(struct session *s, const char *p, size_t n);
int send_all(struct session *s, const char *p, size_t n);
void drain(int fd, int budget_ms);
int tls_start(struct session *s);
const char *eol(void);
void ok_line(struct buf *b, const struct buf *fields, const char *text,
    		    bool always_text);
void err_line(struct buf *b, const char *text);
size_t msg_count(const struct session *s);
bool msg_deleted(const struct session *s, size_t idx);
void set_deleted(struct session *s, size_t idx);
size_t digits(size_t n);
size_t syn_octets(size_t i);
size_t msg_octets(const struct session *s, size_t idx);
unsigned long long msg_size(const struct session *s, size_t idx);
const char *msg_uid(const struct session *s, size_t idx,
    			   char tmp[SYN_BUF], size_t *len);
const char *msg_text(const struct session *s, size_t idx,
    			    char tmp[SYN_BUF], size_t *len);
bool uid_is_word(const char *uid, size_t len);
const char *field_sep(struct session *s);
bool item_fields(struct session *s, struct buf *f, int cmd, size_t num);
void add_body_line(struct buf *b, const char *p, size_t n);
void add_terminator(struct buf *b);
void add_message(struct buf *b, const struct session *s, size_t idx,
    			long body_lines);
int read_file(const char *path, struct buf *out);
void to_wire(const struct buf *raw, struct buf *out);
int cmp_msg(const void *a, const void *b);
void free_msgs(struct session *s);
void set_uid(struct msg *m, const char *uid, size_t len);
void apply_uidl_file(struct session *s, const struct buf *u);
int load_maildrop(struct session *s);
int read_line(struct session *s, const char **line, size_t *len);
const struct fault *find_fault(const struct session *s, int cmd,
    				      bool multiline);
void reply_start(struct session *s, struct reply *r, bool multiline);
size_t reply_allowance(const struct reply *r, bool final);
bool reply_flush(struct session *s, struct reply *r);
int send_response(struct session *s, struct reply *r, bool multiline);
int split_args(const char *p, size_t n, bool present, struct arg *out);
bool parse_number(struct arg a, long *out);
bool find_msg(struct session *s, struct arg a, struct buf *b,
    		     size_t *num);
void totals(const struct session *s, size_t *count,
    		   unsigned long long *size);
int lookup_cmd(const char *p, size_t n, int first);
bool same(const char *p, size_t n, const char *want);
bool check_login(const struct session *s, const char *pw, size_t pwlen);
void finish_login(struct session *s, bool ok, const char *denied,
    			 struct buf *b);
void do_pass(struct session *s, const char *pw, size_t pwlen,
    		    struct buf *b);
void make_stamp(char *out, size_t n);
void hex_add(struct buf *b, const unsigned char *p, size_t n);
void digest(const EVP_MD *md, const void *p, size_t n,
    		   unsigned char *out, unsigned *outlen);
void hmac(const EVP_MD *md, const void *key, size_t keylen,
    		 const void *p, size_t n, unsigned char *out);
void b64_add(struct buf *b, const void *p, size_t n);
int b64_value(char c);
bool b64_decode(const char *p, size_t n, struct buf *out);
void buf_nul(struct buf *b);
enum sasl_rc sasl_read(struct session *s, struct buf *out);
enum sasl_rc sasl_step(struct session *s, const void *chal, size_t n,
    			      struct buf *out);
enum sasl_rc sasl_first(struct session *s, const struct arg *ir,
    			       struct buf *out);
enum sasl_rc mech_plain(struct session *s, const struct arg *ir);
enum sasl_rc mech_login(struct session *s, const struct arg *ir);
enum sasl_rc mech_cram_md5(struct session *s, const struct arg *ir);
bool scram_attr(const char **p, const char *end, char name, struct arg *val);
bool scram_unescape(struct arg a, struct buf *out);
bool same_buf(const char *p, size_t n, const struct buf *b);
void scram_salt(struct buf *salt);
void scram_nonce(struct buf *nonce);
enum sasl_rc mech_scram(struct session *s, const struct arg *ir,
    			       const EVP_MD *md);
bool kv_find(const char *p, size_t n, const char *key, struct arg *val);
bool bearer_ok(struct arg auth);
enum sasl_rc oauth_deny(struct session *s);
enum sasl_rc mech_xoauth2(struct session *s, const struct arg *ir);
enum sasl_rc mech_oauthbearer(struct session *s, const struct arg *ir);
void do_auth(struct session *s, int na, const struct arg *a, struct buf *b);
void do_apop(struct session *s, const struct arg *a, struct buf *b);
void add_status(const char *name);
void do_quit(struct session *s, struct buf *b);
void add_item(struct buf *b, const struct buf *f, bool text_ok);
void do_listing(struct session *s, int cmd, int na, struct arg a,
    		       struct reply *r);
bool stls_any(void);
bool login_cmd(int cmd);
void do_capa(struct session *s, struct buf *b);
void do_stls(struct session *s, struct buf *b);
bool dispatch(struct session *s, int cmd, const char *rest,
    		     size_t restlen, bool present, struct reply *r);
int begin_tls(struct session *s);
int handle_command(struct session *s, const char *line, size_t len);
void run_session(int rfd, int wfd, long number);
void write_file_atomic(const char *path, long value);
long next_session_number(const char *path);
long parse_long(const char *s, long min, long max, const char *what);
void add_fault(enum fault_kind kind, const char *arg);
void check_tls_options(void);
void add_mechs(const char *list, bool lie);
void check_scram_options(void);
void tls_setup(void);
void parse_options(int argc, char **argv);

#endif
