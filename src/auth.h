/* SPDX-License-Identifier: ISC */
/*
 * The login methods popfetch knows, in one table: the names --auth takes,
 * what each is (USER/PASS, APOP, or a SASL mechanism), and the order in
 * which they are tried when the user names none. Pure: the choice depends
 * only on what the server offered.
 */
#ifndef POPFETCH_AUTH_H
#define POPFETCH_AUTH_H

#include <stddef.h>

#include "sasl.h"

enum auth_kind {
	AUTH_USER,	/* USER then PASS (RFC 1939) */
	AUTH_APOP,	/* APOP with the greeting's timestamp (RFC 1939) */
	AUTH_SASL,	/* AUTH (RFC 5034) */
};

struct auth_method {
	const char	*name;		/* lowercase, as --auth takes it */
	enum auth_kind	 kind;
	enum sasl_mech	 mech;		/* AUTH_SASL only */
	int		 automatic;	/* tried when --auth is not given */
};

/* The method called name (any case), or NULL. */
const struct auth_method *auth_lookup(const char *name);
/* "user, apop, plain, ..." for messages. */
const char *auth_names(void);

/*
 * The methods to try, best first, on a server whose CAPA listed the SASL
 * mechanisms in sasl_list (space-separated), did or did not list USER,
 * and whose greeting did or did not carry an APOP timestamp: the
 * advertised SASL mechanisms, strongest first, then USER if advertised,
 * then APOP, then USER if it was not. forced (a name, or NULL) is the only
 * one tried when given. Returns how many were put in out (at most max).
 */
size_t auth_candidates(const char *forced, const char *sasl_list,
    int apop_timestamp, int user_advertised, const struct auth_method **out,
    size_t max);

#endif
