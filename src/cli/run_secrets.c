/* SPDX-License-Identifier: GPL-2.0-or-later */
/* `moat run --secret SRC[,target=NAME,mode=0400,uid=N]`: secrets as files
 * in a private tmpfs, never in the environment or the config. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/run.h"
#include "util/cleanup.h"
#include "util/fs.h"

#define FILE_MAX (1 << 20)

int
moat_run_parse_secret (struct moat_run_secrets *f, const char *arg, struct moat_error *err)
{
  cleanup_free char *copy = strdup (arg);
  struct moat_run_secret *s;
  char *save = NULL, *tok;
  long long v;

  if (copy == NULL)
    return moat_err (err, ENOMEM, "--secret");
  if (f->n == sizeof f->v / sizeof f->v[0])
    return moat_usage (err, "--secret: at most 16 secrets");
  s = &f->v[f->n];
  *s = (struct moat_run_secret){ .mode = 0400, .uid = -1 };
  for (tok = strtok_r (copy, ",", &save); tok; tok = strtok_r (NULL, ",", &save))
    {
      if (s->src == NULL && strchr (tok, '=') == NULL)
        s->src = strstr (arg, tok); /* points into ARG: argv outlives F */
      else if (strncmp (tok, "source=", 7) == 0 || strncmp (tok, "src=", 4) == 0)
        s->src = strchr (strstr (arg, tok), '=') + 1;
      else if (strncmp (tok, "target=", 7) == 0)
        {
          free (s->target);
          s->target = strdup (tok + 7);
        }
      else if (strncmp (tok, "mode=", 5) == 0)
        {
          char *end;
          unsigned long m = strtoul (tok + 5, &end, 8);
          if (*end || end == tok + 5 || m > 0777)
            return moat_usage (err, "--secret: mode: not an octal permission `%s`", tok + 5);
          s->mode = (mode_t) m;
        }
      else if (strncmp (tok, "uid=", 4) == 0)
        {
          if (moat_parse_int (tok + 4, 0, UINT32_MAX - 1, &v) < 0)
            return moat_usage (err, "--secret: uid: not a uid `%s`", tok + 4);
          s->uid = v;
        }
      else
        return moat_usage (err, "--secret: unknown option `%s` (want SRC[,target=NAME,mode=0400,uid=N])", tok);
    }
  if (s->src == NULL || s->src[0] == '\0')
    return moat_usage (err, "--secret: no source file");
  /* The source ends at the next ',' of ARG. */
  s->src = strndup (s->src, strcspn (s->src, ","));
  if (s->src == NULL)
    return moat_err (err, ENOMEM, "--secret");
  if (s->target == NULL)
    {
      const char *b = strrchr (s->src, '/');
      s->target = strdup (b ? b + 1 : s->src);
    }
  if (s->target == NULL)
    return moat_err (err, ENOMEM, "--secret");
  f->n++;
  if (s->target[0] == '\0' || strchr (s->target, '/') || strcmp (s->target, ".") == 0
      || strcmp (s->target, "..") == 0)
    return moat_usage (err, "--secret: target: `%s` is not a file name", s->target);
  return 0;
}

void
moat_run_secrets_free (struct moat_run_secrets *f)
{
  for (size_t i = 0; i < f->n; i++)
    {
      free ((char *) f->v[i].src);
      free (f->v[i].target);
    }
  f->n = 0;
}

/* The host uid that container uid ID maps to through MAP (uidMappings or
   gidMappings), or ID itself without a user namespace. */
static long long
host_id (json_t *doc, const char *map, long long id)
{
  json_t *m = json_object_get (json_object_get (doc, "linux"), map), *v;
  size_t i;

  if (!json_is_array (m))
    return id;
  json_array_foreach (m, i, v)
    {
      long long c = json_integer_value (json_object_get (v, "containerID"));
      long long h = json_integer_value (json_object_get (v, "hostID"));
      long long n = json_integer_value (json_object_get (v, "size"));
      if (id >= c && id < c + n)
        return h + (id - c);
    }
  return -1;
}

/* Secrets: a private tmpfs (owner = the container user's host uid, mode
 * 0700) mounted on a fresh /run/moat-secrets.XXXXXX, each secret copied in
 * with its mode, and bind-mounted read-only at /run/secrets.  Not below the
 * state root: that is 0700 root's, and the container's init, which makes
 * the bind mount from inside its user namespace, could not reach it.  Once
 * the container's mount namespace holds the mount, the host mount is
 * detached and its directory removed (create_from_bundle in run.c; with -d it stays until the record goes), so the content
 * lives only in the container's namespace and dies with it; it is never in
 * the environment, the config or the state dir.  PATH (size PATH_MAX) is
 * set once the directory exists. */
int
moat_run_setup_secrets (const struct moat_run_secrets *f, json_t *doc, char *path, bool *mounted, json_t **bind,
                        struct moat_error *err)
{
  json_t *user = json_object_get (json_object_get (doc, "process"), "user");
  long long cuid = json_integer_value (json_object_get (user, "uid"));
  long long cgid = json_integer_value (json_object_get (user, "gid"));
  long long huid = host_id (doc, "uidMappings", cuid), hgid = host_id (doc, "gidMappings", cgid);
  char opts[128];
  cleanup_fd int dirfd = -1;
  size_t i;

  *bind = NULL;
  if (f->n == 0)
    return 0;
  if (huid < 0 || hgid < 0)
    return moat_err (err, EINVAL, "--secret: the container user %lld:%lld is not mapped", cuid, cgid);
  snprintf (path, PATH_MAX, "/run/moat-secrets.XXXXXX");
  if (mkdtemp (path) == NULL)
    {
      path[0] = '\0';
      return moat_err (err, errno, "--secret: mkdtemp `/run/moat-secrets.XXXXXX`");
    }
  snprintf (opts, sizeof opts, "mode=0700,size=%d,uid=%lld,gid=%lld", 4 * FILE_MAX, huid, hgid);
  if (mount ("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, opts) < 0)
    return moat_err (err, errno, "--secret: mount a tmpfs on `%s`", path);
  *mounted = true;
  dirfd = open (path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
  if (dirfd < 0)
    return moat_err (err, errno, "--secret: open `%s`", path);
  for (i = 0; i < f->n; i++)
    {
      const struct moat_run_secret *s = &f->v[i];
      long long owner = s->uid >= 0 ? host_id (doc, "uidMappings", s->uid) : huid;
      cleanup_free char *data = NULL;
      cleanup_fd int fd = -1;
      size_t len;

      if (owner < 0)
        return moat_err (err, EINVAL, "--secret `%s`: uid %lld is not mapped", s->target, s->uid);
      if (moat_read_file_at (AT_FDCWD, s->src, FILE_MAX, &data, &len, err) < 0)
        return moat_error_wrap (err, "--secret `%s`", s->src);
      fd = openat (dirfd, s->target, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
      if (fd < 0)
        return moat_err (err, errno, "--secret: target `%s`", s->target);
      if (write (fd, data, len) != (ssize_t) len || fchown (fd, (uid_t) owner, (gid_t) hgid) < 0
          || fchmod (fd, s->mode) < 0)
        return moat_err (err, errno, "--secret: write `%s`", s->target);
      explicit_bzero (data, len);
    }
  *bind = json_pack ("{s:s, s:s, s:s, s:[sssss]}", "destination", "/run/secrets", "type", "bind", "source", path,
                      "options", "rbind", "ro", "nosuid", "nodev", "noexec");
  return *bind ? 0 : moat_err (err, ENOMEM, "--secret");
}
