/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The engine record's `status` file (see status.h).  libc only: linked into
 * the static monitor as well as into moat. */
#include "engine/status.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/fs.h"

static const char *const state_names[] = { "created", "running", "restarting", "exited" };
static const char *const health_names[] = { "none", "starting", "healthy", "unhealthy" };

const char *
moat_engine_state_name (enum moat_engine_state s)
{
  return (unsigned) s < sizeof state_names / sizeof *state_names ? state_names[s] : "unknown";
}

const char *
moat_health_name (enum moat_health h)
{
  return (unsigned) h < sizeof health_names / sizeof *health_names ? health_names[h] : "none";
}

static int
name_index (const char *const *names, size_t n, const char *v)
{
  for (size_t i = 0; i < n; i++)
    if (strcmp (names[i], v) == 0)
      return (int) i;
  return 0;
}

int64_t
moat_now_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_REALTIME, &ts);
  return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void
moat_format_rfc3339_ns (int64_t ns, char out[MOAT_RFC3339_NS_LEN + 1])
{
  time_t s = (time_t) (ns / 1000000000);
  struct tm tm;

  gmtime_r (&s, &tm);
  strftime (out, 21, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf (out + 19, 12, ".%09uZ", (unsigned) (ns % 1000000000));
}

size_t
moat_engine_status_format (const struct moat_engine_status *st, char *buf, size_t size)
{
  char error[sizeof st->error];
  int n;

  /* One line per key: an error message never carries a newline into it. */
  snprintf (error, sizeof error, "%s", st->error);
  for (char *p = error; *p; p++)
    if (*p == '\n' || *p == '\r')
      *p = ' ';
  n = snprintf (buf, size,
                "state=%s\npid=%d\nexit_code=%d\noom_killed=%d\nrestart_count=%u\nstarted_at=%" PRId64
                "\nfinished_at=%" PRId64 "\nhealth=%s\nfailing_streak=%u\nmonitor_pid=%d\nmonitor_start=%" PRIu64
                "\nerror=%s\n",
                moat_engine_state_name (st->state), (int) st->pid, st->exit_code, st->oom_killed ? 1 : 0,
                st->restart_count, st->started_at, st->finished_at, moat_health_name (st->health),
                st->failing_streak, (int) st->monitor_pid, st->monitor_start, error);
  if (n < 0)
    n = 0;
  return (size_t) n < size ? (size_t) n : size - 1;
}

void
moat_engine_status_parse (const char *text, struct moat_engine_status *st)
{
  const char *line = text;

  memset (st, 0, sizeof *st);
  while (line && *line)
    {
      const char *eol = strchr (line, '\n'), *eq = strchr (line, '=');
      size_t len = eol ? (size_t) (eol - line) : strlen (line);
      char key[32], val[sizeof st->error];

      if (eq && eq < line + len && (size_t) (eq - line) < sizeof key)
        {
          snprintf (key, sizeof key, "%.*s", (int) (eq - line), line);
          snprintf (val, sizeof val, "%.*s", (int) (line + len - eq - 1), eq + 1);
          if (strcmp (key, "state") == 0)
            st->state = name_index (state_names, sizeof state_names / sizeof *state_names, val);
          else if (strcmp (key, "pid") == 0)
            st->pid = (pid_t) strtol (val, NULL, 10);
          else if (strcmp (key, "exit_code") == 0)
            st->exit_code = (int) strtol (val, NULL, 10);
          else if (strcmp (key, "oom_killed") == 0)
            st->oom_killed = strcmp (val, "1") == 0;
          else if (strcmp (key, "restart_count") == 0)
            st->restart_count = (unsigned) strtoul (val, NULL, 10);
          else if (strcmp (key, "started_at") == 0)
            st->started_at = strtoll (val, NULL, 10);
          else if (strcmp (key, "finished_at") == 0)
            st->finished_at = strtoll (val, NULL, 10);
          else if (strcmp (key, "health") == 0)
            st->health = name_index (health_names, sizeof health_names / sizeof *health_names, val);
          else if (strcmp (key, "failing_streak") == 0)
            st->failing_streak = (unsigned) strtoul (val, NULL, 10);
          else if (strcmp (key, "monitor_pid") == 0)
            st->monitor_pid = (pid_t) strtol (val, NULL, 10);
          else if (strcmp (key, "monitor_start") == 0)
            st->monitor_start = strtoull (val, NULL, 10);
          else if (strcmp (key, "error") == 0)
            snprintf (st->error, sizeof st->error, "%s", val);
        }
      line = eol ? eol + 1 : NULL;
    }
}

int
moat_engine_status_write (int dirfd, const struct moat_engine_status *st, struct moat_error *err)
{
  char buf[1024];
  size_t n = moat_engine_status_format (st, buf, sizeof buf);

  return moat_write_file_atomic (dirfd, "status", buf, n, 0600, err);
}

int
moat_engine_status_read (int dirfd, struct moat_engine_status *st, struct moat_error *err)
{
  char buf[1024];
  cleanup_fd int fd = openat (dirfd, "status", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  ssize_t n;

  if (fd < 0)
    return moat_err (err, errno, "read the container status");
  n = read (fd, buf, sizeof buf - 1);
  if (n < 0)
    return moat_err (err, errno, "read the container status");
  buf[n] = '\0';
  moat_engine_status_parse (buf, st);
  return 0;
}
