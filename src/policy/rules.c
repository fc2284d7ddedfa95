/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The rule table: written once, run by admission (`create`, `policy check`)
 * and by `audit`.  A check reads only the parsed spec and the side info, so
 * it costs a few comparisons; it never touches the filesystem. */
#include "policy/policy.h"

#include <fnmatch.h>
#include <linux/capability.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>

#include "util/cleanup.h"

#define ALL_CAPS ((CAP_LAST_CAP >= 63) ? ~0ULL : ((1ULL << (CAP_LAST_CAP + 1)) - 1))
#define BIT(c) (1ULL << (c))

static enum moat_verdict
verdict (enum moat_verdict v, char *reason, size_t len, const char *fmt, ...)
    __attribute__ ((format (printf, 4, 5)));

static enum moat_verdict
verdict (enum moat_verdict v, char *reason, size_t len, const char *fmt, ...)
{
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (reason, len, fmt, ap);
  va_end (ap);
  return v;
}

#define PASS(...) verdict (MOAT_PASS, reason, len, __VA_ARGS__)
#define FAIL(...) verdict (MOAT_FAIL, reason, len, __VA_ARGS__)
#define NA(...) verdict (MOAT_NA, reason, len, __VA_ARGS__)

static uint64_t
all_caps (const struct moat_spec *s)
{
  const struct moat_caps *c = &s->process.caps;

  /* A cap in the bounding set alone is still reachable through a file
     capability or setuid binary unless no_new_privs is set, so every set
     counts. */
  return c->bounding | c->effective | c->permitted | c->inheritable | c->ambient;
}

static bool
is_privileged (const struct moat_rule_ctx *x)
{
  const struct moat_spec *s = x->spec;

  if (x->side->privileged)
    return true;
  return (all_caps (s) & ALL_CAPS) == ALL_CAPS && s->linux.seccomp == NULL && s->linux.masked_paths.n == 0;
}

static enum moat_verdict
check_privileged (const struct moat_rule_ctx *x, char *reason, size_t len)
{
  if (x->side->privileged)
    return FAIL ("HostConfig.Privileged is true");
  if (is_privileged (x))
    return FAIL ("every capability, no seccomp filter and no masked paths (a privileged container)");
  return PASS ("not privileged");
}

static enum moat_verdict
check_caps_all (const struct moat_rule_ctx *x, char *reason, size_t len)
{
  uint64_t c = all_caps (x->spec) & ALL_CAPS;
  int n = __builtin_popcountll (c), total = CAP_LAST_CAP + 1;

  /* Engines spell "ALL" as the host's bounding set, which may lack a cap or
     two (podman --privileged without CAP_SYS_RESOURCE): near-all is all. */
  if (n >= total - 4)
    return FAIL ("%d of %d capabilities granted (ALL)", n, total);
  return PASS ("%d of %d capabilities", n, total);
}

static enum moat_verdict
check_cap (const struct moat_rule_ctx *x, int cap, char *reason, size_t len)
{
  const struct moat_caps *c = &x->spec->process.caps;
  char sets[80] = "";

  if (!(all_caps (x->spec) & BIT (cap)))
    return PASS ("%s not granted", moat_cap_name (cap));
  if (c->bounding & BIT (cap))
    strcat (sets, " bounding");
  if (c->effective & BIT (cap))
    strcat (sets, " effective");
  if (c->permitted & BIT (cap))
    strcat (sets, " permitted");
  if (c->inheritable & BIT (cap))
    strcat (sets, " inheritable");
  if (c->ambient & BIT (cap))
    strcat (sets, " ambient");
  return FAIL ("%s granted (process.capabilities:%s)", moat_cap_name (cap), sets);
}

#define CAP_RULE(fn, cap)                                                      \
  static enum moat_verdict fn (const struct moat_rule_ctx *x, char *reason, size_t len) \
  {                                                                            \
    return check_cap (x, cap, reason, len);                                    \
  }
CAP_RULE (check_cap_sys_admin, CAP_SYS_ADMIN)
CAP_RULE (check_cap_sys_module, CAP_SYS_MODULE)
CAP_RULE (check_cap_sys_ptrace, CAP_SYS_PTRACE)
CAP_RULE (check_cap_dac_read_search, CAP_DAC_READ_SEARCH)
CAP_RULE (check_cap_net_admin, CAP_NET_ADMIN)
CAP_RULE (check_cap_sys_rawio, CAP_SYS_RAWIO)
CAP_RULE (check_cap_bpf, CAP_BPF)

static enum moat_verdict
check_caps_allowed (const struct moat_rule_ctx *x, char *reason, size_t len)
{
  uint64_t extra = all_caps (x->spec) & ~x->policy->allowed_caps;
  size_t off = 0;
  int c;

  if (extra == 0)
    return PASS ("every capability is in the allowed set");
  off = snprintf (reason, len, "capabilities outside the allowed set:");
  for (c = 0; c < 64 && off < len; c++)
    if (extra & BIT (c))
      {
        const char *name = moat_cap_name (c);
        off += snprintf (reason + off, len - off, " %s", name ? name + 4 : "?");
      }
  return MOAT_FAIL;
}

