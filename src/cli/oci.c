/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The runc-compatible lifecycle commands: each parses its options and calls
 * one function of container/lifecycle.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "sandbox/sandbox.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"

/* Parse "--opt" style options into CO; returns index of the first operand. */
struct create_cli
{
  struct moat_create_opts o;
  bool detach, keep;
};

static int
parse_create (int argc, char **argv, bool is_run, struct create_cli *cc, struct moat_error *err)
{
  static const struct option opts[] = {
    { "bundle", required_argument, NULL, 'b' },
    { "pid-file", required_argument, NULL, 'p' },
    { "console-socket", required_argument, NULL, 'c' },
    { "preserve-fds", required_argument, NULL, 'P' },
    { "no-pivot", no_argument, NULL, 'n' },
    { "no-new-keyring", no_argument, NULL, 'k' },
    { "detach", no_argument, NULL, 'd' },
    { "keep", no_argument, NULL, 'K' },
    { "no-subreaper", no_argument, NULL, 'S' },
    { NULL, 0, NULL, 0 },
  };
  long long v;
  int c;

  optind = 0;
  while ((c = getopt_long (argc, argv, "+b:d", opts, NULL)) != -1)
    switch (c)
      {
      case 'b':
        cc->o.bundle = optarg;
        break;
      case 'p':
        cc->o.pid_file = optarg;
        break;
      case 'c':
        cc->o.console_socket = optarg;
        break;
      case 'P':
        if (moat_parse_int (optarg, 0, 1 << 20, &v) < 0)
          return moat_usage (err, "--preserve-fds: not a count: `%s`", optarg);
        cc->o.preserve_fds = (int) v;
        break;
      case 'n':
        cc->o.no_pivot = true;
        break;
      case 'k':
        cc->o.no_new_keyring = true;
        break;
      case 'd':
      case 'K':
        if (!is_run)
          return moat_usage (err, "unknown option `%s`", argv[optind - 1]);
        if (c == 'd')
          cc->detach = true;
        else
          cc->keep = true;
        break;
      case 'S':
        break;
      default:
        return moat_usage (err, "bad option (see moat --help)");
      }
  if (optind != argc - 1)
    return moat_usage (err, "expects exactly one container id");
  cc->o.id = argv[optind];
  return 0;
}

/* Whether the bundle's config may let create skip the sealed re-exec: it
 * asks for a user namespace of its own with id mappings
 * (moat_exe_unwritable_from), or nothing in its text rules out the exec stub
 * (moat_exec_stub_protects).  Create then decides on the parsed spec.  Any
 * other config re-execs sealed at once, before the config is parsed, so
 * that the parse is not done twice; a wrong guess here costs only that. */
static bool
config_may_skip_seal (const char *bundle)
{
  static const char *const stub_excluders[] = { "CAP_SYS_PTRACE", "selinuxLabel", "apparmorProfile",
                                                "createContainer", "startContainer", "listenerPath" };
  char path[PATH_MAX];
  cleanup_free char *text = NULL;
  json_t *doc, *lx, *ns, *v;
  bool own = false;
  size_t i, len;
  struct moat_error ignored;

  snprintf (path, sizeof path, "%s/config.json", bundle ? bundle : ".");
  if (moat_read_file_at (AT_FDCWD, path, 4 << 20, &text, &len, &ignored) < 0)
    return false;
  if (memmem (text, len, "\"pid\"", 5) != NULL)
    {
      bool stub_ok = true;
      for (i = 0; i < MOAT_ARRAY_SIZE (stub_excluders); i++)
        stub_ok = stub_ok && memmem (text, len, stub_excluders[i], strlen (stub_excluders[i])) == NULL;
      if (stub_ok)
        return true;
    }
  /* Without the key spelled out there are no mappings (an escaped spelling
     only costs the early re-exec): most configs are not parsed here. */
  if (memmem (text, len, "\"uidMappings\"", 13) == NULL)
    return false;
  doc = json_loadb (text, len, 0, NULL);
  lx = json_object_get (doc, "linux");
  ns = json_object_get (lx, "namespaces");
  json_array_foreach (ns, i, v)
    if (json_is_string (json_object_get (v, "type"))
        && strcmp (json_string_value (json_object_get (v, "type")), "user") == 0
        && json_object_get (v, "path") == NULL)
      own = true;
  own = own && json_array_size (json_object_get (lx, "uidMappings")) > 0
        && json_array_size (json_object_get (lx, "gidMappings")) > 0;
  json_decref (doc);
  return own;
}

