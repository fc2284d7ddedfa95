/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "spec/spec.h"
#include "spec/spec_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>

#include "util/cleanup.h"
#include "util/fs.h"

/* config.json larger than this is refused before parsing: real configs are a
 * few KiB (a full seccomp profile ~30 KiB), and jansson's DOM costs ~10x. */
#define SPEC_MAX_SIZE (4u * 1024 * 1024)

/* ---- ociVersion ------------------------------------------------------ */

/* Accept MAJOR.MINOR[.PATCH][-pre|+build] with MAJOR == 1: every 1.x release
 * is a compatible superset of 1.0, and unknown fields are ignored as the spec
 * asks. */
static int
check_version (const char *v, struct moat_error *err)
{
  const char *p = v;
  int parts = 0;

  while (parts < 3)
    {
      const char *start = p;

      while (*p >= '0' && *p <= '9')
        p++;
      if (p == start)
        break;
      parts++;
      if (*p != '.')
        break;
      p++;
    }
  if (parts < 2 || (*p != '\0' && *p != '-' && *p != '+') || p[-1] == '.')
    return spec_err (err, EINVAL, "ociVersion: malformed version `%s`", v);
  if (strncmp (v, "1.", 2) != 0)
    return spec_err (err, EINVAL, "ociVersion: unsupported version `%s` (moat supports 1.x)", v);
  return 0;
}

/* ---- mounts ---------------------------------------------------------- */

struct mount_opt
{
  const char *name;
  bool clear;          /* the option clears FLAG instead of setting it */
  unsigned long flag;
};

static const struct mount_opt mount_opts[] = {
  { "ro", false, MS_RDONLY },          { "rw", true, MS_RDONLY },
  { "nosuid", false, MS_NOSUID },      { "suid", true, MS_NOSUID },
  { "nodev", false, MS_NODEV },        { "dev", true, MS_NODEV },
  { "noexec", false, MS_NOEXEC },      { "exec", true, MS_NOEXEC },
  { "sync", false, MS_SYNCHRONOUS },   { "async", true, MS_SYNCHRONOUS },
  { "dirsync", false, MS_DIRSYNC },    { "remount", false, MS_REMOUNT },
  { "mand", false, MS_MANDLOCK },      { "nomand", true, MS_MANDLOCK },
  { "noatime", false, MS_NOATIME },    { "atime", true, MS_NOATIME },
  { "nodiratime", false, MS_NODIRATIME }, { "diratime", true, MS_NODIRATIME },
  { "relatime", false, MS_RELATIME },  { "norelatime", true, MS_RELATIME },
  { "strictatime", false, MS_STRICTATIME }, { "nostrictatime", true, MS_STRICTATIME },
  { "lazytime", false, MS_LAZYTIME },  { "nolazytime", true, MS_LAZYTIME },
  { "silent", false, MS_SILENT },      { "loud", true, MS_SILENT },
  { "iversion", false, MS_I_VERSION }, { "noiversion", true, MS_I_VERSION },
  { "nosymfollow", false, MS_NOSYMFOLLOW }, { "symfollow", true, MS_NOSYMFOLLOW },
};

/* Recursive mount attributes that struct moat_mount has a field for. */
static bool *
recursive_attr (struct moat_mount *m, const char *opt, bool *value)
{
  static const struct
  {
    const char *set, *clear;
    size_t off;
  } r[] = {
    { "rro", "rrw", offsetof (struct moat_mount, recursive_ro) },
    { "rnosuid", "rsuid", offsetof (struct moat_mount, recursive_nosuid) },
    { "rnodev", "rdev", offsetof (struct moat_mount, recursive_nodev) },
    { "rnoexec", "rexec", offsetof (struct moat_mount, recursive_noexec) },
  };

  for (size_t i = 0; i < MOAT_ARRAY_SIZE (r); i++)
    if (strcmp (opt, r[i].set) == 0 || strcmp (opt, r[i].clear) == 0)
      {
        *value = strcmp (opt, r[i].set) == 0;
        return (bool *) ((char *) m + r[i].off);
      }
  return NULL;
}

