/* SPDX-License-Identifier: GPL-2.0-or-later */
/* CVE-2019-5736: a container process that can open /proc/PID/exe of a
 * runtime process entering its namespaces gets a handle to the host runtime
 * binary and can overwrite it.  moat re-executes itself from a sealed copy
 * before it spawns or joins a container, so the only binary reachable that way
 * cannot be written: preferably the binary seen through a private, lower-only
 * overlayfs (read-only in its superblock, which no mount flag can undo, and no
 * copy made), else a sealed memfd copy.  Two kinds of container are created
 * without that extra exec: one whose own user namespace makes the write
 * impossible for the kernel's DAC check (moat_exe_unwritable_from, below),
 * and one whose init can exec its entrypoint through the sealed exec stub
 * (exe_stub.c). */
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <elf.h>
#include <unistd.h>

#include "sandbox/sandbox.h"
#include "util/cleanup.h"

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif

#define REQUIRED_SEALS (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)

/* How much of our ELF the kernel and the dynamic loader read: up to the end
 * of the furthest program-header segment.  Section headers and debug info
 * follow it and are never mapped, and copying them into the memfd was most of
 * the re-exec's cost with a debug build.  Falls back to the whole file. */
static off_t
loadable_extent (int fd, off_t size)
{
  Elf64_Ehdr eh;
  off_t end = 0;
  int i;

  if (pread (fd, &eh, sizeof eh, 0) != (ssize_t) sizeof eh || memcmp (eh.e_ident, ELFMAG, SELFMAG) != 0
      || eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_phentsize != sizeof (Elf64_Phdr))
    return size;
  for (i = 0; i < eh.e_phnum; i++)
    {
      Elf64_Phdr ph;
      if (pread (fd, &ph, sizeof ph, (off_t) (eh.e_phoff + (Elf64_Off) i * sizeof ph)) != (ssize_t) sizeof ph)
        return size;
      if ((off_t) (ph.p_offset + ph.p_filesz) > end)
        end = (off_t) (ph.p_offset + ph.p_filesz);
    }
  if ((off_t) (eh.e_phoff + (Elf64_Off) eh.e_phnum * sizeof (Elf64_Phdr)) > end)
    end = (off_t) (eh.e_phoff + (Elf64_Off) eh.e_phnum * sizeof (Elf64_Phdr));
  return end > 0 && end <= size ? end : size;
}

/* Set in the environment of the re-exec from the overlay, so that only the
 * overlay moat made itself counts as sealed (not a binary that happens to be
 * installed on some read-only overlay).  Removed once read. */
#define SEALED_ENV "MOAT_SEALED_EXE"

static bool
on_readonly_overlay (int fd)
{
  struct statfs sfs;

  return fstatfs (fd, &sfs) == 0 && sfs.f_type == OVERLAYFS_SUPER_MAGIC && (sfs.f_flags & ST_RDONLY);
}

static bool
sealed_memfd (int fd)
{
  int seals = fcntl (fd, F_GET_SEALS);

  return seals >= 0 && (seals & REQUIRED_SEALS) == REQUIRED_SEALS;
}

