/* SPDX-License-Identifier: GPL-2.0-or-later */
/* policy/: every rule on a passing and a failing spec, the YAML policy
 * parser (line:column errors, fail closed), the inspect adapter on real
 * `podman inspect` / `docker inspect` output, and the baseline on the
 * configs real engines generate (they must be admitted). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "policy/policy.h"
#include "util/fs.h"

#ifndef MOAT_FIXTURES
#error "MOAT_FIXTURES must name tests/fixtures/policy"
#endif

/* A config that passes every rule a config file can answer. */
static const char good_config[] = "{\"ociVersion\": \"1.2.0\",\n"
                                  " \"root\": {\"path\": \"rootfs\", \"readonly\": true},\n"
                                  " \"process\": {\"user\": {\"uid\": 1000, \"gid\": 1000},\n"
                                  "   \"args\": [\"/bin/sh\"], \"cwd\": \"/\", \"noNewPrivileges\": true,\n"
                                  "   \"apparmorProfile\": \"moat-default\", \"selinuxLabel\": \"system_u:system_r:container_t:s0\",\n"
                                  "   \"capabilities\": {\"bounding\": [\"CAP_KILL\"], \"effective\": [\"CAP_KILL\"]},\n"
                                  "   \"rlimits\": [{\"type\": \"RLIMIT_NOFILE\", \"hard\": 1024, \"soft\": 1024}]},\n"
                                  " \"hostname\": \"box\",\n"
                                  " \"mounts\": [{\"destination\": \"/proc\", \"type\": \"proc\", \"source\": \"proc\"},\n"
                                  "   {\"destination\": \"/data\", \"type\": \"bind\", \"source\": \"/srv/data\", \"options\": [\"rbind\", \"ro\"]}],\n"
                                  " \"annotations\": {\"org.moat.image\": \"registry.example.com/app@sha256:"
                                  "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"},\n"
                                  " \"linux\": {\"namespaces\": [{\"type\": \"pid\"}, {\"type\": \"network\"}, {\"type\": \"ipc\"},\n"
                                  "   {\"type\": \"uts\"}, {\"type\": \"mount\"}, {\"type\": \"user\"}, {\"type\": \"cgroup\"}],\n"
                                  "   \"uidMappings\": [{\"containerID\": 0, \"hostID\": 100000, \"size\": 65536}],\n"
                                  "   \"gidMappings\": [{\"containerID\": 0, \"hostID\": 100000, \"size\": 65536}],\n"
                                  "   \"sysctl\": {\"net.ipv4.ip_forward\": \"1\"},\n"
                                  "   \"maskedPaths\": [\"/proc/kcore\"],\n"
                                  "   \"resources\": {\"memory\": {\"limit\": 67108864}, \"cpu\": {\"shares\": 512},\n"
                                  "     \"pids\": {\"limit\": 100}},\n"
                                  "   \"seccomp\": {\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [\n"
                                  "     {\"names\": [\"read\"], \"action\": \"SCMP_ACT_ALLOW\"}]}}}\n";

struct fx
{
  struct moat_spec spec;
  struct moat_side_info side;
  struct moat_policy policy;
};

static void
fx_load (struct fx *f)
{
  struct moat_error err = { 0 };

  memset (f, 0, sizeof *f);
  if (moat_spec_parse (good_config, strlen (good_config), &f->spec, &err) < 0)
    fail_msg ("good config: %s", err.msg);
  assert_int_equal (moat_side_from_oci (&f->spec, &f->side, &err), 0);
  moat_policy_baseline (&f->policy);
  f->policy.registries.v = calloc (2, sizeof (char *));
  f->policy.registries.v[0] = strdup ("registry.example.com");
  f->policy.registries.n = 1;
}

static void
fx_free (struct fx *f)
{
  moat_spec_free (&f->spec);
  moat_side_info_free (&f->side);
  moat_policy_free (&f->policy);
}

static enum moat_verdict
run_rule (struct fx *f, const char *id, char *reason)
{
  struct moat_rule_ctx x = { &f->spec, &f->side, &f->policy };
  int r = moat_rule_find (id);

  if (r < 0)
    fail_msg ("unknown rule %s", id);
  return moat_rules[r].check (&x, reason, MOAT_REASON_MAX);
}

/* ---- mutations that make one rule fail -------------------------------- */

static void
add_cap (struct fx *f, int cap)
{
  f->spec.process.caps.bounding |= 1ULL << cap;
}

static void
drop_ns (struct fx *f, int type)
{
  size_t i, k = 0;

  for (i = 0; i < f->spec.linux.n_namespaces; i++)
    if (f->spec.linux.namespaces[i].type != type)
      f->spec.linux.namespaces[k++] = f->spec.linux.namespaces[i];
  f->spec.linux.n_namespaces = k;
}

static void
add_mount (struct fx *f, const char *src, const char *dst, bool ro, unsigned long prop)
{
  struct moat_mount *m;

  f->spec.mounts = realloc (f->spec.mounts, (f->spec.n_mounts + 1) * sizeof *m);
  m = &f->spec.mounts[f->spec.n_mounts++];
  memset (m, 0, sizeof *m);
  m->source = strdup (src);
  m->destination = strdup (dst);
  m->type = strdup ("bind");
  m->bind = true;
  m->flags = ro ? MS_RDONLY : 0;
  m->propagation = prop;
}

static void
m_privileged (struct fx *f)
{
  f->spec.process.caps.bounding = f->spec.process.caps.effective = ~0ULL >> (63 - CAP_LAST_CAP);
  f->side.privileged = true;
}

