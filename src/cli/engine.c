/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Docker's container commands on engine records: ps (without an id), stop,
 * rm, wait, inspect.  No daemon to ask: each reads the record dir, signals
 * the container through the OCI lifecycle and waits on the monitor's pidfd. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "cli/engine.h"
#include "cli/engine_record.h"
#include "container/events.h"
#include "util/cleanup.h"
#include "util/fs.h"

#define NS 1000000000LL

static void
ago (int64_t then_ns, char *buf, size_t size)
{
  int64_t s = (moat_now_ns () - then_ns) / NS;

  if (s < 1)
    snprintf (buf, size, "Less than a second");
  else if (s < 60)
    snprintf (buf, size, "%lld second%s", (long long) s, s == 1 ? "" : "s");
  else if (s < 3600)
    snprintf (buf, size, "%lld minute%s", (long long) (s / 60), s / 60 == 1 ? "" : "s");
  else if (s < 86400)
    snprintf (buf, size, "%lld hour%s", (long long) (s / 3600), s / 3600 == 1 ? "" : "s");
  else
    snprintf (buf, size, "%lld day%s", (long long) (s / 86400), s / 86400 == 1 ? "" : "s");
}

/* Docker's STATUS column: "Up 3 seconds (healthy)", "Exited (0) 5 seconds ago". */
static void
status_text (const struct moat_record *r, char *buf, size_t size)
{
  char t[48];
  const char *health = "";

  switch (moat_record_view (r))
    {
    case MOAT_VIEW_RUNNING:
      ago (r->st.started_at, t, sizeof t);
      if (r->st.health == MOAT_HEALTH_STARTING)
        health = " (health: starting)";
      else if (r->st.health == MOAT_HEALTH_HEALTHY)
        health = " (healthy)";
      else if (r->st.health == MOAT_HEALTH_UNHEALTHY)
        health = " (unhealthy)";
      snprintf (buf, size, "Up %s%s", t, health);
      break;
    case MOAT_VIEW_RESTARTING:
      ago (r->st.finished_at, t, sizeof t);
      snprintf (buf, size, "Restarting (%d) %s ago", r->st.exit_code, t);
      break;
    case MOAT_VIEW_EXITED:
      ago (r->st.finished_at ? r->st.finished_at : r->st.started_at, t, sizeof t);
      snprintf (buf, size, "Exited (%d) %s ago", r->st.exit_code, t);
      break;
    case MOAT_VIEW_CREATED:
      snprintf (buf, size, "Created");
      break;
    default:
      snprintf (buf, size, "Unknown (monitor died; moat rm -f cleans up)");
    }
}

static void
command_text (const struct moat_record *r, char *buf, size_t size)
{
  json_t *args = json_object_get (r->meta, "command"), *v;
  size_t i, off = 0;

  buf[0] = '\0';
  json_array_foreach (args, i, v)
    {
      int n = snprintf (buf + off, size - off, "%s%s", i ? " " : "", json_string_value (v) ?: "");
      if (n < 0 || (size_t) n >= size - off)
        break;
      off += (size_t) n;
    }
}

struct ps_opts
{
  bool all, json, quiet;
  size_t shown;
};

