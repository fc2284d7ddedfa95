/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MOAT_POLICY_H
#define MOAT_POLICY_H

/* The policy engine: one rule table (rules.c) serves admission (`create`,
 * `policy check`) and audit (`audit`, CIS Docker Benchmark 1.6 sections 4-5).
 * Every input (an OCI config.json, a `docker inspect` or `podman inspect`
 * document) becomes a struct moat_spec plus the few engine-level facts that
 * have no OCI equivalent (struct moat_side_info), and each rule is a function
 * over that pair.  See docs/policy.md for the baseline and the file format. */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "spec/spec.h"
#include "util/error.h"

#define MOAT_POLICY_DEFAULT_PATH "/etc/moat/policy.yaml"
#define MOAT_POLICY_ENV "MOAT_POLICY"

/* struct moat_error.code of an admission denial (not an errno value), so that
 * the CLI can tell "refused by policy" (exit 3) from every other failure. */
#define MOAT_EPOLICY 0x10003

enum moat_action
{
  MOAT_ACTION_OFF,
  MOAT_ACTION_WARN,
  MOAT_ACTION_DENY,
};

enum moat_verdict
{
  MOAT_PASS,
  MOAT_FAIL,
  MOAT_NA,
};

enum moat_severity
{
  MOAT_SEV_LOW,
  MOAT_SEV_MEDIUM,
  MOAT_SEV_HIGH,
  MOAT_SEV_CRITICAL,
};

enum moat_input_kind
{
  MOAT_INPUT_OCI,
  MOAT_INPUT_DOCKER,
  MOAT_INPUT_PODMAN,
};

struct moat_port
{
  char *host_ip;       /* "" or NULL = all interfaces */
  int host_port;       /* 0 = not published */
  int container_port;
  char proto[8];
};

/* Engine-level facts an inspect document carries and config.json does not.
 * The has_ flags say whether the input carried the datum at all: a check
 * that needs a missing datum is not applicable, never a silent pass. */
struct moat_side_info
{
  enum moat_input_kind kind;
  char *name;           /* container name (reporting only: never selects policy) */
  char *image;          /* image reference as given, NULL = unknown */
  char *image_digest;   /* "sha256:..." when the reference pins one */
  bool privileged;      /* HostConfig.Privileged */
  bool has_user;
  char *user;           /* Config.User as written ("", "root", "1000:1000", "app") */
  bool has_healthcheck;
  bool healthcheck;     /* Config.Healthcheck present and not NONE */
  bool has_restart;
  char *restart_name;
  long restart_max;
  bool has_ports;
  struct moat_port *ports;
  size_t n_ports;
  bool has_cgroup_parent;
  char *cgroup_parent;
  bool has_ulimits;     /* engine-level: Docker sets none by default */
  size_t n_ulimits;
};

void moat_side_info_free (struct moat_side_info *s);

/* ---- rules ------------------------------------------------------------ */

#define MOAT_REASON_MAX 256

struct moat_policy;

struct moat_rule_ctx
{
  const struct moat_spec *spec;
  const struct moat_side_info *side; /* never NULL; kind OCI for config.json */
  const struct moat_policy *policy;  /* parameters (allowed caps, registries) */
};

struct moat_rule
{
  const char *id;          /* stable: "moat.caps.sys_admin" */
  const char *cis;         /* "5.4", or NULL */
  enum moat_severity severity;
  enum moat_action baseline;
  const char *title;
  const char *remediation;
  enum moat_verdict (*check) (const struct moat_rule_ctx *ctx, char *reason, size_t len);
};

extern const struct moat_rule moat_rules[];
extern const size_t moat_n_rules;

/* Index of a rule id in moat_rules, -1 if unknown. */
int moat_rule_find (const char *id);
const char *moat_severity_name (enum moat_severity s);
const char *moat_action_name (enum moat_action a);

/* ---- CIS checks (audit) ----------------------------------------------- */

enum moat_cis_result
{
  MOAT_CIS_PASS,
  MOAT_CIS_WARN,
  MOAT_CIS_INFO,
  MOAT_CIS_NOTE,
};

struct moat_cis_check
{
  const char *id;        /* "5.10" */
  const char *title;     /* verbatim docker-bench-security desc */
  bool scored;           /* "(Automated)" checks count in the score */
  enum moat_cis_result on_fail;  /* WARN, or INFO for the manual ones */
  enum moat_cis_result on_na;    /* INFO or NOTE */
  const char *rules[8];  /* moat rule ids; NULL-terminated; none = always on_na */
  const char *na_text;   /* why it cannot be answered from a file */
};

extern const struct moat_cis_check moat_cis_checks[];
extern const size_t moat_n_cis_checks;

/* ---- policy file -------------------------------------------------------- */

struct moat_policy_override
{
  char *image;            /* fnmatch(3) pattern on the image reference, NULL = any */
  char *digest;           /* exact "sha256:..." of the image, NULL = any */
  struct moat_kvv labels; /* annotations that must all be present with these values */
  bool set[64];
  enum moat_action action[64];
};

struct moat_policy
{
  bool from_file;
  enum moat_action action[64]; /* per rule index */
  uint64_t allowed_caps;       /* moat.caps.allowed */
  struct moat_strv registries; /* moat.image.registry; empty = not configured */
  struct moat_policy_override *overrides;
  size_t n_overrides;
};

/* The built-in baseline (docs/policy.md). */
void moat_policy_baseline (struct moat_policy *p);

