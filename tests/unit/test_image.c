/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests of the image code: streamed digests, manifest/index/config
 * parsing, entry-name confinement, the store's verified writes, and layer
 * unpacking (confinement, whiteouts, limits) into a mkdtemp directory. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <cmocka.h>

#include "image/image.h"
#include "util/cleanup.h"
#include "util/fs.h"

/* ---- digests ---- */

static void
test_sha256_streaming (void **state)
{
  static const char *abc = "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
  char out[MOAT_DIGEST_STR], out2[MOAT_DIGEST_STR];
  struct moat_sha256 *h = moat_sha256_new ();
  static char big[300000];
  size_t i;

  moat_sha256_buf ("abc", 3, out);
  assert_string_equal (out, abc);
  moat_sha256_update (h, "a", 1);
  moat_sha256_update (h, "", 0);
  moat_sha256_update (h, "bc", 2);
  moat_sha256_final (h, out);
  assert_string_equal (out, abc);
  for (i = 0; i < sizeof big; i++)
    big[i] = (char) (i * 7);
  moat_sha256_buf (big, sizeof big, out);
  h = moat_sha256_new ();
  for (i = 0; i < sizeof big; i += 4099)
    moat_sha256_update (h, big + i, sizeof big - i < 4099 ? sizeof big - i : 4099);
  moat_sha256_final (h, out2);
  assert_string_equal (out, out2);
}

