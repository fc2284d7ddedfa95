/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer harness for the tar walker: each input is unpacked as a layer
 * into a fresh root beside a canary directory.  Besides memory errors, it
 * aborts if anything appears outside the root or the canary changes: the
 * unpacker must never write through a symlink, "..", or a hardlink out of
 * the root (CVE-2014-6407, CVE-2021-29136). */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/image.h"
#include "util/fs.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static char base[64];

static void
check_outside (void)
{
  DIR *d = opendir (base);
  struct dirent *de;
  struct stat st;
  char p[128];

  if (d == NULL)
    abort ();
  while ((de = readdir (d)) != NULL)
    if (strcmp (de->d_name, ".") && strcmp (de->d_name, "..") && strcmp (de->d_name, "root")
        && strcmp (de->d_name, "canary"))
      abort ();
  closedir (d);
  snprintf (p, sizeof p, "%s/canary/file", base);
  if (lstat (p, &st) < 0 || !S_ISREG (st.st_mode) || st.st_size != 6)
    abort ();
  snprintf (p, sizeof p, "%s/canary", base);
  d = opendir (p);
  if (d == NULL)
    abort ();
  while ((de = readdir (d)) != NULL)
    if (strcmp (de->d_name, ".") && strcmp (de->d_name, "..") && strcmp (de->d_name, "file"))
      abort ();
  closedir (d);
}

static void
cleanup (void)
{
  moat_rm_rf_at (AT_FDCWD, base, NULL);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct moat_error err = { 0 };
  struct moat_limits lim;
  struct moat_unpack_stats st = { 0 };
  uint64_t total = 0;
  char root[96], canary[96];
  int fd, rootfd;

  if (base[0] == '\0')
    {
      snprintf (base, sizeof base, "/tmp/moat-fuzz-unpack.XXXXXX");
      if (mkdtemp (base) == NULL)
        abort ();
      atexit (cleanup);
      snprintf (canary, sizeof canary, "%s/canary", base);
      mkdir (canary, 0755);
      snprintf (canary, sizeof canary, "%s/canary/file", base);
      fd = open (canary, O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd < 0 || write (fd, "canary", 6) != 6)
        abort ();
      close (fd);
    }
  snprintf (root, sizeof root, "%s/root", base);
  moat_rm_rf_at (AT_FDCWD, root, NULL);
  if (mkdir (root, 0755) < 0)
    abort ();
  rootfd = open (root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  fd = memfd_create ("layer", MFD_CLOEXEC);
  if (rootfd < 0 || fd < 0 || write (fd, data, size) != (ssize_t) size)
    abort ();
  lseek (fd, 0, SEEK_SET);
  moat_limits_default (&lim);
  lim.max_layer_bytes = 8 << 20;
  lim.max_entries = 2000;
  moat_unpack_layer (rootfd, fd, NULL, &lim, &total, &st, &err);
  close (fd);
  close (rootfd);
  check_outside ();
  return 0;
}
