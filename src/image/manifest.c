/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image/image.h"
#include "util/cleanup.h"

static bool
is_manifest_type (const char *mt)
{
  return strcmp (mt, MT_OCI_MANIFEST) == 0 || strcmp (mt, MT_DOCKER_MANIFEST) == 0;
}

static bool
is_index_type (const char *mt)
{
  return strcmp (mt, MT_OCI_INDEX) == 0 || strcmp (mt, MT_DOCKER_LIST) == 0;
}

bool
moat_layer_type_ok (const char *mt)
{
  return strcmp (mt, MT_OCI_LAYER) == 0 || strcmp (mt, MT_OCI_LAYER_GZ) == 0
         || strcmp (mt, MT_OCI_LAYER_ZST) == 0 || strcmp (mt, MT_DOCKER_LAYER_GZ) == 0;
}

int
moat_parse_desc (json_t *j, const char *where, struct moat_desc *d, struct moat_error *err)
{
  json_t *mt = json_object_get (j, "mediaType"), *dg = json_object_get (j, "digest");
  json_t *sz = json_object_get (j, "size");

  if (!json_is_object (j))
    return moat_err (err, 0, "%s: not a descriptor object", where);
  /* mediaType is required: without it a blob can be read as either a
     manifest or an index (CVE-2021-41190). */
  if (!json_is_string (mt) || json_string_length (mt) == 0 || json_string_length (mt) >= sizeof d->media_type)
    return moat_err (err, 0, "%s.mediaType: missing or invalid", where);
  if (!json_is_string (dg) || !moat_digest_valid (json_string_value (dg)))
    return moat_err (err, 0, "%s.digest: missing or not `sha256:<64 lower-case hex>`", where);
  if (!json_is_integer (sz) || json_integer_value (sz) < 0)
    return moat_err (err, 0, "%s.size: missing or negative", where);
  snprintf (d->media_type, sizeof d->media_type, "%s", json_string_value (mt));
  snprintf (d->digest, sizeof d->digest, "%s", json_string_value (dg));
  d->size = json_integer_value (sz);
  return 0;
}

static int
load_doc (const char *buf, size_t len, const char *what, json_t **out, struct moat_error *err)
{
  json_error_t jerr;
  json_t *j = json_loadb (buf, len, JSON_REJECT_DUPLICATES, &jerr);

  if (j == NULL)
    return moat_err (err, 0, "%s: invalid JSON: %s (line %d)", what, jerr.text, jerr.line);
  if (!json_is_object (j))
    {
      json_decref (j);
      return moat_err (err, 0, "%s: not a JSON object", what);
    }
  *out = j;
  return 0;
}

/* The descriptor's mediaType types the blob; the document's own mediaType,
 * when present (image-spec says SHOULD, and podman omits it), must agree,
 * and a manifest must not carry "manifests" nor an index "config"/"layers",
 * so that one blob can never be read both ways: the image-spec 1.0.2 fix for
 * CVE-2021-41190. */
static int
check_doc_type (json_t *doc, const char *want, bool manifest, struct moat_error *err)
{
  json_t *mt = json_object_get (doc, "mediaType");
  json_t *sv = json_object_get (doc, "schemaVersion");

  if (!json_is_integer (sv) || json_integer_value (sv) != 2)
    return moat_err (err, 0, "schemaVersion: must be 2");
  if (mt && !json_is_string (mt))
    return moat_err (err, 0, "mediaType: not a string");
  if (mt && strcmp (json_string_value (mt), want) != 0)
    return moat_err (err, 0, "mediaType: document says `%s` but its descriptor says `%s`", json_string_value (mt), want);
  if (manifest && json_object_get (doc, "manifests"))
    return moat_err (err, 0, "a manifest must not have `manifests` (manifest/index confusion)");
  if (!manifest && (json_object_get (doc, "layers") || json_object_get (doc, "config")))
    return moat_err (err, 0, "an index must not have `config` or `layers` (manifest/index confusion)");
  return 0;
}

int
moat_parse_manifest (const char *buf, size_t len, const char *media_type, struct moat_manifest *m, struct moat_error *err)
{
  cleanup_json json_t *doc = NULL;
  json_t *layers;
  size_t i;
  char where[64];

  memset (m, 0, sizeof *m);
  if (!is_manifest_type (media_type))
    return moat_err (err, 0, "mediaType `%s` is not an image manifest", media_type);
  if (load_doc (buf, len, "manifest", &doc, err) < 0)
    return -1;
  if (check_doc_type (doc, media_type, true, err) < 0)
    return moat_error_wrap (err, "manifest");
  if (moat_parse_desc (json_object_get (doc, "config"), "manifest.config", &m->config, err) < 0)
    return -1;
  if (strcmp (m->config.media_type, MT_OCI_CONFIG) != 0 && strcmp (m->config.media_type, MT_DOCKER_CONFIG) != 0)
    return moat_err (err, 0, "manifest.config.mediaType: `%s` is not an image config", m->config.media_type);
  layers = json_object_get (doc, "layers");
  if (!json_is_array (layers))
    return moat_err (err, 0, "manifest.layers: missing or not an array");
  if (json_array_size (layers) > 4096)
    return moat_err (err, 0, "manifest.layers: %zu layers (at most 4096)", json_array_size (layers));
  m->layers = calloc (json_array_size (layers) + 1, sizeof *m->layers);
  if (m->layers == NULL)
    return moat_err (err, ENOMEM, "manifest.layers");
  for (i = 0; i < json_array_size (layers); i++)
    {
      snprintf (where, sizeof where, "manifest.layers[%zu]", i);
      if (moat_parse_desc (json_array_get (layers, i), where, &m->layers[i], err) < 0)
        {
          moat_manifest_free (m);
          return -1;
        }
      if (!moat_layer_type_ok (m->layers[i].media_type))
        {
          moat_err (err, 0, "%s.mediaType: unsupported layer type `%s`", where, m->layers[i].media_type);
          moat_manifest_free (m);
          return -1;
        }
      m->n_layers++;
    }
  return 0;
}

