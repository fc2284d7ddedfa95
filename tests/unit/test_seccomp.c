/* SPDX-License-Identifier: GPL-2.0-or-later */
/* sandbox/seccomp.c: profiles are compiled in the test process and loaded in
 * a forked child, which reports through its exit status (or its signal). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>
#include <linux/seccomp.h>
#include <seccomp.h>

#include "sandbox/seccomp.h"
#include "util/cleanup.h"

#define STRV(...)                                                              \
  ((struct moat_strv) { .v = (char *[]) { __VA_ARGS__ },                       \
                        .n = sizeof ((char *[]) { __VA_ARGS__ }) / sizeof (char *) })

#define CHILD_FAIL_CODE 1
#include "test_child.h"

/* Load PROG in a fresh child (with no_new_privs, as the init does) and run
   BODY there; returns the wait status. */
static int
run_filtered (const struct moat_seccomp_prog *prog, void (*body) (int notify_fd))
{
  int status = 0;
  pid_t pid;

  fflush (NULL);
  pid = fork ();
  assert_true (pid >= 0);
  if (pid == 0)
    {
      struct rlimit nocore = { 0, 0 };
      struct moat_error err = { 0 };
      int notify_fd = -1;

      setrlimit (RLIMIT_CORE, &nocore); /* SIGSYS would dump core */
      /* cmocka catches SIGSYS to report a crash; SCMP_ACT_TRAP's signal
         must kill the child instead. */
      signal (SIGSYS, SIG_DFL);
      CHILD_CHECK (prctl (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0);
      if (moat_seccomp_load (prog, &notify_fd, &err) < 0)
        {
          dprintf (2, "load: %s\n", err.msg);
          child_exit (2);
        }
      body (notify_fd);
      child_exit (0);
    }
  assert_int_equal (waitpid (pid, &status, 0), pid);
  return status;
}

static void
assert_child_ok (int status)
{
  assert_true (WIFEXITED (status));
  assert_int_equal (WEXITSTATUS (status), 0);
}

static void
compile_ok (const struct moat_seccomp *sc, struct moat_seccomp_prog *prog)
{
  struct moat_error err = { 0 };

  if (moat_seccomp_compile (sc, prog, &err) < 0)
    fail_msg ("compile: %s", err.msg);
  assert_non_null (prog->insns);
  assert_true (prog->n_insns > 0);
}

static void
compile_fails (const struct moat_seccomp *sc, const char *needle)
{
  struct moat_seccomp_prog prog = { 0 };
  struct moat_error err = { 0 };

  assert_int_equal (moat_seccomp_compile (sc, &prog, &err), -1);
  if (strstr (err.msg, needle) == NULL)
    fail_msg ("error `%s` does not mention `%s`", err.msg, needle);
  assert_null (prog.insns);
}

/* ---- an ERRNO rule ---------------------------------------------------- */

static void
body_getpid_errno (int notify_fd)
{
  errno = 0;
  CHILD_CHECK (syscall (SYS_getpid) == -1 && errno == 99);
  CHILD_CHECK (syscall (SYS_getppid) > 0);
}

static void
test_errno_rule (void **state)
{
  struct moat_seccomp_rule rule = { .names = STRV ("getpid"), .action = MOAT_SCMP_ERRNO,
                                    .has_errno_ret = true, .errno_ret = 99 };
  struct moat_seccomp sc = { .default_action = MOAT_SCMP_ALLOW, .rules = &rule, .n_rules = 1 };
  struct moat_seccomp_prog prog = { 0 };

  compile_ok (&sc, &prog);
  assert_false (prog.notify);
  assert_int_equal (prog.flags, 0);
  assert_child_ok (run_filtered (&prog, body_getpid_errno));
  moat_seccomp_prog_free (&prog);
  assert_null (prog.insns);
}

/* Names libseccomp does not know are skipped; the known ones still apply. */
static void
test_unknown_syscall_skipped (void **state)
{
  struct moat_seccomp_rule rule = { .names = STRV ("moat_no_such_syscall", "getpid"),
                                    .action = MOAT_SCMP_ERRNO, .has_errno_ret = true, .errno_ret = 99 };
  struct moat_seccomp sc = { .default_action = MOAT_SCMP_ALLOW, .rules = &rule, .n_rules = 1 };
  struct moat_seccomp_prog prog = { 0 };

  compile_ok (&sc, &prog);
  assert_child_ok (run_filtered (&prog, body_getpid_errno));
  moat_seccomp_prog_free (&prog);
}

/* ---- argument conditions ---------------------------------------------- */

static void
body_personality (int notify_fd)
{
  errno = 0;
  CHILD_CHECK (personality (0xffffffff) >= 0); /* a query: allowed */
  CHILD_CHECK (personality (0x0040000) == -1 && errno == EPERM);
}

static void
test_arg_condition (void **state)
{
  struct moat_seccomp_arg arg = { .index = 0, .value = 0xffffffff, .op = MOAT_SCMP_CMP_NE };
  struct moat_seccomp_rule rule = { .names = STRV ("personality"), .action = MOAT_SCMP_ERRNO,
                                    .args = &arg, .n_args = 1 };
  struct moat_seccomp sc = { .default_action = MOAT_SCMP_ALLOW, .rules = &rule, .n_rules = 1 };
  struct moat_seccomp_prog prog = { 0 };

  compile_ok (&sc, &prog);
  assert_child_ok (run_filtered (&prog, body_personality));
  moat_seccomp_prog_free (&prog);
}

static void
body_or_and (int notify_fd)
{
  /* dup: arg0 == 100 OR arg0 == 101 */
  errno = 0;
  CHILD_CHECK (syscall (SYS_dup, 100) == -1 && errno == 77);
  CHILD_CHECK (syscall (SYS_dup, 101) == -1 && errno == 77);
  CHILD_CHECK (syscall (SYS_dup, 0) >= 0);
  /* dup3: arg0 == 0 AND arg1 == 100 */
  CHILD_CHECK (syscall (SYS_dup3, 0, 100, 0) == -1 && errno == 78);
  CHILD_CHECK (syscall (SYS_dup3, 0, 101, 0) == 101);
  CHILD_CHECK (syscall (SYS_dup3, 1, 100, 0) == 100);
}

/* runc semantics: args sharing an index are OR'ed, otherwise AND'ed. */
static void
test_args_or_and (void **state)
{
  struct moat_seccomp_arg or_args[] = { { .index = 0, .value = 100, .op = MOAT_SCMP_CMP_EQ },
                                        { .index = 0, .value = 101, .op = MOAT_SCMP_CMP_EQ } };
  struct moat_seccomp_arg and_args[] = { { .index = 0, .value = 0, .op = MOAT_SCMP_CMP_EQ },
                                         { .index = 1, .value = 100, .op = MOAT_SCMP_CMP_EQ } };
  struct moat_seccomp_rule rules[] = {
    { .names = STRV ("dup"), .action = MOAT_SCMP_ERRNO, .has_errno_ret = true, .errno_ret = 77,
      .args = or_args, .n_args = 2 },
    { .names = STRV ("dup3"), .action = MOAT_SCMP_ERRNO, .has_errno_ret = true, .errno_ret = 78,
      .args = and_args, .n_args = 2 },
  };
  struct moat_seccomp sc = { .default_action = MOAT_SCMP_ALLOW, .rules = rules, .n_rules = 2 };
  struct moat_seccomp_prog prog = { 0 };

  compile_ok (&sc, &prog);
  assert_child_ok (run_filtered (&prog, body_or_and));
  moat_seccomp_prog_free (&prog);
}

/* ---- default ERRNO with an allowlist --------------------------------- */

static void
body_allowlist (int notify_fd)
{
  errno = 0;
  CHILD_CHECK (syscall (SYS_getppid) == -1 && errno == ENOSYS);
  CHILD_CHECK (syscall (SYS_getpid) > 0);
}

static void
test_default_errno_allowlist (void **state)
{
  /* sigaltstack and gettid: ASan's __asan_handle_no_return before
     child_exit() calls them. */
  struct moat_seccomp_rule rule = { .names = STRV ("exit_group", "exit", "write", "getpid",
                                                   "sigaltstack", "gettid"),
                                    .action = MOAT_SCMP_ALLOW };
  struct moat_seccomp sc = { .default_action = MOAT_SCMP_ERRNO, .has_default_errno_ret = true,
                             .default_errno_ret = ENOSYS, .rules = &rule, .n_rules = 1 };
  struct moat_seccomp_prog prog = { 0 };

  compile_ok (&sc, &prog);
  assert_child_ok (run_filtered (&prog, body_allowlist));
  moat_seccomp_prog_free (&prog);
}

static void
body_getpid_only (int notify_fd)
{
  syscall (SYS_getpid);
}

static void
test_kill_process (void **state)
{
  struct moat_seccomp_rule rule = { .names = STRV ("getpid"), .action = MOAT_SCMP_KILL_PROCESS };
  struct moat_seccomp sc = { .default_action = MOAT_SCMP_ALLOW, .rules = &rule, .n_rules = 1 };
  struct moat_seccomp_prog prog = { 0 };
  int status;

  compile_ok (&sc, &prog);
  status = run_filtered (&prog, body_getpid_only);
  assert_true (WIFSIGNALED (status));
  assert_int_equal (WTERMSIG (status), SIGSYS);
  moat_seccomp_prog_free (&prog);
}

/* ---- Docker's clone namespace mask ----------------------------------- */

static void
body_clone_mask (int notify_fd)
{
  long pid;
  int status = -1;

  /* A plain fork-like clone passes the mask... */
  pid = syscall (SYS_clone, (unsigned long) SIGCHLD, 0UL, 0UL, 0UL, 0UL);
  if (pid == 0)
    child_exit (0);
  CHILD_CHECK (pid > 0);
  CHILD_CHECK (waitpid ((pid_t) pid, &status, 0) == pid && WIFEXITED (status) && WEXITSTATUS (status) == 0);
  /* ...a namespace flag does not. */
  errno = 0;
  pid = syscall (SYS_clone, (unsigned long) (CLONE_NEWUSER | SIGCHLD), 0UL, 0UL, 0UL, 0UL);
  if (pid == 0)
    child_exit (0);
  CHILD_CHECK (pid == -1 && errno == EPERM);
  errno = 0;
  CHILD_CHECK (unshare (CLONE_NEWUSER) == -1 && errno == EPERM);
  CHILD_CHECK (unshare (CLONE_NEWNET) == -1 && errno == EPERM);
  CHILD_CHECK (unshare (0) == 0);
}

static void
test_clone_namespace_mask (void **state)
{
  struct moat_seccomp_arg mask = { .index = 0, .value = 0x7E020000, .value_two = 0,
                                   .op = MOAT_SCMP_CMP_MASKED_EQ };
  struct moat_seccomp_rule rules[] = {
    { .names = STRV ("exit_group", "exit", "write", "wait4", "waitid", "getpid", "gettid",
                     "rt_sigreturn", "rt_sigprocmask", "rt_sigaction", "mmap", "munmap", "brk",
                     "futex", "madvise", "mprotect", "sigaltstack", "set_robust_list", "rseq",
                     "sched_yield", "getrandom"),
      .action = MOAT_SCMP_ALLOW },
    { .names = STRV ("clone", "unshare"), .action = MOAT_SCMP_ALLOW, .args = &mask, .n_args = 1 },
  };
  struct moat_seccomp sc = { .default_action = MOAT_SCMP_ERRNO, .rules = rules, .n_rules = 2 };
  struct moat_seccomp_prog prog = { 0 };

  compile_ok (&sc, &prog);
  assert_child_ok (run_filtered (&prog, body_clone_mask));
  moat_seccomp_prog_free (&prog);
}

/* ---- a Docker-like profile ------------------------------------------- */

/* moby/profiles seccomp/default.json, the unconditional ALLOW group (see
   reference/security-anchors.md, appendix A).  Several names are newer than
   libseccomp 2.5.4 and must be skipped, not refused. */
static const char docker_allow[] =
  "accept accept4 access adjtimex alarm bind brk cachestat capget capset chdir chmod chown "
  "chown32 clock_adjtime clock_adjtime64 clock_getres clock_getres_time64 clock_gettime "
  "clock_gettime64 clock_nanosleep clock_nanosleep_time64 close close_range connect "
  "copy_file_range creat dup dup2 dup3 epoll_create epoll_create1 epoll_ctl epoll_ctl_old "
  "epoll_pwait epoll_pwait2 epoll_wait epoll_wait_old eventfd eventfd2 execve execveat exit "
  "exit_group faccessat faccessat2 fadvise64 fadvise64_64 fallocate fanotify_mark fchdir "
  "fchmod fchmodat fchmodat2 fchown fchown32 fchownat fcntl fcntl64 fdatasync fgetxattr "
  "flistxattr flock fork fremovexattr fsetxattr fstat fstat64 fstatat64 fstatfs fstatfs64 "
  "fsync ftruncate ftruncate64 futex futex_requeue futex_time64 futex_wait futex_waitv "
  "futex_wake futimesat getcpu getcwd getdents getdents64 getegid getegid32 geteuid "
  "geteuid32 getgid getgid32 getgroups getgroups32 getitimer getpeername getpgid getpgrp "
  "getpid getppid getpriority getrandom getresgid getresgid32 getresuid getresuid32 "
  "getrlimit get_robust_list getrusage getsid getsockname getsockopt get_thread_area gettid "
  "gettimeofday getuid getuid32 getxattr getxattrat inotify_add_watch inotify_init "
  "inotify_init1 inotify_rm_watch io_cancel ioctl io_destroy io_getevents io_pgetevents "
  "io_pgetevents_time64 ioprio_get ioprio_set io_setup io_submit ipc kill landlock_add_rule "
  "landlock_create_ruleset landlock_restrict_self lchown lchown32 lgetxattr link linkat "
  "listen listmount listxattr listxattrat llistxattr _llseek lremovexattr lseek lsetxattr "
  "lstat lstat64 madvise map_shadow_stack membarrier memfd_create memfd_secret mincore mkdir "
  "mkdirat mknod mknodat mlock mlock2 mlockall mmap mmap2 mprotect mq_getsetattr mq_notify "
  "mq_open mq_timedreceive mq_timedreceive_time64 mq_timedsend mq_timedsend_time64 mq_unlink "
  "mremap mseal msgctl msgget msgrcv msgsnd msync munlock munlockall munmap "
  "name_to_handle_at nanosleep newfstatat _newselect open openat openat2 pause pidfd_open "
  "pidfd_send_signal pipe pipe2 pkey_alloc pkey_free pkey_mprotect poll ppoll ppoll_time64 "
  "prctl pread64 preadv preadv2 prlimit64 process_mrelease pselect6 pselect6_time64 pwrite64 "
  "pwritev pwritev2 read readahead readlink readlinkat readv recv recvfrom recvmmsg "
  "recvmmsg_time64 recvmsg remap_file_pages removexattr removexattrat rename renameat "
  "renameat2 restart_syscall riscv_hwprobe rmdir rseq rt_sigaction rt_sigpending "
  "rt_sigprocmask rt_sigqueueinfo rt_sigreturn rt_sigsuspend rt_sigtimedwait "
  "rt_sigtimedwait_time64 rt_tgsigqueueinfo sched_getaffinity sched_getattr sched_getparam "
  "sched_get_priority_max sched_get_priority_min sched_getscheduler sched_rr_get_interval "
  "sched_rr_get_interval_time64 sched_setaffinity sched_setattr sched_setparam "
  "sched_setscheduler sched_yield seccomp select semctl semget semop semtimedop "
  "semtimedop_time64 send sendfile sendfile64 sendmmsg sendmsg sendto setfsgid setfsgid32 "
  "setfsuid setfsuid32 setgid setgid32 setgroups setgroups32 setitimer setpgid setpriority "
  "setregid setregid32 setresgid setresgid32 setresuid setresuid32 setreuid setreuid32 "
  "setrlimit set_robust_list setsid setsockopt set_thread_area set_tid_address setuid "
  "setuid32 setxattr setxattrat shmat shmctl shmdt shmget shutdown sigaltstack signalfd "
  "signalfd4 sigprocmask sigreturn socketcall socketpair splice stat stat64 statfs statfs64 "
  "statmount statx symlink symlinkat sync sync_file_range syncfs sysinfo tee tgkill time "
  "timer_create timer_delete timer_getoverrun timer_gettime timer_gettime64 timer_settime "
  "timer_settime64 timerfd_create timerfd_gettime timerfd_gettime64 timerfd_settime "
  "timerfd_settime64 times tkill truncate truncate64 ugetrlimit umask uname unlink unlinkat "
  "uretprobe utime utimensat utimensat_time64 utimes vfork vmsplice wait4 waitid waitpid "
  "write writev";

static void
body_docker (int notify_fd)
{
  long pid;
  int status = -1;

  CHILD_CHECK (syscall (SYS_getpid) > 0);
  pid = syscall (SYS_clone, (unsigned long) SIGCHLD, 0UL, 0UL, 0UL, 0UL);
  if (pid == 0)
    child_exit (0);
  CHILD_CHECK (pid > 0 && waitpid ((pid_t) pid, &status, 0) == pid);
  errno = 0;
  CHILD_CHECK (unshare (CLONE_NEWUSER) == -1 && errno == EPERM);
  CHILD_CHECK (syscall (SYS_keyctl, 0, 0, 0, 0, 0) == -1 && errno == EPERM);
  CHILD_CHECK (personality (0xffffffff) >= 0);
  CHILD_CHECK (personality (0x0040000) == -1 && errno == EPERM);
  CHILD_CHECK (socket (38 /* AF_ALG */, SOCK_SEQPACKET, 0) == -1 && errno == EPERM);
  CHILD_CHECK (socket (40 /* AF_VSOCK */, SOCK_STREAM, 0) == -1 && errno == EPERM);
  CHILD_CHECK (socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0) >= 0);
}

