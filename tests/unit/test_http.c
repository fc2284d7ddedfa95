/* SPDX-License-Identifier: GPL-2.0-or-later */
/* util/http.c (the engine API client's response parser) and the event
 * parser of policy/engine.c: bodies split across reads at every byte, the
 * three body framings, the caps, and what must be refused. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "policy/engine.h"
#include "util/http.h"

static struct moat_http_conn conn;

/* Parse TEXT read STEP bytes at a time; the body (or -1) in *out. */
static int
parse (const char *text, size_t step, size_t max, int *status, char **out, struct moat_error *err)
{
  static struct moat_http_mem m;
  struct moat_http_response r;
  size_t len;

  m = (struct moat_http_mem){ text, strlen (text), step };
  moat_http_conn_init (&conn, moat_http_mem_read, &m);
  if (moat_http_read_head (&conn, &r, err) < 0)
    return -1;
  *status = r.status;
  return moat_http_read_all (&conn, &r, max, out, &len, err);
}

static void
expect_body (const char *text, int status, const char *body)
{
  size_t step;

  for (step = 1; step <= strlen (text); step++)
    {
      struct moat_error err = { 0 };
      char *out = NULL;
      int st = 0;
      if (parse (text, step, 1 << 20, &st, &out, &err) < 0)
        fail_msg ("step %zu: %s", step, err.msg);
      assert_int_equal (st, status);
      assert_string_equal (out, body);
      free (out);
    }
}

static void
expect_error (const char *text, int code, const char *needle)
{
  struct moat_error err = { 0 };
  char *out = NULL;
  int st = 0;

  assert_int_equal (parse (text, 7, 64, &st, &out, &err), -1);
  if (err.code != code)
    fail_msg ("`%s`: code %d, not %d: %s", text, err.code, code, err.msg);
  if (strstr (err.msg, needle) == NULL)
    fail_msg ("`%s` not in `%s`", needle, err.msg);
}

static void
test_framings (void **state)
{
  (void) state;
  expect_body ("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloEXTRA", 200, "hello");
  expect_body ("HTTP/1.1 200 OK\r\ntransfer-encoding: Chunked\r\n\r\n3\r\nhel\r\n2;x=y\r\nlo\r\n0\r\nT: 1\r\n\r\n", 200,
               "hello");
  expect_body ("HTTP/1.0 200 OK\r\n\r\nuntil close", 200, "until close");
  expect_body ("HTTP/1.1 204 No Content\r\nContent-Length: 9\r\n\r\n", 204, "");
  expect_body ("HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\n{}", 404, "{}");
}

static void
test_refused (void **state)
{
  (void) state;
  expect_error ("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nab", EPROTO, "conflicting");
  expect_error ("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", EPROTO, "Content-Length");
  expect_error ("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", EPROTO, "Transfer-Encoding");
  expect_error ("HTTP/1.1 200 OK\r\nX: a\r\n folded\r\n\r\n", EPROTO, "folding");
  expect_error ("HTTP/1.1 200 OK\nX: a\n\n", EPROTO, "CRLF");
  expect_error ("SSH-2.0-OpenSSH\r\n\r\n", EPROTO, "status line");
  expect_error ("HTTP/1.1 100 Continue\r\n\r\n", EPROTO, "informational");
  expect_error ("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort", E2BIG, "limit");
  expect_error ("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", EPROTO, "before the end");
  expect_error ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", EPROTO, "chunk size");
  expect_error ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\n", E2BIG, "chunk size");
  expect_error ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabX\r\n0\r\n\r\n", EPROTO, "CRLF");
  expect_error ("HTTP/1.1 200 OK\r\n\r\n" "0123456789012345678901234567890123456789012345678901234567890123456789",
                E2BIG, "limit");
}

static void
test_head_cap (void **state)
{
  size_t n = MOAT_HTTP_HEAD_MAX + 64, i;
  char *t = malloc (n + 64);

  (void) state;
  strcpy (t, "HTTP/1.1 200 OK\r\n");
  for (i = strlen (t); i < n; i += 8)
    memcpy (t + i, "X: abc\r\n", 8);
  strcpy (t + i, "\r\n");
  expect_error (t, E2BIG, "");
  free (t);
}

