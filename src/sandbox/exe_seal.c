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
#include <unistd.h>

#include "sandbox/sandbox.h"
#include "util/cleanup.h"

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif

#define REQUIRED_SEALS (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)

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
  off_t off = 0;
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
  while (off < st.st_size)
    {
      ssize_t n = sendfile (mfd, src, &off, (size_t) (st.st_size - off));
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
