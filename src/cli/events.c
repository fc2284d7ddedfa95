/* SPDX-License-Identifier: GPL-2.0-or-later */
/* moat events, in two forms:
 *   engine:  moat events [--follow|-f] [--since T] [--until T] [--filter K=V]... [--format json]
 *            the events log (container/events.h) with Docker's semantics;
 *   runc:    moat events [--interval 5s] [--stats] ID
 *            runc's stats events read from the container's cgroups.
 * One operand and no engine-only option is the runc form. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "container/events_read.h"
#include "sandbox/cgroup.h"
#include "sandbox/cgroup_stats.h"
#include "util/cleanup.h"

struct events_cli
{
  bool follow, json, stats, engine_flag, interval_set;
  bool has_since, has_until;
  int64_t since, until, interval;
  struct moat_event_filter filter;
};

static int64_t
now_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_REALTIME, &ts);
  return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int
parse_events (int argc, char **argv, struct events_cli *ec, struct moat_error *err)
{
  static const struct option opts[] = {
    { "follow", no_argument, NULL, 'f' },   { "since", required_argument, NULL, 'S' },
    { "until", required_argument, NULL, 'U' }, { "filter", required_argument, NULL, 'F' },
    { "format", required_argument, NULL, 'o' }, { "interval", required_argument, NULL, 'i' },
    { "stats", no_argument, NULL, 's' },    { NULL, 0, NULL, 0 },
  };
  int64_t now = now_ns ();
  int c;

  ec->interval = 5 * (int64_t) 1000000000;
  optind = 0;
  opterr = 0;
  while ((c = getopt_long (argc, argv, "+f", opts, NULL)) != -1)
    {
      if (c != 'i' && c != 's' && c != '?' && c != ':')
        ec->engine_flag = true;
      switch (c)
        {
        case 'f':
          ec->follow = true;
          break;
        case 'S':
        case 'U':
          if (moat_event_parse_time (optarg, now, c == 'S' ? &ec->since : &ec->until) < 0)
            return moat_usage (err, "--%s `%s`: not a time (RFC 3339, unix seconds, or a duration like 10m)",
                               c == 'S' ? "since" : "until", optarg);
          if (c == 'S')
            ec->has_since = true;
          else
            ec->has_until = true;
          break;
        case 'F':
          if (moat_event_filter_add (&ec->filter, optarg, err) < 0)
            return MOAT_CLI_USAGE;
          break;
        case 'o':
          if (strcmp (optarg, "json") != 0 && strcmp (optarg, "{{json .}}") != 0)
            return moat_usage (err, "--format `%s`: only json is supported", optarg);
          ec->json = true;
          break;
        case 'i':
          if (moat_event_parse_duration (optarg, &ec->interval) < 0 || ec->interval <= 0)
            return moat_usage (err, "--interval `%s`: not a positive duration (like 5s or 500ms)", optarg);
          ec->interval_set = true;
          break;
        case 's':
          ec->stats = true;
          break;
        default:
          return moat_usage (err, "bad option `%s` (see moat --help)", argv[optind - 1]);
        }
    }
  if (ec->has_since && ec->has_until && ec->until < ec->since)
    return moat_usage (err, "--until is before --since");
  return 0;
}

/* ---- the engine form ---------------------------------------------------- */

/* A file of the log being read: its fd, its inode, and a partial last line
   (a line is handled only once its newline is there). */
struct tail
{
  int fd;
  ino_t ino;
  char *part;
  size_t len;
};

static void
tail_close (struct tail *t)
{
  moat_closep (&t->fd);
  free (t->part);
  t->part = NULL;
  t->len = 0;
}