static void
test_docker_like_profile (void **state)
{
  char *copy = strdup (docker_allow), *save = NULL, *tok;
  char **names = calloc (sizeof docker_allow, sizeof (char *));
  size_t n = 0;
  struct moat_seccomp_arg mask = { .index = 0, .value = 0x7E020000, .op = MOAT_SCMP_CMP_MASKED_EQ };
  struct moat_seccomp_arg pers[] = { { .index = 0, .value = 0x0, .op = MOAT_SCMP_CMP_EQ },
                                     { .index = 0, .value = 0x8, .op = MOAT_SCMP_CMP_EQ },
                                     { .index = 0, .value = 0x20000, .op = MOAT_SCMP_CMP_EQ },
                                     { .index = 0, .value = 0x20008, .op = MOAT_SCMP_CMP_EQ },
                                     { .index = 0, .value = 0xffffffff, .op = MOAT_SCMP_CMP_EQ } };
  struct moat_seccomp_arg sock_lt = { .index = 0, .value = 38, .op = MOAT_SCMP_CMP_LT };
  struct moat_seccomp_arg sock_eq = { .index = 0, .value = 39, .op = MOAT_SCMP_CMP_EQ };
  struct moat_seccomp_arg sock_gt = { .index = 0, .value = 40, .op = MOAT_SCMP_CMP_GT };
  struct moat_seccomp_rule rules[] = {
    { .action = MOAT_SCMP_ALLOW },
    { .names = STRV ("personality"), .action = MOAT_SCMP_ALLOW, .args = pers, .n_args = 5 },
    { .names = STRV ("clone"), .action = MOAT_SCMP_ALLOW, .args = &mask, .n_args = 1 },
    { .names = STRV ("clone3"), .action = MOAT_SCMP_ERRNO, .has_errno_ret = true, .errno_ret = ENOSYS },
    { .names = STRV ("socket"), .action = MOAT_SCMP_ALLOW, .args = &sock_lt, .n_args = 1 },
    { .names = STRV ("socket"), .action = MOAT_SCMP_ALLOW, .args = &sock_eq, .n_args = 1 },
    { .names = STRV ("socket"), .action = MOAT_SCMP_ALLOW, .args = &sock_gt, .n_args = 1 },
  };
  struct moat_seccomp sc = { .default_action = MOAT_SCMP_ERRNO, .has_default_errno_ret = true,
                             .default_errno_ret = EPERM, .rules = rules, .n_rules = MOAT_ARRAY_SIZE (rules),
                             .architectures = STRV ("SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32") };
  struct moat_seccomp_prog prog = { 0 };

  assert_non_null (copy);
  assert_non_null (names);
  for (tok = strtok_r (copy, " ", &save); tok; tok = strtok_r (NULL, " ", &save))
    names[n++] = tok;
  assert_int_equal (n, 361);
  rules[0].names = (struct moat_strv) { .v = names, .n = n };

  compile_ok (&sc, &prog);
  assert_true (prog.n_insns < 4096);
  assert_child_ok (run_filtered (&prog, body_docker));
  moat_seccomp_prog_free (&prog);
  free (names);
  free (copy);
}