/* Parse a YAML policy; errors name the line and column:
 * "policy.yaml:4:3: rules: unknown rule `moat.foo`". */
int moat_policy_parse (const char *yaml, size_t len, const char *name, struct moat_policy *out,
                       struct moat_error *err);

/* Load PATH.  missing_ok: a missing file yields the baseline (one failed
 * stat, nothing read); any other failure is an error (callers fail closed). */
int moat_policy_load (const char *path, bool missing_ok, struct moat_policy *out, struct moat_error *err);

void moat_policy_free (struct moat_policy *p);

/* ---- evaluation ------------------------------------------------------- */

struct moat_finding
{
  int rule;                 /* index in moat_rules */
  enum moat_verdict verdict;
  enum moat_action action;  /* effective, after overrides */
  char reason[MOAT_REASON_MAX];
};

struct moat_evaluation
{
  struct moat_finding findings[64];
  size_t n;                 /* == moat_n_rules */
  size_t n_denied, n_warned;
};

/* Run every rule over (spec, side) with the actions of POLICY (overrides
 * applied for the spec's image and annotations). */
void moat_policy_evaluate (const struct moat_policy *policy, const struct moat_spec *spec,
                           const struct moat_side_info *side, struct moat_evaluation *ev);

/* Admission for `create`: the policy at $MOAT_POLICY, else the default path,
 * else the baseline.  Returns 0 when admitted; on denial -1 with err->code
 * MOAT_EPOLICY and a message whose first line is "policy denied container
 * `ID`: N rule(s) violated", then one "  RULE: reason (fix: ...)" line per
 * violation.  An unreadable or invalid policy file denies (fail closed). */
int moat_policy_admit (const struct moat_spec *spec, const char *id, struct moat_error *err);
/* The same; on denial RULES (CAP bytes, may be 0) also gets the violated rule
 * ids, comma-separated (for the policy_deny event), or MOAT_RULE_NO_POLICY
 * when the policy itself was unusable. */
#define MOAT_RULE_NO_POLICY "moat.policy.unusable"
int moat_policy_admit_rules (const struct moat_spec *spec, const char *id, char *rules, size_t cap,
                             struct moat_error *err);

/* ---- inputs ----------------------------------------------------------- */

/* Parse one document: an OCI config.json, a docker/podman inspect object, or
 * an inspect array (each element one container).  Calls FN for each
 * container found; *n_out counts them. */
struct moat_audit_input
{
  struct moat_spec spec;
  struct moat_side_info side;
};

typedef int (*moat_input_fn) (struct moat_audit_input *in, void *data, struct moat_error *err);

int moat_inspect_parse (const char *json, size_t len, moat_input_fn fn, void *data, struct moat_error *err);

/* One inspect object (already decoded by jansson; void * keeps jansson out
 * of this header) into IN; kind says which engine's spelling. */
int moat_inspect_convert (const void *json_obj, enum moat_input_kind kind, struct moat_audit_input *in,
                          struct moat_error *err);

/* Which document JSON_OBJ is: 0 with *kind set, -1 if it is none of them. */
int moat_inspect_kind (const void *json_obj, enum moat_input_kind *kind);

/* Fill side info from a config.json's annotations (image reference). */
int moat_side_from_oci (const struct moat_spec *spec, struct moat_side_info *side, struct moat_error *err);

/* ---- reports ---------------------------------------------------------- */

/* What audit keeps per container: verdicts and reasons, the reasons
 * interned (thousands of containers share a few hundred distinct ones), so
 * a large inspect array costs under 1 KiB per container. */
struct moat_row
{
  uint8_t verdict[64];       /* enum moat_verdict, per rule index */
  const char *reason[64];    /* interned; owned by a struct moat_interner */
};

struct moat_interner;

struct moat_interner *moat_interner_new (void);
/* The canonical copy of S, NULL on ENOMEM. */
const char *moat_intern (struct moat_interner *in, const char *s);
void moat_interner_free (struct moat_interner *in);

/* Copy an evaluation into a row; -1 (ENOMEM) fills err. */
int moat_row_fill (struct moat_row *row, const struct moat_evaluation *ev, struct moat_interner *in,
                   struct moat_error *err);

struct moat_audit_item
{
  const char *file;         /* input path (interned) */
  const char *name;         /* container name (interned), NULL = use file */
  struct moat_side_info side;
  struct moat_row row;
};

struct moat_cis_outcome
{
  enum moat_cis_result result;
  bool failed;  /* a rule failed (result is the check's on_fail) */
  int rule;     /* the failing rule's index, -1 if none */
  char detail[MOAT_REASON_MAX];
};

/* The CIS result of check C for one evaluated container. */
void moat_cis_outcome (const struct moat_cis_check *c, const struct moat_row *row,
                       const struct moat_side_info *side, struct moat_cis_outcome *out);

enum moat_report_format
{
  MOAT_REPORT_TABLE,
  MOAT_REPORT_JSON,
  MOAT_REPORT_SARIF,
};

struct moat_audit_report
{
  struct moat_audit_item *items;
  size_t n;
  long start, end;              /* unix times */
};

/* Write the report to F.  color: ANSI colours in the table.  *n_warn gets
 * the number of WARN results (what --fail-on warn looks at). */
int moat_report_write (FILE *f, const struct moat_audit_report *r, enum moat_report_format fmt, bool color,
                       size_t *n_warn, struct moat_error *err);

#endif
