/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "util/fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/syscalls.h"

#define IN_ROOT (RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)

int
moat_open_in_root (int rootfd, const char *path, int flags, mode_t mode, struct moat_error *err)
{
  int fd;

  while (*path == '/')
    path++;
  if (*path == '\0')
    path = ".";
  do
    fd = sys_openat2 (rootfd, path, (uint64_t) (flags | O_CLOEXEC), mode, IN_ROOT);
  while (fd < 0 && errno == EAGAIN);
  if (fd < 0)
    return moat_err (err, errno, "open `%s` in the container root", path);
  return fd;
}

/* Walk PATH one component at a time, each opened with O_NOFOLLOW beneath the
 * previous fd, creating missing directories with mkdirat.  A component that
 * exists as a symlink is resolved with RESOLVE_IN_ROOT from the root, so even a
 * symlink swapped in mid-walk cannot lead outside. */
int
moat_mkdir_all_in_root (int rootfd, const char *path, mode_t mode, struct moat_error *err)
{
  cleanup_free char *copy = strdup (path);
  cleanup_fd int cur = -1;
  char *save = NULL, *comp;
  size_t done = 0;

  if (copy == NULL)
    return moat_err (err, ENOMEM, "mkdir `%s`", path);
  cur = sys_openat2 (rootfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC, 0, IN_ROOT);
  if (cur < 0)
    return moat_err (err, errno, "open container root");

  for (comp = strtok_r (copy, "/", &save); comp; comp = strtok_r (NULL, "/", &save))
    {
      int next;

      done += strlen (comp) + 1;
      if (strcmp (comp, ".") == 0)
        continue;
      next = sys_openat2 (cur, comp, O_PATH | O_DIRECTORY | O_CLOEXEC, 0,
                          RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
      if (next < 0 && errno == ENOENT)
        {
          if (mkdirat (cur, comp, mode) < 0 && errno != EEXIST)
            return moat_err (err, errno, "mkdir `%s` in the container root", path);
          next = sys_openat2 (cur, comp, O_PATH | O_DIRECTORY | O_CLOEXEC, 0,
                              RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
        }
      if (next < 0 && (errno == ELOOP || errno == EXDEV || strcmp (comp, "..") == 0))
        {
          /* A symlink (or ".."): resolve the prefix walked so far from the root,
             clamped inside it.  RESOLVE_IN_ROOT is the security boundary. */
          char prefix[4096];
          snprintf (prefix, sizeof prefix, "%.*s", (int) (done < sizeof prefix ? done : sizeof prefix - 1), path);
          next = moat_open_in_root (rootfd, prefix, O_PATH | O_DIRECTORY, 0, err);
          if (next < 0)
            return -1;
        }
      else if (next < 0)
        return moat_err (err, errno, "open `%s` in the container root", path);
      close (cur);
      cur = next;
    }
  return steal_fd (&cur);
}

int
moat_ensure_in_root (int rootfd, const char *path, bool is_dir, struct moat_error *err)
{
  cleanup_free char *copy = NULL;
  cleanup_fd int parent = -1;
  char *slash, *base;
  int fd;
  struct stat st;

  if (is_dir)
    return moat_mkdir_all_in_root (rootfd, path, 0755, err);

  fd = moat_open_in_root (rootfd, path, O_PATH, 0, err);
  if (fd >= 0)
    {
      if (fstat (fd, &st) == 0 && S_ISDIR (st.st_mode))
        {
          close (fd);
          return moat_err (err, EISDIR, "`%s` in the container root", path);
        }
      return fd;
    }
  if (err && err->code != ENOENT)
    return -1;

  copy = strdup (path);
  if (copy == NULL)
    return moat_err (err, ENOMEM, "create `%s`", path);
  slash = strrchr (copy, '/');
  if (slash)
    {
      *slash = '\0';
      base = slash + 1;
      parent = moat_mkdir_all_in_root (rootfd, *copy ? copy : "/", 0755, err);
    }
  else
    {
      base = copy;
      parent = moat_open_in_root (rootfd, ".", O_PATH | O_DIRECTORY, 0, err);
    }
  if (parent < 0)
    return -1;
  if (*base == '\0')
    return moat_err (err, EINVAL, "`%s`: not a file name", path);
  /* mknodat never follows a symlink at the last component, unlike open(O_CREAT)
     (CVE-2024-45310). */
  if (mknodat (parent, base, S_IFREG | 0644, 0) < 0 && errno != EEXIST)
    return moat_err (err, errno, "create `%s` in the container root", path);
  fd = sys_openat2 (parent, base, O_PATH | O_CLOEXEC, 0,
                    RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
  if (fd < 0)
    return moat_err (err, errno, "open `%s` in the container root", path);
  return fd;
}

int
moat_read_file_reuse (int dirfd, const char *path, size_t max, char **buf, size_t *cap, size_t *len,
                      struct moat_error *err)
{
  cleanup_fd int fd = openat (dirfd, path, O_RDONLY | O_CLOEXEC);

  if (fd < 0)
    return moat_err (err, errno, "open `%s`", path);
  return moat_read_fd_reuse (fd, path, max, buf, cap, len, err);
}

int
moat_read_fd_reuse (int fd, const char *path, size_t max, char **buf, size_t *cap, size_t *len,
                    struct moat_error *err)
{
  size_t want = 4096, n = 0;
  struct stat st;

  /* A regular file is read into a buffer of its size (one read, no
     regrowth); the loop below still stops at EOF and at MAX whatever the
     size said, for a file that changes under us or a pipe. */
  if (fstat (fd, &st) == 0 && S_ISREG (st.st_mode) && st.st_size > 0)
    want = (size_t) st.st_size < max ? (size_t) st.st_size : max;
  for (;;)
    {
      ssize_t r;
      if (*buf == NULL || *cap < want)
        {
          char *nb = realloc (*buf, want + 1);
          if (nb == NULL)
            return moat_err (err, ENOMEM, "read `%s`", path);
          *buf = nb;
          *cap = want;
        }
      if (n == *cap)
        {
          if (*cap >= max)
            return moat_err (err, EFBIG, "read `%s`: larger than %zu bytes", path, max);
          want = *cap * 2 > max ? max : *cap * 2;
          continue;
        }
      r = read (fd, *buf + n, *cap - n);
      if (r < 0 && errno == EINTR)
        continue;
      if (r < 0)
        return moat_err (err, errno, "read `%s`", path);
      if (r == 0)
        break;
      n += (size_t) r;
    }
  (*buf)[n] = '\0';
  if (len)
    *len = n;
  return 0;
}

int
moat_read_file_at (int dirfd, const char *path, size_t max, char **out, size_t *len, struct moat_error *err)
{
  cleanup_free char *buf = NULL;
  size_t cap = 0;

  if (moat_read_file_reuse (dirfd, path, max, &buf, &cap, len, err) < 0)
    return -1;
  *out = steal_ptr (&buf);
  return 0;
}

static int
write_all (int fd, const void *data, size_t len)
{
  const char *p = data;
  while (len > 0)
    {
      ssize_t w = write (fd, p, len);
      if (w < 0 && errno == EINTR)
        continue;
      if (w < 0)
        return -1;
      p += w;
      len -= (size_t) w;
    }
  return 0;
}

int
moat_write_file_atomic (int dirfd, const char *name, const void *data, size_t len, mode_t mode, struct moat_error *err)
{
  char tmp[256];
  cleanup_fd int fd = -1;

  snprintf (tmp, sizeof tmp, ".%s.tmp.%d", name, (int) getpid ());
  fd = openat (dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0)
    return moat_err (err, errno, "create `%s`", tmp);
  /* No fsync: this is for runtime state under /run (tmpfs), where rename
     alone gives readers the old or the new file, never a torn one. */
  if (write_all (fd, data, len) < 0)
    {
      int e = errno;
      unlinkat (dirfd, tmp, 0);
      return moat_err (err, e, "write `%s`", name);
    }
  /* Replace by exchanging, then unlink the old file: readers still see the
     old or the new file, never none, but ext4 does not start writeback of
     the new file as it does for a rename over an existing one
     (auto_da_alloc), which costs a block allocation now and a wait on the
     write when the file is next replaced or removed.  The first write (no
     file to exchange with) and filesystems without RENAME_EXCHANGE take a
     plain rename. */
  if (renameat2 (dirfd, tmp, dirfd, name, RENAME_EXCHANGE) == 0)
    {
      unlinkat (dirfd, tmp, 0);
      return 0;
    }
  if (renameat (dirfd, tmp, dirfd, name) < 0)
    {
      int e = errno;
      unlinkat (dirfd, tmp, 0);
      return moat_err (err, e, "rename `%s`", name);
    }
  return 0;
}

int
moat_write_file_at (int dirfd, const char *path, const char *data, size_t len, struct moat_error *err)
{
  cleanup_fd int fd = openat (dirfd, path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);

  if (fd < 0)
    return moat_err (err, errno, "open `%s`", path);
  if (write_all (fd, data, len) < 0)
    return moat_err (err, errno, "write `%s` to `%s`", data, path);
  return 0;
}

int
moat_fd_path (int fd, char *buf, size_t size, struct moat_error *err)
{
  char link[64];
  ssize_t n;

  snprintf (link, sizeof link, "/proc/self/fd/%d", fd);
  n = readlink (link, buf, size - 1);
  if (n < 0)
    return moat_err (err, errno, "readlink `%s`", link);
  buf[n] = '\0';
  return 0;
}

static int
rm_rf_fd (int dfd, struct moat_error *err)
{
  DIR *d = fdopendir (dfd);
  struct dirent *de;
  int ret = 0;

  if (d == NULL)
    {
      close (dfd);
      return moat_err (err, errno, "opendir");
    }
  while ((de = readdir (d)) != NULL)
    {
      if (strcmp (de->d_name, ".") == 0 || strcmp (de->d_name, "..") == 0)
        continue;
      if (unlinkat (dirfd (d), de->d_name, 0) == 0)
        continue;
      if (errno == EISDIR || errno == EPERM)
        {
          if (moat_rm_rf_at (dirfd (d), de->d_name, err) < 0)
            ret = -1;
        }
      else if (errno != ENOENT)
        ret = moat_err (err, errno, "unlink `%s`", de->d_name);
    }
  closedir (d);
  return ret;
}

int
moat_rm_rf_at (int dirfd, const char *name, struct moat_error *err)
{
  int fd = openat (dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

  if (fd < 0)
    {
      if (errno == ENOENT)
        return 0;
      if (errno == ENOTDIR || errno == ELOOP)
        {
          if (unlinkat (dirfd, name, 0) < 0 && errno != ENOENT)
            return moat_err (err, errno, "unlink `%s`", name);
          return 0;
        }
      return moat_err (err, errno, "open `%s`", name);
    }
  if (rm_rf_fd (fd, err) < 0)
    return -1;
  if (unlinkat (dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
    return moat_err (err, errno, "rmdir `%s`", name);
  return 0;
}

char *
moat_path_clean (const char *path)
{
  size_t len = strlen (path);
  char *out = malloc (len + 2);
  size_t o = 0;
  const char *p = path;

  if (out == NULL)
    return NULL;
  out[o++] = '/';
  while (*p)
    {
      const char *start;
      size_t n;

      while (*p == '/')
        p++;
      if (*p == '\0')
        break;
      start = p;
      while (*p && *p != '/')
        p++;
      n = (size_t) (p - start);
      if (n == 1 && start[0] == '.')
        continue;
      if (n == 2 && start[0] == '.' && start[1] == '.')
        {
          while (o > 1 && out[o - 1] != '/')
            o--;
          if (o > 1)
            o--;
          continue;
        }
      if (o > 1)
        out[o++] = '/';
      memcpy (out + o, start, n);
      o += n;
    }
  out[o] = '\0';
  return out;
}

int
moat_write_pid_file (const char *path, pid_t pid, struct moat_error *err)
{
  char buf[32];
  int n = snprintf (buf, sizeof buf, "%d", (int) pid);
  cleanup_free char *copy = strdup (path);
  char *slash;
  const char *dir = ".", *base = path;
  cleanup_fd int dfd = -1;

  if (copy == NULL)
    return moat_err (err, ENOMEM, "--pid-file");
  slash = strrchr (copy, '/');
  if (slash)
    {
      *slash = '\0';
      dir = *copy ? copy : "/";
      base = slash + 1;
    }
  dfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0)
    return moat_err (err, errno, "--pid-file `%s`", path);
  if (moat_write_file_atomic (dfd, base, buf, (size_t) n, 0644, err) < 0)
    return moat_error_wrap (err, "--pid-file");
  return 0;
}


int
moat_for_each_entry (int dirfd, int (*fn) (int dirfd, const char *name, void *arg), void *arg,
                     struct moat_error *err)
{
  int dup_fd = dup (dirfd);
  cleanup_dir DIR *d = NULL;
  struct dirent *de;

  if (dup_fd < 0 || (d = fdopendir (dup_fd)) == NULL)
    {
      if (dup_fd >= 0)
        close (dup_fd);
      return moat_err (err, errno, "read directory");
    }
  while ((errno = 0, de = readdir (d)) != NULL)
    {
      if (strcmp (de->d_name, ".") == 0 || strcmp (de->d_name, "..") == 0)
        continue;
      if (fn (dirfd, de->d_name, arg) < 0)
        return -1;
    }
  if (errno != 0)
    return moat_err (err, errno, "read directory");
  return 0;
}