/* Before create: re-exec sealed now unless the config may not need it, and
 * give create what it needs to re-exec after its own check. */
static int
seal_before_create (struct moat_cli *cli, struct create_cli *cc, struct moat_error *err)
{
  cc->o.seal_argv = cli->full_argv;
  if (moat_exe_is_sealed () || config_may_skip_seal (cc->o.bundle))
    return 0;
  return moat_exe_ensure_sealed (cli->full_argv, err);
}

int
cmd_create (struct moat_cli *cli, int argc, char **argv, struct moat_error *err)
{
  struct create_cli cc = { 0 };
  struct moat_created out;
  int r = parse_create (argc, argv, false, &cc, err);

  if (r < 0)
    return r;
  if (seal_before_create (cli, &cc, err) < 0)
    return MOAT_CLI_ERROR;
  if (moat_container_create (&cli->ctx, &cc.o, &out, err) < 0)
    return MOAT_CLI_ERROR;
  return 0;
}

int
cmd_run (struct moat_cli *cli, int argc, char **argv, struct moat_error *err)
{
  struct create_cli cc = { 0 };
  struct moat_created out;
  struct moat_error ignored;
  int r;
  sigset_t all, saved;
  int status;

  if (moat_run_is_frontend (argc, argv))
    return cmd_run_frontend (cli, argc, argv, err);
  r = parse_create (argc, argv, true, &cc, err);
  if (r < 0)
    return r;
  if (seal_before_create (cli, &cc, err) < 0)
    return MOAT_CLI_ERROR;
  /* In the general spawn path the init is our grandchild: as a subreaper we
     still get to wait for it. */
  if (!cc.detach)
    prctl (PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
  cc.o.want_pty_master = !cc.detach && cc.o.console_socket == NULL;
  cc.o.start_over_sync = true;
  if (moat_container_create (&cli->ctx, &cc.o, &out, err) < 0)
    return MOAT_CLI_ERROR;
  /* From the moment the process runs, a signal to us is for it: block them
     now (the init was cloned with our normal mask), forward them in the wait. */
  sigfillset (&all);
  if (!cc.detach)
    sigprocmask (SIG_BLOCK, &all, &saved);
  r = moat_container_start_created (&cli->ctx, cc.o.id, out.sync_fd, err);
  close (out.sync_fd);
  if (r < 0)
    {
      moat_container_delete (&cli->ctx, cc.o.id, true, &ignored);
      return MOAT_CLI_ERROR;
    }
  if (cc.detach)
    return 0;
  status = moat_wait_forward (out.pid, out.pty_master_fd);
  sigprocmask (SIG_SETMASK, &saved, NULL);
  {
    /* A process killed for memory is reported, not left to guess from 137. */
    uint64_t ooms = moat_container_oom_kills (&cli->ctx, cc.o.id);
    if (ooms > 0)
      fprintf (stderr, "moat: run: container `%s`: the kernel's OOM killer killed %llu process(es) "
                       "(memory limit reached)\n", cc.o.id, (unsigned long long) ooms);
  }
  moat_debug ("run %s: process exited with %d", cc.o.id, status);
  if (out.pty_master_fd >= 0)
    close (out.pty_master_fd);
  if (!cc.keep)
    moat_container_delete (&cli->ctx, cc.o.id, true, &ignored);
  return status;
}

static int
one_id (int argc, char **argv, const char **id, struct moat_error *err)
{
  optind = 0;
  if (getopt_long (argc, argv, "+", (struct option[]){ { NULL, 0, NULL, 0 } }, NULL) != -1)
    return moat_usage (err, "bad option (see moat --help)");
  if (optind != argc - 1)
    return moat_usage (err, "expects exactly one container id");
  *id = argv[optind];
  return 0;
}

int
cmd_start (struct moat_cli *cli, int argc, char **argv, struct moat_error *err)
{
  const char *id;
  int r = one_id (argc, argv, &id, err);

  if (r < 0)
    return r;
  return moat_container_start (&cli->ctx, id, err) < 0 ? MOAT_CLI_ERROR : 0;
}

int
cmd_state (struct moat_cli *cli, int argc, char **argv, struct moat_error *err)
{
  cleanup_free char *json = NULL;
  const char *id;
  int r = one_id (argc, argv, &id, err);

  if (r < 0)
    return r;
  if (moat_container_state (&cli->ctx, id, &json, err) < 0)
    return MOAT_CLI_ERROR;
  printf ("%s\n", json);
  return 0;
}

int
cmd_kill (struct moat_cli *cli, int argc, char **argv, struct moat_error *err)
{
  static const struct option opts[] = { { "all", no_argument, NULL, 'a' },
                                        { "signal", required_argument, NULL, 's' },
                                        { NULL, 0, NULL, 0 } };
  const char *sigtxt = "SIGTERM";
  bool all = false;
  int c, sig;

  optind = 0;
  while ((c = getopt_long (argc, argv, "+as:", opts, NULL)) != -1)
    switch (c)
      {
      case 'a':
        all = true;
        break;
      case 's':
        sigtxt = optarg;
        break;
      default:
        return moat_usage (err, "bad option (see moat --help)");
      }
  if (optind >= argc || argc - optind > 2)
    return moat_usage (err, "usage: kill [--all] ID [SIGNAL]");
  if (argc - optind == 2)
    sigtxt = argv[optind + 1];
  sig = moat_signal_from_name (sigtxt);
  if (sig <= 0)
    return moat_usage (err, "unknown signal `%s`", sigtxt);
  return moat_container_kill (&cli->ctx, argv[optind], sig, all, err) < 0 ? MOAT_CLI_ERROR : 0;
}

int
cmd_delete (struct moat_cli *cli, int argc, char **argv, struct moat_error *err)
{
  static const struct option opts[] = { { "force", no_argument, NULL, 'f' }, { NULL, 0, NULL, 0 } };
  bool force = false;
  int c;

  optind = 0;
  while ((c = getopt_long (argc, argv, "+f", opts, NULL)) != -1)
    if (c == 'f')
      force = true;
    else
      return moat_usage (err, "bad option (see moat --help)");
  if (optind != argc - 1)
    return moat_usage (err, "expects exactly one container id");
  return moat_container_delete (&cli->ctx, argv[optind], force, err) < 0 ? MOAT_CLI_ERROR : 0;
}

static int
parse_format (int argc, char **argv, bool *json, bool *quiet, struct moat_error *err)
{
  static const struct option opts[] = { { "format", required_argument, NULL, 'f' },
                                        { "quiet", no_argument, NULL, 'q' },
                                        { NULL, 0, NULL, 0 } };
  int c;

  optind = 0;
  while ((c = getopt_long (argc, argv, "+f:q", opts, NULL)) != -1)
    switch (c)
      {
      case 'f':
        if (strcmp (optarg, "json") == 0)
          *json = true;
        else if (strcmp (optarg, "table") != 0)
          return moat_usage (err, "--format: must be table or json, not `%s`", optarg);
        break;
      case 'q':
        if (quiet == NULL)
          return moat_usage (err, "unknown option -q");
        *quiet = true;
        break;
      default:
        return moat_usage (err, "bad option (see moat --help)");
      }
  return 0;
}

int
cmd_list (struct moat_cli *cli, int argc, char **argv, struct moat_error *err)
{
  bool json = false, quiet = false;
  cleanup_fd int rootfd = -1;
  DIR *d;
  struct dirent *de;
  json_t *arr = json_array ();
  int r = parse_format (argc, argv, &json, &quiet, err);

  if (r < 0)
    return r;
  if (optind != argc)
    return moat_usage (err, "list takes no arguments");
  if (moat_state_root_open (cli->ctx.root, &rootfd, err) < 0)
    return MOAT_CLI_ERROR;
  d = fdopendir (dup (rootfd));
  if (d == NULL)
    return moat_err (err, errno, "read %s", cli->ctx.root), MOAT_CLI_ERROR;
  if (!json && !quiet)
    printf ("%-24s %-8s %-10s %-40s %-20s %s\n", "ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER");
  while ((de = readdir (d)) != NULL)
    {
      struct moat_state st = { 0 };
      struct moat_error e2;
      enum moat_status s;
      char when[32];
      struct tm tm;
      time_t t;

      if (de->d_name[0] == '.' || moat_container_load (&cli->ctx, de->d_name, &st, NULL, &e2) < 0)
        continue;
      s = moat_state_status (&st);
      t = (time_t) st.created;
      gmtime_r (&t, &tm);
      strftime (when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
      if (quiet)
        printf ("%s\n", st.id);
      else if (json)
        json_array_append_new (arr, json_pack ("{s:s, s:s, s:i, s:s, s:s, s:s, s:s, s:s}", "ociVersion", "1.2.0",
                                               "id", st.id, "pid", s == MOAT_STATUS_STOPPED ? 0 : (int) st.pid,
                                               "status", moat_status_name (s), "bundle", st.bundle ? st.bundle : "",
                                               "rootfs", st.rootfs ? st.rootfs : "", "created", when, "owner",
                                               st.owner ? st.owner : "root"));
      else
        printf ("%-24s %-8d %-10s %-40s %-20s %s\n", st.id, s == MOAT_STATUS_STOPPED ? 0 : (int) st.pid,
                moat_status_name (s), st.bundle ? st.bundle : "", when, st.owner ? st.owner : "root");
      moat_state_free (&st);
    }
  closedir (d);
  if (json)
    {
      char *s = json_dumps (arr, JSON_COMPACT);
      printf ("%s\n", s ? s : "[]");
      free (s);
    }
  json_decref (arr);
  return 0;
}

int
cmd_ps (struct moat_cli *cli, int argc, char **argv, struct moat_error *err)
{
  bool json = false;
  cleanup_free pid_t *pids = NULL;
  size_t n = 0, i;
  int r;

  /* runc's `ps ID` lists a container's processes; without an id it is
     Docker's `ps [-a]`, the detached containers. */
  for (i = 1; i < (size_t) argc; i++)
    if (strcmp (argv[i], "--format") == 0 || strcmp (argv[i], "-f") == 0)
      i++; /* its value */
    else if (strncmp (argv[i], "--format=", 9) != 0)
      break;
  if (i >= (size_t) argc || argv[i][0] == '-')
    return moat_engine_ps (cli, argc, argv, err);
  r = parse_format (argc, argv, &json, NULL, err);

  if (r < 0)
    return r;
  if (optind >= argc)
    return moat_usage (err, "expects a container id");
  if (moat_container_pids (&cli->ctx, argv[optind], &pids, &n, err) < 0)
    return MOAT_CLI_ERROR;
  if (json)
    {
      printf ("[");
      for (i = 0; i < n; i++)
        printf ("%s%d", i ? "," : "", (int) pids[i]);
      printf ("]\n");
      return 0;
    }
  printf ("%-8s %-8s %s\n", "PID", "PPID", "CMD");
  for (i = 0; i < n; i++)
    {
      char path[64], buf[512] = "", stat[512] = "";
      int ppid = 0;
      FILE *f;

      snprintf (path, sizeof path, "/proc/%d/cmdline", (int) pids[i]);
      if ((f = fopen (path, "re")))
        {
          size_t k, len = fread (buf, 1, sizeof buf - 1, f);
          for (k = 0; k + 1 < len; k++)
            if (buf[k] == '\0')
              buf[k] = ' ';
          buf[len] = '\0';
          fclose (f);
        }
      snprintf (path, sizeof path, "/proc/%d/stat", (int) pids[i]);
      if ((f = fopen (path, "re")))
        {
          char *p;
          if (fgets (stat, sizeof stat, f) && (p = strrchr (stat, ')')))
            sscanf (p + 2, "%*c %d", &ppid);
          fclose (f);
        }
      printf ("%-8d %-8d %s\n", (int) pids[i], ppid, buf);
    }
  return 0;
}

int
cmd_pause (struct moat_cli *cli, int argc, char **argv, struct moat_error *err)
{
  const char *id;
  int r = one_id (argc, argv, &id, err);

  if (r < 0)
    return r;
  return moat_container_pause (&cli->ctx, id, true, err) < 0 ? MOAT_CLI_ERROR : 0;
}

int
cmd_resume (struct moat_cli *cli, int argc, char **argv, struct moat_error *err)
{
  const char *id;
  int r = one_id (argc, argv, &id, err);

  if (r < 0)
    return r;
  return moat_container_pause (&cli->ctx, id, false, err) < 0 ? MOAT_CLI_ERROR : 0;
}

int
cmd_update (struct moat_cli *cli, int argc, char **argv, struct moat_error *err)
{
  static const struct option opts[] = {
    { "resources", required_argument, NULL, 'r' },
    { "memory", required_argument, NULL, 'm' },
    { "pids-limit", required_argument, NULL, 'p' },
    { "cpu-shares", required_argument, NULL, 'c' },
    { NULL, 0, NULL, 0 },
  };
  struct moat_resources res = { 0 };
  const char *file = NULL, *mem = NULL, *pids = NULL, *shares = NULL;
  long long v;
  int c, ret = MOAT_CLI_ERROR;

  optind = 0;
  while ((c = getopt_long (argc, argv, "+r:m:", opts, NULL)) != -1)
    switch (c)
      {
      case 'r':
        file = optarg;
        break;
      case 'm':
        mem = optarg;
        break;
      case 'p':
        pids = optarg;
        break;
      case 'c':
        shares = optarg;
        break;
      default:
        return moat_usage (err, "bad option (see moat --help)");
      }
  if (optind != argc - 1)
    return moat_usage (err, "expects exactly one container id");
  if (file)
    {
      cleanup_free char *text = NULL;
      size_t len;
      if (moat_read_file_at (AT_FDCWD, strcmp (file, "-") == 0 ? "/dev/stdin" : file, 1 << 20, &text, &len, err) < 0)
        return MOAT_CLI_ERROR;
      if (moat_resources_parse (text, len, &res, err) < 0)
        return moat_error_wrap (err, "--resources"), MOAT_CLI_ERROR;
    }
  if (mem)
    {
      int64_t m;
      if (moat_parse_size (mem, &m) < 0)
        {
          moat_resources_free (&res);
          return moat_usage (err, "--memory: not a size: `%s`", mem);
        }
      res.memory.has_limit = true;
      res.memory.limit = m;
    }
  if (pids)
    {
      if (moat_parse_int (pids, -1, INT64_MAX, &v) < 0)
        {
          moat_resources_free (&res);
          return moat_usage (err, "--pids-limit: not a number: `%s`", pids);
        }
      res.pids.has_limit = true;
      res.pids.limit = v;
    }
  if (shares)
    {
      if (moat_parse_int (shares, 2, 262144, &v) < 0)
        {
          moat_resources_free (&res);
          return moat_usage (err, "--cpu-shares: must be 2..262144: `%s`", shares);
        }
      res.cpu.has_shares = true;
      res.cpu.shares = (uint64_t) v;
    }
  if (moat_container_update (&cli->ctx, argv[optind], &res, err) == 0)
    ret = 0;
  moat_resources_free (&res);
  return ret;
}
