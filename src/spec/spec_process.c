/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "spec/spec.h"
#include "spec/spec_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"

/* ---- user ------------------------------------------------------------ */

static int
parse_user (json_t *proc, const char *path, struct moat_user *u, struct moat_error *err)
{
  char up[SPEC_PATH_MAX], p[SPEC_PATH_MAX];
  json_t *obj, *gids, *v;
  uint64_t umask;
  size_t i;

  spec_path (up, sizeof up, path, "user");
  if (spec_get_object (proc, path, "user", false, &obj, err) < 0)
    return -1;
  if (obj == NULL)
    return 0;
  /* uid and gid are REQUIRED by the spec but Go writers drop zero values;
   * absent means 0, as in runc. */
  if (spec_get_uint32 (obj, up, "uid", &u->uid, NULL, err) < 0
      || spec_get_uint32 (obj, up, "gid", &u->gid, NULL, err) < 0
      || spec_get_uint64 (obj, up, "umask", 0777, &umask, &u->has_umask, err) < 0)
    return -1;
  if (u->has_umask)
    u->umask = (mode_t) umask;
  if (spec_get_array (obj, up, "additionalGids", false, &gids, err) < 0)
    return -1;
  if (gids == NULL || json_array_size (gids) == 0)
    return 0;
  u->additional_gids = calloc (json_array_size (gids), sizeof (uint32_t));
  if (u->additional_gids == NULL)
    return moat_err (err, ENOMEM, "%s", up);
  json_array_foreach (gids, i, v)
    {
      uint64_t g;

      spec_path_idx (p, sizeof p, up, "additionalGids", i);
      if (spec_value_uint64 (v, p, UINT32_MAX, &g, err) < 0)
        return -1;
      u->additional_gids[i] = (uint32_t) g;
      u->n_additional_gids = i + 1;
    }
  return 0;
}

/* ---- capabilities ---------------------------------------------------- */

static int
parse_cap_set (json_t *caps, const char *cpath, const char *key, uint64_t *mask,
               struct moat_error *err)
{
  char p[SPEC_PATH_MAX];
  json_t *arr, *v;
  size_t i;

  if (spec_get_array (caps, cpath, key, false, &arr, err) < 0)
    return -1;
  json_array_foreach (arr, i, v)
    {
      const char *name;
      int cap;

      spec_path_idx (p, sizeof p, cpath, key, i);
      if (!json_is_string (v))
        return spec_err (err, EINVAL, "%s: must be a string", p);
      name = json_string_value (v);
      /* OCI spells capabilities exactly as "CAP_SYS_ADMIN"; anything else
       * (lower case, no prefix, a number) is a typo we must not guess at. */
      cap = strncmp (name, "CAP_", 4) == 0 ? moat_cap_from_name (name) : -1;
      if (cap < 0 || moat_cap_name (cap) == NULL || strcmp (moat_cap_name (cap), name) != 0)
        return spec_err (err, EINVAL, "%s: unknown capability `%s`", p, name);
      *mask |= UINT64_C (1) << cap;
    }
  return 0;
}

static int
parse_caps (json_t *proc, const char *path, struct moat_process *out, struct moat_error *err)
{
  static const char *const sets[] = { "bounding", "effective", "inheritable", "permitted",
                                      "ambient" };
  char cp[SPEC_PATH_MAX];
  json_t *caps;
  uint64_t *masks[] = { &out->caps.bounding, &out->caps.effective, &out->caps.inheritable,
                        &out->caps.permitted, &out->caps.ambient };

  if (spec_get_object (proc, path, "capabilities", false, &caps, err) < 0)
    return -1;
  if (caps == NULL)
    return 0;
  out->has_caps = true;
  spec_path (cp, sizeof cp, path, "capabilities");
  for (size_t i = 0; i < MOAT_ARRAY_SIZE (sets); i++)
    if (parse_cap_set (caps, cp, sets[i], masks[i], err) < 0)
      return -1;
  return 0;
}

/* ---- rlimits --------------------------------------------------------- */

