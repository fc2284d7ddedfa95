/* SPDX-License-Identifier: GPL-2.0-or-later */
/* sandbox/seccomp_cache.c and util/sha256.c. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <linux/filter.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sandbox/seccomp_cache.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/sha256.h"

#define STRV(...)                                                              \
  ((struct moat_strv) { .v = (char *[]) { __VA_ARGS__ },                       \
                        .n = sizeof ((char *[]) { __VA_ARGS__ }) / sizeof (char *) })

static char tmpdir[64];
static char cachedir[128];

static int
setup (void **state)
{
  (void) state;
  strcpy (tmpdir, "/tmp/moat-sccache.XXXXXX");
  if (mkdtemp (tmpdir) == NULL)
    return -1;
  snprintf (cachedir, sizeof cachedir, "%s/cache", tmpdir);
  return 0;
}

static int
teardown (void **state)
{
  struct moat_error err = { 0 };
  (void) state;
  return moat_rm_rf_at (AT_FDCWD, tmpdir, &err);
}

/* EPERM by default, a small allowlist, one argument-filtered rule. */
static char *allow_names[] = { "read", "write", "exit_group", "execve" };
static char *personality_names[] = { "personality" };

static void
profile (struct moat_seccomp *sc, struct moat_seccomp_rule *rules, struct moat_seccomp_arg *arg)
{
  memset (sc, 0, sizeof *sc);
  sc->default_action = MOAT_SCMP_ERRNO;
  sc->has_default_errno_ret = true;
  sc->default_errno_ret = 1;
  rules[0] = (struct moat_seccomp_rule) { .names = { allow_names, 4 },
                                          .action = MOAT_SCMP_ALLOW };
  *arg = (struct moat_seccomp_arg) { .index = 0, .value = 2, .op = MOAT_SCMP_CMP_EQ };
  rules[1] = (struct moat_seccomp_rule) { .names = { personality_names, 1 }, .action = MOAT_SCMP_ALLOW,
                                          .args = arg, .n_args = 1 };
  sc->rules = rules;
  sc->n_rules = 2;
}

static void
entry_path (const struct moat_seccomp *sc, char *path, size_t size)
{
  unsigned char key[MOAT_SHA256_LEN];
  char hex[2 * MOAT_SHA256_LEN + 1];

  moat_seccomp_cache_key (sc, key);
  moat_sha256_hex (key, hex);
  snprintf (path, size, "%s/%s.bpf", cachedir, hex);
}

