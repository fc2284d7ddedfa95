/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MOAT_SECCOMP_CACHE_H
#define MOAT_SECCOMP_CACHE_H

#include <stdbool.h>

#include "sandbox/seccomp.h"
#include "util/sha256.h"

/* A cache of compiled seccomp filters.  libseccomp needs ~15 ms to compile a
 * Docker-sized profile, most of a container's start time; the BPF depends only
 * on the profile, the native arch, libseccomp's version and API level, and
 * moat's version, so it is compiled once per key and stored as
 * <dir>/<sha256 hex of the key>.bpf (0600, in a 0700 directory owned by the
 * caller's euid).  A cache file is used only when its header repeats the key
 * and a SHA-256 of its instructions matches; anything else (truncated,
 * corrupt, foreign owner, group/other-writable) is ignored and rebuilt. */

#define MOAT_SECCOMP_CACHE_DIR "/run/moat/.seccomp-cache"

/* Drop-in for moat_seccomp_compile: same contract and errors.  The cache is an
 * optimisation only: when MOAT_SECCOMP_CACHE_DIR cannot be used (not root, a
 * read-only /run, wrong owner or mode) or $MOAT_SECCOMP_CACHE is "off", the
 * profile is compiled as if there were no cache. */
int moat_seccomp_compile_cached (const struct moat_seccomp *sc, struct moat_seccomp_prog *prog,
                                 struct moat_error *err);

/* The same with an explicit cache directory (created 0700 if missing; its
 * parent must exist).  *HIT (may be NULL) says whether the program came from
 * the cache. */
int moat_seccomp_compile_cached_at (const char *dir, const struct moat_seccomp *sc,
                                    struct moat_seccomp_prog *prog, bool *hit, struct moat_error *err);

/* The cache key of SC on this host (see above). */
void moat_seccomp_cache_key (const struct moat_seccomp *sc, unsigned char key[MOAT_SHA256_LEN]);

#endif
