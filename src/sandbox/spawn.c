/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The parent side of container creation: clone the init, write its id maps,
 * put it in its cgroup, run the runtime-namespace hooks, and wait until it
 * reports "created" (or its error). */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox/idmap.h"
#include "sandbox/sandbox.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/syscalls.h"

struct sync_header
{
  uint32_t type;
  uint32_t len;
};

#define SYNC_MAX_PAYLOAD MOAT_SYNC_MAX_PAYLOAD

int
moat_sync_socketpair (int sv[2], struct moat_error *err)
{
  /* A SOCK_SEQPACKET message must fit the sender's sk_sndbuf (unix_dgram_sendmsg
     refuses len > sndbuf - 32 with EMSGSIZE), and the default (wmem_default,
     212992) is below SYNC_MAX_PAYLOAD: a larger hooks state would fail to send
     although moat_sync_send accepts it.  SO_SNDBUF is doubled by the kernel and
     capped at 2 * wmem_max, which is enough for the maximum even with the
     default wmem_max. */
  int size = SYNC_MAX_PAYLOAD + (int) sizeof (struct sync_header) + 64;

  if (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
    return moat_err (err, errno, "socketpair");
  if (setsockopt (sv[0], SOL_SOCKET, SO_SNDBUF, &size, sizeof size) < 0
      || setsockopt (sv[1], SOL_SOCKET, SO_SNDBUF, &size, sizeof size) < 0)
    {
      int e = errno;
      close (sv[0]);
      close (sv[1]);
      return moat_err (err, e, "socketpair: set the send buffer size");
    }
  return 0;
}

int
moat_sync_send (int fd, enum moat_sync type, const void *payload, size_t len, int pass_fd,
                struct moat_error *err)
{
  struct sync_header h = { .type = type, .len = (uint32_t) len };
  struct iovec iov[2] = { { &h, sizeof h }, { (void *) payload, len } };
  char cbuf[CMSG_SPACE (sizeof (int))];
  struct msghdr msg = { .msg_iov = iov, .msg_iovlen = len ? 2 : 1 };
  ssize_t r;

  if (len > SYNC_MAX_PAYLOAD)
    return moat_err (err, E2BIG, "sync message too large (%zu bytes)", len);
  if (pass_fd >= 0)
    {
      struct cmsghdr *c;
      memset (cbuf, 0, sizeof cbuf);
      msg.msg_control = cbuf;
      msg.msg_controllen = sizeof cbuf;
      c = CMSG_FIRSTHDR (&msg);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN (sizeof (int));
      memcpy (CMSG_DATA (c), &pass_fd, sizeof (int));
    }
  do
    r = sendmsg (fd, &msg, MSG_NOSIGNAL);
  while (r < 0 && errno == EINTR);
  if (r < 0)
    return moat_err (err, errno, "sync send");
  return 0;
}

/* A unix socket whose peer closed with data of ours unread in its queue
 * reports ECONNRESET once (the error is cleared by reporting it), and a
 * SOCK_SEQPACKET recv reports it before the messages the peer sent first:
 * typically the init's error, sent as it failed while our GO was on its way.
 * Read on once, so that message is not lost; then the queue or EOF. */
static bool
peer_reset_once (bool *reset)
{
  if (errno != ECONNRESET || *reset)
    return false;
  *reset = true;
  return true;
}

int
moat_sync_recv (int fd, enum moat_sync *type, char **payload, size_t *len, int *recv_fd,
                struct moat_error *err)
{
  struct sync_header h;
  cleanup_free char *buf = NULL;
  struct iovec iov = { &h, sizeof h };
  char cbuf[CMSG_SPACE (sizeof (int))];
  struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
                        .msg_controllen = sizeof cbuf };
  struct cmsghdr *c;
  ssize_t r;
  bool reset = false;

  if (recv_fd)
    *recv_fd = -1;
  /* Peek at the header first: the buffer is then the message's own size
     (most messages have no payload), not the 256 KiB maximum, whose malloc
     and free cost an mmap and munmap on every message. */
  do
    r = recv (fd, &h, sizeof h, MSG_PEEK);
  while (r < 0 && (errno == EINTR || peer_reset_once (&reset)));
  if (r < 0)
    return moat_err (err, errno, "sync receive");
  if (r == 0)
    return moat_err (err, EPIPE, "container init exited unexpectedly");
  if ((size_t) r < sizeof h)
    return moat_err (err, EPROTO, "sync receive: short message");
  if (h.len > SYNC_MAX_PAYLOAD)
    return moat_err (err, EPROTO, "sync receive: message too large (%u bytes)", h.len);
  buf = malloc (sizeof h + h.len + 1);
  if (buf == NULL)
    return moat_err (err, ENOMEM, "sync receive");
  iov.iov_base = buf;
  iov.iov_len = sizeof h + h.len;
  do
    r = recvmsg (fd, &msg, MSG_CMSG_CLOEXEC);
  while (r < 0 && (errno == EINTR || peer_reset_once (&reset)));
  if (r < 0)
    return moat_err (err, errno, "sync receive");
  if (r == 0)
    return moat_err (err, EPIPE, "container init exited unexpectedly");
  for (c = CMSG_FIRSTHDR (&msg); c; c = CMSG_NXTHDR (&msg, c))
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
      {
        int got;
        memcpy (&got, CMSG_DATA (c), sizeof got);
        if (recv_fd && *recv_fd < 0)
          *recv_fd = got;
        else
          close (got);
      }
  memcpy (&h, buf, sizeof h);
  if ((size_t) r < sizeof h || h.len != (size_t) r - sizeof h || (msg.msg_flags & MSG_TRUNC))
    {
      if (recv_fd)
        moat_closep (recv_fd);
      return moat_err (err, EPROTO, "sync receive: truncated message");
    }
  *type = (enum moat_sync) h.type;
  if (payload)
    {
      memmove (buf, buf + sizeof h, h.len);
      buf[h.len] = '\0';
      *payload = steal_ptr (&buf);
    }
  if (len)
    *len = h.len;
  return 0;
}

