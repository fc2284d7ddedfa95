/* SPDX-License-Identifier: GPL-2.0-or-later */
/* moat exec: join a running container and run one more process in it, with
 * the container's seccomp filter and its capabilities plus those --cap names
 * (as runc: they may go beyond the container's bounding set); and moat
 * features. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/capability.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"
#include "sandbox/cgroup.h"
#include "sandbox/sandbox.h"
#include "sandbox/landlock.h"
#include "sandbox/seccomp.h"
#include "sandbox/seccomp_cache.h"
#include "sandbox/security.h"
#include "util/cleanup.h"
#include "util/fs.h"

int moat_enter_cwd (const struct moat_process *p, struct moat_error *err);

struct exec_cli
{
  const char *process_file, *pid_file, *console_socket, *cwd, *user;
  struct moat_strv env, caps;
  bool detach, tty, nnp;
  int preserve_fds;
  const char *id;
  char **args;
  size_t n_args;
};

static int
strv_push (struct moat_strv *v, char *s)
{
  char **n = realloc (v->v, (v->n + 2) * sizeof (char *));
  if (n == NULL)
    return -1;
  v->v = n;
  v->v[v->n++] = s;
  v->v[v->n] = NULL;
  return 0;
}

static int
parse_exec (int argc, char **argv, struct exec_cli *ec, struct moat_error *err)
{
  static const struct option opts[] = {
    { "process", required_argument, NULL, 'p' },
    { "detach", no_argument, NULL, 'd' },
    { "pid-file", required_argument, NULL, 'P' },
    { "tty", no_argument, NULL, 't' },
    { "console-socket", required_argument, NULL, 'C' },
    { "cwd", required_argument, NULL, 'w' },
    { "env", required_argument, NULL, 'e' },
    { "user", required_argument, NULL, 'u' },
    { "cap", required_argument, NULL, 'c' },
    { "no-new-privs", no_argument, NULL, 'n' },
    { "preserve-fds", required_argument, NULL, 'F' },
    { NULL, 0, NULL, 0 },
  };
  long long v;
  int c;

  optind = 0;
  while ((c = getopt_long (argc, argv, "+p:dte:u:c:", opts, NULL)) != -1)
    switch (c)
      {
      case 'p': ec->process_file = optarg; break;
      case 'd': ec->detach = true; break;
      case 'P': ec->pid_file = optarg; break;
      case 't': ec->tty = true; break;
      case 'C': ec->console_socket = optarg; break;
      case 'w': ec->cwd = optarg; break;
      case 'u': ec->user = optarg; break;
      case 'n': ec->nnp = true; break;
      case 'e':
        if (strchr (optarg, '=') == NULL)
          return moat_usage (err, "--env `%s`: expects KEY=VALUE", optarg);
        if (strv_push (&ec->env, optarg) < 0)
          return moat_err (err, ENOMEM, "exec");
        break;
      case 'c':
        if (moat_cap_from_name (optarg) < 0)
          return moat_usage (err, "--cap: unknown capability `%s`", optarg);
        if (strv_push (&ec->caps, optarg) < 0)
          return moat_err (err, ENOMEM, "exec");
        break;
      case 'F':
        if (moat_parse_int (optarg, 0, 1 << 20, &v) < 0)
          return moat_usage (err, "--preserve-fds: not a count: `%s`", optarg);
        ec->preserve_fds = (int) v;
        break;
      default:
        return moat_usage (err, "bad option (see moat --help)");
      }
  if (optind >= argc)
    return moat_usage (err, "expects a container id");
  ec->id = argv[optind++];
  ec->args = argv + optind;
  ec->n_args = (size_t) (argc - optind);
  if (ec->process_file == NULL && ec->n_args == 0)
    return moat_usage (err, "exec needs a command or --process FILE");
  if (ec->tty && ec->detach && ec->console_socket == NULL)
    return moat_usage (err, "--tty with --detach needs --console-socket");
  return 0;
}

/* "uid[:gid]": numbers only, parsed strictly (CVE-2026-30892: `-u 1` must
 * never become uid 0; CVE-2016-3697: a number is always a uid, never a name). */
