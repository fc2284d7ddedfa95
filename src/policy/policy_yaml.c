/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The policy file (docs/policy.md): YAML read with libyaml's document
 * loader, so every node carries its line and column and every error names
 * them.  Unknown keys and bad values are errors: a typo in a policy must
 * never silently turn a rule off. */
#include "policy/policy.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "util/cleanup.h"
#include "util/fs.h"

#define POLICY_MAX (1 << 20)
#define OVERRIDES_MAX 256

struct yctx
{
  yaml_document_t *doc;
  const char *name;
  struct moat_error *err;
};

static int
yerr (struct yctx *y, const yaml_node_t *n, const char *fmt, ...) __attribute__ ((format (printf, 3, 4)));

static int
yerr (struct yctx *y, const yaml_node_t *n, const char *fmt, ...)
{
  char msg[512];
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (msg, sizeof msg, fmt, ap);
  va_end (ap);
  moat_err (y->err, 0, "%s:%zu:%zu: %s", y->name, n ? n->start_mark.line + 1 : 0,
            n ? n->start_mark.column + 1 : 0, msg);
  y->err->code = EINVAL;
  return -1;
}

static const char *
scalar (const yaml_node_t *n)
{
  return n && n->type == YAML_SCALAR_NODE ? (const char *) n->data.scalar.value : NULL;
}

static int
want_scalar (struct yctx *y, const yaml_node_t *n, const char *what, const char **out)
{
  *out = scalar (n);
  if (*out == NULL)
    return yerr (y, n, "%s: must be a string", what);
  return 0;
}

static int
want_mapping (struct yctx *y, const yaml_node_t *n, const char *what)
{
  if (n == NULL || n->type != YAML_MAPPING_NODE)
    return yerr (y, n, "%s: must be a mapping", what);
  return 0;
}

#define FOR_PAIRS(y, node, k, v)                                                                      \
  for (yaml_node_pair_t *_p = (node)->data.mapping.pairs.start; _p < (node)->data.mapping.pairs.top; _p++) \
    for (yaml_node_t *k = yaml_document_get_node ((y)->doc, _p->key),                                   \
                     *v = yaml_document_get_node ((y)->doc, _p->value), *_once = k;                     \
         _once; _once = NULL)

static int
parse_action (struct yctx *y, const yaml_node_t *n, const char *what, enum moat_action *out)
{
  const char *s;

  if (want_scalar (y, n, what, &s) < 0)
    return -1;
  if (strcmp (s, "deny") == 0)
    *out = MOAT_ACTION_DENY;
  else if (strcmp (s, "warn") == 0)
    *out = MOAT_ACTION_WARN;
  else if (strcmp (s, "off") == 0)
    *out = MOAT_ACTION_OFF;
  else
    return yerr (y, n, "%s: `%s` is not deny, warn or off", what, s);
  return 0;
}

static int
parse_caps (struct yctx *y, const yaml_node_t *n, const char *what, uint64_t *out)
{
  yaml_node_item_t *it;

  if (n == NULL || n->type != YAML_SEQUENCE_NODE)
    return yerr (y, n, "%s: must be a list of capability names", what);
  *out = 0;
  for (it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++)
    {
      yaml_node_t *e = yaml_document_get_node (y->doc, *it);
      const char *s;
      int c;
      if (want_scalar (y, e, what, &s) < 0)
        return -1;
      c = moat_cap_from_name (s);
      if (c < 0 || c > 63)
        return yerr (y, e, "%s: unknown capability `%s`", what, s);
      *out |= 1ULL << c;
    }
  return 0;
}

static int
parse_strv (struct yctx *y, const yaml_node_t *n, const char *what, struct moat_strv *out)
{
  yaml_node_item_t *it;
  size_t cap;

  if (n == NULL || n->type != YAML_SEQUENCE_NODE)
    return yerr (y, n, "%s: must be a list of strings", what);
  cap = (size_t) (n->data.sequence.items.top - n->data.sequence.items.start);
  for (size_t i = 0; i < out->n; i++)
    free (out->v[i]);
  free (out->v);
  out->n = 0;
  out->v = calloc (cap + 1, sizeof *out->v);
  if (out->v == NULL)
    return moat_err (y->err, ENOMEM, "%s", what);
  for (it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++)
    {
      yaml_node_t *e = yaml_document_get_node (y->doc, *it);
      const char *s;
      if (want_scalar (y, e, what, &s) < 0)
        return -1;
      if (*s == '\0')
        return yerr (y, e, "%s: empty string", what);
      out->v[out->n] = strdup (s);
      if (out->v[out->n++] == NULL)
        return moat_err (y->err, ENOMEM, "%s", what);
    }
  return 0;
}

/* rules: { RULE_ID: ACTION | { action: ACTION, PARAM: ... } }.  Parameters
   are only allowed at the top level (p != NULL), not in overrides. */
