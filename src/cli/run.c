/* SPDX-License-Identifier: GPL-2.0-or-later */
/* `moat run [flags] ROOTFS_DIR|IMAGE [CMD...]`: the Docker-style front end.  It
 * builds a config from the hardened default (the one `moat spec` writes,
 * src/spec/defaults.c), the flags (Docker's names), writes it to a private
 * bundle under the state root and runs it through the normal create, start,
 * wait and delete path.
 *
 * Dispatch (moat_run_is_frontend): the front end is chosen when any
 * front-end-only flag is present (-e, -v, --rm, --name, --cap-add, ...), or
 * when the first operand is an existing directory given as a path containing
 * '/' (./rootfs, /abs/rootfs) or an image name in the default store's
 * index.json.  Otherwise, and always when an option only runc's form has is
 * given (--bundle, --pid-file, --console-socket, --keep, ...), `run` is the
 * OCI form `run [--bundle DIR] [--detach] ... ID` that engines use: a
 * container id never contains '/', so a rootfs path is never taken for one.
 *
 * Privilege only ever comes from the operator's flags: every volume is
 * nosuid,nodev, host paths that hand over the host (/, /proc, /sys, /dev,
 * /boot, /etc, engine sockets) are refused, and --privileged goes through
 * admission, which refuses it unless the policy allows it (run_privileged.c). */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/engine.h"
#include "cli/run.h"
#include "sandbox/sandbox.h"
#include "spec/defaults.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"

#define FILE_MAX (1 << 20)

enum
{
  O_NAME = 0x100, O_RM, O_ENV_FILE, O_READ_ONLY, O_TMPFS, O_MOUNT, O_CAP_ADD, O_CAP_DROP, O_PRIVILEGED,
  O_SECOPT, O_CPU_SHARES, O_CPUS, O_PIDS, O_ULIMIT, O_HOSTNAME, O_NETWORK, O_USERNS, O_SECRET,
  O_PRINT_SPEC, O_ALLOW_SENSITIVE, O_ROOT_IMAGES, O_ENGINE,
};
#define DEFAULT_IMAGE_ROOT "/var/lib/moat"

static const struct option fe_opts[] = {
  { "name", required_argument, NULL, O_NAME },
  { "rm", no_argument, NULL, O_RM },
  { "detach", no_argument, NULL, 'd' },
  { "interactive", no_argument, NULL, 'i' },
  { "tty", no_argument, NULL, 't' },
  { "env", required_argument, NULL, 'e' },
  { "env-file", required_argument, NULL, O_ENV_FILE },
  { "workdir", required_argument, NULL, 'w' },
  { "user", required_argument, NULL, 'u' },
  { "read-only", optional_argument, NULL, O_READ_ONLY },
  { "volume", required_argument, NULL, 'v' },
  { "tmpfs", required_argument, NULL, O_TMPFS },
  { "mount", required_argument, NULL, O_MOUNT },
  { "cap-add", required_argument, NULL, O_CAP_ADD },
  { "cap-drop", required_argument, NULL, O_CAP_DROP },
  { "privileged", no_argument, NULL, O_PRIVILEGED },
  { "security-opt", required_argument, NULL, O_SECOPT },
  { "memory", required_argument, NULL, 'm' },
  { "cpu-shares", required_argument, NULL, O_CPU_SHARES },
  { "cpus", required_argument, NULL, O_CPUS },
  { "pids-limit", required_argument, NULL, O_PIDS },
  { "ulimit", required_argument, NULL, O_ULIMIT },
  { "hostname", required_argument, NULL, O_HOSTNAME },
  { "network", required_argument, NULL, O_NETWORK },
  { "net", required_argument, NULL, O_NETWORK },
  { "userns", required_argument, NULL, O_USERNS },
  { "secret", required_argument, NULL, O_SECRET },
  { "print-spec", no_argument, NULL, O_PRINT_SPEC },
  { "allow-sensitive-mount", no_argument, NULL, O_ALLOW_SENSITIVE },
  { "root-images", required_argument, NULL, O_ROOT_IMAGES },
  /* moat_engine_parse_opt() (engine_launch.c) parses these. */
  { "restart", required_argument, NULL, O_ENGINE },
  { "health-cmd", required_argument, NULL, O_ENGINE },
  { "health-interval", required_argument, NULL, O_ENGINE },
  { "health-timeout", required_argument, NULL, O_ENGINE },
  { "health-retries", required_argument, NULL, O_ENGINE },
  { "health-start-period", required_argument, NULL, O_ENGINE },
  { "no-healthcheck", no_argument, NULL, O_ENGINE },
  { "log-opt", required_argument, NULL, O_ENGINE },
  { NULL, 0, NULL, 0 },
};
#define FE_SHORT "+de:itm:u:v:w:"


struct fe
{
  const char *name, *workdir, *user, *hostname, *network, *userns, *seccomp, *apparmor, *label,
      *landlock, *image_root;
  bool rm, detach, interactive, tty, print_spec, allow_sensitive, privileged;
  int read_only, nnp; /* -1: default */
  json_t *env, *volumes, *tmpfs, *cap_add, *cap_drop, *ulimits, *env_files;
  int64_t memory;
  long long cpu_shares, pids;
  double cpus;
  struct moat_run_secrets secrets;
  struct moat_engine_opts engine;
};

/* The OCI form's options (parse_create in oci.c) that take a value. */
static bool
oci_takes_value (const char *a)
{
  static const char *const v[] = { "--bundle", "-b", "--pid-file", "--console-socket", "--preserve-fds", NULL };
  size_t i;

  for (i = 0; v[i]; i++)
    if (strcmp (a, v[i]) == 0)
      return true;
  return false;
}

static bool
oci_flag (const char *a)
{
  static const char *const v[] = { "--bundle", "--pid-file", "--console-socket", "--preserve-fds",
                                   "--no-pivot", "--no-new-keyring", "--detach", "--keep",
                                   "--no-subreaper", NULL };
  size_t i, n;

  if (strcmp (a, "-d") == 0 || strncmp (a, "-b", 2) == 0)
    return true;
  for (i = 0; v[i]; i++)
    {
      n = strlen (v[i]);
      if (strncmp (a, v[i], n) == 0 && (a[n] == '\0' || a[n] == '='))
        return true;
    }
  return false;
}

/* Whether NAME is in the image store's index (docs/images.md) under one of
   the names `moat image resolve` tries (moat_store_lookup): NAME[:latest],
   with the docker.io/library/, docker.io/ and localhost/ prefixes. */
