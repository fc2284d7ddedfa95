/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec/defaults.h"
#include "util/cleanup.h"

/* Generated from data/default-spec.json and data/compat-spec.json by
   scripts/embed-data.py. */
extern const unsigned char moat_data_default_spec[], moat_data_compat_spec[];
extern const size_t moat_data_default_spec_len, moat_data_compat_spec_len;

static int
parse_u32 (const char *s, uint32_t *out)
{
  char *end;
  unsigned long long v;

  if (*s < '0' || *s > '9')
    return -1;
  errno = 0;
  v = strtoull (s, &end, 10);
  if (errno || *end != '\0' || v > UINT32_MAX)
    return -1;
  *out = (uint32_t) v;
  return 0;
}

int
moat_subid_range (const char *path, const char *user, long uid, uint32_t *start, uint32_t *count,
                  struct moat_error *err)
{
  cleanup_file FILE *f = fopen (path, "re");
  cleanup_free char *line = NULL;
  char uidstr[32];
  size_t cap = 0;
  ssize_t n;
  unsigned lineno = 0;

  if (f == NULL)
    return errno == ENOENT ? 0 : moat_err (err, errno, "open `%s`", path);
  snprintf (uidstr, sizeof uidstr, "%ld", uid);
  while ((n = getline (&line, &cap, f)) >= 0)
    {
      char *name, *s_start, *s_count, *rest = line;

      lineno++;
      if (n > 0 && line[n - 1] == '\n')
        line[n - 1] = '\0';
      if (line[0] == '#' || line[0] == '\0')
        continue;
      name = strsep (&rest, ":");
      if (strcmp (name, user) != 0 && (uid < 0 || strcmp (name, uidstr) != 0))
        continue;
      s_start = strsep (&rest, ":");
      s_count = strsep (&rest, ":");
      if (s_start == NULL || s_count == NULL || rest != NULL || parse_u32 (s_start, start) < 0
          || parse_u32 (s_count, count) < 0 || *count == 0)
        return moat_err (err, 0, "%s:%u: malformed entry for `%s` (want NAME:START:COUNT)", path, lineno,
                         user);
      /* Container root is mapped to START: a range holding host root would
         make it host root again. */
      if (*start == 0)
        return moat_err (err, 0, "%s:%u: the range of `%s` starts at 0 (host root)", path, lineno, user);
      if ((uint64_t) *start + *count - 1 > UINT32_MAX - 1)
        return moat_err (err, 0, "%s:%u: the range of `%s` overflows", path, lineno, user);
      return 1;
    }
  return 0;
}

long
moat_passwd_uid (const char *path, const char *user)
{
  cleanup_file FILE *f = fopen (path, "re");
  cleanup_free char *line = NULL;
  size_t cap = 0;
  ssize_t n;

  if (f == NULL)
    return -1;
  while ((n = getline (&line, &cap, f)) >= 0)
    {
      char *rest = line, *name, *uid;
      uint32_t v;

      if (n > 0 && line[n - 1] == '\n')
        line[n - 1] = '\0';
      name = strsep (&rest, ":");
      if (strcmp (name, user) != 0 || strsep (&rest, ":") == NULL)
        continue;
      uid = strsep (&rest, ":");
      return uid && rest && parse_u32 (uid, &v) == 0 ? (long) v : -1;
    }
  return -1;
}

static int
set_mapping (json_t *lx, const char *key, uint32_t host, uint32_t size, struct moat_error *err)
{
  json_t *m = json_pack ("[{s:i, s:I, s:I}]", "containerID", 0, "hostID", (json_int_t) host, "size",
                         (json_int_t) size);

  if (m == NULL || json_object_set_new (lx, key, m) < 0)
    return moat_err (err, ENOMEM, "linux.%s", key);
  return 0;
}

static int
apply_userns (json_t *doc, const char *subuid_path, const char *subgid_path, struct moat_error *err)
{
  json_t *lx = json_object_get (doc, "linux");
  uint32_t ustart, ucount, gstart, gcount;
  long uid = moat_passwd_uid ("/etc/passwd", MOAT_SUBID_USER);
  int ru, rg;

  if (!json_is_object (lx))
    return moat_err (err, 0, "data/default-spec.json: no `linux` object");
  ru = moat_subid_range (subuid_path, MOAT_SUBID_USER, uid, &ustart, &ucount, err);
  if (ru < 0)
    return -1;
  rg = moat_subid_range (subgid_path, MOAT_SUBID_USER, uid, &gstart, &gcount, err);
  if (rg < 0)
    return -1;
  if (ru == 0 || rg == 0)
    {
      ustart = gstart = MOAT_USERNS_DEFAULT_HOST_ID;
      ucount = gcount = MOAT_USERNS_DEFAULT_SIZE;
    }
  /* 65536 ids cover every uid an image's /etc/passwd normally holds
     (nobody = 65534); a larger range is left for other containers. */
  if (ucount > MOAT_USERNS_DEFAULT_SIZE)
    ucount = MOAT_USERNS_DEFAULT_SIZE;
  if (gcount > MOAT_USERNS_DEFAULT_SIZE)
    gcount = MOAT_USERNS_DEFAULT_SIZE;
  if (set_mapping (lx, "uidMappings", ustart, ucount, err) < 0)
    return -1;
  return set_mapping (lx, "gidMappings", gstart, gcount, err);
}

int
moat_default_spec_json (bool compat, const char *subuid_path, const char *subgid_path, char **out,
                        struct moat_error *err)
{
  const unsigned char *data = compat ? moat_data_compat_spec : moat_data_default_spec;
  size_t len = compat ? moat_data_compat_spec_len : moat_data_default_spec_len;
  json_auto_t *doc = NULL;
  json_error_t jerr;
  char *s;

  *out = NULL;
  doc = json_loadb ((const char *) data, len, 0, &jerr);
  if (doc == NULL)
    return moat_err (err, 0, "built-in %s config: %s", compat ? "compat" : "default", jerr.text);
  if (!compat && apply_userns (doc, subuid_path, subgid_path, err) < 0)
    return moat_error_wrap (err, "user namespace range");
  s = json_dumps (doc, JSON_INDENT (2) | JSON_PRESERVE_ORDER);
  if (s == NULL)
    return moat_err (err, ENOMEM, "serialise the config");
  *out = s;
  return 0;
}
