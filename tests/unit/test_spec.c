/* SPDX-License-Identifier: GPL-2.0-or-later */
/* spec/: config.json -> struct moat_spec.  A realistic config must come out
 * with the expected values; every invalid input must fail with a message that
 * names the offending field, and leave the output zeroed (ASan in CI catches
 * leaks on the error paths). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spec/spec.h"
#include "spec/spec_internal.h"

static const char good_config[] =
  "{\n"
  "  \"ociVersion\": \"1.2.0\",\n"
  "  \"root\": {\"path\": \"rootfs\", \"readonly\": true},\n"
  "  \"hostname\": \"box\",\n"
  "  \"domainname\": \"example.org\",\n"
  "  \"unknownTopLevel\": {\"ignored\": [1, 2, 3]},\n"
  "  \"process\": {\n"
  "    \"terminal\": true,\n"
  "    \"consoleSize\": {\"height\": 25, \"width\": 80},\n"
  "    \"user\": {\"uid\": 1000, \"gid\": 100, \"umask\": 18, \"additionalGids\": [5, 10]},\n"
  "    \"args\": [\"/bin/sh\", \"-c\", \"echo hi\"],\n"
  "    \"env\": [\"PATH=/bin\", \"EMPTY=\"],\n"
  "    \"cwd\": \"/srv/./app/\",\n"
  "    \"capabilities\": {\n"
  "      \"bounding\": [\"CAP_CHOWN\", \"CAP_NET_BIND_SERVICE\", \"CAP_SYS_ADMIN\"],\n"
  "      \"effective\": [\"CAP_KILL\"],\n"
  "      \"permitted\": [\"CAP_KILL\", \"CAP_CHECKPOINT_RESTORE\"],\n"
  "      \"inheritable\": [],\n"
  "      \"ambient\": null\n"
  "    },\n"
  "    \"rlimits\": [\n"
  "      {\"type\": \"RLIMIT_NOFILE\", \"soft\": 1024, \"hard\": 4096},\n"
  "      {\"type\": \"RLIMIT_MEMLOCK\", \"soft\": 18446744073709551615, \"hard\": 18446744073709551615}\n"
  "    ],\n"
  "    \"noNewPrivileges\": true,\n"
  "    \"oomScoreAdj\": -500,\n"
  "    \"apparmorProfile\": \"moat-default\",\n"
  "    \"selinuxLabel\": \"\",\n"
  "    \"scheduler\": {\"policy\": \"SCHED_RR\", \"priority\": 5, \"flags\": [\"SCHED_FLAG_RESET_ON_FORK\"]},\n"
  "    \"ioPriority\": {\"class\": \"IOPRIO_CLASS_BE\", \"priority\": 3}\n"
  "  },\n"
  "  \"mounts\": [\n"
  "    {\"destination\": \"/proc\", \"type\": \"proc\", \"source\": \"proc\", \"options\": [\"nosuid\", \"noexec\", \"nodev\"]},\n"
  "    {\"destination\": \"/dev/pts/\", \"type\": \"devpts\", \"source\": \"devpts\",\n"
  "     \"options\": [\"nosuid\", \"noexec\", \"newinstance\", \"ptmxmode=0666\", \"mode=0620\", \"gid=5\"]},\n"
  "    {\"destination\": \"/data//x/../y\", \"type\": \"bind\", \"source\": \"/srv/data\",\n"
  "     \"options\": [\"rbind\", \"nosuid\", \"ro\", \"rw\", \"ro\", \"rslave\", \"rro\", \"rnosuid\", \"nosymfollow\", \"suid\"]},\n"
  "    {\"destination\": \"/tmp\", \"type\": \"tmpfs\", \"source\": \"tmpfs\",\n"
  "     \"options\": [\"ro\", \"rw\", \"size=65536k\", \"tmpcopyup\", \"strictatime\", \"mode=1777\"]}\n"
  "  ],\n"
  "  \"hooks\": {\n"
  "    \"createRuntime\": [{\"path\": \"/usr/bin/hook\", \"args\": [\"hook\", \"a\"], \"env\": [\"X=1\"], \"timeout\": 5}],\n"
  "    \"poststop\": [{\"path\": \"/bin/true\"}]\n"
  "  },\n"
  "  \"annotations\": {\"org.example.key\": \"value\"},\n"
  "  \"linux\": {\n"
  "    \"namespaces\": [{\"type\": \"pid\"}, {\"type\": \"network\", \"path\": \"/run/netns/n1\"},\n"
  "                   {\"type\": \"mount\"}, {\"type\": \"ipc\"}, {\"type\": \"uts\"}, {\"type\": \"user\"},\n"
  "                   {\"type\": \"cgroup\"}, {\"type\": \"time\"}],\n"
  "    \"uidMappings\": [{\"containerID\": 0, \"hostID\": 100000, \"size\": 65536}],\n"
  "    \"gidMappings\": [{\"containerID\": 0, \"hostID\": 100000, \"size\": 1000},\n"
  "                    {\"containerID\": 1000, \"hostID\": 5000, \"size\": 1}],\n"
  "    \"sysctl\": {\"net.ipv4.ip_forward\": \"1\", \"kernel.shm_rmid_forced\": \"1\",\n"
  "               \"fs.mqueue.msg_max\": \"64\", \"kernel.domainname\": \"example.org\"},\n"
  "    \"resources\": {\n"
  "      \"devices\": [{\"allow\": false, \"access\": \"rwm\"},\n"
  "                  {\"allow\": true, \"type\": \"c\", \"major\": 1, \"minor\": 3, \"access\": \"mwr\"},\n"
  "                  {\"allow\": true, \"type\": \"c\", \"major\": 136, \"access\": \"rw\"}],\n"
  "      \"memory\": {\"limit\": 536870912, \"swap\": -1, \"swappiness\": 10, \"disableOOMKiller\": false},\n"
  "      \"cpu\": {\"shares\": 512, \"quota\": 50000, \"period\": 100000, \"cpus\": \"0-1,3\", \"mems\": \"0\", \"idle\": 1},\n"
  "      \"pids\": {\"limit\": 100},\n"
  "      \"blockIO\": {\"weight\": 500, \"weightDevice\": [{\"major\": 8, \"minor\": 0, \"weight\": 200}],\n"
  "                  \"throttleReadBpsDevice\": [{\"major\": 8, \"minor\": 0, \"rate\": 1048576}],\n"
  "                  \"throttleWriteIOPSDevice\": [{\"major\": 8, \"minor\": 16, \"rate\": 100}]},\n"
  "      \"hugepageLimits\": [{\"pageSize\": \"2MB\", \"limit\": 1073741824}],\n"
  "      \"network\": {\"classID\": 1048577, \"priorities\": [{\"name\": \"eth0\", \"priority\": 500}]},\n"
  "      \"unified\": {\"memory.high\": \"max\", \"io.max\": \"8:0 rbps=1048576\"}\n"
  "    },\n"
  "    \"cgroupsPath\": \"/moat/box\",\n"
  "    \"seccomp\": {\n"
  "      \"defaultAction\": \"SCMP_ACT_ERRNO\", \"defaultErrnoRet\": 1,\n"
  "      \"architectures\": [\"SCMP_ARCH_X86_64\", \"SCMP_ARCH_X86\"],\n"
  "      \"flags\": [\"SECCOMP_FILTER_FLAG_LOG\"],\n"
  "      \"listenerPath\": \"/run/listener.sock\", \"listenerMetadata\": \"meta\",\n"
  "      \"syscalls\": [\n"
  "        {\"names\": [\"read\", \"write\"], \"action\": \"SCMP_ACT_ALLOW\"},\n"
  "        {\"names\": [\"personality\"], \"action\": \"SCMP_ACT_ALLOW\",\n"
  "         \"args\": [{\"index\": 0, \"value\": 4294967295, \"op\": \"SCMP_CMP_EQ\"}]},\n"
  "        {\"names\": [\"clone\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 38,\n"
  "         \"args\": [{\"index\": 0, \"value\": 2114060288, \"valueTwo\": 18446744073709551615, \"op\": \"SCMP_CMP_MASKED_EQ\"}]},\n"
  "        {\"names\": [\"kexec_load\"], \"action\": \"SCMP_ACT_KILL\"},\n"
  "        {\"names\": [\"mkdir\"], \"action\": \"SCMP_ACT_NOTIFY\"}\n"
  "      ]\n"
  "    },\n"
  "    \"rootfsPropagation\": \"rslave\",\n"
  "    \"maskedPaths\": [\"/proc/kcore\", \"/proc//keys/\"],\n"
  "    \"readonlyPaths\": [\"/proc/sys\"],\n"
  "    \"devices\": [{\"path\": \"/dev/fuse\", \"type\": \"c\", \"major\": 10, \"minor\": 229, \"fileMode\": 438, \"uid\": 0, \"gid\": 0},\n"
  "                {\"path\": \"/dev/fifo0\", \"type\": \"p\"}],\n"
  "    \"mountLabel\": \"system_u:object_r:container_file_t:s0\",\n"
  "    \"personality\": {\"domain\": \"LINUX32\"},\n"
  "    \"timeOffsets\": {\"monotonic\": {\"secs\": -3600, \"nanosecs\": 5}, \"boottime\": {\"secs\": 86400}},\n"
  "    \"intelRdt\": null,\n"
  "    \"futureField\": true\n"
  "  }\n"
  "}\n";

#define CAP(n) (UINT64_C (1) << (n))

static struct moat_spec
parse_ok (const char *json)
{
  struct moat_spec s;
  struct moat_error err = { 0 };

  if (moat_spec_parse (json, strlen (json), &s, &err) < 0)
    fail_msg ("unexpected parse error: %s", err.msg);
  return s;
}

/* podman --privileged passes the whole st_mode (type bits included) as
 * linux.devices[].fileMode: accepted, permission bits kept. */