static bool
known_image (const char *root, const char *name)
{
  static const char *const prefixes[] = { "", "docker.io/library/", "docker.io/", "localhost/", NULL };
  const char *slash = strrchr (name, '/');
  bool has_tag = strchr (slash ? slash : name, ':') != NULL;
  json_auto_t *index = NULL;
  json_t *names;
  char path[PATH_MAX], key[1024];
  size_t i;

  if (strncmp (name, "sha256:", 7) == 0)
    return true;
  snprintf (path, sizeof path, "%s/index.json", root);
  index = json_load_file (path, JSON_DISABLE_EOF_CHECK, NULL);
  names = json_object_get (index, "names");
  for (i = 0; json_is_object (names) && prefixes[i]; i++)
    {
      snprintf (key, sizeof key, "%s%s%s", prefixes[i], name, has_tag ? "" : ":latest");
      if (json_object_get (names, key))
        return true;
    }
  return false;
}

static bool
operand_is_frontend (const char *a)
{
  struct stat st;

  if (strchr (a, '/') && stat (a, &st) == 0 && S_ISDIR (st.st_mode))
    return true;
  return known_image (DEFAULT_IMAGE_ROOT, a);
}

bool
moat_run_is_frontend (int argc, char **argv)
{
  bool oci_only = false;
  int i;

  for (i = 1; i < argc; i++)
    {
      const char *a = argv[i];

      if (strcmp (a, "--") == 0)
        return !oci_only && i + 1 < argc && operand_is_frontend (argv[i + 1]);
      if (a[0] != '-' || a[1] == '\0')
        /* The first operand: with --bundle, --pid-file ... it is an id. */
        return !oci_only && operand_is_frontend (a);
      if (!oci_flag (a))
        return true;
      oci_only |= strcmp (a, "-d") != 0 && strcmp (a, "--detach") != 0;
      if (oci_takes_value (a))
        i++;
    }
  return false;
}

/* ----- flag parsing ----- */


static void
fe_free (struct fe *f)
{
  json_decref (f->env);
  json_decref (f->volumes);
  json_decref (f->tmpfs);
  json_decref (f->cap_add);
  json_decref (f->cap_drop);
  json_decref (f->ulimits);
  json_decref (f->env_files);
  moat_run_secrets_free (&f->secrets);
}

static int
push (json_t *arr, const char *s, struct moat_error *err)
{
  if (json_array_append_new (arr, json_string (s)) < 0)
    return moat_err (err, ENOMEM, "option `%s`", s);
  return 0;
}

static int
parse_secopt (struct fe *f, const char *a, struct moat_error *err)
{
  if (strcmp (a, "no-new-privileges") == 0 || strcmp (a, "no-new-privileges=true") == 0
      || strcmp (a, "no-new-privileges:true") == 0)
    f->nnp = 1;
  else if (strcmp (a, "no-new-privileges=false") == 0 || strcmp (a, "no-new-privileges:false") == 0)
    f->nnp = 0;
  else if (strncmp (a, "seccomp=", 8) == 0 || strncmp (a, "seccomp:", 8) == 0)
    f->seccomp = a + 8;
  else if (strncmp (a, "apparmor=", 9) == 0 || strncmp (a, "apparmor:", 9) == 0)
    f->apparmor = a + 9;
  else if (strncmp (a, "label=", 6) == 0 || strncmp (a, "label:", 6) == 0)
    f->label = a + 6;
  else if (strcmp (a, "landlock=on") == 0 || strcmp (a, "landlock=off") == 0)
    f->landlock = a + 9;
  else
    return moat_usage (err, "--security-opt: unknown option `%s` (want no-new-privileges[=false], "
                            "seccomp=FILE|unconfined, apparmor=, label=, landlock=on|off)", a);
  return 0;
}

static int
parse_value_opt (struct fe *f, int c, const char *arg, struct moat_error *err)
{
  long long v;
  char *end;

  switch (c)
    {
    case 'm':
      if (moat_parse_size (arg, &f->memory) < 0 || f->memory <= 0)
        return moat_usage (err, "--memory: not a size `%s`", arg);
      return 0;
    case O_CPU_SHARES:
      if (moat_parse_int (arg, 2, 262144, &f->cpu_shares) < 0)
        return moat_usage (err, "--cpu-shares: not a weight in [2, 262144] `%s`", arg);
      return 0;
    case O_CPUS:
      errno = 0;
      f->cpus = strtod (arg, &end);
      if (errno || *end || end == arg || !(f->cpus >= 0.01 && f->cpus <= 1024))
        return moat_usage (err, "--cpus: not a cpu count in [0.01, 1024] `%s`", arg);
      return 0;
    case O_PIDS:
      if (moat_parse_int (arg, -1, INT32_MAX, &v) < 0)
        return moat_usage (err, "--pids-limit: not a count `%s`", arg);
      f->pids = v;
      return 0;
    default:
      return moat_usage (err, "bad option (see moat --help)");
    }
}

static int
parse_flag (struct fe *f, int c, const char *arg, const char *opt, struct moat_error *err)
{
  switch (c)
    {
    case O_NAME:
      if (!moat_valid_container_id (arg))
        return moat_usage (err, "--name: not a valid container name `%s`", arg);
      f->name = arg;
      return 0;
    case O_RM: f->rm = true; return 0;
    case 'd': f->detach = true; return 0;
    case 'i': f->interactive = true; return 0;
    case 't': f->tty = true; return 0;
    case 'e': return push (f->env, arg, err);
    case O_ENV_FILE: return push (f->env_files, arg, err);
    case 'w':
      if (arg[0] != '/')
        return moat_usage (err, "--workdir: `%s` is not an absolute path", arg);
      f->workdir = arg;
      return 0;
    case 'u': f->user = arg; return 0;
    case O_READ_ONLY:
      if (arg == NULL || strcmp (arg, "true") == 0)
        f->read_only = 1;
      else if (strcmp (arg, "false") == 0)
        f->read_only = 0;
      else
        return moat_usage (err, "--read-only: want true or false, not `%s`", arg);
      return 0;
    case 'v': return push (f->volumes, arg, err);
    case O_TMPFS: return push (f->tmpfs, arg, err);
    case O_MOUNT:
      {
        cleanup_free char *vol = NULL;
        cleanup_free char *tmp = NULL;
        int r = moat_run_mount_translate (arg, &vol, &tmp, err);
        if (r < 0)
          return r;
        return vol ? push (f->volumes, vol, err) : push (f->tmpfs, tmp, err);
      }
    case O_CAP_ADD: return push (f->cap_add, arg, err);
    case O_CAP_DROP: return push (f->cap_drop, arg, err);
    case O_PRIVILEGED: f->privileged = true; return 0;
    case O_SECOPT: return parse_secopt (f, arg, err);
    case O_ULIMIT: return push (f->ulimits, arg, err);
    case O_HOSTNAME: f->hostname = arg; return 0;
    case O_NETWORK:
      if (strcmp (arg, "none") != 0 && strcmp (arg, "host") != 0)
        return moat_usage (err, "--network: only `none` (loopback only, the default) and `host` are "
                                "supported, not `%s`", arg);
      f->network = arg;
      return 0;
    case O_USERNS:
      if (strcmp (arg, "host") != 0)
        return moat_usage (err, "--userns: only `host` (no user namespace) is supported, not `%s`", arg);
      f->userns = arg;
      return 0;
    case O_SECRET: return moat_run_parse_secret (&f->secrets, arg, err);
    case O_PRINT_SPEC: f->print_spec = true; return 0;
    case O_ALLOW_SENSITIVE: f->allow_sensitive = true; return 0;
    case O_ROOT_IMAGES: f->image_root = arg; return 0;
    default:
      if (c == '?')
        return moat_usage (err, "run: bad option `%s` (see moat --help)", opt);
      return parse_value_opt (f, c, arg, err);
    }
}

