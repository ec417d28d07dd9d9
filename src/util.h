/* SPDX-License-Identifier: ISC */
/*
 * Small file-system and time helpers shared by the delivery methods, the
 * UID store and the command line. None of them log; they return -1 with
 * errno set.
 */
#ifndef POPFETCH_UTIL_H
#define POPFETCH_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* write(2) until done, retrying EINTR and short writes. */
int write_all(int fd, const void *buf, size_t len);
/* pwrite(2) of all of buf at off, the same way. */
int write_at(int fd, const void *buf, size_t len, off_t off);
/* Reads a whole regular file of at most max bytes into an allocated
 * buffer (NUL-terminated, *len without it); -1 with errno (EFBIG when
 * larger). */
int read_file(const char *path, size_t max, char **buf, size_t *len);
/* fsync the directory itself, so a rename or create in it is durable. */
int fsync_dir(const char *path);
/* mkdir -p with the given mode for every directory it creates; the parent
 * of each directory it creates is fsynced. */
int mkdir_p(const char *path, mode_t mode);
/* Milliseconds from a monotonic clock. */
int64_t now_ms(void);
/* Appends v to the growable array *a of *n items (room for *cap). */
void push_u32(uint32_t **a, size_t *n, size_t *cap, uint32_t v);
/* Wipes a secret so the compiler cannot drop the store. */
void wipe(void *p, size_t len);
/* Frees a NUL-terminated secret after wiping it; NULL is fine. */
void free_secret(char *s);
/* Parses a decimal number in [min, max]; returns -1 on anything else. */
int parse_number(const char *s, long long min, long long max, long long *out);
/* Parses seconds with up to three decimals ("60", "0.2") into milliseconds
 * in [min_ms, max_ms]; returns -1 on anything else. */
int parse_seconds_ms(const char *s, long long min_ms, long long max_ms,
    long long *out_ms);
/* "60 s", "0.2 s": a duration in milliseconds for messages, in buf. */
const char *show_ms(char *buf, size_t sz, long long ms);
/* Sorts like qsort(3), in place: no memory beyond the array. */
void sort_inplace(void *base, size_t n, size_t sz,
    int (*cmp)(const void *, const void *));

#endif
