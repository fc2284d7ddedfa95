/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <linux/magic.h>

#include "sandbox/mount_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/fs.h"
#include "util/syscalls.h"

#define ATIME_FLAGS (MS_NOATIME | MS_RELATIME | MS_STRICTATIME)
#define MNT_FLAGS (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NODIRATIME | MS_NOSYMFOLLOW | ATIME_FLAGS)
#define SB_FLAGS (MS_SYNCHRONOUS | MS_DIRSYNC | MS_LAZYTIME | MS_MANDLOCK | MS_I_VERSION)
/* Expressed by other fields of struct moat_mount (bind, recursive,
   propagation), harmless (MS_SILENT only quietens the kernel log), or what a
   bind mount does anyway (MS_REMOUNT: its flags are set in a second step). */
#define OTHER_FLAGS (MS_SILENT | MS_BIND | MS_REC | MS_SHARED | MS_SLAVE | MS_PRIVATE | MS_UNBINDABLE | MS_REMOUNT)
#define PROPAGATION_FLAGS (MS_SHARED | MS_SLAVE | MS_PRIVATE | MS_UNBINDABLE)
#define COPY_MAX_DEPTH 128

static uint64_t
ms_to_attr (unsigned long ms)
{
  uint64_t a = 0;

  if (ms & MS_RDONLY)
    a |= MOUNT_ATTR_RDONLY;
  if (ms & MS_NOSUID)
    a |= MOUNT_ATTR_NOSUID;
  if (ms & MS_NODEV)
    a |= MOUNT_ATTR_NODEV;
  if (ms & MS_NOEXEC)
    a |= MOUNT_ATTR_NOEXEC;
  if (ms & MS_NODIRATIME)
    a |= MOUNT_ATTR_NODIRATIME;
  if (ms & MS_NOSYMFOLLOW)
    a |= MOUNT_ATTR_NOSYMFOLLOW;
  /* As path_mount(): strictatime beats noatime, relatime is the default. */
  if (ms & MS_STRICTATIME)
    a |= MOUNT_ATTR_STRICTATIME;
  else if (ms & MS_NOATIME)
    a |= MOUNT_ATTR_NOATIME;
  return a;
}

int
moat_mount_attrs_from_spec (const struct moat_mount *m, size_t idx, struct moat_mount_attrs *a,
                            struct moat_error *err)
{
  unsigned long bad = (m->flags | m->clear_flags) & ~(MNT_FLAGS | SB_FLAGS | OTHER_FLAGS);

  memset (a, 0, sizeof *a);
  if (bad != 0)
    return moat_err (err, EINVAL, "mounts[%zu].options: unsupported mount flags 0x%lx", idx, bad);
  a->set = ms_to_attr (m->flags);
  if (m->nosymfollow)
    a->set |= MOUNT_ATTR_NOSYMFOLLOW;
  a->clr = ms_to_attr (m->clear_flags & ~ATIME_FLAGS) & ~a->set;
  /* mount_setattr() changes the atime mode only when MOUNT_ATTR__ATIME is in
     attr_clr; "atime", "norelatime" ... fall back to the kernel default. */
  if ((m->flags | m->clear_flags) & ATIME_FLAGS)
    a->clr |= MOUNT_ATTR__ATIME;
  if (m->recursive_ro)
    a->rec_set |= MOUNT_ATTR_RDONLY;
  if (m->recursive_nosuid)
    a->rec_set |= MOUNT_ATTR_NOSUID;
  if (m->recursive_nodev)
    a->rec_set |= MOUNT_ATTR_NODEV;
  if (m->recursive_noexec)
    a->rec_set |= MOUNT_ATTR_NOEXEC;
  a->sb_flags = m->flags & SB_FLAGS;
  return 0;
}

