/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "spec/spec.h"
#include "spec/spec_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"

/* ---- memory ---------------------------------------------------------- */

static int
parse_memory (json_t *res, const char *path, struct moat_resources *r, struct moat_error *err)
{
  char mp[SPEC_PATH_MAX];
  json_t *m;
  uint64_t swappiness;
  bool has_swappiness;

  if (spec_get_object (res, path, "memory", false, &m, err) < 0)
    return -1;
  if (m == NULL)
    return 0;
  spec_path (mp, sizeof mp, path, "memory");
  /* Byte counts: -1 is "unlimited" as the cgroup files spell it. */
  if (spec_get_int64 (m, mp, "limit", -1, INT64_MAX, &r->memory.limit, &r->memory.has_limit, err) < 0
      || spec_get_int64 (m, mp, "reservation", -1, INT64_MAX, &r->memory.reservation,
                         &r->memory.has_reservation, err) < 0
      || spec_get_int64 (m, mp, "swap", -1, INT64_MAX, &r->memory.swap, &r->memory.has_swap, err) < 0
      || spec_get_int64 (m, mp, "kernel", -1, INT64_MAX, &r->memory.kernel, &r->memory.has_kernel,
                         err) < 0
      || spec_get_int64 (m, mp, "kernelTCP", -1, INT64_MAX, &r->memory.kernel_tcp,
                         &r->memory.has_kernel_tcp, err) < 0)
    return -1;
  if (spec_get_uint64 (m, mp, "swappiness", UINT64_MAX, &swappiness, &has_swappiness, err) < 0)
    return -1;
  /* Docker < 20.10 wrote an unset swappiness (-1) as uint64: 2^64-1.  runc
   * reads that as "unset"; so do we. */
  if (has_swappiness && swappiness != UINT64_MAX)
    {
      if (swappiness > 100)
        return spec_err (err, EINVAL, "%s.swappiness: must be 0..100, not %" PRIu64, mp, swappiness);
      r->memory.has_swappiness = true;
      r->memory.swappiness = swappiness;
    }
  if (spec_get_bool (m, mp, "disableOOMKiller", &r->memory.disable_oom_killer,
                     &r->memory.has_disable_oom_killer, err) < 0
      || spec_get_bool (m, mp, "useHierarchy", &r->memory.use_hierarchy,
                        &r->memory.has_use_hierarchy, err) < 0
      || spec_get_bool (m, mp, "checkBeforeUpdate", &r->memory.check_before_update,
                        &r->memory.has_check_before_update, err) < 0)
    return -1;
  return 0;
}

/* ---- cpu ------------------------------------------------------------- */

/* A cpuset list: "0-3,8,10-11". */
static int
check_cpuset (const char *s, const char *path, struct moat_error *err)
{
  const char *p = s;

  while (*p)
    {
      unsigned long a, b;
      char *end;

      if (*p < '0' || *p > '9')
        goto bad;
      a = strtoul (p, &end, 10);
      p = end;
      b = a;
      if (*p == '-')
        {
          p++;
          if (*p < '0' || *p > '9')
            goto bad;
          b = strtoul (p, &end, 10);
          p = end;
        }
      if (b < a || b > 65535)
        goto bad;
      if (*p == ',')
        {
          p++;
          if (*p == '\0')
            goto bad;
        }
      else if (*p != '\0')
        goto bad;
    }
  return 0;
bad:
  return spec_err (err, EINVAL, "%s: invalid cpu list \"%s\"", path, s);
}

static int
get_cpuset (json_t *obj, const char *parent, const char *key, char **out, struct moat_error *err)
{
  char p[SPEC_PATH_MAX];

  if (spec_get_string (obj, parent, key, false, out, err) < 0)
    return -1;
  if (*out == NULL)
    return 0;
  if ((*out)[0] == '\0')
    {
      free (*out);
      *out = NULL;
      return 0;
    }
  spec_path (p, sizeof p, parent, key);
  return check_cpuset (*out, p, err);
}