static int
parse_rlimit (json_t *obj, const char *p, struct moat_rlimit *rl, struct moat_error *err)
{
  cleanup_free char *type = NULL;
  char tp[SPEC_PATH_MAX];

  if (!json_is_object (obj))
    return spec_err (err, EINVAL, "%s: must be an object", p);
  if (spec_get_string (obj, p, "type", true, &type, err) < 0)
    return -1;
  rl->resource = spec_rlimit_from_name (type);
  if (rl->resource < 0)
    {
      spec_path (tp, sizeof tp, p, "type");
      return spec_err (err, EINVAL, "%s: unknown rlimit `%s`", tp, type);
    }
  if (spec_get_uint64 (obj, p, "soft", UINT64_MAX, &rl->soft, NULL, err) < 0
      || spec_get_uint64 (obj, p, "hard", UINT64_MAX, &rl->hard, NULL, err) < 0)
    return -1;
  if (rl->soft > rl->hard)
    return spec_err (err, EINVAL, "%s: soft limit %" PRIu64 " exceeds hard limit %" PRIu64, p,
                     rl->soft, rl->hard);
  return 0;
}

static int
parse_rlimits (json_t *proc, const char *path, struct moat_process *out, struct moat_error *err)
{
  char p[SPEC_PATH_MAX];
  json_t *arr, *v;
  size_t i;

  if (spec_get_array (proc, path, "rlimits", false, &arr, err) < 0)
    return -1;
  if (arr == NULL || json_array_size (arr) == 0)
    return 0;
  out->rlimits = calloc (json_array_size (arr), sizeof *out->rlimits);
  if (out->rlimits == NULL)
    return moat_err (err, ENOMEM, "%s.rlimits", path);
  json_array_foreach (arr, i, v)
    {
      spec_path_idx (p, sizeof p, path, "rlimits", i);
      if (parse_rlimit (v, p, &out->rlimits[i], err) < 0)
        return -1;
      for (size_t j = 0; j < i; j++)
        if (out->rlimits[j].resource == out->rlimits[i].resource)
          return spec_err (err, EINVAL, "%s.type: duplicate rlimit `%s`", p,
                           json_string_value (json_object_get (v, "type")));
      out->n_rlimits = i + 1;
    }
  return 0;
}

/* ---- scheduler and I/O priority -------------------------------------- */

static const struct
{
  const char *name;
  int policy;
} sched_policies[] = {
  { "SCHED_OTHER", SCHED_OTHER }, { "SCHED_FIFO", SCHED_FIFO },
  { "SCHED_RR", SCHED_RR },       { "SCHED_BATCH", SCHED_BATCH },
  { "SCHED_ISO", 4 },             { "SCHED_IDLE", SCHED_IDLE },
  { "SCHED_DEADLINE", SCHED_DEADLINE },
};

/* sched_attr.sched_flags bits (include/uapi/linux/sched.h). */
static const struct
{
  const char *name;
  uint64_t flag;
} sched_flags[] = {
  { "SCHED_FLAG_RESET_ON_FORK", 0x01 }, { "SCHED_FLAG_RECLAIM", 0x02 },
  { "SCHED_FLAG_DL_OVERRUN", 0x04 },    { "SCHED_FLAG_KEEP_POLICY", 0x08 },
  { "SCHED_FLAG_KEEP_PARAMS", 0x10 },   { "SCHED_FLAG_UTIL_CLAMP_MIN", 0x20 },
  { "SCHED_FLAG_UTIL_CLAMP_MAX", 0x40 },
};

static int
parse_sched_flags (json_t *obj, const char *sp, struct moat_process *out, struct moat_error *err)
{
  char p[SPEC_PATH_MAX];
  json_t *arr, *v;
  size_t i;

  if (spec_get_array (obj, sp, "flags", false, &arr, err) < 0)
    return -1;
  json_array_foreach (arr, i, v)
    {
      size_t k;

      spec_path_idx (p, sizeof p, sp, "flags", i);
      if (!json_is_string (v))
        return spec_err (err, EINVAL, "%s: must be a string", p);
      for (k = 0; k < MOAT_ARRAY_SIZE (sched_flags); k++)
        if (strcmp (json_string_value (v), sched_flags[k].name) == 0)
          break;
      if (k == MOAT_ARRAY_SIZE (sched_flags))
        return spec_err (err, EINVAL, "%s: unknown scheduler flag `%s`", p, json_string_value (v));
      out->sched_flags |= sched_flags[k].flag;
    }
  return 0;
}

