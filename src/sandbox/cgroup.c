/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Cgroups, the parts common to v1, v2 and hybrid hosts: layout detection,
 * path resolution, the create transaction, membership, freezing, killing,
 * removal and the container's view of /sys/fs/cgroup. */
#include "sandbox/cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/mount.h>
#include <time.h>
#include <unistd.h>

#include "sandbox/cgroup_internal.h"
#include "util/cleanup.h"
#include "util/fs.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif
#ifndef TMPFS_MAGIC
#define TMPFS_MAGIC 0x01021994
#endif

/* ---- knobs ------------------------------------------------------------- */

int
moat_cg_refuse (struct moat_error *err, int code, const char *fmt, ...)
{
  va_list ap;

  if (err == NULL)
    return -1;
  va_start (ap, fmt);
  vsnprintf (err->msg, sizeof err->msg, fmt, ap);
  va_end (ap);
  err->code = code;
  return -1;
}

int
moat_cg_write (const char *dir, const char *file, const char *value, const char *field,
               struct moat_error *err)
{
  char path[4096], buf[4096];
  cleanup_fd int fd = -1;
  ssize_t w;
  int n;

  snprintf (path, sizeof path, "%s/%s", dir, file);
  /* One write(2) per value: the kernel parses each write as a whole.  O_APPEND
     is harmless on cgroupfs (kernfs ignores the offset) and lets the fake trees
     of the unit tests record every write in order. */
  n = snprintf (buf, sizeof buf, "%s\n", value);
  if (n < 0 || (size_t) n >= sizeof buf)
    return moat_cg_refuse (err, E2BIG, "%s%swrite `%s`: value too long", field ? field : "", field ? ": " : "", path);
  fd = open (path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    return moat_err (err, errno, "%s%sopen `%s`", field ? field : "", field ? ": " : "", path);
  do
    w = write (fd, buf, (size_t) n);
  while (w < 0 && errno == EINTR);
  if (w < 0)
    return moat_err (err, errno, "%s%swrite `%s` to `%s`", field ? field : "", field ? ": " : "", value, path);
  if (w != n)
    return moat_err (err, EIO, "%s%sshort write to `%s`", field ? field : "", field ? ": " : "", path);
  return 0;
}

int
moat_cg_writef (const char *dir, const char *file, const char *field, struct moat_error *err,
                const char *fmt, ...)
{
  char value[4096];
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (value, sizeof value, fmt, ap);
  va_end (ap);
  return moat_cg_write (dir, file, value, field, err);
}

int
moat_cg_read (const char *dir, const char *file, char **out, struct moat_error *err)
{
  char path[4096];
  char *buf = NULL;
  size_t len = 0;

  snprintf (path, sizeof path, "%s/%s", dir, file);
  if (moat_read_file_at (AT_FDCWD, path, 1 << 20, &buf, &len, err) < 0)
    return -1;
  while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
    buf[--len] = '\0';
  *out = buf;
  return 0;
}

int
moat_cg_read_u64 (const char *dir, const char *file, uint64_t *out, struct moat_error *err)
{
  cleanup_free char *s = NULL;
  char *end;

  if (moat_cg_read (dir, file, &s, err) < 0)
    return -1;
  if (strcmp (s, "max") == 0)
    {
      *out = UINT64_MAX;
      return 0;
    }
  errno = 0;
  *out = strtoull (s, &end, 10);
  if (errno != 0 || end == s || (*end != '\0' && *end != '\n'))
    return moat_cg_refuse (err, EINVAL, "`%s/%s`: not a number: `%s`", dir, file, s);
  return 0;
}

int
moat_cg_read_keyed (const char *dir, const char *file, const char *key, uint64_t *out,
                    struct moat_error *err)
{
  cleanup_free char *s = NULL;
  size_t klen = strlen (key);
  char *line, *save = NULL;

