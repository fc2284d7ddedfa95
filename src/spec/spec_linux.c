/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "spec/spec.h"
#include "spec/spec_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/personality.h>

#include "util/cleanup.h"
#include "util/fs.h"

/* ---- namespaces ------------------------------------------------------ */

static int
parse_namespaces (json_t *lx, struct moat_linux *out, struct moat_error *err)
{
  char p[SPEC_PATH_MAX], tp[SPEC_PATH_MAX];
  json_t *arr, *v;
  size_t i;

  if (spec_get_array (lx, "linux", "namespaces", false, &arr, err) < 0)
    return -1;
  if (arr == NULL || json_array_size (arr) == 0)
    return 0;
  out->namespaces = calloc (json_array_size (arr), sizeof *out->namespaces);
  if (out->namespaces == NULL)
    return moat_err (err, ENOMEM, "linux.namespaces");
  json_array_foreach (arr, i, v)
    {
      struct moat_namespace *ns = &out->namespaces[i];
      cleanup_free char *type = NULL;
      json_t *path;

      snprintf (p, sizeof p, "linux.namespaces[%zu]", i);
      spec_path (tp, sizeof tp, p, "type");
      if (!json_is_object (v))
        return spec_err (err, EINVAL, "%s: must be an object", p);
      if (spec_get_string (v, p, "type", true, &type, err) < 0)
        return -1;
      ns->type = moat_namespace_from_name (type);
      if (ns->type < 0)
        return spec_err (err, EINVAL, "%s: unknown namespace type `%s`", tp, type);
      for (size_t j = 0; j < i; j++)
        if (out->namespaces[j].type == ns->type)
          return spec_err (err, EINVAL, "%s: duplicate namespace type `%s`", tp, type);
      out->n_namespaces = i + 1;
      path = spec_member (v, "path");
      /* "" is how Go writers say "no path": create a new namespace. */
      if (path && json_is_string (path) && json_string_length (path) == 0)
        path = NULL;
      if (path)
        {
          spec_path (tp, sizeof tp, p, "path");
          if (spec_value_host_path (path, tp, &ns->path, err) < 0)
            return -1;
        }
    }
  return 0;
}

/* ---- id mappings ----------------------------------------------------- */

/* The kernel takes at most 340 lines in uid_map/gid_map (since 4.15), written
   at once in less than a page (map_write: count >= PAGE_SIZE is EINVAL);
   sandbox/ns.c formats them into a 4096-byte buffer. */
#define MAX_ID_MAPS 340
#define MAX_ID_MAP_TEXT 4095

static bool
ranges_overlap (uint32_t a, uint32_t b, uint32_t size_a, uint32_t size_b)
{
  return (uint64_t) a < (uint64_t) b + size_b && (uint64_t) b < (uint64_t) a + size_a;
}

int
spec_parse_id_maps (json_t *lx, const char *parent, const char *key, struct moat_id_map **out, size_t *n,
                    struct moat_error *err)
{
  char p[SPEC_PATH_MAX];
  json_t *arr, *v;
  size_t i, text = 0;

