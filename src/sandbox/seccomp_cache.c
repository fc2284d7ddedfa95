/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sandbox/seccomp_cache.h"
#include "util/cleanup.h"
#include "util/fs.h"

#define CACHE_MAGIC "MOATBPF1"

/* On-disk header, followed by n_insns struct sock_filter.  Native byte order:
 * the key includes the native arch, so a file never crosses endianness. */
struct cache_header
{
  char magic[8];
  unsigned char key[MOAT_SHA256_LEN];
  unsigned char insns_sha256[MOAT_SHA256_LEN];
  uint32_t flags;
  uint32_t notify;
  uint64_t n_insns;
};

static void
put_u64 (struct moat_sha256 *s, uint64_t v)
{
  unsigned char b[8];
  int i;

  for (i = 0; i < 8; i++)
    b[i] = (unsigned char) (v >> (8 * i));
  moat_sha256_update (s, b, sizeof b);
}

/* Length-prefixed, so ("ab","c") and ("a","bc") differ; NULL differs from "". */
static void
put_str (struct moat_sha256 *s, const char *str)
{
  if (str == NULL)
    {
      put_u64 (s, UINT64_MAX);
      return;
    }
  put_u64 (s, strlen (str));
  moat_sha256_update (s, str, strlen (str));
}

static void
put_strv (struct moat_sha256 *s, const struct moat_strv *v)
{
  size_t i;

  put_u64 (s, v->n);
  for (i = 0; i < v->n; i++)
    put_str (s, v->v[i]);
}

void
moat_seccomp_cache_key (const struct moat_seccomp *sc, unsigned char key[MOAT_SHA256_LEN])
{
  const struct scmp_version *ver = seccomp_version ();
  struct moat_sha256 s;
  size_t i, j;

  moat_sha256_init (&s);
  put_str (&s, CACHE_MAGIC);
  put_str (&s, MOAT_VERSION);
  /* How moat_seccomp_compile drives libseccomp (e.g. the binary-tree
     optimisation): bump when that changes, so no stale filter is reused. */
  put_str (&s, "compile-options-2");
  /* libseccomp's syscall tables and code generator change between releases,
     and its API level (probed from the running kernel) changes which actions
     and flags it emits. */
  put_u64 (&s, ver ? ver->major : 0);
  put_u64 (&s, ver ? ver->minor : 0);
  put_u64 (&s, ver ? ver->micro : 0);
  put_u64 (&s, seccomp_api_get ());
  put_u64 (&s, seccomp_arch_native ());
  put_u64 (&s, (uint64_t) sc->default_action);
  put_u64 (&s, sc->has_default_errno_ret);
  put_u64 (&s, sc->default_errno_ret);
  put_strv (&s, &sc->architectures);
  put_strv (&s, &sc->flags);
  put_str (&s, sc->listener_path);
  put_str (&s, sc->listener_metadata);
  put_u64 (&s, sc->n_rules);
  for (i = 0; i < sc->n_rules; i++)
    {
      const struct moat_seccomp_rule *r = &sc->rules[i];
      put_strv (&s, &r->names);
      put_u64 (&s, (uint64_t) r->action);
      put_u64 (&s, r->has_errno_ret);
      put_u64 (&s, r->errno_ret);
      put_u64 (&s, r->n_args);
      for (j = 0; j < r->n_args; j++)
        {
          put_u64 (&s, r->args[j].index);
          put_u64 (&s, r->args[j].value);
          put_u64 (&s, r->args[j].value_two);
          put_u64 (&s, (uint64_t) r->args[j].op);
        }
    }
  moat_sha256_final (&s, key);
}

/* Open (creating if missing) the cache dir, and trust it only if it is ours
 * and nobody else can write into it: a planted file would be loaded as the
 * container's filter. */
