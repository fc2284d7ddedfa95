/* SPDX-License-Identifier: GPL-2.0-or-later */
/* CIS Docker Benchmark 1.6 checks as docker-bench-security 1.6.0 numbers and
 * words them (tests/5_container_runtime.sh, tests/4_container_images.sh).
 * Each check is answered by rules of the one rule table (rules.c); a check
 * no file can answer (it needs a live engine) says so instead of passing. */
#include "policy/policy.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"

#define A true  /* (Automated): scored */
#define M false /* (Manual) */
#define LIVE "not applicable to a config file: needs a live engine"

const struct moat_cis_check moat_cis_checks[] = {
  { "4.1", "Ensure that a user for the container has been created (Automated)", A, MOAT_CIS_WARN, MOAT_CIS_INFO,
    { "moat.user.nonroot" }, NULL },
  { "4.6", "Ensure that HEALTHCHECK instructions have been added to container images (Automated)", A,
    MOAT_CIS_WARN, MOAT_CIS_INFO, { "moat.healthcheck" }, NULL },
  { "5.1", "Ensure swarm mode is not Enabled, if not needed (Automated)", A, MOAT_CIS_WARN, MOAT_CIS_NOTE, { NULL },
    LIVE " (docker info)" },
  { "5.2", "Ensure that, if applicable, an AppArmor Profile is enabled (Automated)", A, MOAT_CIS_WARN,
    MOAT_CIS_INFO, { "moat.lsm.apparmor" }, NULL },
  { "5.3", "Ensure that, if applicable, SELinux security options are set (Automated)", A, MOAT_CIS_WARN,
    MOAT_CIS_INFO, { "moat.lsm.selinux" }, NULL },
  { "5.4", "Ensure that Linux kernel capabilities are restricted within containers (Automated)", A, MOAT_CIS_WARN,
    MOAT_CIS_INFO,
    { "moat.caps.allowed", "moat.caps.all", "moat.caps.sys_admin", "moat.caps.sys_module", "moat.caps.sys_ptrace",
      "moat.caps.dac_read_search", "moat.caps.net_admin" },
    NULL },
  { "5.5", "Ensure that privileged containers are not used (Automated)", A, MOAT_CIS_WARN, MOAT_CIS_INFO,
    { "moat.privileged" }, NULL },
  { "5.6", "Ensure sensitive host system directories are not mounted on containers (Automated)", A, MOAT_CIS_WARN,
    MOAT_CIS_INFO, { "moat.mounts.sensitive_rw" }, NULL },
  { "5.7", "Ensure sshd is not run within containers (Automated)", A, MOAT_CIS_WARN, MOAT_CIS_NOTE, { NULL },
    LIVE " (process list of a running container)" },
  { "5.8", "Ensure privileged ports are not mapped within containers (Automated)", A, MOAT_CIS_WARN,
    MOAT_CIS_NOTE, { "moat.ports.privileged" }, NULL },
  { "5.9", "Ensure that only needed ports are open on the container (Manual)", M, MOAT_CIS_INFO, MOAT_CIS_NOTE,
    { "moat.ports.open" }, NULL },
  { "5.10", "Ensure that the host's network namespace is not shared (Automated)", A, MOAT_CIS_WARN,
    MOAT_CIS_INFO, { "moat.ns.host_net" }, NULL },
  { "5.11", "Ensure that the memory usage for containers is limited (Automated)", A, MOAT_CIS_WARN,
    MOAT_CIS_INFO, { "moat.limits.memory" }, NULL },
  { "5.12", "Ensure that CPU priority is set appropriately on containers (Automated)", A, MOAT_CIS_WARN,
    MOAT_CIS_INFO, { "moat.limits.cpu" }, NULL },
  { "5.13", "Ensure that the container's root filesystem is mounted as read only (Automated)", A, MOAT_CIS_WARN,
    MOAT_CIS_INFO, { "moat.rootfs.readonly" }, NULL },
  { "5.14", "Ensure that incoming container traffic is bound to a specific host interface (Automated)", A,
    MOAT_CIS_WARN, MOAT_CIS_NOTE, { "moat.ports.host_interface" }, NULL },
  { "5.15", "Ensure that the 'on-failure' container restart policy is set to '5' (Automated)", A, MOAT_CIS_WARN,
    MOAT_CIS_NOTE, { "moat.restart_policy" }, NULL },
  { "5.16", "Ensure that the host's process namespace is not shared (Automated)", A, MOAT_CIS_WARN,
    MOAT_CIS_INFO, { "moat.ns.host_pid" }, NULL },
  { "5.17", "Ensure that the host's IPC namespace is not shared (Automated)", A, MOAT_CIS_WARN, MOAT_CIS_INFO,
    { "moat.ns.host_ipc" }, NULL },
  { "5.18", "Ensure that host devices are not directly exposed to containers (Manual)", M, MOAT_CIS_INFO,
    MOAT_CIS_INFO, { "moat.devices.host", "moat.devices.raw" }, NULL },
  { "5.19", "Ensure that the default ulimit is overwritten at runtime if needed (Manual)", M, MOAT_CIS_INFO,
    MOAT_CIS_INFO, { "moat.ulimits" }, NULL },
  { "5.20", "Ensure mount propagation mode is not set to shared (Automated)", A, MOAT_CIS_WARN, MOAT_CIS_INFO,
    { "moat.mounts.propagation" }, NULL },
  { "5.21", "Ensure that the host's UTS namespace is not shared (Automated)", A, MOAT_CIS_WARN, MOAT_CIS_INFO,
    { "moat.ns.host_uts" }, NULL },
  { "5.22", "Ensure the default seccomp profile is not Disabled (Automated)", A, MOAT_CIS_WARN, MOAT_CIS_INFO,
    { "moat.seccomp" }, NULL },
  { "5.23", "Ensure that docker exec commands are not used with the privileged option (Automated)", A,
    MOAT_CIS_WARN, MOAT_CIS_NOTE, { NULL }, LIVE " (audit log of exec requests)" },
  { "5.24", "Ensure that docker exec commands are not used with the user=root option (Manual)", M, MOAT_CIS_INFO,
    MOAT_CIS_NOTE, { NULL }, LIVE " (audit log of exec requests)" },
  { "5.25", "Ensure that cgroup usage is confirmed (Automated)", A, MOAT_CIS_WARN, MOAT_CIS_NOTE,
    { "moat.cgroup_parent" }, NULL },
  { "5.26", "Ensure that the container is restricted from acquiring additional privileges (Automated)", A,
    MOAT_CIS_WARN, MOAT_CIS_INFO, { "moat.no_new_privileges" }, NULL },
  { "5.27", "Ensure that container health is checked at runtime (Automated)", A, MOAT_CIS_WARN, MOAT_CIS_INFO,
    { "moat.healthcheck" }, NULL },
  { "5.28", "Ensure that Docker commands always make use of the latest version of their image (Manual)", M,
    MOAT_CIS_INFO, MOAT_CIS_INFO, { "moat.image.digest" }, NULL },
  { "5.29", "Ensure that the PIDs cgroup limit is used (Automated)", A, MOAT_CIS_WARN, MOAT_CIS_INFO,
    { "moat.limits.pids" }, NULL },
  { "5.30", "Ensure that Docker's default bridge 'docker0' is not used (Manual)", M, MOAT_CIS_INFO, MOAT_CIS_NOTE,
    { NULL }, LIVE " (docker network inspect)" },
  { "5.31", "Ensure that the host's user namespaces are not shared (Automated)", A, MOAT_CIS_WARN, MOAT_CIS_INFO,
    { "moat.ns.host_user" }, NULL },
  { "5.32", "Ensure that the Docker socket is not mounted inside any containers (Automated)", A, MOAT_CIS_WARN,
    MOAT_CIS_INFO, { "moat.mounts.engine_socket" }, NULL },
};
const size_t moat_n_cis_checks = MOAT_ARRAY_SIZE (moat_cis_checks);

