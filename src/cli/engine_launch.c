/* SPDX-License-Identifier: GPL-2.0-or-later */
/* `moat run -d`: the record of an engine container and the start of its
 * monitor (src/monitor/).  No daemon: the monitor is a child of this command
 * that outlives it, and every later command works on the record dir. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/engine.h"
#include "container/events_read.h"
#include "container/state.h"
#include "policy/policy.h"
#include "util/cleanup.h"
#include "util/fs.h"

#define NS 1000000000LL
#define DEFAULT_HEALTH_INTERVAL (30 * NS)
#define DEFAULT_HEALTH_TIMEOUT (30 * NS)
#define DEFAULT_HEALTH_RETRIES 3
#define DEFAULT_LOG_MAX_SIZE (10 << 20)
#define DEFAULT_LOG_MAX_FILES 2

static int
valid_restart (const char *s)
{
  long long n;

  if (strcmp (s, "no") == 0 || strcmp (s, "always") == 0 || strcmp (s, "unless-stopped") == 0
      || strcmp (s, "on-failure") == 0)
    return 1;
  return strncmp (s, "on-failure:", 11) == 0 && moat_parse_int (s + 11, 0, INT32_MAX, &n) == 0;
}

static int
parse_log_opt (struct moat_engine_opts *o, const char *arg, struct moat_error *err)
{
  long long n;
  int64_t size;

  if (strncmp (arg, "max-size=", 9) == 0)
    {
      if (moat_parse_size (arg + 9, &size) < 0 || size < 4096)
        return moat_usage (err, "--log-opt max-size: not a size of at least 4k `%s`", arg + 9);
      o->log_max_size = (uint64_t) size;
      return 0;
    }
  if (strncmp (arg, "max-file=", 9) == 0)
    {
      if (moat_parse_int (arg + 9, 1, 100, &n) < 0)
        return moat_usage (err, "--log-opt max-file: not a count in [1, 100] `%s`", arg + 9);
      o->log_max_files = n;
      return 0;
    }
  return moat_usage (err, "--log-opt: only max-size=SIZE and max-file=N are supported, not `%s`", arg);
}

int
moat_engine_parse_opt (struct moat_engine_opts *o, const char *name, const char *arg, struct moat_error *err)
{
  int64_t *dur = NULL;

  if (strcmp (name, "restart") == 0)
    {
      if (!valid_restart (arg))
        return moat_usage (err, "--restart: want no, on-failure[:N], always or unless-stopped, not `%s`", arg);
      o->restart = arg;
      return 0;
    }
  if (strcmp (name, "health-cmd") == 0)
    {
      o->health_cmd = arg;
      return 0;
    }
  if (strcmp (name, "no-healthcheck") == 0)
    {
      o->no_healthcheck = true;
      return 0;
    }
  if (strcmp (name, "health-retries") == 0)
    {
      if (moat_parse_int (arg, 1, 1000000, &o->health_retries) < 0)
        return moat_usage (err, "--health-retries: not a count `%s`", arg);
      return 0;
    }
  if (strcmp (name, "log-opt") == 0)
    return parse_log_opt (o, arg, err);
  if (strcmp (name, "health-interval") == 0)
    dur = &o->health_interval;
  else if (strcmp (name, "health-timeout") == 0)
    dur = &o->health_timeout;
  else if (strcmp (name, "health-start-period") == 0)
    dur = &o->health_start_period;
  else
    return -2;
  if (moat_event_parse_duration (arg, dur) < 0 || (*dur < NS / 1000 && dur != &o->health_start_period))
    return moat_usage (err, "--%s: not a duration such as 30s or 1m30s `%s`", name, arg);
  return 0;
}

int
moat_engine_opts_need_detach (const struct moat_engine_opts *o, struct moat_error *err)
{
  const char *flag = NULL;

  if (o->restart && strcmp (o->restart, "no") != 0)
    flag = "--restart";
  else if (o->health_cmd)
    flag = "--health-cmd";
  else if (o->log_max_size || o->log_max_files)
    flag = "--log-opt";
  if (flag)
    return moat_usage (err, "%s needs -d: only a detached container has a monitor to apply it", flag);
  return 0;
}


/* The health check: flags first, then the image's HEALTHCHECK, then
   Docker's defaults.  *ARGV is NULL when there is none. */