static void
test_device_file_mode_with_type_bits (void **state)
{
  static const char cfg[] = "{\"ociVersion\": \"1.0.0\", \"root\": {\"path\": \"rootfs\"},"
                            " \"linux\": {\"devices\": [{\"path\": \"/dev/sda\", \"type\": \"b\","
                            " \"major\": 8, \"minor\": 0, \"fileMode\": 25008}]}}";
  struct moat_spec s = parse_ok (cfg);
  struct moat_error err = { 0 };
  static const char bad[] = "{\"ociVersion\": \"1.0.0\", \"root\": {\"path\": \"rootfs\"},"
                            " \"linux\": {\"devices\": [{\"path\": \"/dev/sda\", \"type\": \"b\","
                            " \"major\": 8, \"minor\": 0, \"fileMode\": 8624}]}}";

  assert_int_equal (s.linux.n_devices, 1);
  assert_true (s.linux.devices[0].has_file_mode);
  assert_int_equal (s.linux.devices[0].file_mode, 0660); /* 25008 = 060660 */
  moat_spec_free (&s);
  /* 8624 = 020660: a char-device mode on a block device. */
  assert_int_equal (moat_spec_parse (bad, strlen (bad), &s, &err), -1);
  assert_non_null (strstr (err.msg, "linux.devices[0].fileMode"));
}

static void
test_good_top (void **state)
{
  struct moat_spec s = parse_ok (good_config);

  assert_string_equal (s.oci_version, "1.2.0");
  assert_string_equal (s.root_path, "rootfs");
  assert_true (s.root_readonly);
  assert_string_equal (s.hostname, "box");
  assert_string_equal (s.domainname, "example.org");
  assert_int_equal (s.annotations.n, 1);
  assert_string_equal (s.annotations.v[0].key, "org.example.key");
  assert_string_equal (s.annotations.v[0].value, "value");
  assert_int_equal (s.hooks[MOAT_HOOK_CREATE_RUNTIME].n, 1);
  assert_string_equal (s.hooks[MOAT_HOOK_CREATE_RUNTIME].v[0].path, "/usr/bin/hook");
  assert_int_equal (s.hooks[MOAT_HOOK_CREATE_RUNTIME].v[0].args.n, 2);
  assert_string_equal (s.hooks[MOAT_HOOK_CREATE_RUNTIME].v[0].env.v[0], "X=1");
  assert_int_equal (s.hooks[MOAT_HOOK_CREATE_RUNTIME].v[0].timeout, 5);
  assert_int_equal (s.hooks[MOAT_HOOK_POSTSTOP].n, 1);
  assert_int_equal (s.hooks[MOAT_HOOK_POSTSTOP].v[0].timeout, 0);
  assert_int_equal (s.hooks[MOAT_HOOK_PRESTART].n, 0);
  moat_spec_free (&s);
  assert_null (s.oci_version);
}

static void
test_good_mounts (void **state)
{
  struct moat_spec s = parse_ok (good_config);
  struct moat_mount *m;

  assert_int_equal (s.n_mounts, 4);
  m = &s.mounts[0];
  assert_string_equal (m->destination, "/proc");
  assert_string_equal (m->type, "proc");
  assert_int_equal (m->flags, MS_NOSUID | MS_NOEXEC | MS_NODEV);
  assert_false (m->bind);
  assert_null (m->data);

  m = &s.mounts[1];
  assert_string_equal (m->destination, "/dev/pts");
  assert_int_equal (m->flags, MS_NOSUID | MS_NOEXEC);
  assert_string_equal (m->data, "newinstance,ptmxmode=0666,mode=0620,gid=5");

  m = &s.mounts[2];
  assert_string_equal (m->destination, "/data/y");
  assert_true (m->bind);
  assert_true (m->recursive);
  /* "ro", "rw", "ro": the last one wins; "suid" clears MS_NOSUID. */
  assert_int_equal (m->flags, MS_RDONLY | MS_NOSYMFOLLOW);
  assert_int_equal (m->clear_flags, MS_NOSUID);
  assert_int_equal (m->propagation, MS_SLAVE | MS_REC);
  assert_true (m->recursive_ro);
  assert_true (m->recursive_nosuid);
  assert_false (m->recursive_nodev);
  assert_true (m->nosymfollow);
  assert_null (m->data);

  m = &s.mounts[3];
  assert_string_equal (m->type, "tmpfs");
  assert_int_equal (m->flags, MS_STRICTATIME);
  assert_int_equal (m->clear_flags, MS_RDONLY);
  assert_true (m->tmpcopyup);
  assert_false (m->bind);
  assert_string_equal (m->data, "size=65536k,mode=1777");
  moat_spec_free (&s);
}

static void
test_good_process (void **state)
{
  struct moat_spec s = parse_ok (good_config);
  struct moat_process *p = &s.process;

  assert_true (s.has_process);
  assert_true (p->terminal);
  assert_true (p->has_console_size);
  assert_int_equal (p->console_height, 25);
  assert_int_equal (p->console_width, 80);
  assert_int_equal (p->user.uid, 1000);
  assert_int_equal (p->user.gid, 100);
  assert_true (p->user.has_umask);
  assert_int_equal (p->user.umask, 022);
  assert_int_equal (p->user.n_additional_gids, 2);
  assert_int_equal (p->user.additional_gids[1], 10);
  assert_int_equal (p->args.n, 3);
  assert_string_equal (p->args.v[2], "echo hi");
  assert_null (p->args.v[3]); /* NULL-terminated, ready for execve */
  assert_int_equal (p->env.n, 2);
  assert_string_equal (p->cwd, "/srv/app");
  assert_true (p->has_caps);
  assert_int_equal (p->caps.bounding, CAP (0) | CAP (10) | CAP (21));
  assert_int_equal (p->caps.effective, CAP (5));
  assert_int_equal (p->caps.permitted, CAP (5) | CAP (40));
  assert_int_equal (p->caps.inheritable, 0);
  assert_int_equal (p->caps.ambient, 0);
  assert_int_equal (p->n_rlimits, 2);
  assert_int_equal (p->rlimits[0].resource, RLIMIT_NOFILE);
  assert_int_equal (p->rlimits[0].soft, 1024);
  assert_int_equal (p->rlimits[0].hard, 4096);
  assert_int_equal (p->rlimits[1].resource, RLIMIT_MEMLOCK);
  assert_true (p->rlimits[1].soft == UINT64_MAX);
  assert_true (p->no_new_privileges);
  assert_true (p->has_oom_score_adj);
  assert_int_equal (p->oom_score_adj, -500);
  assert_string_equal (p->apparmor_profile, "moat-default");
  assert_null (p->selinux_label);
  assert_true (p->has_scheduler);
  assert_int_equal (p->sched_policy, SCHED_RR);
  assert_int_equal (p->sched_priority, 5);
  assert_int_equal (p->sched_flags, 1);
  assert_true (p->has_io_priority);
  assert_int_equal (p->io_priority_class, 2);
  assert_int_equal (p->io_priority, 3);
  moat_spec_free (&s);
}

