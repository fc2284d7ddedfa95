/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "container/state.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sandbox/cgroup.h"
#include "util/cleanup.h"
#include "util/fs.h"

int
moat_state_root_open (const char *root, int *rootfd, struct moat_error *err)
{
  char buf[4096];
  char *p;
  int fd;

  if (root[0] != '/')
    return moat_err (err, EINVAL, "--root `%s`: must be an absolute path", root);
  snprintf (buf, sizeof buf, "%s", root);
  for (p = buf + 1; *p; p++)
    if (*p == '/')
      {
        *p = '\0';
        if (mkdir (buf, 0711) < 0 && errno != EEXIST)
          return moat_err (err, errno, "mkdir `%s`", buf);
        *p = '/';
      }
  if (mkdir (buf, 0700) < 0 && errno != EEXIST)
    return moat_err (err, errno, "mkdir `%s`", buf);
  fd = open (buf, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return moat_err (err, errno, "open state root `%s`", buf);
  *rootfd = fd;
  return 0;
}

int
moat_state_dir_create (int rootfd, const char *id, int *dirfd, struct moat_error *err)
{
  int fd;

  if (mkdirat (rootfd, id, 0700) < 0)
    {
      if (errno == EEXIST)
        return moat_err (err, EEXIST, "container `%s` already exists", id);
      return moat_err (err, errno, "create state dir for `%s`", id);
    }
  fd = openat (rootfd, id, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    return moat_err (err, errno, "open state dir for `%s`", id);
  *dirfd = fd;
  return 0;
}

int
moat_state_dir_open (int rootfd, const char *id, int *dirfd, struct moat_error *err)
{
  int fd = openat (rootfd, id, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);

  if (fd < 0)
    {
      if (errno == ENOENT)
        return moat_err (err, ENOENT, "container `%s` does not exist", id);
      return moat_err (err, errno, "open state dir for `%s`", id);
    }
  *dirfd = fd;
  return 0;
}

int
moat_state_lock (int dirfd, int *lockfd, struct moat_error *err)
{
  int fd = openat (dirfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);

  if (fd < 0)
    return moat_err (err, errno, "open lock");
  while (flock (fd, LOCK_EX) < 0)
    if (errno != EINTR)
      {
        int e = errno;
        close (fd);
        return moat_err (err, e, "lock");
      }
  *lockfd = fd;
  return 0;
}

int
moat_state_save (int dirfd, const struct moat_state *st, struct moat_error *err)
{
  json_t *o = json_object ();
  json_t *ann = NULL;
  cleanup_free char *text = NULL;

  if (o == NULL)
    return moat_err (err, ENOMEM, "state");
  if (st->annotations_json)
    ann = json_loads (st->annotations_json, 0, NULL);
  json_object_set_new (o, "id", json_string (st->id));
  json_object_set_new (o, "bundle", json_string (st->bundle ? st->bundle : ""));
  json_object_set_new (o, "rootfs", json_string (st->rootfs ? st->rootfs : ""));
  if (st->cgroup_path)
    json_object_set_new (o, "cgroupPath", json_string (st->cgroup_path));
  json_object_set_new (o, "annotations", ann ? ann : json_object ());
  json_object_set_new (o, "pid", json_integer (st->pid));
  json_object_set_new (o, "pidStart", json_integer ((json_int_t) st->pid_start));
  json_object_set_new (o, "started", json_boolean (st->started));
  json_object_set_new (o, "configAtStart", json_boolean (st->config_at_start));
  json_object_set_new (o, "configAtDelete", json_boolean (st->config_at_delete));
  json_object_set_new (o, "created", json_integer (st->created));
  json_object_set_new (o, "owner", json_string (st->owner ? st->owner : "root"));
  text = json_dumps (o, JSON_COMPACT);
  json_decref (o);
  if (text == NULL)
    return moat_err (err, ENOMEM, "state");
  return moat_write_file_atomic (dirfd, "state.json", text, strlen (text), 0600, err);
}

static char *
dup_str (json_t *o, const char *key)
{
  const char *s = json_string_value (json_object_get (o, key));
  return s ? strdup (s) : NULL;
}

int
moat_state_load (int dirfd, struct moat_state *st, struct moat_error *err)
{
  cleanup_free char *text = NULL;
  json_t *o, *ann;
  json_error_t jerr;

  memset (st, 0, sizeof *st);
  if (moat_read_file_at (dirfd, "state.json", 1 << 20, &text, NULL, err) < 0)
    return -1;
  o = json_loads (text, 0, &jerr);
  if (o == NULL || !json_is_object (o))
    {
      json_decref (o);
      return moat_err (err, EINVAL, "state.json: corrupt: %s", jerr.text);
    }
  st->id = dup_str (o, "id");
  st->bundle = dup_str (o, "bundle");
  st->rootfs = dup_str (o, "rootfs");
  st->cgroup_path = dup_str (o, "cgroupPath");
  st->owner = dup_str (o, "owner");
  ann = json_object_get (o, "annotations");
  st->annotations_json = json_dumps (ann ? ann : json_object (), JSON_COMPACT);
  st->pid = (pid_t) json_integer_value (json_object_get (o, "pid"));
  st->pid_start = (uint64_t) json_integer_value (json_object_get (o, "pidStart"));
  st->started = json_is_true (json_object_get (o, "started"));
  st->config_at_start = json_is_true (json_object_get (o, "configAtStart"));
  /* A state written before this field existed: assume hooks, parse. */
  st->config_at_delete = json_object_get (o, "configAtDelete") == NULL
                         || json_is_true (json_object_get (o, "configAtDelete"));
  st->created = json_integer_value (json_object_get (o, "created"));
  json_decref (o);
  if (st->id == NULL)
    {
      moat_state_free (st);
      return moat_err (err, EINVAL, "state.json: corrupt: no id");
    }
  return 0;
}

void
moat_state_free (struct moat_state *st)
{
  free (st->id);
  free (st->bundle);
  free (st->rootfs);
  free (st->cgroup_path);
  free (st->annotations_json);
  free (st->owner);
  memset (st, 0, sizeof *st);
}

enum moat_status
moat_state_status (const struct moat_state *st)
{
  if (st->pid <= 0)
    return MOAT_STATUS_STOPPED;
  if (moat_pid_starttime (st->pid) != st->pid_start || st->pid_start == 0)
    return MOAT_STATUS_STOPPED;
  if (st->cgroup_path)
    {
      struct moat_cgroup cg = { 0 };
      struct moat_error err;
      bool frozen = false;

      if (moat_cgroup_open (&cg, st->cgroup_path, &err) == 0
          && moat_cgroup_is_frozen (&cg, &frozen, &err) == 0 && frozen)
        {
          moat_cgroup_free (&cg);
          return MOAT_STATUS_PAUSED;
        }
      moat_cgroup_free (&cg);
    }
  return st->started ? MOAT_STATUS_RUNNING : MOAT_STATUS_CREATED;
}

const char *
moat_status_name (enum moat_status s)
{
  switch (s)
    {
    case MOAT_STATUS_CREATING:
      return "creating";
    case MOAT_STATUS_CREATED:
      return "created";
    case MOAT_STATUS_RUNNING:
      return "running";
    case MOAT_STATUS_PAUSED:
      return "paused";
    case MOAT_STATUS_STOPPED:
    default:
      return "stopped";
    }
}

char *
moat_state_json (const struct moat_state *st, enum moat_status status)
{
  json_t *o = json_object ();
  json_t *ann = st->annotations_json ? json_loads (st->annotations_json, 0, NULL) : NULL;
  char *text;

  json_object_set_new (o, "ociVersion", json_string ("1.2.0"));
  json_object_set_new (o, "id", json_string (st->id));
  json_object_set_new (o, "status", json_string (moat_status_name (status)));
  if (status != MOAT_STATUS_STOPPED || st->pid > 0)
    json_object_set_new (o, "pid", json_integer (status == MOAT_STATUS_STOPPED ? 0 : st->pid));
  json_object_set_new (o, "bundle", json_string (st->bundle ? st->bundle : ""));
  if (ann && json_object_size (ann) > 0)
    json_object_set_new (o, "annotations", ann);
  else
    json_decref (ann);
  text = json_dumps (o, JSON_INDENT (2));
  json_decref (o);
  return text;
}
