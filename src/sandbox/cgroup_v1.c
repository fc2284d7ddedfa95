/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Cgroup v1 controllers: resource limits, the freezer and statistics. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sandbox/cgroup_internal.h"
#include "util/cleanup.h"

#define F "linux.resources."

static const char *
need_dir (const struct moat_cgroup *cg, const char *ctrl, const char *field, struct moat_error *err)
{
  const char *dir = moat_cg_v1_dir (cg, ctrl);

  if (dir == NULL)
    moat_cg_refuse (err, ENOTSUP, "%s: the `%s` cgroup controller is not mounted on this host", field, ctrl);
  return dir;
}

static int
need_file (const char *dir, const char *file, const char *field, struct moat_error *err)
{
  if (moat_cg_has (dir, file))
    return 0;
  return moat_cg_refuse (err, ENOTSUP, "%s: not supported by this kernel (no `%s`)", field, file);
}

static int
write_i64 (const char *dir, const char *file, int64_t v, const char *field, struct moat_error *err)
{
  return moat_cg_writef (dir, file, field, err, "%" PRId64, v);
}

static int
memory_swap (const char *dir, const struct moat_resources *r, struct moat_error *err)
{
  const char *memsw = "memory.memsw.limit_in_bytes";
  uint64_t cur = 0;

  if (!moat_cg_has (dir, memsw))
    {
      /* swap == limit means "no swap" and -1 "unlimited": both already hold
         without swap accounting.  Any other value cannot be enforced. */
      if (r->memory.swap == -1 || (r->memory.has_limit && r->memory.swap == r->memory.limit))
        return r->memory.has_limit
                   ? write_i64 (dir, "memory.limit_in_bytes", r->memory.limit, F "memory.limit", err)
                   : 0;
      return moat_cg_refuse (err, ENOTSUP, F "memory.swap: swap accounting is not enabled on this kernel");
    }
  if (!r->memory.has_limit)
    return write_i64 (dir, memsw, r->memory.swap, F "memory.swap", err);
  /* The kernel requires limit <= memsw at every step: raise memsw first when
     growing, lower the limit first when shrinking. */
  if (moat_cg_read_u64 (dir, "memory.limit_in_bytes", &cur, err) < 0)
    return -1;
  if (r->memory.swap == -1 || (r->memory.swap >= 0 && cur < (uint64_t) r->memory.swap))
    {
      if (write_i64 (dir, memsw, r->memory.swap, F "memory.swap", err) < 0)
        return -1;
      return write_i64 (dir, "memory.limit_in_bytes", r->memory.limit, F "memory.limit", err);
    }
  if (write_i64 (dir, "memory.limit_in_bytes", r->memory.limit, F "memory.limit", err) < 0)
    return -1;
  return write_i64 (dir, memsw, r->memory.swap, F "memory.swap", err);
}

static int
apply_memory (const struct moat_cgroup *cg, const struct moat_resources *r, struct moat_error *err)
{
  const char *dir;
  const typeof (r->memory) *m = &r->memory;

  if (!(m->has_limit || m->has_reservation || m->has_swap || m->has_kernel || m->has_kernel_tcp
        || m->has_swappiness || m->has_disable_oom_killer || m->has_use_hierarchy))
    return 0;
  /* Kernel memory limits were deprecated in 5.4 and are no-ops since 6.0. */
  if (m->has_kernel && m->kernel != -1)
    return moat_cg_refuse (err, ENOTSUP, F "memory.kernel: kernel memory limits are deprecated and not supported");
  if (m->has_kernel_tcp && m->kernel_tcp != -1)
    return moat_cg_refuse (err, ENOTSUP, F "memory.kernelTCP: kernel TCP memory limits are not supported");
  if (m->has_swappiness && m->swappiness > 100)
    return moat_cg_refuse (err, EINVAL, F "memory.swappiness: %" PRIu64 " is not in 0..100", m->swappiness);
  if (m->has_limit && m->has_swap && m->limit >= 0 && m->swap >= 0 && m->swap < m->limit)
    return moat_cg_refuse (err, EINVAL, F "memory.swap: %" PRId64 " is below memory.limit %" PRId64
                     " (swap is the memory+swap total)", m->swap, m->limit);
  dir = need_dir (cg, "memory", F "memory", err);
  if (dir == NULL)
    return -1;
  if (m->check_before_update && m->has_limit && m->limit > 0)
    {
      uint64_t usage;
      if (moat_cg_read_u64 (dir, "memory.usage_in_bytes", &usage, err) < 0)
        return -1;
      if (usage > (uint64_t) m->limit)
        return moat_cg_refuse (err, EBUSY, F "memory.limit: %" PRId64 " is below the current usage %" PRIu64,
                         m->limit, usage);
    }
  if (m->has_swap)
    {
      if (memory_swap (dir, r, err) < 0)
        return -1;
    }
  else if (m->has_limit && write_i64 (dir, "memory.limit_in_bytes", m->limit, F "memory.limit", err) < 0)
    return -1;
  if (m->has_reservation
      && write_i64 (dir, "memory.soft_limit_in_bytes", m->reservation, F "memory.reservation", err) < 0)
    return -1;
  if (m->has_swappiness
      && moat_cg_writef (dir, "memory.swappiness", F "memory.swappiness", err, "%" PRIu64, m->swappiness) < 0)
    return -1;
  if (m->has_disable_oom_killer
      && moat_cg_write (dir, "memory.oom_control", m->disable_oom_killer ? "1" : "0", F "memory.disableOOMKiller",
                        err) < 0)
    return -1;
  if (m->has_use_hierarchy
      && moat_cg_write (dir, "memory.use_hierarchy", m->use_hierarchy ? "1" : "0", F "memory.useHierarchy", err) < 0)
    return -1;
  return 0;
}

