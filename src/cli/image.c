/* SPDX-License-Identifier: GPL-2.0-or-later */
/* `moat image ...`, `moat images`, `moat rmi`: exec the sibling moat-image
 * executable, so that the runtime binary links no image library (libarchive,
 * libcrypto) and its hot path stays small. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "util/cleanup.h"

/* Whether PATH names the file we run from: not so for a sealed copy, whose
 * /proc/self/exe reads "/memfd:..." or a path inside moat's private overlay. */
static bool
is_own_exe (const char *path)
{
  struct stat a, b;

  return stat (path, &a) == 0 && stat ("/proc/self/exe", &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* The directory of moat's real executable.  Image commands never run from
 * a sealed copy, but if they do, argv[0] resolved with realpath (or looked
 * up in PATH) is used instead. */
static int
exe_dir (const char *argv0, char *buf, size_t size, struct moat_error *err)
{
  char tmp[PATH_MAX];
  ssize_t n = readlink ("/proc/self/exe", tmp, sizeof tmp - 1);
  char *slash;

  tmp[n > 0 ? n : 0] = '\0';
  if (tmp[0] == '/' && is_own_exe (tmp))
    {
      /* tmp is the real executable. */
    }
  else if (strchr (argv0, '/'))
    {
      if (realpath (argv0, tmp) == NULL)
        return moat_err (err, errno, "locate moat-image: resolve `%s`", argv0);
    }
  else
    {
      const char *path = getenv ("PATH");
      cleanup_free char *copy = strdup (path ? path : "/usr/local/bin:/usr/bin:/bin");
      char *save = NULL, *d, cand[PATH_MAX];
      bool found = false;

      if (copy == NULL)
        return moat_err (err, ENOMEM, "locate moat-image");
      for (d = strtok_r (copy, ":", &save); d && !found; d = strtok_r (NULL, ":", &save))
        {
          snprintf (cand, sizeof cand, "%s/%s", d, argv0);
          found = access (cand, X_OK) == 0 && realpath (cand, tmp) != NULL;
        }
      if (!found)
        return moat_err (err, ENOENT, "locate moat-image: `%s` not found in PATH", argv0);
    }
  slash = strrchr (tmp, '/');
  if (slash == NULL)
    return moat_err (err, EINVAL, "locate moat-image: `%s`", tmp);
  *slash = '\0';
  snprintf (buf, size, "%s", *tmp ? tmp : "/");
  return 0;
}

/* Exec moat-image with SUB (when not NULL) before the user's arguments. */
static int
exec_image (struct moat_cli *cli, const char *sub, int argc, char **argv, struct moat_error *err)
{
  char dir[PATH_MAX], bin[PATH_MAX + 32], alt[PATH_MAX + 48];
  cleanup_free char **nargv = calloc ((size_t) argc + 3, sizeof (char *));
  int i, n = 0;

  if (nargv == NULL)
    return moat_err (err, ENOMEM, "image");
  if (exe_dir (cli->full_argv[0], dir, sizeof dir, err) < 0)
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
