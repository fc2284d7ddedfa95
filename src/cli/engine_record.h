/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MOAT_CLI_ENGINE_RECORD_H
#define MOAT_CLI_ENGINE_RECORD_H

#include <jansson.h>
#include <stdbool.h>

#include "cli/cli.h"
#include "engine/status.h"

struct moat_record
{
  char id[256];
  int dirfd;
  json_t *meta;
  struct moat_engine_status st;
  bool monitor_alive;
};

/* What ps and inspect show: the status file, corrected by whether its
 * monitor is still alive (a SIGKILLed monitor leaves "running" behind). */
enum moat_record_view
{
  MOAT_VIEW_CREATED,
  MOAT_VIEW_RUNNING,
  MOAT_VIEW_RESTARTING,
  MOAT_VIEW_EXITED,
  MOAT_VIEW_UNKNOWN, /* the monitor died: nobody reaps, logs or restarts it */
};

int moat_record_load (const struct moat_cli *cli, const char *id, struct moat_record *r, struct moat_error *err);
int moat_record_load_at (int enginefd, const char *id, struct moat_record *r, struct moat_error *err);
void moat_record_free (struct moat_record *r);
enum moat_record_view moat_record_view (const struct moat_record *r);
const char *moat_record_view_name (enum moat_record_view v);

/* Call FN on every record (sorted by nothing); a negative FN return stops. */
int moat_record_foreach (const struct moat_cli *cli, int (*fn) (struct moat_record *, void *), void *data,
                         struct moat_error *err);

int moat_pidfd_checked (pid_t pid, uint64_t start);
/* Wait until the record's monitor has exited (0), or TIMEOUT_MS passed (-1; -1 ms: forever). */
int moat_record_wait_monitor (const struct moat_record *r, int timeout_ms);

#endif
