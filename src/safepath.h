/* SPDX-License-Identifier: ISC */
/*
 * Paths that another user may control, checked and used without races
 * (DESIGN.md: "Run as root, treat every path another user controls as
 * hostile"; issue 8 points 8 and 9).
 *
 * Every component is opened with O_PATH|O_NOFOLLOW relative to the
 * descriptor of the directory checked before it, and checked with fstat on
 * what was opened: no name is looked up twice, so what was checked is what
 * is used. Symbolic links are resolved here, one at a time, and their
 * targets walked with the same checks. A relative path is taken against
 * getcwd(), so the directories above the working directory are checked too.
 *
 * Who is trusted depends on the effective uid:
 *
 *  - root (euid 0): only root. Every component (directory, link, file) must
 *    be owned by root, and no directory may be writable by group or others
 *    unless it is sticky (/tmp): then what is in it must be root's. A path
 *    another user owns is refused with "run popfetch as USER".
 *  - any other user: the user and root; lenient, the kernel's permissions
 *    decide, except where any local user could interfere: a directory
 *    writable by everyone without the sticky bit is refused, and in a
 *    sticky directory writable by others (/tmp) a name made by another
 *    user is refused. Directories owned by others and group-writable shared
 *    directories are the user's choice.
 *  - SAFEPATH_PRIVATE (the state directory), for everyone: the final
 *    directory must be owned by the euid and not writable by group or
 *    others (as ssh checks ~/.ssh); every component above it must be owned
 *    by the euid or root and not writable by group or others unless sticky.
 *    Readable by others is allowed (it holds UIDs, not secrets).
 *
 * Nothing here changes the mode of an existing file or directory: a wrong
 * mode is refused with the chmod to run, never repaired silently (someone
 * may have used the window). New directories and files get the caller's
 * mode, less the umask.
 *
 * Errors: functions return SAFEPATH_REFUSED when the policy refuses the
 * path (someone else controls it: a configuration problem for the user) and
 * SAFEPATH_ERR when a system call failed (errno is kept: ENOENT, EACCES,
 * ENOTDIR, ELOOP, EIO, ...). Both set *errstr to an allocated one-line
 * message that starts with the path as given, names the component at
 * fault and says what to do. Nothing logs.
 *
 * Linux only (O_PATH, readlinkat with an empty name).
 */
#ifndef POPFETCH_SAFEPATH_H
#define POPFETCH_SAFEPATH_H

#include <sys/types.h>

#define SAFEPATH_ERR		(-1)
#define SAFEPATH_REFUSED	(-2)

/* The final directory must be private to the euid (the state directory). */
#define SAFEPATH_PRIVATE	0x01
/* safepath_check only: missing trailing components are fine (the part
 * that exists is checked as the parents of what will be created). */
#define SAFEPATH_MISSING_OK	0x02

/*
 * Checks every component of path; the last may be a directory or a regular
 * file (reached through a symbolic link at the last component, a file is
 * refused, as safepath_open_file would). Opens nothing for writing and
 * creates nothing. Returns 0, SAFEPATH_REFUSED or SAFEPATH_ERR (ENOENT
 * for a missing component without SAFEPATH_MISSING_OK).
 */
int safepath_check(const char *path, int flags, char **errstr);

/*
 * mkdir -p without races: checks each existing component, creates each
 * missing one with mkdirat(mode) relative to its checked parent, and makes
 * each creation durable (fsync of the new directory and of the parent that
 * gained the name). Returns a descriptor of the final directory (O_RDONLY,
 * O_DIRECTORY, O_CLOEXEC: for openat, renameat, fsync and fdopendir), or
 * SAFEPATH_REFUSED or SAFEPATH_ERR (EACCES, ENOTDIR, ELOOP, EIO, ...).
 */
int safepath_mkdirs(const char *path, mode_t mode, int flags, char **errstr);

/*
 * Opens a regular file whose parent directory exists (it is not created),
 * after checking the parents. The last component is never followed: a
 * symbolic link there is refused (also for non-root). oflags are open(2)
 * flags; O_NOFOLLOW, O_CLOEXEC and O_NOCTTY are always added. With O_CREAT
 * a missing file is created exclusively with mode and the creation made
 * durable (fsync of the file and of the parent); an existing one is opened
 * (O_EXCL: never). O_TRUNC is applied only after the checks passed. The
 * file is opened without blocking (a FIFO does not hang us) and refused
 * unless it is a regular file; as root it must also be owned by root and
 * have one link (mbox files of other users: "run popfetch as USER"); in a
 * sticky directory writable by others it must be the euid's or root's;
 * with SAFEPATH_PRIVATE the parent gets the private-directory checks and
 * the file must be the euid's.
 * If dirfdp is not NULL, *dirfdp receives an O_PATH descriptor of the
 * checked parent (for openat/linkat/unlinkat/fstatat of names next to the
 * file, such as the dotlock; not for I/O or fsync). Returns the file's
 * descriptor, or SAFEPATH_REFUSED or SAFEPATH_ERR.
 */
int safepath_open_file(const char *path, int oflags, mode_t mode, int flags,
    int *dirfdp, char **errstr);

#endif
