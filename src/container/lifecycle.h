/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MOAT_LIFECYCLE_H
#define MOAT_LIFECYCLE_H

#include <stdbool.h>
#include <sys/types.h>

#include "container/events.h"
#include "container/state.h"
#include "spec/spec.h"
#include "util/error.h"

/* Set by `moat run -d` on the containers its monitor (re-)creates. */
#define MOAT_ANNOTATION_MONITORED "org.moat.monitored"

struct moat_ctx
{
  const char *root;     /* state root, default /run/moat */
  bool systemd_cgroup;
};

struct moat_create_opts
{
  const char *id;
  const char *bundle;         /* NULL: current directory */
  const char *pid_file;
  const char *console_socket;
  int preserve_fds;
  bool no_pivot;
  bool no_new_keyring;
  bool want_pty_master;       /* foreground `run` of a terminal process without --console-socket */
  char **seal_argv;           /* argv to re-exec sealed with when the spec needs it (moat_exe_seal_for) */
  bool start_over_sync;       /* `run`: no start socket; start with moat_container_start_created */
};

struct moat_created
{
  pid_t pid;
  int pty_master_fd;          /* -1 unless want_pty_master */
  int sync_fd;                /* -1 unless start_over_sync: the init's start channel */
};

/* create: a transaction.  On any failure nothing is left: no process, no
 * cgroup, no mount (they live in the init's mount namespace), no state dir. */
int moat_container_create (const struct moat_ctx *ctx, const struct moat_create_opts *o,
                           struct moat_created *out, struct moat_error *err);
int moat_container_start (const struct moat_ctx *ctx, const char *id, struct moat_error *err);
/* start for the process that created the container with start_over_sync:
 * the init is started over SYNC_FD (closed by the caller afterwards), with
 * no start socket and no status check (it cannot have run yet). */
int moat_container_start_created (const struct moat_ctx *ctx, const char *id, int sync_fd,
                                  struct moat_error *err);
int moat_container_kill (const struct moat_ctx *ctx, const char *id, int sig, bool all, struct moat_error *err);
int moat_container_delete (const struct moat_ctx *ctx, const char *id, bool force, struct moat_error *err);
int moat_container_state (const struct moat_ctx *ctx, const char *id, char **json, struct moat_error *err);
int moat_container_pause (const struct moat_ctx *ctx, const char *id, bool pause, struct moat_error *err);
int moat_container_pids (const struct moat_ctx *ctx, const char *id, pid_t **pids, size_t *n, struct moat_error *err);
int moat_container_update (const struct moat_ctx *ctx, const char *id, const struct moat_resources *res,
                           struct moat_error *err);

/* How many processes of the container the kernel's OOM killer has killed
 * (memory cgroup counter); 0 when unknown. */
uint64_t moat_container_oom_kills (const struct moat_ctx *ctx, const char *id);

/* Append an event about the container of ST to the events log under
 * ctx->root, with its name and image (from its annotations: org.moat.name,
 * org.moat.image, or the CRI's) and EXTRA attributes.  Best effort: a failure
 * is logged at debug level and never fails the caller. */
void moat_container_event (const struct moat_ctx *ctx, const char *action, const struct moat_state *st,
                           const struct moat_event_attr *extra, size_t n_extra);

/* Load a container's state and stored config (for exec, ps, events). */
int moat_container_load (const struct moat_ctx *ctx, const char *id, struct moat_state *st,
                         struct moat_spec *spec, struct moat_error *err);

#endif
