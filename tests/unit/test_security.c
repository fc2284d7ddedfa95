/* SPDX-License-Identifier: GPL-2.0-or-later */
/* sandbox/caps.c, rlimit.c, lsm.c.  Everything that changes process state
 * runs in a forked child, which sends its struct moat_error back over a pipe;
 * the checks on the resulting state run in the child too (CHILD_CHECK). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox/security.h"
#include "util/syscalls.h"

#define BIT(cap) ((uint64_t) 1 << (cap))

#define CHILD_FAIL_CODE 3
#include "test_child.h"

typedef int (*child_fn) (void *arg, struct moat_error *err);

/* Run FN in a child.  Returns FN's result (0 or -1) with its error in *OUT;
   a failed CHILD_CHECK fails the test. */
static int
run_child (child_fn fn, void *arg, struct moat_error *out)
{
  int pipefd[2], status = 0;
  pid_t pid;

  memset (out, 0, sizeof *out);
  assert_int_equal (pipe2 (pipefd, O_CLOEXEC), 0);
  fflush (NULL);
  pid = fork ();
  assert_true (pid >= 0);
  if (pid == 0)
    {
      struct moat_error err = { 0 };
      int r;

      close (pipefd[0]);
      r = fn (arg, &err);
      CHILD_CHECK (write (pipefd[1], &err, sizeof err) == (ssize_t) sizeof err);
      child_exit (r < 0 ? 1 : 0);
    }
  close (pipefd[1]);
  assert_int_equal (read (pipefd[0], out, sizeof *out), (ssize_t) sizeof *out);
  close (pipefd[0]);
  assert_int_equal (waitpid (pid, &status, 0), pid);
  assert_true (WIFEXITED (status));
  if (WEXITSTATUS (status) > 1)
    fail_msg ("a check in the child failed (status %d)", WEXITSTATUS (status));
  return WEXITSTATUS (status) == 0 ? 0 : -1;
}

static void
assert_msg (const struct moat_error *err, const char *needle)
{
  if (strstr (err->msg, needle) == NULL)
    fail_msg ("error `%s` does not mention `%s`", err->msg, needle);
}

/* A capability set of this process from /proc/self/status ("CapEff" ...). */
static uint64_t
proc_caps (const char *which)
{
  char line[256];
  unsigned long long v = ~0ULL;
  size_t n = strlen (which);
  FILE *f = fopen ("/proc/self/status", "re");

  if (f == NULL)
    return ~0ULL;
  while (fgets (line, sizeof line, f))
    if (strncmp (line, which, n) == 0 && line[n] == ':')
      {
        v = strtoull (line + n + 1, NULL, 16);
        break;
      }
  fclose (f);
  return v;
}

/* ---- user and capabilities ------------------------------------------- */

struct caps_case
{
  struct moat_process p;
  bool setgroups_allowed;
};

static int
child_caps_root (void *arg, struct moat_error *err)
{
  struct caps_case *c = arg;

  if (moat_user_caps_apply (&c->p, c->setgroups_allowed, err) < 0)
    return -1;
  CHILD_CHECK (proc_caps ("CapBnd") == (BIT (CAP_CHOWN) | BIT (CAP_KILL)));
  CHILD_CHECK (proc_caps ("CapBnd") == 0x21);
  CHILD_CHECK (proc_caps ("CapEff") == 0x1);
  CHILD_CHECK (proc_caps ("CapPrm") == 0x1);
  CHILD_CHECK (proc_caps ("CapInh") == 0);
  CHILD_CHECK (proc_caps ("CapAmb") == 0);
  CHILD_CHECK (getuid () == 0 && geteuid () == 0 && getgid () == 0);
  CHILD_CHECK (prctl (PR_GET_KEEPCAPS, 0, 0, 0, 0) == 0);
  CHILD_CHECK (umask (0) == 0022); /* the default umask */
  CHILD_CHECK (getgroups (0, NULL) == 0);
  return 0;
}

static void
test_caps_root (void **state)
{
  struct caps_case c = { .setgroups_allowed = true };
  struct moat_error err;

  c.p.has_caps = true;
  c.p.caps.bounding = BIT (CAP_CHOWN) | BIT (CAP_KILL);
  c.p.caps.effective = c.p.caps.permitted = BIT (CAP_CHOWN);
  if (run_child (child_caps_root, &c, &err) < 0)
    fail_msg ("apply: %s", err.msg);
}