static void
test_sha256_vectors (void **state)
{
  unsigned char d[MOAT_SHA256_LEN];
  char hex[65];
  struct moat_sha256 s;
  char million[1001];
  int i;

  (void) state;
  moat_sha256 ("", 0, d);
  moat_sha256_hex (d, hex);
  assert_string_equal (hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  moat_sha256 ("abc", 3, d);
  moat_sha256_hex (d, hex);
  assert_string_equal (hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  moat_sha256 ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56, d);
  moat_sha256_hex (d, hex);
  assert_string_equal (hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  /* A million 'a', fed in uneven pieces (block boundaries inside updates). */
  memset (million, 'a', sizeof million);
  moat_sha256_init (&s);
  for (i = 0; i < 1000; i++)
    moat_sha256_update (&s, million, (size_t) (i % 2 ? 999 : 1001));
  moat_sha256_final (&s, d);
  moat_sha256_hex (d, hex);
  assert_string_equal (hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

static void
test_hit_is_identical (void **state)
{
  struct moat_seccomp sc;
  struct moat_seccomp_rule rules[2];
  struct moat_seccomp_arg arg;
  struct moat_seccomp_prog fresh = { 0 }, first = { 0 }, second = { 0 };
  struct moat_error err = { 0 };
  char path[256];
  struct stat st;
  bool hit = true;

  (void) state;
  profile (&sc, rules, &arg);
  assert_int_equal (moat_seccomp_compile (&sc, &fresh, &err), 0);
  assert_int_equal (moat_seccomp_compile_cached_at (cachedir, &sc, &first, &hit, &err), 0);
  assert_false (hit);
  assert_int_equal (moat_seccomp_compile_cached_at (cachedir, &sc, &second, &hit, &err), 0);
  assert_true (hit);
  assert_int_equal (first.n_insns, fresh.n_insns);
  assert_int_equal (second.n_insns, fresh.n_insns);
  assert_memory_equal (second.insns, fresh.insns, fresh.n_insns * sizeof (struct sock_filter));
  assert_int_equal (second.flags, fresh.flags);
  assert_int_equal (second.notify, fresh.notify);
  /* 0700 directory, 0600 entry. */
  assert_int_equal (stat (cachedir, &st), 0);
  assert_int_equal (st.st_mode & 0777, 0700);
  entry_path (&sc, path, sizeof path);
  assert_int_equal (stat (path, &st), 0);
  assert_int_equal (st.st_mode & 0777, 0600);
  moat_seccomp_prog_free (&fresh);
  moat_seccomp_prog_free (&first);
  moat_seccomp_prog_free (&second);
}

static void
test_key_changes (void **state)
{
  struct moat_seccomp sc;
  struct moat_seccomp_rule rules[2];
  struct moat_seccomp_arg arg;
  unsigned char k0[MOAT_SHA256_LEN], k1[MOAT_SHA256_LEN];

  (void) state;
  profile (&sc, rules, &arg);
  moat_seccomp_cache_key (&sc, k0);
  moat_seccomp_cache_key (&sc, k1);
  assert_memory_equal (k0, k1, sizeof k0);
  arg.value = 3;
  moat_seccomp_cache_key (&sc, k1);
  assert_memory_not_equal (k0, k1, sizeof k0);
  arg.value = 2;
  sc.default_errno_ret = 38;
  moat_seccomp_cache_key (&sc, k1);
  assert_memory_not_equal (k0, k1, sizeof k0);
  sc.default_errno_ret = 1;
  rules[0].names = STRV ("read", "write", "exit_group");
  moat_seccomp_cache_key (&sc, k1);
  assert_memory_not_equal (k0, k1, sizeof k0);
  /* Name boundaries are part of the key. */
  rules[0].names = STRV ("readwrite", "", "exit_group", "execve");
  moat_seccomp_cache_key (&sc, k1);
  assert_memory_not_equal (k0, k1, sizeof k0);
}

/* Corrupt the stored entry in several ways: each is ignored, the profile is
   compiled again, and the entry is rewritten valid. */
static void
test_corrupt_entry_rebuilt (void **state)
{
  struct moat_seccomp sc;
  struct moat_seccomp_rule rules[2];
  struct moat_seccomp_arg arg;
  struct moat_seccomp_prog fresh = { 0 }, p = { 0 };
  struct moat_error err = { 0 };
  char path[256];
  struct stat st;
  bool hit;
  int round;

  (void) state;
  profile (&sc, rules, &arg);
  assert_int_equal (moat_seccomp_compile (&sc, &fresh, &err), 0);
  entry_path (&sc, path, sizeof path);
  for (round = 0; round < 4; round++)
    {
      assert_int_equal (moat_seccomp_compile_cached_at (cachedir, &sc, &p, &hit, &err), 0);
      moat_seccomp_prog_free (&p);
      assert_int_equal (stat (path, &st), 0);
      {
        cleanup_fd int fd = open (path, O_RDWR | O_CLOEXEC);
        unsigned char b;
        assert_true (fd >= 0);
        switch (round)
          {
          case 0: /* flip a bit of the last instruction */
            assert_int_equal (pread (fd, &b, 1, st.st_size - 3), 1);
            b ^= 0x10;
            assert_int_equal (pwrite (fd, &b, 1, st.st_size - 3), 1);
            break;
          case 1: /* truncated */
            assert_int_equal (ftruncate (fd, st.st_size - 8), 0);
            break;
          case 2: /* empty */
            assert_int_equal (ftruncate (fd, 0), 0);
            break;
          case 3: /* group-writable: not trusted */
            assert_int_equal (fchmod (fd, 0620), 0);
            break;
          }
      }
      assert_int_equal (moat_seccomp_compile_cached_at (cachedir, &sc, &p, &hit, &err), 0);
      assert_false (hit);
      assert_int_equal (p.n_insns, fresh.n_insns);
      assert_memory_equal (p.insns, fresh.insns, fresh.n_insns * sizeof (struct sock_filter));
      moat_seccomp_prog_free (&p);
      if (round == 3)
        {
          /* An untrusted file is not overwritten through; rename replaces it. */
          assert_int_equal (stat (path, &st), 0);
          assert_int_equal (st.st_mode & 0777, 0600);
        }
      assert_int_equal (moat_seccomp_compile_cached_at (cachedir, &sc, &p, &hit, &err), 0);
      assert_true (hit);
      assert_memory_equal (p.insns, fresh.insns, fresh.n_insns * sizeof (struct sock_filter));
      moat_seccomp_prog_free (&p);
    }
  moat_seccomp_prog_free (&fresh);
}

/* A directory others can write into is never used (but compiling still works). */
static void
test_untrusted_dir_bypassed (void **state)
{
  struct moat_seccomp sc;
  struct moat_seccomp_rule rules[2];
  struct moat_seccomp_arg arg;
  struct moat_seccomp_prog p = { 0 };
  struct moat_error err = { 0 };
  char path[256];
  bool hit = true;

  (void) state;
  profile (&sc, rules, &arg);
  assert_int_equal (mkdir (cachedir, 0777), 0);
  assert_int_equal (chmod (cachedir, 0777), 0);
  assert_int_equal (moat_seccomp_compile_cached_at (cachedir, &sc, &p, &hit, &err), 0);
  assert_false (hit);
  assert_true (p.n_insns > 0);
  moat_seccomp_prog_free (&p);
  entry_path (&sc, path, sizeof path);
  assert_int_equal (access (path, F_OK), -1);
}

/* A compile error is reported as by moat_seccomp_compile and not cached. */
static void
test_error_not_cached (void **state)
{
  struct moat_seccomp sc;
  struct moat_seccomp_rule rules[2];
  struct moat_seccomp_arg arg;
  struct moat_seccomp_prog p = { 0 };
  struct moat_error err = { 0 };
  char path[256];
  bool hit;

  (void) state;
  profile (&sc, rules, &arg);
  sc.architectures = STRV ("SCMP_ARCH_NOPE");
  assert_true (moat_seccomp_compile_cached_at (cachedir, &sc, &p, &hit, &err) < 0);
  assert_non_null (strstr (err.msg, "SCMP_ARCH_NOPE"));
  entry_path (&sc, path, sizeof path);
  assert_int_equal (access (path, F_OK), -1);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_sha256_vectors),
    cmocka_unit_test_setup_teardown (test_hit_is_identical, setup, teardown),
    cmocka_unit_test (test_key_changes),
    cmocka_unit_test_setup_teardown (test_corrupt_entry_rebuilt, setup, teardown),
    cmocka_unit_test_setup_teardown (test_untrusted_dir_bypassed, setup, teardown),
    cmocka_unit_test_setup_teardown (test_error_not_cached, setup, teardown),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
