/* SPDX-License-Identifier: GPL-2.0-or-later */
/* container/events.c: the events log writer (shape, escaping, rotation,
 * concurrent writers, the syslog mirror). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "container/events.h"
#include "container/events_read.h"
#include "util/cleanup.h"
#include "util/fs.h"

#include "test_child.h"

static char tmpdir[64];

static int
setup (void **state)
{
  (void) state;
  strcpy (tmpdir, "/tmp/moat-events.XXXXXX");
  unsetenv (MOAT_EVENTS_MAX_BYTES_ENV);
  unsetenv (MOAT_EVENTS_SYSLOG_ENV);
  return mkdtemp (tmpdir) ? 0 : -1;
}

static int
teardown (void **state)
{
  struct moat_error err = { 0 };
  (void) state;
  unsetenv (MOAT_EVENTS_MAX_BYTES_ENV);
  unsetenv (MOAT_EVENTS_SYSLOG_ENV);
  return moat_rm_rf_at (AT_FDCWD, tmpdir, &err);
}

static json_t *
parse_line (const char *line)
{
  json_error_t je;
  json_t *j = json_loads (line, JSON_REJECT_DUPLICATES, &je);
  if (j == NULL)
    fail_msg ("not JSON: %s (%s)", line, je.text);
  return j;
}

static const char *
jstr (json_t *j, const char *path1, const char *path2, const char *path3)
{
  json_t *v = json_object_get (j, path1);
  if (path2)
    v = json_object_get (v, path2);
  if (path3)
    v = json_object_get (v, path3);
  return json_string_value (v);
}

static void
test_format_docker_shape (void **state)
{
  struct moat_event_attr a[] = { { "name", "web" }, { "image", "busybox:latest" }, { "skipped", NULL },
                                 { "exitCode", "0" } };
  char buf[1024];
  int n;
  json_t *j;

  (void) state;
  n = moat_event_format (buf, sizeof buf, "die", "c1", a, 4, 1700000000123456789LL);
  assert_true (n > 0);
  assert_int_equal ((size_t) n, strlen (buf));
  assert_int_equal (buf[n - 1], '\n');
  assert_ptr_equal (strchr (buf, '\n'), buf + n - 1);
  j = parse_line (buf);
  assert_string_equal (jstr (j, "Type", NULL, NULL), "container");
  assert_string_equal (jstr (j, "Action", NULL, NULL), "die");
  assert_string_equal (jstr (j, "status", NULL, NULL), "die");
  assert_string_equal (jstr (j, "id", NULL, NULL), "c1");
  assert_string_equal (jstr (j, "from", NULL, NULL), "busybox:latest");
  assert_string_equal (jstr (j, "scope", NULL, NULL), "local");
  assert_string_equal (jstr (j, "Actor", "ID", NULL), "c1");
  assert_string_equal (jstr (j, "Actor", "Attributes", "name"), "web");
  assert_string_equal (jstr (j, "Actor", "Attributes", "exitCode"), "0");
  assert_null (json_object_get (json_object_get (json_object_get (j, "Actor"), "Attributes"), "skipped"));
  assert_int_equal (json_integer_value (json_object_get (j, "time")), 1700000000);
  assert_int_equal (json_integer_value (json_object_get (j, "timeNano")), 1700000000123456789LL);
  json_decref (j);

  /* no image: no "from"; no attributes: an empty object */
  n = moat_event_format (buf, sizeof buf, "start", "c2", NULL, 0, 1);
  assert_true (n > 0);
  j = parse_line (buf);
  assert_null (json_object_get (j, "from"));
  assert_int_equal (json_object_size (json_object_get (json_object_get (j, "Actor"), "Attributes")), 0);
  json_decref (j);

  /* too small a buffer: refused, never a truncated line */
  assert_int_equal (moat_event_format (buf, 40, "start", "c2", NULL, 0, 1), -EMSGSIZE);
}

