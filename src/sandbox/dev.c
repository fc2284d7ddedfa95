/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <linux/magic.h>

#include "sandbox/mount_internal.h"

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

#include "util/cleanup.h"
#include "util/fs.h"
#include "util/syscalls.h"

/* Every step here works beneath one fd of the rootfs's /dev, opened with
   RESOLVE_IN_ROOT after all mounts are in place: an image whose /dev is a
   symlink to a host directory gets it resolved inside the rootfs, never on the
   host (CVE-2026-41579).  Below that fd, names are created with mknodat and
   symlinkat, which never follow a symlink in the last component. */

#define BENEATH (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)

struct dev_node
{
  const char *path; /* below /dev */
  mode_t type;      /* S_IFCHR, S_IFBLK, S_IFIFO */
  dev_t rdev;
  mode_t mode;
  uid_t uid;
  gid_t gid;
};

static const struct
{
  const char *name;
  unsigned int major, minor;
} default_devices[] = {
  { "null", 1, 3 }, { "zero", 1, 5 }, { "full", 1, 7 }, { "random", 1, 8 }, { "urandom", 1, 9 }, { "tty", 5, 0 },
};

/* Remove NAME unless it is already a usable node: in a user namespace any
   non-directory can carry the bind mount; otherwise it must be the very node.
   A symlink is always removed, never followed. */
