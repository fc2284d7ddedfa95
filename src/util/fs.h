/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MOAT_FS_H
#define MOAT_FS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "util/error.h"

/* Every path inside a container rootfs is resolved relative to a rootfs fd
 * with openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS): ".." and absolute
 * symlinks are clamped to the root, so no component can lead outside it
 * (CVE-2021-30465, CVE-2024-45310, CVE-2026-41579).  There is no path-string
 * fallback: a kernel without openat2 (< 5.6) is refused. */

/* Open PATH beneath ROOTFD.  FLAGS are open(2) flags (O_CLOEXEC is added). */
int moat_open_in_root (int rootfd, const char *path, int flags, mode_t mode, struct moat_error *err);

/* Create every missing directory of PATH beneath ROOTFD (mode 0755), refusing
 * to follow any symlink while creating, and return an O_PATH|O_DIRECTORY fd of
 * the last component. */
int moat_mkdir_all_in_root (int rootfd, const char *path, mode_t mode, struct moat_error *err);

/* Make sure PATH exists beneath ROOTFD as a directory (IS_DIR) or an empty
 * regular file, creating parents, and return an O_PATH fd on it.  An existing
 * entry of the wrong kind is an error; a symlink as the last component is
 * resolved beneath the root. */
int moat_ensure_in_root (int rootfd, const char *path, bool is_dir, struct moat_error *err);

/* Read a whole file (at most MAX bytes, else EFBIG) into a NUL-terminated heap
 * buffer. */
int moat_read_file_at (int dirfd, const char *path, size_t max, char **out, size_t *len, struct moat_error *err);

/* The same into *BUF, a heap buffer of *CAP bytes that grows as needed and
 * stays the caller's (free it once): a loop over many files allocates once. */
int moat_read_file_reuse (int dirfd, const char *path, size_t max, char **buf, size_t *cap, size_t *len,
                          struct moat_error *err);
/* The same from an open FD (left open); PATH names it in messages. */
int moat_read_fd_reuse (int fd, const char *path, size_t max, char **buf, size_t *cap, size_t *len,
                        struct moat_error *err);

/* Write DATA to DIRFD/NAME atomically (temp file, rename) for runtime state:
 * not durable across a power loss, which /run does not need. */
int moat_write_file_atomic (int dirfd, const char *name, const void *data, size_t len, mode_t mode, struct moat_error *err);

/* Write PID to PATH (relative to the cwd, as runc does), atomically. */
int moat_write_pid_file (const char *path, pid_t pid, struct moat_error *err);

/* Write a short string to an existing file (cgroup and procfs knobs). */
int moat_write_file_at (int dirfd, const char *path, const char *data, size_t len, struct moat_error *err);

/* Path of an fd as the kernel sees it (readlink /proc/self/fd/N). */
int moat_fd_path (int fd, char *buf, size_t size, struct moat_error *err);

/* Remove a directory tree below DIRFD/NAME without following symlinks. */
int moat_rm_rf_at (int dirfd, const char *name, struct moat_error *err);

/* Clean an absolute path lexically: collapse "//", ".", and ".." (clamped at "/").
 * Returns a heap string. */
char *moat_path_clean (const char *path);

/* FN(DIRFD, NAME, ARG) for every entry of DIRFD but "." and ".." (a dup of
 * DIRFD is read, DIRFD itself is left as it is); stops at the first < 0. */
int moat_for_each_entry (int dirfd, int (*fn) (int dirfd, const char *name, void *arg), void *arg,
                         struct moat_error *err);

#endif