bool
moat_exe_is_sealed (void)
{
  /* Our executable does not change while we run: asked once. */
  static int sealed = -1;
  cleanup_fd int fd = -1;
  const char *mark = getenv (SEALED_ENV);

  if (sealed >= 0)
    return sealed;
  fd = open ("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return false;
  sealed = sealed_memfd (fd) || (mark && strcmp (mark, "overlay") == 0 && on_readonly_overlay (fd));
  unsetenv (SEALED_ENV);
  return sealed;
}

bool
moat_exe_of_pid_unwritable (pid_t pid)
{
  char path[64];
  cleanup_fd int fd = -1;

  snprintf (path, sizeof path, "/proc/%d/exe", (int) pid);
  fd = open (path, O_RDONLY | O_CLOEXEC);
  /* Any read-only overlay will do here: what matters is that a write open
     through this exe fails, not that we made the overlay. */
  return fd >= 0 && (sealed_memfd (fd) || on_readonly_overlay (fd));
}

/* The second lower layer: an empty read-only tmpfs (a lower-only overlay
 * needs two layers, and they may not overlap). */
static int
empty_layer (void)
{
  cleanup_fd int fs = fsopen ("tmpfs", FSOPEN_CLOEXEC);

  if (fs < 0 || fsconfig (fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
    return -1;
  return fsmount (fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
}

/* Re-exec through a private overlayfs whose two lower layers are the
 * binary's directory and an empty tmpfs: a lower-only overlay has a read-only
 * superblock, its layers are read-only private clones, and the mappings of
 * the executable point at the real file on such a clone (runc does the same
 * since 1.2).  Layers are passed as fds ("lowerdir+", Linux 6.13): a detached
 * mount has no path.  Returns, with errno, only when the overlay cannot be
 * used; the caller then copies into a memfd. */
static void
exec_from_overlay (int exe, char **argv)
{
  char path[PATH_MAX], *slash;
  cleanup_fd int dir = -1, empty = -1, ofs = -1, omnt = -1, bin = -1;
  struct stat real, seen;
  ssize_t n = readlink ("/proc/self/exe", path, sizeof path - 1);
  extern char **environ;

  if (n <= 0 || fstat (exe, &real) < 0)
    return;
  path[n] = '\0';
  slash = strrchr (path, '/');
  if (path[0] != '/' || slash == NULL || strstr (path, " (deleted)"))
    return;
  *slash = '\0';
  dir = open (slash == path ? "/" : path, O_PATH | O_DIRECTORY | O_CLOEXEC);
  empty = empty_layer ();
  ofs = fsopen ("overlay", FSOPEN_CLOEXEC);
  if (dir < 0 || empty < 0 || ofs < 0 || fsconfig (ofs, FSCONFIG_SET_FD, "lowerdir+", NULL, dir) < 0
      || fsconfig (ofs, FSCONFIG_SET_FD, "lowerdir+", NULL, empty) < 0)
    return;
  /* Inode numbers do not matter here; with xino off overlayfs logs nothing. */
  fsconfig (ofs, FSCONFIG_SET_STRING, "xino", "off", 0);
  if (fsconfig (ofs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
    return;
  omnt = fsmount (ofs, FSMOUNT_CLOEXEC, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
  if (omnt < 0)
    return;
  bin = openat (omnt, slash + 1, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  /* The same file as ours, as far as overlayfs lets us tell (it remaps inode
     numbers): a binary replaced since we started is not what we re-exec. */
  if (bin < 0 || fstat (bin, &seen) < 0 || !S_ISREG (seen.st_mode) || seen.st_size != real.st_size
      || seen.st_mtim.tv_sec != real.st_mtim.tv_sec || seen.st_mtim.tv_nsec != real.st_mtim.tv_nsec)
    return;
  if (setenv (SEALED_ENV, "overlay", 1) < 0)
    return;
  syscall (SYS_execveat, bin, "", argv, environ, AT_EMPTY_PATH);
  unsetenv (SEALED_ENV);
}

int
moat_exe_ensure_sealed (char **argv, struct moat_error *err)
{
  cleanup_fd int src = -1;
  cleanup_fd int mfd = -1;
  struct stat st;
  off_t off = 0, len;
  extern char **environ;

  if (moat_exe_is_sealed ())
    return 0;
  src = open ("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  if (src < 0 || fstat (src, &st) < 0)
    return moat_err (err, errno, "open /proc/self/exe");
  exec_from_overlay (src, argv);
  /* MFD_EXEC: kernels with vm.memfd_noexec would otherwise create it noexec. */
  mfd = memfd_create ("moat", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
  if (mfd < 0 && errno == EINVAL)
    mfd = memfd_create ("moat", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (mfd < 0)
    return moat_err (err, errno, "memfd_create");
  len = loadable_extent (src, st.st_size);
  while (off < len)
    {
      ssize_t n = sendfile (mfd, src, &off, (size_t) (len - off));
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return moat_err (err, n < 0 ? errno : EIO, "copy the moat binary into a memfd");
    }
  if (fcntl (mfd, F_ADD_SEALS, REQUIRED_SEALS) < 0)
    return moat_err (err, errno, "seal the memfd");
  fexecve (mfd, argv, environ);
  return moat_err (err, errno, "re-exec from the sealed memfd");
}

static bool
id_mapped (const struct moat_id_map *m, size_t n, uint32_t host_id)
{
  size_t i;

  for (i = 0; i < n; i++)
    if (host_id >= m[i].host_id && (uint64_t) host_id - m[i].host_id < m[i].size)
      return true;
  return false;
}

/* Filesystems whose permission check is the generic inode DAC check
 * (generic_permission), so that the reasoning below holds.  FUSE, NFS, CIFS
 * and the like decide elsewhere and are not on the list. */
static bool
dac_filesystem (long type)
{
  switch ((unsigned long) type)
    {
    case EXT4_SUPER_MAGIC: /* also ext2 and ext3 */
    case XFS_SUPER_MAGIC:
    case BTRFS_SUPER_MAGIC:
    case TMPFS_MAGIC:
    case OVERLAYFS_SUPER_MAGIC: /* checks the overlay inode and the real one */
      return true;
    default:
      return false;
    }
}

/* Every process of a container in a user namespace that moat creates runs
 * with ids from the spec's mappings, whatever it does inside: setuid and
 * setgroups accept only mapped ids, the kernel ignores the set-id bits and
 * file capabilities of a file whose owner is unmapped, and a nested user
 * namespace maps a subset.  (Supplementary groups inherited from moat would
 * be unmapped: condition 3 makes them irrelevant.)  Opening our binary for
 * writing then needs, from such a process:
 *   - the owner class: its fsuid equal to the owner, excluded by (1);
 *   - CAP_DAC_OVERRIDE, or CAP_FOWNER/CAP_CHOWN to chmod or chown it first:
 *     capabilities in a user namespace count on an inode only when its owner
 *     and group are both mapped there (capable_wrt_inode_uidgid), excluded by
 *     (1) and (2);
 *   - the group or other class with a write bit, excluded by (3); a POSIX ACL
 *     cannot add one, because named entries are capped by the mask, which is
 *     what the group bits show when an ACL is set.
 * So the kernel refuses the open with EACCES, for any handle to the binary a
 * container process could obtain (/proc/PID/exe of any moat process, or
 * #!/proc/self/exe run by the init's execve), and the sealed copy adds
 * nothing.  This holds only on filesystems that use that check (4), and only
 * for a user namespace moat creates itself from the spec's mappings: a joined
 * one (by path) maps ids we do not know here.  The property is tested by
 * tests/escapes/test_cve_2019_5736_exe.py, exploit included. */
bool
moat_exe_unwritable_from (const struct moat_spec *spec)
{
  const struct moat_namespace *userns = moat_spec_namespace (spec, CLONE_NEWUSER);
  cleanup_fd int fd = -1;
  struct stat st;
  struct statfs sfs;

  if (userns == NULL || userns->path != NULL || spec->linux.n_uid_mappings == 0
      || spec->linux.n_gid_mappings == 0)
    return false;
  fd = open ("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  if (fd < 0 || fstat (fd, &st) < 0 || fstatfs (fd, &sfs) < 0 || !S_ISREG (st.st_mode))
    return false;
  return !id_mapped (spec->linux.uid_mappings, spec->linux.n_uid_mappings, st.st_uid) /* 1 */
         && !id_mapped (spec->linux.gid_mappings, spec->linux.n_gid_mappings, st.st_gid) /* 2 */
         && (st.st_mode & (S_IWGRP | S_IWOTH)) == 0                                     /* 3 */
         && dac_filesystem ((long) sfs.f_type);                                          /* 4 */
}

int
moat_exe_seal_for (const struct moat_spec *spec, char **argv, int *stub_fd, struct moat_error *err)
{
  *stub_fd = -1;
  if (moat_exe_is_sealed () || moat_exe_unwritable_from (spec))
    return 0;
  if (moat_exec_stub_protects (spec) && (*stub_fd = moat_exec_stub_memfd ()) >= 0)
    return 0;
  if (argv == NULL)
    return moat_err (err, EPERM, "not running from a sealed copy of the moat binary (CVE-2019-5736)");
  return moat_exe_ensure_sealed (argv, err);
}