bool
moat_sandbox_hook_sync (const struct moat_spec *spec)
{
  return spec->hooks[MOAT_HOOK_PRESTART].n > 0 || spec->hooks[MOAT_HOOK_CREATE_RUNTIME].n > 0
         || spec->hooks[MOAT_HOOK_CREATE_CONTAINER].n > 0 || spec->hooks[MOAT_HOOK_START_CONTAINER].n > 0;
}

static pid_t
clone_fork (unsigned long flags)
{
  /* A raw clone with no new stack behaves like fork() but can create
     namespaces at the same time: the child is pid 1 of a new pid namespace
     without a second fork. */
  return (pid_t) syscall (SYS_clone, flags | SIGCHLD, NULL, NULL, NULL, 0UL);
}

/* Receive the next message; SYNC_ERROR is turned into the child's own error. */
static int
expect (int fd, enum moat_sync want, char **payload, int *recv_fd, struct moat_error *err)
{
  enum moat_sync type;
  cleanup_free char *p = NULL;
  size_t len;

  if (moat_sync_recv (fd, &type, &p, &len, recv_fd, err) < 0)
    return -1;
  if (type == MOAT_SYNC_ERROR)
    {
      if (len == sizeof (struct moat_error))
        {
          memcpy (err, p, sizeof *err);
          err->msg[sizeof err->msg - 1] = '\0';
        }
      else
        moat_err (err, EPROTO, "container init failed");
      return -1;
    }
  if (type != want)
    return moat_err (err, EPROTO, "sync: expected message %d, got %d", want, type);
  if (payload)
    *payload = steal_ptr (&p);
  return 0;
}

/* A send to the child failed (it exited): its own error is usually queued
 * on the socket already; report that rather than our EPIPE.  Any other send
 * failure (a message too large) leaves the child alive and waiting for that
 * message, so waiting for its error would deadlock both: report ours. */
