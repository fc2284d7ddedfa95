/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <linux/magic.h>

#include "sandbox/rootfs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "sandbox/mount_internal.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/syscalls.h"

#define PROPAGATION_FLAGS (MS_SHARED | MS_SLAVE | MS_PRIVATE | MS_UNBINDABLE)

static unsigned long
root_propagation (const struct moat_spec *spec)
{
  return spec && spec->has_linux ? spec->linux.rootfs_propagation : 0;
}

/* The host's /dev/null as a detached clone, verified char 1:3 before any
   container file is trusted for masking (CVE-2025-31133).  A clone, not a
   plain fd: after pivot_root the host mounts leave this namespace, and
   open_tree() refuses to clone from a mount of another namespace. */
static int
open_host_devnull (struct moat_error *err)
{
  cleanup_fd int fd = open_tree (AT_FDCWD, "/dev/null", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_SYMLINK_NOFOLLOW);
  struct stat st;

  if (fd < 0)
    return moat_err (err, errno, "open the host `/dev/null`");
  if (fstat (fd, &st) < 0)
    return moat_err (err, errno, "stat the host `/dev/null`");
  if (!S_ISCHR (st.st_mode) || major (st.st_rdev) != 1 || minor (st.st_rdev) != 3)
    return moat_err (err, EPERM, "the host `/dev/null` is not the character device 1:3");
  return steal_fd (&fd);
}

