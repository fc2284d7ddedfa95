/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Cgroup v2 (unified hierarchy): controllers, resource limits, the freezer
 * and statistics. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sandbox/cgroup_internal.h"
#include "util/cleanup.h"
#include "util/syscalls.h"

#define F "linux.resources."

static int
need_add (struct moat_cg_ctrls *c, const char *name, size_t len, struct moat_error *err)
{
  for (size_t i = 0; i < c->n; i++)
    if (strlen (c->name[i]) == len && strncmp (c->name[i], name, len) == 0)
      return 0;
  if (c->n == MOAT_CG_V2_MAX_CTRL || len >= sizeof c->name[0])
    return moat_cg_refuse (err, E2BIG, F "unified: too many controllers");
  snprintf (c->name[c->n++], sizeof c->name[0], "%.*s", (int) len, name);
  return 0;
}

bool
moat_cg_valid_key (const char *k)
{
  /* Nothing but a file of the container's own cgroup: no "/" into a child or
     the parent, no ".." and no hidden name. */
  return k != NULL && k[0] != '\0' && k[0] != '.' && strchr (k, '/') == NULL && strstr (k, "..") == NULL
         && strlen (k) < 200;
}

bool
moat_cg_v2_needs_hugetlb (const struct moat_resources *r)
{
  return r != NULL && r->n_hugepage_limits > 0;
}

int
moat_cg_v2_needed (const struct moat_resources *r, struct moat_cg_ctrls *out, struct moat_error *err)
{
  const typeof (r->memory) *m = &r->memory;
  const typeof (r->cpu) *c = &r->cpu;
  const typeof (r->block_io) *b = &r->block_io;

  out->n = 0;
  if ((m->has_limit || m->has_reservation || m->has_swap) && need_add (out, "memory", 6, err) < 0)
    return -1;
  if ((c->has_shares || c->has_quota || c->has_period || c->has_burst || c->has_idle)
      && need_add (out, "cpu", 3, err) < 0)
    return -1;
  if ((c->cpus || c->mems) && need_add (out, "cpuset", 6, err) < 0)
    return -1;
  if (r->pids.has_limit && need_add (out, "pids", 4, err) < 0)
    return -1;
  if ((b->has_weight || b->n_weight_device || b->n_throttle_read_bps || b->n_throttle_write_bps
       || b->n_throttle_read_iops || b->n_throttle_write_iops)
      && need_add (out, "io", 2, err) < 0)
    return -1;
  if (moat_cg_v2_needs_hugetlb (r) && need_add (out, "hugetlb", 7, err) < 0)
    return -1;
  for (size_t i = 0; i < r->unified.n; i++)
    {
      const char *k = r->unified.v[i].key, *dot = k ? strchr (k, '.') : NULL;
      if (!moat_cg_valid_key (k))
        return moat_cg_refuse (err, EINVAL, F "unified.%.200s: invalid cgroup file name", k ? k : "");
      /* cgroup.* files belong to the core, not to a controller. */
      if (dot && strncmp (k, "cgroup.", 7) != 0 && need_add (out, k, (size_t) (dot - k), err) < 0)
        return -1;
    }
  return 0;
}

static bool
word_in (const char *list, const char *word)
{
  size_t wl = strlen (word);
  const char *p = list;

  while (p && *p)
    {
      const char *e = p + strcspn (p, " \n");
      if ((size_t) (e - p) == wl && strncmp (p, word, wl) == 0)
        return true;
      p = *e ? e + 1 : e;
    }
  return false;
}

static int
enable_in (const char *dir, const struct moat_cg_ctrls *need, struct moat_error *err)
{
  static const char *const extra[] = { "memory", "pids" };
  cleanup_free char *avail = NULL, *on = NULL;
  char plus[48];

  if (moat_cg_read (dir, "cgroup.controllers", &avail, err) < 0
      || moat_cg_read (dir, "cgroup.subtree_control", &on, err) < 0)
    return -1;
  for (size_t i = 0; i < need->n; i++)
    {
      if (word_in (on, need->name[i]))
        continue;
      if (!word_in (avail, need->name[i]))
        return moat_cg_refuse (err, ENOTSUP, F "%s: the cgroup v2 controller `%s` is not available in `%s`",
                         need->name[i], need->name[i], dir);
      snprintf (plus, sizeof plus, "+%s", need->name[i]);
      if (moat_cg_write (dir, "cgroup.subtree_control", plus, NULL, err) < 0)
        return -1;
    }
  /* Memory and pids only serve statistics when nothing asked for them: a
     refusal (e.g. a parent with processes of its own) is not an error. */
  for (size_t i = 0; i < MOAT_ARRAY_SIZE (extra); i++)
    if (word_in (avail, extra[i]) && !word_in (on, extra[i]))
      {
        bool asked = false;
        for (size_t j = 0; j < need->n; j++)
          asked |= strcmp (need->name[j], extra[i]) == 0;
        if (asked)
          continue;
        snprintf (plus, sizeof plus, "+%s", extra[i]);
        moat_cg_write (dir, "cgroup.subtree_control", plus, NULL, NULL);
      }
  return 0;
}