/* ---- the other actions ------------------------------------------------ */

static void
body_getppid_returns (int notify_fd)
{
  errno = 0;
  CHILD_CHECK (syscall (SYS_getppid) > 0); /* LOG: logged, then allowed */
}

static void
body_getppid_enosys (int notify_fd)
{
  errno = 0;
  /* TRACE with no tracer attached: the kernel fails the call with ENOSYS. */
  CHILD_CHECK (syscall (SYS_getppid) == -1 && errno == ENOSYS);
}

static void
body_getppid_only (int notify_fd)
{
  syscall (SYS_getppid);
}

static void
test_other_actions (void **state)
{
  struct moat_seccomp_rule rule = { .names = STRV ("getppid"), .action = MOAT_SCMP_LOG };
  struct moat_seccomp sc = { .default_action = MOAT_SCMP_ALLOW, .rules = &rule, .n_rules = 1 };
  struct moat_seccomp_prog prog = { 0 };
  int status;

  compile_ok (&sc, &prog);
  assert_child_ok (run_filtered (&prog, body_getppid_returns));
  moat_seccomp_prog_free (&prog);

  rule.action = MOAT_SCMP_TRACE;
  rule.has_errno_ret = true;
  rule.errno_ret = 1234;
  compile_ok (&sc, &prog);
  assert_child_ok (run_filtered (&prog, body_getppid_enosys));
  moat_seccomp_prog_free (&prog);
  rule.has_errno_ret = false;

  rule.action = MOAT_SCMP_TRAP;
  compile_ok (&sc, &prog);
  status = run_filtered (&prog, body_getppid_only);
  assert_true (WIFSIGNALED (status) && WTERMSIG (status) == SIGSYS);
  moat_seccomp_prog_free (&prog);

  rule.action = MOAT_SCMP_KILL_THREAD;
  compile_ok (&sc, &prog);
  status = run_filtered (&prog, body_getppid_only);
  assert_true (WIFSIGNALED (status) && WTERMSIG (status) == SIGSYS);
  moat_seccomp_prog_free (&prog);
}