static enum moat_verdict
check_ns (const struct moat_rule_ctx *x, int type, const char *what, char *reason, size_t len)
{
  const struct moat_namespace *ns = moat_spec_namespace (x->spec, type);

  if (ns == NULL)
    return FAIL ("no %s namespace: shares the host's", what);
  /* Joining pid 1's namespace is sharing the host's under another name. */
  if (ns->path && strncmp (ns->path, "/proc/1/", 8) == 0)
    return FAIL ("joins the host's %s namespace (`%s`)", what, ns->path);
  return PASS ("private %s namespace%s%s", what, ns->path ? " joined from " : "", ns->path ? ns->path : "");
}

#define NS_RULE(fn, type, what)                                                \
  static enum moat_verdict fn (const struct moat_rule_ctx *x, char *reason, size_t len) \
  {                                                                            \
    return check_ns (x, type, what, reason, len);                              \
  }
NS_RULE (check_ns_pid, CLONE_NEWPID, "pid")
NS_RULE (check_ns_ipc, CLONE_NEWIPC, "ipc")
NS_RULE (check_ns_uts, CLONE_NEWUTS, "uts")
NS_RULE (check_ns_net, CLONE_NEWNET, "network")
NS_RULE (check_ns_user, CLONE_NEWUSER, "user")

static enum moat_verdict
check_nonroot (const struct moat_rule_ctx *x, char *reason, size_t len)
{
  const struct moat_side_info *s = x->side;

  if (s->has_user)
    {
      const char *u = s->user ? s->user : "";
      size_t l = strcspn (u, ":");
      if (l == 0 || (l == 1 && u[0] == '0') || (l == 4 && strncmp (u, "root", 4) == 0))
        return FAIL ("Config.User is `%s`: runs as root", u);
      return PASS ("Config.User is `%s`", u);
    }
  if (!x->spec->has_process)
    return NA ("no process");
  if (x->spec->process.user.uid == 0)
    return FAIL ("process.user.uid is 0 (root)");
  return PASS ("process.user.uid is %u", x->spec->process.user.uid);
}

static enum moat_verdict
check_nnp (const struct moat_rule_ctx *x, char *reason, size_t len)
{
  if (x->spec->process.no_new_privileges)
    return PASS ("process.noNewPrivileges is true");
  return FAIL ("process.noNewPrivileges is false: setuid and file capabilities still raise privileges");
}

static enum moat_verdict
check_seccomp (const struct moat_rule_ctx *x, char *reason, size_t len)
{
  const struct moat_seccomp *sc = x->spec->linux.seccomp;
  size_t i;

  if (sc == NULL)
    return FAIL ("no seccomp filter (linux.seccomp absent or seccomp=unconfined)");
  if (sc->default_action != MOAT_SCMP_ALLOW && sc->default_action != MOAT_SCMP_LOG)
    return PASS ("seccomp filter with a refusing default action");
  for (i = 0; i < sc->n_rules; i++)
    if (sc->rules[i].action != MOAT_SCMP_ALLOW && sc->rules[i].action != MOAT_SCMP_LOG)
      return PASS ("seccomp filter allows by default but refuses some syscalls");
  return FAIL ("seccomp filter allows every syscall (unconfined)");
}

static enum moat_verdict
check_readonly (const struct moat_rule_ctx *x, char *reason, size_t len)
{
  return x->spec->root_readonly ? PASS ("root.readonly is true") : FAIL ("root.readonly is false");
}

static enum moat_verdict
check_memory (const struct moat_rule_ctx *x, char *reason, size_t len)
{
  const struct moat_resources *r = &x->spec->linux.resources;

  if (x->spec->linux.has_resources && r->memory.has_limit && r->memory.limit > 0)
    return PASS ("memory limit %lld bytes", (long long) r->memory.limit);
  return FAIL ("no memory limit (linux.resources.memory.limit)");
}

static enum moat_verdict
check_cpu (const struct moat_rule_ctx *x, char *reason, size_t len)
{
  const struct moat_resources *r = &x->spec->linux.resources;

  if (x->spec->linux.has_resources
      && ((r->cpu.has_shares && r->cpu.shares > 0) || (r->cpu.has_quota && r->cpu.quota > 0)))
    return PASS ("cpu shares or quota set");
  return FAIL ("no cpu shares or quota (linux.resources.cpu)");
}

static enum moat_verdict
check_pids (const struct moat_rule_ctx *x, char *reason, size_t len)
{
  const struct moat_resources *r = &x->spec->linux.resources;

  if (x->spec->linux.has_resources && r->pids.has_limit && r->pids.limit > 0)
    return PASS ("pids limit %lld", (long long) r->pids.limit);
  return FAIL ("no pids limit (linux.resources.pids.limit): a fork bomb reaches the host");
}

