/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MOAT_SPEC_H
#define MOAT_SPEC_H

/* struct moat_spec: the one parsed, validated form of an OCI runtime-spec
 * config.json (1.0.0 through 1.3.x).  Every later stage (policy, cgroups, the
 * container's init) reads this; nothing after the parser touches JSON.
 *
 * Conventions: strings are heap-allocated and NUL-terminated (NULL = absent);
 * arrays are (pointer, count); optional scalars have a has_ flag.  Values are
 * already validated when moat_spec_parse() returns 0: capability names are
 * numbers, namespace types are CLONE_NEW* flags, mount options are MS_* flags,
 * rlimit names are RLIMIT_* numbers, paths that must be absolute are. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/error.h"

/* GNU C predefines `linux` as 1 (-std=gnu11); struct moat_spec has a member
 * called `linux`, so every user of this header needs the macro gone. */
#undef linux

struct moat_strv
{
  char **v;
  size_t n;
};

struct moat_kv
{
  char *key;
  char *value;
};

struct moat_kvv
{
  struct moat_kv *v;
  size_t n;
};

/* ---- mounts ---------------------------------------------------------- */

struct moat_id_map
{
  uint32_t container_id;
  uint32_t host_id;
  uint32_t size;
};

struct moat_mount
{
  char *destination; /* absolute, cleaned ("/a/./b/" -> "/a/b") */
  char *type;        /* may be NULL for bind mounts */
  char *source;      /* may be NULL (e.g. tmpfs) */
  unsigned long flags;       /* MS_* to set (MS_RDONLY, MS_NOSUID, ...) */
  unsigned long clear_flags; /* MS_* explicitly cleared by "rw", "suid", "dev", ... */
  unsigned long propagation; /* MS_SHARED|MS_SLAVE|MS_PRIVATE|MS_UNBINDABLE, |MS_REC for r* forms; 0 = none */
  bool bind;                 /* "bind" or "rbind", or type "bind" */
  bool recursive;            /* "rbind" */
  bool recursive_ro;         /* "rro": MOUNT_ATTR_RDONLY with AT_RECURSIVE */
  bool recursive_nosuid, recursive_nodev, recursive_noexec; /* "rnosuid", "rnodev", "rnoexec" */
  bool nosymfollow;          /* "nosymfollow" (MOUNT_ATTR_NOSYMFOLLOW) */
  bool tmpcopyup;            /* "tmpcopyup": copy the rootfs contents into a new tmpfs */
  char *data;                /* remaining fs-specific options, comma-joined (e.g. "size=65536k,mode=755"); NULL if none */
  /* Idmapped bind mount (runtime-spec 1.1 "idmap"/"ridmap", uidMappings and
     gidMappings): without mappings the container's user namespace is used. */
  bool idmap, idmap_recursive;
  struct moat_id_map *uid_mappings, *gid_mappings;
  size_t n_uid_mappings, n_gid_mappings;
};

/* ---- process --------------------------------------------------------- */

struct moat_rlimit
{
  int resource; /* RLIMIT_* */
  uint64_t soft;
  uint64_t hard;
};

struct moat_caps
{
  /* Bitmasks indexed by capability number (CAP_CHOWN = bit 0, ...). */
  uint64_t bounding, effective, inheritable, permitted, ambient;
};

struct moat_user
{
  uint32_t uid;
  uint32_t gid;
  bool has_umask;
  mode_t umask;
  uint32_t *additional_gids;
  size_t n_additional_gids;
};

struct moat_process
{
  bool terminal;
  bool has_console_size;
  unsigned int console_height, console_width;
  struct moat_user user;
  struct moat_strv args; /* n >= 1 */
  struct moat_strv env;  /* "KEY=VALUE" */
  char *cwd;             /* absolute */
  bool has_caps;         /* "capabilities" present; when false every set is empty */
  struct moat_caps caps;
  struct moat_rlimit *rlimits;
  size_t n_rlimits;
  bool no_new_privileges;
  bool has_oom_score_adj;
  int oom_score_adj;
  char *apparmor_profile; /* NULL = none requested */
  char *selinux_label;    /* NULL = none requested */
  /* process.scheduler (1.1+): policy SCHED_*, nice, priority, flags */
  bool has_scheduler;
  int sched_policy;
  int sched_nice;
  int sched_priority;
  uint64_t sched_flags;
  uint64_t sched_runtime, sched_deadline, sched_period;
  /* process.ioPriority (1.1+) */
  bool has_io_priority;
  int io_priority_class; /* IOPRIO_CLASS_RT=1, BE=2, IDLE=3 */
  int io_priority;
};

/* ---- hooks ----------------------------------------------------------- */

enum moat_hook_kind
{
  MOAT_HOOK_PRESTART,
  MOAT_HOOK_CREATE_RUNTIME,
  MOAT_HOOK_CREATE_CONTAINER,
  MOAT_HOOK_START_CONTAINER,
  MOAT_HOOK_POSTSTART,
  MOAT_HOOK_POSTSTOP,
  MOAT_HOOK__COUNT
};

