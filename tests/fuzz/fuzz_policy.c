/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer harness for moat_policy_parse(): besides memory errors, a policy
 * that parses must hold only known actions, and a failure must leave a
 * message with a line and column and no half-built overrides. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct moat_policy p;
  struct moat_error err = { 0 };
  size_t i, k;

  if (moat_policy_parse ((const char *) data, size, "fuzz", &p, &err) == 0)
    {
      for (i = 0; i < moat_n_rules; i++)
        if (p.action[i] > MOAT_ACTION_DENY)
          abort ();
      for (k = 0; k < p.n_overrides; k++)
        {
          const struct moat_policy_override *o = &p.overrides[k];
          if (o->image == NULL && o->digest == NULL && o->labels.n == 0)
            abort ();
          for (i = 0; i < moat_n_rules; i++)
            if (o->set[i] && o->action[i] > MOAT_ACTION_DENY)
              abort ();
        }
      for (i = 0; i < p.registries.n; i++)
        if (p.registries.v[i] == NULL || p.registries.v[i][0] == '\0')
          abort ();
      moat_policy_free (&p);
    }
  else if (err.msg[0] == '\0' || strncmp (err.msg, "fuzz:", 5) != 0 || p.overrides != NULL)
    abort ();
  return 0;
}
