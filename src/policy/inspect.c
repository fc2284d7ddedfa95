/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Inputs of audit: an OCI config.json goes through the spec parser; a
 * `docker inspect` or `podman inspect` document (one object, or the array
 * the CLIs print) is converted field by field into the same struct
 * moat_spec, plus the engine-level facts in struct moat_side_info, so every
 * rule runs unchanged on all three.  Engine defaults the document leaves
 * implicit (Docker's 14 capabilities, its seccomp profile and masked paths)
 * are filled in as the engine applies them. */
#include "policy/policy.h"

#include <errno.h>
#include <jansson.h>
#include <linux/capability.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>

#include "util/cleanup.h"
#include "util/json.h"

#define INSPECT_MAX_CONTAINERS 100000

static const int docker_caps[] = { CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FSETID, CAP_FOWNER, CAP_MKNOD,
                                   CAP_NET_RAW, CAP_SETGID, CAP_SETUID, CAP_SETFCAP, CAP_SETPCAP,
                                   CAP_NET_BIND_SERVICE, CAP_SYS_CHROOT, CAP_KILL, CAP_AUDIT_WRITE };

static const char *
jstr (json_t *o, const char *key)
{
  json_t *v = json_object_get (o, key);
  return json_is_string (v) ? json_string_value (v) : NULL;
}

static long long
jint (json_t *o, const char *key)
{
  json_t *v = json_object_get (o, key);
  return json_is_integer (v) ? json_integer_value (v) : 0;
}

static bool
is_mode (json_t *hc, const char *key, const char *want)
{
  const char *v = jstr (hc, key);
  return v && strcmp (v, want) == 0;
}

static int
xstrdup (const char *s, char **out, struct moat_error *err)
{
  *out = s ? strdup (s) : NULL;
  if (s && *out == NULL)
    return moat_err (err, ENOMEM, "inspect");
  return 0;
}

static uint64_t
caps_list (json_t *arr, bool *all)
{
  uint64_t m = 0;
  size_t i;
  json_t *v;

  *all = false;
  json_array_foreach (arr, i, v)
    {
      const char *s = json_string_value (v);
      int c;
      if (s == NULL)
        continue;
      if (strcasecmp (s, "ALL") == 0 || strcasecmp (s, "CAP_ALL") == 0)
        *all = true;
      else if ((c = moat_cap_from_name (s)) >= 0 && c < 64)
        m |= 1ULL << c;
    }
  return m;
}

static void
convert_caps (json_t *o, json_t *hc, enum moat_input_kind kind, bool privileged, struct moat_caps *caps)
{
  uint64_t full = (1ULL << (CAP_LAST_CAP + 1)) - 1, m = 0, add, drop;
  bool all_add, all_drop;
  json_t *bounding = json_object_get (o, "BoundingCaps"), *eff = json_object_get (o, "EffectiveCaps");
  size_t i;

  if (privileged)
    m = full;
  else if (kind == MOAT_INPUT_PODMAN && json_is_array (bounding))
    {
      /* podman reports the sets it computed; trust them over CapAdd/CapDrop,
         which it writes as differences from Docker's defaults. */
      caps->bounding = caps_list (bounding, &all_add);
      caps->effective = caps->permitted = json_is_array (eff) ? caps_list (eff, &all_add) : caps->bounding;
      return;
    }
  else
    {
      for (i = 0; i < MOAT_ARRAY_SIZE (docker_caps); i++)
        m |= 1ULL << docker_caps[i];
      drop = caps_list (json_object_get (hc, "CapDrop"), &all_drop);
      add = caps_list (json_object_get (hc, "CapAdd"), &all_add);
      m = all_drop ? 0 : m & ~drop;
      m = all_add ? full : m | add;
    }
  caps->bounding = caps->effective = caps->permitted = m;
}

/* SecurityOpt entries: "seccomp=unconfined" (Docker also accepts ':'),
   "no-new-privileges[:true]", "apparmor=P", "label=...". */
static bool
secopt (json_t *hc, const char *key, const char **value)
{
  json_t *arr = json_object_get (hc, "SecurityOpt"), *v;
  size_t i, l = strlen (key);

  json_array_foreach (arr, i, v)
    {
      const char *s = json_string_value (v);
      if (s == NULL || strncmp (s, key, l) != 0)
        continue;
      if (s[l] == '\0' || s[l] == '=' || s[l] == ':')
        {
          *value = s[l] ? s + l + 1 : "";
          return true;
        }
    }
  return false;
}

static int
convert_security (json_t *o, json_t *hc, bool privileged, struct moat_spec *s, struct moat_error *err)
{
  const char *v;
  json_t *masked = json_object_get (hc, "MaskedPaths"), *e;
  size_t i;

  if (secopt (hc, "no-new-privileges", &v))
    s->process.no_new_privileges = *v == '\0' || strcmp (v, "true") == 0;
  if (!privileged && !(secopt (hc, "seccomp", &v) && strcmp (v, "unconfined") == 0))
    {
      /* The engine's default profile (or a custom one): refusing by default. */
      s->linux.seccomp = calloc (1, sizeof *s->linux.seccomp);
      if (s->linux.seccomp == NULL)
        return moat_err (err, ENOMEM, "inspect");
      s->linux.seccomp->default_action = MOAT_SCMP_ERRNO;
    }
  if (secopt (hc, "apparmor", &v) && *v)
    {
      if (xstrdup (v, &s->process.apparmor_profile, err) < 0)
        return -1;
    }
  else if ((v = jstr (o, "AppArmorProfile")) && *v && xstrdup (v, &s->process.apparmor_profile, err) < 0)
    return -1;
  if (secopt (hc, "label", &v) && *v && strcmp (v, "disable") != 0)
    {
      if (xstrdup (v, &s->process.selinux_label, err) < 0)
        return -1;
    }
  else if (!secopt (hc, "label", &v) && (v = jstr (o, "ProcessLabel")) && *v
           && xstrdup (v, &s->process.selinux_label, err) < 0)
    return -1;
  if (privileged)
    return 0;
  /* Docker writes its masked paths into HostConfig; podman does not but
     applies its own defaults (containers/common) unless privileged. */
  s->linux.masked_paths.v = calloc ((json_is_array (masked) ? json_array_size (masked) : 1) + 1, sizeof (char *));
  if (s->linux.masked_paths.v == NULL)
    return moat_err (err, ENOMEM, "inspect");
  if (!json_is_array (masked))
    return xstrdup ("/proc/kcore", &s->linux.masked_paths.v[s->linux.masked_paths.n++], err);
  json_array_foreach (masked, i, e)
    if (json_is_string (e) && xstrdup (json_string_value (e), &s->linux.masked_paths.v[s->linux.masked_paths.n++], err) < 0)
      return -1;
  return 0;
}

static int
convert_namespaces (json_t *hc, struct moat_spec *s, struct moat_error *err)
{
  static const struct
  {
    const char *key;
    int type;
  } ns[] = { { "PidMode", CLONE_NEWPID }, { "IpcMode", CLONE_NEWIPC }, { "UTSMode", CLONE_NEWUTS },
             { "NetworkMode", CLONE_NEWNET }, { "UsernsMode", CLONE_NEWUSER } };
  size_t i;

  s->linux.namespaces = calloc (MOAT_ARRAY_SIZE (ns) + 1, sizeof *s->linux.namespaces);
  if (s->linux.namespaces == NULL)
    return moat_err (err, ENOMEM, "inspect");
  s->linux.namespaces[s->linux.n_namespaces++].type = CLONE_NEWNS;
  for (i = 0; i < MOAT_ARRAY_SIZE (ns); i++)
    {
      const char *mode = jstr (hc, ns[i].key);
      if (is_mode (hc, ns[i].key, "host"))
        continue;
      /* Docker's empty UsernsMode means the daemon default, which without
         userns-remap is the host's user namespace. */
      if (ns[i].type == CLONE_NEWUSER && (mode == NULL || *mode == '\0'))
        continue;
      s->linux.namespaces[s->linux.n_namespaces].type = ns[i].type;
      if (mode && strncmp (mode, "container:", 10) == 0
          && xstrdup (mode, &s->linux.namespaces[s->linux.n_namespaces].path, err) < 0)
        return -1;
      s->linux.n_namespaces++;
    }
  return 0;
}

static int
convert_mounts (json_t *o, struct moat_spec *s, struct moat_error *err)
{
  json_t *arr = json_object_get (o, "Mounts"), *m;
  size_t i;

  if (!json_is_array (arr) || json_array_size (arr) == 0)
    return 0;
  s->mounts = calloc (json_array_size (arr), sizeof *s->mounts);
  if (s->mounts == NULL)
    return moat_err (err, ENOMEM, "inspect");
  json_array_foreach (arr, i, m)
    {
      struct moat_mount *mm = &s->mounts[s->n_mounts];
      const char *type = jstr (m, "Type"), *prop = jstr (m, "Propagation"), *dst = jstr (m, "Destination");
      json_t *rw = json_object_get (m, "RW");
      if (dst == NULL)
        continue;
      s->n_mounts++;
      if (xstrdup (dst, &mm->destination, err) < 0 || xstrdup (jstr (m, "Source"), &mm->source, err) < 0
          || xstrdup (type, &mm->type, err) < 0)
        return -1;
      mm->bind = type && strcmp (type, "bind") == 0;
      if (!json_is_true (rw))
        mm->flags |= MS_RDONLY;
      if (prop && (strcmp (prop, "shared") == 0 || strcmp (prop, "rshared") == 0))
        mm->propagation = MS_SHARED | (prop[0] == 'r' ? MS_REC : 0);
    }
  return 0;
}

static bool
disk_path (const char *p)
{
  return strncmp (p, "/dev/sd", 7) == 0 || strncmp (p, "/dev/nvme", 9) == 0 || strncmp (p, "/dev/vd", 7) == 0
         || strncmp (p, "/dev/xvd", 8) == 0 || strncmp (p, "/dev/dm-", 8) == 0 || strncmp (p, "/dev/loop", 9) == 0
         || strncmp (p, "/dev/mmcblk", 11) == 0 || strncmp (p, "/dev/mapper/", 12) == 0;
}

static int
convert_resources (json_t *hc, bool privileged, struct moat_spec *s, struct moat_error *err)
{
  struct moat_resources *r = &s->linux.resources;
  json_t *devs = json_object_get (hc, "Devices"), *d;
  long long nano = jint (hc, "NanoCpus");
  size_t i;

  s->linux.has_resources = true;
  if ((r->memory.limit = jint (hc, "Memory")) > 0)
    r->memory.has_limit = true;
  if ((r->pids.limit = jint (hc, "PidsLimit")) > 0)
    r->pids.has_limit = true;
  if (jint (hc, "CpuShares") > 0)
    {
      r->cpu.has_shares = true;
      r->cpu.shares = (uint64_t) jint (hc, "CpuShares");
    }
  if (nano > 0 || jint (hc, "CpuQuota") > 0)
    {
      r->cpu.has_quota = r->cpu.has_period = true;
      r->cpu.period = 100000;
      r->cpu.quota = nano > 0 ? nano / 10000 : jint (hc, "CpuQuota");
    }
  if (privileged)
    {
      r->devices = calloc (1, sizeof *r->devices);
      if (r->devices == NULL)
        return moat_err (err, ENOMEM, "inspect");
      r->devices[0] = (struct moat_device_rule) { true, 'a', -1, -1, "rwm" };
      r->n_devices = 1;
    }
  if (!json_is_array (devs) || json_array_size (devs) == 0)
    return 0;
  s->linux.devices = calloc (json_array_size (devs), sizeof *s->linux.devices);
  if (s->linux.devices == NULL)
    return moat_err (err, ENOMEM, "inspect");
  json_array_foreach (devs, i, d)
    {
      const char *host = jstr (d, "PathOnHost");
      struct moat_device *dv = &s->linux.devices[s->linux.n_devices];
      if (host == NULL)
        continue;
      s->linux.n_devices++;
      dv->type = disk_path (host) ? 'b' : 'c';
      dv->major = dv->minor = -1;
      if (xstrdup (host, &dv->path, err) < 0)
        return -1;
    }
  return 0;
}

static int
kvv_from_object (json_t *obj, struct moat_kvv *out, struct moat_error *err)
{
  const char *k;
  json_t *v;
  size_t n = json_is_object (obj) ? json_object_size (obj) : 0;
  struct moat_kv *nv;

  if (n == 0)
    return 0;
  nv = realloc (out->v, (out->n + n) * sizeof *out->v);
  if (nv == NULL)
    return moat_err (err, ENOMEM, "inspect");
  out->v = nv;
  json_object_foreach (obj, k, v)
    {
      if (!json_is_string (v))
        continue;
      out->v[out->n].key = strdup (k);
      out->v[out->n].value = strdup (json_string_value (v));
      if (out->v[out->n++].key == NULL || out->v[out->n - 1].value == NULL)
        return moat_err (err, ENOMEM, "inspect");
    }
  return 0;
}

static int
convert_ports (json_t *o, json_t *hc, struct moat_side_info *side, struct moat_error *err)
{
  json_t *ns = json_object_get (o, "NetworkSettings"), *ports = json_object_get (ns, "Ports"), *binds;
  const char *key;
  size_t n = 0, i;
  json_t *b;

  if (!json_is_object (ports) || json_object_size (ports) == 0)
    ports = json_object_get (hc, "PortBindings");
  if (!json_is_object (ports))
    return 0;
  side->has_ports = true;
  json_object_foreach (ports, key, binds)
    n += json_is_array (binds) ? json_array_size (binds) : 0;
  if (n == 0)
    return 0;
  side->ports = calloc (n, sizeof *side->ports);
  if (side->ports == NULL)
    return moat_err (err, ENOMEM, "inspect");
  json_object_foreach (ports, key, binds)
    json_array_foreach (binds, i, b)
      {
        struct moat_port *p = &side->ports[side->n_ports++];
        const char *hp = jstr (b, "HostPort"), *slash = strchr (key, '/');
        p->container_port = atoi (key);
        p->host_port = hp ? atoi (hp) : 0;
        snprintf (p->proto, sizeof p->proto, "%s", slash ? slash + 1 : "tcp");
        if (xstrdup (jstr (b, "HostIp"), &p->host_ip, err) < 0)
          return -1;
      }
  return 0;
}

static int
set_image (const char *ref, const char *digest_hint, struct moat_side_info *side, struct moat_error *err)
{
  const char *at;

  if (ref == NULL || *ref == '\0')
    return 0;
  if (xstrdup (ref, &side->image, err) < 0)
    return -1;
  at = strstr (ref, "@sha256:");
  if (at)
    return xstrdup (at + 1, &side->image_digest, err);
  if (digest_hint && strncmp (digest_hint, "sha256:", 7) == 0)
    return xstrdup (digest_hint, &side->image_digest, err);
  return 0;
}

/* podman reports State.Health with an empty Status for a container that
   has no healthcheck; only a status means one runs. */
static bool
health_status (json_t *o)
{
  const char *st = jstr (json_object_get (json_object_get (o, "State"), "Health"), "Status");
  return st && *st;
}

static int
convert_side (json_t *o, json_t *cfg, json_t *hc, enum moat_input_kind kind, struct moat_side_info *side,
              struct moat_error *err)
{
  const char *name = jstr (o, "Name"), *img;
  json_t *hcheck = json_object_get (cfg, "Healthcheck"), *rp = json_object_get (hc, "RestartPolicy");
  json_t *test = json_object_get (hcheck, "Test"), *ul = json_object_get (hc, "Ulimits");

  side->kind = kind;
  if (name && name[0] == '/')
    name++;
  if (xstrdup (name, &side->name, err) < 0)
    return -1;
  img = kind == MOAT_INPUT_PODMAN && jstr (o, "ImageName") ? jstr (o, "ImageName") : jstr (cfg, "Image");
  if (set_image (img, NULL, side, err) < 0)
    return -1;
  side->privileged = json_is_true (json_object_get (hc, "Privileged"));
  side->has_user = true;
  if (xstrdup (jstr (cfg, "User") ? jstr (cfg, "User") : "", &side->user, err) < 0)
    return -1;
  side->has_healthcheck = true;
  side->healthcheck = (json_is_object (hcheck)
                       && !(json_is_array (test) && json_array_size (test) > 0
                            && strcmp (json_string_value (json_array_get (test, 0)) ?: "", "NONE") == 0))
                      || health_status (o);
  if (json_is_object (rp))
    {
      side->has_restart = true;
      side->restart_max = (long) jint (rp, "MaximumRetryCount");
      if (xstrdup (jstr (rp, "Name"), &side->restart_name, err) < 0)
        return -1;
    }
  if (jstr (hc, "CgroupParent"))
    {
      side->has_cgroup_parent = true;
      if (xstrdup (jstr (hc, "CgroupParent"), &side->cgroup_parent, err) < 0)
        return -1;
    }
  side->has_ulimits = true;
  side->n_ulimits = json_is_array (ul) ? json_array_size (ul) : 0;
  return convert_ports (o, hc, side, err);
}

int
moat_inspect_convert (const void *json_obj, enum moat_input_kind kind, struct moat_audit_input *in,
                      struct moat_error *err)
{
  json_t *o = (json_t *) json_obj, *hc = json_object_get (o, "HostConfig"), *cfg = json_object_get (o, "Config");
  struct moat_spec *s = &in->spec;
  const char *user;
  bool privileged;

  memset (in, 0, sizeof *in);
  if (!json_is_object (hc))
    return moat_err (err, EINVAL, "inspect: `HostConfig` missing: not a docker or podman inspect document");
  privileged = json_is_true (json_object_get (hc, "Privileged"));
  s->has_process = s->has_linux = true;
  s->process.has_caps = true;
  convert_caps (o, hc, kind, privileged, &s->process.caps);
  s->root_readonly = json_is_true (json_object_get (hc, "ReadonlyRootfs"));
  user = jstr (cfg, "User");
  if (user && *user >= '1' && *user <= '9')
    s->process.user.uid = (uint32_t) strtoul (user, NULL, 10);
  if (convert_security (o, hc, privileged, s, err) < 0 || convert_namespaces (hc, s, err) < 0
      || convert_mounts (o, s, err) < 0 || convert_resources (hc, privileged, s, err) < 0
      || kvv_from_object (json_object_get (hc, "Sysctls"), &s->linux.sysctl, err) < 0
      || kvv_from_object (json_object_get (cfg, "Labels"), &s->annotations, err) < 0
      || kvv_from_object (json_object_get (cfg, "Annotations"), &s->annotations, err) < 0
      || convert_side (o, json_is_object (cfg) ? cfg : NULL, hc, kind, &in->side, err) < 0)
    {
      moat_spec_free (s);
      moat_side_info_free (&in->side);
      return -1;
    }
  return 0;
}

int
moat_side_from_oci (const struct moat_spec *spec, struct moat_side_info *side, struct moat_error *err)
{
  static const char *const image_keys[] = { "org.moat.image", "io.kubernetes.cri.image-name",
                                            "org.opencontainers.image.ref.name" };
  const char *img = NULL, *digest = NULL;
  size_t i, k;

  memset (side, 0, sizeof *side);
  side->kind = MOAT_INPUT_OCI;
  for (k = 0; k < MOAT_ARRAY_SIZE (image_keys) && img == NULL; k++)
    for (i = 0; i < spec->annotations.n; i++)
      if (strcmp (spec->annotations.v[i].key, image_keys[k]) == 0)
        img = spec->annotations.v[i].value;
  for (i = 0; i < spec->annotations.n; i++)
    if (strcmp (spec->annotations.v[i].key, "org.moat.image.digest") == 0)
      digest = spec->annotations.v[i].value;
  return set_image (img, digest, side, err);
}

void
moat_side_info_free (struct moat_side_info *s)
{
  size_t i;

  free (s->name);
  free (s->image);
  free (s->image_digest);
  free (s->user);
  free (s->restart_name);
  free (s->cgroup_parent);
  for (i = 0; i < s->n_ports; i++)
    free (s->ports[i].host_ip);
  free (s->ports);
  memset (s, 0, sizeof *s);
}

int
moat_inspect_kind (const void *json_obj, enum moat_input_kind *kind)
{
  json_t *o = (json_t *) json_obj;

  if (!json_is_object (o))
    return -1;
  if (json_object_get (o, "ociVersion"))
    *kind = MOAT_INPUT_OCI;
  else if (!json_is_object (json_object_get (o, "HostConfig")))
    return -1;
  else if (json_object_get (o, "OCIRuntime") || json_object_get (o, "BoundingCaps")
           || json_object_get (o, "ImageName"))
    *kind = MOAT_INPUT_PODMAN;
  else
    *kind = MOAT_INPUT_DOCKER;
  return 0;
}

/* One document: TOP says it is the whole input, not an element of an
   inspect array (a config.json is only accepted whole). */
static int
one (json_t *o, bool top, moat_input_fn fn, void *data, struct moat_error *err)
{
  struct moat_audit_input in;
  enum moat_input_kind kind;
  int r;

  if (moat_inspect_kind (o, &kind) < 0)
    return moat_err (err, EINVAL, "not an OCI config.json nor a docker/podman inspect document");
  if (kind == MOAT_INPUT_OCI)
    {
      memset (&in, 0, sizeof in);
      if (!top)
        return moat_err (err, EINVAL, "an OCI config.json inside an array is not supported");
      /* The spec parser is the one place that reads config.json; it parses
         the tree already loaded rather than the text a second time. */
      if (moat_spec_from_json (o, &in.spec, err) < 0)
        return -1;
      if (moat_side_from_oci (&in.spec, &in.side, err) < 0)
        {
          moat_spec_free (&in.spec);
          return -1;
        }
    }
  else if (moat_inspect_convert (o, kind, &in, err) < 0)
    return -1;
  r = fn (&in, data, err);
  moat_spec_free (&in.spec);
  moat_side_info_free (&in.side);
  return r;
}

static size_t
skip_space (const char *s, size_t i, size_t len)
{
  while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
    i++;
  return i;
}

/* A syntax error at byte AT of the whole text, as "line:column: what" the
   way jansson counts (columns in characters, from 1).  JE, when not NULL, is
   jansson's error for the element that starts at AT. */
static int
syntax_error (const char *s, size_t at, const json_error_t *je, const char *what, struct moat_error *err)
{
  int line = 1, col = 0;
  size_t i;

  for (i = 0; i < at; i++)
    if (s[i] == '\n')
      line++, col = 0;
    else if (((unsigned char) s[i] & 0xc0) != 0x80)
      col++;
  if (je == NULL)
    return moat_err (err, EINVAL, "%d:%d: %s", line, col + 1, what);
  return moat_err (err, EINVAL, "%d:%d: %s", line + je->line - 1, je->line == 1 ? col + je->column : je->column,
                   je->text);
}

/* An inspect array, one element at a time: each container is decoded,
   converted, handed to FN and freed before the next is read, so memory stays
   that of one container and the heap never holds the whole document's tree
   (which was most of audit's time on large arrays).  Elements are strict
   JSON objects (jansson); between them only JSON whitespace, `,` and the
   closing `]` are accepted, then nothing but whitespace. */
static int
parse_array (const char *json, size_t len, size_t i, moat_input_fn fn, void *data, struct moat_error *err)
{
  size_t n = 0;

  i = skip_space (json, i + 1, len);
  if (i < len && json[i] == ']')
    goto end;
  for (;;)
    {
      json_error_t je;
      bool parsed;
      int r;

      if (n == INSPECT_MAX_CONTAINERS)
        return moat_err (err, E2BIG, "more than %d containers", INSPECT_MAX_CONTAINERS);
      /* Each container's tree lives in the arena: converted to C
         structures, then dropped whole without a free per node. */
      moat_json_arena_begin ();
      {
        json_t *e = moat_json_loadb (json + i, len - i, JSON_REJECT_DUPLICATES | JSON_DISABLE_EOF_CHECK, &je);
        parsed = e != NULL;
        r = parsed ? one (e, false, fn, data, err) : syntax_error (json, i, &je, NULL, err);
      }
      moat_json_arena_end ();
      if (r < 0)
        return parsed ? moat_error_wrap (err, "[%zu]", n) : -1;
      i += (size_t) je.position;
      n++;
      i = skip_space (json, i, len);
      if (i < len && json[i] == ']')
        break;
      if (i == len || json[i] != ',')
        return syntax_error (json, i, NULL, "`,` or `]` expected", err);
      i = skip_space (json, i + 1, len);
    }
end:
  i = skip_space (json, i + 1, len);
  if (i != len)
    return syntax_error (json, i, NULL, "end of file expected", err);
  return 0;
}

/* One object: a config.json or one inspect document. */
static int
parse_object (const char *json, size_t len, moat_input_fn fn, void *data, struct moat_error *err)
{
  json_error_t je;
  json_t *root = moat_json_loadb (json, len, JSON_REJECT_DUPLICATES, &je);
  void *spec_root;
  enum moat_input_kind kind;

  if (root == NULL)
    {
      /* jansson refuses integers above INT64_MAX, which a config.json may
         carry (Docker writes RLIM_INFINITY as 18446744073709551615): the
         spec parser's loader keeps them, so a document that is a config.json
         gets a second chance through it.  An inspect document never does. */
      if (moat_spec_json_load (json, len, &spec_root, NULL) < 0)
        return moat_err (err, EINVAL, "%d:%d: %s", je.line, je.column, je.text);
      root = spec_root;
      if (moat_inspect_kind (root, &kind) < 0 || kind != MOAT_INPUT_OCI)
        return moat_err (err, EINVAL, "%d:%d: %s", je.line, je.column, je.text);
    }
  return one (root, true, fn, data, err);
}

int
moat_inspect_parse (const char *json, size_t len, moat_input_fn fn, void *data, struct moat_error *err)
{
  size_t i = skip_space (json, 0, len);
  int r;

  if (i < len && json[i] == '[')
    return parse_array (json, len, i, fn, data, err);
  /* the tree lives in the arena (see parse_array) */
  moat_json_arena_begin ();
  r = parse_object (json, len, fn, data, err);
  moat_json_arena_end ();
  return r;
}