int
moat_cg_v2_enable (const char *hier_root, const char *path, const struct moat_cg_ctrls *need,
                   struct moat_error *err)
{
  char dir[4096];
  size_t len = (size_t) snprintf (dir, sizeof dir, "%s", hier_root);
  const char *p = path;

  /* Each ancestor, from the root down to the leaf's parent, must delegate the
     controller to its children. */
  for (;;)
    {
      const char *e;
      if (enable_in (dir, need, err) < 0)
        return -1;
      while (*p == '/')
        p++;
      e = strchrnul (p, '/');
      if (*e == '\0')
        return 0;
      if (len + 1 + (size_t) (e - p) >= sizeof dir)
        return moat_err (err, ENAMETOOLONG, "cgroup `%s`", path);
      len += (size_t) snprintf (dir + len, sizeof dir - len, "/%.*s", (int) (e - p), p);
      p = e;
    }
}

static int
need_file (const char *dir, const char *file, const char *field, struct moat_error *err)
{
  if (moat_cg_has (dir, file))
    return 0;
  return moat_cg_refuse (err, ENOTSUP, "%s: not supported by this kernel (no `%s`)", field, file);
}

static int
write_limit (const char *dir, const char *file, int64_t v, const char *field, struct moat_error *err)
{
  if (v < 0)
    return moat_cg_write (dir, file, "max", field, err);
  return moat_cg_writef (dir, file, field, err, "%" PRId64, v);
}

static int
apply_memory (const char *dir, const struct moat_resources *r, struct moat_error *err)
{
  const typeof (r->memory) *m = &r->memory;

  if (m->has_kernel && m->kernel != -1)
    return moat_cg_refuse (err, ENOTSUP, F "memory.kernel: kernel memory limits are deprecated and not supported");
  if (m->has_kernel_tcp && m->kernel_tcp != -1)
    return moat_cg_refuse (err, ENOTSUP, F "memory.kernelTCP: kernel TCP memory limits are not supported");
  if (m->has_swappiness)
    return moat_cg_refuse (err, ENOTSUP, F "memory.swappiness: not supported on cgroup v2");
  if (m->has_disable_oom_killer && m->disable_oom_killer)
    return moat_cg_refuse (err, ENOTSUP, F "memory.disableOOMKiller: not supported on cgroup v2");
  if (m->has_use_hierarchy && !m->use_hierarchy)
    return moat_cg_refuse (err, ENOTSUP, F "memory.useHierarchy: cgroup v2 is always hierarchical");
  if (m->check_before_update && m->has_limit && m->limit > 0)
    {
      uint64_t usage;
      if (moat_cg_read_u64 (dir, "memory.current", &usage, err) < 0)
        return -1;
      if (usage > (uint64_t) m->limit)
        return moat_cg_refuse (err, EBUSY, F "memory.limit: %" PRId64 " is below the current usage %" PRIu64,
                         m->limit, usage);
    }
  if (m->has_limit && write_limit (dir, "memory.max", m->limit, F "memory.limit", err) < 0)
    return -1;
  if (m->has_reservation && write_limit (dir, "memory.low", m->reservation, F "memory.reservation", err) < 0)
    return -1;
  if (m->has_swap || (m->has_limit && m->limit == -1))
    {
      /* OCI swap is memory+swap (the v1 memsw semantics); memory.swap.max is
         swap alone.  Unlimited memory without a swap value means both
         unlimited, as runc does. */
      int64_t swap = m->has_swap ? m->swap : 0, limit = m->has_limit ? m->limit : 0;
      int64_t v;
      if (swap == -1 || (limit == -1 && !m->has_swap))
        v = -1;
      else if (swap == 0)
        return 0; /* 0 is "unset" in runc's reading of the spec */
      else if (!m->has_limit || limit <= 0)
        return moat_cg_refuse (err, EINVAL, F "memory.swap: a swap limit needs a memory limit");
      else if (swap < limit)
        return moat_cg_refuse (err, EINVAL, F "memory.swap: %" PRId64 " is below memory.limit %" PRId64
                         " (swap is the memory+swap total)", swap, limit);
      else
        v = swap - limit;
      if (!moat_cg_has (dir, "memory.swap.max"))
        {
          if (v == 0 || v == -1)
            return 0; /* no swap accounting: nothing can swap more than allowed */
          return moat_cg_refuse (err, ENOTSUP, F "memory.swap: swap accounting is not enabled on this kernel");
        }
      if (write_limit (dir, "memory.swap.max", v, F "memory.swap", err) < 0)
        return -1;
    }
  return 0;
}