static int
child_error_instead (int fd, struct moat_error *err)
{
  enum moat_sync type;
  cleanup_free char *p = NULL;
  size_t len;
  struct moat_error mine = *err;

  if (mine.code != EPIPE && mine.code != ECONNRESET)
    return -1;
  if (moat_sync_recv (fd, &type, &p, &len, NULL, err) == 0 && type == MOAT_SYNC_ERROR
      && len == sizeof (struct moat_error))
    {
      memcpy (err, p, sizeof *err);
      err->msg[sizeof err->msg - 1] = '\0';
      return -1;
    }
  *err = mine;
  return -1;
}

static int
parent_setup_child (struct moat_sandbox *sb, int fd, pid_t child, bool fast, int new_flags,
                    struct moat_error *err)
{
  const struct moat_spec *spec = sb->spec;

  if (new_flags & CLONE_NEWUSER)
    {
      /* In the fast path the user namespace exists as soon as clone returns;
         otherwise the child asks once it has unshared it. */
      if (!fast && expect (fd, MOAT_SYNC_USERNS_READY, NULL, NULL, err) < 0)
        return -1;
      if (moat_userns_write_maps (child, spec, err) < 0)
        return -1;
    }
  /* Our own failure (the child only waits for GO): no child error to fetch. */
  if (moat_idmap_send_trees (sb, fd, child, err) < 0)
    return -1;
  moat_debug ("spawn: id maps written");
  /* In the fast path the child builds its mounts while we move it into its
     cgroup (the first write to a v1 cgroup.procs waits for an RCU grace
     period); it waits for CGROUP_JOINED before it unshares its cgroup
     namespace, mounts cgroups or runs anything (sandbox/init.c).  The
     general path unshares every namespace at once after GO, so it joins
     first. */
  if (fast && moat_sync_send (fd, MOAT_SYNC_GO, NULL, 0, -1, err) < 0)
    return child_error_instead (fd, err);
  /* Joined before the child unshares its cgroup namespace, so the
     namespace's root is the container's own cgroup. */
  if (sb->cgroup && moat_cgroup_enter (sb->cgroup, child, err) < 0)
    return -1;
  moat_debug ("spawn: cgroup joined");
  if (spec->process.has_oom_score_adj)
    {
      char path[64], val[32];
      int n = snprintf (val, sizeof val, "%d", spec->process.oom_score_adj);
      snprintf (path, sizeof path, "/proc/%d/oom_score_adj", (int) child);
      if (moat_write_file_at (AT_FDCWD, path, val, (size_t) n, err) < 0)
        return moat_error_wrap (err, "process.oomScoreAdj");
    }
  if (moat_sync_send (fd, fast ? MOAT_SYNC_CGROUP_JOINED : MOAT_SYNC_GO, NULL, 0, -1, err) < 0)
    return child_error_instead (fd, err);
  return 0;
}