static void
test_good_linux (void **state)
{
  struct moat_spec s = parse_ok (good_config);
  struct moat_linux *l = &s.linux;
  const struct moat_namespace *ns;

  assert_true (s.has_linux);
  assert_int_equal (l->n_namespaces, 8);
  assert_int_equal (l->namespaces[0].type, CLONE_NEWPID);
  assert_null (l->namespaces[0].path);
  ns = moat_spec_namespace (&s, CLONE_NEWNET);
  assert_non_null (ns);
  assert_string_equal (ns->path, "/run/netns/n1");
  assert_non_null (moat_spec_namespace (&s, CLONE_NEWTIME));
  assert_int_equal (l->n_uid_mappings, 1);
  assert_int_equal (l->uid_mappings[0].host_id, 100000);
  assert_int_equal (l->uid_mappings[0].size, 65536);
  assert_int_equal (l->n_gid_mappings, 2);
  assert_int_equal (l->gid_mappings[1].container_id, 1000);
  assert_int_equal (l->sysctl.n, 4);
  assert_string_equal (l->cgroups_path, "/moat/box");
  assert_int_equal (l->rootfs_propagation, MS_SLAVE | MS_REC);
  assert_int_equal (l->masked_paths.n, 2);
  assert_string_equal (l->masked_paths.v[1], "/proc/keys");
  assert_string_equal (l->readonly_paths.v[0], "/proc/sys");
  assert_int_equal (l->n_devices, 2);
  assert_string_equal (l->devices[0].path, "/dev/fuse");
  assert_int_equal (l->devices[0].type, 'c');
  assert_int_equal (l->devices[0].major, 10);
  assert_int_equal (l->devices[0].minor, 229);
  assert_true (l->devices[0].has_file_mode);
  assert_int_equal (l->devices[0].file_mode, 0666);
  assert_int_equal (l->devices[1].type, 'p');
  assert_string_equal (l->mount_label, "system_u:object_r:container_file_t:s0");
  assert_true (l->has_personality);
  assert_int_equal (l->personality, PER_LINUX32);
  assert_true (l->time_monotonic.set);
  assert_int_equal (l->time_monotonic.secs, -3600);
  assert_int_equal (l->time_monotonic.nanosecs, 5);
  assert_true (l->time_boottime.set);
  assert_int_equal (l->time_boottime.secs, 86400);
  assert_false (l->has_intel_rdt);
  moat_spec_free (&s);
}

static void
test_good_seccomp (void **state)
{
  struct moat_spec s = parse_ok (good_config);
  struct moat_seccomp *sc = s.linux.seccomp;

  assert_non_null (sc);
  assert_int_equal (sc->default_action, MOAT_SCMP_ERRNO);
  assert_true (sc->has_default_errno_ret);
  assert_int_equal (sc->default_errno_ret, 1);
  assert_int_equal (sc->architectures.n, 2);
  assert_string_equal (sc->architectures.v[0], "SCMP_ARCH_X86_64");
  assert_string_equal (sc->flags.v[0], "SECCOMP_FILTER_FLAG_LOG");
  assert_string_equal (sc->listener_path, "/run/listener.sock");
  assert_string_equal (sc->listener_metadata, "meta");
  assert_int_equal (sc->n_rules, 5);
  assert_int_equal (sc->rules[0].names.n, 2);
  assert_int_equal (sc->rules[0].action, MOAT_SCMP_ALLOW);
  assert_false (sc->rules[0].has_errno_ret);
  assert_int_equal (sc->rules[1].n_args, 1);
  assert_int_equal (sc->rules[1].args[0].value, 4294967295u);
  assert_int_equal (sc->rules[1].args[0].op, MOAT_SCMP_CMP_EQ);
  assert_int_equal (sc->rules[2].action, MOAT_SCMP_ERRNO);
  assert_true (sc->rules[2].has_errno_ret);
  assert_int_equal (sc->rules[2].errno_ret, 38);
  assert_int_equal (sc->rules[2].args[0].op, MOAT_SCMP_CMP_MASKED_EQ);
  assert_int_equal (sc->rules[2].args[0].value, 2114060288);
  assert_true (sc->rules[2].args[0].value_two == UINT64_MAX);
  assert_int_equal (sc->rules[3].action, MOAT_SCMP_KILL_THREAD);
  assert_int_equal (sc->rules[4].action, MOAT_SCMP_NOTIFY);
  moat_spec_free (&s);
}

static void
test_good_resources (void **state)
{
  struct moat_spec s = parse_ok (good_config);
  struct moat_resources *r = &s.linux.resources;

  assert_true (s.linux.has_resources);
  assert_int_equal (r->n_devices, 3);
  assert_false (r->devices[0].allow);
  assert_int_equal (r->devices[0].type, 'a');
  assert_int_equal (r->devices[0].major, -1);
  assert_int_equal (r->devices[0].minor, -1);
  assert_string_equal (r->devices[0].access, "rwm");
  assert_true (r->devices[1].allow);
  assert_int_equal (r->devices[1].type, 'c');
  assert_int_equal (r->devices[1].major, 1);
  assert_int_equal (r->devices[1].minor, 3);
  assert_string_equal (r->devices[1].access, "rwm");
  assert_int_equal (r->devices[2].minor, -1);
  assert_string_equal (r->devices[2].access, "rw");
  assert_true (r->memory.has_limit);
  assert_int_equal (r->memory.limit, 536870912);
  assert_true (r->memory.has_swap);
  assert_int_equal (r->memory.swap, -1);
  assert_false (r->memory.has_reservation);
  assert_true (r->memory.has_swappiness);
  assert_int_equal (r->memory.swappiness, 10);
  assert_true (r->memory.has_disable_oom_killer);
  assert_int_equal (r->cpu.shares, 512);
  assert_int_equal (r->cpu.quota, 50000);
  assert_int_equal (r->cpu.period, 100000);
  assert_true (r->cpu.has_idle);
  assert_false (r->cpu.has_burst);
  assert_string_equal (r->cpu.cpus, "0-1,3");
  assert_string_equal (r->cpu.mems, "0");
  assert_true (r->pids.has_limit);
  assert_int_equal (r->pids.limit, 100);
  assert_int_equal (r->block_io.weight, 500);
  assert_int_equal (r->block_io.n_weight_device, 1);
  assert_int_equal (r->block_io.weight_device[0].weight, 200);
  assert_false (r->block_io.weight_device[0].has_leaf_weight);
  assert_int_equal (r->block_io.n_throttle_read_bps, 1);
  assert_int_equal (r->block_io.throttle_read_bps[0].rate, 1048576);
  assert_int_equal (r->block_io.n_throttle_write_iops, 1);
  assert_int_equal (r->block_io.throttle_write_iops[0].minor, 16);
  assert_int_equal (r->n_hugepage_limits, 1);
  assert_string_equal (r->hugepage_limits[0].page_size, "2MB");
  assert_int_equal (r->network.class_id, 1048577);
  assert_string_equal (r->network.priorities.v[0].key, "eth0");
  assert_string_equal (r->network.priorities.v[0].value, "500");
  assert_int_equal (r->unified.n, 2);
  moat_spec_free (&s);
}

