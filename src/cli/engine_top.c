/* SPDX-License-Identifier: GPL-2.0-or-later */
/* `moat top NAME` (the container's processes, as `docker top`) and
 * `moat stats [--no-stream] [--format json] [NAME...]` (cpu, memory and
 * pids from the container's cgroups, as `docker stats`). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/engine.h"
#include "cli/engine_record.h"
#include "sandbox/cgroup.h"
#include "util/cleanup.h"
#include "util/fs.h"

static void
proc_line (pid_t pid, long hz, int64_t boot_s)
{
  char path[64], cmd[512] = "", stat[1024] = "", stime[16] = "?";
  cleanup_free char *text = NULL;
  struct moat_error ignored;
  unsigned long utime = 0, stime_t = 0;
  unsigned long long start = 0;
  unsigned uid = 0;
  int ppid = 0;
  size_t len, k;
  char *p;

  snprintf (path, sizeof path, "/proc/%d/cmdline", (int) pid);
  if (moat_read_file_at (AT_FDCWD, path, sizeof cmd - 1, &text, &len, &ignored) == 0)
    {
      for (k = 0; k + 1 < len; k++)
        if (text[k] == '\0')
          text[k] = ' ';
      snprintf (cmd, sizeof cmd, "%s", text);
    }
  free (text);
  text = NULL;
  snprintf (path, sizeof path, "/proc/%d/stat", (int) pid);
  if (moat_read_file_at (AT_FDCWD, path, sizeof stat - 1, &text, &len, &ignored) == 0 && (p = strrchr (text, ')')))
    {
      if (cmd[0] == '\0')
        snprintf (cmd, sizeof cmd, "[%.*s]", (int) (p - strchr (text, '(') - 1), strchr (text, '(') + 1);
      sscanf (p + 2, "%*c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %*d %*d %*d %*d %*d %*d %llu", &ppid,
              &utime, &stime_t, &start);
    }
  free (text);
  text = NULL;
  snprintf (path, sizeof path, "/proc/%d/status", (int) pid);
  if (moat_read_file_at (AT_FDCWD, path, 8192, &text, &len, &ignored) == 0 && (p = strstr (text, "\nUid:")))
    sscanf (p + 5, "%u", &uid);
  if (hz > 0)
    {
      time_t t = (time_t) (boot_s + (int64_t) (start / (unsigned long long) hz));
      struct tm tm;
      localtime_r (&t, &tm);
      strftime (stime, sizeof stime, "%H:%M", &tm);
    }
  unsigned long cpu = hz > 0 ? (utime + stime_t) / (unsigned long) hz : 0;
  printf ("%-8u %-8d %-8d %-6s %02lu:%02lu:%02lu %s\n", uid, (int) pid, ppid, stime, cpu / 3600, cpu / 60 % 60,
          cpu % 60, cmd);
}

int
cmd_top (struct moat_cli *cli, int argc, char **argv, struct moat_error *err)
{
  cleanup_free pid_t *pids = NULL;
  struct timespec now, up;
  size_t n = 0;

  optind = 0;
  if (getopt (argc, argv, "+") != -1 || optind != argc - 1)
    return moat_usage (err, "usage: moat top NAME");
  if (moat_container_pids (&cli->ctx, argv[optind], &pids, &n, err) < 0)
    return MOAT_CLI_ERROR;
  clock_gettime (CLOCK_REALTIME, &now);
  clock_gettime (CLOCK_BOOTTIME, &up);
  printf ("%-8s %-8s %-8s %-6s %-8s %s\n", "UID", "PID", "PPID", "STIME", "TIME", "CMD");
  for (size_t i = 0; i < n; i++)
    proc_line (pids[i], sysconf (_SC_CLK_TCK), (int64_t) (now.tv_sec - up.tv_sec));
  return 0;
}

struct sample
{
  char id[256];
  struct moat_cgroup_stats st;
  int64_t at;
  bool ok;
};

static void
take (const struct moat_cli *cli, const char *id, struct sample *s)
{
  struct moat_record r;
  struct moat_cgroup cg = { 0 };
  struct moat_error ignored;
  const char *path;

  memset (&s->st, 0, sizeof s->st);
  s->ok = false;
  if (moat_record_load (cli, id, &r, &ignored) == 0 && moat_record_view (&r) == MOAT_VIEW_RUNNING
      && (path = json_string_value (json_object_get (r.meta, "cgroup"))) && moat_cgroup_open (&cg, path, &ignored) == 0
      && moat_cgroup_stats (&cg, &s->st, &ignored) == 0)
    s->ok = true;
  s->at = moat_now_ns ();
  moat_cgroup_free (&cg);
  moat_record_free (&r);
}

static void
human (uint64_t b, char *buf, size_t size)
{
  static const char *const u[] = { "B", "KiB", "MiB", "GiB", "TiB" };
  double v = (double) b;
  int i = 0;

  while (v >= 1024 && i < 4)
    {
      v /= 1024;
      i++;
    }
  snprintf (buf, size, i ? "%.2f%s" : "%.0f%s", v, u[i]);
}

static void
print_stats (const struct sample *a, const struct sample *b, size_t n, bool json)
{
  if (!json)
    printf ("%-20s %-8s %-22s %-8s %s\n", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "PIDS");
  for (size_t i = 0; i < n; i++)
    {
      const struct moat_cgroup_stats *s = &b[i].st;
      double dt = (double) (b[i].at - a[i].at), cpu = 0, mem = 0;
      char use[24], lim[24];
      bool limited = s->memory_limit && s->memory_limit < (UINT64_C (1) << 60);

      if (a[i].ok && b[i].ok && dt > 0 && s->cpu_usage_ns >= a[i].st.cpu_usage_ns)
        cpu = (double) (s->cpu_usage_ns - a[i].st.cpu_usage_ns) * 100.0 / dt;
      if (limited)
        mem = (double) s->memory_usage * 100.0 / (double) s->memory_limit;
      human (s->memory_usage, use, sizeof use);
      if (limited)
        human (s->memory_limit, lim, sizeof lim);
      else
        snprintf (lim, sizeof lim, "unlimited");
      if (json)
        printf ("{\"Name\":\"%s\",\"Running\":%s,\"CPUPerc\":%.2f,\"MemUsage\":%" PRIu64 ",\"MemLimit\":%" PRIu64
                ",\"MemPerc\":%.2f,\"PIDs\":%" PRIu64 ",\"PIDsLimit\":%" PRIu64 "}\n",
                b[i].id, b[i].ok ? "true" : "false", cpu, s->memory_usage, limited ? s->memory_limit : 0, mem,
                s->pids_current, s->pids_limit);
      else
        {
          char usage[56];
          snprintf (usage, sizeof usage, "%s / %s", use, lim);
          printf ("%-20s %6.2f%%  %-22s %6.2f%%  %" PRIu64 "\n", b[i].id, cpu, usage, mem, s->pids_current);
        }
    }
  fflush (stdout);
}

static int
collect_running (struct moat_record *r, void *data)
{
  json_t *names = data;

  if (moat_record_view (r) == MOAT_VIEW_RUNNING)
    json_array_append_new (names, json_string (r->id));
  return 0;
}

int
cmd_stats (struct moat_cli *cli, int argc, char **argv, struct moat_error *err)
{
  static const struct option opts[] = { { "no-stream", no_argument, NULL, 'n' },
                                        { "format", required_argument, NULL, 'f' },
                                        { NULL, 0, NULL, 0 } };
  json_auto_t *names = json_array ();
  cleanup_free struct sample *a = NULL, *b = NULL;
  bool stream = true, json = false, tty = isatty (STDOUT_FILENO);
  size_t n;
  int c;

  optind = 0;
  while ((c = getopt_long (argc, argv, "+", opts, NULL)) != -1)
    if (c == 'n')
      stream = false;
    else if (c == 'f' && (strcmp (optarg, "json") == 0 || strcmp (optarg, "table") == 0))
      json = strcmp (optarg, "json") == 0;
    else
      return moat_usage (err, "usage: moat stats [--no-stream] [--format table|json] [NAME...]");
  for (int i = optind; i < argc; i++)
    {
      struct moat_record r;
      int ok = moat_record_load (cli, argv[i], &r, err);
      moat_record_free (&r);
      if (ok < 0)
        return MOAT_CLI_ERROR;
      json_array_append_new (names, json_string (argv[i]));
    }
  if (optind == argc && moat_record_foreach (cli, collect_running, names, err) < 0)
    return MOAT_CLI_ERROR;
  n = json_array_size (names);
  a = calloc (n + 1, sizeof *a);
  b = calloc (n + 1, sizeof *b);
  if (a == NULL || b == NULL)
    return moat_err (err, ENOMEM, "stats");
  for (size_t i = 0; i < n; i++)
    {
      snprintf (b[i].id, sizeof b[i].id, "%s", json_string_value (json_array_get (names, i)));
      take (cli, b[i].id, &b[i]);
    }
  do
    {
      /* CPU % needs two samples: the first table comes after one interval. */
      poll (NULL, 0, stream ? 1000 : 500);
      memcpy (a, b, n * sizeof *a);
      for (size_t i = 0; i < n; i++)
        take (cli, b[i].id, &b[i]);
      if (stream && tty && !json)
        printf ("\033[2J\033[H");
      print_stats (a, b, n, json);
    }
  while (stream);
  return 0;
}
