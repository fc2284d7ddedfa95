/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The direct scanner in front of json_loadb() (see json.h).  It accepts a
 * subset of what jansson 2.14 accepts and builds the identical tree: RFC
 * 8259 syntax, jansson's whitespace (space, tab, CR, LF), strings of strict
 * UTF-8 (no overlong forms, no surrogate code points, nothing above
 * U+10FFFF, no control characters), escapes with surrogate pairs joined and
 * lone surrogates refused, integers that fit json_int_t (jansson: "too big
 * integer" beyond), reals through strtod as jansson converts them.  It
 * gives up (returns NULL, and the caller asks jansson) on anything else:
 * every syntax error, \u0000 (refused by jansson without JSON_ALLOW_NUL),
 * duplicate keys (refused with JSON_REJECT_DUPLICATES, last one kept
 * without: either way jansson decides), reals that overflow or are written
 * with more than 63 characters, and nesting deeper than SCAN_MAX_DEPTH. */
#include "util/json.h"

#include <errno.h>
#include <math.h>
#include <stdalign.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* jansson allows 2048 levels; deeper than this goes to jansson, so that the
   scanner's recursion stays small on any stack (fuzzers, ASan). */
#define SCAN_MAX_DEPTH 256

struct scan
{
  const unsigned char *p, *end;
  size_t depth;
  char *scratch; /* decoded strings that had escapes */
  size_t cap;
};

static void
skip_space (struct scan *s)
{
  while (s->p < s->end && (*s->p == ' ' || *s->p == '\n' || *s->p == '\r' || *s->p == '\t'))
    s->p++;
}

static bool
is_digit (unsigned char c)
{
  return c >= '0' && c <= '9';
}

/* Length of the UTF-8 sequence of 2 to 4 bytes at P if jansson's
   utf8_check_full() accepts it, else 0. */
static size_t
utf8_len (const unsigned char *p, const unsigned char *end)
{
  uint32_t v;
  size_t n, i;

  if (p[0] >= 0xc2 && p[0] <= 0xdf)
    n = 2, v = p[0] & 0x1f;
  else if (p[0] >= 0xe0 && p[0] <= 0xef)
    n = 3, v = p[0] & 0x0f;
  else if (p[0] >= 0xf0 && p[0] <= 0xf4)
    n = 4, v = p[0] & 0x07;
  else
    return 0;
  if ((size_t) (end - p) < n)
    return 0;
  for (i = 1; i < n; i++)
    {
      if ((p[i] & 0xc0) != 0x80)
        return 0;
      v = (v << 6) | (p[i] & 0x3f);
    }
  if (v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff) || (n == 3 && v < 0x800) || (n == 4 && v < 0x10000))
    return 0;
  return n;
}

static bool
reserve (struct scan *s, size_t need)
{
  char *n;
  size_t cap = s->cap ? s->cap : 256;

  if (need <= s->cap)
    return true;
  while (cap < need)
    cap *= 2;
  n = realloc (s->scratch, cap);
  if (n == NULL)
    return false;
  s->scratch = n;
  s->cap = cap;
  return true;
}

static int32_t
hex4 (const unsigned char *p)
{
  int32_t v = 0;

  for (int i = 0; i < 4; i++)
    {
      unsigned char c = p[i];
      v <<= 4;
      if (is_digit (c))
        v += c - '0';
      else if (c >= 'a' && c <= 'f')
        v += c - 'a' + 10;
      else if (c >= 'A' && c <= 'F')
        v += c - 'A' + 10;
      else
        return -1;
    }
  return v;
}

/* The escape at Q (a \uXXXX with its low surrogate when it is a high one)
   appended to the scratch at *o, as UTF-8.  Returns the bytes of text it
   took, 0 when jansson must decide (unknown escape, bad hex, lone
   surrogate, U+0000). */
