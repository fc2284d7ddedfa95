/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/cmd.h"
#include "util/cleanup.h"
#include "util/fs.h"

static void
print_json (json_t *j)
{
  char *t = json_dumps (j, JSON_INDENT (2) | JSON_SORT_KEYS);

  if (t)
    printf ("%s\n", t);
  free (t);
}

/* One line per image named by a load or pull report. */
static void
print_images (json_t *rep, const char *verb)
{
  json_t *e;
  size_t i;

  json_array_foreach (json_object_get (rep, "images"), i, e)
    printf ("%s image: %s (%s)%s\n", verb, json_string_value (json_object_get (e, "name")),
            json_string_value (json_object_get (e, "digest")),
            json_is_true (json_object_get (e, "changed")) ? "" : ", unchanged");
}

int
img_load (struct moat_store *s, const struct img_opts *o, const char *arg, struct moat_error *err)
{
  cleanup_json json_t *rep = json_object ();

  if (moat_image_load (s, arg, o->name, &o->lim, rep, err) < 0)
    return moat_error_wrap (err, "`%s`", arg);
  print_images (rep, "Loaded");
  return 0;
}

/* Manifest + config of a stored image, as JSON. */
static int
describe (struct moat_store *s, const char *name, const char *digest, bool full, json_t **out, struct moat_error *err)
{
  cleanup_free char *mbuf = NULL, *cbuf = NULL;
  struct moat_manifest m = { 0 };
  json_t *doc, *layers = json_array (), *cfg;
  json_error_t jerr;
  size_t mlen, clen, i;
  json_int_t size = 0;

  if (moat_store_read_blob (s, digest, MOAT_MAX_MANIFEST, &mbuf, &mlen, err) < 0)
    return moat_error_wrap (err, "image `%s`", name);
  doc = json_loadb (mbuf, mlen, 0, NULL);
  if (moat_parse_manifest (mbuf, mlen, json_is_string (json_object_get (doc, "mediaType"))
                           ? json_string_value (json_object_get (doc, "mediaType")) : MT_OCI_MANIFEST, &m, err) < 0)
    {
      json_decref (doc);
      json_decref (layers);
      return moat_error_wrap (err, "image `%s`", name);
    }
  json_decref (doc);
  for (i = 0; i < m.n_layers; i++)
    {
      size += m.layers[i].size;
      json_array_append_new (layers, json_pack ("{s:s,s:s,s:I}", "digest", m.layers[i].digest, "mediaType",
                                                m.layers[i].media_type, "size", (json_int_t) m.layers[i].size));
    }
  size += m.config.size;
  *out = json_pack ("{s:s,s:s,s:s,s:I,s:o}", "name", name, "digest", digest, "configDigest", m.config.digest,
                    "size", size, "layers", layers);
  if (full)
    {
      if (moat_store_read_blob (s, m.config.digest, MOAT_MAX_ARCHIVE_JSON, &cbuf, &clen, err) < 0)
        {
          moat_manifest_free (&m);
          return moat_error_wrap (err, "image `%s`", name);
        }
      cfg = json_loadb (cbuf, clen, 0, &jerr);
      json_object_set_new (*out, "config", cfg ? cfg : json_null ());
    }
  moat_manifest_free (&m);
  return 0;
}

int
img_ls (struct moat_store *s, const struct img_opts *o, const char *arg, struct moat_error *err)
{
  cleanup_json json_t *names = NULL, *list = json_array ();
  const char *k;
  json_t *v, *e;
  size_t i;

  if (moat_store_load_names (s, &names, err) < 0)
    return -1;
  json_object_foreach (names, k, v)
    {
      json_t *d = NULL;
      if (describe (s, k, json_string_value (v), false, &d, err) < 0)
        return -1;
      json_array_append_new (list, d);
    }
  if (o->json)
    {
      print_json (list);
      return 0;
    }
  printf ("%-40s %-14s %s\n", "NAME", "ID", "SIZE");
  json_array_foreach (list, i, e)
    printf ("%-40s %-14.12s %.1fMB\n", json_string_value (json_object_get (e, "name")),
            json_string_value (json_object_get (e, "digest")) + 7,
            (double) json_integer_value (json_object_get (e, "size")) / 1e6);
  return 0;
}

static json_t *
unpack_report (struct moat_store *s, const char *digest, const char *suffix)
{
  char p[160];
  cleanup_free char *buf = NULL;
  size_t len;

  snprintf (p, sizeof p, "rootfs/%s%s.json", digest + 7, suffix);
  if (moat_read_file_at (s->dirfd, p, 1 << 16, &buf, &len, NULL) < 0)
    return NULL;
  return json_loadb (buf, len, 0, NULL);
}

int
img_inspect (struct moat_store *s, const struct img_opts *o, const char *arg, struct moat_error *err)
{
  static const char *variants[] = { "", ".defang", ".devices", ".defang.devices" };
  cleanup_json json_t *names = NULL, *d = NULL;
  const char *name, *digest;
  json_t *unp = json_object ();
  size_t i;

  if (moat_store_load_names (s, &names, err) < 0 || moat_store_lookup (names, arg, &name, &digest, err) < 0
      || describe (s, name, digest, true, &d, err) < 0)
    {
      json_decref (unp);
      return -1;
    }
  /* setuid/setgid counts are recorded when a rootfs is unpacked. */
  for (i = 0; i < MOAT_ARRAY_SIZE (variants); i++)
    {
      json_t *r = unpack_report (s, digest, variants[i]);
      if (r)
        json_object_set_new (unp, *variants[i] ? variants[i] + 1 : "default", r);
    }
  json_object_set_new (d, "unpacked", unp);
  print_json (d);
  return 0;
}

