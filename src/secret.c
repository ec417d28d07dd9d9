/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <termios.h>
#include <unistd.h>

#include "log.h"
#include "secret.h"
#include "util.h"
#include "xmalloc.h"

#define SECRET_MAX	4096

/* netrc tokens are blank-separated; a token may be double-quoted. */
static const char *
next_token(const char *p, const char *end, char *tok, size_t toksz)
{
	size_t n = 0;

	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' ||
	    *p == '\r'))
		p++;
	if (p >= end)
		return NULL;
	if (*p == '"') {
		for (p++; p < end && *p != '"'; p++) {
			if (*p == '\\' && p + 1 < end)
				p++;
			if (n + 1 < toksz)
				tok[n++] = *p;
		}
		if (p < end)
			p++;
	} else {
		for (; p < end && *p != ' ' && *p != '\t' && *p != '\n' &&
		    *p != '\r'; p++)
			if (n + 1 < toksz)
				tok[n++] = *p;
	}
	tok[n] = '\0';
	return p;
}

int
netrc_lookup(const char *text, size_t len, const char *host,
    const char *user, char **login, char **password)
{
	const char *p = text, *end = text + len;
	char tok[SECRET_MAX], *l = NULL, *pw = NULL;
	int inmatch = 0, found = 0, isdefault;

	*login = *password = NULL;
	while ((p = next_token(p, end, tok, sizeof tok)) != NULL) {
		isdefault = strcmp(tok, "default") == 0;
		if (strcmp(tok, "machine") == 0 || isdefault) {
			/* The previous entry is complete: take it if good. */
			if (inmatch && (user == NULL || (l != NULL &&
			    strcmp(l, user) == 0))) {
				found = 1;
				break;
			}
			free(l);
			free_secret(pw);
			l = pw = NULL;
			inmatch = isdefault;
			if (!isdefault) {
				if ((p = next_token(p, end, tok, sizeof tok))
				    == NULL)
					break;
				inmatch = strcasecmp(tok, host) == 0;
			}
		} else if (strcmp(tok, "login") == 0 ||
		    strcmp(tok, "password") == 0 ||
		    strcmp(tok, "account") == 0) {
			char key = tok[0];

			if ((p = next_token(p, end, tok, sizeof tok)) == NULL)
				break;
			if (key == 'l') {
				free(l);
				l = xstrdup(tok);
			} else if (key == 'p') {
				free_secret(pw);
				pw = xstrdup(tok);
			}
		} else if (strcmp(tok, "macdef") == 0) {
			/* A macro runs to the next blank line. */
			const char *q = p;

			while (q < end && !(q[0] == '\n' && q + 1 < end &&
			    q[1] == '\n'))
				q++;
			p = q;
		}
	}
	if (!found && inmatch && (user == NULL || (l != NULL &&
	    strcmp(l, user) == 0)))
		found = 1;
	wipe(tok, sizeof tok);
	if (!found) {
		free(l);
		free_secret(pw);
		return 0;
	}
	*login = l;
	*password = pw;
	return 1;
}

static char *
first_line(char *buf, size_t n)
{
	char *nl = memchr(buf, '\n', n);

	if (nl != NULL)
		n = (size_t)(nl - buf);
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	return xstrndup(buf, n);
}

/* The first line read from fd, which is closed; what names the source in
 * errors ("file descriptor 3", "password file PATH"). */
static char *
read_secret(int fd, const char *what, char **errstr)
{
	char buf[SECRET_MAX], *s;
	size_t n = 0;
	ssize_t r;

	while (n < sizeof buf) {
		r = read(fd, buf + n, sizeof buf - n);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			*errstr = xasprintf("%s: cannot read the password: %s",
			    what, strerror(errno));
			wipe(buf, sizeof buf);
			close(fd);
			return NULL;
		}
		if (r == 0 || memchr(buf + n, '\n', (size_t)r) != NULL) {
			n += (size_t)r;
			break;
		}
		n += (size_t)r;
	}
	/* Read once; closed so that no child can read the rest. */
	close(fd);
	s = first_line(buf, n);
	wipe(buf, sizeof buf);
	if (*s == '\0') {
		free(s);
		*errstr = xasprintf("%s: no password on its first line", what);
		return NULL;
	}
	return s;
}

char *
secret_from_fd(int fd, char **errstr)
{
	char what[64];

	snprintf(what, sizeof what, "file descriptor %d", fd);
	return read_secret(fd, what, errstr);
}