  if (spec_get_array (lx, parent, key, false, &arr, err) < 0)
    return -1;
  if (arr == NULL || json_array_size (arr) == 0)
    return 0;
  if (json_array_size (arr) > MAX_ID_MAPS)
    return spec_err (err, EINVAL, "%s.%s: more than %d entries", parent, key, MAX_ID_MAPS);
  *out = calloc (json_array_size (arr), sizeof **out);
  if (*out == NULL)
    return moat_err (err, ENOMEM, "%s.%s", parent, key);
  json_array_foreach (arr, i, v)
    {
      struct moat_id_map *m = &(*out)[i];
      char line[48];

      spec_path_idx (p, sizeof p, parent, key, i);
      if (!json_is_object (v))
        return spec_err (err, EINVAL, "%s: must be an object", p);
      if (spec_get_uint32 (v, p, "containerID", &m->container_id, NULL, err) < 0
          || spec_get_uint32 (v, p, "hostID", &m->host_id, NULL, err) < 0
          || spec_get_uint32 (v, p, "size", &m->size, NULL, err) < 0)
        return -1;
      if (m->size == 0)
        return spec_err (err, EINVAL, "%s.size: must be greater than zero", p);
      /* The kernel refuses a range whose end wraps around 2^32 (and id -1 is
       * never mappable). */
      if ((uint64_t) m->container_id + m->size > UINT32_MAX
          || (uint64_t) m->host_id + m->size > UINT32_MAX)
        return spec_err (err, EINVAL, "%s: id range overflows (id + size > 4294967295)", p);
      for (size_t j = 0; j < i; j++)
        {
          struct moat_id_map *o = &(*out)[j];

          if (ranges_overlap (m->container_id, o->container_id, m->size, o->size)
              || ranges_overlap (m->host_id, o->host_id, m->size, o->size))
            return spec_err (err, EINVAL, "%s: overlaps %s.%s[%zu]", p, parent, key, j);
        }
      /* Refused here, by its field, rather than by the write of the map
         after the init exists. */
      text += (size_t) snprintf (line, sizeof line, "%u %u %u\n", m->container_id, m->host_id, m->size);
      if (text > MAX_ID_MAP_TEXT)
        return spec_err (err, EINVAL, "%s.%s: the map is more than %d bytes as text (the kernel's limit)",
                         parent, key, MAX_ID_MAP_TEXT);
      *n = i + 1;
    }
  return 0;
}

/* ---- sysctl (CVE-2022-0811) ------------------------------------------ */

static bool
sysctl_key_chars_ok (const char *k)
{
  if (k[0] == '\0' || k[0] == '.' || k[strlen (k) - 1] == '.' || strstr (k, "..") != NULL)
    return false;
  for (; *k; k++)
    {
      char c = *k;

      if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'
            || c == '.' || c == '-'))
        return false;
    }
  return true;
}

/* cri-o wrote "key=value" pairs joined with '+' to its helper, so a value of
 * "1+kernel.core_pattern=|/x" set a second, host-global key.  We write each
 * key through its own fd, but still refuse such values: they have no
 * legitimate use and a newline makes some procfs handlers parse twice. */
static int
check_sysctl_value (const char *path, const char *v, struct moat_error *err)
{
  for (const char *c = v; *c; c++)
    {
      unsigned char u = (unsigned char) *c;

      if (u == '+' || u == '=' || u < 0x20 || u == 0x7f)
        return spec_err (err, EINVAL, "%s: value contains a forbidden character (0x%02x): \"%s\"",
                         path, u, v);
    }
  return 0;
}

static bool
has_ns (const struct moat_spec *spec, int type)
{
  return moat_spec_namespace (spec, type) != NULL;
}

static int
check_sysctl (const struct moat_spec *spec, const struct moat_kv *kv, struct moat_error *err)
{
  char p[SPEC_PATH_MAX];
  const char *k = kv->key;

  snprintf (p, sizeof p, "linux.sysctl.%s", k);
  if (!sysctl_key_chars_ok (k))
    return spec_err (err, EINVAL, "%s: invalid sysctl name `%s`", p, k);
  if (check_sysctl_value (p, kv->value, err) < 0)
    return -1;
  /* Only sysctls the kernel scopes to a namespace the container owns; any
   * other key writes host-global state (kernel.core_pattern ...). */
  if (strncmp (k, "kernel.shm", 10) == 0 || strncmp (k, "kernel.msg", 10) == 0
      || strcmp (k, "kernel.sem") == 0 || strncmp (k, "fs.mqueue.", 10) == 0)
    {
      if (!has_ns (spec, CLONE_NEWIPC))
        return spec_err (err, EPERM, "%s: requires a private ipc namespace", p);
      return 0;
    }
  if (strcmp (k, "kernel.hostname") == 0 || strcmp (k, "kernel.domainname") == 0)
    {
      if (!has_ns (spec, CLONE_NEWUTS))
        return spec_err (err, EPERM, "%s: requires a private uts namespace", p);
      return 0;
    }
  if (strncmp (k, "net.", 4) == 0)
    {
      if (!has_ns (spec, CLONE_NEWNET))
        return spec_err (err, EPERM, "%s: not allowed in the host network namespace", p);
      return 0;
    }
  return spec_err (err, EPERM, "%s: `%s` is not namespaced; refusing to change the host", p, k);
}