/* Recursive (mount_setattr AT_RECURSIVE) atime and symlink options exist in
 * runc 1.1+, but struct moat_mount has nowhere to carry them: refuse rather
 * than drop them. */
static bool
unsupported_recursive (const char *opt)
{
  static const char *const r[] = { "ratime", "rnoatime", "rdiratime", "rnodiratime",
                                   "rrelatime", "rnorelatime", "rstrictatime",
                                   "rnostrictatime", "rnosymfollow", "rsymfollow" };

  for (size_t i = 0; i < MOAT_ARRAY_SIZE (r); i++)
    if (strcmp (opt, r[i]) == 0)
      return true;
  return false;
}

static int
append_data (char **data, const char *opt, const char *path, struct moat_error *err)
{
  size_t old = *data ? strlen (*data) : 0;
  size_t add = strlen (opt);
  char *n = realloc (*data, old + add + 2);

  if (n == NULL)
    return moat_err (err, ENOMEM, "%s", path);
  if (old > 0)
    n[old++] = ',';
  memcpy (n + old, opt, add + 1);
  *data = n;
  return 0;
}

/* Map one option; returns 1 when it is fs-specific data. */
static int
mount_option (struct moat_mount *m, const char *opt, const char *path, struct moat_error *err)
{
  unsigned long prop;
  bool value;
  bool *attr;

  for (size_t i = 0; i < MOAT_ARRAY_SIZE (mount_opts); i++)
    if (strcmp (opt, mount_opts[i].name) == 0)
      {
        unsigned long f = mount_opts[i].flag;

        if (mount_opts[i].clear)
          {
            m->flags &= ~f;
            m->clear_flags |= f;
          }
        else
          {
            m->flags |= f;
            m->clear_flags &= ~f;
          }
        if (f == MS_NOSYMFOLLOW)
          m->nosymfollow = !mount_opts[i].clear;
        return 0;
      }
  if (strcmp (opt, "bind") == 0 || strcmp (opt, "rbind") == 0)
    {
      m->bind = true;
      m->recursive = opt[0] == 'r';
      return 0;
    }
  if (spec_propagation_from_name (opt, &prop) == 0)
    {
      m->propagation = prop;
      return 0;
    }
  if ((attr = recursive_attr (m, opt, &value)) != NULL)
    {
      *attr = value;
      return 0;
    }
  if (strcmp (opt, "tmpcopyup") == 0)
    {
      m->tmpcopyup = true;
      return 0;
    }
  if (strcmp (opt, "defaults") == 0)
    return 0;
  if (strcmp (opt, "idmap") == 0 || strcmp (opt, "ridmap") == 0)
    {
      m->idmap = true;
      m->idmap_recursive = opt[0] == 'r';
      return 0;
    }
  if (unsupported_recursive (opt))
    return spec_err (err, ENOTSUP, "%s: recursive option `%s` is not supported", path, opt);
  return 1;
}