  if (moat_cg_read (dir, file, &s, err) < 0)
    return -1;
  for (line = strtok_r (s, "\n", &save); line; line = strtok_r (NULL, "\n", &save))
    if (strncmp (line, key, klen) == 0 && line[klen] == ' ')
      {
        *out = strtoull (line + klen + 1, NULL, 10);
        return 0;
      }
  return moat_cg_refuse (err, ENOENT, "`%s/%s`: no `%s` entry", dir, file, key);
}

bool
moat_cg_has (const char *dir, const char *file)
{
  char path[4096];

  snprintf (path, sizeof path, "%s/%s", dir, file);
  return faccessat (AT_FDCWD, path, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

static int
append_pid (pid_t **pids, size_t *n, size_t *cap, pid_t pid, struct moat_error *err)
{
  if (*n == *cap)
    {
      size_t nc = *cap ? *cap * 2 : 16;
      pid_t *np = realloc (*pids, nc * sizeof *np);
      if (np == NULL)
        return moat_err (err, ENOMEM, "cgroup pids");
      *pids = np;
      *cap = nc;
    }
  (*pids)[(*n)++] = pid;
  return 0;
}

int
moat_cg_collect_pids (const char *dir, pid_t **pids, size_t *n, size_t *cap, struct moat_error *err)
{
  cleanup_free char *procs = NULL;
  cleanup_dir DIR *d = NULL;
  struct dirent *de;
  char *line, *save = NULL;

  if (moat_cg_read (dir, "cgroup.procs", &procs, err) < 0)
    return -1;
  for (line = strtok_r (procs, "\n", &save); line; line = strtok_r (NULL, "\n", &save))
    {
      long v = strtol (line, NULL, 10);
      if (v > 0 && append_pid (pids, n, cap, (pid_t) v, err) < 0)
        return -1;
    }
  /* Nested cgroups the container made for itself hold its processes too. */
  d = opendir (dir);
  if (d == NULL)
    return moat_err (err, errno, "opendir `%s`", dir);
  while ((de = readdir (d)) != NULL)
    {
      char sub[4096];
      if (de->d_type != DT_DIR || strcmp (de->d_name, ".") == 0 || strcmp (de->d_name, "..") == 0)
        continue;
      snprintf (sub, sizeof sub, "%s/%s", dir, de->d_name);
      if (moat_cg_collect_pids (sub, pids, n, cap, err) < 0)
        return -1;
    }
  return 0;
}

/* ---- path resolution --------------------------------------------------- */

static bool
has_dotdot (const char *p)
{
  const char *s = p;

  while ((s = strstr (s, "..")) != NULL)
    {
      if ((s == p || s[-1] == '/') && (s[2] == '\0' || s[2] == '/'))
        return true;
      s += 2;
    }
  return false;
}

int
moat_cgroup_resolve_path (const char *cgroups_path, const char *id, bool systemd_cgroup,
                          char **out, struct moat_error *err)
{
  cleanup_free char *joined = NULL;
  char *clean;

  *out = NULL;
  if (systemd_cgroup)
    {
      /* sd_booted(3): systemd creates /run/systemd/system early at boot. */
      if (access ("/run/systemd/system", F_OK) < 0)
        return moat_err (err, 0, "--systemd-cgroup: systemd is not running on this host "
                                 "(PID 1 is not systemd)");
      return moat_err (err, 0, "--systemd-cgroup: systemd cgroup management is not supported; "
                               "use the cgroupfs driver");
    }
  if (cgroups_path == NULL || *cgroups_path == '\0')
    {
      if (id == NULL || *id == '\0' || strchr (id, '/') || strcmp (id, ".") == 0 || strcmp (id, "..") == 0)
        return moat_cg_refuse (err, EINVAL, "cgroup path: invalid container id `%s`", id ? id : "");
      if (asprintf (&joined, "/moat/%s", id) < 0)
        return moat_err (err, ENOMEM, "cgroup path");
    }
  else
    {
      /* ".." would climb out of the hierarchy root (or out of /moat) into
         another container's cgroup or the host's. */
      if (has_dotdot (cgroups_path))
        return moat_cg_refuse (err, EINVAL, "linux.cgroupsPath: `%s` must not contain `..`", cgroups_path);
      if (asprintf (&joined, "%s%s", cgroups_path[0] == '/' ? "" : "/moat/", cgroups_path) < 0)
        return moat_err (err, ENOMEM, "cgroup path");
    }
  clean = moat_path_clean (joined);
  if (clean == NULL)
    return moat_err (err, ENOMEM, "cgroup path");
  if (strcmp (clean, "/") == 0)
    {
      free (clean);
      return moat_cg_refuse (err, EINVAL, "linux.cgroupsPath: `%s`: the root cgroup cannot be a container's",
                       cgroups_path);
    }
  *out = clean;
  return 0;
}

/* ---- layout ------------------------------------------------------------- */

struct hier
{
  char *dirname;     /* "cpu,cpuacct" */
  char *controllers; /* "cpu,cpuacct", "name=systemd" */
};

static void
hiers_free (struct hier *h, size_t n)
{
  for (size_t i = 0; i < n; i++)
    {
      free (h[i].dirname);
      free (h[i].controllers);
    }
  free (h);
}

static int
hiers_add (struct hier **h, size_t *n, const char *dirname, const char *controllers,
           struct moat_error *err)
{
  struct hier *nh;

  for (size_t i = 0; i < *n; i++)
    if (strcmp ((*h)[i].dirname, dirname) == 0)
      return 0;
  nh = realloc (*h, (*n + 1) * sizeof *nh);
  if (nh == NULL)
    return moat_err (err, ENOMEM, "cgroup layout");
  *h = nh;
  nh[*n].dirname = strdup (dirname);
  nh[*n].controllers = strdup (controllers);
  (*n)++;
  if (nh[*n - 1].dirname == NULL || nh[*n - 1].controllers == NULL)
    return moat_err (err, ENOMEM, "cgroup layout");
  return 0;
}

/* Mountinfo escapes blanks as \040 etc. */
static void
unescape_octal (char *s)
{
  char *o = s;

  for (; *s; s++)
    if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' && s[3] >= '0' && s[3] <= '7')
      {
        *o++ = (char) (((s[1] - '0') << 6) | ((s[2] - '0') << 3) | (s[3] - '0'));
        s += 3;
      }
    else
      *o++ = *s;
  *o = '\0';
}

/* The controllers of a v1 mount from its super options: drop rw/ro and the
   hierarchy flags, keep controller names and name=X. */
static void
super_controllers (const char *superopts, char *out, size_t size)
{
  static const char *const flags[] = { "rw", "ro", "xattr", "noprefix", "clone_children",
                                       "cpuset_v2_mode", "favordynmods", "none" };
  cleanup_free char *copy = strdup (superopts);
  char *tok, *save = NULL;

  out[0] = '\0';
  if (copy == NULL)
    return;
  for (tok = strtok_r (copy, ",", &save); tok; tok = strtok_r (NULL, ",", &save))
    {
      bool skip = false;
      for (size_t i = 0; i < MOAT_ARRAY_SIZE (flags); i++)
        skip |= strcmp (tok, flags[i]) == 0;
      if (skip || (strchr (tok, '=') && strncmp (tok, "name=", 5) != 0))
        continue;
      if (out[0])
        strncat (out, ",", size - strlen (out) - 1);
      strncat (out, tok, size - strlen (out) - 1);
    }
}

static int
v1_from_mountinfo (const char *root, struct hier **h, size_t *n, struct moat_error *err)
{
  cleanup_file FILE *f = fopen ("/proc/self/mountinfo", "re");
  cleanup_free char *line = NULL;
  size_t cap = 0, rlen = strlen (root);

  if (f == NULL)
    return moat_err (err, errno, "open `/proc/self/mountinfo`");
  while (getline (&line, &cap, f) > 0)
    {
      char *fields[10] = { NULL }, *save = NULL, *tok, *sep;
      char ctrls[512];
      size_t nf = 0;

      sep = strstr (line, " - ");
      if (sep == NULL)
        continue;
      *sep = '\0';
      for (tok = strtok_r (line, " ", &save); tok && nf < 5; tok = strtok_r (NULL, " ", &save))
        fields[nf++] = tok;
      save = NULL;
      for (tok = strtok_r (sep + 3, " \n", &save); tok && nf < 8; tok = strtok_r (NULL, " \n", &save))
        fields[nf++] = tok;
      if (nf < 8 || strcmp (fields[5], "cgroup") != 0)
        continue;
      unescape_octal (fields[4]);
      /* Only hierarchies mounted directly below the root: ROOT/<dir>. */
      if (strncmp (fields[4], root, rlen) != 0 || fields[4][rlen] != '/'
          || strchr (fields[4] + rlen + 1, '/') != NULL || fields[4][rlen + 1] == '\0')
        continue;
      super_controllers (fields[7], ctrls, sizeof ctrls);
      if (ctrls[0] == '\0')
        continue;
      if (hiers_add (h, n, fields[4] + rlen + 1, ctrls, err) < 0)
        return -1;
    }
  return 0;
}

/* The v1 hierarchies below ROOT, from mountinfo read once per process: one
   `run` lays out the container's cgroups four times (create, start's status
   check, the OOM count after the process exits, delete), and hierarchies are
   mounted at boot, not while a command runs. */
static int
v1_hierarchies (const char *root, struct hier **h, size_t *n, struct moat_error *err)
{
  static char *cached_root;
  static struct hier *cached;
  static size_t n_cached;

  if (cached_root == NULL || strcmp (cached_root, root) != 0)
    {
      struct hier *fresh = NULL;
      size_t n_fresh = 0;

      if (v1_from_mountinfo (root, &fresh, &n_fresh, err) < 0)
        {
          hiers_free (fresh, n_fresh);
          return -1;
        }
      hiers_free (cached, n_cached);
      free (cached_root);
      cached = fresh;
      n_cached = n_fresh;
      cached_root = strdup (root);
    }
  for (size_t i = 0; i < n_cached; i++)
    if (hiers_add (h, n, cached[i].dirname, cached[i].controllers, err) < 0)
      return -1;
  return 0;
}

/* A fake tree (MOAT_CGROUP_MODE set): every real directory below the root but
   "unified" is a hierarchy named after its controllers. */
static int
v1_from_dir (const char *root, struct hier **h, size_t *n, struct moat_error *err)
{
  cleanup_dir DIR *d = opendir (root);
  struct dirent *de;

  if (d == NULL)
    return moat_err (err, errno, "opendir `%s`", root);
  while ((de = readdir (d)) != NULL)
    {
      const char *name = de->d_name;
      if (de->d_type != DT_DIR || name[0] == '.' || strcmp (name, "unified") == 0)
        continue;
      if (hiers_add (h, n, name, strcmp (name, "systemd") == 0 ? "name=systemd" : name, err) < 0)
        return -1;
    }
  return 0;
}

static int
detect_mode (const char *root, enum moat_cgroup_mode *mode, bool *fake, struct moat_error *err)
{
  const char *env = getenv ("MOAT_CGROUP_MODE");
  char unified[4096];
  struct statfs sf;

  *fake = false;
  if (env && *env)
    {
      *fake = true;
      if (strcmp (env, "v1") == 0)
        *mode = MOAT_CGROUP_V1;
      else if (strcmp (env, "v2") == 0)
        *mode = MOAT_CGROUP_V2;
      else if (strcmp (env, "hybrid") == 0)
        *mode = MOAT_CGROUP_HYBRID;
      else
        return moat_cg_refuse (err, EINVAL, "MOAT_CGROUP_MODE: unknown mode `%s`", env);
      return 0;
    }
  if (statfs (root, &sf) < 0)
    return moat_err (err, errno, "statfs `%s`", root);
  if (sf.f_type == CGROUP2_SUPER_MAGIC)
    {
      *mode = MOAT_CGROUP_V2;
      return 0;
    }
  if (sf.f_type != TMPFS_MAGIC)
    return moat_err (err, 0, "`%s` is neither a cgroup2 mount nor a tmpfs of cgroup v1 hierarchies", root);
  snprintf (unified, sizeof unified, "%s/unified", root);
  *mode = statfs (unified, &sf) == 0 && sf.f_type == CGROUP2_SUPER_MAGIC ? MOAT_CGROUP_HYBRID : MOAT_CGROUP_V1;
  return 0;
}

static char *
join3 (const char *a, const char *b, const char *c)
{
  char *s = NULL;

  if (asprintf (&s, "%s%s%s", a, b, c) < 0)
    return NULL;
  return s;
}

/* Fill CG's layout for cgroup PATH: mode, root and the container's directory in
   every hierarchy.  Nothing is created. */
static int
cg_layout (struct moat_cgroup *cg, const char *path, struct moat_error *err)
{
  const char *root = getenv ("MOAT_CGROUP_ROOT");
  struct hier *h = NULL;
  size_t nh = 0;
  bool fake;
  int ret = -1;

  memset (cg, 0, sizeof *cg);
  if (path == NULL || path[0] != '/' || strcmp (path, "/") == 0 || has_dotdot (path))
    return moat_cg_refuse (err, EINVAL, "cgroup path `%s`: must be absolute, below the root, without `..`",
                     path ? path : "");
  cg->root = moat_path_clean (root && *root ? root : "/sys/fs/cgroup");
  cg->path = moat_path_clean (path);
  if (cg->root == NULL || cg->path == NULL)
    return moat_err (err, ENOMEM, "cgroup layout");
  if (detect_mode (cg->root, &cg->mode, &fake, err) < 0)
    return -1;
  if (cg->mode == MOAT_CGROUP_V2)
    {
      cg->unified_dir = join3 (cg->root, "", cg->path);
      return cg->unified_dir ? 0 : moat_err (err, ENOMEM, "cgroup layout");
    }
  if ((fake ? v1_from_dir : v1_hierarchies) (cg->root, &h, &nh, err) < 0)
    goto out;
  if (nh == 0)
    {
      moat_cg_refuse (err, ENOENT, "no cgroup v1 hierarchy is mounted below `%s`", cg->root);
      goto out;
    }
  cg->v1_dirs = calloc (nh, sizeof (char *));
  cg->v1_names = calloc (nh, sizeof (char *));
  if (cg->v1_dirs == NULL || cg->v1_names == NULL)
    {
      moat_err (err, ENOMEM, "cgroup layout");
      goto out;
    }
  for (size_t i = 0; i < nh; i++)
    {
      cg->v1_dirs[i] = NULL;
      if (asprintf (&cg->v1_dirs[i], "%s/%s%s", cg->root, h[i].dirname, cg->path) < 0)
        {
          cg->v1_dirs[i] = NULL;
          moat_err (err, ENOMEM, "cgroup layout");
          goto out;
        }
      cg->v1_names[i] = steal_ptr (&h[i].controllers);
      cg->n_v1++;
    }
  if (cg->mode == MOAT_CGROUP_HYBRID)
    {
      cg->unified_dir = join3 (cg->root, "/unified", cg->path);
      if (cg->unified_dir == NULL)
        {
          moat_err (err, ENOMEM, "cgroup layout");
          goto out;
        }
    }
  ret = 0;
out:
  hiers_free (h, nh);
  return ret;
}

const char *
moat_cg_v1_dir (const struct moat_cgroup *cg, const char *ctrl)
{
  size_t clen = strlen (ctrl);

  for (size_t i = 0; i < cg->n_v1; i++)
    {
      const char *p = cg->v1_names[i];
      while (p && *p)
        {
          const char *e = strchrnul (p, ',');
          if ((size_t) (e - p) == clen && strncmp (p, ctrl, clen) == 0)
            return cg->v1_dirs[i];
          p = *e ? e + 1 : e;
        }
    }
  return NULL;
}

/* The hierarchy root of the I-th v1 hierarchy (its dir minus the cgroup path). */
static char *
v1_mountpoint (const struct moat_cgroup *cg, size_t i)
{
  size_t dl = strlen (cg->v1_dirs[i]), pl = strlen (cg->path);

  return strndup (cg->v1_dirs[i], dl - pl);
}

void
moat_cgroup_free (struct moat_cgroup *cg)
{
  if (cg == NULL)
    return;
  for (size_t i = 0; i < cg->n_v1; i++)
    {
      free (cg->v1_dirs[i]);
      free (cg->v1_names[i]);
    }
  free (cg->v1_dirs);
  free (cg->v1_names);
  free (cg->root);
  free (cg->path);
  free (cg->unified_dir);
  memset (cg, 0, sizeof *cg);
}

/* ---- create ------------------------------------------------------------- */

struct made
{
  char **v;
  size_t n;
};

static void
made_rollback (struct made *m)
{
  /* Deepest first: every directory was recorded after its parent. */
  while (m->n > 0)
    {
      m->n--;
      rmdir (m->v[m->n]);
      free (m->v[m->n]);
    }
  free (m->v);
  m->v = NULL;
}

static void
made_forget (struct made *m)
{
  for (size_t i = 0; i < m->n; i++)
    free (m->v[i]);
  free (m->v);
  m->v = NULL;
  m->n = 0;
}

/* A new cpuset cgroup starts with empty cpuset.cpus and cpuset.mems, and
   attaching a task to it fails with ENOSPC: fill them from the parent. */
static int
cpuset_fill (const char *dir, struct moat_error *err)
{
  static const char *const files[] = { "cpuset.cpus", "cpuset.mems" };
  cleanup_free char *parent = strdup (dir);
  char *slash;

  if (parent == NULL)
    return moat_err (err, ENOMEM, "cpuset");
  slash = strrchr (parent, '/');
  if (slash == NULL)
    return 0;
  *slash = '\0';
  for (size_t i = 0; i < MOAT_ARRAY_SIZE (files); i++)
    {
      cleanup_free char *cur = NULL, *val = NULL;
      if (moat_cg_read (dir, files[i], &cur, err) < 0)
        return -1;
      if (cur[0] != '\0')
        continue;
      if (moat_cg_read (parent, files[i], &val, err) < 0)
        return -1;
      if (moat_cg_write (dir, files[i], val, NULL, err) < 0)
        return -1;
    }
  return 0;
}

/* mkdir -p HIER_ROOT + PATH, recording what was made. */
static int
mkdir_cgroup (const char *hier_root, const char *path, bool cpuset, struct made *m, bool *existed,
              struct moat_error *err)
{
  char dir[4096];
  size_t len = (size_t) snprintf (dir, sizeof dir, "%s", hier_root);
  const char *p = path;

  *existed = true;
  while (*p)
    {
      const char *e;
      while (*p == '/')
        p++;
      if (*p == '\0')
        break;
      e = strchrnul (p, '/');
      if (len + 1 + (size_t) (e - p) >= sizeof dir)
        return moat_err (err, ENAMETOOLONG, "cgroup `%s`", path);
      len += (size_t) snprintf (dir + len, sizeof dir - len, "/%.*s", (int) (e - p), p);
      p = e;
      if (mkdir (dir, 0755) == 0)
        {
          char **nv = realloc (m->v, (m->n + 1) * sizeof *nv);
          if (nv == NULL || (nv[m->n] = strdup (dir)) == NULL)
            {
              if (nv)
                m->v = nv;
              rmdir (dir);
              return moat_err (err, ENOMEM, "mkdir `%s`", dir);
            }
          m->v = nv;
          m->n++;
          *existed = false;
        }
      else if (errno == EEXIST)
        *existed = true;
      else
        return moat_err (err, errno, "mkdir `%s`", dir);
      if (cpuset && cpuset_fill (dir, err) < 0)
        return -1;
    }
  return 0;
}

static int
check_empty (const char *dir, const char *path, struct moat_error *err)
{
  cleanup_free char *procs = NULL;

  if (moat_cg_read (dir, "cgroup.procs", &procs, err) < 0)
    return -1;
  if (procs[0] != '\0')
    return moat_cg_refuse (err, EEXIST, "cgroup `%s` already has processes", path);
  return 0;
}

static int
apply (const struct moat_cgroup *cg, const struct moat_resources *res, struct moat_error *err)
{
  if (res == NULL)
    return 0;
  if (cg->mode == MOAT_CGROUP_V2)
    return moat_cg_v2_apply (cg->unified_dir, res, err);
  return moat_cg_v1_apply (cg, res, err);
}

/* Delegate the controllers RES needs down to the container's cgroup2 dir.  In
   hybrid mode the unified hierarchy only tracks membership, except hugetlb
   when the host moved that controller there (no v1 hugetlb hierarchy). */
static int
enable_unified (const struct moat_cgroup *cg, const struct moat_resources *res, struct moat_error *err)
{
  struct moat_cg_ctrls need = { 0 };
  cleanup_free char *hroot = join3 (cg->root, cg->mode == MOAT_CGROUP_HYBRID ? "/unified" : "", "");

  if (hroot == NULL)
    return moat_err (err, ENOMEM, "cgroup");
  if (cg->mode == MOAT_CGROUP_V2 && res && moat_cg_v2_needed (res, &need, err) < 0)
    return -1;
  if (cg->mode == MOAT_CGROUP_HYBRID && moat_cg_v1_dir (cg, "hugetlb") == NULL && moat_cg_v2_needs_hugetlb (res))
    {
      snprintf (need.name[0], sizeof need.name[0], "hugetlb");
      need.n = 1;
    }
  return moat_cg_v2_enable (hroot, cg->path, &need, err);
}

static int
create_dirs (struct moat_cgroup *cg, const struct moat_resources *res, struct made *m,
             struct moat_error *err)
{
  bool existed;

  for (size_t i = 0; i < cg->n_v1; i++)
    {
      cleanup_free char *mp = v1_mountpoint (cg, i);
      bool cpuset = moat_cg_v1_dir (cg, "cpuset") == cg->v1_dirs[i];
      if (mp == NULL)
        return moat_err (err, ENOMEM, "cgroup");
      if (mkdir_cgroup (mp, cg->path, cpuset, m, &existed, err) < 0)
        return -1;
      if (existed && check_empty (cg->v1_dirs[i], cg->path, err) < 0)
        return -1;
    }
  if (cg->unified_dir)
    {
      const char *hroot_suffix = cg->mode == MOAT_CGROUP_HYBRID ? "/unified" : "";
      cleanup_free char *hroot = join3 (cg->root, hroot_suffix, "");

      if (hroot == NULL)
        return moat_err (err, ENOMEM, "cgroup");
      if (mkdir_cgroup (hroot, cg->path, false, m, &existed, err) < 0)
        return -1;
      if (existed && check_empty (cg->unified_dir, cg->path, err) < 0)
        return -1;
      if (enable_unified (cg, res, err) < 0)
        return -1;
    }
  return 0;
}

int
moat_cgroup_create (struct moat_cgroup *cg, const char *path, const struct moat_resources *res,
                    struct moat_error *err)
{
  struct made m = { NULL, 0 };

  if (cg_layout (cg, path, err) < 0)
    {
      moat_cgroup_free (cg);
      return -1;
    }
  if (create_dirs (cg, res, &m, err) < 0 || apply (cg, res, err) < 0)
    {
      made_rollback (&m);
      moat_cgroup_free (cg);
      return -1;
    }
  made_forget (&m);
  return 0;
}

int
moat_cgroup_open (struct moat_cgroup *cg, const char *path, struct moat_error *err)
{
  size_t kept = 0;
  struct stat st;

  if (cg_layout (cg, path, err) < 0)
    {
      moat_cgroup_free (cg);
      return -1;
    }
  /* A hierarchy mounted after the container was created does not hold it. */
  for (size_t i = 0; i < cg->n_v1; i++)
    {
      if (stat (cg->v1_dirs[i], &st) == 0)
        {
          cg->v1_dirs[kept] = cg->v1_dirs[i];
          cg->v1_names[kept++] = cg->v1_names[i];
          continue;
        }
      free (cg->v1_dirs[i]);
      free (cg->v1_names[i]);
    }
  cg->n_v1 = kept;
  if (cg->unified_dir && stat (cg->unified_dir, &st) < 0)
    {
      free (cg->unified_dir);
      cg->unified_dir = NULL;
    }
  if (cg->n_v1 == 0 && cg->unified_dir == NULL)
    {
      moat_cg_refuse (err, ENOENT, "cgroup `%s` does not exist", path);
      moat_cgroup_free (cg);
      return -1;
    }
  return 0;
}

int
moat_cgroup_update (const struct moat_cgroup *cg, const struct moat_resources *res,
                    struct moat_error *err)
{
  if (res && cg->unified_dir && enable_unified (cg, res, err) < 0)
    return -1;
  return apply (cg, res, err);
}

/* ---- membership, freezing, killing -------------------------------------- */

int
moat_cgroup_enter (const struct moat_cgroup *cg, pid_t pid, struct moat_error *err)
{
  char buf[32];

  snprintf (buf, sizeof buf, "%d", (int) pid);
  for (size_t i = 0; i < cg->n_v1; i++)
    if (moat_cg_write (cg->v1_dirs[i], "cgroup.procs", buf, NULL, err) < 0)
      return -1;
  if (cg->unified_dir && moat_cg_write (cg->unified_dir, "cgroup.procs", buf, NULL, err) < 0)
    return -1;
  return 0;
}

int
moat_cgroup_freeze (const struct moat_cgroup *cg, bool freeze, struct moat_error *err)
{
  const char *dir;

  if (cg->mode == MOAT_CGROUP_V2)
    return moat_cg_v2_freeze (cg->unified_dir, freeze, err);
  dir = moat_cg_v1_dir (cg, "freezer");
  if (dir == NULL)
    return moat_cg_refuse (err, ENOTSUP, "%s: the freezer cgroup controller is not mounted",
                     freeze ? "pause" : "resume");
  return moat_cg_v1_freeze (dir, freeze, err);
}

int
moat_cgroup_is_frozen (const struct moat_cgroup *cg, bool *frozen, struct moat_error *err)
{
  const char *dir;

  if (cg->mode == MOAT_CGROUP_V2)
    return moat_cg_v2_is_frozen (cg->unified_dir, frozen, err);
  dir = moat_cg_v1_dir (cg, "freezer");
  if (dir == NULL)
    {
      *frozen = false;
      return 0;
    }
  return moat_cg_v1_is_frozen (dir, frozen, err);
}

int
moat_cgroup_pids (const struct moat_cgroup *cg, pid_t **pids, size_t *n, struct moat_error *err)
{
  static const char *const pref[] = { "pids", "freezer", "memory" };
  const char *dir = NULL;
  size_t cap = 0;

  *pids = NULL;
  *n = 0;
  if (cg->mode == MOAT_CGROUP_V2)
    dir = cg->unified_dir;
  for (size_t i = 0; dir == NULL && i < MOAT_ARRAY_SIZE (pref); i++)
    dir = moat_cg_v1_dir (cg, pref[i]);
  if (dir == NULL)
    dir = cg->unified_dir ? cg->unified_dir : (cg->n_v1 ? cg->v1_dirs[0] : NULL);
  if (dir == NULL)
    return moat_cg_refuse (err, ENOENT, "cgroup `%s`: no hierarchy", cg->path);
  if (moat_cg_collect_pids (dir, pids, n, &cap, err) < 0)
    {
      free (*pids);
      *pids = NULL;
      *n = 0;
      return -1;
    }
  return 0;
}

/* Without a freezer: signal until no process is left that has not been
   signalled.  A child forked meanwhile is born in the cgroup, so a later pass
   finds it; bounded so that a fork bomb cannot keep us here. */
static int
kill_unfrozen (const struct moat_cgroup *cg, int sig, struct moat_error *err)
{
  for (int pass = 0; pass < 100; pass++)
    {
      cleanup_free pid_t *pids = NULL;
      size_t n = 0;
      if (moat_cgroup_pids (cg, &pids, &n, err) < 0)
        return -1;
      if (n == 0 || (pass > 0 && sig != SIGKILL))
        return 0;
      for (size_t i = 0; i < n; i++)
        if (kill (pids[i], sig) < 0 && errno != ESRCH)
          return moat_err (err, errno, "kill %d", (int) pids[i]);
      if (sig != SIGKILL)
        return 0;
      usleep (10 * 1000);
    }
  return moat_cg_refuse (err, EAGAIN, "kill: processes of cgroup `%s` keep appearing", cg->path);
}

int
moat_cgroup_kill_all (const struct moat_cgroup *cg, int sig, struct moat_error *err)
{
  cleanup_free pid_t *pids = NULL;
  size_t n = 0;
  bool was_frozen = false;
  int ret = 0;

  /* Nothing to signal: the common case when `run` or `delete` cleans up
     after the process exited; skip the freeze/thaw round trip. */
  if (moat_cgroup_pids (cg, &pids, &n, err) < 0)
    return -1;
  if (n == 0)
    return 0;
  free (pids);
  pids = NULL;
  n = 0;
  /* cgroup.kill (linux 5.14) kills the whole subtree atomically, forks in
     flight included.  It is core cgroup2, needing no controller, so it also
     works on the unified hierarchy of a hybrid host. */
  if ((cg->mode == MOAT_CGROUP_V2 || cg->mode == MOAT_CGROUP_HYBRID) && sig == SIGKILL && cg->unified_dir
      && moat_cg_has (cg->unified_dir, "cgroup.kill"))
    {
      /* A task frozen by the v1 freezer does not act on SIGKILL until it is
         thawed: thaw a paused container after the kill. */
      if (moat_cg_write (cg->unified_dir, "cgroup.kill", "1", NULL, err) < 0
          || moat_cgroup_is_frozen (cg, &was_frozen, err) < 0)
        return -1;
      return was_frozen ? moat_cgroup_freeze (cg, false, err) : 0;
    }
  if (cg->mode == MOAT_CGROUP_V2 ? !moat_cg_has (cg->unified_dir, "cgroup.freeze")
                                 : moat_cg_v1_dir (cg, "freezer") == NULL)
    return kill_unfrozen (cg, sig, err);
  /* Freeze first so that no process can fork a child we would miss. */
  if (moat_cgroup_is_frozen (cg, &was_frozen, err) < 0 || moat_cgroup_freeze (cg, true, err) < 0)
    return -1;
  if (moat_cgroup_pids (cg, &pids, &n, err) < 0)
    ret = -1;
  for (size_t i = 0; ret == 0 && i < n; i++)
    if (kill (pids[i], sig) < 0 && errno != ESRCH)
      ret = moat_err (err, errno, "kill %d", (int) pids[i]);
  /* Thaw (unless the container was paused and stays so): a frozen process
     acts on no signal, SIGKILL included. */
  if (!was_frozen || sig == SIGKILL)
    {
      struct moat_error thaw_err;
      if (moat_cgroup_freeze (cg, false, ret < 0 ? &thaw_err : err) < 0 && ret == 0)
        ret = -1;
    }
  return ret;
}

/* rmdir DIR and every cgroup nested below it, retrying on EBUSY while the last
   processes exit (the kernel keeps a cgroup busy until their exit completes). */
static int
rmdir_tree (const char *dir, struct moat_error *err)
{
  cleanup_dir DIR *d = opendir (dir);
  struct dirent *de;
  int waited = 0;

  if (d == NULL)
    return errno == ENOENT ? 0 : moat_err (err, errno, "opendir `%s`", dir);
  while ((de = readdir (d)) != NULL)
    {
      char sub[4096];
      if (de->d_type != DT_DIR || strcmp (de->d_name, ".") == 0 || strcmp (de->d_name, "..") == 0)
        continue;
      snprintf (sub, sizeof sub, "%s/%s", dir, de->d_name);
      if (rmdir_tree (sub, err) < 0)
        return -1;
    }
  for (;;)
    {
      struct timespec ts = { 0, 10 * 1000 * 1000 };
      if (rmdir (dir) == 0 || errno == ENOENT)
        return 0;
      if (errno != EBUSY || waited >= MOAT_CG_RMDIR_TIMEOUT_MS)
        return moat_err (err, errno, "rmdir `%s`", dir);
      nanosleep (&ts, NULL);
      waited += 10;
    }
}

int
moat_cgroup_destroy (const struct moat_cgroup *cg, struct moat_error *err)
{
  int ret = 0;
  struct moat_error tmp;

  /* Only the container's own directory: parents such as /moat are shared. */
  for (size_t i = 0; i < cg->n_v1; i++)
    if (rmdir_tree (cg->v1_dirs[i], ret < 0 ? &tmp : err) < 0)
      ret = -1;
  if (cg->unified_dir && rmdir_tree (cg->unified_dir, ret < 0 ? &tmp : err) < 0)
    ret = -1;
  return ret;
}

int
moat_cgroup_stats (const struct moat_cgroup *cg, struct moat_cgroup_stats *st, struct moat_error *err)
{
  memset (st, 0, sizeof *st);
  if (cg->mode == MOAT_CGROUP_V2)
    return moat_cg_v2_stats (cg->unified_dir, st, err);
  return moat_cg_v1_stats (cg, st, err);
}

/* ---- the container's /sys/fs/cgroup ------------------------------------ */

/* Every mount here is made through fds (fsopen/fsmount/open_tree and
   move_mount onto an fd), so no path inside the rootfs is ever resolved by the
   kernel again after the caller verified TARGET_FD (CVE-2021-30465). */

static int
fs_error (int fsfd, const char *what, struct moat_error *err)
{
  int e = errno;
  char log[512];
  ssize_t n;

  /* The filesystem context keeps the kernel's reason ("e Unknown subsys name
     'foo'"): much better than a bare EINVAL. */
  n = fsfd >= 0 ? read (fsfd, log, sizeof log - 1) : -1;
  if (n > 2)
    {
      log[n] = '\0';
      log[strcspn (log, "\n")] = '\0';
      return moat_err (err, e, "%s (%s)", what, log + 2);
    }
  return moat_err (err, e, "%s", what);
}

/* A new detached mount of FSTYPE with comma-separated OPTS ("cpu,cpuacct",
   "name=systemd", "mode=755"). */
static int
new_fs (const char *fstype, const char *opts, unsigned int attrs, struct moat_error *err)
{
  cleanup_fd int fsfd = fsopen (fstype, FSOPEN_CLOEXEC);
  cleanup_free char *copy = strdup (opts ? opts : "");
  char what[256], *tok, *save = NULL;
  int mfd;

  snprintf (what, sizeof what, "mount %s `%s`", fstype, opts ? opts : "");
  if (fsfd < 0)
    return moat_err (err, errno, "%s: fsopen", what);
  if (copy == NULL)
    return moat_err (err, ENOMEM, "%s", what);
  for (tok = strtok_r (copy, ",", &save); tok; tok = strtok_r (NULL, ",", &save))
    {
      char *eq = strchr (tok, '=');
      int r;
      if (eq)
        {
          *eq = '\0';
          r = fsconfig (fsfd, FSCONFIG_SET_STRING, tok, eq + 1, 0);
        }
      else
        r = fsconfig (fsfd, FSCONFIG_SET_FLAG, tok, NULL, 0);
      if (r < 0)
        return fs_error (fsfd, what, err);
    }
  if (fsconfig (fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
    return fs_error (fsfd, what, err);
  mfd = fsmount (fsfd, FSMOUNT_CLOEXEC, attrs);
  if (mfd < 0)
    return fs_error (fsfd, what, err);
  return mfd;
}

/* A detached copy of the host's cgroup directory DIR with ATTRS. */
static int
bind_fs (const char *dir, unsigned int attrs, struct moat_error *err)
{
  struct mount_attr attr = { .attr_set = attrs };
  cleanup_fd int fd = open_tree (AT_FDCWD, dir, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_SYMLINK_NOFOLLOW);

  if (fd < 0)
    return moat_err (err, errno, "bind `%s`", dir);
  if (mount_setattr (fd, "", AT_EMPTY_PATH, &attr, sizeof attr) < 0)
    return moat_err (err, errno, "bind `%s`: set mount attributes", dir);
  return steal_fd (&fd);
}

static int
attach (int mfd, int dirfd, const char *name, struct moat_error *err)
{
  if (move_mount (mfd, "", dirfd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
    return moat_err (err, errno, "attach the cgroup mount on `%s`", name);
  return 0;
}

/* mkdir NAME below the container's tmpfs and return an O_PATH fd of it. */
static int
subdir (int rootfd, const char *name, struct moat_error *err)
{
  int fd;

  if (mkdirat (rootfd, name, 0755) < 0 && errno != EEXIST)
    return moat_err (err, errno, "mkdir `%s` in the cgroup tmpfs", name);
  fd = openat (rootfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return moat_err (err, errno, "open `%s` in the cgroup tmpfs", name);
  return fd;
}

/* One v1 hierarchy below the tmpfs: a fresh mount (private cgroupns: its root
   is the container's cgroup) or a bind of the container's directory. */
static int
mount_v1_hier (const struct moat_cgroup *cg, size_t i, int rootfd, unsigned int attrs, bool private_ns,
               struct moat_error *err)
{
  cleanup_free char *mp = v1_mountpoint (cg, i);
  cleanup_fd int dfd = -1, mfd = -1;
  const char *name, *p;

  if (mp == NULL)
    return moat_err (err, ENOMEM, "cgroup mount");
  name = strrchr (mp, '/') + 1;
  dfd = subdir (rootfd, name, err);
  if (dfd < 0)
    return -1;
  mfd = private_ns ? new_fs ("cgroup", cg->v1_names[i], attrs, err) : bind_fs (cg->v1_dirs[i], attrs, err);
  if (mfd < 0 || attach (mfd, dfd, name, err) < 0)
    return -1;
  /* Co-mounted controllers get the host's symlinks: cpu -> cpu,cpuacct. */
  for (p = cg->v1_names[i]; *p;)
    {
      const char *e = strchrnul (p, ',');
      char ctrl[64];
      snprintf (ctrl, sizeof ctrl, "%.*s", (int) (e - p), p);
      if (strncmp (ctrl, "name=", 5) != 0 && strcmp (ctrl, name) != 0 && symlinkat (name, rootfd, ctrl) < 0
          && errno != EEXIST)
        return moat_err (err, errno, "symlink `%s` in the cgroup tmpfs", ctrl);
      p = *e ? e + 1 : e;
    }
  return 0;
}

static int
mount_v1_layout (const struct moat_cgroup *cg, int target_fd, unsigned int attrs, bool private_ns,
                 struct moat_error *err)
{
  struct mount_attr ro = { .attr_set = MOUNT_ATTR_RDONLY };
  cleanup_fd int tfd = -1;

  /* The tmpfs is made read-only last, once it is populated. */
  tfd = new_fs ("tmpfs", "mode=755", attrs & ~(unsigned int) MOUNT_ATTR_RDONLY, err);
  if (tfd < 0 || attach (tfd, target_fd, "/sys/fs/cgroup", err) < 0)
    return -1;
  for (size_t i = 0; i < cg->n_v1; i++)
    if (mount_v1_hier (cg, i, tfd, attrs, private_ns, err) < 0)
      return -1;
  if (cg->mode == MOAT_CGROUP_HYBRID && cg->unified_dir)
    {
      cleanup_fd int dfd = subdir (tfd, "unified", err), mfd = -1;
      if (dfd < 0)
        return -1;
      mfd = private_ns ? new_fs ("cgroup2", NULL, attrs, err) : bind_fs (cg->unified_dir, attrs, err);
      if (mfd < 0 || attach (mfd, dfd, "unified", err) < 0)
        return -1;
    }
  if ((attrs & MOUNT_ATTR_RDONLY) && mount_setattr (tfd, "", AT_EMPTY_PATH, &ro, sizeof ro) < 0)
    return moat_err (err, errno, "make the cgroup tmpfs read-only");
  return 0;
}

int
moat_cgroup_mount (const struct moat_cgroup *cg, int target_fd, unsigned long mount_flags,
                   bool private_cgroupns, struct moat_error *err)
{
  unsigned int attrs = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
  struct stat st;
  int r;

  if (fstat (target_fd, &st) < 0)
    return moat_err (err, errno, "cgroup mount target");
  if (!S_ISDIR (st.st_mode))
    return moat_cg_refuse (err, ENOTDIR, "cgroup mount target `/sys/fs/cgroup`");
  if (mount_flags & MS_RDONLY)
    attrs |= MOUNT_ATTR_RDONLY;
  if (cg->mode != MOAT_CGROUP_V2)
    r = mount_v1_layout (cg, target_fd, attrs, private_cgroupns, err);
  else
    {
      cleanup_fd int mfd = private_cgroupns ? new_fs ("cgroup2", NULL, attrs, err)
                                            : bind_fs (cg->unified_dir, attrs, err);
      r = mfd < 0 ? -1 : attach (mfd, target_fd, "/sys/fs/cgroup", err);
    }
  if (r < 0)
    return moat_error_wrap (err, "mount cgroups");
  return 0;
}