static int
clear_existing (int dirfd, const char *name, const struct dev_node *n, bool bind, bool *keep, struct moat_error *err)
{
  struct stat st;

  *keep = false;
  if (fstatat (dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
    {
      if (errno == ENOENT)
        return 0;
      return moat_err (err, errno, "stat `/dev/%s`", n->path);
    }
  if (S_ISDIR (st.st_mode))
    return moat_err (err, EISDIR, "`/dev/%s` exists and is a directory", n->path);
  if (bind ? (S_ISREG (st.st_mode) || S_ISCHR (st.st_mode) || S_ISBLK (st.st_mode))
           : ((st.st_mode & S_IFMT) == n->type && st.st_rdev == n->rdev))
    {
      *keep = true;
      return 0;
    }
  if (unlinkat (dirfd, name, 0) < 0)
    return moat_err (err, errno, "remove `/dev/%s`", n->path);
  return 0;
}

/* In a user namespace mknod of a device is not permitted: bind the host's node
   instead, after checking it really is the configured device. */
static int
bind_host_node (int dirfd, const char *name, const struct dev_node *n, struct moat_error *err)
{
  char host[PATH_MAX];
  cleanup_fd int tree = -1, target = -1;
  struct stat st;

  snprintf (host, sizeof host, "/dev/%s", n->path);
  tree = open_tree (AT_FDCWD, host, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
  if (tree < 0)
    return moat_err (err, errno, "bind the host device `%s`", host);
  if (fstat (tree, &st) < 0)
    return moat_err (err, errno, "stat the host device `%s`", host);
  if ((st.st_mode & S_IFMT) != n->type || st.st_rdev != n->rdev)
    return moat_err (err, ENODEV, "host `%s` is not the device %u:%u", host, major (n->rdev), minor (n->rdev));
  target = moat_ensure_in_root (dirfd, name, false, err);
  if (target < 0)
    return -1;
  return moat_attach_tree (tree, target, host, err);
}

static int
make_node (struct moat_rootfs_ctx *ctx, int devfd, const struct dev_node *n, struct moat_error *err)
{
  cleanup_free char *dir = strdup (n->path);
  cleanup_fd int parent = -1;
  const char *name;
  char *slash;
  bool bind = ctx->userns && n->type != S_IFIFO, keep;
  int dirfd = devfd;

  if (dir == NULL)
    return moat_err (err, ENOMEM, "`/dev/%s`", n->path);
  slash = strrchr (dir, '/');
  name = n->path;
  if (slash)
    {
      *slash = '\0';
      name = slash + 1;
      parent = moat_mkdir_all_in_root (devfd, dir, 0755, err);
      if (parent < 0)
        return -1;
      dirfd = parent;
    }
  if (*name == '\0' || strcmp (name, ".") == 0 || strcmp (name, "..") == 0)
    return moat_err (err, EINVAL, "`/dev/%s`: not a device name", n->path);
  if (clear_existing (dirfd, name, n, bind, &keep, err) < 0)
    return -1;
  if (bind)
    return bind_host_node (dirfd, name, n, err);
  /* A node that already is the device is left alone, as runc does: with /dev
     bound from the host it is the host's node. */
  if (keep)
    return 0;
  if (mknodat (dirfd, name, n->type | (n->mode & 0777), n->rdev) < 0)
    return moat_err (err, errno, "mknod `/dev/%s`", n->path);
  /* mknodat obeys the umask; set the configured mode and owner exactly. */
  if (fchownat (dirfd, name, n->uid, n->gid, AT_SYMLINK_NOFOLLOW) < 0)
    return moat_err (err, errno, "chown `/dev/%s`", n->path);
  if (fchmodat (dirfd, name, n->mode & 07777, AT_SYMLINK_NOFOLLOW) < 0)
    return moat_err (err, errno, "chmod `/dev/%s`", n->path);
  return 0;
}

static int
spec_device (const struct moat_device *d, size_t i, struct dev_node *n, struct moat_error *err)
{
  memset (n, 0, sizeof *n);
  if (d->path == NULL || strncmp (d->path, "/dev/", 5) != 0 || d->path[5] == '\0')
    return moat_err (err, EINVAL, "linux.devices[%zu].path: `%s` is not below /dev", i, d->path ? d->path : "");
  n->path = d->path + 5;
  while (*n->path == '/')
    n->path++;
  switch (d->type)
    {
    case 'c':
    case 'u':
      n->type = S_IFCHR;
      break;
    case 'b':
      n->type = S_IFBLK;
      break;
    case 'p':
      n->type = S_IFIFO;
      break;
    default:
      return moat_err (err, EINVAL, "linux.devices[%zu].type: unknown device type `%c`", i, d->type);
    }
  if (n->type != S_IFIFO
      && (d->major < 0 || d->minor < 0 || d->major > 0xfffff || d->minor > 0xfffff))
    return moat_err (err, EINVAL, "linux.devices[%zu]: bad device number %lld:%lld", i, (long long) d->major,
                     (long long) d->minor);
  n->rdev = n->type == S_IFIFO ? 0 : makedev ((unsigned int) d->major, (unsigned int) d->minor);
  n->mode = d->has_file_mode ? d->file_mode : 0666;
  n->uid = d->has_uid ? d->uid : 0;
  n->gid = d->has_gid ? d->gid : 0;
  return 0;
}

static int
make_links (int devfd, struct moat_error *err)
{
  static const struct { const char *target, *name; } links[] = {
    { "/proc/self/fd", "fd" }, { "/proc/self/fd/0", "stdin" },
    { "/proc/self/fd/1", "stdout" }, { "/proc/self/fd/2", "stderr" },
  };
  cleanup_fd int pts = -1;
  struct statfs sfs;
  size_t i;

  /* An entry the image already has is kept, as runc does. */
  for (i = 0; i < MOAT_ARRAY_SIZE (links); i++)
    if (symlinkat (links[i].target, devfd, links[i].name) < 0 && errno != EEXIST)
      return moat_err (err, errno, "symlink `/dev/%s`", links[i].name);
  /* /dev/ptmx must reach the container's own devpts instance. */
  pts = sys_openat2 (devfd, "pts", O_PATH | O_DIRECTORY | O_CLOEXEC, 0, BENEATH);
  if (pts < 0 || fstatfs (pts, &sfs) < 0 || sfs.f_type != DEVPTS_SUPER_MAGIC)
    return 0;
  if (unlinkat (devfd, "ptmx", 0) < 0 && errno != ENOENT)
    return moat_err (err, errno, "remove `/dev/ptmx`");
  if (symlinkat ("pts/ptmx", devfd, "ptmx") < 0)
    return moat_err (err, errno, "symlink `/dev/ptmx`");
  return 0;
}

/* The pty peer the init received for process.terminal.  Cloning by fd needs
   the pty's mount in this mount namespace; one opened before the unshare is
   found again by its path and must be the same inode. */
static int
clone_console (int console_fd, struct moat_error *err)
{
  char path[PATH_MAX];
  struct stat want, got;
  int tree;

  tree = open_tree (console_fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
  if (tree >= 0 || errno != EINVAL)
    {
      if (tree < 0)
        return moat_err (err, errno, "bind the console pty");
      return tree;
    }
  if (fstat (console_fd, &want) < 0)
    return moat_err (err, errno, "stat the console pty");
  if (moat_fd_path (console_fd, path, sizeof path, err) < 0)
    return -1;
  tree = open_tree (AT_FDCWD, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_SYMLINK_NOFOLLOW);
  if (tree < 0)
    return moat_err (err, errno, "bind the console pty `%s`", path);
  if (fstat (tree, &got) < 0 || got.st_dev != want.st_dev || got.st_ino != want.st_ino)
    {
      close (tree);
      return moat_err (err, EXDEV, "console pty `%s` is not the allocated one", path);
    }
  return tree;
}

/* /dev/console: an empty file that never follows a pre-existing symlink
   (CVE-2025-52565), with the pty bound on it through fds. */
static int
make_console (struct moat_rootfs_ctx *ctx, int devfd, struct moat_error *err)
{
  cleanup_fd int target = -1, tree = -1;
  struct stat st;

  if (fstatat (devfd, "console", &st, AT_SYMLINK_NOFOLLOW) == 0)
    {
      if (S_ISDIR (st.st_mode))
        return moat_err (err, EISDIR, "`/dev/console` exists and is a directory");
      if (!S_ISREG (st.st_mode) && !S_ISCHR (st.st_mode) && unlinkat (devfd, "console", 0) < 0)
        return moat_err (err, errno, "remove `/dev/console`");
    }
  if (mknodat (devfd, "console", S_IFREG | 0600, 0) < 0 && errno != EEXIST)
    return moat_err (err, errno, "create `/dev/console`");
  target = sys_openat2 (devfd, "console", O_PATH | O_NOFOLLOW | O_CLOEXEC, 0, BENEATH);
  if (target < 0)
    return moat_err (err, errno, "open `/dev/console`");
  if (fstat (target, &st) < 0)
    return moat_err (err, errno, "stat `/dev/console`");
  if (!S_ISREG (st.st_mode) && !S_ISCHR (st.st_mode))
    return moat_err (err, EPERM, "`/dev/console` was replaced while being set up");
  tree = clone_console (ctx->console_fd, err);
  if (tree < 0)
    return -1;
  if (fstat (tree, &st) < 0 || !S_ISCHR (st.st_mode))
    return moat_err (err, ENOTTY, "the console fd is not a terminal device");
  return moat_attach_tree (tree, target, "/dev/console", err);
}

int
moat_dev_setup (struct moat_rootfs_ctx *ctx, struct moat_error *err)
{
  const struct moat_spec *spec = ctx->spec;
  cleanup_fd int devfd = moat_mkdir_all_in_root (ctx->rootfd, "/dev", 0755, err);
  struct dev_node n;
  size_t i;

  if (devfd < 0)
    return moat_error_wrap (err, "/dev");
  for (i = 0; i < MOAT_ARRAY_SIZE (default_devices); i++)
    {
      n = (struct dev_node) { .path = default_devices[i].name, .type = S_IFCHR, .mode = 0666,
                              .rdev = makedev (default_devices[i].major, default_devices[i].minor) };
      if (make_node (ctx, devfd, &n, err) < 0)
        return moat_error_wrap (err, "default device `/dev/%s`", n.path);
    }
  for (i = 0; spec->has_linux && i < spec->linux.n_devices; i++)
    {
      if (spec_device (&spec->linux.devices[i], i, &n, err) < 0)
        return -1;
      if (make_node (ctx, devfd, &n, err) < 0)
        return moat_error_wrap (err, "linux.devices[%zu]", i);
    }
  if (make_links (devfd, err) < 0)
    return -1;
  if (ctx->console_fd >= 0 && make_console (ctx, devfd, err) < 0)
    return -1;
  return 0;
}
