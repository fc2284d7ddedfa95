/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MOAT_SECCOMP_H
#define MOAT_SECCOMP_H

#include <stddef.h>
#include <stdint.h>

#include "spec/spec.h"
#include "util/error.h"

/* A compiled filter: classic BPF instructions ready for seccomp(2). */
struct moat_seccomp_prog
{
  void *insns;   /* struct sock_filter[] */
  size_t n_insns;
  unsigned int flags; /* SECCOMP_FILTER_FLAG_* from the config */
  bool notify;        /* has an SCMP_ACT_NOTIFY rule: needs NEW_LISTENER */
};

/* Compile the OCI seccomp object with libseccomp for the native arch plus the
 * listed architectures.  Unknown syscall names are skipped (as runc and crun
 * do: a profile names syscalls of many kernels); unknown actions, arches, flags
 * and bad argument indexes are errors.  Runs in the parent, before clone, so a
 * bad profile fails create before any process exists. */
int moat_seccomp_compile (const struct moat_seccomp *sc, struct moat_seccomp_prog *prog,
                          struct moat_error *err);

/* Load PROG into the calling thread (seccomp(2), SECCOMP_SET_MODE_FILTER).
 * When the filter has a NOTIFY action, *notify_fd receives the listener fd
 * (else -1).  Requires no_new_privs or CAP_SYS_ADMIN, as the kernel does. */
int moat_seccomp_load (const struct moat_seccomp_prog *prog, int *notify_fd, struct moat_error *err);

/* Hand the listener fd to the agent at LISTENER_PATH (SCM_RIGHTS, with the
 * container state JSON as payload, per the runtime-spec seccomp-notify protocol). */
int moat_seccomp_send_listener (const char *listener_path, int notify_fd, const char *state_json,
                                struct moat_error *err);

void moat_seccomp_prog_free (struct moat_seccomp_prog *prog);

/* Build the runtime-spec "container process state", the only STATE_JSON
 * moat_seccomp_send_listener accepts (it refuses any other shape): {"ociVersion", "fds": ["seccompFd"], "pid",
 * "metadata" (listenerMetadata, omitted when NULL), "state": STATE_JSON (the
 * `moat state` object)}.  *OUT is a heap string (free()). */
int moat_seccomp_process_state (const char *oci_version, pid_t pid, const char *metadata,
                                const char *state_json, char **out, struct moat_error *err);

#endif
