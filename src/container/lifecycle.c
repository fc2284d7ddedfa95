/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "container/lifecycle.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "policy/policy.h"
#include "sandbox/cgroup.h"
#include "sandbox/landlock.h"
#include "sandbox/sandbox.h"
#include "sandbox/seccomp.h"
#include "sandbox/seccomp_cache.h"
#include "sandbox/security.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/syscalls.h"

#define CONFIG_MAX (4 << 20)

static int
open_root (const struct moat_ctx *ctx, int *rootfd, struct moat_error *err)
{
  return moat_state_root_open (ctx->root, rootfd, err);
}

static int
check_id (const char *id, struct moat_error *err)
{
  if (!moat_valid_container_id (id))
    return moat_err (err, EINVAL, "invalid container id `%s`: must match [A-Za-z0-9][A-Za-z0-9_.-]*", id);
  return 0;
}

/* A unix socket bound inside the state dir, reached through /proc/self/fd so
 * a long --root cannot overflow sun_path. */
static int
start_socket_addr (int dirfd, struct sockaddr_un *addr)
{
  memset (addr, 0, sizeof *addr);
  addr->sun_family = AF_UNIX;
  return snprintf (addr->sun_path, sizeof addr->sun_path, "/proc/self/fd/%d/start.sock", dirfd);
}

static int
make_start_socket (int dirfd, int *out, struct moat_error *err)
{
  struct sockaddr_un addr;
  cleanup_fd int s = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

  if (s < 0)
    return moat_err (err, errno, "start socket");
  start_socket_addr (dirfd, &addr);
  unlinkat (dirfd, "start.sock", 0);
  if (bind (s, (struct sockaddr *) &addr, sizeof addr) < 0 || listen (s, 4) < 0)
    return moat_err (err, errno, "bind the start socket");
  if (fchmodat (dirfd, "start.sock", 0600, 0) < 0)
    return moat_err (err, errno, "chmod the start socket");
  *out = steal_fd (&s);
  return 0;
}

