/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer harness for the scanner in front of jansson (src/util/json.c),
 * differential: whenever the scanner returns a tree, jansson must accept the
 * same text and build the same tree (member order, and the bytes read under
 * JSON_DISABLE_EOF_CHECK); moat_json_loadb() must answer as json_loadb()
 * does, error text included.  The input's first byte picks the flags. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/json.h"

static const size_t flag_sets[] = { JSON_REJECT_DUPLICATES, JSON_REJECT_DUPLICATES | JSON_DISABLE_EOF_CHECK, 0,
                                    JSON_DISABLE_EOF_CHECK };

static char *
dump (const json_t *j)
{
  char *s = json_dumps (j, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION (17));
  if (s == NULL)
    abort ();
  return s;
}

static void
same (const json_t *a, const json_t *b)
{
  char *x = dump (a), *y = dump (b);
  if (strcmp (x, y) != 0)
    abort ();
  free (x);
  free (y);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  size_t flags, used = 0;
  const char *text;
  json_error_t je, me;
  json_t *ref, *scan, *front;

  if (size == 0)
    return 0;
  flags = flag_sets[data[0] % 4];
  text = (const char *) data + 1;
  size--;
  ref = json_loadb (text, size, flags, &je);
  scan = moat_json_scan (text, size, flags, &used);
  front = moat_json_loadb (text, size, flags, &me);
  if (scan != NULL)
    {
      if (ref == NULL)
        abort ();
      same (ref, scan);
      if ((flags & JSON_DISABLE_EOF_CHECK) && used != (size_t) je.position)
        abort ();
    }
  if ((ref == NULL) != (front == NULL))
    abort ();
  if (ref == NULL && strcmp (je.text, me.text) != 0)
    abort ();
  if (ref != NULL)
    {
      same (ref, front);
      if (je.position != me.position)
        abort ();
    }
  json_decref (ref);
  json_decref (scan);
  json_decref (front);
  return 0;
}
