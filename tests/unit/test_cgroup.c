/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests of the cgroup module: path resolution, create/apply/destroy on fake
 * v1 and v2 trees (MOAT_CGROUP_ROOT + MOAT_CGROUP_MODE), the create transaction,
 * and one round trip on the real /sys/fs/cgroup of the host. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <linux/bpf.h>

#include "sandbox/cgroup.h"
#include "sandbox/cgroup_internal.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/syscalls.h"

/* ---- helpers ------------------------------------------------------------ */

static char fake_root[256];

static void
put (const char *content, const char *fmt, ...)
{
  char path[4096];
  va_list ap;
  FILE *f;

  va_start (ap, fmt);
  vsnprintf (path, sizeof path, fmt, ap);
  va_end (ap);
  f = fopen (path, "w");
  assert_non_null (f);
  fputs (content, f);
  fclose (f);
}

static char *
get (const char *fmt, ...)
{
  char path[4096];
  char *buf = NULL;
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (path, sizeof path, fmt, ap);
  va_end (ap);
  if (moat_read_file_at (AT_FDCWD, path, 1 << 20, &buf, NULL, NULL) < 0)
    return NULL;
  return buf;
}

static void
assert_file (const char *want, const char *fmt, ...)
{
  char path[4096];
  cleanup_free char *got = NULL;
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (path, sizeof path, fmt, ap);
  va_end (ap);
  got = get ("%s", path);
  if (got == NULL)
    fail_msg ("%s: missing", path);
  if (strcmp (got, want) != 0)
    fail_msg ("%s: got \"%s\", want \"%s\"", path, got, want);
}

static bool
exists (const char *fmt, ...)
{
  char path[4096];
  struct stat st;
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (path, sizeof path, fmt, ap);
  va_end (ap);
  return lstat (path, &st) == 0;
}

/* mkdir -p ROOT/HIER/PATH and create empty FILES (NULL-terminated) in it. */
static void
mkcg (const char *hier, const char *path, ...)
{
  char dir[4096], cmd[4200];
  const char *f;
  va_list ap;

  snprintf (dir, sizeof dir, "%s/%s%s", fake_root, hier, path);
  snprintf (cmd, sizeof cmd, "mkdir -p '%s'", dir);
  assert_int_equal (system (cmd), 0);
  va_start (ap, path);
  while ((f = va_arg (ap, const char *)) != NULL)
    put ("", "%s/%s", dir, f);
  va_end (ap);
}

/* rmdir(2) of a real cgroup succeeds although it lists knobs; a fake one
   needs its files gone first. */
static void
strip_files (void)
{
  char cmd[512];

  snprintf (cmd, sizeof cmd, "find '%s' -mindepth 2 -type f -delete", fake_root);
  assert_int_equal (system (cmd), 0);
}

static int
fake_setup (const char *mode)
{
  snprintf (fake_root, sizeof fake_root, "/tmp/moat-cgtest-XXXXXX");
  if (mkdtemp (fake_root) == NULL)
    return -1;
  setenv ("MOAT_CGROUP_ROOT", fake_root, 1);
  setenv ("MOAT_CGROUP_MODE", mode, 1);
  return 0;
}

static int
setup_v1 (void **state)
{
  return fake_setup ("v1");
}

static int
setup_v2 (void **state)
{
  return fake_setup ("v2");
}

static int
fake_teardown (void **state)
{
  char cmd[512];

  unsetenv ("MOAT_CGROUP_ROOT");
  unsetenv ("MOAT_CGROUP_MODE");
  if (fake_root[0])
    {
      snprintf (cmd, sizeof cmd, "rm -rf '%s'", fake_root);
      if (system (cmd) != 0)
        return -1;
    }
  fake_root[0] = '\0';
  return 0;
}

#define CG_FILES "cgroup.procs"

/* A v1 host: memory, "cpu,cpuacct" co-mounted, cpuset, pids, devices,
   freezer, name=systemd; the leaf's knobs exist as a kernel would make them. */
static void
fake_v1_tree (const char *leaf)
{
  mkcg ("memory", "", CG_FILES, NULL);
  mkcg ("memory", leaf, CG_FILES, "memory.limit_in_bytes", "memory.soft_limit_in_bytes", "memory.swappiness",
        "memory.oom_control", NULL);
  put ("9223372036854771712", "%s/memory%s/memory.limit_in_bytes", fake_root, leaf);
  mkcg ("cpu,cpuacct", leaf, CG_FILES, "cpu.shares", "cpu.cfs_quota_us", "cpu.cfs_period_us", NULL);
  mkcg ("cpuset", "", CG_FILES, "cpuset.cpus", "cpuset.mems", NULL);
  put ("0-1\n", "%s/cpuset/cpuset.cpus", fake_root);
  put ("0\n", "%s/cpuset/cpuset.mems", fake_root);
  mkcg ("cpuset", "/moat", CG_FILES, "cpuset.cpus", "cpuset.mems", NULL);
  mkcg ("cpuset", leaf, CG_FILES, "cpuset.cpus", "cpuset.mems", NULL);
  mkcg ("pids", leaf, CG_FILES, "pids.max", NULL);
  mkcg ("devices", leaf, CG_FILES, "devices.allow", NULL);
  mkcg ("freezer", leaf, CG_FILES, "freezer.state", NULL);
  mkcg ("systemd", leaf, CG_FILES, NULL);
}

/* ---- path resolution ---------------------------------------------------- */

