/* SPDX-License-Identifier: GPL-2.0-or-later */
/* linux.seccomp: compile the OCI profile with libseccomp into classic BPF in
 * the parent (a bad profile fails `create` before any process exists), load it
 * with the raw seccomp(2) syscall as the init's last step before execve, and
 * hand a user-notification listener fd to the agent at listenerPath. */
#include "sandbox/seccomp.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/syscalls.h"

/* The kernel refuses programs longer than BPF_MAXINSNS; say so at compile
 * time rather than with a bare EINVAL from the init. */
#ifndef BPF_MAXINSNS
#define BPF_MAXINSNS 4096
#endif

/* The kernel clamps SECCOMP_RET_ERRNO data to MAX_ERRNO (kernel/seccomp.c);
 * a larger errnoRet would silently become 4095, so it is refused instead. */
#define MOAT_MAX_ERRNO 4095

static void
moat_seccomp_ctx_release (scmp_filter_ctx *ctx)
{
  if (*ctx)
    seccomp_release (*ctx);
}
#define cleanup_scmp __attribute__ ((cleanup (moat_seccomp_ctx_release)))

/* Every architecture the runtime-spec names.  SUPPORTED is false for those
 * newer than the libseccomp moat is built against: refused, not ignored. */
#define ARCH(name) { "SCMP_ARCH_" #name, SCMP_ARCH_##name, true }
#define ARCH_MISSING(name) { "SCMP_ARCH_" #name, 0, false }
static const struct
{
  const char *name;
  uint32_t token;
  bool supported;
} moat_arches[] = {
  ARCH (NATIVE), ARCH (X86), ARCH (X86_64), ARCH (X32), ARCH (ARM), ARCH (AARCH64),
  ARCH (MIPS), ARCH (MIPS64), ARCH (MIPS64N32), ARCH (MIPSEL), ARCH (MIPSEL64),
  ARCH (MIPSEL64N32), ARCH (PPC), ARCH (PPC64), ARCH (PPC64LE), ARCH (S390), ARCH (S390X),
  ARCH (PARISC), ARCH (PARISC64), ARCH (RISCV64),
#ifdef SCMP_ARCH_LOONGARCH64
  ARCH (LOONGARCH64),
#else
  ARCH_MISSING (LOONGARCH64),
#endif
#ifdef SCMP_ARCH_M68K
  ARCH (M68K),
#else
  ARCH_MISSING (M68K),
#endif
#ifdef SCMP_ARCH_SH
  ARCH (SH), ARCH (SHEB),
#else
  ARCH_MISSING (SH), ARCH_MISSING (SHEB),
#endif
};
#undef ARCH
#undef ARCH_MISSING

