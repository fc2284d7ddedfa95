/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MOAT_LANDLOCK_H
#define MOAT_LANDLOCK_H

/* Landlock: the container process may write only beneath its declared
 * writable mounts, and read and execute everywhere else.  Opt-in per config
 * with the annotation org.moat.landlock ("on" / "off"; absent = off, so configs
 * from podman or Docker behave as with runc); the hardened default spec sets
 * it.  "on" on a kernel without Landlock fails (closed). */

#include <stdbool.h>
#include <stdint.h>

#include "spec/spec.h"
#include "util/error.h"

#define MOAT_LANDLOCK_ANNOTATION "org.moat.landlock"

struct moat_landlock_rule
{
  const char *path; /* container path (borrowed from the spec or static) */
  uint64_t access;  /* LANDLOCK_ACCESS_FS_*; trimmed to file rights on a non-directory */
};

struct moat_landlock_rules
{
  uint64_t handled; /* every right this ABI knows: what is not granted is denied */
  struct moat_landlock_rule *v;
  size_t n;
};

/* 1 when the annotation says "on", 0 for "off" or absent, < 0 for any other value. */
int moat_landlock_wanted (const struct moat_spec *spec, struct moat_error *err);

/* Parent-side check at create, before anything exists: the annotation's
 * value, Landlock present when "on" (fail closed), and a process that can
 * restrict itself (process.noNewPrivileges, or CAP_SYS_ADMIN kept effective). */
int moat_landlock_check (const struct moat_spec *spec, struct moat_error *err);

/* The kernel's Landlock ABI version, 0 when Landlock is absent or disabled. */
int moat_landlock_abi (void);

/* The rules for SPEC under ABI (>= 1), computed from the config alone:
 *  - "/": read files, list directories, execute (all of it writable too when
 *    root.readonly is false);
 *  - every mount without "ro" other than proc, sysfs, mqueue and the /dev
 *    tmpfs: all rights but creating device nodes (bind, tmpfs, cgroup, ...);
 *  - devpts mounts, the standard /dev nodes (null, zero, full, random,
 *    urandom, tty, ptmx, console) and linux.devices: read, write, truncate and
 *    device ioctls only.
 * The /dev tmpfs itself stays read-only to the process: the runtime fills it,
 * and nothing legitimate creates files there. */
int moat_landlock_rules (const struct moat_spec *spec, int abi, struct moat_landlock_rules *out,
                         struct moat_error *err);
void moat_landlock_rules_free (struct moat_landlock_rules *r);

/* The init step (sandbox/init.c, after no_new_privs, before seccomp): when
 * wanted, build the ruleset from the paths as seen from the process's root
 * (after pivot_root), skipping the ones that do not exist, and restrict the
 * calling thread.  Needs no_new_privs (or CAP_SYS_ADMIN) as the kernel does. */
int moat_landlock_apply (const struct moat_spec *spec, struct moat_error *err);

#endif