static int
apply_cpu (const char *dir, const struct moat_resources *r, struct moat_error *err)
{
  const typeof (r->cpu) *c = &r->cpu;

  if (c->has_realtime_runtime || c->has_realtime_period)
    return moat_cg_refuse (err, ENOTSUP,
                           F "cpu.realtimeRuntime: realtime scheduling limits are not supported on cgroup v2");
  if (c->has_shares && c->shares != 0)
    {
      /* Map cpu.shares [2, 262144] onto cpu.weight [1, 10000] as runc and
         crun do, so a config means the same on both versions. */
      uint64_t s = c->shares < 2 ? 2 : c->shares > 262144 ? 262144 : c->shares;
      uint64_t w = 1 + ((s - 2) * 9999) / 262142;
      if (moat_cg_writef (dir, "cpu.weight", F "cpu.shares", err, "%" PRIu64, w) < 0)
        return -1;
    }
  if (c->has_quota || c->has_period)
    {
      uint64_t period = c->has_period && c->period ? c->period : 100000;
      if (c->has_quota && c->quota > 0)
        {
          if (moat_cg_writef (dir, "cpu.max", F "cpu.quota", err, "%" PRId64 " %" PRIu64, c->quota, period) < 0)
            return -1;
        }
      else if (moat_cg_writef (dir, "cpu.max", F "cpu.quota", err, "max %" PRIu64, period) < 0)
        return -1;
    }
  if (c->has_burst
      && (need_file (dir, "cpu.max.burst", F "cpu.burst", err) < 0
          || moat_cg_writef (dir, "cpu.max.burst", F "cpu.burst", err, "%" PRIu64, c->burst) < 0))
    return -1;
  if (c->has_idle
      && (need_file (dir, "cpu.idle", F "cpu.idle", err) < 0
          || moat_cg_writef (dir, "cpu.idle", F "cpu.idle", err, "%" PRId64, c->idle) < 0))
    return -1;
  if (c->cpus && moat_cg_write (dir, "cpuset.cpus", c->cpus, F "cpu.cpus", err) < 0)
    return -1;
  if (c->mems && moat_cg_write (dir, "cpuset.mems", c->mems, F "cpu.mems", err) < 0)
    return -1;
  return 0;
}

static int
io_max (const char *dir, const char *key, const char *field, const struct moat_throttle_device *t, size_t n,
        struct moat_error *err)
{
  char f[128];

  for (size_t i = 0; i < n; i++)
    {
      snprintf (f, sizeof f, "%s[%zu]", field, i);
      if (moat_cg_writef (dir, "io.max", f, err, "%" PRId64 ":%" PRId64 " %s=%" PRIu64, t[i].major, t[i].minor, key,
                          t[i].rate) < 0)
        return -1;
    }
  return 0;
}

/* blkio weights are 10..1000; io.weight is 1..10000 (io.bfq.weight keeps 1..1000). */
static uint64_t
io_weight (uint16_t w)
{
  uint64_t v = w < 10 ? 10 : w > 1000 ? 1000 : w;
  return 1 + (v - 10) * 9999 / 990;
}