/* ----- spec edits (on the JSON document of the default config) ----- */

static json_t *
obj_path (json_t *doc, const char *a, const char *b)
{
  json_t *o = json_object_get (doc, a);

  if (!json_is_object (o))
    {
      o = json_object ();
      json_object_set_new (doc, a, o);
    }
  if (b == NULL)
    return o;
  doc = o;
  o = json_object_get (doc, b);
  if (!json_is_object (o))
    {
      o = json_object ();
      json_object_set_new (doc, b, o);
    }
  return o;
}

static int
set_env (json_t *env, const char *kv, struct moat_error *err)
{
  size_t klen = strcspn (kv, "="), i;
  json_t *v;

  json_array_foreach (env, i, v)
    {
      const char *s = json_string_value (v);
      if (s && strncmp (s, kv, klen) == 0 && (s[klen] == '=' || s[klen] == '\0'))
        return json_array_set_new (env, i, json_string (kv)) < 0 ? moat_err (err, ENOMEM, "env") : 0;
    }
  return push (env, kv, err);
}

/* Environment variables are visible to anyone who can inspect the container,
   in /proc/PID/environ, and are inherited by every child process. */
static void
warn_secret_env (const char *kv)
{
  if (moat_env_is_secret (kv))
    fprintf (stderr, "moat: warning: -e %.*s: environment variables leak (inspect, /proc/PID/environ, "
                     "child processes); pass secrets with --secret SRC,target=NAME instead\n",
             (int) strcspn (kv, "="), kv);
}

static int
add_env_entry (json_t *env, const char *kv, struct moat_error *err)
{
  const char *val;

  if (kv[0] == '\0' || kv[0] == '=')
    return moat_usage (err, "--env: empty variable name in `%s`", kv);
  warn_secret_env (kv);
  if (strchr (kv, '=') == NULL)
    {
      /* Docker: `-e NAME` passes the caller's value, if it has one. */
      cleanup_free char *joined = NULL;
      if ((val = getenv (kv)) == NULL)
        return 0;
      if (asprintf (&joined, "%s=%s", kv, val) < 0)
        return moat_err (err, ENOMEM, "env");
      return set_env (env, joined, err);
    }
  return set_env (env, kv, err);
}

static int
apply_env (struct fe *f, json_t *env, struct moat_error *err)
{
  json_t *v;
  size_t i;

  json_array_foreach (f->env_files, i, v)
    {
      cleanup_free char *text = NULL;
      char *save = NULL, *line;
      size_t len;

      if (moat_read_file_at (AT_FDCWD, json_string_value (v), FILE_MAX, &text, &len, err) < 0)
        return moat_error_wrap (err, "--env-file `%s`", json_string_value (v));
      for (line = strtok_r (text, "\n", &save); line; line = strtok_r (NULL, "\n", &save))
        {
          size_t n = strlen (line);
          while (n && (line[n - 1] == '\r' || line[n - 1] == ' '))
            line[--n] = '\0';
          line += strspn (line, " \t");
          if (*line == '\0' || *line == '#')
            continue;
          if (add_env_entry (env, line, err) < 0)
            return moat_error_wrap (err, "--env-file `%s`", json_string_value (v));
        }
    }
  json_array_foreach (f->env, i, v)
    if (add_env_entry (env, json_string_value (v), err) < 0)
      return -1;
  return 0;
}

/* Look NAME up in the rootfs's /etc/passwd (FIELD 2 = uid, 3 = gid) or
 * /etc/group (FIELD 2 = gid).  The file is opened beneath the rootfs fd with
 * RESOLVE_IN_ROOT: a symlinked /etc/passwd pointing at the host's is clamped
 * to the rootfs (CVE-2025-24965 class), and it must be a regular file (a FIFO
 * would block us). */
static int
lookup_name (int rootfd, const char *file, const char *name, long long *id, long long *gid,
             struct moat_error *err)
{
  cleanup_fd int fd = moat_open_in_root (rootfd, file, O_RDONLY | O_NOFOLLOW | O_NONBLOCK, 0, err);
  cleanup_free char *text = NULL;
  char *save = NULL, *line;
  struct stat st;
  size_t len;

  if (fd < 0)
    return moat_error_wrap (err, "--user `%s`: rootfs `%s`", name, file);
  if (fstat (fd, &st) < 0 || !S_ISREG (st.st_mode))
    return moat_err (err, EINVAL, "--user `%s`: rootfs `%s` is not a regular file", name, file);
  char self[64];
  snprintf (self, sizeof self, "/proc/self/fd/%d", fd);
  if (moat_read_file_at (AT_FDCWD, self, FILE_MAX, &text, &len, err) < 0)
    return moat_error_wrap (err, "--user `%s`: rootfs `%s`", name, file);
  for (line = strtok_r (text, "\n", &save); line; line = strtok_r (NULL, "\n", &save))
    {
      char *f[4] = { 0 }, *p = line;
      int n;

      for (n = 0; n < 4 && p; n++)
        f[n] = strsep (&p, ":");
      if (n < 3 || strcmp (f[0], name) != 0)
        continue;
      if (moat_parse_int (f[2], 0, UINT32_MAX - 1, id) < 0
          || (gid && (f[3] == NULL || moat_parse_int (f[3], 0, UINT32_MAX - 1, gid) < 0)))
        return moat_err (err, EINVAL, "--user `%s`: rootfs `%s`: malformed entry", name, file);
      return 0;
    }
  return moat_err (err, ENOENT, "--user `%s`: no such %s in the rootfs's `%s`", name,
                   gid ? "user" : "group", file);
}

static int
resolve_user (const char *spec, int rootfd, long long *uid, long long *gid, struct moat_error *err)
{
  cleanup_free char *copy = strdup (spec);
  char *g;

  if (copy == NULL)
    return moat_err (err, ENOMEM, "--user");
  g = strchr (copy, ':');
  if (g)
    *g++ = '\0';
  *gid = -1;
  if (moat_parse_int (copy, 0, UINT32_MAX - 1, uid) < 0)
    {
      if (lookup_name (rootfd, "/etc/passwd", copy, uid, gid, err) < 0)
        return -1;
    }
  else if (g == NULL)
    *gid = 0;
  if (g && moat_parse_int (g, 0, UINT32_MAX - 1, gid) < 0
      && lookup_name (rootfd, "/etc/group", g, gid, NULL, err) < 0)
    return -1;
  return 0;
}