static void
m_caps_all (struct fx *f)
{
  f->spec.process.caps.permitted = ~0ULL >> (63 - CAP_LAST_CAP);
}

static void
m_sys_admin (struct fx *f)
{
  add_cap (f, CAP_SYS_ADMIN);
}

static void
m_sys_module (struct fx *f)
{
  f->spec.process.caps.ambient |= 1ULL << CAP_SYS_MODULE;
}

static void
m_sys_ptrace (struct fx *f)
{
  add_cap (f, CAP_SYS_PTRACE);
}

static void
m_dac_read_search (struct fx *f)
{
  f->spec.process.caps.inheritable |= 1ULL << CAP_DAC_READ_SEARCH;
}

static void
m_net_admin (struct fx *f)
{
  add_cap (f, CAP_NET_ADMIN);
}

static void
m_sys_rawio (struct fx *f)
{
  add_cap (f, CAP_SYS_RAWIO);
}

static void
m_bpf (struct fx *f)
{
  add_cap (f, CAP_BPF);
}

static void
m_caps_allowed (struct fx *f)
{
  add_cap (f, CAP_SYS_NICE);
}

static void
m_pid (struct fx *f)
{
  drop_ns (f, CLONE_NEWPID);
}

static void
m_ipc (struct fx *f)
{
  drop_ns (f, CLONE_NEWIPC);
}

static void
m_uts (struct fx *f)
{
  drop_ns (f, CLONE_NEWUTS);
}

static void
m_net (struct fx *f)
{
  drop_ns (f, CLONE_NEWNET);
}

static void
m_user (struct fx *f)
{
  drop_ns (f, CLONE_NEWUSER);
}

static void
m_root (struct fx *f)
{
  f->spec.process.user.uid = 0;
}

static void
m_nnp (struct fx *f)
{
  f->spec.process.no_new_privileges = false;
}

static void
m_seccomp (struct fx *f)
{
  /* seccomp=unconfined as podman writes it: allow by default, nothing refused. */
  f->spec.linux.seccomp->default_action = MOAT_SCMP_ALLOW;
}

static void
m_readonly (struct fx *f)
{
  f->spec.root_readonly = false;
}

static void
m_memory (struct fx *f)
{
  f->spec.linux.resources.memory.has_limit = false;
}

static void
m_cpu (struct fx *f)
{
  f->spec.linux.resources.cpu.has_shares = false;
}

static void
m_pids (struct fx *f)
{
  f->spec.linux.resources.pids.limit = -1;
}

static void
m_sensitive_rw (struct fx *f)
{
  add_mount (f, "/etc", "/hostetc", false, 0);
}

static void
m_sensitive_ro (struct fx *f)
{
  add_mount (f, "/usr/lib", "/hostlib", true, 0);
}

static void
m_host_rw (struct fx *f)
{
  add_mount (f, "/srv/cache", "/cache", false, 0);
}

static void
m_socket (struct fx *f)
{
  add_mount (f, "/var/run/docker.sock", "/var/run/docker.sock", true, 0);
}

static void
m_propagation (struct fx *f)
{
  add_mount (f, "/srv/x", "/x", true, MS_SHARED | MS_REC);
}

static void
m_sysctl (struct fx *f)
{
  free (f->spec.linux.sysctl.v[0].key);
  f->spec.linux.sysctl.v[0].key = strdup ("kernel.core_pattern");
}

static void
add_device (struct fx *f, char type, int64_t major, int64_t minor, const char *path)
{
  struct moat_device *d;

  f->spec.linux.devices = realloc (f->spec.linux.devices, (f->spec.linux.n_devices + 1) * sizeof *d);
  d = &f->spec.linux.devices[f->spec.linux.n_devices++];
  memset (d, 0, sizeof *d);
  d->path = strdup (path);
  d->type = type;
  d->major = major;
  d->minor = minor;
}

static void
m_devices_raw (struct fx *f)
{
  add_device (f, 'b', 8, 0, "/dev/xda");
}

static void
m_devices_host (struct fx *f)
{
  add_device (f, 'c', 10, 200, "/dev/net/tun");
}

static void
m_registry (struct fx *f)
{
  free (f->side.image);
  f->side.image = strdup ("evil.example.net/app:latest");
}

static void
m_digest (struct fx *f)
{
  free (f->side.image_digest);
  f->side.image_digest = NULL;
}

static void
m_lsm (struct fx *f)
{
  free (f->spec.process.apparmor_profile);
  free (f->spec.process.selinux_label);
  f->spec.process.apparmor_profile = strdup ("unconfined");
  f->spec.process.selinux_label = NULL;
}

static void
m_restart (struct fx *f)
{
  f->side.has_restart = true;
  f->side.restart_name = strdup ("on-failure");
  f->side.restart_max = 10;
}

static void
add_port (struct fx *f, const char *ip, int host, int ctr)
{
  f->side.has_ports = true;
  f->side.ports = realloc (f->side.ports, (f->side.n_ports + 1) * sizeof *f->side.ports);
  f->side.ports[f->side.n_ports] = (struct moat_port) { ip ? strdup (ip) : NULL, host, ctr, "tcp" };
  f->side.n_ports++;
}

static void
m_ports_priv (struct fx *f)
{
  add_port (f, "127.0.0.1", 80, 80);
}

static void
m_ports_open (struct fx *f)
{
  add_port (f, "127.0.0.1", 8080, 80);
}

static void
m_ports_iface (struct fx *f)
{
  add_port (f, "0.0.0.0", 8080, 80);
}

static void
m_health (struct fx *f)
{
  f->side.has_healthcheck = true;
  f->side.healthcheck = false;
}