static int
tail_open (struct tail *t, int dirfd, const char *name)
{
  struct stat st;

  t->fd = openat (dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (t->fd < 0 || fstat (t->fd, &st) < 0)
    {
      moat_closep (&t->fd);
      return -1;
    }
  t->ino = st.st_ino;
  return 0;
}

static void
handle_line (const struct events_cli *ec, const char *line, size_t len)
{
  json_t *ev = json_loadb (line, len, 0, NULL);
  json_int_t tn;

  /* A line that does not parse (a write cut short by a full disk) is skipped. */
  if (ev == NULL)
    return;
  tn = json_integer_value (json_object_get (ev, "timeNano"));
  if ((!ec->has_since || tn >= ec->since) && (!ec->has_until || tn <= ec->until)
      && moat_event_filter_match (&ec->filter, ev))
    {
      if (ec->json)
        printf ("%.*s\n", (int) len, line);
      else
        {
          cleanup_free char *text = moat_event_text (ev);
          if (text)
            printf ("%s\n", text);
        }
    }
  json_decref (ev);
}

/* Read T to its current end, handling every complete line. */
static void
tail_drain (const struct events_cli *ec, struct tail *t)
{
  char buf[65536];
  ssize_t n;

  while (t->fd >= 0 && (n = read (t->fd, buf, sizeof buf)) > 0)
    {
      char *joined = realloc (t->part, t->len + (size_t) n);
      size_t start = 0, i;
      if (joined == NULL)
        return;
      t->part = joined;
      memcpy (t->part + t->len, buf, (size_t) n);
      t->len += (size_t) n;
      for (i = 0; i < t->len; i++)
        if (t->part[i] == '\n')
          {
            handle_line (ec, t->part + start, i - start);
            start = i + 1;
          }
      memmove (t->part, t->part + start, t->len - start);
      t->len -= start;
    }
}

/* After a rotation the old fd is complete (writers check the path under the
   lock, events.c): drain it, then read the new file from its start. */
static void
tail_follow_rotation (const struct events_cli *ec, struct tail *t, int dirfd)
{
  struct stat st;

  if (fstatat (dirfd, MOAT_EVENTS_FILE, &st, AT_SYMLINK_NOFOLLOW) < 0
      || (t->fd >= 0 && st.st_ino == t->ino))
    return;
  tail_drain (ec, t);
  tail_close (t);
  if (tail_open (t, dirfd, MOAT_EVENTS_FILE) == 0)
    tail_drain (ec, t);
}

static int
follow_loop (const struct events_cli *ec, struct tail *t, int dirfd, const char *root, struct moat_error *err)
{
  cleanup_fd int in = inotify_init1 (IN_CLOEXEC | IN_NONBLOCK);
  char buf[4096] __attribute__ ((aligned (__alignof__ (struct inotify_event))));

  /* Without inotify (limits reached), poll the file every 200 ms. */
  if (in >= 0 && inotify_add_watch (in, root, IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE) < 0)
    moat_closep (&in);
  for (;;)
    {
      int64_t now = now_ns ();
      int timeout = in >= 0 ? 1000 : 200;
      struct pollfd pfd = { .fd = in, .events = POLLIN };

      if (fflush (stdout) == EOF)
        return moat_err (err, errno, "write events");
      if (ec->has_until && now > ec->until)
        return 0;
      if (ec->has_until && (ec->until - now) / 1000000 < timeout)
        timeout = (int) ((ec->until - now) / 1000000) + 1;
      if (poll (&pfd, in >= 0 ? 1 : 0, timeout) < 0 && errno != EINTR)
        return moat_err (err, errno, "wait for events");
      while (in >= 0 && read (in, buf, sizeof buf) > 0)
        ;
      tail_drain (ec, t);
      tail_follow_rotation (ec, t, dirfd);
    }
}

static int
engine_form (struct moat_cli *cli, const struct events_cli *ec, struct moat_error *err)
{
  struct tail cur = { .fd = -1 }, old = { .fd = -1 };
  cleanup_fd int dirfd = -1;
  int ret = 0;

  if (ec->follow && mkdir (cli->ctx.root, 0700) < 0 && errno != EEXIST)
    return moat_err (err, errno, "state root `%s`", cli->ctx.root), MOAT_CLI_ERROR;
  dirfd = open (cli->ctx.root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (dirfd < 0)
    {
      if (errno == ENOENT)
        return 0; /* no state root: no events yet */
      return moat_err (err, errno, "state root `%s`", cli->ctx.root), MOAT_CLI_ERROR;
    }
  /* The current file first: opened after the old one, a rotation in between
     would be missed; opened before it, the old one may be the same file. */
  tail_open (&cur, dirfd, MOAT_EVENTS_FILE);
  if (tail_open (&old, dirfd, MOAT_EVENTS_FILE_OLD) == 0 && (cur.fd < 0 || old.ino != cur.ino))
    tail_drain (ec, &old);
  tail_close (&old);
  tail_drain (ec, &cur);
  if (ec->follow)
    {
      tail_follow_rotation (ec, &cur, dirfd);
      if (follow_loop (ec, &cur, dirfd, cli->ctx.root, err) < 0)
        ret = MOAT_CLI_ERROR;
    }
  tail_close (&cur);
  if (fflush (stdout) == EOF && ret == 0)
    return moat_err (err, errno, "write events"), MOAT_CLI_ERROR;
  return ret;
}

/* ---- the runc form ------------------------------------------------------ */

/* One stats event; *gone when the container no longer runs (not an error
   after the first). */
static int
stats_once (struct moat_cli *cli, const char *id, uint64_t *ooms, bool first, bool *gone, struct moat_error *err)
{
  struct moat_state st = { 0 };
  struct moat_cgroup cg = { 0 };
  struct moat_cgroup_stats basic;
  json_t *data = NULL, *ev;
  cleanup_free char *line = NULL;
  int ret = -1;

  *gone = false;
  if (moat_container_load (&cli->ctx, id, &st, NULL, err) < 0)
    {
      *gone = !first;
      return first ? -1 : 0;
    }
  if (moat_state_status (&st) == MOAT_STATUS_STOPPED)
    {
      *gone = !first;
      ret = first ? moat_err (err, ESRCH, "container `%s` is not running", id) : 0;
      goto out;
    }
  if (st.cgroup_path == NULL)
    {
      moat_err (err, ENOENT, "container `%s` has no cgroup", id);
      goto out;
    }
  if (moat_cgroup_open (&cg, st.cgroup_path, err) < 0 || moat_cgroup_stats_runc (&cg, &data, err) < 0)
    goto out;
  /* runc reports an OOM kill as its own event. */
  if (moat_cgroup_stats (&cg, &basic, err) == 0)
    {
      if (!first && basic.oom_kills > *ooms)
        printf ("{\"type\":\"oom\",\"id\":\"%s\"}\n", id);
      *ooms = basic.oom_kills;
    }
  ev = json_pack ("{s:s, s:s, s:o}", "type", "stats", "id", id, "data", data);
  line = ev ? json_dumps (ev, JSON_COMPACT) : NULL;
  json_decref (ev);
  if (line == NULL)
    {
      moat_err (err, ENOMEM, "stats");
      goto out;
    }
  printf ("%s\n", line);
  if (fflush (stdout) == EOF)
    {
      moat_err (err, errno, "write stats");
      goto out;
    }
  ret = 0;
out:
  moat_cgroup_free (&cg);
  moat_state_free (&st);
  return ret;
}

static int
runc_form (struct moat_cli *cli, const struct events_cli *ec, const char *id, struct moat_error *err)
{
  struct timespec interval = { ec->interval / 1000000000, ec->interval % 1000000000 };
  uint64_t ooms = 0;
  bool first = true, gone = false;

  for (;;)
    {
      if (stats_once (cli, id, &ooms, first, &gone, err) < 0)
        return MOAT_CLI_ERROR;
      if (gone || ec->stats)
        return 0;
      first = false;
      nanosleep (&interval, NULL);
    }
}

int
cmd_events (struct moat_cli *cli, int argc, char **argv, struct moat_error *err)
{
  struct events_cli ec = { 0 };
  int r = parse_events (argc, argv, &ec, err);

  if (r < 0)
    goto out;
  if (argc - optind > 1)
    r = moat_usage (err, "events takes at most one container id");
  else if (argc - optind == 1)
    {
      if (ec.engine_flag)
        r = moat_usage (err, "events ID is runc's stats form: it takes --interval and --stats only "
                             "(use --filter container=ID for the events log)");
      else
        r = runc_form (cli, &ec, argv[optind], err);
    }
  else if (ec.stats || ec.interval_set)
    r = moat_usage (err, "--stats and --interval need a container id (runc's form: events [--stats] ID)");
  else
    r = engine_form (cli, &ec, err);
out:
  moat_event_filter_free (&ec.filter);
  return r;
}