static int
apply_cfs (const char *dir, const struct moat_resources *r, struct moat_error *err)
{
  if (r->cpu.has_period && need_file (dir, "cpu.cfs_period_us", F "cpu.period", err) < 0)
    return -1;
  if (r->cpu.has_quota && need_file (dir, "cpu.cfs_quota_us", F "cpu.quota", err) < 0)
    return -1;
  if (r->cpu.has_period
      && moat_cg_writef (dir, "cpu.cfs_period_us", F "cpu.period", err, "%" PRIu64, r->cpu.period) < 0)
    {
      /* A shorter period can be refused against the old quota: set the quota
         first and retry. */
      if (!(r->cpu.has_quota && err && err->code == EINVAL))
        return -1;
      if (write_i64 (dir, "cpu.cfs_quota_us", r->cpu.quota, F "cpu.quota", err) < 0)
        return -1;
      return moat_cg_writef (dir, "cpu.cfs_period_us", F "cpu.period", err, "%" PRIu64, r->cpu.period);
    }
  if (r->cpu.has_quota && write_i64 (dir, "cpu.cfs_quota_us", r->cpu.quota, F "cpu.quota", err) < 0)
    return -1;
  return 0;
}

static int
apply_cpu (const struct moat_cgroup *cg, const struct moat_resources *r, struct moat_error *err)
{
  const typeof (r->cpu) *c = &r->cpu;
  const char *dir;

  if (c->has_shares || c->has_quota || c->has_period || c->has_burst || c->has_realtime_runtime
      || c->has_realtime_period || c->has_idle)
    {
      dir = need_dir (cg, "cpu", F "cpu", err);
      if (dir == NULL)
        return -1;
      if (c->has_shares && c->shares != 0)
        {
          uint64_t got;
          if (moat_cg_writef (dir, "cpu.shares", F "cpu.shares", err, "%" PRIu64, c->shares) < 0
              || moat_cg_read_u64 (dir, "cpu.shares", &got, err) < 0)
            return -1;
          /* The kernel clamps to [2, 262144] silently. */
          if (got != c->shares)
            return moat_cg_refuse (err, ERANGE,
                                   F "cpu.shares: %" PRIu64 " is out of range (the kernel set %" PRIu64 ")",
                             c->shares, got);
        }
      if (apply_cfs (dir, r, err) < 0)
        return -1;
      if (c->has_burst
          && (need_file (dir, "cpu.cfs_burst_us", F "cpu.burst", err) < 0
              || moat_cg_writef (dir, "cpu.cfs_burst_us", F "cpu.burst", err, "%" PRIu64, c->burst) < 0))
        return -1;
      if (c->has_realtime_period
          && (need_file (dir, "cpu.rt_period_us", F "cpu.realtimePeriod", err) < 0
              || moat_cg_writef (dir, "cpu.rt_period_us", F "cpu.realtimePeriod", err, "%" PRIu64,
                                 c->realtime_period) < 0))
        return -1;
      if (c->has_realtime_runtime
          && (need_file (dir, "cpu.rt_runtime_us", F "cpu.realtimeRuntime", err) < 0
              || write_i64 (dir, "cpu.rt_runtime_us", c->realtime_runtime, F "cpu.realtimeRuntime", err) < 0))
        return -1;
      if (c->has_idle
          && (need_file (dir, "cpu.idle", F "cpu.idle", err) < 0
              || write_i64 (dir, "cpu.idle", c->idle, F "cpu.idle", err) < 0))
        return -1;
    }
  if (c->cpus || c->mems)
    {
      dir = need_dir (cg, "cpuset", F "cpu.cpus", err);
      if (dir == NULL)
        return -1;
      if (c->cpus && moat_cg_write (dir, "cpuset.cpus", c->cpus, F "cpu.cpus", err) < 0)
        return -1;
      if (c->mems && moat_cg_write (dir, "cpuset.mems", c->mems, F "cpu.mems", err) < 0)
        return -1;
    }
  return 0;
}

