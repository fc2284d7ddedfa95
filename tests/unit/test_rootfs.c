/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests of the container filesystem (rootfs.c, mount.c, dev.c).  Each
 * case forks a child that unshares a mount (and UTS) namespace, builds a
 * rootfs under a mkdtemp directory and checks the result from inside; the
 * child reports through its exit status and prints the failed check on
 * stderr.  Nothing reaches the host: "/" is made rprivate in the child first. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/magic.h>

#include <cmocka.h>

#include "sandbox/mount_internal.h"
#include "sandbox/rootfs.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/syscalls.h"

#ifndef MQUEUE_MAGIC
#define MQUEUE_MAGIC 0x19800202
#endif

/* ---- helpers ------------------------------------------------------------ */

static char tmp[256];   /* the test's scratch directory (host path) */
static char rootfs[300]; /* tmp/rootfs */

#define CHECK(cond)                                                                                \
  do                                                                                               \
    {                                                                                              \
      if (!(cond))                                                                                 \
        {                                                                                          \
          fprintf (stderr, "%s:%d: check failed: %s (errno: %s)\n", __FILE__, __LINE__, #cond,     \
                   strerror (errno));                                                              \
          return 1;                                                                                \
        }                                                                                          \
    }                                                                                              \
  while (0)

#define CHECK_OK(call)                                                                             \
  do                                                                                               \
    {                                                                                              \
      struct moat_error e_ = { 0 };                                                                \
      if ((call (&e_)) < 0)                                                                        \
        {                                                                                          \
          fprintf (stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__, #call, e_.msg);           \
          return 1;                                                                                \
        }                                                                                          \
    }                                                                                              \
  while (0)

/* Rotating formatted paths, so several can be alive in one expression. */
static const char *
P (const char *fmt, ...)
{
  static char bufs[8][4096];
  static int next;
  char *b = bufs[next++ % 8];
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (b, sizeof bufs[0], fmt, ap);
  va_end (ap);
  return b;
}

static int
mkdir_p (const char *path)
{
  char buf[4096];
  char *s;

  snprintf (buf, sizeof buf, "%s", path);
  for (s = buf + 1; *s; s++)
    if (*s == '/')
      {
        *s = '\0';
        if (mkdir (buf, 0755) < 0 && errno != EEXIST)
          return -1;
        *s = '/';
      }
  return mkdir (buf, 0755) < 0 && errno != EEXIST ? -1 : 0;
}

static int
put (const char *path, const char *content)
{
  int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  ssize_t n;

  if (fd < 0)
    return -1;
  n = write (fd, content, strlen (content));
  close (fd);
  return n == (ssize_t) strlen (content) ? 0 : -1;
}

static bool
dir_is_empty (const char *path)
{
  DIR *d = opendir (path);
  struct dirent *de;
  bool empty = true;

  if (d == NULL)
    return false;
  while ((de = readdir (d)) != NULL)
    if (strcmp (de->d_name, ".") != 0 && strcmp (de->d_name, "..") != 0)
      empty = false;
  closedir (d);
  return empty;
}

/* Mount and superblock options of the topmost mount on PATH in
   /proc/self/mountinfo; false when PATH is not a mount point. */
static bool
mount_options (const char *path, char *mnt_opts, char *sb_opts, char *fstype)
{
  FILE *f = fopen ("/proc/self/mountinfo", "re");
  char line[4096];
  bool found = false;

  if (f == NULL)
    return false;
  while (fgets (line, sizeof line, f))
    {
      char mp[4096], mo[1024], fs[256], src[1024], so[2048];
      char *dash = strstr (line, " - ");

      if (dash == NULL || sscanf (line, "%*s %*s %*s %*s %4095s %1023s", mp, mo) != 2)
        continue;
      if (sscanf (dash + 3, "%255s %1023s %2047s", fs, src, so) != 3 || strcmp (mp, path) != 0)
        continue;
      found = true;
      strcpy (mnt_opts, mo);
      strcpy (sb_opts, so);
      if (fstype)
        strcpy (fstype, fs);
    }
  fclose (f);
  return found;
}

static bool
has_opt (const char *list, const char *opt)
{
  size_t n = strlen (opt);
  const char *p = list;

  while ((p = strstr (p, opt)) != NULL)
    {
      if ((p == list || p[-1] == ',') && (p[n] == '\0' || p[n] == ','))
        return true;
      p += n;
    }
  return false;
}

/* The optional fields ("shared:N master:M") of the topmost mount on PATH. */
static bool
mount_optional (const char *path, char *out, size_t size)
{
  FILE *f = fopen ("/proc/self/mountinfo", "re");
  char line[4096];
  bool found = false;

  if (f == NULL)
    return false;
  while (fgets (line, sizeof line, f))
    {
      char mp[4096];
      char *dash = strstr (line, " - "), *p = line;
      int field;

      if (dash == NULL || sscanf (line, "%*s %*s %*s %*s %4095s", mp) != 1 || strcmp (mp, path) != 0)
        continue;
      for (field = 0; field < 6 && p; field++)
        p = strchr (p + 1, ' ');
      *dash = '\0';
      snprintf (out, size, "%s", p ? p : "");
      found = true;
    }
  fclose (f);
  return found;
}

static bool
is_mount_point (const char *path)
{
  char mo[1024], so[2048];
  return mount_options (path, mo, so, NULL);
}

static long
fs_type (const char *path)
{
  struct statfs s;
  return statfs (path, &s) < 0 ? -1 : (long) s.f_type;
}

static bool
is_chr (const char *path, unsigned int maj, unsigned int min)
{
  struct stat st;
  return stat (path, &st) == 0 && S_ISCHR (st.st_mode) && major (st.st_rdev) == maj && minor (st.st_rdev) == min;
}

/* ---- the spec under test -------------------------------------------------- */

static struct moat_spec spec;
static struct moat_mount mounts[8];
static struct moat_rootfs_ctx ctx;

static void
reset_spec (void)
{
  memset (&spec, 0, sizeof spec);
  memset (mounts, 0, sizeof mounts);
  spec.mounts = mounts;
  spec.has_linux = true;
  ctx = (struct moat_rootfs_ctx) { .spec = &spec, .rootfd = -1, .host_devnull_fd = -1, .console_fd = -1,
                                  .root_tree_fd = -1 };
}

static struct moat_mount *
add_mount (const char *dest, const char *type, const char *source, unsigned long flags, const char *data)
{
  struct moat_mount *m = &mounts[spec.n_mounts++];

  m->destination = (char *) dest;
  m->type = (char *) type;
  m->source = (char *) source;
  m->flags = flags;
  m->data = (char *) data;
  m->bind = type && strcmp (type, "bind") == 0;
  return m;
}

static int
prepare (struct moat_error *err)
{
  return moat_rootfs_prepare (&ctx, rootfs, err);
}

static int
mount_all (struct moat_error *err)
{
  return moat_rootfs_mount_all (&ctx, err);
}

static int
do_pivot (struct moat_error *err)
{
  return moat_rootfs_pivot (&ctx, false, err);
}

static int
do_chroot (struct moat_error *err)
{
  return moat_rootfs_pivot (&ctx, true, err);
}

static int
finalize (struct moat_error *err)
{
  return moat_rootfs_finalize (&ctx, err);
}

static int
sysctl (struct moat_error *err)
{
  return moat_sysctl_apply (&spec, err);
}

/* Run FN in a child with private mount and UTS namespaces. */
static void
in_child (int (*fn) (void))
{
  pid_t pid = fork ();
  int status;

  assert_true (pid >= 0);
  if (pid == 0)
    {
      if (unshare (CLONE_NEWNS | CLONE_NEWUTS) < 0 || mount (NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        {
          perror ("unshare");
          _exit (2);
        }
      _exit (fn ());
    }
  assert_int_equal (waitpid (pid, &status, 0), pid);
  assert_true (WIFEXITED (status));
  assert_int_equal (WEXITSTATUS (status), 0);
}

static int
setup (void **state)
{
  snprintf (tmp, sizeof tmp, "/tmp/moat-rootfs-XXXXXX");
  if (mkdtemp (tmp) == NULL)
    return -1;
  snprintf (rootfs, sizeof rootfs, "%s/rootfs", tmp);
  reset_spec ();
  return mkdir (rootfs, 0755);
}

static int
teardown (void **state)
{
  return moat_rm_rf_at (AT_FDCWD, tmp, NULL);
}

/* ---- flags ---------------------------------------------------------------- */

static void
test_attrs_from_spec (void **state)
{
  struct moat_mount m = { .destination = "/x", .flags = MS_RDONLY | MS_NOSUID | MS_STRICTATIME,
                          .clear_flags = MS_NODEV, .recursive_noexec = true };
  struct moat_mount_attrs a;
  struct moat_error err = { 0 };

  assert_int_equal (moat_mount_attrs_from_spec (&m, 0, &a, &err), 0);
  assert_int_equal (a.set, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_STRICTATIME);
  assert_int_equal (a.clr, MOUNT_ATTR_NODEV | MOUNT_ATTR__ATIME);
  assert_int_equal (a.rec_set, MOUNT_ATTR_NOEXEC);
  m.flags = MS_SYNCHRONOUS;
  m.clear_flags = 0;
  assert_int_equal (moat_mount_attrs_from_spec (&m, 0, &a, &err), 0);
  assert_int_equal (a.sb_flags, MS_SYNCHRONOUS);
  m.flags = MS_ACTIVE;
  assert_int_equal (moat_mount_attrs_from_spec (&m, 3, &a, &err), -1);
  assert_non_null (strstr (err.msg, "mounts[3].options"));
}

/* ---- mounts ---------------------------------------------------------------- */

static int
child_bind_ro (void)
{
  char mo[1024], so[2048];

  CHECK (mkdir_p (P ("%s/host", tmp)) == 0 && put (P ("%s/host/f", tmp), "data") == 0);
  add_mount ("/mnt/ro", "bind", P ("%s/host", tmp), MS_RDONLY, NULL)->propagation = MS_SHARED;
  CHECK_OK (prepare);
  CHECK_OK (mount_all);
  CHECK (mount_options (P ("%s/mnt/ro", rootfs), mo, so, NULL));
  CHECK (has_opt (mo, "ro"));
  CHECK (mount_optional (P ("%s/mnt/ro", rootfs), so, sizeof so) && strstr (so, "shared:"));
  CHECK (access (P ("%s/mnt/ro/f", rootfs), F_OK) == 0);
  CHECK (open (P ("%s/mnt/ro/new", rootfs), O_WRONLY | O_CREAT, 0644) < 0 && errno == EROFS);
  /* The host directory itself stays writable. */
  CHECK (put (P ("%s/host/new", tmp), "x") == 0);
  return 0;
}

static void
test_bind_readonly (void **state)
{
  in_child (child_bind_ro);
}

static int
child_tmpfs_flags (void)
{
  char mo[1024], so[2048], fs[256];
  struct stat st;

  add_mount ("/t", "tmpfs", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=1m,mode=0700")->nosymfollow = true;
  CHECK_OK (prepare);
  CHECK_OK (mount_all);
  CHECK (mount_options (P ("%s/t", rootfs), mo, so, fs));
  CHECK (strcmp (fs, "tmpfs") == 0);
  CHECK (has_opt (mo, "nosuid") && has_opt (mo, "nodev") && has_opt (mo, "noexec") && has_opt (mo, "rw"));
  CHECK (has_opt (mo, "nosymfollow"));
  CHECK (has_opt (so, "size=1024k") && has_opt (so, "mode=700"));
  CHECK (stat (P ("%s/t", rootfs), &st) == 0 && (st.st_mode & 07777) == 0700);
  return 0;
}

static void
test_tmpfs_flags (void **state)
{
  in_child (child_tmpfs_flags);
}

static int
child_symlink_dest (void)
{
  char mo[1024], so[2048];
  long etc_type = fs_type ("/etc");

  CHECK (mkdir (P ("%s/etc", rootfs), 0755) == 0);
  CHECK (symlink ("/etc", P ("%s/a", rootfs)) == 0);
  CHECK (symlink ("../../..", P ("%s/b", rootfs)) == 0);
  add_mount ("/a", "tmpfs", "tmpfs", 0, NULL);
  add_mount ("/b/x", "tmpfs", "tmpfs", 0, NULL);
  CHECK_OK (prepare);
  CHECK_OK (mount_all);
  /* Both resolved inside the rootfs, clamped at its root. */
  CHECK (fs_type (P ("%s/etc", rootfs)) == TMPFS_MAGIC);
  CHECK (fs_type (P ("%s/x", rootfs)) == TMPFS_MAGIC);
  CHECK (fs_type ("/etc") == etc_type && !is_mount_point ("/etc"));
  CHECK (!mount_options ("/x", mo, so, NULL) && access ("/x", F_OK) < 0);
  return 0;
}

static void
test_symlink_destination_stays_inside (void **state)
{
  in_child (child_symlink_dest);
}

static int
child_symlink_canary (void)
{
  struct moat_error err = { 0 };

  /* An absolute symlink naming a host directory: resolved in the rootfs,
     where it does not exist, so the mount fails rather than touch the host. */
  CHECK (mkdir_p (P ("%s/canary", tmp)) == 0);
  CHECK (symlink (P ("%s/canary/sub", tmp), P ("%s/c", rootfs)) == 0);
  add_mount ("/c/d", "tmpfs", "tmpfs", 0, NULL);
  CHECK_OK (prepare);
  moat_rootfs_mount_all (&ctx, &err);
  CHECK (dir_is_empty (P ("%s/canary", tmp)));
  CHECK (!is_mount_point (P ("%s/canary/sub/d", tmp)));
  return 0;
}

static void
test_symlink_to_host_canary (void **state)
{
  in_child (child_symlink_canary);
}

static int
child_proc_symlink (void)
{
  struct moat_error err = { 0 };

  CHECK (mkdir (P ("%s/realproc", rootfs), 0755) == 0);
  CHECK (symlink ("/realproc", P ("%s/proc", rootfs)) == 0);
  add_mount ("/proc", "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
  CHECK_OK (prepare);
  CHECK (moat_rootfs_mount_all (&ctx, &err) < 0);
  CHECK (strstr (err.msg, "mounts[0].destination") && strstr (err.msg, "ordinary directory"));
  CHECK (fs_type (P ("%s/realproc", rootfs)) != PROC_SUPER_MAGIC);
  return 0;
}

static void
test_proc_on_symlink_refused (void **state)
{
  in_child (child_proc_symlink);
}

static int
child_proc_bind_inside (void)
{
  struct moat_error err = { 0 };

  CHECK (mkdir_p (P ("%s/proc/sys", rootfs)) == 0 && mkdir_p (P ("%s/h", tmp)) == 0);
  add_mount ("/proc/sys", "bind", P ("%s/h", tmp), 0, NULL);
  CHECK_OK (prepare);
  CHECK (moat_rootfs_mount_all (&ctx, &err) < 0);
  CHECK (strstr (err.msg, "inside /proc"));
  return 0;
}

static int
child_proc_via_symlink (void)
{
  struct moat_error err = { 0 };

  /* The check runs on the destination as resolved: /p/sys is /proc/sys. */
  CHECK (mkdir_p (P ("%s/proc/sys", rootfs)) == 0 && symlink ("/proc", P ("%s/p", rootfs)) == 0);
  add_mount ("/p/sys", "tmpfs", "tmpfs", 0, NULL);
  CHECK_OK (prepare);
  CHECK (moat_rootfs_mount_all (&ctx, &err) < 0);
  CHECK (strstr (err.msg, "mounts[0]") && strstr (err.msg, "inside /proc"));
  CHECK (!is_mount_point (P ("%s/proc/sys", rootfs)));
  return 0;
}

static int
child_over_root (void)
{
  struct moat_error err = { 0 };

  add_mount ("/.", "tmpfs", "tmpfs", 0, NULL);
  CHECK_OK (prepare);
  CHECK (moat_rootfs_mount_all (&ctx, &err) < 0);
  CHECK (strstr (err.msg, "mounts[0].destination"));
  return 0;
}

static void
test_mount_inside_proc_refused (void **state)
{
  in_child (child_proc_bind_inside);
  reset_spec ();
  in_child (child_proc_via_symlink);
  reset_spec ();
  in_child (child_over_root);
}

static int
child_missing_source (void)
{
  struct moat_error err = { 0 };

  add_mount ("/m", "bind", P ("%s/does-not-exist", tmp), 0, NULL);
  CHECK_OK (prepare);
  CHECK (moat_rootfs_mount_all (&ctx, &err) < 0);
  CHECK (strstr (err.msg, "mounts[0].source") && err.code == ENOENT);
  return 0;
}

static void
test_missing_bind_source (void **state)
{
  in_child (child_missing_source);
}

static int
child_rbind_rro (void)
{
  char mo[1024], so[2048];
  struct moat_mount *m;

  CHECK (mkdir_p (P ("%s/h/sub", tmp)) == 0);
  CHECK (mount ("tmpfs", P ("%s/h/sub", tmp), "tmpfs", 0, NULL) == 0);
  m = add_mount ("/r", "bind", P ("%s/h", tmp), 0, NULL);
  m->recursive = true;
  m->recursive_ro = true;
  CHECK_OK (prepare);
  CHECK_OK (mount_all);
  CHECK (mount_options (P ("%s/r", rootfs), mo, so, NULL) && has_opt (mo, "ro"));
  CHECK (mount_options (P ("%s/r/sub", rootfs), mo, so, NULL) && has_opt (mo, "ro"));
  CHECK (open (P ("%s/r/sub/x", rootfs), O_WRONLY | O_CREAT, 0644) < 0 && errno == EROFS);
  CHECK (put (P ("%s/h/sub/x", tmp), "host side stays writable") == 0);
  return 0;
}

static void
test_rbind_recursive_readonly (void **state)
{
  in_child (child_rbind_rro);
}

static int
child_tmpcopyup (void)
{
  char buf[64] = { 0 };
  struct stat st;
  struct moat_mount *m;
  int fd;

  CHECK (mkdir_p (P ("%s/data/sub", rootfs)) == 0);
  CHECK (put (P ("%s/data/a", rootfs), "hello") == 0 && chmod (P ("%s/data/a", rootfs), 0640) == 0);
  CHECK (put (P ("%s/data/sub/b", rootfs), "b") == 0);
  CHECK (symlink ("a", P ("%s/data/link", rootfs)) == 0);
  CHECK (chmod (P ("%s/data", rootfs), 0750) == 0 && chown (P ("%s/data", rootfs), 123, 456) == 0);
  m = add_mount ("/data", "tmpfs", "tmpfs", 0, NULL);
  m->tmpcopyup = true;
  CHECK_OK (prepare);
  CHECK_OK (mount_all);
  CHECK (fs_type (P ("%s/data", rootfs)) == TMPFS_MAGIC);
  CHECK (stat (P ("%s/data", rootfs), &st) == 0 && (st.st_mode & 07777) == 0750 && st.st_uid == 123
         && st.st_gid == 456);
  CHECK ((fd = open (P ("%s/data/a", rootfs), O_RDONLY)) >= 0 && read (fd, buf, sizeof buf - 1) == 5);
  close (fd);
  CHECK (strcmp (buf, "hello") == 0);
  CHECK (stat (P ("%s/data/a", rootfs), &st) == 0 && (st.st_mode & 07777) == 0640);
  CHECK (access (P ("%s/data/sub/b", rootfs), F_OK) == 0);
  CHECK (readlink (P ("%s/data/link", rootfs), buf, sizeof buf) == 1 && buf[0] == 'a');
  return 0;
}

static void
test_tmpcopyup (void **state)
{
  in_child (child_tmpcopyup);
}

/* ---- /dev ------------------------------------------------------------------- */

static int
check_default_devices (const char *dev)
{
  static const struct { const char *name; unsigned int maj, min; } want[] = {
    { "null", 1, 3 }, { "zero", 1, 5 }, { "full", 1, 7 }, { "random", 1, 8 }, { "urandom", 1, 9 }, { "tty", 5, 0 },
  };
  size_t i;

  for (i = 0; i < MOAT_ARRAY_SIZE (want); i++)
    CHECK (is_chr (P ("%s/%s", dev, want[i].name), want[i].maj, want[i].min));
  return 0;
}

static int
child_dev_nodes (void)
{
  struct moat_device devs[2] = {
    { .path = "/dev/sub/mydev", .type = 'c', .major = 1, .minor = 5, .has_file_mode = true, .file_mode = 0640,
      .has_uid = true, .uid = 1000, .has_gid = true, .gid = 1001 },
    { .path = "/dev/myfifo", .type = 'p' },
  };
  char link[256];
  struct stat st;
  ssize_t n;

  /* The image's /dev/null is a symlink to a host file: replaced, not followed. */
  CHECK (put (P ("%s/canary", tmp), "canary") == 0);
  CHECK (mkdir (P ("%s/dev", rootfs), 0755) == 0);
  CHECK (symlink (P ("%s/canary", tmp), P ("%s/dev/null", rootfs)) == 0);
  spec.linux.devices = devs;
  spec.linux.n_devices = 2;
  CHECK_OK (prepare);
  CHECK_OK (mount_all);
  if (check_default_devices (P ("%s/dev", rootfs)) != 0)
    return 1;
  CHECK (stat (P ("%s/dev/null", rootfs), &st) == 0 && (st.st_mode & 07777) == 0666);
  CHECK (stat (P ("%s/dev/sub/mydev", rootfs), &st) == 0 && S_ISCHR (st.st_mode) && st.st_rdev == makedev (1, 5));
  CHECK ((st.st_mode & 07777) == 0640 && st.st_uid == 1000 && st.st_gid == 1001);
  CHECK (lstat (P ("%s/dev/myfifo", rootfs), &st) == 0 && S_ISFIFO (st.st_mode));
  CHECK ((n = readlink (P ("%s/dev/fd", rootfs), link, sizeof link - 1)) > 0);
  link[n] = '\0';
  CHECK (strcmp (link, "/proc/self/fd") == 0);
  CHECK ((n = readlink (P ("%s/dev/stderr", rootfs), link, sizeof link - 1)) > 0);
  link[n] = '\0';
  CHECK (strcmp (link, "/proc/self/fd/2") == 0);
  /* No devpts: no /dev/ptmx symlink into it. */
  CHECK (lstat (P ("%s/dev/ptmx", rootfs), &st) < 0);
  CHECK (lstat (P ("%s/canary", tmp), &st) == 0 && S_ISREG (st.st_mode) && st.st_size == 6);
  return 0;
}

static void
test_dev_nodes_from_image (void **state)
{
  in_child (child_dev_nodes);
}

static int
child_dev_tmpfs_devpts (void)
{
  char link[64];
  ssize_t n;

  add_mount ("/dev", "tmpfs", "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k");
  add_mount ("/dev/pts", "devpts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620");
  CHECK_OK (prepare);
  CHECK_OK (mount_all);
  CHECK (fs_type (P ("%s/dev", rootfs)) == TMPFS_MAGIC);
  CHECK (fs_type (P ("%s/dev/pts", rootfs)) == DEVPTS_SUPER_MAGIC);
  if (check_default_devices (P ("%s/dev", rootfs)) != 0)
    return 1;
  CHECK ((n = readlink (P ("%s/dev/ptmx", rootfs), link, sizeof link - 1)) > 0);
  link[n] = '\0';
  CHECK (strcmp (link, "pts/ptmx") == 0);
  return 0;
}

static void
test_dev_tmpfs_and_ptmx (void **state)
{
  in_child (child_dev_tmpfs_devpts);
}

static int
child_dev_symlink_canary (void)
{
  struct moat_error err = { 0 };

  /* rootfs/dev -> <host canary>: the devices must not appear on the host
     (CVE-2026-41579).  The same path exists inside the rootfs, so the setup
     succeeds there. */
  CHECK (mkdir_p (P ("%s/canary", tmp)) == 0);
  CHECK (mkdir_p (P ("%s%s/canary", rootfs, tmp)) == 0);
  CHECK (symlink (P ("%s/canary", tmp), P ("%s/dev", rootfs)) == 0);
  CHECK_OK (prepare);
  if (moat_rootfs_mount_all (&ctx, &err) < 0)
    fprintf (stderr, "mount_all refused: %s\n", err.msg);
  CHECK (dir_is_empty (P ("%s/canary", tmp)));
  CHECK (is_chr (P ("%s%s/canary/null", rootfs, tmp), 1, 3));
  return 0;
}

static void
test_dev_symlink_to_host (void **state)
{
  in_child (child_dev_symlink_canary);
}

static int
child_dev_userns_bind (void)
{
  ctx.userns = true; /* exercise the bind-mount path for device nodes */
  CHECK_OK (prepare);
  CHECK_OK (mount_all);
  if (check_default_devices (P ("%s/dev", rootfs)) != 0)
    return 1;
  CHECK (is_mount_point (P ("%s/dev/null", rootfs)) && is_mount_point (P ("%s/dev/tty", rootfs)));
  return 0;
}

static void
test_dev_bind_in_userns_mode (void **state)
{
  in_child (child_dev_userns_bind);
}

static int
child_console (void)
{
  int master, peer;
  struct stat st;

  CHECK (put (P ("%s/canary", tmp), "canary") == 0);
  CHECK (mkdir (P ("%s/dev", rootfs), 0755) == 0);
  CHECK (symlink (P ("%s/canary", tmp), P ("%s/dev/console", rootfs)) == 0);
  CHECK ((master = posix_openpt (O_RDWR | O_NOCTTY | O_CLOEXEC)) >= 0);
  CHECK (unlockpt (master) == 0);
  CHECK ((peer = ioctl (master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC)) >= 0);
  ctx.console_fd = peer;
  CHECK_OK (prepare);
  CHECK_OK (mount_all);
  CHECK (stat (P ("%s/dev/console", rootfs), &st) == 0 && S_ISCHR (st.st_mode) && major (st.st_rdev) >= 136
         && major (st.st_rdev) <= 143);
  CHECK (lstat (P ("%s/canary", tmp), &st) == 0 && S_ISREG (st.st_mode) && st.st_size == 6);
  CHECK (!is_mount_point (P ("%s/canary", tmp)));
  return 0;
}

static void
test_console_not_following_symlink (void **state)
{
  in_child (child_console);
}

/* ---- pivot and finalize ------------------------------------------------------ */

static int
child_pivot_finalize (void)
{
  static char *masked[] = { "/secret", "/private", "/missing", "/proc/keys", "/proc/acpi", "/proc/does-not-exist" };
  static char *ro[] = { "/rodir", "/proc/sys" };
  static struct moat_kv sysctls[] = { { "kernel.hostname", "moat-rootfs-test" } };
  char buf[16], opt[256];
  struct utsname u;
  int fd;

  CHECK (put (P ("%s/marker", rootfs), "m") == 0 && put (P ("%s/secret", rootfs), "s3cret") == 0);
  CHECK (mkdir_p (P ("%s/private", rootfs)) == 0 && put (P ("%s/private/key", rootfs), "k") == 0);
  CHECK (mkdir_p (P ("%s/rodir", rootfs)) == 0);
  add_mount ("/proc", "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
  spec.linux.masked_paths = (struct moat_strv) { masked, MOAT_ARRAY_SIZE (masked) };
  spec.linux.readonly_paths = (struct moat_strv) { ro, MOAT_ARRAY_SIZE (ro) };
  spec.linux.sysctl = (struct moat_kvv) { sysctls, 1 };
  spec.root_readonly = true;
  spec.linux.rootfs_propagation = MS_SHARED | MS_REC;
  CHECK_OK (prepare);
  CHECK (mount_optional (rootfs, opt, sizeof opt) && strstr (opt, "shared:") == NULL);
  CHECK_OK (mount_all);
  CHECK_OK (do_pivot);
  CHECK_OK (finalize);
  CHECK_OK (sysctl);

  CHECK (mount_optional ("/", opt, sizeof opt) && strstr (opt, "shared:"));
  CHECK (access ("/marker", F_OK) == 0 && access (tmp, F_OK) < 0);
  CHECK (is_chr ("/secret", 1, 3));
  CHECK ((fd = open ("/secret", O_RDONLY)) >= 0 && read (fd, buf, sizeof buf) == 0);
  close (fd);
  CHECK (dir_is_empty ("/private"));
  CHECK (open ("/private/x", O_WRONLY | O_CREAT, 0644) < 0 && errno == EROFS);
  CHECK (open ("/rodir/x", O_WRONLY | O_CREAT, 0644) < 0 && errno == EROFS);
  CHECK (is_chr ("/proc/keys", 1, 3));
  CHECK (fs_type ("/proc/acpi") == TMPFS_MAGIC && dir_is_empty ("/proc/acpi"));
  CHECK (open ("/proc/sys/kernel/hostname", O_WRONLY) < 0 && errno == EROFS);
  CHECK (uname (&u) == 0 && strcmp (u.nodename, "moat-rootfs-test") == 0);
  CHECK (open ("/newfile", O_WRONLY | O_CREAT, 0644) < 0 && errno == EROFS);
  CHECK (is_chr ("/dev/null", 1, 3));
  return 0;
}

static void
test_pivot_mask_readonly_sysctl (void **state)
{
  in_child (child_pivot_finalize);
}

static int
child_no_pivot (void)
{
  CHECK (put (P ("%s/marker", rootfs), "m") == 0);
  CHECK_OK (prepare);
  CHECK_OK (mount_all);
  CHECK_OK (do_chroot);
  CHECK (access ("/marker", F_OK) == 0 && access (tmp, F_OK) < 0);
  return 0;
}

static void
test_no_pivot_chroot (void **state)
{
  in_child (child_no_pivot);
}

static int
child_fake_proc (void)
{
  static char *masked[] = { "/proc/kcore" };
  struct moat_error err = { 0 };

  /* No procfs on /proc: a mask there would hide nothing real. */
  CHECK (mkdir_p (P ("%s/proc", rootfs)) == 0 && put (P ("%s/proc/kcore", rootfs), "fake") == 0);
  spec.linux.masked_paths = (struct moat_strv) { masked, 1 };
  CHECK_OK (prepare);
  CHECK_OK (mount_all);
  CHECK_OK (do_pivot);
  CHECK (moat_rootfs_finalize (&ctx, &err) < 0);
  CHECK (strstr (err.msg, "linux.maskedPaths[0]") && strstr (err.msg, "not on procfs"));
  return 0;
}

static void
test_masked_path_not_on_procfs (void **state)
{
  in_child (child_fake_proc);
}

static int
child_sysctl_errors (void)
{
  static struct moat_kv bad[] = { { "kernel.no_such_knob_moat", "1" } };
  struct moat_error err = { 0 };

  spec.linux.sysctl = (struct moat_kvv) { bad, 1 };
  CHECK (moat_sysctl_apply (&spec, &err) < 0);
  CHECK (strstr (err.msg, "linux.sysctl `kernel.no_such_knob_moat`") && err.code == ENOENT);
  return 0;
}

static void
test_sysctl_unknown_key (void **state)
{
  in_child (child_sysctl_errors);
}

static int
child_prepare_propagation (void)
{
  char mo[1024], so[2048];

  CHECK_OK (prepare);
  CHECK (ctx.rootfd >= 0 && ctx.host_devnull_fd >= 0);
  CHECK (mount_options (rootfs, mo, so, NULL));
  CHECK (moat_mkdir_all_in_root (ctx.rootfd, "/x", 0755, NULL) >= 0);
  CHECK (access (P ("%s/x", rootfs), F_OK) == 0);
  return 0;
}

static void
test_prepare_binds_root (void **state)
{
  in_child (child_prepare_propagation);
}

/* ---- a real user namespace ------------------------------------------------- */

static int
write_proc (const char *file, const char *data)
{
  int fd = open (file, O_WRONLY | O_CLOEXEC);
  ssize_t n;

  if (fd < 0)
    return -1;
  n = write (fd, data, strlen (data));
  close (fd);
  return n == (ssize_t) strlen (data) ? 0 : -1;
}

/* FN runs as pid 1 of new user (uid and gid 0 mapped to the host's 0: still
   not the initial user namespace, so mknod is refused and the host's mounts are
   locked), mount, pid, ipc and UTS namespaces, without a network namespace. */
static int
run_in_userns (int (*fn) (void))
{
  pid_t pid;
  int status;

  if (unshare (CLONE_NEWUSER) < 0 || write_proc ("/proc/self/uid_map", "0 0 1") < 0
      || write_proc ("/proc/self/setgroups", "deny") < 0 || write_proc ("/proc/self/gid_map", "0 0 1") < 0)
    {
      perror ("user namespace");
      return 2;
    }
  if (unshare (CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS) < 0)
    {
      perror ("unshare");
      return 2;
    }
  pid = fork ();
  if (pid < 0)
    return 2;
  if (pid == 0)
    {
      if (mount (NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        _exit (2);
      _exit (fn ());
    }
  if (waitpid (pid, &status, 0) != pid || !WIFEXITED (status))
    return 3;
  return WEXITSTATUS (status);
}

static int
child_userns_container (void)
{
  static char *masked[] = { "/proc/keys", "/proc/acpi" };
  static char *ro[] = { "/proc/sys" };
  static struct moat_kv sysctls[] = { { "kernel.hostname", "moat-userns" } };
  char mo[1024], so[2048];
  struct utsname u;
  struct moat_mount *m;

  CHECK (mkdir_p (P ("%s/vol", tmp)) == 0 && put (P ("%s/vol/f", tmp), "v") == 0);
  add_mount ("/proc", "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
  add_mount ("/dev", "tmpfs", "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k");
  add_mount ("/dev/pts", "devpts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620");
  add_mount ("/dev/shm", "tmpfs", "shm", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=65536k");
  add_mount ("/dev/mqueue", "mqueue", "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
  add_mount ("/sys", "sysfs", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY, NULL);
  m = add_mount ("/vol", "bind", P ("%s/vol", tmp), MS_RDONLY, NULL);
  m->recursive = true;
  spec.linux.masked_paths = (struct moat_strv) { masked, MOAT_ARRAY_SIZE (masked) };
  spec.linux.readonly_paths = (struct moat_strv) { ro, MOAT_ARRAY_SIZE (ro) };
  spec.linux.sysctl = (struct moat_kvv) { sysctls, 1 };
  spec.root_readonly = true;
  ctx.userns = true;
  CHECK (mknodat (AT_FDCWD, P ("%s/x", tmp), S_IFCHR | 0600, makedev (1, 3)) < 0 && errno == EPERM);
  CHECK_OK (prepare);
  CHECK_OK (mount_all);
  CHECK_OK (do_pivot);
  CHECK_OK (finalize);
  CHECK_OK (sysctl);

  if (check_default_devices ("/dev") != 0)
    return 1;
  CHECK (fs_type ("/dev/pts") == DEVPTS_SUPER_MAGIC && fs_type ("/dev/mqueue") == MQUEUE_MAGIC);
  /* sysfs fell back to the host's /sys, read-only all the way down. */
  CHECK (fs_type ("/sys") == SYSFS_MAGIC && mount_options ("/sys", mo, so, NULL) && has_opt (mo, "ro"));
  CHECK (mount_options ("/sys/fs/cgroup", mo, so, NULL) && has_opt (mo, "ro"));
  CHECK (is_chr ("/proc/keys", 1, 3) && dir_is_empty ("/proc/acpi"));
  CHECK (open ("/proc/sys/kernel/hostname", O_WRONLY) < 0 && errno == EROFS);
  CHECK (uname (&u) == 0 && strcmp (u.nodename, "moat-userns") == 0);
  CHECK (open ("/vol/new", O_WRONLY | O_CREAT, 0644) < 0 && errno == EROFS && access ("/vol/f", F_OK) == 0);
  CHECK (open ("/newfile", O_WRONLY | O_CREAT, 0644) < 0 && errno == EROFS);
  CHECK (open ("/dev/shm/x", O_WRONLY | O_CREAT, 0644) >= 0);
  return 0;
}

static int
userns_container (void)
{
  return run_in_userns (child_userns_container);
}

static void
test_user_namespace_container (void **state)
{
  pid_t pid = fork ();
  int status;

  assert_true (pid >= 0);
  if (pid == 0)
    _exit (userns_container ());
  assert_int_equal (waitpid (pid, &status, 0), pid);
  assert_true (WIFEXITED (status));
  assert_int_equal (WEXITSTATUS (status), 0);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_attrs_from_spec),
#define T(f) cmocka_unit_test_setup_teardown (f, setup, teardown)
    T (test_prepare_binds_root),
    T (test_bind_readonly),
    T (test_tmpfs_flags),
    T (test_symlink_destination_stays_inside),
    T (test_symlink_to_host_canary),
    T (test_proc_on_symlink_refused),
    T (test_mount_inside_proc_refused),
    T (test_missing_bind_source),
    T (test_rbind_recursive_readonly),
    T (test_tmpcopyup),
    T (test_dev_nodes_from_image),
    T (test_dev_tmpfs_and_ptmx),
    T (test_dev_symlink_to_host),
    T (test_dev_bind_in_userns_mode),
    T (test_console_not_following_symlink),
    T (test_pivot_mask_readonly_sysctl),
    T (test_no_pivot_chroot),
    T (test_masked_path_not_on_procfs),
    T (test_sysctl_unknown_key),
    T (test_user_namespace_container),
#undef T
  };

  if (geteuid () != 0)
    {
      printf ("1..0 # SKIP the rootfs tests need root for mount namespaces\n");
      return 77;
    }
  return cmocka_run_group_tests (tests, NULL, NULL);
}