static size_t
escape (struct scan *s, const unsigned char *q, size_t *o)
{
  static const char simple[] = "\"\"\\\\//b\bf\fn\nr\rt\t";
  const char *e;
  int32_t v, lo;
  size_t took = 6;
  char *t;

  if (s->end - q < 2)
    return 0;
  if (q[1] != 'u')
    {
      for (e = simple; *e && *e != (char) q[1]; e += 2)
        ;
      if (*e == '\0' || !reserve (s, *o + 1))
        return 0;
      s->scratch[(*o)++] = e[1];
      return 2;
    }
  if (s->end - q < 6 || (v = hex4 (q + 2)) <= 0)
    return 0;
  if (v >= 0xdc00 && v <= 0xdfff)
    return 0;
  if (v >= 0xd800 && v <= 0xdbff)
    {
      if (s->end - q < 12 || q[6] != '\\' || q[7] != 'u' || (lo = hex4 (q + 8)) < 0xdc00 || lo > 0xdfff)
        return 0;
      v = ((v - 0xd800) << 10) + (lo - 0xdc00) + 0x10000;
      took = 12;
    }
  if (!reserve (s, *o + 4))
    return 0;
  t = s->scratch + *o;
  if (v < 0x80)
    t[0] = (char) v, *o += 1;
  else if (v < 0x800)
    t[0] = (char) (0xc0 | (v >> 6)), t[1] = (char) (0x80 | (v & 0x3f)), *o += 2;
  else if (v < 0x10000)
    t[0] = (char) (0xe0 | (v >> 12)), t[1] = (char) (0x80 | ((v >> 6) & 0x3f)), t[2] = (char) (0x80 | (v & 0x3f)),
    *o += 3;
  else
    t[0] = (char) (0xf0 | (v >> 18)), t[1] = (char) (0x80 | ((v >> 12) & 0x3f)),
    t[2] = (char) (0x80 | ((v >> 6) & 0x3f)), t[3] = (char) (0x80 | (v & 0x3f)), *o += 4;
  return took;
}

/* The string whose opening quote is at s->p: *str points into the text
   itself when it has no escape (the common case), else to the decoded
   copy in the scratch. */
static bool
scan_string (struct scan *s, const char **str, size_t *len)
{
  const unsigned char *start = s->p + 1, *q = start;
  bool copying = false;
  size_t o = 0, n;

  for (;;)
    {
      if (q == s->end || *q < 0x20)
        return false;
      if (*q == '"')
        break;
      if (*q == '\\')
        {
          if (!copying)
            {
              /* the first escape: decode from here on, after the plain start */
              o = (size_t) (q - start);
              if (!reserve (s, o + 1))
                return false;
              memcpy (s->scratch, start, o);
              copying = true;
            }
          if ((n = escape (s, q, &o)) == 0)
            return false;
          q += n;
          continue;
        }
      n = *q < 0x80 ? 1 : utf8_len (q, s->end);
      if (n == 0 || (copying && !reserve (s, o + n)))
        return false;
      if (copying)
        memcpy (s->scratch + o, q, n), o += n;
      q += n;
    }
  s->p = q + 1;
  *str = copying ? s->scratch : (const char *) start;
  *len = copying ? o : (size_t) (q - start);
  return true;
}

