#include "config.h"

#include <sys/socket.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "net.h"
#include "xmalloc.h"

static int
connect_one(const struct addrinfo *ai, int timeout_ms, int *err_no)
{
	struct pollfd pfd;
	socklen_t sl = sizeof *err_no;
	int fd, n, fl;

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
	    ai->ai_protocol);
	if (fd == -1) {
		*err_no = errno;
		return -1;
	}
	fl = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
		goto done;
	if (errno != EINPROGRESS) {
		*err_no = errno;
		close(fd);
		return -1;
	}
	pfd.fd = fd;
	pfd.events = POLLOUT;
	do
		n = poll(&pfd, 1, timeout_ms);
	while (n == -1 && errno == EINTR);
	if (n <= 0) {
		*err_no = n == 0 ? ETIMEDOUT : errno;
		close(fd);
		return -1;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, err_no, &sl) == -1)
		*err_no = errno;
	if (*err_no != 0) {
		close(fd);
		return -1;
	}
done:
	fcntl(fd, F_SETFL, fl);
	return fd;
}

int
net_connect(const char *host, const char *port, int timeout_ms,
    enum net_err *err, char **errstr)
{
	struct addrinfo hints, *res, *ai;
	int fd = -1, rc, err_no = 0;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_ADDRCONFIG;
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0) {
		*err = NET_LOOKUP;
		*errstr = xasprintf("cannot resolve host %s: %s", host,
		    rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL && fd == -1; ai = ai->ai_next)
		fd = connect_one(ai, timeout_ms, &err_no);
	freeaddrinfo(res);
	if (fd == -1) {
		*err = NET_CONNECT;
		*errstr = xasprintf("cannot connect to %s port %s: %s", host,
		    port, strerror(err_no));
		return -1;
	}
	*err = NET_OK;
	return fd;
}
