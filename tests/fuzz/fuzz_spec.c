/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer harness for moat_spec_parse(): besides memory errors, a config
 * that parses must satisfy the invariants spec.h promises to later stages. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sched.h>

#include "spec/spec.h"

static void
check (const struct moat_spec *s)
{
  if (s->oci_version == NULL || strncmp (s->oci_version, "1.", 2) != 0 || s->root_path == NULL)
    abort ();
  for (size_t i = 0; i < s->n_mounts; i++)
    {
      const char *d = s->mounts[i].destination;

      if (d == NULL || d[0] != '/' || strstr (d, "//") || strstr (d, "/./") || strstr (d, "/../"))
        abort ();
      if (strncmp (d, "/proc/", 6) == 0)
        abort ();
    }
  if (s->has_process)
    {
      if (s->process.args.n < 1 || s->process.args.v[s->process.args.n] != NULL)
        abort ();
      if (s->process.cwd == NULL || s->process.cwd[0] != '/')
        abort ();
      for (size_t i = 0; i < s->process.n_rlimits; i++)
        if (s->process.rlimits[i].soft > s->process.rlimits[i].hard)
          abort ();
    }
  for (size_t i = 0; i < s->linux.n_devices; i++)
    if (strncmp (s->linux.devices[i].path, "/dev/", 5) != 0)
      abort ();
  for (size_t i = 0; i < s->linux.sysctl.n; i++)
    if (strchr (s->linux.sysctl.v[i].value, '+') || strchr (s->linux.sysctl.v[i].key, '/'))
      abort ();
  if ((s->hostname || s->domainname) && moat_spec_namespace (s, CLONE_NEWUTS) == NULL)
    abort ();
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct moat_spec s;
  struct moat_error err;

  if (moat_spec_parse ((const char *) data, size, &s, &err) == 0)
    {
      check (&s);
      moat_spec_free (&s);
    }
  else if (err.msg[0] == '\0' || s.mounts != NULL || s.oci_version != NULL)
    abort ();
  return 0;
}
