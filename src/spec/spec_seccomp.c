/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "spec/spec.h"
#include "spec/spec_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"

static const struct
{
  const char *name;
  enum moat_seccomp_action action;
} actions[] = {
  /* SCMP_ACT_KILL predates KILL_PROCESS and has always meant the thread. */
  { "SCMP_ACT_KILL", MOAT_SCMP_KILL_THREAD },
  { "SCMP_ACT_KILL_THREAD", MOAT_SCMP_KILL_THREAD },
  { "SCMP_ACT_KILL_PROCESS", MOAT_SCMP_KILL_PROCESS },
  { "SCMP_ACT_TRAP", MOAT_SCMP_TRAP },
  { "SCMP_ACT_ERRNO", MOAT_SCMP_ERRNO },
  { "SCMP_ACT_TRACE", MOAT_SCMP_TRACE },
  { "SCMP_ACT_ALLOW", MOAT_SCMP_ALLOW },
  { "SCMP_ACT_LOG", MOAT_SCMP_LOG },
  { "SCMP_ACT_NOTIFY", MOAT_SCMP_NOTIFY },
};

static const struct
{
  const char *name;
  enum moat_seccomp_op op;
} ops[] = {
  { "SCMP_CMP_NE", MOAT_SCMP_CMP_NE }, { "SCMP_CMP_LT", MOAT_SCMP_CMP_LT },
  { "SCMP_CMP_LE", MOAT_SCMP_CMP_LE }, { "SCMP_CMP_EQ", MOAT_SCMP_CMP_EQ },
  { "SCMP_CMP_GE", MOAT_SCMP_CMP_GE }, { "SCMP_CMP_GT", MOAT_SCMP_CMP_GT },
  { "SCMP_CMP_MASKED_EQ", MOAT_SCMP_CMP_MASKED_EQ },
};

/* Every architecture name runtime-spec lists; resolution to what the local
 * libseccomp knows happens when the filter is built. */
static const char *const arches[] = {
  "SCMP_ARCH_NATIVE", "SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32",
  "SCMP_ARCH_ARM", "SCMP_ARCH_AARCH64", "SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64",
  "SCMP_ARCH_MIPS64N32", "SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64", "SCMP_ARCH_MIPSEL64N32",
  "SCMP_ARCH_PPC", "SCMP_ARCH_PPC64", "SCMP_ARCH_PPC64LE", "SCMP_ARCH_S390",
  "SCMP_ARCH_S390X", "SCMP_ARCH_PARISC", "SCMP_ARCH_PARISC64", "SCMP_ARCH_RISCV64",
  "SCMP_ARCH_LOONGARCH64", "SCMP_ARCH_M68K", "SCMP_ARCH_SH", "SCMP_ARCH_SHEB",
};

static const char *const filter_flags[] = {
  "SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
  "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
};

static int
get_action (json_t *obj, const char *parent, const char *key, enum moat_seccomp_action *out,
            struct moat_error *err)
{
  cleanup_free char *s = NULL;

  if (spec_get_string (obj, parent, key, true, &s, err) < 0)
    return -1;
  for (size_t i = 0; i < MOAT_ARRAY_SIZE (actions); i++)
    if (strcmp (s, actions[i].name) == 0)
      {
        *out = actions[i].action;
        return 0;
      }
  return spec_err (err, EINVAL, "%s.%s: unknown seccomp action `%s`", parent, key, s);
}

/* errnoRet is the SECCOMP_RET_DATA of ERRNO and TRACE; on any other action it
 * would be silently meaningless. */
static int
get_errno_ret (json_t *obj, const char *parent, const char *key, enum moat_seccomp_action action,
               bool *has, unsigned int *out, struct moat_error *err)
{
  uint64_t n;

  if (spec_get_uint64 (obj, parent, key, UINT16_MAX, &n, has, err) < 0)
    return -1;
  if (!*has)
    return 0;
  if (action != MOAT_SCMP_ERRNO && action != MOAT_SCMP_TRACE)
    return spec_err (err, EINVAL, "%s.%s: only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE", parent,
                     key);
  *out = (unsigned int) n;
  return 0;
}

static int
check_names (const struct moat_strv *v, const char *parent, const char *key,
             const char *const *table, size_t n, const char *what, struct moat_error *err)
{
  for (size_t i = 0; i < v->n; i++)
    {
      size_t k;

      for (k = 0; k < n; k++)
        if (strcmp (v->v[i], table[k]) == 0)
          break;
      if (k == n)
        return spec_err (err, EINVAL, "%s.%s[%zu]: unknown %s `%s`", parent, key, i, what, v->v[i]);
    }
  return 0;
}

static int
parse_arg (json_t *v, const char *p, struct moat_seccomp_arg *a, struct moat_error *err)
{
  cleanup_free char *op = NULL;
  uint64_t idx;
  size_t k;

  if (!json_is_object (v))
    return spec_err (err, EINVAL, "%s: must be an object", p);
  if (spec_member (v, "index") == NULL)
    return spec_err (err, EINVAL, "%s.index: required", p);
  if (spec_get_uint64 (v, p, "index", 5, &idx, NULL, err) < 0
      || spec_get_uint64 (v, p, "value", UINT64_MAX, &a->value, NULL, err) < 0
      || spec_get_uint64 (v, p, "valueTwo", UINT64_MAX, &a->value_two, NULL, err) < 0
      || spec_get_string (v, p, "op", true, &op, err) < 0)
    return -1;
  a->index = (unsigned int) idx;
  for (k = 0; k < MOAT_ARRAY_SIZE (ops); k++)
    if (strcmp (op, ops[k].name) == 0)
      break;
  if (k == MOAT_ARRAY_SIZE (ops))
    return spec_err (err, EINVAL, "%s.op: unknown comparison `%s`", p, op);
  a->op = ops[k].op;
  return 0;
}

