/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer harness for moat_process_parse() (exec --process FILE). */
#include <stdint.h>
#include <stdlib.h>

#include "spec/spec.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct moat_process p;
  struct moat_error err;

  if (moat_process_parse ((const char *) data, size, &p, &err) == 0)
    {
      if (p.args.n < 1 || p.cwd == NULL || p.cwd[0] != '/')
        abort ();
      moat_process_free (&p);
    }
  else if (err.msg[0] == '\0' || p.args.v != NULL)
    abort ();
  return 0;
}