/* ---- architectures, flags, refusals ---------------------------------- */

static void
test_architectures (void **state)
{
  struct moat_seccomp sc = { .default_action = MOAT_SCMP_ALLOW,
                             .architectures = STRV ("SCMP_ARCH_NATIVE", "SCMP_ARCH_X86_64", "SCMP_ARCH_X86",
                                                    "SCMP_ARCH_X32", "SCMP_ARCH_AARCH64") };
  struct moat_seccomp_prog prog = { 0 };

  compile_ok (&sc, &prog);
  moat_seccomp_prog_free (&prog);

  sc.architectures = STRV ("SCMP_ARCH_X86_64", "SCMP_ARCH_VAX");
  compile_fails (&sc, "linux.seccomp.architectures[1]: unknown architecture `SCMP_ARCH_VAX`");
}

/* Named by the runtime-spec but newer than libseccomp 2.5.4. */
static void
test_architecture_missing_in_libseccomp (void **state)
{
  const struct scmp_version *v = seccomp_version ();
  struct moat_seccomp sc = { .default_action = MOAT_SCMP_ALLOW,
                             .architectures = STRV ("SCMP_ARCH_LOONGARCH64") };
  struct moat_seccomp_prog prog = { 0 };

  if (v->major > 2 || (v->major == 2 && v->minor >= 6))
    {
      compile_ok (&sc, &prog);
      moat_seccomp_prog_free (&prog);
      return;
    }
  compile_fails (&sc, "architectures[0]: architecture `SCMP_ARCH_LOONGARCH64` is not supported by libseccomp");
}