/* ---- mounts ---------------------------------------------------------- */

static bool
path_under (const char *p, const char *dir)
{
  size_t l = strlen (dir);

  if (strcmp (dir, "/") == 0)
    return strcmp (p, "/") == 0;
  return strncmp (p, dir, l) == 0 && (p[l] == '\0' || p[l] == '/');
}

static const char *const sensitive_dirs[] = { "/", "/boot", "/dev", "/etc", "/lib", "/proc", "/sys", "/usr" };

/* Engine plumbing: the per-container files engines bind read-write from
   their own storage (resolv.conf, hosts, ...), not host directories. */
static bool
engine_plumbing (const struct moat_mount *m)
{
  static const char *const dst[] = { "/etc/hosts", "/etc/hostname", "/etc/resolv.conf", "/run/.containerenv",
                                     "/dev/shm", "/run/secrets", "/dev/termination-log" };
  size_t i;

  for (i = 0; i < MOAT_ARRAY_SIZE (dst); i++)
    if (strcmp (m->destination, dst[i]) == 0)
      return true;
  return false;
}

static bool
mount_rw (const struct moat_mount *m)
{
  return !(m->flags & MS_RDONLY) && !m->recursive_ro;
}

static const char *
sensitive_source (const struct moat_mount *m)
{
  size_t i;

  if (!m->bind || m->source == NULL)
    return NULL;
  for (i = 0; i < MOAT_ARRAY_SIZE (sensitive_dirs); i++)
    if (path_under (m->source, sensitive_dirs[i]))
      return sensitive_dirs[i];
  return NULL;
}

static enum moat_verdict
check_mounts_sensitive (const struct moat_rule_ctx *x, bool want_rw, char *reason, size_t len)
{
  const struct moat_spec *s = x->spec;
  size_t i;

  for (i = 0; i < s->n_mounts; i++)
    {
      const struct moat_mount *m = &s->mounts[i];
      if (sensitive_source (m) == NULL || engine_plumbing (m) || mount_rw (m) != want_rw)
        continue;
      return FAIL ("mounts[%zu]: host `%s` bound %s at `%s`", i, m->source, want_rw ? "read-write" : "read-only",
                   m->destination);
    }
  return PASS ("no %s bind of / /boot /dev /etc /lib /proc /sys /usr", want_rw ? "read-write" : "read-only");
}

static enum moat_verdict
check_mounts_sensitive_rw (const struct moat_rule_ctx *x, char *reason, size_t len)
{
  return check_mounts_sensitive (x, true, reason, len);
}

static enum moat_verdict
check_mounts_sensitive_ro (const struct moat_rule_ctx *x, char *reason, size_t len)
{
  return check_mounts_sensitive (x, false, reason, len);
}

static enum moat_verdict
check_mounts_host_rw (const struct moat_rule_ctx *x, char *reason, size_t len)
{
  const struct moat_spec *s = x->spec;
  size_t i;

  for (i = 0; i < s->n_mounts; i++)
    {
      const struct moat_mount *m = &s->mounts[i];
      if (m->bind && m->source && mount_rw (m) && !engine_plumbing (m))
        return FAIL ("mounts[%zu]: host `%s` bound read-write at `%s`", i, m->source, m->destination);
    }
  return PASS ("no read-write bind mount of a host path");
}

static bool
engine_socket (const char *src)
{
  static const char *const socks[] = { "docker.sock", "containerd.sock", "podman.sock", "crio.sock",
                                       "containerd.sock.ttrpc", "dockershim.sock", "moat.sock" };
  static const char *const dirs[] = { "/run", "/var/run", "/run/docker", "/var/run/docker", "/run/containerd",
                                      "/var/run/containerd", "/run/podman", "/var/run/podman", "/run/crio",
                                      "/var/run/crio", "/run/moat" };
  const char *base = strrchr (src, '/');
  size_t i;

  base = base ? base + 1 : src;
  for (i = 0; i < MOAT_ARRAY_SIZE (socks); i++)
    if (strcmp (base, socks[i]) == 0)
      return true;
  /* The directory that holds a socket hands the socket over too. */
  for (i = 0; i < MOAT_ARRAY_SIZE (dirs); i++)
    if (strcmp (src, dirs[i]) == 0)
      return true;
  return strcmp (src, "/") == 0;
}

static enum moat_verdict
check_engine_socket (const struct moat_rule_ctx *x, char *reason, size_t len)
{
  const struct moat_spec *s = x->spec;
  size_t i;

  for (i = 0; i < s->n_mounts; i++)
    {
      const struct moat_mount *m = &s->mounts[i];
      if (m->bind && m->source && engine_socket (m->source))
        return FAIL ("mounts[%zu]: `%s` hands an engine control socket to the container", i, m->source);
    }
  return PASS ("no engine socket mounted");
}

