/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MOAT_CGROUP_INTERNAL_H
#define MOAT_CGROUP_INTERNAL_H

/* Private to cgroup.c, cgroup_v1.c and cgroup_v2.c. */

#include <stdbool.h>
#include <stdint.h>

#include "sandbox/cgroup.h"

/* How long freeze/thaw may take before it is an error, and how long destroy
   retries rmdir while the last processes exit (EBUSY). */
#define MOAT_CG_FREEZE_TIMEOUT_MS 2000
#define MOAT_CG_RMDIR_TIMEOUT_MS 1000

/* A refusal: the message alone (no strerror suffix), CODE kept for callers.
   Returns -1. */
int moat_cg_refuse (struct moat_error *err, int code, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

/* A valid linux.resources.unified key: a file name of the cgroup itself. */
bool moat_cg_valid_key (const char *key);

/* Knob access.  FIELD names the config field in error messages (may be NULL). */
int moat_cg_write (const char *dir, const char *file, const char *value, const char *field,
                   struct moat_error *err);
int moat_cg_writef (const char *dir, const char *file, const char *field, struct moat_error *err,
                    const char *fmt, ...) __attribute__ ((format (printf, 5, 6)));
/* Read a knob, trailing newline stripped. */
int moat_cg_read (const char *dir, const char *file, char **out, struct moat_error *err);
/* Read a single number; "max" reads as UINT64_MAX. */
int moat_cg_read_u64 (const char *dir, const char *file, uint64_t *out, struct moat_error *err);
/* Value of KEY in a "key value" per line file (memory.stat, cgroup.events ...). */
int moat_cg_read_keyed (const char *dir, const char *file, const char *key, uint64_t *out,
                        struct moat_error *err);
bool moat_cg_has (const char *dir, const char *file);

/* Pids of DIR/cgroup.procs and of every child cgroup below it, appended. */
int moat_cg_collect_pids (const char *dir, pid_t **pids, size_t *n, size_t *cap, struct moat_error *err);

/* The container's directory in the v1 hierarchy that has controller CTRL
   ("memory", "name=systemd"), or NULL when it is not mounted. */
const char *moat_cg_v1_dir (const struct moat_cgroup *cg, const char *ctrl);

/* cgroup_v1.c */
int moat_cg_v1_apply (const struct moat_cgroup *cg, const struct moat_resources *res, struct moat_error *err);
int moat_cg_v1_freeze (const char *dir, bool freeze, struct moat_error *err);
int moat_cg_v1_is_frozen (const char *dir, bool *frozen, struct moat_error *err);
int moat_cg_v1_stats (const struct moat_cgroup *cg, struct moat_cgroup_stats *st, struct moat_error *err);

/* cgroup_v2.c */
/* Controllers RES needs in cgroup v2 ("memory", "cpu", the prefix of each
   unified key ...). */
#define MOAT_CG_V2_MAX_CTRL 32
struct moat_cg_ctrls
{
  size_t n;
  char name[MOAT_CG_V2_MAX_CTRL][32];
};
int moat_cg_v2_needed (const struct moat_resources *res, struct moat_cg_ctrls *out, struct moat_error *err);
/* Enable NEEDED in the cgroup.subtree_control of every ancestor of PATH below
   HIER_ROOT; memory and pids are enabled too when available, for stats. */
int moat_cg_v2_enable (const char *hier_root, const char *path, const struct moat_cg_ctrls *needed,
                       struct moat_error *err);
int moat_cg_v2_apply (const char *dir, const struct moat_resources *res, struct moat_error *err);
/* Just the hugepage limits (hybrid hosts whose hugetlb lives in cgroup2). */
int moat_cg_v2_apply_hugetlb (const char *dir, const struct moat_resources *res, struct moat_error *err);
/* Replace the cgroup's device filter by one built from RULES (eBPF). */
int moat_cg_v2_devices (const char *dir, const struct moat_device_rule *rules, size_t n, struct moat_error *err);
bool moat_cg_v2_needs_hugetlb (const struct moat_resources *res);
int moat_cg_v2_freeze (const char *dir, bool freeze, struct moat_error *err);
int moat_cg_v2_is_frozen (const char *dir, bool *frozen, struct moat_error *err);
int moat_cg_v2_stats (const char *dir, struct moat_cgroup_stats *st, struct moat_error *err);

#endif
