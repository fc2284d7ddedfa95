/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MOAT_IDMAP_H
#define MOAT_IDMAP_H

#include <stdbool.h>
#include <sys/types.h>

#include "spec/spec.h"
#include "util/error.h"

struct moat_sandbox;

/* The annotation that asks for the root to be made to fit the user
 * namespace: `on` (an idmapped mount; where the filesystem cannot be
 * idmapped, chown once), `chown` (chown once), `off` (the default, as runc:
 * the rootfs is used as it is). */
#define MOAT_ROOTFS_IDMAP_ANNOTATION "org.moat.rootfs.idmap"
#define MOAT_IDMAP_STAMP_PARENT "/run/moat"
#define MOAT_IDMAP_STAMP_DIR MOAT_IDMAP_STAMP_PARENT "/.idmap-stamps"

enum moat_rootfs_idmap
{
  MOAT_ROOTFS_IDMAP_OFF,
  MOAT_ROOTFS_IDMAP_ON,
  MOAT_ROOTFS_IDMAP_CHOWN,
};

int moat_rootfs_idmap_mode (const struct moat_spec *spec, enum moat_rootfs_idmap *mode, struct moat_error *err);

/* A detached clone of PATH idmapped through USERNS_FD (and nosuid, nodev).
 * *UNSUPPORTED tells a filesystem or kernel without idmapped mounts from
 * any other failure. */
int moat_idmap_tree (const char *path, bool recursive_clone, bool recursive_map, int userns_fd, bool *unsupported,
                     struct moat_error *err);

/* Parent side, once CHILD's id maps are written and before GO: the root
 * (per the annotation) and every idmapped mount, each sent to the init as a
 * MOAT_SYNC_IDMAP_TREE message; the root falls back to
 * moat_idmap_chown_once when the filesystem cannot be idmapped. */
int moat_idmap_send_trees (struct moat_sandbox *sb, int sock, pid_t child, struct moat_error *err);

/* Init side: collect the trees into sb->idmap_root_fd and
 * sb->idmap_mount_fds until MOAT_SYNC_GO. */
int moat_idmap_recv_until_go (struct moat_sandbox *sb, int sock, struct moat_error *err);

/* Shift the owners of the tree at ROOTFS (one filesystem, no symlink
 * followed) from container ids to host ids through the config's mappings,
 * keeping set-id bits, unless the directory carries a stamp for this
 * mapping (the trusted.moat.idmap xattr, else a file under
 * MOAT_IDMAP_STAMP_DIR); then write the stamp. */
int moat_idmap_chown_once (const char *rootfs, const struct moat_spec *spec, struct moat_error *err);

/* Whether ROOTFS carries a chown stamp for the config's mappings. */
int moat_idmap_chowned (const char *rootfs, const struct moat_spec *spec);

#endif
