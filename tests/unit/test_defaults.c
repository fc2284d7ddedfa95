/* SPDX-License-Identifier: GPL-2.0-or-later */
/* spec/defaults.c: the configs `moat spec` writes and the subordinate ranges. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "spec/defaults.h"
#include "spec/spec.h"
#include "util/cleanup.h"

static char dir[64];

static void
write_file (const char *name, const char *text, char *path, size_t size)
{
  FILE *f;
  snprintf (path, size, "%s/%s", dir, name);
  f = fopen (path, "w");
  assert_non_null (f);
  fputs (text, f);
  fclose (f);
}

static int
setup (void **state)
{
  (void) state;
  strcpy (dir, "/tmp/moat-defaults.XXXXXX");
  return mkdtemp (dir) ? 0 : -1;
}

static int
teardown (void **state)
{
  char cmd[128];
  (void) state;
  snprintf (cmd, sizeof cmd, "rm -rf %s", dir);
  return system (cmd);
}

static void
load (bool compat, const char *subuid, const char *subgid, struct moat_spec *spec)
{
  struct moat_error err = { 0 };
  cleanup_free char *json = NULL;

  if (moat_default_spec_json (compat, subuid, subgid, &json, &err) < 0)
    fail_msg ("%s", err.msg);
  if (moat_spec_parse (json, strlen (json), spec, &err) < 0)
    fail_msg ("%s", err.msg);
}

static uint64_t
caps (const char *const *names, size_t n)
{
  uint64_t m = 0;
  size_t i;
  for (i = 0; i < n; i++)
    m |= 1ULL << moat_cap_from_name (names[i]);
  return m;
}

static void
test_subid_range (void **state)
{
  char p[256];
  uint32_t start, count;
  struct moat_error err = { 0 };

  (void) state;
  write_file ("subuid", "# comment\nother:200000:65536\nmoat:300000:131072\n", p, sizeof p);
  assert_int_equal (moat_subid_range (p, "moat", -1, &start, &count, &err), 1);
  assert_int_equal (start, 300000);
  assert_int_equal (count, 131072);
  assert_int_equal (moat_subid_range (p, "nobody", -1, &start, &count, &err), 0);
  write_file ("byuid", "1234:400000:65536\n", p, sizeof p);
  assert_int_equal (moat_subid_range (p, "moat", 1234, &start, &count, &err), 1);
  assert_int_equal (start, 400000);
  assert_int_equal (moat_subid_range ("/nonexistent/subuid", "moat", -1, &start, &count, &err), 0);
  write_file ("bad", "moat:abc:65536\n", p, sizeof p);
  assert_true (moat_subid_range (p, "moat", -1, &start, &count, &err) < 0);
  assert_non_null (strstr (err.msg, "malformed"));
  write_file ("root", "moat:0:65536\n", p, sizeof p);
  assert_true (moat_subid_range (p, "moat", -1, &start, &count, &err) < 0);
  assert_non_null (strstr (err.msg, "host root"));
  write_file ("big", "moat:4294967000:65536\n", p, sizeof p);
  assert_true (moat_subid_range (p, "moat", -1, &start, &count, &err) < 0);
}

/* The static moat reads /etc/passwd itself instead of calling getpwnam(). */
static void
test_passwd_uid (void **state)
{
  char p[256];

  (void) state;
  write_file ("passwd",
              "root:x:0:0:root:/root:/bin/sh\nmoatx:x:7:7::/:/bin/sh\nmoat:x:998:998:moat:/nonexistent:/usr/sbin/nologin\n",
              p, sizeof p);
  assert_int_equal (moat_passwd_uid (p, "moat"), 998);
  assert_int_equal (moat_passwd_uid (p, "root"), 0);
  assert_int_equal (moat_passwd_uid (p, "moa"), -1);
  assert_int_equal (moat_passwd_uid (p, "nobody"), -1);
  assert_int_equal (moat_passwd_uid ("/nonexistent/passwd", "moat"), -1);
  write_file ("badpw", "moat:x:abc:1::/:/bin/sh\nshort:x\n", p, sizeof p);
  assert_int_equal (moat_passwd_uid (p, "moat"), -1);
  assert_int_equal (moat_passwd_uid (p, "short"), -1);
}