/* ---- versions -------------------------------------------------------- */

static int
parse_version (const char *v, struct moat_error *err)
{
  char buf[256];
  struct moat_spec s;
  int r;

  snprintf (buf, sizeof buf, "{\"ociVersion\": \"%s\", \"root\": {\"path\": \"r\"}}", v);
  r = moat_spec_parse (buf, strlen (buf), &s, err);
  if (r == 0)
    moat_spec_free (&s);
  return r;
}

static void
test_versions (void **state)
{
  static const char *const good[] = { "1.0.0", "1.0.2-dev", "1.1.0", "1.1.0-rc.1", "1.2.1",
                                      "1.3.0", "1.0.0-rc5" };
  static const char *const bad[] = { "2.0.0", "0.6.0", "1", "", "1.x", "v1.0.0", "1.0.0.0.0" };
  struct moat_error err = { 0 };
  struct moat_spec s;
  const char *missing = "{\"root\": {\"path\": \"r\"}}";

  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
    if (parse_version (good[i], &err) < 0)
      fail_msg ("%s refused: %s", good[i], err.msg);
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    {
      if (parse_version (bad[i], &err) == 0)
        fail_msg ("%s accepted", bad[i]);
      assert_non_null (strstr (err.msg, "ociVersion"));
    }
  assert_int_equal (moat_spec_parse (missing, strlen (missing), &s, &err), -1);
  assert_non_null (strstr (err.msg, "ociVersion"));
}

/* ---- bad inputs ------------------------------------------------------ */

struct bad_case
{
  const char *json; /* appended after the required members */
  const char *want; /* substring of the message */
};

#define B "{\"ociVersion\": \"1.0.0\", \"root\": {\"path\": \"r\"}"
#define P(x) B ", \"process\": {\"args\": [\"sh\"], \"cwd\": \"/\", " x "}}"
#define L(x) B ", \"linux\": {" x "}}"
#define R(x) L ("\"resources\": {" x "}")
#define SC(x) L ("\"seccomp\": {" x "}")
#define NS_NET "\"namespaces\": [{\"type\": \"network\"}], "