static void
body_nothing (int notify_fd)
{
  CHILD_CHECK (notify_fd == -1);
}

static void
test_flags (void **state)
{
  struct moat_seccomp sc = { .default_action = MOAT_SCMP_ALLOW,
                             .flags = STRV ("SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW") };
  struct moat_seccomp_prog prog = { 0 };

  compile_ok (&sc, &prog);
  assert_int_equal (prog.flags, SECCOMP_FILTER_FLAG_LOG | SECCOMP_FILTER_FLAG_SPEC_ALLOW);
  assert_child_ok (run_filtered (&prog, body_nothing));
  moat_seccomp_prog_free (&prog);

  sc.flags = STRV ("SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_BOGUS");
  compile_fails (&sc, "linux.seccomp.flags[1]: unknown flag `SECCOMP_FILTER_FLAG_BOGUS`");
}

static void
test_refusals (void **state)
{
  struct moat_seccomp_arg bad_index = { .index = 6, .value = 1, .op = MOAT_SCMP_CMP_EQ };
  struct moat_seccomp_rule rule = { .names = STRV ("getpid"), .action = MOAT_SCMP_ALLOW,
                                    .has_errno_ret = true, .errno_ret = 1 };
  struct moat_seccomp sc = { .default_action = MOAT_SCMP_ERRNO, .rules = &rule, .n_rules = 1 };

  /* errnoRet only goes with ERRNO and TRACE (runtime-spec MUST). */
  compile_fails (&sc, "linux.seccomp.syscalls[0]: errnoRet is only valid");
  sc.default_action = MOAT_SCMP_ALLOW;
  sc.has_default_errno_ret = true;
  compile_fails (&sc, "linux.seccomp.defaultAction: errnoRet is only valid");
  sc.has_default_errno_ret = false;

  rule.has_errno_ret = false;
  rule.action = MOAT_SCMP_ERRNO;
  rule.args = &bad_index;
  rule.n_args = 1;
  compile_fails (&sc, "linux.seccomp.syscalls[0].args[0].index: 6 is out of range");

  rule.args = NULL;
  rule.n_args = 0;
  rule.has_errno_ret = true;
  rule.errno_ret = 5000;
  compile_fails (&sc, "errnoRet 5000 is above 4095");

  sc.default_action = MOAT_SCMP_NOTIFY;
  compile_fails (&sc, "SCMP_ACT_NOTIFY cannot be the default action");
}

