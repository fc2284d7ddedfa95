/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MOAT_SANDBOX_H
#define MOAT_SANDBOX_H

#include <stdbool.h>
#include <sys/types.h>

#include "sandbox/cgroup.h"
#include "sandbox/seccomp.h"
#include "spec/spec.h"
#include "util/error.h"

/* Parent <-> init protocol over a SOCK_SEQPACKET socketpair: one message per
 * step, so every failure in the child reaches the parent with its own message
 * and errno (struct moat_error travels verbatim). */
enum moat_sync
{
  MOAT_SYNC_USERNS_READY = 1, /* child -> parent: I unshared a user ns, write my id maps */
  MOAT_SYNC_GO,               /* parent -> child: maps written (and, except in the fast path, cgroup joined) */
  MOAT_SYNC_PID,              /* child -> parent: the init's host pid (after the pid-ns fork) */
  MOAT_SYNC_MOUNTS_DONE,      /* child -> parent: run createRuntime hooks now */
  MOAT_SYNC_HOOKS_DONE,       /* parent -> child: payload = state JSON for container hooks */
  MOAT_SYNC_PTY_MASTER,       /* child -> parent: pty master attached (foreground run -t) */
  MOAT_SYNC_CREATED,          /* child -> parent: waiting for start */
  MOAT_SYNC_ERROR,            /* child -> parent: payload = struct moat_error */
  MOAT_SYNC_IDMAP_TREE,       /* parent -> child: fd = idmapped tree, payload "root" or the mount index */
  MOAT_SYNC_START,            /* parent -> child: exec the process (start_over_sync) */
  MOAT_SYNC_CGROUP_JOINED,    /* parent -> child, fast path: in the container's cgroup now */
};

struct moat_sandbox
{
  /* inputs */
  const struct moat_spec *spec;
  const char *id;
  const char *bundle;
  const char *rootfs;                 /* absolute */
  const struct moat_cgroup *cgroup;   /* already created */
  const struct moat_seccomp_prog *seccomp; /* NULL: no filter */
  int start_fd;                       /* listening socket `start` connects to, or -1 */
  int exec_stub_fd;                   /* sealed exec stub the init execs through, or -1 */
  bool start_over_sync;               /* `run`: the creator starts the init itself over
                                         the sync socket (MOAT_SYNC_START), which then
                                         reports like the start socket's connection */
  int console_socket_fd;              /* connected console socket, or -1 */
  bool want_pty_master;               /* foreground run with a terminal: send the master to us */
  int preserve_fds;
  bool no_pivot;
  bool no_new_keyring;
  const char *state_json;             /* for hooks; pid filled in by the parent */
  /* internal: namespaces joined by path, opened and type-checked by the
     parent before clone (so a bad path fails before anything exists) */
  int join_fds[16];
  int join_types[16];
  size_t n_joins;
  /* internal, the init's copy: idmapped trees from the parent (-1: none) */
  int idmap_root_fd;
  int *idmap_mount_fds;               /* spec->n_mounts entries, or NULL */
  /* outputs */
  pid_t init_pid;
  int pty_master_fd;                  /* when want_pty_master */
  int sync_fd;                        /* when start_over_sync: our end, else -1 */
};

/* Spawn the container's init and drive it to the "created" state: namespaces,
 * id maps, cgroup, mounts, createRuntime/createContainer hooks, pivot_root,
 * masked paths, sysctls, executable lookup.  On failure the init is killed and
 * reaped; the caller removes the cgroup and the state dir. */
int moat_sandbox_create (struct moat_sandbox *sb, struct moat_error *err);

/* The container's side, in sandbox/init.c.  Never returns. */
__attribute__ ((noreturn)) void moat_init_main (struct moat_sandbox *sb, int sync_fd, bool fast);

/* Shared by init.c and spawn.c.  A message carries at most
 * MOAT_SYNC_MAX_PAYLOAD bytes: a larger send fails with E2BIG before anything
 * is sent, a received header claiming more, or a length that disagrees with
 * the datagram, is EPROTO (never parsed).  moat_sync_socketpair makes the
 * SOCK_SEQPACKET pair with a send buffer that holds the largest message. */
#define MOAT_SYNC_MAX_PAYLOAD (256 * 1024)
int moat_sync_socketpair (int sv[2], struct moat_error *err);
int moat_sync_send (int fd, enum moat_sync type, const void *payload, size_t len, int pass_fd,
                    struct moat_error *err);
int moat_sync_recv (int fd, enum moat_sync *type, char **payload, size_t *len, int *recv_fd,
                    struct moat_error *err);
/* Whether the init stops after its mounts for the parent's hooks (and for the
 * state with its pid that the init's own hooks are given): only when the spec
 * has prestart, createRuntime, createContainer or startContainer hooks. */
bool moat_sandbox_hook_sync (const struct moat_spec *spec);

