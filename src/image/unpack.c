/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
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

/* Safe layer unpack.  libarchive only READS the layer; every write is an
 * *at() call beneath a parent fd that was resolved inside the rootfs
 * (moat_mkdir_all_in_root: O_NOFOLLOW walk, symlinks re-resolved with
 * openat2 RESOLVE_IN_ROOT), and the last component is never followed
 * (O_CREAT|O_EXCL|O_NOFOLLOW, symlinkat, mkdirat, linkat without
 * AT_SYMLINK_FOLLOW).  This is the fix class of CVE-2014-6407 (tar breakout
 * through symlinks and hardlinks) and CVE-2021-29136 ("." turned into a
 * symlink). */

/* ---- a string set: the paths this layer created (whiteouts and opaque
 * dirs apply to lower layers only, image-spec layer.md) ---- */
struct strset
{
  char **slots;
  size_t cap, n;
};

static uint64_t
fnv (const char *s)
{
  uint64_t h = 1469598103934665603ULL;

  for (; *s; s++)
    h = (h ^ (unsigned char) *s) * 1099511628211ULL;
  return h;
}

static bool
strset_has (struct strset *s, const char *k)
{
  size_t i;

  if (s->cap == 0)
    return false;
  for (i = fnv (k) & (s->cap - 1); s->slots[i]; i = (i + 1) & (s->cap - 1))
    if (strcmp (s->slots[i], k) == 0)
      return true;
  return false;
}

static int
strset_add (struct strset *s, const char *k)
{
  size_t i;

  if (strset_has (s, k))
    return 0;
  if ((s->n + 1) * 2 > s->cap)
    {
      struct strset g = { calloc (s->cap ? s->cap * 2 : 1024, sizeof (char *)), s->cap ? s->cap * 2 : 1024, 0 };
      if (g.slots == NULL)
        return -1;
      for (i = 0; i < s->cap; i++)
        if (s->slots[i])
          {
            size_t j = fnv (s->slots[i]) & (g.cap - 1);
            while (g.slots[j])
              j = (j + 1) & (g.cap - 1);
            g.slots[j] = s->slots[i];
          }
      g.n = s->n;
      free (s->slots);
      *s = g;
    }
  for (i = fnv (k) & (s->cap - 1); s->slots[i]; i = (i + 1) & (s->cap - 1))
    ;
  s->slots[i] = strdup (k);
  if (s->slots[i] == NULL)
    return -1;
  s->n++;
  return 0;
}

static void
strset_free (struct strset *s)
{
  size_t i;

  for (i = 0; i < s->cap; i++)
    free (s->slots[i]);
  free (s->slots);
  memset (s, 0, sizeof *s);
}

int
moat_clean_entry_name (const char *in, char *out, size_t size, struct moat_error *err)
{
  size_t o = 0;
  const char *p = in;

  while (*p)
    {
      const char *e = strchr (p, '/');
      size_t n = e ? (size_t) (e - p) : strlen (p);

      if (n == 2 && p[0] == '.' && p[1] == '.')
        return moat_err (err, EINVAL, "entry `%s`: `..` would leave the root", in);
      if (n > 0 && !(n == 1 && p[0] == '.'))
        {
          if (o + n + 2 > size)
            return moat_err (err, ENAMETOOLONG, "entry `%.64s...`: path too long", in);
          if (o > 0)
            out[o++] = '/';
          memcpy (out + o, p, n);
          o += n;
        }
      p += n;
      while (*p == '/')
        p++;
    }
  out[o] = '\0';
  return 0;
}

struct unpack
{
  int rootfd;
  struct archive *a;
  struct moat_layer_stream *in;
  const struct moat_limits *lim;
  struct moat_unpack_stats *st;
  uint64_t *image_bytes;
  uint64_t layer_bytes;
  struct strset made;
  char cached_parent[4096];
  int cached_fd;
};

/* Called after a directory may have been removed or replaced: the next
 * entry re-resolves its parent.  The fd stays open because the current entry
 * may still be using it as its parent. */
static void
invalidate_parent (struct unpack *u)
{
  u->cached_parent[0] = '\001';
  u->cached_parent[1] = '\0';
}

static void
drop_parent (struct unpack *u)
{
  if (u->cached_fd >= 0)
    close (u->cached_fd);
  u->cached_fd = -1;
}

/* The parent directory of an entry, created if missing; consecutive entries
 * of one directory (the common tar order) reuse the same fd. */
