/* SPDX-License-Identifier: ISC */
/*
 * The client side of SASL for the POP3 AUTH command (RFC 5034), and APOP
 * (RFC 1939). Pure: no I/O and no logging; errors come back as allocated
 * strings that the caller frees. All cryptography goes through OpenSSL.
 *
 * One exchange:
 *	s = sasl_new(mech, user, secret, host, port, &err);
 *	ir = sasl_initial(s);	send "AUTH MECH ir" if it fits in 255
 *				octets with its CRLF (RFC 5034 section 4),
 *				else "AUTH MECH" and ir after the first "+ "
 *	on each "+ TEXT":	r = sasl_step(s, TEXT, len, &err);
 *				r == NULL: send "*" to cancel, report err
 *				else send r (possibly an empty line)
 *	on "+OK":		sasl_finish(s, &err) must return 0
 *	on "-ERR":		the server's text, plus sasl_error_detail()
 *	sasl_free(s);
 * A caller that never calls sasl_initial() gets the initial response from
 * the first sasl_step() on an empty challenge instead.
 *
 * Ownership: sasl_new() copies user, secret, host and port; sasl_free()
 * wipes the copies and every derived key. Responses from sasl_initial()
 * and sasl_step() belong to the caller and may carry the secret (PLAIN,
 * LOGIN, XOAUTH2, OAUTHBEARER), so free them with free_secret() (util.h).
 *
 * SASLprep (RFC 4013) is not done: user names and passwords are used as
 * the UTF-8 bytes given. Every server input is bounded (a challenge decodes
 * to at most SASL_MAX_CHALLENGE bytes) and checked before it is used.
 */
#ifndef POPFETCH_SASL_H
#define POPFETCH_SASL_H

#include <stddef.h>

#define SASL_MAX_CHALLENGE	65536	/* decoded bytes */
#define SASL_MAX_FIELD		65536	/* user, secret, host, port */
#define SASL_SCRAM_MAX_ITER	1000000	/* bounds the PBKDF2 work */

enum sasl_mech {
	SASL_PLAIN,
	SASL_LOGIN,
	SASL_CRAM_MD5,
	SASL_SCRAM_SHA_1,
	SASL_SCRAM_SHA_256,
	SASL_XOAUTH2,
	SASL_OAUTHBEARER
};

struct sasl;

/* The IANA name of a mechanism, e.g. "SCRAM-SHA-256". */
const char *sasl_mech_name(enum sasl_mech);

/* Looks a name up case-insensitively. 0, or -1 for an unknown name. */
int sasl_mech_parse(const char *name, size_t len, enum sasl_mech *);

/*
 * Starts an exchange. secret is the password, or the OAuth 2.0 access token
 * for XOAUTH2 and OAUTHBEARER. host and port are only used by OAUTHBEARER
 * and may be NULL (the key is then left out). NULL with *errstr when an
 * argument cannot be carried by the mechanism (an empty user name, a
 * control character in an OAuth field, an oversized field) or when no
 * random nonce could be made.
 */
struct sasl *sasl_new(enum sasl_mech, const char *user, const char *secret,
    const char *host, const char *port, char **errstr);

/* Wipes every secret and derived key, then frees. NULL is fine. */
void sasl_free(struct sasl *);

/*
 * The initial response, base64 ("=" for an empty one); NULL when the
 * mechanism has none (LOGIN, CRAM-MD5) or the exchange has already begun.
 */
char *sasl_initial(struct sasl *);

/*
 * Answers one server challenge: b64 is the text after "+ " (surrounding
 * blanks are ignored). Returns the base64 response, "" for an empty line,
 * or NULL with *errstr: bad base64, an oversized challenge, a challenge
 * out of turn, a SCRAM server-first message that is malformed, does not
 * extend our nonce, asks for a mandatory extension or an iteration count
 * outside [1, SASL_SCRAM_MAX_ITER], a SCRAM server signature that does not
 * match, or a SCRAM "e=" error. LOGIN answers by position and does not
 * read the "Username:"/"Password:" text. For XOAUTH2 and OAUTHBEARER a
 * challenge after the initial response is the server's error JSON: it is
 * kept for sasl_error_detail() and answered with the empty response (""
 * for XOAUTH2, %x01 for OAUTHBEARER) so that the server ends with -ERR.
 * After a NULL return the exchange is dead.
 */
char *sasl_step(struct sasl *, const char *b64, size_t len, char **errstr);

/*
 * Call on the server's +OK. 0 when the exchange is complete and, for SCRAM,
 * the server proved that it knows the password (its signature was checked);
 * -1 with *errstr otherwise: a +OK too early, without a server signature,
 * or after an error.
 */
int sasl_finish(struct sasl *, char **errstr);

/* The OAuth error JSON of the last XOAUTH2/OAUTHBEARER challenge, decoded
 * and with control characters replaced; NULL when there was none. Valid
 * until sasl_free(). */
const char *sasl_error_detail(const struct sasl *);

/* Test hook: replaces the random SCRAM client nonce, before
 * sasl_initial(). -1 when the nonce is empty or holds a byte outside
 * %x21-7E or a ','. */
int sasl_set_nonce(struct sasl *, const char *nonce);

/* APOP (RFC 1939): lowercase hex MD5 of timestamp then secret, allocated
 * (free with free_secret()); NULL when MD5 is unavailable. The timestamp
 * includes its angle brackets. */
char *apop_digest(const char *timestamp, const char *secret);

/* The first "<...@...>" timestamp in a greeting's text (printable, no
 * blanks, at most 512 bytes), allocated; NULL when there is none. */
char *apop_timestamp(const char *greeting, size_t len);

#endif