static int
parse_cpu (json_t *res, const char *path, struct moat_resources *r, struct moat_error *err)
{
  char cp[SPEC_PATH_MAX];
  json_t *c;

  if (spec_get_object (res, path, "cpu", false, &c, err) < 0)
    return -1;
  if (c == NULL)
    return 0;
  spec_path (cp, sizeof cp, path, "cpu");
  if (spec_get_uint64 (c, cp, "shares", UINT64_MAX, &r->cpu.shares, &r->cpu.has_shares, err) < 0
      || spec_get_int64 (c, cp, "quota", -1, INT64_MAX, &r->cpu.quota, &r->cpu.has_quota, err) < 0
      || spec_get_uint64 (c, cp, "burst", UINT64_MAX, &r->cpu.burst, &r->cpu.has_burst, err) < 0
      || spec_get_uint64 (c, cp, "period", UINT64_MAX, &r->cpu.period, &r->cpu.has_period, err) < 0
      || spec_get_int64 (c, cp, "realtimeRuntime", -1, INT64_MAX, &r->cpu.realtime_runtime,
                         &r->cpu.has_realtime_runtime, err) < 0
      || spec_get_uint64 (c, cp, "realtimePeriod", UINT64_MAX, &r->cpu.realtime_period,
                          &r->cpu.has_realtime_period, err) < 0
      || spec_get_int64 (c, cp, "idle", INT64_MIN, INT64_MAX, &r->cpu.idle, &r->cpu.has_idle, err) < 0
      || get_cpuset (c, cp, "cpus", &r->cpu.cpus, err) < 0
      || get_cpuset (c, cp, "mems", &r->cpu.mems, err) < 0)
    return -1;
  return 0;
}

/* ---- block I/O ------------------------------------------------------- */

static int
parse_weight_devices (json_t *bio, const char *bp, struct moat_resources *r, struct moat_error *err)
{
  char p[SPEC_PATH_MAX];
  json_t *arr, *v;
  size_t i;

  if (spec_get_array (bio, bp, "weightDevice", false, &arr, err) < 0)
    return -1;
  if (arr == NULL || json_array_size (arr) == 0)
    return 0;
  r->block_io.weight_device = calloc (json_array_size (arr), sizeof *r->block_io.weight_device);
  if (r->block_io.weight_device == NULL)
    return moat_err (err, ENOMEM, "%s", bp);
  json_array_foreach (arr, i, v)
    {
      struct moat_weight_device *d = &r->block_io.weight_device[i];
      uint64_t w;

      spec_path_idx (p, sizeof p, bp, "weightDevice", i);
      if (!json_is_object (v))
        return spec_err (err, EINVAL, "%s: must be an object", p);
      if (spec_member (v, "major") == NULL || spec_member (v, "minor") == NULL)
        return spec_err (err, EINVAL, "%s: major and minor are required", p);
      if (spec_get_int64 (v, p, "major", 0, UINT32_MAX, &d->major, NULL, err) < 0
          || spec_get_int64 (v, p, "minor", 0, UINT32_MAX, &d->minor, NULL, err) < 0
          || spec_get_uint64 (v, p, "weight", UINT16_MAX, &w, &d->has_weight, err) < 0)
        return -1;
      d->weight = (uint16_t) w;
      if (spec_get_uint64 (v, p, "leafWeight", UINT16_MAX, &w, &d->has_leaf_weight, err) < 0)
        return -1;
      d->leaf_weight = (uint16_t) w;
      r->block_io.n_weight_device = i + 1;
    }
  return 0;
}

