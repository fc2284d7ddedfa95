/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Reading engine records (status.h) for ps, inspect, stop, rm, wait, logs. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cli/engine.h"
#include "cli/engine_record.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/proc.h"

void
moat_record_free (struct moat_record *r)
{
  json_decref (r->meta);
  if (r->dirfd >= 0)
    close (r->dirfd);
  memset (r, 0, sizeof *r);
  r->dirfd = -1;
}

int
moat_record_load_at (int enginefd, const char *id, struct moat_record *r, struct moat_error *err)
{
  cleanup_free char *text = NULL;
  size_t len;

  memset (r, 0, sizeof *r);
  snprintf (r->id, sizeof r->id, "%s", id);
  r->dirfd = openat (enginefd, id, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
  if (r->dirfd < 0)
    return moat_err (err, errno, "no such container `%s`", id);
  if (moat_read_file_at (r->dirfd, "meta.json", 1 << 20, &text, &len, err) < 0)
    return moat_error_wrap (err, "container `%s`", id);
  r->meta = json_loadb (text, len, JSON_DISABLE_EOF_CHECK, NULL);
  if (r->meta == NULL)
    return moat_err (err, EINVAL, "container `%s`: its meta.json is not JSON", id);
  if (moat_engine_status_read (r->dirfd, &r->st, err) < 0)
    return moat_error_wrap (err, "container `%s`", id);
  r->monitor_alive = r->st.monitor_pid > 0 && r->st.monitor_start
                     && moat_pid_starttime (r->st.monitor_pid) == r->st.monitor_start;
  return 0;
}

int
moat_record_load (const struct moat_cli *cli, const char *id, struct moat_record *r, struct moat_error *err)
{
  cleanup_fd int enginefd = -1;
  char path[PATH_MAX];

  r->dirfd = -1;
  r->meta = NULL;
  if (!moat_valid_container_id (id))
    return moat_err (err, EINVAL, "invalid container name `%s`", id);
  snprintf (path, sizeof path, "%s/" MOAT_ENGINE_DIR, cli->ctx.root);
  enginefd = open (path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (enginefd < 0)
    return moat_err (err, ENOENT, "no such container `%s`", id);
  return moat_record_load_at (enginefd, id, r, err);
}

enum moat_record_view
moat_record_view (const struct moat_record *r)
{
  switch (r->st.state)
    {
    case MOAT_ENGINE_EXITED:
      return MOAT_VIEW_EXITED;
    case MOAT_ENGINE_CREATED:
      return r->monitor_alive ? MOAT_VIEW_CREATED : MOAT_VIEW_UNKNOWN;
    case MOAT_ENGINE_RESTARTING:
      return r->monitor_alive ? MOAT_VIEW_RESTARTING : MOAT_VIEW_UNKNOWN;
    default:
      return r->monitor_alive ? MOAT_VIEW_RUNNING : MOAT_VIEW_UNKNOWN;
    }
}

const char *
moat_record_view_name (enum moat_record_view v)
{
  static const char *const names[] = { "created", "running", "restarting", "exited", "unknown" };
  return names[v];
}

int
moat_record_foreach (const struct moat_cli *cli, int (*fn) (struct moat_record *, void *), void *data,
                     struct moat_error *err)
{
  cleanup_dir DIR *d = NULL;
  char path[PATH_MAX];
  struct dirent *de;
  int fd;

  snprintf (path, sizeof path, "%s/" MOAT_ENGINE_DIR, cli->ctx.root);
  fd = open (path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return errno == ENOENT ? 0 : moat_err (err, errno, "open `%s`", path);
  d = fdopendir (fd);
  if (d == NULL)
    {
      close (fd);
      return moat_err (err, errno, "open `%s`", path);
    }
  while ((de = readdir (d)))
    {
      struct moat_record r;
      struct moat_error ignored;
      int ret;

      if (de->d_name[0] == '.' || !moat_valid_container_id (de->d_name))
        continue;
      /* A record half-written by a concurrent run -d, or removed under us by
         rm, is skipped, not an error of the whole listing. */
      if (moat_record_load_at (dirfd (d), de->d_name, &r, &ignored) < 0)
        {
          moat_record_free (&r);
          continue;
        }
      ret = fn (&r, data);
      moat_record_free (&r);
      if (ret < 0)
        return ret;
    }
  return 0;
}

/* A pidfd for PID only if it is still the process started at START. */
int
moat_pidfd_checked (pid_t pid, uint64_t start)
{
  int fd;

  if (pid <= 0)
    return -1;
  fd = (int) syscall (SYS_pidfd_open, pid, 0);
  if (fd >= 0 && (start == 0 || moat_pid_starttime (pid) != start))
    {
      close (fd);
      return -1;
    }
  return fd;
}

int
moat_record_wait_monitor (const struct moat_record *r, int timeout_ms)
{
  cleanup_fd int fd = -1;
  struct pollfd p;

  if (!r->monitor_alive)
    return 0;
  fd = moat_pidfd_checked (r->st.monitor_pid, r->st.monitor_start);
  if (fd < 0)
    return 0;
  p.fd = fd;
  p.events = POLLIN;
  return poll (&p, 1, timeout_ms) == 1 ? 0 : -1;
}