static int
parent_drive (struct moat_sandbox *sb, int fd, pid_t child, bool fast, struct moat_error *err)
{
  const struct moat_spec *spec = sb->spec;
  int new_flags = moat_ns_new_flags (spec);
  cleanup_free char *pidtxt = NULL;
  cleanup_free char *state = NULL;
  size_t state_len;

  if (parent_setup_child (sb, fd, child, fast, new_flags, err) < 0)
    return -1;
  sb->init_pid = child;
  if (!fast && (spec->linux.n_namespaces > 0))
    {
      /* The child forked the real init into the new pid (and time) namespace
         and told us its pid; the intermediate child exits. */
      if (expect (fd, MOAT_SYNC_PID, &pidtxt, NULL, err) < 0)
        return -1;
      sb->init_pid = (pid_t) atoi (pidtxt);
      waitpid (child, NULL, 0);
    }
  /* The init opens the terminal right after its mounts (the pty must come
     from the container's devpts): the master arrives before MOUNTS_DONE. */
  if (sb->want_pty_master && spec->process.terminal
      && expect (fd, MOAT_SYNC_PTY_MASTER, NULL, &sb->pty_master_fd, err) < 0)
    return -1;
  if (!moat_sandbox_hook_sync (spec))
    return expect (fd, MOAT_SYNC_CREATED, NULL, NULL, err);
  if (expect (fd, MOAT_SYNC_MOUNTS_DONE, NULL, NULL, err) < 0)
    return -1;

  /* The state hooks see: status "creating" and the init's host pid. */
  {
    const char *tmpl = sb->state_json ? sb->state_json : "{}";
    size_t tl = strlen (tmpl);
    state = malloc (tl + 64);
    if (state == NULL)
      return moat_err (err, ENOMEM, "hooks state");
    /* state_json ends with '}' and has no "pid": splice it in. */
    if (tl >= 2 && tmpl[tl - 1] == '}')
      snprintf (state, tl + 64, "%.*s%s\"pid\": %d}", (int) (tl - 1), tmpl,
                tl > 2 ? ", " : "", (int) sb->init_pid);
    else
      snprintf (state, tl + 64, "%s", tmpl);
    state_len = strlen (state);
  }
  if (moat_hooks_run (&spec->hooks[MOAT_HOOK_PRESTART], "hooks.prestart", state, err) < 0
      || moat_hooks_run (&spec->hooks[MOAT_HOOK_CREATE_RUNTIME], "hooks.createRuntime", state, err) < 0)
    return -1;
  if (moat_sync_send (fd, MOAT_SYNC_HOOKS_DONE, state, state_len + 1, -1, err) < 0)
    return child_error_instead (fd, err);
  return expect (fd, MOAT_SYNC_CREATED, NULL, NULL, err);
}

int
moat_sandbox_create (struct moat_sandbox *sb, struct moat_error *err)
{
  const struct moat_spec *spec = sb->spec;
  int sv[2];
  int new_flags = moat_ns_new_flags (spec);
  bool has_joins = false, fast;
  unsigned long clone_flags = 0;
  pid_t child;
  size_t i;
  int ret;

  sb->init_pid = 0;
  sb->pty_master_fd = -1;
  sb->sync_fd = -1;
  sb->idmap_root_fd = -1;
  sb->idmap_mount_fds = NULL;
  for (i = 0; i < spec->linux.n_namespaces; i++)
    if (spec->linux.namespaces[i].path)
      has_joins = true;
  /* Fast path: every namespace is new, so one clone() creates them all and
     the child is pid 1 directly.  Joining by path (the order of setns and
     unshare matters) or a time namespace (only unshare can make one, and it
     applies to children) takes the general path with a second fork. */
  fast = !has_joins && !(new_flags & CLONE_NEWTIME);
  if (fast)
    clone_flags = (unsigned long) (new_flags & ~(CLONE_NEWCGROUP | CLONE_NEWTIME));

  /* The hooks state (with the config's annotations) travels to the init in
     one sync message (HOOKS_DONE): refuse an oversize one by its field before
     anything exists, not half way through the handshake (CVE-2021-43784 was
     an oversize parent->child message). 64: the pid parent_drive splices in. */
  if (moat_sandbox_hook_sync (spec) && sb->state_json
      && strlen (sb->state_json) + 64 + 1 > SYNC_MAX_PAYLOAD)
    return moat_err (err, E2BIG,
                     "annotations: the container state passed to hooks would exceed %d bytes (%zu)",
                     SYNC_MAX_PAYLOAD, strlen (sb->state_json) + 64 + 1);
  sb->n_joins = 0;
  if (has_joins && moat_ns_open_joins (spec, sb->join_fds, sb->join_types, &sb->n_joins, err) < 0)
    return -1;
  if (moat_sync_socketpair (sv, err) < 0)
    {
      for (i = 0; i < sb->n_joins; i++)
        close (sb->join_fds[i]);
      return -1;
    }

  moat_debug ("spawn: cloning");
  child = clone_fork (clone_flags);
  if (child < 0)
    {
      int e = errno;
      close (sv[0]);
      close (sv[1]);
      for (i = 0; i < sb->n_joins; i++)
        close (sb->join_fds[i]);
      return moat_err (err, e, "clone the container init");
    }
  if (child == 0)
    {
      close (sv[0]);
      moat_init_main (sb, sv[1], fast);
    }
  close (sv[1]);
  for (i = 0; i < sb->n_joins; i++)
    close (sb->join_fds[i]);
  ret = parent_drive (sb, sv[0], child, fast, err);
  if (ret == 0 && sb->start_over_sync)
    sb->sync_fd = sv[0];
  else
    close (sv[0]);
  if (ret < 0)
    {
      /* Kill what we spawned; the cgroup and state dir are the caller's. */
      if (sb->init_pid > 0 && sb->init_pid != child)
        kill (sb->init_pid, SIGKILL);
      kill (child, SIGKILL);
      waitpid (child, NULL, 0);
      if (sb->pty_master_fd >= 0)
        close (sb->pty_master_fd);
      sb->pty_master_fd = -1;
      return -1;
    }
  return 0;
}