static int
parse_user (const char *s, struct moat_user *u, struct moat_error *err)
{
  char *end;
  unsigned long long uid, gid;

  errno = 0;
  uid = strtoull (s, &end, 10);
  if (errno || end == s || (*end && *end != ':') || uid > UINT32_MAX - 1 || s[0] == '-')
    return moat_usage (err, "--user `%s`: expects uid[:gid] as numbers", s);
  u->uid = (uint32_t) uid;
  if (*end == ':')
    {
      const char *g = end + 1;
      errno = 0;
      gid = strtoull (g, &end, 10);
      if (errno || end == g || *end || gid > UINT32_MAX - 1 || g[0] == '-')
        return moat_usage (err, "--user `%s`: expects uid[:gid] as numbers", s);
      u->gid = (uint32_t) gid;
    }
  else
    u->gid = 0;
  u->n_additional_gids = 0;
  return 0;
}

/* The process to run: --process FILE, or the container's process with the
 * command line's overrides (as runc does). */
static int
build_process (const struct exec_cli *ec, const struct moat_spec *spec, struct moat_process *p,
               struct moat_strv *owned_env, struct moat_error *err)
{
  size_t i;
  int r;

  if (ec->process_file)
    {
      cleanup_free char *text = NULL;
      size_t len;
      if (moat_read_file_at (AT_FDCWD, ec->process_file, 1 << 20, &text, &len, err) < 0)
        return MOAT_CLI_ERROR;
      if (moat_process_parse (text, len, p, err) < 0)
        return moat_error_wrap (err, "--process `%s`", ec->process_file), MOAT_CLI_ERROR;
      return 1; /* owned: free with moat_process_free */
    }
  *p = spec->process;
  p->args.v = ec->args;
  p->args.n = ec->n_args;
  p->terminal = ec->tty;
  for (i = 0; i < spec->process.env.n; i++)
    strv_push (owned_env, spec->process.env.v[i]);
  for (i = 0; i < ec->env.n; i++)
    strv_push (owned_env, ec->env.v[i]);
  p->env = *owned_env;
  if (ec->cwd)
    {
      if (ec->cwd[0] != '/')
        return moat_usage (err, "--cwd `%s`: must be absolute", ec->cwd);
      p->cwd = (char *) ec->cwd;
    }
  if (ec->user && (r = parse_user (ec->user, &p->user, err)) < 0)
    return r;
  for (i = 0; i < ec->caps.n; i++)
    {
      uint64_t bit = 1ULL << moat_cap_from_name (ec->caps.v[i]);
      /* Never inheritable or ambient (CVE-2022-27650). */
      p->caps.bounding |= bit;
      p->caps.effective |= bit;
      p->caps.permitted |= bit;
      p->has_caps = true;
    }
  if (ec->nnp)
    p->no_new_privileges = true;
  return 0;
}

static bool
in_other_user_namespace (pid_t pid)
{
  char path[64];
  struct stat theirs, ours;

  snprintf (path, sizeof path, "/proc/%d/ns/user", (int) pid);
  return stat (path, &theirs) == 0 && stat ("/proc/self/ns/user", &ours) == 0
         && (theirs.st_ino != ours.st_ino || theirs.st_dev != ours.st_dev);
}

/* CVE-2019-5736: the waiting init of a created container may run the host
 * moat binary itself (it execs its entrypoint through the exec stub,
 * exe_stub.c), out of the container's reach only because it is
 * non-dumpable.  CAP_SYS_PTRACE in the user namespace that owns the init's
 * memory, the host's, overrides that: a process holding it outside a user
 * namespace of the container's own could open the binary through
 * /proc/1/exe and write it once the init has exec'd.  Such an exec waits
 * for start; an init running from a sealed copy may be reached. */
static int
check_waiting_init_reach (const struct moat_state *st, const struct moat_spec *spec, const struct moat_process *p,
                          struct moat_error *err)
{
  const struct moat_namespace *userns = moat_spec_namespace (spec, CLONE_NEWUSER);
  const struct moat_caps *c = &p->caps;
  uint64_t held = c->bounding | c->effective | c->permitted | c->inheritable | c->ambient;