static enum moat_verdict
check_propagation (const struct moat_rule_ctx *x, char *reason, size_t len)
{
  const struct moat_spec *s = x->spec;
  size_t i;

  if (s->linux.rootfs_propagation & MS_SHARED)
    return FAIL ("linux.rootfsPropagation is shared: container mounts reach the host");
  for (i = 0; i < s->n_mounts; i++)
    if (s->mounts[i].propagation & MS_SHARED)
      return FAIL ("mounts[%zu] (`%s`): shared propagation", i, s->mounts[i].destination);
  return PASS ("no shared mount propagation");
}

/* ---- sysctl, devices --------------------------------------------------- */

static enum moat_verdict
check_sysctl (const struct moat_rule_ctx *x, char *reason, size_t len)
{
  const struct moat_kvv *kv = &x->spec->linux.sysctl;
  size_t i;

  for (i = 0; i < kv->n; i++)
    {
      const char *k = kv->v[i].key;
      bool ipc = strncmp (k, "kernel.shm", 10) == 0 || strncmp (k, "kernel.msg", 10) == 0
                 || strcmp (k, "kernel.sem") == 0 || strncmp (k, "fs.mqueue.", 10) == 0;
      bool uts = strcmp (k, "kernel.hostname") == 0 || strcmp (k, "kernel.domainname") == 0;
      bool net = strncmp (k, "net.", 4) == 0;
      if ((ipc && moat_spec_namespace (x->spec, CLONE_NEWIPC))
          || (uts && moat_spec_namespace (x->spec, CLONE_NEWUTS))
          || (net && moat_spec_namespace (x->spec, CLONE_NEWNET)))
        continue;
      /* CVE-2022-0811: a non-namespaced sysctl (kernel.core_pattern) is host state. */
      return FAIL ("linux.sysctl `%s` is not scoped to a namespace the container owns", k);
    }
  return PASS ("%zu sysctl(s), all namespaced", kv->n);
}

static bool
raw_char (int64_t major, int64_t minor)
{
  /* /dev/mem, /dev/kmem, /dev/port: physical memory and I/O ports. */
  return major == 1 && (minor == 1 || minor == 2 || minor == 4);
}

static bool
disk_name (const char *p)
{
  static const char *const pre[] = { "/dev/sd", "/dev/hd", "/dev/vd", "/dev/xvd", "/dev/nvme", "/dev/mmcblk",
                                     "/dev/dm-", "/dev/loop", "/dev/md", "/dev/mapper/", "/dev/mem",
                                     "/dev/kmem", "/dev/port" };
  size_t i;

  for (i = 0; i < MOAT_ARRAY_SIZE (pre); i++)
    if (strncmp (p, pre[i], strlen (pre[i])) == 0)
      return true;
  return false;
}

static enum moat_verdict
check_devices_raw (const struct moat_rule_ctx *x, char *reason, size_t len)
{
  const struct moat_linux *l = &x->spec->linux;
  size_t i;

  for (i = 0; i < l->n_devices; i++)
    if (l->devices[i].type == 'b' || raw_char (l->devices[i].major, l->devices[i].minor)
        || disk_name (l->devices[i].path))
      return FAIL ("linux.devices[%zu]: `%s` gives raw access to a disk or to memory", i, l->devices[i].path);
  for (i = 0; l->has_resources && i < l->resources.n_devices; i++)
    {
      const struct moat_device_rule *d = &l->resources.devices[i];
      /* "m" alone (mknod) is what Docker allows by default for every
         device: making a node is harmless while reading it is refused. */
      if (!d->allow || strpbrk (d->access, "rw") == NULL)
        continue;
      if (d->type == 'a' || d->type == 'b' || (d->type == 'c' && (d->major < 0 || raw_char (d->major, d->minor))))
        return FAIL ("linux.resources.devices[%zu]: allows `%c %lld:%lld %s`", i, d->type, (long long) d->major,
                     (long long) d->minor, d->access);
    }
  return PASS ("no raw disk or memory device");
}

static enum moat_verdict
check_devices_host (const struct moat_rule_ctx *x, char *reason, size_t len)
{
  const struct moat_linux *l = &x->spec->linux;

  if (l->n_devices > 0)
    return FAIL ("%zu host device(s) exposed, first `%s`", l->n_devices, l->devices[0].path);
  return PASS ("no host device exposed");
}

/* ---- image, LSM ------------------------------------------------------- */

static enum moat_verdict
check_registry (const struct moat_rule_ctx *x, char *reason, size_t len)
{
  const struct moat_strv *r = &x->policy->registries;
  const char *img = x->side->image;
  size_t i;

  if (r->n == 0)
    return NA ("no registry allowlist configured");
  if (img == NULL)
    return FAIL ("image unknown: cannot prove it comes from an allowed registry");
  for (i = 0; i < r->n; i++)
    {
      size_t l = strlen (r->v[i]);
      if (strncmp (img, r->v[i], l) == 0 && (img[l] == '/' || img[l] == ':' || img[l] == '@' || img[l] == '\0'))
        return PASS ("image `%s` from allowed `%s`", img, r->v[i]);
    }
  return FAIL ("image `%s` is not from an allowed registry", img);
}

