/* SPDX-License-Identifier: ISC */
/*
 * Pure parsers for POP3 server lines, read the way Outlook reads them
 * (MS-STANOPOP3): any reply starting with '+' is positive (V0001), fields are
 * separated by one or more spaces or tabs and may be followed by more text
 * (C0004, C0017, C0021, C0038). Sizes are hints: Exchange reports storage
 * sizes, not octets. Nothing here allocates; returned pointers point into the
 * caller's line. Lines are given without their CRLF.
 */
#ifndef POPFETCH_POP3_PARSE_H
#define POPFETCH_POP3_PARSE_H

#include <stddef.h>
#include <stdint.h>

struct pop3_status {
	int		 ok;		/* 1 for '+...', 0 for anything else */
	const char	*text;		/* after the status word and blanks */
	size_t		 textlen;
	const char	*code;		/* RFC 2449 response code inside [ ] */
	size_t		 codelen;	/* 0 when there is none */
};

/* Never fails: every line is either positive or negative. */
void pop3_parse_status(const char *line, size_t len, struct pop3_status *);

/* Parse "COUNT SIZE [more]" (the text of a STAT reply). 0 or -1. */
int pop3_parse_stat(const char *text, size_t len, uint64_t *count,
    uint64_t *size);

/* Parse a scan listing "MSGNO SIZE [more]". 0 or -1. */
int pop3_parse_list(const char *line, size_t len, uint32_t *msgno,
    uint64_t *size);

/*
 * Parse a unique-id listing "MSGNO UID [more]". The UID is the first field
 * after the number; it is returned as bytes (it may hold any byte but blanks).
 * A missing UID is returned empty. -1 when the number is bad.
 */
int pop3_parse_uidl(const char *line, size_t len, uint32_t *msgno,
    const char **uid, size_t *uidlen);

/* CAPA bits we act on. */
#define CAPA_TOP	0x0001
#define CAPA_UIDL	0x0002
#define CAPA_USER	0x0004
#define CAPA_PIPELINING	0x0008
#define CAPA_RESPCODES	0x0010
#define CAPA_STLS	0x0020
#define CAPA_SASL	0x0040
#define CAPA_AUTHRESP	0x0080

/* The CAPA bit for one capability line; 0 for unknown ones. */
unsigned pop3_parse_capa(const char *line, size_t len);

/* Compare the RFC 2449 response code with a name, case-insensitively; a
 * hierarchical code such as "SYS/TEMP" matches "SYS/TEMP" only. */
int pop3_code_is(const struct pop3_status *, const char *name);

#endif
