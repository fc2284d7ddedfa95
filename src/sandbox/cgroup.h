/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MOAT_CGROUP_H
#define MOAT_CGROUP_H

#include <stdbool.h>
#include <sys/types.h>

#include "spec/spec.h"
#include "util/error.h"

/* Cgroups v1, v2 and hybrid (v1 controllers plus a cgroup2 mount at
 * <root>/unified).  The layout is detected from the mounts under the cgroup
 * root (default /sys/fs/cgroup; tests point MOAT_CGROUP_ROOT at a fake tree). */

enum moat_cgroup_mode
{
  MOAT_CGROUP_V1 = 1,
  MOAT_CGROUP_V2,
  MOAT_CGROUP_HYBRID,
};

struct moat_cgroup
{
  enum moat_cgroup_mode mode;
  char *root; /* "/sys/fs/cgroup" */
  char *path; /* the container's cgroup, relative to each hierarchy root: "/moat/ID" */
  /* Internal: which v1 controllers are mounted where (name -> absolute dir of the
     container's cgroup in that hierarchy).  Filled by create/open. */
  char **v1_dirs;
  char **v1_names;
  size_t n_v1;
  char *unified_dir; /* the container's cgroup in the cgroup2 hierarchy, or NULL */
};

/* Resolve the container's cgroup path: CGROUPS_PATH from the config when set
 * (absolute: used as is below each hierarchy root; relative: below "/moat"),
 * else "/moat/<ID>".  With systemd_cgroup, "slice:prefix:name" is expected and
 * refused here with a clear error (no systemd on this host). */
int moat_cgroup_resolve_path (const char *cgroups_path, const char *id, bool systemd_cgroup,
                              char **out, struct moat_error *err);

/* Create the container's cgroup in every hierarchy and apply RES (may be NULL).
 * A transaction: on failure every directory it made is removed again.  A
 * resource the host cannot honour (controller missing, value refused) is an
 * error naming the field, never silently ignored. */
int moat_cgroup_create (struct moat_cgroup *cg, const char *path, const struct moat_resources *res,
                        struct moat_error *err);

/* Fill CG for an existing cgroup PATH (as stored in the state file). */
int moat_cgroup_open (struct moat_cgroup *cg, const char *path, struct moat_error *err);

/* Move PID into the container's cgroup in every hierarchy. */
int moat_cgroup_enter (const struct moat_cgroup *cg, pid_t pid, struct moat_error *err);

/* Apply (new) resource limits: `moat update`. */
int moat_cgroup_update (const struct moat_cgroup *cg, const struct moat_resources *res,
                        struct moat_error *err);

/* Freeze or thaw every process of the container, waiting until the kernel
 * reports the new state (v1 freezer.state, v2 cgroup.freeze / cgroup.events). */
int moat_cgroup_freeze (const struct moat_cgroup *cg, bool freeze, struct moat_error *err);
int moat_cgroup_is_frozen (const struct moat_cgroup *cg, bool *frozen, struct moat_error *err);

/* Pids of every process in the container's cgroup (host pid namespace). */
int moat_cgroup_pids (const struct moat_cgroup *cg, pid_t **pids, size_t *n, struct moat_error *err);

/* Send SIG to every process in the cgroup (kill --all, delete --force). */
int moat_cgroup_kill_all (const struct moat_cgroup *cg, int sig, struct moat_error *err);

/* Remove the cgroup directories (retrying briefly while the last processes exit). */
int moat_cgroup_destroy (const struct moat_cgroup *cg, struct moat_error *err);

/* Statistics for `moat events --stats` and `moat stats`. */
struct moat_cgroup_stats
{
  uint64_t memory_usage, memory_limit, memory_max_usage;
  uint64_t oom_kills; /* memory.oom_control oom_kill (v1) or memory.events oom_kill (v2) */
  uint64_t cpu_usage_ns;
  uint64_t pids_current, pids_limit;
};
int moat_cgroup_stats (const struct moat_cgroup *cg, struct moat_cgroup_stats *st, struct moat_error *err);

/* Mount the container's view of the cgroup filesystem on TARGET_FD (an O_PATH
 * fd of /sys/fs/cgroup inside the rootfs), from inside the container's mount
 * namespace.  With a private cgroup namespace, fresh cgroup (v1: a tmpfs with one
 * mount per controller; v2: cgroup2) mounts; without one, bind mounts of the
 * container's own cgroup directories.  MOUNT_FLAGS are MS_* flags from the
 * config's cgroup mount (MS_RDONLY honoured; nosuid, nodev, noexec always). */
int moat_cgroup_mount (const struct moat_cgroup *cg, int target_fd, unsigned long mount_flags,
                       bool private_cgroupns, struct moat_error *err);

void moat_cgroup_free (struct moat_cgroup *cg);

#endif