static int
open_cache_dir (const char *dir)
{
  cleanup_fd int fd = -1;
  struct stat st;

  fd = open (dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT)
    {
      if (mkdir (dir, 0700) < 0 && errno != EEXIST)
        return -1;
      fd = open (dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
  if (fd < 0 || fstat (fd, &st) < 0)
    return -1;
  if (st.st_uid != geteuid () || (st.st_mode & 077) != 0)
    return -1;
  return steal_fd (&fd);
}

/* Returns 1 and fills PROG on a valid entry, 0 otherwise (missing or bad). */
static int
cache_read (int dirfd, const char *name, const unsigned char key[MOAT_SHA256_LEN],
            struct moat_seccomp_prog *prog)
{
  cleanup_fd int fd = openat (dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  cleanup_free unsigned char *buf = NULL;
  unsigned char digest[MOAT_SHA256_LEN];
  struct cache_header h;
  struct stat st;
  size_t size, done = 0, payload;

  if (fd < 0 || fstat (fd, &st) < 0)
    return 0;
  if (!S_ISREG (st.st_mode) || st.st_uid != geteuid () || (st.st_mode & 077) != 0)
    return 0;
  if (st.st_size < (off_t) sizeof h
      || st.st_size > (off_t) (sizeof h + BPF_MAXINSNS * sizeof (struct sock_filter)))
    return 0;
  size = (size_t) st.st_size;
  buf = malloc (size);
  if (buf == NULL)
    return 0;
  while (done < size)
    {
      ssize_t n = pread (fd, buf + done, size - done, (off_t) done);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return 0;
      done += (size_t) n;
    }
  memcpy (&h, buf, sizeof h);
  payload = size - sizeof h;
  if (memcmp (h.magic, CACHE_MAGIC, sizeof h.magic) != 0 || memcmp (h.key, key, MOAT_SHA256_LEN) != 0)
    return 0;
  if (h.n_insns == 0 || h.n_insns > BPF_MAXINSNS || payload != h.n_insns * sizeof (struct sock_filter))
    return 0;
  moat_sha256 (buf + sizeof h, payload, digest);
  if (memcmp (digest, h.insns_sha256, MOAT_SHA256_LEN) != 0)
    return 0;
  prog->insns = malloc (payload);
  if (prog->insns == NULL)
    return 0;
  memcpy (prog->insns, buf + sizeof h, payload);
  prog->n_insns = (size_t) h.n_insns;
  prog->flags = h.flags;
  prog->notify = h.notify != 0;
  return 1;
}

static void
cache_write (int dirfd, const char *name, const unsigned char key[MOAT_SHA256_LEN],
             const struct moat_seccomp_prog *prog)
{
  size_t payload = prog->n_insns * sizeof (struct sock_filter);
  cleanup_free unsigned char *buf = malloc (sizeof (struct cache_header) + payload);
  struct cache_header h;
  struct moat_error ignored = { 0 };

  if (buf == NULL)
    return;
  memset (&h, 0, sizeof h);
  memcpy (h.magic, CACHE_MAGIC, sizeof h.magic);
  memcpy (h.key, key, MOAT_SHA256_LEN);
  moat_sha256 (prog->insns, payload, h.insns_sha256);
  h.flags = prog->flags;
  h.notify = prog->notify;
  h.n_insns = prog->n_insns;
  memcpy (buf, &h, sizeof h);
  memcpy (buf + sizeof h, prog->insns, payload);
  /* Written to a temporary name and renamed: a concurrent reader sees the old
     file, the new one or none.  A failed write only costs the next start a
     compile. */
  (void) moat_write_file_atomic (dirfd, name, buf, sizeof h + payload, 0600, &ignored);
}

int
moat_seccomp_compile_cached_at (const char *dir, const struct moat_seccomp *sc,
                                struct moat_seccomp_prog *prog, bool *hit, struct moat_error *err)
{
  unsigned char key[MOAT_SHA256_LEN];
  char name[2 * MOAT_SHA256_LEN + 8];
  cleanup_fd int dirfd = -1;

  if (hit)
    *hit = false;
  memset (prog, 0, sizeof *prog);
  dirfd = open_cache_dir (dir);
  if (dirfd < 0)
    return moat_seccomp_compile (sc, prog, err);
  moat_seccomp_cache_key (sc, key);
  moat_sha256_hex (key, name);
  strcat (name, ".bpf");
  if (cache_read (dirfd, name, key, prog))
    {
      if (hit)
        *hit = true;
      return 0;
    }
  /* Only a successful compile is stored, so a hit implies every check of
     moat_seccomp_compile passed for exactly this profile. */
  if (moat_seccomp_compile (sc, prog, err) < 0)
    return -1;
  cache_write (dirfd, name, key, prog);
  return 0;
}

int
moat_seccomp_compile_cached (const struct moat_seccomp *sc, struct moat_seccomp_prog *prog,
                             struct moat_error *err)
{
  const char *knob = getenv ("MOAT_SECCOMP_CACHE");

  if (knob && strcmp (knob, "off") == 0)
    return moat_seccomp_compile (sc, prog, err);
  /* /run/moat is the default state root; it may not exist yet. */
  if (mkdir ("/run/moat", 0700) < 0 && errno != EEXIST)
    return moat_seccomp_compile (sc, prog, err);
  return moat_seccomp_compile_cached_at (MOAT_SECCOMP_CACHE_DIR, sc, prog, NULL, err);
}