struct moat_hook
{
  char *path; /* absolute */
  struct moat_strv args;
  struct moat_strv env;
  int timeout; /* seconds; 0 = none */
};

struct moat_hook_list
{
  struct moat_hook *v;
  size_t n;
};

/* ---- linux ----------------------------------------------------------- */

struct moat_namespace
{
  int type;   /* CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWNS, CLONE_NEWIPC, CLONE_NEWUTS,
                 CLONE_NEWUSER, CLONE_NEWCGROUP, CLONE_NEWTIME */
  char *path; /* NULL = create a new one; else join this one */
};

enum moat_seccomp_action
{
  MOAT_SCMP_KILL_THREAD, /* SCMP_ACT_KILL and SCMP_ACT_KILL_THREAD */
  MOAT_SCMP_KILL_PROCESS,
  MOAT_SCMP_TRAP,
  MOAT_SCMP_ERRNO,
  MOAT_SCMP_TRACE,
  MOAT_SCMP_ALLOW,
  MOAT_SCMP_LOG,
  MOAT_SCMP_NOTIFY,
};

enum moat_seccomp_op
{
  MOAT_SCMP_CMP_NE = 1,
  MOAT_SCMP_CMP_LT,
  MOAT_SCMP_CMP_LE,
  MOAT_SCMP_CMP_EQ,
  MOAT_SCMP_CMP_GE,
  MOAT_SCMP_CMP_GT,
  MOAT_SCMP_CMP_MASKED_EQ,
};

struct moat_seccomp_arg
{
  unsigned int index; /* 0..5 */
  uint64_t value;
  uint64_t value_two;
  enum moat_seccomp_op op;
};

struct moat_seccomp_rule
{
  struct moat_strv names; /* syscall names, unresolved (resolution is per-arch) */
  enum moat_seccomp_action action;
  bool has_errno_ret;
  unsigned int errno_ret;
  struct moat_seccomp_arg *args;
  size_t n_args;
};

struct moat_seccomp
{
  enum moat_seccomp_action default_action;
  bool has_default_errno_ret;
  unsigned int default_errno_ret;
  struct moat_strv architectures; /* "SCMP_ARCH_X86_64", ... */
  struct moat_strv flags;         /* "SECCOMP_FILTER_FLAG_LOG", ... */
  char *listener_path;            /* for SCMP_ACT_NOTIFY */
  char *listener_metadata;
  struct moat_seccomp_rule *rules;
  size_t n_rules;
};

struct moat_device
{
  char *path; /* absolute, under /dev */
  char type;  /* 'c', 'b', 'u' (= 'c'), 'p' (fifo) */
  int64_t major, minor;
  bool has_file_mode;
  mode_t file_mode;
  bool has_uid, has_gid;
  uint32_t uid, gid;
};

struct moat_device_rule
{
  bool allow;
  char type;            /* 'a', 'c', 'b' */
  int64_t major, minor; /* -1 = wildcard */
  char access[4];       /* subset of "rwm", NUL-terminated */
};

struct moat_weight_device
{
  int64_t major, minor;
  bool has_weight, has_leaf_weight;
  uint16_t weight, leaf_weight;
};

struct moat_throttle_device
{
  int64_t major, minor;
  uint64_t rate;
};

struct moat_hugepage_limit
{
  char *page_size; /* "2MB" */
  uint64_t limit;
};

struct moat_resources
{
  struct
  {
    bool has_limit, has_reservation, has_swap, has_kernel, has_kernel_tcp, has_swappiness,
        has_disable_oom_killer, has_use_hierarchy, has_check_before_update;
    int64_t limit, reservation, swap, kernel, kernel_tcp; /* -1 = unlimited */
    uint64_t swappiness;
    bool disable_oom_killer, use_hierarchy, check_before_update;
  } memory;
  struct
  {
    bool has_shares, has_quota, has_burst, has_period, has_realtime_runtime,
        has_realtime_period, has_idle;
    uint64_t shares, period, realtime_period, burst;
    int64_t quota, realtime_runtime, idle;
    char *cpus, *mems; /* cpuset lists, NULL = unset */
  } cpu;
  struct
  {
    bool has_limit;
    int64_t limit; /* <= 0 = unlimited */
  } pids;
  struct
  {
    bool has_weight, has_leaf_weight;
    uint16_t weight, leaf_weight;
    struct moat_weight_device *weight_device;
    size_t n_weight_device;
    struct moat_throttle_device *throttle_read_bps, *throttle_write_bps,
        *throttle_read_iops, *throttle_write_iops;
    size_t n_throttle_read_bps, n_throttle_write_bps, n_throttle_read_iops,
        n_throttle_write_iops;
  } block_io;
  struct moat_hugepage_limit *hugepage_limits;
  size_t n_hugepage_limits;
  struct
  {
    bool has_class_id;
    uint32_t class_id;
    struct moat_kvv priorities; /* interface name -> priority (decimal string) */
  } network;
  struct moat_device_rule *devices;
  size_t n_devices;
  struct moat_kvv unified; /* cgroup v2 file -> value */
};