int
moat_fd_rel_path (int rootfd, int fd, char *rel, size_t size, struct moat_error *err)
{
  char root[PATH_MAX], path[PATH_MAX];
  size_t len;

  if (moat_fd_path (rootfd, root, sizeof root, err) < 0 || moat_fd_path (fd, path, sizeof path, err) < 0)
    return -1;
  len = strcmp (root, "/") == 0 ? 0 : strlen (root);
  if (strncmp (path, root, len) != 0 || (path[len] != '\0' && path[len] != '/'))
    return moat_err (err, EXDEV, "`%s` is outside the container root `%s`", path, root);
  if (snprintf (rel, size, "%s", path[len] ? path + len : "/") >= (int) size)
    return moat_err (err, ENAMETOOLONG, "`%s`", path);
  return 0;
}

int
moat_attach_tree (int tree_fd, int target_fd, const char *what, struct moat_error *err)
{
  if (move_mount (tree_fd, "", target_fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
    return moat_err (err, errno, "attach the mount on `%s`", what);
  return 0;
}

static int
set_attrs (int mnt_fd, uint64_t set, uint64_t clr, bool recursive)
{
  struct mount_attr attr = { .attr_set = set, .attr_clr = clr };

  if (set == 0 && clr == 0)
    return 0;
  return mount_setattr (mnt_fd, "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), &attr, sizeof attr);
}

static int
apply_propagation (int mnt_fd, const struct moat_mount *m, size_t idx, struct moat_error *err)
{
  struct mount_attr attr = { .propagation = m->propagation & PROPAGATION_FLAGS };

  if (attr.propagation == 0)
    return 0;
  if (mount_setattr (mnt_fd, "", AT_EMPTY_PATH | ((m->propagation & MS_REC) ? AT_RECURSIVE : 0), &attr,
                     sizeof attr) < 0)
    return moat_err (err, errno, "mounts[%zu].options: set the propagation of `%s`", idx, m->destination);
  return 0;
}

/* runc's checkProcMount: nothing but procfs goes on /proc, and below it only the
   files lxcfs emulates, so that a mount cannot hide or fake the procfs files the
   runtime writes through or masks (CVE-2019-16884).  REL is the destination as
   resolved inside the rootfs, so a symlink cannot sneak past the check. */
static int
check_proc_dest (const char *rel, const struct moat_mount *m, size_t idx, int src_fd, struct moat_error *err)
{
  static const char *const allowed[] = {
    "/proc/cpuinfo", "/proc/diskstats", "/proc/meminfo", "/proc/stat", "/proc/swaps",
    "/proc/uptime", "/proc/loadavg", "/proc/slabinfo", "/proc/pressure/cpu",
    "/proc/pressure/io", "/proc/pressure/memory", "/proc/net/dev", "/proc/sys/kernel/ns_last_pid",
  };
  struct statfs sfs;
  size_t i;

  if (strcmp (rel, "/proc") == 0)
    {
      if (!m->bind && m->type && strcmp (m->type, "proc") == 0)
        return 0;
      if (src_fd >= 0 && fstatfs (src_fd, &sfs) == 0 && sfs.f_type == PROC_SUPER_MAGIC)
        return 0;
      return moat_err (err, EPERM, "mounts[%zu].destination: only procfs may be mounted on `/proc`", idx);
    }
  if (strncmp (rel, "/proc/", 6) != 0)
    return 0;
  for (i = 0; i < MOAT_ARRAY_SIZE (allowed); i++)
    if (strcmp (rel, allowed[i]) == 0)
      return 0;
  return moat_err (err, EPERM, "mounts[%zu].destination: `%s` is inside /proc", idx, m->destination);
}

/* proc and sysfs go only on an ordinary directory: no symlink anywhere in the
   destination, so a racing rename cannot move the mount (CVE-2019-19921,
   CVE-2023-27561).  Others are created and resolved beneath the root. */
static int
open_target (struct moat_rootfs_ctx *ctx, const struct moat_mount *m, size_t idx, bool is_dir, bool strict,
             struct moat_error *err)
{
  const char *dest = m->destination;
  int fd;

  if (!strict)
    {
      fd = moat_ensure_in_root (ctx->rootfd, dest, is_dir, err);
      if (fd < 0)
        return moat_error_wrap (err, "mounts[%zu].destination", idx);
      return fd;
    }
  while (*dest == '/')
    dest++;
  if (*dest == '\0')
    return moat_err (err, EINVAL, "mounts[%zu].destination: cannot mount %s on the root", idx, m->type);
  fd = sys_openat2 (ctx->rootfd, dest, O_PATH | O_DIRECTORY | O_CLOEXEC, 0,
                    RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
  if (fd < 0 && errno == ENOENT)
    {
      int made = moat_mkdir_all_in_root (ctx->rootfd, dest, 0755, err);
      if (made < 0)
        return moat_error_wrap (err, "mounts[%zu].destination", idx);
      close (made);
      fd = sys_openat2 (ctx->rootfd, dest, O_PATH | O_DIRECTORY | O_CLOEXEC, 0,
                        RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
    }
  if (fd < 0 && (errno == ELOOP || errno == ENOTDIR))
    return moat_err (err, errno, "mounts[%zu].destination: %s must be mounted on an ordinary directory, `%s` is not",
                     idx, m->type, m->destination);
  if (fd < 0)
    return moat_err (err, errno, "mounts[%zu].destination: open `%s`", idx, m->destination);
  return fd;
}

static int
fs_fail (int fsfd, int errnum, size_t idx, const char *what, const char *type, struct moat_error *err)
{
  char log[512];
  ssize_t n;

  /* The fs_context log carries the kernel's reason ("e tmpfs: Bad value for
     'size'"), far more useful than the bare errno. */
  n = read (fsfd, log, sizeof log - 1);
  if (n > 2)
    {
      log[n] = '\0';
      log[strcspn (log, "\n")] = '\0';
      return moat_err (err, errnum, "mounts[%zu]: %s %s (%s)", idx, type, what, log + 2);
    }
  return moat_err (err, errnum, "mounts[%zu]: %s %s", idx, type, what);
}

/* fsopen + fsconfig of TYPE with SOURCE and the comma-separated DATA. */
static int
fs_create (const char *type, const char *source, const char *data, unsigned long sb_flags, size_t idx,
           struct moat_error *err)
{
  static const struct { unsigned long ms; const char *name; } sb_names[] = {
    { MS_SYNCHRONOUS, "sync" }, { MS_DIRSYNC, "dirsync" }, { MS_LAZYTIME, "lazytime" }, { MS_MANDLOCK, "mand" },
    { MS_I_VERSION, "iversion" },
  };
  cleanup_fd int fsfd = fsopen (type, FSOPEN_CLOEXEC);
  cleanup_free char *copy = NULL;
  char *save = NULL, *opt;
  size_t i;

  if (fsfd < 0)
    return moat_err (err, errno, "mounts[%zu].type: fsopen `%s`", idx, type);
  if (source && *source && fsconfig (fsfd, FSCONFIG_SET_STRING, "source", source, 0) < 0)
    return fs_fail (fsfd, errno, idx, "source", type, err);
  for (i = 0; i < MOAT_ARRAY_SIZE (sb_names); i++)
    if ((sb_flags & sb_names[i].ms) && fsconfig (fsfd, FSCONFIG_SET_FLAG, sb_names[i].name, NULL, 0) < 0)
      return fs_fail (fsfd, errno, idx, sb_names[i].name, type, err);
  if (data)
    {
      copy = strdup (data);
      if (copy == NULL)
        return moat_err (err, ENOMEM, "mounts[%zu]", idx);
      for (opt = strtok_r (copy, ",", &save); opt; opt = strtok_r (NULL, ",", &save))
        {
          char *eq = strchr (opt, '=');
          int r;

          if (eq)
            {
              *eq = '\0';
              r = fsconfig (fsfd, FSCONFIG_SET_STRING, opt, eq + 1, 0);
            }
          else
            r = fsconfig (fsfd, FSCONFIG_SET_FLAG, opt, NULL, 0);
          if (r < 0)
            {
              char what[256];
              snprintf (what, sizeof what, "option `%s`", opt);
              return fs_fail (fsfd, errno, idx, what, type, err);
            }
        }
    }
  if (fsconfig (fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
    return fs_fail (fsfd, errno, idx, "create", type, err);
  return steal_fd (&fsfd);
}

static bool
data_has_key (const char *data, const char *key)
{
  size_t n = strlen (key);
  const char *p = data;

  while (p && *p)
    {
      if (strncmp (p, key, n) == 0 && p[n] == '=')
        return true;
      p = strchr (p, ',');
      if (p)
        p++;
    }
  return false;
}

/* A copy-up keeps the directory it replaces: without this the tmpfs root would
   be the tmpfs default 1777, a world-writable /etc for instance.  Explicit
   mode=, uid=, gid= options win. */
static int
copy_root_attrs (int src, int dst, const char *data)
{
  struct stat st;

  if (fstat (src, &st) < 0)
    return -1;
  if (fchown (dst, data_has_key (data, "uid") ? (uid_t) -1 : st.st_uid,
              data_has_key (data, "gid") ? (gid_t) -1 : st.st_gid) < 0)
    return -1;
  if (!data_has_key (data, "mode") && fchmod (dst, st.st_mode & 07777) < 0)
    return -1;
  return 0;
}

static int
mount_new (struct moat_rootfs_ctx *ctx, const struct moat_mount *m, size_t idx,
           const struct moat_mount_attrs *a, struct moat_error *err)
{
  bool strict = strcmp (m->type, "proc") == 0 || strcmp (m->type, "sysfs") == 0;
  uint64_t set = a->set | a->rec_set;
  cleanup_fd int target = -1, fsfd = -1, mnt = -1;
  char rel[PATH_MAX];

  target = open_target (ctx, m, idx, true, strict, err);
  if (target < 0)
    return -1;
  if (moat_fd_rel_path (ctx->rootfd, target, rel, sizeof rel, err) < 0
      || check_proc_dest (rel, m, idx, -1, err) < 0)
    return moat_error_wrap (err, "mounts[%zu]", idx);
  fsfd = fs_create (m->type, m->source, m->data, a->sb_flags, idx, err);
  if (fsfd < 0)
    return -1;
  /* The attributes go to fsmount() itself: in a user namespace a proc or sysfs
     mount must be at least as restricted as the visible one from the start
     (mount_too_revealing()).  tmpcopyup fills the tmpfs before making it ro. */
  mnt = fsmount (fsfd, FSMOUNT_CLOEXEC, (unsigned int) (m->tmpcopyup ? set & ~MOUNT_ATTR_RDONLY : set));
  if (mnt < 0)
    return fs_fail (fsfd, errno, idx, "mount", m->type, err);
  if (m->tmpcopyup)
    {
      cleanup_fd int src = openat (target, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      cleanup_fd int dst = openat (mnt, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

      if (src < 0 || dst < 0)
        return moat_err (err, errno, "mounts[%zu]: tmpcopyup `%s`", idx, m->destination);
      if (copy_root_attrs (src, dst, m->data) < 0)
        return moat_err (err, errno, "mounts[%zu]: tmpcopyup `%s`: copy owner and mode", idx, m->destination);
      if (moat_copy_tree (src, dst, err) < 0)
        return moat_error_wrap (err, "mounts[%zu]: tmpcopyup `%s`", idx, m->destination);
      if (set_attrs (mnt, set & MOUNT_ATTR_RDONLY, 0, false) < 0)
        return moat_err (err, errno, "mounts[%zu]: make `%s` read-only", idx, m->destination);
    }
  if (moat_attach_tree (mnt, target, m->destination, err) < 0)
    return moat_error_wrap (err, "mounts[%zu]", idx);
  return apply_propagation (mnt, m, idx, err);
}

static int
mount_bind (struct moat_rootfs_ctx *ctx, const struct moat_mount *m, size_t idx, const struct moat_mount_attrs *a,
            const char *source, bool recursive, bool strict, struct moat_error *err)
{
  cleanup_fd int tree = -1, target = -1;
  char rel[PATH_MAX];
  struct stat st;

  if (source == NULL || *source == '\0')
    return moat_err (err, EINVAL, "mounts[%zu].source: required for a bind mount", idx);
  if (a->sb_flags)
    return moat_err (err, EINVAL, "mounts[%zu].options: sync, dirsync, lazytime, mand and iversion "
                     "cannot apply to a bind mount", idx);
  if (m->data && *m->data)
    return moat_err (err, EINVAL, "mounts[%zu].options: `%s` is not supported for a bind mount", idx, m->data);
  if (m->tmpcopyup)
    return moat_err (err, EINVAL, "mounts[%zu].options: tmpcopyup needs a tmpfs mount", idx);
  /* The source is a host path chosen by the operator, resolved before
     pivot_root; the clone is detached until it is moved onto the target fd.
     An idmapped mount was cloned and mapped by the parent (sandbox/idmap.c). */
  if (m->idmap)
    {
      if (ctx->mount_tree_fds == NULL || ctx->mount_tree_fds[idx] < 0)
        return moat_err (err, EPROTO, "mounts[%zu]: no idmapped tree from the runtime", idx);
      tree = ctx->mount_tree_fds[idx];
      ctx->mount_tree_fds[idx] = -1;
    }
  else
    tree = open_tree (AT_FDCWD, source, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (recursive ? AT_RECURSIVE : 0));
  if (tree < 0)
    return moat_err (err, errno, "mounts[%zu].source: `%s`", idx, source);
  if (fstat (tree, &st) < 0)
    return moat_err (err, errno, "mounts[%zu].source: stat `%s`", idx, source);
  target = open_target (ctx, m, idx, S_ISDIR (st.st_mode), strict, err);
  if (target < 0)
    return -1;
  if (moat_fd_rel_path (ctx->rootfd, target, rel, sizeof rel, err) < 0
      || check_proc_dest (rel, m, idx, tree, err) < 0)
    return moat_error_wrap (err, "mounts[%zu]", idx);
  /* mount_setattr() on the detached tree changes only what is asked: it never
     tries to clear a flag locked by a user namespace, which a MS_REMOUNT|MS_BIND
     with a recomputed flag set does (EPERM). */
  if (set_attrs (tree, a->set, a->clr, false) < 0)
    return moat_err (err, errno, "mounts[%zu].options: set the flags of `%s`", idx, m->destination);
  if (set_attrs (tree, a->rec_set, 0, true) < 0)
    return moat_err (err, errno, "mounts[%zu].options: set the recursive flags of `%s`", idx, m->destination);
  if (moat_attach_tree (tree, target, m->destination, err) < 0)
    return moat_error_wrap (err, "mounts[%zu]", idx);
  return apply_propagation (tree, m, idx, err);
}

static int
mount_cgroup (struct moat_rootfs_ctx *ctx, const struct moat_mount *m, size_t idx, struct moat_error *err)
{
  cleanup_fd int target = -1, top = -1;
  unsigned long flags = m->flags;

  if (ctx->cgroup == NULL)
    return moat_err (err, EINVAL, "mounts[%zu]: a cgroup mount needs the container's cgroup", idx);
  if (moat_rootfs_await_cgroup (ctx, err) < 0)
    return -1;
  target = open_target (ctx, m, idx, true, true, err);
  if (target < 0)
    return -1;
  /* Without a cgroup namespace of its own the mount binds host hierarchies
     (the container's cgroup directories), which a writable mount would let
     the container write: move itself out, raise its limits (CVE-2023-25809,
     rootless runc with the host cgroupns).  So read-only unless "rw" is asked
     for explicitly, and always read-only in a user namespace, moat's analogue
     of rootless: there the container's root is not the host root an explicit
     "rw" could be meant for, and whatever a host helper delegates to its uid
     would become writable. */
  if (!ctx->private_cgroupns && (ctx->userns || !(m->clear_flags & MS_RDONLY)))
    flags |= MS_RDONLY;
  if (moat_cgroup_mount (ctx->cgroup, target, flags, ctx->private_cgroupns, err) < 0)
    return moat_error_wrap (err, "mounts[%zu] (cgroup on `%s`)", idx, m->destination);
  if ((m->propagation & PROPAGATION_FLAGS) == 0)
    return 0;
  /* TARGET is the directory beneath the new mount: look the top up again. */
  top = moat_open_in_root (ctx->rootfd, m->destination, O_PATH | O_DIRECTORY, 0, err);
  if (top < 0)
    return moat_error_wrap (err, "mounts[%zu]", idx);
  return apply_propagation (top, m, idx, err);
}

int
moat_mount_entry (struct moat_rootfs_ctx *ctx, const struct moat_mount *m, size_t idx, struct moat_error *err)
{
  struct moat_mount_attrs a;
  bool bind = m->bind || (m->flags & MS_BIND) || (m->type && strcmp (m->type, "bind") == 0);
  struct moat_error first = { 0 };
  cleanup_free char *clean = NULL;

  if (m->destination == NULL || m->destination[0] != '/')
    return moat_err (err, EINVAL, "mounts[%zu].destination: must be an absolute path", idx);
  /* A mount over the root itself would sit above ctx->rootfd, where every
     later lookup starts, and so hide nothing but confuse everything. */
  clean = moat_path_clean (m->destination);
  if (clean == NULL)
    return moat_err (err, ENOMEM, "mounts[%zu].destination", idx);
  if (strcmp (clean, "/") == 0)
    return moat_err (err, EINVAL, "mounts[%zu].destination: cannot mount over the container root", idx);
  if (moat_mount_attrs_from_spec (m, idx, &a, err) < 0)
    return -1;
  if (bind)
    return mount_bind (ctx, m, idx, &a, m->source, m->recursive, false, err);
  if (m->type == NULL || *m->type == '\0')
    return moat_err (err, EINVAL, "mounts[%zu].type: required for a mount that is not a bind mount", idx);
  if (m->flags & MS_REMOUNT)
    return moat_err (err, EINVAL, "mounts[%zu].options: `remount` applies only to a bind mount", idx);
  if (strcmp (m->type, "cgroup") == 0 || strcmp (m->type, "cgroup2") == 0)
    return mount_cgroup (ctx, m, idx, err);
  if (strcmp (m->type, "sysfs") != 0 || !ctx->userns)
    return mount_new (ctx, m, idx, &a, err);
  /* sysfs belongs to the network namespace: a user namespace that does not own
     one cannot mount it (EPERM, or EBUSY on older kernels).  As runc does, bind
     the host's /sys instead, and read-only all the way down. */
  if (mount_new (ctx, m, idx, &a, &first) == 0)
    return 0;
  if (first.code != EPERM && first.code != EBUSY)
    {
      if (err)
        *err = first;
      return -1;
    }
  a.rec_set |= MOUNT_ATTR_RDONLY;
  return mount_bind (ctx, m, idx, &a, "/sys", true, true, err);
}

/* ---- tmpcopyup ------------------------------------------------------- */

static int
copy_meta (int dirfd, const char *name, int fd, const struct stat *st, struct moat_error *err)
{
  struct timespec times[2] = { st->st_atim, st->st_mtim };

  /* Owner before mode: chown clears the set-id bits. */
  if (fd >= 0)
    {
      if (fchown (fd, st->st_uid, st->st_gid) < 0 || fchmod (fd, st->st_mode & 07777) < 0
          || futimens (fd, times) < 0)
        return moat_err (err, errno, "copy the attributes of `%s`", name);
      return 0;
    }
  if (fchownat (dirfd, name, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW) < 0
      || utimensat (dirfd, name, times, AT_SYMLINK_NOFOLLOW) < 0)
    return moat_err (err, errno, "copy the attributes of `%s`", name);
  if (!S_ISLNK (st->st_mode) && fchmodat (dirfd, name, st->st_mode & 07777, 0) < 0)
    return moat_err (err, errno, "chmod `%s`", name);
  return 0;
}

static int
copy_file (int src_dir, int dst_dir, const char *name, const struct stat *st, struct moat_error *err)
{
  cleanup_fd int in = openat (src_dir, name, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
  cleanup_fd int out = -1;
  struct stat now;
  off_t left;

  if (in < 0)
    return moat_err (err, errno, "open `%s`", name);
  /* Re-check after open: the entry may have been swapped since readdir. */
  if (fstat (in, &now) < 0 || !S_ISREG (now.st_mode))
    return moat_err (err, EIO, "`%s` changed while being copied", name);
  out = openat (dst_dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (out < 0)
    return moat_err (err, errno, "create `%s`", name);
  for (left = now.st_size; left > 0;)
    {
      ssize_t n = sendfile (out, in, NULL, (size_t) left);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return moat_err (err, errno, "copy `%s`", name);
      if (n == 0)
        break;
      left -= n;
    }
  return copy_meta (dst_dir, name, out, st, err);
}

static int
copy_entry (int src_dir, int dst_dir, const char *name, int depth, struct moat_error *err);

struct copy_arg
{
  int dst_dir, depth;
  struct moat_error *err;
};

static int
copy_one (int src_dir, const char *name, void *arg)
{
  struct copy_arg *a = arg;

  return copy_entry (src_dir, a->dst_dir, name, a->depth, a->err);
}

static int
copy_dir_contents (int src_dir, int dst_dir, int depth, struct moat_error *err)
{
  struct copy_arg a = { .dst_dir = dst_dir, .depth = depth, .err = err };

  if (depth > COPY_MAX_DEPTH)
    return moat_err (err, ELOOP, "directory tree deeper than %d levels", COPY_MAX_DEPTH);
  return moat_for_each_entry (src_dir, copy_one, &a, err);
}

static int
copy_entry (int src_dir, int dst_dir, const char *name, int depth, struct moat_error *err)
{
  struct stat st;

  if (fstatat (src_dir, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
    return moat_err (err, errno, "stat `%s`", name);
  if (S_ISDIR (st.st_mode))
    {
      cleanup_fd int sub_src = -1, sub_dst = -1;

      sub_src = openat (src_dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (sub_src < 0)
        return moat_err (err, errno, "open `%s`", name);
      if (mkdirat (dst_dir, name, 0700) < 0)
        return moat_err (err, errno, "mkdir `%s`", name);
      sub_dst = openat (dst_dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (sub_dst < 0)
        return moat_err (err, errno, "open `%s`", name);
      if (copy_dir_contents (sub_src, sub_dst, depth + 1, err) < 0)
        return moat_error_wrap (err, "`%s`", name);
      return copy_meta (dst_dir, name, sub_dst, &st, err);
    }
  if (S_ISREG (st.st_mode))
    return copy_file (src_dir, dst_dir, name, &st, err);
  if (S_ISLNK (st.st_mode))
    {
      char target[PATH_MAX];
      ssize_t n = readlinkat (src_dir, name, target, sizeof target - 1);

      if (n < 0)
        return moat_err (err, errno, "readlink `%s`", name);
      target[n] = '\0';
      if (symlinkat (target, dst_dir, name) < 0)
        return moat_err (err, errno, "symlink `%s`", name);
      return copy_meta (dst_dir, name, -1, &st, err);
    }
  if (mknodat (dst_dir, name, st.st_mode, st.st_rdev) < 0)
    return moat_err (err, errno, "mknod `%s`", name);
  return copy_meta (dst_dir, name, -1, &st, err);
}

int
moat_copy_tree (int src_dir, int dst_dir, struct moat_error *err)
{
  return copy_dir_contents (src_dir, dst_dir, 0, err);
}