static int
parse_rules (struct yctx *y, const yaml_node_t *n, const char *what, enum moat_action *act, bool *set,
             struct moat_policy *p)
{
  if (want_mapping (y, n, what) < 0)
    return -1;
  FOR_PAIRS (y, n, k, v)
    {
      const char *id;
      int r;
      if (want_scalar (y, k, what, &id) < 0)
        return -1;
      r = moat_rule_find (id);
      if (r < 0)
        return yerr (y, k, "%s: unknown rule `%s`", what, id);
      if (set && set[r])
        return yerr (y, k, "%s: rule `%s` given twice", what, id);
      if (set)
        set[r] = true;
      if (v && v->type == YAML_SCALAR_NODE)
        {
          if (parse_action (y, v, id, &act[r]) < 0)
            return -1;
          continue;
        }
      if (want_mapping (y, v, id) < 0)
        return -1;
      FOR_PAIRS (y, v, pk, pv)
        {
          const char *key;
          if (want_scalar (y, pk, id, &key) < 0)
            return -1;
          if (strcmp (key, "action") == 0)
            {
              if (parse_action (y, pv, id, &act[r]) < 0)
                return -1;
            }
          else if (p && strcmp (id, "moat.caps.allowed") == 0 && strcmp (key, "allowed") == 0)
            {
              if (parse_caps (y, pv, "moat.caps.allowed.allowed", &p->allowed_caps) < 0)
                return -1;
            }
          else if (p && strcmp (id, "moat.image.registry") == 0 && strcmp (key, "registries") == 0)
            {
              if (parse_strv (y, pv, "moat.image.registry.registries", &p->registries) < 0)
                return -1;
            }
          else
            return yerr (y, pk, "%s: unknown key `%s`%s", id, key, p ? "" : " (parameters go in the top-level rules)");
        }
    }
  return 0;
}

static int
parse_labels (struct yctx *y, const yaml_node_t *n, struct moat_kvv *out)
{
  size_t cap;

  if (want_mapping (y, n, "overrides[].labels") < 0)
    return -1;
  cap = (size_t) (n->data.mapping.pairs.top - n->data.mapping.pairs.start);
  out->v = calloc (cap + 1, sizeof *out->v);
  if (out->v == NULL)
    return moat_err (y->err, ENOMEM, "labels");
  FOR_PAIRS (y, n, k, v)
    {
      const char *ks, *vs;
      if (want_scalar (y, k, "overrides[].labels", &ks) < 0 || want_scalar (y, v, ks, &vs) < 0)
        return -1;
      out->v[out->n].key = strdup (ks);
      out->v[out->n].value = strdup (vs);
      if (out->v[out->n++].key == NULL || out->v[out->n - 1].value == NULL)
        return moat_err (y->err, ENOMEM, "labels");
    }
  return 0;
}

static int
parse_override (struct yctx *y, const yaml_node_t *n, struct moat_policy_override *o)
{
  const yaml_node_t *rules = NULL;

  if (want_mapping (y, n, "overrides[]") < 0)
    return -1;
  FOR_PAIRS (y, n, k, v)
    {
      const char *key, *s;
      if (want_scalar (y, k, "overrides[]", &key) < 0)
        return -1;
      if (strcmp (key, "image") == 0 || strcmp (key, "digest") == 0)
        {
          char **dst = key[0] == 'i' ? &o->image : &o->digest;
          if (want_scalar (y, v, key, &s) < 0)
            return -1;
          if (*dst != NULL)
            return yerr (y, k, "overrides[]: `%s` given twice", key);
          if (key[0] == 'd' && strncmp (s, "sha256:", 7) != 0)
            return yerr (y, v, "overrides[].digest: `%s` is not sha256:HEX", s);
          *dst = strdup (s);
          if (*dst == NULL)
            return moat_err (y->err, ENOMEM, "overrides");
        }
      else if (strcmp (key, "labels") == 0)
        {
          if (o->labels.v != NULL)
            return yerr (y, k, "overrides[]: `labels` given twice");
          if (parse_labels (y, v, &o->labels) < 0)
            return -1;
        }
      else if (strcmp (key, "rules") == 0)
        rules = v;
      else
        return yerr (y, k, "overrides[]: unknown key `%s` (select by image, digest or labels)", key);
    }
  /* A container name is chosen by whoever starts the container; only the
     image identity and labels select an override, and at least one must. */
  if (o->image == NULL && o->digest == NULL && o->labels.n == 0)
    return yerr (y, n, "overrides[]: needs a selector (image, digest or labels)");
  if (rules == NULL)
    return yerr (y, n, "overrides[]: missing `rules`");
  return parse_rules (y, rules, "overrides[].rules", o->action, o->set, NULL);
}