static json_t *
scan_number (struct scan *s)
{
  const unsigned char *p = s->p, *digits;
  bool neg = *p == '-', real = false;
  uint64_t v = 0, limit;
  char buf[64], *end;
  double d;

  if (neg)
    p++;
  if (p == s->end || !is_digit (*p))
    return NULL;
  digits = p;
  if (*p == '0')
    {
      if (++p < s->end && is_digit (*p))
        return NULL;
    }
  else
    while (p < s->end && is_digit (*p))
      p++;
  if (p < s->end && *p == '.')
    {
      if (++p == s->end || !is_digit (*p))
        return NULL;
      while (p < s->end && is_digit (*p))
        p++;
      real = true;
    }
  if (p < s->end && (*p == 'e' || *p == 'E'))
    {
      if (++p < s->end && (*p == '+' || *p == '-'))
        p++;
      if (p == s->end || !is_digit (*p))
        return NULL;
      while (p < s->end && is_digit (*p))
        p++;
      real = true;
    }
  if (!real)
    {
      limit = neg ? (uint64_t) INT64_MAX + 1 : (uint64_t) INT64_MAX;
      for (const unsigned char *q = digits; q < p; q++)
        {
          unsigned d1 = *q - '0';
          if (v > (limit - d1) / 10)
            return NULL; /* jansson: "too big integer" */
          v = v * 10 + d1;
        }
      s->p = p;
      if (!neg)
        return json_integer ((json_int_t) v);
      return json_integer (v == (uint64_t) INT64_MAX + 1 ? INT64_MIN : -(json_int_t) v);
    }
  if ((size_t) (p - s->p) >= sizeof buf)
    return NULL;
  memcpy (buf, s->p, (size_t) (p - s->p));
  buf[p - s->p] = '\0';
  errno = 0;
  d = strtod (buf, &end);
  /* a locale whose decimal point is not '.' stops strtod early: jansson's */
  if (end != buf + (p - s->p) || (isinf (d) && errno == ERANGE))
    return NULL;
  s->p = p;
  return json_real (d);
}

static bool
literal (struct scan *s, const char *word, size_t n)
{
  if ((size_t) (s->end - s->p) < n || memcmp (s->p, word, n) != 0)
    return false;
  s->p += n;
  return true;
}

static json_t *scan_value (struct scan *s);

/* Past the opening bracket at s->p and the space after it, or past the
   closing one too when the container is empty (returns false then). */
static bool
open_container (struct scan *s, char close)
{
  s->p++;
  skip_space (s);
  if (s->p < s->end && *s->p == close)
    {
      s->p++;
      return false;
    }
  return true;
}

/* After a member: 1 past a comma (another member follows), 0 past the
   closing bracket, -1 anything else. */
static int
next_member (struct scan *s, char close)
{
  skip_space (s);
  if (s->p < s->end && *s->p == ',')
    {
      s->p++;
      skip_space (s);
      return 1;
    }
  if (s->p < s->end && *s->p == close)
    {
      s->p++;
      return 0;
    }
  return -1;
}

/* One "key": value pair into O. */
static bool
object_member (struct scan *s, json_t *o)
{
  const char *key;
  char *owned = NULL;
  size_t klen, before = json_object_size (o);
  json_t *v = NULL;
  int r;

  if (s->p == s->end || *s->p != '"' || !scan_string (s, &key, &klen))
    return false;
  /* the value's strings reuse the scratch that may hold the key */
  if (key == s->scratch && (key = owned = strndup (key, klen)) == NULL)
    return false;
  skip_space (s);
  if (s->p < s->end && *s->p == ':')
    {
      s->p++;
      skip_space (s);
      v = scan_value (s);
    }
  r = v ? json_object_setn_new_nocheck (o, key, klen, v) : -1;
  free (owned);
  /* the same size after a set: a duplicate key, for jansson to judge */
  return r == 0 && json_object_size (o) > before;
}

static bool
array_member (struct scan *s, json_t *a)
{
  json_t *v = scan_value (s);

  return v != NULL && json_array_append_new (a, v) == 0;
}

/* The object or array C (new, NULL on ENOMEM) opening at s->p, each member
   read by MEMBER. */
static json_t *
scan_container (struct scan *s, json_t *c, char close, bool (*member) (struct scan *s, json_t *c))
{
  int more = 1;

  if (c == NULL || !open_container (s, close))
    return c;
  while (more > 0 && member (s, c))
    if ((more = next_member (s, close)) == 0)
      return c;
  json_decref (c);
  return NULL;
}

