/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "util/log.h"

#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int log_fd = -1;
static bool log_json;
static bool log_debug;

void
moat_log_init (const char *path, bool json, bool debug)
{
  log_json = json;
  log_debug = debug;
  if (path && *path)
    log_fd = open (path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
}

bool
moat_log_debug_enabled (void)
{
  return log_debug;
}

void
moat_log (const char *level, const char *fmt, ...)
{
  char msg[2048], ts[64], line[4096];
  struct timespec now;
  struct tm tm;
  va_list ap;
  int n;

  bool is_debug = strcmp (level, "debug") == 0;
  bool is_warning = strcmp (level, "warning") == 0;

  if (is_debug && !log_debug)
    return;
  va_start (ap, fmt);
  vsnprintf (msg, sizeof msg, fmt, ap);
  va_end (ap);
  clock_gettime (CLOCK_REALTIME, &now);
  gmtime_r (&now.tv_sec, &tm);
  /* RFC 3339 with a zone: containerd and dockerd refuse a log line whose
     time they cannot parse, and then show that instead of our message. */
  n = (int) strftime (ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf (ts + n, sizeof ts - (size_t) n, ".%09ldZ", now.tv_nsec);
  /* Warnings go to stderr; into the log file only with --debug, because podman
     parses the whole log file as one JSON object: on failure it must hold
     exactly the one error line. */
  if (is_warning)
    {
      fprintf (stderr, "moat: warning: %s\n", msg);
      if (!log_debug)
        return;
    }
  if (log_fd < 0)
    {
      if (is_debug)
        {
          struct timespec mono;
          clock_gettime (CLOCK_MONOTONIC, &mono);
          fprintf (stderr, "moat: debug: [%ld.%06ld] %s\n", (long) mono.tv_sec, mono.tv_nsec / 1000, msg);
        }
      return;
    }
  if (log_json)
    {
      json_t *o = json_pack ("{s:s, s:s, s:s}", "level", level, "msg", msg, "time", ts);
      char *s = json_dumps (o, JSON_COMPACT);
      n = snprintf (line, sizeof line, "%s\n", s ? s : "{}");
      free (s);
      json_decref (o);
    }
  else
    n = snprintf (line, sizeof line, "time=\"%s\" level=%s msg=\"%s\"\n", ts, level, msg);
  if (n > 0 && write (log_fd, line, (size_t) n) < 0)
    return;
}