static int
get_parent (struct unpack *u, const char *parent, struct moat_error *err)
{
  int fd;

  if (u->cached_fd >= 0 && strcmp (parent, u->cached_parent) == 0)
    return u->cached_fd;
  fd = moat_mkdir_all_in_root (u->rootfd, *parent ? parent : ".", 0755, err);
  if (fd < 0)
    return -1;
  drop_parent (u);
  u->cached_fd = fd;
  snprintf (u->cached_parent, sizeof u->cached_parent, "%s", parent);
  return fd;
}

static int
check_limits (struct unpack *u, struct moat_error *err)
{
  uint64_t unc = (uint64_t) archive_filter_bytes (u->a, 0), raw = moat_layer_stream_raw_bytes (u->in);
  const struct moat_limits *l = u->lim;

  if (unc < u->layer_bytes)
    unc = u->layer_bytes;
  if (unc > l->max_layer_bytes)
    return moat_err (err, EFBIG, "layer is larger than %llu bytes uncompressed (raise with --max-layer-size)",
                     (unsigned long long) l->max_layer_bytes);
  if (*u->image_bytes + u->layer_bytes > l->max_image_bytes)
    return moat_err (err, EFBIG, "image is larger than %llu bytes uncompressed (raise with --max-image-size)",
                     (unsigned long long) l->max_image_bytes);
  /* Checked while writing, so a gzip bomb of zeros stops after a few MiB
     instead of filling the disk. */
  if (unc > l->ratio_floor && unc / (raw ? raw : 1) > l->max_ratio)
    return moat_err (err, EFBIG, "compression ratio above %llu:1 (a decompression bomb? raise with --max-ratio)",
                     (unsigned long long) l->max_ratio);
  return 0;
}

/* Make room for a new entry BASE in PFD: an existing directory is kept when
 * a directory is wanted (only its attributes change, layer.md), anything
 * else is removed without following it. */