static void
test_hardened (void **state)
{
  static const char *const podman[] = { "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID",
                                        "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_SETFCAP", "CAP_SETGID",
                                        "CAP_SETPCAP", "CAP_SETUID", "CAP_SYS_CHROOT" };
  struct moat_spec s = { 0 };
  size_t i;
  bool tmp = false, run = false;

  (void) state;
  load (false, "/nonexistent", "/nonexistent", &s);
  assert_non_null (moat_spec_namespace (&s, CLONE_NEWUSER));
  assert_non_null (moat_spec_namespace (&s, CLONE_NEWNET));
  assert_non_null (moat_spec_namespace (&s, CLONE_NEWCGROUP));
  assert_int_equal (s.linux.n_uid_mappings, 1);
  assert_int_equal (s.linux.uid_mappings[0].host_id, MOAT_USERNS_DEFAULT_HOST_ID);
  assert_int_equal (s.linux.uid_mappings[0].size, MOAT_USERNS_DEFAULT_SIZE);
  assert_int_equal (s.linux.gid_mappings[0].host_id, MOAT_USERNS_DEFAULT_HOST_ID);
  assert_int_equal (s.process.caps.bounding, caps (podman, MOAT_ARRAY_SIZE (podman)));
  assert_int_equal (s.process.caps.effective, s.process.caps.bounding);
  assert_int_equal (s.process.caps.permitted, s.process.caps.bounding);
  assert_int_equal (s.process.caps.inheritable, 0);
  assert_int_equal (s.process.caps.ambient, 0);
  assert_true (s.process.no_new_privileges);
  assert_true (s.root_readonly);
  assert_non_null (s.linux.seccomp);
  assert_int_equal (s.linux.seccomp->default_action, MOAT_SCMP_ERRNO);
  assert_true (s.linux.seccomp->n_rules > 1);
  assert_true (s.linux.resources.pids.has_limit);
  assert_int_equal (s.linux.resources.pids.limit, 512);
  assert_true (s.linux.resources.memory.has_limit);
  assert_true (s.linux.resources.cpu.has_shares);
  assert_int_equal (s.linux.masked_paths.n, 12);
  assert_int_equal (s.linux.readonly_paths.n, 5);
  for (i = 0; i < s.n_mounts; i++)
    {
      const struct moat_mount *m = &s.mounts[i];
      assert_true (m->flags & MS_NOSUID);
      /* /dev and /dev/pts hold the device nodes themselves. */
      if (strcmp (m->destination, "/dev") != 0 && strcmp (m->destination, "/dev/pts") != 0)
        assert_true (m->flags & MS_NODEV);
      if (!strcmp (m->destination, "/tmp") || !strcmp (m->destination, "/run"))
        {
          assert_true (m->flags & MS_NOEXEC);
          assert_non_null (strstr (m->data, "size="));
          tmp |= m->destination[1] == 't';
          run |= m->destination[1] == 'r';
        }
      if (!strcmp (m->destination, "/sys") || !strcmp (m->destination, "/sys/fs/cgroup"))
        assert_true (m->flags & MS_RDONLY);
    }
  assert_true (tmp && run);
  assert_int_equal (s.annotations.n, 1);
  assert_string_equal (s.annotations.v[0].key, "org.moat.landlock");
  assert_string_equal (s.annotations.v[0].value, "on");
  moat_spec_free (&s);
}

static void
test_hardened_subid (void **state)
{
  char u[256], g[256];
  struct moat_spec s = { 0 };
  struct moat_error err = { 0 };
  char *json = NULL;

  (void) state;
  write_file ("subuid", "moat:300000:131072\n", u, sizeof u);
  write_file ("subgid", "moat:500000:1000\n", g, sizeof g);
  load (false, u, g, &s);
  assert_int_equal (s.linux.uid_mappings[0].host_id, 300000);
  assert_int_equal (s.linux.uid_mappings[0].size, 65536); /* capped */
  assert_int_equal (s.linux.gid_mappings[0].host_id, 500000);
  assert_int_equal (s.linux.gid_mappings[0].size, 1000);
  moat_spec_free (&s);
  /* A range holding host root is refused, not used. */
  write_file ("subgid", "moat:0:65536\n", g, sizeof g);
  assert_true (moat_default_spec_json (false, u, g, &json, &err) < 0);
  assert_null (json);
  assert_non_null (strstr (err.msg, "host root"));
}

static void
test_compat (void **state)
{
  static const char *const runc[] = { "CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE" };
  struct moat_spec s = { 0 };

  (void) state;
  load (true, "/nonexistent", "/nonexistent", &s);
  assert_null (moat_spec_namespace (&s, CLONE_NEWUSER));
  assert_non_null (moat_spec_namespace (&s, CLONE_NEWNET));
  assert_int_equal (s.linux.n_uid_mappings, 0);
  assert_int_equal (s.process.caps.bounding, caps (runc, 3));
  assert_null (s.linux.seccomp);
  assert_false (s.linux.resources.pids.has_limit);
  assert_true (s.process.terminal);
  assert_int_equal (s.annotations.n, 0);
  moat_spec_free (&s);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown (test_subid_range, setup, teardown),
    cmocka_unit_test_setup_teardown (test_passwd_uid, setup, teardown),
    cmocka_unit_test (test_hardened),
    cmocka_unit_test_setup_teardown (test_hardened_subid, setup, teardown),
    cmocka_unit_test (test_compat),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
