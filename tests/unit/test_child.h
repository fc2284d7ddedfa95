/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MOAT_TEST_CHILD_H
#define MOAT_TEST_CHILD_H

/* For unit tests that change process state in a forked child.  Include after
 * <errno.h>, <stdio.h>, <unistd.h> and <sys/syscall.h>; define
 * CHILD_FAIL_CODE first to pick the exit status of a failed check. */

#ifndef CHILD_FAIL_CODE
#define CHILD_FAIL_CODE 1
#endif

/* A child must leave with exit_group itself: glibc's and the sanitizers'
   exit paths make syscalls a seccomp filter under test may deny. */
static __attribute__ ((noreturn, unused)) void
child_exit (int code)
{
  for (;;)
    syscall (SYS_exit_group, code);
}

#define CHILD_CHECK(cond)                                                      \
  do                                                                           \
    {                                                                          \
      if (!(cond))                                                             \
        {                                                                      \
          dprintf (2, "child check failed, line %d: %s (errno %d)\n",          \
                   __LINE__, #cond, errno);                                    \
          child_exit (CHILD_FAIL_CODE);                                        \
        }                                                                      \
    }                                                                          \
  while (0)

#endif
