/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "sandbox/landlock.h"
#include "util/cleanup.h"
#include "util/syscalls.h"

#define RIGHTS_READ (LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR | LANDLOCK_ACCESS_FS_EXECUTE)
/* Rights that may be granted on a non-directory (the kernel refuses the
   others there with EINVAL). */
#define RIGHTS_FILE                                                                                \
  (LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_READ_FILE        \
   | LANDLOCK_ACCESS_FS_TRUNCATE | LANDLOCK_ACCESS_FS_IOCTL_DEV)
#define RIGHTS_DEVICE                                                                              \
  (LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_TRUNCATE      \
   | LANDLOCK_ACCESS_FS_IOCTL_DEV)
/* Device nodes are made by the runtime, never by the process: with nodev on
   every writable mount they would be useless anyway, so the right is withheld. */
#define RIGHTS_NODES (LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_BLOCK)

static const char *const std_devices[] = {
  "/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty", "/dev/ptmx", "/dev/console",
};

int
moat_landlock_wanted (const struct moat_spec *spec, struct moat_error *err)
{
  size_t i;

  for (i = 0; i < spec->annotations.n; i++)
    {
      const struct moat_kv *kv = &spec->annotations.v[i];
      if (strcmp (kv->key, MOAT_LANDLOCK_ANNOTATION) != 0)
        continue;
      if (strcmp (kv->value, "on") == 0)
        return 1;
      if (strcmp (kv->value, "off") == 0)
        return 0;
      return moat_err (err, EINVAL, "annotations.%s: expected `on` or `off`, got `%s`", MOAT_LANDLOCK_ANNOTATION,
                       kv->value);
    }
  return 0;
}

int
moat_landlock_abi (void)
{
  int abi = sys_landlock_create_ruleset (NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);

  return abi < 0 ? 0 : abi;
}

static int
no_landlock (struct moat_error *err, int errnum)
{
  return moat_err (err, errnum, "annotations.%s is `on` but this kernel has no Landlock",
                   MOAT_LANDLOCK_ANNOTATION);
}

int
moat_landlock_check (const struct moat_spec *spec, struct moat_error *err)
{
  int wanted = moat_landlock_wanted (spec, err);

  if (wanted <= 0)
    return wanted;
  if (sys_landlock_create_ruleset (NULL, 0, LANDLOCK_CREATE_RULESET_VERSION) < 0)
    return no_landlock (err, errno);
  /* landlock_restrict_self(2): EPERM without no_new_privs unless the caller
     has CAP_SYS_ADMIN in its user namespace. */
  if (!spec->process.no_new_privileges && !(spec->process.caps.effective & (1ULL << CAP_SYS_ADMIN)))
    return moat_err (err, EPERM, "annotations.%s is `on`: it needs process.noNewPrivileges (or CAP_SYS_ADMIN)",
                     MOAT_LANDLOCK_ANNOTATION);
  return 0;
}

/* Every filesystem right of ABI: handling all of them means whatever is not
   granted below is denied, including rights a newer kernel adds. */
