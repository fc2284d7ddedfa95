/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "container/events.h"
#include "policy/policy.h"
#include "util/log.h"

static const struct
{
  const char *name;
  moat_cmd_fn fn;
  const char *help;
} commands[] = {
  { "create", cmd_create, "create a container from a bundle" },
  { "start", cmd_start, "start the process of a created container" },
  { "run", cmd_run, "create and start a container" },
  { "state", cmd_state, "print the state of a container (JSON)" },
  { "kill", cmd_kill, "send a signal to a container's init (or all its processes)" },
  { "delete", cmd_delete, "delete a container and everything it holds" },
  { "list", cmd_list, "list containers" },
  { "exec", cmd_exec, "run a new process in a running container" },
  { "ps", cmd_ps, "list the processes of a container" },
  { "pause", cmd_pause, "freeze every process of a container" },
  { "resume", cmd_resume, "thaw a paused container" },
  { "update", cmd_update, "change the resource limits of a container" },
  { "features", cmd_features, "print the features this runtime supports (JSON)" },
  { "policy", cmd_policy, "check a config against the admission policy (policy check FILE)" },
  { "audit", cmd_audit, "audit configs or inspect output against the CIS Docker Benchmark" },
  { "watch", cmd_watch, "follow a Docker Engine API's events and check (--enforce: stop) new containers" },
  { "image", cmd_image, "manage images: load ls inspect rm prune fsck unpack resolve" },
  { "images", cmd_images, "list images (moat image ls)" },
  { "rmi", cmd_rmi, "remove an image name (moat image rm)" },
  { "pull", cmd_pull, "pull an image from a registry (moat image pull)" },
  { "spec", cmd_spec, "write a hardened config.json (--compat: a runc-like one)" },
  { "events", cmd_events, "print the events log (--follow, --since, --filter), or runc's stats of ID" },
  { "logs", cmd_logs, "print the logs of a detached container (-f, --since, --tail N, -t)" },
  { "stop", cmd_stop, "stop detached containers (SIGTERM, then SIGKILL after -t SECONDS)" },
  { "rm", cmd_rm, "remove stopped detached containers (-f: stop them first)" },
  { "wait", cmd_wait, "wait until detached containers stop; print their exit codes" },
  { "inspect", cmd_inspect, "print the state and config of detached containers (JSON)" },
  { "top", cmd_top, "list the processes of a container" },
  { "stats", cmd_stats, "cpu, memory and pids of detached containers (--no-stream)" },
};

static void
usage (FILE *f)
{
  size_t i;

  fprintf (f, "usage: moat [global options] COMMAND [options] ...\n\n"
              "global options:\n"
              "  --root DIR          state directory (default /run/moat)\n"
              "  --log FILE          write log messages to FILE\n"
              "  --log-format FMT    text (default) or json\n"
              "  --debug             log debug messages\n"
              "  --systemd-cgroup    use systemd cgroup paths (refused: no systemd here)\n"
              "  --policy FILE       admission policy (default $MOAT_POLICY, else /etc/moat/policy.yaml)\n"
              "  --events-syslog     mirror every event to syslog (/dev/log; $MOAT_EVENTS_SYSLOG)\n"
              "  --version, --help\n\ncommands:\n");
  for (i = 0; i < sizeof commands / sizeof commands[0]; i++)
    fprintf (f, "  %-10s %s\n", commands[i].name, commands[i].help);
}

int
main (int argc, char **argv)
{
  static const struct option opts[] = {
    { "root", required_argument, NULL, 'r' },
    { "log", required_argument, NULL, 'l' },
    { "log-format", required_argument, NULL, 'f' },
    { "debug", no_argument, NULL, 'd' },
    { "systemd-cgroup", no_argument, NULL, 's' },
    { "cgroup-manager", required_argument, NULL, 'c' },
    { "rootless", required_argument, NULL, 'R' },
    { "policy", required_argument, NULL, 'P' },
    { "events-syslog", no_argument, NULL, 'E' },
    { "version", no_argument, NULL, 'v' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  struct moat_cli cli = { .ctx = { .root = "/run/moat" }, .full_argv = argv };
  struct moat_error err = { 0 };
  const char *log_path = NULL, *log_format = "text";
  bool debug = false;
  size_t i;
  int c, ret;

  while ((c = getopt_long (argc, argv, "+hv", opts, NULL)) != -1)
    switch (c)
      {
      case 'r':
        cli.ctx.root = optarg;
        break;
      case 'l':
        log_path = optarg;
        break;
      case 'f':
        if (strcmp (optarg, "text") != 0 && strcmp (optarg, "json") != 0)
          {
            fprintf (stderr, "moat: --log-format: must be text or json, not `%s`\n", optarg);
            return 2;
          }
        log_format = optarg;
        break;
      case 'd':
        debug = true;
        break;
      case 's':
        cli.ctx.systemd_cgroup = true;
        break;
      case 'c':
        /* Engines pass "--cgroup-manager cgroupfs|disabled" to crun-named runtimes. */
        if (strcmp (optarg, "cgroupfs") != 0)
          {
            fprintf (stderr, "moat: --cgroup-manager `%s`: only cgroupfs is supported\n", optarg);
            return 2;
          }
        break;
      case 'R':
        break;
      case 'P':
        /* Read by moat_policy_admit() in create, and by policy/audit. */
        if (setenv (MOAT_POLICY_ENV, optarg, 1) < 0)
          return 1;
        break;
      case 'E':
        /* Read by moat_event_emit(), in this process and in the monitors
           it starts. */
        if (setenv (MOAT_EVENTS_SYSLOG_ENV, "/dev/log", 1) < 0)
          return 1;
        break;
      case 'v':
        printf ("moat version %s\nspec: 1.2.0\n", MOAT_VERSION);
        return 0;
      case 'h':
        usage (stdout);
        return 0;
      default:
        usage (stderr);
        return 2;
      }
  moat_log_init (log_path, strcmp (log_format, "json") == 0, debug);
  if (optind >= argc)
    {
      usage (stderr);
      return 2;
    }
  for (i = 0; i < sizeof commands / sizeof commands[0]; i++)
    if (strcmp (argv[optind], commands[i].name) == 0)
      break;
  if (i == sizeof commands / sizeof commands[0])
    {
      fprintf (stderr, "moat: unknown command `%s` (see moat --help)\n", argv[optind]);
      moat_log ("error", "unknown command `%s`", argv[optind]);
      return 2;
    }
  optind++;
  ret = commands[i].fn (&cli, argc - optind + 1, argv + optind - 1, &err);
  if (ret >= 0)
    return ret;
  /* One line, always: a control character in user input (an id with a
     newline) must not split the message.  A policy denial is the exception:
     one line per violated rule, built from sanitized reasons (policy/rules.c). */
  for (char *c = err.msg; *c; c++)
    if (((unsigned char) *c < 0x20 || *c == 0x7f) && !(*c == '\n' && err.code == MOAT_EPOLICY))
      *c = '?';
  fprintf (stderr, "moat: %s: %s\n", commands[i].name, err.msg);
  moat_log ("error", "%s: %s", commands[i].name, err.msg);
  if (ret == MOAT_CLI_DENY || err.code == MOAT_EPOLICY)
    return 3;
  return ret == MOAT_CLI_USAGE ? 2 : 1;
}
