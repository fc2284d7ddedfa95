/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Audit reports: a table (PASS/WARN/INFO/NOTE as docker-bench-security
 * prints them), JSON in docker-bench-security's log layout (so tools that
 * read its log.json read ours), and SARIF 2.1.0 for code-scanning CI.
 * Results are aggregated per check over every audited container, as
 * docker-bench-security does (items = the containers that fail). */
#include "policy/policy.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"

static const char *const result_name[] = { "PASS", "WARN", "INFO", "NOTE" };

/* Aggregate of one check (CIS, or a moat rule with no CIS id) over all items. */
struct agg
{
  const char *id, *title, *remediation;
  bool scored;
  enum moat_cis_result result;
  size_t n_fail;
  char detail[MOAT_REASON_MAX];
};

static int
rank (enum moat_cis_result r, bool failed)
{
  if (r == MOAT_CIS_WARN)
    return 4;
  if (failed)
    return 3; /* an INFO that reports a finding (manual checks) */
  return r == MOAT_CIS_PASS ? 2 : 1;
}

static const char *
item_name (const struct moat_audit_item *it)
{
  return it->name && *it->name ? it->name : it->file;
}

/* Calls EMIT (when non-NULL) for every failing item of the check. */
typedef int (*item_fn) (void *data, const struct moat_audit_item *it, const char *detail);

static int
aggregate_cis (const struct moat_audit_report *r, const struct moat_cis_check *c, struct agg *a, item_fn fn,
               void *data)
{
  int best = 0;
  size_t i;

  memset (a, 0, sizeof *a);
  a->id = c->id;
  a->title = c->title;
  a->scored = c->scored;
  a->result = c->on_na;
  snprintf (a->detail, sizeof a->detail, "%s", c->na_text ? c->na_text : "");
  for (i = 0; i < r->n; i++)
    {
      struct moat_cis_outcome o;
      bool failed;
      int k;
      moat_cis_outcome (c, &r->items[i].row, &r->items[i].side, &o);
      failed = o.failed;
      if (failed)
        {
          a->n_fail++;
          if (a->remediation == NULL)
            a->remediation = moat_rules[o.rule].remediation;
          if (fn && fn (data, &r->items[i], o.detail) < 0)
            return -1;
        }
      k = rank (o.result, failed);
      if (k > best)
        {
          best = k;
          a->result = o.result;
          snprintf (a->detail, sizeof a->detail, "%s", o.detail);
        }
    }
  return 0;
}

static int
aggregate_rule (const struct moat_audit_report *r, size_t rule, struct agg *a, item_fn fn, void *data)
{
  size_t i;
  bool any_pass = false;

  memset (a, 0, sizeof *a);
  a->id = moat_rules[rule].id;
  a->title = moat_rules[rule].title;
  a->remediation = moat_rules[rule].remediation;
  a->result = MOAT_CIS_INFO;
  snprintf (a->detail, sizeof a->detail, "not applicable");
  for (i = 0; i < r->n; i++)
    {
      const struct moat_row *row = &r->items[i].row;
      const char *reason = row->reason[rule] ? row->reason[rule] : "";
      if (row->verdict[rule] == MOAT_FAIL)
        {
          if (a->n_fail++ == 0)
            snprintf (a->detail, sizeof a->detail, "%s", reason);
          a->result = MOAT_CIS_WARN;
          if (fn && fn (data, &r->items[i], reason) < 0)
            return -1;
        }
      else if (row->verdict[rule] == MOAT_PASS && a->n_fail == 0 && !any_pass)
        {
          any_pass = true;
          a->result = MOAT_CIS_PASS;
          snprintf (a->detail, sizeof a->detail, "%s", reason);
        }
    }
  return 0;
}

/* ---- table ------------------------------------------------------------ */

struct table_ctx
{
  FILE *f;
};

static int
table_item (void *data, const struct moat_audit_item *it, const char *detail)
{
  struct table_ctx *t = data;
  fprintf (t->f, "       * %s: %s\n", item_name (it), detail);
  return 0;
}

static void
table_line (FILE *f, const struct agg *a, bool color)
{
  static const char *const col[] = { "\033[1;32m", "\033[1;31m", "\033[1;34m", "\033[1;33m" };

  fprintf (f, "%s[%s]%s %s - %s\n", color ? col[a->result] : "", result_name[a->result], color ? "\033[0m" : "",
           a->id, a->title);
  if (a->result != MOAT_CIS_PASS && a->n_fail == 0 && a->detail[0])
    fprintf (f, "       * %s\n", a->detail);
}

