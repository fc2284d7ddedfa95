/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The read side of a layer unpack, in a thread of its own: read the blob,
 * hash every byte of it, decompress it (libarchive's gzip, zstd or none
 * filters, the "raw" format: no entry is interpreted here), and hand the
 * tar stream to the unpacking thread in chunks through a small ring.  The
 * unpacking thread parses the tar and writes files (unpack.c) while this
 * one inflates and hashes the next megabytes: on two cores an unpack costs
 * the larger of the two, not their sum.
 *
 * The ring bounds how far this thread runs ahead (RING_SLOTS x CHUNK of
 * decompressed data), so the ratio and size limits the unpacking thread
 * checks still stop a decompression bomb after a few MiB.  Whatever
 * happens, finishing the stream reads and hashes the rest of the blob
 * (without decompressing it), so the digest check covers every byte. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "image/image.h"

#define CHUNK (256 * 1024)
#define RING_SLOTS 8

struct moat_layer_stream
{
  int fd;
  struct moat_sha256 *h;
  _Atomic uint64_t raw;  /* blob bytes read (and hashed) so far */
  struct archive *dec;
  pthread_t thread;
  bool started;

  pthread_mutex_t mu;
  pthread_cond_t cv;
  char *slot[RING_SLOTS];
  size_t len[RING_SLOTS];
  uint64_t produced, consumed; /* slots filled / given back */
  bool held;                   /* the reader holds slot `consumed` */
  bool stop;                   /* the reader wants no more data */
  bool done;                   /* the thread has finished, blob hashed */
  int err_code;                /* a read or decompression failure */
  char err_msg[256];

  char rbuf[CHUNK];            /* the blob, as read */
};

static la_ssize_t
blob_read (struct archive *a, void *ctx, const void **out)
{
  struct moat_layer_stream *s = ctx;
  ssize_t n;

  do
    n = read (s->fd, s->rbuf, sizeof s->rbuf);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    {
      if (a)
        archive_set_error (a, errno, "read layer");
      return -1;
    }
  moat_sha256_update (s->h, s->rbuf, (size_t) n);
  atomic_fetch_add_explicit (&s->raw, (uint64_t) n, memory_order_relaxed);
  *out = s->rbuf;
  return n;
}

/* The next free slot (allocated on first use: a small layer needs one),
   NULL once the reader has stopped or on ENOMEM. */
static char *
slot_to_fill (struct moat_layer_stream *s)
{
  char **p = NULL;

  pthread_mutex_lock (&s->mu);
  while (!s->stop && s->produced - s->consumed == RING_SLOTS)
    pthread_cond_wait (&s->cv, &s->mu);
  if (!s->stop)
    p = &s->slot[s->produced % RING_SLOTS];
  pthread_mutex_unlock (&s->mu);
  /* the reader never looks at a slot before it is published */
  if (p && *p == NULL)
    *p = malloc (CHUNK);
  return p ? *p : NULL;
}

static void
publish (struct moat_layer_stream *s, size_t n)
{
  pthread_mutex_lock (&s->mu);
  s->len[s->produced % RING_SLOTS] = n;
  s->produced++;
  pthread_cond_broadcast (&s->cv);
  pthread_mutex_unlock (&s->mu);
}

static void
fail_errno (struct moat_layer_stream *s, int code, const char *what)
{
  pthread_mutex_lock (&s->mu);
  s->err_code = code;
  snprintf (s->err_msg, sizeof s->err_msg, "%s: %s", what,
            code > 0 ? strerror (code) : archive_error_string (s->dec) ? archive_error_string (s->dec) : "failed");
  pthread_mutex_unlock (&s->mu);
}

static void
fail (struct moat_layer_stream *s, const char *what)
{
  if (archive_errno (s->dec) > 0 && archive_error_string (s->dec))
    {
      /* keep libarchive's words, and its errno */
      pthread_mutex_lock (&s->mu);
      s->err_code = archive_errno (s->dec);
      snprintf (s->err_msg, sizeof s->err_msg, "%s: %s", what, archive_error_string (s->dec));
      pthread_mutex_unlock (&s->mu);
    }
  else
    fail_errno (s, -1, what);
}

/* Fill slots until the decompressed stream ends, fails, or the reader
   stops; then hash what is left of the blob. */
