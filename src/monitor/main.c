/* SPDX-License-Identifier: GPL-2.0-or-later */
/* moat-monitor's entry: settings, then the process layout of monitor.h. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "monitor/monitor.h"
#include "util/proc.h"

static int
parse_u64 (const char *s, unsigned long long *out)
{
  char *end;

  errno = 0;
  *out = strtoull (s, &end, 10);
  return errno || end == s || *end || *s == '-' ? -1 : 0;
}

static int
parse_restart (const char *s, struct mon_config *c)
{
  unsigned long long n = 0;

  if (strcmp (s, "no") == 0)
    c->restart = MON_RESTART_NO;
  else if (strcmp (s, "always") == 0)
    c->restart = MON_RESTART_ALWAYS;
  else if (strcmp (s, "unless-stopped") == 0)
    c->restart = MON_RESTART_UNLESS_STOPPED;
  else if (strncmp (s, "on-failure", 10) == 0 && (s[10] == '\0' || (s[10] == ':' && parse_u64 (s + 11, &n) == 0)))
    {
      c->restart = MON_RESTART_ON_FAILURE;
      c->restart_max = (unsigned) n;
    }
  else
    return -1;
  return 0;
}

static int
parse_args (int argc, char **argv, struct mon_config *c)
{
  enum { O_ROOT = 0x100, O_ID, O_MOAT, O_CGROUP, O_NAME, O_IMAGE, O_SECRETS, O_RESTART, O_RM, O_HI, O_HT, O_HR,
         O_HS, O_LMS, O_LMF, O_REPORT };
  static const struct option opts[] = {
    { "root", required_argument, NULL, O_ROOT },       { "id", required_argument, NULL, O_ID },
    { "moat", required_argument, NULL, O_MOAT },       { "cgroup", required_argument, NULL, O_CGROUP },
    { "name", required_argument, NULL, O_NAME },       { "image", required_argument, NULL, O_IMAGE },
    { "secrets", required_argument, NULL, O_SECRETS }, { "restart", required_argument, NULL, O_RESTART },
    { "rm", no_argument, NULL, O_RM },                 { "health-interval", required_argument, NULL, O_HI },
    { "health-timeout", required_argument, NULL, O_HT }, { "health-retries", required_argument, NULL, O_HR },
    { "health-start-period", required_argument, NULL, O_HS },
    { "log-max-size", required_argument, NULL, O_LMS }, { "log-max-files", required_argument, NULL, O_LMF },
    { "report-fd", required_argument, NULL, O_REPORT }, { NULL, 0, NULL, 0 },
  };
  unsigned long long v;
  int o;

  c->report_fd = -1;
  c->health_interval = c->health_timeout = 30000000000LL;
  c->health_retries = 3;
  c->log_max_size = 10 << 20;
  c->log_max_files = 2;
  while ((o = getopt_long (argc, argv, "+", opts, NULL)) != -1)
    {
      bool num = o >= O_HI && o != O_RM && o <= O_REPORT;
      if (num && parse_u64 (optarg, &v) < 0)
        return -1;
      switch (o)
        {
        case O_ROOT: c->root = optarg; break;
        case O_ID: c->id = optarg; break;
        case O_MOAT: c->moat = optarg; break;
        case O_CGROUP: c->cgroup = optarg; break;
        case O_NAME: c->name = optarg; break;
        case O_IMAGE: c->image = optarg; break;
        case O_SECRETS: c->secrets = optarg; break;
        case O_RESTART: if (parse_restart (optarg, c) < 0) return -1; break;
        case O_RM: c->remove = true; break;
        case O_HI: c->health_interval = (int64_t) v; break;
        case O_HT: c->health_timeout = (int64_t) v; break;
        case O_HR: c->health_retries = (unsigned) v; break;
        case O_HS: c->health_start_period = (int64_t) v; break;
        case O_LMS: c->log_max_size = v; break;
        case O_LMF: c->log_max_files = (unsigned) v; break;
        case O_REPORT: c->report_fd = (int) v; break;
        default: return -1;
        }
    }
  if (!c->root || !c->id || !c->moat || c->root[0] != '/' || c->moat[0] != '/' || c->health_interval <= 0)
    return -1;
  if (optind < argc)
    c->health_argv = argv + optind;
  snprintf (c->dir, sizeof c->dir, "%s/.engine/%s", c->root, c->id);
  return 0;
}

int
main (int argc, char **argv)
{
  static struct mon_config cfg;

  if (parse_args (argc, argv, &cfg) < 0)
    {
      fprintf (stderr, "moat-monitor: bad arguments (it is started by `moat run -d`, not by hand)\n");
      return 2;
    }
  return mon_run (&cfg);
}