static void
test_resolve_path (void **state)
{
  struct moat_error err = { 0 };
  char *out = NULL;

  assert_int_equal (moat_cgroup_resolve_path ("/a//b/./c/", "id", false, &out, &err), 0);
  assert_string_equal (out, "/a/b/c");
  free (out);
  assert_int_equal (moat_cgroup_resolve_path ("pod1/ctr", "id", false, &out, &err), 0);
  assert_string_equal (out, "/moat/pod1/ctr");
  free (out);
  assert_int_equal (moat_cgroup_resolve_path (NULL, "web1", false, &out, &err), 0);
  assert_string_equal (out, "/moat/web1");
  free (out);

  assert_int_equal (moat_cgroup_resolve_path ("/a/../../etc", "id", false, &out, &err), -1);
  assert_null (out);
  assert_non_null (strstr (err.msg, "linux.cgroupsPath"));
  assert_non_null (strstr (err.msg, "`..`"));
  assert_int_equal (moat_cgroup_resolve_path ("..", "id", false, &out, &err), -1);
  assert_int_equal (moat_cgroup_resolve_path ("a/..", "id", false, &out, &err), -1);
  /* ".." only as a whole component: "a..b" is a fine name. */
  assert_int_equal (moat_cgroup_resolve_path ("/a..b", "id", false, &out, &err), 0);
  assert_string_equal (out, "/a..b");
  free (out);
  assert_int_equal (moat_cgroup_resolve_path ("/", "id", false, &out, &err), -1);
  assert_int_equal (moat_cgroup_resolve_path (NULL, "a/b", false, &out, &err), -1);
  assert_int_equal (moat_cgroup_resolve_path (NULL, NULL, false, &out, &err), -1);

  assert_int_equal (moat_cgroup_resolve_path ("system.slice:moat:x", "id", true, &out, &err), -1);
  if (access ("/run/systemd/system", F_OK) < 0)
    assert_string_equal (err.msg, "--systemd-cgroup: systemd is not running on this host (PID 1 is not systemd)");
  else
    assert_non_null (strstr (err.msg, "not supported"));
}

/* ---- fake v1 ------------------------------------------------------------ */

static void
test_v1_create_apply_destroy (void **state)
{
  struct moat_resources r = { 0 };
  struct moat_device_rule rules[3] = {
    { .allow = false, .type = 'a', .major = -1, .minor = -1, .access = "rwm" },
    { .allow = true, .type = 'c', .major = 1, .minor = 3, .access = "rwm" },
    { .allow = true, .type = 'c', .major = -1, .minor = -1, .access = "m" },
  };
  struct moat_cgroup cg;
  struct moat_error err = { 0 };
  const char *leaf = "/moat/c1";

  fake_v1_tree (leaf);
  /* devices.deny is a hard link of devices.allow: the file then records the
     order of every rule across both knobs. */
  {
    char a[4096], d[4096];
    snprintf (a, sizeof a, "%s/devices%s/devices.allow", fake_root, leaf);
    snprintf (d, sizeof d, "%s/devices%s/devices.deny", fake_root, leaf);
    assert_int_equal (link (a, d), 0);
  }
  r.memory.has_limit = r.memory.has_swap = r.memory.has_reservation = true;
  r.memory.limit = 100 << 20;
  r.memory.swap = -1; /* no memsw knob: -1 needs no accounting */
  r.memory.reservation = 50 << 20;
  r.cpu.has_shares = r.cpu.has_quota = r.cpu.has_period = true;
  r.cpu.shares = 512;
  r.cpu.quota = 50000;
  r.cpu.period = 100000;
  r.cpu.cpus = (char *) "1";
  r.pids.has_limit = true;
  r.pids.limit = 0;
  r.devices = rules;
  r.n_devices = 3;

  if (moat_cgroup_create (&cg, leaf, &r, &err) < 0)
    fail_msg ("create: %s", err.msg);
  assert_int_equal (cg.mode, MOAT_CGROUP_V1);
  assert_null (cg.unified_dir);
  assert_int_equal (cg.n_v1, 7);

  assert_file ("9223372036854771712104857600\n", "%s/memory%s/memory.limit_in_bytes", fake_root, leaf);
  assert_file ("52428800\n", "%s/memory%s/memory.soft_limit_in_bytes", fake_root, leaf);
  assert_file ("512\n", "%s/cpu,cpuacct%s/cpu.shares", fake_root, leaf);
  assert_file ("100000\n", "%s/cpu,cpuacct%s/cpu.cfs_period_us", fake_root, leaf);
  assert_file ("50000\n", "%s/cpu,cpuacct%s/cpu.cfs_quota_us", fake_root, leaf);
  assert_file ("max\n", "%s/pids%s/pids.max", fake_root, leaf);
  /* cpuset: every level filled from its parent before use, then the limit. */
  assert_file ("0-1\n", "%s/cpuset/moat/cpuset.cpus", fake_root);
  assert_file ("0\n", "%s/cpuset/moat/cpuset.mems", fake_root);
  assert_file ("0-1\n1\n", "%s/cpuset%s/cpuset.cpus", fake_root, leaf);
  assert_file ("0\n", "%s/cpuset%s/cpuset.mems", fake_root, leaf);
  /* Deny everything first, then the rules in order. */
  assert_file ("a\na *:* rwm\nc 1:3 rwm\nc *:* m\n", "%s/devices%s/devices.allow", fake_root, leaf);

  /* Controllers map by name, co-mounted ones included. */
  assert_non_null (strstr (cg.v1_dirs[0], fake_root));
  strip_files ();
  if (moat_cgroup_destroy (&cg, &err) < 0)
    fail_msg ("destroy: %s", err.msg);
  assert_false (exists ("%s/memory%s", fake_root, leaf));
  assert_false (exists ("%s/cpu,cpuacct%s", fake_root, leaf));
  assert_false (exists ("%s/systemd%s", fake_root, leaf));
  /* Parents such as /moat stay. */
  assert_true (exists ("%s/memory/moat", fake_root));
  /* Destroying twice is fine (ENOENT). */
  assert_int_equal (moat_cgroup_destroy (&cg, &err), 0);
  moat_cgroup_free (&cg);
}

