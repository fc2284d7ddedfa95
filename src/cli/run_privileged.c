/* SPDX-License-Identifier: GPL-2.0-or-later */
/* `moat run --privileged`: Docker's privileged container, built as a config
 * and then put through admission like any other.  The baseline policy denies
 * it (moat.privileged and the capability and device rules); only a policy
 * that allows those rules lets it run, and then with a warning that says
 * what was turned off.
 *
 * Unlike Docker's, moat's --privileged keeps the user namespace (unless
 * --userns host is also given): "every capability" is then every capability
 * over the container's own namespaces, and container root is still host uid
 * 100000, not host root.  That is what keeps it from being a host root
 * shell: without the user namespace CAP_SYS_ADMIN and the host devices are
 * the host. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "cli/run.h"
#include "spec/spec.h"
#include "util/cleanup.h"

#define MAX_HOST_DEVICES 256

static json_t *
child_object (json_t *parent, const char *key)
{
  json_t *o = json_object_get (parent, key);

  if (!json_is_object (o))
    {
      o = json_object ();
      json_object_set_new (parent, key, o);
    }
  return o;
}

/* Every capability; without a user namespace only those the runtime
 * holds, as Docker takes the host's set: the runtime cannot hand out more. */
static json_t *
all_caps (bool host_userns)
{
  struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
  struct __user_cap_data_struct d[2] = { { 0 } };
  uint64_t held = ~0ULL;
  json_t *a = json_array ();
  int c;

  if (host_userns && syscall (SYS_capget, &h, d) == 0)
    held = (uint64_t) d[0].permitted | ((uint64_t) d[1].permitted << 32);
  for (c = 0; c <= CAP_LAST_CAP; c++)
    if (moat_cap_name (c) && (held & (1ULL << c)))
      json_array_append_new (a, json_string (moat_cap_name (c)));
  return a;
}

/* Docker's "ro" on /sys and the cgroup mount goes: --privileged has a
 * writable /sys. */
static void
writable_sys (json_t *doc)
{
  json_t *m, *opts;
  size_t i, k;

  json_array_foreach (json_object_get (doc, "mounts"), i, m)
    {
      const char *d = json_string_value (json_object_get (m, "destination"));

      if (d == NULL || (strcmp (d, "/sys") != 0 && strcmp (d, "/sys/fs/cgroup") != 0))
        continue;
      opts = json_object_get (m, "options");
      for (k = 0; k < json_array_size (opts);)
        if (strcmp (json_string_value (json_array_get (opts, k)) ?: "", "ro") == 0)
          json_array_remove (opts, k);
        else
          k++;
    }
}

/* The host's /dev (top level: character and block devices, as Docker lists
 * them) into linux.devices; the standard nodes moat always creates are left
 * to it.  In a user namespace they are bind-mounted from the host. */
static int
host_devices (json_t *lx, struct moat_error *err)
{
  static const char *const standard[] = { "null", "zero", "full", "random", "urandom", "tty", "console", "ptmx",
                                          NULL };
  json_t *devs = json_array ();
  cleanup_dir DIR *d = opendir ("/dev");
  struct dirent *de;
  size_t n = 0, i;

  if (devs == NULL || d == NULL)
    {
      json_decref (devs);
      return moat_err (err, errno, "--privileged: read the host's `/dev`");
    }
  while ((de = readdir (d)) != NULL && n < MAX_HOST_DEVICES)
    {
      char path[300];
      struct stat st;
      bool skip = false;

      for (i = 0; standard[i]; i++)
        skip |= strcmp (de->d_name, standard[i]) == 0;
      snprintf (path, sizeof path, "/dev/%s", de->d_name);
      if (skip || lstat (path, &st) < 0 || !(S_ISCHR (st.st_mode) || S_ISBLK (st.st_mode)))
        continue;
      json_array_append_new (devs, json_pack ("{s:s, s:s, s:I, s:I, s:i, s:i, s:i}", "path", path, "type",
                                              S_ISCHR (st.st_mode) ? "c" : "b", "major",
                                              (json_int_t) major (st.st_rdev), "minor",
                                              (json_int_t) minor (st.st_rdev), "fileMode", (int) (st.st_mode & 0777),
                                              "uid", 0, "gid", 0));
      n++;
    }
  json_object_set_new (lx, "devices", devs);
  json_object_set_new (child_object (lx, "resources"), "devices",
                       json_pack ("[{s:b, s:s}]", "allow", 1, "access", "rwm"));
  return 0;
}

int
moat_run_apply_privileged (json_t *doc, bool host_userns, struct moat_error *err)
{
  json_t *proc = child_object (doc, "process"), *caps = child_object (proc, "capabilities");
  json_t *lx = child_object (doc, "linux");
  bool root = json_integer_value (json_object_get (child_object (proc, "user"), "uid")) == 0;

  json_object_set_new (caps, "bounding", all_caps (host_userns));
  /* A non-root user keeps empty effective and permitted sets, as without
     --privileged. */
  if (root)
    {
      json_object_set_new (caps, "effective", all_caps (host_userns));
      json_object_set_new (caps, "permitted", all_caps (host_userns));
    }
  json_object_del (lx, "seccomp");
  json_object_del (lx, "maskedPaths");
  json_object_del (lx, "readonlyPaths");
  writable_sys (doc);
  json_object_set_new (child_object (doc, "annotations"), "org.moat.landlock", json_string ("off"));
  return host_devices (lx, err);
}

void
moat_run_privileged_warning (bool host_userns)
{
  fprintf (stderr, "moat: warning: --privileged: this container has every capability, no seccomp filter, "
                   "no Landlock, no masked or read-only /proc paths, a writable /sys and the host's devices%s\n",
           host_userns ? ", and with --userns host its root is the host's root: it can take over the host"
                       : "; only its user namespace (root = an unprivileged host uid) still separates it from "
                         "the host");
}