/* ---- devices --------------------------------------------------------- */

static int
parse_device (json_t *v, const char *p, struct moat_device *d, struct moat_error *err)
{
  char fp[SPEC_PATH_MAX];
  cleanup_free char *type = NULL;
  json_t *path;
  uint64_t mode;
  bool has_major, has_minor;

  if (!json_is_object (v))
    return spec_err (err, EINVAL, "%s: must be an object", p);
  spec_path (fp, sizeof fp, p, "path");
  path = spec_member (v, "path");
  if (path == NULL)
    return spec_err (err, EINVAL, "%s: required", fp);
  if (spec_value_abs_path (path, fp, &d->path, err) < 0)
    return -1;
  if (strncmp (d->path, "/dev/", 5) != 0)
    return spec_err (err, EINVAL, "%s: must be under /dev: \"%s\"", fp, d->path);
  if (spec_get_string (v, p, "type", true, &type, err) < 0)
    return -1;
  if (strlen (type) != 1 || strchr ("cbup", type[0]) == NULL)
    return spec_err (err, EINVAL, "%s.type: unknown device type `%s`", p, type);
  d->type = type[0];
  if (spec_get_int64 (v, p, "major", 0, UINT32_MAX, &d->major, &has_major, err) < 0
      || spec_get_int64 (v, p, "minor", 0, UINT32_MAX, &d->minor, &has_minor, err) < 0)
    return -1;
  if (d->type != 'p' && (!has_major || !has_minor))
    return spec_err (err, EINVAL, "%s: major and minor are required for type `%c`", p, d->type);
  /* podman (and runc's own specconv) put the whole st_mode here, file type
     bits included (e.g. 020666 for a char device); keep the permission bits,
     refuse a type that contradicts `type`. */
  if (spec_get_uint64 (v, p, "fileMode", 0177777, &mode, &d->has_file_mode, err) < 0
      || spec_get_uint32 (v, p, "uid", &d->uid, &d->has_uid, err) < 0
      || spec_get_uint32 (v, p, "gid", &d->gid, &d->has_gid, err) < 0)
    return -1;
  if (d->has_file_mode)
    {
      mode_t fmt = (mode_t) mode & S_IFMT;
      mode_t want = d->type == 'b' ? S_IFBLK : d->type == 'p' ? S_IFIFO : S_IFCHR;
      if (fmt != 0 && fmt != want)
        return spec_err (err, EINVAL, "%s.fileMode: file type bits %#o contradict type `%c`", p,
                         (unsigned) fmt, d->type);
      d->file_mode = (mode_t) mode & 07777;
    }
  return 0;
}

static int
parse_devices (json_t *lx, struct moat_linux *out, struct moat_error *err)
{
  char p[SPEC_PATH_MAX];
  json_t *arr, *v;
  size_t i;

  if (spec_get_array (lx, "linux", "devices", false, &arr, err) < 0)
    return -1;
  if (arr == NULL || json_array_size (arr) == 0)
    return 0;
  out->devices = calloc (json_array_size (arr), sizeof *out->devices);
  if (out->devices == NULL)
    return moat_err (err, ENOMEM, "linux.devices");
  json_array_foreach (arr, i, v)
    {
      snprintf (p, sizeof p, "linux.devices[%zu]", i);
      out->n_devices = i + 1;
      if (parse_device (v, p, &out->devices[i], err) < 0)
        return -1;
    }
  return 0;
}

/* ---- smaller members ------------------------------------------------- */

static int
parse_abs_paths (json_t *lx, const char *key, struct moat_strv *out, struct moat_error *err)
{
  char p[SPEC_PATH_MAX];

  if (spec_get_strv (lx, "linux", key, out, err) < 0)
    return -1;
  for (size_t i = 0; i < out->n; i++)
    {
      char *clean;

      spec_path_idx (p, sizeof p, "linux", key, i);
      if (out->v[i][0] != '/')
        return spec_err (err, EINVAL, "%s: must be an absolute path: \"%s\"", p, out->v[i]);
      clean = moat_path_clean (out->v[i]);
      if (clean == NULL)
        return moat_err (err, ENOMEM, "%s", p);
      free (out->v[i]);
      out->v[i] = clean;
    }
  return 0;
}

