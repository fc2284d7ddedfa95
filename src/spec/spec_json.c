/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "spec/spec_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"
#include "util/fs.h"
#include "util/json.h"

/* jansson stores integers as long long and fails the whole parse on a larger
 * one ("too big integer").  runtime-spec has uint64 fields that legitimately
 * exceed INT64_MAX: Docker writes `--ulimit memlock=-1` as the rlimit
 * 18446744073709551615, and seccomp masks may be ~0.  Before parsing, such a
 * literal (outside strings) is rewritten as a string carrying a marker that
 * only the uint64 getters accept; the string getters refuse it, so a number
 * never turns into a string field. */
#define BIGINT_MARK "\x01u64:"
#define BIGINT_MARK_JSON "\\u0001u64:"

static bool
is_big_uint (const char *s, size_t n)
{
  /* INT64_MAX has 19 digits; UINT64_MAX has 20. */
  static const char umax[] = "18446744073709551615";
  static const char imax[] = "9223372036854775807";

  if (n < 19 || n > 20)
    return false;
  for (size_t i = 0; i < n; i++)
    if (s[i] < '0' || s[i] > '9')
      return false;
  if (n == 19)
    return memcmp (s, imax, 19) > 0;
  return memcmp (s, umax, 20) <= 0;
}

/* Scan JSON text outside strings for unsigned integer literals; call FN on each
 * big one.  Returns how many were found. */
static size_t
scan_big_ints (const char *s, size_t len, char *out, size_t *outlen)
{
  size_t found = 0, o = 0, i = 0;
  bool in_str = false;

  while (i < len)
    {
      char c = s[i];

      if (in_str)
        {
          if (out)
            out[o] = c;
          o++;
          if (c == '\\' && i + 1 < len)
            {
              if (out)
                out[o] = s[i + 1];
              o++;
              i += 2;
              continue;
            }
          if (c == '"')
            in_str = false;
          i++;
          continue;
        }
      if (c == '"')
        in_str = true;
      if ((c >= '0' && c <= '9') || c == '-')
        {
          size_t j = i;

          while (j < len && ((s[j] >= '0' && s[j] <= '9') || s[j] == '-' || s[j] == '+'
                             || s[j] == '.' || s[j] == 'e' || s[j] == 'E'))
            j++;
          if (is_big_uint (s + i, j - i))
            {
              found++;
              if (out)
                {
                  out[o] = '"';
                  memcpy (out + o + 1, BIGINT_MARK_JSON, strlen (BIGINT_MARK_JSON));
                  memcpy (out + o + 1 + strlen (BIGINT_MARK_JSON), s + i, j - i);
                  out[o + 1 + strlen (BIGINT_MARK_JSON) + (j - i)] = '"';
                }
              o += 2 + strlen (BIGINT_MARK_JSON) + (j - i);
            }
          else
            {
              if (out)
                memcpy (out + o, s + i, j - i);
              o += j - i;
            }
          i = j;
          continue;
        }
      if (out)
        out[o] = c;
      o++;
      i++;
    }
  *outlen = o;
  return found;
}

int
spec_json_load (const char *json, size_t len, json_t **out, struct moat_error *err)
{
  cleanup_free char *copy = NULL;
  json_error_t jerr;
  size_t newlen;
  json_t *root;

  *out = NULL;
  if (scan_big_ints (json, len, NULL, &newlen) > 0)
    {
      copy = malloc (newlen);
      if (copy == NULL)
        return moat_err (err, ENOMEM, "cannot allocate");
      scan_big_ints (json, len, copy, &newlen);
      json = copy;
      len = newlen;
    }
  root = moat_json_loadb (json, len, JSON_REJECT_DUPLICATES, &jerr);
  if (root == NULL)
    return spec_err (err, EINVAL, "invalid JSON at line %d column %d: %s", jerr.line, jerr.column,
                     jerr.text);
  if (!json_is_object (root))
    {
      json_decref (root);
      return spec_err (err, EINVAL, "the top level must be a JSON object");
    }
  *out = root;
  return 0;
}

void
spec_err_finish (struct moat_error *err, int code)
{
  if (err == NULL)
    return;
  err->code = code;
  for (char *c = err->msg; *c; c++)
    if ((unsigned char) *c < 0x20 || *c == 0x7f)
      *c = '?';
}