static int
child_caps_nonroot (void *arg, struct moat_error *err)
{
  struct caps_case *c = arg;
  gid_t groups[8];

  if (moat_user_caps_apply (&c->p, c->setgroups_allowed, err) < 0)
    return -1;
  CHILD_CHECK (getuid () == 1000 && geteuid () == 1000);
  CHILD_CHECK (getgid () == 1000 && getegid () == 1000);
  CHILD_CHECK (getgroups (8, groups) == 2 && groups[0] == 10 && groups[1] == 20);
  CHILD_CHECK (proc_caps ("CapEff") == 0);
  CHILD_CHECK (proc_caps ("CapPrm") == 0);
  CHILD_CHECK (proc_caps ("CapInh") == 0);
  CHILD_CHECK (proc_caps ("CapAmb") == 0);
  CHILD_CHECK (proc_caps ("CapBnd") == 0);
  CHILD_CHECK (umask (0) == 0077);
  /* Root cannot be regained. */
  CHILD_CHECK (setuid (0) == -1 && errno == EPERM);
  return 0;
}

/* No "capabilities" object: every set ends empty for a non-root user. */
static void
test_caps_nonroot_no_caps (void **state)
{
  uint32_t gids[] = { 10, 20 };
  struct caps_case c = { .setgroups_allowed = true };
  struct moat_error err;

  c.p.has_caps = false;
  c.p.user = (struct moat_user) { .uid = 1000, .gid = 1000, .has_umask = true, .umask = 0077,
                                  .additional_gids = gids, .n_additional_gids = 2 };
  if (run_child (child_caps_nonroot, &c, &err) < 0)
    fail_msg ("apply: %s", err.msg);
}

static int
child_caps_ambient (void *arg, struct moat_error *err)
{
  struct caps_case *c = arg;
  uint64_t both = BIT (CAP_CHOWN) | BIT (CAP_NET_BIND_SERVICE);

  if (moat_user_caps_apply (&c->p, c->setgroups_allowed, err) < 0)
    return -1;
  CHILD_CHECK (getuid () == 1000);
  CHILD_CHECK (proc_caps ("CapAmb") == BIT (CAP_NET_BIND_SERVICE));
  CHILD_CHECK (proc_caps ("CapInh") == both);
  CHILD_CHECK (proc_caps ("CapPrm") == both);
  CHILD_CHECK (proc_caps ("CapEff") == both);
  CHILD_CHECK (proc_caps ("CapBnd") == both);
  return 0;
}

static void
test_caps_ambient (void **state)
{
  struct caps_case c = { .setgroups_allowed = true };
  struct moat_error err;

  c.p.user = (struct moat_user) { .uid = 1000, .gid = 1000 };
  c.p.has_caps = true;
  c.p.caps.bounding = c.p.caps.permitted = c.p.caps.effective = c.p.caps.inheritable
      = BIT (CAP_CHOWN) | BIT (CAP_NET_BIND_SERVICE);
  c.p.caps.ambient = BIT (CAP_NET_BIND_SERVICE);
  if (run_child (child_caps_ambient, &c, &err) < 0)
    fail_msg ("apply: %s", err.msg);
}

/* An ambient cap outside inheritable cannot be raised: skipped, as runc and
 * crun do for `runc spec` configs, so the process ends with none. */
static int
child_caps_ambient_skipped (void *arg, struct moat_error *err)
{
  struct caps_case *c = arg;

  if (moat_user_caps_apply (&c->p, c->setgroups_allowed, err) < 0)
    return -1;
  CHILD_CHECK (getuid () == 1000);
  CHILD_CHECK (proc_caps ("CapAmb") == 0);
  CHILD_CHECK (proc_caps ("CapInh") == 0);
  CHILD_CHECK (proc_caps ("CapPrm") == BIT (CAP_NET_BIND_SERVICE));
  return 0;
}

static void
test_caps_ambient_without_inheritable (void **state)
{
  struct caps_case c = { .setgroups_allowed = true };
  struct moat_error err;

  c.p.user = (struct moat_user) { .uid = 1000, .gid = 1000 };
  c.p.has_caps = true;
  c.p.caps.bounding = c.p.caps.permitted = c.p.caps.effective = BIT (CAP_NET_BIND_SERVICE);
  c.p.caps.ambient = BIT (CAP_NET_BIND_SERVICE);
  if (run_child (child_caps_ambient_skipped, &c, &err) < 0)
    fail_msg ("apply: %s", err.msg);
}