static const struct bad_case bad_cases[] = {
  { "[]", "top level" },
  { "{\"ociVersion\": \"1.0.0\"", "invalid JSON" },
  { "{\"ociVersion\": \"1.0.0\", \"ociVersion\": \"1.0.0\", \"root\": {\"path\": \"r\"}}", "duplicate" },
  { "{\"ociVersion\": \"1.0.0\"}", "root: required" },
  { "{\"ociVersion\": \"1.0.0\", \"root\": {}}", "root.path: required" },
  { "{\"ociVersion\": 1, \"root\": {\"path\": \"r\"}}", "ociVersion: must be a string" },
  { B ", \"root\": {\"path\": \"x\"}}", "duplicate" },
  /* mounts */
  { B ", \"mounts\": [{\"destination\": \"/a\"}, {\"destination\": \"tmp\"}]}",
    "mounts[1].destination: must be an absolute path: \"tmp\"" },
  { B ", \"mounts\": [{\"type\": \"tmpfs\"}]}", "mounts[0].destination: required" },
  { B ", \"mounts\": [{\"destination\": \"/proc\", \"type\": \"bind\", \"source\": \"/x\"}]}",
    "mounts[0].destination" },
  { B ", \"mounts\": [{\"destination\": \"/proc/\", \"type\": \"tmpfs\"}]}", "mounts[0].destination" },
  { B ", \"mounts\": [{\"destination\": \"/proc/sys/kernel\", \"source\": \"/x\", \"options\": [\"rbind\"]}]}",
    "mounts[0].destination: cannot mount inside /proc" },
  { B ", \"mounts\": [{\"destination\": \"/a/../proc/self\", \"type\": \"bind\", \"source\": \"/x\"}]}",
    "inside /proc" },
  { B ", \"mounts\": [{\"destination\": \"/a\", \"type\": \"tmpfs\", \"options\": [\"idmap\"]}]}",
    "mounts[0]: an idmapped mount (`idmap`, `ridmap`, uidMappings) must be a bind mount" },
  { B ", \"mounts\": [{\"destination\": \"/a\", \"type\": \"bind\", \"source\": \"/x\", \"uidMappings\": [{\"containerID\": 0, \"hostID\": 1, \"size\": 1}]}]}",
    "mounts[0]: uidMappings and gidMappings go together" },
  { B ", \"mounts\": [{\"destination\": \"/a\", \"type\": \"bind\", \"source\": \"/x\", \"uidMappings\": [{\"containerID\": 0, \"hostID\": 1, \"size\": 0}]}]}",
    "mounts[0].uidMappings[0].size: must be greater than zero" },
  { B ", \"mounts\": [{\"destination\": \"/a\", \"type\": \"bind\", \"source\": \"/x\", \"options\": [\"rnoatime\"]}]}",
    "not supported" },
  { B ", \"mounts\": [{\"destination\": \"/a\", \"type\": \"bind\", \"source\": \"/x\", \"options\": [\"size=1k\"]}]}",
    "mounts[0].options: unknown option for a bind mount" },
  { B ", \"mounts\": [{\"destination\": \"/a\", \"type\": \"bind\"}]}", "mounts[0].source: required" },
  { B ", \"mounts\": [{\"destination\": \"/a\", \"type\": \"tmpfs\", \"options\": [\"ro,nosuid\"]}]}",
    "mounts[0].options[0]: one option per entry" },
  { B ", \"mounts\": [{\"destination\": \"/a\", \"type\": \"tmpfs\", \"options\": [1]}]}",
    "mounts[0].options[0]: must be a string" },
  { B ", \"mounts\": [{\"destination\": \"/a\", \"type\": \"proc\", \"options\": [\"tmpcopyup\"]}]}",
    "mounts[0]: `tmpcopyup` needs a tmpfs" },
  { B ", \"mounts\": {}}", "mounts: must be an array" },
  /* process */
  { B ", \"process\": {\"cwd\": \"/\"}}", "process.args: required" },
  { B ", \"process\": {\"args\": [], \"cwd\": \"/\"}}", "process.args: required" },
  { B ", \"process\": {\"args\": [\"sh\", 3], \"cwd\": \"/\"}}", "process.args[1]: must be a string" },
  { B ", \"process\": {\"args\": [\"sh\"]}}", "process.cwd: required" },
  { B ", \"process\": {\"args\": [\"sh\"], \"cwd\": \"tmp\"}}", "process.cwd: must be an absolute path" },
  { P ("\"env\": [\"A=1\", \"NOEQUALS\"]"), "process.env[1]: must be KEY=VALUE" },
  { P ("\"env\": [\"=x\"]"), "process.env[0]: empty variable name" },
  { P ("\"terminal\": \"yes\""), "process.terminal: must be a boolean" },
  { P ("\"user\": {\"uid\": -1}"), "process.user.uid: must not be negative" },
  { P ("\"user\": {\"uid\": 4294967296}"), "process.user.uid" },
  { P ("\"user\": {\"uid\": 0, \"umask\": 512}"), "process.user.umask" },
  { P ("\"user\": {\"additionalGids\": [1, \"x\"]}"), "process.user.additionalGids[1]: must be an integer" },
  { P ("\"capabilities\": {\"bounding\": [\"CAP_CHOWN\", \"CAP_FOO\"]}"),
    "process.capabilities.bounding[1]: unknown capability `CAP_FOO`" },
  { P ("\"capabilities\": {\"ambient\": [\"chown\"]}"), "process.capabilities.ambient[0]: unknown capability" },
  { P ("\"capabilities\": {\"effective\": [\"cap_chown\"]}"), "process.capabilities.effective[0]" },
  { P ("\"capabilities\": {\"permitted\": [\"CAP_21\"]}"), "process.capabilities.permitted[0]" },
  { P ("\"rlimits\": [{\"type\": \"RLIMIT_FOO\", \"soft\": 1, \"hard\": 1}]"),
    "process.rlimits[0].type: unknown rlimit `RLIMIT_FOO`" },
  { P ("\"rlimits\": [{\"type\": \"RLIMIT_NOFILE\", \"soft\": 1, \"hard\": 1}, {\"type\": \"RLIMIT_NOFILE\", \"soft\": 1, \"hard\": 1}]"),
    "process.rlimits[1].type: duplicate rlimit" },
  { P ("\"rlimits\": [{\"type\": \"RLIMIT_NOFILE\", \"soft\": 2, \"hard\": 1}]"),
    "process.rlimits[0]: soft limit 2 exceeds hard limit 1" },
  { P ("\"rlimits\": [{\"soft\": 2, \"hard\": 1}]"), "process.rlimits[0].type: required" },
  { P ("\"rlimits\": [{\"type\": \"RLIMIT_NOFILE\", \"soft\": \"\\u0001u64:x\", \"hard\": 1}]"),
    "process.rlimits[0].soft: must be an integer" },
  { P ("\"oomScoreAdj\": 1001"), "process.oomScoreAdj" },
  { P ("\"scheduler\": {\"policy\": \"SCHED_FOO\"}"), "process.scheduler.policy: unknown" },
  { P ("\"scheduler\": {\"policy\": \"SCHED_OTHER\", \"nice\": 20}"), "process.scheduler.nice" },
  { P ("\"scheduler\": {\"policy\": \"SCHED_OTHER\", \"priority\": 5}"), "process.scheduler.priority" },
  { P ("\"scheduler\": {\"policy\": \"SCHED_FIFO\"}"), "process.scheduler.priority: must be 1..99" },
  { P ("\"scheduler\": {\"policy\": \"SCHED_BATCH\", \"runtime\": 5}"), "process.scheduler: runtime" },
  { P ("\"scheduler\": {\"policy\": \"SCHED_OTHER\", \"flags\": [\"SCHED_FLAG_X\"]}"),
    "process.scheduler.flags[0]: unknown scheduler flag" },
  { P ("\"ioPriority\": {\"class\": \"IOPRIO_CLASS_NONE\"}"), "process.ioPriority.class: unknown" },
  { P ("\"ioPriority\": {\"class\": \"IOPRIO_CLASS_RT\", \"priority\": 8}"), "process.ioPriority.priority" },
  { P ("\"execCPUAffinity\": {\"initial\": \"0\"}"), "process.execCPUAffinity: not supported" },
  { P ("\"consoleSize\": {\"height\": 70000}"), "process.consoleSize.height" },
  /* hostname, hooks, annotations */
  { B ", \"hostname\": \"h\"}", "hostname: cannot set a hostname without a private uts namespace" },
  { B ", \"domainname\": \"d\", \"linux\": {\"namespaces\": [{\"type\": \"pid\"}]}}", "domainname:" },
  { B ", \"hooks\": {\"prestart\": [{\"path\": \"hook\"}]}}", "hooks.prestart[0].path: must be an absolute path" },
  { B ", \"hooks\": {\"poststart\": [{\"path\": \"/h\", \"timeout\": 0}]}}", "hooks.poststart[0].timeout: must be greater than zero" },
  { B ", \"hooks\": {\"startContainer\": [{\"args\": []}]}}", "hooks.startContainer[0].path: required" },
  { B ", \"hooks\": {\"createContainer\": [{\"path\": \"/h\", \"env\": [1]}]}}", "hooks.createContainer[0].env[0]" },
  { B ", \"annotations\": {\"a\": 1}}", "annotations.a: must be a string" },
  /* namespaces and mappings */
  { L ("\"namespaces\": [{\"type\": \"pid\"}, {\"type\": \"foo\"}]"),
    "linux.namespaces[1].type: unknown namespace type `foo`" },
  { L ("\"namespaces\": [{\"type\": \"net\"}]"), "linux.namespaces[0].type: unknown namespace type `net`" },
  { L ("\"namespaces\": [{\"type\": \"pid\"}, {\"type\": \"pid\"}]"), "linux.namespaces[1].type: duplicate" },
  { L ("\"namespaces\": [{\"path\": \"/x\"}]"), "linux.namespaces[0].type: required" },
  { L ("\"namespaces\": [{\"type\": \"ipc\", \"path\": \"proc/1/ns/ipc\"}]"), "linux.namespaces[0].path: must be an absolute path" },
  { L ("\"uidMappings\": [{\"containerID\": 0, \"hostID\": 1000, \"size\": 1}]"),
    "linux.uidMappings: id mappings need a user namespace" },
  { L ("\"namespaces\": [{\"type\": \"user\"}]"), "linux.uidMappings: required with a new user namespace" },
  { L ("\"namespaces\": [{\"type\": \"user\"}], \"uidMappings\": [{\"containerID\": 0, \"hostID\": 1, \"size\": 1}]"),
    "linux.gidMappings: required" },
  { L ("\"namespaces\": [{\"type\": \"user\"}], \"uidMappings\": [{\"containerID\": 0, \"hostID\": 1, \"size\": 0}]"),
    "linux.uidMappings[0].size: must be greater than zero" },
  { L ("\"namespaces\": [{\"type\": \"user\"}], \"gidMappings\": [{\"containerID\": 4294967295, \"hostID\": 1, \"size\": 1}]"),
    "linux.gidMappings[0]: id range overflows" },
  { L ("\"namespaces\": [{\"type\": \"user\"}], \"uidMappings\": [{\"containerID\": 1, \"hostID\": 1, \"size\": 4294967295}]"),
    "linux.uidMappings[0]: id range overflows" },
  { L ("\"namespaces\": [{\"type\": \"user\"}], \"uidMappings\": [{\"containerID\": 0, \"hostID\": 1, \"size\": 10}, {\"containerID\": 5, \"hostID\": 100, \"size\": 1}]"),
    "linux.uidMappings[1]: overlaps linux.uidMappings[0]" },
  /* sysctl, CVE-2022-0811 */
  { L ("\"namespaces\": [{\"type\": \"ipc\"}], \"sysctl\": {\"kernel.shm_rmid_forced\": \"1+kernel.core_pattern=|/bin/x\"}"),
    "linux.sysctl.kernel.shm_rmid_forced: value contains a forbidden character" },
  { L ("\"namespaces\": [{\"type\": \"ipc\"}, {\"type\": \"uts\"}, {\"type\": \"network\"}], \"sysctl\": {\"kernel.core_pattern\": \"|/bin/x\"}"),
    "linux.sysctl.kernel.core_pattern: `kernel.core_pattern` is not namespaced" },
  { L ("\"sysctl\": {\"net.ipv4.ip_forward\": \"1\"}"),
    "linux.sysctl.net.ipv4.ip_forward: not allowed in the host network namespace" },
  { L ("\"sysctl\": {\"kernel.msgmax\": \"1\"}"), "linux.sysctl.kernel.msgmax: requires a private ipc namespace" },
  { L ("\"sysctl\": {\"kernel.hostname\": \"x\"}"), "linux.sysctl.kernel.hostname: requires a private uts" },
  { L (NS_NET "\"sysctl\": {\"net/ipv4/ip_forward\": \"1\"}"), "invalid sysctl name" },
  { L (NS_NET "\"sysctl\": {\"net.ipv4..ip_forward\": \"1\"}"), "invalid sysctl name" },
  { L (NS_NET "\"sysctl\": {\"net.ipv4.ip forward\": \"1\"}"), "invalid sysctl name" },
  { L (NS_NET "\"sysctl\": {\"net.ipv4.ip_forward\": \"1\\nkernel.x=1\"}"), "forbidden character (0x0a)" },
  { L (NS_NET "\"sysctl\": {\"net.ipv4.ip_forward\": \"a=b\"}"), "forbidden character (0x3d)" },
  { L (NS_NET "\"sysctl\": {\"net.ipv4.ip_forward\": 1}"), "linux.sysctl.net.ipv4.ip_forward: must be a string" },
  /* linux misc */
  { L ("\"rootfsPropagation\": \"everywhere\""), "linux.rootfsPropagation: unknown propagation" },
  { L ("\"maskedPaths\": [\"/ok\", \"relative\"]"), "linux.maskedPaths[1]: must be an absolute path" },
  { L ("\"readonlyPaths\": [\"x\"]"), "linux.readonlyPaths[0]: must be an absolute path" },
  { L ("\"devices\": [{\"path\": \"/etc/passwd\", \"type\": \"c\", \"major\": 1, \"minor\": 1}]"),
    "linux.devices[0].path: must be under /dev" },
  { L ("\"devices\": [{\"path\": \"/dev/../etc/x\", \"type\": \"c\", \"major\": 1, \"minor\": 1}]"),
    "linux.devices[0].path: must be under /dev" },
  { L ("\"devices\": [{\"path\": \"/dev/x\", \"type\": \"q\", \"major\": 1, \"minor\": 1}]"),
    "linux.devices[0].type: unknown device type" },
  { L ("\"devices\": [{\"path\": \"/dev/x\", \"type\": \"b\", \"major\": 1}]"),
    "linux.devices[0]: major and minor are required" },
  { L ("\"devices\": [{\"path\": \"/dev/x\", \"type\": \"c\", \"major\": 1, \"minor\": 1, \"fileMode\": 65535}]"),
    "linux.devices[0].fileMode" },
  { L ("\"personality\": {\"domain\": \"LINUX\", \"flags\": [\"ADDR_NO_RANDOMIZE\"]}"),
    "linux.personality.flags: personality flags are not supported" },
  { L ("\"personality\": {\"domain\": \"BSD\"}"), "linux.personality.domain: unknown domain" },
  { L ("\"timeOffsets\": {\"monotonic\": {\"secs\": 1}}"), "linux.timeOffsets: requires a new time namespace" },
  { L ("\"namespaces\": [{\"type\": \"time\", \"path\": \"/proc/1/ns/time\"}], \"timeOffsets\": {\"boottime\": {\"secs\": 1}}"),
    "linux.timeOffsets: requires a new time namespace" },
  { L ("\"namespaces\": [{\"type\": \"time\"}], \"timeOffsets\": {\"realtime\": {\"secs\": 1}}"),
    "linux.timeOffsets.realtime: unknown clock" },
  { L ("\"namespaces\": [{\"type\": \"time\"}], \"timeOffsets\": {\"boottime\": {\"nanosecs\": 1000000000}}"),
    "linux.timeOffsets.boottime.nanosecs" },
  { L ("\"intelRdt\": {\"closID\": \"x\"}"), "linux.intelRdt: not supported on this runtime" },
  { L ("\"netDevices\": {\"eth0\": {}}"), "linux.netDevices: not supported" },
  { L ("\"memoryPolicy\": {\"mode\": \"MPOL_BIND\"}"), "linux.memoryPolicy: not supported" },
  { L ("\"cgroupsPath\": \"/a/../../b\""), "linux.cgroupsPath: must not contain `..`" },
  { L ("\"namespaces\": 1"), "linux.namespaces: must be an array" },
  /* resources */
  { R ("\"devices\": [{\"allow\": true, \"type\": \"x\"}]"), "linux.resources.devices[0].type: unknown device type" },
  { R ("\"devices\": [{\"allow\": true, \"access\": \"rwx\"}]"), "linux.resources.devices[0].access" },
  { R ("\"devices\": [{\"type\": \"c\"}]"), "linux.resources.devices[0].allow: required" },
  { R ("\"devices\": [{\"allow\": true, \"major\": -2}]"), "linux.resources.devices[0].major" },
  { R ("\"memory\": {\"limit\": -2}"), "linux.resources.memory.limit" },
  { R ("\"memory\": {\"swappiness\": 101}"), "linux.resources.memory.swappiness: must be 0..100" },
  { R ("\"memory\": {\"limit\": 1.5}"), "linux.resources.memory.limit: must be an integer" },
  { R ("\"cpu\": {\"cpus\": \"0-\"}"), "linux.resources.cpu.cpus: invalid cpu list" },
  { R ("\"cpu\": {\"mems\": \"3-1\"}"), "linux.resources.cpu.mems: invalid cpu list" },
  { R ("\"cpu\": {\"shares\": -1}"), "linux.resources.cpu.shares" },
  { R ("\"blockIO\": {\"weight\": 70000}"), "linux.resources.blockIO.weight" },
  { R ("\"blockIO\": {\"throttleReadBpsDevice\": [{\"major\": 8, \"rate\": 1}]}"),
    "linux.resources.blockIO.throttleReadBpsDevice[0]: major and minor are required" },
  { R ("\"hugepageLimits\": [{\"pageSize\": \"2XB\", \"limit\": 1}]"), "linux.resources.hugepageLimits[0].pageSize" },
  { R ("\"network\": {\"priorities\": [{\"name\": \"eth0\\nx\", \"priority\": 1}]}"),
    "linux.resources.network.priorities[0].name" },
  { R ("\"unified\": {\"../memory.max\": \"1\"}"), "invalid cgroup file name" },
  { R ("\"unified\": {\"cgroup.procs\": \"1\"}"), "linux.resources.unified.cgroup.procs: `cgroup.procs` is managed by the runtime" },
  { R ("\"unified\": {\"memorymax\": \"1\"}"), "invalid cgroup file name" },
  { R ("\"rdma\": {\"mlx5_0\": {\"hcaHandles\": 3}}"), "linux.resources.rdma: rdma limits are not supported" },
  /* seccomp */
  { SC ("\"defaultAction\": \"SCMP_ACT_FOO\""), "linux.seccomp.defaultAction: unknown seccomp action `SCMP_ACT_FOO`" },
  { SC ("\"architectures\": []"), "linux.seccomp.defaultAction: required" },
  { SC ("\"defaultAction\": \"SCMP_ACT_NOTIFY\", \"listenerPath\": \"/x\""), "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot" },
  { SC ("\"defaultAction\": \"SCMP_ACT_ALLOW\", \"defaultErrnoRet\": 1"), "linux.seccomp.defaultErrnoRet: only valid" },
  { SC ("\"defaultAction\": \"SCMP_ACT_ALLOW\", \"architectures\": [\"SCMP_ARCH_Z80\"]"),
    "linux.seccomp.architectures[0]: unknown architecture" },
  { SC ("\"defaultAction\": \"SCMP_ACT_ALLOW\", \"flags\": [\"SECCOMP_FILTER_FLAG_X\"]"), "linux.seccomp.flags[0]" },
  { SC ("\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"a\"], \"action\": \"SCMP_ACT_NOTIFY\"}]"),
    "linux.seccomp.listenerPath: required by SCMP_ACT_NOTIFY" },
  { SC ("\"defaultAction\": \"SCMP_ACT_ALLOW\", \"listenerPath\": \"/s\", \"syscalls\": [{\"names\": [\"write\"], \"action\": \"SCMP_ACT_NOTIFY\"}]"),
    "linux.seccomp.syscalls[0].names[0]: SCMP_ACT_NOTIFY cannot be used for `write`" },
  { SC ("\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"a\"], \"action\": \"SCMP_ACT_BAR\"}]"),
    "linux.seccomp.syscalls[0].action: unknown seccomp action" },
  { SC ("\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [], \"action\": \"SCMP_ACT_ERRNO\"}]"),
    "linux.seccomp.syscalls[0].names: required" },
  { SC ("\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"a\"], \"action\": \"SCMP_ACT_ERRNO\", \"args\": [{\"index\": 6, \"value\": 1, \"op\": \"SCMP_CMP_EQ\"}]}]"),
    "linux.seccomp.syscalls[0].args[0].index" },
  { SC ("\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"a\"], \"action\": \"SCMP_ACT_ERRNO\", \"args\": [{\"index\": 0, \"value\": 1, \"op\": \"SCMP_CMP_XX\"}]}]"),
    "linux.seccomp.syscalls[0].args[0].op: unknown comparison `SCMP_CMP_XX`" },
  { SC ("\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"a\"], \"action\": \"SCMP_ACT_ALLOW\", \"errnoRet\": 1}]"),
    "linux.seccomp.syscalls[0].errnoRet: only valid" },
  { SC ("\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"a\"], \"action\": \"SCMP_ACT_ALLOW\", \"args\": [{\"index\": 0, \"value\": 18446744073709551616, \"op\": \"SCMP_CMP_EQ\"}]}]"),
    "invalid JSON" },
  { SC ("\"defaultAction\": \"SCMP_ACT_ALLOW\", \"listenerPath\": 18446744073709551615"),
    "linux.seccomp.listenerPath: must be a string, not a number" },
};

