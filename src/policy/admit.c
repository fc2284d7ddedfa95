/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Admission: run inside `create` after the config is parsed and before
 * anything exists (no state dir, no cgroup, no process), so a refused
 * container never executes a single instruction - unlike a watcher that
 * stops a container after its `start` event (docker-covenant). */
#include "policy/policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Append "\n  RULE: reason (fix: remediation)" lines to msg (size cap);
   returns false when they did not all fit. */
static bool
append_lines (char *msg, size_t cap, const struct moat_evaluation *ev, bool with_fix)
{
  size_t off = strlen (msg), i;

  for (i = 0; i < ev->n; i++)
    {
      const struct moat_finding *f = &ev->findings[i];
      const struct moat_rule *r = &moat_rules[f->rule];
      int n;
      if (f->verdict != MOAT_FAIL || f->action != MOAT_ACTION_DENY)
        continue;
      if (with_fix)
        n = snprintf (msg + off, cap - off, "\n  %s: %s (fix: %s)", r->id, f->reason, r->remediation);
      else
        n = snprintf (msg + off, cap - off, "\n  %s: %s", r->id, f->reason);
      if (n < 0 || (size_t) n >= cap - off)
        {
          msg[off] = '\0';
          return false;
        }
      off += (size_t) n;
    }
  return true;
}

/* The error message is bounded (MOAT_ERROR_MSG_MAX); when the full lines
   do not fit, drop the remediations, then list the remaining rule ids, so
   every violated rule is always named. */
static void
format_denial (const struct moat_evaluation *ev, const char *id, struct moat_error *err)
{
  char msg[MOAT_ERROR_MSG_MAX];
  size_t off, i;

  snprintf (msg, sizeof msg, "policy denied container `%s`: %zu rule(s) violated", id, ev->n_denied);
  off = strlen (msg);
  if (!append_lines (msg, sizeof msg, ev, true))
    {
      msg[off] = '\0';
      if (!append_lines (msg, sizeof msg, ev, false))
        {
          msg[off] = '\0';
          off += (size_t) snprintf (msg + off, sizeof msg - off, "\n  rules:");
          for (i = 0; i < ev->n && off < sizeof msg; i++)
            if (ev->findings[i].verdict == MOAT_FAIL && ev->findings[i].action == MOAT_ACTION_DENY)
              off += (size_t) snprintf (msg + off, sizeof msg - off, " %s", moat_rules[ev->findings[i].rule].id);
        }
    }
  moat_err (err, 0, "%s", msg);
  err->code = MOAT_EPOLICY;
}

/* The ids of the denying rules, comma-separated, into RULES (CAP bytes; an
   id that does not fit whole is left out). */
static void
denied_ids (const struct moat_evaluation *ev, char *rules, size_t cap)
{
  size_t off = 0, i;

  rules[0] = '\0';
  for (i = 0; i < ev->n; i++)
    {
      const char *rid = moat_rules[ev->findings[i].rule].id;
      int n;
      if (ev->findings[i].verdict != MOAT_FAIL || ev->findings[i].action != MOAT_ACTION_DENY)
        continue;
      n = snprintf (rules + off, cap - off, "%s%s", off ? "," : "", rid);
      if (n < 0 || (size_t) n >= cap - off)
        {
          rules[off] = '\0';
          return;
        }
      off += (size_t) n;
    }
}

int
moat_policy_admit (const struct moat_spec *spec, const char *id, struct moat_error *err)
{
  return moat_policy_admit_rules (spec, id, NULL, 0, err);
}

int
moat_policy_admit_rules (const struct moat_spec *spec, const char *id, char *rules, size_t cap,
                         struct moat_error *err)
{
  const char *path = getenv (MOAT_POLICY_ENV);
  bool missing_ok = false;
  struct moat_policy policy;
  struct moat_side_info side;
  struct moat_evaluation ev;

  if (path == NULL || *path == '\0')
    {
      /* Only the default path may be absent (then the baseline applies);
         a policy named explicitly must exist. */
      path = MOAT_POLICY_DEFAULT_PATH;
      missing_ok = true;
    }
  if (moat_policy_load (path, missing_ok, &policy, err) < 0)
    {
      moat_error_wrap (err, "policy denied container `%s`: no usable policy, refusing every container", id);
      err->code = MOAT_EPOLICY;
      if (cap > 0)
        snprintf (rules, cap, "%s", MOAT_RULE_NO_POLICY);
      return -1;
    }
  if (moat_side_from_oci (spec, &side, err) < 0)
    {
      moat_policy_free (&policy);
      return -1;
    }
  moat_policy_evaluate (&policy, spec, &side, &ev);
  moat_side_info_free (&side);
  moat_policy_free (&policy);
  if (ev.n_denied == 0)
    return 0;
  format_denial (&ev, id, err);
  if (cap > 0)
    denied_ids (&ev, rules, cap);
  return -1;
}
