/* SPDX-License-Identifier: GPL-2.0-or-later */
/* `moat watch --docker-host unix:///path.sock [--policy FILE] [--enforce]
 * [--output text|json] [--syslog]`: follow a Docker Engine API's event
 * stream (dockerd, or podman's compat service), inspect each container when
 * it is created and when it starts, run the admission rule table over it and
 * log what it violates; with --enforce, stop the violators.
 *
 * This is the after-the-fact safety net for engines that do not run moat as
 * their OCI runtime (admission in `create` is the real gate), so it is built
 * against docker-covenant's failures (security-anchors.md section 2): it
 * fails closed when it cannot reach the daemon with --enforce, replays the
 * events it missed while disconnected (`since=`), checks the running
 * containers again on every (re)connect, and keys nothing on names. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "cli/cli.h"
#include "policy/engine.h"
#include "spec/spec_internal.h"

#define BACKOFF_MIN_MS 250
#define BACKOFF_MAX_MS 8000
#define SEEN_MAX 256

struct seen
{
  char id[132];
  char action[64];
  long long nano;
};

struct watch
{
  struct moat_engine eng;
  struct moat_policy policy;
  bool enforce, json, syslog;
  sigset_t waitmask; /* the mask during waits: SIGINT/SIGTERM deliverable */
  long long since;   /* newest event seen (ns); replay from here on reconnect */
  struct seen seen[SEEN_MAX];
  size_t seen_next;
  unsigned long n_checked, n_denied, n_stopped;
};

static volatile sig_atomic_t stop_signal;

static void
on_signal (int sig)
{
  stop_signal = sig;
}

static long long
now_nano (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_REALTIME, &ts);
  return (long long) ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Daemon-supplied text goes into a log line: printable ASCII only, so that
   it can neither split a line nor make a JSON string invalid UTF-8 (which
   jansson refuses, and the record would be lost).  Docker's names, ids and
   image references are ASCII anyway. */
static void
clean (char *dst, size_t size, const char *s)
{
  size_t i;

  for (i = 0; s && s[i] && i + 1 < size; i++)
    dst[i] = (unsigned char) s[i] < 0x20 || (unsigned char) s[i] >= 0x7f ? '?' : s[i];
  dst[i] = '\0';
}

static void
emit_json (json_t *o)
{
  char *s;

  json_object_set_new (o, "time_nano", json_integer (now_nano ()));
  s = json_dumps (o, JSON_COMPACT | JSON_ENSURE_ASCII);
  if (s)
    fprintf (stderr, "%s\n", s);
  free (s);
  json_decref (o);
}

/* One status line (connected, disconnected, stopping) in the chosen format. */
static void
status (struct watch *w, int prio, const char *event, const char *fmt, ...) __attribute__ ((format (printf, 4, 5)));

static void
status (struct watch *w, int prio, const char *event, const char *fmt, ...)
{
  char msg[1200], line[1200];
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (msg, sizeof msg, fmt, ap);
  va_end (ap);
  clean (line, sizeof line, msg);
  if (w->json)
    emit_json (json_pack ("{s:s, s:s, s:s}", "event", event, "engine", w->eng.url, "message", line));
  else
    fprintf (stderr, "moat: watch: %s\n", line);
  if (w->syslog)
    syslog (prio, "%s", line);
}

static json_t *
finding_json (const struct moat_finding *f)
{
  const struct moat_rule *r = &moat_rules[f->rule];
  char reason[MOAT_REASON_MAX];

  clean (reason, sizeof reason, f->reason);
  return json_pack ("{s:s, s:s?, s:s, s:s, s:s}", "rule", r->id, "cis", r->cis, "severity",
                    moat_severity_name (r->severity), "reason", reason, "remediation", r->remediation);
}

static void
report_json (const struct moat_engine_event *ev, const char *name, const char *image,
             const struct moat_evaluation *e)
{
  json_t *o = json_object (), *viol = json_array (), *warn = json_array ();
  size_t i;

  for (i = 0; i < e->n; i++)
    {
      const struct moat_finding *f = &e->findings[i];
      if (f->verdict != MOAT_FAIL || f->action == MOAT_ACTION_OFF)
        continue;
      json_array_append_new (f->action == MOAT_ACTION_DENY ? viol : warn, finding_json (f));
    }
  json_object_set_new (o, "event", json_string (ev->action));
  json_object_set_new (o, "verdict", json_string (e->n_denied ? "deny" : "allow"));
  json_object_set_new (o, "id", json_string (ev->id));
  json_object_set_new (o, "name", json_string (name));
  json_object_set_new (o, "image", json_string (image));
  json_object_set_new (o, "event_time_nano", json_integer (ev->time_nano));
  json_object_set_new (o, "violations", viol);
  json_object_set_new (o, "warnings", warn);
  emit_json (o);
}

