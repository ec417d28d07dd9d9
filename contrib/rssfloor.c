/* SPDX-License-Identifier: ISC */
/*
 * rssfloor -- the memory floor of a POP3 fetcher built on popfetch's
 * stack, for contrib/bench.sh.
 *
 * usage: rssfloor PORT STATEDIR [CAFILE] < COMMANDS
 *
 * It does the least any client of glibc, Berkeley DB 5.3 and OpenSSL 3
 * must: it opens a transactional Berkeley DB environment in STATEDIR as
 * popfetch does (private regions, a 256 KiB cache) and commits one record
 * to a B-tree, then plays the benchmark's limit session: it connects to
 * 127.0.0.1:PORT (with CAFILE: implicit TLS, the server's certificate
 * verified against CAFILE and the address 127.0.0.1), writes COMMANDS and
 * reads the replies into one 16 KiB buffer until the server closes.
 * Nothing is parsed, kept or delivered.  Its peak RSS, which GNU time
 * reports, is what the libraries and the kernel's mapping of their pages
 * cost before a fetcher adds anything of its own; no client on this stack
 * can go below it.  Exit status 0 when everything succeeded, 1 if not.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <db.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BUFSZ	(16 * 1024)

static SSL *ssl;
static int fd = -1;

static int
fail(const char *what)
{
	fprintf(stderr, "rssfloor: %s: %s\n", what,
	    errno ? strerror(errno) : "failed");
	ERR_print_errors_fp(stderr);
	return 1;
}

static int
store(const char *dir)
{
	DB_ENV *env;
	DB *db;
	DB_TXN *txn;
	DBT key, val;

	if (db_env_create(&env, 0) != 0)
		return -1;
	env->set_cachesize(env, 0, 256 * 1024, 1);
	if (env->open(env, dir, DB_CREATE | DB_INIT_TXN | DB_INIT_LOG |
	    DB_INIT_LOCK | DB_INIT_MPOOL | DB_PRIVATE | DB_RECOVER, 0600) != 0 ||
	    db_create(&db, env, 0) != 0 ||
	    db->open(db, NULL, "uids.db", NULL, DB_BTREE,
	    DB_CREATE | DB_AUTO_COMMIT, 0600) != 0 ||
	    env->txn_begin(env, NULL, &txn, 0) != 0)
		return -1;
	memset(&key, 0, sizeof key);
	memset(&val, 0, sizeof val);
	key.data = "uid";
	key.size = 3;
	val.data = "seen";
	val.size = 4;
	if (db->put(db, txn, &key, &val, 0) != 0 || txn->commit(txn, 0) != 0 ||
	    db->close(db, 0) != 0 || env->close(env, 0) != 0)
		return -1;
	return 0;
}

static ssize_t
out(const char *p, size_t n)
{
	size_t done;

	if (ssl == NULL)
		return write(fd, p, n);
	return SSL_write_ex(ssl, p, n, &done) == 1 ? (ssize_t)done : -1;
}

/* Reads what is there (block: wait for it); 0 at the server's close. */
static ssize_t
in(char *p, size_t n, int block)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	size_t got;
	int err;

	if (!block && (ssl == NULL || SSL_pending(ssl) == 0) &&
	    poll(&pfd, 1, 0) != 1)
		return -2;
	if (ssl == NULL)
		return read(fd, p, n);
	if (SSL_read_ex(ssl, p, n, &got) == 1)
		return (ssize_t)got;
	err = SSL_get_error(ssl, 0);
	/* dovecot closes after QUIT without a close_notify. */
	return err == SSL_ERROR_ZERO_RETURN || err == SSL_ERROR_SYSCALL ||
	    (err == SSL_ERROR_SSL && ERR_GET_REASON(ERR_peek_error()) ==
	    SSL_R_UNEXPECTED_EOF_WHILE_READING) ? 0 : -1;
}

int
main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	static char buf[BUFSZ];
	SSL_CTX *ctx;
	ssize_t n, r;

	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: rssfloor PORT STATEDIR [CAFILE] < COMMANDS\n");
		return 2;
	}
	if (store(argv[2]) == -1)
		return fail("Berkeley DB");
	sa.sin_port = htons((unsigned short)atoi(argv[1]));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof sa) == -1)
		return fail("connect");
	if (argc == 4) {
		if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL ||
		    SSL_CTX_load_verify_locations(ctx, argv[3], NULL) != 1)
			return fail(argv[3]);
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
		if ((ssl = SSL_new(ctx)) == NULL || SSL_set_fd(ssl, fd) != 1 ||
		    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl),
		    "127.0.0.1") != 1 || SSL_connect(ssl) != 1)
			return fail("TLS handshake");
	}
	/* The commands a chunk at a time, the replies read in between so
	 * that neither side's socket buffer fills. */
	while ((n = read(0, buf, sizeof buf)) > 0) {
		if (out(buf, (size_t)n) != n)
			return fail("write");
		while ((r = in(buf, sizeof buf, 0)) > 0)
			;
		if (r == 0)
			return 0;
		if (r == -1)
			return fail("read");
	}
	if (n == -1)
		return fail("standard input");
	while ((r = in(buf, sizeof buf, 1)) > 0)
		;
	return r == 0 ? 0 : fail("read");
}