/* An event stream: lines split across chunks and chunks across reads. */
static void
test_lines (void **state)
{
  static const char text[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                             "4\r\n{\"a\"\r\n5\r\n:1}\n{\r\n8\r\n\"b\":2}\r\n\r\n0\r\n\r\n";
  size_t step;

  (void) state;
  for (step = 1; step < sizeof text; step++)
    {
      struct moat_http_lines l = { .max = 64 };
      struct moat_http_response r;
      struct moat_error err = { 0 };
      struct moat_http_mem m = { text, sizeof text - 1, step };
      char *line;
      size_t len;

      moat_http_conn_init (&conn, moat_http_mem_read, &m);
      assert_int_equal (moat_http_read_head (&conn, &r, &err), 0);
      assert_int_equal (moat_http_next_line (&conn, &r, &l, &line, &len, &err), 1);
      assert_string_equal (line, "{\"a\":1}");
      assert_int_equal (moat_http_next_line (&conn, &r, &l, &line, &len, &err), 1);
      assert_string_equal (line, "{\"b\":2}");
      assert_int_equal (len, 7);
      assert_int_equal (moat_http_next_line (&conn, &r, &l, &line, &len, &err), 0);
      moat_http_lines_free (&l);
    }
}

static void
test_unix_url (void **state)
{
  struct moat_error err = { 0 };
  char p[108];

  (void) state;
  assert_int_equal (moat_http_unix_path ("unix:///run/docker.sock", p, sizeof p, &err), 0);
  assert_string_equal (p, "/run/docker.sock");
  assert_int_equal (moat_http_unix_path ("tcp://127.0.0.1:2375", p, sizeof p, &err), -1);
  assert_non_null (strstr (err.msg, "only unix://"));
  assert_int_equal (moat_http_unix_path ("unix://relative.sock", p, sizeof p, &err), -1);
  assert_int_equal (moat_http_unix_path ("/run/docker.sock", p, sizeof p, &err), -1);
}

/* Docker's spelling, its legacy one, and podman 4.3's compat service. */
static void
test_events (void **state)
{
  static const char docker[]
      = "{\"status\":\"start\",\"id\":\"abc\",\"from\":\"bb\",\"Type\":\"container\",\"Action\":\"start\","
        "\"Actor\":{\"ID\":\"abc\",\"Attributes\":{\"image\":\"bb\",\"name\":\"c1\"}},\"scope\":\"local\","
        "\"time\":1700000000,\"timeNano\":1700000000123456789}";
  static const char legacy[] = "{\"status\":\"create\",\"id\":\"def\",\"from\":\"img\",\"time\":1700000001}";
  static const char exec[] = "{\"Type\":\"container\",\"Action\":\"exec_start: sh\",\"Actor\":{\"ID\":\"abc\"}}";
  struct moat_engine_event ev;
  struct moat_error err = { 0 };

  (void) state;
  assert_int_equal (moat_engine_event_parse (docker, strlen (docker), &ev, &err), 0);
  assert_string_equal (ev.type, "container");
  assert_string_equal (ev.action, "start");
  assert_string_equal (ev.id, "abc");
  assert_string_equal (ev.name, "c1");
  assert_true (ev.time_nano == 1700000000123456789LL);
  assert_int_equal (moat_engine_event_parse (legacy, strlen (legacy), &ev, &err), 0);
  assert_string_equal (ev.type, "container");
  assert_string_equal (ev.action, "create");
  assert_string_equal (ev.id, "def");
  assert_string_equal (ev.image, "img");
  assert_true (ev.time_nano == 1700000001000000000LL);
  assert_int_equal (moat_engine_event_parse (exec, strlen (exec), &ev, &err), 0);
  assert_string_equal (ev.action, "exec_start: sh");
  assert_int_equal (moat_engine_event_parse ("[1]", 3, &ev, &err), -1);
  assert_false (moat_engine_id_ok ("../../containers/x"));
  assert_false (moat_engine_id_ok ("a?b"));
  assert_false (moat_engine_id_ok (""));
  assert_true (moat_engine_id_ok ("0123abcdef"));
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_framings), cmocka_unit_test (test_refused),  cmocka_unit_test (test_head_cap),
    cmocka_unit_test (test_lines),    cmocka_unit_test (test_unix_url), cmocka_unit_test (test_events),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