static void
test_digest_valid (void **state)
{
  assert_true (moat_digest_valid ("sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
  assert_false (moat_digest_valid ("sha256:BA7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
  assert_false (moat_digest_valid ("sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015a"));
  assert_false (moat_digest_valid ("sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad0"));
  assert_false (moat_digest_valid ("sha512:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
  assert_false (moat_digest_valid ("sha256:../../../../etc/passwd"));
  assert_false (moat_digest_valid (NULL));
}

/* ---- names ---- */

static void
check_clean (const char *in, const char *want)
{
  char out[4096];
  struct moat_error err = { 0 };

  if (want == NULL)
    {
      assert_int_equal (moat_clean_entry_name (in, out, sizeof out, &err), -1);
      assert_non_null (strstr (err.msg, ".."));
      return;
    }
  assert_int_equal (moat_clean_entry_name (in, out, sizeof out, &err), 0);
  assert_string_equal (out, want);
}

static void
test_clean_entry_name (void **state)
{
  check_clean ("a/b", "a/b");
  check_clean ("./a//b/", "a/b");
  check_clean ("/etc/passwd", "etc/passwd");
  check_clean ("///", "");
  check_clean (".", "");
  check_clean ("./", "");
  check_clean ("a/./b/.", "a/b");
  check_clean ("..", NULL);
  check_clean ("../evil", NULL);
  check_clean ("a/../../evil", NULL);
  check_clean ("a/..", NULL);
  check_clean ("..a/b..", "..a/b..");
}

/* ---- parsers ---- */

#define D1 "sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define D2 "sha256:2222222222222222222222222222222222222222222222222222222222222222"

static void
test_parse_manifest (void **state)
{
  const char *ok = "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"" MT_OCI_CONFIG "\",\"digest\":\"" D1
                   "\",\"size\":3},\"layers\":[{\"mediaType\":\"" MT_OCI_LAYER_GZ "\",\"digest\":\"" D2 "\",\"size\":9}]}";
  const char *confused = "{\"schemaVersion\":2,\"manifests\":[],\"config\":{\"mediaType\":\"" MT_OCI_CONFIG
                         "\",\"digest\":\"" D1 "\",\"size\":3},\"layers\":[]}";
  const char *lies = "{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_INDEX "\",\"config\":{\"mediaType\":\"" MT_OCI_CONFIG
                     "\",\"digest\":\"" D1 "\",\"size\":3},\"layers\":[]}";
  const char *nomt = "{\"schemaVersion\":2,\"config\":{\"digest\":\"" D1 "\",\"size\":3},\"layers\":[]}";
  const char *badlayer = "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"" MT_OCI_CONFIG "\",\"digest\":\"" D1
                         "\",\"size\":3},\"layers\":[{\"mediaType\":\"application/x-evil\",\"digest\":\"" D2 "\",\"size\":9}]}";
  struct moat_manifest m;
  struct moat_error err = { 0 };

  assert_int_equal (moat_parse_manifest (ok, strlen (ok), MT_OCI_MANIFEST, &m, &err), 0);
  assert_int_equal (m.n_layers, 1);
  assert_string_equal (m.layers[0].digest, D2);
  assert_int_equal (m.config.size, 3);
  moat_manifest_free (&m);
  assert_int_equal (moat_parse_manifest (ok, strlen (ok), MT_OCI_INDEX, &m, &err), -1);
  assert_int_equal (moat_parse_manifest (confused, strlen (confused), MT_OCI_MANIFEST, &m, &err), -1);
  assert_non_null (strstr (err.msg, "confusion"));
  assert_int_equal (moat_parse_manifest (lies, strlen (lies), MT_OCI_MANIFEST, &m, &err), -1);
  assert_non_null (strstr (err.msg, "descriptor says"));
  assert_int_equal (moat_parse_manifest (nomt, strlen (nomt), MT_OCI_MANIFEST, &m, &err), -1);
  assert_non_null (strstr (err.msg, "mediaType"));
  assert_int_equal (moat_parse_manifest (badlayer, strlen (badlayer), MT_OCI_MANIFEST, &m, &err), -1);
  assert_non_null (strstr (err.msg, "unsupported layer type"));
  assert_int_equal (moat_parse_manifest ("[", 1, MT_OCI_MANIFEST, &m, &err), -1);
}

static void
test_parse_index_pick (void **state)
{
  const char *idx = "{\"schemaVersion\":2,\"manifests\":["
                    "{\"mediaType\":\"" MT_OCI_MANIFEST "\",\"digest\":\"" D1 "\",\"size\":1,\"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\"}},"
                    "{\"mediaType\":\"" MT_OCI_MANIFEST "\",\"digest\":\"" D2 "\",\"size\":2,\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}}]}";
  const char *none = "{\"schemaVersion\":2,\"manifests\":["
                     "{\"mediaType\":\"" MT_OCI_MANIFEST "\",\"digest\":\"" D1 "\",\"size\":1,\"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\"}}]}";
  const char *confused = "{\"schemaVersion\":2,\"manifests\":[],\"layers\":[]}";
  struct moat_desc d;
  struct moat_error err = { 0 };

  assert_int_equal (moat_parse_index_pick (idx, strlen (idx), MT_OCI_INDEX, &d, &err), 0);
  assert_string_equal (d.digest, D2);
  assert_int_equal (moat_parse_index_pick (none, strlen (none), MT_OCI_INDEX, &d, &err), -1);
  assert_non_null (strstr (err.msg, "linux/amd64"));
  assert_int_equal (moat_parse_index_pick (confused, strlen (confused), MT_OCI_INDEX, &d, &err), -1);
  assert_int_equal (moat_parse_index_pick (idx, strlen (idx), MT_OCI_MANIFEST, &d, &err), -1);
}

static void
test_parse_config (void **state)
{
  const char *ok = "{\"os\":\"linux\",\"architecture\":\"amd64\",\"config\":{\"Cmd\":[\"sh\"]},"
                   "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" D1 "\"]}}";
  const char *arm = "{\"os\":\"linux\",\"architecture\":\"arm64\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}";
  const char *bad = "{\"os\":\"linux\",\"architecture\":\"amd64\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:x\"]}}";
  struct moat_config c;
  struct moat_error err = { 0 };

  assert_int_equal (moat_parse_config (ok, strlen (ok), 1, &c, &err), 0);
  assert_string_equal (c.diff_ids[0], D1);
  moat_config_free (&c);
  assert_int_equal (moat_parse_config (ok, strlen (ok), 2, &c, &err), -1);
  assert_non_null (strstr (err.msg, "diff_ids"));
  assert_int_equal (moat_parse_config (arm, strlen (arm), 0, &c, &err), -1);
  assert_non_null (strstr (err.msg, "arm64"));
  assert_int_equal (moat_parse_config (bad, strlen (bad), 1, &c, &err), -1);
}

/* ---- store ---- */

static char *
mktmp (void)
{
  char *d = strdup ("/tmp/moat-image-unit.XXXXXX");

  assert_non_null (mkdtemp (d));
  return d;
}

static void
test_store_put_verifies (void **state)
{
  cleanup_free char *dir = mktmp ();
  struct moat_store s;
  struct moat_error err = { 0 };
  char dg[MOAT_DIGEST_STR], want[MOAT_DIGEST_STR];
  bool added;
  int fd;

  assert_int_equal (moat_store_open (&s, dir, true, &err), 0);
  assert_int_equal (moat_store_put_buf (&s, "hello", 5, dg, &added, &err), 0);
  assert_true (added);
  assert_true (moat_store_has_blob (&s, dg, NULL));
  assert_int_equal (moat_store_put_buf (&s, "hello", 5, dg, &added, &err), 0);
  assert_false (added);
  moat_sha256_buf ("other", 5, want);
  /* Wrong digest, short and long streams: refused, nothing stored. */
  fd = memfd_create ("b", MFD_CLOEXEC);
  assert_int_equal (write (fd, "hello", 5), 5);
  lseek (fd, 0, SEEK_SET);
  assert_int_equal (moat_store_put (&s, moat_fd_reader, &fd, want, 5, NULL, &added, &err), -1);
  assert_non_null (strstr (err.msg, "content digest"));
  lseek (fd, 0, SEEK_SET);
  assert_int_equal (moat_store_put (&s, moat_fd_reader, &fd, dg, 4, NULL, &added, &err), -1);
  assert_non_null (strstr (err.msg, "larger than"));
  lseek (fd, 0, SEEK_SET);
  assert_int_equal (moat_store_put (&s, moat_fd_reader, &fd, dg, 6, NULL, &added, &err), -1);
  assert_non_null (strstr (err.msg, "truncated"));
  assert_false (moat_store_has_blob (&s, want, NULL));
  close (fd);
  moat_store_close (&s);
  assert_int_equal (moat_rm_rf_at (AT_FDCWD, dir, &err), 0);
}

/* ---- unpack ---- */

struct ent
{
  const char *name;
  char kind; /* f d l h */
  const char *data;
};

/* A tar built with libarchive into a memfd, gzipped when GZ. */
static int
make_layer_gz (const struct ent *ents, size_t n, bool gz)
{
  struct archive *a = archive_write_new ();
  int fd = memfd_create ("layer", MFD_CLOEXEC);
  size_t i;

  if (gz)
    assert_int_equal (archive_write_add_filter_gzip (a), ARCHIVE_OK);

  archive_write_set_format_pax_restricted (a);
  assert_int_equal (archive_write_open_fd (a, fd), ARCHIVE_OK);
  for (i = 0; i < n; i++)
    {
      struct archive_entry *e = archive_entry_new ();
      archive_entry_set_pathname (e, ents[i].name);
      archive_entry_set_perm (e, ents[i].kind == 'd' ? 0755 : 0644);
      switch (ents[i].kind)
        {
        case 'f':
          archive_entry_set_filetype (e, AE_IFREG);
          archive_entry_set_size (e, (la_int64_t) strlen (ents[i].data));
          break;
        case 'd':
          archive_entry_set_filetype (e, AE_IFDIR);
          break;
        case 'l':
          archive_entry_set_filetype (e, AE_IFLNK);
          archive_entry_set_symlink (e, ents[i].data);
          break;
        case 'h':
          archive_entry_set_filetype (e, AE_IFREG);
          archive_entry_set_hardlink (e, ents[i].data);
          break;
        }
      assert_int_equal (archive_write_header (a, e), ARCHIVE_OK);
      if (ents[i].kind == 'f')
        archive_write_data (a, ents[i].data, strlen (ents[i].data));
      archive_entry_free (e);
    }
  archive_write_close (a);
  archive_write_free (a);
  lseek (fd, 0, SEEK_SET);
  return fd;
}

static int
make_layer (const struct ent *ents, size_t n)
{
  return make_layer_gz (ents, n, false);
}

static int
unpack (int rootfd, const struct ent *ents, size_t n, const struct moat_limits *lim, struct moat_error *err)
{
  struct moat_limits def;
  struct moat_unpack_stats st = { 0 };
  uint64_t total = 0;
  int fd = make_layer (ents, n), r;

  moat_limits_default (&def);
  r = moat_unpack_layer (rootfd, fd, NULL, lim ? lim : &def, &total, &st, err);
  close (fd);
  return r;
}

static bool
exists (int rootfd, const char *p)
{
  struct stat st;

  return fstatat (rootfd, p, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

static void
test_unpack_confined (void **state)
{
  cleanup_free char *dir = mktmp ();
  cleanup_fd int rootfd = open (dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  struct moat_error err = { 0 };
  static const struct ent ok[] = {
    { "etc/", 'd', NULL }, { "a", 'l', "/etc" }, { "a/passwd", 'f', "x" },
    { "up", 'l', "../.." }, { "up/y", 'f', "y" }, { "/abs", 'f', "z" },
    { "hl", 'h', "up/y" },
  };
  static const struct ent dotdot[] = { { "../evil", 'f', "e" } };
  static const struct ent hl[] = { { "h", 'h', "../../etc/shadow" } };
  static const struct ent dot[] = { { ".", 'l', "/etc" } };
  struct stat a, b;

  assert_int_equal (unpack (rootfd, ok, MOAT_ARRAY_SIZE (ok), NULL, &err), 0);
  assert_true (exists (rootfd, "etc/passwd"));
  assert_true (exists (rootfd, "y"));
  assert_true (exists (rootfd, "abs"));
  assert_int_equal (fstatat (rootfd, "hl", &a, AT_SYMLINK_NOFOLLOW), 0);
  assert_int_equal (fstatat (rootfd, "y", &b, AT_SYMLINK_NOFOLLOW), 0);
  assert_int_equal (a.st_ino, b.st_ino);
  assert_int_equal (unpack (rootfd, dotdot, 1, NULL, &err), -1);
  assert_non_null (strstr (err.msg, ".."));
  assert_int_equal (unpack (rootfd, hl, 1, NULL, &err), -1);
  assert_int_equal (unpack (rootfd, dot, 1, NULL, &err), -1);
  assert_non_null (strstr (err.msg, "root must stay a directory"));
  assert_int_equal (moat_rm_rf_at (AT_FDCWD, dir, &err), 0);
}

static void
test_unpack_whiteouts (void **state)
{
  cleanup_free char *dir = mktmp ();
  cleanup_fd int rootfd = open (dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  struct moat_error err = { 0 };
  static const struct ent a[] = { { "a/b/c/bar", 'f', "bar" }, { "w/x", 'f', "1" }, { "w/y", 'f', "2" } };
  static const struct ent b[] = {
    { "a/", 'd', NULL }, { "a/b/", 'd', NULL }, { "a/b/c/", 'd', NULL }, { "a/b/c/foo", 'f', "foo" },
    { "a/.wh..wh..opq", 'f', "" }, { "w/.wh.x", 'f', "" }, { "n", 'f', "n" }, { ".wh.n", 'f', "" },
  };
  static const struct ent bare[] = { { "w/.wh.", 'f', "" } };
  static const struct ent esc[] = { { ".wh...", 'f', "" } };

  assert_int_equal (unpack (rootfd, a, MOAT_ARRAY_SIZE (a), NULL, &err), 0);
  assert_int_equal (unpack (rootfd, b, MOAT_ARRAY_SIZE (b), NULL, &err), 0);
  assert_true (exists (rootfd, "a/b/c/foo"));
  assert_false (exists (rootfd, "a/b/c/bar"));
  assert_false (exists (rootfd, "a/.wh..wh..opq"));
  assert_false (exists (rootfd, "w/x"));
  assert_true (exists (rootfd, "w/y"));
  assert_true (exists (rootfd, "n"));
  assert_false (exists (rootfd, ".wh.n"));
  assert_int_equal (unpack (rootfd, bare, 1, NULL, &err), -1);
  assert_non_null (strstr (err.msg, "invalid whiteout"));
  assert_int_equal (unpack (rootfd, esc, 1, NULL, &err), -1);
  assert_non_null (strstr (err.msg, "invalid whiteout"));
  assert_int_equal (moat_rm_rf_at (AT_FDCWD, dir, &err), 0);
}

static void
test_unpack_limits (void **state)
{
  cleanup_free char *dir = mktmp ();
  cleanup_fd int rootfd = open (dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  struct moat_error err = { 0 };
  struct moat_limits lim;
  static const struct ent three[] = { { "a", 'f', "1" }, { "b", 'f', "2" }, { "c", 'f', "3" } };
  static const struct ent big[] = { { "big", 'f', "0123456789abcdef0123456789abcdef" } };
  static const struct ent longname[] = { { "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 'f', "1" } };

  moat_limits_default (&lim);
  lim.max_entries = 2;
  assert_int_equal (unpack (rootfd, three, 3, &lim, &err), -1);
  assert_non_null (strstr (err.msg, "--max-entries"));
  moat_limits_default (&lim);
  lim.max_layer_bytes = 16;
  assert_int_equal (unpack (rootfd, big, 1, &lim, &err), -1);
  assert_non_null (strstr (err.msg, "--max-layer-size"));
  moat_limits_default (&lim);
  lim.max_path = 16;
  assert_int_equal (unpack (rootfd, longname, 1, &lim, &err), -1);
  assert_non_null (strstr (err.msg, "--max-path"));
  assert_int_equal (moat_rm_rf_at (AT_FDCWD, dir, &err), 0);
}

/* The digest of what FD holds, from the start. */
static void
fd_digest (int fd, char *out)
{
  struct stat st;
  char *buf;

  assert_int_equal (fstat (fd, &st), 0);
  buf = malloc ((size_t) st.st_size + 1);
  assert_non_null (buf);
  assert_int_equal (pread (fd, buf, (size_t) st.st_size, 0), st.st_size);
  moat_sha256_buf (buf, (size_t) st.st_size, out);
  free (buf);
}

/* The blob is read, hashed and decompressed in a thread ahead of the tar
   reader: every byte is still hashed when the tar ends long before the blob
   (more trailing data than the ring holds), and a truncated or corrupted
   blob fails with the digest named. */
static void
test_unpack_stream (void **state)
{
  cleanup_free char *dir = mktmp ();
  cleanup_fd int rootfd = open (dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  static const struct ent ents[] = { { "d/", 'd', NULL }, { "d/f", 'f', "payload" }, { "g", 'f', "more" } };
  struct moat_error err = { 0 };
  struct moat_limits lim;
  struct moat_unpack_stats st = { 0 };
  uint64_t total = 0;
  char digest[MOAT_DIGEST_STR], full[MOAT_DIGEST_STR];
  char junk[4096];
  struct stat sb;
  int fd;

  (void) state;
  moat_limits_default (&lim);
  /* 6 MiB after the end of the tar */
  fd = make_layer (ents, MOAT_ARRAY_SIZE (ents));
  memset (junk, 'j', sizeof junk);
  assert_int_equal (fstat (fd, &sb), 0);
  for (int i = 0; i < 1536; i++)
    assert_int_equal (pwrite (fd, junk, sizeof junk, sb.st_size + (off_t) i * (off_t) sizeof junk), sizeof junk);
  fd_digest (fd, digest);
  assert_int_equal (moat_unpack_layer (rootfd, fd, digest, &lim, &total, &st, &err), 0);
  assert_true (exists (rootfd, "d/f") && exists (rootfd, "g"));
  assert_int_equal (lseek (fd, 0, SEEK_SET), 0);
  digest[10] = digest[10] == '0' ? '1' : '0';
  assert_int_equal (moat_unpack_layer (rootfd, fd, digest, &lim, &total, &st, &err), -1);
  assert_non_null (strstr (err.msg, "layer blob digest is"));
  close (fd);

  /* gzip, whole then cut in the middle */
  fd = make_layer_gz (ents, MOAT_ARRAY_SIZE (ents), true);
  fd_digest (fd, full);
  assert_int_equal (moat_unpack_layer (rootfd, fd, full, &lim, &total, &st, &err), 0);
  assert_int_equal (fstat (fd, &sb), 0);
  assert_int_equal (ftruncate (fd, sb.st_size / 2), 0);
  assert_int_equal (lseek (fd, 0, SEEK_SET), 0);
  memset (&err, 0, sizeof err);
  assert_int_equal (moat_unpack_layer (rootfd, fd, NULL, &lim, &total, &st, &err), -1);
  assert_true (err.msg[0] != '\0');
  assert_int_equal (lseek (fd, 0, SEEK_SET), 0);
  assert_int_equal (moat_unpack_layer (rootfd, fd, full, &lim, &total, &st, &err), -1);
  assert_non_null (strstr (err.msg, "layer blob digest is"));
  close (fd);
  assert_int_equal (moat_rm_rf_at (AT_FDCWD, dir, &err), 0);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_sha256_streaming),
    cmocka_unit_test (test_digest_valid),
    cmocka_unit_test (test_clean_entry_name),
    cmocka_unit_test (test_parse_manifest),
    cmocka_unit_test (test_parse_index_pick),
    cmocka_unit_test (test_parse_config),
    cmocka_unit_test (test_store_put_verifies),
    cmocka_unit_test (test_unpack_confined),
    cmocka_unit_test (test_unpack_whiteouts),
    cmocka_unit_test (test_unpack_limits),
    cmocka_unit_test (test_unpack_stream),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
