/* SPDX-License-Identifier: GPL-2.0-or-later */
/* process.rlimits, process.scheduler and process.ioPriority. */
#include "sandbox/security.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <sys/resource.h>

#include "util/cleanup.h"
#include "util/syscalls.h"

static const char *const moat_rlimit_names[] = {
  [RLIMIT_CPU] = "RLIMIT_CPU",
  [RLIMIT_FSIZE] = "RLIMIT_FSIZE",
  [RLIMIT_DATA] = "RLIMIT_DATA",
  [RLIMIT_STACK] = "RLIMIT_STACK",
  [RLIMIT_CORE] = "RLIMIT_CORE",
  [RLIMIT_RSS] = "RLIMIT_RSS",
  [RLIMIT_NPROC] = "RLIMIT_NPROC",
  [RLIMIT_NOFILE] = "RLIMIT_NOFILE",
  [RLIMIT_MEMLOCK] = "RLIMIT_MEMLOCK",
  [RLIMIT_AS] = "RLIMIT_AS",
  [RLIMIT_LOCKS] = "RLIMIT_LOCKS",
  [RLIMIT_SIGPENDING] = "RLIMIT_SIGPENDING",
  [RLIMIT_MSGQUEUE] = "RLIMIT_MSGQUEUE",
  [RLIMIT_NICE] = "RLIMIT_NICE",
  [RLIMIT_RTPRIO] = "RLIMIT_RTPRIO",
  [RLIMIT_RTTIME] = "RLIMIT_RTTIME",
};

static const char *
moat_rlimit_name (int resource, char *buf, size_t size)
{
  if (resource >= 0 && (size_t) resource < MOAT_ARRAY_SIZE (moat_rlimit_names)
      && moat_rlimit_names[resource])
    return moat_rlimit_names[resource];
  snprintf (buf, size, "rlimit %d", resource);
  return buf;
}

static int
moat_rlimit_apply_one (const struct moat_rlimit *l, size_t i, struct moat_error *err)
{
  struct rlimit want = { .rlim_cur = (rlim_t) l->soft, .rlim_max = (rlim_t) l->hard };
  struct rlimit cur;
  char buf[32];
  const char *name = moat_rlimit_name (l->resource, buf, sizeof buf);

  if (l->soft > l->hard)
    return moat_err (err, 0, "process.rlimits[%zu]: %s soft limit %llu is above the hard limit %llu", i,
                     name, (unsigned long long) l->soft, (unsigned long long) l->hard);
  if (setrlimit ((__rlimit_resource_t) l->resource, &want) == 0)
    return 0;
  if (errno == EPERM && getrlimit ((__rlimit_resource_t) l->resource, &cur) == 0 && want.rlim_max > cur.rlim_max)
    return moat_err (err, EPERM,
                     "process.rlimits[%zu]: %s: raising the hard limit from %llu to %llu needs CAP_SYS_RESOURCE",
                     i, name, (unsigned long long) cur.rlim_max, (unsigned long long) want.rlim_max);
  if (errno == EPERM && l->resource == RLIMIT_NOFILE)
    /* The kernel also caps RLIMIT_NOFILE at fs.nr_open, even for root. */
    return moat_err (err, EPERM, "process.rlimits[%zu]: %s: %llu is above fs.nr_open", i, name,
                     (unsigned long long) l->hard);
  return moat_err (err, errno, "process.rlimits[%zu]: %s: setrlimit", i, name);
}

int
moat_rlimits_apply (const struct moat_process *p, struct moat_error *err)
{
  size_t i;

  for (i = 0; i < p->n_rlimits; i++)
    if (moat_rlimit_apply_one (&p->rlimits[i], i, err) < 0)
      return -1;
  return 0;
}

static int
moat_sched_apply (const struct moat_process *p, struct moat_error *err)
{
  struct moat_sched_attr attr = {
    .size = sizeof attr,
    .sched_policy = (uint32_t) p->sched_policy,
    .sched_flags = p->sched_flags,
    .sched_nice = p->sched_nice,
    .sched_priority = (uint32_t) p->sched_priority,
    .sched_runtime = p->sched_runtime,
    .sched_deadline = p->sched_deadline,
    .sched_period = p->sched_period,
  };

  if (p->sched_nice < -20 || p->sched_nice > 19)
    return moat_err (err, 0, "process.scheduler.nice: %d is out of range (-20..19)", p->sched_nice);
  if (sys_sched_setattr (0, &attr, 0) == 0)
    return 0;
  if (errno == EPERM)
    return moat_err (err, EPERM,
                     "process.scheduler: sched_setattr (a real-time or deadline policy or a negative "
                     "nice needs CAP_SYS_NICE)");
  return moat_err (err, errno, "process.scheduler: sched_setattr policy %d", p->sched_policy);
}

static int
moat_ioprio_apply (const struct moat_process *p, struct moat_error *err)
{
  /* IOPRIO_CLASS_RT=1, BE=2, IDLE=3; levels 0..7 (include/uapi/linux/ioprio.h). */
  if (p->io_priority_class < 1 || p->io_priority_class > 3)
    return moat_err (err, 0, "process.ioPriority.class: unknown class %d", p->io_priority_class);
  if (p->io_priority < 0 || p->io_priority > 7)
    return moat_err (err, 0, "process.ioPriority.priority: %d is out of range (0..7)", p->io_priority);
  if (sys_ioprio_set (IOPRIO_WHO_PROCESS, 0, MOAT_IOPRIO_VALUE (p->io_priority_class, p->io_priority)) < 0)
    return moat_err (err, errno, "process.ioPriority: ioprio_set%s",
                     errno == EPERM ? " (the real-time class needs CAP_SYS_NICE or CAP_SYS_ADMIN)" : "");
  return 0;
}

int
moat_process_sched_apply (const struct moat_process *p, struct moat_error *err)
{
  if (p->has_scheduler && moat_sched_apply (p, err) < 0)
    return -1;
  if (p->has_io_priority && moat_ioprio_apply (p, err) < 0)
    return -1;
  return 0;
}
