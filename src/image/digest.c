/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "image/image.h"

/* OpenSSL's EVP interface picks the SHA-NI/AVX2 implementation at run time,
 * which is what keeps verification near `sha256sum` speed. */
struct moat_sha256
{
  EVP_MD_CTX *ctx;
};

struct moat_sha256 *
moat_sha256_new (void)
{
  struct moat_sha256 *h = calloc (1, sizeof *h);

  if (h == NULL)
    return NULL;
  h->ctx = EVP_MD_CTX_new ();
  if (h->ctx == NULL || EVP_DigestInit_ex (h->ctx, EVP_sha256 (), NULL) != 1)
    {
      EVP_MD_CTX_free (h->ctx);
      free (h);
      return NULL;
    }
  return h;
}

void
moat_sha256_update (struct moat_sha256 *h, const void *data, size_t len)
{
  EVP_DigestUpdate (h->ctx, data, len);
}

void
moat_sha256_final (struct moat_sha256 *h, char *out)
{
  static const char hex[] = "0123456789abcdef";
  unsigned char md[32];
  unsigned int n = 0, i;

  EVP_DigestFinal_ex (h->ctx, md, &n);
  memcpy (out, "sha256:", 7);
  for (i = 0; i < 32; i++)
    {
      out[7 + 2 * i] = hex[md[i] >> 4];
      out[7 + 2 * i + 1] = hex[md[i] & 15];
    }
  out[7 + 64] = '\0';
  moat_sha256_free (h);
}

void
moat_sha256_free (struct moat_sha256 *h)
{
  if (h == NULL)
    return;
  EVP_MD_CTX_free (h->ctx);
  free (h);
}

bool
moat_digest_valid (const char *digest)
{
  size_t i;

  if (digest == NULL || strncmp (digest, "sha256:", 7) != 0)
    return false;
  for (i = 0; i < MOAT_DIGEST_HEX; i++)
    {
      char c = digest[7 + i];
      if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
        return false;
    }
  return digest[7 + MOAT_DIGEST_HEX] == '\0';
}

void
moat_sha256_buf (const void *data, size_t len, char *out)
{
  struct moat_sha256 *h = moat_sha256_new ();

  if (h == NULL)
    abort ();
  moat_sha256_update (h, data, len);
  moat_sha256_final (h, out);
}