static int
parse_throttle (json_t *bio, const char *bp, const char *key, struct moat_throttle_device **out,
                size_t *n, struct moat_error *err)
{
  char p[SPEC_PATH_MAX];
  json_t *arr, *v;
  size_t i;

  if (spec_get_array (bio, bp, key, false, &arr, err) < 0)
    return -1;
  if (arr == NULL || json_array_size (arr) == 0)
    return 0;
  *out = calloc (json_array_size (arr), sizeof **out);
  if (*out == NULL)
    return moat_err (err, ENOMEM, "%s", bp);
  json_array_foreach (arr, i, v)
    {
      struct moat_throttle_device *d = &(*out)[i];

      spec_path_idx (p, sizeof p, bp, key, i);
      if (!json_is_object (v))
        return spec_err (err, EINVAL, "%s: must be an object", p);
      if (spec_member (v, "major") == NULL || spec_member (v, "minor") == NULL)
        return spec_err (err, EINVAL, "%s: major and minor are required", p);
      if (spec_get_int64 (v, p, "major", 0, UINT32_MAX, &d->major, NULL, err) < 0
          || spec_get_int64 (v, p, "minor", 0, UINT32_MAX, &d->minor, NULL, err) < 0
          || spec_get_uint64 (v, p, "rate", UINT64_MAX, &d->rate, NULL, err) < 0)
        return -1;
      *n = i + 1;
    }
  return 0;
}

static int
parse_block_io (json_t *res, const char *path, struct moat_resources *r, struct moat_error *err)
{
  char bp[SPEC_PATH_MAX];
  json_t *bio;
  uint64_t w;

  if (spec_get_object (res, path, "blockIO", false, &bio, err) < 0)
    return -1;
  if (bio == NULL)
    return 0;
  spec_path (bp, sizeof bp, path, "blockIO");
  if (spec_get_uint64 (bio, bp, "weight", UINT16_MAX, &w, &r->block_io.has_weight, err) < 0)
    return -1;
  r->block_io.weight = (uint16_t) w;
  if (spec_get_uint64 (bio, bp, "leafWeight", UINT16_MAX, &w, &r->block_io.has_leaf_weight, err) < 0)
    return -1;
  r->block_io.leaf_weight = (uint16_t) w;
  if (parse_weight_devices (bio, bp, r, err) < 0
      || parse_throttle (bio, bp, "throttleReadBpsDevice", &r->block_io.throttle_read_bps,
                         &r->block_io.n_throttle_read_bps, err) < 0
      || parse_throttle (bio, bp, "throttleWriteBpsDevice", &r->block_io.throttle_write_bps,
                         &r->block_io.n_throttle_write_bps, err) < 0
      || parse_throttle (bio, bp, "throttleReadIOPSDevice", &r->block_io.throttle_read_iops,
                         &r->block_io.n_throttle_read_iops, err) < 0
      || parse_throttle (bio, bp, "throttleWriteIOPSDevice", &r->block_io.throttle_write_iops,
                         &r->block_io.n_throttle_write_iops, err) < 0)
    return -1;
  return 0;
}

/* ---- hugepages, network, devices, unified ---------------------------- */

/* "2MB", "1GB", "64KB": the suffix of the hugetlb.<size>.limit_in_bytes file. */
static bool
valid_page_size (const char *s)
{
  size_t n = strspn (s, "0123456789");

  return n > 0 && n < 8 && strchr ("KMGTP", s[n]) != NULL && s[n] != '\0' && s[n + 1] == 'B'
         && s[n + 2] == '\0';
}

