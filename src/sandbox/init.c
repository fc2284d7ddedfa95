/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The container's init: a flat, ordered list of named steps.  The order is
 * forced by the kernel in several places; each constraint is noted beside the
 * step that carries it. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox/idmap.h"
#include "sandbox/landlock.h"
#include "sandbox/rootfs.h"
#include "sandbox/sandbox.h"
#include "sandbox/security.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/syscalls.h"

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

__attribute__ ((noreturn)) static void
child_fail (int fd, struct moat_error *err)
{
  moat_sync_send (fd, MOAT_SYNC_ERROR, err, sizeof *err, -1, NULL);
  _exit (1);
}

static bool
in_userns (const struct moat_spec *spec)
{
  return moat_spec_namespace (spec, CLONE_NEWUSER) != NULL;
}

static int
write_time_offsets (const struct moat_spec *spec, struct moat_error *err)
{
  char buf[128];
  int n = 0;

  if (spec->linux.time_monotonic.set)
    n += snprintf (buf + n, sizeof buf - (size_t) n, "monotonic %lld %u\n",
                   (long long) spec->linux.time_monotonic.secs, spec->linux.time_monotonic.nanosecs);
  if (spec->linux.time_boottime.set)
    n += snprintf (buf + n, sizeof buf - (size_t) n, "boottime %lld %u\n",
                   (long long) spec->linux.time_boottime.secs, spec->linux.time_boottime.nanosecs);
  if (n == 0)
    return 0;
  if (moat_write_file_at (AT_FDCWD, "/proc/self/timens_offsets", buf, (size_t) n, err) < 0)
    return moat_error_wrap (err, "linux.timeOffsets");
  return 0;
}

/* General path: join by path, then create, then fork into the pid namespace.
 * Returns in the real init (the grandchild); the intermediate child exits. */
static void
init_namespaces_general (struct moat_sandbox *sb, int fd)
{
  const struct moat_spec *spec = sb->spec;
  struct moat_error err = { 0 };
  size_t i;
  int new_flags = moat_ns_new_flags (spec);
  pid_t pid;
  char pidtxt[32];

  /* The user namespace is first in the list: its capabilities let us join
     the namespaces it owns. */
  for (i = 0; i < sb->n_joins; i++)
    if (setns (sb->join_fds[i], sb->join_types[i]) < 0)
      {
        moat_err (&err, errno, "linux.namespaces: join %s namespace", moat_namespace_name (sb->join_types[i]));
        child_fail (fd, &err);
      }
  for (i = 0; i < sb->n_joins; i++)
    close (sb->join_fds[i]);
  if (new_flags & CLONE_NEWUSER)
    {
      if (unshare (CLONE_NEWUSER) < 0)
        {
          moat_err (&err, errno, "unshare user namespace");
          child_fail (fd, &err);
        }
      if (moat_sync_send (fd, MOAT_SYNC_USERNS_READY, NULL, 0, -1, &err) < 0)
        _exit (1);
    }
  if (moat_idmap_recv_until_go (sb, fd, &err) < 0)
    child_fail (fd, &err);
  if (unshare (new_flags & ~CLONE_NEWUSER) < 0)
    {
      moat_err (&err, errno, "unshare namespaces");
      child_fail (fd, &err);
    }
  if ((new_flags & CLONE_NEWTIME) && write_time_offsets (spec, &err) < 0)
    child_fail (fd, &err);
  pid = fork ();
  if (pid < 0)
    {
      moat_err (&err, errno, "fork into the pid namespace");
      child_fail (fd, &err);
    }
  if (pid > 0)
    {
      snprintf (pidtxt, sizeof pidtxt, "%d", (int) pid);
      moat_sync_send (fd, MOAT_SYNC_PID, pidtxt, strlen (pidtxt) + 1, -1, NULL);
      _exit (0);
    }
  prctl (PR_SET_DUMPABLE, 0, 0, 0, 0);
}

static void
init_namespaces_fast (struct moat_sandbox *sb, int fd)
{
  struct moat_error err = { 0 };

  if (moat_idmap_recv_until_go (sb, fd, &err) < 0)
    child_fail (fd, &err);
}

/* Fast path: the parent moves us into the container's cgroup while we mount
 * (sandbox/spawn.c).  Only once it says so does a new cgroup namespace get
 * that cgroup as its root. */