static uint64_t
handled_for_abi (int abi)
{
  uint64_t h = (LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1; /* ABI 1: bits 0..12 */

  if (abi >= 2)
    h |= LANDLOCK_ACCESS_FS_REFER;
  if (abi >= 3)
    h |= LANDLOCK_ACCESS_FS_TRUNCATE;
  if (abi >= 5)
    h |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
  return h;
}

static int
push (struct moat_landlock_rules *r, const char *path, uint64_t access)
{
  struct moat_landlock_rule *v = realloc (r->v, (r->n + 1) * sizeof *v);

  if (v == NULL)
    return -1;
  r->v = v;
  v[r->n].path = path;
  v[r->n].access = access & r->handled;
  r->n++;
  return 0;
}

static bool
type_is (const struct moat_mount *m, const char *t)
{
  return m->type && strcmp (m->type, t) == 0;
}

/* The rights a mount without "ro" grants, 0 for none. */
static uint64_t
mount_rights (const struct moat_mount *m, uint64_t writable)
{
  if ((m->flags & MS_RDONLY) || m->recursive_ro)
    return 0;
  if (m->bind)
    return writable;
  /* proc and sysfs writes are kernel knobs, not data: they stay denied (on top
     of readonlyPaths); mqueue objects are made by mq_open, which Landlock does
     not mediate, so the directory needs no rights. */
  if (type_is (m, "proc") || type_is (m, "sysfs") || type_is (m, "mqueue"))
    return 0;
  if (type_is (m, "devpts"))
    return RIGHTS_DEVICE;
  if (type_is (m, "tmpfs") && strcmp (m->destination, "/dev") == 0)
    return 0;
  return writable;
}

int
moat_landlock_rules (const struct moat_spec *spec, int abi, struct moat_landlock_rules *out,
                     struct moat_error *err)
{
  struct moat_landlock_rules r = { 0 };
  uint64_t writable;
  size_t i;

  memset (out, 0, sizeof *out);
  if (abi < 1)
    return moat_err (err, EOPNOTSUPP, "landlock: ABI %d", abi);
  r.handled = handled_for_abi (abi);
  writable = r.handled & ~RIGHTS_NODES;
  if (push (&r, "/", spec->root_readonly ? RIGHTS_READ : writable) < 0)
    goto oom;
  for (i = 0; i < spec->n_mounts; i++)
    {
      uint64_t a = mount_rights (&spec->mounts[i], writable);
      if (a && push (&r, spec->mounts[i].destination, a) < 0)
        goto oom;
    }
  for (i = 0; i < MOAT_ARRAY_SIZE (std_devices); i++)
    if (push (&r, std_devices[i], RIGHTS_DEVICE) < 0)
      goto oom;
  for (i = 0; i < spec->linux.n_devices; i++)
    if (push (&r, spec->linux.devices[i].path, RIGHTS_DEVICE) < 0)
      goto oom;
  *out = r;
  return 0;
oom:
  moat_landlock_rules_free (&r);
  return moat_err (err, ENOMEM, "landlock rules");
}

void
moat_landlock_rules_free (struct moat_landlock_rules *r)
{
  free (r->v);
  r->v = NULL;
  r->n = 0;
}

static int
add_rules (int ruleset_fd, const struct moat_landlock_rules *r, struct moat_error *err)
{
  size_t i;

  for (i = 0; i < r->n; i++)
    {
      struct landlock_path_beneath_attr pb = { 0 };
      struct stat st;
      /* Resolved from the process's root (the container's, after
         pivot_root), without magic links: a /proc link must not name a host
         object. */
      cleanup_fd int fd = sys_openat2 (AT_FDCWD, r->v[i].path, O_PATH | O_CLOEXEC, 0, RESOLVE_NO_MAGICLINKS);

      if (fd < 0 && errno == ENOENT)
        continue; /* nothing to grant: the path stays denied */
      if (fd < 0)
        return moat_err (err, errno, "landlock: open `%s`", r->v[i].path);
      if (fstat (fd, &st) < 0)
        return moat_err (err, errno, "landlock: stat `%s`", r->v[i].path);
      pb.allowed_access = r->v[i].access;
      if (!S_ISDIR (st.st_mode))
        pb.allowed_access &= RIGHTS_FILE;
      pb.parent_fd = fd;
      if (pb.allowed_access == 0)
        continue;
      if (sys_landlock_add_rule (ruleset_fd, LANDLOCK_RULE_PATH_BENEATH, &pb, 0) < 0)
        return moat_err (err, errno, "landlock: add rule for `%s`", r->v[i].path);
    }
  return 0;
}

/* The files on stdin, stdout and stderr, with the access they were opened
   for: `echo x > /dev/stderr` reopens fd 2 through /proc/self/fd, and the file
   (a log the engine opened) is outside every mount of the config.  This
   grants nothing the process cannot already do through the fd.  Pipes and
   sockets are not mediated by Landlock (nor accepted as rules). */
static int
add_stdio_rules (int ruleset_fd, uint64_t handled, struct moat_error *err)
{
  int fd;

  for (fd = 0; fd <= 2; fd++)
    {
      struct landlock_path_beneath_attr pb = { .parent_fd = fd };
      struct stat st;
      int fl = fcntl (fd, F_GETFL);

      if (fl < 0 || fstat (fd, &st) < 0 || !(S_ISREG (st.st_mode) || S_ISCHR (st.st_mode)))
        continue;
      if ((fl & O_ACCMODE) != O_WRONLY)
        pb.allowed_access |= LANDLOCK_ACCESS_FS_READ_FILE;
      if ((fl & O_ACCMODE) != O_RDONLY)
        pb.allowed_access |= LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_TRUNCATE;
      pb.allowed_access &= handled;
      if (sys_landlock_add_rule (ruleset_fd, LANDLOCK_RULE_PATH_BENEATH, &pb, 0) < 0 && errno != EBADFD)
        return moat_err (err, errno, "landlock: add rule for fd %d", fd);
    }
  return 0;
}

int
moat_landlock_apply (const struct moat_spec *spec, struct moat_error *err)
{
  struct moat_landlock_rules r = { 0 };
  struct landlock_ruleset_attr attr = { 0 };
  cleanup_fd int ruleset_fd = -1;
  int wanted, abi, ret = -1;

  wanted = moat_landlock_wanted (spec, err);
  if (wanted <= 0)
    return wanted;
  abi = sys_landlock_create_ruleset (NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
  if (abi < 0)
    return no_landlock (err, errno);
  if (moat_landlock_rules (spec, abi, &r, err) < 0)
    return -1;
  attr.handled_access_fs = r.handled;
  ruleset_fd = sys_landlock_create_ruleset (&attr, sizeof attr, 0);
  if (ruleset_fd < 0)
    {
      moat_err (err, errno, "landlock: create ruleset (ABI %d)", abi);
      goto out;
    }
  if (add_rules (ruleset_fd, &r, err) < 0 || add_stdio_rules (ruleset_fd, r.handled, err) < 0)
    goto out;
  if (sys_landlock_restrict_self (ruleset_fd, 0) < 0)
    {
      if (errno == EPERM)
        moat_err (err, EPERM, "landlock: restrict_self needs process.noNewPrivileges (or CAP_SYS_ADMIN)");
      else
        moat_err (err, errno, "landlock: restrict_self");
      goto out;
    }
  ret = 0;
out:
  moat_landlock_rules_free (&r);
  return ret;
}