  if ((userns != NULL && userns->path == NULL) || !p->has_caps || !(held & (1ULL << CAP_SYS_PTRACE))
      || moat_exe_of_pid_unwritable (st->pid))
    return 0;
  return moat_err (err, EPERM,
                   "CAP_SYS_PTRACE before start: the waiting init runs the unsealed moat binary, which a "
                   "tracing process could open for writing (CVE-2019-5736); start the container first");
}

/* Open the init's namespaces before forking, so a pid recycled after the
 * start-time check cannot substitute another process's namespaces. */
static int
open_init_namespaces (const struct moat_state *st, const struct moat_spec *spec, int *fds, int *types, size_t *n,
                      struct moat_error *err)
{
  static const int order[] = { CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNS, CLONE_NEWNET, CLONE_NEWIPC,
                               CLONE_NEWUTS, CLONE_NEWCGROUP, CLONE_NEWTIME };
  size_t i;

  *n = 0;
  for (i = 0; i < MOAT_ARRAY_SIZE (order); i++)
    {
      char path[64];
      int fd;
      if (moat_spec_namespace (spec, order[i]) == NULL)
        continue;
      snprintf (path, sizeof path, "/proc/%d/ns/%s", (int) st->pid, moat_namespace_proc_name (order[i]));
      if (order[i] == CLONE_NEWTIME)
        snprintf (path, sizeof path, "/proc/%d/ns/time_for_children", (int) st->pid);
      fd = open (path, O_RDONLY | O_CLOEXEC);
      if (fd < 0)
        {
          while (*n > 0)
            close (fds[--*n]);
          return moat_err (err, errno, "open `%s`", path);
        }
      fds[*n] = fd;
      types[*n] = order[i];
      (*n)++;
    }
  if (moat_pid_starttime (st->pid) != st->pid_start)
    {
      while (*n > 0)
        close (fds[--*n]);
      return moat_err (err, ESRCH, "container `%s` is not running", st->id);
    }
  return 0;
}

struct exec_child
{
  const struct moat_spec *spec;
  const struct moat_process *p;
  const struct moat_seccomp_prog *prog;
  int *fds, *types;
  size_t n;
  int preserve_fds;
  int sock;        /* reports errors; closed by execve */
  int console_fd;  /* --console-socket, or -1 */
};