static void
test_v1_memsw_order (void **state)
{
  struct moat_resources r = { 0 };
  struct moat_cgroup cg;
  struct moat_error err = { 0 };
  char lim[4096], sw[4096];
  const char *leaf = "/moat/c2";

  fake_v1_tree (leaf);
  snprintf (lim, sizeof lim, "%s/memory%s/memory.limit_in_bytes", fake_root, leaf);
  snprintf (sw, sizeof sw, "%s/memory%s/memory.memsw.limit_in_bytes", fake_root, leaf);
  /* One inode for both knobs records the order of the writes. */
  assert_int_equal (link (lim, sw), 0);
  put ("1000", "%s", lim);
  r.memory.has_limit = r.memory.has_swap = true;
  r.memory.limit = 100 << 20;
  r.memory.swap = 200 << 20;
  /* Raising: memsw first, so that limit <= memsw holds at every step. */
  if (moat_cgroup_create (&cg, leaf, &r, &err) < 0)
    fail_msg ("create: %s", err.msg);
  assert_file ("1000209715200\n104857600\n", "%s", lim);
  /* Lowering: the limit first. */
  put ("104857600", "%s", lim);
  r.memory.limit = 10 << 20;
  r.memory.swap = 20 << 20;
  if (moat_cgroup_update (&cg, &r, &err) < 0)
    fail_msg ("update: %s", err.msg);
  assert_file ("10485760010485760\n20971520\n", "%s", lim);
  /* swap below limit is refused before any write. */
  r.memory.swap = 1 << 20;
  assert_int_equal (moat_cgroup_update (&cg, &r, &err), -1);
  assert_non_null (strstr (err.msg, "memory.swap"));
  strip_files ();
  if (moat_cgroup_destroy (&cg, &err) < 0)
    fail_msg ("destroy: %s", err.msg);
  assert_false (exists ("%s/memory%s", fake_root, leaf));
  moat_cgroup_free (&cg);
}

static void
test_v1_refusals (void **state)
{
  struct moat_resources r = { 0 };
  struct moat_kv kv = { (char *) "memory.high", (char *) "1M" };
  struct moat_cgroup cg;
  struct moat_error err = { 0 };
  const char *leaf = "/moat/c3";

  fake_v1_tree (leaf);
  r.unified.v = &kv;
  r.unified.n = 1;
  assert_int_equal (moat_cgroup_create (&cg, leaf, &r, &err), -1);
  assert_non_null (strstr (err.msg, "linux.resources.unified requires cgroup v2"));

  memset (&r, 0, sizeof r);
  r.memory.has_limit = r.memory.has_swap = true;
  r.memory.limit = 100 << 20;
  r.memory.swap = 200 << 20; /* fake tree has no memsw knob */
  assert_int_equal (moat_cgroup_create (&cg, leaf, &r, &err), -1);
  assert_string_equal (err.msg, "linux.resources.memory.swap: swap accounting is not enabled on this kernel");

  memset (&r, 0, sizeof r);
  r.network.has_class_id = true;
  r.network.class_id = 7;
  assert_int_equal (moat_cgroup_create (&cg, leaf, &r, &err), -1);
  assert_non_null (strstr (err.msg, "linux.resources.network.classID: the `net_cls` cgroup controller is not mounted"));

  memset (&r, 0, sizeof r);
  r.memory.has_kernel = true;
  r.memory.kernel = 1 << 20;
  assert_int_equal (moat_cgroup_create (&cg, leaf, &r, &err), -1);
  assert_non_null (strstr (err.msg, "memory.kernel"));

  memset (&r, 0, sizeof r);
  r.block_io.has_weight = true;
  r.block_io.weight = 500;
  assert_int_equal (moat_cgroup_create (&cg, leaf, &r, &err), -1);
  assert_non_null (strstr (err.msg, "linux.resources.blockIO"));

  /* The leaf existed before, so the failures above left it in place. */
  assert_true (exists ("%s/memory%s", fake_root, leaf));
  put ("4242\n", "%s/memory%s/cgroup.procs", fake_root, leaf);
  assert_int_equal (moat_cgroup_create (&cg, leaf, NULL, &err), -1);
  assert_string_equal (err.msg, "cgroup `/moat/c3` already has processes");
}

/* A failing write undoes every directory the call made, deepest first, and
   leaves the ones that existed before. */
