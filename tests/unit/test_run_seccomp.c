/* SPDX-License-Identifier: GPL-2.0-or-later */
/* moat_docker_seccomp: Docker's profile format into linux.seccomp
 * (`moat run --security-opt seccomp=FILE`). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/utsname.h>

#include <cmocka.h>
#include <jansson.h>

#include "cli/run.h"

static json_t *
load (const char *text)
{
  json_error_t e;
  json_t *j = json_loads (text, 0, &e);

  assert_non_null (j);
  return j;
}

/* The names of every rule of OUT, joined with ','. */
static void
rule_names (json_t *out, char *buf, size_t size)
{
  json_t *r, *n;
  size_t i, j;

  buf[0] = '\0';
  json_array_foreach (json_object_get (out, "syscalls"), i, r)
    json_array_foreach (json_object_get (r, "names"), j, n)
      {
        strncat (buf, json_string_value (n), size - strlen (buf) - 2);
        strcat (buf, ",");
      }
}

static void
test_docker_format (void **state)
{
  struct utsname u;
  const char *native;
  char text[2048], names[512];
  json_t *prof, *caps = load ("[\"CAP_CHOWN\", \"CAP_KILL\"]"), *out;

  (void) state;
  uname (&u);
  native = strcmp (u.machine, "x86_64") == 0 ? "amd64" : u.machine;
  snprintf (text, sizeof text,
            "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"defaultErrnoRet\": 1,"
            " \"archMap\": [{\"architecture\": \"SCMP_ARCH_X86_64\", \"subArchitectures\": [\"SCMP_ARCH_X86\"]}],"
            " \"syscalls\": ["
            "  {\"names\": [\"read\"], \"action\": \"SCMP_ACT_ALLOW\", \"comment\": \"always\"},"
            "  {\"names\": [\"chown\"], \"action\": \"SCMP_ACT_ALLOW\", \"includes\": {\"caps\": [\"CAP_CHOWN\"]}},"
            "  {\"names\": [\"mount\"], \"action\": \"SCMP_ACT_ALLOW\", \"includes\": {\"caps\": [\"CAP_SYS_ADMIN\"]}},"
            "  {\"names\": [\"kill\"], \"action\": \"SCMP_ACT_ALLOW\", \"excludes\": {\"caps\": [\"CAP_KILL\"]}},"
            "  {\"names\": [\"ptrace\"], \"action\": \"SCMP_ACT_ALLOW\", \"excludes\": {\"caps\": [\"CAP_SYS_PTRACE\"]}},"
            "  {\"names\": [\"arch_prctl\"], \"action\": \"SCMP_ACT_ALLOW\", \"includes\": {\"arches\": [\"%s\"]}},"
            "  {\"names\": [\"s390_only\"], \"action\": \"SCMP_ACT_ALLOW\", \"includes\": {\"arches\": [\"s390x\"]}},"
            "  {\"names\": [\"future\"], \"action\": \"SCMP_ACT_ALLOW\", \"includes\": {\"minKernel\": \"99.0\"}},"
            "  {\"name\": \"single\", \"action\": \"SCMP_ACT_ALLOW\"}"
            "]}",
            native);
  prof = load (text);
  out = moat_docker_seccomp (prof, caps);
  assert_string_equal (json_string_value (json_object_get (out, "defaultAction")), "SCMP_ACT_ERRNO");
  assert_int_equal (json_integer_value (json_object_get (out, "defaultErrnoRet")), 1);
  assert_null (json_object_get (out, "archMap"));
  assert_int_equal (json_array_size (json_object_get (out, "architectures")), 2);
  assert_string_equal (json_string_value (json_array_get (json_object_get (out, "architectures"), 1)),
                       "SCMP_ARCH_X86");
  rule_names (out, names, sizeof names);
  assert_string_equal (names, "read,chown,ptrace,arch_prctl,single,");
  assert_null (json_object_get (json_array_get (json_object_get (out, "syscalls"), 0), "comment"));
  assert_null (json_object_get (json_array_get (json_object_get (out, "syscalls"), 1), "includes"));
  json_decref (out);
  json_decref (prof);
  json_decref (caps);
}

static void
test_oci_format_unchanged (void **state)
{
  json_t *caps = load ("[]");
  json_t *prof = load ("{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"defaultErrnoRet\": 1,"
                       " \"architectures\": [\"SCMP_ARCH_X86_64\"], \"flags\": [\"SECCOMP_FILTER_FLAG_LOG\"],"
                       " \"syscalls\": [{\"names\": [\"read\", \"write\"], \"action\": \"SCMP_ACT_ALLOW\","
                       " \"args\": [{\"index\": 0, \"value\": 1, \"op\": \"SCMP_CMP_EQ\"}]}]}");
  json_t *out = moat_docker_seccomp (prof, caps);

  (void) state;
  assert_true (json_equal (out, prof));
  json_decref (out);
  json_decref (prof);
  json_decref (caps);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_docker_format),
    cmocka_unit_test (test_oci_format_unchanged),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
