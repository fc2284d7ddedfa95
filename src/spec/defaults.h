/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MOAT_DEFAULTS_H
#define MOAT_DEFAULTS_H

/* The configs `moat spec` writes.  Both are data files compiled in
 * (data/default-spec.json and data/compat-spec.json, see data/meson.build). */

#include <stdbool.h>
#include <stdint.h>

#include "util/error.h"

/* Container root's host range when no subordinate range is configured. */
#define MOAT_USERNS_DEFAULT_HOST_ID 100000u
#define MOAT_USERNS_DEFAULT_SIZE 65536u
/* The user whose /etc/subuid and /etc/subgid entries moat maps containers to. */
#define MOAT_SUBID_USER "moat"

/* The first subordinate range of USER (or of UID, as the shadow tools accept
 * either) in the subuid/subgid file PATH.  Returns 1 and fills *START and *COUNT,
 * 0 when the file or the entry does not exist, < 0 for a malformed entry of
 * USER or a range that would include host id 0 (container root must never be
 * host root). */
int moat_subid_range (const char *path, const char *user, long uid, uint32_t *start, uint32_t *count,
                      struct moat_error *err);

/* The uid of USER in the passwd file PATH, or -1 (no such file, user or
 * valid uid field).  Read directly rather than through getpwnam(): the moat
 * executable is static, and glibc's NSS cannot be used safely from a static
 * binary.  Only the local file counts, as for the shadow tools' subuid
 * lookups. */
long moat_passwd_uid (const char *path, const char *user);

/* The config as a NUL-terminated JSON document (heap, free()).  Hardened:
 * data/default-spec.json with its user namespace mapped to the subordinate
 * ranges of MOAT_SUBID_USER in SUBUID_PATH and SUBGID_PATH (size capped at
 * 65536), or to MOAT_USERNS_DEFAULT_* when either range is missing.  COMPAT:
 * data/compat-spec.json, the equivalent of `runc spec` (no user namespace,
 * runc's three capabilities, no seccomp, no limits). */
int moat_default_spec_json (bool compat, const char *subuid_path, const char *subgid_path, char **out,
                            struct moat_error *err);

#endif