static void
test_v1_transaction (void **state)
{
  struct moat_resources r = { 0 };
  struct moat_cgroup cg;
  struct moat_error err = { 0 };

  mkcg ("memory", "/moat", CG_FILES, NULL);
  mkcg ("pids", "/moat", CG_FILES, NULL);
  mkcg ("systemd", "", CG_FILES, NULL);
  r.pids.has_limit = true;
  r.pids.limit = 10; /* the new leaf has no pids.max: the write fails */
  assert_int_equal (moat_cgroup_create (&cg, "/moat/new/c4", &r, &err), -1);
  assert_non_null (strstr (err.msg, "linux.resources.pids.limit"));
  assert_int_equal (err.code, ENOENT);
  assert_false (exists ("%s/memory/moat/new", fake_root));
  assert_false (exists ("%s/pids/moat/new", fake_root));
  assert_false (exists ("%s/systemd/moat", fake_root));
  assert_true (exists ("%s/memory/moat", fake_root));
  assert_true (exists ("%s/pids/moat", fake_root));

  /* Without resources the same call succeeds and makes every level. */
  if (moat_cgroup_create (&cg, "/moat/new/c4", NULL, &err) < 0)
    fail_msg ("create: %s", err.msg);
  assert_true (exists ("%s/systemd/moat/new/c4", fake_root));
  moat_cgroup_free (&cg);
}

/* ---- fake v2 ------------------------------------------------------------ */

static void
fake_v2_tree (const char *leaf)
{
  mkcg ("", "", CG_FILES, "cgroup.controllers", "cgroup.subtree_control", NULL);
  put ("cpuset cpu io memory hugetlb pids\n", "%s/cgroup.controllers", fake_root);
  mkcg ("", "/moat", CG_FILES, "cgroup.controllers", "cgroup.subtree_control", NULL);
  put ("cpuset cpu io memory hugetlb pids\n", "%s/moat/cgroup.controllers", fake_root);
  mkcg ("", leaf, CG_FILES, "cgroup.controllers", "cgroup.subtree_control", "memory.max", "memory.low",
        "memory.swap.max", "memory.high", "cpu.weight", "cpu.max", "pids.max", "io.weight", "io.max", "cgroup.freeze",
        "cgroup.events", NULL);
}

static void
test_v2_create_apply (void **state)
{
  struct moat_resources r = { 0 };
  struct moat_kv kv = { (char *) "memory.high", (char *) "52428800" };
  struct moat_throttle_device rbps = { 8, 0, 1048576 };
  struct moat_cgroup cg;
  struct moat_error err = { 0 };
  const char *leaf = "/moat/c5";

  fake_v2_tree (leaf);
  r.memory.has_limit = r.memory.has_swap = r.memory.has_reservation = true;
  r.memory.limit = 100 << 20;
  r.memory.swap = 300 << 20;
  r.memory.reservation = -1;
  r.cpu.has_shares = r.cpu.has_quota = r.cpu.has_period = true;
  r.cpu.shares = 1024;
  r.cpu.quota = 50000;
  r.cpu.period = 100000;
  r.pids.has_limit = true;
  r.pids.limit = 100;
  r.block_io.has_weight = true;
  r.block_io.weight = 1000;
  r.block_io.throttle_read_bps = &rbps;
  r.block_io.n_throttle_read_bps = 1;
  r.unified.v = &kv;
  r.unified.n = 1;
  if (moat_cgroup_create (&cg, leaf, &r, &err) < 0)
    fail_msg ("create: %s", err.msg);
  assert_int_equal (cg.mode, MOAT_CGROUP_V2);
  assert_int_equal (cg.n_v1, 0);
  assert_file ("104857600\n", "%s%s/memory.max", fake_root, leaf);
  assert_file ("max\n", "%s%s/memory.low", fake_root, leaf);
  /* OCI swap is memory+swap: swap.max = 300M - 100M. */
  assert_file ("209715200\n", "%s%s/memory.swap.max", fake_root, leaf);
  /* 1 + (1024 - 2) * 9999 / 262142 = 39 */
  assert_file ("39\n", "%s%s/cpu.weight", fake_root, leaf);
  assert_file ("50000 100000\n", "%s%s/cpu.max", fake_root, leaf);
  assert_file ("100\n", "%s%s/pids.max", fake_root, leaf);
  assert_file ("10000\n", "%s%s/io.weight", fake_root, leaf);
  assert_file ("52428800\n", "%s%s/memory.high", fake_root, leaf);
  assert_file ("8:0 rbps=1048576\n", "%s%s/io.max", fake_root, leaf);
  /* Controllers delegated from the root down to the leaf's parent, not in
     the leaf itself. */
  assert_file ("+memory\n+cpu\n+pids\n+io\n", "%s/cgroup.subtree_control", fake_root);
  assert_file ("+memory\n+cpu\n+pids\n+io\n", "%s/moat/cgroup.subtree_control", fake_root);
  assert_file ("", "%s%s/cgroup.subtree_control", fake_root, leaf);

  /* Freezing writes cgroup.freeze and waits for cgroup.events to agree. */
  {
    bool frozen = false;
    put ("populated 0\nfrozen 1\n", "%s%s/cgroup.events", fake_root, leaf);
    if (moat_cgroup_freeze (&cg, true, &err) < 0)
      fail_msg ("freeze: %s", err.msg);
    assert_file ("1\n", "%s%s/cgroup.freeze", fake_root, leaf);
    assert_int_equal (moat_cgroup_is_frozen (&cg, &frozen, &err), 0);
    assert_true (frozen);
  }
  /* SIGKILL goes through cgroup.kill when the kernel has it (and the cgroup
     has a process: an empty one is left alone). */
  put ("", "%s%s/cgroup.kill", fake_root, leaf);
  put ("4242\n", "%s%s/cgroup.procs", fake_root, leaf);
  put ("populated 1\nfrozen 0\n", "%s%s/cgroup.events", fake_root, leaf);
  if (moat_cgroup_kill_all (&cg, SIGKILL, &err) < 0)
    fail_msg ("kill_all: %s", err.msg);
  assert_file ("1\n", "%s%s/cgroup.kill", fake_root, leaf);
  moat_cgroup_free (&cg);
}