static void
devnum (char *buf, size_t size, int64_t major, int64_t minor)
{
  char a[24], b[24];

  if (major < 0)
    snprintf (a, sizeof a, "*");
  else
    snprintf (a, sizeof a, "%" PRId64, major);
  if (minor < 0)
    snprintf (b, sizeof b, "*");
  else
    snprintf (b, sizeof b, "%" PRId64, minor);
  snprintf (buf, size, "%s:%s", a, b);
}

static int
throttle (const char *dir, const char *file, const char *field, const struct moat_throttle_device *t,
          size_t n, struct moat_error *err)
{
  char f[128];

  for (size_t i = 0; i < n; i++)
    {
      snprintf (f, sizeof f, "%s[%zu]", field, i);
      if (need_file (dir, file, f, err) < 0
          || moat_cg_writef (dir, file, f, err, "%" PRId64 ":%" PRId64 " %" PRIu64, t[i].major, t[i].minor,
                             t[i].rate) < 0)
        return -1;
    }
  return 0;
}

static int
apply_blkio (const struct moat_cgroup *cg, const struct moat_resources *r, struct moat_error *err)
{
  const typeof (r->block_io) *b = &r->block_io;
  const char *dir, *wfile, *wdev;

  if (!(b->has_weight || b->has_leaf_weight || b->n_weight_device || b->n_throttle_read_bps
        || b->n_throttle_write_bps || b->n_throttle_read_iops || b->n_throttle_write_iops))
    return 0;
  dir = need_dir (cg, "blkio", F "blockIO", err);
  if (dir == NULL)
    return -1;
  /* CFQ's blkio.weight is gone since 5.0; BFQ exposes blkio.bfq.weight. */
  wfile = moat_cg_has (dir, "blkio.weight") ? "blkio.weight" : "blkio.bfq.weight";
  wdev = moat_cg_has (dir, "blkio.weight_device") ? "blkio.weight_device" : "blkio.bfq.weight_device";
  if (b->has_weight
      && (moat_cg_has (dir, wfile) ? 0 : moat_cg_refuse (err, ENOTSUP, F "blockIO.weight: not supported by this kernel "
                                                   "(no blkio.weight or blkio.bfq.weight)")) < 0)
    return -1;
  if (b->has_weight && moat_cg_writef (dir, wfile, F "blockIO.weight", err, "%u", b->weight) < 0)
    return -1;
  if (b->has_leaf_weight
      && (need_file (dir, "blkio.leaf_weight", F "blockIO.leafWeight", err) < 0
          || moat_cg_writef (dir, "blkio.leaf_weight", F "blockIO.leafWeight", err, "%u", b->leaf_weight) < 0))
    return -1;
  for (size_t i = 0; i < b->n_weight_device; i++)
    {
      const struct moat_weight_device *w = &b->weight_device[i];
      char f[96];
      snprintf (f, sizeof f, F "blockIO.weightDevice[%zu]", i);
      if (w->has_weight
          && (need_file (dir, wdev, f, err) < 0
              || moat_cg_writef (dir, wdev, f, err, "%" PRId64 ":%" PRId64 " %u", w->major, w->minor, w->weight) < 0))
        return -1;
      if (w->has_leaf_weight
          && (need_file (dir, "blkio.leaf_weight_device", f, err) < 0
              || moat_cg_writef (dir, "blkio.leaf_weight_device", f, err, "%" PRId64 ":%" PRId64 " %u", w->major,
                                 w->minor, w->leaf_weight) < 0))
        return -1;
    }
  if (throttle (dir, "blkio.throttle.read_bps_device", F "blockIO.throttleReadBpsDevice", b->throttle_read_bps,
                b->n_throttle_read_bps, err) < 0
      || throttle (dir, "blkio.throttle.write_bps_device", F "blockIO.throttleWriteBpsDevice",
                   b->throttle_write_bps, b->n_throttle_write_bps, err) < 0
      || throttle (dir, "blkio.throttle.read_iops_device", F "blockIO.throttleReadIOPSDevice",
                   b->throttle_read_iops, b->n_throttle_read_iops, err) < 0
      || throttle (dir, "blkio.throttle.write_iops_device", F "blockIO.throttleWriteIOPSDevice",
                   b->throttle_write_iops, b->n_throttle_write_iops, err) < 0)
    return -1;
  return 0;
}

