/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MOAT_CLEANUP_H
#define MOAT_CLEANUP_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <dirent.h>

/* Resources carry cleanup attributes; ownership moves only through steal_fd()
 * and steal_ptr(), so a function that returns early never leaks.  The fd
 * cleanup preserves errno: an error path must not lose the errno it reports. */

static inline void
moat_closep (int *fd)
{
  if (*fd >= 0)
    {
      int saved = errno;
      close (*fd);
      errno = saved;
      *fd = -1;
    }
}

static inline void
moat_freep (void *p)
{
  void **pp = (void **) p;
  int saved = errno;
  free (*pp);
  *pp = NULL;
  errno = saved;
}

static inline void
moat_fclosep (FILE **f)
{
  if (*f)
    {
      int saved = errno;
      fclose (*f);
      errno = saved;
    }
}

static inline void
moat_closedirp (DIR **d)
{
  if (*d)
    {
      int saved = errno;
      closedir (*d);
      errno = saved;
    }
}

#define cleanup_fd __attribute__ ((cleanup (moat_closep)))
#define cleanup_free __attribute__ ((cleanup (moat_freep)))
#define cleanup_file __attribute__ ((cleanup (moat_fclosep)))
#define cleanup_dir __attribute__ ((cleanup (moat_closedirp)))

static inline int
moat_steal_fd (int *fd)
{
  int r = *fd;
  *fd = -1;
  return r;
}
#define steal_fd(p) moat_steal_fd (p)

#define steal_ptr(pp)                                                          \
  ({                                                                           \
    __typeof__ (*(pp)) _moat_p = *(pp);                                        \
    *(pp) = NULL;                                                              \
    _moat_p;                                                                   \
  })

#define MOAT_ARRAY_SIZE(a) (sizeof (a) / sizeof ((a)[0]))

#endif
