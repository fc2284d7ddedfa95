/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer harness for moat_resources_parse() (update --resources FILE). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "spec/spec.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct moat_resources r;
  struct moat_error err;

  if (moat_resources_parse ((const char *) data, size, &r, &err) == 0)
    {
      for (size_t i = 0; i < r.n_devices; i++)
        if (strspn (r.devices[i].access, "rwm") != strlen (r.devices[i].access)
            || r.devices[i].major < -1 || r.devices[i].minor < -1)
          abort ();
      for (size_t i = 0; i < r.unified.n; i++)
        if (strchr (r.unified.v[i].key, '/') != NULL)
          abort ();
      moat_resources_free (&r);
    }
  else if (err.msg[0] == '\0')
    abort ();
  return 0;
}