static int
parse_hugepages (json_t *res, const char *path, struct moat_resources *r, struct moat_error *err)
{
  char p[SPEC_PATH_MAX];
  json_t *arr, *v;
  size_t i;

  if (spec_get_array (res, path, "hugepageLimits", false, &arr, err) < 0)
    return -1;
  if (arr == NULL || json_array_size (arr) == 0)
    return 0;
  r->hugepage_limits = calloc (json_array_size (arr), sizeof *r->hugepage_limits);
  if (r->hugepage_limits == NULL)
    return moat_err (err, ENOMEM, "%s", path);
  json_array_foreach (arr, i, v)
    {
      struct moat_hugepage_limit *h = &r->hugepage_limits[i];

      spec_path_idx (p, sizeof p, path, "hugepageLimits", i);
      if (!json_is_object (v))
        return spec_err (err, EINVAL, "%s: must be an object", p);
      r->n_hugepage_limits = i + 1;
      if (spec_get_string (v, p, "pageSize", true, &h->page_size, err) < 0)
        return -1;
      if (!valid_page_size (h->page_size))
        return spec_err (err, EINVAL, "%s.pageSize: invalid page size `%s`", p, h->page_size);
      if (spec_get_uint64 (v, p, "limit", UINT64_MAX, &h->limit, NULL, err) < 0)
        return -1;
    }
  return 0;
}

static int
parse_network (json_t *res, const char *path, struct moat_resources *r, struct moat_error *err)
{
  char np[SPEC_PATH_MAX], p[SPEC_PATH_MAX];
  json_t *net, *arr, *v;
  size_t i;

  if (spec_get_object (res, path, "network", false, &net, err) < 0)
    return -1;
  if (net == NULL)
    return 0;
  spec_path (np, sizeof np, path, "network");
  if (spec_get_uint32 (net, np, "classID", &r->network.class_id, &r->network.has_class_id, err) < 0
      || spec_get_array (net, np, "priorities", false, &arr, err) < 0)
    return -1;
  if (arr == NULL || json_array_size (arr) == 0)
    return 0;
  r->network.priorities.v = calloc (json_array_size (arr), sizeof (struct moat_kv));
  if (r->network.priorities.v == NULL)
    return moat_err (err, ENOMEM, "%s", np);
  json_array_foreach (arr, i, v)
    {
      struct moat_kv *kv = &r->network.priorities.v[i];
      uint32_t prio;
      char buf[16];

      spec_path_idx (p, sizeof p, np, "priorities", i);
      if (!json_is_object (v))
        return spec_err (err, EINVAL, "%s: must be an object", p);
      r->network.priorities.n = i + 1;
      if (spec_get_string (v, p, "name", true, &kv->key, err) < 0
          || spec_get_uint32 (v, p, "priority", &prio, NULL, err) < 0)
        return -1;
      /* The name becomes part of a "name prio" line for net_prio.ifpriomap. */
      if (kv->key[0] == '\0' || strpbrk (kv->key, " \t\n/") != NULL)
        return spec_err (err, EINVAL, "%s.name: invalid interface name `%s`", p, kv->key);
      snprintf (buf, sizeof buf, "%" PRIu32, prio);
      kv->value = strdup (buf);
      if (kv->value == NULL)
        return moat_err (err, ENOMEM, "%s", p);
    }
  return 0;
}

static int
parse_device_rule (json_t *v, const char *p, struct moat_device_rule *d, struct moat_error *err)
{
  cleanup_free char *type = NULL, *access = NULL;
  json_t *allow;

  if (!json_is_object (v))
    return spec_err (err, EINVAL, "%s: must be an object", p);
  allow = spec_member (v, "allow");
  if (allow == NULL)
    return spec_err (err, EINVAL, "%s.allow: required", p);
  if (spec_get_bool (v, p, "allow", &d->allow, NULL, err) < 0
      || spec_get_string (v, p, "type", false, &type, err) < 0
      || spec_get_string (v, p, "access", false, &access, err) < 0)
    return -1;
  d->type = type && type[0] ? type[0] : 'a';
  if (type && type[0] && (type[1] != '\0' || strchr ("acb", type[0]) == NULL))
    return spec_err (err, EINVAL, "%s.type: unknown device type `%s` (a, c or b)", p, type);
  d->major = d->minor = -1;
  if (spec_get_int64 (v, p, "major", -1, UINT32_MAX, &d->major, NULL, err) < 0
      || spec_get_int64 (v, p, "minor", -1, UINT32_MAX, &d->minor, NULL, err) < 0)
    return -1;
  /* No access means every access, as the deny-all rule {"allow": false}
   * of older engines expects. */
  if (access == NULL || access[0] == '\0')
    {
      memcpy (d->access, "rwm", 4);
      return 0;
    }
  {
    bool r = false, w = false, m = false;
    size_t n = 0;

    for (const char *c = access; *c; c++)
      {
        if (*c == 'r')
          r = true;
        else if (*c == 'w')
          w = true;
        else if (*c == 'm')
          m = true;
        else
          return spec_err (err, EINVAL, "%s.access: `%s` is not a subset of `rwm`", p, access);
      }
    if (r)
      d->access[n++] = 'r';
    if (w)
      d->access[n++] = 'w';
    if (m)
      d->access[n++] = 'm';
    d->access[n] = '\0';
  }
  return 0;
}

