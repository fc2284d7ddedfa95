/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The events log writer (events.h).  libc only: the per-container monitor
 * links this file, so no jansson and no util/log.c. */
#include "container/events.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "util/cleanup.h"

/* How long a writer may wait for the log's lock in all: a rotation holds it
   exclusively for one rename, a writer shared for one write, so this is only
   reached when something is badly wrong, and then the event is dropped
   rather than the container kept waiting. */
#define LOCK_WAIT_STEPS 50
#define LOCK_WAIT_STEP_NS (1000 * 1000)

/* ---- JSON ------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at S (N bytes left), 0 when invalid:
   overlong forms, surrogates and code points past U+10FFFF are refused, as
   RFC 3629 says, so the line is valid JSON text whatever the input bytes. */
static size_t
utf8_seq_len (const unsigned char *s, size_t n)
{
  unsigned char c = s[0];
  size_t len, i;

  if (c < 0x80)
    return 1;
  if (c < 0xc2 || c > 0xf4)
    return 0;
  len = c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
  if (n < len)
    return 0;
  for (i = 1; i < len; i++)
    if ((s[i] & 0xc0) != 0x80)
      return 0;
  if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] >= 0xa0) || (c == 0xf0 && s[1] < 0x90)
      || (c == 0xf4 && s[1] >= 0x90))
    return 0;
  return len;
}

static size_t
put (char *buf, size_t size, size_t off, const char *s, size_t len)
{
  if (off >= size || size - off <= len)
    return size;
  memcpy (buf + off, s, len);
  buf[off + len] = '\0';
  return off + len;
}

size_t
moat_json_escape (char *buf, size_t size, size_t off, const char *s, size_t len)
{
  const unsigned char *p = (const unsigned char *) s;
  size_t i = 0, n;

  while (i < len && off < size)
    {
      unsigned char c = p[i];
      char esc[8];

      if (c == '"' || c == '\\')
        {
          esc[0] = '\\';
          esc[1] = (char) c;
          off = put (buf, size, off, esc, 2);
          i++;
          continue;
        }
      if (c < 0x20 || c == 0x7f)
        {
          const char *named = c == '\n' ? "\\n" : c == '\t' ? "\\t" : c == '\r' ? "\\r" : NULL;
          if (named)
            off = put (buf, size, off, named, 2);
          else
            {
              snprintf (esc, sizeof esc, "\\u%04x", c);
              off = put (buf, size, off, esc, 6);
            }
          i++;
          continue;
        }
      n = utf8_seq_len (p + i, len - i);
      if (n == 0)
        {
          off = put (buf, size, off, "\\ufffd", 6);
          i++;
          continue;
        }
      off = put (buf, size, off, s + i, n);
      i += n;
    }
  return off;
}

static size_t
put_str (char *buf, size_t size, size_t off, const char *s)
{
  off = put (buf, size, off, "\"", 1);
  off = moat_json_escape (buf, size, off, s, strlen (s));
  return put (buf, size, off, "\"", 1);
}

static size_t
put_lit (char *buf, size_t size, size_t off, const char *s)
{
  return put (buf, size, off, s, strlen (s));
}

static const char *
attr_value (const struct moat_event_attr *attrs, size_t n, const char *key)
{
  size_t i;

  for (i = 0; i < n; i++)
    if (attrs[i].key && attrs[i].value && strcmp (attrs[i].key, key) == 0)
      return attrs[i].value;
  return NULL;
}

