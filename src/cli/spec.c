/* SPDX-License-Identifier: GPL-2.0-or-later */
/* `moat spec`: write a config.json, like `runc spec`, but hardened unless
 * --compat asks for runc's. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <getopt.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "spec/defaults.h"
#include "util/cleanup.h"
#include "util/fs.h"

int
cmd_spec (struct moat_cli *cli, int argc, char **argv, struct moat_error *err)
{
  static const struct option opts[] = {
    { "bundle", required_argument, NULL, 'b' },
    { "compat", no_argument, NULL, 'C' },
    { "rootless", no_argument, NULL, 'R' },
    { NULL, 0, NULL, 0 },
  };
  const char *bundle = ".";
  cleanup_free char *json = NULL, *text = NULL;
  cleanup_fd int dirfd = -1;
  bool compat = false;
  int c;

  (void) cli;
  optind = 0;
  while ((c = getopt_long (argc, argv, "+b:", opts, NULL)) != -1)
    switch (c)
      {
      case 'b':
        bundle = optarg;
        break;
      case 'C':
        compat = true;
        break;
      case 'R':
        /* runc's rootless spec maps the caller's own uid; moat's default
           already maps root to an unprivileged range, and running as a
           non-root user is not supported yet. */
        return moat_usage (err, "--rootless: not supported (the default spec already uses a user namespace)");
      default:
        return moat_usage (err, "spec: unknown option (usage: moat spec [--compat] [--bundle DIR])");
      }
  if (optind != argc)
    return moat_usage (err, "spec takes no arguments");
  if (moat_default_spec_json (compat, "/etc/subuid", "/etc/subgid", &json, err) < 0)
    return MOAT_CLI_ERROR;
  dirfd = open (bundle, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (dirfd < 0)
    return moat_err (err, errno, "--bundle `%s`", bundle);
  if (faccessat (dirfd, "config.json", F_OK, AT_SYMLINK_NOFOLLOW) == 0)
    return moat_err (err, 0, "`%s/config.json` exists: remove it first", bundle);
  /* Written whole under a temporary name, then renamed with NOREPLACE: never
     a torn config, and never one that replaces a config someone wrote in
     the meantime (runc spec refuses to overwrite too). */
  if (asprintf (&text, "%s\n", json) < 0)
    return moat_err (err, ENOMEM, "spec");
  if (moat_write_file_atomic (dirfd, ".config.json.moat-spec", text, strlen (text), 0644, err) < 0)
    return moat_error_wrap (err, "--bundle `%s`", bundle);
  if (renameat2 (dirfd, ".config.json.moat-spec", dirfd, "config.json", RENAME_NOREPLACE) < 0)
    {
      int e = errno;
      unlinkat (dirfd, ".config.json.moat-spec", 0);
      if (e == EEXIST)
        return moat_err (err, 0, "`%s/config.json` exists: remove it first", bundle);
      return moat_err (err, e, "create `%s/config.json`", bundle);
    }
  return 0;
}