static enum moat_verdict
check_digest (const struct moat_rule_ctx *x, char *reason, size_t len)
{
  if (x->side->image == NULL)
    return NA ("image reference unknown (no image annotation)");
  if (x->side->image_digest)
    return PASS ("image pinned to %s", x->side->image_digest);
  return FAIL ("image `%s` is not pinned by digest", x->side->image);
}

static const char *
annotation (const struct moat_spec *s, const char *key)
{
  size_t i;

  for (i = 0; i < s->annotations.n; i++)
    if (strcmp (s->annotations.v[i].key, key) == 0)
      return s->annotations.v[i].value;
  return NULL;
}

static enum moat_verdict
check_lsm (const struct moat_rule_ctx *x, char *reason, size_t len)
{
  const struct moat_process *p = &x->spec->process;
  const char *ll = annotation (x->spec, "org.moat.landlock");

  if (p->apparmor_profile && strcmp (p->apparmor_profile, "unconfined") != 0)
    return PASS ("AppArmor profile `%s`", p->apparmor_profile);
  if (p->selinux_label)
    return PASS ("SELinux label `%s`", p->selinux_label);
  if (ll && strcmp (ll, "") != 0 && strcmp (ll, "off") != 0 && strcmp (ll, "false") != 0)
    return PASS ("Landlock ruleset `%s` (org.moat.landlock)", ll);
  return FAIL ("no AppArmor profile, SELinux label or Landlock ruleset (org.moat.landlock)");
}

static enum moat_verdict
check_apparmor (const struct moat_rule_ctx *x, char *reason, size_t len)
{
  const char *a = x->spec->process.apparmor_profile;

  if (a == NULL || strcmp (a, "unconfined") == 0)
    return FAIL ("no AppArmor profile%s", a ? " (unconfined)" : "");
  return PASS ("AppArmor profile `%s`", a);
}

static enum moat_verdict
check_selinux (const struct moat_rule_ctx *x, char *reason, size_t len)
{
  if (x->spec->process.selinux_label == NULL)
    return FAIL ("no SELinux label (process.selinuxLabel)");
  return PASS ("SELinux label `%s`", x->spec->process.selinux_label);
}

/* ---- engine-level (inspect documents only) --------------------------- */

static enum moat_verdict
check_restart (const struct moat_rule_ctx *x, char *reason, size_t len)
{
  const struct moat_side_info *s = x->side;

  if (!s->has_restart)
    return NA ("restart policy is engine state: not in a config file");
  if (s->restart_name && strcmp (s->restart_name, "always") == 0)
    return FAIL ("restart policy `always` restarts without bound");
  if (s->restart_max > 5)
    return FAIL ("on-failure restart count %ld > 5", s->restart_max);
  return PASS ("restart policy `%s`, %ld retries", s->restart_name ? s->restart_name : "", s->restart_max);
}

static enum moat_verdict
check_ports_privileged (const struct moat_rule_ctx *x, char *reason, size_t len)
{
  const struct moat_side_info *s = x->side;
  size_t i;

  if (!s->has_ports)
    return NA ("port mappings are engine state: not in a config file");
  for (i = 0; i < s->n_ports; i++)
    if (s->ports[i].host_port > 0 && s->ports[i].host_port < 1025)
      return FAIL ("host port %d mapped to %d/%s", s->ports[i].host_port, s->ports[i].container_port,
                   s->ports[i].proto);
  return PASS ("no privileged host port mapped");
}

static enum moat_verdict
check_ports_open (const struct moat_rule_ctx *x, char *reason, size_t len)
{
  const struct moat_side_info *s = x->side;
  size_t i, n = 0;

  if (!s->has_ports)
    return NA ("port mappings are engine state: not in a config file");
  for (i = 0; i < s->n_ports; i++)
    n += s->ports[i].host_port > 0;
  if (n > 0)
    return FAIL ("%zu port(s) published, review that each is needed", n);
  return PASS ("no port published");
}

static enum moat_verdict
check_ports_interface (const struct moat_rule_ctx *x, char *reason, size_t len)
{
  const struct moat_side_info *s = x->side;
  size_t i;

  if (!s->has_ports)
    return NA ("port mappings are engine state: not in a config file");
  for (i = 0; i < s->n_ports; i++)
    {
      const char *ip = s->ports[i].host_ip;
      if (s->ports[i].host_port > 0 && (ip == NULL || !*ip || strcmp (ip, "0.0.0.0") == 0 || strcmp (ip, "::") == 0))
        return FAIL ("host port %d bound on every interface", s->ports[i].host_port);
    }
  return PASS ("published ports bound to a specific interface");
}

