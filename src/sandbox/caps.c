/* SPDX-License-Identifier: GPL-2.0-or-later */
/* process.user and process.capabilities: switch to the container user while
 * keeping exactly the configured capabilities; no_new_privs; personality. */
#include "sandbox/security.h"

#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <sys/capability.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/log.h"
#include "util/syscalls.h"

#define MOAT_DEFAULT_UMASK 0022

static uint64_t
moat_cap_bit (int cap)
{
  return (uint64_t) 1 << cap;
}

/* "CAP_CHOWN", or the number for a capability without a name. */
static const char *
moat_cap_label (int cap, char *buf, size_t size)
{
  const char *name = moat_cap_name (cap);

  if (name)
    return name;
  snprintf (buf, size, "capability %d", cap);
  return buf;
}

/* Highest capability number of the running kernel.  libcap probes it with
 * PR_CAPBSET_READ at load time, which needs no /proc (the init may run
 * before the container's /proc exists). */
static int
moat_cap_last (void)
{
  int bits = (int) cap_max_bits ();

  if (bits <= 0 || bits > 64)
    bits = CAP_LAST_CAP + 1;
  return bits - 1;
}

/* Check the requested sets before touching any state: an error must leave
 * the process as it was, and name the capability at fault. */
static int
moat_caps_validate (const struct moat_caps *c, int last_cap, struct moat_error *err)
{
  static const struct
  {
    const char *field;
    size_t offset;
  } sets[] = {
    { "bounding", offsetof (struct moat_caps, bounding) },
    { "effective", offsetof (struct moat_caps, effective) },
    { "inheritable", offsetof (struct moat_caps, inheritable) },
    { "permitted", offsetof (struct moat_caps, permitted) },
    { "ambient", offsetof (struct moat_caps, ambient) },
  };
  uint64_t valid = last_cap >= 63 ? UINT64_MAX : moat_cap_bit (last_cap + 1) - 1;
  char buf[32];
  size_t i;
  int cap;

  for (i = 0; i < MOAT_ARRAY_SIZE (sets); i++)
    {
      uint64_t set = *(const uint64_t *) ((const char *) c + sets[i].offset);
      if (set & ~valid)
        {
          cap = __builtin_ctzll (set & ~valid);
          return moat_err (err, 0,
                           "process.capabilities.%s: %s is not known to this kernel (cap_last_cap is %d)",
                           sets[i].field, moat_cap_label (cap, buf, sizeof buf), last_cap);
        }
    }
  /* capset(2) fails with a bare EPERM for these; say which cap. */
  if (c->effective & ~c->permitted)
    {
      cap = __builtin_ctzll (c->effective & ~c->permitted);
      return moat_err (err, 0, "process.capabilities.effective: %s is not in the permitted set",
                       moat_cap_label (cap, buf, sizeof buf));
    }
  if (c->inheritable & ~c->bounding)
    {
      cap = __builtin_ctzll (c->inheritable & ~c->bounding);
      return moat_err (err, 0, "process.capabilities.inheritable: %s is not in the bounding set",
                       moat_cap_label (cap, buf, sizeof buf));
    }
  return 0;
}

static int
moat_caps_drop_bounding (uint64_t bounding, int last_cap, struct moat_error *err)
{
  char buf[32];
  int cap;

  for (cap = 0; cap <= last_cap; cap++)
    {
      if (bounding & moat_cap_bit (cap))
        continue;
      if (prctl (PR_CAPBSET_DROP, (unsigned long) cap, 0, 0, 0) < 0)
        return moat_err (err, errno, "process.capabilities.bounding: drop %s (needs CAP_SETPCAP)",
                         moat_cap_label (cap, buf, sizeof buf));
    }
  return 0;
}

static int
moat_caps_get_permitted (uint64_t *permitted)
{
  struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
  struct __user_cap_data_struct data[2] = { { 0 } };

  if (sys_capget (&hdr, data) < 0)
    return -1;
  *permitted = (uint64_t) data[0].permitted | ((uint64_t) data[1].permitted << 32);
  return 0;
}

static int
moat_caps_set (const struct moat_caps *c, uint64_t old_permitted, struct moat_error *err)
{
  struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
  struct __user_cap_data_struct data[2];
  char buf[32];
  int i;

  for (i = 0; i < 2; i++)
    {
      data[i].effective = (uint32_t) (c->effective >> (32 * i));
      data[i].permitted = (uint32_t) (c->permitted >> (32 * i));
      data[i].inheritable = (uint32_t) (c->inheritable >> (32 * i));
    }
  if (sys_capset (&hdr, data) == 0)
    return 0;
  if (errno == EPERM && (c->permitted & ~old_permitted))
    {
      int cap = __builtin_ctzll (c->permitted & ~old_permitted);
      return moat_err (err, EPERM, "process.capabilities.permitted: %s is not held by the runtime",
                       moat_cap_label (cap, buf, sizeof buf));
    }
  return moat_err (err, errno, "process.capabilities: capset");
}

