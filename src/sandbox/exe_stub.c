/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The exec stub: keeping the host moat binary out of a container's reach
 * without re-executing moat (CVE-2019-5736, see exe_seal.c).
 *
 * A container can reach the runtime's binary through a process in its pid
 * namespace whose exe it is.  For a container with a new pid namespace the
 * only such process is its init, before the init's execve, and two things
 * keep that one out of reach:
 *
 *   - The init is non-dumpable until its execve (sandbox/init.c), so another
 *     process in the container (a `moat exec`, or anything a created
 *     container's exec starts) cannot open /proc/1/exe, /proc/1/map_files or
 *     ptrace it without CAP_SYS_PTRACE in the user namespace that owns the
 *     init's memory, the host's.  A container whose capability sets hold
 *     CAP_SYS_PTRACE is refused the stub, unless moat gives it a user
 *     namespace of its own (the capability then counts only there).  runc
 *     drew the same line for its runc-dmz (isDmzBinarySafe).
 *   - The init's own execve is the last door: the entrypoint may be a
 *     "#!/proc/self/exe" script or an ELF with that interpreter, which makes
 *     the kernel run the init's exe as the container's process.  The init
 *     therefore execs the entrypoint from a second executable, the stub
 *     (src/stub/exec_stub.c, no libc, a few KiB): from a sealed memfd, so
 *     that /proc/self/exe at that moment is a copy nobody can write.
 *
 * The init runs nothing else from the container: a spec with createContainer
 * or startContainer hooks (which the init forks and execs) re-executes moat
 * sealed instead, as do LSM labels (the label would go to the stub's exec),
 * a seccomp listener (its agent would see two execs), a host with SELinux
 * enforcing (whose policy may forbid executing a memfd), and a seccomp
 * profile that could refuse the stub's own syscalls (execveat, fcntl).
 *
 * Cost: one memfd of a few KiB per container and the stub's exec, instead
 * of moat's second exec (glibc start-up probes the CPU, which traps in a VM:
 * about 2 ms of a 20 ms `run` on the reference VM, docs/performance.md). */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sandbox/sandbox.h"
#include "util/cleanup.h"

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif

#ifdef MOAT_HAVE_EXEC_STUB
extern const unsigned char moat_exec_stub_elf[];
extern const size_t moat_exec_stub_elf_len;
#endif

#define CAP_SYS_PTRACE_BIT (1ULL << 19)

/* Whether the filter would let NAME through whatever its arguments: the
 * default action allows and no rule names it with another action, or an
 * argument-free rule allows it and no rule names it with another action. */
static bool
seccomp_allows (const struct moat_seccomp *sc, const char *name)
{
  bool allowed = sc->default_action == MOAT_SCMP_ALLOW;
  size_t i, j;

  for (i = 0; i < sc->n_rules; i++)
    for (j = 0; j < sc->rules[i].names.n; j++)
      if (strcmp (sc->rules[i].names.v[j], name) == 0)
        {
          if (sc->rules[i].action != MOAT_SCMP_ALLOW)
            return false;
          if (sc->rules[i].n_args == 0)
            allowed = true;
        }
  return allowed;
}

static bool
selinux_enforcing (void)
{
  char c = '0';
  cleanup_fd int fd = open ("/sys/fs/selinux/enforce", O_RDONLY | O_CLOEXEC);

  return fd >= 0 && read (fd, &c, 1) == 1 && c == '1';
}

bool
moat_exec_stub_protects (const struct moat_spec *spec)
{
  const struct moat_namespace *pidns = moat_spec_namespace (spec, CLONE_NEWPID);
  const struct moat_namespace *userns = moat_spec_namespace (spec, CLONE_NEWUSER);
  const struct moat_process *p = &spec->process;
  const struct moat_caps *c = &p->caps;
  const struct moat_seccomp *sc = spec->linux.seccomp;

#ifndef MOAT_HAVE_EXEC_STUB
  return false;
#endif
  if (pidns == NULL || pidns->path != NULL)
    return false;
  if ((userns == NULL || userns->path != NULL)
      && ((c->bounding | c->inheritable | c->ambient | c->permitted | c->effective) & CAP_SYS_PTRACE_BIT))
    return false;
  if (spec->hooks[MOAT_HOOK_CREATE_CONTAINER].n > 0 || spec->hooks[MOAT_HOOK_START_CONTAINER].n > 0)
    return false;
  if (p->apparmor_profile || p->selinux_label)
    return false;
  /* The stub's execveat and fcntl run under the filter, and so does our
     prctl when the filter is loaded before the capabilities are set. */
  if (sc && (sc->listener_path || !seccomp_allows (sc, "execveat") || !seccomp_allows (sc, "fcntl")
             || (!p->no_new_privileges && !seccomp_allows (sc, "prctl"))))
    return false;
  return !selinux_enforcing ();
}

int
moat_exec_stub_memfd (void)
{
#ifdef MOAT_HAVE_EXEC_STUB
  cleanup_fd int fd = memfd_create ("moat-exec", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
  size_t off = 0;

  /* Kernels before 6.3 know no MFD_EXEC (their memfds are executable). */
  if (fd < 0 && errno == EINVAL)
    fd = memfd_create ("moat-exec", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0)
    return -1;
  while (off < moat_exec_stub_elf_len)
    {
      ssize_t n = write (fd, moat_exec_stub_elf + off, moat_exec_stub_elf_len - off);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return -1;
      off += (size_t) n;
    }
  if (fcntl (fd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0)
    return -1;
  return steal_fd (&fd);
#else
  errno = ENOSYS;
  return -1;
#endif
}

int
moat_exec_stub_prepare (int report_fd, struct moat_error *err)
{
  if (report_fd < 0)
    return moat_err (err, EINVAL, "exec through the stub: no start connection");
  /* The stub marks it close-on-exec itself: the entrypoint's exec closes it,
     the stub's must not. */
  if (fcntl (report_fd, F_SETFD, 0) < 0)
    return moat_err (err, errno, "exec through the stub: keep the start connection open");
  /* Setting the process's ids and capabilities made us dumpable again if
     fs.suid_dumpable is 1; until our execve nobody in the container may
     open our exe. */
  if (prctl (PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
    return moat_err (err, errno, "exec through the stub: stay non-dumpable");
  return 0;
}

int
moat_exec_via_stub (int stub_fd, int report_fd, const char *exe, char *const *argv, size_t argc,
                    char *const *envp, struct moat_error *err)
{
  char fdtxt[16];
  cleanup_free char **sargv = calloc (argc + 4, sizeof (char *));

  if (sargv == NULL)
    return moat_err (err, ENOMEM, "exec");
  snprintf (fdtxt, sizeof fdtxt, "%d", report_fd);
  sargv[0] = (char *) "moat-exec";
  sargv[1] = fdtxt;
  sargv[2] = (char *) exe;
  memcpy (sargv + 3, argv, argc * sizeof (char *));
  syscall (SYS_execveat, stub_fd, "", sargv, envp, AT_EMPTY_PATH);
  return moat_err (err, errno, "exec `%s` through the exec stub", exe);
}
