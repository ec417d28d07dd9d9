/* SPDX-License-Identifier: ISC */
/*
 * Allocation wrappers that never return NULL: running out of memory is fatal
 * (exit EX_OSERR) because no caller could do anything more useful.
 */
#ifndef POPFETCH_XMALLOC_H
#define POPFETCH_XMALLOC_H

#include <stdarg.h>
#include <stddef.h>

void *xmalloc(size_t);
void *xcalloc(size_t, size_t);
void *xreallocarray(void *, size_t, size_t);
char *xstrdup(const char *);
char *xstrndup(const char *, size_t);
void *xmemdup(const void *, size_t);
char *xasprintf(const char *, ...) __attribute__((format(printf, 1, 2)));
char *xvasprintf(const char *, va_list) __attribute__((format(printf, 1, 0)));

#endif
