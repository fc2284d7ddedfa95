/* SPDX-License-Identifier: GPL-2.0-or-later */
/* `moat logs [-f] [--since T] [--until T] [--tail N] [-t] NAME`: the
 * monitor's CRI-format log (src/monitor/logfile.h), stdout lines to stdout
 * and stderr lines to stderr, like `docker logs`. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/engine.h"
#include "cli/engine_record.h"
#include "engine/crilog.h"
#include "container/events_read.h"
#include "util/cleanup.h"

#define TS_LEN MOAT_RFC3339_NS_LEN

struct logs_opts
{
  bool follow, timestamps;
  long long tail;           /* -1: all */
  char since[TS_LEN + 1];   /* "" : none; compared as text (fixed width) */
  char until[TS_LEN + 1];
};

static void
emit_line (const struct logs_opts *o, const struct moat_cri_line *l, bool whole)
{
  FILE *out = l->err ? stderr : stdout;

  if (o->timestamps)
    fprintf (out, "%s ", l->ts);
  fwrite (l->text, 1, l->len, out);
  if (whole)
    fputc ('\n', out);
}

/* The end of the log: a line whose newline never came (its writer died or
   is still writing it) is shown as it is. */
static void
flush_open (const struct logs_opts *o, struct moat_cri_lines *ls)
{
  for (int i = 0; i < 2; i++)
    if (ls->open[i].text)
      {
        if ((!o->since[0] || strcmp (ls->open[i].ts, o->since) >= 0)
            && (!o->until[0] || strcmp (ls->open[i].ts, o->until) <= 0))
          emit_line (o, &ls->open[i], false);
        free (ls->open[i].text);
        memset (&ls->open[i], 0, sizeof ls->open[i]);
      }
  fflush (stdout);
  fflush (stderr);
}

static void
print_lines (const struct logs_opts *o, struct moat_cri_lines *ls, bool apply_tail)
{
  size_t first = 0, shown = 0, i;

  if (apply_tail && o->tail >= 0)
    {
      size_t eligible = 0;
      for (i = ls->n; i > 0 && eligible < (size_t) o->tail; i--)
        if ((!o->since[0] || strcmp (ls->v[i - 1].ts, o->since) >= 0)
            && (!o->until[0] || strcmp (ls->v[i - 1].ts, o->until) <= 0))
          {
            eligible++;
            first = i - 1;
          }
      if (eligible == 0)
        first = ls->n;
    }
  for (i = first; i < ls->n; i++)
    {
      if ((!o->since[0] || strcmp (ls->v[i].ts, o->since) >= 0) && (!o->until[0] || strcmp (ls->v[i].ts, o->until) <= 0))
        {
          emit_line (o, &ls->v[i], true);
          shown++;
        }
      free (ls->v[i].text);
    }
  ls->n = 0;
  fflush (stdout);
  fflush (stderr);
}

/* Read FD from its offset to EOF into LINES, keeping an unfinished record
   (being written right now) in CARRY. */
static void
read_new (int fd, struct moat_cri_lines *ls, char **carry, size_t *clen)
{
  char buf[65536];
  ssize_t n;

  while ((n = read (fd, buf, sizeof buf)) > 0)
    {
      char *all = realloc (*carry, *clen + (size_t) n);
      size_t used;

      if (all == NULL)
        return;
      memcpy (all + *clen, buf, (size_t) n);
      *clen += (size_t) n;
      used = moat_cri_parse (ls, all, *clen);
      memmove (all, all + used, *clen - used);
      *clen -= used;
      *carry = all;
    }
}