static enum moat_verdict
check_healthcheck (const struct moat_rule_ctx *x, char *reason, size_t len)
{
  if (!x->side->has_healthcheck)
    return NA ("healthcheck is image/engine state: not in a config file");
  return x->side->healthcheck ? PASS ("healthcheck configured") : FAIL ("no healthcheck (Config.Healthcheck)");
}

static enum moat_verdict
check_cgroup_parent (const struct moat_rule_ctx *x, char *reason, size_t len)
{
  if (!x->side->has_cgroup_parent)
    return NA ("engine cgroup parent: not in a config file");
  if (x->side->cgroup_parent && *x->side->cgroup_parent)
    return FAIL ("cgroup parent `%s` instead of the engine default", x->side->cgroup_parent);
  return PASS ("default cgroup parent");
}

static enum moat_verdict
check_ulimits (const struct moat_rule_ctx *x, char *reason, size_t len)
{
  size_t n = x->side->has_ulimits ? x->side->n_ulimits : x->spec->process.n_rlimits;

  if (n == 0)
    return FAIL ("no rlimits set: the engine's defaults apply");
  return PASS ("%zu rlimit(s) set", n);
}

/* The order is the report order; ids are stable (policy files name them). */
const struct moat_rule moat_rules[] = {
  { "moat.privileged", "5.5", MOAT_SEV_CRITICAL, MOAT_ACTION_DENY, "privileged container",
    "drop --privileged: keep the default capabilities, seccomp and masked paths", check_privileged },
  { "moat.caps.all", "5.4", MOAT_SEV_CRITICAL, MOAT_ACTION_DENY, "capability ALL granted",
    "grant only the capabilities the process needs (--cap-drop ALL --cap-add ...)", check_caps_all },
  { "moat.caps.sys_admin", "5.4", MOAT_SEV_CRITICAL, MOAT_ACTION_DENY, "CAP_SYS_ADMIN granted",
    "drop CAP_SYS_ADMIN (mount, bpf, namespaces: the usual escape path)", check_cap_sys_admin },
  { "moat.caps.sys_module", "5.4", MOAT_SEV_CRITICAL, MOAT_ACTION_DENY, "CAP_SYS_MODULE granted",
    "drop CAP_SYS_MODULE (loads kernel code)", check_cap_sys_module },
  { "moat.caps.sys_ptrace", "5.4", MOAT_SEV_HIGH, MOAT_ACTION_DENY, "CAP_SYS_PTRACE granted",
    "drop CAP_SYS_PTRACE", check_cap_sys_ptrace },
  { "moat.caps.dac_read_search", "5.4", MOAT_SEV_HIGH, MOAT_ACTION_DENY, "CAP_DAC_READ_SEARCH granted",
    "drop CAP_DAC_READ_SEARCH (open_by_handle_at, the shocker escape)", check_cap_dac_read_search },
  { "moat.caps.net_admin", "5.4", MOAT_SEV_HIGH, MOAT_ACTION_DENY, "CAP_NET_ADMIN granted",
    "drop CAP_NET_ADMIN", check_cap_net_admin },
  { "moat.caps.sys_rawio", "5.4", MOAT_SEV_CRITICAL, MOAT_ACTION_DENY, "CAP_SYS_RAWIO granted",
    "drop CAP_SYS_RAWIO (raw I/O ports and memory)", check_cap_sys_rawio },
  { "moat.caps.bpf", "5.4", MOAT_SEV_HIGH, MOAT_ACTION_DENY, "CAP_BPF granted", "drop CAP_BPF", check_cap_bpf },
  { "moat.caps.allowed", "5.4", MOAT_SEV_MEDIUM, MOAT_ACTION_WARN, "capabilities outside the allowed set",
    "drop the capabilities not in rules.moat.caps.allowed", check_caps_allowed },
  { "moat.ns.host_pid", "5.16", MOAT_SEV_HIGH, MOAT_ACTION_WARN, "host pid namespace shared",
    "give the container its own pid namespace (no --pid host)", check_ns_pid },
  { "moat.ns.host_ipc", "5.17", MOAT_SEV_MEDIUM, MOAT_ACTION_WARN, "host ipc namespace shared",
    "give the container its own ipc namespace (no --ipc host)", check_ns_ipc },
  { "moat.ns.host_uts", "5.21", MOAT_SEV_LOW, MOAT_ACTION_WARN, "host uts namespace shared",
    "give the container its own uts namespace (no --uts host)", check_ns_uts },
  { "moat.ns.host_net", "5.10", MOAT_SEV_HIGH, MOAT_ACTION_WARN, "host network namespace shared",
    "give the container its own network namespace (no --network host)", check_ns_net },
  { "moat.ns.host_user", "5.31", MOAT_SEV_MEDIUM, MOAT_ACTION_WARN, "no user namespace (host's shared)",
    "run in a user namespace (linux.uidMappings, --userns, userns-remap)", check_ns_user },
  { "moat.user.nonroot", "4.1", MOAT_SEV_MEDIUM, MOAT_ACTION_WARN, "process runs as root",
    "run as a non-root user (process.user.uid, USER in the image, --user)", check_nonroot },
  { "moat.no_new_privileges", "5.26", MOAT_SEV_MEDIUM, MOAT_ACTION_WARN, "no_new_privileges not set",
    "set process.noNewPrivileges (--security-opt no-new-privileges)", check_nnp },
  { "moat.seccomp", "5.22", MOAT_SEV_HIGH, MOAT_ACTION_WARN, "no seccomp filter or unconfined",
    "apply a seccomp profile (the engine default; never seccomp=unconfined)", check_seccomp },
  { "moat.rootfs.readonly", "5.13", MOAT_SEV_LOW, MOAT_ACTION_WARN, "root filesystem writable",
    "set root.readonly (--read-only) and mount tmpfs where writes are needed", check_readonly },
  { "moat.limits.memory", "5.11", MOAT_SEV_MEDIUM, MOAT_ACTION_WARN, "no memory limit",
    "set linux.resources.memory.limit (--memory)", check_memory },
  { "moat.limits.cpu", "5.12", MOAT_SEV_LOW, MOAT_ACTION_WARN, "no cpu shares or quota",
    "set linux.resources.cpu shares or quota (--cpu-shares, --cpus)", check_cpu },
  { "moat.limits.pids", "5.29", MOAT_SEV_MEDIUM, MOAT_ACTION_WARN, "no pids limit",
    "set linux.resources.pids.limit (--pids-limit)", check_pids },
  { "moat.mounts.sensitive_rw", "5.6", MOAT_SEV_CRITICAL, MOAT_ACTION_DENY,
    "sensitive host directory mounted read-write", "do not bind / /boot /dev /etc /lib /proc /sys /usr read-write",
    check_mounts_sensitive_rw },
  { "moat.mounts.sensitive_ro", "5.6", MOAT_SEV_MEDIUM, MOAT_ACTION_WARN,
    "sensitive host directory mounted read-only", "do not bind host system directories; copy what is needed",
    check_mounts_sensitive_ro },
  { "moat.mounts.host_rw", NULL, MOAT_SEV_LOW, MOAT_ACTION_WARN, "host path mounted read-write",
    "mount host paths read-only (ro) or use a volume", check_mounts_host_rw },
  { "moat.mounts.engine_socket", "5.32", MOAT_SEV_CRITICAL, MOAT_ACTION_DENY, "engine control socket mounted",
    "do not mount docker.sock, containerd.sock, podman.sock or /run", check_engine_socket },
  { "moat.mounts.propagation", "5.20", MOAT_SEV_MEDIUM, MOAT_ACTION_WARN, "shared mount propagation",
    "use private or slave propagation (no shared/rshared)", check_propagation },
  { "moat.sysctl", NULL, MOAT_SEV_CRITICAL, MOAT_ACTION_DENY, "sysctl outside the container's namespaces",
    "set only namespaced sysctls (net.*, kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.*)", check_sysctl },
  { "moat.devices.raw", NULL, MOAT_SEV_CRITICAL, MOAT_ACTION_DENY, "raw disk or memory device exposed",
    "do not pass block devices or /dev/mem,kmem,port (--device)", check_devices_raw },
  { "moat.devices.host", "5.18", MOAT_SEV_MEDIUM, MOAT_ACTION_WARN, "host devices exposed",
    "expose only the devices the process needs", check_devices_host },
  { "moat.image.registry", NULL, MOAT_SEV_HIGH, MOAT_ACTION_DENY, "image from a registry outside the allowlist",
    "pull from a registry listed in rules.moat.image.registry.registries", check_registry },
  { "moat.image.digest", "5.28", MOAT_SEV_LOW, MOAT_ACTION_WARN, "image not pinned by digest",
    "reference the image as NAME@sha256:DIGEST", check_digest },
  { "moat.lsm", NULL, MOAT_SEV_MEDIUM, MOAT_ACTION_WARN, "no LSM profile or Landlock ruleset",
    "set an AppArmor profile, an SELinux label, or annotation org.moat.landlock", check_lsm },
  { "moat.lsm.apparmor", "5.2", MOAT_SEV_LOW, MOAT_ACTION_OFF, "no AppArmor profile",
    "set process.apparmorProfile (--security-opt apparmor=PROFILE)", check_apparmor },
  { "moat.lsm.selinux", "5.3", MOAT_SEV_LOW, MOAT_ACTION_OFF, "no SELinux label",
    "set process.selinuxLabel (--security-opt label=...)", check_selinux },
  { "moat.restart_policy", "5.15", MOAT_SEV_LOW, MOAT_ACTION_WARN, "unbounded restart policy",
    "use --restart on-failure:5", check_restart },
  { "moat.ports.privileged", "5.8", MOAT_SEV_LOW, MOAT_ACTION_WARN, "privileged host port mapped",
    "map container ports to host ports above 1024", check_ports_privileged },
  { "moat.ports.open", "5.9", MOAT_SEV_LOW, MOAT_ACTION_OFF, "ports published",
    "publish only the ports the service needs", check_ports_open },
  { "moat.ports.host_interface", "5.14", MOAT_SEV_LOW, MOAT_ACTION_WARN, "port bound on every host interface",
    "bind published ports to one address (-p IP:HOST:CONTAINER)", check_ports_interface },
  { "moat.healthcheck", "5.27", MOAT_SEV_LOW, MOAT_ACTION_OFF, "no healthcheck",
    "add a HEALTHCHECK to the image or --health-cmd", check_healthcheck },
  { "moat.cgroup_parent", "5.25", MOAT_SEV_LOW, MOAT_ACTION_OFF, "non-default cgroup parent",
    "leave the cgroup parent to the engine", check_cgroup_parent },
  { "moat.ulimits", "5.19", MOAT_SEV_LOW, MOAT_ACTION_OFF, "default ulimits not overridden",
    "set process.rlimits (--ulimit) where the defaults do not fit", check_ulimits },
};
const size_t moat_n_rules = MOAT_ARRAY_SIZE (moat_rules);

