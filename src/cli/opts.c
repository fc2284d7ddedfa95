/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "cli/cli.h"
#include "sandbox/sandbox.h"

int
moat_usage (struct moat_error *err, const char *fmt, ...)
{
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (err->msg, sizeof err->msg, fmt, ap);
  va_end (ap);
  err->code = EINVAL;
  return MOAT_CLI_USAGE;
}

int
moat_parse_int (const char *s, long long min, long long max, long long *out)
{
  char *end;
  long long v;

  errno = 0;
  v = strtoll (s, &end, 10);
  if (errno || end == s || *end || v < min || v > max)
    return -1;
  *out = v;
  return 0;
}

/* "1048576", "512k", "64m", "1g" (as runc and docker accept); -1 = unlimited. */
int
moat_parse_size (const char *s, int64_t *out)
{
  char *end;
  long long v;
  int64_t mult = 1;

  errno = 0;
  v = strtoll (s, &end, 10);
  if (errno || end == s)
    return -1;
  if (v == -1 && *end == '\0')
    {
      *out = -1;
      return 0;
    }
  if (v < 0)
    return -1;
  switch (*end)
    {
    case '\0':
      break;
    case 'b': case 'B':
      end++;
      break;
    case 'k': case 'K':
      mult = 1LL << 10, end++;
      break;
    case 'm': case 'M':
      mult = 1LL << 20, end++;
      break;
    case 'g': case 'G':
      mult = 1LL << 30, end++;
      break;
    default:
      return -1;
    }
  if (*end == 'b' || *end == 'B')
    end++;
  if (*end || v > INT64_MAX / mult)
    return -1;
  *out = v * mult;
  return 0;
}

int
moat_wait_forward (pid_t pid, int pty_master)
{
  sigset_t all, old;
  struct termios saved;
  bool raw = false, stdin_open = true, done = false;
  int sfd, status = 0, st;
  bool exited = false;

  sigfillset (&all);
  sigprocmask (SIG_BLOCK, &all, &old);
  sfd = signalfd (-1, &all, SFD_CLOEXEC | SFD_NONBLOCK);
  if (pty_master >= 0 && isatty (0) && tcgetattr (0, &saved) == 0)
    {
      struct termios t = saved;
      cfmakeraw (&t);
      raw = tcsetattr (0, TCSANOW, &t) == 0;
    }
  for (;;)
    {
      struct signalfd_siginfo si;
      pid_t r;

      /* Reap our process and anything else reparented to us (we are a
         subreaper); keep only our process's status. */
      while ((r = waitpid (-1, &st, WNOHANG)) > 0)
        if (r == pid)
          {
            status = st;
            exited = true;
          }
      if (exited || (r < 0 && errno == ECHILD))
        break;
      if (pty_master >= 0 && !done)
        moat_console_relay_step (pty_master, &stdin_open, &done);
      else
        {
          /* No terminal to relay: sleep on the signalfd itself. */
          fd_set rf;
          FD_ZERO (&rf);
          FD_SET (sfd, &rf);
          select (sfd + 1, &rf, NULL, NULL, NULL);
        }
      while (read (sfd, &si, sizeof si) == sizeof si)
        {
          if (si.ssi_signo == SIGCHLD)
            continue;
          if (si.ssi_signo == SIGWINCH && pty_master >= 0)
            {
              struct winsize ws;
              if (ioctl (0, TIOCGWINSZ, &ws) == 0)
                ioctl (pty_master, TIOCSWINSZ, &ws);
              continue;
            }
          kill (pid, (int) si.ssi_signo);
        }
    }
  if (pty_master >= 0)
    {
      /* Drain what the process wrote before it exited; other processes may
         still hold the terminal, so bound the wait. */
      bool drained = false;
      int i;
      stdin_open = false;
      for (i = 0; i < 10 && !drained; i++)
        moat_console_relay_step (pty_master, &stdin_open, &drained);
    }
  if (raw)
    tcsetattr (0, TCSANOW, &saved);
  close (sfd);
  sigprocmask (SIG_SETMASK, &old, NULL);
  if (WIFSIGNALED (status))
    return 128 + WTERMSIG (status);
  return WEXITSTATUS (status);
}