static int
apply_io (const char *dir, const struct moat_resources *r, struct moat_error *err)
{
  const typeof (r->block_io) *b = &r->block_io;
  bool bfq = moat_cg_has (dir, "io.bfq.weight");
  const char *wfile = bfq ? "io.bfq.weight" : "io.weight";

  if (b->has_leaf_weight)
    return moat_cg_refuse (err, ENOTSUP, F "blockIO.leafWeight: not supported on cgroup v2");
  if ((b->has_weight || b->n_weight_device) && !bfq && !moat_cg_has (dir, "io.weight"))
    return moat_cg_refuse (err, ENOTSUP,
                           F "blockIO.weight: not supported by this kernel (no io.weight or io.bfq.weight)");
  if (b->has_weight
      && moat_cg_writef (dir, wfile, F "blockIO.weight", err, "%" PRIu64, bfq ? b->weight : io_weight (b->weight)) < 0)
    return -1;
  for (size_t i = 0; i < b->n_weight_device; i++)
    {
      const struct moat_weight_device *w = &b->weight_device[i];
      char f[96];
      snprintf (f, sizeof f, F "blockIO.weightDevice[%zu]", i);
      if (w->has_leaf_weight)
        return moat_cg_refuse (err, ENOTSUP, "%s.leafWeight: not supported on cgroup v2", f);
      if (w->has_weight
          && moat_cg_writef (dir, wfile, f, err, "%" PRId64 ":%" PRId64 " %" PRIu64, w->major, w->minor,
                             bfq ? w->weight : io_weight (w->weight)) < 0)
        return -1;
    }
  if (io_max (dir, "rbps", F "blockIO.throttleReadBpsDevice", b->throttle_read_bps, b->n_throttle_read_bps, err) < 0
      || io_max (dir, "wbps", F "blockIO.throttleWriteBpsDevice", b->throttle_write_bps, b->n_throttle_write_bps,
                 err) < 0
      || io_max (dir, "riops", F "blockIO.throttleReadIOPSDevice", b->throttle_read_iops, b->n_throttle_read_iops, err) < 0
      || io_max (dir, "wiops", F "blockIO.throttleWriteIOPSDevice", b->throttle_write_iops, b->n_throttle_write_iops,
                 err) < 0)
    return -1;
  return 0;
}

int
moat_cg_v2_apply_hugetlb (const char *dir, const struct moat_resources *r, struct moat_error *err)
{
  for (size_t i = 0; i < r->n_hugepage_limits; i++)
    {
      const struct moat_hugepage_limit *h = &r->hugepage_limits[i];
      char file[128], f[96];
      snprintf (f, sizeof f, F "hugepageLimits[%zu]", i);
      if (h->page_size == NULL || strchr (h->page_size, '/') || strlen (h->page_size) > 32)
        return moat_cg_refuse (err, EINVAL, "%s.pageSize: invalid page size", f);
      snprintf (file, sizeof file, "hugetlb.%s.max", h->page_size);
      if (!moat_cg_has (dir, file))
        return moat_cg_refuse (err, ENOTSUP, "%s.pageSize: page size `%s` is not supported by this host", f, h->page_size);
      if (moat_cg_writef (dir, file, f, err, "%" PRIu64, h->limit) < 0)
        return -1;
    }
  return 0;
}

static int
apply_unified (const char *dir, const struct moat_resources *r, struct moat_error *err)
{
  for (size_t i = 0; i < r->unified.n; i++)
    {
      const struct moat_kv *kv = &r->unified.v[i];
      char f[300];
      snprintf (f, sizeof f, F "unified.%.200s", kv->key ? kv->key : "");
      /* The key names a file in the container's own cgroup, nothing else. */
      if (!moat_cg_valid_key (kv->key))
        return moat_cg_refuse (err, EINVAL, "%s: invalid cgroup file name", f);
      /* Membership and state belong to moat: a "cgroup.procs" value would pull
         any host process into the container's cgroup. */
      if (strcmp (kv->key, "cgroup.procs") == 0 || strcmp (kv->key, "cgroup.threads") == 0
          || strcmp (kv->key, "cgroup.kill") == 0 || strcmp (kv->key, "cgroup.freeze") == 0)
        return moat_cg_refuse (err, EPERM, "%s: managed by moat, not settable", f);
      if (!moat_cg_has (dir, kv->key))
        return moat_cg_refuse (err, ENOTSUP, "%s: no such cgroup file on this host", f);
      if (moat_cg_write (dir, kv->key, kv->value ? kv->value : "", f, err) < 0)
        return -1;
    }
  return 0;
}