static int
parse_scheduler (json_t *proc, const char *path, struct moat_process *out, struct moat_error *err)
{
  cleanup_free char *policy = NULL;
  char sp[SPEC_PATH_MAX];
  json_t *obj;
  int64_t n;
  size_t k;
  bool rt;

  if (spec_get_object (proc, path, "scheduler", false, &obj, err) < 0)
    return -1;
  if (obj == NULL)
    return 0;
  out->has_scheduler = true;
  spec_path (sp, sizeof sp, path, "scheduler");
  if (spec_get_string (obj, sp, "policy", true, &policy, err) < 0)
    return -1;
  for (k = 0; k < MOAT_ARRAY_SIZE (sched_policies); k++)
    if (strcmp (policy, sched_policies[k].name) == 0)
      break;
  if (k == MOAT_ARRAY_SIZE (sched_policies))
    return spec_err (err, EINVAL, "%s.policy: unknown scheduling policy `%s`", sp, policy);
  out->sched_policy = sched_policies[k].policy;
  rt = out->sched_policy == SCHED_FIFO || out->sched_policy == SCHED_RR;
  if (spec_get_int64 (obj, sp, "nice", -20, 19, &n, NULL, err) < 0)
    return -1;
  out->sched_nice = (int) n;
  n = 0;
  if (spec_get_int64 (obj, sp, "priority", 0, 99, &n, NULL, err) < 0)
    return -1;
  out->sched_priority = (int) n;
  /* sched_setattr(2): sched_priority is 1..99 for FIFO/RR and must be 0 for
   * every other policy. */
  if (rt && n == 0)
    return spec_err (err, EINVAL, "%s.priority: must be 1..99 for %s", sp, policy);
  if (!rt && n != 0)
    return spec_err (err, EINVAL, "%s.priority: only valid for SCHED_FIFO and SCHED_RR", sp);
  if (parse_sched_flags (obj, sp, out, err) < 0
      || spec_get_uint64 (obj, sp, "runtime", UINT64_MAX, &out->sched_runtime, NULL, err) < 0
      || spec_get_uint64 (obj, sp, "deadline", UINT64_MAX, &out->sched_deadline, NULL, err) < 0
      || spec_get_uint64 (obj, sp, "period", UINT64_MAX, &out->sched_period, NULL, err) < 0)
    return -1;
  if (out->sched_policy != SCHED_DEADLINE
      && (out->sched_runtime || out->sched_deadline || out->sched_period))
    return spec_err (err, EINVAL, "%s: runtime, deadline and period are only valid for SCHED_DEADLINE",
                     sp);
  return 0;
}

static int
parse_io_priority (json_t *proc, const char *path, struct moat_process *out, struct moat_error *err)
{
  static const char *const classes[] = { "IOPRIO_CLASS_RT", "IOPRIO_CLASS_BE", "IOPRIO_CLASS_IDLE" };
  cleanup_free char *cls = NULL;
  char ip[SPEC_PATH_MAX];
  json_t *obj;
  int64_t n = 0;
  size_t k;

  if (spec_get_object (proc, path, "ioPriority", false, &obj, err) < 0)
    return -1;
  if (obj == NULL)
    return 0;
  out->has_io_priority = true;
  spec_path (ip, sizeof ip, path, "ioPriority");
  if (spec_get_string (obj, ip, "class", true, &cls, err) < 0)
    return -1;
  for (k = 0; k < MOAT_ARRAY_SIZE (classes); k++)
    if (strcmp (cls, classes[k]) == 0)
      break;
  if (k == MOAT_ARRAY_SIZE (classes))
    return spec_err (err, EINVAL, "%s.class: unknown I/O priority class `%s`", ip, cls);
  out->io_priority_class = (int) k + 1; /* IOPRIO_CLASS_RT = 1 */
  if (spec_get_int64 (obj, ip, "priority", 0, 7, &n, NULL, err) < 0)
    return -1;
  out->io_priority = (int) n;
  return 0;
}

/* ---- process --------------------------------------------------------- */

static int
parse_env (json_t *proc, const char *path, struct moat_process *out, struct moat_error *err)
{
  char p[SPEC_PATH_MAX];

  if (spec_get_strv (proc, path, "env", &out->env, err) < 0)
    return -1;
  for (size_t i = 0; i < out->env.n; i++)
    {
      const char *eq = strchr (out->env.v[i], '=');

      spec_path_idx (p, sizeof p, path, "env", i);
      if (eq == NULL)
        return spec_err (err, EINVAL, "%s: must be KEY=VALUE: \"%s\"", p, out->env.v[i]);
      if (eq == out->env.v[i])
        return spec_err (err, EINVAL, "%s: empty variable name", p);
    }
  return 0;
}

