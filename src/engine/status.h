/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MOAT_ENGINE_STATUS_H
#define MOAT_ENGINE_STATUS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/error.h"

/* An engine container (`moat run -d`) has a record directory
 * <root>/.engine/<id>/ (mode 0700; a name no container id can take):
 *   config.json   the bundle config; the dir is the bundle of every (re)create
 *   meta.json     what the front end knew: name, image, command, created,
 *                 restart and health settings, secrets mount (written once)
 *   status        the live state, written atomically by the monitor only
 *   stop          exists once `moat stop`/`rm -f` asked for a stop, so the
 *                 restart policy does not count it as a failure
 *   ctr.log[.N]   the container's stdout/stderr (CRI log format, rotated)
 *   log.dropped   lines the monitor could not write (a full disk)
 *   health.N      the last health-check results
 *   moat.log      errors of the moat commands the monitor ran (JSON lines)
 *
 * `status` is key=value lines, not JSON: the monitor is a small static
 * program without a JSON library, and ps reads 500 of these in one go. */

#define MOAT_ENGINE_DIR ".engine"
#define MOAT_HEALTH_KEEP 5

enum moat_engine_state
{
  MOAT_ENGINE_CREATED,    /* record written, monitor not running yet */
  MOAT_ENGINE_RUNNING,
  MOAT_ENGINE_RESTARTING, /* between a death and the next start (backoff) */
  MOAT_ENGINE_EXITED,
};

enum moat_health
{
  MOAT_HEALTH_NONE,
  MOAT_HEALTH_STARTING,
  MOAT_HEALTH_HEALTHY,
  MOAT_HEALTH_UNHEALTHY,
};

struct moat_engine_status
{
  enum moat_engine_state state;
  pid_t pid;                /* container init (host pid), 0 when not running */
  int exit_code;            /* last exit: code, or 128 + signal */
  bool oom_killed;          /* the last run ended with an OOM kill in its cgroup */
  unsigned restart_count;
  int64_t started_at;       /* unix ns of the last start, 0 if never */
  int64_t finished_at;      /* unix ns of the last exit, 0 if never */
  enum moat_health health;
  unsigned failing_streak;
  pid_t monitor_pid;
  uint64_t monitor_start;   /* starttime of the monitor: guards against pid reuse */
  char error[256];          /* last error (a failed restart), one line */
};

const char *moat_engine_state_name (enum moat_engine_state s);
const char *moat_health_name (enum moat_health h);

/* Text of STATUS (NUL-terminated) into BUF; returns its length. */
size_t moat_engine_status_format (const struct moat_engine_status *st, char *buf, size_t size);
/* Parse the text written by moat_engine_status_format (unknown keys ignored). */
void moat_engine_status_parse (const char *text, struct moat_engine_status *st);

int moat_engine_status_write (int dirfd, const struct moat_engine_status *st, struct moat_error *err);
int moat_engine_status_read (int dirfd, struct moat_engine_status *st, struct moat_error *err);

/* Wall clock in unix nanoseconds. */
int64_t moat_now_ns (void);

/* NS as RFC 3339 with nanoseconds in UTC, fixed width (so that two of them
 * compare as text): "2026-11-23T16:30:02.123456789Z" and its NUL. */
#define MOAT_RFC3339_NS_LEN 30
void moat_format_rfc3339_ns (int64_t ns, char out[MOAT_RFC3339_NS_LEN + 1]);

#endif