int
moat_rootfs_prepare (struct moat_rootfs_ctx *ctx, const char *rootfs_path, struct moat_error *err)
{
  unsigned long prop = root_propagation (ctx->spec);
  cleanup_fd int dirfd = -1, tree = -1, devnull = -1;
  int root;

  ctx->rootfd = -1;
  ctx->host_devnull_fd = -1;
  /* Private or slave first, whatever the configured propagation: none of the
     mounts made while building the rootfs may reach the host.  A shared or
     slave rootfsPropagation is applied to the new root in finalize. */
  if (mount (NULL, "/", NULL, MS_REC | ((prop == 0 || (prop & MS_PRIVATE)) ? MS_PRIVATE : MS_SLAVE), NULL) < 0)
    return moat_err (err, errno, "linux.rootfsPropagation: set the propagation of `/`");
  devnull = open_host_devnull (err);
  if (devnull < 0)
    return -1;
  dirfd = open (rootfs_path, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (dirfd < 0)
    return moat_err (err, errno, "root.path: open `%s`", rootfs_path);
  /* pivot_root needs the new root to be a mount point.  An idmapped clone
     from the parent takes the place of our own. */
  if (ctx->root_tree_fd >= 0)
    {
      tree = ctx->root_tree_fd;
      ctx->root_tree_fd = -1;
    }
  else
    tree = open_tree (dirfd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE | AT_EMPTY_PATH);
  if (tree < 0)
    return moat_err (err, errno, "root.path: bind `%s`", rootfs_path);
  if (moat_attach_tree (tree, dirfd, rootfs_path, err) < 0)
    return moat_error_wrap (err, "root.path");
  root = openat (tree, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root < 0)
    return moat_err (err, errno, "root.path: open `%s`", rootfs_path);
  ctx->rootfd = root;
  ctx->host_devnull_fd = steal_fd (&devnull);
  return 0;
}

int
moat_rootfs_mount_all (struct moat_rootfs_ctx *ctx, struct moat_error *err)
{
  const struct moat_spec *spec = ctx->spec;
  size_t i;

  if (ctx->rootfd < 0)
    return moat_err (err, EBADF, "the rootfs is not prepared");
  /* A mount label needs SELinux context= options on every mount; refuse rather
     than create unlabelled mounts. */
  if (spec->has_linux && spec->linux.mount_label)
    return moat_err (err, ENOTSUP, "linux.mountLabel: not supported");
  for (i = 0; i < spec->n_mounts; i++)
    if (moat_mount_entry (ctx, &spec->mounts[i], i, err) < 0)
      return -1;
  if (moat_dev_setup (ctx, err) < 0)
    return -1;
  return moat_rootfs_await_cgroup (ctx, err);
}

int
moat_rootfs_await_cgroup (struct moat_rootfs_ctx *ctx, struct moat_error *err)
{
  int (*await) (struct moat_rootfs_ctx *, struct moat_error *) = ctx->await_cgroup;

  ctx->await_cgroup = NULL;
  return await ? await (ctx, err) : 0;
}

int
moat_rootfs_pivot (struct moat_rootfs_ctx *ctx, bool no_pivot, struct moat_error *err)
{
  cleanup_fd int newroot = openat (ctx->rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

  if (newroot < 0 || fchdir (newroot) < 0)
    return moat_err (err, errno, "enter the container root");
  if (no_pivot)
    {
      /* A ramfs root cannot be pivoted away from: move the rootfs over "/" and
         chroot into it, as runc --no-pivot. */
      if (mount (".", "/", NULL, MS_MOVE, NULL) < 0)
        return moat_err (err, errno, "move the container root onto `/`");
      if (chroot (".") < 0)
        return moat_err (err, errno, "chroot into the container root");
    }
  else
    {
      /* pivot_root(".", ".") stacks the old root on top of the new one; the
         cwd still holds the new root underneath. */
      if (sys_pivot_root (".", ".") < 0)
        return moat_err (err, errno, "pivot_root");
      /* rslave first, so detaching the old root's mounts is not propagated back
         to the host's peers. */
      if (mount (NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0)
        return moat_err (err, errno, "make the old root rslave");
      if (umount2 (".", MNT_DETACH) < 0)
        return moat_err (err, errno, "detach the old root");
    }
  if (chdir ("/") < 0)
    return moat_err (err, errno, "chdir to the container root");
  return 0;
}

static bool
under_proc (const char *path)
{
  cleanup_free char *clean = moat_path_clean (path);

  return clean && (strcmp (clean, "/proc") == 0 || strncmp (clean, "/proc/", 6) == 0);
}

/* Resolve PATH in the new root; ENOENT leaves *FD at -1 (a path the kernel
   does not have is skipped), anything else fails.  A path under /proc must land
   on procfs, else a fake /proc would take the mask while the real file stays
   visible (CVE-2019-16884). */
static int
open_listed (struct moat_rootfs_ctx *ctx, const char *field, size_t i, const char *path, int *fd,
             struct moat_error *err)
{
  struct moat_error e = { 0 };
  struct statfs sfs;

  *fd = moat_open_in_root (ctx->rootfd, path, O_PATH, 0, &e);
  if (*fd < 0 && e.code == ENOENT)
    return 0;
  if (*fd < 0)
    {
      if (err)
        *err = e;
      return moat_error_wrap (err, "%s[%zu]", field, i);
    }
  if (under_proc (path) && (fstatfs (*fd, &sfs) < 0 || sfs.f_type != PROC_SUPER_MAGIC))
    {
      close (*fd);
      *fd = -1;
      return moat_err (err, EPERM, "%s[%zu]: `%s` is not on procfs", field, i, path);
    }
  return 0;
}

static int
devnull_clone (struct moat_rootfs_ctx *ctx, int target, const char *path, size_t i, struct moat_error *err)
{
  cleanup_fd int tree = open_tree (ctx->host_devnull_fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);

  if (tree < 0 && errno == EINVAL)
    {
      /* Kernels before 6.15 cannot clone a detached mount: attach the clone
         itself; once attached it can be cloned for the next path. */
      if (moat_attach_tree (ctx->host_devnull_fd, target, path, err) < 0)
        return moat_error_wrap (err, "linux.maskedPaths[%zu]", i);
      return 0;
    }
  if (tree < 0)
    return moat_err (err, errno, "linux.maskedPaths[%zu]: clone the host `/dev/null`", i);
  if (moat_attach_tree (tree, target, path, err) < 0)
    return moat_error_wrap (err, "linux.maskedPaths[%zu]", i);
  return 0;
}

static int
mask_path (struct moat_rootfs_ctx *ctx, size_t i, struct moat_error *err)
{
  const char *path = ctx->spec->linux.masked_paths.v[i];
  cleanup_fd int target = -1, fsfd = -1, mnt = -1;
  struct stat st;

  if (open_listed (ctx, "linux.maskedPaths", i, path, &target, err) < 0)
    return -1;
  if (target < 0)
    return 0;
  if (fstat (target, &st) < 0)
    return moat_err (err, errno, "linux.maskedPaths[%zu]: stat `%s`", i, path);
  if (!S_ISDIR (st.st_mode))
    return devnull_clone (ctx, target, path, i, err);
  /* A directory: an empty tmpfs, read-only in the superblock and the mount. */
  fsfd = fsopen ("tmpfs", FSOPEN_CLOEXEC);
  if (fsfd < 0 || fsconfig (fsfd, FSCONFIG_SET_STRING, "mode", "0555", 0) < 0
      || fsconfig (fsfd, FSCONFIG_SET_FLAG, "ro", NULL, 0) < 0
      || fsconfig (fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
    return moat_err (err, errno, "linux.maskedPaths[%zu]: create a tmpfs for `%s`", i, path);
  mnt = fsmount (fsfd, FSMOUNT_CLOEXEC, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
  if (mnt < 0)
    return moat_err (err, errno, "linux.maskedPaths[%zu]: mount a tmpfs for `%s`", i, path);
  if (moat_attach_tree (mnt, target, path, err) < 0)
    return moat_error_wrap (err, "linux.maskedPaths[%zu]", i);
  return 0;
}

static int
readonly_path (struct moat_rootfs_ctx *ctx, size_t i, struct moat_error *err)
{
  const char *path = ctx->spec->linux.readonly_paths.v[i];
  struct mount_attr attr = { .attr_set = MOUNT_ATTR_RDONLY };
  cleanup_fd int target = -1, tree = -1;

  if (open_listed (ctx, "linux.readonlyPaths", i, path, &target, err) < 0)
    return -1;
  if (target < 0)
    return 0;
  tree = open_tree (target, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE | AT_EMPTY_PATH);
  if (tree < 0)
    return moat_err (err, errno, "linux.readonlyPaths[%zu]: bind `%s`", i, path);
  if (mount_setattr (tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) < 0)
    return moat_err (err, errno, "linux.readonlyPaths[%zu]: make `%s` read-only", i, path);
  if (moat_attach_tree (tree, target, path, err) < 0)
    return moat_error_wrap (err, "linux.readonlyPaths[%zu]", i);
  return 0;
}

int
moat_rootfs_finalize (struct moat_rootfs_ctx *ctx, struct moat_error *err)
{
  const struct moat_spec *spec = ctx->spec;
  unsigned long prop = root_propagation (spec);
  size_t i;

  for (i = 0; spec->has_linux && i < spec->linux.masked_paths.n; i++)
    if (mask_path (ctx, i, err) < 0)
      return -1;
  for (i = 0; spec->has_linux && i < spec->linux.readonly_paths.n; i++)
    if (readonly_path (ctx, i, err) < 0)
      return -1;
  if (spec->root_readonly)
    {
      /* Only MOUNT_ATTR_RDONLY on the root mount itself: the flags a user
         namespace locked stay as they are, and volumes below stay writable. */
      struct mount_attr attr = { .attr_set = MOUNT_ATTR_RDONLY };
      if (mount_setattr (AT_FDCWD, "/", 0, &attr, sizeof attr) < 0)
        return moat_err (err, errno, "root.readonly: make `/` read-only");
    }
  if ((prop & PROPAGATION_FLAGS) && !(prop & MS_PRIVATE)
      && mount (NULL, "/", NULL, prop & (PROPAGATION_FLAGS | MS_REC), NULL) < 0)
    return moat_err (err, errno, "linux.rootfsPropagation: set the propagation of `/`");
  return 0;
}

/* A writable handle on the container's /proc/sys: readonlyPaths usually holds
   /proc/sys, so write through a private clone of that mount with the read-only
   flag cleared on the clone only.  Falls back to PROCSYS itself when the clone
   cannot be made writable (a locked flag). */
static int
procsys_handle (int procsys)
{
  struct mount_attr attr = { .attr_clr = MOUNT_ATTR_RDONLY };
  int tree = open_tree (procsys, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);

  if (tree < 0)
    return dup (procsys);
  if (mount_setattr (tree, "", AT_EMPTY_PATH, &attr, sizeof attr) < 0)
    {
      close (tree);
      return dup (procsys);
    }
  return tree;
}

static int
write_sysctl (int base, const char *key, const char *value, struct moat_error *err)
{
  cleanup_free char *rel = strdup (key);
  cleanup_fd int fd = -1;
  struct statfs sfs;
  size_t len = strlen (value);
  ssize_t n;
  char *p;

  if (rel == NULL)
    return moat_err (err, ENOMEM, "linux.sysctl `%s`", key);
  for (p = rel; *p; p++)
    if (*p == '.')
      *p = '/';
  /* Beneath /proc/sys only: no "..", no symlink, no mount crossing
     (CVE-2022-0811, CVE-2025-52881). */
  fd = sys_openat2 (base, rel, O_WRONLY | O_CLOEXEC | O_NOCTTY, 0,
                    RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV);
  if (fd < 0)
    return moat_err (err, errno, "linux.sysctl `%s`: open `/proc/sys/%s`", key, rel);
  if (fstatfs (fd, &sfs) < 0 || sfs.f_type != PROC_SUPER_MAGIC)
    return moat_err (err, EPERM, "linux.sysctl `%s`: `/proc/sys/%s` is not on procfs", key, rel);
  do
    n = write (fd, value, len);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    return moat_err (err, errno, "linux.sysctl `%s`: write `%s`", key, value);
  if ((size_t) n != len)
    return moat_err (err, EIO, "linux.sysctl `%s`: short write of `%s`", key, value);
  return 0;
}

int
moat_sysctl_apply (const struct moat_spec *spec, struct moat_error *err)
{
  cleanup_fd int procsys = -1, base = -1;
  struct statfs sfs;
  size_t i;

  if (!spec->has_linux || spec->linux.sysctl.n == 0)
    return 0;
  procsys = sys_openat2 (AT_FDCWD, "/proc/sys", O_PATH | O_DIRECTORY | O_CLOEXEC, 0,
                         RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
  if (procsys < 0)
    return moat_err (err, errno, "linux.sysctl: open `/proc/sys`");
  if (fstatfs (procsys, &sfs) < 0 || sfs.f_type != PROC_SUPER_MAGIC)
    return moat_err (err, EPERM, "linux.sysctl: `/proc/sys` is not on procfs");
  base = procsys_handle (procsys);
  if (base < 0)
    return moat_err (err, errno, "linux.sysctl: open `/proc/sys`");
  for (i = 0; i < spec->linux.sysctl.n; i++)
    if (write_sysctl (base, spec->linux.sysctl.v[i].key, spec->linux.sysctl.v[i].value, err) < 0)
      return -1;
  return 0;
}
