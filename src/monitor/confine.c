/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The monitor's own seccomp filter.  The monitor reads every byte the
 * container writes, so it is the one host process a hostile container feeds
 * directly; once it has forked its spawner it needs only files in its record
 * dir, pipes, timers, wait4 and memory.  Everything else fails with EPERM
 * (not a kill: a monitor that dies leaves the container unsupervised).
 * Written as raw BPF so the monitor stays a small static program without
 * libseccomp. */
#include "monitor/monitor.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#if defined(__x86_64__)
#define MON_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define MON_AUDIT_ARCH AUDIT_ARCH_AARCH64
#else
#error "the monitor's seccomp filter knows x86_64 and aarch64 only"
#endif

static const int allowed[] = {
  SYS_read, SYS_write, SYS_pread64, SYS_pwrite64, SYS_writev, SYS_openat, SYS_close, SYS_fstat,
  SYS_newfstatat, SYS_statx, SYS_lseek, SYS_renameat, SYS_renameat2, SYS_unlinkat, SYS_mkdirat, SYS_ftruncate,
  SYS_fcntl, SYS_flock, SYS_ppoll, SYS_signalfd4, SYS_rt_sigprocmask, SYS_rt_sigaction, SYS_rt_sigreturn,
  SYS_timerfd_create, SYS_timerfd_settime, SYS_timerfd_gettime, SYS_clock_gettime, SYS_clock_nanosleep,
  SYS_nanosleep, SYS_wait4, SYS_waitid, SYS_getpid, SYS_gettid, SYS_exit, SYS_exit_group, SYS_brk, SYS_mmap,
  SYS_munmap, SYS_mremap, SYS_madvise, SYS_getrandom, SYS_restart_syscall, SYS_futex, SYS_connect, SYS_sendto,
  SYS_getuid, SYS_geteuid, SYS_fsync, SYS_fdatasync, SYS_fstatfs,
#ifdef SYS_poll
  SYS_poll,
#endif
#ifdef SYS_rename
  SYS_rename,
#endif
#ifdef SYS_unlink
  SYS_unlink,
#endif
#ifdef SYS_time
  SYS_time,
#endif
  SYS_gettimeofday,
};

#define N_ALLOWED (sizeof allowed / sizeof *allowed)
#define DENY (SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA))

int
mon_confine (void)
{
  /* arch check, load nr, one JEQ per allowed syscall, socket(AF_UNIX) for
     syslog, then the default. */
  struct sock_filter prog[4 + 2 * N_ALLOWED + 6];
  struct sock_fprog fprog;
  size_t n = 0;

  prog[n++] = (struct sock_filter) BPF_STMT (BPF_LD | BPF_W | BPF_ABS, offsetof (struct seccomp_data, arch));
  prog[n++] = (struct sock_filter) BPF_JUMP (BPF_JMP | BPF_JEQ | BPF_K, MON_AUDIT_ARCH, 1, 0);
  prog[n++] = (struct sock_filter) BPF_STMT (BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
  prog[n++] = (struct sock_filter) BPF_STMT (BPF_LD | BPF_W | BPF_ABS, offsetof (struct seccomp_data, nr));
  for (size_t i = 0; i < N_ALLOWED; i++)
    {
      prog[n++] = (struct sock_filter) BPF_JUMP (BPF_JMP | BPF_JEQ | BPF_K, (unsigned) allowed[i], 0, 1);
      prog[n++] = (struct sock_filter) BPF_STMT (BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    }
  /* socket(AF_UNIX, ...) only: the syslog mirror of the events log. */
  prog[n++] = (struct sock_filter) BPF_JUMP (BPF_JMP | BPF_JEQ | BPF_K, SYS_socket, 0, 3);
  prog[n++] = (struct sock_filter) BPF_STMT (BPF_LD | BPF_W | BPF_ABS, offsetof (struct seccomp_data, args[0]));
  prog[n++] = (struct sock_filter) BPF_JUMP (BPF_JMP | BPF_JEQ | BPF_K, AF_UNIX, 0, 1);
  prog[n++] = (struct sock_filter) BPF_STMT (BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
  prog[n++] = (struct sock_filter) BPF_STMT (BPF_RET | BPF_K, DENY);
  fprog.len = (unsigned short) n;
  fprog.filter = prog;
  if (prctl (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    return -errno;
  if (prctl (PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fprog) < 0)
    return -errno;
  return 0;
}