/* libseccomp refuses a rule whose action is the default one; moat skips it. */
static void
test_rule_same_as_default (void **state)
{
  struct moat_seccomp_rule rules[] = {
    { .names = STRV ("getpid"), .action = MOAT_SCMP_ALLOW },
    { .names = STRV ("getppid"), .action = MOAT_SCMP_ERRNO, .has_errno_ret = true, .errno_ret = 99 },
  };
  struct moat_seccomp sc = { .default_action = MOAT_SCMP_ALLOW, .rules = rules, .n_rules = 2 };
  struct moat_seccomp_prog prog = { 0 };

  compile_ok (&sc, &prog);
  moat_seccomp_prog_free (&prog);
  /* Same errno as the default ERRNO: skipped too. */
  sc.default_action = MOAT_SCMP_ERRNO;
  sc.has_default_errno_ret = true;
  sc.default_errno_ret = 99;
  rules[0].action = MOAT_SCMP_ALLOW;
  compile_ok (&sc, &prog);
  moat_seccomp_prog_free (&prog);
}

/* ---- user notification ----------------------------------------------- */

static void
body_notify (int notify_fd)
{
  char link[64], target[128];
  ssize_t n;

  CHILD_CHECK (notify_fd >= 0);
  snprintf (link, sizeof link, "/proc/self/fd/%d", notify_fd);
  n = readlink (link, target, sizeof target - 1);
  CHILD_CHECK (n > 0);
  target[n] = '\0';
  CHILD_CHECK (strstr (target, "seccomp notify") != NULL);
  CHILD_CHECK ((fcntl (notify_fd, F_GETFD) & FD_CLOEXEC) != 0);
}

