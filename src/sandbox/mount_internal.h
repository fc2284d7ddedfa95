/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MOAT_MOUNT_INTERNAL_H
#define MOAT_MOUNT_INTERNAL_H

/* Shared between rootfs.c (the ordered steps), mount.c (one spec mount) and
 * dev.c (/dev).  Everything mounts through fds with the new mount API (glibc
 * 2.36 wraps fsopen, fsmount, open_tree, move_mount and mount_setattr), so no
 * mount target is ever named by a path string the image could redirect. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sandbox/rootfs.h"

/* What a spec mount asks of the mount (not the superblock).  SET and CLR apply
 * to the top mount only, REC_SET with AT_RECURSIVE ("rro", "rnosuid", ...).
 * SB_FLAGS are MS_* superblock flags (sync, dirsync, lazytime, mand) that only a
 * new filesystem instance can take. */
struct moat_mount_attrs
{
  uint64_t set, clr, rec_set;
  unsigned long sb_flags;
};

/* Translate m->flags / m->clear_flags / the r* options; an MS_* flag moat does
 * not know is refused, naming mounts[IDX].options. */
int moat_mount_attrs_from_spec (const struct moat_mount *m, size_t idx, struct moat_mount_attrs *out,
                                struct moat_error *err);

/* Mount spec->mounts[IDX] beneath ctx->rootfd. */
int moat_mount_entry (struct moat_rootfs_ctx *ctx, const struct moat_mount *m, size_t idx,
                      struct moat_error *err);

/* Attach the detached mount TREE_FD on TARGET_FD (both fds, no path). */
int moat_attach_tree (int tree_fd, int target_fd, const char *what, struct moat_error *err);

/* Path of FD relative to ROOTFD ("/" for the root itself) in REL; fails with
 * EXDEV when FD is not beneath ROOTFD. */
int moat_fd_rel_path (int rootfd, int fd, char *rel, size_t size, struct moat_error *err);

/* Copy the tree below SRC_DIR into DST_DIR (both real directory fds), never
 * following a symlink: tmpcopyup. */
int moat_copy_tree (int src_dir, int dst_dir, struct moat_error *err);

/* The default devices, linux.devices, the /dev symlinks, /dev/ptmx and
 * /dev/console, all relative to an fd of the rootfs's /dev. */
int moat_dev_setup (struct moat_rootfs_ctx *ctx, struct moat_error *err);

#endif