static void
m_cgroup_parent (struct fx *f)
{
  f->side.has_cgroup_parent = true;
  f->side.cgroup_parent = strdup ("/custom");
}

static void
m_ulimits (struct fx *f)
{
  f->spec.process.n_rlimits = 0;
}

static const struct
{
  const char *rule;
  void (*mutate) (struct fx *f);
  const char *reason_has; /* the failing reason names the cause */
} cases[] = {
  { "moat.privileged", m_privileged, "Privileged" },
  { "moat.caps.all", m_caps_all, "ALL" },
  { "moat.caps.sys_admin", m_sys_admin, "CAP_SYS_ADMIN" },
  { "moat.caps.sys_module", m_sys_module, "ambient" },
  { "moat.caps.sys_ptrace", m_sys_ptrace, "CAP_SYS_PTRACE" },
  { "moat.caps.dac_read_search", m_dac_read_search, "inheritable" },
  { "moat.caps.net_admin", m_net_admin, "CAP_NET_ADMIN" },
  { "moat.caps.sys_rawio", m_sys_rawio, "CAP_SYS_RAWIO" },
  { "moat.caps.bpf", m_bpf, "CAP_BPF" },
  { "moat.caps.allowed", m_caps_allowed, "SYS_NICE" },
  { "moat.ns.host_pid", m_pid, "pid" },
  { "moat.ns.host_ipc", m_ipc, "ipc" },
  { "moat.ns.host_uts", m_uts, "uts" },
  { "moat.ns.host_net", m_net, "network" },
  { "moat.ns.host_user", m_user, "user" },
  { "moat.user.nonroot", m_root, "uid is 0" },
  { "moat.no_new_privileges", m_nnp, "noNewPrivileges" },
  { "moat.seccomp", m_seccomp, "unconfined" },
  { "moat.rootfs.readonly", m_readonly, "root.readonly" },
  { "moat.limits.memory", m_memory, "memory" },
  { "moat.limits.cpu", m_cpu, "cpu" },
  { "moat.limits.pids", m_pids, "pids" },
  { "moat.mounts.sensitive_rw", m_sensitive_rw, "/etc" },
  { "moat.mounts.sensitive_ro", m_sensitive_ro, "/usr/lib" },
  { "moat.mounts.host_rw", m_host_rw, "/srv/cache" },
  { "moat.mounts.engine_socket", m_socket, "docker.sock" },
  { "moat.mounts.propagation", m_propagation, "shared" },
  { "moat.sysctl", m_sysctl, "kernel.core_pattern" },
  { "moat.devices.raw", m_devices_raw, "/dev/xda" },
  { "moat.devices.host", m_devices_host, "/dev/net/tun" },
  { "moat.image.registry", m_registry, "evil.example.net" },
  { "moat.image.digest", m_digest, "not pinned" },
  { "moat.lsm", m_lsm, "Landlock" },
  { "moat.lsm.apparmor", m_lsm, "unconfined" },
  { "moat.lsm.selinux", m_lsm, "SELinux" },
  { "moat.restart_policy", m_restart, "10" },
  { "moat.ports.privileged", m_ports_priv, "80" },
  { "moat.ports.open", m_ports_open, "1 port" },
  { "moat.ports.host_interface", m_ports_iface, "every interface" },
  { "moat.healthcheck", m_health, "healthcheck" },
  { "moat.cgroup_parent", m_cgroup_parent, "/custom" },
  { "moat.ulimits", m_ulimits, "rlimits" },
};

/* Every rule has a case; the good config passes (or, for engine-level
   facts a config file lacks, is not applicable); the mutation fails it. */
static void
test_every_rule (void **state)
{
  char reason[MOAT_REASON_MAX];
  size_t i, k;

  (void) state;
  for (k = 0; k < moat_n_rules; k++)
    {
      bool found = false;
      for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
        found |= strcmp (cases[i].rule, moat_rules[k].id) == 0;
      if (!found)
        fail_msg ("rule %s has no test case", moat_rules[k].id);
    }
  for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
    {
      struct fx f;
      enum moat_verdict v;
      fx_load (&f);
      v = run_rule (&f, cases[i].rule, reason);
      if (v == MOAT_FAIL)
        fail_msg ("%s fails on the good config: %s", cases[i].rule, reason);
      cases[i].mutate (&f);
      v = run_rule (&f, cases[i].rule, reason);
      if (v != MOAT_FAIL)
        fail_msg ("%s does not fail after its mutation: %s", cases[i].rule, reason);
      if (strstr (reason, cases[i].reason_has) == NULL)
        fail_msg ("%s: reason `%s` does not mention `%s`", cases[i].rule, reason, cases[i].reason_has);
      fx_free (&f);
    }
}