static int
apply_user (struct fe *f, json_t *doc, int rootfd, struct moat_error *err)
{
  json_t *proc = obj_path (doc, "process", NULL), *user = obj_path (proc, "user", NULL), *caps;
  long long uid, gid;

  if (f->user == NULL)
    return 0;
  if (resolve_user (f->user, rootfd, &uid, &gid, err) < 0)
    return -1;
  json_object_set_new (user, "uid", json_integer (uid));
  json_object_set_new (user, "gid", json_integer (gid));
  /* A non-root user gets no effective or permitted capabilities (the
     bounding set stays, like Docker): what root could do is not handed to
     the service account. */
  caps = json_object_get (proc, "capabilities");
  if (uid != 0 && json_is_object (caps))
    {
      json_object_set_new (caps, "effective", json_array ());
      json_object_set_new (caps, "permitted", json_array ());
    }
  return 0;
}

static int
cap_name (const char *in, char *out, size_t size, struct moat_error *err)
{
  size_t i;

  snprintf (out, size, "%s%s", strncasecmp (in, "CAP_", 4) == 0 ? "" : "CAP_", in);
  for (i = 0; out[i]; i++)
    out[i] = (char) toupper ((unsigned char) out[i]);
  if (moat_cap_from_name (out) < 0)
    return moat_usage (err, "unknown capability `%s`", in);
  return 0;
}

static void
set_remove (json_t *arr, const char *s)
{
  size_t i;

  for (i = 0; i < json_array_size (arr);)
    if (strcmp (json_string_value (json_array_get (arr, i)), s) == 0)
      json_array_remove (arr, i);
    else
      i++;
}

static int
apply_caps (struct fe *f, json_t *doc, struct moat_error *err)
{
  static const char *const sets[] = { "bounding", "effective", "permitted" };
  json_t *caps = obj_path (doc, "process", "capabilities"), *v;
  bool root = json_integer_value (json_object_get (obj_path (doc, "process", "user"), "uid")) == 0;
  char name[64];
  size_t i, k;

  json_array_foreach (f->cap_drop, i, v)
    {
      const char *c = json_string_value (v);
      bool all = strcasecmp (c, "ALL") == 0;

      if (!all && cap_name (c, name, sizeof name, err) < 0)
        return -1;
      for (k = 0; k < 3; k++)
        if (all)
          json_object_set_new (caps, sets[k], json_array ());
        else
          {
            json_t *set = json_object_get (caps, sets[k]);
            if (json_is_array (set))
              set_remove (set, name);
          }
    }
  json_array_foreach (f->cap_add, i, v)
    {
      const char *c = json_string_value (v);

      if (strcasecmp (c, "ALL") == 0)
        return moat_usage (err, "--cap-add ALL: refused (it grants CAP_SYS_ADMIN and every other capability); "
                                "name the capabilities the container needs");
      if (cap_name (c, name, sizeof name, err) < 0)
        return -1;
      for (k = 0; k < 3; k++)
        {
          json_t *set = json_object_get (caps, sets[k]);
          if (!json_is_array (set))
            json_object_set_new (caps, sets[k], set = json_array ());
          /* A non-root user keeps empty effective/permitted sets. */
          if (!root && k > 0)
            continue;
          set_remove (set, name);
          json_array_append_new (set, json_string (name));
        }
    }
  return 0;
}

/* Host paths whose bind mount hands the host to the container: the root,
   kernel interfaces, devices, boot and config files, and the container
   engines' API sockets (and the directories holding them), each of which is
   root on the host for whoever can write to it. */
static const char *
sensitive_host_path (const char *real)
{
  static const char *const trees[] = { "/proc", "/sys", "/dev", "/boot", "/etc", NULL };
  static const char *const exact[] = { "/", "/run", "/var/run", "/var", "/run/containerd", "/run/podman",
                                       "/var/run/containerd", "/var/run/podman", NULL };
  static const char *const sockets[] = { "docker.sock", "containerd.sock", "podman.sock", NULL };
  const char *base = strrchr (real, '/');
  size_t i, n;

  for (i = 0; exact[i]; i++)
    if (strcmp (real, exact[i]) == 0)
      return exact[i];
  for (i = 0; trees[i]; i++)
    {
      n = strlen (trees[i]);
      if (strncmp (real, trees[i], n) == 0 && (real[n] == '\0' || real[n] == '/'))
        return trees[i];
    }
  for (i = 0; sockets[i]; i++)
    if (base && strcmp (base + 1, sockets[i]) == 0)
      return sockets[i];
  return NULL;
}

static int
add_mount (json_t *doc, json_t *m, struct moat_error *err)
{
  json_t *mounts = json_object_get (doc, "mounts");
  size_t i;
  json_t *v;

  if (m == NULL)
    return moat_err (err, ENOMEM, "mounts");
  /* A later mount on the same destination replaces the default one. */
  json_array_foreach (mounts, i, v)
    if (json_equal (json_object_get (v, "destination"), json_object_get (m, "destination")))
      {
        json_array_remove (mounts, i);
        break;
      }
  if (json_array_append_new (mounts, m) < 0)
    return moat_err (err, ENOMEM, "mounts");
  return 0;
}

static int
apply_volume (struct fe *f, json_t *doc, const char *spec, struct moat_error *err)
{
  cleanup_free char *copy = strdup (spec);
  char real[PATH_MAX], *host, *ctr, *opts, *save = NULL, *o;
  json_t *options = json_pack ("[sss]", "rbind", "nosuid", "nodev");
  const char *why;
  bool ro = false, idmap = false;

  if (copy == NULL || options == NULL)
    return moat_err (err, ENOMEM, "--volume");
  host = copy;
  ctr = strchr (host, ':');
  if (ctr == NULL)
    {
      json_decref (options);
      return moat_usage (err, "--volume `%s`: want HOST:CONTAINER[:ro|rw] (anonymous volumes are not supported)", spec);
    }
  *ctr++ = '\0';
  opts = strchr (ctr, ':');
  if (opts)
    *opts++ = '\0';
  for (o = opts ? strtok_r (opts, ",", &save) : NULL; o; o = strtok_r (NULL, ",", &save))
    if (strcmp (o, "ro") == 0 || strcmp (o, "rw") == 0)
      ro = o[1] == 'o';
    else if (strcmp (o, "idmap") == 0)
      idmap = true;
    else if (strcmp (o, "noexec") == 0 || strcmp (o, "nosuid") == 0 || strcmp (o, "nodev") == 0
             || strcmp (o, "rprivate") == 0 || strcmp (o, "private") == 0)
      json_array_append_new (options, json_string (o));
    else
      {
        json_decref (options);
        return moat_usage (err, "--volume `%s`: unsupported option `%s` (ro, rw, idmap, noexec, nosuid, nodev, "
                                "private, rprivate)", spec, o);
      }
  /* Through a writable idmapped mount container root's files land on the
     host as uid 0, setuid bits included (sandbox/idmap.c). */
  if (idmap && !ro)
    {
      json_decref (options);
      return moat_usage (err, "--volume `%s`: idmap needs ro: through a writable idmapped mount, files that "
                              "container root creates are owned by host root (a setuid file would be a host "
                              "root shell)", spec);
    }
  if (idmap)
    json_array_append_new (options, json_string ("idmap"));
  json_array_append_new (options, json_string (ro ? "ro" : "rw"));
  if (host[0] != '/' || ctr[0] != '/')
    {
      json_decref (options);
      return moat_usage (err, "--volume `%s`: both paths must be absolute", spec);
    }
  if (realpath (host, real) == NULL)
    {
      json_decref (options);
      return moat_err (err, errno, "--volume `%s`: host path `%s`", spec, host);
    }
  if ((why = sensitive_host_path (real)) && !f->allow_sensitive)
    {
      json_decref (options);
      return moat_usage (err, "--volume `%s`: refused: host path `%s` (%s) gives the container control of "
                              "the host; pass --allow-sensitive-mount if that is intended", spec, real, why);
    }
  return add_mount (doc, json_pack ("{s:s, s:s, s:s, s:o}", "destination", ctr, "type", "bind", "source", real,
                                    "options", options), err);
}