static int
parse_device_rules (json_t *res, const char *path, struct moat_resources *r, struct moat_error *err)
{
  char p[SPEC_PATH_MAX];
  json_t *arr, *v;
  size_t i;

  if (spec_get_array (res, path, "devices", false, &arr, err) < 0)
    return -1;
  if (arr == NULL || json_array_size (arr) == 0)
    return 0;
  r->devices = calloc (json_array_size (arr), sizeof *r->devices);
  if (r->devices == NULL)
    return moat_err (err, ENOMEM, "%s", path);
  json_array_foreach (arr, i, v)
    {
      spec_path_idx (p, sizeof p, path, "devices", i);
      if (parse_device_rule (v, p, &r->devices[i], err) < 0)
        return -1;
      r->n_devices = i + 1;
    }
  return 0;
}

/* cgroup v2 file names: "<controller>.<file>", letters, digits, '_' and '.'.
 * No '/' or "..": the key is opened below the container's cgroup.  The
 * cgroup.* core files that move or kill processes or change the tree belong
 * to the runtime. */
static int
check_unified_key (const char *k, const char *path, struct moat_error *err)
{
  static const char *const allowed_core[] = { "cgroup.max.descendants", "cgroup.max.depth" };
  const char *dot = strchr (k, '.');

  for (const char *c = k; *c; c++)
    if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_' || *c == '.'))
      return spec_err (err, EINVAL, "%s: invalid cgroup file name `%s`", path, k);
  if (dot == NULL || dot == k || dot[1] == '\0' || strstr (k, "..") != NULL)
    return spec_err (err, EINVAL, "%s: invalid cgroup file name `%s`", path, k);
  if (strncmp (k, "cgroup.", 7) == 0)
    {
      for (size_t i = 0; i < MOAT_ARRAY_SIZE (allowed_core); i++)
        if (strcmp (k, allowed_core[i]) == 0)
          return 0;
      return spec_err (err, EPERM, "%s: `%s` is managed by the runtime", path, k);
    }
  return 0;
}

/* Docker and containerd serialise every resource field, writing 0 for "not
 * set" (blockIO.weight 0, cpu.shares 0, cpu.period 0, memory.limit 0): runc
 * and crun treat a zero there as absent, and the kernel refuses most of them
 * (blkio weight 0 is out of range).  So do we. */