/* Field paths are built for every member the parser reads (a seccomp
 * profile has hundreds), and only shown when one is wrong: appended by hand
 * rather than through snprintf, which was a tenth of `moat audit`'s time.
 * The result is what snprintf would write, truncated the same way. */
static size_t
path_add (char *buf, size_t size, size_t at, const char *s, size_t n)
{
  if (at + 1 >= size)
    return at;
  if (n > size - 1 - at)
    n = size - 1 - at;
  memcpy (buf + at, s, n);
  buf[at + n] = '\0';
  return at + n;
}

static size_t
path_join (char *buf, size_t size, const char *parent, const char *key)
{
  size_t at = 0;

  if (size == 0)
    return 0;
  buf[0] = '\0';
  if (parent != NULL && parent[0] != '\0')
    {
      at = path_add (buf, size, at, parent, strlen (parent));
      at = path_add (buf, size, at, ".", 1);
    }
  return path_add (buf, size, at, key, strlen (key));
}

void
spec_path (char *buf, size_t size, const char *parent, const char *key)
{
  path_join (buf, size, parent, key);
}

void
spec_path_idx (char *buf, size_t size, const char *parent, const char *key, size_t i)
{
  char digits[24];
  size_t n = sizeof digits, at = path_join (buf, size, parent, key);

  do
    digits[--n] = (char) ('0' + i % 10);
  while ((i /= 10) != 0);
  digits[--n] = '[';
  at = path_add (buf, size, at, digits + n, sizeof digits - n);
  path_add (buf, size, at, "]", 1);
}

json_t *
spec_member (json_t *obj, const char *key)
{
  json_t *v = json_object_get (obj, key);

  if (v == NULL || json_is_null (v))
    return NULL;
  return v;
}

static const char *
type_name (json_t *v)
{
  switch (json_typeof (v))
    {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING:
      return strncmp (json_string_value (v), BIGINT_MARK, strlen (BIGINT_MARK)) == 0 ? "a number"
                                                                                      : "a string";
    case JSON_INTEGER: return "a number";
    case JSON_REAL: return "a fractional number";
    case JSON_TRUE: case JSON_FALSE: return "a boolean";
    default: return "null";
    }
}

/* V's text when V is a string, and not a big integer in disguise. */
static const char *
plain_string (json_t *v)
{
  const char *s = json_string_value (v);

  return s && strncmp (s, BIGINT_MARK, strlen (BIGINT_MARK)) != 0 ? s : NULL;
}

int
spec_value_string (json_t *v, const char *path, char **out, struct moat_error *err)
{
  const char *s = plain_string (v);

  if (s == NULL)
    return spec_err (err, EINVAL, "%s: must be a string, not %s", path, type_name (v));
  *out = strdup (s);
  if (*out == NULL)
    return moat_err (err, ENOMEM, "%s", path);
  return 0;
}

int
spec_value_int64 (json_t *v, const char *path, int64_t min, int64_t max, int64_t *out,
                  struct moat_error *err)
{
  json_int_t n;

  if (json_is_string (v) && strncmp (json_string_value (v), BIGINT_MARK, strlen (BIGINT_MARK)) == 0)
    return spec_err (err, EINVAL, "%s: %s is out of range [%" PRId64 ", %" PRId64 "]", path,
                     json_string_value (v) + strlen (BIGINT_MARK), min, max);
  if (!json_is_integer (v))
    return spec_err (err, EINVAL, "%s: must be an integer, not %s", path, type_name (v));
  n = json_integer_value (v);
  if (n < min || n > max)
    return spec_err (err, EINVAL, "%s: %lld is out of range [%" PRId64 ", %" PRId64 "]", path,
                     (long long) n, min, max);
  *out = (int64_t) n;
  return 0;
}