char *
secret_from_file(const char *path, char **errstr)
{
	struct stat st;
	char *what, *s;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1) {
		*errstr = xasprintf("password file %s: %s", path,
		    strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) == 0 && (st.st_mode & 077) != 0)
		log_warnx("password file %s is readable by others; "
		    "chmod 600 it", path);
	/* It closes fd. */
	what = xasprintf("password file %s", path);
	s = read_secret(fd, what, errstr);
	free(what);
	return s;
}

char *
secret_from_netrc(const char *host, const char *user, char **login,
    char **errstr)
{
	const char *env = getenv("NETRC"), *home = getenv("HOME");
	char *path, *text, *pw = NULL;
	struct stat st;
	ssize_t r;
	size_t n = 0;
	int fd;

	*login = NULL;
	if (env != NULL && *env != '\0')
		path = xstrdup(env);
	else if (home != NULL && *home != '\0')
		path = xasprintf("%s/.netrc", home);
	else
		return NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1) {
		free(path);
		return NULL;
	}
	if (fstat(fd, &st) == -1 || st.st_size > 1024 * 1024) {
		*errstr = xasprintf("%s: unreadable or too large", path);
		close(fd);
		free(path);
		return NULL;
	}
	if ((st.st_mode & 077) != 0)
		log_warnx("%s is readable by others; chmod 600 it", path);
	text = xmalloc((size_t)st.st_size + 1);
	while (n < (size_t)st.st_size) {
		r = read(fd, text + n, (size_t)st.st_size - n);
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	netrc_lookup(text, n, host, user, login, &pw);
	wipe(text, n);
	free(text);
	free(path);
	return pw;
}

char *
secret_from_cmd(const char *cmd, int timeout_ms, char **errstr)
{
	char buf[SECRET_MAX], *s = NULL;
	struct pollfd pfd;
	size_t n = 0;
	ssize_t r;
	pid_t pid;
	int p[2], status, waited = 0;

	if (pipe2(p, O_CLOEXEC) == -1) {
		*errstr = xasprintf("--password-cmd: pipe: %s", strerror(errno));
		return NULL;
	}
	if ((pid = fork()) == -1) {
		*errstr = xasprintf("--password-cmd: fork: %s", strerror(errno));
		close(p[0]);
		close(p[1]);
		return NULL;
	}
	if (pid == 0) {
		if (dup2(p[1], 1) == -1)
			_exit(127);
		signal(SIGPIPE, SIG_DFL);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	pfd.fd = p[0];
	pfd.events = POLLIN;
	while (n < sizeof buf && memchr(buf, '\n', n) == NULL) {
		if (poll(&pfd, 1, timeout_ms) <= 0)
			break;
		r = read(p[0], buf + n, sizeof buf - n);
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	close(p[0]);
	/* The helper may keep running after printing; give it the idle
	 * timeout to exit, then stop it. */
	while (waitpid(pid, &status, WNOHANG) == 0) {
		if (waited >= timeout_ms) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			break;
		}
		usleep(10000);
		waited += 10;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && n > 0)
		s = first_line(buf, n);
	wipe(buf, sizeof buf);
	if (s == NULL || *s == '\0') {
		free(s);
		*errstr = xasprintf("--password-cmd \"%s\" %s", cmd,
		    WIFEXITED(status) && WEXITSTATUS(status) != 0 ?
		    "failed" : "printed no password");
		return NULL;
	}
	return s;
}

char *
secret_prompt(const char *prompt, char **errstr)
{
	struct termios old, noecho;
	char buf[SECRET_MAX], *s = NULL;
	ssize_t n;
	int fd;

	fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
	if (fd == -1)
		return NULL;
	if (tcgetattr(fd, &old) == -1) {
		close(fd);
		return NULL;
	}
	noecho = old;
	noecho.c_lflag &= ~(tcflag_t)ECHO;
	write_all(fd, prompt, strlen(prompt));
	tcsetattr(fd, TCSAFLUSH, &noecho);
	n = read(fd, buf, sizeof buf);
	tcsetattr(fd, TCSAFLUSH, &old);
	write_all(fd, "\n", 1);
	close(fd);
	if (n > 0)
		s = first_line(buf, (size_t)n);
	wipe(buf, sizeof buf);
	if (s == NULL || *s == '\0') {
		free(s);
		*errstr = xasprintf("no password entered");
		return NULL;
	}
	return s;
}
