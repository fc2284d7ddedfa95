/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "cli/cli.h"
#include "sandbox/sandbox.h"
#include "util/cleanup.h"

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

/* Whether PATH names the file we run from: not so for a sealed copy, whose
 * /proc/self/exe reads "/memfd:..." or a path inside moat's private overlay. */
static bool
is_own_exe (const char *path)
{
  struct stat a, b;

  return stat (path, &a) == 0 && stat ("/proc/self/exe", &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* The directory of moat's real executable.  When we run from a sealed copy,
 * argv[0] resolved with realpath (or looked up in PATH) is used instead. */
int
moat_exe_dir (const char *argv0, char *buf, size_t size, struct moat_error *err)
{
  char tmp[PATH_MAX];
  ssize_t n = readlink ("/proc/self/exe", tmp, sizeof tmp - 1);
  char *slash;

  tmp[n > 0 ? n : 0] = '\0';
  if (tmp[0] == '/' && is_own_exe (tmp))
    {
      /* tmp is the real executable. */
    }
  else if (strchr (argv0, '/'))
    {
      if (realpath (argv0, tmp) == NULL)
        return moat_err (err, errno, "locate moat: resolve `%s`", argv0);
    }
  else
    {
      const char *path = getenv ("PATH");
      cleanup_free char *copy = strdup (path ? path : "/usr/local/bin:/usr/bin:/bin");
      char *save = NULL, *d, cand[PATH_MAX];
      bool found = false;

      if (copy == NULL)
        return moat_err (err, ENOMEM, "locate moat");
      for (d = strtok_r (copy, ":", &save); d && !found; d = strtok_r (NULL, ":", &save))
        {
          snprintf (cand, sizeof cand, "%s/%s", d, argv0);
          found = access (cand, X_OK) == 0 && realpath (cand, tmp) != NULL;
        }
      if (!found)
        return moat_err (err, ENOENT, "locate moat: `%s` not found in PATH", argv0);
    }
  slash = strrchr (tmp, '/');
  if (slash == NULL)
    return moat_err (err, EINVAL, "locate moat: `%s`", tmp);
  *slash = '\0';
  snprintf (buf, size, "%s", *tmp ? tmp : "/");
  return 0;
}

bool
moat_env_is_secret (const char *kv)
{
  static const char *const words[] = { "TOKEN", "SECRET", "PASSWORD", "PASSWD", "API_KEY", "PRIVATE_KEY", NULL };
  size_t klen = strcspn (kv, "="), i, j;
  char key[256];

  if (klen >= sizeof key)
    klen = sizeof key - 1;
  for (j = 0; j < klen; j++)
    key[j] = (char) toupper ((unsigned char) kv[j]);
  key[klen] = '\0';
  for (i = 0; words[i]; i++)
    if (strstr (key, words[i]))
      return true;
  return false;
}
