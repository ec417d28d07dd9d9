/* SPDX-License-Identifier: ISC */
/*
 * TCP connect with a timeout, over every address getaddrinfo returns
 * (IPv6 and IPv4), in order.
 */
#ifndef POPFETCH_NET_H
#define POPFETCH_NET_H

enum net_err {
	NET_OK = 0,
	NET_LOOKUP,	/* host name could not be resolved */
	NET_CONNECT,	/* every address refused, was unreachable or timed out */
};

/*
 * Returns a connected, blocking socket, or -1 with *err set and *errstr an
 * allocated explanation naming the host and port (caller frees).
 */
int net_connect(const char *host, const char *port, int timeout_ms,
    enum net_err *err, char **errstr);

/*
 * The pipe transport (--tunnel): runs "/bin/sh -c cmd" with its standard
 * input and output on one end of a socket pair and returns the other end,
 * so the POP3 session runs over the command (ssh HOST dovecot --exec pop3,
 * or the test server in --stdio mode). *pid gets the child, to be reaped
 * with net_tunnel_reap. -1 with an allocated *errstr on failure.
 */
int net_tunnel(const char *cmd, int *pid, char **errstr);
/* Waits up to wait_ms for the tunnel command to exit once its socket is
 * closed, then kills it; never leaves a zombie. */
void net_tunnel_reap(int pid, int wait_ms);

#endif