static void
test_v2_refusals (void **state)
{
  struct moat_resources r = { 0 };
  struct moat_device_rule rule = { .allow = true, .type = 'c', .major = 1, .minor = 3, .access = "rwm" };
  struct moat_kv bad = { (char *) "../cgroup.procs", (char *) "1" };
  struct moat_cgroup cg;
  struct moat_error err = { 0 };

  fake_v2_tree ("/moat/c6");
  /* Device rules need the eBPF filter, which a fake directory cannot take:
     the failure names the field instead of running unfiltered. */
  r.devices = &rule;
  r.n_devices = 1;
  assert_int_equal (moat_cgroup_create (&cg, "/moat/c6", &r, &err), -1);
  assert_non_null (strstr (err.msg, "linux.resources.devices: "));

  memset (&r, 0, sizeof r);
  r.unified.v = &bad;
  r.unified.n = 1;
  assert_int_equal (moat_cgroup_create (&cg, "/moat/c6", &r, &err), -1);
  assert_non_null (strstr (err.msg, "invalid cgroup file name"));
  bad.key = (char *) "cgroup.procs";
  assert_int_equal (moat_cgroup_create (&cg, "/moat/c6", &r, &err), -1);
  assert_string_equal (err.msg, "linux.resources.unified.cgroup.procs: managed by moat, not settable");

  memset (&r, 0, sizeof r);
  r.memory.has_swap = true;
  r.memory.swap = 1 << 20;
  assert_int_equal (moat_cgroup_create (&cg, "/moat/c6", &r, &err), -1);
  assert_non_null (strstr (err.msg, "needs a memory limit"));

  /* A controller the parent cannot delegate. */
  put ("memory pids\n", "%s/moat/cgroup.controllers", fake_root);
  memset (&r, 0, sizeof r);
  r.cpu.has_shares = true;
  r.cpu.shares = 100;
  assert_int_equal (moat_cgroup_create (&cg, "/moat/c6", &r, &err), -1);
  assert_non_null (strstr (err.msg, "controller `cpu` is not available"));
}

/* ---- the real host ------------------------------------------------------ */

struct real
{
  char mnt[64]; /* the mount test's target, made and removed by the parent */
  char path[128];
  char path2[128];
  char parent[64];
  bool created;
  struct moat_cgroup cg;
  pid_t child;
  volatile uint64_t *counter;
  bool restore_hugetlb; /* the test enabled hugetlb at the cgroup2 root */
};

static const char *const real_hiers[] = { "memory", "pids", "freezer", "cpu", "cpuacct", "cpuset",
                                          "blkio", "devices", "systemd", "unified" };