static void
test_escape_arbitrary_bytes (void **state)
{
  static const char nasty[] = "q\"b\\n\nt\tc\x01\x1f del\x7f"
                              "utf8:\xc3\xa9\xe2\x82\xac\xf0\x9f\x90\xb3 "
                              "bad:\xff\xc3 overlong:\xc0\xaf surrogate:\xed\xa0\x80 trunc:\xe2\x82";
  struct moat_event_attr a[] = { { "reason", nasty }, { "k\"ey\n", "v" } };
  char buf[2048];
  const char *r;
  json_t *j;
  int n;

  (void) state;
  n = moat_event_format (buf, sizeof buf, "policy_deny", "id\x01x", a, 2, 0);
  assert_true (n > 0);
  /* one line: the only newline is the terminator */
  assert_ptr_equal (strchr (buf, '\n'), buf + n - 1);
  j = parse_line (buf);
  r = jstr (j, "Actor", "Attributes", "reason");
  assert_non_null (r);
  assert_string_equal (r, "q\"b\\n\nt\tc\x01\x1f del\x7f"
                          "utf8:\xc3\xa9\xe2\x82\xac\xf0\x9f\x90\xb3 "
                          "bad:\xef\xbf\xbd\xef\xbf\xbd overlong:\xef\xbf\xbd\xef\xbf\xbd "
                          "surrogate:\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd trunc:\xef\xbf\xbd\xef\xbf\xbd");
  assert_string_equal (jstr (j, "id", NULL, NULL), "id\x01x");
  assert_string_equal (jstr (j, "Actor", "Attributes", "k\"ey\n"), "v");
  json_decref (j);
  /* control characters never appear raw */
  for (r = buf; r < buf + n - 1; r++)
    assert_true ((unsigned char) *r >= 0x20 && *r != 0x7f);
}

static char *
read_all (const char *name)
{
  char path[256];
  char *text = NULL;
  size_t len;
  struct moat_error err;

  snprintf (path, sizeof path, "%s/%s", tmpdir, name);
  if (moat_read_file_at (AT_FDCWD, path, 64 << 20, &text, &len, &err) < 0)
    return NULL;
  return text;
}

/* Every line parses; returns how many there are. */
static size_t
check_lines (const char *text)
{
  size_t n = 0;
  const char *p = text;

  while (p && *p)
    {
      const char *nl = strchr (p, '\n');
      char *line;
      assert_non_null (nl);
      line = strndup (p, (size_t) (nl - p));
      json_decref (parse_line (line));
      free (line);
      n++;
      p = nl + 1;
    }
  return n;
}

static void
test_emit_appends_and_creates_root (void **state)
{
  char root[128];
  struct moat_event_attr a[] = { { "signal", "15" } };
  cleanup_free char *text = NULL;
  struct stat st;

  (void) state;
  snprintf (root, sizeof root, "%s/state", tmpdir);
  assert_int_equal (moat_event_emit (root, "create", "c1", NULL, 0), 0);
  assert_int_equal (moat_event_emit (root, "kill", "c1", a, 1), 0);
  assert_int_equal (stat (root, &st), 0);
  assert_int_equal (st.st_mode & 07777, 0700);
  snprintf (root, sizeof root, "state/%s", MOAT_EVENTS_FILE);
  text = read_all (root);
  assert_non_null (text);
  assert_int_equal (check_lines (text), 2);
  assert_non_null (strstr (text, "\"Action\":\"kill\""));
  assert_non_null (strstr (text, "\"signal\":\"15\""));
  /* a bad argument is an error, not a crash */
  assert_int_equal (moat_event_emit (NULL, "x", "y", NULL, 0), -EINVAL);
  assert_int_equal (moat_event_emit ("/proc/nonexistent/dir", "x", "y", NULL, 0), -ENOENT);
}

static void
test_emit_long_and_too_long (void **state)
{
  size_t big = 20000;
  cleanup_free char *v = malloc (MOAT_EVENT_LINE_MAX + 1);
  cleanup_free char *text = NULL;
  struct moat_event_attr a[] = { { "rules", v } };

  (void) state;
  memset (v, 'r', big);
  v[big] = '\0';
  /* longer than the writer's stack buffer */
  assert_int_equal (moat_event_emit (tmpdir, "policy_deny", "c", a, 1), 0);
  memset (v, 'r', MOAT_EVENT_LINE_MAX);
  v[MOAT_EVENT_LINE_MAX] = '\0';
  assert_int_equal (moat_event_emit (tmpdir, "policy_deny", "c", a, 1), -EMSGSIZE);
  text = read_all (MOAT_EVENTS_FILE);
  assert_int_equal (check_lines (text), 1);
  assert_true (strlen (text) > big);
}