static int
apply_tmpfs (json_t *doc, const char *spec, struct moat_error *err)
{
  cleanup_free char *copy = strdup (spec);
  char *path, *opts, *save = NULL, *o;
  json_t *options = json_array ();
  bool exec = false;

  if (copy == NULL || options == NULL)
    return moat_err (err, ENOMEM, "--tmpfs");
  path = copy;
  opts = strchr (path, ':');
  if (opts)
    *opts++ = '\0';
  if (path[0] != '/')
    {
      json_decref (options);
      return moat_usage (err, "--tmpfs `%s`: not an absolute path", spec);
    }
  json_array_append_new (options, json_string ("nosuid"));
  json_array_append_new (options, json_string ("nodev"));
  for (o = opts ? strtok_r (opts, ",", &save) : NULL; o; o = strtok_r (NULL, ",", &save))
    if (strcmp (o, "exec") == 0 || strcmp (o, "noexec") == 0)
      exec = o[0] == 'e';
    else if (strncmp (o, "size=", 5) == 0 || strncmp (o, "mode=", 5) == 0 || strncmp (o, "uid=", 4) == 0
             || strncmp (o, "gid=", 4) == 0 || strncmp (o, "nr_inodes=", 10) == 0 || strcmp (o, "ro") == 0
             || strcmp (o, "rw") == 0 || strcmp (o, "nosuid") == 0 || strcmp (o, "nodev") == 0)
      json_array_append_new (options, json_string (o));
    else
      {
        json_decref (options);
        return moat_usage (err, "--tmpfs `%s`: unsupported option `%s` (size, mode, uid, gid, nr_inodes, ro, "
                                "rw, exec, noexec)", spec, o);
      }
  if (!exec)
    json_array_append_new (options, json_string ("noexec"));
  return add_mount (doc, json_pack ("{s:s, s:s, s:s, s:o}", "destination", path, "type", "tmpfs", "source",
                                    "tmpfs", "options", options), err);
}

static int
apply_ulimit (json_t *doc, const char *spec, struct moat_error *err)
{
  json_t *rl = json_object_get (obj_path (doc, "process", NULL), "rlimits"), *v;
  cleanup_free char *copy = strdup (spec);
  char type[64], *eq, *colon;
  long long soft, hard;
  size_t i, n;

  if (copy == NULL)
    return moat_err (err, ENOMEM, "--ulimit");
  eq = strchr (copy, '=');
  if (eq == NULL || (size_t) (eq - copy) + 8 > sizeof type || eq == copy)
    return moat_usage (err, "--ulimit `%s`: want NAME=SOFT[:HARD]", spec);
  *eq = '\0';
  n = (size_t) snprintf (type, sizeof type, "RLIMIT_%s", copy);
  for (i = 7; i < n; i++)
    type[i] = (char) toupper ((unsigned char) type[i]);
  colon = strchr (eq + 1, ':');
  if (colon)
    *colon++ = '\0';
  if (moat_parse_int (eq + 1, 0, LLONG_MAX, &soft) < 0 || (colon && moat_parse_int (colon, 0, LLONG_MAX, &hard) < 0))
    return moat_usage (err, "--ulimit `%s`: not a limit", spec);
  if (colon == NULL)
    hard = soft;
  if (soft > hard)
    return moat_usage (err, "--ulimit `%s`: soft limit above the hard limit", spec);
  if (!json_is_array (rl))
    json_object_set_new (obj_path (doc, "process", NULL), "rlimits", rl = json_array ());
  json_array_foreach (rl, i, v)
    if (strcmp (json_string_value (json_object_get (v, "type")) ?: "", type) == 0)
      {
        json_array_remove (rl, i);
        break;
      }
  if (json_array_append_new (rl, json_pack ("{s:s, s:I, s:I}", "type", type, "soft", (json_int_t) soft, "hard",
                                            (json_int_t) hard)) < 0)
    return moat_err (err, ENOMEM, "--ulimit");
  return 0;
}

static void
remove_namespace (json_t *doc, const char *type)
{
  json_t *ns = json_object_get (obj_path (doc, "linux", NULL), "namespaces"), *v;
  size_t i;

  json_array_foreach (ns, i, v)
    if (strcmp (json_string_value (json_object_get (v, "type")) ?: "", type) == 0)
      {
        json_array_remove (ns, i);
        return;
      }
}

static int
apply_seccomp (struct fe *f, json_t *doc, struct moat_error *err)
{
  json_t *lx = obj_path (doc, "linux", NULL), *prof;
  cleanup_free char *text = NULL;
  json_error_t jerr;
  size_t len;

  if (f->seccomp == NULL)
    return 0;
  if (strcmp (f->seccomp, "unconfined") == 0)
    {
      fprintf (stderr, "moat: warning: --security-opt seccomp=unconfined: every syscall the kernel has is "
                       "reachable from the container\n");
      json_object_del (lx, "seccomp");
      return 0;
    }
  if (moat_read_file_at (AT_FDCWD, f->seccomp, FILE_MAX, &text, &len, err) < 0)
    return moat_error_wrap (err, "--security-opt seccomp=`%s`", f->seccomp);
  prof = json_loadb (text, len, 0, &jerr);
  if (!json_is_object (prof))
    {
      json_decref (prof);
      return moat_err (err, EINVAL, "--security-opt seccomp=`%s`: line %d: %s", f->seccomp, jerr.line,
                       prof ? "not a JSON object" : jerr.text);
    }
  /* Both formats go through the conversion: for an OCI profile it keeps
     every key linux.seccomp has. */
    {
      json_t *conv = moat_docker_seccomp (prof, json_object_get (obj_path (doc, "process", "capabilities"), "bounding"));
      json_decref (prof);
      prof = conv;
    }
  json_object_set_new (lx, "seccomp", prof);
  return 0;
}