static void
test_bad_inputs (void **state)
{
  for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++)
    {
      struct moat_error err = { 0 };
      struct moat_spec s, zero;

      memset (&zero, 0, sizeof zero);
      if (moat_spec_parse (bad_cases[i].json, strlen (bad_cases[i].json), &s, &err) == 0)
        {
          moat_spec_free (&s);
          fail_msg ("case %zu accepted: %s", i, bad_cases[i].json);
        }
      if (strstr (err.msg, bad_cases[i].want) == NULL)
        fail_msg ("case %zu: message \"%s\" lacks \"%s\"", i, err.msg, bad_cases[i].want);
      /* A validation error is not a system error: no strerror() suffix. */
      assert_null (strstr (err.msg, "Invalid argument"));
      assert_memory_equal (&s, &zero, sizeof s);
    }
}

/* Accepted edge cases: nulls and empty strings mean "absent". */
static void
test_edge_accepts (void **state)
{
  static const char *const ok[] = {
    B ", \"mounts\": null, \"hooks\": {\"prestart\": null}, \"annotations\": null}",
    L ("\"namespaces\": [{\"type\": \"uts\", \"path\": \"\"}], \"cgroupsPath\": \"\", \"mountLabel\": \"\", \"rootfsPropagation\": \"\"") ,
    L ("\"namespaces\": [{\"type\": \"network\", \"path\": \"/run/netns/x\"}], \"sysctl\": {\"net.core.somaxconn\": \"1024\"}"),
    L ("\"namespaces\": [{\"type\": \"user\", \"path\": \"/proc/1/ns/user\"}]"),
    L ("\"namespaces\": [{\"type\": \"ipc\"}], \"sysctl\": {\"kernel.sem\": \"250 32000 32 128\"}"),
    R ("\"memory\": {\"swappiness\": 18446744073709551615}, \"pids\": {\"limit\": -1}"),
    B ", \"mounts\": [{\"destination\": \"/proc\", \"type\": \"proc\", \"source\": \"proc\", \"options\": [\"\", \"defaults\"]}]}",
    B ", \"hostname\": \"\"}",
    L ("\"intelRdt\": null, \"netDevices\": {}, \"personality\": {\"domain\": \"LINUX\", \"flags\": []}"),
  };

  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
    {
      struct moat_spec s = parse_ok (ok[i]);

      moat_spec_free (&s);
    }
  {
    struct moat_spec s = parse_ok (ok[0]);

    assert_int_equal (s.n_mounts, 0);
    moat_spec_free (&s);
    s = parse_ok (ok[1]);
    assert_null (s.linux.namespaces[0].path);
    assert_null (s.linux.cgroups_path);
    assert_int_equal (s.linux.rootfs_propagation, 0);
    moat_spec_free (&s);
    s = parse_ok (ok[5]);
    assert_false (s.linux.resources.memory.has_swappiness);
    assert_int_equal (s.linux.resources.pids.limit, -1);
    moat_spec_free (&s);
  }
}

