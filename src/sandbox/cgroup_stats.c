/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The container's cgroup statistics in the shape of runc's `events` "data"
 * object (runc types/events.go: cpu, memory, pids, blkio), read from cgroup
 * v1 (and hybrid: the v1 controllers) or v2.  Each field is best effort: a
 * file the host lacks (no swap accounting, no blkio) leaves its field 0 or
 * out, as runc does. */
#include "sandbox/cgroup_stats.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sandbox/cgroup_internal.h"
#include "util/cleanup.h"

/* JSON integers are int64 in jansson: "max" (UINT64_MAX) reads as the
   largest of them, still "no limit" for any reader. */
static json_t *
num (uint64_t v)
{
  return json_integer (v > INT64_MAX ? INT64_MAX : (json_int_t) v);
}

static uint64_t
rd (const char *dir, const char *file)
{
  struct moat_error ignored;
  uint64_t v = 0;

  if (dir == NULL || !moat_cg_has (dir, file) || moat_cg_read_u64 (dir, file, &v, &ignored) < 0)
    return 0;
  return v;
}

static uint64_t
rd_keyed (const char *dir, const char *file, const char *key)
{
  struct moat_error ignored;
  uint64_t v = 0;

  if (dir == NULL || !moat_cg_has (dir, file) || moat_cg_read_keyed (dir, file, key, &v, &ignored) < 0)
    return 0;
  return v;
}

/* Call FN on every line of DIR/FILE (nothing when it cannot be read). */
static void
each_line (const char *dir, const char *file, void (*fn) (char *line, void *arg), void *arg)
{
  struct moat_error ignored;
  cleanup_free char *s = NULL;
  char *line, *save = NULL;

  if (dir == NULL || moat_cg_read (dir, file, &s, &ignored) < 0)
    return;
  for (line = strtok_r (s, "\n", &save); line; line = strtok_r (NULL, "\n", &save))
    fn (line, arg);
}

static void
keyed_line (char *line, void *arg)
{
  char *sp = strchr (line, ' ');

  if (sp == NULL)
    return;
  *sp = '\0';
  json_object_set_new (arg, line, num (strtoull (sp + 1, NULL, 10)));
}

/* INTO, with what FN made of every line of DIR/FILE. */
static json_t *
collect (json_t *into, const char *dir, const char *file, void (*fn) (char *line, void *arg))
{
  each_line (dir, file, fn, into);
  return into;
}

static json_t *
mem_entry (uint64_t limit, uint64_t usage, uint64_t max, uint64_t failcnt)
{
  return json_pack ("{s:o, s:o, s:o, s:o}", "limit", num (limit), "usage", num (usage), "max", num (max), "failcnt",
                    num (failcnt));
}

static json_t *
blkio_entry (unsigned maj, unsigned min, const char *op, uint64_t v)
{
  return json_pack ("{s:I, s:I, s:s, s:o}", "major", (json_int_t) maj, "minor", (json_int_t) min, "op", op, "value",
                    num (v));
}

/* ---- cgroup v1 -------------------------------------------------------- */

/* blkio.throttle.io_service_bytes_recursive: "8:0 Read 1234" lines, and a
   "Total N" line that runc leaves out. */
static void
v1_blkio_line (char *line, void *arg)
{
  unsigned maj, min;
  char op[16];
  unsigned long long v;

  if (sscanf (line, "%u:%u %15s %llu", &maj, &min, op, &v) == 4)
    json_array_append_new (arg, blkio_entry (maj, min, op, v));
}

static json_t *
v1_percpu (const char *dir)
{
  struct moat_error ignored;
  cleanup_free char *s = NULL;
  char *tok, *save = NULL;
  json_t *a = json_array ();

  if (dir == NULL || moat_cg_read (dir, "cpuacct.usage_percpu", &s, &ignored) < 0)
    return a;
  for (tok = strtok_r (s, " \n", &save); tok; tok = strtok_r (NULL, " \n", &save))
    json_array_append_new (a, num (strtoull (tok, NULL, 10)));
  return a;
}

