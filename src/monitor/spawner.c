/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The monitor's unconfined half (see monitor.h): runs moat commands on
 * request.  The container's init is a child of `moat create`; when create
 * exits the kernel re-parents the init to the nearest subreaper, which is the
 * monitor (this process is not one), so the monitor reaps it. */
#include "monitor/monitor.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/fs.h"

#define ARGV_MAX 64

static int
devnull (void)
{
  return open ("/dev/null", O_RDWR | O_CLOEXEC);
}

/* Wait for PID; past TIMEOUT_NS (0: none) ask it to stop (moat exec forwards
   SIGTERM to the checked process), then kill it.  Returns the shell-style
   status, or -1 when it timed out. */
static int
wait_child (pid_t pid, int64_t timeout_ns)
{
  int status, timed_out = 0;

  if (timeout_ns > 0)
    {
      cleanup_fd int pfd = (int) syscall (SYS_pidfd_open, pid, 0);
      struct pollfd p = { .fd = pfd, .events = POLLIN };
      int ms = (int) (timeout_ns / 1000000);

      if (pfd >= 0 && poll (&p, 1, ms) == 0)
        {
          timed_out = 1;
          kill (pid, SIGTERM);
          if (poll (&p, 1, 1000) == 0)
            kill (pid, SIGKILL);
        }
    }
  while (waitpid (pid, &status, 0) < 0)
    if (errno != EINTR)
      return -1;
  if (timed_out)
    return -1;
  return WIFEXITED (status) ? WEXITSTATUS (status) : 128 + WTERMSIG (status);
}

/* moat --root ROOT --log DIR/moat.log --log-format json ARGS... with the
   given stdio.  The log holds moat's own error lines (JSON), which the front
   end and `moat inspect` read; the container's stdio never carries them. */
static int
run_moat (const struct mon_config *cfg, const char *const *args, int in, int out, int err, int64_t timeout_ns)
{
  char logpath[sizeof cfg->dir + 16];
  const char *argv[ARGV_MAX];
  size_t n = 0;
  pid_t pid;

  snprintf (logpath, sizeof logpath, "%s/moat.log", cfg->dir);
  argv[n++] = cfg->moat;
  argv[n++] = "--root";
  argv[n++] = cfg->root;
  argv[n++] = "--log";
  argv[n++] = logpath;
  argv[n++] = "--log-format";
  argv[n++] = "json";
  for (; *args && n < ARGV_MAX - 1; args++)
    argv[n++] = *args;
  argv[n] = NULL;
  pid = fork ();
  if (pid < 0)
    return -1;
  if (pid == 0)
    {
      if (dup2 (in, 0) < 0 || dup2 (out, 1) < 0 || dup2 (err, 2) < 0)
        _exit (127);
      execv (cfg->moat, (char *const *) argv);
      _exit (127);
    }
  return wait_child (pid, timeout_ns);
}

static pid_t
read_pid_file (const struct mon_config *cfg)
{
  cleanup_fd int dirfd = open (cfg->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  cleanup_free char *text = NULL;
  struct moat_error err;
  size_t len;

  if (dirfd < 0 || moat_read_file_at (dirfd, "init.pid", 64, &text, &len, &err) < 0)
    return 0;
  return (pid_t) strtol (text, NULL, 10);
}

static void
do_create (const struct mon_config *cfg, const struct spawner_fds *fds, int null, struct spawn_result *r)
{
  char pidfile[sizeof cfg->dir + 16];
  const char *create[] = { "create", "--bundle", cfg->dir, "--pid-file", pidfile, cfg->id, NULL };
  const char *start[] = { "start", cfg->id, NULL };
  const char *delete[] = { "delete", "--force", cfg->id, NULL };

  snprintf (pidfile, sizeof pidfile, "%s/init.pid", cfg->dir);
  unlink (pidfile);
  r->rc = run_moat (cfg, create, null, fds->out, fds->err, 0);
  if (r->rc != 0)
    return;
  r->pid = read_pid_file (cfg);
  r->rc = run_moat (cfg, start, null, null, null, 0);
  if (r->rc != 0 || r->pid <= 0)
    {
      run_moat (cfg, delete, null, null, null, 0);
      r->rc = r->rc ? r->rc : 1;
    }
}

static void
do_remove (const struct mon_config *cfg)
{
  char parent[sizeof cfg->dir];
  cleanup_fd int pfd = -1;
  struct moat_error err;
  char *slash;

  if (cfg->secrets && *cfg->secrets)
    {
      umount2 (cfg->secrets, MNT_DETACH);
      rmdir (cfg->secrets);
    }
  snprintf (parent, sizeof parent, "%s", cfg->dir);
  slash = strrchr (parent, '/');
  if (slash == NULL)
    return;
  *slash = '\0';
  pfd = open (parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (pfd >= 0)
    moat_rm_rf_at (pfd, slash + 1, &err);
}

void
mon_spawner (const struct mon_config *cfg, const struct spawner_fds *fds)
{
  cleanup_fd int null = devnull ();
  sigset_t none;
  char cmd;

  sigemptyset (&none);
  sigprocmask (SIG_SETMASK, &none, NULL);
  while (read (fds->req, &cmd, 1) == 1)
    {
      struct spawn_result r = { .cmd = cmd, .rc = -1 };
      const char *delete[] = { "delete", "--force", cfg->id, NULL };
      const char *kill_all[] = { "kill", "--all", cfg->id, "KILL", NULL };
      const char *exec_args[ARGV_MAX];
      size_t n = 0;

      r.start_ns = moat_now_ns ();
      switch (cmd)
        {
        case SPAWN_CREATE:
          do_create (cfg, fds, null, &r);
          break;
        case SPAWN_DELETE:
          r.rc = run_moat (cfg, delete, null, null, null, 0);
          break;
        case SPAWN_KILL:
          r.rc = run_moat (cfg, kill_all, null, null, null, 0);
          break;
        case SPAWN_HEALTH:
          exec_args[n++] = "exec";
          exec_args[n++] = cfg->id;
          for (char **a = cfg->health_argv; a && *a && n < ARGV_MAX - 9; a++)
            exec_args[n++] = *a;
          exec_args[n] = NULL;
          r.rc = run_moat (cfg, exec_args, null, fds->health, fds->health, cfg->health_timeout);
          break;
        case SPAWN_REMOVE:
          do_remove (cfg);
          r.rc = 0;
          break;
        default:
          break;
        }
      r.end_ns = moat_now_ns ();
      if (write (fds->res, &r, sizeof r) != (ssize_t) sizeof r)
        break;
    }
}
