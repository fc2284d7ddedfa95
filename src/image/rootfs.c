/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "image/image.h"
#include "util/cleanup.h"
#include "util/fs.h"

/* rootfs/<manifest-hex> is unpacked once and shared read-only; the variants
 * made with --defang or --allow-devices hold different trees and so live
 * under their own suffixed names. */
static void
rootfs_name (const char *digest, const struct moat_limits *lim, char *buf, size_t size)
{
  snprintf (buf, size, "%s%s%s", digest + 7, lim->defang ? ".defang" : "", lim->allow_devices ? ".devices" : "");
}

static int
read_manifest (struct moat_store *s, const char *digest, struct moat_manifest *m, struct moat_error *err)
{
  cleanup_free char *buf = NULL;
  json_t *doc, *mt;
  size_t len;
  int r;

  if (moat_store_read_blob (s, digest, MOAT_MAX_MANIFEST, &buf, &len, err) < 0)
    return -1;
  /* The stored manifest was typed by its descriptor when it was loaded;
     both types moat accepts share one structure. */
  doc = json_loadb (buf, len, 0, NULL);
  mt = json_object_get (doc, "mediaType");
  r = moat_parse_manifest (buf, len, json_is_string (mt) ? json_string_value (mt) : MT_OCI_MANIFEST, m, err);
  json_decref (doc);
  return r;
}

/* The kernel's id of this boot: a tree unpacked in this boot is whole in
   the page cache whether or not it reached the disk yet. */
