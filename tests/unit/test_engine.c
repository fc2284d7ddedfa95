/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The engine's on-disk formats: the record's status file, and the container
 * log as the monitor writes it (src/monitor/logfile.c) and `moat logs`
 * reads it back (src/engine/crilog.c). */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "engine/crilog.h"
#include "engine/status.h"
#include "monitor/logfile.h"
#include "util/fs.h"

static void
test_status_roundtrip (void **state)
{
  struct moat_engine_status a = { .state = MOAT_ENGINE_RESTARTING, .pid = 42, .exit_code = 137, .oom_killed = true,
                                  .restart_count = 3, .started_at = 1795451997680662800LL, .finished_at = 7,
                                  .health = MOAT_HEALTH_UNHEALTHY, .failing_streak = 9, .monitor_pid = 5,
                                  .monitor_start = 123456789 };
  struct moat_engine_status b;
  char buf[1024];

  snprintf (a.error, sizeof a.error, "two\nlines");
  moat_engine_status_format (&a, buf, sizeof buf);
  moat_engine_status_parse (buf, &b);
  assert_int_equal (b.state, a.state);
  assert_int_equal (b.pid, 42);
  assert_int_equal (b.exit_code, 137);
  assert_true (b.oom_killed);
  assert_int_equal (b.restart_count, 3);
  assert_true (b.started_at == a.started_at);
  assert_int_equal (b.health, MOAT_HEALTH_UNHEALTHY);
  assert_int_equal (b.failing_streak, 9);
  assert_true (b.monitor_start == 123456789);
  /* The error keeps to its one line: no newline can inject a key. */
  assert_string_equal (b.error, "two lines");
}

static void
test_status_garbage (void **state)
{
  struct moat_engine_status st;

  moat_engine_status_parse ("state=bogus\npid=\n=x\nno-equals\nexit_code=-3", &st);
  assert_int_equal (st.state, MOAT_ENGINE_CREATED);
  assert_int_equal (st.pid, 0);
  assert_int_equal (st.exit_code, -3);
}

static void
test_rfc3339 (void **state)
{
  char buf[MOAT_RFC3339_NS_LEN + 1];

  moat_format_rfc3339_ns (1795451997000000042LL, buf);
  assert_string_equal (buf, "2026-11-23T16:39:57.000000042Z");
  assert_int_equal (strlen (buf), MOAT_RFC3339_NS_LEN);
}

static char dir[] = "/tmp/moat-unit-engine.XXXXXX";
static int dirfd_;

static int
setup (void **state)
{
  if (mkdtemp (dir) == NULL)
    return -1;
  dirfd_ = open (dir, O_RDONLY | O_DIRECTORY);
  return dirfd_ < 0 ? -1 : 0;
}

static int
teardown (void **state)
{
  struct moat_error err;
  char *slash = strrchr (dir, '/');
  int parent = open ("/tmp", O_RDONLY | O_DIRECTORY);

  close (dirfd_);
  moat_rm_rf_at (parent, slash + 1, &err);
  close (parent);
  return 0;
}

static void
read_back (const char *name, struct moat_cri_lines *ls)
{
  char *text = NULL;
  size_t len;
  struct moat_error err;

  assert_int_equal (moat_read_file_at (dirfd_, name, 64 << 20, &text, &len, &err), 0);
  assert_int_equal (moat_cri_parse (ls, text, len), len);
  free (text);
}

static void
test_log_roundtrip (void **state)
{
  static struct mon_log log;
  struct moat_cri_lines ls = { 0 };
  char *long_line = malloc (MON_LINE_MAX * 2 + 10);

  unlinkat (dirfd_, "ctr.log", 0);
  assert_int_equal (mon_log_open (&log, dirfd_, 0, 1), 0);
  mon_log_data (&log, MON_STDOUT, "one\ntw", 6);
  mon_log_data (&log, MON_STDERR, "err\n", 4);
  mon_log_data (&log, MON_STDOUT, "o\n", 2);
  memset (long_line, 'x', MON_LINE_MAX * 2 + 9);
  long_line[MON_LINE_MAX * 2 + 9] = '\n';
  mon_log_data (&log, MON_STDOUT, long_line, MON_LINE_MAX * 2 + 10);
  mon_log_data (&log, MON_STDOUT, "last words", 10);
  read_back ("ctr.log", &ls);
  assert_int_equal (ls.n, 4);
  assert_memory_equal (ls.v[0].text, "one", 3);
  assert_false (ls.v[0].err);
  assert_true (ls.v[1].err);
  /* "tw" + "o": a P record joined with the F that ends it. */
  assert_int_equal (ls.v[2].len, 3);
  assert_memory_equal (ls.v[2].text, "two", 3);
  assert_int_equal (ls.v[3].len, MON_LINE_MAX * 2 + 9);
  /* The unfinished last line stays open for the reader to show as is. */
  assert_int_equal (ls.open[0].len, 10);
  moat_cri_lines_free (&ls);
  free (long_line);
  close (log.fd);
  close (log.dropped_fd);
}

static void
test_log_rotation (void **state)
{
  static struct mon_log log;
  struct stat st;
  char line[128];

  unlinkat (dirfd_, "ctr.log", 0);
  assert_int_equal (mon_log_open (&log, dirfd_, 4096, 3), 0);
  for (int i = 0; i < 1000; i++)
    {
      int n = snprintf (line, sizeof line, "line %d\n", i);
      mon_log_data (&log, MON_STDOUT, line, (size_t) n);
    }
  for (const char *f = "ctr.log"; f; f = strcmp (f, "ctr.log") == 0 ? "ctr.log.1" : strcmp (f, "ctr.log.1") == 0 ? "ctr.log.2" : NULL)
    {
      assert_int_equal (fstatat (dirfd_, f, &st, 0), 0);
      assert_true (st.st_size <= 4096);
    }
  assert_int_not_equal (fstatat (dirfd_, "ctr.log.3", &st, 0), 0);
  {
    struct moat_cri_lines ls = { 0 };
    read_back ("ctr.log", &ls);
    assert_string_equal (ls.v[ls.n - 1].text, "line 999");
    moat_cri_lines_free (&ls);
  }
  close (log.fd);
  close (log.dropped_fd);
}

static void
test_cri_rejects_malformed (void **state)
{
  struct moat_cri_lines ls = { 0 };
  const char *in = "garbage\n"
                   "2026-11-23T16:39:57.000000042Z stdin F x\n"
                   "2026-11-23T16:39:57.000000042Z stdout X x\n"
                   "2026-11-23T16:39:57.000000042Z stdout F\n"
                   "2026-11-23T16:39:57.000000042Z stdout F ok\n"
                   "2026-11-23T16:39:57.000000042Z stdout F unfinished";

  assert_int_equal (moat_cri_parse (&ls, in, strlen (in)), strrchr (in, '\n') - in + 1);
  assert_int_equal (ls.n, 1);
  assert_string_equal (ls.v[0].text, "ok");
  moat_cri_lines_free (&ls);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_status_roundtrip), cmocka_unit_test (test_status_garbage),
    cmocka_unit_test (test_rfc3339),          cmocka_unit_test (test_log_roundtrip),
    cmocka_unit_test (test_log_rotation),     cmocka_unit_test (test_cri_rejects_malformed),
  };
  return cmocka_run_group_tests (tests, setup, teardown);
}
