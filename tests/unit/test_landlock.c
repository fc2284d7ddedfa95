/* SPDX-License-Identifier: GPL-2.0-or-later */
/* sandbox/landlock.c: the rules computed from a config, and the restriction
 * itself in a forked child (when the kernel has Landlock). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox/landlock.h"
#include "spec/defaults.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/syscalls.h"

#define WRITE_RIGHTS (LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_REMOVE_FILE)

static void
parse (const char *json, struct moat_spec *spec)
{
  struct moat_error err = { 0 };
  int r = moat_spec_parse (json, strlen (json), spec, &err);
  if (r < 0)
    fail_msg ("parse: %s", err.msg);
}

static void
hardened (struct moat_spec *spec)
{
  struct moat_error err = { 0 };
  cleanup_free char *json = NULL;

  assert_int_equal (moat_default_spec_json (false, "/nonexistent", "/nonexistent", &json, &err), 0);
  parse (json, spec);
}

/* The access of the rule for PATH; -1 when there is none. */
static int64_t
rule_for (const struct moat_landlock_rules *r, const char *path)
{
  size_t i;
  for (i = 0; i < r->n; i++)
    if (strcmp (r->v[i].path, path) == 0)
      return (int64_t) r->v[i].access;
  return -1;
}

static char *
config (const char *root_ro, const char *mounts, const char *annotation)
{
  char *s = NULL;
  if (asprintf (&s,
                "{\"ociVersion\":\"1.2.0\",\"root\":{\"path\":\"rootfs\",\"readonly\":%s},"
                "\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\",\"user\":{\"uid\":0,\"gid\":0}},"
                "\"mounts\":[%s],\"annotations\":{%s}}",
                root_ro, mounts, annotation)
      < 0)
    fail ();
  return s;
}

static void
test_wanted (void **state)
{
  struct moat_spec spec = { 0 };
  struct moat_error err = { 0 };
  cleanup_free char *on = config ("true", "", "\"org.moat.landlock\":\"on\"");
  cleanup_free char *off = config ("true", "", "\"org.moat.landlock\":\"off\"");
  cleanup_free char *none = config ("true", "", "");
  cleanup_free char *bad = config ("true", "", "\"org.moat.landlock\":\"yes\"");

  (void) state;
  parse (on, &spec);
  assert_int_equal (moat_landlock_wanted (&spec, &err), 1);
  moat_spec_free (&spec);
  parse (off, &spec);
  assert_int_equal (moat_landlock_wanted (&spec, &err), 0);
  moat_spec_free (&spec);
  parse (none, &spec);
  assert_int_equal (moat_landlock_wanted (&spec, &err), 0);
  moat_spec_free (&spec);
  parse (bad, &spec);
  assert_true (moat_landlock_wanted (&spec, &err) < 0);
  assert_non_null (strstr (err.msg, "org.moat.landlock"));
  assert_non_null (strstr (err.msg, "`yes`"));
  moat_spec_free (&spec);
}

static void
test_check (void **state)
{
  struct moat_spec spec = { 0 };
  struct moat_error err = { 0 };
  cleanup_free char *bad = config ("true", "", "\"org.moat.landlock\":\"1\"");

  (void) state;
  hardened (&spec);
  if (moat_landlock_abi () > 0)
    assert_int_equal (moat_landlock_check (&spec, &err), 0);
  else
    {
      assert_true (moat_landlock_check (&spec, &err) < 0);
      assert_non_null (strstr (err.msg, "no Landlock"));
    }
  /* Without no_new_privs the process cannot restrict itself... */
  spec.process.no_new_privileges = false;
  if (moat_landlock_abi () > 0)
    {
      assert_true (moat_landlock_check (&spec, &err) < 0);
      assert_non_null (strstr (err.msg, "noNewPrivileges"));
      /* ...unless it keeps CAP_SYS_ADMIN. */
      spec.process.caps.effective |= 1ULL << 21;
      assert_int_equal (moat_landlock_check (&spec, &err), 0);
    }
  moat_spec_free (&spec);
  parse (bad, &spec);
  assert_true (moat_landlock_check (&spec, &err) < 0);
  assert_non_null (strstr (err.msg, "expected `on` or `off`"));
  moat_spec_free (&spec);
}