static const struct
{
  const char *name;
  unsigned int flag;
} moat_seccomp_flags[] = {
  { "SECCOMP_FILTER_FLAG_TSYNC", SECCOMP_FILTER_FLAG_TSYNC },
  { "SECCOMP_FILTER_FLAG_LOG", SECCOMP_FILTER_FLAG_LOG },
  { "SECCOMP_FILTER_FLAG_SPEC_ALLOW", SECCOMP_FILTER_FLAG_SPEC_ALLOW },
  { "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV },
};

/* Map an OCI action (plus its optional errnoRet) to a libseccomp action.
 * FIELD names the JSON member for error messages. */
static int
moat_seccomp_action (enum moat_seccomp_action act, bool has_errno, unsigned int errno_ret,
                     const char *field, uint32_t *out, struct moat_error *err)
{
  /* runtime-spec: "When the action doesn't support an errno, the runtime
     MUST print an error and fail." */
  if (has_errno && act != MOAT_SCMP_ERRNO && act != MOAT_SCMP_TRACE)
    return moat_err (err, 0, "%s: errnoRet is only valid with SCMP_ACT_ERRNO and SCMP_ACT_TRACE",
                     field);
  if (!has_errno)
    errno_ret = EPERM;
  switch (act)
    {
    case MOAT_SCMP_KILL_THREAD:
      *out = SCMP_ACT_KILL_THREAD;
      return 0;
    case MOAT_SCMP_KILL_PROCESS:
      *out = SCMP_ACT_KILL_PROCESS;
      return 0;
    case MOAT_SCMP_TRAP:
      *out = SCMP_ACT_TRAP;
      return 0;
    case MOAT_SCMP_ERRNO:
      if (errno_ret > MOAT_MAX_ERRNO)
        return moat_err (err, 0, "%s: errnoRet %u is above %d, the largest errno seccomp returns",
                         field, errno_ret, MOAT_MAX_ERRNO);
      *out = SCMP_ACT_ERRNO (errno_ret);
      return 0;
    case MOAT_SCMP_TRACE:
      if (errno_ret > 0xffff)
        return moat_err (err, 0, "%s: errnoRet %u does not fit the 16-bit SECCOMP_RET_DATA",
                         field, errno_ret);
      *out = SCMP_ACT_TRACE (errno_ret);
      return 0;
    case MOAT_SCMP_ALLOW:
      *out = SCMP_ACT_ALLOW;
      return 0;
    case MOAT_SCMP_LOG:
      *out = SCMP_ACT_LOG;
      return 0;
    case MOAT_SCMP_NOTIFY:
      *out = SCMP_ACT_NOTIFY;
      return 0;
    }
  return moat_err (err, 0, "%s: unknown action %d", field, (int) act);
}

static int
moat_seccomp_op (enum moat_seccomp_op op, enum scmp_compare *out)
{
  switch (op)
    {
    case MOAT_SCMP_CMP_NE:
      *out = SCMP_CMP_NE;
      return 0;
    case MOAT_SCMP_CMP_LT:
      *out = SCMP_CMP_LT;
      return 0;
    case MOAT_SCMP_CMP_LE:
      *out = SCMP_CMP_LE;
      return 0;
    case MOAT_SCMP_CMP_EQ:
      *out = SCMP_CMP_EQ;
      return 0;
    case MOAT_SCMP_CMP_GE:
      *out = SCMP_CMP_GE;
      return 0;
    case MOAT_SCMP_CMP_GT:
      *out = SCMP_CMP_GT;
      return 0;
    case MOAT_SCMP_CMP_MASKED_EQ:
      *out = SCMP_CMP_MASKED_EQ;
      return 0;
    }
  return -1;
}

static int
moat_seccomp_add_arches (scmp_filter_ctx ctx, const struct moat_strv *arches, struct moat_error *err)
{
  size_t i, j;

  for (i = 0; i < arches->n; i++)
    {
      int r;

      for (j = 0; j < MOAT_ARRAY_SIZE (moat_arches); j++)
        if (strcmp (arches->v[i], moat_arches[j].name) == 0)
          break;
      if (j == MOAT_ARRAY_SIZE (moat_arches))
        return moat_err (err, 0, "linux.seccomp.architectures[%zu]: unknown architecture `%s`", i,
                         arches->v[i]);
      if (!moat_arches[j].supported)
        return moat_err (err, 0,
                         "linux.seccomp.architectures[%zu]: architecture `%s` is not supported by "
                         "libseccomp %u.%u.%u",
                         i, arches->v[i], seccomp_version ()->major, seccomp_version ()->minor,
                         seccomp_version ()->micro);
      r = seccomp_arch_add (ctx, moat_arches[j].token);
      /* -EEXIST: the native arch is already in every new context. */
      if (r < 0 && r != -EEXIST)
        return moat_err (err, -r, "linux.seccomp.architectures[%zu]: add `%s`", i, arches->v[i]);
    }
  return 0;
}

static int
moat_seccomp_parse_flags (const struct moat_strv *flags, unsigned int *out, struct moat_error *err)
{
  size_t i, j;

  *out = 0;
  for (i = 0; i < flags->n; i++)
    {
      for (j = 0; j < MOAT_ARRAY_SIZE (moat_seccomp_flags); j++)
        if (strcmp (flags->v[i], moat_seccomp_flags[j].name) == 0)
          break;
      if (j == MOAT_ARRAY_SIZE (moat_seccomp_flags))
        return moat_err (err, 0, "linux.seccomp.flags[%zu]: unknown flag `%s`", i, flags->v[i]);
      *out |= moat_seccomp_flags[j].flag;
    }
  return 0;
}

/* Add one syscall name of rule I; returns 1 when added, 0 when skipped.
 * runc's semantics for arguments: when two or more args name the same index
 * they are OR'ed (one rule per arg), else all args are AND'ed in one rule
 * (libcontainer/seccomp/seccomp_linux.go). */
static int
moat_seccomp_add_name (scmp_filter_ctx ctx, const struct moat_seccomp_rule *rule, size_t i,
                       const char *name, uint32_t action, const struct scmp_arg_cmp *cmps,
                       struct moat_error *err)
{
  unsigned int per_index[6] = { 0 };
  bool separate = false;
  size_t j;
  int nr, r;

  nr = seccomp_syscall_resolve_name (name);
  if (nr == __NR_SCMP_ERROR)
    /* Unknown to libseccomp: skipped, as runc and crun do, so that one
       profile serves kernels older and newer than this libseccomp. */
    return 0;

  for (j = 0; j < rule->n_args; j++)
    if (++per_index[rule->args[j].index] > 1)
      separate = true;

  if (!separate)
    {
      r = seccomp_rule_add_array (ctx, action, nr, (unsigned int) rule->n_args, cmps);
      if (r < 0)
        return moat_err (err, -r, "linux.seccomp.syscalls[%zu]: add rule for `%s`", i, name);
      return 1;
    }
  for (j = 0; j < rule->n_args; j++)
    {
      r = seccomp_rule_add_array (ctx, action, nr, 1, &cmps[j]);
      if (r < 0)
        return moat_err (err, -r, "linux.seccomp.syscalls[%zu].args[%zu]: add rule for `%s`", i, j, name);
    }
  return 1;
}

/* Syscalls the init itself makes between loading the filter and handing the
 * listener fd to its parent: a NOTIFY rule on them would block the init on a
 * listener nobody holds yet (runc refuses `write` for the same reason). */
static const char *const moat_notify_forbidden[] = { "write", "sendmsg" };

static int
moat_seccomp_rule_args (const struct moat_seccomp_rule *rule, const char *field,
                        struct scmp_arg_cmp *cmps, struct moat_error *err)
{
  size_t j;

  for (j = 0; j < rule->n_args; j++)
    {
      const struct moat_seccomp_arg *a = &rule->args[j];
      enum scmp_compare op;

      if (a->index > 5)
        return moat_err (err, 0, "%s.args[%zu].index: %u is out of range (0..5)", field, j, a->index);
      if (moat_seccomp_op (a->op, &op) < 0)
        return moat_err (err, 0, "%s.args[%zu].op: unknown operator %d", field, j, (int) a->op);
      /* For MASKED_EQ the OCI `value` is the mask and `valueTwo` the datum,
         matching libseccomp's datum_a and datum_b. */
      cmps[j] = (struct scmp_arg_cmp) { .arg = a->index, .op = op, .datum_a = a->value,
                                        .datum_b = a->value_two };
    }
  return 0;
}

static int
moat_seccomp_add_rule (scmp_filter_ctx ctx, const struct moat_seccomp_rule *rule, size_t i,
                       uint32_t default_action, struct moat_seccomp_prog *prog, struct moat_error *err)
{
  cleanup_free struct scmp_arg_cmp *cmps = NULL;
  char field[64];
  uint32_t action;
  size_t j, k;

  snprintf (field, sizeof field, "linux.seccomp.syscalls[%zu]", i);
  if (moat_seccomp_action (rule->action, rule->has_errno_ret, rule->errno_ret, field, &action, err) < 0)
    return -1;
  if (rule->names.n == 0)
    return moat_err (err, 0, "%s.names: must name at least one syscall", field);
  cmps = calloc (rule->n_args ? rule->n_args : 1, sizeof *cmps);
  if (cmps == NULL)
    return moat_err (err, ENOMEM, "%s.args", field);
  if (moat_seccomp_rule_args (rule, field, cmps, err) < 0)
    return -1;
  if (rule->action == MOAT_SCMP_NOTIFY)
    for (j = 0; j < rule->names.n; j++)
      for (k = 0; k < MOAT_ARRAY_SIZE (moat_notify_forbidden); k++)
        if (strcmp (rule->names.v[j], moat_notify_forbidden[k]) == 0)
          return moat_err (err, 0,
                           "%s: SCMP_ACT_NOTIFY cannot be used for `%s`: the runtime needs it to hand "
                           "over the listener fd",
                           field, rule->names.v[j]);

  /* libseccomp refuses a rule whose action is the default one (EACCES); it
     would be a no-op anyway. */
  if (action == default_action)
    return 0;

  for (j = 0; j < rule->names.n; j++)
    {
      int r = moat_seccomp_add_name (ctx, rule, i, rule->names.v[j], action, cmps, err);
      if (r < 0)
        return -1;
      if (r > 0 && rule->action == MOAT_SCMP_NOTIFY)
        prog->notify = true;
    }
  return 0;
}

/* libseccomp 2.5.4 can only export to an fd: write into a memfd and read the
 * instructions back. */
static int
moat_seccomp_export (scmp_filter_ctx ctx, struct moat_seccomp_prog *prog, struct moat_error *err)
{
  cleanup_fd int fd = memfd_create ("moat-seccomp", MFD_CLOEXEC);
  cleanup_free void *buf = NULL;
  struct stat st;
  size_t done = 0;
  int r;

  if (fd < 0)
    return moat_err (err, errno, "linux.seccomp: memfd_create");
  r = seccomp_export_bpf (ctx, fd);
  if (r < 0)
    return moat_err (err, -r, "linux.seccomp: export the BPF program");
  if (fstat (fd, &st) < 0)
    return moat_err (err, errno, "linux.seccomp: fstat the exported program");
  if (st.st_size <= 0 || st.st_size % (off_t) sizeof (struct sock_filter) != 0)
    return moat_err (err, 0, "linux.seccomp: exported program has an invalid size %lld",
                     (long long) st.st_size);
  if ((size_t) st.st_size / sizeof (struct sock_filter) > BPF_MAXINSNS)
    return moat_err (err, 0,
                     "linux.seccomp: the profile compiles to %zu BPF instructions, the kernel accepts at most %d",
                     (size_t) st.st_size / sizeof (struct sock_filter), BPF_MAXINSNS);
  buf = malloc ((size_t) st.st_size);
  if (buf == NULL)
    return moat_err (err, ENOMEM, "linux.seccomp: read the exported program");
  while (done < (size_t) st.st_size)
    {
      ssize_t n = pread (fd, (char *) buf + done, (size_t) st.st_size - done, (off_t) done);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return moat_err (err, errno, "linux.seccomp: read the exported program");
      if (n == 0)
        return moat_err (err, EIO, "linux.seccomp: short read of the exported program");
      done += (size_t) n;
    }
  prog->n_insns = (size_t) st.st_size / sizeof (struct sock_filter);
  prog->insns = steal_ptr (&buf);
  return 0;
}

int
moat_seccomp_compile (const struct moat_seccomp *sc, struct moat_seccomp_prog *prog, struct moat_error *err)
{
  cleanup_scmp scmp_filter_ctx ctx = NULL;
  uint32_t default_action;
  size_t i;
  int r;

  memset (prog, 0, sizeof *prog);
  if (sc->default_action == MOAT_SCMP_NOTIFY)
    /* Every syscall of the init, including the one handing the listener fd
       to the parent, would wait on a listener nobody holds yet. */
    return moat_err (err, 0, "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default action");
  if (moat_seccomp_action (sc->default_action, sc->has_default_errno_ret, sc->default_errno_ret,
                           "linux.seccomp.defaultAction", &default_action, err) < 0)
    return -1;
  if (moat_seccomp_parse_flags (&sc->flags, &prog->flags, err) < 0)
    return -1;

  ctx = seccomp_init (default_action);
  if (ctx == NULL)
    return moat_err (err, 0, "linux.seccomp: seccomp_init failed for the default action");
  /* moat sets no_new_privs itself, at its own step of the init; the filter is
     loaded with the raw syscall, so libseccomp must not add it. */
  r = seccomp_attr_set (ctx, SCMP_FLTATR_CTL_NNP, 0);
  if (r < 0)
    return moat_err (err, -r, "linux.seccomp: disable libseccomp's no_new_privs");
  /* A binary tree of syscall numbers instead of a linear list: with ~360
     allowed names every syscall the container makes walks log(n) compares,
     not n. */
  r = seccomp_attr_set (ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
  if (r < 0)
    return moat_err (err, -r, "linux.seccomp: enable libseccomp's binary-tree filter");
  if (moat_seccomp_add_arches (ctx, &sc->architectures, err) < 0)
    return -1;

  for (i = 0; i < sc->n_rules; i++)
    if (moat_seccomp_add_rule (ctx, &sc->rules[i], i, default_action, prog, err) < 0)
      {
        moat_seccomp_prog_free (prog);
        return -1;
      }
  if (prog->notify && (sc->listener_path == NULL || sc->listener_path[0] == '\0'))
    {
      moat_seccomp_prog_free (prog);
      return moat_err (err, 0, "linux.seccomp.listenerPath: required when a rule uses SCMP_ACT_NOTIFY");
    }
  if (moat_seccomp_export (ctx, prog, err) < 0)
    {
      moat_seccomp_prog_free (prog);
      return -1;
    }
  return 0;
}

int
moat_seccomp_load (const struct moat_seccomp_prog *prog, int *notify_fd, struct moat_error *err)
{
  struct sock_fprog fprog;
  unsigned int flags = prog->flags;
  int r;

  if (notify_fd)
    *notify_fd = -1;
  if (prog->insns == NULL || prog->n_insns == 0 || prog->n_insns > BPF_MAXINSNS)
    return moat_err (err, 0, "seccomp: no compiled program to load");
  fprog.len = (unsigned short) prog->n_insns;
  fprog.filter = prog->insns;
  if (prog->notify)
    {
      if (notify_fd == NULL)
        return moat_err (err, 0, "seccomp: the filter has SCMP_ACT_NOTIFY rules but no listener was asked for");
      flags |= SECCOMP_FILTER_FLAG_NEW_LISTENER;
      /* The kernel refuses TSYNC with NEW_LISTENER unless TSYNC_ESRCH makes a
         thread-sync failure an error code instead of a thread id. */
      if (flags & SECCOMP_FILTER_FLAG_TSYNC)
        flags |= SECCOMP_FILTER_FLAG_TSYNC_ESRCH;
    }
  r = sys_seccomp (SECCOMP_SET_MODE_FILTER, flags, &fprog);
  if (r < 0 && errno == EACCES)
    return moat_err (err, errno, "seccomp: load the filter (needs no_new_privs or CAP_SYS_ADMIN)");
  if (r < 0)
    return moat_err (err, errno, "seccomp: load the filter");
  if (prog->notify)
    *notify_fd = r; /* the kernel makes the listener O_CLOEXEC */
  else if (r > 0)
    /* TSYNC without TSYNC_ESRCH reports a thread it could not synchronise
       by returning that thread's id: the filter is not on every thread. */
    return moat_err (err, 0, "seccomp: thread %d could not be synchronised to the filter", r);
  return 0;
}

/* Check that STATE_JSON is a runtime-spec "container process state" naming
   exactly one fd, seccompFd: an agent reads fds[i] to know what it got. */
static int
moat_seccomp_check_process_state (const char *state_json, struct moat_error *err)
{
  json_error_t jerr;
  json_t *root = json_loads (state_json, 0, &jerr);
  json_t *fds;
  int ret = 0;

  if (root == NULL)
    return moat_err (err, 0, "seccomp listener: state is not valid JSON: %s", jerr.text);
  fds = json_object_get (root, "fds");
  if (!json_is_object (root) || !json_is_string (json_object_get (root, "ociVersion"))
      || !json_is_integer (json_object_get (root, "pid")) || !json_is_object (json_object_get (root, "state"))
      || !json_is_array (fds) || json_array_size (fds) != 1
      || !json_is_string (json_array_get (fds, 0))
      || strcmp (json_string_value (json_array_get (fds, 0)), "seccompFd") != 0)
    ret = moat_err (err, 0, "seccomp listener: state is not a container process state with fds [\"seccompFd\"]");
  json_decref (root);
  return ret;
}

int
moat_seccomp_send_listener (const char *listener_path, int notify_fd, const char *state_json,
                            struct moat_error *err)
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  cleanup_fd int sock = -1;
  size_t len, done = 0;
  bool first = true;

  if (listener_path == NULL || listener_path[0] == '\0')
    return moat_err (err, 0, "linux.seccomp.listenerPath: not set");
  if (strlen (listener_path) >= sizeof addr.sun_path)
    return moat_err (err, 0, "linux.seccomp.listenerPath: `%s` is longer than %zu bytes",
                     listener_path, sizeof addr.sun_path - 1);
  if (notify_fd < 0)
    return moat_err (err, 0, "seccomp listener: no listener fd to send");
  if (moat_seccomp_check_process_state (state_json, err) < 0)
    return -1;
  memcpy (addr.sun_path, listener_path, strlen (listener_path) + 1);

  sock = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (sock < 0)
    return moat_err (err, errno, "seccomp listener: socket");
  while (connect (sock, (struct sockaddr *) &addr, sizeof addr) < 0)
    if (errno != EINTR)
      return moat_err (err, errno, "linux.seccomp.listenerPath: connect to `%s`", listener_path);

  /* runtime-spec: the fds go with the first sendmsg only; the JSON may take
     several. */
  len = strlen (state_json);
  while (done < len)
    {
      union
      {
        char buf[CMSG_SPACE (sizeof (int))];
        struct cmsghdr align;
      } control;
      struct iovec iov = { .iov_base = (char *) state_json + done, .iov_len = len - done };
      struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
      ssize_t n;

      if (first)
        {
          struct cmsghdr *cmsg;

          memset (&control, 0, sizeof control);
          msg.msg_control = control.buf;
          msg.msg_controllen = sizeof control.buf;
          cmsg = CMSG_FIRSTHDR (&msg);
          cmsg->cmsg_level = SOL_SOCKET;
          cmsg->cmsg_type = SCM_RIGHTS;
          cmsg->cmsg_len = CMSG_LEN (sizeof (int));
          memcpy (CMSG_DATA (cmsg), &notify_fd, sizeof (int));
        }
      n = sendmsg (sock, &msg, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return moat_err (err, errno, "linux.seccomp.listenerPath: send the listener fd to `%s`", listener_path);
      first = false;
      done += (size_t) n;
    }
  /* One state per connection, then close (runtime-spec). */
  return 0;
}

int
moat_seccomp_process_state (const char *oci_version, pid_t pid, const char *metadata,
                            const char *state_json, char **out, struct moat_error *err)
{
  json_error_t jerr;
  json_t *state = json_loads (state_json, 0, &jerr);
  json_t *root;

  *out = NULL;
  if (state == NULL || !json_is_object (state))
    {
      json_decref (state);
      return moat_err (err, 0, "seccomp listener: container state is not a JSON object");
    }
  root = json_pack ("{s:s, s:[s], s:I, s:o}", "ociVersion", oci_version, "fds", "seccompFd", "pid",
                    (json_int_t) pid, "state", state);
  if (root == NULL)
    return moat_err (err, ENOMEM, "seccomp listener: build the container process state");
  if (metadata && json_object_set_new (root, "metadata", json_string (metadata)) < 0)
    {
      json_decref (root);
      return moat_err (err, 0, "seccomp listener: linux.seccomp.listenerMetadata is not valid UTF-8");
    }
  *out = json_dumps (root, JSON_COMPACT);
  json_decref (root);
  if (*out == NULL)
    return moat_err (err, ENOMEM, "seccomp listener: serialise the container process state");
  return 0;
}

void
moat_seccomp_prog_free (struct moat_seccomp_prog *prog)
{
  if (prog == NULL)
    return;
  free (prog->insns);
  prog->insns = NULL;
  prog->n_insns = 0;
  prog->notify = false;
}