static int
send_listener (const struct moat_spec *spec, int fd, pid_t pid, const char *state_json, struct moat_error *err)
{
  const struct moat_seccomp *sc = spec ? spec->linux.seccomp : NULL;
  cleanup_free char *msg = NULL;

  if (sc == NULL || sc->listener_path == NULL)
    return moat_err (err, EPROTO, "seccomp listener fd without linux.seccomp.listenerPath");
  if (moat_seccomp_process_state (spec->oci_version ? spec->oci_version : "1.2.0", pid, sc->listener_metadata,
                                  state_json ? state_json : "{}", &msg, err) < 0)
    return -1;
  return moat_seccomp_send_listener (sc->listener_path, fd, msg, err);
}

int
moat_exec_reply_wait (int sock, const struct moat_spec *spec, pid_t pid, const char *state_json,
                      struct moat_error *err)
{
  char reply[MOAT_ERROR_MSG_MAX];
  size_t off = 0;
  bool reset = false;

  for (;;)
    {
      char buf[MOAT_ERROR_MSG_MAX];
      char cbuf[CMSG_SPACE (sizeof (int))];
      struct iovec iov = { buf, sizeof buf };
      struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
                            .msg_controllen = sizeof cbuf };
      struct cmsghdr *c;
      ssize_t n = recvmsg (sock, &msg, MSG_CMSG_CLOEXEC);
      ssize_t i;

      if (n < 0 && (errno == EINTR || peer_reset_once (&reset)))
        continue;
      if (n < 0)
        return moat_err (err, errno, "wait for the process to start");
      for (c = CMSG_FIRSTHDR (&msg); c; c = CMSG_NXTHDR (&msg, c))
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
          {
            cleanup_fd int fd = -1;
            memcpy (&fd, CMSG_DATA (c), sizeof fd);
            if (send_listener (spec, fd, pid, state_json, err) < 0)
              return moat_error_wrap (err, "linux.seccomp.listenerPath");
          }
      if (n == 0)
        break;
      for (i = 0; i < n; i++)
        if (buf[i] != '\0' && off < sizeof reply - 1)
          reply[off++] = buf[i];
    }
  reply[off] = '\0';
  if (off == 0)
    return 0;
  {
    /* The exec stub cannot spell an errno: it ends its message with \1 and
       the number (src/stub/exec_stub.c). */
    char *mark = strrchr (reply, '\1');
    if (mark && mark[1] >= '0' && mark[1] <= '9' && strspn (mark + 1, "0123456789") == strlen (mark + 1))
      {
        int e = atoi (mark + 1);
        *mark = '\0';
        return moat_err (err, e, "%s", reply[0] ? reply : "exec");
      }
  }
  return moat_err (err, 0, "%s", reply);
}