_Static_assert (MOAT_ARRAY_SIZE (moat_cis_checks) <= 64, "cis_rule() caches 64 checks");

/* Rule indices of each check, resolved once: audit asks for them for every
   check of every container. */
static int
cis_rule (const struct moat_cis_check *c, size_t k)
{
  static int idx[64][8];
  static bool ready;
  size_t i, j;

  if (!ready)
    {
      for (i = 0; i < moat_n_cis_checks && i < 64; i++)
        for (j = 0; j < 8; j++)
          idx[i][j] = moat_cis_checks[i].rules[j] ? moat_rule_find (moat_cis_checks[i].rules[j]) : -1;
      ready = true;
    }
  i = (size_t) (c - moat_cis_checks);
  if (i < moat_n_cis_checks && i < 64)
    return idx[i][k];
  return moat_rule_find (c->rules[k]);
}

void
moat_cis_outcome (const struct moat_cis_check *c, const struct moat_row *row,
                  const struct moat_side_info *side, struct moat_cis_outcome *out)
{
  const char *na = NULL, *pass = NULL;
  size_t i;

  (void) side;
  out->detail[0] = '\0';
  out->failed = false;
  out->rule = -1;
  for (i = 0; i < MOAT_ARRAY_SIZE (c->rules) && c->rules[i]; i++)
    {
      int r = cis_rule (c, i);
      const char *reason;
      if (r < 0)
        continue;
      reason = row->reason[r] ? row->reason[r] : "";
      if (row->verdict[r] == MOAT_FAIL)
        {
          out->result = c->on_fail;
          out->failed = true;
          out->rule = r;
          snprintf (out->detail, sizeof out->detail, "%s: %s", moat_rules[r].id, reason);
          return;
        }
      if (row->verdict[r] == MOAT_NA)
        na = na ? na : reason;
      else
        pass = pass ? pass : reason;
    }
  if (pass)
    {
      out->result = MOAT_CIS_PASS;
      snprintf (out->detail, sizeof out->detail, "%s", pass);
    }
  else
    {
      out->result = c->on_na;
      snprintf (out->detail, sizeof out->detail, "%s", na ? na : c->na_text);
    }
}

