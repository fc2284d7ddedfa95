/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "util/proc.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/cleanup.h"

uint64_t
moat_pid_starttime (pid_t pid)
{
  char path[64], buf[1024];
  cleanup_fd int fd = -1;
  ssize_t n;
  char *p;
  int field;

  snprintf (path, sizeof path, "/proc/%d/stat", (int) pid);
  fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return 0;
  n = read (fd, buf, sizeof buf - 1);
  if (n <= 0)
    return 0;
  buf[n] = '\0';
  /* comm may contain spaces and parentheses: fields restart after the last ')'. */
  p = strrchr (buf, ')');
  if (p == NULL)
    return 0;
  p += 2;
  /* p is at field 3 (state); a zombie init counts as gone. */
  if (*p == 'Z' || *p == 'X')
    return 0;
  for (field = 3; field < 22 && p; field++)
    {
      p = strchr (p, ' ');
      if (p)
        p++;
    }
  return p ? strtoull (p, NULL, 10) : 0;
}
