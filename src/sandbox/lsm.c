/* SPDX-License-Identifier: GPL-2.0-or-later */
/* process.apparmorProfile, process.selinuxLabel, linux.mountLabel: refuse
 * them when the LSM is not active (a label that is silently not applied is an
 * unconfined container), and write the exec label through a verified procfs
 * handle. */
#include "sandbox/security.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/syscalls.h"

#define PROC_RESOLVE (RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV)

static bool
moat_label_set (const char *label)
{
  return label != NULL && label[0] != '\0';
}

static bool
moat_apparmor_enabled (void)
{
  cleanup_fd int fd = open ("/sys/module/apparmor/parameters/enabled", O_RDONLY | O_CLOEXEC);
  char c = 0;

  if (fd < 0 || read (fd, &c, 1) != 1 || c != 'Y')
    return false;
  return access ("/sys/kernel/security/apparmor", F_OK) == 0;
}

static bool
moat_selinux_enabled (void)
{
  struct statfs sfs;

  if (statfs ("/sys/fs/selinux", &sfs) < 0 || (unsigned long) sfs.f_type != (unsigned long) SELINUX_MAGIC)
    return false;
  return access ("/sys/fs/selinux/enforce", F_OK) == 0;
}

int
moat_lsm_check (const struct moat_spec *spec, struct moat_error *err)
{
  const struct moat_process *p = spec->has_process ? &spec->process : NULL;

  if (p && moat_label_set (p->apparmor_profile) && !moat_apparmor_enabled ())
    return moat_err (err, 0, "process.apparmorProfile: AppArmor is not enabled on this kernel");
  if (p && moat_label_set (p->selinux_label) && !moat_selinux_enabled ())
    return moat_err (err, 0, "process.selinuxLabel: SELinux is not enabled on this kernel");
  if (spec->has_linux && moat_label_set (spec->linux.mount_label) && !moat_selinux_enabled ())
    return moat_err (err, 0, "linux.mountLabel: SELinux is not enabled on this kernel");
  return 0;
}

/* "<pid>/task/<tid>" for the calling thread, as PROC_FD's procfs numbers it.
 * thread-self is a symlink, which RESOLVE_NO_SYMLINKS refuses to walk, and
 * getpid() may count in another pid namespace than that procfs; so read the
 * link the procfs itself serves and accept only that shape. */
static int
moat_proc_thread_dir (int proc_fd, char *buf, size_t size, struct moat_error *err)
{
  ssize_t n = readlinkat (proc_fd, "thread-self", buf, size - 1);
  size_t i;
  int part = 0;

  if (n < 0)
    return moat_err (err, errno, "procfs: readlink `thread-self`");
  buf[n] = '\0';
  /* digits "/task/" digits, nothing else: no "..", no absolute path. */
  for (i = 0; buf[i] && isdigit ((unsigned char) buf[i]); i++)
    part++;
  if (part == 0 || strncmp (buf + i, "/task/", 6) != 0)
    return moat_err (err, 0, "procfs: unexpected `thread-self` target `%s`", buf);
  for (i += 6, part = 0; buf[i] && isdigit ((unsigned char) buf[i]); i++)
    part++;
  if (part == 0 || buf[i] != '\0')
    return moat_err (err, 0, "procfs: unexpected `thread-self` target `%s`", buf);
  return 0;
}

/* Open <thread>/<ATTR> beneath PROC_FD for writing, refusing any symlink or
 * mount crossing, and prove the result is a procfs file: a fake /proc (a
 * volume mounted over it, CVE-2019-16884) or a file swapped in by a racing
 * container (CVE-2025-52881) would take the label write and leave the
 * process unconfined. */
static int
moat_proc_open_attr (int proc_fd, const char *attr, char *path, size_t size, struct moat_error *err)
{
  char thread[64];
  struct statfs sfs;
  struct stat st;
  cleanup_fd int fd = -1;

  if (fstatfs (proc_fd, &sfs) < 0)
    return moat_err (err, errno, "procfs: fstatfs");
  if (sfs.f_type != PROC_SUPER_MAGIC)
    return moat_err (err, 0, "procfs: the proc fd is not on procfs (f_type %#lx)", (unsigned long) sfs.f_type);
  if (moat_proc_thread_dir (proc_fd, thread, sizeof thread, err) < 0)
    return -1;
  snprintf (path, size, "%s/%s", thread, attr);
  fd = sys_openat2 (proc_fd, path, O_WRONLY | O_CLOEXEC | O_NOCTTY, 0, PROC_RESOLVE);
  if (fd < 0)
    return moat_err (err, errno, "procfs: open `%s`", path);
  if (fstatfs (fd, &sfs) < 0)
    return moat_err (err, errno, "procfs: fstatfs `%s`", path);
  if (sfs.f_type != PROC_SUPER_MAGIC)
    return moat_err (err, 0, "procfs: `%s` is not on procfs (f_type %#lx)", path, (unsigned long) sfs.f_type);
  if (fstat (fd, &st) < 0)
    return moat_err (err, errno, "procfs: fstat `%s`", path);
  if (!S_ISREG (st.st_mode))
    return moat_err (err, 0, "procfs: `%s` is not a regular file", path);
  return steal_fd (&fd);
}

static int
moat_proc_write_attr (int fd, const char *path, const char *data, const char *field, struct moat_error *err)
{
  size_t len = strlen (data);
  ssize_t n;

  /* One write: the LSM parses each write as a whole command. */
  do
    n = write (fd, data, len);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    return moat_err (err, errno, "%s: write `%s`", field, path);
  if ((size_t) n != len)
    return moat_err (err, EIO, "%s: short write to `%s`", field, path);
  return 0;
}

static int
moat_apparmor_apply (const char *profile, int proc_fd, struct moat_error *err)
{
  char path[128], cmd[4096];
  cleanup_fd int fd = -1;
  struct moat_error first;

  /* attr/apparmor/exec (Linux 5.8+, LSM stacking) first, then the legacy
     attr/exec; both accept "exec <profile>". */
  fd = moat_proc_open_attr (proc_fd, "attr/apparmor/exec", path, sizeof path, &first);
  if (fd < 0 && first.code == ENOENT)
    fd = moat_proc_open_attr (proc_fd, "attr/exec", path, sizeof path, err);
  else if (fd < 0)
    *err = first;
  if (fd < 0)
    return moat_error_wrap (err, "process.apparmorProfile");
  if ((size_t) snprintf (cmd, sizeof cmd, "exec %s", profile) >= sizeof cmd)
    return moat_err (err, 0, "process.apparmorProfile: profile name is too long");
  return moat_proc_write_attr (fd, path, cmd, "process.apparmorProfile", err);
}

static int
moat_selinux_apply (const char *label, int proc_fd, struct moat_error *err)
{
  char path[128];
  cleanup_fd int fd = moat_proc_open_attr (proc_fd, "attr/exec", path, sizeof path, err);

  if (fd < 0)
    return moat_error_wrap (err, "process.selinuxLabel");
  return moat_proc_write_attr (fd, path, label, "process.selinuxLabel", err);
}

int
moat_lsm_apply (const struct moat_process *p, int proc_fd, struct moat_error *err)
{
  if (moat_label_set (p->apparmor_profile) && moat_apparmor_apply (p->apparmor_profile, proc_fd, err) < 0)
    return -1;
  if (moat_label_set (p->selinux_label) && moat_selinux_apply (p->selinux_label, proc_fd, err) < 0)
    return -1;
  return 0;
}