static int
real_setup (void **state)
{
  struct real *rs = calloc (1, sizeof *rs);

  if (rs == NULL)
    return -1;
  unsetenv ("MOAT_CGROUP_ROOT");
  unsetenv ("MOAT_CGROUP_MODE");
  snprintf (rs->parent, sizeof rs->parent, "/moat-test-%d", (int) getpid ());
  snprintf (rs->path, sizeof rs->path, "%s/x", rs->parent);
  snprintf (rs->path2, sizeof rs->path2, "%s/y", rs->parent);
  rs->child = -1;
  snprintf (rs->mnt, sizeof rs->mnt, "/tmp/moat-cgmnt-XXXXXX");
  if (mkdtemp (rs->mnt) == NULL)
    return -1;
  rs->counter = mmap (NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (rs->counter == MAP_FAILED)
    return -1;
  *state = rs;
  return 0;
}

static int
real_teardown (void **state)
{
  struct real *rs = *state;
  char dir[512];

  /* Runs even when an assertion failed half way: kill, thaw, remove. */
  if (rs->child > 0)
    {
      kill (rs->child, SIGKILL);
      snprintf (dir, sizeof dir, "/sys/fs/cgroup/freezer%s/freezer.state", rs->path);
      put ("THAWED", "%s", dir);
      waitpid (rs->child, NULL, 0);
    }
  for (size_t i = 0; i < MOAT_ARRAY_SIZE (real_hiers); i++)
    {
      snprintf (dir, sizeof dir, "/sys/fs/cgroup/%s%s", real_hiers[i], rs->path);
      rmdir (dir);
      snprintf (dir, sizeof dir, "/sys/fs/cgroup/%s%s", real_hiers[i], rs->path2);
      rmdir (dir);
      snprintf (dir, sizeof dir, "/sys/fs/cgroup/%s%s", real_hiers[i], rs->parent);
      rmdir (dir);
    }
  if (rs->restore_hugetlb)
    {
      snprintf (dir, sizeof dir, "/sys/fs/cgroup/unified%s/cgroup.subtree_control", rs->parent);
      if (exists ("%s", dir))
        put ("-hugetlb", "%s", dir);
      snprintf (dir, sizeof dir, "/sys/fs/cgroup/unified%s", rs->parent);
      rmdir (dir);
      put ("-hugetlb", "/sys/fs/cgroup/unified/cgroup.subtree_control");
    }
  if (rs->created)
    moat_cgroup_free (&rs->cg);
  rmdir (rs->mnt);
  munmap ((void *) rs->counter, 4096);
  free (rs);
  return 0;
}

static bool
real_usable (void)
{
  return geteuid () == 0 && access ("/sys/fs/cgroup/memory/cgroup.procs", W_OK) == 0
         && access ("/sys/fs/cgroup/freezer/cgroup.procs", W_OK) == 0;
}

static uint64_t
settle_counter (struct real *rs)
{
  uint64_t a = *rs->counter;
  usleep (100 * 1000);
  return *rs->counter - a;
}

static void
test_real_roundtrip (void **state)
{
  struct real *rs = *state;
  struct moat_resources r = { 0 };
  struct moat_error err = { 0 };
  struct moat_cgroup_stats st;
  cleanup_free pid_t *pids = NULL;
  cleanup_free char *self = NULL;
  char want[256];
  size_t n = 0;
  bool frozen = true;
  int status;

  if (!real_usable ())
    skip ();
  r.memory.has_limit = true;
  r.memory.limit = 64 << 20;
  r.pids.has_limit = true;
  r.pids.limit = 32;
  if (moat_cgroup_create (&rs->cg, rs->path, &r, &err) < 0)
    fail_msg ("create: %s", err.msg);
  rs->created = true;

  rs->child = fork ();
  assert_true (rs->child >= 0);
  if (rs->child == 0)
    for (;;)
      {
        (*rs->counter)++;
        usleep (1000);
      }
  if (moat_cgroup_enter (&rs->cg, rs->child, &err) < 0)
    fail_msg ("enter: %s", err.msg);

  assert_file ("67108864\n", "/sys/fs/cgroup/memory%s/memory.limit_in_bytes", rs->path);
  assert_file ("32\n", "/sys/fs/cgroup/pids%s/pids.max", rs->path);
  self = get ("/proc/%d/cgroup", (int) rs->child);
  assert_non_null (self);
  snprintf (want, sizeof want, ":memory:%s\n", rs->path);
  assert_non_null (strstr (self, want));
  snprintf (want, sizeof want, ":name=systemd:%s\n", rs->path);
  assert_non_null (strstr (self, want));
  if (rs->cg.mode == MOAT_CGROUP_HYBRID)
    {
      snprintf (want, sizeof want, "0::%s\n", rs->path);
      assert_non_null (strstr (self, want));
    }

  if (moat_cgroup_pids (&rs->cg, &pids, &n, &err) < 0)
    fail_msg ("pids: %s", err.msg);
  assert_int_equal (n, 1);
  assert_int_equal (pids[0], rs->child);

  if (moat_cgroup_stats (&rs->cg, &st, &err) < 0)
    fail_msg ("stats: %s", err.msg);
  assert_int_equal (st.memory_limit, 64 << 20);
  assert_int_equal (st.pids_current, 1);
  assert_int_equal (st.pids_limit, 32);

  assert_true (settle_counter (rs) > 0);
  if (moat_cgroup_freeze (&rs->cg, true, &err) < 0)
    fail_msg ("freeze: %s", err.msg);
  assert_int_equal (moat_cgroup_is_frozen (&rs->cg, &frozen, &err), 0);
  assert_true (frozen);
  settle_counter (rs);
  assert_int_equal (settle_counter (rs), 0);
  if (moat_cgroup_freeze (&rs->cg, false, &err) < 0)
    fail_msg ("thaw: %s", err.msg);
  assert_int_equal (moat_cgroup_is_frozen (&rs->cg, &frozen, &err), 0);
  assert_false (frozen);
  assert_true (settle_counter (rs) > 0);

  /* A second create of the same cgroup sees the process and refuses. */
  {
    struct moat_cgroup again;
    assert_int_equal (moat_cgroup_create (&again, rs->path, NULL, &err), -1);
    assert_non_null (strstr (err.msg, "already has processes"));
  }

  if (moat_cgroup_kill_all (&rs->cg, SIGKILL, &err) < 0)
    fail_msg ("kill_all: %s", err.msg);
  assert_int_equal (waitpid (rs->child, &status, 0), rs->child);
  rs->child = -1;
  assert_true (WIFSIGNALED (status));
  assert_int_equal (WTERMSIG (status), SIGKILL);

  if (moat_cgroup_destroy (&rs->cg, &err) < 0)
    fail_msg ("destroy: %s", err.msg);
  for (size_t i = 0; i < MOAT_ARRAY_SIZE (real_hiers); i++)
    if (exists ("/sys/fs/cgroup/%s", real_hiers[i]))
      {
        assert_false (exists ("/sys/fs/cgroup/%s%s", real_hiers[i], rs->path));
        /* The parent is left for other containers. */
        assert_true (exists ("/sys/fs/cgroup/%s%s", real_hiers[i], rs->parent));
      }
}

/* In a child: join the cgroup, unshare mount (+ cgroup) namespaces, mount the
   container's view on a temp dir and check it.  Returns the exit status. */
/* Map root of a new user namespace onto our own (root) ids. */
static void
map_self (uid_t uid, gid_t gid)
{
  char buf[64];

  snprintf (buf, sizeof buf, "0 %d 1", (int) uid);
  put (buf, "/proc/self/uid_map");
  put ("deny", "/proc/self/setgroups");
  snprintf (buf, sizeof buf, "0 %d 1", (int) gid);
  put (buf, "/proc/self/gid_map");
}

static int
mount_child (struct real *rs, const char *dir, bool private_ns, bool userns)
{
  struct moat_error err = { 0 };
  char path[512];
  cleanup_free char *lim = NULL;
  uid_t uid = geteuid (); /* before unshare: afterwards it reads as the overflow id */
  gid_t gid = getegid ();
  cleanup_fd int fd = -1;
  struct stat st;

  if (moat_cgroup_enter (&rs->cg, getpid (), &err) < 0)
    return 10;
  /* With a user namespace: what the kernel allows an unprivileged container
     init (cgroup v1 remounts of existing hierarchies, cgroup2, tmpfs). */
  if (unshare (CLONE_NEWNS | (private_ns ? CLONE_NEWCGROUP : 0) | (userns ? CLONE_NEWUSER : 0)) < 0)
    return 11;
  if (userns)
    map_self (uid, gid);
  if (userns && getuid () != 0)
    return 21;
  if (mount (NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
    return 12;
  fd = open (dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return 13;
  if (moat_cgroup_mount (&rs->cg, fd, MS_RDONLY, private_ns, &err) < 0)
    {
      fprintf (stderr, "mount: %s\n", err.msg);
      return 14;
    }
  /* The container's own cgroup is the root of each hierarchy it sees. */
  snprintf (path, sizeof path, "%s/memory/memory.limit_in_bytes", dir);
  if (moat_read_file_at (AT_FDCWD, path, 4096, &lim, NULL, NULL) < 0 || strcmp (lim, "67108864\n") != 0)
    return 15;
  snprintf (path, sizeof path, "%s/memory/x", dir);
  if (stat (path, &st) == 0 || mkdir (path, 0755) == 0 || errno != EROFS)
    return 16;
  snprintf (path, sizeof path, "%s/pids/pids.max", dir);
  if (stat (path, &st) < 0)
    return 17;
  /* CVE-2022-0492: the hierarchy root's release_agent must not be reachable;
     the container's view starts at its own cgroup. */
  snprintf (path, sizeof path, "%s/memory/release_agent", dir);
  if (stat (path, &st) == 0)
    return 22;
  snprintf (path, sizeof path, "%s/newdir", dir);
  if (mkdir (path, 0755) == 0 || errno != EROFS)
    return 18;
  if (rs->cg.mode == MOAT_CGROUP_HYBRID)
    {
      snprintf (path, sizeof path, "%s/unified/cgroup.procs", dir);
      if (stat (path, &st) < 0)
        return 19;
    }
  /* No sibling cgroups are visible: the hierarchy root is the container. */
  snprintf (path, sizeof path, "%s/memory/cgroup.procs", dir);
  {
    cleanup_free char *procs = NULL;
    if (moat_read_file_at (AT_FDCWD, path, 1 << 16, &procs, NULL, NULL) < 0 || atoi (procs) <= 0)
      return 20;
  }
  return 0;
}

static void
test_real_mount (void **state)
{
  struct real *rs = *state;
  struct moat_resources r = { 0 };
  struct moat_error err = { 0 };

  if (!real_usable ())
    skip ();
  r.memory.has_limit = true;
  r.memory.limit = 64 << 20;
  if (moat_cgroup_create (&rs->cg, rs->path, &r, &err) < 0)
    fail_msg ("create: %s", err.msg);
  rs->created = true;
  for (int variant = 0; variant < 4; variant++)
    {
      bool private_ns = variant & 1, userns = variant & 2;
      int status;
      pid_t pid = fork ();
      assert_true (pid >= 0);
      if (pid == 0)
        _exit (mount_child (rs, rs->mnt, private_ns, userns));
      assert_int_equal (waitpid (pid, &status, 0), pid);
      assert_true (WIFEXITED (status));
      if (WEXITSTATUS (status) != 0)
        fail_msg ("mount child (private cgroupns %d, userns %d) failed at step %d", private_ns, userns,
                  WEXITSTATUS (status));
    }
  if (moat_cgroup_destroy (&rs->cg, &err) < 0)
    fail_msg ("destroy: %s", err.msg);
}

/* A hybrid host whose hugetlb controller lives only in cgroup2 (this one):
   hugepage limits go to the unified hierarchy. */
static void
test_real_hybrid_hugetlb (void **state)
{
  struct real *rs = *state;
  struct moat_hugepage_limit h = { (char *) "2MB", 4 << 20 };
  struct moat_resources r = { 0 };
  struct moat_error err = { 0 };
  cleanup_free char *before = NULL;

  if (!real_usable () || exists ("/sys/fs/cgroup/hugetlb") || !exists ("/sys/fs/cgroup/unified/cgroup.controllers")
      || !exists ("/sys/kernel/mm/hugepages/hugepages-2048kB"))
    skip ();
  before = get ("/sys/fs/cgroup/unified/cgroup.subtree_control");
  assert_non_null (before);
  rs->restore_hugetlb = strstr (before, "hugetlb") == NULL;
  r.hugepage_limits = &h;
  r.n_hugepage_limits = 1;
  if (moat_cgroup_create (&rs->cg, rs->path, &r, &err) < 0)
    fail_msg ("create: %s", err.msg);
  rs->created = true;
  assert_int_equal (rs->cg.mode, MOAT_CGROUP_HYBRID);
  assert_file ("4194304\n", "/sys/fs/cgroup/unified%s/hugetlb.2MB.max", rs->path);
  h.page_size = (char *) "3MB";
  assert_int_equal (moat_cgroup_update (&rs->cg, &r, &err), -1);
  assert_string_equal (err.msg, "linux.resources.hugepageLimits[0].pageSize: page size `3MB` is not supported by this host");
  if (moat_cgroup_destroy (&rs->cg, &err) < 0)
    fail_msg ("destroy: %s", err.msg);
}

/* Device rules as a container sees them: later rules override earlier ones. */
static const struct moat_device_rule dev_rules[] = {
  { .allow = false, .type = 'a', .major = -1, .minor = -1, .access = "rwm" },
  { .allow = true, .type = 'c', .major = 1, .minor = 3, .access = "rwm" },  /* /dev/null */
  { .allow = true, .type = 'c', .major = 1, .minor = 5, .access = "r" },    /* /dev/zero */
  { .allow = true, .type = 'c', .major = -1, .minor = -1, .access = "m" },
  { .allow = false, .type = 'c', .major = 1, .minor = 3, .access = "w" },
};

static int
try_open (const char *path, int flags)
{
  int fd = open (path, flags | O_CLOEXEC);

  if (fd < 0)
    return -errno;
  close (fd);
  return 0;
}

/* In a child placed in CG: one bit per unexpected verdict. */
static int
devices_child (const struct moat_cgroup *cg)
{
  int bad = 0;

  if (moat_cgroup_enter (cg, getpid (), NULL) < 0)
    return 64;
  bad |= try_open ("/dev/null", O_RDONLY) != 0 ? 1 : 0;
  bad |= try_open ("/dev/null", O_WRONLY) != -EPERM ? 2 : 0;
  bad |= try_open ("/dev/zero", O_RDONLY) != 0 ? 4 : 0;
  bad |= try_open ("/dev/zero", O_RDWR) != -EPERM ? 8 : 0;
  bad |= try_open ("/dev/full", O_RDONLY) != -EPERM ? 16 : 0;
  return bad;
}

static void
run_devices_child (const struct moat_cgroup *cg, const char *what)
{
  int status;
  pid_t pid = fork ();

  assert_true (pid >= 0);
  if (pid == 0)
    _exit (devices_child (cg));
  assert_int_equal (waitpid (pid, &status, 0), pid);
  assert_true (WIFEXITED (status));
  if (WEXITSTATUS (status) != 0)
    fail_msg ("%s: unexpected device verdicts, mask %d", what, WEXITSTATUS (status));
}

/* v1 devices.allow/deny on the host's devices hierarchy, then the eBPF filter
   alone on the cgroup2 hierarchy (present as "unified" on a hybrid host). */
static void
test_real_devices (void **state)
{
  struct real *rs = *state;
  struct moat_resources r = { 0 };
  struct moat_error err = { 0 };
  struct moat_cgroup cg2;

  if (!real_usable () || access ("/sys/fs/cgroup/devices/devices.allow", W_OK) < 0)
    skip ();
  r.devices = (struct moat_device_rule *) dev_rules;
  r.n_devices = MOAT_ARRAY_SIZE (dev_rules);
  if (moat_cgroup_create (&rs->cg, rs->path, &r, &err) < 0)
    fail_msg ("create: %s", err.msg);
  rs->created = true;
  run_devices_child (&rs->cg, "cgroup v1 devices");
  if (moat_cgroup_destroy (&rs->cg, &err) < 0)
    fail_msg ("destroy: %s", err.msg);

  if (rs->cg.unified_dir == NULL)
    return;
  if (moat_cgroup_create (&cg2, rs->path2, NULL, &err) < 0)
    fail_msg ("create: %s", err.msg);
  if (moat_cg_v2_devices (cg2.unified_dir, dev_rules, MOAT_ARRAY_SIZE (dev_rules), &err) < 0)
    {
      moat_cgroup_free (&cg2);
      fail_msg ("ebpf: %s", err.msg);
    }
  /* Replacing the filter (moat update) leaves exactly one program. */
  if (moat_cg_v2_devices (cg2.unified_dir, dev_rules, MOAT_ARRAY_SIZE (dev_rules), &err) < 0)
    {
      moat_cgroup_free (&cg2);
      fail_msg ("ebpf again: %s", err.msg);
    }
  {
    uint32_t ids[8];
    union bpf_attr attr;
    int cgfd = open (cg2.unified_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true (cgfd >= 0);
    memset (&attr, 0, sizeof attr);
    attr.query.target_fd = (uint32_t) cgfd;
    attr.query.attach_type = BPF_CGROUP_DEVICE;
    attr.query.prog_ids = (uint64_t) (uintptr_t) ids;
    attr.query.prog_cnt = 8;
    assert_int_equal (sys_bpf (BPF_PROG_QUERY, &attr, sizeof attr), 0);
    close (cgfd);
    assert_int_equal (attr.query.prog_cnt, 1);
  }
  run_devices_child (&cg2, "cgroup v2 eBPF device filter");
  assert_int_equal (moat_cgroup_destroy (&cg2, &err), 0);
  moat_cgroup_free (&cg2);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_resolve_path),
    cmocka_unit_test_setup_teardown (test_v1_create_apply_destroy, setup_v1, fake_teardown),
    cmocka_unit_test_setup_teardown (test_v1_memsw_order, setup_v1, fake_teardown),
    cmocka_unit_test_setup_teardown (test_v1_refusals, setup_v1, fake_teardown),
    cmocka_unit_test_setup_teardown (test_v1_transaction, setup_v1, fake_teardown),
    cmocka_unit_test_setup_teardown (test_v2_create_apply, setup_v2, fake_teardown),
    cmocka_unit_test_setup_teardown (test_v2_refusals, setup_v2, fake_teardown),
    cmocka_unit_test_setup_teardown (test_real_roundtrip, real_setup, real_teardown),
    cmocka_unit_test_setup_teardown (test_real_mount, real_setup, real_teardown),
    cmocka_unit_test_setup_teardown (test_real_devices, real_setup, real_teardown),
    cmocka_unit_test_setup_teardown (test_real_hybrid_hugetlb, real_setup, real_teardown),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
