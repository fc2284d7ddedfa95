/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MOAT_IMAGE_H
#define MOAT_IMAGE_H

/* The image store: content-addressed blobs, a name index, and rootfs trees
 * unpacked once per manifest.  This code lives in the separate `moat-image`
 * executable so that the runtime's hot path never loads libarchive or
 * libcrypto. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "util/error.h"

#define MOAT_DIGEST_HEX 64
#define MOAT_DIGEST_STR (7 + MOAT_DIGEST_HEX + 1) /* "sha256:" + hex + NUL */

/* Size caps for JSON documents (CVE-2023-25153 class): containerd uses about
 * 4 MiB for manifests and 20 MiB for JSON inside archives. */
#define MOAT_MAX_MANIFEST (4u << 20)
#define MOAT_MAX_ARCHIVE_JSON (20u << 20)

#define MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define MT_OCI_LAYER "application/vnd.oci.image.layer.v1.tar"
#define MT_OCI_LAYER_GZ "application/vnd.oci.image.layer.v1.tar+gzip"
#define MT_OCI_LAYER_ZST "application/vnd.oci.image.layer.v1.tar+zstd"
#define MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define MT_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"
#define MT_DOCKER_LAYER_GZ "application/vnd.docker.image.rootfs.diff.tar.gzip"

static inline void
moat_json_decref_p (json_t **j)
{
  json_decref (*j);
}
#define cleanup_json __attribute__ ((cleanup (moat_json_decref_p)))

/* ---- digest.c: streamed SHA-256 ---- */
struct moat_sha256;
struct moat_sha256 *moat_sha256_new (void);
void moat_sha256_update (struct moat_sha256 *h, const void *data, size_t len);
/* Finish into "sha256:<hex>" (OUT has MOAT_DIGEST_STR bytes) and free H. */
void moat_sha256_final (struct moat_sha256 *h, char *out);
void moat_sha256_free (struct moat_sha256 *h);
/* "sha256:" followed by exactly 64 lower-case hex digits (descriptor.md). */
bool moat_digest_valid (const char *digest);
/* Hash LEN bytes of DATA. */
void moat_sha256_buf (const void *data, size_t len, char *out);

/* ---- manifest.c: descriptor/manifest/index/config parsing ---- */
struct moat_desc
{
  char media_type[128];
  char digest[MOAT_DIGEST_STR];
  int64_t size;
};

struct moat_manifest
{
  struct moat_desc config;
  struct moat_desc *layers;
  size_t n_layers;
};

struct moat_config
{
  char **diff_ids;
  size_t n_diff_ids;
  json_t *doc; /* the whole config */
};

int moat_parse_desc (json_t *j, const char *where, struct moat_desc *d, struct moat_error *err);
/* Parse a manifest blob whose descriptor says MEDIA_TYPE: the document's own
 * mediaType must be present and agree, and it must not also look like an
 * index (CVE-2021-41190). */
int moat_parse_manifest (const char *buf, size_t len, const char *media_type, struct moat_manifest *m, struct moat_error *err);
void moat_manifest_free (struct moat_manifest *m);
/* Parse an index and pick the linux/amd64 manifest (or the only manifest
 * without a platform). */
int moat_parse_index_pick (const char *buf, size_t len, const char *media_type, struct moat_desc *out, struct moat_error *err);
int moat_parse_config (const char *buf, size_t len, size_t n_layers, struct moat_config *c, struct moat_error *err);
void moat_config_free (struct moat_config *c);
bool moat_layer_type_ok (const char *media_type);

/* ---- store.c ---- */
struct moat_store
{
  int dirfd;  /* the store root */
  int lockfd; /* flock()ed */
  char *path;
};

int moat_store_open (struct moat_store *s, const char *path, bool exclusive, struct moat_error *err);
void moat_store_close (struct moat_store *s);
bool moat_store_has_blob (struct moat_store *s, const char *digest, int64_t *size);
int moat_store_open_blob (struct moat_store *s, const char *digest, struct moat_error *err);
int moat_store_read_blob (struct moat_store *s, const char *digest, size_t max, char **buf, size_t *len, struct moat_error *err);
/* Copy FD into the store, verifying the SHA-256 while writing.  WANT_DIGEST
 * may be NULL (the digest is computed and returned in OUT_DIGEST); WANT_SIZE
 * < 0 means unknown.  Reading stops as soon as more than WANT_SIZE bytes
 * arrive.  The blob is fsynced and renamed into place; *ADDED tells whether
 * it was new. */
struct archive;
typedef long (*moat_reader_fn) (void *ctx, void *buf, size_t len);
int moat_store_put (struct moat_store *s, moat_reader_fn rd, void *ctx, const char *want_digest, int64_t want_size, char *out_digest, bool *added, struct moat_error *err);
int moat_store_put_buf (struct moat_store *s, const void *buf, size_t len, char *out_digest, bool *added, struct moat_error *err);
long moat_fd_reader (void *ctx, void *buf, size_t len);
int moat_store_remove_blob (struct moat_store *s, const char *digest);
/* The name index: a JSON object name -> manifest digest. */
int moat_store_load_names (struct moat_store *s, json_t **names, struct moat_error *err);
int moat_store_save_names (struct moat_store *s, json_t *names, struct moat_error *err);
/* Find NAME (exact, with ":latest", with "docker.io/library/" or "localhost/",
 * or a manifest digest or its unique hex prefix). */