__attribute__ ((noreturn)) static void
exec_child_main (struct exec_child *c)
{
  struct moat_error err = { 0 };
  char go;
  size_t i;

  prctl (PR_SET_DUMPABLE, 0, 0, 0, 0);
  {
    /* The parent blocks signals to forward them; we start clean. */
    sigset_t none;
    sigemptyset (&none);
    sigprocmask (SIG_SETMASK, &none, NULL);
  }
  if (read (c->sock, &go, 1) != 1)
    _exit (127);
  for (i = 0; i < c->n; i++)
    if (c->types[i] != CLONE_NEWPID && setns (c->fds[i], c->types[i]) < 0)
      {
        moat_err (&err, errno, "join the container's %s namespace", moat_namespace_name (c->types[i]));
        goto fail;
      }
  if (c->p->terminal)
    {
      cleanup_fd int rootfd = open ("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
      cleanup_fd int master = -1;
      cleanup_fd int peer = -1;
      int target = c->console_fd >= 0 ? c->console_fd : c->sock;
      if (moat_console_open (rootfd, &master, &peer, &err) < 0 || moat_console_send (target, master, &err) < 0
          || moat_console_become_ctty (peer, c->p, &err) < 0)
        goto fail;
    }
  if (moat_enter_cwd (c->p, &err) < 0)
    goto fail;
  moat_exec_process (c->spec, c->p, -1, c->prog, c->preserve_fds, c->sock, &err);
fail:
  if (write (c->sock, err.msg, strlen (err.msg)) < 0)
    _exit (127);
  _exit (127);
}

/* Docker's exec_start event: the action carries the command line
   ("exec_start: sh -c ls"), and a filter on event=exec_start matches it. */
static void
exec_event (struct moat_cli *cli, const struct moat_state *st, const struct moat_process *p)
{
  char action[512];
  size_t off, i;

  off = (size_t) snprintf (action, sizeof action, "exec_start:");
  for (i = 0; i < p->args.n && off < sizeof action; i++)
    off += (size_t) snprintf (action + off, sizeof action - off, " %s", p->args.v[i]);
  moat_container_event (&cli->ctx, action, st, NULL, 0);
}

static int
run_exec (struct moat_cli *cli, const struct exec_cli *ec, const struct moat_state *st, const struct moat_spec *spec,
          const struct moat_process *p, struct moat_error *err)
{
  int fds[16], types[16];
  size_t n = 0, i;
  struct moat_seccomp_prog prog = { 0 };
  struct moat_cgroup cg = { 0 };
  cleanup_fd int console_fd = -1;
  int sv[2] = { -1, -1 }, pty_master = -1, ret = MOAT_CLI_ERROR;
  sigset_t all, saved;
  pid_t pid = -1;

  sigprocmask (SIG_BLOCK, NULL, &saved); /* the mask to restore on every path */
  if (spec->linux.seccomp && moat_seccomp_compile_cached (spec->linux.seccomp, &prog, err) < 0)
    return MOAT_CLI_ERROR;
  if (ec->console_socket && moat_console_connect (ec->console_socket, &console_fd, err) < 0)
    goto out;
  if (st->cgroup_path && moat_cgroup_open (&cg, st->cgroup_path, err) < 0)
    goto out;
  if (open_init_namespaces (st, spec, fds, types, &n, err) < 0)
    goto out;
  /* Joining the pid namespace only affects our children: the next fork is
     born inside the container's pid namespace, with no second fork. */
  for (i = 0; i < n; i++)
    if (types[i] == CLONE_NEWPID && setns (fds[i], CLONE_NEWPID) < 0)
      {
        moat_err (err, errno, "join the container's pid namespace");
        goto out;
      }
  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
    {
      moat_err (err, errno, "socketpair");
      goto out;
    }
  /* Block signals before the process can run: one sent to us from then on
     is forwarded to it (moat_wait_forward), never lost or fatal to us. */
  sigfillset (&all);
  sigprocmask (SIG_BLOCK, &all, &saved);
  /* The child is born in the container's pid namespace: non-dumpable from
     its first instruction, not from its first line (CVE-2016-9962). */
  prctl (PR_SET_DUMPABLE, 0, 0, 0, 0);
  pid = fork ();
  if (pid < 0)
    {
      moat_err (err, errno, "fork");
      goto out;
    }
  if (pid == 0)
    {
      struct exec_child c = { spec, p, spec->linux.seccomp ? &prog : NULL, fds, types, n, ec->preserve_fds,
                              sv[1], console_fd };
      close (sv[0]);
      exec_child_main (&c);
    }
  close (sv[1]);
  sv[1] = -1;
  if (st->cgroup_path && moat_cgroup_enter (&cg, pid, err) < 0)
    goto kill;
  if (write (sv[0], "G", 1) != 1)
    {
      moat_err (err, errno, "start the exec'd process");
      goto kill;
    }
  if (p->terminal && console_fd < 0)
    {
      /* The child sends the pty master first (SCM_RIGHTS) when we relay. */
      if (moat_console_recv (sv[0], &pty_master, err) < 0)
        goto kill;
    }
  if (moat_exec_reply_wait (sv[0], spec, pid, NULL, err) < 0)
    {
      waitpid (pid, NULL, 0);
      goto out;
    }
  if (ec->pid_file && moat_write_pid_file (ec->pid_file, pid, err) < 0)
    goto kill;
  exec_event (cli, st, p);
  ret = ec->detach ? 0 : moat_wait_forward (pid, pty_master);
  goto out;
kill:
  kill (pid, SIGKILL);
  waitpid (pid, NULL, 0);
out:
  for (i = 0; i < n; i++)
    close (fds[i]);
  if (sv[0] >= 0)
    close (sv[0]);
  if (pty_master >= 0)
    close (pty_master);
  moat_cgroup_free (&cg);
  moat_seccomp_prog_free (&prog);
  sigprocmask (SIG_SETMASK, &saved, NULL);
  return ret;
}

int
cmd_exec (struct moat_cli *cli, int argc, char **argv, struct moat_error *err)
{
  struct exec_cli ec = { 0 };
  struct moat_state st = { 0 };
  struct moat_spec spec = { 0 };
  struct moat_process p = { 0 };
  struct moat_strv env = { 0 };
  enum moat_status status;
  int owned = 0, ret;

  ret = parse_exec (argc, argv, &ec, err);
  if (ret < 0)
    goto out_cli;
  /* CVE-2019-5736: the process we fork joins the container's namespaces
     before its execve, so we run sealed (the re-exec starts this command
     again), unless the container's user namespace keeps every process in it
     from opening our binary for writing, as for create (exe_seal.c).  An
     init in our own user namespace rules that out before the config is
     parsed. */
  if (!moat_exe_is_sealed ())
    {
      if (moat_container_load (&cli->ctx, ec.id, &st, NULL, err) < 0)
        {
          ret = MOAT_CLI_ERROR;
          goto out_cli;
        }
      if (!in_other_user_namespace (st.pid) && moat_exe_ensure_sealed (cli->full_argv, err) < 0)
        {
          ret = MOAT_CLI_ERROR;
          goto out;
        }
      moat_state_free (&st);
    }
  if (moat_container_load (&cli->ctx, ec.id, &st, &spec, err) < 0)
    {
      ret = MOAT_CLI_ERROR;
      goto out_cli;
    }
  if (!moat_exe_unwritable_from (&spec) && moat_exe_ensure_sealed (cli->full_argv, err) < 0)
    {
      ret = MOAT_CLI_ERROR;
      goto out;
    }
  status = moat_state_status (&st);
  if (status == MOAT_STATUS_STOPPED || status == MOAT_STATUS_PAUSED)
    {
      ret = MOAT_CLI_ERROR;
      moat_err (err, EINVAL, "cannot exec in a container that is %s", moat_status_name (status));
      goto out;
    }
  owned = build_process (&ec, &spec, &p, &env, err);
  if (owned < 0)
    {
      ret = owned;
      goto out;
    }
  if (p.terminal && ec.detach && ec.console_socket == NULL)
    {
      ret = moat_usage (err, "a terminal process with --detach needs --console-socket");
      goto out;
    }
  if (status == MOAT_STATUS_CREATED && check_waiting_init_reach (&st, &spec, &p, err) < 0)
    {
      ret = MOAT_CLI_ERROR;
      goto out;
    }
  ret = run_exec (cli, &ec, &st, &spec, &p, err);
out:
  if (owned == 1)
    moat_process_free (&p);
  moat_spec_free (&spec);
  moat_state_free (&st);
out_cli:
  free (env.v);
  free (ec.env.v);
  free (ec.caps.v);
  return ret;
}

int
cmd_features (struct moat_cli *cli, int argc, char **argv, struct moat_error *err)
{
  (void) cli;
  (void) argv;
  if (argc != 1)
    return moat_usage (err, "features takes no arguments");
  printf ("{\n"
         "  \"ociVersionMin\": \"1.0.0\",\n"
         "  \"ociVersionMax\": \"1.3.0\",\n"
         "  \"hooks\": [\"prestart\", \"createRuntime\", \"createContainer\", \"startContainer\", \"poststart\", \"poststop\"],\n"
         "  \"mountOptions\": [\"async\", \"atime\", \"bind\", \"defaults\", \"dev\", \"diratime\", \"dirsync\", \"exec\", "
         "\"iversion\", \"lazytime\", \"loud\", \"mand\", \"noatime\", \"nodev\", \"nodiratime\", \"noexec\", "
         "\"noiversion\", \"nolazytime\", \"nomand\", \"norelatime\", \"nostrictatime\", \"nosuid\", \"nosymfollow\", "
         "\"private\", \"rbind\", \"relatime\", \"remount\", \"ro\", \"rprivate\", \"rro\", \"rnosuid\", \"rnodev\", "
         "\"rnoexec\", \"rshared\", \"rslave\", \"runbindable\", \"rw\", \"shared\", \"silent\", \"slave\", "
         "\"strictatime\", \"suid\", \"symfollow\", \"sync\", \"tmpcopyup\", \"unbindable\"],\n"
         "  \"linux\": {\n"
         "    \"namespaces\": [\"cgroup\", \"ipc\", \"mount\", \"network\", \"pid\", \"time\", \"user\", \"uts\"],\n"
         "    \"capabilities\": [\"CAP_CHOWN\", \"CAP_DAC_OVERRIDE\", \"CAP_DAC_READ_SEARCH\", \"CAP_FOWNER\", "
         "\"CAP_FSETID\", \"CAP_KILL\", \"CAP_SETGID\", \"CAP_SETUID\", \"CAP_SETPCAP\", \"CAP_LINUX_IMMUTABLE\", "
         "\"CAP_NET_BIND_SERVICE\", \"CAP_NET_BROADCAST\", \"CAP_NET_ADMIN\", \"CAP_NET_RAW\", \"CAP_IPC_LOCK\", "
         "\"CAP_IPC_OWNER\", \"CAP_SYS_MODULE\", \"CAP_SYS_RAWIO\", \"CAP_SYS_CHROOT\", \"CAP_SYS_PTRACE\", "
         "\"CAP_SYS_PACCT\", \"CAP_SYS_ADMIN\", \"CAP_SYS_BOOT\", \"CAP_SYS_NICE\", \"CAP_SYS_RESOURCE\", "
         "\"CAP_SYS_TIME\", \"CAP_SYS_TTY_CONFIG\", \"CAP_MKNOD\", \"CAP_LEASE\", \"CAP_AUDIT_WRITE\", "
         "\"CAP_AUDIT_CONTROL\", \"CAP_SETFCAP\", \"CAP_MAC_OVERRIDE\", \"CAP_MAC_ADMIN\", \"CAP_SYSLOG\", "
         "\"CAP_WAKE_ALARM\", \"CAP_BLOCK_SUSPEND\", \"CAP_AUDIT_READ\", \"CAP_PERFMON\", \"CAP_BPF\", "
         "\"CAP_CHECKPOINT_RESTORE\"],\n"
         "    \"cgroup\": {\"v1\": true, \"v2\": true, \"systemd\": false, \"systemdUser\": false, \"rdma\": false},\n"
         "    \"seccomp\": {\"enabled\": true,\n"
         "      \"actions\": [\"SCMP_ACT_ALLOW\", \"SCMP_ACT_ERRNO\", \"SCMP_ACT_KILL\", \"SCMP_ACT_KILL_PROCESS\", "
         "\"SCMP_ACT_KILL_THREAD\", \"SCMP_ACT_LOG\", \"SCMP_ACT_NOTIFY\", \"SCMP_ACT_TRACE\", \"SCMP_ACT_TRAP\"],\n"
         "      \"operators\": [\"SCMP_CMP_EQ\", \"SCMP_CMP_GE\", \"SCMP_CMP_GT\", \"SCMP_CMP_LE\", \"SCMP_CMP_LT\", "
         "\"SCMP_CMP_MASKED_EQ\", \"SCMP_CMP_NE\"],\n"
         "      \"knownFlags\": [\"SECCOMP_FILTER_FLAG_TSYNC\", \"SECCOMP_FILTER_FLAG_LOG\", "
         "\"SECCOMP_FILTER_FLAG_SPEC_ALLOW\", \"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV\"],\n"
         "      \"supportedFlags\": [\"SECCOMP_FILTER_FLAG_TSYNC\", \"SECCOMP_FILTER_FLAG_LOG\", "
         "\"SECCOMP_FILTER_FLAG_SPEC_ALLOW\", \"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV\"]},\n"
         "    \"apparmor\": {\"enabled\": false},\n"
         "    \"selinux\": {\"enabled\": false},\n"
         "    \"intelRdt\": {\"enabled\": false},\n"
         "    \"mountExtensions\": {\"idmap\": {\"enabled\": true}}\n"
         "  },\n"
         "  \"annotations\": {\"org.moat.landlock\": \"%s\", \"org.moat.rootfs.idmap\": \"true\"}\n"
         "}\n",
         moat_landlock_abi () > 0 ? "true" : "false");
  return 0;
}