static json_t *
scan_value (struct scan *s)
{
  const char *str;
  size_t len;
  json_t *v = NULL;

  if (s->p == s->end || ++s->depth > SCAN_MAX_DEPTH)
    return NULL;
  switch (*s->p)
    {
    case '{':
      v = scan_container (s, json_object (), '}', object_member);
      break;
    case '[':
      v = scan_container (s, json_array (), ']', array_member);
      break;
    case '"':
      if (scan_string (s, &str, &len))
        v = json_stringn_nocheck (str, len);
      break;
    case 't':
      v = literal (s, "true", 4) ? json_true () : NULL;
      break;
    case 'f':
      v = literal (s, "false", 5) ? json_false () : NULL;
      break;
    case 'n':
      v = literal (s, "null", 4) ? json_null () : NULL;
      break;
    default:
      if (*s->p == '-' || is_digit (*s->p))
        v = scan_number (s);
      break;
    }
  s->depth--;
  return v;
}

json_t *
moat_json_scan (const char *buf, size_t len, size_t flags, size_t *used)
{
  struct scan s = { (const unsigned char *) buf, (const unsigned char *) buf + len, 0, NULL, 0 };
  json_t *v = NULL;

  if (buf == NULL || (flags & ~(size_t) (JSON_REJECT_DUPLICATES | JSON_DISABLE_EOF_CHECK)) != 0)
    return NULL;
  skip_space (&s);
  /* without JSON_DECODE_ANY, jansson wants an object or an array */
  if (s.p < s.end && (*s.p == '{' || *s.p == '['))
    v = scan_value (&s);
  free (s.scratch);
  if (v == NULL)
    return NULL;
  if (!(flags & JSON_DISABLE_EOF_CHECK))
    {
      skip_space (&s);
      if (s.p != s.end)
        {
          json_decref (v);
          return NULL;
        }
    }
  *used = (size_t) (s.p - (const unsigned char *) buf);
  return v;
}

json_t *
moat_json_loadb (const char *buf, size_t len, size_t flags, json_error_t *error)
{
  size_t used;
  json_t *v = moat_json_scan (buf, len, flags, &used);

  if (v == NULL)
    return json_loadb (buf, len, flags, error);
  if (error)
    {
      /* what jansson leaves in *error on success */
      error->line = error->column = -1;
      error->position = (int) used;
      snprintf (error->source, sizeof error->source, "%s", "<buffer>");
      error->text[0] = '\0';
    }
  return v;
}

/* ---- arena ------------------------------------------------------------ */

struct arena_block
{
  struct arena_block *next;
  size_t used, cap;
  _Alignas (max_align_t) unsigned char data[];
};

static struct arena_block *arena;      /* current block, the older ones behind it */
static struct arena_block *arena_keep; /* kept between scopes */

static void *
arena_malloc (size_t n)
{
  struct arena_block *b = arena;
  size_t a = _Alignof (max_align_t);

  n = (n + a - 1) & ~(a - 1);
  if (b == NULL || b->cap - b->used < n)
    {
      size_t cap = b ? b->cap * 2 : 64 << 10;

      while (cap < n)
        cap *= 2;
      if (b == NULL && arena_keep != NULL && arena_keep->cap >= n)
        b = arena_keep, arena_keep = NULL, b->used = 0;
      else if ((b = malloc (sizeof *b + cap)) == NULL)
        return NULL;
      else
        b->cap = cap, b->used = 0;
      b->next = arena;
      arena = b;
    }
  b->used += n;
  return b->data + b->used - n;
}

static void
arena_free (void *p)
{
  (void) p;
}

void
moat_json_arena_begin (void)
{
  json_set_alloc_funcs (arena_malloc, arena_free);
}

void
moat_json_arena_end (void)
{
  json_set_alloc_funcs (malloc, free);
  while (arena != NULL)
    {
      struct arena_block *b = arena;
      arena = b->next;
      if (arena_keep == NULL || b->cap > arena_keep->cap)
        {
          free (arena_keep);
          arena_keep = b;
        }
      else
        free (b);
    }
}