void
moat_manifest_free (struct moat_manifest *m)
{
  free (m->layers);
  m->layers = NULL;
  m->n_layers = 0;
}

static bool
platform_is (json_t *p, const char *os, const char *arch)
{
  json_t *o = json_object_get (p, "os"), *a = json_object_get (p, "architecture");

  return json_is_string (o) && json_is_string (a) && strcmp (json_string_value (o), os) == 0
         && strcmp (json_string_value (a), arch) == 0;
}

int
moat_parse_index_pick (const char *buf, size_t len, const char *media_type, struct moat_desc *out, struct moat_error *err)
{
  cleanup_json json_t *doc = NULL;
  json_t *ms, *e;
  size_t i, n_plain = 0;
  struct moat_desc d, plain = { 0 };
  char where[64];

  if (!is_index_type (media_type))
    return moat_err (err, 0, "mediaType `%s` is not an image index", media_type);
  if (load_doc (buf, len, "index", &doc, err) < 0)
    return -1;
  if (check_doc_type (doc, media_type, false, err) < 0)
    return moat_error_wrap (err, "index");
  ms = json_object_get (doc, "manifests");
  if (!json_is_array (ms))
    return moat_err (err, 0, "index.manifests: missing or not an array");
  json_array_foreach (ms, i, e)
    {
      snprintf (where, sizeof where, "index.manifests[%zu]", i);
      if (moat_parse_desc (e, where, &d, err) < 0)
        return -1;
      if (!is_manifest_type (d.media_type))
        continue;
      if (platform_is (json_object_get (e, "platform"), "linux", "amd64"))
        {
          *out = d;
          return 0;
        }
      if (json_object_get (e, "platform") == NULL)
        {
          plain = d;
          n_plain++;
        }
    }
  if (n_plain == 1)
    {
      *out = plain;
      return 0;
    }
  return moat_err (err, ENOENT, "index: no manifest for linux/amd64");
}

static int
check_platform (json_t *doc, struct moat_error *err)
{
  json_t *os = json_object_get (doc, "os"), *arch = json_object_get (doc, "architecture");

  if (!json_is_string (os) || !json_is_string (arch))
    return moat_err (err, 0, "config: `os` and `architecture` are required");
  if (strcmp (json_string_value (os), "linux") != 0 || strcmp (json_string_value (arch), "amd64") != 0)
    return moat_err (err, 0, "config: image is for %s/%s, this host runs linux/amd64",
                     json_string_value (os), json_string_value (arch));
  return 0;
}

int
moat_parse_config (const char *buf, size_t len, size_t n_layers, struct moat_config *c, struct moat_error *err)
{
  cleanup_json json_t *doc = NULL;
  json_t *rootfs, *ids, *e, *cfg;
  size_t i;

  memset (c, 0, sizeof *c);
  if (load_doc (buf, len, "config", &doc, err) < 0)
    return -1;
  if (check_platform (doc, err) < 0)
    return -1;
  cfg = json_object_get (doc, "config");
  if (cfg && !json_is_object (cfg) && !json_is_null (cfg))
    return moat_err (err, 0, "config.config: not an object");
  rootfs = json_object_get (doc, "rootfs");
  if (!json_is_object (rootfs) || !json_is_string (json_object_get (rootfs, "type"))
      || strcmp (json_string_value (json_object_get (rootfs, "type")), "layers") != 0)
    return moat_err (err, 0, "config.rootfs.type: must be `layers`");
  ids = json_object_get (rootfs, "diff_ids");
  if (!json_is_array (ids))
    return moat_err (err, 0, "config.rootfs.diff_ids: missing or not an array");
  if (json_array_size (ids) != n_layers)
    return moat_err (err, 0, "config.rootfs.diff_ids: %zu entries for %zu layers", json_array_size (ids), n_layers);
  c->diff_ids = calloc (n_layers + 1, sizeof *c->diff_ids);
  if (c->diff_ids == NULL)
    return moat_err (err, ENOMEM, "config");
  json_array_foreach (ids, i, e)
    {
      if (!json_is_string (e) || !moat_digest_valid (json_string_value (e)))
        {
          moat_config_free (c);
          return moat_err (err, 0, "config.rootfs.diff_ids[%zu]: not a sha256 digest", i);
        }
      c->diff_ids[i] = strdup (json_string_value (e));
      c->n_diff_ids++;
      if (c->diff_ids[i] == NULL)
        {
          moat_config_free (c);
          return moat_err (err, ENOMEM, "config");
        }
    }
  c->doc = steal_ptr (&doc);
  return 0;
}

void
moat_config_free (struct moat_config *c)
{
  size_t i;

  for (i = 0; c->diff_ids && i < c->n_diff_ids; i++)
    free (c->diff_ids[i]);
  free (c->diff_ids);
  json_decref (c->doc);
  memset (c, 0, sizeof *c);
}
