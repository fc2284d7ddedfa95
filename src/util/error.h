/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MOAT_ERROR_H
#define MOAT_ERROR_H

#include <stddef.h>

/* The one error convention of moat: a fallible function returns < 0 and fills a
 * struct moat_error; callers add context on the way up with moat_error_wrap();
 * only the CLI prints.  The message is fixed-size so that an error can be built
 * after a failed allocation and sent verbatim from the container's init to its
 * parent over the sync socket. */
#define MOAT_ERROR_MSG_MAX 1024

struct moat_error
{
  int code; /* errno, 0 when the failure is not a system error */
  char msg[MOAT_ERROR_MSG_MAX];
};

/* Fill *err with "<fmt>: strerror(errnum)" (or just <fmt> when errnum is 0); returns -1. */
int moat_err (struct moat_error *err, int errnum, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

/* Prefix the existing message with "<fmt>: "; returns -1. */
int moat_error_wrap (struct moat_error *err, const char *fmt, ...)
    __attribute__ ((format (printf, 2, 3)));

void moat_error_clear (struct moat_error *err);

#endif
