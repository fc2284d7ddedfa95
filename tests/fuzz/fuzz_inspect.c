/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer harness for the audit input adapter (moat_inspect_parse: OCI
 * config.json, docker/podman inspect object or array): every container it
 * yields is evaluated by the whole rule table and rendered by every report
 * writer, so the adapter's output must satisfy what the rules assume. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy.h"

static struct moat_policy policy;
static struct moat_interner *strings;

static int
each (struct moat_audit_input *in, void *data, struct moat_error *err)
{
  struct moat_audit_item item = { 0 };
  struct moat_audit_report r = { &item, 1, 0, 0 };
  static const enum moat_report_format fmts[] = { MOAT_REPORT_TABLE, MOAT_REPORT_JSON, MOAT_REPORT_SARIF };
  FILE *null = data;
  struct moat_evaluation ev;
  size_t i, n_warn;

  for (i = 0; i < in->spec.n_mounts; i++)
    if (in->spec.mounts[i].destination == NULL)
      abort ();
  for (i = 0; i < in->spec.linux.n_devices; i++)
    if (in->spec.linux.devices[i].path == NULL)
      abort ();
  moat_policy_evaluate (&policy, &in->spec, &in->side, &ev);
  if (ev.n != moat_n_rules || ev.n_denied + ev.n_warned > moat_n_rules)
    abort ();
  for (i = 0; i < ev.n; i++)
    for (const char *c = ev.findings[i].reason; *c; c++)
      if ((unsigned char) *c < 0x20)
        abort ();
  if (moat_row_fill (&item.row, &ev, strings, err) < 0)
    abort ();
  item.file = "fuzz.json";
  item.name = in->side.name;
  item.side = in->side;
  for (i = 0; i < sizeof fmts / sizeof fmts[0]; i++)
    if (moat_report_write (null, &r, fmts[i], i == 0, &n_warn, err) < 0)
      abort ();
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static FILE *null;
  struct moat_error err = { 0 };

  if (null == NULL)
    {
      null = fopen ("/dev/null", "we");
      moat_policy_baseline (&policy);
      strings = moat_interner_new ();
    }
  if (moat_inspect_parse ((const char *) data, size, each, null, &err) < 0 && err.msg[0] == '\0')
    abort ();
  return 0;
}
