/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests of `pull` reference parsing: Docker Hub defaults, hosts with
 * ports, digest pins, and the transport decision (HTTPS unless loopback or
 * --insecure-registry; `http://` elsewhere refused before any I/O). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "image/image.h"

#define HEX "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static const struct moat_pull_opts no_opts = { 0 };

static void
expect_ref (const char *in, const struct moat_pull_opts *po, const char *host, const char *api, const char *repo,
            const char *tag, const char *digest, const char *scheme)
{
  struct moat_pull_ref r;
  struct moat_error err = { 0 };

  if (moat_pull_parse_ref (in, po, &r, &err) < 0)
    fail_msg ("%s: %s", in, err.msg);
  assert_string_equal (r.host, host);
  assert_string_equal (r.api, api);
  assert_string_equal (r.repo, repo);
  assert_string_equal (r.tag, tag);
  assert_string_equal (r.digest, digest);
  assert_string_equal (r.scheme, scheme);
}

static void
expect_bad (const char *in, const struct moat_pull_opts *po, const char *needle)
{
  struct moat_pull_ref r;
  struct moat_error err = { 0 };

  assert_int_equal (moat_pull_parse_ref (in, po, &r, &err), -1);
  if (strstr (err.msg, needle) == NULL)
    fail_msg ("%s: `%s` not in `%s`", in, needle, err.msg);
}

static void
test_hub_defaults (void **state)
{
  expect_ref ("busybox", &no_opts, "docker.io", "registry-1.docker.io", "library/busybox", "latest", "", "https");
  expect_ref ("busybox:1.36", &no_opts, "docker.io", "registry-1.docker.io", "library/busybox", "1.36", "", "https");
  expect_ref ("docker.io/user/app", &no_opts, "docker.io", "registry-1.docker.io", "user/app", "latest", "", "https");
  expect_ref ("index.docker.io/library/x:y", &no_opts, "docker.io", "registry-1.docker.io", "library/x", "y", "", "https");
}

static void
test_hosts_and_digests (void **state)
{
  expect_ref ("quay.io/a/b/c:v1", &no_opts, "quay.io", "quay.io", "a/b/c", "v1", "", "https");
  expect_ref ("reg.example:5000/app@sha256:" HEX, &no_opts, "reg.example:5000", "reg.example:5000", "app", "",
              "sha256:" HEX, "https");
  expect_ref ("reg.example/app:v2@sha256:" HEX, &no_opts, "reg.example", "reg.example", "app", "v2",
              "sha256:" HEX, "https");
  expect_ref ("localhost/app", &no_opts, "localhost", "localhost", "app", "latest", "", "http");
  expect_ref ("127.0.0.1:5000/bb", &no_opts, "127.0.0.1:5000", "127.0.0.1:5000", "bb", "latest", "", "http");
  expect_ref ("127.8.9.10/bb", &no_opts, "127.8.9.10", "127.8.9.10", "bb", "latest", "", "http");
  expect_ref ("[::1]:5000/bb", &no_opts, "[::1]:5000", "[::1]:5000", "bb", "latest", "", "http");
  expect_ref ("https://127.0.0.1:5000/bb", &no_opts, "127.0.0.1:5000", "127.0.0.1:5000", "bb", "latest", "", "https");
}

static void
test_transport (void **state)
{
  const char *const list[] = { "198.51.100.7", "reg.lan:5000" };
  struct moat_pull_opts po = { .insecure = list, .n_insecure = 2 };

  expect_bad ("http://203.0.113.1/bb", &no_opts, "plain HTTP is allowed only for loopback");
  expect_bad ("http://128.0.0.1/bb", &no_opts, "plain HTTP");
  expect_bad ("http://reg.lan/bb", &po, "--insecure-registry reg.lan");
  expect_ref ("198.51.100.7:80/bb", &po, "198.51.100.7:80", "198.51.100.7:80", "bb", "latest", "", "http");
  expect_ref ("http://reg.lan:5000/bb", &po, "reg.lan:5000", "reg.lan:5000", "bb", "latest", "", "http");
  expect_ref ("https://198.51.100.7/bb", &po, "198.51.100.7", "198.51.100.7", "bb", "latest", "", "https");
  expect_ref ("203.0.113.1/bb", &po, "203.0.113.1", "203.0.113.1", "bb", "latest", "", "https");
}

static void
test_bad_refs (void **state)
{
  expect_bad ("", &no_opts, "invalid");
  expect_bad ("Busybox", &no_opts, "invalid repository");
  expect_bad ("reg.io/../x", &no_opts, "invalid repository");
  expect_bad ("reg.io/a//b", &no_opts, "invalid repository");
  expect_bad ("reg.io/a/", &no_opts, "invalid repository");
  expect_bad ("reg.io/a:b/c", &no_opts, "invalid");
  expect_bad ("a:t@sha256:ABC", &no_opts, "not a sha256 digest");
  expect_bad ("a@sha512:" HEX, &no_opts, "not a sha256 digest");
  expect_bad ("a:bad tag", &no_opts, "invalid tag");
  expect_bad ("re g.io/a", &no_opts, "invalid");
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_hub_defaults),
    cmocka_unit_test (test_hosts_and_digests),
    cmocka_unit_test (test_transport),
    cmocka_unit_test (test_bad_refs),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