/* Docker's label=user:U / role:R / type:T / level:L edit the default
   container context; label=disable is refused (it would drop confinement). */
static int
apply_lsm (struct fe *f, json_t *doc, struct moat_error *err)
{
  json_t *proc = obj_path (doc, "process", NULL);

  if (f->apparmor)
    json_object_set_new (proc, "apparmorProfile", json_string (f->apparmor));
  if (f->label)
    {
      char part[4][256] = { "system_u", "system_r", "container_t", "s0" }, buf[1100];
      static const char *const keys[] = { "user:", "role:", "type:", "level:" };
      int i;

      if (strcmp (f->label, "disable") == 0)
        return moat_usage (err, "--security-opt label=disable: refused (it turns SELinux confinement off)");
      for (i = 0; i < 4; i++)
        if (strncmp (f->label, keys[i], strlen (keys[i])) == 0)
          break;
      if (i == 4)
        return moat_usage (err, "--security-opt label=`%s`: want user:U, role:R, type:T or level:L", f->label);
      snprintf (part[i], sizeof part[i], "%s", f->label + strlen (keys[i]));
      snprintf (buf, sizeof buf, "%s:%s:%s:%s", part[0], part[1], part[2], part[3]);
      json_object_set_new (proc, "selinuxLabel", json_string (buf));
    }
  if (f->landlock)
    json_object_set_new (obj_path (doc, "annotations", NULL), "org.moat.landlock", json_string (f->landlock));
  return 0;
}

static int
apply_resources (struct fe *f, json_t *doc)
{
  json_t *res = obj_path (doc, "linux", "resources");

  if (f->memory > 0)
    json_object_set_new (obj_path (res, "memory", NULL), "limit", json_integer (f->memory));
  if (f->cpu_shares > 0)
    json_object_set_new (obj_path (res, "cpu", NULL), "shares", json_integer (f->cpu_shares));
  if (f->cpus > 0)
    {
      json_object_set_new (obj_path (res, "cpu", NULL), "period", json_integer (100000));
      json_object_set_new (obj_path (res, "cpu", NULL), "quota", json_integer ((json_int_t) (f->cpus * 100000)));
    }
  if (f->pids > 0)
    json_object_set_new (obj_path (res, "pids", NULL), "limit", json_integer (f->pids));
  else if (f->pids == 0 || f->pids == -1)
    json_object_del (res, "pids");
  return 0;
}



/* `moat image --root-images ROOT resolve NAME` (docs/images.md) run from
 * our own executable, so the image tool is found exactly as `moat image`
 * finds it; its JSON is parsed into *OUT.  Its own error is on stderr. */
static int
resolve_image (struct moat_cli *cli, const char *root, const char *name, json_t **out, struct moat_error *err)
{
  char *argv[] = { cli->full_argv[0], (char *) "image", (char *) "--root-images", (char *) root,
                   (char *) "resolve", (char *) name, NULL };
  cleanup_free char *buf = malloc (FILE_MAX + 1);
  size_t n = 0;
  int p[2], status;
  json_error_t jerr;
  pid_t pid;

  if (buf == NULL)
    return moat_err (err, ENOMEM, "image `%s`", name);
  if (pipe2 (p, O_CLOEXEC) < 0)
    return moat_err (err, errno, "image `%s`: pipe", name);
  fflush (stdout);
  pid = fork ();
  if (pid < 0)
    {
      close (p[0]);
      close (p[1]);
      return moat_err (err, errno, "image `%s`: fork", name);
    }
  if (pid == 0)
    {
      dup2 (p[1], STDOUT_FILENO);
      execv ("/proc/self/exe", argv);
      _exit (127);
    }
  close (p[1]);
  for (;;)
    {
      ssize_t r = read (p[0], buf + n, FILE_MAX - n);
      if (r < 0 && errno == EINTR)
        continue;
      if (r <= 0)
        break;
      n += (size_t) r;
      if (n == FILE_MAX)
        break;
    }
  close (p[0]);
  while (waitpid (pid, &status, 0) < 0 && errno == EINTR)
    ;
  if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
    return moat_err (err, 0, "image `%s`: `moat image resolve` failed (see above)", name);
  *out = json_loadb (buf, n, 0, &jerr);
  if (!json_is_string (json_object_get (*out, "rootfs")))
    {
      json_decref (*out);
      *out = NULL;
      return moat_err (err, EINVAL, "image `%s`: unexpected answer from `moat image resolve`", name);
    }
  return 0;
}

/* The image config's Entrypoint, Cmd, Env, User and WorkingDir; nothing
 * else of it (docs/images.md: image metadata never widens privileges). */
static int
apply_image_config (struct fe *f, json_t *doc, json_t *cfg, int argc, char **argv, struct moat_error *err)
{
  json_t *proc = obj_path (doc, "process", NULL), *args = json_array (), *v, *env;
  const char *s;
  size_t i;
  int k;

  if (args == NULL)
    return moat_err (err, ENOMEM, "image config");
  json_array_foreach (json_object_get (cfg, "Entrypoint"), i, v)
    if (json_is_string (v))
      json_array_append (args, v);
  if (argc > 0)
    for (k = 0; k < argc; k++)
      json_array_append_new (args, json_string (argv[k]));
  else
    json_array_foreach (json_object_get (cfg, "Cmd"), i, v)
      if (json_is_string (v))
        json_array_append (args, v);
  if (json_array_size (args) == 0)
    {
      json_decref (args);
      return moat_usage (err, "run: the image has no Entrypoint or Cmd: give a command");
    }
  json_object_set_new (proc, "args", args);
  if (!json_is_array (env = json_object_get (proc, "env")))
    json_object_set_new (proc, "env", env = json_array ());
  json_array_foreach (json_object_get (cfg, "Env"), i, v)
    if ((s = json_string_value (v)) && strchr (s, '=') && s[0] != '=' && set_env (env, s, err) < 0)
      return -1;
  if (f->user == NULL && (s = json_string_value (json_object_get (cfg, "User"))) && *s)
    f->user = s;
  if ((s = json_string_value (json_object_get (cfg, "WorkingDir"))) && s[0] == '/')
    json_object_set_new (proc, "cwd", json_string (s));
  return 0;
}