static void
test_rotation_keeps_one_old_file (void **state)
{
  cleanup_free char *cur = NULL, *old = NULL;
  char id[32];
  int i;
  size_t n_cur, n_old;

  (void) state;
  setenv (MOAT_EVENTS_MAX_BYTES_ENV, "2000", 1);
  for (i = 0; i < 100; i++)
    {
      snprintf (id, sizeof id, "c%d", i);
      assert_int_equal (moat_event_emit (tmpdir, "start", id, NULL, 0), 0);
    }
  cur = read_all (MOAT_EVENTS_FILE);
  old = read_all (MOAT_EVENTS_FILE_OLD);
  assert_non_null (cur);
  assert_non_null (old);
  assert_true (strlen (cur) <= 2000);
  assert_true (strlen (old) <= 2000);
  n_cur = check_lines (cur);
  n_old = check_lines (old);
  assert_true (n_cur > 0 && n_old > 0);
  /* the newest event is last in the current file, and .1 holds the ones
     just before the current file's first */
  assert_non_null (strstr (cur, "\"id\":\"c99\""));
  snprintf (id, sizeof id, "\"id\":\"c%zu\"", 99 - n_cur);
  assert_non_null (strstr (old, id));
  /* a bad cap falls back to the default (no rotation of this small log) */
  setenv (MOAT_EVENTS_MAX_BYTES_ENV, "12abc", 1);
  assert_int_equal (moat_event_emit (tmpdir, "start", "more", NULL, 0), 0);
  free (cur);
  cur = read_all (MOAT_EVENTS_FILE);
  assert_int_equal (check_lines (cur), n_cur + 1);
}

/* Eight processes, 200 events each, a cap that forces many rotations: every
   line of both files is a whole event, and with a cap large enough to
   rotate never, all 1600 are there. */
static void
concurrent (const char *cap, size_t *total)
{
  cleanup_free char *cur = NULL, *old = NULL;
  pid_t pids[8];
  int i, status;

  setenv (MOAT_EVENTS_MAX_BYTES_ENV, cap, 1);
  for (i = 0; i < 8; i++)
    {
      pids[i] = fork ();
      assert_true (pids[i] >= 0);
      if (pids[i] == 0)
        {
          char id[32], val[300];
          int k;
          memset (val, 'a' + i, sizeof val - 1);
          val[sizeof val - 1] = '\0';
          for (k = 0; k < 200; k++)
            {
              struct moat_event_attr a[] = { { "name", val } };
              snprintf (id, sizeof id, "p%d-%d", i, k);
              CHILD_CHECK (moat_event_emit (tmpdir, "exec_start", id, a, 1) == 0);
            }
          child_exit (0);
        }
    }
  for (i = 0; i < 8; i++)
    {
      assert_int_equal (waitpid (pids[i], &status, 0), pids[i]);
      assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 0);
    }
  cur = read_all (MOAT_EVENTS_FILE);
  old = read_all (MOAT_EVENTS_FILE_OLD);
  *total = check_lines (cur) + (old ? check_lines (old) : 0);
}

static void
test_concurrent_writers_whole_lines (void **state)
{
  size_t total;

  (void) state;
  concurrent ("50000", &total);
  assert_true (total > 0);
  teardown (state);
  setup (state);
  concurrent ("100000000", &total);
  assert_int_equal (total, 1600);
}

