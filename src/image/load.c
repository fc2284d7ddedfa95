/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "image/image.h"
#include "util/cleanup.h"
#include "util/fs.h"

/* libarchive's own failures carry ARCHIVE_ERRNO_MISC (-1), not an errno. */
static int
aerrno (struct archive *a)
{
  return archive_errno (a) > 0 ? archive_errno (a) : 0;
}
#include "util/syscalls.h"

/* `image load`: an OCI image layout directory, an oci-archive (the same
 * layout in a tar) or a docker-archive (`docker save` / `podman save`:
 * manifest.json with Config/RepoTags/Layers), converted to OCI descriptors.
 * Every blob is verified against its digest and size before a name refers
 * to it; names are written last, so a failed or interrupted load leaves no
 * name pointing at anything half-written. */

void
moat_limits_default (struct moat_limits *l)
{
  l->max_layer_bytes = 16ULL << 30;
  l->max_image_bytes = 64ULL << 30;
  l->max_entries = 1000000;
  l->max_path = 4095;
  l->max_ratio = 200;
  l->ratio_floor = 16ULL << 20;
  l->allow_devices = false;
  l->defang = false;
}

struct src
{
  struct moat_store *s;
  const struct moat_limits *lim;
  int dirfd;      /* an OCI layout dir, or -1 for an archive */
  json_t *files;  /* archive member name -> digest of the stored copy */
  json_t *links;  /* archive symlink member -> target member */
  json_t *mem;    /* archive member name -> JSON text (small documents) */
  json_t *added;  /* digests this load added to the store (set) */
  json_t *refs;   /* digests the loaded images reference (set) */
};

static long
archive_reader (void *ctx, void *buf, size_t len)
{
  la_ssize_t n = archive_read_data (ctx, buf, len);

  if (n < 0)
    errno = archive_errno (ctx) ? archive_errno (ctx) : EIO;
  return (long) n;
}

static bool
is_mem_member (const char *name)
{
  return strcmp (name, "index.json") == 0 || strcmp (name, "oci-layout") == 0
         || strcmp (name, "manifest.json") == 0 || strcmp (name, "repositories") == 0;
}

static int
scan_member (struct src *src, struct archive *a, struct archive_entry *e, const char *name, struct moat_error *err)
{
  char dg[MOAT_DIGEST_STR];
  int64_t have;
  bool added;

  if (is_mem_member (name))
    {
      cleanup_free char *buf = NULL;
      la_int64_t sz = archive_entry_size (e);
      la_ssize_t n;

      /* Size cap on JSON read from an archive (CVE-2023-25153 class). */
      if (sz < 0 || sz > MOAT_MAX_ARCHIVE_JSON)
        return moat_err (err, EFBIG, "`%s`: larger than %u bytes", name, MOAT_MAX_ARCHIVE_JSON);
      buf = malloc ((size_t) sz + 1);
      if (buf == NULL)
        return moat_err (err, ENOMEM, "`%s`", name);
      n = archive_read_data (a, buf, (size_t) sz);
      if (n != sz)
        return moat_err (err, EIO, "read `%s`: %s", name, archive_error_string (a));
      json_object_set_new (src->mem, name, json_stringn_nocheck (buf, (size_t) sz));
      return 0;
    }
  /* A blob named by its digest that the store already has costs nothing
     (loading an image twice does no work). */
  if (strncmp (name, "blobs/sha256/", 13) == 0)
    {
      snprintf (dg, sizeof dg, "sha256:%.64s", name + 13);
      if (strlen (name + 13) != MOAT_DIGEST_HEX || !moat_digest_valid (dg))
        return moat_err (err, EINVAL, "`%s`: not a sha256 blob name", name);
      if (moat_store_has_blob (src->s, dg, &have) && have == archive_entry_size (e))
        {
          json_object_set_new (src->files, name, json_string (dg));
          return 0;
        }
      if (moat_store_put (src->s, archive_reader, a, dg, archive_entry_size (e), NULL, &added, err) < 0)
        return moat_error_wrap (err, "`%s`", name);
    }
  else if (moat_store_put (src->s, archive_reader, a, NULL, archive_entry_size (e), dg, &added, err) < 0)
    return moat_error_wrap (err, "`%s`", name);
  if (added)
    json_object_set_new (src->added, dg, json_true ());
  json_object_set_new (src->files, name, json_string (dg));
  return 0;
}

