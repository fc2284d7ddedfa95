/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Ownership of the rootfs and of volumes under a user namespace.
 *
 * The container's root is host uid 100000 (say); an image unpacked by host
 * root shows as nobody (65534) inside.  Two ways to fix that:
 *
 * - an idmapped mount (mount_setattr MOUNT_ATTR_IDMAP with the container's
 *   user namespace): on-disk uid N shows as container uid N, nothing on disk
 *   changes.  Only host root can make one (CAP_SYS_ADMIN over the
 *   superblock's namespace), so the parent builds the detached tree once the
 *   child's id maps are written and passes the fd over the sync socket; the
 *   init attaches it instead of its own clone.
 * - chown once: shift every owner of the tree into the mapped range, then
 *   write a stamp recording the mapping so it is not redone.
 *
 * The security consequence, and what moat does about it: through an
 * idmapped mount, what container root writes lands on disk as uid 0.  A
 * file container root creates and marks setuid is, on the host, a setuid
 * root binary that any host user who can reach the directory can run.
 * nosuid on the container's mount does not help: the host does not look
 * through that mount.  So:
 *   - the root is idmapped only when it is read-only (`moat run`'s default;
 *     an image's root is always read-only); a writable root takes the chown
 *     path instead, where container root's files are host uid 100000;
 *   - `moat run -v HOST:CTR:idmap` is accepted only read-only;
 *   - an OCI config gets the mounts it asks for (runc semantics: a bind
 *     mount with idmap/ridmap or uidMappings; the root only with the
 *     annotation org.moat.rootfs.idmap, and never writable), and every
 *     idmapped mount is nosuid and nodev whatever the config says.  A
 *     writable idmapped volume stays the engine's choice, as with runc and
 *     crun; docs/policy.md says what it costs. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "sandbox/idmap.h"
#include "sandbox/sandbox.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/syscalls.h"

#define WALK_MAX_DEPTH 256

int
moat_rootfs_idmap_mode (const struct moat_spec *spec, enum moat_rootfs_idmap *mode, struct moat_error *err)
{
  size_t i;

  *mode = MOAT_ROOTFS_IDMAP_OFF;
  for (i = 0; i < spec->annotations.n; i++)
    {
      const struct moat_kv *kv = &spec->annotations.v[i];

      if (strcmp (kv->key, MOAT_ROOTFS_IDMAP_ANNOTATION) != 0)
        continue;
      if (strcmp (kv->value, "on") == 0)
        *mode = MOAT_ROOTFS_IDMAP_ON;
      else if (strcmp (kv->value, "chown") == 0)
        *mode = MOAT_ROOTFS_IDMAP_CHOWN;
      else if (strcmp (kv->value, "off") != 0)
        return moat_err (err, EINVAL, "annotations.%s: expected `on`, `chown` or `off`, got `%s`",
                         MOAT_ROOTFS_IDMAP_ANNOTATION, kv->value);
    }
  return 0;
}

/* ---- idmapped trees (parent side) ------------------------------------ */

/* A user namespace with the mount's own uidMappings/gidMappings: a child
 * cloned into a new one, its maps written by us, its ns fd kept, the child
 * gone.  The namespace lives on through the fd. */
static int
mapped_userns (const struct moat_mount *m, size_t idx, struct moat_error *err)
{
  int p[2], fd = -1;
  char path[64];
  pid_t pid;

  if (pipe2 (p, O_CLOEXEC) < 0)
    return moat_err (err, errno, "mounts[%zu]: pipe", idx);
  pid = (pid_t) syscall (SYS_clone, CLONE_NEWUSER | SIGCHLD, NULL, NULL, NULL, 0UL);
  if (pid == 0)
    {
      char c;
      close (p[1]);
      while (read (p[0], &c, 1) < 0 && errno == EINTR)
        ;
      _exit (0);
    }
  close (p[0]);
  if (pid < 0)
    {
      close (p[1]);
      return moat_err (err, errno, "mounts[%zu]: create a user namespace for the mapping", idx);
    }
  if (moat_userns_write_map (pid, "uid_map", m->uid_mappings, m->n_uid_mappings, err) < 0
      || moat_userns_write_map (pid, "gid_map", m->gid_mappings, m->n_gid_mappings, err) < 0)
    moat_error_wrap (err, "mounts[%zu]", idx);
  else
    {
      snprintf (path, sizeof path, "/proc/%d/ns/user", (int) pid);
      fd = open (path, O_RDONLY | O_CLOEXEC);
      if (fd < 0)
        moat_err (err, errno, "mounts[%zu]: open `%s`", idx, path);
    }
  close (p[1]);
  while (waitpid (pid, NULL, 0) < 0 && errno == EINTR)
    ;
  return fd;
}

int
moat_idmap_tree (const char *path, bool recursive_clone, bool recursive_map, int userns_fd, bool *unsupported,
                 struct moat_error *err)
{
  struct mount_attr attr = { .attr_set = MOUNT_ATTR_IDMAP | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
                             .userns_fd = (uint64_t) userns_fd };
  cleanup_fd int tree = -1;

  *unsupported = false;
  tree = open_tree (AT_FDCWD, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (recursive_clone ? AT_RECURSIVE : 0));
  if (tree < 0)
    return moat_err (err, errno, "open_tree `%s`", path);
  if (mount_setattr (tree, "", AT_EMPTY_PATH | (recursive_map ? AT_RECURSIVE : 0), &attr, sizeof attr) < 0)
    {
      /* EINVAL: the filesystem has no FS_ALLOW_IDMAP (or is already
         idmapped); ENOSYS/EOPNOTSUPP: no kernel support at all. */
      *unsupported = errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP;
      return moat_err (err, errno, "idmap `%s`", path);
    }
  return steal_fd (&tree);
}

static int
send_tree (int sock, int tree, const char *what, struct moat_error *err)
{
  return moat_sync_send (sock, MOAT_SYNC_IDMAP_TREE, what, strlen (what) + 1, tree, err);
}

static int
send_root (struct moat_sandbox *sb, int sock, int userns, struct moat_error *err)
{
  enum moat_rootfs_idmap mode;
  struct moat_error why = { 0 };
  cleanup_fd int tree = -1;
  bool unsupported = false;

  if (moat_rootfs_idmap_mode (sb->spec, &mode, err) < 0)
    return -1;
  if (mode == MOAT_ROOTFS_IDMAP_OFF)
    return 0;
  /* Never a writable idmapped root: what container root wrote there would
     be host root's on disk (the comment at the top). */
  if (!sb->spec->root_readonly)
    mode = MOAT_ROOTFS_IDMAP_CHOWN;
  /* A root chowned once before stays on that path: through an idmapped
     mount its shifted owners would show as nobody. */
  if (mode == MOAT_ROOTFS_IDMAP_ON && !moat_idmap_chowned (sb->rootfs, sb->spec))
    {
      tree = moat_idmap_tree (sb->rootfs, true, true, userns, &unsupported, &why);
      if (tree >= 0)
        return send_tree (sock, tree, "root", err);
      if (!unsupported)
        {
          *err = why;
          return moat_error_wrap (err, "root.path");
        }
      moat_debug ("idmap: %s: falling back to chown", why.msg);
    }
  if (moat_idmap_chown_once (sb->rootfs, sb->spec, err) < 0)
    return moat_error_wrap (err, "root.path");
  return 0;
}

int
moat_idmap_send_trees (struct moat_sandbox *sb, int sock, pid_t child, struct moat_error *err)
{
  const struct moat_spec *spec = sb->spec;
  enum moat_rootfs_idmap mode;
  cleanup_fd int userns = -1;
  bool any = false;
  char path[64], what[32];
  size_t i;

  if (moat_rootfs_idmap_mode (spec, &mode, err) < 0)
    return -1;
  for (i = 0; i < spec->n_mounts; i++)
    any |= spec->mounts[i].idmap;
  if (mode == MOAT_ROOTFS_IDMAP_OFF && !any)
    return 0;
  if (!(moat_ns_new_flags (spec) & CLONE_NEWUSER))
    return moat_err (err, EINVAL, "idmapped mounts need a new user namespace (linux.namespaces `user`)");
  snprintf (path, sizeof path, "/proc/%d/ns/user", (int) child);
  userns = open (path, O_RDONLY | O_CLOEXEC);
  if (userns < 0)
    return moat_err (err, errno, "open `%s`", path);
  if (send_root (sb, sock, userns, err) < 0)
    return -1;
  for (i = 0; i < spec->n_mounts; i++)
    {
      const struct moat_mount *m = &spec->mounts[i];
      cleanup_fd int own = -1, tree = -1;
      bool unsupported;

      if (!m->idmap)
        continue;
      if (m->source == NULL || m->source[0] != '/')
        return moat_err (err, EINVAL, "mounts[%zu].source: an idmapped mount needs an absolute path", i);
      if (m->n_uid_mappings && (own = mapped_userns (m, i, err)) < 0)
        return -1;
      tree = moat_idmap_tree (m->source, m->recursive, m->idmap_recursive, own >= 0 ? own : userns, &unsupported,
                              err);
      if (tree < 0)
        return moat_error_wrap (err, "mounts[%zu]%s", i,
                                unsupported ? " (the filesystem cannot be idmapped)" : "");
      snprintf (what, sizeof what, "%zu", i);
      if (send_tree (sock, tree, what, err) < 0)
        return -1;
    }
  return 0;
}

/* ---- the init's side ------------------------------------------------- */

int
moat_idmap_recv_until_go (struct moat_sandbox *sb, int sock, struct moat_error *err)
{
  const struct moat_spec *spec = sb->spec;

  for (;;)
    {
      cleanup_free char *what = NULL;
      enum moat_sync t;
      int fd = -1;
      char *end;
      unsigned long i;

      if (moat_sync_recv (sock, &t, &what, NULL, &fd, err) < 0)
        return -1;
      if (t == MOAT_SYNC_GO)
        {
          if (fd >= 0)
            close (fd);
          return 0;
        }
      if (t != MOAT_SYNC_IDMAP_TREE || fd < 0)
        {
          if (fd >= 0)
            close (fd);
          return moat_err (err, EPROTO, "sync: expected an idmapped tree or go, got %d", t);
        }
      if (strcmp (what, "root") == 0)
        {
          sb->idmap_root_fd = fd;
          continue;
        }
      i = strtoul (what, &end, 10);
      if (*end || i >= spec->n_mounts)
        {
          close (fd);
          return moat_err (err, EPROTO, "sync: idmapped tree for an unknown mount `%s`", what);
        }
      if (sb->idmap_mount_fds == NULL)
        {
          sb->idmap_mount_fds = malloc (spec->n_mounts * sizeof (int));
          if (sb->idmap_mount_fds == NULL)
            {
              close (fd);
              return moat_err (err, ENOMEM, "idmapped mounts");
            }
          for (size_t k = 0; k < spec->n_mounts; k++)
            sb->idmap_mount_fds[k] = -1;
        }
      sb->idmap_mount_fds[i] = fd;
    }
}

/* ---- chown once (host side) ------------------------------------------ */

/* Container id ID (uid or gid) through MAP to the host: an id already in the
 * host range, or not mapped at all, stays as it is, so a second walk (a lost
 * stamp, a hard link seen twice) changes nothing. */
static uint32_t
shift_id (uint32_t id, const struct moat_id_map *map, size_t n)
{
  size_t i;

  for (i = 0; i < n; i++)
    if (id >= map[i].host_id && id - map[i].host_id < map[i].size)
      return id;
  for (i = 0; i < n; i++)
    if (id >= map[i].container_id && id - map[i].container_id < map[i].size)
      return map[i].host_id + (id - map[i].container_id);
  return id;
}

struct walk
{
  const struct moat_spec *spec;
  dev_t dev;
  size_t changed;
};

static int walk_dir (struct walk *w, int dirfd, int depth, struct moat_error *err);

/* Through an O_PATH fd of the entry itself: a name swapped for a symlink
 * between the stat and the chown cannot redirect the change. */
static int
shift_entry (struct walk *w, int dirfd, const char *name, int depth, struct moat_error *err)
{
  cleanup_fd int fd = openat (dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  struct stat st;
  uid_t uid;
  gid_t gid;

  if (fd < 0 || fstat (fd, &st) < 0)
    return moat_err (err, errno, "`%s`", name);
  if (st.st_dev != w->dev)
    return 0; /* another filesystem mounted below: not ours to change */
  uid = shift_id (st.st_uid, w->spec->linux.uid_mappings, w->spec->linux.n_uid_mappings);
  gid = shift_id (st.st_gid, w->spec->linux.gid_mappings, w->spec->linux.n_gid_mappings);
  if (uid != st.st_uid || gid != st.st_gid)
    {
      if (fchownat (fd, "", uid, gid, AT_EMPTY_PATH) < 0)
        return moat_err (err, errno, "chown `%s`", name);
      /* chown clears the set-id bits of a file: put them back, the image
         asked for them (inside they do nothing: every mount is nosuid). */
      if (!S_ISLNK (st.st_mode) && !S_ISDIR (st.st_mode) && (st.st_mode & 06000))
        {
          char self[64];
          snprintf (self, sizeof self, "/proc/self/fd/%d", fd);
          if (chmod (self, st.st_mode & 07777) < 0)
            return moat_err (err, errno, "chmod `%s`", name);
        }
      w->changed++;
    }
  if (S_ISDIR (st.st_mode))
    {
      cleanup_fd int sub = openat (dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (sub < 0)
        return moat_err (err, errno, "open `%s`", name);
      if (walk_dir (w, sub, depth + 1, err) < 0)
        return moat_error_wrap (err, "`%s`", name);
    }
  return 0;
}

struct walk_arg
{
  struct walk *w;
  int depth;
  struct moat_error *err;
};

static int
walk_one (int dirfd, const char *name, void *arg)
{
  struct walk_arg *a = arg;

  return shift_entry (a->w, dirfd, name, a->depth, a->err);
}

static int
walk_dir (struct walk *w, int dirfd, int depth, struct moat_error *err)
{
  struct walk_arg a = { .w = w, .depth = depth, .err = err };

  if (depth > WALK_MAX_DEPTH)
    return moat_err (err, ELOOP, "directory tree deeper than %d levels", WALK_MAX_DEPTH);
  return moat_for_each_entry (dirfd, walk_one, &a, err);
}

static void
format_maps (const struct moat_spec *spec, char *buf, size_t size)
{
  size_t off = 0, i;

  for (i = 0; i < spec->linux.n_uid_mappings && off < size; i++)
    off += (size_t) snprintf (buf + off, size - off, "uid %u %u %u\n", spec->linux.uid_mappings[i].container_id,
                              spec->linux.uid_mappings[i].host_id, spec->linux.uid_mappings[i].size);
  for (i = 0; i < spec->linux.n_gid_mappings && off < size; i++)
    off += (size_t) snprintf (buf + off, size - off, "gid %u %u %u\n", spec->linux.gid_mappings[i].container_id,
                              spec->linux.gid_mappings[i].host_id, spec->linux.gid_mappings[i].size);
}

/* The stamp: the trusted.moat.idmap xattr of the rootfs directory, holding
 * the mappings it was chowned for and the directory's device and inode (a
 * copy of the tree, `cp -a` or shutil.copytree, carries the xattr along but
 * not the chowned owners; its new inode makes the stamp not match).  trusted.* needs CAP_SYS_ADMIN in the
 * initial user namespace, so the container cannot forge or remove it.  On a
 * filesystem without trusted xattrs, a file in /run/moat/.idmap-stamps (as
 * the seccomp cache, whatever --root) named by the directory's device and
 * inode (lost with /run at reboot: one
 * more walk, which changes nothing, shift_id being idempotent). */
#define STAMP_XATTR "trusted.moat.idmap"

static int
stamp_file_dir (struct moat_error *err)
{
  if (mkdir (MOAT_IDMAP_STAMP_PARENT, 0700) < 0 && errno != EEXIST)
    return moat_err (err, errno, "mkdir `%s`", MOAT_IDMAP_STAMP_PARENT);
  if (mkdir (MOAT_IDMAP_STAMP_DIR, 0700) < 0 && errno != EEXIST)
    return moat_err (err, errno, "mkdir `%s`", MOAT_IDMAP_STAMP_DIR);
  return open (MOAT_IDMAP_STAMP_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

static void
stamp_value (const struct stat *st, const char *maps, char *buf, size_t size)
{
  snprintf (buf, size, "%sroot %llx %llx\n", maps, (unsigned long long) st->st_dev, (unsigned long long) st->st_ino);
}

static bool
stamp_matches (int root, const struct stat *st, const char *maps)
{
  cleanup_free char *old = NULL;
  cleanup_fd int dir = -1;
  char buf[4096], name[64];
  ssize_t n = fgetxattr (root, STAMP_XATTR, buf, sizeof buf - 1);
  size_t len;

  if (n >= 0)
    {
      char want[4200];
      buf[n] = '\0';
      stamp_value (st, maps, want, sizeof want);
      return strcmp (buf, want) == 0;
    }
  if (errno != ENOTSUP && errno != EOPNOTSUPP)
    return false;
  dir = stamp_file_dir (NULL);
  snprintf (name, sizeof name, "%llx-%llx", (unsigned long long) st->st_dev, (unsigned long long) st->st_ino);
  return dir >= 0 && moat_read_file_at (dir, name, 4096, &old, &len, NULL) == 0 && strcmp (old, maps) == 0;
}

static int
stamp_write (int root, const struct stat *st, const char *maps, struct moat_error *err)
{
  cleanup_fd int dir = -1;
  char name[64], value[4200];

  stamp_value (st, maps, value, sizeof value);
  if (fsetxattr (root, STAMP_XATTR, value, strlen (value), 0) == 0)
    return 0;
  if (errno != ENOTSUP && errno != EOPNOTSUPP)
    return moat_err (err, errno, "write the stamp `%s`", STAMP_XATTR);
  dir = stamp_file_dir (err);
  if (dir < 0)
    return -1;
  snprintf (name, sizeof name, "%llx-%llx", (unsigned long long) st->st_dev, (unsigned long long) st->st_ino);
  return moat_write_file_atomic (dir, name, maps, strlen (maps), 0600, err);
}

int
moat_idmap_chowned (const char *rootfs, const struct moat_spec *spec)
{
  cleanup_fd int root = open (rootfs, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  char maps[4096] = "";
  struct stat st;

  if (root < 0 || fstat (root, &st) < 0)
    return false;
  format_maps (spec, maps, sizeof maps);
  return stamp_matches (root, &st, maps);
}

int
moat_idmap_chown_once (const char *rootfs, const struct moat_spec *spec, struct moat_error *err)
{
  cleanup_fd int root = -1;
  struct walk w = { .spec = spec };
  char maps[4096] = "";
  struct stat st;

  root = open (rootfs, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (root < 0 || fstat (root, &st) < 0)
    return moat_err (err, errno, "open `%s`", rootfs);
  format_maps (spec, maps, sizeof maps);
  if (stamp_matches (root, &st, maps))
    return 0;
  w.dev = st.st_dev;
  if (shift_entry (&w, root, ".", 0, err) < 0)
    return moat_error_wrap (err, "chown `%s` into the user namespace", rootfs);
  moat_debug ("idmap: chowned %zu entries of %s", w.changed, rootfs);
  return stamp_write (root, &st, maps, err);
}