static const char *
boot_id (char *buf, size_t size)
{
  cleanup_fd int fd = open ("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
  ssize_t n = fd >= 0 ? read (fd, buf, size - 1) : -1;

  if (n <= 0)
    n = 0;
  buf[n] = '\0';
  buf[strcspn (buf, "\n")] = '\0';
  return buf;
}

/* Durability without making the unpack wait for the disk (`tar -x` does
 * not either): the tree is renamed into place unsynced, with the boot id in
 * its <name>.json; a detached child then syncs the filesystem and writes
 * <name>.synced.  A tree is trusted when it is synced, or was unpacked in
 * this boot (no crash can have torn it without a reboot); any other (a
 * crash before the sync reached the disk) is unpacked again.  Trees from
 * before this scheme have no bootId: they were synced before the rename. */
static bool
tree_trusted (struct moat_store *s, const char *name)
{
  char file[160], boot[64];
  cleanup_free char *text = NULL;
  json_t *j, *b;
  size_t len;
  bool ok;

  snprintf (file, sizeof file, "rootfs/%s.synced", name);
  if (faccessat (s->dirfd, file, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
    return true;
  snprintf (file, sizeof file, "rootfs/%s.json", name);
  if (moat_read_file_at (s->dirfd, file, 1 << 16, &text, &len, NULL) < 0)
    return false;
  j = json_loadb (text, len, 0, NULL);
  b = json_object_get (j, "bootId");
  ok = j && (b == NULL || (json_is_string (b) && *json_string_value (b)
                           && strcmp (json_string_value (b), boot_id (boot, sizeof boot)) == 0));
  json_decref (j);
  return ok;
}

/* Sync the store's filesystem in a detached grandchild, then mark NAME
   synced.  It holds no fd of ours but the store's: whoever waits for our
   stdout to close does not wait for the disk. */
static void
sync_in_background (struct moat_store *s, const char *name)
{
  pid_t pid = fork ();
  char file[160];

  if (pid < 0)
    return;
  if (pid > 0)
    {
      waitpid (pid, NULL, 0);
      return;
    }
  if (fork () != 0)
    _exit (0);
  setsid ();
  if (dup2 (s->dirfd, 3) < 0)
    _exit (1);
  close_range (4, ~0U, 0);
  {
    int null = open ("/dev/null", O_RDWR);
    if (null >= 0)
      {
        dup2 (null, 0);
        dup2 (null, 1);
        dup2 (null, 2);
        if (null > 3)
          close (null);
      }
  }
  snprintf (file, sizeof file, "rootfs/%s.synced", name);
  /* syncfs needs an fd opened for reading, not the store's O_PATH one. */
  if (syncfs (openat (3, "rootfs", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == 0)
    {
      int fd = openat (3, file, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
      if (fd >= 0 && fsync (fd) == 0)
        moat_fsync_dir (3, "rootfs");
    }
  _exit (0);
}

static int
write_stats (struct moat_store *s, const char *name, const struct moat_unpack_stats *st, const struct moat_limits *lim,
             struct moat_error *err)
{
  char file[160];
  cleanup_free char *text = NULL;
  char boot[64];
  json_t *j = json_pack ("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:b,s:b,s:s}", "entries", (json_int_t) st->entries,
                         "bytes", (json_int_t) st->bytes, "setuid", (json_int_t) st->setuid,
                         "setgid", (json_int_t) st->setgid, "devicesSkipped", (json_int_t) st->devices_skipped,
                         "xattrsDropped", (json_int_t) st->xattrs_dropped, "whiteouts", (json_int_t) st->whiteouts,
                         "defang", lim->defang, "allowDevices", lim->allow_devices, "bootId",
                         boot_id (boot, sizeof boot));
  cleanup_fd int dfd = openat (s->dirfd, "rootfs", O_PATH | O_DIRECTORY | O_CLOEXEC);

  text = j ? json_dumps (j, JSON_COMPACT) : NULL;
  json_decref (j);
  if (text == NULL)
    return moat_err (err, ENOMEM, "unpack stats");
  snprintf (file, sizeof file, "%s.json", name);
  return moat_write_file_atomic (dfd, file, text, strlen (text), 0600, err);
}

int
moat_image_unpack (struct moat_store *s, const char *digest, const struct moat_limits *lim, char **path,
                   struct moat_error *err)
{
  char name[128], tmp[160], rel[200], rel2[200];
  struct moat_manifest m = { 0 };
  struct moat_unpack_stats st = { 0 };
  cleanup_fd int rootfd = -1;
  struct stat sb;
  uint64_t image_bytes = 0;
  struct timespec t0;
  size_t i;
  int ret = -1;

  rootfs_name (digest, lim, name, sizeof name);
  snprintf (rel, sizeof rel, "rootfs/%s", name);
  if (fstatat (s->dirfd, rel, &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR (sb.st_mode))
    {
      if (tree_trusted (s, name))
        goto done;
      /* Unpacked before a crash that came before its sync: maybe torn. */
      moat_rm_rf_at (s->dirfd, rel, NULL);
    }
  if (read_manifest (s, digest, &m, err) < 0)
    return moat_error_wrap (err, "manifest `%s`", digest);
  /* Unpack beside the final name and rename: a tree that is there is
     complete; a crash leaves only a .tmp-* that prune removes. */
  snprintf (tmp, sizeof tmp, "rootfs/.tmp-%s-%d", name, getpid ());
  moat_rm_rf_at (s->dirfd, tmp, NULL);
  if (mkdirat (s->dirfd, tmp, 0755) < 0)
    {
      moat_err (err, errno, "mkdir `%s/%s`", s->path, tmp);
      goto out;
    }
  rootfd = openat (s->dirfd, tmp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (rootfd < 0)
    {
      moat_err (err, errno, "open `%s/%s`", s->path, tmp);
      goto fail;
    }
  clock_gettime (CLOCK_MONOTONIC, &t0);
  for (i = 0; i < m.n_layers; i++)
    {
      cleanup_fd int lfd = moat_store_open_blob (s, m.layers[i].digest, err);
      if (lfd < 0 || moat_unpack_layer (rootfd, lfd, m.layers[i].digest, lim, &image_bytes, &st, err) < 0)
        {
          moat_error_wrap (err, "layer %zu (`%s`)", i, m.layers[i].digest);
          goto fail;
        }
      /* Progress on a terminal only: layer n/m, bytes written, rate. */
      if (isatty (2))
        {
          struct timespec now;
          double el;
          clock_gettime (CLOCK_MONOTONIC, &now);
          el = (double) (now.tv_sec - t0.tv_sec) + (double) (now.tv_nsec - t0.tv_nsec) / 1e9;
          fprintf (stderr, "\runpacked layer %zu/%zu: %.1f MiB, %.1f MiB/s%s", i + 1, m.n_layers,
                   (double) image_bytes / 1048576.0, el > 0 ? (double) image_bytes / 1048576.0 / el : 0.0,
                   i + 1 == m.n_layers ? "\n" : "   ");
        }
    }
  if (write_stats (s, name, &st, lim, err) < 0)
    goto fail;
  snprintf (rel2, sizeof rel2, "rootfs/%s.synced", name);
  unlinkat (s->dirfd, rel2, 0);
  if (renameat (s->dirfd, tmp, s->dirfd, rel) < 0)
    {
      moat_err (err, errno, "rename `%s` to `%s`", tmp, rel);
      goto fail;
    }
  /* /var/lib is durable storage: see tree_trusted. */
  sync_in_background (s, name);
  moat_manifest_free (&m);
done:
  if (asprintf (path, "%s/%s", s->path, rel) < 0)
    return moat_err (err, ENOMEM, "path");
  return 0;
fail:
  /* On any error the partial tree (and its report) goes away. */
  moat_rm_rf_at (s->dirfd, tmp, NULL);
  snprintf (rel, sizeof rel, "rootfs/%s.json", name);
  unlinkat (s->dirfd, rel, 0);
out:
  moat_manifest_free (&m);
  return ret;
}