int
moat_event_format (char *buf, size_t size, const char *action, const char *id,
                   const struct moat_event_attr *attrs, size_t nattrs, int64_t time_ns)
{
  const char *image = attr_value (attrs, nattrs, "image");
  char num[128];
  size_t off = 0, i;
  bool first = true;

  if (size == 0)
    return -EMSGSIZE;
  buf[0] = '\0';
  /* Docker's own order; "status", "id" and "from" are the pre-1.22 fields
     that old clients (and `docker events` templates) still read. */
  off = put_lit (buf, size, off, "{\"status\":");
  off = put_str (buf, size, off, action);
  off = put_lit (buf, size, off, ",\"id\":");
  off = put_str (buf, size, off, id);
  if (image)
    {
      off = put_lit (buf, size, off, ",\"from\":");
      off = put_str (buf, size, off, image);
    }
  off = put_lit (buf, size, off, ",\"Type\":\"container\",\"Action\":");
  off = put_str (buf, size, off, action);
  off = put_lit (buf, size, off, ",\"Actor\":{\"ID\":");
  off = put_str (buf, size, off, id);
  off = put_lit (buf, size, off, ",\"Attributes\":{");
  for (i = 0; i < nattrs; i++)
    {
      if (attrs[i].key == NULL || attrs[i].value == NULL)
        continue;
      if (!first)
        off = put_lit (buf, size, off, ",");
      first = false;
      off = put_str (buf, size, off, attrs[i].key);
      off = put_lit (buf, size, off, ":");
      off = put_str (buf, size, off, attrs[i].value);
    }
  snprintf (num, sizeof num, "}},\"scope\":\"local\",\"time\":%lld,\"timeNano\":%lld}\n",
            (long long) (time_ns / 1000000000), (long long) time_ns);
  off = put_lit (buf, size, off, num);
  if (off >= size)
    return -EMSGSIZE;
  return (int) off;
}

/* ---- the file --------------------------------------------------------- */

static off_t
max_bytes (void)
{
  const char *s = getenv (MOAT_EVENTS_MAX_BYTES_ENV);
  unsigned long long v;
  char *end;

  if (s == NULL || *s == '\0')
    return MOAT_EVENTS_MAX_BYTES_DEFAULT;
  errno = 0;
  v = strtoull (s, &end, 10);
  if (errno != 0 || *end != '\0' || v == 0 || v > (1ULL << 40))
    return MOAT_EVENTS_MAX_BYTES_DEFAULT;
  return (off_t) v;
}

static int
lock_bounded (int fd, int how)
{
  struct timespec step = { 0, LOCK_WAIT_STEP_NS };
  int i;

  for (i = 0; i < LOCK_WAIT_STEPS; i++)
    {
      if (flock (fd, how | LOCK_NB) == 0)
        return 0;
      if (errno != EWOULDBLOCK && errno != EINTR)
        return -errno;
      nanosleep (&step, NULL);
    }
  return -EWOULDBLOCK;
}

/* Size of FD's file, or -ESTALE when the log's path names another file now
   (rotated, or removed, since FD was opened). */
static int
current_size (int dirfd, int fd, off_t *size)
{
  struct stat a, b;

  if (fstat (fd, &a) < 0)
    return -errno;
  if (fstatat (dirfd, MOAT_EVENTS_FILE, &b, AT_SYMLINK_NOFOLLOW) < 0)
    return errno == ENOENT ? -ESTALE : -errno;
  if (a.st_ino != b.st_ino || a.st_dev != b.st_dev)
    return -ESTALE;
  *size = a.st_size;
  return 0;
}

/* Called holding no lock on FD: take it exclusively and, when FD is still
   the log and still too full for LEN more bytes, rename it to .1.  Returns 1
   when the log changed (by us or another writer: reopen), 0 when the lock
   could not be had (write without rotating), < 0 on error. */
static int
rotate (int dirfd, int fd, size_t len, off_t cap)
{
  off_t size;
  int r;

  if (lock_bounded (fd, LOCK_EX) < 0)
    return 0;
  r = current_size (dirfd, fd, &size);
  if (r == -ESTALE)
    return 1;
  if (r < 0)
    return r;
  if (size == 0 || size + (off_t) len <= cap)
    return 1;
  if (renameat (dirfd, MOAT_EVENTS_FILE, dirfd, MOAT_EVENTS_FILE_OLD) < 0)
    return -errno;
  return 1;
}