/* The side-info rules pass when the engine datum is there and fine. */
static void
test_side_rules_pass (void **state)
{
  char reason[MOAT_REASON_MAX];
  struct fx f;

  (void) state;
  fx_load (&f);
  assert_int_equal (run_rule (&f, "moat.restart_policy", reason), MOAT_NA);
  assert_int_equal (run_rule (&f, "moat.ports.privileged", reason), MOAT_NA);
  f.side.has_restart = true;
  f.side.restart_name = strdup ("on-failure");
  f.side.restart_max = 5;
  assert_int_equal (run_rule (&f, "moat.restart_policy", reason), MOAT_PASS);
  add_port (&f, "127.0.0.1", 8080, 80);
  assert_int_equal (run_rule (&f, "moat.ports.privileged", reason), MOAT_PASS);
  assert_int_equal (run_rule (&f, "moat.ports.host_interface", reason), MOAT_PASS);
  f.side.has_healthcheck = f.side.healthcheck = true;
  assert_int_equal (run_rule (&f, "moat.healthcheck", reason), MOAT_PASS);
  f.side.has_user = true;
  f.side.user = strdup ("app:app");
  f.spec.process.user.uid = 0; /* Config.User wins for inspect input */
  assert_int_equal (run_rule (&f, "moat.user.nonroot", reason), MOAT_PASS);
  free (f.side.user);
  f.side.user = strdup ("root:0");
  assert_int_equal (run_rule (&f, "moat.user.nonroot", reason), MOAT_FAIL);
  /* Docker's default device rules: mknod on everything is not raw access. */
  f.spec.linux.resources.devices = calloc (2, sizeof (struct moat_device_rule));
  f.spec.linux.resources.devices[0] = (struct moat_device_rule) { true, 'c', -1, -1, "m" };
  f.spec.linux.resources.devices[1] = (struct moat_device_rule) { true, 'b', -1, -1, "m" };
  f.spec.linux.resources.n_devices = 2;
  assert_int_equal (run_rule (&f, "moat.devices.raw", reason), MOAT_PASS);
  strcpy (f.spec.linux.resources.devices[1].access, "rwm");
  assert_int_equal (run_rule (&f, "moat.devices.raw", reason), MOAT_FAIL);
  fx_free (&f);
}

/* ---- policy file ------------------------------------------------------ */

static void
expect_policy_error (const char *yaml, const char *msg)
{
  struct moat_policy p;
  struct moat_error err = { 0 };

  if (moat_policy_parse (yaml, strlen (yaml), "p.yaml", &p, &err) == 0)
    fail_msg ("policy accepted: %s", yaml);
  if (strstr (err.msg, msg) == NULL)
    fail_msg ("error `%s` does not contain `%s`", err.msg, msg);
  assert_null (p.overrides);
}

static void
test_policy_parse (void **state)
{
  static const char good[] = "version: 1\n"
                             "rules:\n"
                             "  moat.seccomp: deny\n"
                             "  moat.caps.sys_ptrace: warn\n"
                             "  moat.caps.allowed:\n"
                             "    action: deny\n"
                             "    allowed: [CHOWN, CAP_KILL]\n"
                             "  moat.image.registry:\n"
                             "    action: deny\n"
                             "    registries: [registry.example.com, docker.io/library]\n"
                             "overrides:\n"
                             "  - image: \"registry.example.com/debug/*\"\n"
                             "    rules: {moat.caps.sys_ptrace: off}\n"
                             "  - labels: {team: sre}\n"
                             "    digest: \"sha256:abc\"\n"
                             "    rules:\n"
                             "      moat.seccomp: warn\n";
  struct moat_policy p;
  struct moat_error err = { 0 };

  (void) state;
  if (moat_policy_parse (good, strlen (good), "p.yaml", &p, &err) < 0)
    fail_msg ("%s", err.msg);
  assert_true (p.from_file);
  assert_int_equal (p.action[moat_rule_find ("moat.seccomp")], MOAT_ACTION_DENY);
  assert_int_equal (p.action[moat_rule_find ("moat.caps.sys_ptrace")], MOAT_ACTION_WARN);
  assert_int_equal (p.action[moat_rule_find ("moat.privileged")], MOAT_ACTION_DENY); /* baseline kept */
  assert_int_equal (p.allowed_caps, (1ULL << CAP_CHOWN) | (1ULL << CAP_KILL));
  assert_int_equal (p.registries.n, 2);
  assert_string_equal (p.registries.v[1], "docker.io/library");
  assert_int_equal (p.n_overrides, 2);
  assert_string_equal (p.overrides[0].image, "registry.example.com/debug/*");
  assert_true (p.overrides[0].set[moat_rule_find ("moat.caps.sys_ptrace")]);
  assert_int_equal (p.overrides[0].action[moat_rule_find ("moat.caps.sys_ptrace")], MOAT_ACTION_OFF);
  assert_string_equal (p.overrides[1].labels.v[0].key, "team");
  moat_policy_free (&p);

  expect_policy_error ("rules: {}\n", "p.yaml:1:1: `version: 1` is required");
  expect_policy_error ("version: 2\n", "p.yaml:1:10: version: unsupported policy version `2`");
  expect_policy_error ("version: 1\nrulez: {}\n", "p.yaml:2:1: unknown key `rulez`");
  expect_policy_error ("version: 1\nrules:\n  moat.privileged: maybe\n",
                       "p.yaml:3:20: moat.privileged: `maybe` is not deny, warn or off");
  expect_policy_error ("version: 1\nrules:\n  moat.nope: deny\n", "p.yaml:3:3: rules: unknown rule `moat.nope`");
  expect_policy_error ("version: 1\nrules:\n  moat.caps.allowed: {allowed: [CAP_FLY]}\n",
                       "unknown capability `CAP_FLY`");
  expect_policy_error ("version: 1\nrules:\n  moat.seccomp: {action: deny, level: 3}\n", "unknown key `level`");
  expect_policy_error ("version: 1\noverrides:\n  - name: trusted\n    rules: {moat.privileged: off}\n",
                       "p.yaml:3:5: overrides[]: unknown key `name`");
  expect_policy_error ("version: 1\noverrides:\n  - rules: {moat.privileged: off}\n",
                       "needs a selector (image, digest or labels)");
  expect_policy_error ("version: 1\noverrides:\n  - image: x\n    rules: {moat.caps.allowed: {allowed: []}}\n",
                       "parameters go in the top-level rules");
  expect_policy_error ("version: 1\nrules: [a, b\n", "p.yaml:3:1: did not find expected ','");
  expect_policy_error ("version: 1\nrules:\n  moat.seccomp: deny\n  moat.seccomp: off\n", "given twice");
  expect_policy_error ("", "empty policy");
}