static void
test_rules_hardened (void **state)
{
  struct moat_spec spec = { 0 };
  struct moat_landlock_rules r;
  struct moat_error err = { 0 };
  uint64_t dev = LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_TRUNCATE
                 | LANDLOCK_ACCESS_FS_IOCTL_DEV;
  const char *writable[] = { "/tmp", "/run", "/dev/shm" };
  const char *none[] = { "/dev", "/proc", "/sys", "/sys/fs/cgroup", "/dev/mqueue" };
  size_t i;

  (void) state;
  hardened (&spec);
  assert_int_equal (moat_landlock_wanted (&spec, &err), 1);
  assert_int_equal (moat_landlock_rules (&spec, 5, &r, &err), 0);
  assert_int_equal (r.handled, (1ULL << 16) - 1);
  assert_int_equal (rule_for (&r, "/"),
                    LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR | LANDLOCK_ACCESS_FS_EXECUTE);
  for (i = 0; i < MOAT_ARRAY_SIZE (writable); i++)
    {
      int64_t a = rule_for (&r, writable[i]);
      assert_true (a > 0);
      assert_int_equal ((uint64_t) a & WRITE_RIGHTS, WRITE_RIGHTS);
      assert_true ((uint64_t) a & LANDLOCK_ACCESS_FS_REFER);
      assert_true ((uint64_t) a & LANDLOCK_ACCESS_FS_TRUNCATE);
      assert_false ((uint64_t) a & (LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_BLOCK));
    }
  for (i = 0; i < MOAT_ARRAY_SIZE (none); i++)
    assert_int_equal (rule_for (&r, none[i]), -1);
  assert_int_equal (rule_for (&r, "/dev/pts"), (int64_t) dev);
  assert_int_equal (rule_for (&r, "/dev/null"), (int64_t) dev);
  assert_int_equal (rule_for (&r, "/dev/urandom"), (int64_t) dev);
  moat_landlock_rules_free (&r);

  /* ABI 1 knows neither REFER, TRUNCATE nor IOCTL_DEV: not handled, not granted. */
  assert_int_equal (moat_landlock_rules (&spec, 1, &r, &err), 0);
  assert_int_equal (r.handled, (1ULL << 13) - 1);
  for (i = 0; i < r.n; i++)
    assert_int_equal (r.v[i].access & ~r.handled, 0);
  assert_int_equal (rule_for (&r, "/dev/null"), LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_WRITE_FILE);
  moat_landlock_rules_free (&r);
  assert_int_equal (moat_landlock_rules (&spec, 3, &r, &err), 0);
  assert_int_equal (r.handled, (1ULL << 15) - 1);
  moat_landlock_rules_free (&r);
  moat_spec_free (&spec);
}

static void
test_rules_binds_and_rw_root (void **state)
{
  struct moat_spec spec = { 0 };
  struct moat_landlock_rules r;
  struct moat_error err = { 0 };
  cleanup_free char *json
      = config ("false",
                "{\"destination\":\"/data\",\"type\":\"bind\",\"source\":\"/srv\",\"options\":[\"rbind\"]},"
                "{\"destination\":\"/cfg\",\"type\":\"bind\",\"source\":\"/etc\",\"options\":[\"rbind\",\"ro\"]},"
                "{\"destination\":\"/scratch\",\"type\":\"tmpfs\",\"source\":\"tmpfs\",\"options\":[\"ro\"]}",
                "");

  (void) state;
  parse (json, &spec);
  assert_int_equal (moat_landlock_rules (&spec, 5, &r, &err), 0);
  /* A writable root is a declared writable mount too. */
  assert_int_equal ((uint64_t) rule_for (&r, "/") & WRITE_RIGHTS, WRITE_RIGHTS);
  assert_int_equal ((uint64_t) rule_for (&r, "/data") & WRITE_RIGHTS, WRITE_RIGHTS);
  assert_int_equal (rule_for (&r, "/cfg"), -1);
  assert_int_equal (rule_for (&r, "/scratch"), -1);
  moat_landlock_rules_free (&r);
  moat_spec_free (&spec);
}

/* Real restriction: a "bind mount" at W (a host dir here: the unit test has
   no pivot_root, so container paths are host paths) is writable, its sibling
   X is not, reads work everywhere. */
static int
child_write (const char *spec_json, const char *dir_ok, const char *dir_denied)
{
  struct moat_spec spec = { 0 };
  struct moat_error err = { 0 };
  char p[512];
  int fd;

  if (moat_spec_parse (spec_json, strlen (spec_json), &spec, &err) < 0)
    return 10;
  if (prctl (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    return 11;
  if (moat_landlock_apply (&spec, &err) < 0)
    {
      fprintf (stderr, "%s\n", err.msg);
      return 12;
    }
  snprintf (p, sizeof p, "%s/f", dir_ok);
  fd = open (p, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    return 13;
  close (fd);
  snprintf (p, sizeof p, "%s/f", dir_denied);
  fd = open (p, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  if (fd >= 0)
    return 20; /* writable: landlock off */
  if (errno != EACCES)
    return 14;
  fd = open ("/etc/hostname", O_RDONLY | O_CLOEXEC);
  if (fd < 0 && errno != ENOENT)
    return 15;
  return 0;
}

static int
run_child (const char *annotation, const char *tmp)
{
  char w[256], x[256], mounts[600];
  cleanup_free char *json = NULL;
  int status;
  pid_t pid;

  snprintf (w, sizeof w, "%s/w", tmp);
  snprintf (x, sizeof x, "%s/x", tmp);
  mkdir (w, 0700);
  mkdir (x, 0700);
  snprintf (mounts, sizeof mounts,
            "{\"destination\":\"%s\",\"type\":\"bind\",\"source\":\"/srv\",\"options\":[\"rbind\"]}", w);
  json = config ("true", mounts, annotation);
  pid = fork ();
  if (pid == 0)
    _exit (child_write (json, w, x));
  assert_true (waitpid (pid, &status, 0) == pid);
  assert_true (WIFEXITED (status));
  return WEXITSTATUS (status);
}

static void
test_apply (void **state)
{
  char tmp[] = "/tmp/moat-landlock.XXXXXX";
  struct moat_error err = { 0 };

  (void) state;
  if (moat_landlock_abi () <= 0)
    skip ();
  assert_non_null (mkdtemp (tmp));
  assert_int_equal (run_child ("\"org.moat.landlock\":\"on\"", tmp), 0);
  assert_int_equal (run_child ("\"org.moat.landlock\":\"off\"", tmp), 20);
  assert_int_equal (moat_rm_rf_at (AT_FDCWD, tmp, &err), 0);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_wanted),
    cmocka_unit_test (test_check),
    cmocka_unit_test (test_rules_hardened),
    cmocka_unit_test (test_rules_binds_and_rw_root),
    cmocka_unit_test (test_apply),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
