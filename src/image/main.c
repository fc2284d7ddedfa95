/* SPDX-License-Identifier: GPL-2.0-or-later */
/* moat-image: the image store commands.  A separate executable so that the
 * runtime's hot path (create/start/run/delete) never loads libarchive or
 * libcrypto; `moat image ...` execs this. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/image.h"
#include "image/cmd.h"
#include "util/cleanup.h"

static void
usage (FILE *f)
{
  fprintf (f, "usage: moat image [--root-images DIR] COMMAND [options] [ARGS]\n\n"
              "commands:\n"
              "  load [--name NAME] FILE|DIR   load an OCI layout, oci-archive or docker-archive\n"
              "  ls [--format table|json]      list images (alias: moat images)\n"
              "  inspect NAME                  config, layers and unpack report (JSON)\n"
              "  rm NAME                       remove a name (alias: moat rmi); `prune` frees space\n"
              "  prune                         remove blobs and rootfs trees no name refers to\n"
              "  fsck                          re-verify every blob (exit 1 if any is corrupt)\n"
              "  unpack NAME                   unpack the rootfs now and print its path\n"
              "  resolve NAME                  unpack if needed and print {rootfs, config, digest}\n"
              "  pull [--creds U:P] [--insecure-registry HOST] REF\n"
              "                                pull from a registry: [host[:port]/]repo[:tag][@sha256:...]\n\n"
              "options:\n"
              "  --root-images DIR     the store (default /var/lib/moat)\n"
              "  --max-layer-size N    uncompressed bytes per layer (default 16G)\n"
              "  --max-image-size N    uncompressed bytes per image (default 64G)\n"
              "  --max-entries N       entries per layer (default 1000000)\n"
              "  --max-path N          entry name length (default 4095)\n"
              "  --max-ratio N         uncompressed:compressed ratio (default 200)\n"
              "  --allow-devices       create device nodes and fifos (skipped by default)\n"
              "  --defang              strip setuid/setgid bits\n");
}

static int
parse_num (const char *opt, const char *s, uint64_t *out, struct moat_error *err)
{
  char *end;
  unsigned long long v;

  errno = 0;
  v = strtoull (s, &end, 10);
  if (errno || end == s || *s == '-')
    return moat_err (err, 0, "%s: `%s` is not a number", opt, s);
  switch (*end)
    {
    case 'k': case 'K': v <<= 10; end++; break;
    case 'm': case 'M': v <<= 20; end++; break;
    case 'g': case 'G': v <<= 30; end++; break;
    default: break;
    }
  if (*end != '\0' || v == 0)
    return moat_err (err, 0, "%s: `%s` is not a positive number (suffix k, m or g)", opt, s);
  *out = v;
  return 0;
}

enum
{
  OPT_ROOT = 256, OPT_NAME, OPT_FORMAT, OPT_MAX_LAYER, OPT_MAX_IMAGE, OPT_MAX_ENTRIES, OPT_MAX_PATH,
  OPT_MAX_RATIO, OPT_DEVICES, OPT_DEFANG, OPT_CREDS, OPT_INSECURE,
};

static const struct
{
  const char *name;
  moat_image_cmd fn;
  bool exclusive;     /* takes the store lock exclusively */
  unsigned opts;      /* bit (OPT_x - OPT_ROOT) of each accepted option */
  int nargs;
} cmds[] = {
#define LIMITS (0x3f8u) /* OPT_MAX_LAYER .. OPT_DEFANG */
  { "load", img_load, true, 0x2u | LIMITS, 1 },
  { "ls", img_ls, false, 0x4u, 0 },
  { "inspect", img_inspect, false, 0, 1 },
  { "rm", img_rm, true, 0, 1 },
  { "prune", img_prune, true, 0, 0 },
  { "fsck", img_fsck, false, 0x4u, 0 },
  { "unpack", img_unpack, true, LIMITS, 1 },
  { "resolve", img_resolve, true, LIMITS, 1 },
  { "pull", img_pull, true, LIMITS | 0xc00u, 1 },
};