int
spec_value_uint64 (json_t *v, const char *path, uint64_t max, uint64_t *out, struct moat_error *err)
{
  uint64_t n;

  if (json_is_string (v) && strncmp (json_string_value (v), BIGINT_MARK, strlen (BIGINT_MARK)) == 0)
    {
      /* The scanner only marks 19-20 digit literals <= UINT64_MAX, but a
       * config could spell the marker itself: accept digits only. */
      const char *digits = json_string_value (v) + strlen (BIGINT_MARK);
      char *end;

      errno = 0;
      n = strtoull (digits, &end, 10);
      if (errno != 0 || *end != '\0' || digits[0] < '0' || digits[0] > '9')
        return spec_err (err, EINVAL, "%s: must be an integer, not a string", path);
    }
  else if (json_is_integer (v))
    {
      json_int_t i = json_integer_value (v);

      if (i < 0)
        return spec_err (err, EINVAL, "%s: must not be negative: %lld", path, (long long) i);
      n = (uint64_t) i;
    }
  else
    return spec_err (err, EINVAL, "%s: must be an integer, not %s", path, type_name (v));
  if (n > max)
    return spec_err (err, EINVAL, "%s: %" PRIu64 " is out of range [0, %" PRIu64 "]", path, n, max);
  *out = n;
  return 0;
}

int
spec_get_string (json_t *obj, const char *parent, const char *key, bool required, char **out,
                 struct moat_error *err)
{
  char path[SPEC_PATH_MAX];
  json_t *v = spec_member (obj, key);

  spec_path (path, sizeof path, parent, key);
  if (v == NULL)
    {
      if (required)
        return spec_err (err, EINVAL, "%s: required", path);
      return 0;
    }
  free (*out);
  *out = NULL;
  return spec_value_string (v, path, out, err);
}

int
spec_get_bool (json_t *obj, const char *parent, const char *key, bool *out, bool *present,
               struct moat_error *err)
{
  char path[SPEC_PATH_MAX];
  json_t *v = spec_member (obj, key);

  if (present)
    *present = false;
  if (v == NULL)
    return 0;
  if (!json_is_boolean (v))
    {
      spec_path (path, sizeof path, parent, key);
      return spec_err (err, EINVAL, "%s: must be a boolean, not %s", path, type_name (v));
    }
  *out = json_is_true (v);
  if (present)
    *present = true;
  return 0;
}

int
spec_get_int64 (json_t *obj, const char *parent, const char *key, int64_t min, int64_t max,
                int64_t *out, bool *present, struct moat_error *err)
{
  char path[SPEC_PATH_MAX];
  json_t *v = spec_member (obj, key);

  if (present)
    *present = false;
  if (v == NULL)
    return 0;
  spec_path (path, sizeof path, parent, key);
  if (spec_value_int64 (v, path, min, max, out, err) < 0)
    return -1;
  if (present)
    *present = true;
  return 0;
}

int
spec_get_uint64 (json_t *obj, const char *parent, const char *key, uint64_t max, uint64_t *out,
                 bool *present, struct moat_error *err)
{
  char path[SPEC_PATH_MAX];
  json_t *v = spec_member (obj, key);

  if (present)
    *present = false;
  if (v == NULL)
    return 0;
  spec_path (path, sizeof path, parent, key);
  if (spec_value_uint64 (v, path, max, out, err) < 0)
    return -1;
  if (present)
    *present = true;
  return 0;
}

int
spec_get_uint32 (json_t *obj, const char *parent, const char *key, uint32_t *out, bool *present,
                 struct moat_error *err)
{
  uint64_t n;
  bool p = false;

  if (spec_get_uint64 (obj, parent, key, UINT32_MAX, &n, &p, err) < 0)
    return -1;
  if (p)
    *out = (uint32_t) n;
  if (present)
    *present = p;
  return 0;
}

static int
get_typed (json_t *obj, const char *parent, const char *key, bool required, json_t **out,
           json_type type, const char *what, struct moat_error *err)
{
  char path[SPEC_PATH_MAX];
  json_t *v = spec_member (obj, key);

  *out = NULL;
  if (v == NULL)
    {
      if (required)
        {
          spec_path (path, sizeof path, parent, key);
          return spec_err (err, EINVAL, "%s: required", path);
        }
      return 0;
    }
  if (json_typeof (v) != type)
    {
      spec_path (path, sizeof path, parent, key);
      return spec_err (err, EINVAL, "%s: must be %s, not %s", path, what, type_name (v));
    }
  *out = v;
  return 0;
}

int
spec_get_object (json_t *obj, const char *parent, const char *key, bool required, json_t **out,
                 struct moat_error *err)
{
  return get_typed (obj, parent, key, required, out, JSON_OBJECT, "an object", err);
}