static int
parse_rule (json_t *v, const char *p, struct moat_seccomp_rule *r, struct moat_error *err)
{
  char ap[SPEC_PATH_MAX];
  json_t *args, *a;
  size_t i;

  if (!json_is_object (v))
    return spec_err (err, EINVAL, "%s: must be an object", p);
  if (spec_get_strv (v, p, "names", &r->names, err) < 0)
    return -1;
  if (r->names.n == 0)
    return spec_err (err, EINVAL, "%s.names: required (a non-empty array)", p);
  for (i = 0; i < r->names.n; i++)
    if (r->names.v[i][0] == '\0')
      return spec_err (err, EINVAL, "%s.names[%zu]: empty syscall name", p, i);
  if (get_action (v, p, "action", &r->action, err) < 0
      || get_errno_ret (v, p, "errnoRet", r->action, &r->has_errno_ret, &r->errno_ret, err) < 0)
    return -1;
  /* The supervisor could not answer a notification for write(2) if it
   * needs to log about it: runc refuses this too. */
  if (r->action == MOAT_SCMP_NOTIFY)
    for (i = 0; i < r->names.n; i++)
      if (strcmp (r->names.v[i], "write") == 0)
        return spec_err (err, EINVAL, "%s.names[%zu]: SCMP_ACT_NOTIFY cannot be used for `write`",
                         p, i);
  if (spec_get_array (v, p, "args", false, &args, err) < 0)
    return -1;
  if (args == NULL || json_array_size (args) == 0)
    return 0;
  r->args = calloc (json_array_size (args), sizeof *r->args);
  if (r->args == NULL)
    return moat_err (err, ENOMEM, "%s", p);
  json_array_foreach (args, i, a)
    {
      spec_path_idx (ap, sizeof ap, p, "args", i);
      if (parse_arg (a, ap, &r->args[i], err) < 0)
        return -1;
      r->n_args = i + 1;
    }
  return 0;
}

static int
parse_body (json_t *obj, const char *path, struct moat_seccomp *s, bool *notify,
            struct moat_error *err)
{
  char p[SPEC_PATH_MAX];
  json_t *arr, *v;
  size_t i;

  if (get_action (obj, path, "defaultAction", &s->default_action, err) < 0
      || get_errno_ret (obj, path, "defaultErrnoRet", s->default_action,
                        &s->has_default_errno_ret, &s->default_errno_ret, err) < 0)
    return -1;
  if (s->default_action == MOAT_SCMP_NOTIFY)
    return spec_err (err, EINVAL, "%s.defaultAction: SCMP_ACT_NOTIFY cannot be the default action",
                     path);
  if (spec_get_strv (obj, path, "architectures", &s->architectures, err) < 0
      || check_names (&s->architectures, path, "architectures", arches, MOAT_ARRAY_SIZE (arches),
                      "architecture", err) < 0
      || spec_get_strv (obj, path, "flags", &s->flags, err) < 0
      || check_names (&s->flags, path, "flags", filter_flags, MOAT_ARRAY_SIZE (filter_flags),
                      "seccomp flag", err) < 0
      || spec_get_string (obj, path, "listenerPath", false, &s->listener_path, err) < 0
      || spec_get_string (obj, path, "listenerMetadata", false, &s->listener_metadata, err) < 0)
    return -1;
  if (s->listener_path && s->listener_path[0] == '\0')
    {
      free (s->listener_path);
      s->listener_path = NULL;
    }
  if (spec_get_array (obj, path, "syscalls", false, &arr, err) < 0)
    return -1;
  if (arr == NULL || json_array_size (arr) == 0)
    return 0;
  s->rules = calloc (json_array_size (arr), sizeof *s->rules);
  if (s->rules == NULL)
    return moat_err (err, ENOMEM, "%s", path);
  json_array_foreach (arr, i, v)
    {
      spec_path_idx (p, sizeof p, path, "syscalls", i);
      s->n_rules = i + 1;
      if (parse_rule (v, p, &s->rules[i], err) < 0)
        return -1;
      if (s->rules[i].action == MOAT_SCMP_NOTIFY)
        *notify = true;
    }
  return 0;
}

int
spec_parse_seccomp (json_t *obj, const char *path, struct moat_seccomp **out, struct moat_error *err)
{
  struct moat_seccomp *s = calloc (1, sizeof *s);
  bool notify = false;

  *out = NULL;
  if (s == NULL)
    return moat_err (err, ENOMEM, "%s", path);
  if (parse_body (obj, path, s, &notify, err) < 0)
    {
      spec_seccomp_free (s);
      return -1;
    }
  if (notify && s->listener_path == NULL)
    {
      spec_seccomp_free (s);
      return spec_err (err, EINVAL, "%s.listenerPath: required by SCMP_ACT_NOTIFY", path);
    }
  if (s->listener_path && s->listener_path[0] != '/')
    {
      spec_err (err, EINVAL, "%s.listenerPath: must be an absolute path: \"%s\"", path,
                s->listener_path);
      spec_seccomp_free (s);
      return -1;
    }
  *out = s;
  return 0;
}

void
spec_seccomp_free (struct moat_seccomp *s)
{
  if (s == NULL)
    return;
  spec_strv_free (&s->architectures);
  spec_strv_free (&s->flags);
  free (s->listener_path);
  free (s->listener_metadata);
  for (size_t i = 0; i < s->n_rules; i++)
    {
      spec_strv_free (&s->rules[i].names);
      free (s->rules[i].args);
    }
  free (s->rules);
  free (s);
}