static int
parse_personality (json_t *lx, struct moat_linux *out, struct moat_error *err)
{
  cleanup_free char *domain = NULL;
  json_t *obj;

  if (spec_get_object (lx, "linux", "personality", false, &obj, err) < 0)
    return -1;
  if (obj == NULL)
    return 0;
  if (spec_get_string (obj, "linux.personality", "domain", true, &domain, err) < 0)
    return -1;
  if (strcmp (domain, "LINUX") == 0)
    out->personality = PER_LINUX;
  else if (strcmp (domain, "LINUX32") == 0)
    out->personality = PER_LINUX32;
  else
    return spec_err (err, EINVAL, "linux.personality.domain: unknown domain `%s`", domain);
  if (spec_refuse (obj, "linux.personality", "flags", "personality flags are not supported",
                   err) < 0)
    return -1;
  out->has_personality = true;
  return 0;
}

static int
parse_time_offsets (json_t *lx, struct moat_linux *out, struct moat_error *err)
{
  char p[SPEC_PATH_MAX];
  const char *clock;
  json_t *obj, *v;

  if (spec_get_object (lx, "linux", "timeOffsets", false, &obj, err) < 0)
    return -1;
  json_object_foreach (obj, clock, v)
    {
      struct moat_time_offset *t;
      uint32_t ns = 0;

      snprintf (p, sizeof p, "linux.timeOffsets.%s", clock);
      if (strcmp (clock, "monotonic") == 0)
        t = &out->time_monotonic;
      else if (strcmp (clock, "boottime") == 0)
        t = &out->time_boottime;
      else
        return spec_err (err, EINVAL, "%s: unknown clock (monotonic or boottime)", p);
      if (!json_is_object (v))
        return spec_err (err, EINVAL, "%s: must be an object", p);
      if (spec_get_int64 (v, p, "secs", INT64_MIN, INT64_MAX, &t->secs, NULL, err) < 0
          || spec_get_uint32 (v, p, "nanosecs", &ns, NULL, err) < 0)
        return -1;
      if (ns >= 1000000000u)
        return spec_err (err, EINVAL, "%s.nanosecs: must be below 1000000000", p);
      t->nanosecs = ns;
      t->set = true;
    }
  return 0;
}

static int
parse_rootfs_propagation (json_t *lx, struct moat_linux *out, struct moat_error *err)
{
  cleanup_free char *s = NULL;

  if (spec_get_string (lx, "linux", "rootfsPropagation", false, &s, err) < 0)
    return -1;
  if (s == NULL || s[0] == '\0')
    return 0;
  if (spec_propagation_from_name (s, &out->rootfs_propagation) < 0)
    return spec_err (err, EINVAL, "linux.rootfsPropagation: unknown propagation `%s`", s);
  return 0;
}

static int
parse_cgroups_path (json_t *lx, struct moat_linux *out, struct moat_error *err)
{
  const char *s, *c;

  if (spec_get_string (lx, "linux", "cgroupsPath", false, &out->cgroups_path, err) < 0)
    return -1;
  if (out->cgroups_path == NULL)
    return 0;
  if (out->cgroups_path[0] == '\0')
    {
      free (out->cgroups_path);
      out->cgroups_path = NULL;
      return 0;
    }
  /* A ".." component would climb out of the cgroup hierarchy's parent the
   * engine chose (runc cleans it lexically; we refuse). */
  s = out->cgroups_path;
  for (c = s; (c = strstr (c, "..")) != NULL; c += 2)
    if ((c == s || c[-1] == '/' || c[-1] == ':') && (c[2] == '\0' || c[2] == '/' || c[2] == ':'))
      return spec_err (err, EINVAL, "linux.cgroupsPath: must not contain `..`: \"%s\"", s);
  return 0;
}