static void
test_syslog_mirror (void **state)
{
  char sock[128], buf[8192];
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  cleanup_fd int s = socket (AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  struct moat_event_attr a[] = { { "rules", "moat.privileged" } };
  ssize_t n;
  char *json;
  json_t *j;

  (void) state;
  snprintf (sock, sizeof sock, "%s/log.sock", tmpdir);
  strcpy (addr.sun_path, sock);
  assert_true (s >= 0);
  assert_int_equal (bind (s, (struct sockaddr *) &addr, sizeof addr), 0);
  setenv (MOAT_EVENTS_SYSLOG_ENV, sock, 1);
  assert_int_equal (moat_event_emit (tmpdir, "policy_deny", "c9", a, 1), 0);
  n = recv (s, buf, sizeof buf - 1, MSG_DONTWAIT);
  assert_true (n > 0);
  buf[n] = '\0';
  /* LOG_DAEMON | LOG_WARNING, the tag, then the event as one JSON line */
  assert_memory_equal (buf, "<28>", 4);
  assert_non_null (strstr (buf, " moat["));
  json = strstr (buf, "]: {");
  assert_non_null (json);
  assert_null (strchr (buf, '\n'));
  j = parse_line (json + 3);
  assert_string_equal (jstr (j, "Actor", "Attributes", "rules"), "moat.privileged");
  json_decref (j);
  /* nobody listening: the event is still logged, nothing blocks */
  unlink (sock);
  assert_int_equal (moat_event_emit (tmpdir, "start", "c9", NULL, 0), 0);
}


/* ---- the reading side (events_read.c) --------------------------------- */

#define S 1000000000LL

static void
test_parse_duration (void **state)
{
  int64_t ns;

  (void) state;
  assert_int_equal (moat_event_parse_duration ("10m", &ns), 0);
  assert_int_equal (ns, 600 * S);
  assert_int_equal (moat_event_parse_duration ("1h30s", &ns), 0);
  assert_int_equal (ns, 3630 * S);
  assert_int_equal (moat_event_parse_duration ("1.5h", &ns), 0);
  assert_int_equal (ns, 5400 * S);
  assert_int_equal (moat_event_parse_duration ("250ms", &ns), 0);
  assert_int_equal (ns, 250000000);
  assert_int_equal (moat_event_parse_duration ("3us", &ns), 0);
  assert_int_equal (ns, 3000);
  assert_int_equal (moat_event_parse_duration ("0", &ns), 0);
  assert_int_equal (ns, 0);
  static const char *const bad[] = { "", "10", "m", "-5m", "5x", "1..5s", "5m ", "h1", "9999999999999h" };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_int_equal (moat_event_parse_duration (bad[i], &ns), -1);
}

static void
test_parse_time (void **state)
{
  int64_t now = 1700000000 * S, ns;

  (void) state;
  assert_int_equal (moat_event_parse_time ("10m", now, &ns), 0);
  assert_int_equal (ns, now - 600 * S);
  assert_int_equal (moat_event_parse_time ("1700000123", now, &ns), 0);
  assert_int_equal (ns, 1700000123 * S);
  assert_int_equal (moat_event_parse_time ("1700000123.5", now, &ns), 0);
  assert_int_equal (ns, 1700000123 * S + 500000000);
  assert_int_equal (moat_event_parse_time ("0", now, &ns), 0);
  assert_int_equal (ns, 0);
  assert_int_equal (moat_event_parse_time ("2023-11-14T22:13:20Z", now, &ns), 0);
  assert_int_equal (ns, 1700000000 * S);
  assert_int_equal (moat_event_parse_time ("2023-11-14T22:13:20.123456789Z", now, &ns), 0);
  assert_int_equal (ns, 1700000000 * S + 123456789);
  assert_int_equal (moat_event_parse_time ("2023-11-15T00:13:20+02:00", now, &ns), 0);
  assert_int_equal (ns, 1700000000 * S);
  assert_int_equal (moat_event_parse_time ("2023-11-14T20:13:20-0200", now, &ns), 0);
  assert_int_equal (ns, 1700000000 * S);
  setenv ("TZ", "UTC", 1);
  tzset ();
  assert_int_equal (moat_event_parse_time ("2023-11-14", now, &ns), 0);
  assert_int_equal (ns, (1700000000 - 80000) * S);
  assert_int_equal (moat_event_parse_time ("2023-11-14T22:13", now, &ns), 0);
  assert_int_equal (ns, (1700000000 - 20) * S);
  static const char *const bad[] = { "", "yesterday", "2023-13-01", "2023-11-14T25:00:00Z", "2023-11-14T22:13:20X",
                                     "2023-11-14T22:13:20.Z", "17e9", "1700000000.", "-10m", "2023-1-4",
                                     "99999999999999999999" };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    if (moat_event_parse_time (bad[i], now, &ns) != -1)
      fail_msg ("`%s` parsed as a time", bad[i]);
}

static json_t *
event (const char *action, const char *id, const char *name, const char *image)
{
  struct moat_event_attr a[] = { { "name", name }, { "image", image }, { "exitCode", "0" } };
  char buf[1024];

  assert_true (moat_event_format (buf, sizeof buf, action, id, a, 3, 1700000000123456789LL) > 0);
  return parse_line (buf);
}

static bool
matches (json_t *ev, const char *const *filters, size_t n)
{
  struct moat_event_filter f = { 0 };
  struct moat_error err;
  bool r;

  for (size_t i = 0; i < n; i++)
    assert_int_equal (moat_event_filter_add (&f, filters[i], &err), 0);
  r = moat_event_filter_match (&f, ev);
  moat_event_filter_free (&f);
  return r;
}

#define MATCH(ev, ...) matches (ev, (const char *const[]) { __VA_ARGS__ }, \
                                sizeof ((const char *const[]) { __VA_ARGS__ }) / sizeof (char *))