static int
ps_one (struct moat_record *r, void *data)
{
  struct ps_opts *o = data;
  enum moat_record_view v = moat_record_view (r);
  char status[96], created[48], cmd[256], quoted[32];
  const char *image = json_string_value (json_object_get (r->meta, "image")) ?: "";

  if (!o->all && v != MOAT_VIEW_RUNNING && v != MOAT_VIEW_RESTARTING && v != MOAT_VIEW_UNKNOWN)
    return 0;
  o->shown++;
  if (o->quiet)
    {
      printf ("%s\n", r->id);
      return 0;
    }
  status_text (r, status, sizeof status);
  command_text (r, cmd, sizeof cmd);
  if (o->json)
    {
      json_auto_t *j = json_pack (
          "{s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:s, s:i, s:i, s:s, s:i}", "Id", r->id, "Names", r->id, "Image",
          image, "Command", cmd, "CreatedAt", json_string_value (json_object_get (r->meta, "created")) ?: "",
          "Created", (json_int_t) (json_integer_value (json_object_get (r->meta, "created_ns")) / NS), "State",
          moat_record_view_name (v), "Status", status, "Pid", (int) r->st.pid, "ExitCode", r->st.exit_code,
          "Health", moat_health_name (r->st.health), "RestartCount", (int) r->st.restart_count);
      cleanup_free char *text = j ? json_dumps (j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
      if (text)
        printf ("%s\n", text);
      return 0;
    }
  ago (json_integer_value (json_object_get (r->meta, "created_ns")), created, sizeof created);
  snprintf (quoted, sizeof quoted, "\"%.*s%s\"", 20, cmd, strlen (cmd) > 20 ? "…" : "");
  printf ("%-20s %-28.28s %-24s %-16s %-34s %d\n", r->id, image, quoted, strcat (created, " ago"), status,
          (int) r->st.pid);
  return 0;
}

int
moat_engine_ps (struct moat_cli *cli, int argc, char **argv, struct moat_error *err)
{
  static const struct option opts[] = { { "all", no_argument, NULL, 'a' },
                                        { "format", required_argument, NULL, 'f' },
                                        { "quiet", no_argument, NULL, 'q' },
                                        { NULL, 0, NULL, 0 } };
  struct ps_opts o = { 0 };
  int c;

  optind = 0;
  while ((c = getopt_long (argc, argv, "+af:q", opts, NULL)) != -1)
    switch (c)
      {
      case 'a': o.all = true; break;
      case 'q': o.quiet = true; break;
      case 'f':
        if (strcmp (optarg, "json") == 0)
          o.json = true;
        else if (strcmp (optarg, "table") != 0)
          return moat_usage (err, "--format: must be table or json, not `%s`", optarg);
        break;
      default:
        return moat_usage (err, "bad option (usage: moat ps [-a] [-q] [--format table|json], or ps ID)");
      }
  if (optind != argc)
    return moat_usage (err, "usage: moat ps [-a] [-q] [--format table|json] (or ps [--format] ID)");
  if (!o.json && !o.quiet)
    printf ("%-20s %-28s %-24s %-16s %-34s %s\n", "NAME", "IMAGE", "COMMAND", "CREATED", "STATUS", "PID");
  return moat_record_foreach (cli, ps_one, &o, err) < 0 ? MOAT_CLI_ERROR : 0;
}

static void
emit (const struct moat_cli *cli, const struct moat_record *r, const char *action)
{
  struct moat_event_attr a[2] = { { "name", r->id }, { "image", json_string_value (json_object_get (r->meta, "image")) } };

  moat_event_emit (cli->ctx.root, action, r->id, a, 2);
}

/* Stop a record's container: mark the stop (the restart policy does not
   count it), SIGTERM the init, SIGKILL everything after TIMEOUT seconds,
   then wait for the monitor to record the exit. */
static int
stop_record (struct moat_cli *cli, struct moat_record *r, long long timeout, struct moat_error *err)
{
  cleanup_fd int marker = openat (r->dirfd, "stop", O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  struct moat_error ignored;
  struct moat_state st = { 0 };
  enum moat_record_view v = moat_record_view (r);

  if (marker < 0)
    return moat_err (err, errno, "container `%s`: mark the stop", r->id);
  if (v == MOAT_VIEW_EXITED)
    return 0;
  if (v == MOAT_VIEW_RESTARTING)
    {
      /* Wake the monitor out of its restart backoff (monitor.c). */
      cleanup_fd int mfd = moat_pidfd_checked (r->st.monitor_pid, r->st.monitor_start);
      if (mfd >= 0)
        syscall (SYS_pidfd_send_signal, mfd, SIGUSR1, NULL, 0);
    }
  if (v == MOAT_VIEW_UNKNOWN)
    {
      /* Nobody supervises it: kill and delete it here. */
      moat_container_delete (&cli->ctx, r->id, true, &ignored);
      return 0;
    }
  if (moat_container_load (&cli->ctx, r->id, &st, NULL, &ignored) == 0 && st.pid > 0)
    {
      cleanup_fd int pfd = moat_pidfd_checked (st.pid, st.pid_start);
      struct pollfd p = { .fd = pfd, .events = POLLIN };

      if (pfd >= 0)
        {
          if (timeout > 0)
            moat_container_kill (&cli->ctx, r->id, SIGTERM, false, &ignored);
          if (timeout <= 0 || poll (&p, 1, (int) (timeout > INT32_MAX / 1000 ? INT32_MAX : timeout * 1000)) == 0)
            moat_container_kill (&cli->ctx, r->id, SIGKILL, true, &ignored);
        }
    }
  moat_state_free (&st);
  /* The monitor reaps, deletes the OCI container and exits. */
  if (moat_record_wait_monitor (r, 30000) < 0)
    return moat_err (err, ETIMEDOUT, "container `%s`: its monitor did not finish within 30 s", r->id);
  emit (cli, r, "stop");
  return 0;
}

static int
parse_timeout (int argc, char **argv, const char *usage, long long *timeout, bool *force, struct moat_error *err)
{
  static const struct option opts[] = { { "time", required_argument, NULL, 't' },
                                        { "timeout", required_argument, NULL, 't' },
                                        { "force", no_argument, NULL, 'f' },
                                        { NULL, 0, NULL, 0 } };
  int c;

  optind = 0;
  while ((c = getopt_long (argc, argv, force ? "+f" : "+t:", opts, NULL)) != -1)
    {
      if (c == 't' && timeout && moat_parse_int (optarg, -1, INT32_MAX, timeout) == 0)
        continue;
      if (c == 't' && timeout)
        return moat_usage (err, "--time: not a number of seconds `%s`", optarg);
      if (c == 'f' && force)
        {
          *force = true;
          continue;
        }
      return moat_usage (err, "bad option (usage: %s)", usage);
    }
  if (optind >= argc)
    return moat_usage (err, "usage: %s", usage);
  return 0;
}

/* Apply FN to the record of each of the N NAMES, printing each name done
   (as docker does) and each failure; a failure among several names does
   not stop the others.  One name: its error goes up to main as usual. */
static int
each_record (struct moat_cli *cli, const char *cmd, int n, char **names,
             int (*fn) (struct moat_cli *, struct moat_record *, void *, struct moat_error *), void *data,
             struct moat_error *err)
{
  int failed = 0;

  for (int i = 0; i < n; i++)
    {
      struct moat_record rec;
      if (moat_record_load (cli, names[i], &rec, err) < 0 || fn (cli, &rec, data, err) < 0)
        {
          if (n == 1)
            {
              moat_record_free (&rec);
              return MOAT_CLI_ERROR;
            }
          fprintf (stderr, "moat: %s: %s\n", cmd, err->msg);
          failed = 1;
        }
      else
        printf ("%s\n", names[i]);
      moat_record_free (&rec);
    }
  return failed;
}

static int
stop_one (struct moat_cli *cli, struct moat_record *r, void *data, struct moat_error *err)
{
  return stop_record (cli, r, *(long long *) data, err);
}

int
cmd_stop (struct moat_cli *cli, int argc, char **argv, struct moat_error *err)
{
  long long timeout = 10;
  int r = parse_timeout (argc, argv, "moat stop [-t SECONDS] NAME...", &timeout, NULL, err);

  if (r < 0)
    return r;
  return each_record (cli, "stop", argc - optind, argv + optind, stop_one, &timeout, err);
}

/* Remove the record, after the container (rm -f stops it first). */
static int
rm_record (struct moat_cli *cli, struct moat_record *r, bool force, struct moat_error *err)
{
  enum moat_record_view v = moat_record_view (r);
  const char *secrets = json_string_value (json_object_get (r->meta, "secrets"));
  struct moat_error ignored;
  char engine[PATH_MAX];
  cleanup_fd int enginefd = -1;

  if (!force && v != MOAT_VIEW_EXITED)
    return moat_err (err, 0, "container `%s` is %s: stop it first or use rm -f", r->id,
                     moat_record_view_name (v));
  if (v != MOAT_VIEW_EXITED && stop_record (cli, r, 0, err) < 0)
    return -1;
  /* The monitor deletes the OCI container after every exit; this covers
     a monitor that died before it could. */
  moat_container_delete (&cli->ctx, r->id, true, &ignored);
  if (secrets && *secrets)
    {
      umount2 (secrets, MNT_DETACH);
      rmdir (secrets);
    }
  snprintf (engine, sizeof engine, "%s/" MOAT_ENGINE_DIR, cli->ctx.root);
  enginefd = open (engine, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (enginefd < 0 || moat_rm_rf_at (enginefd, r->id, err) < 0)
    return moat_error_wrap (err, "remove the record of `%s`", r->id);
  emit (cli, r, "destroy");
  return 0;
}

static int
rm_one (struct moat_cli *cli, struct moat_record *r, void *data, struct moat_error *err)
{
  return rm_record (cli, r, *(bool *) data, err);
}

int
cmd_rm (struct moat_cli *cli, int argc, char **argv, struct moat_error *err)
{
  bool force = false;
  int r = parse_timeout (argc, argv, "moat rm [-f] NAME...", NULL, &force, err);

  if (r < 0)
    return r;
  return each_record (cli, "rm", argc - optind, argv + optind, rm_one, &force, err);
}

/* Block until the container is not running any more (a restarting one is
   still running for Docker's `wait`), then print its exit code. */
int
cmd_wait (struct moat_cli *cli, int argc, char **argv, struct moat_error *err)
{
  int r = parse_timeout (argc, argv, "moat wait NAME...", NULL, NULL, err), status = 0;

  if (r < 0)
    return r;
  for (int i = optind; i < argc; i++)
    {
      struct moat_record rec;
      if (moat_record_load (cli, argv[i], &rec, err) < 0)
        {
          moat_record_free (&rec);
          return MOAT_CLI_ERROR;
        }
      moat_record_wait_monitor (&rec, -1);
      if (moat_engine_status_read (rec.dirfd, &rec.st, err) < 0)
        status = MOAT_CLI_ERROR;
      else
        printf ("%d\n", rec.st.exit_code);
      fflush (stdout);
      moat_record_free (&rec);
    }
  return status;
}

static json_t *
rfc3339 (int64_t ns)
{
  char buf[MOAT_RFC3339_NS_LEN + 1];

  /* Docker's zero time: never started, or never finished. */
  if (ns <= 0)
    return json_string ("0001-01-01T00:00:00Z");
  moat_format_rfc3339_ns (ns, buf);
  return json_string (buf);
}

/* The last health-check results (health.N files, oldest first). */
static json_t *
health_log (const struct moat_record *r)
{
  json_t *log = json_array ();
  struct { int64_t start, end; int rc; char *out; } e[MOAT_HEALTH_KEEP] = { 0 };
  size_t n = 0;

  for (int i = 0; i < MOAT_HEALTH_KEEP; i++)
    {
      char name[16], *text = NULL, *nl;
      struct moat_error ignored;
      long long s, t;
      size_t len;
      int rc;

      snprintf (name, sizeof name, "health.%d", i);
      if (moat_read_file_at (r->dirfd, name, 8192, &text, &len, &ignored) < 0)
        continue;
      nl = strchr (text, '\n');
      if (nl == NULL || sscanf (text, "%lld %lld %d", &s, &t, &rc) != 3)
        {
          free (text);
          continue;
        }
      e[n].start = s;
      e[n].end = t;
      e[n].rc = rc;
      e[n++].out = text;
    }
  for (size_t i = 0; i < n; i++)
    for (size_t j = i + 1; j < n; j++)
      if (e[j].start < e[i].start)
        {
          __typeof__ (e[0]) tmp = e[i];
          e[i] = e[j];
          e[j] = tmp;
        }
  for (size_t i = 0; i < n; i++)
    {
      const char *out = strchr (e[i].out, '\n') + 1;
      json_array_append_new (log, json_pack ("{s:o, s:o, s:i, s:s%}", "Start", rfc3339 (e[i].start), "End",
                                             rfc3339 (e[i].end), "ExitCode", e[i].rc, "Output", out,
                                             strlen (out)));
      free (e[i].out);
    }
  return log;
}

/* The config without what must not be shown: values of env entries that
   name a secret (secrets proper are files and never in the config). */
static json_t *
redacted_config (const struct moat_record *r)
{
  cleanup_free char *text = NULL;
  struct moat_error ignored;
  json_t *cfg, *env, *v;
  size_t len, i;

  if (moat_read_file_at (r->dirfd, "config.json", 4 << 20, &text, &len, &ignored) < 0)
    return json_null ();
  cfg = json_loadb (text, len, 0, NULL);
  env = json_object_get (json_object_get (cfg, "process"), "env");
  json_array_foreach (env, i, v)
    {
      const char *kv = json_string_value (v);
      if (kv && strchr (kv, '=') && moat_env_is_secret (kv))
        {
          char *red = NULL;
          if (asprintf (&red, "%.*s=<redacted>", (int) strcspn (kv, "="), kv) > 0)
            json_array_set_new (env, i, json_string (red));
          free (red);
        }
    }
  return cfg ? cfg : json_null ();
}

static json_t *
inspect_one (const struct moat_record *r)
{
  enum moat_record_view v = moat_record_view (r);
  json_t *meta = r->meta, *cmd = json_object_get (meta, "command"), *state, *health = json_object_get (meta, "health");
  json_t *args = json_array ();
  char dropped[32] = "0", restart[64];
  struct moat_error ignored;
  char *text = NULL, *colon;
  size_t len;

  if (moat_read_file_at (r->dirfd, "log.dropped", sizeof dropped, &text, &len, &ignored) == 0)
    {
      snprintf (dropped, sizeof dropped, "%s", text);
      free (text);
    }
  snprintf (restart, sizeof restart, "%s", json_string_value (json_object_get (meta, "restart")) ?: "no");
  colon = strchr (restart, ':');
  if (colon)
    *colon++ = '\0';
  for (size_t i = 1; i < json_array_size (cmd); i++)
    json_array_append (args, json_array_get (cmd, i));
  state = json_pack ("{s:s, s:b, s:b, s:b, s:b, s:b, s:i, s:i, s:s, s:o, s:o, s:{s:i, s:b}}", "Status",
                     moat_record_view_name (v), "Running", v == MOAT_VIEW_RUNNING, "Paused", 0, "Restarting",
                     v == MOAT_VIEW_RESTARTING, "OOMKilled", r->st.oom_killed, "Dead", v == MOAT_VIEW_UNKNOWN, "Pid",
                     (int) r->st.pid, "ExitCode", r->st.exit_code, "Error", r->st.error, "StartedAt",
                     rfc3339 (r->st.started_at), "FinishedAt", rfc3339 (r->st.finished_at), "Monitor", "Pid",
                     (int) r->st.monitor_pid, "Alive", r->monitor_alive);
  if (json_is_object (health))
    json_object_set_new (state, "Health",
                         json_pack ("{s:s, s:i, s:o}", "Status", moat_health_name (r->st.health), "FailingStreak",
                                    (int) r->st.failing_streak, "Log", health_log (r)));
  return json_pack ("{s:s, s:s, s:O, s:s?, s:o, s:o, s:s?, s:i, s:{s:{s:s, s:i}, s:{s:s, s:O}, s:b}, s:O, s:I, s:o}",
                    "Id", r->id, "Name", r->id, "Created", json_object_get (meta, "created"), "Path",
                    json_string_value (json_array_get (cmd, 0)), "Args", args,
                    "State", state, "Image", json_string_value (json_object_get (meta, "image")), "RestartCount",
                    (int) r->st.restart_count, "HostConfig", "RestartPolicy", "Name", restart, "MaximumRetryCount",
                    colon ? atoi (colon) : 0, "LogConfig", "Type", "cri-file", "Config", json_object_get (meta, "log"),
                    "AutoRemove", json_is_true (json_object_get (meta, "remove")), "Healthcheck",
                    health ? health : json_null (), "LogDropped", (json_int_t) strtoll (dropped, NULL, 10), "Config",
                    redacted_config (r));
}

int
cmd_inspect (struct moat_cli *cli, int argc, char **argv, struct moat_error *err)
{
  json_auto_t *all = json_array ();
  cleanup_free char *text = NULL;
  int status = 0;

  optind = 0;
  if (getopt (argc, argv, "+") != -1)
    return moat_usage (err, "usage: moat inspect NAME...");
  if (optind >= argc)
    return moat_usage (err, "usage: moat inspect NAME...");
  for (int i = optind; i < argc; i++)
    {
      struct moat_record rec;
      if (moat_record_load (cli, argv[i], &rec, err) < 0)
        {
          if (i + 1 < argc)
            fprintf (stderr, "moat: inspect: %s\n", err->msg);
          status = MOAT_CLI_ERROR;
        }
      else
        json_array_append_new (all, inspect_one (&rec));
      moat_record_free (&rec);
    }
  text = json_dumps (all, JSON_INDENT (4) | JSON_PRESERVE_ORDER);
  if (text)
    printf ("%s\n", text);
  return status;
}