int
moat_cg_v2_apply (const char *dir, const struct moat_resources *r, struct moat_error *err)
{
  if (r->network.has_class_id || r->network.priorities.n > 0)
    return moat_cg_refuse (err, ENOTSUP, F "network: net_cls and net_prio do not exist on cgroup v2");
  if (apply_memory (dir, r, err) < 0 || apply_cpu (dir, r, err) < 0)
    return -1;
  if (r->pids.has_limit && write_limit (dir, "pids.max", r->pids.limit <= 0 ? -1 : r->pids.limit, F "pids.limit", err) < 0)
    return -1;
  if (apply_io (dir, r, err) < 0 || moat_cg_v2_apply_hugetlb (dir, r, err) < 0)
    return -1;
  if (r->n_devices > 0 && moat_cg_v2_devices (dir, r->devices, r->n_devices, err) < 0)
    return -1;
  /* Last: explicit unified values override the converted ones. */
  return apply_unified (dir, r, err);
}

/* ---- devices: an eBPF program ------------------------------------------ */

/* Cgroup v2 has no devices.allow: device access is decided by
 * BPF_PROG_TYPE_CGROUP_DEVICE programs attached to the cgroup (as crun's
 * ebpf.c and runc's devicefilter do).  The program is hand-assembled: default
 * deny, the rules checked last to first so that a later rule overrides an
 * earlier one, as with the v1 devices.allow/devices.deny sequence.  An allow
 * rule matches when it grants every requested access bit, a deny rule when it
 * covers any of them. */

#define MOAT_BPF_MAX_INSNS 4096

struct bpf_buf
{
  struct bpf_insn *v;
  size_t n;
};

static void
emit (struct bpf_buf *b, uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm)
{
  if (b->n < MOAT_BPF_MAX_INSNS)
    b->v[b->n] = (struct bpf_insn) { .code = code, .dst_reg = dst, .src_reg = src, .off = off, .imm = imm };
  b->n++;
}

static uint32_t
access_bits (const char *a)
{
  uint32_t bits = 0;

  for (; a && *a; a++)
    bits |= *a == 'r' ? BPF_DEVCG_ACC_READ : *a == 'w' ? BPF_DEVCG_ACC_WRITE : *a == 'm' ? BPF_DEVCG_ACC_MKNOD : 0;
  return bits ? bits : BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE | BPF_DEVCG_ACC_MKNOD;
}

/* One rule: jumps to the next rule on any mismatch, else returns its verdict.
   Registers: r2 device type, r3 requested access, r4 major, r5 minor.
   Returns true when the rule matches every access (nothing after it runs). */
