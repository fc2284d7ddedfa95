/* SPDX-License-Identifier: GPL-2.0-or-later */
/* `moat run --security-opt seccomp=FILE`: Docker's profile format into the
 * OCI linux.seccomp object (see run.h). */
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>

#include "cli/run.h"

/* Docker's includes/excludes of one rule: "caps" (every one held), "arches"
   (the native one listed), "minKernel". */
static bool
docker_cond (json_t *cond, json_t *caps, bool want_all)
{
  json_t *v, *c;
  size_t i, j;
  struct utsname u;
  bool hit = false;

  if (!json_is_object (cond) || json_object_size (cond) == 0)
    return want_all;
  json_array_foreach (json_object_get (cond, "caps"), i, v)
    {
      bool have = false;
      json_array_foreach (caps, j, c)
        have |= json_equal (v, c);
      if (want_all && !have)
        return false;
      hit |= have;
    }
  if (json_array_size (json_object_get (cond, "arches")))
    {
      bool have = false;
      uname (&u);
      json_array_foreach (json_object_get (cond, "arches"), i, v)
        {
          const char *a = json_string_value (v) ?: "";
          have |= strcmp (a, u.machine) == 0 || (strcmp (a, "amd64") == 0 && strcmp (u.machine, "x86_64") == 0)
                  || (strcmp (a, "arm64") == 0 && strcmp (u.machine, "aarch64") == 0);
        }
      if (want_all && !have)
        return false;
      hit |= have;
    }
  if (json_is_string (json_object_get (cond, "minKernel")))
    {
      int ma = 0, mi = 0, ka = 0, ki = 0;
      uname (&u);
      sscanf (json_string_value (json_object_get (cond, "minKernel")), "%d.%d", &ma, &mi);
      sscanf (u.release, "%d.%d", &ka, &ki);
      bool have = ka > ma || (ka == ma && ki >= mi);
      if (want_all && !have)
        return false;
      hit |= have;
    }
  return want_all ? true : hit;
}

json_t *
moat_docker_seccomp (json_t *prof, json_t *caps)
{
  json_t *out = json_object (), *arches = json_array (), *rules = json_array (), *v, *a;
  const char *k;
  size_t i, j;

  json_object_foreach (prof, k, v)
    if (strcmp (k, "defaultAction") == 0 || strcmp (k, "defaultErrnoRet") == 0 || strcmp (k, "flags") == 0
        || strcmp (k, "listenerPath") == 0 || strcmp (k, "listenerMetadata") == 0)
      json_object_set (out, k, v);
  json_array_foreach (json_object_get (prof, "archMap"), i, v)
    {
      json_array_append (arches, json_object_get (v, "architecture"));
      json_array_foreach (json_object_get (v, "subArchitectures"), j, a)
        json_array_append (arches, a);
    }
  if (json_array_size (arches) == 0 && json_is_array (json_object_get (prof, "architectures")))
    json_array_extend (arches, json_object_get (prof, "architectures"));
  json_array_foreach (json_object_get (prof, "syscalls"), i, v)
    {
      json_t *r;
      json_t *exc = json_object_get (v, "excludes");

      if (!docker_cond (json_object_get (v, "includes"), caps, true)
          || (json_object_size (exc) && docker_cond (exc, caps, false)))
        continue;
      r = json_deep_copy (v);
      json_object_del (r, "includes");
      json_object_del (r, "excludes");
      json_object_del (r, "comment");
      if (json_is_string (json_object_get (r, "name")) && !json_object_get (r, "names"))
        {
          json_object_set_new (r, "names", json_pack ("[O]", json_object_get (r, "name")));
          json_object_del (r, "name");
        }
      json_array_append_new (rules, r);
    }
  if (json_array_size (arches))
    json_object_set_new (out, "architectures", arches);
  else
    json_decref (arches);
  json_object_set_new (out, "syscalls", rules);
  return out;
}