int moat_store_lookup (json_t *names, const char *name, const char **found_name, const char **digest, struct moat_error *err);
int moat_store_fsck (struct moat_store *s, json_t *report, struct moat_error *err);
int moat_store_prune (struct moat_store *s, json_t *report, struct moat_error *err);
int moat_fsync_dir (int dirfd, const char *name);

/* ---- load.c ---- */
struct moat_limits
{
  uint64_t max_layer_bytes;
  uint64_t max_image_bytes;
  uint64_t max_entries;
  uint64_t max_path;
  uint64_t max_ratio;
  uint64_t ratio_floor; /* bytes written before the ratio check starts */
  bool allow_devices;
  bool defang;
};
void moat_limits_default (struct moat_limits *l);

/* Load an OCI layout dir, an oci-archive or a docker-archive.  NAME, when not
 * NULL, names the (single) image.  REPORT receives {"images": [...]}. */
int moat_image_load (struct moat_store *s, const char *path, const char *name, const struct moat_limits *lim, json_t *report, struct moat_error *err);
/* Verify the image whose manifest D (and everything it references) is
 * already in the store, with the same checks as a load (mediaType, sizes,
 * diff_ids), then name it NAME.  ADDED (a set of digests, may be NULL) lists
 * blobs the caller stored for it: on failure they are removed again. */
int moat_image_commit (struct moat_store *s, const struct moat_desc *d, const char *name, const struct moat_limits *lim,
                       json_t *added, json_t *report, struct moat_error *err);
/* Compute the uncompressed digest of a layer blob (gzip/zstd/plain), with
 * the size and ratio limits applied. */
int moat_layer_diff_id (int blobfd, const struct moat_limits *lim, char *out, struct moat_error *err);

/* ---- layer_stream.c: a layer blob read, hashed and decompressed in a
 * thread, its tar stream handed over through a bounded ring ---- */
struct archive;
struct moat_layer_stream;
int moat_layer_stream_start (int layerfd, struct moat_layer_stream **out, struct moat_error *err);
/* libarchive's read callback (CTX: the stream) for the tar reader. */
ssize_t moat_layer_stream_read (struct archive *a, void *ctx, const void **out);
/* Blob bytes read so far (the ratio limit). */
uint64_t moat_layer_stream_raw_bytes (struct moat_layer_stream *s);
/* Stop decompressing, hash the rest of the blob, wait for the thread; the
 * first call writes the blob's "sha256:<hex>" to DIGEST, later ones nothing. */
void moat_layer_stream_finish (struct moat_layer_stream *s, char *digest);
void moat_layer_stream_free (struct moat_layer_stream *s);

/* ---- unpack.c ---- */
struct moat_unpack_stats
{
  uint64_t entries, bytes, setuid, setgid, devices_skipped, xattrs_dropped, whiteouts;
};
/* Apply one layer (read from LAYERFD, verified against DIGEST while read)
 * onto the tree at ROOTFD.  IMAGE_BYTES accumulates across layers. */
int moat_unpack_layer (int rootfd, int layerfd, const char *digest, const struct moat_limits *lim, uint64_t *image_bytes, struct moat_unpack_stats *st, struct moat_error *err);
/* Clean an entry name: strip leading "/" and "./", drop "." components and
 * repeated slashes, refuse any ".." component (EINVAL).  OUT gets "" for the
 * root itself. */
int moat_clean_entry_name (const char *in, char *out, size_t size, struct moat_error *err);
/* Unpack the image with manifest DIGEST into rootfs/<hex>[suffix] if not
 * there yet; return the absolute path in *PATH (heap). */
int moat_image_unpack (struct moat_store *s, const char *digest, const struct moat_limits *lim, char **path, struct moat_error *err);

/* ---- registry.c: `pull` from an OCI distribution registry ---- */
struct moat_pull_opts
{
  const char *creds;                  /* "user:pass" or NULL */
  const char *const *insecure;        /* hosts allowed over plain HTTP */
  size_t n_insecure;
};
struct moat_pull_ref
{
  char host[256];     /* registry host[:port] as named ("docker.io" for Hub) */
  char api[256];      /* the host actually contacted */
  char repo[256];
  char tag[129];      /* "" when only a digest is given */
  char digest[MOAT_DIGEST_STR];
  const char *scheme; /* "https" or "http" */
};
/* Parse [http[s]://][host[:port]/]repo[:tag][@sha256:hex] with Docker Hub
 * defaults and decide the scheme (no network I/O). */
int moat_pull_parse_ref (const char *in, const struct moat_pull_opts *po, struct moat_pull_ref *r, struct moat_error *err);
/* Pull REF into the store and name it; REPORT as for moat_image_load.  The
 * sum of the blob sizes is capped by LIM->max_image_bytes. */
int moat_image_pull (struct moat_store *s, const char *ref, const struct moat_pull_opts *po, const struct moat_limits *lim,
                     json_t *report, struct moat_error *err);

#endif