static int
resolve_health (const struct moat_engine_launch *l, json_t **argv, json_t **health, struct moat_error *err)
{
  const struct moat_engine_opts *o = l->opts;
  json_t *img = l->image_health, *test = json_object_get (img, "Test");
  const char *kind = json_string_value (json_array_get (test, 0));
  json_int_t interval, timeout, retries, start;

  *argv = NULL;
  *health = NULL;
  if (o->no_healthcheck)
    return 0;
  if (o->health_cmd)
    *argv = json_pack ("[sss]", "/bin/sh", "-c", o->health_cmd);
  else if (kind && strcmp (kind, "CMD") == 0 && json_array_size (test) > 1)
    {
      *argv = json_array ();
      for (size_t i = 1; *argv && i < json_array_size (test); i++)
        if (!json_is_string (json_array_get (test, i)) || json_array_append (*argv, json_array_get (test, i)) < 0)
          return moat_err (err, EINVAL, "the image's HEALTHCHECK is not a list of strings");
    }
  else if (kind && strcmp (kind, "CMD-SHELL") == 0 && json_is_string (json_array_get (test, 1)))
    *argv = json_pack ("[ssO]", "/bin/sh", "-c", json_array_get (test, 1));
  else
    return 0;
  if (*argv == NULL)
    return moat_err (err, ENOMEM, "health check");
  interval = o->health_interval ? o->health_interval : json_integer_value (json_object_get (img, "Interval"));
  timeout = o->health_timeout ? o->health_timeout : json_integer_value (json_object_get (img, "Timeout"));
  start = o->health_start_period ? o->health_start_period : json_integer_value (json_object_get (img, "StartPeriod"));
  retries = o->health_retries ? o->health_retries : json_integer_value (json_object_get (img, "Retries"));
  *health = json_pack ("{s:O, s:I, s:I, s:I, s:I}", "test", *argv, "interval",
                       interval > 0 ? interval : DEFAULT_HEALTH_INTERVAL, "timeout",
                       timeout > 0 ? timeout : DEFAULT_HEALTH_TIMEOUT, "start_period", start > 0 ? start : 0,
                       "retries", retries > 0 ? retries : DEFAULT_HEALTH_RETRIES);
  return *health ? 0 : moat_err (err, ENOMEM, "health check");
}

static json_t *
build_meta (const struct moat_engine_launch *l, const char *cgroup, json_t *health)
{
  const struct moat_engine_opts *o = l->opts;
  json_t *args = json_object_get (json_object_get (l->config, "process"), "args");
  int64_t now = moat_now_ns ();
  char created[MOAT_RFC3339_NS_LEN + 1];

  moat_format_rfc3339_ns (now, created);
  return json_pack ("{s:s, s:s, s:s, s:O, s:s, s:I, s:s, s:O, s:{s:I, s:I}, s:s, s:s, s:b}", "id", l->id, "name",
                    l->id, "image", l->image, "command", args ? args : json_null (), "created", created,
                    "created_ns", (json_int_t) now, "restart",
                    o->restart ? o->restart : "no", "health", health ? health : json_null (), "log", "max_size",
                    (json_int_t) (o->log_max_size ? o->log_max_size : DEFAULT_LOG_MAX_SIZE), "max_files",
                    (json_int_t) (o->log_max_files ? o->log_max_files : DEFAULT_LOG_MAX_FILES), "secrets",
                    l->secrets ? l->secrets : "", "cgroup", cgroup, "remove", l->remove);
}

static int
write_json (int dirfd, const char *name, json_t *doc, struct moat_error *err)
{
  cleanup_free char *text = json_dumps (doc, JSON_INDENT (2) | JSON_PRESERVE_ORDER);

  if (text == NULL)
    return moat_err (err, ENOMEM, "%s", name);
  return moat_write_file_atomic (dirfd, name, text, strlen (text), 0600, err);
}

/* Create <root>/.engine/<id>; a name in use (a record, or an OCI container
   of that id) is refused. */