static int
parse_overrides (struct yctx *y, const yaml_node_t *n, struct moat_policy *p)
{
  size_t cnt;
  yaml_node_item_t *it;

  if (n == NULL || n->type != YAML_SEQUENCE_NODE)
    return yerr (y, n, "overrides: must be a list");
  cnt = (size_t) (n->data.sequence.items.top - n->data.sequence.items.start);
  if (cnt > OVERRIDES_MAX)
    return yerr (y, n, "overrides: more than %d entries", OVERRIDES_MAX);
  p->overrides = calloc (cnt + 1, sizeof *p->overrides);
  if (p->overrides == NULL)
    return moat_err (y->err, ENOMEM, "overrides");
  for (it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++)
    if (parse_override (y, yaml_document_get_node (y->doc, *it), &p->overrides[p->n_overrides++]) < 0)
      return -1;
  return 0;
}

static int
parse_top (struct yctx *y, struct moat_policy *p)
{
  yaml_node_t *root = yaml_document_get_root_node (y->doc);
  bool have_version = false, have_rules = false, have_over = false, seen[64] = { false };

  if (root == NULL)
    return yerr (y, NULL, "empty policy: `version: 1` is required");
  if (want_mapping (y, root, "policy") < 0)
    return -1;
  FOR_PAIRS (y, root, k, v)
    {
      const char *key, *s;
      if (want_scalar (y, k, "policy", &key) < 0)
        return -1;
      if (strcmp (key, "version") == 0 && !have_version)
        {
          if (want_scalar (y, v, "version", &s) < 0)
            return -1;
          if (strcmp (s, "1") != 0)
            return yerr (y, v, "version: unsupported policy version `%s` (this moat reads 1)", s);
          have_version = true;
        }
      else if (strcmp (key, "rules") == 0 && !have_rules)
        {
          have_rules = true;
          if (parse_rules (y, v, "rules", p->action, seen, p) < 0)
            return -1;
        }
      else if (strcmp (key, "overrides") == 0 && !have_over)
        {
          have_over = true;
          if (parse_overrides (y, v, p) < 0)
            return -1;
        }
      else if (strcmp (key, "version") == 0 || strcmp (key, "rules") == 0 || strcmp (key, "overrides") == 0)
        return yerr (y, k, "`%s` given twice", key);
      else
        return yerr (y, k, "unknown key `%s` (expected version, rules, overrides)", key);
    }
  if (!have_version)
    return yerr (y, root, "`version: 1` is required");
  return 0;
}

int
moat_policy_parse (const char *yaml, size_t len, const char *name, struct moat_policy *out, struct moat_error *err)
{
  yaml_parser_t parser;
  yaml_document_t doc;
  struct yctx y = { &doc, name ? name : "policy", err };
  int r;

  moat_policy_baseline (out);
  out->from_file = true;
  if (len > POLICY_MAX)
    return moat_err (err, EFBIG, "%s: larger than %d bytes", y.name, POLICY_MAX);
  if (!yaml_parser_initialize (&parser))
    return moat_err (err, ENOMEM, "%s: yaml parser", y.name);
  yaml_parser_set_input_string (&parser, (const unsigned char *) yaml, len);
  if (!yaml_parser_load (&parser, &doc))
    {
      moat_err (err, 0, "%s:%zu:%zu: %s%s%s", y.name, parser.problem_mark.line + 1, parser.problem_mark.column + 1,
                parser.problem ? parser.problem : "invalid yaml", parser.context ? " " : "",
                parser.context ? parser.context : "");
      err->code = EINVAL;
      yaml_parser_delete (&parser);
      moat_policy_free (out);
      return -1;
    }
  r = parse_top (&y, out);
  yaml_document_delete (&doc);
  yaml_parser_delete (&parser);
  if (r < 0)
    moat_policy_free (out);
  return r;
}

int
moat_policy_load (const char *path, bool missing_ok, struct moat_policy *out, struct moat_error *err)
{
  cleanup_free char *buf = NULL;
  size_t len;

  if (missing_ok)
    {
      struct stat st;
      if (stat (path, &st) < 0 && errno == ENOENT)
        {
          moat_policy_baseline (out);
          return 0;
        }
    }
  memset (out, 0, sizeof *out);
  if (moat_read_file_at (AT_FDCWD, path, POLICY_MAX, &buf, &len, err) < 0)
    return moat_error_wrap (err, "policy `%s`", path);
  return moat_policy_parse (buf, len, path, out, err);
}

void
moat_policy_free (struct moat_policy *p)
{
  size_t i, k;

  for (i = 0; i < p->registries.n; i++)
    free (p->registries.v[i]);
  free (p->registries.v);
  for (k = 0; k < p->n_overrides; k++)
    {
      struct moat_policy_override *o = &p->overrides[k];
      free (o->image);
      free (o->digest);
      for (i = 0; i < o->labels.n; i++)
        {
          free (o->labels.v[i].key);
          free (o->labels.v[i].value);
        }
      free (o->labels.v);
    }
  free (p->overrides);
  memset (p, 0, sizeof *p);
}