/* A refused config must leave the process as it was. */
static int
child_caps_refused (void *arg, struct moat_error *err)
{
  struct caps_case *c = arg;
  uint64_t bnd = proc_caps ("CapBnd"), eff = proc_caps ("CapEff");
  int r = moat_user_caps_apply (&c->p, c->setgroups_allowed, err);

  CHILD_CHECK (r < 0);
  CHILD_CHECK (getuid () == 0 && proc_caps ("CapBnd") == bnd && proc_caps ("CapEff") == eff);
  return r;
}

static void
test_caps_refusals (void **state)
{
  uint32_t gids[] = { 10 };
  struct caps_case c = { .setgroups_allowed = true };
  struct moat_error err;

  c.p.user = (struct moat_user) { .uid = 1000, .gid = 1000 };
  c.p.has_caps = true;
  c.p.caps.bounding = c.p.caps.permitted = BIT (CAP_NET_BIND_SERVICE);

  /* Effective outside permitted. */
  c.p.caps.effective = BIT (CAP_NET_BIND_SERVICE) | BIT (CAP_KILL);
  assert_int_equal (run_child (child_caps_refused, &c, &err), -1);
  assert_string_equal (err.msg, "process.capabilities.effective: CAP_KILL is not in the permitted set");

  /* A capability number the kernel does not have. */
  c.p.caps.effective = BIT (CAP_NET_BIND_SERVICE);
  c.p.caps.bounding |= BIT (62);
  assert_int_equal (run_child (child_caps_refused, &c, &err), -1);
  assert_msg (&err, "process.capabilities.bounding: capability 62 is not known to this kernel");

  /* additionalGids where setgroups is denied. */
  c.p.caps.bounding = BIT (CAP_NET_BIND_SERVICE);
  c.p.user.additional_gids = gids;
  c.p.user.n_additional_gids = 1;
  c.setgroups_allowed = false;
  assert_int_equal (run_child (child_caps_refused, &c, &err), -1);
  assert_msg (&err, "process.user.additionalGids: setgroups is denied in this user namespace");
}

static int
child_caps_apply_fails (void *arg, struct moat_error *err)
{
  struct caps_case *c = arg;

  return moat_user_caps_apply (&c->p, c->setgroups_allowed, err);
}

/* A capability the runtime itself lacks cannot be granted: named in the error. */
static void
test_caps_not_held (void **state)
{
  uint64_t prm = proc_caps ("CapPrm");
  struct caps_case c = { .setgroups_allowed = true };
  struct moat_error err;
  char want[128];
  int cap;

  for (cap = 0; cap <= CAP_LAST_CAP && (prm & BIT (cap)); cap++)
    ;
  if (cap > CAP_LAST_CAP || !CAP_IS_SUPPORTED (cap))
    skip (); /* the test process holds every capability */
  c.p.has_caps = true;
  c.p.caps.bounding = c.p.caps.permitted = BIT (cap);
  assert_int_equal (run_child (child_caps_apply_fails, &c, &err), -1);
  snprintf (want, sizeof want, "process.capabilities.permitted: %s is not held by the runtime: %s",
            moat_cap_name (cap), strerror (EPERM));
  assert_string_equal (err.msg, want);
}