static void
test_policy_load (void **state)
{
  char dir[] = "/tmp/moat-policy-XXXXXX", path[64];
  struct moat_policy p;
  struct moat_error err = { 0 };
  FILE *f;

  (void) state;
  assert_non_null (mkdtemp (dir));
  snprintf (path, sizeof path, "%s/policy.yaml", dir);
  /* Missing default path: the baseline, nothing read. */
  assert_int_equal (moat_policy_load (path, true, &p, &err), 0);
  assert_false (p.from_file);
  moat_policy_free (&p);
  /* Missing explicit path: an error (admission turns it into a denial). */
  assert_int_equal (moat_policy_load (path, false, &p, &err), -1);
  assert_non_null (strstr (err.msg, "policy.yaml"));
  f = fopen (path, "w");
  fputs ("version: 1\nrules:\n  moat.ns.host_net: deny\n", f);
  fclose (f);
  assert_int_equal (moat_policy_load (path, true, &p, &err), 0);
  assert_true (p.from_file);
  assert_int_equal (p.action[moat_rule_find ("moat.ns.host_net")], MOAT_ACTION_DENY);
  moat_policy_free (&p);
  unlink (path);
  rmdir (dir);
}

/* Admission: the env var selects the policy; a broken one refuses all. */
static void
test_admit (void **state)
{
  char dir[] = "/tmp/moat-policy-XXXXXX", path[64];
  struct fx f;
  struct moat_error err = { 0 };
  FILE *fp;

  (void) state;
  assert_non_null (mkdtemp (dir));
  snprintf (path, sizeof path, "%s/policy.yaml", dir);
  fx_load (&f);
  fp = fopen (path, "w");
  fputs ("version: 1\nrules:\n  moat.caps.sys_admin: deny\n", fp);
  fclose (fp);
  setenv (MOAT_POLICY_ENV, path, 1);
  assert_int_equal (moat_policy_admit (&f.spec, "c1", &err), 0);
  add_cap (&f, CAP_SYS_ADMIN);
  add_cap (&f, CAP_SYS_MODULE);
  assert_int_equal (moat_policy_admit (&f.spec, "c1", &err), -1);
  assert_int_equal (err.code, MOAT_EPOLICY);
  assert_non_null (strstr (err.msg, "policy denied container `c1`: 2 rule(s) violated\n  moat.caps.sys_admin: "));
  assert_non_null (strstr (err.msg, "\n  moat.caps.sys_module: CAP_SYS_MODULE granted"));
  assert_non_null (strstr (err.msg, "(fix: drop CAP_SYS_ADMIN"));
  /* Fail closed: an invalid policy refuses even the good config. */
  fp = fopen (path, "w");
  fputs ("version: 1\nrules:\n  moat.caps.sys_admin: perhaps\n", fp);
  fclose (fp);
  fx_free (&f);
  fx_load (&f);
  assert_int_equal (moat_policy_admit (&f.spec, "c2", &err), -1);
  assert_int_equal (err.code, MOAT_EPOLICY);
  assert_non_null (strstr (err.msg, "policy denied container `c2`"));
  assert_non_null (strstr (err.msg, ":3:24:"));
  unlink (path);
  assert_int_equal (moat_policy_admit (&f.spec, "c3", &err), -1); /* explicit path missing */
  unsetenv (MOAT_POLICY_ENV);
  rmdir (dir);
  fx_free (&f);
}

/* Many violations: every rule id is still named within the bounded message. */
static void
test_admit_many (void **state)
{
  struct moat_seccomp *seccomp;
  size_t masked;
  struct fx f;
  struct moat_error err = { 0 };
  size_t i;

  (void) state;
  fx_load (&f);
  unsetenv (MOAT_POLICY_ENV);
  m_privileged (&f);
  /* privileged in config terms: no seccomp filter, no masked paths */
  seccomp = f.spec.linux.seccomp;
  masked = f.spec.linux.masked_paths.n;
  f.spec.linux.seccomp = NULL;
  f.spec.linux.masked_paths.n = 0;
  for (i = 0; i < 6; i++)
    add_mount (&f, "/var/run/docker.sock", "/s", false, 0);
  add_mount (&f, "/etc", "/e", false, 0);
  m_devices_raw (&f);
  if (access (MOAT_POLICY_DEFAULT_PATH, F_OK) == 0)
    skip ();
  assert_int_equal (moat_policy_admit (&f.spec, "c", &err), -1);
  for (i = 0; i < moat_n_rules; i++)
    if (moat_rules[i].baseline == MOAT_ACTION_DENY && strcmp (moat_rules[i].id, "moat.image.registry") != 0
        && strcmp (moat_rules[i].id, "moat.sysctl") != 0 && strstr (err.msg, moat_rules[i].id) == NULL)
      fail_msg ("%s missing from `%s`", moat_rules[i].id, err.msg);
  f.spec.linux.seccomp = seccomp;
  f.spec.linux.masked_paths.n = masked;
  fx_free (&f);
}