static json_t *
v1_data (const struct moat_cgroup *cg)
{
  const char *acct = moat_cg_v1_dir (cg, "cpuacct"), *cpu = moat_cg_v1_dir (cg, "cpu");
  const char *mem = moat_cg_v1_dir (cg, "memory"), *pids = moat_cg_v1_dir (cg, "pids");
  const char *blk = moat_cg_v1_dir (cg, "blkio");
  /* cpuacct.stat counts USER_HZ ticks; runc reports nanoseconds. */
  uint64_t tick_ns = 1000000000ULL / (uint64_t) sysconf (_SC_CLK_TCK);
  json_t *cpu_o, *mem_o;

  cpu_o = json_pack ("{s:{s:o, s:o, s:o, s:o}, s:{s:o, s:o, s:o}}", "usage", "total", num (rd (acct, "cpuacct.usage")),
                     "percpu", v1_percpu (acct), "kernel", num (rd_keyed (acct, "cpuacct.stat", "system") * tick_ns),
                     "user", num (rd_keyed (acct, "cpuacct.stat", "user") * tick_ns), "throttling", "periods",
                     num (rd_keyed (cpu, "cpu.stat", "nr_periods")), "throttledPeriods",
                     num (rd_keyed (cpu, "cpu.stat", "nr_throttled")), "throttledTime",
                     num (rd_keyed (cpu, "cpu.stat", "throttled_time")));
  mem_o = json_pack ("{s:o, s:o, s:o, s:o, s:o, s:o}", "cache", num (rd_keyed (mem, "memory.stat", "cache")), "usage",
                     mem_entry (rd (mem, "memory.limit_in_bytes"), rd (mem, "memory.usage_in_bytes"),
                                rd (mem, "memory.max_usage_in_bytes"), rd (mem, "memory.failcnt")),
                     "swap",
                     mem_entry (rd (mem, "memory.memsw.limit_in_bytes"), rd (mem, "memory.memsw.usage_in_bytes"),
                                rd (mem, "memory.memsw.max_usage_in_bytes"), rd (mem, "memory.memsw.failcnt")),
                     "kernel",
                     mem_entry (rd (mem, "memory.kmem.limit_in_bytes"), rd (mem, "memory.kmem.usage_in_bytes"),
                                rd (mem, "memory.kmem.max_usage_in_bytes"), rd (mem, "memory.kmem.failcnt")),
                     "kernelTCP",
                     mem_entry (rd (mem, "memory.kmem.tcp.limit_in_bytes"), rd (mem, "memory.kmem.tcp.usage_in_bytes"),
                                rd (mem, "memory.kmem.tcp.max_usage_in_bytes"), rd (mem, "memory.kmem.tcp.failcnt")),
                     "raw", collect (json_object (), mem, "memory.stat", keyed_line));
  return json_pack ("{s:o, s:o, s:{s:o, s:o}, s:{s:o, s:o}}", "cpu", cpu_o, "memory", mem_o, "pids", "current",
                    num (rd (pids, "pids.current")), "limit",
                    num (pids && rd (pids, "pids.max") != UINT64_MAX ? rd (pids, "pids.max") : 0), "blkio",
                    "ioServiceBytesRecursive", collect (json_array (), blk, "blkio.throttle.io_service_bytes_recursive", v1_blkio_line),
                    "ioServicedRecursive", collect (json_array (), blk, "blkio.throttle.io_serviced_recursive", v1_blkio_line));
}

/* ---- cgroup v2 -------------------------------------------------------- */

/* io.stat: "8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0" per device. */
static void
v2_blkio_line (char *line, void *arg)
{
  json_t **lists = arg; /* bytes, ios */
  unsigned maj, min;
  unsigned long long rb = 0, wb = 0, ri = 0, wi = 0;
  char *p;

  if (sscanf (line, "%u:%u", &maj, &min) != 2)
    return;
  if ((p = strstr (line, "rbytes=")))
    rb = strtoull (p + 7, NULL, 10);
  if ((p = strstr (line, "wbytes=")))
    wb = strtoull (p + 7, NULL, 10);
  if ((p = strstr (line, "rios=")))
    ri = strtoull (p + 5, NULL, 10);
  if ((p = strstr (line, "wios=")))
    wi = strtoull (p + 5, NULL, 10);
  json_array_append_new (lists[0], blkio_entry (maj, min, "Read", rb));
  json_array_append_new (lists[0], blkio_entry (maj, min, "Write", wb));
  json_array_append_new (lists[1], blkio_entry (maj, min, "Read", ri));
  json_array_append_new (lists[1], blkio_entry (maj, min, "Write", wi));
}

static json_t *
v2_data (const char *dir)
{
  json_t *bytes = json_array (), *ios = json_array (), *cpu_o, *mem_o;
  json_t *lists[2] = { bytes, ios };
  uint64_t pmax = rd (dir, "pids.max");

  each_line (dir, "io.stat", v2_blkio_line, lists);
  cpu_o = json_pack ("{s:{s:o, s:o, s:o}, s:{s:o, s:o, s:o}}", "usage", "total",
                     num (rd_keyed (dir, "cpu.stat", "usage_usec") * 1000), "kernel",
                     num (rd_keyed (dir, "cpu.stat", "system_usec") * 1000), "user",
                     num (rd_keyed (dir, "cpu.stat", "user_usec") * 1000), "throttling", "periods",
                     num (rd_keyed (dir, "cpu.stat", "nr_periods")), "throttledPeriods",
                     num (rd_keyed (dir, "cpu.stat", "nr_throttled")), "throttledTime",
                     num (rd_keyed (dir, "cpu.stat", "throttled_usec") * 1000));
  mem_o = json_pack ("{s:o, s:o, s:o, s:o}", "cache", num (rd_keyed (dir, "memory.stat", "file")), "usage",
                     mem_entry (rd (dir, "memory.max"), rd (dir, "memory.current"), rd (dir, "memory.peak"),
                                rd_keyed (dir, "memory.events", "max")),
                     "swap",
                     mem_entry (rd (dir, "memory.swap.max"), rd (dir, "memory.swap.current"),
                                rd (dir, "memory.swap.peak"), rd_keyed (dir, "memory.swap.events", "max")),
                     "raw", collect (json_object (), dir, "memory.stat", keyed_line));
  return json_pack ("{s:o, s:o, s:{s:o, s:o}, s:{s:o, s:o}}", "cpu", cpu_o, "memory", mem_o, "pids", "current",
                    num (rd (dir, "pids.current")), "limit", num (pmax == UINT64_MAX ? 0 : pmax), "blkio",
                    "ioServiceBytesRecursive", bytes, "ioServicedRecursive", ios);
}

int
moat_cgroup_stats_runc (const struct moat_cgroup *cg, json_t **data, struct moat_error *err)
{
  if (cg->mode == MOAT_CGROUP_V2)
    {
      if (cg->unified_dir == NULL)
        return moat_err (err, ENOENT, "cgroup `%s`: no cgroup2 directory", cg->path);
      *data = v2_data (cg->unified_dir);
    }
  else
    *data = v1_data (cg);
  return *data ? 0 : moat_err (err, ENOMEM, "cgroup stats");
}