static void *
produce (void *arg)
{
  struct moat_layer_stream *s = arg;
  struct archive_entry *e;
  const void *ignored;
  int r = archive_read_next_header (s->dec, &e);

  if (r != ARCHIVE_OK && r != ARCHIVE_EOF)
    fail (s, "read layer");
  while (r == ARCHIVE_OK)
    {
      char *p = slot_to_fill (s);
      size_t n = 0;
      la_ssize_t got = 1;

      if (p == NULL)
        {
          if (!s->stop)
            fail_errno (s, ENOMEM, "decompress layer");
          break;
        }
      while (n < CHUNK && (got = archive_read_data (s->dec, p + n, CHUNK - n)) > 0)
        n += (size_t) got;
      if (n > 0)
        publish (s, n);
      if (got < 0)
        fail (s, "decompress layer");
      if (got <= 0)
        break;
    }
  while (blob_read (NULL, s, &ignored) > 0)
    ;
  pthread_mutex_lock (&s->mu);
  s->done = true;
  pthread_cond_broadcast (&s->cv);
  pthread_mutex_unlock (&s->mu);
  return NULL;
}

int
moat_layer_stream_start (int layerfd, struct moat_layer_stream **out, struct moat_error *err)
{
  struct moat_layer_stream *s = calloc (1, sizeof *s);
  int r;

  *out = s;
  if (s == NULL)
    return moat_err (err, ENOMEM, "unpack");
  s->fd = layerfd;
  pthread_mutex_init (&s->mu, NULL);
  pthread_cond_init (&s->cv, NULL);
  if ((s->h = moat_sha256_new ()) == NULL || (s->dec = archive_read_new ()) == NULL)
    return moat_err (err, ENOMEM, "unpack");
  /* Only the decompressors linked into libarchive: nothing from the image
     selects an external program (CVE-2014-9357).  "raw" reads the
     decompressed stream as one opaque entry; the tar is parsed by the
     unpacking thread. */
  archive_read_support_filter_gzip (s->dec);
  archive_read_support_filter_zstd (s->dec);
  archive_read_support_filter_none (s->dec);
  archive_read_support_format_raw (s->dec);
  if (archive_read_open (s->dec, s, NULL, blob_read, NULL) != ARCHIVE_OK)
    return moat_err (err, archive_errno (s->dec) > 0 ? archive_errno (s->dec) : 0, "open layer: %s",
                     archive_error_string (s->dec));
  if ((r = pthread_create (&s->thread, NULL, produce, s)) != 0)
    return moat_err (err, r, "unpack: start the layer reader");
  s->started = true;
  return 0;
}

la_ssize_t
moat_layer_stream_read (struct archive *a, void *ctx, const void **out)
{
  struct moat_layer_stream *s = ctx;
  la_ssize_t n = 0;

  pthread_mutex_lock (&s->mu);
  /* libarchive is done with the previous chunk when it asks for the next */
  if (s->held)
    {
      s->consumed++;
      s->held = false;
      pthread_cond_broadcast (&s->cv);
    }
  while (s->produced == s->consumed && !s->done)
    pthread_cond_wait (&s->cv, &s->mu);
  if (s->produced > s->consumed)
    {
      *out = s->slot[s->consumed % RING_SLOTS];
      n = (la_ssize_t) s->len[s->consumed % RING_SLOTS];
      s->held = true;
    }
  else if (s->err_code)
    {
      archive_set_error (a, s->err_code, "%s", s->err_msg); /* -1: libarchive's "not an errno" */
      n = -1;
    }
  pthread_mutex_unlock (&s->mu);
  return n;
}

uint64_t
moat_layer_stream_raw_bytes (struct moat_layer_stream *s)
{
  return atomic_load_explicit (&s->raw, memory_order_relaxed);
}

void
moat_layer_stream_finish (struct moat_layer_stream *s, char *digest)
{
  pthread_mutex_lock (&s->mu);
  s->stop = true;
  pthread_cond_broadcast (&s->cv);
  pthread_mutex_unlock (&s->mu);
  if (s->started)
    pthread_join (s->thread, NULL);
  s->started = false;
  if (s->h)
    moat_sha256_final (s->h, digest);
  s->h = NULL;
}

void
moat_layer_stream_free (struct moat_layer_stream *s)
{
  char ignored[MOAT_DIGEST_STR];

  if (s == NULL)
    return;
  moat_layer_stream_finish (s, ignored);
  if (s->dec)
    archive_read_free (s->dec);
  for (int i = 0; i < RING_SLOTS; i++)
    free (s->slot[i]);
  pthread_mutex_destroy (&s->mu);
  pthread_cond_destroy (&s->cv);
  free (s);
}