static void
zero_means_unset (struct moat_resources *r)
{
  if (r->memory.has_limit && r->memory.limit == 0)
    r->memory.has_limit = false;
  if (r->memory.has_reservation && r->memory.reservation == 0)
    r->memory.has_reservation = false;
  if (r->memory.has_swap && r->memory.swap == 0)
    r->memory.has_swap = false;
  if (r->memory.has_kernel && r->memory.kernel == 0)
    r->memory.has_kernel = false;
  if (r->memory.has_kernel_tcp && r->memory.kernel_tcp == 0)
    r->memory.has_kernel_tcp = false;
  if (r->cpu.has_shares && r->cpu.shares == 0)
    r->cpu.has_shares = false;
  if (r->cpu.has_quota && r->cpu.quota == 0)
    r->cpu.has_quota = false;
  if (r->cpu.has_period && r->cpu.period == 0)
    r->cpu.has_period = false;
  if (r->cpu.has_realtime_runtime && r->cpu.realtime_runtime == 0)
    r->cpu.has_realtime_runtime = false;
  if (r->cpu.has_realtime_period && r->cpu.realtime_period == 0)
    r->cpu.has_realtime_period = false;
  if (r->cpu.has_burst && r->cpu.burst == 0)
    r->cpu.has_burst = false;
  if (r->pids.has_limit && r->pids.limit == 0)
    r->pids.has_limit = false;
  if (r->block_io.has_weight && r->block_io.weight == 0)
    r->block_io.has_weight = false;
  if (r->block_io.has_leaf_weight && r->block_io.leaf_weight == 0)
    r->block_io.has_leaf_weight = false;
  if (r->cpu.cpus && r->cpu.cpus[0] == '\0')
    {
      free (r->cpu.cpus);
      r->cpu.cpus = NULL;
    }
  if (r->cpu.mems && r->cpu.mems[0] == '\0')
    {
      free (r->cpu.mems);
      r->cpu.mems = NULL;
    }
}

int
spec_parse_resources (json_t *res, const char *path, struct moat_resources *r,
                      struct moat_error *err)
{
  char p[SPEC_PATH_MAX];
  json_t *pids;

  if (parse_device_rules (res, path, r, err) < 0 || parse_memory (res, path, r, err) < 0
      || parse_cpu (res, path, r, err) < 0)
    return -1;
  if (spec_get_object (res, path, "pids", false, &pids, err) < 0)
    return -1;
  if (pids != NULL)
    {
      spec_path (p, sizeof p, path, "pids");
      if (spec_get_int64 (pids, p, "limit", INT64_MIN, INT64_MAX, &r->pids.limit,
                          &r->pids.has_limit, err) < 0)
        return -1;
    }
  if (parse_block_io (res, path, r, err) < 0 || parse_hugepages (res, path, r, err) < 0
      || parse_network (res, path, r, err) < 0)
    return -1;
  if (spec_refuse (res, path, "rdma", "rdma limits are not supported", err) < 0)
    return -1;
  if (spec_get_kvv (res, path, "unified", &r->unified, err) < 0)
    return -1;
  for (size_t i = 0; i < r->unified.n; i++)
    {
      snprintf (p, sizeof p, "%s%sunified.%s", path, path[0] ? "." : "", r->unified.v[i].key);
      if (check_unified_key (r->unified.v[i].key, p, err) < 0)
        return -1;
    }
  zero_means_unset (r);
  return 0;
}

int
moat_resources_parse (const char *json, size_t len, struct moat_resources *out,
                      struct moat_error *err)
{
  json_t *root;
  int r;

  memset (out, 0, sizeof *out);
  if (spec_json_load (json, len, &root, err) < 0)
    return -1;
  r = spec_parse_resources (root, "", out, err);
  json_decref (root);
  if (r < 0)
    {
      moat_resources_free (out);
      return -1;
    }
  return 0;
}

void
moat_resources_free (struct moat_resources *r)
{
  if (r == NULL)
    return;
  free (r->cpu.cpus);
  free (r->cpu.mems);
  free (r->block_io.weight_device);
  free (r->block_io.throttle_read_bps);
  free (r->block_io.throttle_write_bps);
  free (r->block_io.throttle_read_iops);
  free (r->block_io.throttle_write_iops);
  for (size_t i = 0; i < r->n_hugepage_limits; i++)
    free (r->hugepage_limits[i].page_size);
  free (r->hugepage_limits);
  spec_kvv_free (&r->network.priorities);
  free (r->devices);
  spec_kvv_free (&r->unified);
  memset (r, 0, sizeof *r);
}