static bool
emit_rule (struct bpf_buf *b, const struct moat_device_rule *d)
{
  const uint32_t all = BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE | BPF_DEVCG_ACC_MKNOD;
  uint32_t acc = access_bits (d->access);
  bool t = d->type != 'a', ma = d->major >= 0, mi = d->minor >= 0, ac = acc != all;
  int16_t left = (int16_t) (t + ma + mi + 3 * ac + 2); /* instructions in this block */

  /* Each jump skips what is left of the block after itself. */
  if (t)
    emit (b, BPF_JMP32 | BPF_JNE | BPF_K, BPF_REG_2, 0, (int16_t) (--left - 0),
          d->type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR);
  if (ma)
    emit (b, BPF_JMP32 | BPF_JNE | BPF_K, BPF_REG_4, 0, --left, (int32_t) d->major);
  if (mi)
    emit (b, BPF_JMP32 | BPF_JNE | BPF_K, BPF_REG_5, 0, --left, (int32_t) d->minor);
  if (ac)
    {
      emit (b, BPF_ALU | BPF_MOV | BPF_X, BPF_REG_1, BPF_REG_3, 0, 0);
      left--;
      if (d->allow)
        {
          /* Requested bits outside the rule: not this rule. */
          emit (b, BPF_ALU | BPF_AND | BPF_K, BPF_REG_1, 0, 0, (int32_t) (~acc & all));
          left--;
          emit (b, BPF_JMP32 | BPF_JNE | BPF_K, BPF_REG_1, 0, --left, 0);
        }
      else
        {
          emit (b, BPF_ALU | BPF_AND | BPF_K, BPF_REG_1, 0, 0, (int32_t) acc);
          left--;
          emit (b, BPF_JMP32 | BPF_JEQ | BPF_K, BPF_REG_1, 0, --left, 0);
        }
    }
  emit (b, BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, d->allow ? 1 : 0);
  emit (b, BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
  return !(t || ma || mi || ac);
}

static int
load_device_prog (const struct moat_device_rule *rules, size_t n, struct moat_error *err)
{
  cleanup_free struct bpf_insn *insns = calloc (MOAT_BPF_MAX_INSNS, sizeof *insns);
  cleanup_free char *log = malloc (65536);
  struct bpf_buf b = { insns, 0 };
  bool catch_all = false;
  union bpf_attr attr;
  int fd;

  if (insns == NULL || log == NULL)
    return moat_err (err, ENOMEM, F "devices");
  log[0] = '\0';
  /* struct bpf_cgroup_dev_ctx: access_type = (access << 16) | type, major, minor. */
  emit (&b, BPF_LDX | BPF_MEM | BPF_W, BPF_REG_2, BPF_REG_1, 0, 0);
  emit (&b, BPF_ALU | BPF_AND | BPF_K, BPF_REG_2, 0, 0, 0xffff);
  emit (&b, BPF_LDX | BPF_MEM | BPF_W, BPF_REG_3, BPF_REG_1, 0, 0);
  emit (&b, BPF_ALU | BPF_RSH | BPF_K, BPF_REG_3, 0, 0, 16);
  emit (&b, BPF_LDX | BPF_MEM | BPF_W, BPF_REG_4, BPF_REG_1, 4, 0);
  emit (&b, BPF_LDX | BPF_MEM | BPF_W, BPF_REG_5, BPF_REG_1, 8, 0);
  for (size_t i = 0; i < n; i++)
    {
      if (rules[i].type != 'a' && rules[i].type != 'b' && rules[i].type != 'c')
        return moat_cg_refuse (err, EINVAL, F "devices[%zu].type: unknown device type `%c`", i, rules[i].type);
      if (rules[i].major > INT32_MAX || rules[i].minor > INT32_MAX)
        return moat_cg_refuse (err, EINVAL, F "devices[%zu]: device number out of range", i);
    }
  /* The verifier refuses unreachable code: stop after a catch-all rule. */
  for (size_t i = n; i-- > 0 && !catch_all;)
    catch_all = emit_rule (&b, &rules[i]);
  if (!catch_all)
    {
      emit (&b, BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0);
      emit (&b, BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
    }
  if (b.n > MOAT_BPF_MAX_INSNS)
    return moat_cg_refuse (err, E2BIG, F "devices: too many rules for the device filter");

  memset (&attr, 0, sizeof attr);
  attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  attr.insns = (uint64_t) (uintptr_t) insns;
  attr.insn_cnt = (uint32_t) b.n;
  attr.license = (uint64_t) (uintptr_t) "GPL";
  attr.log_buf = (uint64_t) (uintptr_t) log;
  attr.log_size = 65536;
  attr.log_level = 1;
  fd = sys_bpf (BPF_PROG_LOAD, &attr, sizeof attr);
  if (fd < 0)
    {
      int e = errno;
      char *last = strrchr (log, '\n');
      while (last && last > log && last[1] == '\0')
        {
          *last = '\0';
          last = strrchr (log, '\n');
        }
      return moat_err (err, e, F "devices: load the eBPF device filter%s%s", log[0] ? ": " : "",
                       last ? last + 1 : log);
    }
  return fd;
}

/* Ids of the device programs attached to the cgroup before this call. */
static int
query_progs (int cgfd, uint32_t *ids, uint32_t *n, struct moat_error *err)
{
  union bpf_attr attr;

  memset (&attr, 0, sizeof attr);
  attr.query.target_fd = (uint32_t) cgfd;
  attr.query.attach_type = BPF_CGROUP_DEVICE;
  attr.query.prog_ids = (uint64_t) (uintptr_t) ids;
  attr.query.prog_cnt = *n;
  if (sys_bpf (BPF_PROG_QUERY, &attr, sizeof attr) < 0)
    return moat_err (err, errno, F "devices: query the cgroup's device filters");
  *n = attr.query.prog_cnt;
  return 0;
}

int
moat_cg_v2_devices (const char *dir, const struct moat_device_rule *rules, size_t n, struct moat_error *err)
{
  cleanup_fd int cgfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  cleanup_fd int prog = -1;
  uint32_t old[64], n_old = 64;
  union bpf_attr attr;

  if (cgfd < 0)
    return moat_err (err, errno, F "devices: open `%s`", dir);
  if (query_progs (cgfd, old, &n_old, err) < 0)
    return -1;
  prog = load_device_prog (rules, n, err);
  if (prog < 0)
    return -1;
  memset (&attr, 0, sizeof attr);
  attr.target_fd = (uint32_t) cgfd;
  attr.attach_bpf_fd = (uint32_t) prog;
  attr.attach_type = BPF_CGROUP_DEVICE;
  attr.attach_flags = BPF_F_ALLOW_MULTI;
  if (sys_bpf (BPF_PROG_ATTACH, &attr, sizeof attr) < 0)
    return moat_err (err, errno, F "devices: attach the eBPF device filter to `%s`", dir);
  /* The new filter is in force: drop the ones it replaces (moat update).
     All attached programs must allow an access, so a stale one would keep
     denying what the new rules allow, never the reverse. */
  for (uint32_t i = 0; i < n_old && i < 64; i++)
    {
      cleanup_fd int ofd = -1;
      memset (&attr, 0, sizeof attr);
      attr.prog_id = old[i];
      ofd = sys_bpf (BPF_PROG_GET_FD_BY_ID, &attr, sizeof attr);
      if (ofd < 0)
        continue; /* already gone */
      memset (&attr, 0, sizeof attr);
      attr.target_fd = (uint32_t) cgfd;
      attr.attach_bpf_fd = (uint32_t) ofd;
      attr.attach_type = BPF_CGROUP_DEVICE;
      if (sys_bpf (BPF_PROG_DETACH, &attr, sizeof attr) < 0 && errno != ENOENT)
        return moat_err (err, errno, F "devices: detach the previous device filter");
    }
  return 0;
}

/* ---- freezer ------------------------------------------------------------ */

int
moat_cg_v2_is_frozen (const char *dir, bool *frozen, struct moat_error *err)
{
  uint64_t v = 0;

  if (moat_cg_read_keyed (dir, "cgroup.events", "frozen", &v, err) < 0)
    return -1;
  *frozen = v == 1;
  return 0;
}

int
moat_cg_v2_freeze (const char *dir, bool freeze, struct moat_error *err)
{
  int waited = 0;

  if (!moat_cg_has (dir, "cgroup.freeze"))
    return moat_cg_refuse (err, ENOTSUP, "%s: the cgroup v2 freezer needs linux 5.2 or later", freeze ? "pause" : "resume");
  if (moat_cg_write (dir, "cgroup.freeze", freeze ? "1" : "0", NULL, err) < 0)
    return -1;
  for (;;)
    {
      struct timespec ts = { 0, 10 * 1000 * 1000 };
      bool frozen;
      if (moat_cg_v2_is_frozen (dir, &frozen, err) < 0)
        return -1;
      if (frozen == freeze)
        return 0;
      if (waited >= MOAT_CG_FREEZE_TIMEOUT_MS)
        {
          if (freeze)
            moat_cg_write (dir, "cgroup.freeze", "0", NULL, NULL);
          return moat_cg_refuse (err, ETIMEDOUT, "%s `%s`: state not reached after %d ms", freeze ? "freeze" : "thaw", dir,
                           MOAT_CG_FREEZE_TIMEOUT_MS);
        }
      nanosleep (&ts, NULL);
      waited += 10;
    }
}

/* ---- stats -------------------------------------------------------------- */

/* Read a counter that may legitimately be absent (controller not enabled). */
static int
opt_u64 (const char *dir, const char *file, uint64_t *out, struct moat_error *err)
{
  if (!moat_cg_has (dir, file))
    return 0;
  return moat_cg_read_u64 (dir, file, out, err);
}

int
moat_cg_v2_stats (const char *dir, struct moat_cgroup_stats *st, struct moat_error *err)
{
  uint64_t usec = 0;

  if (opt_u64 (dir, "memory.current", &st->memory_usage, err) < 0
      || opt_u64 (dir, "memory.max", &st->memory_limit, err) < 0
      || opt_u64 (dir, "memory.peak", &st->memory_max_usage, err) < 0
      || opt_u64 (dir, "pids.current", &st->pids_current, err) < 0
      || opt_u64 (dir, "pids.max", &st->pids_limit, err) < 0)
    return -1;
  if (moat_cg_has (dir, "memory.events")
      && moat_cg_read_keyed (dir, "memory.events", "oom_kill", &st->oom_kills, err) < 0)
    return -1;
  if (moat_cg_read_keyed (dir, "cpu.stat", "usage_usec", &usec, err) < 0)
    return -1;
  st->cpu_usage_ns = usec * 1000;
  return 0;
}