struct moat_time_offset
{
  bool set;
  int64_t secs;
  uint32_t nanosecs;
};

struct moat_linux
{
  struct moat_namespace *namespaces;
  size_t n_namespaces;
  struct moat_id_map *uid_mappings, *gid_mappings;
  size_t n_uid_mappings, n_gid_mappings;
  struct moat_kvv sysctl;
  bool has_resources;
  struct moat_resources resources;
  char *cgroups_path;          /* NULL = runtime default */
  struct moat_seccomp *seccomp; /* NULL = no filter */
  unsigned long rootfs_propagation; /* MS_* | MS_REC, 0 = runtime default (rprivate) */
  struct moat_strv masked_paths, readonly_paths;
  struct moat_device *devices;
  size_t n_devices;
  char *mount_label;
  bool has_personality;
  unsigned long personality; /* PER_LINUX or PER_LINUX32, | flags */
  struct moat_time_offset time_monotonic, time_boottime;
  bool has_intel_rdt; /* refused at validation: not supported */
};

/* ---- the whole config ------------------------------------------------ */

struct moat_spec
{
  char *oci_version;
  char *root_path; /* as written; relative paths are relative to the bundle */
  bool root_readonly;
  struct moat_mount *mounts;
  size_t n_mounts;
  bool has_process;
  struct moat_process process;
  char *hostname, *domainname;
  struct moat_hook_list hooks[MOAT_HOOK__COUNT];
  struct moat_kvv annotations;
  bool has_linux;
  struct moat_linux linux;
};

/* Parse and validate a config.json held in memory (need not be NUL-terminated).
 * On failure *out is left zeroed and err names the field: e.g.
 * "config.json: linux.namespaces[2].type: unknown namespace type `foo`". */
int moat_spec_parse (const char *json, size_t len, struct moat_spec *out, struct moat_error *err);

/* The two halves of moat_spec_parse, for a caller that must look at the
 * document before it knows it is a config.json (audit): load JSON text the
 * way the parser does (integers above INT64_MAX kept, duplicate keys
 * refused, the top level an object) into *root, then parse that tree, so
 * the text is read once.  void * keeps jansson out of this header: *root is
 * a json_t * that the caller json_decref()s. */
int moat_spec_json_load (const char *json, size_t len, void **root, struct moat_error *err);
int moat_spec_from_json (const void *root, struct moat_spec *out, struct moat_error *err);

/* Read <bundle_dir_fd>/<name> (bounded size) and parse it. */
int moat_spec_load (int dirfd, const char *name, struct moat_spec *out, struct moat_error *err);

/* Parse a runtime-spec "process" object alone (exec --process FILE). */
int moat_process_parse (const char *json, size_t len, struct moat_process *out, struct moat_error *err);

/* Parse a runtime-spec "linux.resources" object alone (update --resources). */
int moat_resources_parse (const char *json, size_t len, struct moat_resources *out, struct moat_error *err);

void moat_spec_free (struct moat_spec *spec);
void moat_process_free (struct moat_process *p);
void moat_resources_free (struct moat_resources *r);

/* Lookups shared by the parser and the CLI (exec --cap, kill SIGNAL, ...). */
int moat_cap_from_name (const char *name);          /* "CAP_SYS_ADMIN" or "SYS_ADMIN" -> 21, -1 if unknown */
const char *moat_cap_name (int cap);                /* 21 -> "CAP_SYS_ADMIN", NULL if unknown */
int moat_signal_from_name (const char *name);       /* "SIGKILL", "KILL", "9" -> 9, -1 if unknown */
int moat_namespace_from_name (const char *name);    /* "pid" -> CLONE_NEWPID, -1 if unknown */
const char *moat_namespace_name (int type);         /* CLONE_NEWPID -> "pid" */
const char *moat_namespace_proc_name (int type);    /* CLONE_NEWPID -> "pid", CLONE_NEWNS -> "mnt", CLONE_NEWNET -> "net", ... as in /proc/PID/ns */

/* Find a namespace entry of this type; NULL if the config does not ask for it. */
const struct moat_namespace *moat_spec_namespace (const struct moat_spec *spec, int type);

/* Valid container id: [A-Za-z0-9][A-Za-z0-9_.-]*, at most 1024 chars, not "." or "..". */
bool moat_valid_container_id (const char *id);

/* Notes on the parsed form (spec/spec.c and friends):
 * - moat_mount.flags carries attribute flags only (MS_RDONLY, MS_NOSUID, ...,
 *   MS_REMOUNT, and MS_NOSYMFOLLOW alongside the nosymfollow bool); MS_BIND
 *   and MS_REC are expressed by .bind and .recursive, propagation by
 *   .propagation.  Options are applied in order, so "ro","rw" ends up rw.
 * - process.args.v and every other moat_strv built by the parser is
 *   NULL-terminated (v[n] == NULL), so args.v can go straight to execve.
 * - Validation errors leave err->code set (EINVAL, EPERM for a refused
 *   security-relevant value, ENOTSUP for a feature moat does not implement)
 *   but the message carries no strerror() suffix. */

#endif