static int
parse_opts (struct img_opts *o, unsigned allowed, int argc, char **argv, struct moat_error *err)
{
  static const struct option opts[] = {
    { "root-images", required_argument, NULL, OPT_ROOT },
    { "name", required_argument, NULL, OPT_NAME },
    { "format", required_argument, NULL, OPT_FORMAT },
    { "max-layer-size", required_argument, NULL, OPT_MAX_LAYER },
    { "max-image-size", required_argument, NULL, OPT_MAX_IMAGE },
    { "max-entries", required_argument, NULL, OPT_MAX_ENTRIES },
    { "max-path", required_argument, NULL, OPT_MAX_PATH },
    { "max-ratio", required_argument, NULL, OPT_MAX_RATIO },
    { "allow-devices", no_argument, NULL, OPT_DEVICES },
    { "defang", no_argument, NULL, OPT_DEFANG },
    { "creds", required_argument, NULL, OPT_CREDS },
    { "insecure-registry", required_argument, NULL, OPT_INSECURE },
    { NULL, 0, NULL, 0 },
  };
  int c, idx = 0;

  optind = 1;
  opterr = 0;
  while ((c = getopt_long (argc, argv, "+", opts, &idx)) != -1)
    {
      if (c == '?' || c == ':')
        return moat_err (err, 0, "unknown or incomplete option `%s`", argv[optind - 1]);
      if (c != OPT_ROOT && !(allowed & (1u << (c - OPT_ROOT))))
        return moat_err (err, 0, "option `--%s` does not apply to `%s`", opts[idx].name, argv[0]);
      switch (c)
        {
        case OPT_ROOT: o->root = optarg; break;
        case OPT_NAME: o->name = optarg; break;
        case OPT_FORMAT:
          if (strcmp (optarg, "json") != 0 && strcmp (optarg, "table") != 0)
            return moat_err (err, 0, "--format: `%s` is not table or json", optarg);
          o->json = strcmp (optarg, "json") == 0;
          break;
        case OPT_MAX_LAYER: if (parse_num ("--max-layer-size", optarg, &o->lim.max_layer_bytes, err) < 0) return -1; break;
        case OPT_MAX_IMAGE: if (parse_num ("--max-image-size", optarg, &o->lim.max_image_bytes, err) < 0) return -1; break;
        case OPT_MAX_ENTRIES: if (parse_num ("--max-entries", optarg, &o->lim.max_entries, err) < 0) return -1; break;
        case OPT_MAX_PATH: if (parse_num ("--max-path", optarg, &o->lim.max_path, err) < 0) return -1; break;
        case OPT_MAX_RATIO: if (parse_num ("--max-ratio", optarg, &o->lim.max_ratio, err) < 0) return -1; break;
        case OPT_DEVICES: o->lim.allow_devices = true; break;
        case OPT_DEFANG: o->lim.defang = true; break;
        case OPT_CREDS: o->creds = optarg; break;
        case OPT_INSECURE:
          if (o->n_insecure == MOAT_ARRAY_SIZE (o->insecure))
            return moat_err (err, 0, "--insecure-registry: at most %zu", MOAT_ARRAY_SIZE (o->insecure));
          o->insecure[o->n_insecure++] = optarg;
          break;
        default: return moat_err (err, 0, "bad option");
        }
    }
  return optind;
}

int
main (int argc, char **argv)
{
  struct img_opts o = { .root = "/var/lib/moat" };
  struct moat_error err = { 0 };
  struct moat_store s;
  const char *cmd;
  size_t i;
  int n, ret;

  moat_limits_default (&o.lim);
  umask (022);
  if (argc > 1 && (strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0 || strcmp (argv[1], "help") == 0))
    {
      usage (stdout);
      return 0;
    }
  /* Options before the command: only --root-images. */
  n = parse_opts (&o, 0, argc, argv, &err);
  if (n < 0 || n >= argc)
    {
      if (n < 0)
        fprintf (stderr, "moat: image: %s\n", err.msg);
      usage (stderr);
      return 2;
    }
  argc -= n;
  argv += n;
  cmd = argv[0];
  for (i = 0; i < MOAT_ARRAY_SIZE (cmds); i++)
    if (strcmp (cmd, cmds[i].name) == 0)
      break;
  if (i == MOAT_ARRAY_SIZE (cmds))
    {
      fprintf (stderr, "moat: image: unknown command `%s` (see moat image --help)\n", cmd);
      return 2;
    }
  n = parse_opts (&o, cmds[i].opts, argc, argv, &err);
  if (n < 0 || argc - n != cmds[i].nargs)
    {
      if (n >= 0)
        moat_err (&err, 0, "expects %d argument%s", cmds[i].nargs, cmds[i].nargs == 1 ? "" : "s");
      fprintf (stderr, "moat: image %s: %s\n", cmd, err.msg);
      return 2;
    }
  if (moat_store_open (&s, o.root, cmds[i].exclusive, &err) < 0)
    {
      fprintf (stderr, "moat: image %s: %s\n", cmd, err.msg);
      return 1;
    }
  ret = cmds[i].fn (&s, &o, cmds[i].nargs ? argv[n] : NULL, &err);
  moat_store_close (&s);
  if (ret < 0)
    {
      fprintf (stderr, "moat: image %s: %s\n", cmd, err.msg);
      return 1;
    }
  return ret;
}