static int
write_table (FILE *f, const struct moat_audit_report *r, bool color, size_t *n_warn, int *checks, int *score)
{
  struct table_ctx t = { f };
  const char *section = NULL;
  struct agg a;
  size_t i;

  for (i = 0; i < moat_n_cis_checks; i++)
    {
      const struct moat_cis_check *c = &moat_cis_checks[i];
      if (section == NULL || strncmp (section, c->id, 2) != 0)
        {
          section = c->id;
          fprintf (f, "%s[INFO]%s %c - %s\n", color ? "\033[1;34m" : "", color ? "\033[0m" : "", c->id[0],
                   c->id[0] == '4' ? "Container Images and Build File" : "Container Runtime");
        }
      aggregate_cis (r, c, &a, NULL, NULL);
      table_line (f, &a, color);
      aggregate_cis (r, c, &a, table_item, &t);
      *n_warn += a.result == MOAT_CIS_WARN;
      ++*checks;
      *score += a.scored ? (a.result == MOAT_CIS_PASS ? 1 : a.result == MOAT_CIS_WARN ? -1 : 0) : 0;
    }
  fprintf (f, "%s[INFO]%s moat - moat rules outside the CIS benchmark\n", color ? "\033[1;34m" : "",
           color ? "\033[0m" : "");
  for (i = 0; i < moat_n_rules; i++)
    {
      if (moat_rules[i].cis != NULL)
        continue;
      aggregate_rule (r, i, &a, NULL, NULL);
      table_line (f, &a, color);
      aggregate_rule (r, i, &a, table_item, &t);
      *n_warn += a.result == MOAT_CIS_WARN;
      ++*checks;
    }
  fprintf (f, "\nSection C - Score\n\n[INFO] Checks: %d\n[INFO] Score: %d\n", *checks, *score);
  return 0;
}

/* ---- JSON (docker-bench-security log layout) ------------------------- */

static int
json_item (void *data, const struct moat_audit_item *it, const char *detail)
{
  json_t *arr = data;
  (void) detail;
  return json_array_append_new (arr, json_string (item_name (it)));
}

static json_t *
json_result (const struct agg *a, json_t *items)
{
  json_t *o = json_pack ("{s:s, s:s, s:s}", "id", a->id, "desc", a->title, "result", result_name[a->result]);

  if (o == NULL)
    return NULL;
  if (a->result != MOAT_CIS_PASS && a->detail[0])
    json_object_set_new (o, "details", json_string (a->detail));
  if (json_array_size (items) > 0)
    json_object_set (o, "items", items);
  if (a->result != MOAT_CIS_PASS && a->remediation)
    json_object_set_new (o, "remediation", json_string (a->remediation));
  return o;
}

static json_t *
json_section (const char *id, const char *desc)
{
  return json_pack ("{s:s, s:s, s:[]}", "id", id, "desc", desc, "results");
}

static int
write_json (FILE *f, const struct moat_audit_report *r, size_t *n_warn, struct moat_error *err)
{
  json_t *root, *s4, *s5, *sm, *tests;
  int checks = 0, score = 0, ret = 0;
  size_t i;
  struct agg a;

  s4 = json_section ("4", "Container Images and Build File");
  s5 = json_section ("5", "Container Runtime");
  sm = json_section ("moat", "moat rules outside the CIS benchmark");
  tests = json_pack ("[o, o, o]", s4, s5, sm);
  root = json_pack ("{s:s, s:s, s:I, s:o}", "dockerbenchsecurity", "1.6.0", "moat", MOAT_VERSION,
                    "start", (json_int_t) r->start, "tests", tests);
  if (root == NULL)
    return moat_err (err, ENOMEM, "report");
  for (i = 0; i < moat_n_cis_checks; i++)
    {
      const struct moat_cis_check *c = &moat_cis_checks[i];
      json_t *items = json_array ();
      aggregate_cis (r, c, &a, json_item, items);
      json_array_append_new (json_object_get (c->id[0] == '4' ? s4 : s5, "results"), json_result (&a, items));
      json_decref (items);
      *n_warn += a.result == MOAT_CIS_WARN;
      checks++;
      score += a.scored ? (a.result == MOAT_CIS_PASS ? 1 : a.result == MOAT_CIS_WARN ? -1 : 0) : 0;
    }
  for (i = 0; i < moat_n_rules; i++)
    if (moat_rules[i].cis == NULL)
      {
        json_t *items = json_array ();
        aggregate_rule (r, i, &a, json_item, items);
        json_array_append_new (json_object_get (sm, "results"), json_result (&a, items));
        json_decref (items);
        *n_warn += a.result == MOAT_CIS_WARN;
        checks++;
      }
  json_object_set_new (root, "checks", json_integer (checks));
  json_object_set_new (root, "score", json_integer (score));
  json_object_set_new (root, "end", json_integer (r->end));
  if (json_dumpf (root, f, JSON_INDENT (2)) < 0 || fputc ('\n', f) == EOF)
    ret = moat_err (err, errno, "write report");
  json_decref (root);
  return ret;
}

