/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/nsfs.h>
#include <unistd.h>

#include "sandbox/sandbox.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/syscalls.h"

int
moat_ns_new_flags (const struct moat_spec *spec)
{
  int flags = 0;
  size_t i;

  for (i = 0; i < spec->linux.n_namespaces; i++)
    if (spec->linux.namespaces[i].path == NULL)
      flags |= spec->linux.namespaces[i].type;
  return flags;
}

/* Open every namespace the config joins by path, user namespace first: joining
 * it first gives us the capabilities to join the others it owns.  Each fd is
 * checked with NS_GET_NSTYPE so a path to the wrong kind of namespace (or to a
 * regular file) is refused rather than half-joined. */
int
moat_ns_open_joins (const struct moat_spec *spec, int *fds, int *types, size_t *n, struct moat_error *err)
{
  size_t i, k = 0;
  int pass;

  *n = 0;
  for (pass = 0; pass < 2; pass++)
    for (i = 0; i < spec->linux.n_namespaces; i++)
      {
        const struct moat_namespace *ns = &spec->linux.namespaces[i];
        int fd, t;

        if (ns->path == NULL || (pass == 0) != (ns->type == CLONE_NEWUSER))
          continue;
        fd = open (ns->path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
          {
            moat_err (err, errno, "linux.namespaces: open %s namespace `%s`",
                      moat_namespace_name (ns->type), ns->path);
            goto fail;
          }
        t = ioctl (fd, NS_GET_NSTYPE);
        if (t < 0 || t != ns->type)
          {
            close (fd);
            moat_err (err, t < 0 ? errno : EINVAL, "linux.namespaces: `%s` is not a %s namespace",
                      ns->path, moat_namespace_name (ns->type));
            goto fail;
          }
        fds[k] = fd;
        types[k] = ns->type;
        k++;
      }
  *n = k;
  return 0;
fail:
  while (k > 0)
    close (fds[--k]);
  return -1;
}

int
moat_userns_write_map (pid_t pid, const char *file, const struct moat_id_map *m, size_t n, struct moat_error *err)
{
  char path[64], buf[4096];
  size_t off = 0, i;

  for (i = 0; i < n; i++)
    {
      int w = snprintf (buf + off, sizeof buf - off, "%u %u %u\n", m[i].container_id, m[i].host_id, m[i].size);
      if (w < 0 || (size_t) w >= sizeof buf - off)
        return moat_err (err, E2BIG, "linux.%s: too many mappings", file);
      off += (size_t) w;
    }
  snprintf (path, sizeof path, "/proc/%d/%s", (int) pid, file);
  if (moat_write_file_at (AT_FDCWD, path, buf, off, err) < 0)
    return moat_error_wrap (err, "write %s", file);
  return 0;
}

int
moat_userns_write_maps (pid_t pid, const struct moat_spec *spec, struct moat_error *err)
{
  /* gid_map is written by host root (CAP_SETGID over the parent namespace), so
     setgroups stays allowed inside: additionalGids keep working. */
  if (moat_userns_write_map (pid, "uid_map", spec->linux.uid_mappings, spec->linux.n_uid_mappings, err) < 0)
    return -1;
  if (moat_userns_write_map (pid, "gid_map", spec->linux.gid_mappings, spec->linux.n_gid_mappings, err) < 0)
    return -1;
  return 0;
}
