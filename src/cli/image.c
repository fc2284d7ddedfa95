/* SPDX-License-Identifier: GPL-2.0-or-later */
/* `moat image ...`, `moat images`, `moat rmi`: exec the sibling moat-image
 * executable, so that the runtime binary links no image library (libarchive,
 * libcrypto) and its hot path stays small. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "util/cleanup.h"

/* Exec moat-image with SUB (when not NULL) before the user's arguments. */
static int
exec_image (struct moat_cli *cli, const char *sub, int argc, char **argv, struct moat_error *err)
{
  char dir[PATH_MAX], bin[PATH_MAX + 32], alt[PATH_MAX + 48];
  cleanup_free char **nargv = calloc ((size_t) argc + 3, sizeof (char *));
  int i, n = 0;

  if (nargv == NULL)
    return moat_err (err, ENOMEM, "image");
  if (moat_exe_dir (cli->full_argv[0], dir, sizeof dir, err) < 0)
    return MOAT_CLI_ERROR;
  snprintf (bin, sizeof bin, "%s/moat-image", dir);
  /* In a meson build tree moat-image is built in src/image/. */
  snprintf (alt, sizeof alt, "%s/src/image/moat-image", dir);
  nargv[n++] = bin;
  if (sub)
    nargv[n++] = (char *) sub;
  for (i = 1; i < argc; i++)
    nargv[n++] = argv[i];
  nargv[n] = NULL;
  fflush (stdout);
  execv (bin, nargv);
  if (errno == ENOENT && access (alt, X_OK) == 0)
    {
      nargv[0] = alt;
      execv (alt, nargv);
    }
  moat_err (err, errno, "cannot run the image tool `%s` (it is installed next to moat)", bin);
  return MOAT_CLI_ERROR;
}

int
cmd_image (struct moat_cli *cli, int argc, char **argv, struct moat_error *err)
{
  return exec_image (cli, NULL, argc, argv, err);
}

int
cmd_images (struct moat_cli *cli, int argc, char **argv, struct moat_error *err)
{
  return exec_image (cli, "ls", argc, argv, err);
}

int
cmd_rmi (struct moat_cli *cli, int argc, char **argv, struct moat_error *err)
{
  return exec_image (cli, "rm", argc, argv, err);
}

int
cmd_pull (struct moat_cli *cli, int argc, char **argv, struct moat_error *err)
{
  return exec_image (cli, "pull", argc, argv, err);
}
