/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rcfile.h"
#include "util.h"
#include "xmalloc.h"

/* How much of an unknown keyword an error message shows. */
#define KEYWORD_SHOW	64

struct rcfile {
	char			*file;
	/* Every defaults item, in file order; an account sees a prefix. */
	struct rc_item		*ditems;
	size_t			 nditems, ditemsz;
	/* Every account's own items, account after account. */
	struct rc_item		*aitems;
	size_t			 naitems, aitemsz;
	struct rc_account	*accounts;
	size_t			 naccounts, accountsz;
	/* Open addressing on the account names: index + 1, 0 is empty. */
	size_t			*hash;
	size_t			 hashsz;
	const char		*secret_kw;	/* the first RC_SECRET item */
	unsigned		 secret_line;
};

enum section {
	SECTION_NONE,
	SECTION_DEFAULTS,
	SECTION_ACCOUNT,
};

struct parse {
	struct rcfile	*rc;
	const char	*home;
	rc_lookup_fn	 lookup;
	void		*arg;
	unsigned	 line;
	enum section	 section;
	char		*err;
};

enum rc_type
rc_table_lookup(const char *keyword, void *table)
{
	const struct rc_keyword *k;

	for (k = table; k->name != NULL; k++)
		if (strcmp(k->name, keyword) == 0)
			return k->type;
	return RC_UNKNOWN;
}