/* ---- interned reasons --------------------------------------------------- */

struct moat_interner
{
  char **slot;
  size_t cap, n; /* cap a power of two, n <= cap / 2 */
};

static uint64_t
fnv1a (const char *s)
{
  uint64_t h = 1469598103934665603ULL;

  for (; *s; s++)
    h = (h ^ (unsigned char) *s) * 1099511628211ULL;
  return h;
}

struct moat_interner *
moat_interner_new (void)
{
  struct moat_interner *in = calloc (1, sizeof *in);

  if (in == NULL)
    return NULL;
  in->cap = 256;
  in->slot = calloc (in->cap, sizeof *in->slot);
  if (in->slot == NULL)
    {
      free (in);
      return NULL;
    }
  return in;
}

static bool
interner_grow (struct moat_interner *in)
{
  size_t cap = in->cap * 2, i;
  char **slot = calloc (cap, sizeof *slot);

  if (slot == NULL)
    return false;
  for (i = 0; i < in->cap; i++)
    if (in->slot[i])
      {
        size_t k = fnv1a (in->slot[i]) & (cap - 1);
        while (slot[k])
          k = (k + 1) & (cap - 1);
        slot[k] = in->slot[i];
      }
  free (in->slot);
  in->slot = slot;
  in->cap = cap;
  return true;
}

const char *
moat_intern (struct moat_interner *in, const char *s)
{
  size_t k;

  if ((in->n + 1) * 2 > in->cap && !interner_grow (in))
    return NULL;
  for (k = fnv1a (s) & (in->cap - 1); in->slot[k]; k = (k + 1) & (in->cap - 1))
    if (strcmp (in->slot[k], s) == 0)
      return in->slot[k];
  in->slot[k] = strdup (s);
  if (in->slot[k])
    in->n++;
  return in->slot[k];
}

void
moat_interner_free (struct moat_interner *in)
{
  size_t i;

  if (in == NULL)
    return;
  for (i = 0; i < in->cap; i++)
    free (in->slot[i]);
  free (in->slot);
  free (in);
}

int
moat_row_fill (struct moat_row *row, const struct moat_evaluation *ev, struct moat_interner *in,
               struct moat_error *err)
{
  size_t i;

  memset (row, 0, sizeof *row);
  for (i = 0; i < ev->n; i++)
    {
      row->verdict[i] = (uint8_t) ev->findings[i].verdict;
      row->reason[i] = moat_intern (in, ev->findings[i].reason);
      if (row->reason[i] == NULL)
        return moat_err (err, ENOMEM, "audit");
    }
  return 0;
}