/* Overrides select by image and label, later ones win. */
static void
test_overrides (void **state)
{
  static const char yaml[] = "version: 1\n"
                             "rules: {moat.ns.host_pid: deny}\n"
                             "overrides:\n"
                             "  - image: \"registry.example.com/*\"\n"
                             "    rules: {moat.ns.host_pid: warn}\n"
                             "  - labels: {tier: edge}\n"
                             "    rules: {moat.ns.host_pid: deny}\n";
  struct moat_policy p;
  struct moat_evaluation ev;
  struct moat_error err = { 0 };
  struct fx f;
  int r = moat_rule_find ("moat.ns.host_pid");

  (void) state;
  fx_load (&f);
  m_pid (&f);
  assert_int_equal (moat_policy_parse (yaml, strlen (yaml), "p", &p, &err), 0);
  moat_policy_evaluate (&p, &f.spec, &f.side, &ev);
  assert_int_equal (ev.findings[r].action, MOAT_ACTION_WARN);
  assert_int_equal (ev.n_denied, 0);
  f.spec.annotations.v = realloc (f.spec.annotations.v, 2 * sizeof *f.spec.annotations.v);
  f.spec.annotations.v[1] = (struct moat_kv) { strdup ("tier"), strdup ("edge") };
  f.spec.annotations.n = 2;
  moat_policy_evaluate (&p, &f.spec, &f.side, &ev);
  assert_int_equal (ev.findings[r].action, MOAT_ACTION_DENY);
  free (f.side.image);
  f.side.image = strdup ("other.example.org/app");
  f.spec.annotations.n = 1;
  moat_policy_evaluate (&p, &f.spec, &f.side, &ev);
  assert_int_equal (ev.findings[r].action, MOAT_ACTION_DENY);
  f.spec.annotations.n = 2;
  moat_policy_free (&p);
  fx_free (&f);
}

/* ---- real engine output ---------------------------------------------- */

struct collect
{
  struct moat_evaluation ev[8];
  struct moat_side_info side[8];
  size_t n;
  struct moat_policy policy;
};

static int
collect_one (struct moat_audit_input *in, void *data, struct moat_error *err)
{
  struct collect *c = data;

  (void) err;
  if (c->n == 8)
    return -1;
  moat_policy_evaluate (&c->policy, &in->spec, &in->side, &c->ev[c->n]);
  c->side[c->n] = in->side;
  memset (&in->side, 0, sizeof in->side);
  c->n++;
  return 0;
}

