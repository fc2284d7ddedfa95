/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/image.h"
#include "util/cleanup.h"
#include "util/fs.h"

/* fsck and prune: the two whole-store walks. */

static int
hash_fd (int fd, char *out, struct moat_error *err)
{
  static char buf[1 << 20];
  struct moat_sha256 *h = moat_sha256_new ();
  ssize_t n;

  if (h == NULL)
    return moat_err (err, ENOMEM, "sha256");
  while ((n = read (fd, buf, sizeof buf)) > 0)
    moat_sha256_update (h, buf, (size_t) n);
  if (n < 0)
    {
      moat_sha256_free (h);
      return moat_err (err, errno, "read");
    }
  moat_sha256_final (h, out);
  return 0;
}

int
moat_store_fsck (struct moat_store *s, json_t *report, struct moat_error *err)
{
  cleanup_fd int dfd = openat (s->dirfd, "blobs/sha256", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  cleanup_dir DIR *d = NULL;
  json_t *bad = json_array (), *names = NULL, *v;
  struct dirent *de;
  const char *k;
  long checked = 0;
  char want[MOAT_DIGEST_STR], got[MOAT_DIGEST_STR];

  json_object_set_new (report, "corrupt", bad);
  if (dfd < 0 || (d = fdopendir (dfd)) == NULL)
    return moat_err (err, errno, "open `%s/blobs/sha256`", s->path);
  dfd = -1;
  while ((de = readdir (d)) != NULL)
    {
      cleanup_fd int fd = -1;

      if (de->d_name[0] == '.')
        continue;
      snprintf (want, sizeof want, "sha256:%.64s", de->d_name);
      if (strlen (de->d_name) != MOAT_DIGEST_HEX)
        want[0] = '\0';
      fd = openat (dirfd (d), de->d_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
      if (!moat_digest_valid (want) || fd < 0)
        {
          json_array_append_new (bad, json_pack ("{s:s,s:s}", "blob", de->d_name, "error", "not a readable sha256 blob"));
          continue;
        }
      if (hash_fd (fd, got, err) < 0)
        return moat_error_wrap (err, "blob `%s`", want);
      checked++;
      if (strcmp (want, got) != 0)
        json_array_append_new (bad, json_pack ("{s:s,s:s}", "blob", want, "error", "content digest differs"));
    }
  json_object_set_new (report, "checked", json_integer (checked));
  /* Every name must point at a manifest that is present. */
  if (moat_store_load_names (s, &names, err) < 0)
    return -1;
  json_object_foreach (names, k, v)
    if (!moat_store_has_blob (s, json_string_value (v), NULL))
      json_array_append_new (bad, json_pack ("{s:s,s:s}", "blob", json_string_value (v), "error", "manifest missing"));
  json_decref (names);
  return 0;
}

/* Collect every blob reachable from NAMES into REFS (a JSON object used as a
 * set).  A manifest that cannot be read keeps just itself. */
static void
collect_refs (struct moat_store *s, json_t *names, json_t *refs)
{
  const char *k;
  json_t *v;

  json_object_foreach (names, k, v)
    {
      cleanup_free char *buf = NULL;
      struct moat_manifest m;
      struct moat_error e = { 0 };
      const char *dg = json_string_value (v);
      json_t *doc;
      size_t len, i;

      if (dg == NULL)
        continue;
      json_object_set_new (refs, dg, json_true ());
      if (moat_store_read_blob (s, dg, MOAT_MAX_MANIFEST, &buf, &len, &e) < 0)
        continue;
      doc = json_loadb (buf, len, 0, NULL);
      if (json_is_string (json_object_get (doc, "mediaType"))
          && moat_parse_manifest (buf, len, json_string_value (json_object_get (doc, "mediaType")), &m, &e) == 0)
        {
          json_object_set_new (refs, m.config.digest, json_true ());
          for (i = 0; i < m.n_layers; i++)
            json_object_set_new (refs, m.layers[i].digest, json_true ());
          moat_manifest_free (&m);
        }
      json_decref (doc);
    }
}

static int
prune_dir (struct moat_store *s, const char *dir, json_t *refs, json_t *removed, bool rootfs, struct moat_error *err)
{
  cleanup_fd int dfd = openat (s->dirfd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  cleanup_dir DIR *d = NULL;
  struct dirent *de;
  char dg[MOAT_DIGEST_STR + 16];

  if (dfd < 0 || (d = fdopendir (dfd)) == NULL)
    return moat_err (err, errno, "open `%s/%s`", s->path, dir);
  dfd = -1;
  while ((de = readdir (d)) != NULL)
    {
      if (strcmp (de->d_name, ".") == 0 || strcmp (de->d_name, "..") == 0)
        continue;
      /* rootfs/<hex>[.suffix][.json]: the manifest is the first 64 chars. */
      snprintf (dg, sizeof dg, "sha256:%.64s", de->d_name);
      if (!rootfs && strcmp (dir, "tmp") != 0 && json_object_get (refs, dg))
        continue;
      if (rootfs && json_object_get (refs, dg) && strncmp (de->d_name, ".tmp", 4) != 0)
        continue;
      if (moat_rm_rf_at (dirfd (d), de->d_name, err) < 0)
        return -1;
      json_array_append_new (removed, json_sprintf ("%s/%s", dir, de->d_name));
    }
  return 0;
}

int
moat_store_prune (struct moat_store *s, json_t *report, struct moat_error *err)
{
  json_t *names = NULL, *refs = json_object (), *removed = json_array ();
  int r = -1;

  json_object_set_new (report, "removed", removed);
  if (moat_store_load_names (s, &names, err) < 0)
    goto out;
  collect_refs (s, names, refs);
  if (prune_dir (s, "blobs/sha256", refs, removed, false, err) < 0
      || prune_dir (s, "rootfs", refs, removed, true, err) < 0
      || prune_dir (s, "tmp", refs, removed, false, err) < 0)
    goto out;
  moat_fsync_dir (s->dirfd, "blobs/sha256");
  r = 0;
out:
  json_decref (names);
  json_decref (refs);
  return r;
}