static int
apply_hugetlb (const struct moat_cgroup *cg, const struct moat_resources *r, struct moat_error *err)
{
  const char *dir;

  if (r->n_hugepage_limits == 0)
    return 0;
  dir = moat_cg_v1_dir (cg, "hugetlb");
  if (dir == NULL && cg->unified_dir && cg->mode == MOAT_CGROUP_HYBRID)
    return moat_cg_v2_apply_hugetlb (cg->unified_dir, r, err);
  if (dir == NULL)
    return need_dir (cg, "hugetlb", F "hugepageLimits", err) ? 0 : -1;
  for (size_t i = 0; i < r->n_hugepage_limits; i++)
    {
      const struct moat_hugepage_limit *h = &r->hugepage_limits[i];
      char file[128], f[96];
      snprintf (f, sizeof f, F "hugepageLimits[%zu]", i);
      if (h->page_size == NULL || strchr (h->page_size, '/') || strlen (h->page_size) > 32)
        return moat_cg_refuse (err, EINVAL, "%s.pageSize: invalid page size", f);
      snprintf (file, sizeof file, "hugetlb.%s.limit_in_bytes", h->page_size);
      if (!moat_cg_has (dir, file))
        return moat_cg_refuse (err, ENOTSUP, "%s.pageSize: page size `%s` is not supported by this host", f,
                               h->page_size);
      if (moat_cg_writef (dir, file, f, err, "%" PRIu64, h->limit) < 0)
        return -1;
    }
  return 0;
}

static int
apply_network (const struct moat_cgroup *cg, const struct moat_resources *r, struct moat_error *err)
{
  const char *dir;

  if (r->network.has_class_id)
    {
      dir = need_dir (cg, "net_cls", F "network.classID", err);
      if (dir == NULL
          || moat_cg_writef (dir, "net_cls.classid", F "network.classID", err, "%u", r->network.class_id) < 0)
        return -1;
    }
  if (r->network.priorities.n > 0)
    {
      dir = need_dir (cg, "net_prio", F "network.priorities", err);
      if (dir == NULL)
        return -1;
      for (size_t i = 0; i < r->network.priorities.n; i++)
        {
          const struct moat_kv *kv = &r->network.priorities.v[i];
          char f[96];
          snprintf (f, sizeof f, F "network.priorities[%zu]", i);
          if (moat_cg_writef (dir, "net_prio.ifpriomap", f, err, "%s %s", kv->key, kv->value) < 0)
            return -1;
        }
    }
  return 0;
}

static int
apply_devices (const struct moat_cgroup *cg, const struct moat_resources *r, struct moat_error *err)
{
  const char *dir;

  if (r->n_devices == 0)
    return 0;
  dir = need_dir (cg, "devices", F "devices", err);
  if (dir == NULL)
    return -1;
  /* Start from nothing, then replay the rules in order: a later rule
     overrides an earlier one, as in the runtime spec. */
  if (moat_cg_write (dir, "devices.deny", "a", F "devices", err) < 0)
    return -1;
  for (size_t i = 0; i < r->n_devices; i++)
    {
      const struct moat_device_rule *d = &r->devices[i];
      char num[64], f[64];
      snprintf (f, sizeof f, F "devices[%zu]", i);
      if (d->type != 'a' && d->type != 'c' && d->type != 'b')
        return moat_cg_refuse (err, EINVAL, "%s.type: unknown device type `%c`", f, d->type);
      devnum (num, sizeof num, d->major, d->minor);
      if (moat_cg_writef (dir, d->allow ? "devices.allow" : "devices.deny", f, err, "%c %s %s", d->type, num,
                          d->access[0] ? d->access : "rwm") < 0)
        return -1;
    }
  return 0;
}