int
spec_get_array (json_t *obj, const char *parent, const char *key, bool required, json_t **out,
                struct moat_error *err)
{
  return get_typed (obj, parent, key, required, out, JSON_ARRAY, "an array", err);
}

int
spec_get_strv (json_t *obj, const char *parent, const char *key, struct moat_strv *out,
               struct moat_error *err)
{
  char path[SPEC_PATH_MAX];
  json_t *arr, *v;
  size_t i;

  if (get_typed (obj, parent, key, false, &arr, JSON_ARRAY, "an array", err) < 0)
    return -1;
  if (arr == NULL || json_array_size (arr) == 0)
    return 0;
  out->v = calloc (json_array_size (arr) + 1, sizeof (char *));
  if (out->v == NULL)
    return moat_err (err, ENOMEM, "%s", key);
  json_array_foreach (arr, i, v)
    {
      /* The element's path is built only for a message: a seccomp profile
         lists hundreds of names. */
      const char *s = plain_string (v);
      if (s == NULL || (out->v[i] = strdup (s)) == NULL)
        {
          spec_path_idx (path, sizeof path, parent, key, i);
          return s ? moat_err (err, ENOMEM, "%s", path) : spec_value_string (v, path, &out->v[i], err);
        }
      out->n = i + 1;
    }
  return 0;
}

int
spec_get_kvv (json_t *obj, const char *parent, const char *key, struct moat_kvv *out,
              struct moat_error *err)
{
  char path[SPEC_PATH_MAX];
  char full[SPEC_PATH_MAX];
  const char *k;
  json_t *map, *v;

  if (get_typed (obj, parent, key, false, &map, JSON_OBJECT, "an object", err) < 0)
    return -1;
  if (map == NULL || json_object_size (map) == 0)
    return 0;
  out->v = calloc (json_object_size (map), sizeof (struct moat_kv));
  if (out->v == NULL)
    return moat_err (err, ENOMEM, "%s", key);
  spec_path (path, sizeof path, parent, key);
  json_object_foreach (map, k, v)
    {
      struct moat_kv *kv = &out->v[out->n];

      spec_path (full, sizeof full, path, k);
      kv->key = strdup (k);
      if (kv->key == NULL)
        return moat_err (err, ENOMEM, "%s", full);
      out->n++;
      if (spec_value_string (v, full, &kv->value, err) < 0)
        return -1;
    }
  return 0;
}

int
spec_refuse (json_t *obj, const char *parent, const char *key, const char *why,
             struct moat_error *err)
{
  char path[SPEC_PATH_MAX];
  json_t *v = spec_member (obj, key);

  if (v == NULL)
    return 0;
  /* An empty list or object asks for nothing. */
  if ((json_is_array (v) && json_array_size (v) == 0)
      || (json_is_object (v) && json_object_size (v) == 0))
    return 0;
  spec_path (path, sizeof path, parent, key);
  return spec_err (err, ENOTSUP, "%s: %s", path, why);
}

int
spec_value_abs_path (json_t *v, const char *path, char **out, struct moat_error *err)
{
  cleanup_free char *s = NULL;

  if (spec_value_string (v, path, &s, err) < 0)
    return -1;
  if (s[0] != '/')
    return spec_err (err, EINVAL, "%s: must be an absolute path: \"%s\"", path, s);
  *out = moat_path_clean (s);
  if (*out == NULL)
    return moat_err (err, ENOMEM, "%s", path);
  return 0;
}

int
spec_value_host_path (json_t *v, const char *path, char **out, struct moat_error *err)
{
  if (spec_value_string (v, path, out, err) < 0)
    return -1;
  if ((*out)[0] != '/')
    {
      spec_err (err, EINVAL, "%s: must be an absolute path: \"%s\"", path, *out);
      free (*out);
      *out = NULL;
      return -1;
    }
  return 0;
}

void
spec_strv_free (struct moat_strv *s)
{
  for (size_t i = 0; i < s->n; i++)
    free (s->v[i]);
  free (s->v);
  s->v = NULL;
  s->n = 0;
}

void
spec_kvv_free (struct moat_kvv *k)
{
  for (size_t i = 0; i < k->n; i++)
    {
      free (k->v[i].key);
      free (k->v[i].value);
    }
  free (k->v);
  k->v = NULL;
  k->n = 0;
}