static ino_t
inode_of (int dirfd, const char *name)
{
  struct stat st;

  return fstatat (dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 ? st.st_ino : 0;
}

static int
show_logs (struct moat_record *r, const struct logs_opts *o, struct moat_error *err)
{
  struct moat_cri_lines ls = { 0 };
  cleanup_free char *carry = NULL;
  cleanup_fd int cur = -1, pidfd = -1;
  size_t clen = 0;
  struct stat st;

  for (int i = 99; i >= 1; i--)
    {
      char name[32];
      cleanup_fd int fd = -1;

      snprintf (name, sizeof name, "ctr.log.%d", i);
      fd = openat (r->dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
      if (fd >= 0)
        read_new (fd, &ls, &carry, &clen);
      clen = 0;
    }
  cur = openat (r->dirfd, "ctr.log", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (cur < 0 && errno != ENOENT)
    return moat_err (err, errno, "open the log of `%s`", r->id);
  if (cur >= 0)
    read_new (cur, &ls, &carry, &clen);
  print_lines (o, &ls, true);
  if (!o->follow)
    {
      flush_open (o, &ls);
      goto out;
    }
  pidfd = r->monitor_alive ? moat_pidfd_checked (r->st.monitor_pid, r->st.monitor_start) : -1;
  while (pidfd >= 0)
    {
      struct pollfd p = { .fd = pidfd, .events = POLLIN };
      bool done = poll (&p, 1, 200) == 1;

      /* A rotation: finish the old file through our fd, then switch. */
      if (cur < 0 || (fstat (cur, &st) == 0 && inode_of (r->dirfd, "ctr.log") != st.st_ino))
        {
          if (cur >= 0)
            read_new (cur, &ls, &carry, &clen);
          if (cur >= 0)
            close (cur);
          clen = 0;
          cur = openat (r->dirfd, "ctr.log", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        }
      if (cur >= 0)
        read_new (cur, &ls, &carry, &clen);
      print_lines (o, &ls, false);
      if (done)
        break;
    }
  flush_open (o, &ls);
out:
  moat_cri_lines_free (&ls);
  return 0;
}

int
cmd_logs (struct moat_cli *cli, int argc, char **argv, struct moat_error *err)
{
  enum { O_SINCE = 0x100, O_UNTIL, O_TAIL };
  static const struct option opts[] = { { "follow", no_argument, NULL, 'f' },
                                        { "timestamps", no_argument, NULL, 't' },
                                        { "since", required_argument, NULL, O_SINCE },
                                        { "until", required_argument, NULL, O_UNTIL },
                                        { "tail", required_argument, NULL, O_TAIL },
                                        { "n", required_argument, NULL, 'n' },
                                        { NULL, 0, NULL, 0 } };
  struct logs_opts o = { .tail = -1 };
  struct moat_record rec;
  int64_t ns;
  int c, r;

  optind = 0;
  while ((c = getopt_long (argc, argv, "+ftn:", opts, NULL)) != -1)
    switch (c)
      {
      case 'f': o.follow = true; break;
      case 't': o.timestamps = true; break;
      case O_SINCE:
      case O_UNTIL:
        if (moat_event_parse_time (optarg, moat_now_ns (), &ns) < 0)
          return moat_usage (err, "--%s: not a time (RFC 3339, unix seconds, or a duration such as 10m) `%s`",
                             c == O_SINCE ? "since" : "until", optarg);
        moat_format_rfc3339_ns (ns, c == O_SINCE ? o.since : o.until);
        break;
      case O_TAIL:
      case 'n':
        if (strcmp (optarg, "all") == 0)
          o.tail = -1;
        else if (moat_parse_int (optarg, 0, INT32_MAX, &o.tail) < 0)
          return moat_usage (err, "--tail: not a count or `all`: `%s`", optarg);
        break;
      default:
        return moat_usage (err, "bad option (usage: moat logs [-f] [-t] [--since T] [--until T] [--tail N] NAME)");
      }
  if (optind != argc - 1)
    return moat_usage (err, "usage: moat logs [-f] [-t] [--since T] [--until T] [--tail N] NAME");
  if (moat_record_load (cli, argv[optind], &rec, err) < 0)
    {
      moat_record_free (&rec);
      return MOAT_CLI_ERROR;
    }
  r = show_logs (&rec, &o, err);
  moat_record_free (&rec);
  return r < 0 ? MOAT_CLI_ERROR : 0;
}
