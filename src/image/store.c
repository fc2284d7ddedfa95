/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/image.h"
#include "util/cleanup.h"
#include "util/fs.h"

/* Layout under the store root:
 *   lock               flock()ed by every moat-image process
 *   blobs/sha256/<hex> verified content, immutable
 *   index.json         {"names": {"name:tag": "sha256:..."}}, written last
 *   rootfs/<hex>       unpacked trees (and <hex>.json with unpack stats)
 *   tmp/               in-flight writes; anything here is garbage */

int
moat_fsync_dir (int dirfd, const char *name)
{
  cleanup_fd int fd = openat (dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

  if (fd < 0 || fsync (fd) < 0)
    return -1;
  return 0;
}

int
moat_store_open (struct moat_store *s, const char *path, bool exclusive, struct moat_error *err)
{
  static const char *dirs[] = { "blobs", "blobs/sha256", "rootfs", "tmp" };
  static const mode_t modes[] = { 0700, 0700, 0711, 0700 };
  size_t i;

  memset (s, 0, sizeof *s);
  s->dirfd = s->lockfd = -1;
  if (mkdir (path, 0711) < 0 && errno != EEXIST)
    return moat_err (err, errno, "create image store `%s`", path);
  s->dirfd = open (path, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (s->dirfd < 0)
    return moat_err (err, errno, "open image store `%s`", path);
  for (i = 0; i < MOAT_ARRAY_SIZE (dirs); i++)
    if (mkdirat (s->dirfd, dirs[i], modes[i]) < 0 && errno != EEXIST)
      {
        moat_err (err, errno, "create `%s/%s`", path, dirs[i]);
        moat_store_close (s);
        return -1;
      }
  s->lockfd = openat (s->dirfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (s->lockfd < 0 || flock (s->lockfd, exclusive ? LOCK_EX : LOCK_SH) < 0)
    {
      moat_err (err, errno, "lock image store `%s`", path);
      moat_store_close (s);
      return -1;
    }
  s->path = realpath (path, NULL);
  if (s->path == NULL)
    {
      moat_err (err, errno, "resolve `%s`", path);
      moat_store_close (s);
      return -1;
    }
  return 0;
}

void
moat_store_close (struct moat_store *s)
{
  if (s->lockfd >= 0)
    close (s->lockfd);
  if (s->dirfd >= 0)
    close (s->dirfd);
  free (s->path);
  s->dirfd = s->lockfd = -1;
  s->path = NULL;
}

static void
blob_path (const char *digest, char *buf, size_t size)
{
  snprintf (buf, size, "blobs/sha256/%s", digest + 7);
}

bool
moat_store_has_blob (struct moat_store *s, const char *digest, int64_t *size)
{
  char p[128];
  struct stat st;

  if (!moat_digest_valid (digest))
    return false;
  blob_path (digest, p, sizeof p);
  if (fstatat (s->dirfd, p, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG (st.st_mode))
    return false;
  if (size)
    *size = st.st_size;
  return true;
}

int
moat_store_open_blob (struct moat_store *s, const char *digest, struct moat_error *err)
{
  char p[128];
  int fd;

  if (!moat_digest_valid (digest))
    return moat_err (err, EINVAL, "`%s`: not a sha256 digest", digest);
  blob_path (digest, p, sizeof p);
  fd = openat (s->dirfd, p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    return moat_err (err, errno, "blob `%s`", digest);
  return fd;
}

int
moat_store_read_blob (struct moat_store *s, const char *digest, size_t max, char **buf, size_t *len, struct moat_error *err)
{
  char p[128];

  if (!moat_digest_valid (digest))
    return moat_err (err, EINVAL, "`%s`: not a sha256 digest", digest);
  blob_path (digest, p, sizeof p);
  return moat_read_file_at (s->dirfd, p, max, buf, len, err);
}

long
moat_fd_reader (void *ctx, void *buf, size_t len)
{
  ssize_t n;

  do
    n = read (*(int *) ctx, buf, len);
  while (n < 0 && errno == EINTR);
  return n;
}

static int
write_all (int fd, const char *p, size_t n)
{
  while (n > 0)
    {
      ssize_t w = write (fd, p, n);
      if (w < 0 && errno == EINTR)
        continue;
      if (w < 0)
        return -1;
      p += w;
      n -= (size_t) w;
    }
  return 0;
}

/* Stream RD into tmp/, hashing as it goes; a size or digest mismatch leaves
 * nothing behind.  The blob becomes visible only after fsync + rename + fsync
 * of the directory, so a crash never leaves a half-written referenced blob. */
int
moat_store_put (struct moat_store *s, moat_reader_fn rd, void *ctx, const char *want_digest,
                int64_t want_size, char *out_digest, bool *added, struct moat_error *err)
{
  static char buf[1 << 20];
  char tmp[64], dst[128], got[MOAT_DIGEST_STR];
  struct moat_sha256 *h = moat_sha256_new ();
  cleanup_fd int fd = -1;
  uint64_t total = 0;
  long n;

  *added = false;
  if (h == NULL)
    return moat_err (err, ENOMEM, "sha256");
  snprintf (tmp, sizeof tmp, "tmp/blob-%d-%lx", getpid (), (unsigned long) random ());
  fd = openat (s->dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0)
    {
      moat_sha256_free (h);
      return moat_err (err, errno, "create `%s`", tmp);
    }
  while ((n = rd (ctx, buf, sizeof buf)) > 0)
    {
      total += (uint64_t) n;
      /* Stop as soon as the blob is longer than its descriptor says, so an
         endless stream cannot fill the disk (umoci VerifiedReadCloser). */
      if (want_size >= 0 && total > (uint64_t) want_size)
        {
          moat_err (err, 0, "blob `%s`: larger than its descriptor size %lld", want_digest ? want_digest : "?", (long long) want_size);
          goto fail;
        }
      moat_sha256_update (h, buf, (size_t) n);
      if (write_all (fd, buf, (size_t) n) < 0)
        {
          moat_err (err, errno, "write `%s`", tmp);
          goto fail;
        }
    }
  if (n < 0)
    {
      moat_err (err, errno, "read blob `%s`", want_digest ? want_digest : "?");
      goto fail;
    }
  moat_sha256_final (h, got);
  h = NULL;
  if (want_size >= 0 && total != (uint64_t) want_size)
    {
      moat_err (err, 0, "blob `%s`: size %llu, descriptor says %lld (truncated?)", want_digest ? want_digest : got,
                (unsigned long long) total, (long long) want_size);
      goto fail;
    }
  if (want_digest && strcmp (got, want_digest) != 0)
    {
      moat_err (err, 0, "blob `%s`: content digest is `%s`", want_digest, got);
      goto fail;
    }
  if (out_digest)
    memcpy (out_digest, got, MOAT_DIGEST_STR);
  if (moat_store_has_blob (s, got, NULL))
    {
      unlinkat (s->dirfd, tmp, 0);
      return 0;
    }
  if (fsync (fd) < 0)
    {
      moat_err (err, errno, "fsync `%s`", tmp);
      goto fail;
    }
  blob_path (got, dst, sizeof dst);
  if (renameat (s->dirfd, tmp, s->dirfd, dst) < 0)
    {
      moat_err (err, errno, "rename blob `%s`", got);
      goto fail;
    }
  moat_fsync_dir (s->dirfd, "blobs/sha256");
  *added = true;
  return 0;

fail:
  moat_sha256_free (h);
  unlinkat (s->dirfd, tmp, 0);
  return -1;
}

struct buf_reader
{
  const char *p;
  size_t left;
};

static long
buf_read (void *ctx, void *out, size_t len)
{
  struct buf_reader *b = ctx;
  size_t n = len < b->left ? len : b->left;

  memcpy (out, b->p, n);
  b->p += n;
  b->left -= n;
  return (long) n;
}

int
moat_store_put_buf (struct moat_store *s, const void *buf, size_t len, char *out_digest, bool *added, struct moat_error *err)
{
  struct buf_reader b = { buf, len };

  return moat_store_put (s, buf_read, &b, NULL, (int64_t) len, out_digest, added, err);
}

int
moat_store_remove_blob (struct moat_store *s, const char *digest)
{
  char p[128];

  if (!moat_digest_valid (digest))
    return -1;
  blob_path (digest, p, sizeof p);
  return unlinkat (s->dirfd, p, 0);
}

int
moat_store_load_names (struct moat_store *s, json_t **names, struct moat_error *err)
{
  cleanup_free char *buf = NULL;
  json_error_t jerr;
  json_t *doc, *n;
  size_t len;
  struct moat_error e2 = { 0 };

  if (moat_read_file_at (s->dirfd, "index.json", MOAT_MAX_ARCHIVE_JSON, &buf, &len, &e2) < 0)
    {
      if (e2.code != ENOENT)
        {
          *err = e2;
          return moat_error_wrap (err, "store index");
        }
      *names = json_object ();
      return *names ? 0 : moat_err (err, ENOMEM, "store index");
    }
  doc = json_loadb (buf, len, JSON_REJECT_DUPLICATES, &jerr);
  n = json_object_get (doc, "names");
  if (!json_is_object (n))
    {
      json_decref (doc);
      return moat_err (err, 0, "`%s/index.json`: corrupt (%s)", s->path, jerr.text);
    }
  *names = json_incref (n);
  json_decref (doc);
  return 0;
}

/* The index is the commit point of every import: it is replaced atomically
 * and durably (fsync, rename, fsync of the directory), after the blobs. */
int
moat_store_save_names (struct moat_store *s, json_t *names, struct moat_error *err)
{
  cleanup_free char *text = NULL;
  json_t *doc = json_pack ("{s:i,s:O}", "version", 1, "names", names);
  char tmp[64];
  cleanup_fd int fd = -1;

  if (doc == NULL)
    return moat_err (err, ENOMEM, "store index");
  text = json_dumps (doc, JSON_INDENT (1) | JSON_SORT_KEYS);
  json_decref (doc);
  if (text == NULL)
    return moat_err (err, ENOMEM, "store index");
  snprintf (tmp, sizeof tmp, "tmp/index-%d.json", getpid ());
  unlinkat (s->dirfd, tmp, 0);
  fd = openat (s->dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0 || write_all (fd, text, strlen (text)) < 0 || fsync (fd) < 0)
    return moat_err (err, errno, "write `%s/%s`", s->path, tmp);
  if (renameat (s->dirfd, tmp, s->dirfd, "index.json") < 0)
    return moat_err (err, errno, "rename `%s/index.json`", s->path);
  moat_fsync_dir (s->dirfd, ".");
  return 0;
}

int
moat_store_lookup (json_t *names, const char *name, const char **found, const char **digest, struct moat_error *err)
{
  static const char *prefixes[] = { "", "docker.io/library/", "docker.io/", "localhost/" };
  const char *slash = strrchr (name, '/'), *key, *match = NULL;
  bool has_tag = strchr (slash ? slash : name, ':') != NULL;
  char buf[1024];
  json_t *v;
  size_t i, hlen;
  int n_match = 0;

  for (i = 0; i < MOAT_ARRAY_SIZE (prefixes); i++)
    {
      snprintf (buf, sizeof buf, "%s%s%s", prefixes[i], name, has_tag ? "" : ":latest");
      if (json_is_string (v = json_object_get (names, buf)))
        {
          *found = json_object_iter_key (json_object_iter_at (names, buf));
          *digest = json_string_value (v);
          return 0;
        }
    }
  /* A manifest digest or a unique prefix of its hex (at least 4 digits). */
  key = strncmp (name, "sha256:", 7) == 0 ? name + 7 : name;
  hlen = strlen (key);
  if (hlen >= 4 && strspn (key, "0123456789abcdef") == hlen)
    json_object_foreach (names, key, v)
      {
        const char *d = json_string_value (v);
        if (d && strncmp (d + 7, name + (strncmp (name, "sha256:", 7) == 0 ? 7 : 0), hlen) == 0)
          {
            if (match == NULL || strcmp (match, d) != 0)
              n_match++;
            match = d;
            *found = key;
          }
      }
  if (n_match == 1)
    {
      *digest = match;
      return 0;
    }
  if (n_match > 1)
    return moat_err (err, 0, "`%s`: ambiguous digest prefix", name);
  return moat_err (err, ENOENT, "image `%s`: not in the store", name);
}
