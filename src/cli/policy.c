/* SPDX-License-Identifier: GPL-2.0-or-later */
/* `moat policy check` (admission dry run) and `moat audit` (CIS Docker
 * Benchmark report over config files, inspect documents or a moat
 * container's stored config).  Both run the one rule table of
 * src/policy/rules.c. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "policy/engine.h"
#include "policy/policy.h"
#include "spec/spec_internal.h"
#include "util/cleanup.h"
#include "util/fs.h"

#define INPUT_MAX (64 << 20)

/* --policy FILE, else $MOAT_POLICY, else the default path (missing = the
   baseline).  A broken policy is MOAT_EPOLICY: exit 3, as admission would. */
int
moat_cli_load_policy (const char *opt, struct moat_policy *p, const char **label, struct moat_error *err)
{
  const char *path = opt ? opt : getenv (MOAT_POLICY_ENV);
  bool missing_ok = path == NULL || *path == '\0';

  if (missing_ok)
    path = MOAT_POLICY_DEFAULT_PATH;
  if (moat_policy_load (path, missing_ok, p, err) < 0)
    {
      moat_error_wrap (err, "no usable policy, every container would be refused");
      err->code = MOAT_EPOLICY;
      return MOAT_CLI_ERROR;
    }
  *label = p->from_file ? path : "built-in baseline";
  return 0;
}

struct check_ctx
{
  const struct moat_policy *policy;
  const char *file;
  size_t n_denied;
  FILE *out; /* verdicts, printed only once the whole input has parsed */
};

static int
check_one (struct moat_audit_input *in, void *data, struct moat_error *err)
{
  struct check_ctx *c = data;
  struct moat_evaluation ev;
  size_t i;

  (void) err;
  moat_policy_evaluate (c->policy, &in->spec, &in->side, &ev);
  fprintf (c->out, "%s%s%s:\n", c->file, in->side.name ? " " : "", in->side.name ? in->side.name : "");
  for (i = 0; i < ev.n; i++)
    {
      const struct moat_finding *f = &ev.findings[i];
      const struct moat_rule *r = &moat_rules[f->rule];
      const char *v = f->verdict == MOAT_PASS ? "pass" : f->verdict == MOAT_NA ? "n/a" : "FAIL";
      fprintf (c->out, "  %-4s %-4s %-27s %s\n", moat_action_name (f->action), v, r->id, f->reason);
      if (f->verdict == MOAT_FAIL && f->action != MOAT_ACTION_OFF)
        fprintf (c->out, "  %-4s %-4s %-27s fix: %s\n", "", "", "", r->remediation);
    }
  fprintf (c->out, "verdict: %s (%zu rule(s) violated, %zu warning(s))\n", ev.n_denied ? "denied" : "allowed", ev.n_denied,
          ev.n_warned);
  c->n_denied += ev.n_denied;
  return 0;
}

/* Where the text of one input is: a heap buffer reused from one input to
   the next, or a read-only mapping of a large regular file (copying a 40 MB
   inspect array into the heap was a third of audit's time).  As with grep
   or ripgrep, a file truncated by someone else while it is mapped would
   end audit with SIGBUS rather than an error line. */
struct input
{
  char *buf;
  size_t cap;
  void *map;
  size_t map_len;
  const char *text;
  size_t len;
};

#define INPUT_MAP_MIN (1 << 20)

static void
input_release (struct input *in)
{
  if (in->map)
    munmap (in->map, in->map_len);
  in->map = NULL;
}