static void
append (char *line, size_t size, size_t *n, const char *fmt, ...) __attribute__ ((format (printf, 4, 5)));

static void
append (char *line, size_t size, size_t *n, const char *fmt, ...)
{
  va_list ap;
  int k;

  if (*n >= size - 1)
    return;
  va_start (ap, fmt);
  k = vsnprintf (line + *n, size - *n, fmt, ap);
  va_end (ap);
  *n = k < 0 ? *n : *n + (size_t) k >= size ? size - 1 : *n + (size_t) k;
}

/* "deny start NAME (ID12) image IMG: 2 rule(s) violated: RULE [reason], ...;
   warnings: RULE, ..." */
static void
verdict_line (char *line, size_t size, const struct moat_engine_event *ev, const char *name, const char *image,
              const struct moat_evaluation *e)
{
  char reason[MOAT_REASON_MAX];
  size_t n = 0, i, k = 0;

  append (line, size, &n, "%s %s %s (%.12s) image %s", e->n_denied ? "deny" : "allow", ev->action, name,
          ev->id, *image ? image : "?");
  if (e->n_denied)
    append (line, size, &n, ": %zu rule(s) violated:", e->n_denied);
  for (i = 0; i < e->n; i++)
    if (e->findings[i].verdict == MOAT_FAIL && e->findings[i].action == MOAT_ACTION_DENY)
      {
        clean (reason, sizeof reason, e->findings[i].reason);
        append (line, size, &n, "%s %s [%s]", k++ ? "," : "", moat_rules[e->findings[i].rule].id, reason);
      }
  for (i = 0, k = 0; i < e->n; i++)
    if (e->findings[i].verdict == MOAT_FAIL && e->findings[i].action == MOAT_ACTION_WARN)
      append (line, size, &n, "%s %s", k++ ? "," : "; warnings:", moat_rules[e->findings[i].rule].id);
}

static void
enforce (struct watch *w, const struct moat_engine_event *ev, const char *name, bool running)
{
  struct moat_error err = { 0 };
  int r = running ? moat_engine_stop (&w->eng, ev->id, &err) : 1;
  const char *result = r == 0 ? "stopped" : r > 0 ? "not running" : "stop failed";

  if (r == 0)
    w->n_stopped++;
  if (w->json)
    {
      json_t *o = json_pack ("{s:s, s:s, s:s, s:s, s:s}", "event", "enforce", "action", "stop", "id", ev->id, "name",
                             name, "result", result);
      if (r < 0)
        json_object_set_new (o, "error", json_string (err.msg));
      emit_json (o);
    }
  else
    {
      char msg[MOAT_ERROR_MSG_MAX];
      clean (msg, sizeof msg, err.msg);
      fprintf (stderr, "moat: watch: enforce: %s %s (%.12s)%s%s\n", result, name, ev->id, r < 0 ? ": " : "",
               r < 0 ? msg : "");
    }
  if (w->syslog)
    syslog (r < 0 ? LOG_ERR : LOG_NOTICE, "enforce: %s %s (%.12s)", result, name, ev->id);
}

/* Inspect, evaluate, log, and (with --enforce) stop. */
static void
check_container (struct watch *w, const struct moat_engine_event *ev)
{
  struct moat_audit_input in = { 0 };
  struct moat_evaluation e;
  struct moat_error err = { 0 };
  char name[256], image[256], line[8192];
  bool running = false;

  if (moat_engine_inspect (&w->eng, ev->id, &in, &running, &err) < 0)
    {
      /* Gone already (run --rm of a short command): nothing left to stop. */
      if (err.code != ENOENT)
        status (w, LOG_ERR, "error", "inspect %.12s: %s", ev->id, err.msg);
      return;
    }
  w->n_checked++;
  moat_policy_evaluate (&w->policy, &in.spec, &in.side, &e);
  clean (name, sizeof name, in.side.name ? in.side.name : ev->name);
  clean (image, sizeof image, in.side.image ? in.side.image : ev->image);
  verdict_line (line, sizeof line, ev, name, image, &e);
  if (w->json)
    report_json (ev, name, image, &e);
  else
    fprintf (stderr, "moat: watch: %s\n", line);
  if (w->syslog && e.n_denied)
    syslog (LOG_WARNING, "%s", line);
  if (e.n_denied)
    w->n_denied++;
  if (e.n_denied && w->enforce && (running || strcmp (ev->action, "start") == 0))
    enforce (w, ev, name, running);
  moat_spec_free (&in.spec);
  moat_side_info_free (&in.side);
}

