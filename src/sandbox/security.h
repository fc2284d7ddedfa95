/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MOAT_SECURITY_H
#define MOAT_SECURITY_H

#include <stdbool.h>

#include "spec/spec.h"
#include "util/error.h"

/* Per-process security state of the container's init and of exec'd processes.
 * Called in this order by the init (see sandbox/init.c for why):
 *   moat_lsm_check (parent, at create: fail closed before anything exists)
 *   moat_rlimits_apply
 *   moat_process_sched_apply (scheduler, ioPriority)
 *   moat_lsm_apply (verified procfs write of the exec label)
 *   moat_user_caps_apply (groups, gid, uid, then all five capability sets)
 *   moat_no_new_privs_apply
 *   [landlock, then seccomp last] */

/* Refuse apparmorProfile / selinuxLabel / mountLabel when the LSM is not active
 * on this kernel (fail closed, clear error naming the field). */
int moat_lsm_check (const struct moat_spec *spec, struct moat_error *err);

/* Set the LSM exec label for the next execve through a private, verified procfs
 * handle (fstatfs PROC_SUPER_MAGIC, no symlinks: CVE-2019-16884, CVE-2025-52881).
 * PROC_FD is an fd of a procfs mount root trusted by the caller. */
int moat_lsm_apply (const struct moat_process *p, int proc_fd, struct moat_error *err);

/* setrlimit each configured limit; a limit above the current hard limit without
 * CAP_SYS_RESOURCE fails with a message naming RLIMIT_x. */
int moat_rlimits_apply (const struct moat_process *p, struct moat_error *err);

/* process.scheduler and process.ioPriority. */
int moat_process_sched_apply (const struct moat_process *p, struct moat_error *err);

/* Switch to p->user (additionalGids, gid, uid) while keeping exactly the
 * configured capabilities: bounding set dropped first (needs CAP_SETPCAP), then
 * setgroups/setresgid/setresuid with PR_SET_KEEPCAPS, then capset of effective,
 * permitted and inheritable, then the ambient set (cleared first).  A non-root
 * user whose config grants no capabilities ends with all sets empty. */
int moat_user_caps_apply (const struct moat_process *p, bool setgroups_allowed, struct moat_error *err);

int moat_no_new_privs_apply (const struct moat_process *p, struct moat_error *err);

/* personality(2) from linux.personality. */
int moat_personality_apply (const struct moat_spec *spec, struct moat_error *err);

#endif