static int
resolve_bundle (const struct moat_create_opts *o, char **bundle, int *bundlefd, struct moat_error *err)
{
  char buf[PATH_MAX];

  if (realpath (o->bundle ? o->bundle : ".", buf) == NULL)
    return moat_err (err, errno, "bundle `%s`", o->bundle ? o->bundle : ".");
  *bundlefd = open (buf, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (*bundlefd < 0)
    return moat_err (err, errno, "bundle `%s`", buf);
  *bundle = strdup (buf);
  return *bundle ? 0 : moat_err (err, ENOMEM, "bundle");
}

static int
resolve_rootfs (const char *bundle, const struct moat_spec *spec, char **rootfs, struct moat_error *err)
{
  char joined[PATH_MAX * 2], buf[PATH_MAX];
  struct stat st;

  if (spec->root_path == NULL)
    return moat_err (err, EINVAL, "config.json: root.path: missing");
  if (spec->root_path[0] == '/')
    snprintf (joined, sizeof joined, "%s", spec->root_path);
  else
    snprintf (joined, sizeof joined, "%s/%s", bundle, spec->root_path);
  if (realpath (joined, buf) == NULL)
    return moat_err (err, errno, "root.path `%s`", spec->root_path);
  if (stat (buf, &st) < 0 || !S_ISDIR (st.st_mode))
    return moat_err (err, ENOTDIR, "root.path `%s`", spec->root_path);
  *rootfs = strdup (buf);
  return *rootfs ? 0 : moat_err (err, ENOMEM, "root.path");
}

static char *
annotations_json (const struct moat_spec *spec)
{
  json_t *o = json_object ();
  char *s;
  size_t i;

  for (i = 0; i < spec->annotations.n; i++)
    json_object_set_new (o, spec->annotations.v[i].key, json_string (spec->annotations.v[i].value));
  s = json_dumps (o, JSON_COMPACT);
  json_decref (o);
  return s;
}

/* ---- events ----------------------------------------------------------- */

/* Where a container's name and image come from: moat's own annotations,
   else those of the CRI (containerd, CRI-O) and nerdctl; the same image keys
   as admission (policy/inspect.c). */
static const char *const name_keys[] = { "org.moat.name", "io.kubernetes.cri.container-name", "nerdctl/name" };
static const char *const image_keys[] = { "org.moat.image", "io.kubernetes.cri.image-name",
                                          "org.opencontainers.image.ref.name" };

static void
emit_event (const struct moat_ctx *ctx, const char *action, const char *id, const char *name, const char *image,
            const struct moat_event_attr *extra, size_t n_extra)
{
  struct moat_event_attr attrs[8] = { { "image", image }, { "name", name ? name : id } };
  size_t n = 2, i;
  int r;

  for (i = 0; i < n_extra && n < MOAT_ARRAY_SIZE (attrs); i++)
    attrs[n++] = extra[i];
  r = moat_event_emit (ctx->root, action, id, attrs, n);
  if (r < 0)
    moat_debug ("event %s of %s not logged: %s", action, id, strerror (-r));
}

static const char *
spec_annotation (const struct moat_spec *spec, const char *const *keys, size_t n_keys)
{
  size_t i, k;

  for (k = 0; k < n_keys; k++)
    for (i = 0; i < spec->annotations.n; i++)
      if (strcmp (spec->annotations.v[i].key, keys[k]) == 0)
        return spec->annotations.v[i].value;
  return NULL;
}

static void
spec_event (const struct moat_ctx *ctx, const char *action, const char *id, const struct moat_spec *spec,
            const struct moat_event_attr *extra, size_t n_extra)
{
  emit_event (ctx, action, id, spec_annotation (spec, name_keys, MOAT_ARRAY_SIZE (name_keys)),
              spec_annotation (spec, image_keys, MOAT_ARRAY_SIZE (image_keys)), extra, n_extra);
}

static const char *
json_annotation (json_t *o, const char *const *keys, size_t n_keys)
{
  size_t k;

  for (k = 0; k < n_keys; k++)
    if (json_is_string (json_object_get (o, keys[k])))
      return json_string_value (json_object_get (o, keys[k]));
  return NULL;
}

void
moat_container_event (const struct moat_ctx *ctx, const char *action, const struct moat_state *st,
                      const struct moat_event_attr *extra, size_t n_extra)
{
  json_t *o = NULL;

  /* Most configs carry no annotations: no parse for them. */
  if (st->annotations_json && strcmp (st->annotations_json, "{}") != 0)
    o = json_loads (st->annotations_json, 0, NULL);
  emit_event (ctx, action, st->id, json_annotation (o, name_keys, MOAT_ARRAY_SIZE (name_keys)),
              json_annotation (o, image_keys, MOAT_ARRAY_SIZE (image_keys)), extra, n_extra);
  json_decref (o);
}

/* The devices every container gets whatever its rules say (runtime-spec
 * "Default Devices", plus /dev/console, /dev/ptmx and the pts), followed by the
 * config's own linux.devices: the device cgroup is always deny-all first
 * (written by the cgroup module), then the config's rules, then these. */
static const struct moat_device_rule default_device_rules[] = {
  { true, 'c', 1, 3, "rwm" },   /* null */
  { true, 'c', 1, 5, "rwm" },   /* zero */
  { true, 'c', 1, 7, "rwm" },   /* full */
  { true, 'c', 1, 8, "rwm" },   /* random */
  { true, 'c', 1, 9, "rwm" },   /* urandom */
  { true, 'c', 5, 0, "rwm" },   /* tty */
  { true, 'c', 5, 1, "rwm" },   /* console */
  { true, 'c', 5, 2, "rwm" },   /* ptmx */
  { true, 'c', 136, -1, "rwm" }, /* pts */
};

static int
effective_resources (const struct moat_spec *spec, struct moat_resources *res, struct moat_device_rule **rules,
                     struct moat_error *err)
{
  size_t nd = MOAT_ARRAY_SIZE (default_device_rules), i, k = 0;
  size_t n = spec->linux.resources.n_devices + nd + spec->linux.n_devices;

  if (spec->linux.has_resources)
    *res = spec->linux.resources;
  else
    memset (res, 0, sizeof *res);
  *rules = calloc (n, sizeof **rules);
  if (*rules == NULL)
    return moat_err (err, ENOMEM, "device rules");
  for (i = 0; i < spec->linux.resources.n_devices && spec->linux.has_resources; i++)
    (*rules)[k++] = spec->linux.resources.devices[i];
  for (i = 0; i < nd; i++)
    (*rules)[k++] = default_device_rules[i];
  for (i = 0; i < spec->linux.n_devices; i++)
    {
      const struct moat_device *d = &spec->linux.devices[i];
      struct moat_device_rule r = { true, d->type == 'b' ? 'b' : 'c', d->major, d->minor, "rwm" };
      if (d->type == 'p')
        continue;
      (*rules)[k++] = r;
    }
  res->devices = *rules;
  res->n_devices = k;
  return 0;
}

struct create_txn
{
  int rootfd, dirfd, lockfd, bundlefd, start_fd, console_fd, stub_fd;
  const char *id;
  struct moat_cgroup cg;
  bool cg_made;
  struct moat_seccomp_prog prog;
  struct moat_spec spec;
  struct moat_state st;
  char *config_text;
  char denied_rules[512]; /* admission refused: the rule ids, for the event */
};

static void
create_txn_undo (struct create_txn *t)
{
  struct moat_error ignored;

  if (t->cg_made)
    {
      moat_cgroup_kill_all (&t->cg, SIGKILL, &ignored);
      moat_cgroup_destroy (&t->cg, &ignored);
    }
  if (t->dirfd >= 0)
    moat_rm_rf_at (t->rootfd, t->id, &ignored);
}

static void
create_txn_free (struct create_txn *t)
{
  int *fds[] = { &t->dirfd, &t->lockfd, &t->bundlefd, &t->start_fd, &t->console_fd, &t->rootfd, &t->stub_fd };
  size_t i;

  for (i = 0; i < MOAT_ARRAY_SIZE (fds); i++)
    moat_closep (fds[i]);
  moat_cgroup_free (&t->cg);
  moat_seccomp_prog_free (&t->prog);
  moat_spec_free (&t->spec);
  moat_state_free (&t->st);
  free (t->config_text);
}

/* Everything that can be refused is refused before anything is made. */
static int
create_validate (struct create_txn *t, const struct moat_create_opts *o, struct moat_error *err)
{
  size_t len;

  if (check_id (o->id, err) < 0)
    return -1;
  if (resolve_bundle (o, &t->st.bundle, &t->bundlefd, err) < 0)
    return -1;
  if (moat_read_file_at (t->bundlefd, "config.json", CONFIG_MAX, &t->config_text, &len, err) < 0)
    return moat_error_wrap (err, "config.json");
  if (moat_spec_parse (t->config_text, len, &t->spec, err) < 0)
    return moat_error_wrap (err, "config.json");
  /* CVE-2019-5736: decided on the parsed spec, before anything is made (a
     re-exec starts this command again). */
  if (moat_exe_seal_for (&t->spec, o->seal_argv, &t->stub_fd, err) < 0)
    return -1;
  /* Admission: before any state dir, cgroup or process exists. */
  if (moat_policy_admit_rules (&t->spec, o->id, t->denied_rules, sizeof t->denied_rules, err) < 0)
    return -1;
  if (!t->spec.has_process)
    return moat_err (err, EINVAL, "config.json: process: missing (required to create a container)");
  if (t->spec.process.terminal && !o->console_socket && !o->want_pty_master)
    return moat_err (err, EINVAL, "config.json: process.terminal is true but --console-socket was not given");
  if (!t->spec.process.terminal && o->console_socket)
    return moat_err (err, EINVAL, "--console-socket given but process.terminal is false");
  if (resolve_rootfs (t->st.bundle, &t->spec, &t->st.rootfs, err) < 0)
    return -1;
  if (moat_lsm_check (&t->spec, err) < 0)
    return -1;
  if (moat_landlock_check (&t->spec, err) < 0)
    return -1;
  if (t->spec.linux.seccomp && moat_seccomp_compile_cached (t->spec.linux.seccomp, &t->prog, err) < 0)
    return moat_error_wrap (err, "linux.seccomp");
  return 0;
}

static int
create_spawn (struct create_txn *t, const struct moat_ctx *ctx, const struct moat_create_opts *o,
              struct moat_created *out, struct moat_error *err)
{
  struct moat_sandbox sb = { 0 };
  cleanup_free char *state_json = NULL;

  if (!o->start_over_sync && make_start_socket (t->dirfd, &t->start_fd, err) < 0)
    return -1;
  if (o->console_socket && moat_console_connect (o->console_socket, &t->console_fd, err) < 0)
    return -1;
  t->st.pid = 0;
  state_json = moat_state_json (&t->st, MOAT_STATUS_CREATING);
  if (state_json)
    {
      /* Hooks get the pid spliced in by the parent once it exists. */
      json_t *j = json_loads (state_json, 0, NULL);
      json_object_del (j, "pid");
      free (state_json);
      state_json = json_dumps (j, JSON_COMPACT);
      json_decref (j);
    }
  sb.spec = &t->spec;
  sb.id = o->id;
  sb.bundle = t->st.bundle;
  sb.rootfs = t->st.rootfs;
  sb.cgroup = &t->cg;
  sb.seccomp = t->spec.linux.seccomp ? &t->prog : NULL;
  sb.start_fd = t->start_fd;
  sb.exec_stub_fd = t->stub_fd;
  sb.start_over_sync = o->start_over_sync;
  sb.console_socket_fd = t->console_fd;
  sb.want_pty_master = o->want_pty_master;
  sb.preserve_fds = o->preserve_fds;
  sb.no_pivot = o->no_pivot;
  sb.no_new_keyring = o->no_new_keyring;
  sb.state_json = state_json;
  if (moat_sandbox_create (&sb, err) < 0)
    return -1;
  out->pid = sb.init_pid;
  out->pty_master_fd = sb.pty_master_fd;
  out->sync_fd = sb.sync_fd;
  (void) ctx;
  return 0;
}

int
moat_container_create (const struct moat_ctx *ctx, const struct moat_create_opts *o,
                       struct moat_created *out, struct moat_error *err)
{
  struct create_txn t = { .rootfd = -1, .dirfd = -1, .lockfd = -1, .bundlefd = -1,
                          .start_fd = -1, .console_fd = -1, .stub_fd = -1, .id = o->id };
  int ret = -1;

  out->pid = 0;
  out->pty_master_fd = -1;
  out->sync_fd = -1;
  moat_debug ("create %s: validating", o->id);
  if (create_validate (&t, o, err) < 0)
    {
      if (t.denied_rules[0])
        {
          struct moat_event_attr a[] = { { "rules", t.denied_rules } };
          spec_event (ctx, "policy_deny", o->id, &t.spec, a, 1);
        }
      goto out;
    }
  moat_debug ("create %s: validated", o->id);
  if (open_root (ctx, &t.rootfd, err) < 0)
    goto out;
  if (moat_state_dir_create (t.rootfd, o->id, &t.dirfd, err) < 0)
    goto out;
  if (moat_state_lock (t.dirfd, &t.lockfd, err) < 0)
    goto undo;
  t.st.id = strdup (o->id);
  t.st.annotations_json = annotations_json (&t.spec);
  t.st.created = (int64_t) time (NULL);
  /* Parsing the stored config again costs about a millisecond (a seccomp
     profile is most of it): `start` does it only when it has a use for it. */
  t.st.config_at_start = t.spec.hooks[MOAT_HOOK_POSTSTART].n > 0
                         || (t.spec.linux.seccomp && t.spec.linux.seccomp->listener_path);
  t.st.config_at_delete = t.spec.hooks[MOAT_HOOK_POSTSTOP].n > 0;
  if (moat_cgroup_resolve_path (t.spec.linux.cgroups_path, o->id, ctx->systemd_cgroup, &t.st.cgroup_path, err) < 0)
    goto undo;
  /* Saved before any process or cgroup exists: a moat killed from here on
     leaves a state that `delete --force` can clean completely. */
  if (moat_state_save (t.dirfd, &t.st, err) < 0)
    goto undo;
  if (moat_write_file_atomic (t.dirfd, "config.json", t.config_text, strlen (t.config_text), 0600, err) < 0)
    goto undo;
  {
    struct moat_resources res;
    cleanup_free struct moat_device_rule *rules = NULL;
    if (effective_resources (&t.spec, &res, &rules, err) < 0
        || moat_cgroup_create (&t.cg, t.st.cgroup_path, &res, err) < 0)
      goto undo;
  }
  t.cg_made = true;
  moat_debug ("create %s: cgroup made", o->id);
  if (create_spawn (&t, ctx, o, out, err) < 0)
    goto undo;
  moat_debug ("create %s: init %d created", o->id, (int) out->pid);
  t.st.pid = out->pid;
  t.st.pid_start = moat_pid_starttime (out->pid);
  if (moat_state_save (t.dirfd, &t.st, err) < 0)
    goto undo;
  if (o->pid_file && moat_write_pid_file (o->pid_file, out->pid, err) < 0)
    goto undo;
  spec_event (ctx, "create", o->id, &t.spec, NULL, 0);
  ret = 0;
  goto out;
undo:
  if (out->pty_master_fd >= 0)
    close (out->pty_master_fd);
  out->pty_master_fd = -1;
  moat_closep (&out->sync_fd);
  create_txn_undo (&t);
out:
  create_txn_free (&t);
  return ret;
}

/* Open and lock a container's state dir and load its state. */
static int
open_container (const struct moat_ctx *ctx, const char *id, int *rootfd, int *dirfd, int *lockfd,
                struct moat_state *st, struct moat_error *err)
{
  if (check_id (id, err) < 0)
    return -1;
  if (open_root (ctx, rootfd, err) < 0)
    return -1;
  if (moat_state_dir_open (*rootfd, id, dirfd, err) < 0)
    return -1;
  if (moat_state_lock (*dirfd, lockfd, err) < 0)
    return -1;
  return moat_state_load (*dirfd, st, err);
}

int
moat_container_load (const struct moat_ctx *ctx, const char *id, struct moat_state *st,
                     struct moat_spec *spec, struct moat_error *err)
{
  cleanup_fd int rootfd = -1;
  cleanup_fd int dirfd = -1;
  cleanup_fd int lockfd = -1;

  if (open_container (ctx, id, &rootfd, &dirfd, &lockfd, st, err) < 0)
    return -1;
  if (spec && moat_spec_load (dirfd, "config.json", spec, err) < 0)
    {
      moat_state_free (st);
      return moat_error_wrap (err, "stored config of `%s`", id);
    }
  return 0;
}

/* Signal the init of a created container through its start socket. */
static int
start_over_socket (int dirfd, int *conn, struct moat_error *err)
{
  struct sockaddr_un addr;
  cleanup_fd int s = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

  start_socket_addr (dirfd, &addr);
  if (s < 0 || connect (s, (struct sockaddr *) &addr, sizeof addr) < 0 || write (s, "S", 1) != 1)
    return moat_err (err, errno, "signal the container init");
  *conn = steal_fd (&s);
  return 0;
}

/* start, through the start socket (SYNC_FD < 0) or, for the process that
 * created the container, over the init's sync socket. */
static int
start_container (const struct moat_ctx *ctx, const char *id, int sync_fd, struct moat_error *err)
{
  cleanup_fd int rootfd = -1;
  cleanup_fd int dirfd = -1;
  cleanup_fd int lockfd = -1;
  cleanup_fd int s = -1;
  struct moat_state st = { 0 };
  struct moat_spec spec = { 0 };
  cleanup_free char *state_json = NULL;
  struct moat_error warn;
  int ret = -1;

  if (open_container (ctx, id, &rootfd, &dirfd, &lockfd, &st, err) < 0)
    return -1;
  if (sync_fd < 0 && moat_state_status (&st) != MOAT_STATUS_CREATED)
    {
      moat_err (err, EINVAL, "cannot start a container that is %s", moat_status_name (moat_state_status (&st)));
      goto out;
    }
  if (st.config_at_start && moat_spec_load (dirfd, "config.json", &spec, err) < 0)
    goto out;
  if (sync_fd < 0 ? start_over_socket (dirfd, &s, err) < 0
                  : moat_sync_send (sync_fd, MOAT_SYNC_START, NULL, 0, -1, err) < 0)
    goto out;
  /* EOF without a message: execve closed the connection (CLOEXEC). */
  {
    cleanup_free char *running = moat_state_json (&st, MOAT_STATUS_RUNNING);
    if (moat_exec_reply_wait (sync_fd < 0 ? s : sync_fd, &spec, st.pid, running, err) < 0)
      goto out;
  }
  moat_debug ("start %s: process running", id);
  if (sync_fd < 0)
    unlinkat (dirfd, "start.sock", 0);
  st.started = true;
  if (moat_state_save (dirfd, &st, err) < 0)
    goto out;
  moat_container_event (ctx, "start", &st, NULL, 0);
  state_json = moat_state_json (&st, MOAT_STATUS_RUNNING);
  /* poststart failures are warnings: the process already runs (runtime-spec). */
  if (moat_hooks_run (&spec.hooks[MOAT_HOOK_POSTSTART], "hooks.poststart", state_json, &warn) < 0)
    fprintf (stderr, "moat: warning: %s\n", warn.msg);
  ret = 0;
out:
  moat_spec_free (&spec);
  moat_state_free (&st);
  return ret;
}

int
moat_container_start (const struct moat_ctx *ctx, const char *id, struct moat_error *err)
{
  return start_container (ctx, id, -1, err);
}

int
moat_container_start_created (const struct moat_ctx *ctx, const char *id, int sync_fd, struct moat_error *err)
{
  return start_container (ctx, id, sync_fd, err);
}

static int
signal_init (const struct moat_state *st, int sig, struct moat_error *err)
{
  cleanup_fd int pfd = sys_pidfd_open (st->pid, 0);

  /* Re-check the start time after taking the pidfd: the pid cannot be
     recycled under us from here on. */
  if (pfd < 0 || moat_pid_starttime (st->pid) != st->pid_start)
    return moat_err (err, ESRCH, "container `%s` is not running", st->id);
  if (sys_pidfd_send_signal (pfd, sig, NULL, 0) < 0)
    return moat_err (err, errno, "kill container `%s`", st->id);
  return 0;
}

int
moat_container_kill (const struct moat_ctx *ctx, const char *id, int sig, bool all, struct moat_error *err)
{
  cleanup_fd int rootfd = -1;
  cleanup_fd int dirfd = -1;
  cleanup_fd int lockfd = -1;
  struct moat_state st = { 0 };
  struct moat_cgroup cg = { 0 };
  int ret = -1;

  if (open_container (ctx, id, &rootfd, &dirfd, &lockfd, &st, err) < 0)
    return -1;
  if (moat_state_status (&st) == MOAT_STATUS_STOPPED)
    {
      moat_err (err, ESRCH, "container `%s` is not running", id);
      goto out;
    }
  if (all && st.cgroup_path)
    {
      if (moat_cgroup_open (&cg, st.cgroup_path, err) < 0 || moat_cgroup_kill_all (&cg, sig, err) < 0)
        goto out;
    }
  else if (signal_init (&st, sig, err) < 0)
    goto out;
  {
    /* Docker's kill event: the signal as a number. */
    char num[16];
    struct moat_event_attr a[] = { { "signal", num } };
    snprintf (num, sizeof num, "%d", sig);
    moat_container_event (ctx, "kill", &st, a, 1);
  }
  ret = 0;
out:
  moat_cgroup_free (&cg);
  moat_state_free (&st);
  return ret;
}

static void
wait_gone (pid_t pid, uint64_t start)
{
  int i;

  for (i = 0; i < 500 && moat_pid_starttime (pid) == start && start != 0; i++)
    {
      waitpid (pid, NULL, WNOHANG);
      usleep (2000);
    }
}

/* Kill everything left of the container and remove its cgroup, then run the
 * poststop hooks.  Used by delete, with or without --force. */
static int
destroy_container (int dirfd, struct moat_state *st, struct moat_error *err)
{
  struct moat_cgroup cg = { 0 };
  struct moat_spec spec = { 0 };
  struct moat_error warn;
  bool have_cg = st->cgroup_path && moat_cgroup_open (&cg, st->cgroup_path, &warn) == 0;
  cleanup_free char *state_json = NULL;
  int ret = 0;

  if (have_cg)
    moat_cgroup_kill_all (&cg, SIGKILL, &warn);
  if (st->pid > 0 && st->pid_start && moat_pid_starttime (st->pid) == st->pid_start)
    {
      kill (st->pid, SIGKILL);
      wait_gone (st->pid, st->pid_start);
    }
  if (have_cg && moat_cgroup_destroy (&cg, err) < 0)
    ret = -1;
  moat_cgroup_free (&cg);
  if (st->config_at_delete && moat_spec_load (dirfd, "config.json", &spec, &warn) == 0)
    {
      state_json = moat_state_json (st, MOAT_STATUS_STOPPED);
      if (moat_hooks_run (&spec.hooks[MOAT_HOOK_POSTSTOP], "hooks.poststop", state_json, &warn) < 0)
        fprintf (stderr, "moat: warning: %s\n", warn.msg);
      moat_spec_free (&spec);
    }
  return ret;
}

int
moat_container_delete (const struct moat_ctx *ctx, const char *id, bool force, struct moat_error *err)
{
  cleanup_fd int rootfd = -1;
  cleanup_fd int dirfd = -1;
  cleanup_fd int lockfd = -1;
  struct moat_state st = { 0 };
  enum moat_status status;
  int ret = -1;

  if (check_id (id, err) < 0 || open_root (ctx, &rootfd, err) < 0)
    return -1;
  if (moat_state_dir_open (rootfd, id, &dirfd, err) < 0)
    return (force && err->code == ENOENT) ? 0 : -1;
  if (moat_state_lock (dirfd, &lockfd, err) < 0)
    return -1;
  if (moat_state_load (dirfd, &st, err) < 0)
    {
      /* A create killed before its first state write left only the dir. */
      if (!force || moat_rm_rf_at (rootfd, id, err) < 0)
        return -1;
      emit_event (ctx, "destroy", id, NULL, NULL, NULL, 0);
      return 0;
    }
  status = moat_state_status (&st);
  if (!force && (status == MOAT_STATUS_RUNNING || status == MOAT_STATUS_PAUSED))
    {
      moat_err (err, EBUSY, "cannot delete container `%s` that is %s: stop it first or use --force", id,
                moat_status_name (status));
      goto out;
    }
  moat_debug ("delete %s: destroying", id);
  if (destroy_container (dirfd, &st, err) < 0)
    goto out;
  moat_debug ("delete %s: destroyed", id);
  if (moat_rm_rf_at (rootfd, id, err) < 0)
    goto out;
  /* Docker calls the removal of a container "destroy".  A monitored
     container (`moat run -d`) is deleted by its monitor after every exit
     and re-created on a restart: its record lives on, and `moat rm` says
     "destroy" when that goes. */
  if (!(st.annotations_json && strstr (st.annotations_json, "\"" MOAT_ANNOTATION_MONITORED "\"")))
    moat_container_event (ctx, "destroy", &st, NULL, 0);
  ret = 0;
out:
  moat_state_free (&st);
  return ret;
}

int
moat_container_state (const struct moat_ctx *ctx, const char *id, char **json, struct moat_error *err)
{
  struct moat_state st = { 0 };

  if (moat_container_load (ctx, id, &st, NULL, err) < 0)
    return -1;
  *json = moat_state_json (&st, moat_state_status (&st));
  moat_state_free (&st);
  return *json ? 0 : moat_err (err, ENOMEM, "state");
}

static int
with_cgroup (const struct moat_ctx *ctx, const char *id, bool need_running, struct moat_state *st,
             struct moat_cgroup *cg, struct moat_error *err)
{
  if (moat_container_load (ctx, id, st, NULL, err) < 0)
    return -1;
  if (need_running && moat_state_status (st) == MOAT_STATUS_STOPPED)
    {
      moat_state_free (st);
      return moat_err (err, ESRCH, "container `%s` is not running", id);
    }
  if (st->cgroup_path == NULL || moat_cgroup_open (cg, st->cgroup_path, err) < 0)
    {
      moat_state_free (st);
      return st->cgroup_path ? -1 : moat_err (err, ENOENT, "container `%s` has no cgroup", id);
    }
  return 0;
}

int
moat_container_pause (const struct moat_ctx *ctx, const char *id, bool pause, struct moat_error *err)
{
  struct moat_state st = { 0 };
  struct moat_cgroup cg = { 0 };
  int ret;

  if (with_cgroup (ctx, id, true, &st, &cg, err) < 0)
    return -1;
  ret = moat_cgroup_freeze (&cg, pause, err);
  if (ret == 0)
    moat_container_event (ctx, pause ? "pause" : "unpause", &st, NULL, 0);
  moat_cgroup_free (&cg);
  moat_state_free (&st);
  return ret;
}

int
moat_container_pids (const struct moat_ctx *ctx, const char *id, pid_t **pids, size_t *n, struct moat_error *err)
{
  struct moat_state st = { 0 };
  struct moat_cgroup cg = { 0 };
  int ret;

  if (with_cgroup (ctx, id, true, &st, &cg, err) < 0)
    return -1;
  ret = moat_cgroup_pids (&cg, pids, n, err);
  moat_cgroup_free (&cg);
  moat_state_free (&st);
  return ret;
}

int
moat_container_update (const struct moat_ctx *ctx, const char *id, const struct moat_resources *res,
                       struct moat_error *err)
{
  struct moat_state st = { 0 };
  struct moat_cgroup cg = { 0 };
  int ret;

  if (with_cgroup (ctx, id, true, &st, &cg, err) < 0)
    return -1;
  ret = moat_cgroup_update (&cg, res, err);
  if (ret == 0)
    moat_container_event (ctx, "update", &st, NULL, 0);
  moat_cgroup_free (&cg);
  moat_state_free (&st);
  return ret;
}

uint64_t
moat_container_oom_kills (const struct moat_ctx *ctx, const char *id)
{
  struct moat_state st = { 0 };
  struct moat_cgroup cg = { 0 };
  struct moat_cgroup_stats stats = { 0 };
  struct moat_error err;

  if (moat_container_load (ctx, id, &st, NULL, &err) < 0)
    return 0;
  if (st.cgroup_path && moat_cgroup_open (&cg, st.cgroup_path, &err) == 0)
    moat_cgroup_stats (&cg, &stats, &err);
  moat_cgroup_free (&cg);
  moat_state_free (&st);
  return stats.oom_kills;
}
