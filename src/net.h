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

#endif