/* Namespace helpers (ns.c). */
int moat_ns_open_joins (const struct moat_spec *spec, int *fds, int *types, size_t *n, struct moat_error *err);
int moat_userns_write_maps (pid_t pid, const struct moat_spec *spec, struct moat_error *err);
/* One map file ("uid_map" or "gid_map") of PID. */
int moat_userns_write_map (pid_t pid, const char *file, const struct moat_id_map *m, size_t n,
                           struct moat_error *err);
/* The CLONE_NEW* flags the config asks to create (no path). */
int moat_ns_new_flags (const struct moat_spec *spec);

/* The process-level steps shared by init and exec (init.c): everything from
 * rlimits to execve, in the order explained there.  REPORT_FD is the socket to
 * the runtime process waiting for the result (`start` or `exec`): a seccomp
 * listener fd travels back over it (SCM_RIGHTS, one NUL byte) so that the
 * runtime hands it to the agent from the host.  STUB_FD >= 0: exec through
 * the sealed exec stub (exe_stub.c).  Never returns on success. */
int moat_exec_process (const struct moat_spec *spec, const struct moat_process *p, int stub_fd,
                       const struct moat_seccomp_prog *seccomp, int preserve_fds, int report_fd,
                       struct moat_error *err);

/* The runtime's side of REPORT_FD: read until EOF (execve closed it: success)
 * or an error message (returned in ERR, -1).  A seccomp listener fd received
 * on the way is sent to linux.seccomp.listenerPath with the process state. */
int moat_exec_reply_wait (int sock, const struct moat_spec *spec, pid_t pid, const char *state_json,
                          struct moat_error *err);

/* Hooks (hooks.c): run each hook of LIST with STATE_JSON on stdin, honouring
 * its timeout.  NAME is the config field for messages ("hooks.createRuntime"). */
int moat_hooks_run (const struct moat_hook_list *list, const char *name, const char *state_json,
                    struct moat_error *err);

/* Terminal (console.c). */
int moat_console_open (int rootfd, int *master, int *peer, struct moat_error *err);
int moat_console_bind (int rootfd, int peer, struct moat_error *err);
int moat_console_send (int console_socket_fd, int master, struct moat_error *err);
int moat_console_become_ctty (int peer, const struct moat_process *p, struct moat_error *err);
int moat_console_connect (const char *path, int *fd, struct moat_error *err);
int moat_console_recv (int sock, int *fd, struct moat_error *err);
int moat_send_fd (int sock, const void *data, size_t len, int fd, struct moat_error *err);
/* Copy between our stdio and MASTER until the container side closes (foreground run -t). */
void moat_console_relay_step (int master, bool *stdin_open, bool *done);

/* Exe sealing (exe_seal.c): make sure we run from a sealed copy of our binary
 * (through a private read-only overlayfs, else a sealed memfd), re-executing
 * ourselves when not (CVE-2019-5736). */
int moat_exe_ensure_sealed (char **argv, struct moat_error *err);
bool moat_exe_is_sealed (void);
/* Whether the exe of process PID is a sealed memfd or a file on a read-only
 * overlayfs, so that no open of it for writing can succeed. */
bool moat_exe_of_pid_unwritable (pid_t pid);
/* True when no process of SPEC's container can open our binary for writing:
 * its user namespace (created by moat from the spec's mappings) maps neither
 * the binary's owner nor its group, the binary has no group or other write
 * bit, and it lives on a filesystem with the kernel's generic DAC check.
 * The reasoning is beside the definition. */
bool moat_exe_unwritable_from (const struct moat_spec *spec);
/* Before a container of SPEC is spawned: return 0 when we run sealed or
 * moat_exe_unwritable_from(SPEC); return 0 with *STUB_FD set when the init's
 * execve through the exec stub keeps our binary out of reach (exe_stub.c);
 * otherwise re-exec sealed with ARGV (this call then does not return), or
 * fail when ARGV is NULL. */
int moat_exe_seal_for (const struct moat_spec *spec, char **argv, int *stub_fd, struct moat_error *err);

/* The exec stub (exe_stub.c; the reasoning is at the top of that file).
 * moat_exec_stub_protects: whether SPEC's container may be created by a moat
 * that is not running sealed, its init exec'ing through the stub.
 * moat_exec_stub_memfd: a sealed memfd of the stub (CLOEXEC), or -1.
 * In the init, once the process's ids and capabilities are set:
 * moat_exec_stub_prepare keeps REPORT_FD open across the stub's exec and
 * the init non-dumpable; moat_exec_via_stub execs EXE with ARGV (ARGC
 * entries) and ENVP through the stub, returning only on failure. */
bool moat_exec_stub_protects (const struct moat_spec *spec);
int moat_exec_stub_memfd (void);
int moat_exec_stub_prepare (int report_fd, struct moat_error *err);
int moat_exec_via_stub (int stub_fd, int report_fd, const char *exe, char *const *argv, size_t argc,
                        char *const *envp, struct moat_error *err);

#endif