/* Read every regular member of the archive: small documents into memory,
 * everything else into the store (hashed while written). */
static int
scan_archive (struct src *src, const char *path, struct moat_error *err)
{
  struct archive *a = archive_read_new ();
  struct archive_entry *e;
  char name[4096], dir[4096], target[8192], clean[4096];
  int r, ret = -1;

  if (a == NULL)
    return moat_err (err, ENOMEM, "archive");
  archive_read_support_format_tar (a);
  archive_read_support_filter_none (a);
  archive_read_support_filter_gzip (a);
  if (archive_read_open_filename (a, path, 1 << 16) != ARCHIVE_OK)
    {
      moat_err (err, aerrno (a), "open `%s`: %s", path, archive_error_string (a));
      goto out;
    }
  while ((r = archive_read_next_header (a, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN)
    {
      const char *raw = archive_entry_pathname (e) ? archive_entry_pathname (e) : "";

      if (moat_clean_entry_name (raw, name, sizeof name, err) < 0)
        goto out;
      if (archive_entry_filetype (e) == AE_IFLNK && archive_entry_symlink (e))
        {
          /* docker-archive dedups layers with "<id>/layer.tar -> ../<x>.tar". */
          char *slash;
          snprintf (dir, sizeof dir, "%s", name);
          slash = strrchr (dir, '/');
          if (slash)
            *slash = '\0';
          snprintf (target, sizeof target, "/%s/%s", slash ? dir : ".", archive_entry_symlink (e));
          {
            /* Lexically, clamped at the top: this only names another member. */
            cleanup_free char *c = moat_path_clean (target);
            if (c == NULL)
              {
                moat_err (err, ENOMEM, "archive");
                goto out;
              }
            snprintf (clean, sizeof clean, "%s", c + 1);
          }
          json_object_set_new (src->links, name, json_string (clean));
          continue;
        }
      if (archive_entry_filetype (e) != AE_IFREG || archive_entry_hardlink (e))
        continue;
      if (scan_member (src, a, e, name, err) < 0)
        goto out;
    }
  if (r != ARCHIVE_EOF)
    {
      moat_err (err, aerrno (a), "read `%s`: %s", path, archive_error_string (a));
      goto out;
    }
  ret = 0;
out:
  archive_read_free (a);
  return ret;
}

/* Make sure the blob of D is in the store with the right size, copying it
 * (verified) from a layout dir if needed. */
static int
ensure_blob (struct src *src, const struct moat_desc *d, struct moat_error *err)
{
  char p[128];
  int64_t have;
  bool added;
  cleanup_fd int fd = -1;

  json_object_set_new (src->refs, d->digest, json_true ());
  if (moat_store_has_blob (src->s, d->digest, &have))
    {
      /* The stored copy's content matched this digest when it was written;
         the size must agree with the descriptor too (descriptor.md). */
      if (have != d->size)
        return moat_err (err, 0, "blob `%s`: size %lld, descriptor says %lld", d->digest, (long long) have, (long long) d->size);
      return 0;
    }
  if (src->dirfd < 0)
    return moat_err (err, ENOENT, "blob `%s`: missing from the archive", d->digest);
  snprintf (p, sizeof p, "blobs/sha256/%s", d->digest + 7);
  fd = moat_open_in_root (src->dirfd, p, O_RDONLY, 0, err);
  if (fd < 0)
    return moat_error_wrap (err, "blob `%s`", d->digest);
  if (moat_store_put (src->s, moat_fd_reader, &fd, d->digest, d->size, NULL, &added, err) < 0)
    return -1;
  if (added)
    json_object_set_new (src->added, d->digest, json_true ());
  return 0;
}

int
moat_layer_diff_id (int blobfd, const struct moat_limits *lim, char *out, struct moat_error *err)
{
  static char buf[1 << 20];
  struct archive *a = archive_read_new ();
  struct moat_sha256 *h = moat_sha256_new ();
  uint64_t total = 0;
  la_ssize_t n;
  int ret = -1;

  if (a == NULL || h == NULL)
    {
      moat_err (err, ENOMEM, "diff_id");
      goto out;
    }
  archive_read_support_format_raw (a);
  archive_read_support_filter_gzip (a);
  archive_read_support_filter_zstd (a);
  archive_read_support_filter_none (a);
  if (archive_read_open_fd (a, blobfd, 1 << 16) != ARCHIVE_OK
      || archive_read_next_header (a, &(struct archive_entry *) { NULL }) != ARCHIVE_OK)
    {
      moat_err (err, aerrno (a), "open layer: %s", archive_error_string (a));
      goto out;
    }
  while ((n = archive_read_data (a, buf, sizeof buf)) > 0)
    {
      uint64_t raw = (uint64_t) archive_filter_bytes (a, -1);
      total += (uint64_t) n;
      if (total > lim->max_layer_bytes)
        {
          moat_err (err, EFBIG, "layer is larger than %llu bytes uncompressed (raise with --max-layer-size)",
                    (unsigned long long) lim->max_layer_bytes);
          goto out;
        }
      if (total > lim->ratio_floor && total / (raw ? raw : 1) > lim->max_ratio)
        {
          moat_err (err, EFBIG, "compression ratio above %llu:1 (a decompression bomb? raise with --max-ratio)",
                    (unsigned long long) lim->max_ratio);
          goto out;
        }
      moat_sha256_update (h, buf, (size_t) n);
    }
  if (n < 0)
    {
      moat_err (err, aerrno (a), "decompress layer: %s", archive_error_string (a));
      goto out;
    }
  moat_sha256_final (h, out);
  h = NULL;
  ret = 0;
out:
  moat_sha256_free (h);
  if (a)
    archive_read_free (a);
  return ret;
}

static int
check_layers (struct src *src, const struct moat_manifest *m, const struct moat_config *c, struct moat_error *err)
{
  size_t i;
  char got[MOAT_DIGEST_STR];

  for (i = 0; i < m->n_layers; i++)
    {
      const struct moat_desc *l = &m->layers[i];
      cleanup_fd int fd = -1;

      if (ensure_blob (src, l, err) < 0)
        return moat_error_wrap (err, "layer %zu", i);
      /* The uncompressed digest must be the config's diff_id (descriptor
         rule 3 of the acceptance list). */
      if (strcmp (l->media_type, MT_OCI_LAYER) == 0)
        memcpy (got, l->digest, sizeof got);
      else
        {
          fd = moat_store_open_blob (src->s, l->digest, err);
          if (fd < 0 || moat_layer_diff_id (fd, src->lim, got, err) < 0)
            return moat_error_wrap (err, "layer %zu (`%s`)", i, l->digest);
        }
      if (strcmp (got, c->diff_ids[i]) != 0)
        return moat_err (err, 0, "layer %zu: uncompressed digest `%s` differs from config diff_id `%s`", i, got, c->diff_ids[i]);
    }
  return 0;
}

static bool
name_refers (json_t *names, const char *digest)
{
  const char *k;
  json_t *v;

  json_object_foreach (names, k, v)
    if (json_is_string (v) && strcmp (json_string_value (v), digest) == 0)
      return true;
  return false;
}

/* Verify one image manifest and everything it references. */
static int
import_manifest (struct src *src, json_t *names, const struct moat_desc *d, struct moat_error *err)
{
  cleanup_free char *mbuf = NULL, *cbuf = NULL;
  struct moat_manifest m = { 0 };
  struct moat_config c = { 0 };
  size_t mlen, clen, i;
  int ret = -1;

  if (d->size > MOAT_MAX_MANIFEST)
    return moat_err (err, EFBIG, "manifest `%s`: %lld bytes (at most %u)", d->digest, (long long) d->size, MOAT_MAX_MANIFEST);
  if (ensure_blob (src, d, err) < 0)
    return -1;
  if (moat_store_read_blob (src->s, d->digest, MOAT_MAX_MANIFEST, &mbuf, &mlen, err) < 0
      || moat_parse_manifest (mbuf, mlen, d->media_type, &m, err) < 0)
    return moat_error_wrap (err, "manifest `%s`", d->digest);
  /* Already loaded and verified under some name: nothing to do. */
  if (name_refers (names, d->digest))
    {
      json_object_set_new (src->refs, m.config.digest, json_true ());
      for (i = 0; i < m.n_layers; i++)
        json_object_set_new (src->refs, m.layers[i].digest, json_true ());
      moat_manifest_free (&m);
      return 0;
    }
  if (m.config.size > MOAT_MAX_ARCHIVE_JSON)
    {
      moat_err (err, EFBIG, "config: %lld bytes", (long long) m.config.size);
      goto out;
    }
  if (ensure_blob (src, &m.config, err) < 0
      || moat_store_read_blob (src->s, m.config.digest, MOAT_MAX_ARCHIVE_JSON, &cbuf, &clen, err) < 0
      || moat_parse_config (cbuf, clen, m.n_layers, &c, err) < 0)
    {
      moat_error_wrap (err, "config `%s`", m.config.digest);
      goto out;
    }
  if (check_layers (src, &m, &c, err) < 0)
    goto out;
  ret = 0;
out:
  moat_manifest_free (&m);
  moat_config_free (&c);
  return ret;
}

/* "busybox" -> "busybox:latest"; a name is a reference, not a path. */
static int
normalize_name (const char *in, char *out, size_t size, struct moat_error *err)
{
  const char *slash = strrchr (in, '/');
  size_t n = strlen (in);

  if (n == 0 || n > 255 || strspn (in, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-/:@") != n
      || in[0] == '/' || in[0] == '.' || in[0] == '-' || strstr (in, "..") || strncmp (in, "sha256:", 7) == 0)
    return moat_err (err, EINVAL, "image name `%s`: invalid", in);
  snprintf (out, size, "%s%s", in, strchr (slash ? slash : in, ':') ? "" : ":latest");
  return 0;
}

static int
add_name (json_t *pending, const char *name, const char *digest, struct moat_error *err)
{
  char norm[300];

  if (normalize_name (name, norm, sizeof norm, err) < 0)
    return -1;
  json_object_set_new (pending, norm, json_string (digest));
  return 0;
}

static int
load_oci (struct src *src, json_t *names, const char *text, const char *name, json_t *pending, struct moat_error *err)
{
  json_error_t jerr;
  json_t *doc = json_loads (text, JSON_REJECT_DUPLICATES, &jerr), *ms, *e;
  size_t i;
  int ret = -1;

  if (!json_is_object (doc))
    {
      moat_err (err, 0, "index.json: invalid JSON: %s", jerr.text);
      goto out;
    }
  ms = json_object_get (doc, "manifests");
  /* The layout's index.json is itself an index: never a manifest
     (CVE-2021-41190). */
  if (!json_is_array (ms) || json_object_get (doc, "layers") || json_object_get (doc, "config"))
    {
      moat_err (err, 0, "index.json: not an image index");
      goto out;
    }
  if (name && json_array_size (ms) != 1)
    {
      moat_err (err, EINVAL, "--name: the layout holds %zu images, not 1", json_array_size (ms));
      goto out;
    }
  json_array_foreach (ms, i, e)
    {
      struct moat_desc d, md;
      json_t *ann = json_object_get (e, "annotations");
      const char *ref = json_string_value (json_object_get (ann, "io.containerd.image.name"));
      char where[64];

      if (ref == NULL)
        ref = json_string_value (json_object_get (ann, "org.opencontainers.image.ref.name"));
      snprintf (where, sizeof where, "index.json manifests[%zu]", i);
      if (moat_parse_desc (e, where, &d, err) < 0)
        goto out;
      md = d;
      if (strcmp (d.media_type, MT_OCI_INDEX) == 0 || strcmp (d.media_type, MT_DOCKER_LIST) == 0)
        {
          cleanup_free char *buf = NULL;
          size_t len;

          if (d.size > MOAT_MAX_MANIFEST)
            {
              moat_err (err, EFBIG, "%s: index of %lld bytes", where, (long long) d.size);
              goto out;
            }
          if (ensure_blob (src, &d, err) < 0
              || moat_store_read_blob (src->s, d.digest, MOAT_MAX_MANIFEST, &buf, &len, err) < 0
              || moat_parse_index_pick (buf, len, d.media_type, &md, err) < 0)
            {
              moat_error_wrap (err, "%s", where);
              goto out;
            }
        }
      if (import_manifest (src, names, &md, err) < 0)
        {
          moat_error_wrap (err, "%s", where);
          goto out;
        }
      if (name == NULL && (ref == NULL || (!strchr (ref, '/') && !strchr (ref, ':'))))
        {
          /* A bare tag ("latest") names no repository. */
          moat_err (err, EINVAL, "%s: no image name in the layout (ref `%s`); give one with --name", where, ref ? ref : "");
          goto out;
        }
      if (add_name (pending, name ? name : ref, md.digest, err) < 0)
        goto out;
    }
  ret = 0;
out:
  json_decref (doc);
  return ret;
}

static const char *
member_digest (struct src *src, const char *member)
{
  char clean[4096];
  const char *t;
  int hops;

  if (member == NULL || moat_clean_entry_name (member, clean, sizeof clean, NULL) < 0)
    return NULL;
  for (hops = 0; hops < 8 && (t = json_string_value (json_object_get (src->links, clean))); hops++)
    snprintf (clean, sizeof clean, "%s", t);
  return json_string_value (json_object_get (src->files, clean));
}

static const char *
sniff_layer_type (struct src *src, const char *digest)
{
  unsigned char m[4] = { 0 };
  cleanup_fd int fd = moat_store_open_blob (src->s, digest, NULL);

  if (fd >= 0 && read (fd, m, sizeof m) == (ssize_t) sizeof m)
    {
      if (m[0] == 0x1f && m[1] == 0x8b)
        return MT_OCI_LAYER_GZ;
      if (m[0] == 0x28 && m[1] == 0xb5 && m[2] == 0x2f && m[3] == 0xfd)
        return MT_OCI_LAYER_ZST;
    }
  return MT_OCI_LAYER;
}

/* One manifest.json entry -> an OCI manifest blob. */
static int
docker_manifest (struct src *src, json_t *ent, size_t i, struct moat_desc *out, struct moat_error *err)
{
  const char *cfg = member_digest (src, json_string_value (json_object_get (ent, "Config")));
  json_t *ls = json_object_get (ent, "Layers"), *l, *layers = json_array (), *m;
  cleanup_free char *text = NULL;
  size_t j;
  int64_t size;
  bool added;

  if (cfg == NULL || !moat_store_has_blob (src->s, cfg, &size))
    return moat_err (err, ENOENT, "manifest.json[%zu].Config: missing from the archive", i);
  if (!json_is_array (ls))
    return moat_err (err, 0, "manifest.json[%zu].Layers: not an array", i);
  json_array_foreach (ls, j, l)
    {
      const char *dg = member_digest (src, json_string_value (l));
      int64_t lsize;

      if (dg == NULL || !moat_store_has_blob (src->s, dg, &lsize))
        {
          json_decref (layers);
          return moat_err (err, ENOENT, "manifest.json[%zu].Layers[%zu]: missing from the archive", i, j);
        }
      json_array_append_new (layers, json_pack ("{s:s,s:s,s:I}", "mediaType", sniff_layer_type (src, dg),
                                                "digest", dg, "size", (json_int_t) lsize));
    }
  m = json_pack ("{s:i,s:s,s:{s:s,s:s,s:I},s:o}", "schemaVersion", 2, "mediaType", MT_OCI_MANIFEST, "config",
                 "mediaType", MT_OCI_CONFIG, "digest", cfg, "size", (json_int_t) size, "layers", layers);
  text = m ? json_dumps (m, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
  json_decref (m);
  if (text == NULL)
    return moat_err (err, ENOMEM, "manifest");
  if (moat_store_put_buf (src->s, text, strlen (text), out->digest, &added, err) < 0)
    return -1;
  if (added)
    json_object_set_new (src->added, out->digest, json_true ());
  snprintf (out->media_type, sizeof out->media_type, "%s", MT_OCI_MANIFEST);
  out->size = (int64_t) strlen (text);
  return 0;
}

static int
load_docker (struct src *src, json_t *names, const char *text, const char *name, json_t *pending, struct moat_error *err)
{
  json_error_t jerr;
  json_t *doc = json_loads (text, JSON_REJECT_DUPLICATES, &jerr), *ent, *tags, *t;
  size_t i, j;
  int ret = -1;

  if (!json_is_array (doc) || json_array_size (doc) == 0)
    {
      moat_err (err, 0, "manifest.json: not a docker-archive manifest list");
      goto out;
    }
  if (name && json_array_size (doc) != 1)
    {
      moat_err (err, EINVAL, "--name: the archive holds %zu images, not 1", json_array_size (doc));
      goto out;
    }
  json_array_foreach (doc, i, ent)
    {
      struct moat_desc d;

      if (docker_manifest (src, ent, i, &d, err) < 0 || import_manifest (src, names, &d, err) < 0)
        {
          moat_error_wrap (err, "manifest.json[%zu]", i);
          goto out;
        }
      tags = json_object_get (ent, "RepoTags");
      if (name)
        {
          if (add_name (pending, name, d.digest, err) < 0)
            goto out;
          continue;
        }
      if (json_array_size (tags) == 0)
        {
          moat_err (err, EINVAL, "manifest.json[%zu]: no RepoTags; give a name with --name", i);
          goto out;
        }
      json_array_foreach (tags, j, t)
        if (!json_is_string (t) || add_name (pending, json_string_value (t), d.digest, err) < 0)
          {
            moat_error_wrap (err, "manifest.json[%zu].RepoTags[%zu]", i, j);
            goto out;
          }
    }
  ret = 0;
out:
  json_decref (doc);
  return ret;
}

/* Documents of a layout dir are opened beneath it (a symlinked index.json
 * cannot make us read a host file) and read with a size cap. */
static int
read_layout_dir (struct src *src, const char *path, struct moat_error *err)
{
  static const char *docs[] = { "oci-layout", "index.json" };
  size_t i;

  for (i = 0; i < MOAT_ARRAY_SIZE (docs); i++)
    {
      cleanup_free char *buf = malloc (MOAT_MAX_ARCHIVE_JSON + 1);
      cleanup_fd int fd = moat_open_in_root (src->dirfd, docs[i], O_RDONLY, 0, err);
      size_t len = 0;
      ssize_t n = 0;

      if (fd < 0)
        return moat_error_wrap (err, "`%s` is not an OCI image layout", path);
      if (buf == NULL)
        return moat_err (err, ENOMEM, "`%s`", docs[i]);
      while (len <= MOAT_MAX_ARCHIVE_JSON && (n = read (fd, buf + len, MOAT_MAX_ARCHIVE_JSON + 1 - len)) > 0)
        len += (size_t) n;
      if (n < 0)
        return moat_err (err, errno, "read `%s/%s`", path, docs[i]);
      if (len > MOAT_MAX_ARCHIVE_JSON)
        return moat_err (err, EFBIG, "`%s/%s`: larger than %u bytes", path, docs[i], MOAT_MAX_ARCHIVE_JSON);
      json_object_set_new (src->mem, docs[i], json_stringn_nocheck (buf, len));
    }
  return 0;
}

static int
load_into (struct src *src, const char *path, const char *name, json_t *names, json_t *pending, struct moat_error *err)
{
  struct stat st;
  const char *index, *manifest, *layout;

  if (stat (path, &st) < 0)
    return moat_err (err, errno, "`%s`", path);
  if (S_ISDIR (st.st_mode))
    {
      src->dirfd = open (path, O_PATH | O_DIRECTORY | O_CLOEXEC);
      if (src->dirfd < 0)
        return moat_err (err, errno, "open `%s`", path);
      if (read_layout_dir (src, path, err) < 0)
        return -1;
    }
  else if (scan_archive (src, path, err) < 0)
    return -1;
  index = json_string_value (json_object_get (src->mem, "index.json"));
  layout = json_string_value (json_object_get (src->mem, "oci-layout"));
  manifest = json_string_value (json_object_get (src->mem, "manifest.json"));
  if (index && layout)
    {
      json_t *l = json_loads (layout, 0, NULL);
      bool ok = json_is_string (json_object_get (l, "imageLayoutVersion"));

      json_decref (l);
      if (!ok)
        return moat_err (err, 0, "oci-layout: no imageLayoutVersion");
      return load_oci (src, names, index, name, pending, err);
    }
  if (manifest)
    return load_docker (src, names, manifest, name, pending, err);
  return moat_err (err, 0, "`%s`: not an OCI layout, oci-archive or docker-archive (no index.json + oci-layout, no manifest.json)", path);
}

typedef int (*load_fn) (struct src *src, json_t *names, json_t *pending, const void *arg, struct moat_error *err);

/* The common frame of `image load` and `pull`: FN verifies images and fills
 * PENDING (name -> manifest digest); names are written only after all of it
 * succeeded.  ADDED lists blobs already put into the store for this run. */
static int
run_load (struct moat_store *s, const struct moat_limits *lim, json_t *added, load_fn fn, const void *arg,
          json_t *report, struct moat_error *err)
{
  struct src src = { .s = s, .lim = lim, .dirfd = -1, .files = json_object (), .links = json_object (),
                     .mem = json_object (), .added = json_object (), .refs = json_object () };
  json_t *names = NULL, *pending = json_object (), *imgs = json_array (), *v;
  const char *k;
  int ret = -1;

  if (added)
    json_object_update (src.added, added);
  json_object_set_new (report, "images", imgs);
  if (moat_store_load_names (s, &names, err) < 0)
    goto out;
  if (fn (&src, names, pending, arg, err) < 0)
    goto out;
  json_object_foreach (pending, k, v)
    {
      const char *old = json_string_value (json_object_get (names, k));
      json_array_append_new (imgs, json_pack ("{s:s,s:O,s:b}", "name", k, "digest", v,
                                              "changed", old == NULL || strcmp (old, json_string_value (v)) != 0));
    }
  if (json_object_update (names, pending) < 0 || moat_store_save_names (s, names, err) < 0)
    goto out;
  ret = 0;
out:
  /* Blobs this load added that no loaded image references (docker-archive
     side files, or everything after a failure) are removed again. */
  json_object_foreach (src.added, k, v)
    if (ret < 0 || !json_object_get (src.refs, k))
      moat_store_remove_blob (s, k);
  if (src.dirfd >= 0)
    close (src.dirfd);
  json_decref (names);
  json_decref (pending);
  json_decref (src.files);
  json_decref (src.links);
  json_decref (src.mem);
  json_decref (src.added);
  json_decref (src.refs);
  return ret;
}

struct load_arg
{
  const char *path, *name;
};

static int
load_path_fn (struct src *src, json_t *names, json_t *pending, const void *arg, struct moat_error *err)
{
  const struct load_arg *a = arg;

  return load_into (src, a->path, a->name, names, pending, err);
}

int
moat_image_load (struct moat_store *s, const char *path, const char *name, const struct moat_limits *lim,
                 json_t *report, struct moat_error *err)
{
  struct load_arg a = { .path = path, .name = name };

  return run_load (s, lim, NULL, load_path_fn, &a, report, err);
}

struct commit_arg
{
  const struct moat_desc *d;
  const char *name;
};

static int
commit_fn (struct src *src, json_t *names, json_t *pending, const void *arg, struct moat_error *err)
{
  const struct commit_arg *a = arg;

  if (import_manifest (src, names, a->d, err) < 0)
    return -1;
  return add_name (pending, a->name, a->d->digest, err);
}

int
moat_image_commit (struct moat_store *s, const struct moat_desc *d, const char *name, const struct moat_limits *lim,
                   json_t *added, json_t *report, struct moat_error *err)
{
  struct commit_arg a = { .d = d, .name = name };

  return run_load (s, lim, added, commit_fn, &a, report, err);
}
