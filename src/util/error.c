/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "util/error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int
moat_err (struct moat_error *err, int errnum, const char *fmt, ...)
{
  va_list ap;
  int n;

  if (err == NULL)
    return -1;
  va_start (ap, fmt);
  n = vsnprintf (err->msg, sizeof err->msg, fmt, ap);
  va_end (ap);
  if (n < 0)
    n = 0;
  if (errnum != 0 && (size_t) n < sizeof err->msg)
    snprintf (err->msg + n, sizeof err->msg - (size_t) n, ": %s", strerror (errnum));
  err->code = errnum;
  return -1;
}

int
moat_error_wrap (struct moat_error *err, const char *fmt, ...)
{
  char prefix[MOAT_ERROR_MSG_MAX];
  char old[MOAT_ERROR_MSG_MAX];
  va_list ap;

  if (err == NULL)
    return -1;
  va_start (ap, fmt);
  vsnprintf (prefix, sizeof prefix, fmt, ap);
  va_end (ap);
  {
  size_t plen, olen;

  memcpy (old, err->msg, sizeof old);
  /* Truncation is acceptable: the innermost cause sits at the end. */
  plen = strnlen (prefix, sizeof prefix - 3);
  olen = strnlen (old, sizeof old);
  memcpy (err->msg, prefix, plen);
  memcpy (err->msg + plen, ": ", 2);
  if (olen > sizeof err->msg - plen - 3)
    olen = sizeof err->msg - plen - 3;
  memcpy (err->msg + plen + 2, old, olen);
  err->msg[plen + 2 + olen] = '\0';
  }
  return -1;
}

void
moat_error_clear (struct moat_error *err)
{
  if (err == NULL)
    return;
  err->code = 0;
  err->msg[0] = '\0';
}