int
spec_parse_linux (json_t *lx, struct moat_linux *out, struct moat_error *err)
{
  json_t *obj;

  if (parse_namespaces (lx, out, err) < 0
      || spec_parse_id_maps (lx, "linux", "uidMappings", &out->uid_mappings, &out->n_uid_mappings, err) < 0
      || spec_parse_id_maps (lx, "linux", "gidMappings", &out->gid_mappings, &out->n_gid_mappings, err) < 0
      || spec_get_kvv (lx, "linux", "sysctl", &out->sysctl, err) < 0)
    return -1;
  if (spec_get_object (lx, "linux", "resources", false, &obj, err) < 0)
    return -1;
  if (obj != NULL)
    {
      out->has_resources = true;
      if (spec_parse_resources (obj, "linux.resources", &out->resources, err) < 0)
        return -1;
    }
  if (parse_cgroups_path (lx, out, err) < 0)
    return -1;
  if (spec_get_object (lx, "linux", "seccomp", false, &obj, err) < 0)
    return -1;
  if (obj != NULL && spec_parse_seccomp (obj, "linux.seccomp", &out->seccomp, err) < 0)
    return -1;
  if (parse_rootfs_propagation (lx, out, err) < 0
      || parse_abs_paths (lx, "maskedPaths", &out->masked_paths, err) < 0
      || parse_abs_paths (lx, "readonlyPaths", &out->readonly_paths, err) < 0
      || parse_devices (lx, out, err) < 0
      || spec_get_string (lx, "linux", "mountLabel", false, &out->mount_label, err) < 0
      || parse_personality (lx, out, err) < 0 || parse_time_offsets (lx, out, err) < 0)
    return -1;
  if (out->mount_label && out->mount_label[0] == '\0')
    {
      free (out->mount_label);
      out->mount_label = NULL;
    }
  /* Present in the spec, absent from this runtime: refuse, never ignore. */
  if (json_object_get (lx, "intelRdt") != NULL && !json_is_null (json_object_get (lx, "intelRdt")))
    return spec_err (err, ENOTSUP, "linux.intelRdt: not supported on this runtime");
  if (spec_refuse (lx, "linux", "netDevices", "not supported", err) < 0
      || spec_refuse (lx, "linux", "memoryPolicy", "not supported", err) < 0)
    return -1;
  return 0;
}

/* Checks that need the whole config (namespaces decide what else is legal). */
int
spec_validate_linux (const struct moat_spec *spec, struct moat_error *err)
{
  const struct moat_linux *l = &spec->linux;
  const struct moat_namespace *userns = moat_spec_namespace (spec, CLONE_NEWUSER);
  const struct moat_namespace *timens = moat_spec_namespace (spec, CLONE_NEWTIME);

  if (!spec->has_linux)
    return 0;
  if (userns == NULL && (l->n_uid_mappings || l->n_gid_mappings))
    return spec_err (err, EINVAL, "linux.%s: id mappings need a user namespace",
                     l->n_uid_mappings ? "uidMappings" : "gidMappings");
  /* A new user namespace without maps leaves every id unmapped (overflow
   * uid 65534); the container could not even exec as root. */
  if (userns != NULL && userns->path == NULL)
    {
      if (l->n_uid_mappings == 0)
        return spec_err (err, EINVAL, "linux.uidMappings: required with a new user namespace");
      if (l->n_gid_mappings == 0)
        return spec_err (err, EINVAL, "linux.gidMappings: required with a new user namespace");
    }
  /* Offsets can only be written before the first process enters the time
   * namespace, i.e. into one we create. */
  if ((l->time_monotonic.set || l->time_boottime.set) && (timens == NULL || timens->path != NULL))
    return spec_err (err, EINVAL, "linux.timeOffsets: requires a new time namespace");
  for (size_t i = 0; i < l->sysctl.n; i++)
    if (check_sysctl (spec, &l->sysctl.v[i], err) < 0)
      return -1;
  return 0;
}

void
spec_linux_free (struct moat_linux *l)
{
  for (size_t i = 0; i < l->n_namespaces; i++)
    free (l->namespaces[i].path);
  free (l->namespaces);
  free (l->uid_mappings);
  free (l->gid_mappings);
  spec_kvv_free (&l->sysctl);
  moat_resources_free (&l->resources);
  free (l->cgroups_path);
  spec_seccomp_free (l->seccomp);
  spec_strv_free (&l->masked_paths);
  spec_strv_free (&l->readonly_paths);
  for (size_t i = 0; i < l->n_devices; i++)
    free (l->devices[i].path);
  free (l->devices);
  free (l->mount_label);
  memset (l, 0, sizeof *l);
}