static int
moat_caps_set_ambient (uint64_t ambient, int last_cap, struct moat_error *err)
{
  char buf[32];
  int cap;

  if (prctl (PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
    return moat_err (err, errno, "process.capabilities.ambient: clear");
  for (cap = 0; cap <= last_cap; cap++)
    if ((ambient & moat_cap_bit (cap))
        && prctl (PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, (unsigned long) cap, 0, 0) < 0)
      return moat_err (err, errno, "process.capabilities.ambient: raise %s",
                       moat_cap_label (cap, buf, sizeof buf));
  return 0;
}

static int
moat_user_switch (const struct moat_user *u, bool setgroups_allowed, struct moat_error *err)
{
  /* Always set the supplementary groups when allowed, even to the empty
     list: otherwise the init keeps the runtime's own groups. */
  if (setgroups_allowed && setgroups (u->n_additional_gids, (const gid_t *) u->additional_gids) < 0)
    return moat_err (err, errno, "process.user.additionalGids: setgroups");
  if (setresgid (u->gid, u->gid, u->gid) < 0)
    return moat_err (err, errno, "process.user.gid: setresgid %u", u->gid);
  if (setresuid (u->uid, u->uid, u->uid) < 0)
    return moat_err (err, errno, "process.user.uid: setresuid %u", u->uid);
  return 0;
}

int
moat_user_caps_apply (const struct moat_process *p, bool setgroups_allowed, struct moat_error *err)
{
  const struct moat_caps none = { 0 };
  const struct moat_caps *c = p->has_caps ? &p->caps : &none;
  uint64_t old_permitted = 0;
  int last_cap = moat_cap_last ();

  _Static_assert (sizeof (gid_t) == sizeof (uint32_t), "additional_gids is passed to setgroups as is");

  if (moat_caps_validate (c, last_cap, err) < 0)
    return -1;
  /* In a user namespace whose setgroups file says "deny" (an unprivileged
     gid map), setgroups(2) fails: refuse rather than run with fewer groups
     than asked. */
  if (!setgroups_allowed && p->user.n_additional_gids > 0)
    return moat_err (err, 0, "process.user.additionalGids: setgroups is denied in this user namespace");
  if (moat_caps_get_permitted (&old_permitted) < 0)
    return moat_err (err, errno, "process.capabilities: capget");

  umask (p->user.has_umask ? p->user.umask : MOAT_DEFAULT_UMASK);

  /* Keep the permitted set across setresuid away from 0; without it the
     kernel clears every set when no uid stays 0 (capabilities(7)). */
  if (prctl (PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
    return moat_err (err, errno, "prctl PR_SET_KEEPCAPS");
  /* Bounding first: dropping needs CAP_SETPCAP in the effective set, which
     the uid switch below clears. */
  if (moat_caps_drop_bounding (c->bounding, last_cap, err) < 0)
    return -1;
  if (moat_user_switch (&p->user, setgroups_allowed, err) < 0)
    return -1;
  if (moat_caps_set (c, old_permitted, err) < 0)
    return -1;
  if (prctl (PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
    return moat_err (err, errno, "prctl PR_SET_KEEPCAPS");
  /* Ambient last: raising needs the cap already in the new permitted and
     inheritable sets (capabilities(7)).  An ambient cap outside them cannot
     exist; `runc spec` configs list ambient caps with no inheritable set
     (CVE-2022-29162 removed it), and runc and crun skip those.  So do we,
     with a warning: the result is the safer set, never a wider one. */
  if (c->ambient & ~(c->permitted & c->inheritable))
    moat_log ("warning", "process.capabilities.ambient: skipping capabilities not in both the permitted and "
                         "inheritable sets (mask %#llx)",
              (unsigned long long) (c->ambient & ~(c->permitted & c->inheritable)));
  return moat_caps_set_ambient (c->ambient & c->permitted & c->inheritable, last_cap, err);
}

int
moat_no_new_privs_apply (const struct moat_process *p, struct moat_error *err)
{
  if (!p->no_new_privileges)
    return 0;
  if (prctl (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    return moat_err (err, errno, "process.noNewPrivileges: prctl PR_SET_NO_NEW_PRIVS");
  return 0;
}

int
moat_personality_apply (const struct moat_spec *spec, struct moat_error *err)
{
  unsigned long domain;

  if (!spec->has_linux || !spec->linux.has_personality)
    return 0;
  domain = spec->linux.personality & PER_MASK;
  if (domain != PER_LINUX && domain != PER_LINUX32)
    return moat_err (err, 0, "linux.personality.domain: unsupported execution domain %#lx", domain);
  if (personality (spec->linux.personality) < 0)
    return moat_err (err, errno, "linux.personality: personality %#lx", spec->linux.personality);
  return 0;
}