_Static_assert (MOAT_ARRAY_SIZE (moat_rules) <= 64, "struct moat_policy holds 64 rule actions");

int
moat_rule_find (const char *id)
{
  size_t i;

  for (i = 0; i < moat_n_rules; i++)
    if (strcmp (moat_rules[i].id, id) == 0)
      return (int) i;
  return -1;
}

const char *
moat_severity_name (enum moat_severity s)
{
  static const char *const n[] = { "low", "medium", "high", "critical" };
  return n[s];
}

const char *
moat_action_name (enum moat_action a)
{
  static const char *const n[] = { "off", "warn", "deny" };
  return n[a];
}

static bool
override_matches (const struct moat_policy_override *o, const struct moat_spec *spec,
                  const struct moat_side_info *side)
{
  size_t i;

  if (o->image && (side->image == NULL || fnmatch (o->image, side->image, 0) != 0))
    return false;
  if (o->digest && (side->image_digest == NULL || strcmp (o->digest, side->image_digest) != 0))
    return false;
  for (i = 0; i < o->labels.n; i++)
    {
      const char *v = annotation (spec, o->labels.v[i].key);
      if (v == NULL || strcmp (v, o->labels.v[i].value) != 0)
        return false;
    }
  return true;
}

void
moat_policy_evaluate (const struct moat_policy *policy, const struct moat_spec *spec,
                      const struct moat_side_info *side, struct moat_evaluation *ev)
{
  struct moat_rule_ctx x = { spec, side, policy };
  enum moat_action act[64];
  size_t i, k;

  memcpy (act, policy->action, sizeof act);
  /* Later overrides win over earlier ones, all over the defaults. */
  for (k = 0; k < policy->n_overrides; k++)
    if (override_matches (&policy->overrides[k], spec, side))
      for (i = 0; i < moat_n_rules; i++)
        if (policy->overrides[k].set[i])
          act[i] = policy->overrides[k].action[i];
  ev->n = moat_n_rules;
  ev->n_denied = ev->n_warned = 0;
  for (i = 0; i < moat_n_rules; i++)
    {
      struct moat_finding *f = &ev->findings[i];
      f->rule = (int) i;
      f->action = act[i];
      f->reason[0] = '\0';
      f->verdict = moat_rules[i].check (&x, f->reason, sizeof f->reason);
      /* Reasons quote config values; a newline there must not forge a
         report line or a denial line. */
      for (char *c = f->reason; *c; c++)
        if ((unsigned char) *c < 0x20 || *c == 0x7f)
          *c = '?';
      if (f->verdict != MOAT_FAIL)
        continue;
      if (act[i] == MOAT_ACTION_DENY)
        ev->n_denied++;
      else if (act[i] == MOAT_ACTION_WARN)
        ev->n_warned++;
    }
}

static const uint64_t docker_default_caps
    = BIT (CAP_CHOWN) | BIT (CAP_DAC_OVERRIDE) | BIT (CAP_FSETID) | BIT (CAP_FOWNER) | BIT (CAP_MKNOD)
      | BIT (CAP_NET_RAW) | BIT (CAP_SETGID) | BIT (CAP_SETUID) | BIT (CAP_SETFCAP) | BIT (CAP_SETPCAP)
      | BIT (CAP_NET_BIND_SERVICE) | BIT (CAP_SYS_CHROOT) | BIT (CAP_KILL) | BIT (CAP_AUDIT_WRITE);

void
moat_policy_baseline (struct moat_policy *p)
{
  size_t i;

  memset (p, 0, sizeof *p);
  for (i = 0; i < moat_n_rules; i++)
    p->action[i] = moat_rules[i].baseline;
  p->allowed_caps = docker_default_caps;
}