static int
apply_flags (struct fe *f, json_t *doc, int rootfd, struct moat_error *err)
{
  json_t *proc = obj_path (doc, "process", NULL), *lx = obj_path (doc, "linux", NULL), *env, *v;
  size_t i;

  if (!json_is_array (env = json_object_get (proc, "env")))
    json_object_set_new (proc, "env", env = json_array ());
  /* landlock_restrict_self(2) needs no_new_privs (or CAP_SYS_ADMIN, which
     the container does not get): say so here rather than at create. */
  if (f->nnp == 0 && (f->landlock == NULL || strcmp (f->landlock, "off") != 0))
    return moat_usage (err, "--security-opt no-new-privileges=false: Landlock needs no_new_privs; add "
                            "--security-opt landlock=off to run without both");
  if (apply_user (f, doc, rootfd, err) < 0 || apply_env (f, env, err) < 0)
    return -1;
  if (f->workdir)
    json_object_set_new (proc, "cwd", json_string (f->workdir));
  json_object_set_new (proc, "terminal", json_boolean (f->tty));
  if (f->read_only >= 0)
    json_object_set_new (obj_path (doc, "root", NULL), "readonly", json_boolean (f->read_only));
  if (f->nnp >= 0)
    json_object_set_new (proc, "noNewPrivileges", json_boolean (f->nnp));
  if (f->privileged && moat_run_apply_privileged (doc, f->userns != NULL, err) < 0)
    return -1;
  if (apply_caps (f, doc, err) < 0)
    return -1;
  json_array_foreach (f->volumes, i, v)
    if (apply_volume (f, doc, json_string_value (v), err) < 0)
      return -1;
  json_array_foreach (f->tmpfs, i, v)
    if (apply_tmpfs (doc, json_string_value (v), err) < 0)
      return -1;
  json_array_foreach (f->ulimits, i, v)
    if (apply_ulimit (doc, json_string_value (v), err) < 0)
      return -1;
  if (apply_seccomp (f, doc, err) < 0 || apply_lsm (f, doc, err) < 0 || apply_resources (f, doc) < 0)
    return -1;
  if (f->hostname)
    json_object_set_new (doc, "hostname", json_string (f->hostname));
  if (f->network && strcmp (f->network, "host") == 0)
    remove_namespace (doc, "network");
  if (f->userns)
    {
      remove_namespace (doc, "user");
      json_object_del (lx, "uidMappings");
      json_object_del (lx, "gidMappings");
    }
  else
    /* The rootfs's owners made to fit the user namespace: idmapped when
       read-only, chowned once when writable (sandbox/idmap.c). */
    json_object_set_new (obj_path (doc, "annotations", NULL), "org.moat.rootfs.idmap", json_string ("on"));
  return 0;
}

/* The config for ROOTFS and CMD: the hardened default, then the flags.
   Checked by the spec parser before anything is created. */
static int
build_spec (struct fe *f, const char *rootfs, json_t *image, int argc, char **argv, json_t **out,
            struct moat_error *err)
{
  cleanup_free char *json = NULL, *text = NULL;
  cleanup_fd int rootfd = -1;
  json_auto_t *doc = NULL;
  struct moat_spec spec = { 0 };
  char real[PATH_MAX];
  json_error_t jerr;
  int i;

  if (realpath (rootfs, real) == NULL)
    return moat_err (err, errno, "rootfs `%s`", rootfs);
  rootfd = open (real, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (rootfd < 0)
    return moat_err (err, errno, "rootfs `%s`", real);
  if (moat_default_spec_json (false, "/etc/subuid", "/etc/subgid", &json, err) < 0)
    return -1;
  doc = json_loads (json, 0, &jerr);
  if (doc == NULL)
    return moat_err (err, EINVAL, "default config: %s", jerr.text);
  json_object_set_new (obj_path (doc, "root", NULL), "path", json_string (real));
  if (image && apply_image_config (f, doc, json_object_get (image, "config"), argc, argv, err) < 0)
    return -1;
  if (image == NULL && argc > 0)
    {
      json_t *args = json_array ();
      for (i = 0; i < argc; i++)
        json_array_append_new (args, json_string (argv[i]));
      json_object_set_new (obj_path (doc, "process", NULL), "args", args);
    }
  if (apply_flags (f, doc, rootfd, err) < 0)
    return -1;
  text = json_dumps (doc, JSON_INDENT (2) | JSON_PRESERVE_ORDER);
  if (text == NULL)
    return moat_err (err, ENOMEM, "config");
  if (moat_spec_parse (text, strlen (text), &spec, err) < 0)
    return moat_error_wrap (err, "generated config");
  moat_spec_free (&spec);
  *out = steal_ptr (&doc);
  return 0;
}

/* The secrets tmpfs (run_secrets.c), bind-mounted at /run/secrets. */
static int
setup_secrets (struct fe *f, json_t *doc, char *path, bool *mounted, struct moat_error *err)
{
  json_t *m = NULL;

  if (moat_run_setup_secrets (&f->secrets, doc, path, mounted, &m, err) < 0)
    return -1;
  return m ? add_mount (doc, m, err) : 0;
}

/* Write the bundle (BUNDLE = <root>/.run-<id>, a name no container id can
   have) and create the container from it.  The bundle is removed once the
   container exists (its config is kept in the state dir), and the host side
   of the secrets tmpfs too: nothing is left to clean up at delete. */
static int
create_from_bundle (struct moat_cli *cli, struct fe *f, json_t *doc, const char *id, struct moat_created *out,
                    struct moat_error *err)
{
  struct moat_create_opts o = { .id = id, .want_pty_master = f->tty && !f->detach };
  cleanup_free char *bundle = NULL, *text = NULL;
  cleanup_fd int rootdirfd = -1, bundlefd = -1;
  struct moat_error ignored;
  char secrets[PATH_MAX] = "";
  bool mounted = false;
  int r = -1;

