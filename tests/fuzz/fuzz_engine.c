/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer harness for the engine's readers: the container log parser
 * (`moat logs`; the records hold whatever a container printed) and the
 * record's status file parser (`moat ps`, `inspect`). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/crilog.h"
#include "engine/status.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct moat_cri_lines ls = { 0 };
  struct moat_engine_status st;
  char *text = malloc (size + 1);
  size_t used;

  if (text == NULL)
    return 0;
  memcpy (text, data, size);
  text[size] = '\0';
  used = moat_cri_parse (&ls, text, size);
  if (used > size)
    abort ();
  for (size_t i = 0; i < ls.n; i++)
    if (ls.v[i].text[ls.v[i].len] != '\0' || ls.v[i].ts[MOAT_RFC3339_NS_LEN] != '\0')
      abort ();
  moat_cri_lines_free (&ls);
  moat_engine_status_parse (text, &st);
  if (strchr (st.error, '\n'))
    abort ();
  free (text);
  return 0;
}
