/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MOAT_CGROUP_STATS_H
#define MOAT_CGROUP_STATS_H

#include <jansson.h>

#include "sandbox/cgroup.h"

/* The "data" object of runc's `events --stats` ({"cpu": {"usage": {"total",
 * "percpu", "kernel", "user"}, "throttling": {...}}, "memory": {"cache",
 * "usage", "swap", "kernel", "kernelTCP", "raw"}, "pids": {"current",
 * "limit"}, "blkio": {"ioServiceBytesRecursive", "ioServicedRecursive"}}),
 * nanoseconds and bytes, from cgroup v1, hybrid or v2.  A limit of "max"
 * reads as INT64_MAX; a pids limit of "max" as 0, as runc writes it. */
int moat_cgroup_stats_runc (const struct moat_cgroup *cg, json_t **data, struct moat_error *err);

#endif
