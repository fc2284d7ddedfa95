/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "spec/spec.h"
#include "spec/spec_internal.h"

#include <ctype.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/capability.h>
#include <sys/mount.h>
#include <sys/resource.h>

#include "util/cleanup.h"

/* Capability names as OCI writes them, indexed by number.  libcap owns the
 * name -> number direction (moat_cap_from_name); this table only gives the
 * canonical spelling back for messages and `moat features`. */
static const char *const cap_names[] = {
  "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
  "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
  "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
  "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
  "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
  "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
  "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
  "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
  "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
};

int
moat_cap_from_name (const char *name)
{
  char buf[64];
  cap_value_t v;
  size_t len;

  if (name == NULL)
    return -1;
  if (strncasecmp (name, "CAP_", 4) == 0)
    name += 4;
  len = strlen (name);
  /* libcap also takes numbers ("21") and is lenient about trailing text; a
   * capability name is letters and underscores only. */
  if (len == 0 || len + 5 > sizeof buf)
    return -1;
  for (size_t i = 0; i < len; i++)
    if (!isalpha ((unsigned char) name[i]) && name[i] != '_')
      return -1;
  memcpy (buf, "cap_", 4);
  memcpy (buf + 4, name, len + 1);
  if (cap_from_name (buf, &v) < 0 || v < 0 || v > 63)
    return -1;
  return (int) v;
}

const char *
moat_cap_name (int cap)
{
  if (cap < 0 || (size_t) cap >= MOAT_ARRAY_SIZE (cap_names))
    return NULL;
  return cap_names[cap];
}

struct sig_name
{
  const char *name;
  int sig;
};

/* Linux numbering on every architecture moat builds for (x86, arm, riscv,
 * s390, ppc); mips and sparc differ and are not supported. */
static const struct sig_name sig_names[] = {
  { "HUP", 1 },     { "INT", 2 },     { "QUIT", 3 },   { "ILL", 4 },     { "TRAP", 5 },
  { "ABRT", 6 },    { "IOT", 6 },     { "BUS", 7 },    { "FPE", 8 },     { "KILL", 9 },
  { "USR1", 10 },   { "SEGV", 11 },   { "USR2", 12 },  { "PIPE", 13 },   { "ALRM", 14 },
  { "TERM", 15 },   { "STKFLT", 16 }, { "CHLD", 17 },  { "CLD", 17 },    { "CONT", 18 },
  { "STOP", 19 },   { "TSTP", 20 },   { "TTIN", 21 },  { "TTOU", 22 },   { "URG", 23 },
  { "XCPU", 24 },   { "XFSZ", 25 },   { "VTALRM", 26 }, { "PROF", 27 },  { "WINCH", 28 },
  { "IO", 29 },     { "POLL", 29 },   { "PWR", 30 },   { "SYS", 31 },
};

/* The first real-time signal as runc and Docker number it (glibc reserves
 * 32 and 33 for itself), so `kill RTMIN+3` means the same signal. */
#define MOAT_SIGRTMIN 34
#define MOAT_SIGRTMAX 64

static int
parse_small_uint (const char *s, int max)
{
  int n = 0;

  if (*s == '\0')
    return -1;
  for (; *s; s++)
    {
      if (*s < '0' || *s > '9')
        return -1;
      n = n * 10 + (*s - '0');
      if (n > max)
        return -1;
    }
  return n;
}

int
moat_signal_from_name (const char *name)
{
  int n;

  if (name == NULL || *name == '\0')
    return -1;
  if (isdigit ((unsigned char) name[0]))
    {
      n = parse_small_uint (name, MOAT_SIGRTMAX);
      return n >= 1 ? n : -1;
    }
  if (strncasecmp (name, "SIG", 3) == 0)
    name += 3;
  for (size_t i = 0; i < MOAT_ARRAY_SIZE (sig_names); i++)
    if (strcasecmp (name, sig_names[i].name) == 0)
      return sig_names[i].sig;
  if (strncasecmp (name, "RTMIN", 5) == 0)
    {
      if (name[5] == '\0')
        return MOAT_SIGRTMIN;
      if (name[5] != '+')
        return -1;
      n = parse_small_uint (name + 6, MOAT_SIGRTMAX - MOAT_SIGRTMIN);
      return n >= 0 ? MOAT_SIGRTMIN + n : -1;
    }
  if (strncasecmp (name, "RTMAX", 5) == 0)
    {
      if (name[5] == '\0')
        return MOAT_SIGRTMAX;
      if (name[5] != '-')
        return -1;
      n = parse_small_uint (name + 6, MOAT_SIGRTMAX - MOAT_SIGRTMIN);
      return n >= 0 ? MOAT_SIGRTMAX - n : -1;
    }
  return -1;
}