static int
clear_slot (struct unpack *u, int pfd, const char *base, bool want_dir, bool *is_dir, struct moat_error *err)
{
  struct stat st;

  *is_dir = false;
  if (fstatat (pfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
    return errno == ENOENT ? 0 : moat_err (err, errno, "stat `%s`", base);
  if (S_ISDIR (st.st_mode))
    {
      if (want_dir)
        {
          *is_dir = true;
          return 0;
        }
      invalidate_parent (u);
      return moat_rm_rf_at (pfd, base, err);
    }
  if (unlinkat (pfd, base, 0) < 0 && errno != ENOENT)
    return moat_err (err, errno, "unlink `%s`", base);
  return 0;
}

static mode_t
entry_mode (struct unpack *u, struct archive_entry *e, bool regular)
{
  mode_t m = archive_entry_perm (e) & 07777;

  if (regular && (m & S_ISUID))
    u->st->setuid++;
  if (regular && (m & S_ISGID) && (m & S_IXGRP))
    u->st->setgid++;
  if (u->lim->defang)
    m &= (mode_t) ~(S_ISUID | S_ISGID);
  return m;
}

static int
write_file (struct unpack *u, int pfd, const char *base, struct archive_entry *e, struct moat_error *err)
{
  cleanup_fd int fd = openat (pfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  const void *buf;
  size_t len;
  la_int64_t off, end = 0;
  int r;
  struct timespec ts[2] = { { archive_entry_atime (e), 0 }, { archive_entry_mtime (e), 0 } };

  /* O_EXCL|O_NOFOLLOW fails on anything already there (a symlink included,
     never followed): only then is the slot cleared, saving a stat per file
     in the common case of a fresh path. */
  if (fd < 0 && errno == EEXIST)
    {
      bool is_dir;
      if (clear_slot (u, pfd, base, false, &is_dir, err) < 0)
        return -1;
      fd = openat (pfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    }
  if (fd < 0)
    return moat_err (err, errno, "create `%s`", base);
  while ((r = archive_read_data_block (u->a, &buf, &len, &off)) == ARCHIVE_OK)
    {
      u->layer_bytes += len;
      if (check_limits (u, err) < 0)
        return -1;
      while (len > 0)
        {
          ssize_t w = pwrite (fd, buf, len, off);
          if (w < 0 && errno == EINTR)
            continue;
          if (w < 0)
            return moat_err (err, errno, "write `%s`", base);
          buf = (const char *) buf + w;
          len -= (size_t) w;
          off += w;
        }
      if (off > end)
        end = off;
    }
  if (r != ARCHIVE_EOF)
    return moat_err (err, aerrno (u->a), "read `%s`: %s", base, archive_error_string (u->a));
  /* Only a sparse file ending in a hole needs its size set explicitly. */
  if (archive_entry_size_is_set (e) && end < archive_entry_size (e) && ftruncate (fd, archive_entry_size (e)) < 0)
    return moat_err (err, errno, "truncate `%s`", base);
  /* chown before chmod: chown clears the setuid bits. */
  if (fchown (fd, archive_entry_uid (e), archive_entry_gid (e)) < 0
      || fchmod (fd, entry_mode (u, e, true)) < 0)
    return moat_err (err, errno, "set owner and mode of `%s`", base);
  futimens (fd, ts);
  return 0;
}

static int
make_dir (struct unpack *u, int pfd, const char *base, struct archive_entry *e, bool exists, struct moat_error *err)
{
  cleanup_fd int fd = -1;

  if (!exists && mkdirat (pfd, base, 0700) < 0)
    return moat_err (err, errno, "mkdir `%s`", base);
  fd = openat (pfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return moat_err (err, errno, "open `%s`", base);
  if (fchown (fd, archive_entry_uid (e), archive_entry_gid (e)) < 0
      || fchmod (fd, entry_mode (u, e, false)) < 0)
    return moat_err (err, errno, "set owner and mode of `%s`", base);
  return 0;
}

static int
make_hardlink (struct unpack *u, int pfd, const char *base, const char *target, struct moat_error *err)
{
  char clean[4096];
  cleanup_fd int tpfd = -1;
  char *slash;
  const char *tbase;
  struct stat st;

  /* The target is named by its path in the layer: ".." is refused and "/" is
     the rootfs, so the link can only point at a file this unpack made
     (CVE-2014-6407; moby's "invalid hardlink target"). */
  if (moat_clean_entry_name (target, clean, sizeof clean, err) < 0)
    return moat_error_wrap (err, "hardlink target");
  if (clean[0] == '\0')
    return moat_err (err, EINVAL, "hardlink to the root");
  slash = strrchr (clean, '/');
  if (slash)
    {
      *slash = '\0';
      tbase = slash + 1;
    }
  else
    tbase = clean;
  tpfd = moat_open_in_root (u->rootfd, slash ? clean : ".", O_PATH | O_DIRECTORY, 0, err);
  if (tpfd < 0)
    return moat_error_wrap (err, "hardlink target `%s`", target);
  if (fstatat (tpfd, tbase, &st, AT_SYMLINK_NOFOLLOW) < 0)
    return moat_err (err, errno, "hardlink target `%s`", target);
  if (S_ISDIR (st.st_mode))
    return moat_err (err, EPERM, "hardlink target `%s`: a directory", target);
  if (linkat (tpfd, tbase, pfd, base, 0) < 0)
    return moat_err (err, errno, "hardlink `%s` -> `%s`", base, target);
  return 0;
}

/* Remove everything below DFD that this layer did not create: an opaque
 * whiteout hides all lower content of its directory, whatever the order of
 * the entries (layer.md). */
static int
opaque_clean (struct unpack *u, int dfd, char *path, size_t plen, struct moat_error *err)
{
  cleanup_fd int fd = openat (dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  cleanup_dir DIR *d = NULL;
  struct dirent *de;

  if (fd < 0 || (d = fdopendir (fd)) == NULL)
    return moat_err (err, errno, "open `%s`", path);
  fd = -1;
  while ((de = readdir (d)) != NULL)
    {
      size_t n = strlen (de->d_name);

      if (strcmp (de->d_name, ".") == 0 || strcmp (de->d_name, "..") == 0)
        continue;
      if (plen + n + 2 >= 4096)
        return moat_err (err, ENAMETOOLONG, "`%s`", path);
      snprintf (path + plen, 4096 - plen, "%s%s", plen ? "/" : "", de->d_name);
      if (!strset_has (&u->made, path))
        {
          if (moat_rm_rf_at (dirfd (d), de->d_name, err) < 0)
            return -1;
        }
      else if (de->d_type == DT_DIR)
        {
          cleanup_fd int sub = openat (dirfd (d), de->d_name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
          if (sub >= 0 && opaque_clean (u, sub, path, strlen (path), err) < 0)
            return -1;
        }
      path[plen] = '\0';
    }
  return 0;
}

static int
whiteout (struct unpack *u, int pfd, const char *parent, const char *base, struct moat_error *err)
{
  const char *victim = base + 4;
  char path[8192];

  u->st->whiteouts++;
  if (strcmp (base, ".wh..wh..opq") == 0)
    {
      snprintf (path, sizeof path, "%s", parent);
      invalidate_parent (u);
      return opaque_clean (u, pfd, path, strlen (path), err);
    }
  /* A bare ".wh." or one naming "." or ".." would delete the parent or
     escape it (containerd validateWhiteout). */
  if (*victim == '\0' || strcmp (victim, ".") == 0 || strcmp (victim, "..") == 0)
    return moat_err (err, EINVAL, "invalid whiteout name `%s`", base);
  snprintf (path, sizeof path, "%s%s%s", parent, *parent ? "/" : "", victim);
  /* A whiteout hides lower layers only, never this layer's own entries. */
  if (strset_has (&u->made, path))
    return 0;
  invalidate_parent (u);
  return moat_rm_rf_at (pfd, victim, err);
}

/* Record NAME and its ancestors (a layer may create "a/b/c" without an
 * entry for "a/"; an opaque "a" must still keep it). */
static int
mark_made (struct unpack *u, const char *name, struct moat_error *err)
{
  char buf[4096], *p;

  snprintf (buf, sizeof buf, "%s", name);
  if (strset_add (&u->made, buf) < 0)
    return moat_err (err, ENOMEM, "unpack");
  while ((p = strrchr (buf, '/')) != NULL)
    {
      *p = '\0';
      if (strset_has (&u->made, buf))
        break;
      if (strset_add (&u->made, buf) < 0)
        return moat_err (err, ENOMEM, "unpack");
    }
  return 0;
}

static int
apply_entry (struct unpack *u, struct archive_entry *e, struct moat_error *err)
{
  char name[4096], *slash;
  const char *base, *parent, *link = archive_entry_hardlink (e);
  mode_t type = archive_entry_filetype (e);
  bool exists = false;
  int pfd;

  if (++u->st->entries > u->lim->max_entries)
    return moat_err (err, EFBIG, "more than %llu entries (raise with --max-entries)", (unsigned long long) u->lim->max_entries);
  if (strlen (archive_entry_pathname (e) ? archive_entry_pathname (e) : "") > u->lim->max_path)
    return moat_err (err, ENAMETOOLONG, "entry name longer than %llu bytes (raise with --max-path)", (unsigned long long) u->lim->max_path);
  if (archive_entry_pathname (e) == NULL || moat_clean_entry_name (archive_entry_pathname (e), name, sizeof name, err) < 0)
    return archive_entry_pathname (e) ? -1 : moat_err (err, EINVAL, "entry without a name");
  if (name[0] == '\0')
    {
      /* The root may only be a directory: "." as a symlink would redirect
         every later entry (CVE-2021-29136). */
      if (type != AE_IFDIR || link)
        return moat_err (err, EPERM, "entry `%s`: the root must stay a directory", archive_entry_pathname (e));
      return 0;
    }
  u->st->xattrs_dropped += (uint64_t) archive_entry_xattr_count (e);
  slash = strrchr (name, '/');
  if (slash)
    {
      *slash = '\0';
      parent = name;
      base = slash + 1;
    }
  else
    {
      parent = "";
      base = name;
    }
  pfd = get_parent (u, parent, err);
  if (pfd < 0)
    return -1;
  if (strncmp (base, ".wh.", 4) == 0)
    return whiteout (u, pfd, parent, base, err);
  if (!link && (type == AE_IFCHR || type == AE_IFBLK || type == AE_IFIFO || type == AE_IFSOCK)
      && (!u->lim->allow_devices || type == AE_IFSOCK))
    {
      u->st->devices_skipped++;
      return 0;
    }
  /* A regular file clears its slot itself, only when something is there. */
  if ((link || type != AE_IFREG) && clear_slot (u, pfd, base, !link && type == AE_IFDIR, &exists, err) < 0)
    return -1;
  if (link)
    {
      if (make_hardlink (u, pfd, base, link, err) < 0)
        return -1;
    }
  else if (type == AE_IFREG)
    {
      if (write_file (u, pfd, base, e, err) < 0)
        return -1;
    }
  else if (type == AE_IFDIR)
    {
      if (make_dir (u, pfd, base, e, exists, err) < 0)
        return -1;
    }
  else if (type == AE_IFLNK)
    {
      const char *t = archive_entry_symlink (e);
      if (t == NULL || strlen (t) > u->lim->max_path)
        return moat_err (err, EINVAL, "symlink `%s`: missing or overlong target", base);
      /* Stored verbatim and never followed here; it is resolved only inside
         the container, beneath its root. */
      if (symlinkat (t, pfd, base) < 0)
        return moat_err (err, errno, "symlink `%s`", base);
      if (fchownat (pfd, base, archive_entry_uid (e), archive_entry_gid (e), AT_SYMLINK_NOFOLLOW) < 0)
        return moat_err (err, errno, "chown symlink `%s`", base);
    }
  else if (type == AE_IFCHR || type == AE_IFBLK || type == AE_IFIFO)
    {
      if (mknodat (pfd, base, type | entry_mode (u, e, false), archive_entry_rdev (e)) < 0)
        return moat_err (err, errno, "mknod `%s`", base);
      if (fchownat (pfd, base, archive_entry_uid (e), archive_entry_gid (e), AT_SYMLINK_NOFOLLOW) < 0)
        return moat_err (err, errno, "chown `%s`", base);
    }
  else
    return moat_err (err, EINVAL, "entry `%s`: unsupported file type 0%o", base, (unsigned) type);
  if (slash)
    *slash = '/';
  return mark_made (u, name, err);
}

int
moat_unpack_layer (int rootfd, int layerfd, const char *digest, const struct moat_limits *lim,
                   uint64_t *image_bytes, struct moat_unpack_stats *st, struct moat_error *err)
{
  struct unpack u = { .rootfd = rootfd, .lim = lim, .st = st, .image_bytes = image_bytes, .cached_fd = -1 };
  struct archive_entry *e;
  char got[MOAT_DIGEST_STR];
  int r = -1, ar;

  /* The blob is read, hashed and decompressed by the layer stream's thread;
     this one parses the tar it hands over and writes the tree. */
  if (moat_layer_stream_start (layerfd, &u.in, err) < 0)
    goto out;
  if ((u.a = archive_read_new ()) == NULL)
    {
      moat_err (err, ENOMEM, "unpack");
      goto out;
    }
  archive_read_support_format_tar (u.a);
  archive_read_support_filter_none (u.a);
  if (archive_read_open (u.a, u.in, NULL, moat_layer_stream_read, NULL) != ARCHIVE_OK)
    {
      moat_err (err, aerrno (u.a), "open layer: %s", archive_error_string (u.a));
      goto out;
    }
  while ((ar = archive_read_next_header (u.a, &e)) == ARCHIVE_OK || ar == ARCHIVE_WARN)
    {
      const char *nm = archive_entry_pathname (e);
      if (apply_entry (&u, e, err) < 0 || check_limits (&u, err) < 0)
        {
          moat_error_wrap (err, "entry `%s`", nm ? nm : "?");
          goto out;
        }
    }
  if (ar != ARCHIVE_EOF)
    {
      moat_err (err, aerrno (u.a), "read layer: %s", archive_error_string (u.a));
      goto out;
    }
  /* Hashes whatever the tar reader did not need (its trailing padding). */
  moat_layer_stream_finish (u.in, got);
  if (digest && strcmp (got, digest) != 0)
    {
      moat_err (err, 0, "layer blob digest is `%s`, expected `%s` (store corrupted? run `moat image fsck`)", got, digest);
      goto out;
    }
  st->bytes += u.layer_bytes;
  *image_bytes += u.layer_bytes;
  r = 0;
out:
  /* A layer that fails to unpack may simply be a corrupted blob: say so.
     (Finishing hashes the rest of the blob; a second finish is a no-op
     that leaves GOT as it was.) */
  if (r < 0 && u.in && digest)
    {
      got[0] = '\0';
      moat_layer_stream_finish (u.in, got);
      if (got[0] && strcmp (got, digest) != 0)
        moat_err (err, 0, "layer blob digest is `%s`, expected `%s` (store corrupted? run `moat image fsck`)", got, digest);
    }
  drop_parent (&u);
  strset_free (&u.made);
  if (u.a)
    archive_read_free (u.a);
  moat_layer_stream_free (u.in);
  return r;
}
