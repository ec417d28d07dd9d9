/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
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

int
net_tunnel(const char *cmd, int *pid, char **errstr)
{
	int sv[2];
	pid_t child;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1) {
		*errstr = xasprintf("--tunnel: socketpair: %s", strerror(errno));
		return -1;
	}
	if ((child = fork()) == -1) {
		*errstr = xasprintf("--tunnel: fork: %s", strerror(errno));
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	if (child == 0) {
		/* dup2 clears close-on-exec on 0 and 1 only: nothing else of
		 * ours, the password least of all, reaches the command. */
		if (dup2(sv[1], 0) == -1 || dup2(sv[1], 1) == -1)
			_exit(127);
		signal(SIGPIPE, SIG_DFL);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	close(sv[1]);
	*pid = (int)child;
	return sv[0];
}

void
net_tunnel_reap(int pid, int wait_ms)
{
	int status, waited = 0;

	if (pid <= 0)
		return;
	while (waitpid(pid, &status, WNOHANG) == 0) {
		if (waited >= wait_ms) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return;
		}
		usleep(5000);
		waited += 5;
	}
}
