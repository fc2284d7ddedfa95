/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MOAT_ROOTFS_H
#define MOAT_ROOTFS_H

#include <stdbool.h>

#include "sandbox/cgroup.h"
#include "spec/spec.h"
#include "util/error.h"

/* The container's filesystem, built by its init inside the new mount namespace.
 * Every mount target is resolved beneath the rootfs fd (util/fs.h) and mounted
 * through an fd (open_tree/move_mount or fsopen/fsmount), so a symlink in the
 * image cannot redirect a mount to the host (CVE-2021-30465, CVE-2026-41579). */

struct moat_rootfs_ctx
{
  const struct moat_spec *spec;
  const struct moat_cgroup *cgroup; /* for a "cgroup" mount */
  bool userns;            /* in a new user namespace: device nodes are bind-mounted, not mknod'ed */
  bool private_cgroupns;
  int rootfd;             /* O_PATH|O_DIRECTORY of the rootfs after it was bind-mounted on itself */
  int host_devnull_fd;    /* host /dev/null, verified char 1:3, for masking (CVE-2025-31133) */
  int console_fd;         /* pty peer for /dev/console when process.terminal, else -1 */
  int root_tree_fd;       /* idmapped clone of the rootfs made by the parent, else -1 (sandbox/idmap.c) */
  int *mount_tree_fds;    /* per spec mount: its idmapped clone, else -1; NULL when none */
  /* When set, called once before a cgroup mount or, failing one, after the
     other mounts: the init is not yet in its cgroup until it returns 0. */
  int (*await_cgroup) (struct moat_rootfs_ctx *ctx, struct moat_error *err);
  int sync_fd;            /* for await_cgroup */
};

/* Before any mount: set the propagation of "/" (linux.rootfsPropagation, default
 * rprivate so nothing leaks back to the host), bind-mount ROOTFS_PATH onto itself
 * (pivot_root needs a mount point) and open ctx->rootfd. */
int moat_rootfs_prepare (struct moat_rootfs_ctx *ctx, const char *rootfs_path, struct moat_error *err);

/* Every entry of spec->mounts in order (proc, sysfs, tmpfs, devpts, mqueue,
 * cgroup, bind/rbind with options and propagation), then /dev: the default
 * devices (null zero full random urandom tty), linux.devices, /dev/ptmx, the
 * /dev/fd, stdin, stdout, stderr symlinks, /dev/console when a terminal is used. */
int moat_rootfs_mount_all (struct moat_rootfs_ctx *ctx, struct moat_error *err);

/* Call ctx->await_cgroup if it is still pending. */
int moat_rootfs_await_cgroup (struct moat_rootfs_ctx *ctx, struct moat_error *err);

/* pivot_root into ctx->rootfd (pivot_root(".", ".") then detach the old root);
 * with NO_PIVOT, MS_MOVE + chroot (for ramfs roots, as runc --no-pivot). */
int moat_rootfs_pivot (struct moat_rootfs_ctx *ctx, bool no_pivot, struct moat_error *err);

/* After pivot: maskedPaths (files: the verified /dev/null; dirs: empty ro tmpfs),
 * readonlyPaths (ro bind), then root.readonly, then the mount propagation of the
 * root as configured.  A missing masked path is skipped; any other failure is an
 * error, never a silently unmasked path. */
int moat_rootfs_finalize (struct moat_rootfs_ctx *ctx, struct moat_error *err);

/* Write linux.sysctl after pivot, each key through its own fd opened beneath a
 * verified procfs ("/proc/sys/..." must be on PROC_SUPER_MAGIC).  Keys and values
 * are validated at parse time (CVE-2022-0811). */
int moat_sysctl_apply (const struct moat_spec *spec, struct moat_error *err);

#endif