/* ---- process and resources alone ------------------------------------- */

static void
test_process_parse (void **state)
{
  static const char ok[] = "{\"args\": [\"/bin/ls\"], \"cwd\": \"/\", \"env\": [\"A=b\"],"
                           " \"capabilities\": {\"bounding\": [\"CAP_KILL\"]}}";
  static const char bad[] = "{\"args\": [\"/bin/ls\"], \"cwd\": \"/\","
                            " \"capabilities\": {\"bounding\": [\"CAP_NOPE\"]}}";
  struct moat_process p;
  struct moat_error err = { 0 };

  assert_int_equal (moat_process_parse (ok, strlen (ok), &p, &err), 0);
  assert_string_equal (p.args.v[0], "/bin/ls");
  assert_int_equal (p.caps.bounding, CAP (5));
  moat_process_free (&p);
  assert_null (p.args.v);

  assert_int_equal (moat_process_parse (bad, strlen (bad), &p, &err), -1);
  assert_string_equal (err.msg, "capabilities.bounding[0]: unknown capability `CAP_NOPE`");
  assert_null (p.cwd);
  assert_int_equal (moat_process_parse ("{\"cwd\": \"/\"}", 12, &p, &err), -1);
  assert_string_equal (err.msg, "args: required (a non-empty array)");
}

static void
test_resources_parse (void **state)
{
  /* What `docker update --memory 512m --cpus 1.5` sends to `runc update`. */
  static const char ok[] = "{\"memory\": {\"limit\": 536870912, \"swap\": 1073741824},"
                           " \"cpu\": {\"quota\": 150000, \"period\": 100000},"
                           " \"pids\": {\"limit\": 0}, \"blockIO\": {}}";
  struct moat_resources r;
  struct moat_error err = { 0 };

  assert_int_equal (moat_resources_parse (ok, strlen (ok), &r, &err), 0);
  assert_true (r.memory.has_limit);
  assert_int_equal (r.memory.limit, 536870912);
  assert_int_equal (r.cpu.quota, 150000);
  /* Docker sends 0 for "not set"; runc and crun skip zeros. */
  assert_false (r.pids.has_limit);
  assert_false (r.cpu.has_shares);
  moat_resources_free (&r);

  assert_int_equal (moat_resources_parse ("{\"memory\": {\"limit\": \"1g\"}}", 27, &r, &err), -1);
  assert_string_equal (err.msg, "memory.limit: must be an integer, not a string");
  assert_int_equal (moat_resources_parse ("{\"cpu\": {\"cpus\": \"0,\"}}", 23, &r, &err), -1);
  assert_non_null (strstr (err.msg, "cpu.cpus: invalid cpu list"));
}