int
moat_cg_v1_apply (const struct moat_cgroup *cg, const struct moat_resources *r, struct moat_error *err)
{
  if (r->unified.n > 0)
    return moat_cg_refuse (err, ENOTSUP, F "unified: linux.resources.unified requires cgroup v2");
  if (apply_memory (cg, r, err) < 0 || apply_cpu (cg, r, err) < 0)
    return -1;
  if (r->pids.has_limit)
    {
      const char *dir = need_dir (cg, "pids", F "pids", err);
      if (dir == NULL)
        return -1;
      if (r->pids.limit <= 0 ? moat_cg_write (dir, "pids.max", "max", F "pids.limit", err)
                             : moat_cg_writef (dir, "pids.max", F "pids.limit", err, "%" PRId64, r->pids.limit))
        return -1;
    }
  if (apply_blkio (cg, r, err) < 0 || apply_hugetlb (cg, r, err) < 0 || apply_network (cg, r, err) < 0
      || apply_devices (cg, r, err) < 0)
    return -1;
  return 0;
}

/* ---- freezer ------------------------------------------------------------ */

int
moat_cg_v1_freeze (const char *dir, bool freeze, struct moat_error *err)
{
  const char *want = freeze ? "FROZEN" : "THAWED";
  int waited = 0;

  for (;;)
    {
      cleanup_free char *state = NULL;
      struct timespec ts = { 0, 10 * 1000 * 1000 };

      /* Re-writing the state retries tasks that were busy (e.g. in vfork)
         when the freezer first passed them. */
      if (waited % 100 == 0 && moat_cg_write (dir, "freezer.state", want, NULL, err) < 0)
        return -1;
      if (moat_cg_read (dir, "freezer.state", &state, err) < 0)
        return -1;
      if (strcmp (state, want) == 0)
        return 0;
      if (waited >= MOAT_CG_FREEZE_TIMEOUT_MS)
        {
          /* Do not leave a half-frozen container behind. */
          if (freeze)
            moat_cg_write (dir, "freezer.state", "THAWED", NULL, NULL);
          return moat_cg_refuse (err, ETIMEDOUT, "%s `%s`: still %s after %d ms", freeze ? "freeze" : "thaw", dir,
                                 state,
                           MOAT_CG_FREEZE_TIMEOUT_MS);
        }
      nanosleep (&ts, NULL);
      waited += 10;
    }
}

int
moat_cg_v1_is_frozen (const char *dir, bool *frozen, struct moat_error *err)
{
  cleanup_free char *state = NULL;

  if (moat_cg_read (dir, "freezer.state", &state, err) < 0)
    return -1;
  *frozen = strcmp (state, "FROZEN") == 0;
  return 0;
}

/* ---- stats -------------------------------------------------------------- */

int
moat_cg_v1_stats (const struct moat_cgroup *cg, struct moat_cgroup_stats *st, struct moat_error *err)
{
  const char *dir;

  dir = moat_cg_v1_dir (cg, "memory");
  if (dir)
    {
      if (moat_cg_read_u64 (dir, "memory.usage_in_bytes", &st->memory_usage, err) < 0
          || moat_cg_read_u64 (dir, "memory.limit_in_bytes", &st->memory_limit, err) < 0
          || moat_cg_read_u64 (dir, "memory.max_usage_in_bytes", &st->memory_max_usage, err) < 0)
        return -1;
      /* oom_kill appeared in 4.13; older kernels simply lack the line. */
      if (moat_cg_read_keyed (dir, "memory.oom_control", "oom_kill", &st->oom_kills, err) < 0 && err
          && err->code != ENOENT)
        return -1;
    }
  dir = moat_cg_v1_dir (cg, "cpuacct");
  if (dir && moat_cg_read_u64 (dir, "cpuacct.usage", &st->cpu_usage_ns, err) < 0)
    return -1;
  dir = moat_cg_v1_dir (cg, "pids");
  if (dir
      && (moat_cg_read_u64 (dir, "pids.current", &st->pids_current, err) < 0
          || moat_cg_read_u64 (dir, "pids.max", &st->pids_limit, err) < 0))
    return -1;
  return 0;
}
