/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "auth.h"

/* Strongest first among what the server advertises. APOP is only
 * inferred from a timestamp in the greeting, and servers put one there
 * without APOP secrets for the user (Cyrus with saslauthd, Mailutils,
 * solid-pop3d): it comes after every advertised method. OAuth needs a
 * token, not a password, so it is only used when asked for. */
static const struct auth_method methods[] = {
	{ "scram-sha-256", AUTH_SASL, SASL_SCRAM_SHA_256, 1 },
	{ "scram-sha-1", AUTH_SASL, SASL_SCRAM_SHA_1, 1 },
	{ "cram-md5", AUTH_SASL, SASL_CRAM_MD5, 1 },
	{ "plain", AUTH_SASL, SASL_PLAIN, 1 },
	{ "login", AUTH_SASL, SASL_LOGIN, 1 },
	{ "user", AUTH_USER, 0, 1 },
	{ "apop", AUTH_APOP, 0, 1 },
	{ "xoauth2", AUTH_SASL, SASL_XOAUTH2, 0 },
	{ "oauthbearer", AUTH_SASL, SASL_OAUTHBEARER, 0 },
};
#define NMETHODS	(sizeof methods / sizeof methods[0])

const struct auth_method *
auth_lookup(const char *name)
{
	size_t i;

	for (i = 0; i < NMETHODS; i++)
		if (strcasecmp(name, methods[i].name) == 0)
			return &methods[i];
	return NULL;
}

const char *
auth_names(void)
{
	static char buf[256];
	size_t i, o = 0;

	if (buf[0] != '\0')
		return buf;
	for (i = 0; i < NMETHODS && o < sizeof buf; i++)
		o += (size_t)snprintf(buf + o, sizeof buf - o, "%s%s",
		    i > 0 ? ", " : "", methods[i].name);
	return buf;
}

/* Is the mechanism in the space-separated CAPA list? */
static int
offered(const char *list, const char *mech)
{
	size_t len = strlen(mech);
	const char *p;

	for (p = list; (p = strcasestr(p, mech)) != NULL; p += len)
		if ((p == list || p[-1] == ' ') &&
		    (p[len] == ' ' || p[len] == '\0'))
			return 1;
	return 0;
}

size_t
auth_candidates(const char *forced, const char *sasl_list,
    int apop_timestamp, int user_advertised, const struct auth_method **out,
    size_t max)
{
	const struct auth_method *m, *user = NULL;
	size_t i, n = 0;

	if (forced != NULL) {
		if ((m = auth_lookup(forced)) != NULL && max > 0)
			out[n++] = m;
		return n;
	}
	for (i = 0; i < NMETHODS && n < max; i++) {
		m = &methods[i];
		if (!m->automatic)
			continue;
		if (m->kind == AUTH_USER) {
			/* Not advertised: still tried, after APOP. */
			if (user_advertised)
				out[n++] = m;
			else
				user = m;
		} else if ((m->kind == AUTH_APOP && apop_timestamp) ||
		    (m->kind == AUTH_SASL && offered(sasl_list,
		    sasl_mech_name(m->mech))))
			out[n++] = m;
	}
	if (user != NULL && n < max)
		out[n++] = user;
	return n;
}