struct ns_name
{
  int type;
  const char *oci;
  const char *proc;
};

static const struct ns_name ns_names[] = {
  { CLONE_NEWPID, "pid", "pid" },         { CLONE_NEWNET, "network", "net" },
  { CLONE_NEWNS, "mount", "mnt" },        { CLONE_NEWIPC, "ipc", "ipc" },
  { CLONE_NEWUTS, "uts", "uts" },         { CLONE_NEWUSER, "user", "user" },
  { CLONE_NEWCGROUP, "cgroup", "cgroup" }, { CLONE_NEWTIME, "time", "time" },
};

int
moat_namespace_from_name (const char *name)
{
  if (name == NULL)
    return -1;
  for (size_t i = 0; i < MOAT_ARRAY_SIZE (ns_names); i++)
    if (strcmp (name, ns_names[i].oci) == 0)
      return ns_names[i].type;
  return -1;
}

const char *
moat_namespace_name (int type)
{
  for (size_t i = 0; i < MOAT_ARRAY_SIZE (ns_names); i++)
    if (ns_names[i].type == type)
      return ns_names[i].oci;
  return NULL;
}

const char *
moat_namespace_proc_name (int type)
{
  for (size_t i = 0; i < MOAT_ARRAY_SIZE (ns_names); i++)
    if (ns_names[i].type == type)
      return ns_names[i].proc;
  return NULL;
}

const struct moat_namespace *
moat_spec_namespace (const struct moat_spec *spec, int type)
{
  if (spec == NULL || !spec->has_linux)
    return NULL;
  for (size_t i = 0; i < spec->linux.n_namespaces; i++)
    if (spec->linux.namespaces[i].type == type)
      return &spec->linux.namespaces[i];
  return NULL;
}

bool
moat_valid_container_id (const char *id)
{
  size_t n;

  if (id == NULL || !isalnum ((unsigned char) id[0]) || (unsigned char) id[0] >= 0x80)
    return false;
  for (n = 1; id[n]; n++)
    {
      unsigned char c = (unsigned char) id[n];

      if (n >= 1024)
        return false;
      if (!(c < 0x80 && (isalnum (c) || c == '_' || c == '.' || c == '-')))
        return false;
    }
  return true;
}

struct rlimit_name
{
  const char *name;
  int resource;
};

static const struct rlimit_name rlimit_names[] = {
  { "RLIMIT_CPU", RLIMIT_CPU },         { "RLIMIT_FSIZE", RLIMIT_FSIZE },
  { "RLIMIT_DATA", RLIMIT_DATA },       { "RLIMIT_STACK", RLIMIT_STACK },
  { "RLIMIT_CORE", RLIMIT_CORE },       { "RLIMIT_RSS", RLIMIT_RSS },
  { "RLIMIT_NPROC", RLIMIT_NPROC },     { "RLIMIT_NOFILE", RLIMIT_NOFILE },
  { "RLIMIT_MEMLOCK", RLIMIT_MEMLOCK }, { "RLIMIT_AS", RLIMIT_AS },
  { "RLIMIT_LOCKS", RLIMIT_LOCKS },     { "RLIMIT_SIGPENDING", RLIMIT_SIGPENDING },
  { "RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE }, { "RLIMIT_NICE", RLIMIT_NICE },
  { "RLIMIT_RTPRIO", RLIMIT_RTPRIO },   { "RLIMIT_RTTIME", RLIMIT_RTTIME },
};

int
spec_rlimit_from_name (const char *name)
{
  for (size_t i = 0; i < MOAT_ARRAY_SIZE (rlimit_names); i++)
    if (strcmp (name, rlimit_names[i].name) == 0)
      return rlimit_names[i].resource;
  return -1;
}

int
spec_propagation_from_name (const char *name, unsigned long *out)
{
  static const struct
  {
    const char *name;
    unsigned long flags;
  } props[] = {
    { "shared", MS_SHARED },   { "rshared", MS_SHARED | MS_REC },
    { "slave", MS_SLAVE },     { "rslave", MS_SLAVE | MS_REC },
    { "private", MS_PRIVATE }, { "rprivate", MS_PRIVATE | MS_REC },
    { "unbindable", MS_UNBINDABLE }, { "runbindable", MS_UNBINDABLE | MS_REC },
  };

  for (size_t i = 0; i < MOAT_ARRAY_SIZE (props); i++)
    if (strcmp (name, props[i].name) == 0)
      {
        *out = props[i].flags;
        return 0;
      }
  return -1;
}