/* The same event comes twice when a reconnect replays from `since`. */
static bool
seen_before (struct watch *w, const struct moat_engine_event *ev)
{
  size_t i;

  for (i = 0; i < SEEN_MAX; i++)
    if (w->seen[i].nano == ev->time_nano && strcmp (w->seen[i].id, ev->id) == 0
        && strcmp (w->seen[i].action, ev->action) == 0)
      return true;
  snprintf (w->seen[w->seen_next].id, sizeof w->seen[0].id, "%s", ev->id);
  snprintf (w->seen[w->seen_next].action, sizeof w->seen[0].action, "%s", ev->action);
  w->seen[w->seen_next].nano = ev->time_nano;
  w->seen_next = (w->seen_next + 1) % SEEN_MAX;
  return false;
}

static void
handle_event (struct watch *w, const char *line, size_t len)
{
  struct moat_engine_event ev;
  struct moat_error err = { 0 };

  if (len == 0)
    return;
  if (moat_engine_event_parse (line, len, &ev, &err) < 0)
    {
      status (w, LOG_ERR, "error", "ignoring an event: %s", err.msg);
      return;
    }
  if (strcmp (ev.type, "container") != 0 || (strcmp (ev.action, "create") != 0 && strcmp (ev.action, "start") != 0))
    return;
  if (!moat_engine_id_ok (ev.id))
    {
      status (w, LOG_ERR, "error", "ignoring a %s event without a usable container id", ev.action);
      return;
    }
  if (seen_before (w, &ev))
    return;
  /* A timestamp from the future would make the next reconnect skip every
     real event until then: only plausible times move `since`. */
  if (ev.time_nano > w->since && ev.time_nano < now_nano () + 60 * 1000000000LL)
    w->since = ev.time_nano;
  check_container (w, &ev);
}

/* On every (re)connect: the containers already running, in case their start
   event is one the daemon no longer has (a restarted dockerd keeps none). */
static void
check_running (struct watch *w)
{
  struct moat_strv ids = { 0 };
  struct moat_error err = { 0 };
  size_t i;

  if (moat_engine_list (&w->eng, false, &ids, &err) < 0)
    {
      status (w, LOG_ERR, "error", "list running containers: %s", err.msg);
      return;
    }
  for (i = 0; i < ids.n && !stop_signal; i++)
    {
      struct moat_engine_event ev = { .type = "container", .action = "running" };
      snprintf (ev.id, sizeof ev.id, "%s", ids.v[i]);
      check_container (w, &ev);
    }
  spec_strv_free (&ids);
}

/* Follow one connection's event stream until it ends: 0 when it ended or
   failed after connecting, -1 when it could not connect (ERR says why). */
static int
follow (struct watch *w, bool *connected, struct moat_error *err)
{
  struct moat_http_conn *c = malloc (sizeof *c);
  struct moat_http_response r;
  struct moat_http_lines lines = { .max = MOAT_ENGINE_EVENT_MAX };
  char *line;
  size_t len;
  int n = 0;

  if (c == NULL)
    return moat_err (err, ENOMEM, "watch");
  if (moat_engine_events (&w->eng, w->since, &w->waitmask, c, &r, err) < 0)
    {
      free (c);
      return -1;
    }
  check_running (w);
  /* Said after the running containers are checked: from here on, every new
     container comes through the stream. */
  status (w, LOG_INFO, "connected", "%s %s (policy: %s%s)", *connected ? "reconnected to" : "watching", w->eng.url,
          w->policy.from_file ? "file" : "built-in baseline", w->enforce ? ", enforcing" : "");
  *connected = true;
  while (!stop_signal && (n = moat_http_next_line (c, &r, &lines, &line, &len, err)) > 0)
    handle_event (w, line, len);
  if (!stop_signal && n == 0)
    moat_err (err, 0, "the event stream ended");
  moat_http_lines_free (&lines);
  moat_http_close (c);
  free (c);
  return 0;
}

static void
sleep_ms (struct watch *w, int ms)
{
  struct timespec ts = { ms / 1000, (long) (ms % 1000) * 1000000L };
  ppoll (NULL, 0, &ts, &w->waitmask);
}