/* ---- SARIF 2.1.0 ------------------------------------------------------- */

static const char *
sarif_level (const struct moat_rule *r)
{
  return r->severity >= MOAT_SEV_HIGH ? "error" : r->severity == MOAT_SEV_MEDIUM ? "warning" : "note";
}

static int
write_sarif (FILE *f, const struct moat_audit_report *r, size_t *n_warn, struct moat_error *err)
{
  json_t *rules = json_array (), *results = json_array (), *root;
  size_t i, k;
  int ret = 0;

  for (i = 0; i < moat_n_rules; i++)
    {
      const struct moat_rule *ru = &moat_rules[i];
      json_t *props = json_pack ("{s:s, s:[s]}", "severity", moat_severity_name (ru->severity), "tags", "security");
      if (ru->cis)
        json_object_set_new (props, "cis", json_string (ru->cis));
      json_array_append_new (rules, json_pack ("{s:s, s:s, s:{s:s}, s:{s:s}, s:{s:s}, s:o}", "id", ru->id, "name",
                                               ru->id, "shortDescription", "text", ru->title, "help", "text",
                                               ru->remediation, "defaultConfiguration", "level", sarif_level (ru),
                                               "properties", props));
    }
  for (k = 0; k < r->n; k++)
    for (i = 0; i < moat_n_rules; i++)
      {
        const struct moat_rule *ru = &moat_rules[i];
        char msg[MOAT_REASON_MAX + 160];
        if (r->items[k].row.verdict[i] != MOAT_FAIL)
          continue;
        ++*n_warn;
        snprintf (msg, sizeof msg, "%s: %s%s%s", item_name (&r->items[k]), r->items[k].row.reason[i],
                  ru->cis ? " (CIS " : "", ru->cis ? ru->cis : "");
        if (ru->cis)
          strcat (msg, ")");
        json_array_append_new (
            results, json_pack ("{s:s, s:i, s:s, s:{s:s}, s:[{s:{s:{s:s}}}]}", "ruleId", ru->id, "ruleIndex",
                                (int) i, "level", sarif_level (ru), "message", "text", msg, "locations",
                                "physicalLocation", "artifactLocation", "uri", r->items[k].file));
      }
  root = json_pack ("{s:s, s:s, s:[{s:{s:{s:s, s:s, s:o}}, s:o}]}", "$schema",
                    "https://json.schemastore.org/sarif-2.1.0.json", "version", "2.1.0", "runs", "tool", "driver",
                    "name", "moat", "version", MOAT_VERSION,
                    "rules", rules, "results", results);
  if (root == NULL)
    return moat_err (err, ENOMEM, "report");
  if (json_dumpf (root, f, JSON_INDENT (2)) < 0 || fputc ('\n', f) == EOF)
    ret = moat_err (err, errno, "write report");
  json_decref (root);
  return ret;
}

int
moat_report_write (FILE *f, const struct moat_audit_report *r, enum moat_report_format fmt, bool color,
                   size_t *n_warn, struct moat_error *err)
{
  int checks = 0, score = 0;

  *n_warn = 0;
  switch (fmt)
    {
    case MOAT_REPORT_JSON:
      return write_json (f, r, n_warn, err);
    case MOAT_REPORT_SARIF:
      return write_sarif (f, r, n_warn, err);
    case MOAT_REPORT_TABLE:
    default:
      write_table (f, r, color, n_warn, &checks, &score);
      if (fflush (f) == EOF || ferror (f))
        return moat_err (err, errno, "write report");
      return 0;
    }
}