static int
parse_console (json_t *proc, const char *path, struct moat_process *out, struct moat_error *err)
{
  char cp[SPEC_PATH_MAX];
  json_t *obj;

  if (spec_get_object (proc, path, "consoleSize", false, &obj, err) < 0)
    return -1;
  if (obj == NULL)
    return 0;
  out->has_console_size = true;
  spec_path (cp, sizeof cp, path, "consoleSize");
  {
    uint64_t h = 0, w = 0;

    /* struct winsize holds unsigned short. */
    if (spec_get_uint64 (obj, cp, "height", UINT16_MAX, &h, NULL, err) < 0
        || spec_get_uint64 (obj, cp, "width", UINT16_MAX, &w, NULL, err) < 0)
      return -1;
    out->console_height = (unsigned int) h;
    out->console_width = (unsigned int) w;
  }
  return 0;
}

int
spec_parse_process (json_t *proc, const char *path, struct moat_process *out, struct moat_error *err)
{
  char p[SPEC_PATH_MAX];
  json_t *v;
  int64_t n;

  if (spec_get_bool (proc, path, "terminal", &out->terminal, NULL, err) < 0
      || parse_console (proc, path, out, err) < 0 || parse_user (proc, path, &out->user, err) < 0)
    return -1;
  if (spec_get_strv (proc, path, "args", &out->args, err) < 0)
    return -1;
  if (out->args.n == 0)
    {
      spec_path (p, sizeof p, path, "args");
      return spec_err (err, EINVAL, "%s: required (a non-empty array)", p);
    }
  if (parse_env (proc, path, out, err) < 0)
    return -1;
  spec_path (p, sizeof p, path, "cwd");
  v = spec_member (proc, "cwd");
  if (v == NULL)
    return spec_err (err, EINVAL, "%s: required", p);
  if (spec_value_abs_path (v, p, &out->cwd, err) < 0)
    return -1;
  if (parse_caps (proc, path, out, err) < 0 || parse_rlimits (proc, path, out, err) < 0)
    return -1;
  if (spec_get_bool (proc, path, "noNewPrivileges", &out->no_new_privileges, NULL, err) < 0
      || spec_get_int64 (proc, path, "oomScoreAdj", -1000, 1000, &n, &out->has_oom_score_adj, err) < 0)
    return -1;
  if (out->has_oom_score_adj)
    out->oom_score_adj = (int) n;
  if (spec_get_string (proc, path, "apparmorProfile", false, &out->apparmor_profile, err) < 0
      || spec_get_string (proc, path, "selinuxLabel", false, &out->selinux_label, err) < 0)
    return -1;
  if (out->apparmor_profile && out->apparmor_profile[0] == '\0')
    {
      free (out->apparmor_profile);
      out->apparmor_profile = NULL;
    }
  if (out->selinux_label && out->selinux_label[0] == '\0')
    {
      free (out->selinux_label);
      out->selinux_label = NULL;
    }
  if (parse_scheduler (proc, path, out, err) < 0 || parse_io_priority (proc, path, out, err) < 0)
    return -1;
  if (spec_refuse (proc, path, "execCPUAffinity", "not supported", err) < 0)
    return -1;
  return 0;
}

int
moat_process_parse (const char *json, size_t len, struct moat_process *out, struct moat_error *err)
{
  json_t *root;
  int r;

  memset (out, 0, sizeof *out);
  if (spec_json_load (json, len, &root, err) < 0)
    return -1;
  r = spec_parse_process (root, "", out, err);
  json_decref (root);
  if (r < 0)
    {
      moat_process_free (out);
      return -1;
    }
  return 0;
}

void
moat_process_free (struct moat_process *p)
{
  if (p == NULL)
    return;
  free (p->user.additional_gids);
  spec_strv_free (&p->args);
  spec_strv_free (&p->env);
  free (p->cwd);
  free (p->rlimits);
  free (p->apparmor_profile);
  free (p->selinux_label);
  memset (p, 0, sizeof *p);
}
