/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MOAT_SHA256_H
#define MOAT_SHA256_H

/* SHA-256 (FIPS 180-4), self-contained: the start-up path (the seccomp filter
 * cache key) must not pay for loading libcrypto. */

#include <stddef.h>
#include <stdint.h>

#define MOAT_SHA256_LEN 32

struct moat_sha256
{
  uint32_t h[8];
  uint64_t total;
  unsigned char buf[64];
  size_t used;
};

void moat_sha256_init (struct moat_sha256 *s);
void moat_sha256_update (struct moat_sha256 *s, const void *data, size_t len);
void moat_sha256_final (struct moat_sha256 *s, unsigned char out[MOAT_SHA256_LEN]);

/* One-shot digest, and its lower-case hex form (HEX holds 65 bytes). */
void moat_sha256 (const void *data, size_t len, unsigned char out[MOAT_SHA256_LEN]);
void moat_sha256_hex (const unsigned char digest[MOAT_SHA256_LEN], char hex[2 * MOAT_SHA256_LEN + 1]);

#endif
