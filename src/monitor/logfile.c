/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "monitor/logfile.h"

#include "engine/status.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#define OUT_MAX (64 * 1024 + MON_LINE_MAX)
#define TS_LEN MOAT_RFC3339_NS_LEN

static const char *const stream_names[] = { "stdout", "stderr" };

static int
open_current (struct mon_log *log)
{
  struct stat st;

  log->fd = openat (log->dirfd, "ctr.log", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (log->fd < 0)
    return -errno;
  log->size = fstat (log->fd, &st) == 0 ? (uint64_t) st.st_size : 0;
  return 0;
}

int
mon_log_open (struct mon_log *log, int dirfd, uint64_t max_size, unsigned max_files)
{
  static const char zero[] = "0                   \n";

  memset (log, 0, sizeof *log);
  log->dirfd = dirfd;
  log->max_size = max_size;
  log->max_files = max_files ? max_files : 1;
  log->dropped_fd = openat (dirfd, "log.dropped", O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (log->dropped_fd < 0 || pwrite (log->dropped_fd, zero, sizeof zero - 1, 0) != (ssize_t) sizeof zero - 1)
    return -errno;
  return open_current (log);
}

static void
count_dropped (struct mon_log *log, uint64_t lines)
{
  char buf[24];
  int n;

  log->dropped += lines;
  /* Overwrites bytes already allocated: works on a full disk. */
  n = snprintf (buf, sizeof buf, "%-20" PRIu64 "\n", log->dropped);
  if (pwrite (log->dropped_fd, buf, (size_t) n, 0) < 0)
    return;
}

/* ctr.log -> ctr.log.1 -> ... -> ctr.log.<max_files-1>; with max_files 1
   the log restarts empty. */
static void
rotate (struct mon_log *log)
{
  char from[32], to[32];

  for (unsigned i = log->max_files - 1; i >= 1; i--)
    {
      if (i == 1)
        snprintf (from, sizeof from, "ctr.log");
      else
        snprintf (from, sizeof from, "ctr.log.%u", i - 1);
      snprintf (to, sizeof to, "ctr.log.%u", i);
      renameat (log->dirfd, from, log->dirfd, to);
    }
  close (log->fd);
  if (log->max_files == 1)
    unlinkat (log->dirfd, "ctr.log", 0);
  if (open_current (log) < 0)
    log->fd = -1;
}

/* Space kept free below the log: the status and state files of this and
   other containers must still be writable when a noisy container has
   filled the disk (and so must everything else in /run). */
#define RESERVE_BYTES (512 * 1024)

static bool
room_for (int fd, size_t len)
{
  struct statfs sf;

  if (fstatfs (fd, &sf) < 0)
    return true;
  return (uint64_t) sf.f_bavail * (uint64_t) sf.f_bsize >= RESERVE_BYTES + len;
}

static void
write_out (struct mon_log *log, const char *buf, size_t len, uint64_t lines)
{
  ssize_t n;

  if (len == 0)
    return;
  if (log->max_size && log->size > 0 && log->size + len > log->max_size)
    rotate (log);
  if (log->fd < 0 && open_current (log) < 0)
    {
      count_dropped (log, lines);
      return;
    }
  if (!room_for (log->fd, len))
    {
      count_dropped (log, lines);
      return;
    }
  n = write (log->fd, buf, len);
  if (n == (ssize_t) len)
    {
      log->size += len;
      return;
    }
  /* A short write on a full disk: cut the torn line back off, so the file
     holds only whole lines, and count the batch as dropped. */
  if (n > 0 && ftruncate (log->fd, (off_t) log->size) < 0)
    log->size += (uint64_t) n;
  count_dropped (log, lines);
}

static void
timestamp (char *buf)
{
  moat_format_rfc3339_ns (moat_now_ns (), buf);
}

/* Append one record: TS STREAM TAG CONTENT\n. */
static size_t
record (char *out, const char *ts, enum mon_stream s, char tag, const char *data, size_t len)
{
  size_t n = 0;

  memcpy (out, ts, TS_LEN);
  n += TS_LEN;
  n += (size_t) sprintf (out + n, " %s %c ", stream_names[s], tag);
  memcpy (out + n, data, len);
  n += len;
  out[n++] = '\n';
  return n;
}

/* Every read is logged at once: whole lines as F records, a trailing
   piece without its newline (a prompt, a line longer than MON_LINE_MAX, or
   the last words of a container that dies) as a P record that the reader
   joins with what follows, as CRI's readers do.  Nothing waits in memory
   for a newline that may never come. */
void
mon_log_data (struct mon_log *log, enum mon_stream s, const char *data, size_t len)
{
  static char out[OUT_MAX];
  char ts[TS_LEN + 1];
  size_t used = 0;
  uint64_t lines = 0;

  timestamp (ts);
  while (len > 0)
    {
      const char *nl = memchr (data, '\n', len < MON_LINE_MAX ? len : MON_LINE_MAX);
      size_t take = nl ? (size_t) (nl - data) : (len < MON_LINE_MAX ? len : MON_LINE_MAX);

      if (used + take + 64 > sizeof out)
        {
          write_out (log, out, used, lines);
          used = 0;
          lines = 0;
        }
      used += record (out + used, ts, s, nl ? 'F' : 'P', data, take);
      lines++;
      data += take + (nl ? 1 : 0);
      len -= take + (nl ? 1 : 0);
    }
  write_out (log, out, used, lines);
}
