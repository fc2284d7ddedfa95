/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Docker's --mount syntax, translated onto the -v and --tmpfs forms so that
 * every mount goes through the same checks (sensitive host paths refused,
 * always nosuid and nodev). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/run.h"
#include "util/cleanup.h"

static bool
is_true (const char *v)
{
  return v == NULL || strcmp (v, "true") == 0 || strcmp (v, "1") == 0;
}

int
moat_run_mount_translate (const char *spec, char **volume, char **tmpfs, struct moat_error *err)
{
  cleanup_free char *copy = strdup (spec);
  const char *type = NULL, *src = NULL, *dst = NULL, *size = NULL, *mode = NULL;
  bool ro = false;
  char *save = NULL, *kv;
  int n;

  *volume = *tmpfs = NULL;
  if (copy == NULL)
    return moat_err (err, ENOMEM, "--mount");
  for (kv = strtok_r (copy, ",", &save); kv; kv = strtok_r (NULL, ",", &save))
    {
      char *v = strchr (kv, '=');
      if (v)
        *v++ = '\0';
      if (strcmp (kv, "type") == 0 && v)
        type = v;
      else if ((strcmp (kv, "source") == 0 || strcmp (kv, "src") == 0) && v)
        src = v;
      else if ((strcmp (kv, "target") == 0 || strcmp (kv, "destination") == 0 || strcmp (kv, "dst") == 0) && v)
        dst = v;
      else if (strcmp (kv, "readonly") == 0 || strcmp (kv, "ro") == 0)
        ro = is_true (v);
      else if (strcmp (kv, "tmpfs-size") == 0 && v)
        size = v;
      else if (strcmp (kv, "tmpfs-mode") == 0 && v)
        mode = v;
      else
        return moat_usage (err, "--mount `%s`: unsupported key `%s` (type, source, target, readonly, tmpfs-size, "
                                "tmpfs-mode)", spec, kv);
    }
  if (type == NULL || dst == NULL)
    return moat_usage (err, "--mount `%s`: type= and target= are required", spec);
  if (strcmp (type, "bind") == 0)
    {
      if (src == NULL || size || mode)
        return moat_usage (err, "--mount `%s`: a bind mount wants source= and no tmpfs-* keys", spec);
      n = asprintf (volume, "%s:%s:%s", src, dst, ro ? "ro" : "rw");
    }
  else if (strcmp (type, "tmpfs") == 0)
    {
      if (src)
        return moat_usage (err, "--mount `%s`: a tmpfs has no source", spec);
      n = asprintf (tmpfs, "%s:%s%s%s%s%s", dst, ro ? "ro" : "rw", size ? ",size=" : "", size ? size : "",
                    mode ? ",mode=" : "", mode ? mode : "");
    }
  else
    return moat_usage (err, "--mount `%s`: type `%s` is not supported (bind, tmpfs; moat has no named volumes)",
                       spec, type);
  if (n < 0)
    return moat_err (err, ENOMEM, "--mount");
  return 0;
}