static void
test_filters (void **state)
{
  json_t *die = event ("die", "abcdef123", "web", "docker.io/library/busybox:1.36");
  json_t *ex = event ("exec_start: sh -c ls", "abcdef123", "web", NULL);
  struct moat_event_filter f = { 0 };
  struct moat_error err;

  (void) state;
  assert_true (MATCH (die, "type=container"));
  assert_true (MATCH (die, "event=die"));
  assert_true (MATCH (die, "action=die"));
  assert_false (MATCH (die, "event=start"));
  assert_true (MATCH (die, "event=start", "event=die"));      /* one key: OR */
  assert_false (MATCH (die, "event=die", "name=db"));         /* two keys: AND */
  assert_true (MATCH (die, "event=die,name=web"));            /* comma form */
  assert_true (MATCH (die, "container=abcdef123"));
  assert_true (MATCH (die, "container=abc"));                 /* id prefix */
  assert_true (MATCH (die, "container=web"));                 /* or the name */
  assert_true (MATCH (die, "id=abcdef123"));
  assert_false (MATCH (die, "container=we"));
  assert_true (MATCH (die, "name=web"));
  assert_true (MATCH (die, "image=docker.io/library/busybox:1.36"));
  assert_true (MATCH (die, "image=docker.io/library/busybox"));
  assert_false (MATCH (die, "image=docker.io/library/busy"));
  assert_true (MATCH (die, "label=exitCode"));
  assert_true (MATCH (die, "label=exitCode=0"));
  assert_false (MATCH (die, "label=exitCode=1"));
  assert_true (MATCH (ex, "event=exec_start"));
  assert_false (MATCH (ex, "event=exec"));
  assert_false (MATCH (ex, "image=busybox"));
  static const char *const bad[] = { "nokey", "foo=bar", "type=", "type=bogus", "name=a,zzz=b=c,event=" };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    {
      if (moat_event_filter_add (&f, bad[i], &err) != -1)
        fail_msg ("filter `%s` accepted", bad[i]);
      moat_event_filter_free (&f);
    }
  /* a comma not followed by KEY= belongs to the value */
  assert_int_equal (moat_event_filter_add (&f, "name=a,b", &err), 0);
  assert_int_equal (f.n, 1);
  assert_string_equal (f.v[0].value, "a,b");
  moat_event_filter_free (&f);
  json_decref (die);
  json_decref (ex);
}

static void
test_text_form (void **state)
{
  json_t *die = event ("die", "c1", "x\ny", "busybox");
  cleanup_free char *t = moat_event_text (die);

  (void) state;
  assert_non_null (t);
  assert_string_equal (t, "2023-11-14T22:13:20.123456789Z container die c1 (exitCode=0, image=busybox, name=x?y)");
  json_decref (die);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_format_docker_shape),
    cmocka_unit_test (test_escape_arbitrary_bytes),
    cmocka_unit_test_setup_teardown (test_emit_appends_and_creates_root, setup, teardown),
    cmocka_unit_test_setup_teardown (test_emit_long_and_too_long, setup, teardown),
    cmocka_unit_test_setup_teardown (test_rotation_keeps_one_old_file, setup, teardown),
    cmocka_unit_test_setup_teardown (test_concurrent_writers_whole_lines, setup, teardown),
    cmocka_unit_test_setup_teardown (test_syslog_mirror, setup, teardown),
    cmocka_unit_test (test_parse_duration),
    cmocka_unit_test (test_parse_time),
    cmocka_unit_test (test_filters),
    cmocka_unit_test (test_text_form),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