static int
child_nnp (void *arg, struct moat_error *err)
{
  struct moat_process *p = arg;

  if (moat_no_new_privs_apply (p, err) < 0)
    return -1;
  CHILD_CHECK (prctl (PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == (p->no_new_privileges ? 1 : 0));
  return 0;
}

static void
test_no_new_privs (void **state)
{
  struct moat_process p = { .no_new_privileges = true };
  struct moat_error err;

  assert_int_equal (prctl (PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0), 0);
  assert_int_equal (run_child (child_nnp, &p, &err), 0);
  p.no_new_privileges = false;
  assert_int_equal (run_child (child_nnp, &p, &err), 0);
}

static int
child_personality (void *arg, struct moat_error *err)
{
  struct moat_spec *spec = arg;
  struct utsname u;

  if (moat_personality_apply (spec, err) < 0)
    return -1;
  CHILD_CHECK ((personality (0xffffffff) & PER_MASK) == PER_LINUX32);
  CHILD_CHECK (uname (&u) == 0);
#ifdef __x86_64__
  CHILD_CHECK (strcmp (u.machine, "i686") == 0);
#endif
  return 0;
}

static void
test_personality (void **state)
{
  struct moat_spec spec = { .has_linux = true };
  struct moat_error err;

  spec.linux.has_personality = true;
  spec.linux.personality = PER_LINUX32;
  if (run_child (child_personality, &spec, &err) < 0)
    fail_msg ("apply: %s", err.msg);
  spec.linux.personality = PER_BSD;
  assert_int_equal (moat_personality_apply (&spec, &err), -1);
  assert_msg (&err, "linux.personality.domain: unsupported execution domain");
  /* Absent: nothing to do. */
  spec.linux.has_personality = false;
  assert_int_equal (moat_personality_apply (&spec, &err), 0);
}

/* ---- rlimits, scheduler, ioPriority ---------------------------------- */

static int
child_rlimits_ok (void *arg, struct moat_error *err)
{
  struct moat_process *p = arg;
  struct rlimit l;

  if (moat_rlimits_apply (p, err) < 0)
    return -1;
  CHILD_CHECK (getrlimit (RLIMIT_NOFILE, &l) == 0 && l.rlim_cur == 1024 && l.rlim_max == 2048);
  CHILD_CHECK (getrlimit (RLIMIT_CORE, &l) == 0 && l.rlim_cur == 0 && l.rlim_max == 0);
  return 0;
}

static int
child_rlimits_apply (void *arg, struct moat_error *err)
{
  return moat_rlimits_apply (arg, err);
}

static void
test_rlimits (void **state)
{
  struct moat_rlimit l[2] = { { RLIMIT_NOFILE, 1024, 2048 }, { RLIMIT_CORE, 0, 0 } };
  struct moat_process p = { .rlimits = l, .n_rlimits = 2 };
  struct moat_error err;

  if (run_child (child_rlimits_ok, &p, &err) < 0)
    fail_msg ("apply: %s", err.msg);

  l[1] = (struct moat_rlimit) { RLIMIT_NOFILE, 4096, 1024 };
  assert_int_equal (run_child (child_rlimits_apply, &p, &err), -1);
  assert_string_equal (err.msg, "process.rlimits[1]: RLIMIT_NOFILE soft limit 4096 is above the hard limit 1024");
}

/* Raising a hard limit needs CAP_SYS_RESOURCE, which this machine's root
   lacks (nofile hard limit 20000). */
static void
test_rlimit_above_hard (void **state)
{
  struct rlimit cur;
  struct moat_rlimit l;
  struct moat_process p = { .rlimits = &l, .n_rlimits = 1 };
  struct moat_error err;
  char want[256];

  if (proc_caps ("CapEff") & BIT (CAP_SYS_RESOURCE))
    skip ();
  assert_int_equal (getrlimit (RLIMIT_NOFILE, &cur), 0);
  l = (struct moat_rlimit) { RLIMIT_NOFILE, cur.rlim_max + 10000, cur.rlim_max + 10000 };
  assert_int_equal (run_child (child_rlimits_apply, &p, &err), -1);
  snprintf (want, sizeof want,
            "process.rlimits[0]: RLIMIT_NOFILE: raising the hard limit from %llu to %llu needs CAP_SYS_RESOURCE: %s",
            (unsigned long long) cur.rlim_max, (unsigned long long) l.hard, strerror (EPERM));
  assert_string_equal (err.msg, want);
  assert_int_equal (err.code, EPERM);
}

static int
child_sched (void *arg, struct moat_error *err)
{
  struct moat_process *p = arg;

  if (moat_process_sched_apply (p, err) < 0)
    return -1;
  if (p->has_scheduler)
    {
      CHILD_CHECK (sched_getscheduler (0) == p->sched_policy);
      errno = 0;
      CHILD_CHECK (getpriority (PRIO_PROCESS, 0) == p->sched_nice && errno == 0);
    }
  if (p->has_io_priority)
    CHILD_CHECK (sys_ioprio_get (IOPRIO_WHO_PROCESS, 0)
                 == MOAT_IOPRIO_VALUE (p->io_priority_class, p->io_priority));
  return 0;
}

static void
test_scheduler_and_ioprio (void **state)
{
  struct moat_process p = { .has_scheduler = true, .sched_policy = SCHED_BATCH, .sched_nice = 5,
                            .has_io_priority = true, .io_priority_class = 2, .io_priority = 7 };
  struct moat_error err;

  if (run_child (child_sched, &p, &err) < 0)
    fail_msg ("apply: %s", err.msg);

  p.sched_policy = SCHED_IDLE;
  p.sched_nice = 0;
  p.io_priority_class = 3;
  p.io_priority = 0;
  if (run_child (child_sched, &p, &err) < 0)
    fail_msg ("apply: %s", err.msg);

  p.sched_nice = 25;
  assert_int_equal (run_child (child_sched, &p, &err), -1);
  assert_string_equal (err.msg, "process.scheduler.nice: 25 is out of range (-20..19)");

  p.has_scheduler = false;
  p.io_priority_class = 0;
  assert_int_equal (run_child (child_sched, &p, &err), -1);
  assert_string_equal (err.msg, "process.ioPriority.class: unknown class 0");
  p.io_priority_class = 2;
  p.io_priority = 8;
  assert_int_equal (run_child (child_sched, &p, &err), -1);
  assert_string_equal (err.msg, "process.ioPriority.priority: 8 is out of range (0..7)");
}

/* ---- LSM --------------------------------------------------------------- */

static bool
host_apparmor (void)
{
  char c = 0;
  int fd = open ("/sys/module/apparmor/parameters/enabled", O_RDONLY | O_CLOEXEC);

  if (fd >= 0)
    {
      if (read (fd, &c, 1) != 1)
        c = 0;
      close (fd);
    }
  return c == 'Y' && access ("/sys/kernel/security/apparmor", F_OK) == 0;
}

static bool
host_selinux (void)
{
  return access ("/sys/fs/selinux/enforce", F_OK) == 0;
}

/* Fail closed: a label for an LSM the kernel does not run is refused. */
static void
test_lsm_check (void **state)
{
  struct moat_spec spec = { .has_process = true, .has_linux = true };
  struct moat_error err;

  assert_int_equal (moat_lsm_check (&spec, &err), 0);
  spec.process.apparmor_profile = (char *) "";
  assert_int_equal (moat_lsm_check (&spec, &err), 0);

  spec.process.apparmor_profile = (char *) "docker-default";
  if (host_apparmor ())
    assert_int_equal (moat_lsm_check (&spec, &err), 0);
  else
    {
      assert_int_equal (moat_lsm_check (&spec, &err), -1);
      assert_string_equal (err.msg, "process.apparmorProfile: AppArmor is not enabled on this kernel");
    }
  spec.process.apparmor_profile = NULL;

  spec.process.selinux_label = (char *) "system_u:system_r:container_t:s0";
  if (host_selinux ())
    assert_int_equal (moat_lsm_check (&spec, &err), 0);
  else
    {
      assert_int_equal (moat_lsm_check (&spec, &err), -1);
      assert_string_equal (err.msg, "process.selinuxLabel: SELinux is not enabled on this kernel");
    }
  spec.process.selinux_label = NULL;

  spec.linux.mount_label = (char *) "system_u:object_r:container_file_t:s0";
  if (host_selinux ())
    assert_int_equal (moat_lsm_check (&spec, &err), 0);
  else
    {
      assert_int_equal (moat_lsm_check (&spec, &err), -1);
      assert_string_equal (err.msg, "linux.mountLabel: SELinux is not enabled on this kernel");
    }
}

static off_t
file_size (const char *path)
{
  struct stat st;

  return stat (path, &st) == 0 ? st.st_size : -1;
}

/* A directory laid out like procfs (CVE-2019-16884: a volume over /proc)
   must not take the label. */
static void
test_lsm_apply_fake_proc (void **state)
{
  char dir[] = "/tmp/moat-test-proc-XXXXXX", path[256];
  const char *files[] = { "1/task/1/attr/exec", "1/task/1/attr/apparmor/exec" };
  struct moat_process p = { .apparmor_profile = (char *) "moat-test" };
  struct moat_error err;
  int proc_fd, i;

  assert_non_null (mkdtemp (dir));
  snprintf (path, sizeof path, "mkdir -p %s/1/task/1/attr/apparmor && touch %s/1/task/1/attr/exec "
                               "%s/1/task/1/attr/apparmor/exec && ln -s 1/task/1 %s/thread-self",
            dir, dir, dir, dir);
  assert_int_equal (system (path), 0);
  proc_fd = open (dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  assert_true (proc_fd >= 0);

  assert_int_equal (moat_lsm_apply (&p, proc_fd, &err), -1);
  assert_msg (&err, "process.apparmorProfile: procfs: the proc fd is not on procfs");
  p.apparmor_profile = NULL;
  p.selinux_label = (char *) "system_u:system_r:container_t:s0";
  assert_int_equal (moat_lsm_apply (&p, proc_fd, &err), -1);
  assert_msg (&err, "process.selinuxLabel: procfs: the proc fd is not on procfs");
  for (i = 0; i < 2; i++)
    {
      snprintf (path, sizeof path, "%s/%s", dir, files[i]);
      assert_int_equal (file_size (path), 0);
    }

  /* No label asked for: the fd is not even looked at. */
  p.selinux_label = NULL;
  assert_int_equal (moat_lsm_apply (&p, -1, &err), 0);

  close (proc_fd);
  snprintf (path, sizeof path, "rm -rf %s", dir);
  assert_int_equal (system (path), 0);
}

/* In a private mount namespace, cover this thread's attr/exec with SOURCE and
   try to apply a label through the real procfs: the mount crossing must be
   refused (CVE-2025-52881 redirected the write to another procfs file, which
   passes a bare "is it procfs" check). */
static int
child_lsm_overmount (void *arg, struct moat_error *err)
{
  const char *source = arg;
  struct moat_process p = { .selinux_label = (char *) "system_u:system_r:container_t:s0" };
  int proc_fd, r;

  CHILD_CHECK (unshare (CLONE_NEWNS) == 0);
  CHILD_CHECK (mount (NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0);
  CHILD_CHECK (mount (source, "/proc/thread-self/attr/exec", NULL, MS_BIND, NULL) == 0);
  proc_fd = open ("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
  CHILD_CHECK (proc_fd >= 0);
  r = moat_lsm_apply (&p, proc_fd, err);
  CHILD_CHECK (r < 0 && err->code == EXDEV);
  return r;
}

static void
test_lsm_apply_overmounted (void **state)
{
  char file[] = "/tmp/moat-test-attr-XXXXXX";
  struct moat_error err;
  int fd = mkstemp (file);

  assert_true (fd >= 0);
  close (fd);
  assert_int_equal (run_child (child_lsm_overmount, file, &err), -1);
  assert_msg (&err, "process.selinuxLabel: procfs: open `");
  assert_msg (&err, "/attr/exec`");
  assert_int_equal (file_size (file), 0);
  unlink (file);

  assert_int_equal (run_child (child_lsm_overmount, (void *) "/proc/self/sched", &err), -1);
  assert_msg (&err, "process.selinuxLabel: procfs: open `");
}

static int
child_lsm_real_proc (void *arg, struct moat_error *err)
{
  struct moat_process *p = arg;
  int proc_fd = open ("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);

  CHILD_CHECK (proc_fd >= 0);
  return moat_lsm_apply (p, proc_fd, err);
}

/* Through the real procfs the checks pass and the write reaches the kernel,
   which refuses it here because no LSM on this host takes exec labels. */
static void
test_lsm_apply_real_proc (void **state)
{
  struct moat_process p = { .apparmor_profile = (char *) "moat-test-no-such-profile" };
  struct moat_error err;

  if (host_apparmor () || host_selinux ())
    skip ();
  assert_int_equal (run_child (child_lsm_real_proc, &p, &err), -1);
  /* attr/apparmor/ does not exist: the legacy attr/exec is used. */
  assert_msg (&err, "process.apparmorProfile: write `");
  assert_msg (&err, "/task/");
  assert_msg (&err, "/attr/exec`: Invalid argument");

  p.apparmor_profile = NULL;
  p.selinux_label = (char *) "moat_u:moat_r:moat_t:s0";
  assert_int_equal (run_child (child_lsm_real_proc, &p, &err), -1);
  assert_msg (&err, "process.selinuxLabel: write `");
  assert_msg (&err, "/attr/exec`: Invalid argument");
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_caps_root),
    cmocka_unit_test (test_caps_nonroot_no_caps),
    cmocka_unit_test (test_caps_ambient),
    cmocka_unit_test (test_caps_ambient_without_inheritable),
    cmocka_unit_test (test_caps_refusals),
    cmocka_unit_test (test_caps_not_held),
    cmocka_unit_test (test_no_new_privs),
    cmocka_unit_test (test_personality),
    cmocka_unit_test (test_rlimits),
    cmocka_unit_test (test_rlimit_above_hard),
    cmocka_unit_test (test_scheduler_and_ioprio),
    cmocka_unit_test (test_lsm_check),
    cmocka_unit_test (test_lsm_apply_fake_proc),
    cmocka_unit_test (test_lsm_apply_overmounted),
    cmocka_unit_test (test_lsm_apply_real_proc),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
