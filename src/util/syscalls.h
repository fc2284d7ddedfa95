/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MOAT_SYSCALLS_H
#define MOAT_SYSCALLS_H

/* Every raw syscall moat makes that glibc 2.36 does not wrap lives here, with a
 * sys_ prefix, failing with ENOSYS when the kernel headers lack the number.
 * Each UAPI constant is declared once, here. */

#include <errno.h>
#include <stdint.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>
#include <linux/openat2.h>
#include <linux/landlock.h>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef PROC_SUPER_MAGIC
#define PROC_SUPER_MAGIC 0x9fa0
#endif
#ifndef SYSFS_MAGIC
#define SYSFS_MAGIC 0x62656572
#endif
#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef CLONE_NEWCGROUP
#define CLONE_NEWCGROUP 0x02000000
#endif
#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO ('T', 0x41)
#endif

static inline int
sys_openat2 (int dirfd, const char *path, uint64_t flags, uint64_t mode, uint64_t resolve)
{
#ifdef __NR_openat2
  struct open_how how = { .flags = flags, .mode = mode, .resolve = resolve };
  return (int) syscall (__NR_openat2, dirfd, path, &how, sizeof how);
#else
  errno = ENOSYS;
  return -1;
#endif
}

static inline int
sys_pidfd_open (pid_t pid, unsigned int flags)
{
#ifdef __NR_pidfd_open
  return (int) syscall (__NR_pidfd_open, pid, flags);
#else
  errno = ENOSYS;
  return -1;
#endif
}

static inline int
sys_pidfd_send_signal (int pidfd, int sig, siginfo_t *info, unsigned int flags)
{
#ifdef __NR_pidfd_send_signal
  return (int) syscall (__NR_pidfd_send_signal, pidfd, sig, info, flags);
#else
  errno = ENOSYS;
  return -1;
#endif
}

static inline int
sys_close_range (unsigned int first, unsigned int last, unsigned int flags)
{
#ifdef __NR_close_range
  return (int) syscall (__NR_close_range, first, last, flags);
#else
  errno = ENOSYS;
  return -1;
#endif
}

static inline int
sys_landlock_create_ruleset (const struct landlock_ruleset_attr *attr, size_t size, uint32_t flags)
{
#ifdef __NR_landlock_create_ruleset
  return (int) syscall (__NR_landlock_create_ruleset, attr, size, flags);
#else
  errno = ENOSYS;
  return -1;
#endif
}

static inline int
sys_landlock_add_rule (int ruleset_fd, enum landlock_rule_type type, const void *attr, uint32_t flags)
{
#ifdef __NR_landlock_add_rule
  return (int) syscall (__NR_landlock_add_rule, ruleset_fd, type, attr, flags);
#else
  errno = ENOSYS;
  return -1;
#endif
}

static inline int
sys_landlock_restrict_self (int ruleset_fd, uint32_t flags)
{
#ifdef __NR_landlock_restrict_self
  return (int) syscall (__NR_landlock_restrict_self, ruleset_fd, flags);
#else
  errno = ENOSYS;
  return -1;
#endif
}

static inline int
sys_seccomp (unsigned int op, unsigned int flags, void *args)
{
  return (int) syscall (__NR_seccomp, op, flags, args);
}

static inline int
sys_pivot_root (const char *new_root, const char *put_old)
{
  return (int) syscall (__NR_pivot_root, new_root, put_old);
}

/* ---- per-process security (sandbox/caps.c, rlimit.c, lsm.c, seccomp.c) ---- */

#ifndef SELINUX_MAGIC
#define SELINUX_MAGIC 0xf97cff8c
#endif
#ifndef SECCOMP_FILTER_FLAG_TSYNC_ESRCH
#define SECCOMP_FILTER_FLAG_TSYNC_ESRCH (1UL << 4)
#endif
#ifndef SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
#define SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (1UL << 5)
#endif
#ifndef IOPRIO_CLASS_SHIFT
#define IOPRIO_CLASS_SHIFT 13
#endif
#ifndef IOPRIO_WHO_PROCESS
#define IOPRIO_WHO_PROCESS 1
#endif
#define MOAT_IOPRIO_VALUE(cls, data) (((cls) << IOPRIO_CLASS_SHIFT) | (data))

/* struct sched_attr of <linux/sched/types.h>, which cannot be included next to
 * glibc's <sched.h> (both define struct sched_param).  SCHED_ATTR_SIZE_VER1. */
struct moat_sched_attr
{
  uint32_t size;
  uint32_t sched_policy;
  uint64_t sched_flags;
  int32_t sched_nice;
  uint32_t sched_priority;
  uint64_t sched_runtime;
  uint64_t sched_deadline;
  uint64_t sched_period;
  uint32_t sched_util_min;
  uint32_t sched_util_max;
};

static inline int
sys_sched_setattr (pid_t pid, struct moat_sched_attr *attr, unsigned int flags)
{
#ifdef __NR_sched_setattr
  return (int) syscall (__NR_sched_setattr, pid, attr, flags);
#else
  errno = ENOSYS;
  return -1;
#endif
}

static inline int
sys_ioprio_set (int which, int who, int ioprio)
{
#ifdef __NR_ioprio_set
  return (int) syscall (__NR_ioprio_set, which, who, ioprio);
#else
  errno = ENOSYS;
  return -1;
#endif
}

static inline int
sys_ioprio_get (int which, int who)
{
#ifdef __NR_ioprio_get
  return (int) syscall (__NR_ioprio_get, which, who);
#else
  errno = ENOSYS;
  return -1;
#endif
}

/* capget/capset with _LINUX_CAPABILITY_VERSION_3 (two 32-bit words per set). */
static inline int
sys_capget (void *hdr, void *data)
{
  return (int) syscall (__NR_capget, hdr, data);
}

static inline int
sys_capset (void *hdr, const void *data)
{
  return (int) syscall (__NR_capset, hdr, data);
}

/* bpf(2): the cgroup v2 device filter (BPF_PROG_TYPE_CGROUP_DEVICE). */
union bpf_attr;
static inline int
sys_bpf (int cmd, union bpf_attr *attr, unsigned int size)
{
#ifdef __NR_bpf
  return (int) syscall (__NR_bpf, cmd, attr, size);
#else
  errno = ENOSYS;
  return -1;
#endif
}

/* Landlock access rights newer than Debian 12's UAPI header (ABI 3: 6.2,
   ABI 5: 6.10). */
#ifndef LANDLOCK_ACCESS_FS_REFER
#define LANDLOCK_ACCESS_FS_REFER (1ULL << 13)
#endif
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14)
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV (1ULL << 15)
#endif

#endif