static void
test_notify_listener (void **state)
{
  struct moat_seccomp_rule rule = { .names = STRV ("getppid"), .action = MOAT_SCMP_NOTIFY };
  struct moat_seccomp sc = { .default_action = MOAT_SCMP_ALLOW, .rules = &rule, .n_rules = 1,
                             .flags = STRV ("SECCOMP_FILTER_FLAG_TSYNC") };
  struct moat_seccomp_prog prog = { 0 };

  compile_fails (&sc, "linux.seccomp.listenerPath: required");
  sc.listener_path = (char *) "/run/agent.sock";
  compile_ok (&sc, &prog);
  assert_true (prog.notify);
  /* TSYNC together with NEW_LISTENER needs TSYNC_ESRCH added by the load. */
  assert_child_ok (run_filtered (&prog, body_notify));
  moat_seccomp_prog_free (&prog);

  rule.names = STRV ("write");
  compile_fails (&sc, "SCMP_ACT_NOTIFY cannot be used for `write`");
}

static void
test_send_listener (void **state)
{
  static const char inner[] = "{\"ociVersion\":\"1.2.0\",\"id\":\"c1\",\"status\":\"creating\","
                              "\"pid\":4422,\"bundle\":\"/b\"}";
  char dir[] = "/tmp/moat-test-listener-XXXXXX", path[128], buf[4096];
  union
  {
    char buf[CMSG_SPACE (sizeof (int))];
    struct cmsghdr align;
  } control;
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  struct iovec iov = { .iov_base = buf, .iov_len = sizeof buf - 1 };
  struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
                        .msg_controllen = sizeof control.buf };
  struct moat_error err = { 0 };
  struct stat want, got;
  struct cmsghdr *cmsg;
  char *process_state = NULL;
  json_t *sent;
  int lsock, conn, pipefd[2], recv_fd;
  ssize_t n;

  assert_non_null (mkdtemp (dir));
  snprintf (path, sizeof path, "%s/agent.sock", dir);
  memcpy (addr.sun_path, path, strlen (path) + 1);
  lsock = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  assert_true (lsock >= 0);
  assert_int_equal (bind (lsock, (struct sockaddr *) &addr, sizeof addr), 0);
  assert_int_equal (listen (lsock, 1), 0);
  assert_int_equal (pipe2 (pipefd, O_CLOEXEC), 0);

  /* Only a container process state is sent. */
  assert_int_equal (moat_seccomp_send_listener (path, pipefd[0], inner, &err), -1);
  assert_non_null (strstr (err.msg, "not a container process state"));

  if (moat_seccomp_process_state ("1.2.0", 4422, "MKNOD=/dev/null", inner, &process_state, &err) < 0)
    fail_msg ("process state: %s", err.msg);
  if (moat_seccomp_send_listener (path, pipefd[0], process_state, &err) < 0)
    fail_msg ("send: %s", err.msg);

  conn = accept4 (lsock, NULL, NULL, SOCK_CLOEXEC);
  assert_true (conn >= 0);
  n = recvmsg (conn, &msg, MSG_CMSG_CLOEXEC);
  assert_true (n > 0);
  buf[n] = '\0';
  assert_string_equal (buf, process_state);
  cmsg = CMSG_FIRSTHDR (&msg);
  assert_non_null (cmsg);
  assert_int_equal (cmsg->cmsg_type, SCM_RIGHTS);
  memcpy (&recv_fd, CMSG_DATA (cmsg), sizeof recv_fd);
  assert_int_equal (fstat (pipefd[0], &want), 0);
  assert_int_equal (fstat (recv_fd, &got), 0);
  assert_int_equal (want.st_ino, got.st_ino);
  /* One state per connection: the runtime closed its end. */
  assert_int_equal (recv (conn, buf, sizeof buf, 0), 0);

  sent = json_loads (process_state, 0, NULL);
  assert_non_null (sent);
  assert_string_equal (json_string_value (json_object_get (sent, "ociVersion")), "1.2.0");
  assert_string_equal (json_string_value (json_array_get (json_object_get (sent, "fds"), 0)), "seccompFd");
  assert_int_equal (json_integer_value (json_object_get (sent, "pid")), 4422);
  assert_string_equal (json_string_value (json_object_get (sent, "metadata")), "MKNOD=/dev/null");
  assert_string_equal (json_string_value (json_object_get (json_object_get (sent, "state"), "id")), "c1");
  json_decref (sent);

  /* No agent listening: an error naming the path. */
  close (lsock);
  unlink (path);
  assert_int_equal (moat_seccomp_send_listener (path, pipefd[0], process_state, &err), -1);
  assert_non_null (strstr (err.msg, "linux.seccomp.listenerPath: connect"));

  free (process_state);
  close (recv_fd);
  close (conn);
  close (pipefd[0]);
  close (pipefd[1]);
  rmdir (dir);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_errno_rule),
    cmocka_unit_test (test_unknown_syscall_skipped),
    cmocka_unit_test (test_arg_condition),
    cmocka_unit_test (test_args_or_and),
    cmocka_unit_test (test_default_errno_allowlist),
    cmocka_unit_test (test_kill_process),
    cmocka_unit_test (test_clone_namespace_mask),
    cmocka_unit_test (test_docker_like_profile),
    cmocka_unit_test (test_other_actions),
    cmocka_unit_test (test_architectures),
    cmocka_unit_test (test_architecture_missing_in_libseccomp),
    cmocka_unit_test (test_flags),
    cmocka_unit_test (test_refusals),
    cmocka_unit_test (test_rule_same_as_default),
    cmocka_unit_test (test_notify_listener),
    cmocka_unit_test (test_send_listener),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