static int
await_cgroup_joined (struct moat_rootfs_ctx *ctx, struct moat_error *err)
{
  enum moat_sync t;

  if (moat_sync_recv (ctx->sync_fd, &t, NULL, NULL, NULL, err) < 0)
    return -1;
  if (t != MOAT_SYNC_CGROUP_JOINED)
    return moat_err (err, EPROTO, "sync: expected cgroup joined, got %d", t);
  if ((moat_ns_new_flags (ctx->spec) & CLONE_NEWCGROUP) && unshare (CLONE_NEWCGROUP) < 0)
    return moat_err (err, errno, "unshare cgroup namespace");
  return 0;
}

/* In a new user namespace we start with an unmapped uid: become the
 * namespace's root so files we create (mount points) get a mapped owner. */
static int
become_userns_root (const struct moat_spec *spec, struct moat_error *err)
{
  if (!in_userns (spec))
    return 0;
  if (setresgid (0, 0, 0) < 0)
    return moat_err (err, errno, "setresgid 0 in the user namespace (is container gid 0 mapped?)");
  if (setresuid (0, 0, 0) < 0)
    return moat_err (err, errno, "setresuid 0 in the user namespace (is container uid 0 mapped?)");
  if (setgroups (0, NULL) < 0 && errno != EPERM)
    return moat_err (err, errno, "setgroups");
  return 0;
}

static int
set_names (const struct moat_spec *spec, struct moat_error *err)
{
  if (spec->hostname && sethostname (spec->hostname, strlen (spec->hostname)) < 0)
    return moat_err (err, errno, "hostname `%s`", spec->hostname);
  if (spec->domainname && setdomainname (spec->domainname, strlen (spec->domainname)) < 0)
    return moat_err (err, errno, "domainname `%s`", spec->domainname);
  return 0;
}

static const char *
env_get (const struct moat_strv *env, const char *key)
{
  size_t i, kl = strlen (key);

  for (i = 0; i < env->n; i++)
    if (strncmp (env->v[i], key, kl) == 0 && env->v[i][kl] == '=')
      return env->v[i] + kl + 1;
  return NULL;
}

/* Resolve args[0] like execvp would, inside the container's root, so a
 * missing binary fails `create` (as runc does) rather than `start`. */
int moat_find_executable (const struct moat_process *p, char *out, size_t size, struct moat_error *err);
int
moat_find_executable (const struct moat_process *p, char *out, size_t size, struct moat_error *err)
{
  const char *name = p->args.v[0];
  const char *path = env_get (&p->env, "PATH");
  cleanup_free char *copy = NULL;
  char *save = NULL, *dir;
  struct stat st;

  if (strchr (name, '/'))
    {
      if (stat (name, &st) < 0)
        return moat_err (err, errno, "exec: `%s`", name);
      if (!S_ISREG (st.st_mode))
        return moat_err (err, EACCES, "exec: `%s`: not a regular file", name);
      snprintf (out, size, "%s", name);
      return 0;
    }
  copy = strdup (path ? path : DEFAULT_PATH);
  if (copy == NULL)
    return moat_err (err, ENOMEM, "exec");
  for (dir = strtok_r (copy, ":", &save); dir; dir = strtok_r (NULL, ":", &save))
    {
      snprintf (out, size, "%s/%s", *dir ? dir : ".", name);
      if (stat (out, &st) == 0 && S_ISREG (st.st_mode) && (st.st_mode & 0111))
        return 0;
    }
  return moat_err (err, ENOENT, "exec: `%s`: executable file not found in $PATH", name);
}

/* chdir into process.cwd (created when missing, as runc does) and verify
 * the result is inside the root: a cwd reached through a leaked fd would make
 * getcwd() fail with ENOENT ("(unreachable)"), CVE-2024-21626. */