static void
load_fixture (const char *name, struct collect *c)
{
  char *buf = NULL;
  size_t len;
  struct moat_error err = { 0 };
  int dfd = open (MOAT_FIXTURES, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

  memset (c, 0, sizeof *c);
  moat_policy_baseline (&c->policy);
  assert_true (dfd >= 0);
  if (moat_read_file_at (dfd, name, 1 << 22, &buf, &len, &err) < 0)
    fail_msg ("%s", err.msg);
  close (dfd);
  if (moat_inspect_parse (buf, len, collect_one, c, &err) < 0)
    fail_msg ("%s: %s", name, err.msg);
  free (buf);
}

static void
collect_free (struct collect *c)
{
  for (size_t i = 0; i < c->n; i++)
    moat_side_info_free (&c->side[i]);
  moat_policy_free (&c->policy);
}

static enum moat_verdict
verdict_of (const struct collect *c, size_t i, const char *rule)
{
  return c->ev[i].findings[moat_rule_find (rule)].verdict;
}

/* The drop-in promise: the default configs of runc spec, podman and
   docker pass the baseline (warnings only). */
static void
test_engine_defaults_admitted (void **state)
{
  static const char *const files[] = { "runc-spec.config.json", "podman-def.config.json",
                                       "podman-hard.config.json", "docker-def.config.json",
                                       "containerd-def.config.json", "podman-def.inspect.json",
                                       "docker-def.inspect.json", "docker-hard.inspect.json" };
  size_t i;

  (void) state;
  for (i = 0; i < sizeof files / sizeof files[0]; i++)
    {
      struct collect c;
      load_fixture (files[i], &c);
      assert_int_equal (c.n, 1);
      if (c.ev[0].n_denied != 0)
        for (size_t k = 0; k < c.ev[0].n; k++)
          if (c.ev[0].findings[k].verdict == MOAT_FAIL && c.ev[0].findings[k].action == MOAT_ACTION_DENY)
            fail_msg ("%s denied by %s: %s", files[i], moat_rules[k].id, c.ev[0].findings[k].reason);
      collect_free (&c);
    }
}

static void
test_inspect_podman (void **state)
{
  struct collect c;

  (void) state;
  load_fixture ("podman-priv.inspect.json", &c);
  assert_int_equal (c.side[0].kind, MOAT_INPUT_PODMAN);
  assert_string_equal (c.side[0].name, "priv");
  assert_string_equal (c.side[0].image, "localhost/bb:latest");
  assert_int_equal (verdict_of (&c, 0, "moat.privileged"), MOAT_FAIL);
  assert_int_equal (verdict_of (&c, 0, "moat.caps.all"), MOAT_FAIL);
  assert_int_equal (verdict_of (&c, 0, "moat.seccomp"), MOAT_FAIL);
  assert_int_equal (verdict_of (&c, 0, "moat.devices.raw"), MOAT_FAIL);
  assert_true (c.ev[0].n_denied > 5);
  collect_free (&c);

  load_fixture ("podman-hostns.inspect.json", &c);
  assert_int_equal (verdict_of (&c, 0, "moat.ns.host_pid"), MOAT_FAIL);
  assert_int_equal (verdict_of (&c, 0, "moat.ns.host_uts"), MOAT_FAIL);
  assert_int_equal (verdict_of (&c, 0, "moat.ns.host_net"), MOAT_FAIL);
  assert_int_equal (verdict_of (&c, 0, "moat.ns.host_ipc"), MOAT_PASS); /* podman reports "shareable" */
  assert_int_equal (verdict_of (&c, 0, "moat.caps.sys_admin"), MOAT_FAIL);
  assert_int_equal (verdict_of (&c, 0, "moat.seccomp"), MOAT_FAIL);
  assert_int_equal (verdict_of (&c, 0, "moat.mounts.sensitive_rw"), MOAT_FAIL);
  assert_int_equal (verdict_of (&c, 0, "moat.mounts.engine_socket"), MOAT_FAIL);
  collect_free (&c);

  load_fixture ("podman-hard.inspect.json", &c);
  assert_int_equal (verdict_of (&c, 0, "moat.user.nonroot"), MOAT_PASS);
  assert_int_equal (verdict_of (&c, 0, "moat.rootfs.readonly"), MOAT_PASS);
  assert_int_equal (verdict_of (&c, 0, "moat.no_new_privileges"), MOAT_PASS);
  assert_int_equal (verdict_of (&c, 0, "moat.limits.memory"), MOAT_PASS);
  assert_int_equal (verdict_of (&c, 0, "moat.limits.pids"), MOAT_PASS);
  assert_int_equal (verdict_of (&c, 0, "moat.limits.cpu"), MOAT_PASS);
  assert_int_equal (verdict_of (&c, 0, "moat.caps.allowed"), MOAT_PASS);
  collect_free (&c);
}

static void
test_inspect_docker (void **state)
{
  struct collect c;

  (void) state;
  load_fixture ("docker-array.inspect.json", &c);
  assert_int_equal (c.n, 2);
  assert_int_equal (c.side[0].kind, MOAT_INPUT_DOCKER);
  assert_int_equal (c.ev[0].n_denied, 0);
  assert_int_equal (verdict_of (&c, 1, "moat.privileged"), MOAT_FAIL);
  collect_free (&c);

  load_fixture ("docker-hostns.inspect.json", &c);
  assert_int_equal (verdict_of (&c, 0, "moat.ns.host_pid"), MOAT_FAIL);
  assert_int_equal (verdict_of (&c, 0, "moat.ns.host_ipc"), MOAT_FAIL);
  assert_int_equal (verdict_of (&c, 0, "moat.ns.host_uts"), MOAT_FAIL);
  assert_int_equal (verdict_of (&c, 0, "moat.ns.host_net"), MOAT_FAIL);
  assert_int_equal (verdict_of (&c, 0, "moat.ns.host_user"), MOAT_FAIL);
  assert_int_equal (verdict_of (&c, 0, "moat.mounts.engine_socket"), MOAT_FAIL);
  assert_int_equal (verdict_of (&c, 0, "moat.mounts.sensitive_rw"), MOAT_FAIL);
  assert_int_equal (verdict_of (&c, 0, "moat.seccomp"), MOAT_FAIL);
  assert_int_equal (verdict_of (&c, 0, "moat.devices.raw"), MOAT_FAIL);
  assert_int_equal (verdict_of (&c, 0, "moat.restart_policy"), MOAT_FAIL);
  collect_free (&c);

  load_fixture ("docker-hard.inspect.json", &c);
  assert_int_equal (verdict_of (&c, 0, "moat.user.nonroot"), MOAT_PASS);
  assert_int_equal (verdict_of (&c, 0, "moat.healthcheck"), MOAT_PASS);
  assert_int_equal (verdict_of (&c, 0, "moat.restart_policy"), MOAT_PASS);
  assert_int_equal (verdict_of (&c, 0, "moat.caps.allowed"), MOAT_PASS);
  assert_int_equal (verdict_of (&c, 0, "moat.no_new_privileges"), MOAT_PASS);
  collect_free (&c);

  load_fixture ("docker-ports.inspect.json", &c);
  assert_int_equal (verdict_of (&c, 0, "moat.ports.privileged"), MOAT_FAIL);
  assert_int_equal (verdict_of (&c, 0, "moat.ports.host_interface"), MOAT_FAIL);
  assert_int_equal (verdict_of (&c, 0, "moat.mounts.propagation"), MOAT_FAIL);
  assert_int_equal (verdict_of (&c, 0, "moat.cgroup_parent"), MOAT_FAIL);
  assert_int_equal (verdict_of (&c, 0, "moat.ulimits"), MOAT_PASS);
  collect_free (&c);
}

static int
never (struct moat_audit_input *in, void *data, struct moat_error *err)
{
  (void) in;
  (void) data;
  (void) err;
  fail_msg ("callback reached on bad input");
  return -1;
}

static void
test_inspect_bad (void **state)
{
  static const char *const bad[] = { "", "[", "42", "{}", "[1]", "{\"HostConfig\": 3}", "[{\"Config\": {}}]",
                                     "{\"a\": 1, \"a\": 2}" };
  struct moat_error err;
  size_t i;

  (void) state;
  for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
    {
      memset (&err, 0, sizeof err);
      assert_int_equal (moat_inspect_parse (bad[i], strlen (bad[i]), never, NULL, &err), -1);
      assert_true (err.msg[0] != '\0');
    }
}

static int
count_one (struct moat_audit_input *in, void *data, struct moat_error *err)
{
  (void) in;
  (void) err;
  ++*(size_t *) data;
  return 0;
}

/* Inspect arrays are read one element at a time: the framing between
   elements is checked by hand, so check it refuses what jansson refuses and
   places errors in the whole text. */
static void
test_inspect_array_framing (void **state)
{
#define EL "{\"HostConfig\": {}}"
  static const struct
  {
    const char *text;
    int ret;
    size_t n;
    const char *msg;
    size_t nul; /* the length counts the NUL that ends the text */
  } cases[] = {
    { " [ ] \n", 0, 0, NULL, 0 },
    { "[" EL "]", 0, 1, NULL, 0 },
    { "\r\n\t[ " EL " ,\n" EL " ]\n", 0, 2, NULL, 0 },
    { "[" EL ",]", -1, 1, "1:21:", 0 },
    { "[" EL " " EL "]", -1, 1, "`,` or `]` expected", 0 },
    { "[" EL "]x", -1, 1, "1:21: end of file expected", 0 },
    { "[" EL, -1, 1, "`,` or `]` expected", 0 },
    { "[" EL ",\n  {\"a\": 1, \"a\": 2}]", -1, 1, "2:", 0 },
    { "[" EL ", 1]", -1, 1, "1:22: '[' or '{' expected", 0 },
    { "[" EL ", []]", -1, 1, "[1]", 0 },
    { "[" EL "]", -1, 1, "1:21: end of file expected", 1 },
  };
#undef EL
  size_t i, n;
  struct moat_error err;

  (void) state;
  for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
    {
      memset (&err, 0, sizeof err);
      n = 0;
      if (moat_inspect_parse (cases[i].text, strlen (cases[i].text) + cases[i].nul, count_one, &n, &err)
          != cases[i].ret)
        fail_msg ("`%s`: wrong result (%s)", cases[i].text, err.msg);
      assert_int_equal (n, cases[i].n);
      if (cases[i].msg && strstr (err.msg, cases[i].msg) == NULL)
        fail_msg ("`%s`: `%s` does not contain `%s`", cases[i].text, err.msg, cases[i].msg);
    }
}

/* A config.json may hold integers above INT64_MAX (Docker writes
   RLIM_INFINITY as 18446744073709551615), which jansson alone refuses: audit
   reads it as the spec parser does.  An inspect document is not given that
   second chance. */
static void
test_inspect_big_integers (void **state)
{
  static const char oci[] = "{\"ociVersion\": \"1.0.2\", \"root\": {\"path\": \"rootfs\"}, "
                            "\"process\": {\"cwd\": \"/\", \"args\": [\"sh\"], \"rlimits\": [{\"type\": "
                            "\"RLIMIT_MEMLOCK\", \"hard\": 18446744073709551615, \"soft\": 18446744073709551615}]}}";
  static const char inspect[] = "{\"HostConfig\": {\"Memory\": 18446744073709551615}}";
  struct moat_error err = { 0 };
  size_t n = 0;

  (void) state;
  if (moat_inspect_parse (oci, strlen (oci), count_one, &n, &err) < 0)
    fail_msg ("%s", err.msg);
  assert_int_equal (n, 1);
  assert_int_equal (moat_inspect_parse (inspect, strlen (inspect), count_one, &n, &err), -1);
  assert_non_null (strstr (err.msg, "too big integer"));
  assert_int_equal (n, 1);
}

/* CIS outcome: a live-engine check is NOTE, never PASS, on a config file. */
static void
test_cis (void **state)
{
  struct collect c;
  struct moat_cis_outcome o;
  struct moat_interner *strings = moat_interner_new ();
  struct moat_row row;
  struct moat_error err = { 0 };
  size_t i;
  bool seen_532 = false;

  (void) state;
  assert_int_equal (moat_n_cis_checks, 34);
  load_fixture ("runc-spec.config.json", &c);
  assert_int_equal (moat_row_fill (&row, &c.ev[0], strings, &err), 0);
  /* interning: equal reasons share one copy */
  assert_ptr_equal (moat_intern (strings, row.reason[moat_rule_find ("moat.ports.open")]),
                    row.reason[moat_rule_find ("moat.ports.privileged")]);
  for (i = 0; i < moat_n_cis_checks; i++)
    {
      const struct moat_cis_check *k = &moat_cis_checks[i];
      for (size_t r = 0; r < 8 && k->rules[r]; r++)
        assert_true (moat_rule_find (k->rules[r]) >= 0);
      moat_cis_outcome (k, &row, &c.side[0], &o);
      if (strcmp (k->id, "5.1") == 0 || strcmp (k->id, "5.7") == 0 || strcmp (k->id, "5.8") == 0)
        assert_int_equal (o.result, MOAT_CIS_NOTE);
      if (strcmp (k->id, "5.22") == 0) /* runc spec has no seccomp */
        assert_int_equal (o.result, MOAT_CIS_WARN);
      if (strcmp (k->id, "5.13") == 0)
        assert_int_equal (o.result, MOAT_CIS_PASS);
      seen_532 |= strcmp (k->id, "5.32") == 0;
    }
  assert_true (seen_532);
  collect_free (&c);
  moat_interner_free (strings);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_every_rule),     cmocka_unit_test (test_side_rules_pass),
    cmocka_unit_test (test_policy_parse),   cmocka_unit_test (test_policy_load),
    cmocka_unit_test (test_admit),          cmocka_unit_test (test_admit_many),
    cmocka_unit_test (test_overrides),      cmocka_unit_test (test_engine_defaults_admitted),
    cmocka_unit_test (test_inspect_podman), cmocka_unit_test (test_inspect_docker),
    cmocka_unit_test (test_inspect_bad),    cmocka_unit_test (test_cis),
    cmocka_unit_test (test_inspect_array_framing), cmocka_unit_test (test_inspect_big_integers),
  };

  unsetenv (MOAT_POLICY_ENV);
  return cmocka_run_group_tests (tests, NULL, NULL);
}
