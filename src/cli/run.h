/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MOAT_CLI_RUN_H
#define MOAT_CLI_RUN_H

#include <jansson.h>
#include <stdbool.h>

/* Docker's seccomp profile format (moby/profiles/seccomp/default.json) into
 * linux.seccomp: "archMap" becomes "architectures", rules whose "includes"
 * are not met (or whose "excludes" are) for the native architecture, the
 * kernel and the capability names in CAPS are left out, and Docker-only keys
 * ("comment", "includes", "excludes") are dropped.  An OCI profile comes out
 * with the same content.  Returns a new reference. */
json_t *moat_docker_seccomp (json_t *prof, json_t *caps);

/* Docker's --mount "type=bind,source=S,target=T[,readonly]" or
 * "type=tmpfs,target=T[,tmpfs-size=N][,tmpfs-mode=M]" as the equivalent
 * -v (*VOLUME) or --tmpfs (*TMPFS) argument; exactly one is set (heap). */
#include "util/error.h"
int moat_run_mount_translate (const char *spec, char **volume, char **tmpfs, struct moat_error *err);

/* --privileged (run_privileged.c): every capability, no seccomp, no masked
 * or read-only paths, a writable /sys, the host's devices, no Landlock; the
 * user namespace stays.  Admission decides whether it runs. */
int moat_run_apply_privileged (json_t *doc, bool host_userns, struct moat_error *err);
/* The one-line warning of what --privileged turned off (after admission). */
void moat_run_privileged_warning (bool host_userns);

/* --secret (run_secrets.c). */
#include <stdbool.h>
#include <sys/types.h>
struct moat_run_secret
{
  const char *src;
  char *target;
  mode_t mode;
  long long uid; /* -1: the container user */
};
struct moat_run_secrets
{
  struct moat_run_secret v[16];
  size_t n;
};
int moat_run_parse_secret (struct moat_run_secrets *f, const char *arg, struct moat_error *err);
void moat_run_secrets_free (struct moat_run_secrets *f);
/* Mount the secrets tmpfs on a fresh PATH (PATH_MAX bytes) and fill it;
 * *MOUNT is the bind mount to add to the config (NULL without secrets). */
int moat_run_setup_secrets (const struct moat_run_secrets *f, json_t *doc, char *path, bool *mounted, json_t **bind,
                            struct moat_error *err);

#endif