int moat_enter_cwd (const struct moat_process *p, struct moat_error *err);
int
moat_enter_cwd (const struct moat_process *p, struct moat_error *err)
{
  char buf[4096];

  if (chdir (p->cwd) < 0)
    {
      if (errno != ENOENT)
        return moat_err (err, errno, "process.cwd `%s`", p->cwd);
      {
        struct moat_error e2;
        cleanup_fd int rootfd = open ("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        cleanup_fd int d = rootfd < 0 ? -1 : moat_mkdir_all_in_root (rootfd, p->cwd, 0755, &e2);
        if (d < 0 || chdir (p->cwd) < 0)
          return moat_err (err, errno, "process.cwd `%s`", p->cwd);
      }
    }
  if (getcwd (buf, sizeof buf) == NULL || buf[0] != '/')
    return moat_err (err, EPERM, "process.cwd `%s`: resolves outside the container root", p->cwd);
  return 0;
}

static int
setup_console (struct moat_sandbox *sb, int fd, int rootfd, int *peer_out, struct moat_error *err)
{
  cleanup_fd int master = -1;
  cleanup_fd int peer = -1;

  if (moat_console_open (rootfd, &master, &peer, err) < 0)
    return -1;
  if (moat_console_bind (rootfd, peer, err) < 0)
    return -1;
  if (sb->spec->process.has_console_size)
    {
      struct winsize ws = { .ws_row = (unsigned short) sb->spec->process.console_height,
                            .ws_col = (unsigned short) sb->spec->process.console_width };
      ioctl (master, TIOCSWINSZ, &ws);
    }
  if (sb->console_socket_fd >= 0)
    {
      if (moat_console_send (sb->console_socket_fd, master, err) < 0)
        return -1;
    }
  else if (sb->want_pty_master)
    {
      if (moat_sync_send (fd, MOAT_SYNC_PTY_MASTER, NULL, 0, master, err) < 0)
        return -1;
    }
  else
    return moat_err (err, EINVAL, "process.terminal is set but no --console-socket was given");
  *peer_out = steal_fd (&peer);
  return 0;
}

static int
build_rootfs (struct moat_sandbox *sb, int fd, bool fast, int *peer, char **hook_state, struct moat_error *err)
{
  const struct moat_spec *spec = sb->spec;
  struct moat_rootfs_ctx ctx = { .spec = spec, .cgroup = sb->cgroup, .userns = in_userns (spec),
                                 .private_cgroupns = moat_spec_namespace (spec, CLONE_NEWCGROUP) != NULL,
                                 .rootfd = -1, .host_devnull_fd = -1, .console_fd = -1,
                                 .root_tree_fd = sb->idmap_root_fd, .mount_tree_fds = sb->idmap_mount_fds,
                                 .await_cgroup = fast ? await_cgroup_joined : NULL, .sync_fd = fd };
  enum moat_sync t;
  int ret = -1;

  moat_debug ("init: namespaces ready");
  if (moat_rootfs_prepare (&ctx, sb->rootfs, err) < 0)
    goto out;
  if (moat_rootfs_mount_all (&ctx, err) < 0)
    goto out;
  moat_debug ("init: mounts done");
  if (spec->process.terminal && setup_console (sb, fd, ctx.rootfd, peer, err) < 0)
    goto out;
  /* createRuntime hooks run in the parent (runtime namespace) now, before
     pivot_root; createContainer hooks run here, in the container's
     namespaces but still able to resolve their host paths. */
  if (moat_sandbox_hook_sync (spec))
    {
      if (moat_sync_send (fd, MOAT_SYNC_MOUNTS_DONE, NULL, 0, -1, err) < 0)
        goto out;
      if (moat_sync_recv (fd, &t, hook_state, NULL, NULL, err) < 0)
        goto out;
      if (t != MOAT_SYNC_HOOKS_DONE)
        {
          moat_err (err, EPROTO, "sync: expected hooks done");
          goto out;
        }
      if (moat_hooks_run (&spec->hooks[MOAT_HOOK_CREATE_CONTAINER], "hooks.createContainer", *hook_state, err) < 0)
        goto out;
      moat_debug ("init: hooks done");
    }
  if (moat_rootfs_pivot (&ctx, sb->no_pivot, err) < 0)
    goto out;
  moat_debug ("init: pivoted");
  if (moat_rootfs_finalize (&ctx, err) < 0)
    goto out;
  moat_debug ("init: masked and read-only paths done");
  if (moat_sysctl_apply (spec, err) < 0)
    goto out;
  ret = 0;
out:
  if (ctx.rootfd >= 0)
    close (ctx.rootfd);
  if (ctx.host_devnull_fd >= 0)
    close (ctx.host_devnull_fd);
  return ret;
}

/* Block until `moat start` connects, then return the connection: an exec
 * failure is written to it; on success execve closes it (CLOEXEC), which is
 * how `start` learns that the process is running. */
static int
wait_for_start (int listen_fd)
{
  for (;;)
    {
      int c = accept4 (listen_fd, NULL, NULL, SOCK_CLOEXEC);
      char b;

      if (c < 0)
        {
          if (errno == EINTR)
            continue;
          _exit (1);
        }
      /* Who may connect is decided by the socket's place: a 0600 file in the
         0700 state dir, never an abstract socket (CVE-2020-15257). */
      if (read (c, &b, 1) == 1 && b == 'S')
        return c;
      close (c);
    }
}

__attribute__ ((noreturn)) static void
report_exec_error (int conn, struct moat_error *err)
{
  if (conn >= 0)
    {
      ssize_t w = write (conn, err->msg, strlen (err->msg));
      (void) w;
    }
  _exit (127);
}

/* Close every fd the runtime held when it cloned us, except stdio, the
 * preserved fds and the few we need: above all the state dir's lock, whose
 * flock would otherwise be held by the init and deadlock `start`. */
static void
close_inherited_fds (const struct moat_sandbox *sb, int sync_fd)
{
  int keep[4 + MOAT_ARRAY_SIZE (sb->join_fds)] = { sync_fd, sb->start_fd, sb->console_socket_fd,
                                                  sb->exec_stub_fd };
  size_t nkeep = 4, j;
  cleanup_dir DIR *d = opendir ("/proc/self/fd");
  int lo = 3 + sb->preserve_fds;
  struct dirent *de;

  for (j = 0; j < sb->n_joins; j++)
    keep[nkeep++] = sb->join_fds[j];
  if (d == NULL)
    return;
  while ((de = readdir (d)) != NULL)
    {
      int fd = atoi (de->d_name);
      size_t i;
      bool kept = fd < lo || fd == dirfd (d) || de->d_name[0] == '.';

      for (i = 0; i < nkeep && !kept; i++)
        kept = keep[i] == fd;
      if (!kept)
        close (fd);
    }
}

__attribute__ ((noreturn)) void
moat_init_main (struct moat_sandbox *sb, int fd, bool fast)
{
  const struct moat_spec *spec = sb->spec;
  struct moat_error err = { 0 };
  cleanup_free char *hook_state = NULL;
  char exe[4096];
  int peer = -1;
  int conn;

  /* Non-dumpable until execve: the container's processes must not ptrace us
     or open our /proc/PID/{exe,fd} while we hold host resources (CVE-2016-9962). */
  prctl (PR_SET_DUMPABLE, 0, 0, 0, 0);
  /* If `moat create` dies before the container is created, so do we. */
  prctl (PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  close_inherited_fds (sb, fd);
  if (!fast)
    init_namespaces_general (sb, fd);
  else
    init_namespaces_fast (sb, fd);

  if (become_userns_root (spec, &err) < 0)
    child_fail (fd, &err);
  if (!sb->no_new_keyring && syscall (SYS_keyctl, 1 /* KEYCTL_JOIN_SESSION_KEYRING */, NULL) < 0
      && errno != ENOSYS)
    {
      moat_err (&err, errno, "join a new session keyring");
      child_fail (fd, &err);
    }
  if (set_names (spec, &err) < 0)
    child_fail (fd, &err);
  if (build_rootfs (sb, fd, fast, &peer, &hook_state, &err) < 0)
    child_fail (fd, &err);
  if (moat_enter_cwd (&spec->process, &err) < 0)
    child_fail (fd, &err);
  if (moat_find_executable (&spec->process, exe, sizeof exe, &err) < 0)
    child_fail (fd, &err);
  if (peer >= 0 && moat_console_become_ctty (peer, &spec->process, &err) < 0)
    child_fail (fd, &err);
  if (peer >= 0)
    close (peer);

  prctl (PR_SET_PDEATHSIG, 0, 0, 0, 0);
  if (moat_sync_send (fd, MOAT_SYNC_CREATED, NULL, 0, -1, &err) < 0)
    _exit (1);
  if (sb->start_over_sync)
    {
      /* `run` starts us itself: no start socket; its exit (EOF) ends us. */
      enum moat_sync t;
      if (moat_sync_recv (fd, &t, NULL, NULL, NULL, &err) < 0 || t != MOAT_SYNC_START)
        _exit (1);
      conn = fd;
    }
  else
    {
      close (fd);
      conn = wait_for_start (sb->start_fd);
      close (sb->start_fd);
    }
  if (moat_hooks_run (&spec->hooks[MOAT_HOOK_START_CONTAINER], "hooks.startContainer", hook_state, &err) < 0)
    report_exec_error (conn, &err);
  /* moat_exec_process only returns on failure. */
  moat_exec_process (spec, &spec->process, sb->exec_stub_fd, sb->seccomp, sb->preserve_fds, conn, &err);
  report_exec_error (conn, &err);
}

/* Everything from rlimits to execve, shared by the init and `moat exec`.
 * Order:
 *  - rlimits, scheduler, personality, LSM label: need privilege we drop below.
 *  - seccomp BEFORE the capability drop when no_new_privs is off: loading a
 *    filter without NNP requires CAP_SYS_ADMIN, which we are about to lose.
 *  - user, groups and capabilities; then no_new_privs.
 *  - every fd but 0-2 and the preserved ones marked CLOEXEC (CVE-2024-21626).
 *  - seccomp LAST when NNP is on, so the filter need not allow the syscalls
 *    of our own set-up, only execve. */
int
moat_exec_process (const struct moat_spec *spec, const struct moat_process *p, int stub_fd,
                   const struct moat_seccomp_prog *seccomp, int preserve_fds, int report_fd,
                   struct moat_error *err)
{
  char exe[4096];
  int notify_fd = -1;
  char **envp;

  if (moat_find_executable (p, exe, sizeof exe, err) < 0)
    return -1;
  if (moat_rlimits_apply (p, err) < 0 || moat_process_sched_apply (p, err) < 0)
    return -1;
  if (moat_personality_apply (spec, err) < 0)
    return -1;
  if (p->apparmor_profile || p->selinux_label)
    {
      cleanup_fd int procfd = open ("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
      if (procfd < 0)
        return moat_err (err, errno, "open /proc for the LSM label");
      if (moat_lsm_apply (p, procfd, err) < 0)
        return -1;
    }
  if (seccomp && !p->no_new_privileges && moat_seccomp_load (seccomp, &notify_fd, err) < 0)
    return -1;
  if (moat_user_caps_apply (p, true, err) < 0)
    return -1;
  if (moat_no_new_privs_apply (p, err) < 0)
    return -1;
  /* Landlock after no_new_privs (restrict_self needs it without
     CAP_SYS_ADMIN) and before seccomp (the filter may deny its syscalls). */
  if (moat_landlock_apply (spec, err) < 0)
    return -1;
  if (sys_close_range ((unsigned) (3 + preserve_fds), ~0U, CLOSE_RANGE_CLOEXEC) < 0)
    return moat_err (err, errno, "close_range");
  if (stub_fd >= 0 && moat_exec_stub_prepare (report_fd, err) < 0)
    return -1;
  if (seccomp && p->no_new_privileges && moat_seccomp_load (seccomp, &notify_fd, err) < 0)
    return -1;
  if (notify_fd >= 0)
    {
      /* The listener path is a host path: the runtime process sends it from
         there.  The filter is already loaded, so this sendmsg must be allowed
         by the profile (as with runc); NOTIFY on sendmsg is refused at parse. */
      if (report_fd < 0)
        return moat_err (err, EINVAL, "hand the seccomp listener fd to the runtime: no channel");
      if (moat_send_fd (report_fd, "", 1, notify_fd, err) < 0)
        return moat_error_wrap (err, "hand the seccomp listener fd to the runtime");
      close (notify_fd);
    }
  {
    /* execve wants NULL-terminated vectors. */
    cleanup_free char **argv = calloc (p->args.n + 1, sizeof (char *));
    cleanup_free char **envv = calloc (p->env.n + 1, sizeof (char *));
    if (argv == NULL || envv == NULL)
      return moat_err (err, ENOMEM, "exec");
    memcpy (argv, p->args.v, p->args.n * sizeof (char *));
    if (p->env.n)
      memcpy (envv, p->env.v, p->env.n * sizeof (char *));
    envp = envv;
    if (stub_fd >= 0)
      moat_exec_via_stub (stub_fd, report_fd, exe, argv, p->args.n, envp, err);
    else
      {
        execve (exe, argv, envp);
        moat_err (err, errno, "exec `%s`", exe);
      }
  }
  /* The kernel's bounds on what execve copies (ARG_MAX, 128 KiB a string):
     name the fields that exceeded them. */
  if (err->code == E2BIG)
    return moat_error_wrap (err, "process.args and process.env");
  return -1;
}
