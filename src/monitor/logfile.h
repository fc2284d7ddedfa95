/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MOAT_MONITOR_LOGFILE_H
#define MOAT_MONITOR_LOGFILE_H

#include <stddef.h>
#include <stdint.h>

/* The container's log: ctr.log in the record dir, in the CRI log format
 * (what containerd and CRI-O write, and `kubectl logs` reads):
 *     2026-11-23T16:30:02.123456789Z stdout F a whole line
 *     2026-11-23T16:30:02.123456789Z stderr P a piece of a longer line
 * Size-capped: when ctr.log would pass max_size it becomes ctr.log.1 (older
 * ones shift up to ctr.log.<max_files-1>, the oldest is dropped).  A write
 * that fails (a full disk), or would leave less than a reserve free on the
 * filesystem, drops whole lines, never blocks, and is counted in
 * log.dropped, which is allocated up front so that counting needs no space. */

enum mon_stream
{
  MON_STDOUT,
  MON_STDERR,
};

#define MON_LINE_MAX 16384

struct mon_log
{
  int dirfd;
  int fd;
  int dropped_fd;
  uint64_t size;
  uint64_t max_size;
  unsigned max_files;
  uint64_t dropped;
};

int mon_log_open (struct mon_log *log, int dirfd, uint64_t max_size, unsigned max_files);
/* Append what the container wrote on STREAM. */
void mon_log_data (struct mon_log *log, enum mon_stream stream, const char *data, size_t len);

#endif
