/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MOAT_ENGINE_CRILOG_H
#define MOAT_ENGINE_CRILOG_H

#include <stdbool.h>
#include <stddef.h>

#include "engine/status.h"

/* Reading the container log the monitor writes (src/monitor/logfile.h):
 * records "TS STREAM TAG CONTENT\n", TAG F (the line ends here) or P (it
 * goes on in the next record of the same stream). */

struct moat_cri_line
{
  char ts[MOAT_RFC3339_NS_LEN + 1]; /* of its first piece */
  bool err;                         /* stderr */
  char *text;                       /* without the newline; NUL-terminated */
  size_t len;
};

struct moat_cri_lines
{
  struct moat_cri_line *v;          /* whole lines, in the order they ended */
  size_t n, cap;
  struct moat_cri_line open[2];     /* a line still being assembled, per stream */
};

/* Parse the whole records of BUF into LINES (malformed records are
 * skipped); returns how many bytes were consumed (an unfinished record at
 * the end is left for the next call). */
size_t moat_cri_parse (struct moat_cri_lines *lines, const char *buf, size_t len);
void moat_cri_lines_free (struct moat_cri_lines *lines);

#endif