static int
fail(struct parse *ps, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int
fail(struct parse *ps, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	ps->err = xasprintf("%s:%u: %s", ps->rc->file, ps->line, msg);
	return -1;
}

static int
isblank_(char c)
{
	return c == ' ' || c == '\t';
}

static int
iscontrol(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

/* An unknown keyword, shown safely: it may hold any byte. */
static void
show(char *buf, size_t bufsz, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, o = 0;
	unsigned char c;

	for (i = 0; i < len && i < KEYWORD_SHOW && o + 5 < bufsz; i++) {
		c = (unsigned char)s[i];
		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
			buf[o++] = (char)c;
		else {
			buf[o++] = '\\';
			buf[o++] = 'x';
			buf[o++] = hex[c >> 4];
			buf[o++] = hex[c & 0xf];
		}
	}
	if (i < len && o + 4 < bufsz) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
}

/* The value as written: quoted or not. Sets *out, allocated. */
static int
unquote(struct parse *ps, const char *s, size_t n, char **out)
{
	char *buf;
	size_t i, o = 0;

	if (n == 0 || s[0] != '"') {
		*out = xstrndup(s, n);
		return 0;
	}
	buf = xmalloc(n);
	for (i = 1;; i++) {
		if (i >= n) {
			wipe(buf, n);
			free(buf);
			return fail(ps, "unterminated quoted value");
		}
		if (s[i] == '"')
			break;
		if (s[i] == '\\') {
			if (i + 1 < n && (s[i + 1] == '"' || s[i + 1] == '\\'))
				i++;
			else {
				wipe(buf, n);
				free(buf);
				if (i + 1 >= n)
					return fail(ps,
					    "unterminated quoted value");
				return fail(ps, "only \\\" and \\\\ are escapes "
				    "in a quoted value");
			}
		}
		buf[o++] = s[i];
	}
	buf[o] = '\0';
	for (i++; i < n && isblank_(s[i]); i++)
		;
	if (i < n && s[i] != '#') {
		wipe(buf, n);
		free(buf);
		return fail(ps, "text after the closing quote");
	}
	*out = buf;
	return 0;
}

/* dir + rest (rest is empty or starts with '/'), without a double slash. */
static char *
join(const char *dir, const char *rest)
{
	size_t n = strlen(dir);

	while (n > 0 && dir[n - 1] == '/')
		n--;
	if (n == 0 && *rest == '\0')
		return xstrdup("/");
	return xasprintf("%.*s%s", (int)n, dir, rest);
}

static int
expand(struct parse *ps, const char *kw, char **value)
{
	char *v = *value;

	if (v[0] != '~')
		return 0;
	if (v[1] != '\0' && v[1] != '/')
		return fail(ps, "%s: only ~ and ~/ are expanded, not ~user", kw);
	if (ps->home == NULL)
		return fail(ps, "%s: no home directory to expand ~ in "
		    "(set HOME)", kw);
	*value = join(ps->home, v + 1);
	free(v);
	return 0;
}

static size_t
hashname(const char *s)
{
	size_t h = 2166136261u;

	while (*s != '\0')
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h;
}

/* The slot holding name, or the empty slot where it would go. */
static size_t *
slot(const struct rcfile *rc, const char *name)
{
	size_t i = hashname(name) & (rc->hashsz - 1), *s;

	for (;; i = (i + 1) & (rc->hashsz - 1)) {
		s = &rc->hash[i];
		if (*s == 0 || strcmp(rc->accounts[*s - 1].name, name) == 0)
			return s;
	}
}

static void
rehash(struct rcfile *rc)
{
	size_t i;

	free(rc->hash);
	rc->hashsz = rc->hashsz == 0 ? 16 : rc->hashsz * 2;
	rc->hash = xcalloc(rc->hashsz, sizeof *rc->hash);
	for (i = 0; i < rc->naccounts; i++)
		*slot(rc, rc->accounts[i].name) = i + 1;
}

static int
add_account(struct parse *ps, char *name)
{
	struct rcfile *rc = ps->rc;
	struct rc_account *a;
	const unsigned char *p;
	size_t *s;

	if (*name == '\0') {
		free(name);
		return fail(ps, "account needs a name");
	}
	for (p = (const unsigned char *)name; *p != '\0'; p++)
		if (*p <= 0x20 || *p >= 0x7f) {
			free(name);
			return fail(ps, "an account name is printable ASCII "
			    "without blanks");
		}
	if (2 * (rc->naccounts + 1) > rc->hashsz)
		rehash(rc);
	s = slot(rc, name);
	if (*s != 0) {
		a = &rc->accounts[*s - 1];
		fail(ps, "account \"%s\" is already defined on line %u",
		    name, a->line);
		free(name);
		return -1;
	}
	if (rc->naccounts == rc->accountsz) {
		rc->accountsz = rc->accountsz == 0 ? 8 : rc->accountsz * 2;
		rc->accounts = xreallocarray(rc->accounts, rc->accountsz,
		    sizeof *rc->accounts);
	}
	a = &rc->accounts[rc->naccounts];
	memset(a, 0, sizeof *a);
	a->name = name;
	a->file = rc->file;
	a->line = ps->line;
	a->ndefaults = rc->nditems;
	*s = ++rc->naccounts;
	ps->section = SECTION_ACCOUNT;
	return 0;
}

static void
add_item(struct parse *ps, char *kw, enum rc_type type, char *value, int on)
{
	struct rcfile *rc = ps->rc;
	struct rc_item **items, *it;
	size_t *n, *sz;

	if (ps->section == SECTION_DEFAULTS) {
		items = &rc->ditems;
		n = &rc->nditems;
		sz = &rc->ditemsz;
	} else {
		items = &rc->aitems;
		n = &rc->naitems;
		sz = &rc->aitemsz;
		rc->accounts[rc->naccounts - 1].nitems++;
	}
	if (*n == *sz) {
		*sz = *sz == 0 ? 16 : *sz * 2;
		*items = xreallocarray(*items, *sz, sizeof **items);
	}
	it = &(*items)[(*n)++];
	it->keyword = kw;
	it->type = type;
	it->value = value;
	it->on = on;
	it->file = rc->file;
	it->line = ps->line;
	if (type == RC_SECRET && rc->secret_kw == NULL) {
		rc->secret_kw = kw;
		rc->secret_line = ps->line;
	}
}

/* One line, without its line end; it holds no NUL. */
static int
parse_line(struct parse *ps, const char *s, size_t n)
{
	const char *kw, *v;
	size_t kwlen, i = 0;
	char *keyword, *value = NULL, shown[KEYWORD_SHOW * 4 + 8];
	enum rc_type type;
	int on = 1;

	while (n > 0 && isblank_(s[n - 1]))
		n--;
	while (i < n && isblank_(s[i]))
		i++;
	if (i == n || s[i] == '#')
		return 0;
	kw = s + i;
	while (i < n && !isblank_(s[i]))
		i++;
	kwlen = (size_t)(s + i - kw);
	while (i < n && isblank_(s[i]))
		i++;
	v = s + i;
	n -= i;		/* the value's length, 0 when there is none */

	if (kwlen == 8 && memcmp(kw, "defaults", 8) == 0) {
		if (n > 0)
			return fail(ps, "defaults takes no value");
		ps->section = SECTION_DEFAULTS;
		return 0;
	}
	if (kwlen == 7 && memcmp(kw, "account", 7) == 0) {
		if (n == 0)
			return fail(ps, "account needs a name");
		if (unquote(ps, v, n, &value) == -1)
			return -1;
		return add_account(ps, value);
	}

	keyword = xstrndup(kw, kwlen);
	type = ps->lookup(keyword, ps->arg);
	switch (type) {
	case RC_FLAG:
	case RC_VALUE:
	case RC_PATH:
	case RC_SECRET:
		break;
	default:
		free(keyword);
		show(shown, sizeof shown, kw, kwlen);
		return fail(ps, "unknown keyword \"%s\"", shown);
	}
	if (ps->section == SECTION_NONE) {
		fail(ps, "%s before the first account or defaults line",
		    keyword);
		free(keyword);
		return -1;
	}
	if (n > 0 && unquote(ps, v, n, &value) == -1)
		goto bad;
	if (value != NULL)
		for (i = 0; value[i] != '\0'; i++)
			if (iscontrol((unsigned char)value[i])) {
				fail(ps, "%s: control character in the value",
				    keyword);
				goto bad;
			}
	if (type == RC_FLAG) {
		if (value != NULL) {
			if (strcmp(value, "on") == 0)
				on = 1;
			else if (strcmp(value, "off") == 0)
				on = 0;
			else {
				fail(ps, "%s takes no value, or on or off",
				    keyword);
				goto bad;
			}
			free(value);
			value = NULL;
		}
	} else if (value == NULL) {
		fail(ps, "%s needs a value", keyword);
		goto bad;
	} else if (type == RC_PATH && expand(ps, keyword, &value) == -1)
		goto bad;
	add_item(ps, keyword, type, value, on);
	return 0;
bad:
	free_secret(value);
	free(keyword);
	return -1;
}

static void
free_items(struct rc_item *items, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free((char *)items[i].keyword);
		free_secret((char *)items[i].value);
	}
	free(items);
}

void
rcfile_free(struct rcfile *rc)
{
	size_t i;

	if (rc == NULL)
		return;
	free_items(rc->ditems, rc->nditems);
	free_items(rc->aitems, rc->naitems);
	for (i = 0; i < rc->naccounts; i++)
		free((char *)rc->accounts[i].name);
	free(rc->accounts);
	free(rc->hash);
	free(rc->file);
	free(rc);
}

int
rcfile_parse(const char *text, size_t len, const char *file,
    const char *home, rc_lookup_fn lookup, void *arg, struct rcfile **out,
    char **errstr)
{
	struct parse ps;
	struct rcfile *rc;
	const char *p = text, *end = text + len, *eol;
	size_t n, i, off;

	*out = NULL;
	memset(&ps, 0, sizeof ps);
	rc = ps.rc = xcalloc(1, sizeof *rc);
	rc->file = xstrdup(file);
	ps.home = home;
	ps.lookup = lookup;
	ps.arg = arg;
	ps.section = SECTION_NONE;
	for (ps.line = 1; p < end; ps.line++) {
		eol = memchr(p, '\n', (size_t)(end - p));
		n = (size_t)((eol != NULL ? eol : end) - p);
		if (memchr(p, '\0', n) != NULL) {
			fail(&ps, "NUL byte");
			goto bad;
		}
		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (n > RCFILE_LINE_MAX) {
			fail(&ps, "line longer than %d bytes", RCFILE_LINE_MAX);
			goto bad;
		}
		if (parse_line(&ps, p, n) == -1)
			goto bad;
		if (eol == NULL)
			break;
		p = eol + 1;
	}

	/* The arrays are final: point the accounts into them. */
	for (i = off = 0; i < rc->naccounts; i++) {
		rc->accounts[i].defaults = rc->ditems;
		/* No item at all: aitems is NULL, and NULL + 0 is undefined. */
		rc->accounts[i].items = rc->aitems != NULL ? rc->aitems + off :
		    NULL;
		off += rc->accounts[i].nitems;
	}
	*out = rc;
	return 0;
bad:
	*errstr = ps.err;
	rcfile_free(rc);
	return -1;
}

size_t
rcfile_naccounts(const struct rcfile *rc)
{
	return rc->naccounts;
}

const struct rc_account *
rcfile_account_at(const struct rcfile *rc, size_t i)
{
	return i < rc->naccounts ? &rc->accounts[i] : NULL;
}

const struct rc_account *
rcfile_account(const struct rcfile *rc, const char *name)
{
	size_t *s;

	if (rc->naccounts == 0)
		return NULL;
	s = slot(rc, name);
	return *s != 0 ? &rc->accounts[*s - 1] : NULL;
}

const struct rc_item *
rcfile_defaults(const struct rcfile *rc, size_t *n)
{
	*n = rc->nditems;
	return rc->ditems;
}

int
rcfile_has_secret(const struct rcfile *rc)
{
	return rc->secret_kw != NULL;
}

size_t
rc_account_nitems(const struct rc_account *a)
{
	return a->ndefaults + a->nitems;
}

const struct rc_item *
rc_account_item(const struct rc_account *a, size_t i)
{
	if (i < a->ndefaults)
		return &a->defaults[i];
	i -= a->ndefaults;
	return i < a->nitems ? &a->items[i] : NULL;
}

char *
rcfile_home(void)
{
	const char *h = getenv("HOME");
	struct passwd *pw;

	if (h != NULL && h[0] == '/')
		return xstrdup(h);
	pw = getpwuid(getuid());
	if (pw != NULL && pw->pw_dir != NULL && pw->pw_dir[0] == '/')
		return xstrdup(pw->pw_dir);
	return NULL;
}

char *
rcfile_default_path(char **errstr)
{
	const char *xdg = getenv("XDG_CONFIG_HOME");
	char *home, *path;

	if (xdg != NULL && xdg[0] == '/')
		return join(xdg, "/popfetch/config");
	if ((home = rcfile_home()) == NULL) {
		*errstr = xasprintf("no home directory: set HOME or "
		    "XDG_CONFIG_HOME");
		return NULL;
	}
	path = join(home, "/.config/popfetch/config");
	free(home);
	return path;
}

/* The path as a shell word, for a command the user can paste. */
static char *
shell_word(const char *s)
{
	static const char safe[] = "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._+-,:@%=";
	const char *p;
	char *w, *o;

	if (*s != '\0' && *s != '-' && strspn(s, safe) == strlen(s))
		return xstrdup(s);
	/* 'it'\''s': each quote becomes four bytes; "./" for a leading '-'. */
	o = w = xmalloc(strlen(s) * 4 + 5);
	*o++ = '\'';
	if (*s == '-') {
		memcpy(o, "./", 2);
		o += 2;
	}
	for (p = s; *p != '\0'; p++) {
		if (*p == '\'') {
			memcpy(o, "'\\''", 4);
			o += 4;
		} else
			*o++ = *p;
	}
	*o++ = '\'';
	*o = '\0';
	return w;
}

/* Reads at most RCFILE_SIZE_MAX + 1 bytes: the file may grow after fstat. */
static char *
slurp(int fd, size_t hint, size_t *len)
{
	size_t sz = (hint < RCFILE_SIZE_MAX ? hint : RCFILE_SIZE_MAX) + 1;
	size_t n = 0;
	char *buf = xmalloc(sz), *nbuf;
	ssize_t r;

	for (;;) {
		if (n == sz) {
			if (sz > RCFILE_SIZE_MAX)
				break;
			/* Not realloc: it could leave a copy unwiped. */
			nbuf = xreallocarray(NULL, 2, sz);
			memcpy(nbuf, buf, n);
			wipe(buf, n);
			free(buf);
			buf = nbuf;
			sz *= 2;
		}
		r = read(fd, buf + n, sz - n);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			wipe(buf, n);
			free(buf);
			return NULL;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	*len = n;
	return buf;
}

int
rcfile_load(const char *path, int flags, rc_lookup_fn lookup, void *arg,
    struct rcfile **out, char **errstr)
{
	struct stat st;
	struct rcfile *rc = NULL;
	char *buf, *home, *perr = NULL, *w;
	size_t len;
	int fd, rc_parse, saved;

	*out = NULL;
	*errstr = NULL;
	fd = open(path, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (fd == -1) {
		saved = errno;
		if (saved == ENOENT && lstat(path, &st) == 0) {
			*errstr = xasprintf("%s: a symbolic link to a file that "
			    "does not exist", path);
			return -1;
		}
		if (saved == ENOENT && (flags & RCFILE_OPTIONAL))
			return RCFILE_MISSING;
		*errstr = xasprintf("%s: %s", path, strerror(saved));
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		*errstr = xasprintf("%s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		*errstr = xasprintf("%s: not a regular file", path);
		close(fd);
		return -1;
	}
	/* As ssh: a file another user may change could name our commands. */
	if (st.st_uid != getuid() && st.st_uid != 0) {
		*errstr = xasprintf("%s: owned by uid %lu, not by you (uid %lu) "
		    "or root", path, (unsigned long)st.st_uid,
		    (unsigned long)getuid());
		close(fd);
		return -1;
	}
	if (st.st_size > RCFILE_SIZE_MAX) {
		*errstr = xasprintf("%s: larger than %d bytes", path,
		    RCFILE_SIZE_MAX);
		close(fd);
		return -1;
	}
	buf = slurp(fd, (size_t)st.st_size, &len);
	saved = errno;
	close(fd);
	if (buf == NULL) {
		*errstr = xasprintf("%s: %s", path, strerror(saved));
		return -1;
	}
	if (len > RCFILE_SIZE_MAX) {
		wipe(buf, len);
		free(buf);
		*errstr = xasprintf("%s: larger than %d bytes", path,
		    RCFILE_SIZE_MAX);
		return -1;
	}

	home = rcfile_home();
	rc_parse = rcfile_parse(buf, len, path, home, lookup, arg, &rc, &perr);
	free(home);
	wipe(buf, len);
	free(buf);

	w = shell_word(path);
	if (rc_parse == 0 && rc->secret_kw != NULL &&
	    (st.st_mode & (S_IRGRP | S_IWGRP | S_IROTH | S_IWOTH)) != 0)
		*errstr = xasprintf("%s:%u: %s in a file that group or others "
		    "can read or write; run: chmod 600 %s", path,
		    rc->secret_line, rc->secret_kw, w);
	else if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0)
		/* Before a parse error: someone else may have written it. */
		*errstr = xasprintf("%s: group or others can write to it; "
		    "run: chmod go-w %s", path, w);
	free(w);
	if (*errstr != NULL) {
		free(perr);
		rcfile_free(rc);
		return -1;
	}
	if (rc_parse == -1) {
		*errstr = perr;
		return -1;
	}
	*out = rc;
	return 0;
}
