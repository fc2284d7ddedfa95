/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MOAT_STATE_H
#define MOAT_STATE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/error.h"
#include "util/proc.h"

/* The container's state lives in <root>/<id>/ (mode 0700):
 *   state.json   what `state` prints plus moat's private fields, written atomically
 *   config.json  the validated config, copied at create (exec and delete read it)
 *   lock         flock()ed by every command working on the id, so concurrent
 *                commands on one id serialise instead of corrupting state
 *   start.sock   the created init waits on it until `start` connects */

enum moat_status
{
  MOAT_STATUS_CREATING,
  MOAT_STATUS_CREATED,
  MOAT_STATUS_RUNNING,
  MOAT_STATUS_STOPPED,
  MOAT_STATUS_PAUSED,
};

struct moat_state
{
  char *id;
  char *bundle;
  char *rootfs;
  char *cgroup_path;    /* "/moat/ID", NULL when none was made */
  char *annotations_json; /* JSON object text, "{}" when none */
  pid_t pid;            /* init, host pid namespace; 0 before it exists */
  uint64_t pid_start;   /* /proc/PID/stat starttime: guards against pid reuse */
  bool started;         /* `start` has run the process */
  bool config_at_start; /* `start` needs the stored config: poststart hooks or a seccomp listener */
  bool config_at_delete; /* `delete` needs it: poststop hooks (true when unknown) */
  int64_t created;      /* unix seconds */
  char *owner;
};

/* Open (creating with mkdir -p 0700) the state root. */
int moat_state_root_open (const char *root, int *rootfd, struct moat_error *err);

/* Create <root>/<id> exclusively; EEXIST becomes "container `ID` already exists". */
int moat_state_dir_create (int rootfd, const char *id, int *dirfd, struct moat_error *err);
int moat_state_dir_open (int rootfd, const char *id, int *dirfd, struct moat_error *err);

/* flock the id's lock file (exclusive); the returned fd holds the lock. */
int moat_state_lock (int dirfd, int *lockfd, struct moat_error *err);

int moat_state_save (int dirfd, const struct moat_state *st, struct moat_error *err);
int moat_state_load (int dirfd, struct moat_state *st, struct moat_error *err);
void moat_state_free (struct moat_state *st);

/* Live status from the kernel: the init's pid and start time, the freezer. */
enum moat_status moat_state_status (const struct moat_state *st);
const char *moat_status_name (enum moat_status s);

/* Runtime-spec state JSON (what `state` prints and hooks read on stdin). */
char *moat_state_json (const struct moat_state *st, enum moat_status status);


#endif