static int
read_input (const char *path, struct input *in, struct moat_error *err)
{
  cleanup_fd int fd = -1;
  struct stat st;

  input_release (in);
  if (strcmp (path, "-") == 0)
    path = "/dev/stdin";
  fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return moat_err (err, errno, "open `%s`", path);
  if (fstat (fd, &st) == 0 && S_ISREG (st.st_mode) && st.st_size >= INPUT_MAP_MIN && st.st_size <= INPUT_MAX)
    {
      void *m = mmap (NULL, (size_t) st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
      if (m != MAP_FAILED)
        {
          in->map = m;
          in->map_len = (size_t) st.st_size;
          in->text = m;
          in->len = in->map_len;
          return 0;
        }
    }
  if (moat_read_fd_reuse (fd, path, INPUT_MAX, &in->buf, &in->cap, &in->len, err) < 0)
    return -1;
  in->text = in->buf;
  return 0;
}

static void
input_free (struct input *in)
{
  input_release (in);
  free (in->buf);
}

/* policy check [--policy FILE] CONFIG.json: exit 0 allowed, 3 denied. */
int
cmd_policy (struct moat_cli *cli, int argc, char **argv, struct moat_error *err)
{
  static const struct option opts[] = { { "policy", required_argument, NULL, 'p' }, { NULL, 0, NULL, 0 } };
  const char *policy_path = NULL, *label;
  struct moat_policy policy;
  struct check_ctx ctx = { &policy, NULL, 0, NULL };
  struct input in = { 0 };
  cleanup_free char *text = NULL;
  size_t text_len = 0;
  int c, r;

  (void) cli;
  if (argc < 2 || strcmp (argv[1], "check") != 0)
    return moat_usage (err, "usage: moat policy check [--policy FILE] CONFIG.json");
  argc--;
  argv++;
  optind = 0;
  while ((c = getopt_long (argc, argv, "+", opts, NULL)) != -1)
    {
      if (c != 'p')
        return moat_usage (err, "bad option (usage: moat policy check [--policy FILE] CONFIG.json)");
      policy_path = optarg;
    }
  if (optind != argc - 1)
    return moat_usage (err, "policy check expects exactly one CONFIG.json");
  ctx.file = argv[optind];
  if (read_input (ctx.file, &in, err) < 0)
    return input_free (&in), MOAT_CLI_ERROR;
  if (moat_cli_load_policy (policy_path, &policy, &label, err) < 0)
    return input_free (&in), MOAT_CLI_ERROR;
  /* An inspect array is read one container at a time: its verdicts wait in
     memory so that input broken further on prints only the error. */
  ctx.out = open_memstream (&text, &text_len);
  if (ctx.out == NULL)
    {
      moat_policy_free (&policy);
      input_free (&in);
      return moat_err (err, errno, "policy check"), MOAT_CLI_ERROR;
    }
  r = moat_inspect_parse (in.text, in.len, check_one, &ctx, err);
  moat_policy_free (&policy);
  input_free (&in);
  if (fclose (ctx.out) != 0 && r == 0)
    r = moat_err (err, errno, "policy check");
  if (r < 0)
    return moat_error_wrap (err, "%s", ctx.file), MOAT_CLI_ERROR;
  printf ("policy: %s\n", label);
  fwrite (text, 1, text_len, stdout);
  fflush (stdout);
  return ctx.n_denied ? 3 : 0;
}

/* ---- audit ------------------------------------------------------------ */

struct audit_ctx
{
  const struct moat_policy *policy;
  struct moat_audit_report report;
  size_t cap;
  const char *file;
  struct moat_interner *strings;
};

static int
audit_one (struct moat_audit_input *in, void *data, struct moat_error *err)
{
  struct audit_ctx *a = data;
  struct moat_audit_item *it;
  struct moat_evaluation ev;

  if (a->report.n == a->cap)
    {
      size_t ncap = a->cap ? a->cap * 2 : 16;
      struct moat_audit_item *n = realloc (a->report.items, ncap * sizeof *n);
      if (n == NULL)
        return moat_err (err, ENOMEM, "audit");
      a->report.items = n;
      a->cap = ncap;
    }
  it = &a->report.items[a->report.n];
  memset (it, 0, sizeof *it);
  moat_policy_evaluate (a->policy, &in->spec, &in->side, &ev);
  if (moat_row_fill (&it->row, &ev, a->strings, err) < 0)
    return -1;
  it->file = moat_intern (a->strings, a->file);
  it->name = in->side.name ? moat_intern (a->strings, in->side.name) : NULL;
  if (it->file == NULL || (in->side.name && it->name == NULL))
    return moat_err (err, ENOMEM, "audit");
  /* The item keeps the side info; the caller frees only what is left. */
  it->side = in->side;
  memset (&in->side, 0, sizeof in->side);
  a->report.n++;
  return 0;
}

static void
audit_free (struct audit_ctx *a)
{
  size_t i;

  for (i = 0; i < a->report.n; i++)
    moat_side_info_free (&a->report.items[i].side);
  free (a->report.items);
  moat_interner_free (a->strings);
}

static int
audit_container (struct moat_cli *cli, const char *id, struct audit_ctx *a, struct moat_error *err)
{
  struct moat_audit_input in = { 0 };
  struct moat_state st = { 0 };
  char file[4096];
  int r;

  if (moat_container_load (&cli->ctx, id, &st, &in.spec, err) < 0)
    return -1;
  snprintf (file, sizeof file, "%s/%s/config.json", cli->ctx.root, id);
  a->file = file;
  r = moat_side_from_oci (&in.spec, &in.side, err);
  if (r == 0 && (in.side.name = strdup (id)) == NULL)
    r = moat_err (err, ENOMEM, "audit");
  if (r == 0)
    r = audit_one (&in, a, err);
  moat_spec_free (&in.spec);
  moat_side_info_free (&in.side);
  moat_state_free (&st);
  return r;
}

/* Every container of a live engine (running ones, or all with --all), as
   `docker inspect` would show them: the same adapter, the same checks. */
static int
audit_engine (const char *url, bool all, struct audit_ctx *a, struct moat_error *err)
{
  struct moat_engine eng;
  struct moat_strv ids = { 0 };
  char file[512];
  size_t i;
  int r = 0;

  if (moat_engine_open (&eng, url, err) < 0 || moat_engine_list (&eng, all, &ids, err) < 0)
    return -1;
  for (i = 0; i < ids.n && r == 0; i++)
    {
      struct moat_audit_input in = { 0 };
      bool running;
      snprintf (file, sizeof file, "%s/containers/%.12s", url, ids.v[i]);
      a->file = file;
      r = moat_engine_inspect (&eng, ids.v[i], &in, &running, err);
      /* Removed between the list and the inspect: not there to audit. */
      if (r < 0 && err->code == ENOENT)
        {
          r = 0;
          continue;
        }
      if (r == 0)
        r = audit_one (&in, a, err);
      moat_spec_free (&in.spec);
      moat_side_info_free (&in.side);
    }
  spec_strv_free (&ids);
  return r;
}

struct audit_opts
{
  enum moat_report_format fmt;
  bool fail_on_warn, all;
  const char *policy, *host;
};

static int
parse_audit_opts (int argc, char **argv, struct audit_opts *o, const char ***ids, size_t *n_ids,
                  struct moat_error *err)
{
  static const struct option opts[] = {
    { "format", required_argument, NULL, 'f' },      { "fail-on", required_argument, NULL, 'F' },
    { "container", required_argument, NULL, 'c' },   { "policy", required_argument, NULL, 'p' },
    { "docker-host", required_argument, NULL, 'H' }, { "all", no_argument, NULL, 'a' },
    { NULL, 0, NULL, 0 },
  };
  int c;

  optind = 0;
  while ((c = getopt_long (argc, argv, "+", opts, NULL)) != -1)
    switch (c)
      {
      case 'f':
        if (strcmp (optarg, "table") == 0)
          o->fmt = MOAT_REPORT_TABLE;
        else if (strcmp (optarg, "json") == 0)
          o->fmt = MOAT_REPORT_JSON;
        else if (strcmp (optarg, "sarif") == 0)
          o->fmt = MOAT_REPORT_SARIF;
        else
          return moat_usage (err, "--format: must be table, json or sarif, not `%s`", optarg);
        break;
      case 'F':
        if (strcmp (optarg, "warn") != 0 && strcmp (optarg, "none") != 0)
          return moat_usage (err, "--fail-on: must be warn or none, not `%s`", optarg);
        o->fail_on_warn = strcmp (optarg, "warn") == 0;
        break;
      case 'c':
        (*ids)[(*n_ids)++] = optarg;
        break;
      case 'p':
        o->policy = optarg;
        break;
      case 'H':
        o->host = optarg;
        break;
      case 'a':
        o->all = true;
        break;
      default:
        return moat_usage (err, "bad option (usage: moat audit [--format table|json|sarif] [--fail-on warn|none] "
                                "[--container ID]... [--docker-host unix:///path.sock [--all]] [FILE...])");
      }
  if (optind == argc && *n_ids == 0 && o->host == NULL)
    return moat_usage (err, "audit: give FILE... (config.json, docker or podman inspect output), --container ID "
                            "or --docker-host unix:///path.sock");
  if (o->all && o->host == NULL)
    return moat_usage (err, "audit: --all needs --docker-host");
  if (o->host)
    {
      char path[108];
      if (moat_http_unix_path (o->host, path, sizeof path, err) < 0)
        return moat_error_wrap (err, "--docker-host"), MOAT_CLI_USAGE;
    }
  return 0;
}

int
cmd_audit (struct moat_cli *cli, int argc, char **argv, struct moat_error *err)
{
  struct audit_opts o = { .fmt = MOAT_REPORT_TABLE };
  const char *label;
  cleanup_free const char **ids = calloc ((size_t) argc + 1, sizeof *ids);
  size_t n_ids = 0, n_warn = 0, i;
  struct moat_policy policy;
  struct audit_ctx a = { &policy, { 0 }, 0, NULL, NULL };
  struct input in = { 0 };
  int r, ret = MOAT_CLI_ERROR;

  if (ids == NULL)
    return moat_err (err, ENOMEM, "audit"), MOAT_CLI_ERROR;
  r = parse_audit_opts (argc, argv, &o, &ids, &n_ids, err);
  if (r < 0)
    return r;
  if (moat_cli_load_policy (o.policy, &policy, &label, err) < 0)
    return MOAT_CLI_ERROR;
  a.strings = moat_interner_new ();
  if (a.strings == NULL)
    {
      moat_policy_free (&policy);
      return moat_err (err, ENOMEM, "audit"), MOAT_CLI_ERROR;
    }
  a.report.start = (long) time (NULL);
  for (i = 0; i < n_ids; i++)
    if (audit_container (cli, ids[i], &a, err) < 0)
      {
        moat_error_wrap (err, "container `%s`", ids[i]);
        goto out;
      }
  if (o.host && audit_engine (o.host, o.all, &a, err) < 0)
    goto out;
  for (i = (size_t) optind; i < (size_t) argc; i++)
    {
      a.file = argv[i];
      if (read_input (argv[i], &in, err) < 0)
        goto out;
      if (moat_inspect_parse (in.text, in.len, audit_one, &a, err) < 0)
        {
          moat_error_wrap (err, "%s", argv[i]);
          goto out;
        }
    }
  a.report.end = (long) time (NULL);
  if (moat_report_write (stdout, &a.report, o.fmt, o.fmt == MOAT_REPORT_TABLE && isatty (STDOUT_FILENO), &n_warn,
                         err)
      < 0)
    goto out;
  fflush (stdout);
  ret = o.fail_on_warn && n_warn > 0 ? 3 : 0;
out:
  input_free (&in);
  audit_free (&a);
  moat_policy_free (&policy);
  return ret;
}
