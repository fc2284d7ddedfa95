/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MOAT_MONITOR_H
#define MOAT_MONITOR_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "engine/status.h"
#include "monitor/logfile.h"

/* moat-monitor: one per detached container (`moat run -d`), like conmon.
 * Two processes:
 *  - the monitor proper holds the read ends of the container's stdout and
 *    stderr and writes the log, reaps the container's init (it is the
 *    subreaper the init is re-parented to when `moat create` exits), records
 *    exits and OOM kills in `status`, applies the restart policy, schedules
 *    health checks and writes events.  It handles the container's bytes, so
 *    it runs with no_new_privs and its own seccomp filter (confine.c);
 *  - the spawner, forked before that filter, runs the moat commands the
 *    monitor asks for (create+start, delete, exec of a health check, removal
 *    of the record).  Those must not inherit the monitor's filter: the
 *    container and its health checks get their own.  The spawner reads only
 *    one-byte requests from the monitor, so a monitor taken over by a hostile
 *    container can at most restart, check or delete its own container. */

enum mon_restart
{
  MON_RESTART_NO,
  MON_RESTART_ON_FAILURE,
  MON_RESTART_ALWAYS,
  MON_RESTART_UNLESS_STOPPED,
};

struct mon_config
{
  const char *root;     /* state root */
  const char *id;
  const char *moat;     /* moat executable */
  const char *cgroup;   /* the container's cgroup path, for the OOM counter */
  const char *name;
  const char *image;
  const char *secrets;  /* host secrets tmpfs to unmount when the record goes */
  char dir[4096];       /* <root>/.engine/<id> */
  enum mon_restart restart;
  unsigned restart_max; /* on-failure:N; 0 = no limit */
  bool remove;          /* --rm: remove the record once the container is done */
  char **health_argv;   /* NULL: no health check */
  int64_t health_interval, health_timeout, health_start_period; /* ns */
  unsigned health_retries;
  uint64_t log_max_size;
  unsigned log_max_files;
  int report_fd;        /* the front end waits on it for the first start */
};

/* Requests to the spawner (one byte) and its answers. */
enum
{
  SPAWN_CREATE = 'C', /* create + start; answer carries the init's pid */
  SPAWN_DELETE = 'D',
  SPAWN_HEALTH = 'H',
  SPAWN_REMOVE = 'R', /* remove the record (and the secrets mount) */
  SPAWN_KILL = 'K',   /* SIGKILL the container: a stop came during a restart */
};

struct spawn_result
{
  char cmd;
  int rc;               /* exit status of the moat command; -1 timeout / could not run */
  pid_t pid;            /* SPAWN_CREATE: the container's init */
  int64_t start_ns, end_ns;
};

struct spawner_fds
{
  int req, res;         /* request pipe (read end), result pipe (write end) */
  int out, err;         /* write ends given to the container as stdout/stderr */
  int health;           /* write end given to health checks */
};

/* The spawner's loop: returns when the monitor closes the request pipe. */
void mon_spawner (const struct mon_config *cfg, const struct spawner_fds *fds);

int mon_confine (void);

/* Set up (pipes, spawner, confinement), start the container, supervise it
   until it is done; returns the exit status of the monitor. */
int mon_run (struct mon_config *cfg);

#endif