static void
test_load (void **state)
{
  char dir[] = "/tmp/moat-test-spec-XXXXXX";
  int dfd, fd;
  struct moat_spec s;
  struct moat_error err = { 0 };
  char *big;
  const size_t big_len = 4u * 1024 * 1024 + 1;

  assert_non_null (mkdtemp (dir));
  dfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  assert_true (dfd >= 0);
  fd = openat (dfd, "config.json", O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  assert_true (fd >= 0);
  assert_int_equal (write (fd, good_config, strlen (good_config)), (ssize_t) strlen (good_config));
  close (fd);
  assert_int_equal (moat_spec_load (dfd, "config.json", &s, &err), 0);
  assert_int_equal (s.n_mounts, 4);
  moat_spec_free (&s);

  /* Over the size bound: refused before parsing. */
  big = malloc (big_len);
  assert_non_null (big);
  memset (big, ' ', big_len);
  fd = openat (dfd, "big.json", O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  assert_true (fd >= 0);
  assert_int_equal (write (fd, big, big_len), (ssize_t) big_len);
  close (fd);
  free (big);
  assert_int_equal (moat_spec_load (dfd, "big.json", &s, &err), -1);
  assert_int_equal (moat_spec_load (dfd, "missing.json", &s, &err), -1);

  unlinkat (dfd, "config.json", 0);
  unlinkat (dfd, "big.json", 0);
  close (dfd);
  rmdir (dir);
}

/* ---- names ----------------------------------------------------------- */

static void
test_names (void **state)
{
  assert_int_equal (moat_cap_from_name ("CAP_SYS_ADMIN"), 21);
  assert_int_equal (moat_cap_from_name ("SYS_ADMIN"), 21);
  assert_int_equal (moat_cap_from_name ("cap_chown"), 0);
  assert_int_equal (moat_cap_from_name ("CAP_CHECKPOINT_RESTORE"), 40);
  assert_int_equal (moat_cap_from_name ("CAP_FOO"), -1);
  assert_int_equal (moat_cap_from_name ("21"), -1);
  assert_int_equal (moat_cap_from_name (""), -1);
  assert_int_equal (moat_cap_from_name ("CAP_CHOWN,CAP_KILL"), -1);
  assert_string_equal (moat_cap_name (21), "CAP_SYS_ADMIN");
  assert_null (moat_cap_name (-1));
  assert_null (moat_cap_name (64));

  assert_int_equal (moat_signal_from_name ("SIGKILL"), SIGKILL);
  assert_int_equal (moat_signal_from_name ("KILL"), SIGKILL);
  assert_int_equal (moat_signal_from_name ("kill"), SIGKILL);
  assert_int_equal (moat_signal_from_name ("sigterm"), SIGTERM);
  assert_int_equal (moat_signal_from_name ("9"), 9);
  assert_int_equal (moat_signal_from_name ("64"), 64);
  assert_int_equal (moat_signal_from_name ("65"), -1);
  assert_int_equal (moat_signal_from_name ("0"), -1);
  assert_int_equal (moat_signal_from_name ("-9"), -1);
  assert_int_equal (moat_signal_from_name ("SIGRTMIN"), 34);
  assert_int_equal (moat_signal_from_name ("RTMIN+3"), 37);
  assert_int_equal (moat_signal_from_name ("SIGRTMAX-2"), 62);
  assert_int_equal (moat_signal_from_name ("SIGRTMIN+31"), -1);
  assert_int_equal (moat_signal_from_name ("SIGWINCH"), SIGWINCH);
  assert_int_equal (moat_signal_from_name ("SIGFOO"), -1);
  assert_int_equal (moat_signal_from_name (""), -1);

  assert_int_equal (moat_namespace_from_name ("pid"), CLONE_NEWPID);
  assert_int_equal (moat_namespace_from_name ("network"), CLONE_NEWNET);
  assert_int_equal (moat_namespace_from_name ("time"), CLONE_NEWTIME);
  assert_int_equal (moat_namespace_from_name ("net"), -1);
  assert_string_equal (moat_namespace_name (CLONE_NEWNS), "mount");
  assert_string_equal (moat_namespace_proc_name (CLONE_NEWNS), "mnt");
  assert_string_equal (moat_namespace_proc_name (CLONE_NEWNET), "net");
  assert_string_equal (moat_namespace_proc_name (CLONE_NEWCGROUP), "cgroup");
  assert_null (moat_namespace_name (0));

  assert_true (moat_valid_container_id ("abc"));
  assert_true (moat_valid_container_id ("A1_b.c-d"));
  assert_false (moat_valid_container_id ("."));
  assert_false (moat_valid_container_id (".."));
  assert_false (moat_valid_container_id ("-x"));
  assert_false (moat_valid_container_id ("a/b"));
  assert_false (moat_valid_container_id (""));
  assert_false (moat_valid_container_id ("a b"));
  {
    char id[1026];

    memset (id, 'a', sizeof id - 1);
    id[1024] = '\0';
    assert_true (moat_valid_container_id (id));
    id[1024] = 'a';
    id[1025] = '\0';
    assert_false (moat_valid_container_id (id));
  }
}

/* Field paths are built by hand: the result must be what snprintf writes,
   truncation included, for every buffer size. */
static void
test_paths (void **state)
{
  static const char *const parents[] = { NULL, "", "linux", "linux.seccomp.syscalls[12]" };
  static const size_t idx[] = { 0, 7, 10, 123456789, (size_t) -1 };
  char got[64], want[64];

  (void) state;
  for (size_t p = 0; p < sizeof parents / sizeof parents[0]; p++)
    for (size_t size = 1; size <= sizeof got; size++)
      {
        bool top = parents[p] == NULL || parents[p][0] == '\0';

        memset (got, 'x', sizeof got);
        spec_path (got, size, parents[p], "names");
        if (top)
          snprintf (want, size, "%s", "names");
        else
          snprintf (want, size, "%s.%s", parents[p], "names");
        assert_string_equal (got, want);
        for (size_t k = 0; k < sizeof idx / sizeof idx[0]; k++)
          {
            spec_path_idx (got, size, parents[p], "names", idx[k]);
            if (top)
              snprintf (want, size, "%s[%zu]", "names", idx[k]);
            else
              snprintf (want, size, "%s.%s[%zu]", parents[p], "names", idx[k]);
            assert_string_equal (got, want);
          }
      }
}

/* CVE-2021-43784 class: an id map whose text exceeds what the kernel takes in
 * one write (less than a page) is refused at parse time by its field, while
 * the kernel's 340 lines of short entries are accepted.  N entries of
 * containerID BASE+i -> hostID 2*BASE+i, size 1, in linux.uidMappings (and a
 * matching gidMappings) of a config with a user namespace. */
static char *
idmap_config (size_t n, unsigned base)
{
  size_t cap = 256 + 2 * n * 80, off = 0;
  char *j = malloc (cap);

  assert_non_null (j);
  off += (size_t) snprintf (j + off, cap - off,
                            "{\"ociVersion\": \"1.0.0\", \"root\": {\"path\": \"r\"}, \"linux\": {"
                            "\"namespaces\": [{\"type\": \"user\"}]");
  for (int k = 0; k < 2; k++)
    {
      off += (size_t) snprintf (j + off, cap - off, ", \"%s\": [", k ? "gidMappings" : "uidMappings");
      for (size_t i = 0; i < n; i++)
        off += (size_t) snprintf (j + off, cap - off, "%s{\"containerID\": %u, \"hostID\": %u, \"size\": 1}",
                                  i ? ", " : "", base + (unsigned) i, 2 * base + (unsigned) i);
      off += (size_t) snprintf (j + off, cap - off, "]");
    }
  snprintf (j + off, cap - off, "}}");
  return j;
}

static void
test_idmap_text_bounds (void **state)
{
  (void) state;
  struct { size_t n; unsigned base; int ok; } cases[] = {
    { 340, 0, 1 },           /* "339 339 1\n": 3380 bytes */
    { 170, 1000000000, 1 },  /* 24 bytes a line: 4080 */
    { 171, 1000000000, 0 },  /* 4104 */
    { 340, 1000000000, 0 },
    { 341, 0, 0 },           /* the kernel's line limit */
  };

  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
    {
      struct moat_error err = { 0 };
      struct moat_spec s;
      char *j = idmap_config (cases[c].n, cases[c].base);
      int rc = moat_spec_parse (j, strlen (j), &s, &err);

      free (j);
      if (cases[c].ok)
        {
          if (rc != 0)
            fail_msg ("case %zu refused: %s", c, err.msg);
          assert_int_equal (s.linux.n_uid_mappings, cases[c].n);
          assert_int_equal (s.linux.n_gid_mappings, cases[c].n);
          assert_int_equal (s.linux.uid_mappings[cases[c].n - 1].host_id, 2 * cases[c].base + cases[c].n - 1);
          moat_spec_free (&s);
          continue;
        }
      if (rc == 0)
        {
          moat_spec_free (&s);
          fail_msg ("case %zu accepted", c);
        }
      if (strstr (err.msg, "linux.uidMappings") == NULL)
        fail_msg ("case %zu: message \"%s\" does not name linux.uidMappings", c, err.msg);
    }
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_good_top),       cmocka_unit_test (test_good_mounts),
    cmocka_unit_test (test_good_process),   cmocka_unit_test (test_good_linux),
    cmocka_unit_test (test_good_seccomp),   cmocka_unit_test (test_good_resources),
    cmocka_unit_test (test_versions),       cmocka_unit_test (test_bad_inputs),
    cmocka_unit_test (test_edge_accepts),   cmocka_unit_test (test_process_parse),
    cmocka_unit_test (test_resources_parse), cmocka_unit_test (test_load),
    cmocka_unit_test (test_device_file_mode_with_type_bits),
    cmocka_unit_test (test_names),          cmocka_unit_test (test_paths),
    cmocka_unit_test (test_idmap_text_bounds),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
