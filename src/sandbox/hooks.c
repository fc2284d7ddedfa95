/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox/sandbox.h"
#include "util/cleanup.h"
#include "util/syscalls.h"

static void
write_state (int fd, const char *state)
{
  size_t len = strlen (state);
  const char *p = state;

  /* A hook that does not read stdin gets EPIPE; that is not its failure. */
  signal (SIGPIPE, SIG_IGN);
  while (len > 0)
    {
      ssize_t w = write (fd, p, len);
      if (w < 0 && errno == EINTR)
        continue;
      if (w <= 0)
        break;
      p += w;
      len -= (size_t) w;
    }
}

__attribute__ ((noreturn)) static void
hook_child (const struct moat_hook *h, int in)
{
  cleanup_free char **argv = calloc (h->args.n + 2, sizeof (char *));
  cleanup_free char **envp = calloc (h->env.n + 1, sizeof (char *));

  if (argv == NULL || envp == NULL)
    _exit (127);
  if (h->args.n)
    memcpy (argv, h->args.v, h->args.n * sizeof (char *));
  else
    argv[0] = h->path;
  if (h->env.n)
    memcpy (envp, h->env.v, h->env.n * sizeof (char *));
  if (dup2 (in, 0) < 0)
    _exit (127);
  {
    /* A foreground `run` blocks signals while it forwards them; the hook
       must start with the default mask. */
    sigset_t none;
    sigemptyset (&none);
    sigprocmask (SIG_SETMASK, &none, NULL);
  }
  execve (h->path, argv, envp);
  _exit (127);
}

/* Wait for PID, at most TIMEOUT seconds (0: forever).  A hook that outlives
 * its timeout is killed: a hung hook must not hang the runtime. */
static int
wait_hook (pid_t pid, int timeout, int *status)
{
  cleanup_fd int pfd = sys_pidfd_open (pid, 0);

  if (pfd >= 0 && timeout > 0)
    {
      struct pollfd p = { .fd = pfd, .events = POLLIN };
      int r;
      do
        r = poll (&p, 1, timeout * 1000);
      while (r < 0 && errno == EINTR);
      if (r == 0)
        {
          kill (pid, SIGKILL);
          waitpid (pid, status, 0);
          return 1;
        }
    }
  while (waitpid (pid, status, 0) < 0)
    if (errno != EINTR)
      return -1;
  return 0;
}

int
moat_hooks_run (const struct moat_hook_list *list, const char *name, const char *state_json,
                struct moat_error *err)
{
  size_t i;

  for (i = 0; i < list->n; i++)
    {
      const struct moat_hook *h = &list->v[i];
      int pipefd[2];
      int status = 0, r;
      pid_t pid;

      if (pipe2 (pipefd, O_CLOEXEC) < 0)
        return moat_err (err, errno, "%s[%zu]: pipe", name, i);
      pid = fork ();
      if (pid < 0)
        {
          int e = errno;
          close (pipefd[0]);
          close (pipefd[1]);
          return moat_err (err, e, "%s[%zu]: fork", name, i);
        }
      if (pid == 0)
        {
          close (pipefd[1]);
          hook_child (h, pipefd[0]);
        }
      close (pipefd[0]);
      write_state (pipefd[1], state_json ? state_json : "{}");
      close (pipefd[1]);
      r = wait_hook (pid, h->timeout, &status);
      if (r == 1)
        return moat_err (err, ETIMEDOUT, "%s[%zu] `%s`: timed out after %d s", name, i, h->path, h->timeout);
      if (r < 0)
        return moat_err (err, errno, "%s[%zu] `%s`: wait", name, i, h->path);
      if (WIFSIGNALED (status))
        return moat_err (err, 0, "%s[%zu] `%s`: killed by signal %d", name, i, h->path, WTERMSIG (status));
      if (WEXITSTATUS (status) == 127)
        return moat_err (err, 0, "%s[%zu] `%s`: could not be executed (exit status 127)", name, i, h->path);
      if (WEXITSTATUS (status) != 0)
        return moat_err (err, 0, "%s[%zu] `%s`: exited with status %d", name, i, h->path, WEXITSTATUS (status));
    }
  return 0;
}
