/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer harness for the image document parsers: the same bytes are read
 * as a manifest, an index and a config.  Besides memory errors, it checks
 * the CVE-2021-41190 invariant: no input is accepted both as a manifest and
 * as an index, and every accepted descriptor has a valid digest. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "image/image.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static const char *manifest_types[] = { MT_OCI_MANIFEST, MT_DOCKER_MANIFEST };
  static const char *index_types[] = { MT_OCI_INDEX, MT_DOCKER_LIST };
  struct moat_error err = { 0 };
  struct moat_manifest m;
  struct moat_config c;
  struct moat_desc d;
  bool as_manifest = false, as_index = false;
  size_t i, j;

  for (i = 0; i < 2; i++)
    if (moat_parse_manifest ((const char *) data, size, manifest_types[i], &m, &err) == 0)
      {
        as_manifest = true;
        if (!moat_digest_valid (m.config.digest) || m.config.size < 0)
          abort ();
        for (j = 0; j < m.n_layers; j++)
          if (!moat_digest_valid (m.layers[j].digest) || !moat_layer_type_ok (m.layers[j].media_type))
            abort ();
        moat_manifest_free (&m);
      }
  for (i = 0; i < 2; i++)
    if (moat_parse_index_pick ((const char *) data, size, index_types[i], &d, &err) == 0)
      {
        as_index = true;
        if (!moat_digest_valid (d.digest))
          abort ();
      }
  if (as_manifest && as_index)
    abort ();
  for (i = 0; i < 3; i++)
    if (moat_parse_config ((const char *) data, size, i, &c, &err) == 0)
      {
        if (c.n_diff_ids != i)
          abort ();
        for (j = 0; j < i; j++)
          if (!moat_digest_valid (c.diff_ids[j]))
            abort ();
        moat_config_free (&c);
      }
  return 0;
}