static bool
is_under (const char *path, const char *dir)
{
  size_t n = strlen (dir);

  return strncmp (path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

static int
parse_mount_options (json_t *obj, const char *path, struct moat_mount *m, struct moat_error *err)
{
  char p[SPEC_PATH_MAX];
  json_t *opts, *v;
  size_t i;

  if (spec_get_array (obj, path, "options", false, &opts, err) < 0)
    return -1;
  json_array_foreach (opts, i, v)
    {
      cleanup_free char *opt = NULL;
      int r;

      spec_path_idx (p, sizeof p, path, "options", i);
      if (spec_value_string (v, p, &opt, err) < 0)
        return -1;
      if (opt[0] == '\0')
        continue;
      /* Split lists would bypass the flag mapping ("ro,nosuid" as data). */
      if (strchr (opt, ',') != NULL)
        return spec_err (err, EINVAL, "%s: one option per entry: `%s`", p, opt);
      r = mount_option (m, opt, p, err);
      if (r < 0)
        return -1;
      if (r > 0 && append_data (&m->data, opt, p, err) < 0)
        return -1;
    }
  return 0;
}

static int
parse_mount (json_t *obj, const char *path, struct moat_mount *m, struct moat_error *err)
{
  char p[SPEC_PATH_MAX];
  json_t *dest;

  if (!json_is_object (obj))
    return spec_err (err, EINVAL, "%s: must be an object", path);
  spec_path (p, sizeof p, path, "destination");
  dest = spec_member (obj, "destination");
  if (dest == NULL)
    return spec_err (err, EINVAL, "%s: required", p);
  if (spec_value_abs_path (dest, p, &m->destination, err) < 0)
    return -1;
  if (spec_get_string (obj, path, "type", false, &m->type, err) < 0
      || spec_get_string (obj, path, "source", false, &m->source, err) < 0)
    return -1;
  if (m->type && m->type[0] == '\0')
    {
      free (m->type);
      m->type = NULL;
    }
  if (spec_parse_id_maps (obj, path, "uidMappings", &m->uid_mappings, &m->n_uid_mappings, err) < 0
      || spec_parse_id_maps (obj, path, "gidMappings", &m->gid_mappings, &m->n_gid_mappings, err) < 0)
    return -1;
  if (parse_mount_options (obj, path, m, err) < 0)
    return -1;
  if (m->type && strcmp (m->type, "bind") == 0)
    m->bind = true;
  /* The spec: mappings "MUST be specified along with" each other; they mean
     an idmapped mount even where an older writer left out the option. */
  if ((m->n_uid_mappings == 0) != (m->n_gid_mappings == 0))
    return spec_err (err, EINVAL, "%s: uidMappings and gidMappings go together", path);
  if (m->n_uid_mappings)
    m->idmap = true;
  if (m->idmap && !m->bind)
    return spec_err (err, EINVAL, "%s: an idmapped mount (`idmap`, `ridmap`, uidMappings) must be a bind mount",
                     path);

  /* A volume over /proc hides procfs from the runtime's own writes (LSM
   * labels, sysctls): CVE-2019-16884, CVE-2023-28642.  Only a fresh proc may
   * sit on /proc, and nothing may be mounted inside it. */
  if (strcmp (m->destination, "/proc") == 0)
    {
      if (m->bind || m->type == NULL || strcmp (m->type, "proc") != 0)
        return spec_err (err, EPERM, "%s: only a fresh `proc` mount may be mounted on /proc", p);
    }
  else if (is_under (m->destination, "/proc"))
    return spec_err (err, EPERM, "%s: cannot mount inside /proc: \"%s\"", p, m->destination);
  if (m->tmpcopyup && (m->type == NULL || strcmp (m->type, "tmpfs") != 0))
    return spec_err (err, EINVAL, "%s: `tmpcopyup` needs a tmpfs mount", path);
  if (m->bind && m->source == NULL)
    {
      spec_path (p, sizeof p, path, "source");
      return spec_err (err, EINVAL, "%s: required for a bind mount", p);
    }
  if (m->bind && m->data != NULL)
    return spec_err (err, EINVAL, "%s.options: unknown option for a bind mount: `%s`", path, m->data);
  return 0;
}

static int
parse_mounts (json_t *root, struct moat_spec *spec, struct moat_error *err)
{
  char p[SPEC_PATH_MAX];
  json_t *arr, *v;
  size_t i;

  if (spec_get_array (root, "", "mounts", false, &arr, err) < 0)
    return -1;
  if (arr == NULL || json_array_size (arr) == 0)
    return 0;
  spec->mounts = calloc (json_array_size (arr), sizeof *spec->mounts);
  if (spec->mounts == NULL)
    return moat_err (err, ENOMEM, "mounts");
  json_array_foreach (arr, i, v)
    {
      snprintf (p, sizeof p, "mounts[%zu]", i);
      spec->n_mounts = i + 1;
      if (parse_mount (v, p, &spec->mounts[i], err) < 0)
        return -1;
    }
  return 0;
}

/* ---- hooks ----------------------------------------------------------- */

static const char *const hook_keys[MOAT_HOOK__COUNT] = {
  [MOAT_HOOK_PRESTART] = "prestart",
  [MOAT_HOOK_CREATE_RUNTIME] = "createRuntime",
  [MOAT_HOOK_CREATE_CONTAINER] = "createContainer",
  [MOAT_HOOK_START_CONTAINER] = "startContainer",
  [MOAT_HOOK_POSTSTART] = "poststart",
  [MOAT_HOOK_POSTSTOP] = "poststop",
};

static int
parse_hook (json_t *obj, const char *path, struct moat_hook *h, struct moat_error *err)
{
  char p[SPEC_PATH_MAX];
  json_t *v;
  int64_t timeout;
  bool has_timeout;

  if (!json_is_object (obj))
    return spec_err (err, EINVAL, "%s: must be an object", path);
  spec_path (p, sizeof p, path, "path");
  v = spec_member (obj, "path");
  if (v == NULL)
    return spec_err (err, EINVAL, "%s: required", p);
  if (spec_value_host_path (v, p, &h->path, err) < 0)
    return -1;
  if (spec_get_strv (obj, path, "args", &h->args, err) < 0
      || spec_get_strv (obj, path, "env", &h->env, err) < 0)
    return -1;
  if (spec_get_int64 (obj, path, "timeout", INT32_MIN, INT32_MAX, &timeout, &has_timeout, err) < 0)
    return -1;
  if (has_timeout && timeout <= 0)
    {
      spec_path (p, sizeof p, path, "timeout");
      return spec_err (err, EINVAL, "%s: must be greater than zero: %lld", p, (long long) timeout);
    }
  h->timeout = has_timeout ? (int) timeout : 0;
  return 0;
}

static int
parse_hooks (json_t *root, struct moat_spec *spec, struct moat_error *err)
{
  char p[SPEC_PATH_MAX];
  json_t *hooks, *arr, *v;
  size_t i;

  if (spec_get_object (root, "", "hooks", false, &hooks, err) < 0)
    return -1;
  if (hooks == NULL)
    return 0;
  for (int k = 0; k < MOAT_HOOK__COUNT; k++)
    {
      struct moat_hook_list *l = &spec->hooks[k];

      if (spec_get_array (hooks, "hooks", hook_keys[k], false, &arr, err) < 0)
        return -1;
      if (arr == NULL || json_array_size (arr) == 0)
        continue;
      l->v = calloc (json_array_size (arr), sizeof *l->v);
      if (l->v == NULL)
        return moat_err (err, ENOMEM, "hooks");
      json_array_foreach (arr, i, v)
        {
          spec_path_idx (p, sizeof p, "hooks", hook_keys[k], i);
          l->n = i + 1;
          if (parse_hook (v, p, &l->v[i], err) < 0)
            return -1;
        }
    }
  return 0;
}

/* ---- the whole config ------------------------------------------------ */

static int
parse_root (json_t *root, struct moat_spec *spec, struct moat_error *err)
{
  json_t *r;

  if (spec_get_object (root, "", "root", true, &r, err) < 0
      || spec_get_string (r, "root", "path", true, &spec->root_path, err) < 0
      || spec_get_bool (r, "root", "readonly", &spec->root_readonly, NULL, err) < 0)
    return -1;
  if (spec->root_path[0] == '\0')
    return spec_err (err, EINVAL, "root.path: must not be empty");
  return 0;
}

/* Empty strings mean "not set" for these, as in runc. */
static void
empty_to_null (char **s)
{
  if (*s && (*s)[0] == '\0')
    {
      free (*s);
      *s = NULL;
    }
}

static int
validate_uts (const struct moat_spec *spec, struct moat_error *err)
{
  /* sethostname(2) in the host's UTS namespace would rename the host. */
  if (moat_spec_namespace (spec, CLONE_NEWUTS) != NULL)
    return 0;
  if (spec->hostname)
    return spec_err (err, EINVAL, "hostname: cannot set a hostname without a private uts namespace");
  if (spec->domainname)
    return spec_err (err, EINVAL,
                     "domainname: cannot set a domainname without a private uts namespace");
  return 0;
}

static int
parse_all (json_t *root, struct moat_spec *spec, struct moat_error *err)
{
  json_t *obj;

  if (spec_get_string (root, "", "ociVersion", true, &spec->oci_version, err) < 0
      || check_version (spec->oci_version, err) < 0)
    return -1;
  if (parse_root (root, spec, err) < 0 || parse_mounts (root, spec, err) < 0)
    return -1;
  if (spec_get_object (root, "", "process", false, &obj, err) < 0)
    return -1;
  if (obj != NULL)
    {
      spec->has_process = true;
      if (spec_parse_process (obj, "process", &spec->process, err) < 0)
        return -1;
    }
  if (spec_get_string (root, "", "hostname", false, &spec->hostname, err) < 0
      || spec_get_string (root, "", "domainname", false, &spec->domainname, err) < 0)
    return -1;
  empty_to_null (&spec->hostname);
  empty_to_null (&spec->domainname);
  if (parse_hooks (root, spec, err) < 0
      || spec_get_kvv (root, "", "annotations", &spec->annotations, err) < 0)
    return -1;
  if (spec_get_object (root, "", "linux", false, &obj, err) < 0)
    return -1;
  if (obj != NULL)
    {
      spec->has_linux = true;
      if (spec_parse_linux (obj, &spec->linux, err) < 0)
        return -1;
    }
  if (validate_uts (spec, err) < 0 || spec_validate_linux (spec, err) < 0)
    return -1;
  return 0;
}

int
moat_spec_json_load (const char *json, size_t len, void **root, struct moat_error *err)
{
  json_t *j;

  if (spec_json_load (json, len, &j, err) < 0)
    return -1;
  *root = j;
  return 0;
}

int
moat_spec_from_json (const void *root, struct moat_spec *out, struct moat_error *err)
{
  memset (out, 0, sizeof *out);
  if (parse_all ((json_t *) root, out, err) < 0)
    {
      moat_spec_free (out);
      return -1;
    }
  return 0;
}

int
moat_spec_parse (const char *json, size_t len, struct moat_spec *out, struct moat_error *err)
{
  json_t *root;
  int r;

  memset (out, 0, sizeof *out);
  if (spec_json_load (json, len, &root, err) < 0)
    return -1;
  r = moat_spec_from_json (root, out, err);
  json_decref (root);
  return r;
}

int
moat_spec_load (int dirfd, const char *name, struct moat_spec *out, struct moat_error *err)
{
  cleanup_free char *buf = NULL;
  size_t len;

  memset (out, 0, sizeof *out);
  if (moat_read_file_at (dirfd, name, SPEC_MAX_SIZE, &buf, &len, err) < 0)
    return -1;
  return moat_spec_parse (buf, len, out, err);
}

static void
mount_free (struct moat_mount *m)
{
  free (m->destination);
  free (m->type);
  free (m->source);
  free (m->data);
  free (m->uid_mappings);
  free (m->gid_mappings);
}

static void
hook_free (struct moat_hook *h)
{
  free (h->path);
  spec_strv_free (&h->args);
  spec_strv_free (&h->env);
}

void
moat_spec_free (struct moat_spec *spec)
{
  if (spec == NULL)
    return;
  free (spec->oci_version);
  free (spec->root_path);
  for (size_t i = 0; i < spec->n_mounts; i++)
    mount_free (&spec->mounts[i]);
  free (spec->mounts);
  moat_process_free (&spec->process);
  free (spec->hostname);
  free (spec->domainname);
  for (int k = 0; k < MOAT_HOOK__COUNT; k++)
    {
      for (size_t i = 0; i < spec->hooks[k].n; i++)
        hook_free (&spec->hooks[k].v[i]);
      free (spec->hooks[k].v);
    }
  spec_kvv_free (&spec->annotations);
  spec_linux_free (&spec->linux);
  memset (spec, 0, sizeof *spec);
}