  if (mkdir (cli->ctx.root, 0700) < 0 && errno != EEXIST)
    return moat_err (err, errno, "state root `%s`", cli->ctx.root);
  if (asprintf (&bundle, "%s/.run-%s", cli->ctx.root, id) < 0)
    return moat_err (err, ENOMEM, "bundle");
  rootdirfd = open (cli->ctx.root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (rootdirfd < 0)
    return moat_err (err, errno, "state root `%s`", cli->ctx.root);
  if (mkdirat (rootdirfd, bundle + strlen (cli->ctx.root) + 1, 0700) < 0)
    return moat_err (err, errno, "bundle `%s`", bundle);
  bundlefd = open (bundle, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
  if (bundlefd < 0)
    moat_err (err, errno, "bundle `%s`", bundle);
  else if (setup_secrets (f, doc, secrets, &mounted, err) < 0)
    ;
  else if ((text = json_dumps (doc, JSON_INDENT (2) | JSON_PRESERVE_ORDER)) == NULL)
    moat_err (err, ENOMEM, "config");
  else if (moat_write_file_atomic (bundlefd, "config.json", text, strlen (text), 0600, err) >= 0)
    {
      o.bundle = bundle;
      r = moat_container_create (&cli->ctx, &o, out, err);
    }
  if (mounted)
    umount2 (secrets, MNT_DETACH);
  if (secrets[0])
    rmdir (secrets);
  moat_rm_rf_at (rootdirfd, bundle + strlen (cli->ctx.root) + 1, &ignored);
  return r;
}

/* -d: the container gets a monitor (engine_launch.c).  Its secrets tmpfs
   must outlive the first start only when a restart policy may re-create the
   container from the record: then it stays mounted (root's, 0700) until
   `moat rm` or the monitor (--rm) removes the record.  Otherwise it is
   detached from the host once the container started, as in the foreground. */
static int
run_detached (struct moat_cli *cli, struct fe *f, json_t *doc, const char *id, const char *ref, json_t *image,
              struct moat_error *err)
{
  struct moat_engine_launch l = {
    .id = id, .image = ref, .config = doc, .opts = &f->engine, .remove = f->rm, .secrets = "",
    .image_health = json_object_get (json_object_get (image, "config"), "Healthcheck"),
  };
  bool keep = f->engine.restart && strcmp (f->engine.restart, "no") != 0;
  char secrets[PATH_MAX] = "";
  bool mounted = false;
  int r = MOAT_CLI_ERROR;
  json_t *ann = json_object_get (doc, "annotations");

  if (!json_is_object (ann) && json_object_set_new (doc, "annotations", ann = json_object ()) < 0)
    return moat_err (err, ENOMEM, "annotations");
  json_object_set_new (ann, MOAT_ANNOTATION_MONITORED, json_string ("true"));
  json_object_set_new (ann, "org.moat.name", json_string (id));
  if (setup_secrets (f, doc, secrets, &mounted, err) == 0)
    {
      if (keep)
        l.secrets = secrets;
      r = moat_engine_launch (cli, &l, err);
    }
  if ((r != 0 || !keep) && mounted)
    umount2 (secrets, MNT_DETACH);
  if ((r != 0 || !keep) && secrets[0])
    rmdir (secrets);
  return r;
}

static int
parse_fe (int argc, char **argv, struct fe *f, struct moat_error *err)
{
  int c, idx;

  f->env = json_array ();
  f->volumes = json_array ();
  f->tmpfs = json_array ();
  f->cap_add = json_array ();
  f->cap_drop = json_array ();
  f->ulimits = json_array ();
  f->env_files = json_array ();
  f->read_only = f->nnp = -1;
  f->pids = -2;
  if (!f->env || !f->volumes || !f->tmpfs || !f->cap_add || !f->cap_drop || !f->ulimits || !f->env_files)
    return moat_err (err, ENOMEM, "run");
  optind = 0;
  opterr = 0;
  while ((c = getopt_long (argc, argv, FE_SHORT, fe_opts, &idx)) != -1)
    {
      int r = c == O_ENGINE ? moat_engine_parse_opt (&f->engine, fe_opts[idx].name, optarg, err)
                            : parse_flag (f, c, optarg, argv[optind - 1], err);
      if (r < 0)
        return r;
    }
  if (optind >= argc)
    return moat_usage (err, "run: want ROOTFS_DIR [CMD...] (usage: moat run [flags] ROOTFS_DIR [CMD...])");
  if (f->detach && f->tty)
    return moat_usage (err, "-t with -d: a detached container has no terminal (its output goes to `moat logs`)");
  if (f->detach && f->interactive)
    return moat_usage (err, "-i with -d: a detached container's stdin is /dev/null (there is no attach)");
  if (!f->detach && moat_engine_opts_need_detach (&f->engine, err) < 0)
    return MOAT_CLI_USAGE;
  return optind;
}

static int
gen_id (char *buf, size_t size, struct moat_error *err)
{
  unsigned char r[6];

  if (getrandom (r, sizeof r, 0) != (ssize_t) sizeof r)
    return moat_err (err, errno, "generate a container id");
  snprintf (buf, size, "moat-%02x%02x%02x%02x%02x%02x", r[0], r[1], r[2], r[3], r[4], r[5]);
  return 0;
}

int
cmd_run_frontend (struct moat_cli *cli, int argc, char **argv, struct moat_error *err)
{
  struct fe f = { 0 };
  json_auto_t *doc = NULL, *image = NULL;
  const char *rootfs;
  struct moat_created out;
  struct moat_error ignored;
  struct stat st;
  sigset_t all, saved;
  char idbuf[32];
  const char *id;
  int first, status = MOAT_CLI_ERROR;

  first = parse_fe (argc, argv, &f, err);
  if (first < 0)
    {
      status = first;
      goto done;
    }
  /* Sealed first: the re-exec runs this command again from the start. */
  if (!f.print_spec && moat_exe_ensure_sealed (cli->full_argv, err) < 0)
    goto done;
  rootfs = argv[first];
  if (!(strchr (rootfs, '/') && stat (rootfs, &st) == 0 && S_ISDIR (st.st_mode)))
    {
      /* The rootfs of an image is shared by every container of that image. */
      if (f.read_only == 0)
        {
          status = moat_usage (err, "--read-only=false: an image's rootfs is shared and stays read-only "
                                    "(use --tmpfs or -v for writable paths)");
          goto done;
        }
      if (resolve_image (cli, f.image_root ? f.image_root : DEFAULT_IMAGE_ROOT, argv[first], &image, err) < 0)
        goto done;
      rootfs = json_string_value (json_object_get (image, "rootfs"));
    }
  if (build_spec (&f, rootfs, image, argc - first - 1, argv + first + 1, &doc, err) < 0)
    goto done;
  if (f.print_spec)
    {
      cleanup_free char *text = json_dumps (doc, JSON_INDENT (2) | JSON_PRESERVE_ORDER);
      if (text == NULL)
        moat_err (err, ENOMEM, "config");
      else
        {
          printf ("%s\n", text);
          status = 0;
        }
      goto done;
    }
  if (f.name)
    id = f.name;
  else if (gen_id (idbuf, sizeof idbuf, err) < 0)
    goto done;
  else
    id = idbuf;
  /* Like docker without -i: the container does not read our stdin. */
  if (!f.interactive)
    {
      int null = open ("/dev/null", O_RDONLY | O_CLOEXEC);
      if (null >= 0)
        {
          dup2 (null, STDIN_FILENO);
          close (null);
        }
    }
  if (f.detach)
    {
      status = run_detached (cli, &f, doc, id, argv[first], image, err);
      goto done;
    }
  prctl (PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
  if (create_from_bundle (cli, &f, doc, id, &out, err) < 0)
    goto done;
  if (f.privileged)
    moat_run_privileged_warning (f.userns != NULL);
  sigfillset (&all);
  sigprocmask (SIG_BLOCK, &all, &saved);
  if (moat_container_start (&cli->ctx, id, err) < 0)
    {
      moat_container_delete (&cli->ctx, id, true, &ignored);
      goto done;
    }
  status = moat_wait_forward (out.pid, out.pty_master_fd);
  sigprocmask (SIG_SETMASK, &saved, NULL);
  if (out.pty_master_fd >= 0)
    close (out.pty_master_fd);
  /* Without --rm the stopped container stays in `moat list` until
     `moat delete`, like docker's. */
  if (f.rm)
    moat_container_delete (&cli->ctx, id, true, &ignored);
done:
  fe_free (&f);
  return status;
}