static int
parse_watch_opts (int argc, char **argv, struct watch *w, const char **policy, struct moat_error *err)
{
  static const struct option opts[] = {
    { "docker-host", required_argument, NULL, 'H' }, { "policy", required_argument, NULL, 'p' },
    { "enforce", no_argument, NULL, 'e' },           { "output", required_argument, NULL, 'o' },
    { "syslog", no_argument, NULL, 's' },            { NULL, 0, NULL, 0 },
  };
  const char *host = NULL;
  int c;

  optind = 0;
  while ((c = getopt_long (argc, argv, "+", opts, NULL)) != -1)
    switch (c)
      {
      case 'H':
        host = optarg;
        break;
      case 'p':
        *policy = optarg;
        break;
      case 'e':
        w->enforce = true;
        break;
      case 'o':
        if (strcmp (optarg, "text") != 0 && strcmp (optarg, "json") != 0)
          return moat_usage (err, "--output: must be text or json, not `%s`", optarg);
        w->json = strcmp (optarg, "json") == 0;
        break;
      case 's':
        w->syslog = true;
        break;
      default:
        return moat_usage (err, "bad option (usage: moat watch --docker-host unix:///path.sock [--policy FILE] "
                                "[--enforce] [--output text|json] [--syslog])");
      }
  if (optind != argc)
    return moat_usage (err, "watch takes no arguments");
  if (host == NULL)
    return moat_usage (err, "watch: --docker-host unix:///path.sock is required");
  if (moat_engine_open (&w->eng, host, err) < 0)
    return moat_error_wrap (err, "--docker-host"), MOAT_CLI_USAGE;
  return 0;
}

static void
setup_signals (struct watch *w)
{
  struct sigaction sa = { .sa_handler = on_signal };
  sigset_t block;

  /* Blocked except inside ppoll: a signal can only arrive while we wait,
     never between the check of stop_signal and the wait. */
  sigemptyset (&block);
  sigaddset (&block, SIGINT);
  sigaddset (&block, SIGTERM);
  sigprocmask (SIG_BLOCK, &block, &w->waitmask);
  sigdelset (&w->waitmask, SIGINT);
  sigdelset (&w->waitmask, SIGTERM);
  sigaction (SIGINT, &sa, NULL);
  sigaction (SIGTERM, &sa, NULL);
}

static int
watch_loop (struct watch *w, struct moat_error *err)
{
  bool connected = false;
  int backoff = BACKOFF_MIN_MS;

  while (!stop_signal)
    {
      moat_error_clear (err);
      if (follow (w, &connected, err) == 0)
        backoff = BACKOFF_MIN_MS;
      if (stop_signal)
        break;
      status (w, LOG_ERR, "disconnected", "%s: %s; reconnecting in %d ms%s", w->eng.url, err->msg, backoff,
              w->enforce ? " (NOT ENFORCING until then)" : "");
      sleep_ms (w, backoff);
      backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
    }
  status (w, LOG_INFO, "exit", "%s: %lu container(s) checked, %lu denied, %lu stopped",
          stop_signal == SIGINT ? "SIGINT" : "SIGTERM", w->n_checked, w->n_denied, w->n_stopped);
  return 0;
}

int
cmd_watch (struct moat_cli *cli, int argc, char **argv, struct moat_error *err)
{
  struct watch *w = calloc (1, sizeof *w);
  const char *policy_path = NULL, *label;
  int r;

  (void) cli;
  if (w == NULL)
    return moat_err (err, ENOMEM, "watch"), MOAT_CLI_ERROR;
  r = parse_watch_opts (argc, argv, w, &policy_path, err);
  if (r == 0 && moat_cli_load_policy (policy_path, &w->policy, &label, err) < 0)
    r = MOAT_CLI_ERROR;
  if (r < 0)
    {
      free (w);
      return r;
    }
  /* Fail closed: enforcement that cannot reach the daemon enforces nothing,
     and must say so by not starting. */
  if (w->enforce && moat_engine_ping (&w->eng, err) < 0)
    {
      moat_error_wrap (err, "cannot enforce");
      r = MOAT_CLI_ERROR;
    }
  else
    {
      if (w->syslog)
        openlog ("moat-watch", LOG_PID, LOG_DAEMON);
      setup_signals (w);
      w->since = now_nano ();
      r = watch_loop (w, err);
      if (w->syslog)
        closelog ();
    }
  moat_policy_free (&w->policy);
  free (w);
  return r;
}