static int
make_record (struct moat_cli *cli, const char *id, char *root, int *enginefd, int *dirfd, struct moat_error *err)
{
  cleanup_fd int rootfd = -1;
  struct stat st;

  if (moat_state_root_open (cli->ctx.root, &rootfd, err) < 0)
    return -1;
  if (moat_fd_path (rootfd, root, PATH_MAX, err) < 0)
    return -1;
  if (mkdirat (rootfd, MOAT_ENGINE_DIR, 0700) < 0 && errno != EEXIST)
    return moat_err (err, errno, "create `%s/" MOAT_ENGINE_DIR "`", root);
  *enginefd = openat (rootfd, MOAT_ENGINE_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
  if (*enginefd < 0)
    return moat_err (err, errno, "open `%s/" MOAT_ENGINE_DIR "`", root);
  if (fstatat (rootfd, id, &st, AT_SYMLINK_NOFOLLOW) == 0 || (mkdirat (*enginefd, id, 0700) < 0 && errno == EEXIST))
    return moat_err (err, 0, "the container name `%s` is already in use (moat rm it first)", id);
  if (errno && faccessat (*enginefd, id, F_OK, AT_SYMLINK_NOFOLLOW) < 0)
    return moat_err (err, errno, "create the record of `%s`", id);
  *dirfd = openat (*enginefd, id, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
  if (*dirfd < 0)
    return moat_err (err, errno, "open the record of `%s`", id);
  return 0;
}

#define MON_ARGV_MAX 64

struct mon_args
{
  char *v[MON_ARGV_MAX];
  char nums[8][24];
  size_t n, nnum;
};

static void
arg (struct mon_args *a, const char *s)
{
  if (a->n < MON_ARGV_MAX - 1)
    a->v[a->n++] = (char *) s;
}

static void
arg_num (struct mon_args *a, const char *opt, long long v)
{
  arg (a, opt);
  snprintf (a->nums[a->nnum], sizeof a->nums[0], "%lld", v);
  arg (a, a->nums[a->nnum++]);
}

/* The monitor's environment: nothing of ours but what moat's own commands
   read (the admission policy, the events settings), and a sanitizer build's
   options, which the moat commands it runs must keep. */
static void
monitor_env (char **env, size_t max)
{
  static const char *const keep[] = { "MOAT_POLICY",  "MOAT_EVENTS_MAX_BYTES", "MOAT_EVENTS_SYSLOG",
                                      "ASAN_OPTIONS", "UBSAN_OPTIONS",         "LSAN_OPTIONS" };
  size_t n = 0;

  env[n++] = (char *) "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  for (size_t i = 0; i < sizeof keep / sizeof *keep && n < max - 1; i++)
    {
      const char *v = getenv (keep[i]);
      char *kv;
      if (v && asprintf (&kv, "%s=%s", keep[i], v) > 0)
        env[n++] = kv;
    }
  env[n] = NULL;
}

/* Fork the monitor with a clean slate: its own session, /dev/null as stdio
   (nothing of ours kept open: a caller waiting for our stdout to close must
   not wait for the container), only the report pipe as fd 3. */
static pid_t
fork_monitor (const char *path, struct mon_args *a, int report_w)
{
  char *env[12];
  pid_t pid;

  monitor_env (env, 12);
  pid = fork ();
  if (pid != 0)
    return pid;
  {
    sigset_t none;
    int null = open ("/dev/null", O_RDWR);

    sigemptyset (&none);
    sigprocmask (SIG_SETMASK, &none, NULL);
    setsid ();
    if (null < 0 || dup2 (null, 0) < 0 || dup2 (null, 1) < 0 || dup2 (null, 2) < 0 || dup2 (report_w, 3) < 0)
      _exit (127);
    close_range (4, ~0U, 0);
    execve (path, a->v, env);
    _exit (127);
  }
}

/* The error lines moat wrote to the record's moat.log (JSON lines), joined. */
static void
moat_log_errors (int dirfd, struct moat_error *err, int rc)
{
  cleanup_free char *text = NULL;
  struct moat_error ignored;
  char *line, *save = NULL;
  size_t len, off = 0;

  moat_err (err, 0, "the container did not start (exit status %d)", rc);
  if (moat_read_file_at (dirfd, "moat.log", 1 << 20, &text, &len, &ignored) < 0)
    return;
  for (line = strtok_r (text, "\n", &save); line; line = strtok_r (NULL, "\n", &save))
    {
      json_auto_t *j = json_loads (line, 0, NULL);
      const char *msg = json_string_value (json_object_get (j, "msg"));
      if (msg == NULL || strcmp (json_string_value (json_object_get (j, "level")) ?: "", "error") != 0)
        continue;
      /* "create: why" -> "why": the front end prints its own prefix. */
      if (strncmp (msg, "create: ", 8) == 0 || strncmp (msg, "start: ", 7) == 0)
        msg = strchr (msg, ' ') + 1;
      off += (size_t) snprintf (err->msg + off, off < sizeof err->msg ? sizeof err->msg - off : 0, "%s%s",
                                off ? "\n" : "", msg);
      if (off >= sizeof err->msg)
        break;
    }
}

static int
find_helpers (struct moat_cli *cli, char *moat, char *monitor, struct moat_error *err)
{
  char dir[PATH_MAX - 32];

  if (moat_exe_dir (cli->full_argv[0], dir, sizeof dir, err) < 0)
    return -1;
  snprintf (moat, PATH_MAX, "%s/moat", dir);
  snprintf (monitor, PATH_MAX, "%s/moat-monitor", dir);
  if (access (monitor, X_OK) < 0)
    /* In a meson build tree it is built in src/monitor/. */
    snprintf (monitor, PATH_MAX, "%s/src/monitor/moat-monitor", dir);
  if (access (moat, X_OK) < 0)
    return moat_err (err, errno, "cannot find moat itself at `%s`", moat);
  if (access (monitor, X_OK) < 0)
    return moat_err (err, errno, "cannot find the monitor `%s/moat-monitor` (it is installed next to moat)", dir);
  return 0;
}

static void
monitor_args (struct mon_args *a, const struct moat_engine_launch *l, const char *root, const char *moat,
              const char *cgroup, json_t *health, json_t *health_argv)
{
  const struct moat_engine_opts *o = l->opts;
  size_t i;
  json_t *v;

  arg (a, "moat-monitor");
  arg (a, "--root");
  arg (a, root);
  arg (a, "--id");
  arg (a, l->id);
  arg (a, "--moat");
  arg (a, moat);
  arg (a, "--cgroup");
  arg (a, cgroup);
  arg (a, "--name");
  arg (a, l->id);
  arg (a, "--image");
  arg (a, l->image);
  if (l->secrets && *l->secrets)
    {
      arg (a, "--secrets");
      arg (a, l->secrets);
    }
  arg (a, "--restart");
  arg (a, o->restart ? o->restart : "no");
  if (l->remove)
    arg (a, "--rm");
  arg_num (a, "--log-max-size", o->log_max_size ? (long long) o->log_max_size : DEFAULT_LOG_MAX_SIZE);
  arg_num (a, "--log-max-files", o->log_max_files ? o->log_max_files : DEFAULT_LOG_MAX_FILES);
  arg_num (a, "--report-fd", 3);
  if (health)
    {
      arg_num (a, "--health-interval", json_integer_value (json_object_get (health, "interval")));
      arg_num (a, "--health-timeout", json_integer_value (json_object_get (health, "timeout")));
      arg_num (a, "--health-start-period", json_integer_value (json_object_get (health, "start_period")));
      arg_num (a, "--health-retries", json_integer_value (json_object_get (health, "retries")));
      arg (a, "--");
      json_array_foreach (health_argv, i, v)
        arg (a, json_string_value (v));
    }
  a->v[a->n] = NULL;
}

/* Wait for the monitor's word on the first start: "ok\n" or "err RC\n". */
static int
wait_report (int report_r, int *rc)
{
  char buf[64];
  size_t off = 0;
  ssize_t n;

  while (off < sizeof buf - 1 && (n = read (report_r, buf + off, sizeof buf - 1 - off)) != 0)
    {
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        break;
      off += (size_t) n;
    }
  buf[off] = '\0';
  if (strcmp (buf, "ok\n") == 0)
    return *rc = 0;
  if (sscanf (buf, "err %d", rc) == 1)
    return 0;
  return -1;
}

int
moat_engine_launch (struct moat_cli *cli, const struct moat_engine_launch *l, struct moat_error *err)
{
  char root[PATH_MAX], moat[PATH_MAX], monitor[PATH_MAX], cgroup[PATH_MAX];
  cleanup_fd int enginefd = -1, dirfd = -1;
  json_auto_t *health = NULL, *health_argv = NULL, *meta = NULL;
  const char *cgpath = json_string_value (json_object_get (json_object_get (l->config, "linux"), "cgroupsPath"));
  struct mon_args a = { 0 };
  struct moat_error ignored;
  int report[2], rc = 1, status = MOAT_CLI_ERROR;
  pid_t pid;

  if (find_helpers (cli, moat, monitor, err) < 0 || resolve_health (l, &health_argv, &health, err) < 0)
    return MOAT_CLI_ERROR;
  if (make_record (cli, l->id, root, &enginefd, &dirfd, err) < 0)
    return MOAT_CLI_ERROR;
  snprintf (cgroup, sizeof cgroup, "%s%s", cgpath && *cgpath ? "" : "/moat/", cgpath && *cgpath ? cgpath : l->id);
  meta = build_meta (l, cgroup, health);
  if (meta == NULL)
    moat_err (err, ENOMEM, "record");
  else if (write_json (dirfd, "config.json", l->config, err) < 0 || write_json (dirfd, "meta.json", meta, err) < 0)
    ;
  else if (pipe2 (report, O_CLOEXEC) < 0)
    moat_err (err, errno, "pipe");
  else
    {
      monitor_args (&a, l, root, moat, cgroup, health, health_argv);
      pid = fork_monitor (monitor, &a, report[1]);
      close (report[1]);
      if (pid < 0)
        moat_err (err, errno, "start the monitor");
      else if (wait_report (report[0], &rc) < 0)
        moat_err (err, 0, "the monitor `%s` failed before starting the container", monitor);
      else if (rc == 0)
        {
          printf ("%s\n", l->id);
          status = 0;
        }
      else
        {
          moat_log_errors (dirfd, err, rc);
          if (rc == 3)
            {
              err->code = MOAT_EPOLICY;
              status = MOAT_CLI_DENY;
            }
        }
      close (report[0]);
      if (status != 0 && pid > 0)
        waitpid (pid, NULL, 0);
    }
  if (status != 0)
    moat_rm_rf_at (enginefd, l->id, &ignored);
  return status;
}