static int
append_line (int dirfd, const char *line, size_t len, off_t cap)
{
  int attempt;

  for (attempt = 0; attempt < 8; attempt++)
    {
      cleanup_fd int fd = openat (dirfd, MOAT_EVENTS_FILE, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
                                  0600);
      off_t size;
      ssize_t n;
      int r;

      if (fd < 0)
        return -errno;
      if ((r = lock_bounded (fd, LOCK_SH)) < 0)
        return r;
      r = current_size (dirfd, fd, &size);
      if (r == -ESTALE)
        continue;
      if (r < 0)
        return r;
      /* flock() converts a lock by dropping it first: let it go, rotate,
         and take the shared lock again to write. */
      if (attempt < 4 && size > 0 && size + (off_t) len > cap)
        {
          flock (fd, LOCK_UN);
          r = rotate (dirfd, fd, len, cap);
          if (r != 0)
            continue;
          if ((r = lock_bounded (fd, LOCK_SH)) < 0)
            return r;
          if (current_size (dirfd, fd, &size) < 0)
            continue;
        }
      /* One write(2) with O_APPEND: concurrent writers' lines never
         interleave (the offset update and the copy are one step). */
      n = write (fd, line, len);
      if (n == (ssize_t) len)
        return 0;
      return n < 0 ? -errno : -EIO;
    }
  return -EAGAIN;
}

/* ---- syslog mirror ---------------------------------------------------- */

static void
mirror_syslog (const char *action, const char *line, size_t len)
{
  const char *path = getenv (MOAT_EVENTS_SYSLOG_ENV);
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  /* LOG_DAEMON; LOG_WARNING for a refusal, LOG_INFO otherwise. */
  int pri = 3 * 8 + (strcmp (action, "policy_deny") == 0 ? 4 : 6);
  char head[96], stamp[32];
  struct iovec iov[2];
  struct msghdr msg = { 0 };
  struct tm tm;
  time_t now = time (NULL);
  cleanup_fd int s = -1;

  if (path == NULL || *path == '\0')
    return;
  if (*path != '/')
    path = "/dev/log";
  if (strlen (path) >= sizeof addr.sun_path)
    return;
  strcpy (addr.sun_path, path);
  localtime_r (&now, &tm);
  strftime (stamp, sizeof stamp, "%b %e %H:%M:%S", &tm);
  snprintf (head, sizeof head, "<%d>%s moat[%d]: ", pri, stamp, (int) getpid ());
  s = socket (AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (s < 0)
    return;
  iov[0].iov_base = head;
  iov[0].iov_len = strlen (head);
  iov[1].iov_base = (void *) line;
  iov[1].iov_len = len > 0 && line[len - 1] == '\n' ? len - 1 : len;
  msg.msg_name = &addr;
  msg.msg_namelen = sizeof addr;
  msg.msg_iov = iov;
  msg.msg_iovlen = 2;
  /* Non-blocking: a stuck syslog daemon loses the mirror, never the
     container's time. */
  (void) sendmsg (s, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
}

int
moat_event_emit (const char *root, const char *action, const char *id, const struct moat_event_attr *attrs,
                 size_t nattrs)
{
  char stack[4096];
  cleanup_free char *heap = NULL;
  char *line = stack;
  cleanup_fd int dirfd = -1;
  struct timespec now;
  int len, r;

  if (root == NULL || action == NULL || id == NULL || (nattrs > 0 && attrs == NULL))
    return -EINVAL;
  clock_gettime (CLOCK_REALTIME, &now);
  len = moat_event_format (stack, sizeof stack, action, id, attrs, nattrs,
                           (int64_t) now.tv_sec * 1000000000 + now.tv_nsec);
  if (len == -EMSGSIZE)
    {
      heap = malloc (MOAT_EVENT_LINE_MAX);
      if (heap == NULL)
        return -ENOMEM;
      line = heap;
      len = moat_event_format (heap, MOAT_EVENT_LINE_MAX, action, id, attrs, nattrs,
                               (int64_t) now.tv_sec * 1000000000 + now.tv_nsec);
    }
  if (len < 0)
    return len;
  dirfd = open (root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (dirfd < 0 && errno == ENOENT && mkdir (root, 0700) == 0)
    dirfd = open (root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (dirfd < 0)
    return -errno;
  r = append_line (dirfd, line, (size_t) len, max_bytes ());
  mirror_syslog (action, line, (size_t) len);
  return r;
}