int
img_rm (struct moat_store *s, const struct img_opts *o, const char *arg, struct moat_error *err)
{
  cleanup_json json_t *names = NULL;
  const char *name, *digest;
  char *copy;

  if (moat_store_load_names (s, &names, err) < 0 || moat_store_lookup (names, arg, &name, &digest, err) < 0)
    return -1;
  copy = strdup (name);
  if (copy == NULL)
    return moat_err (err, ENOMEM, "rm");
  json_object_del (names, copy);
  if (moat_store_save_names (s, names, err) < 0)
    {
      free (copy);
      return -1;
    }
  printf ("Untagged: %s\n", copy);
  free (copy);
  return 0;
}

int
img_prune (struct moat_store *s, const struct img_opts *o, const char *arg, struct moat_error *err)
{
  cleanup_json json_t *rep = json_object ();
  json_t *e;
  size_t i;

  if (moat_store_prune (s, rep, err) < 0)
    return -1;
  json_array_foreach (json_object_get (rep, "removed"), i, e)
    printf ("removed %s\n", json_string_value (e));
  return 0;
}

int
img_fsck (struct moat_store *s, const struct img_opts *o, const char *arg, struct moat_error *err)
{
  cleanup_json json_t *rep = json_object ();
  json_t *bad, *e;
  size_t i;

  if (moat_store_fsck (s, rep, err) < 0)
    return -1;
  bad = json_object_get (rep, "corrupt");
  if (o->json)
    print_json (rep);
  else
    {
      json_array_foreach (bad, i, e)
        printf ("corrupt: %s: %s\n", json_string_value (json_object_get (e, "blob")),
                json_string_value (json_object_get (e, "error")));
      printf ("checked %lld blobs, %zu problems\n", (long long) json_integer_value (json_object_get (rep, "checked")),
              json_array_size (bad));
    }
  return json_array_size (bad) ? 1 : 0;
}

int
img_unpack (struct moat_store *s, const struct img_opts *o, const char *arg, struct moat_error *err)
{
  cleanup_json json_t *names = NULL;
  cleanup_free char *path = NULL;
  const char *name, *digest;

  if (moat_store_load_names (s, &names, err) < 0 || moat_store_lookup (names, arg, &name, &digest, err) < 0
      || moat_image_unpack (s, digest, &o->lim, &path, err) < 0)
    return -1;
  printf ("%s\n", path);
  return 0;
}

/* The image's runtime defaults for `moat run IMAGE`: only process settings
 * are passed on.  Nothing from an image may add capabilities, seccomp or
 * LSM changes, mounts or devices (CVE-2014-6408 class); Volumes and
 * ExposedPorts are informational and left to the front end's policy. */
static json_t *
runtime_config (json_t *cfgdoc)
{
  static const char *keys[] = { "Entrypoint", "Cmd", "Env", "User", "WorkingDir", "Healthcheck",
                                "Labels", "ExposedPorts", "Volumes", "StopSignal" };
  json_t *c = json_object_get (cfgdoc, "config"), *out = json_object ();
  size_t i;

  for (i = 0; i < MOAT_ARRAY_SIZE (keys); i++)
    if (json_object_get (c, keys[i]) && !json_is_null (json_object_get (c, keys[i])))
      json_object_set (out, keys[i], json_object_get (c, keys[i]));
  return out;
}

int
img_resolve (struct moat_store *s, const struct img_opts *o, const char *arg, struct moat_error *err)
{
  cleanup_json json_t *names = NULL, *d = NULL, *out = NULL;
  cleanup_free char *path = NULL;
  const char *name, *digest;

  if (moat_store_load_names (s, &names, err) < 0 || moat_store_lookup (names, arg, &name, &digest, err) < 0
      || describe (s, name, digest, true, &d, err) < 0 || moat_image_unpack (s, digest, &o->lim, &path, err) < 0)
    return -1;
  out = json_pack ("{s:s,s:s,s:s,s:o}", "rootfs", path, "digest", digest, "name", name, "config",
                   runtime_config (json_object_get (d, "config")));
  print_json (out);
  return 0;
}

int
img_pull (struct moat_store *s, const struct img_opts *o, const char *arg, struct moat_error *err)
{
  cleanup_json json_t *rep = json_object ();
  struct moat_pull_opts po = { .creds = o->creds ? o->creds : getenv ("MOAT_REGISTRY_AUTH"),
                               .insecure = o->insecure, .n_insecure = o->n_insecure };

  if (po.creds && *po.creds == '\0')
    po.creds = NULL;
  if (po.creds && !strchr (po.creds, ':'))
    return moat_err (err, EINVAL, "--creds / $MOAT_REGISTRY_AUTH: expected USER:PASS");
  if (moat_image_pull (s, arg, &po, &o->lim, rep, err) < 0)
    return moat_error_wrap (err, "`%s`", arg);
  print_images (rep, "Pulled");
  return 0;
}
