/* SPDX-License-Identifier: GPL-2.0-or-later */
/* CVE-2019-5736: a container process that can open /proc/PID/exe of a
 * runtime process entering its namespaces gets a handle to the host runtime
 * binary and can overwrite it.  moat re-executes itself from a sealed memfd
 * copy before it spawns or joins a container, so the only binary reachable
 * that way is an immutable anonymous copy. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
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

bool
moat_exe_is_sealed (void)
{
  cleanup_fd int fd = open ("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  int seals;

  if (fd < 0)
    return false;
  seals = fcntl (fd, F_GET_SEALS);
  return seals >= 0 && (seals & REQUIRED_SEALS) == REQUIRED_SEALS;
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
