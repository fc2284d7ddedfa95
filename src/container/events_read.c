/* SPDX-License-Identifier: GPL-2.0-or-later */
/* `moat events`' reading side: times, filters, the text form (events_read.h). */
#include "container/events_read.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/cleanup.h"

/* ---- times ------------------------------------------------------------ */

static const struct
{
  const char *name;
  long double ns;
} duration_units[] = {
  /* two-letter units first: "ms" is not "m" followed by garbage */
  { "ns", 1 }, { "us", 1e3 }, { "\xc2\xb5s", 1e3 }, { "\xce\xbcs", 1e3 }, { "ms", 1e6 },
  { "s", 1e9 }, { "m", 60e9 }, { "h", 3600e9 },
};

int
moat_event_parse_duration (const char *s, int64_t *ns)
{
  long double total = 0;
  const char *p = s;

  if (*p == '+')
    p++;
  if (strcmp (p, "0") == 0)
    {
      *ns = 0;
      return 0;
    }
  if (*p == '\0')
    return -1;
  while (*p)
    {
      char num[64];
      size_t n = 0, u;
      bool digit = false;

      while ((isdigit ((unsigned char) *p) || *p == '.') && n < sizeof num - 1)
        {
          digit |= isdigit ((unsigned char) *p) != 0;
          num[n++] = *p++;
        }
      num[n] = '\0';
      if (!digit || strchr (num, '.') != strrchr (num, '.'))
        return -1;
      for (u = 0; u < sizeof duration_units / sizeof duration_units[0]; u++)
        if (strncmp (p, duration_units[u].name, strlen (duration_units[u].name)) == 0)
          break;
      if (u == sizeof duration_units / sizeof duration_units[0])
        return -1;
      total += strtold (num, NULL) * duration_units[u].ns;
      p += strlen (duration_units[u].name);
    }
  if (total > (long double) INT64_MAX)
    return -1;
  *ns = (int64_t) total;
  return 0;
}

/* Exactly N decimal digits at *P. */
static bool
digits (const char **p, int n, int *out)
{
  int v = 0, i;

  for (i = 0; i < n; i++)
    {
      if (!isdigit ((unsigned char) (*p)[i]))
        return false;
      v = v * 10 + ((*p)[i] - '0');
    }
  *p += n;
  *out = v;
  return true;
}

/* Up to nine digits of a fraction of a second (more are read and dropped). */
static int64_t
fraction_ns (const char **p)
{
  int64_t v = 0;
  int n = 0;

  while (isdigit ((unsigned char) **p))
    {
      if (n < 9)
        {
          v = v * 10 + (**p - '0');
          n++;
        }
      (*p)++;
    }
  for (; n < 9; n++)
    v *= 10;
  return v;
}

static int
parse_rfc3339 (const char *s, int64_t *ns)
{
  struct tm tm = { 0 };
  const char *p = s;
  int y, mo, d, h = 0, mi = 0, sec = 0, zh, zm, sign = 0;
  bool local = true;
  int64_t frac = 0;
  time_t t;

  if (!digits (&p, 4, &y) || *p++ != '-' || !digits (&p, 2, &mo) || *p++ != '-' || !digits (&p, 2, &d))
    return -1;
  if (*p == 'T' || *p == 't' || *p == ' ')
    {
      p++;
      if (!digits (&p, 2, &h) || *p++ != ':' || !digits (&p, 2, &mi))
        return -1;
      if (*p == ':')
        {
          p++;
          if (!digits (&p, 2, &sec))
            return -1;
        }
      if (*p == '.')
        {
          p++;
          if (!isdigit ((unsigned char) *p))
            return -1;
          frac = fraction_ns (&p);
        }
      if (*p == 'Z' || *p == 'z')
        {
          local = false;
          p++;
        }
      else if (*p == '+' || *p == '-')
        {
          sign = *p++ == '-' ? -1 : 1;
          if (!digits (&p, 2, &zh))
            return -1;
          if (*p == ':')
            p++;
          if (!digits (&p, 2, &zm) || zh > 23 || zm > 59)
            return -1;
          local = false;
        }
    }
  if (*p != '\0' || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
    return -1;
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  tm.tm_isdst = -1;
  t = local ? mktime (&tm) : timegm (&tm);
  if (t == (time_t) -1 && !(y == 1969 || y == 1970))
    return -1;
  if (sign)
    t -= sign * (zh * 3600 + zm * 60);
  *ns = (int64_t) t * 1000000000 + frac;
  return 0;
}

int
moat_event_parse_time (const char *s, int64_t now_ns, int64_t *ns)
{
  const char *p = s;
  int64_t d, secs = 0;

  if (*s == '\0')
    return -1;
  /* Docker's order (timetypes.GetTimestamp): a duration ("0" is unix 0),
     then a date, then unix seconds. */
  if (strcmp (s, "0") != 0 && moat_event_parse_duration (s, &d) == 0)
    {
      *ns = now_ns - d;
      return 0;
    }
  if (strchr (s, '-'))
    return parse_rfc3339 (s, ns);
  while (isdigit ((unsigned char) *p))
    {
      if (secs > (INT64_MAX / 1000000000 - 9) / 10)
        return -1;
      secs = secs * 10 + (*p++ - '0');
    }
  if (p == s)
    return -1;
  *ns = secs * 1000000000;
  if (*p == '.')
    {
      p++;
      if (!isdigit ((unsigned char) *p))
        return -1;
      *ns += fraction_ns (&p);
    }
  return *p == '\0' ? 0 : -1;
}

/* ---- filters ---------------------------------------------------------- */

static const struct
{
  const char *name, *key;
} filter_keys[] = {
  { "type", "type" }, { "event", "event" },   { "action", "event" }, { "container", "container" },
  { "id", "container" }, { "name", "name" }, { "image", "image" }, { "label", "label" },
};

/* Docker's event types. */
static const char *const event_types[] = { "container", "image", "volume", "network", "daemon",
                                           "plugin", "node", "service", "secret", "config" };

static const char *
known_key (const char *s, size_t len)
{
  size_t i;

  for (i = 0; i < sizeof filter_keys / sizeof filter_keys[0]; i++)
    if (strlen (filter_keys[i].name) == len && strncmp (s, filter_keys[i].name, len) == 0)
      return filter_keys[i].key;
  return NULL;
}

/* Where the value that starts at P ends: at a comma followed by KEY=, or at
   the end. */
static const char *
value_end (const char *p)
{
  const char *c;

  for (c = strchr (p, ','); c; c = strchr (c + 1, ','))
    {
      const char *eq = strchr (c + 1, '=');
      if (eq && known_key (c + 1, (size_t) (eq - c - 1)))
        return c;
    }
  return p + strlen (p);
}

static bool
valid_type (const char *v)
{
  size_t i;

  for (i = 0; i < sizeof event_types / sizeof event_types[0]; i++)
    if (strcmp (v, event_types[i]) == 0)
      return true;
  return false;
}

int
moat_event_filter_add (struct moat_event_filter *f, const char *arg, struct moat_error *err)
{
  const char *p = arg;

  while (*p)
    {
      const char *eq = strchr (p, '='), *key, *end;
      struct moat_event_filter_item *nv;

      if (eq == NULL)
        return moat_err (err, 0, "--filter `%s`: want KEY=VALUE", arg);
      key = known_key (p, (size_t) (eq - p));
      if (key == NULL)
        return moat_err (err, 0, "--filter `%s`: unknown key `%.*s` (want type, event, container, name, image or label)",
                         arg, (int) (eq - p), p);
      end = value_end (eq + 1);
      if (end == eq + 1)
        return moat_err (err, 0, "--filter `%s`: empty value for `%s`", arg, key);
      nv = realloc (f->v, (f->n + 1) * sizeof *nv);
      if (nv == NULL)
        return moat_err (err, ENOMEM, "--filter");
      f->v = nv;
      f->v[f->n].key = key;
      f->v[f->n].value = strndup (eq + 1, (size_t) (end - eq - 1));
      if (f->v[f->n].value == NULL)
        return moat_err (err, ENOMEM, "--filter");
      f->n++;
      if (strcmp (key, "type") == 0 && !valid_type (f->v[f->n - 1].value))
        return moat_err (err, 0, "--filter `%s`: unknown event type `%s`", arg, f->v[f->n - 1].value);
      p = *end ? end + 1 : end;
    }
  return 0;
}

void
moat_event_filter_free (struct moat_event_filter *f)
{
  size_t i;

  for (i = 0; i < f->n; i++)
    free (f->v[i].value);
  free (f->v);
  f->v = NULL;
  f->n = 0;
}

static const char *
str_at (json_t *o, const char *k1, const char *k2, const char *k3)
{
  json_t *v = json_object_get (o, k1);
  if (k2)
    v = json_object_get (v, k2);
  if (k3)
    v = json_object_get (v, k3);
  return json_string_value (v);
}

static bool
eq (const char *a, const char *b)
{
  return a && b && strcmp (a, b) == 0;
}

/* "busybox" matches "busybox:latest" and "busybox@sha256:..." (Docker). */
static bool
image_match (const char *image, const char *want)
{
  const char *slash, *cut;
  size_t wl = strlen (want);

  if (image == NULL)
    return false;
  if (strcmp (image, want) == 0)
    return true;
  slash = strrchr (image, '/');
  cut = strpbrk (slash ? slash : image, ":@");
  return cut && (size_t) (cut - image) == wl && strncmp (image, want, wl) == 0;
}

static bool
item_match (const struct moat_event_filter_item *it, json_t *ev)
{
  const char *v = it->value, *action, *id, *eqs;

  if (strcmp (it->key, "type") == 0)
    return eq (str_at (ev, "Type", NULL, NULL), v);
  if (strcmp (it->key, "event") == 0)
    {
      /* "exec_start: sh -c ls" is an exec_start event */
      size_t n = strlen (v);
      action = str_at (ev, "Action", NULL, NULL);
      return action && strncmp (action, v, n) == 0 && (action[n] == '\0' || action[n] == ':');
    }
  if (strcmp (it->key, "container") == 0)
    {
      id = str_at (ev, "Actor", "ID", NULL);
      return (id && strncmp (id, v, strlen (v)) == 0) || eq (str_at (ev, "Actor", "Attributes", "name"), v);
    }
  if (strcmp (it->key, "name") == 0)
    return eq (str_at (ev, "Actor", "Attributes", "name"), v);
  if (strcmp (it->key, "image") == 0)
    return image_match (str_at (ev, "Actor", "Attributes", "image"), v) || image_match (str_at (ev, "from", NULL, NULL), v);
  /* label=KEY or label=KEY=VALUE, over the attributes */
  eqs = strchr (v, '=');
  if (eqs == NULL)
    return json_object_get (json_object_get (json_object_get (ev, "Actor"), "Attributes"), v) != NULL;
  {
    cleanup_free char *k = strndup (v, (size_t) (eqs - v));
    return k && eq (str_at (ev, "Actor", "Attributes", k), eqs + 1);
  }
}

bool
moat_event_filter_match (const struct moat_event_filter *f, json_t *ev)
{
  size_t i, j;

  for (i = 0; i < f->n; i++)
    {
      bool seen = false, any = false;
      for (j = 0; j < i; j++)
        seen |= f->v[j].key == f->v[i].key;
      if (seen)
        continue; /* this key was judged with its first value */
      for (j = i; j < f->n && !any; j++)
        any = f->v[j].key == f->v[i].key && item_match (&f->v[j], ev);
      if (!any)
        return false;
    }
  return true;
}

/* ---- text ------------------------------------------------------------- */

static int
cmp_str (const void *a, const void *b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

char *
moat_event_text (json_t *ev)
{
  json_t *attrs = json_object_get (json_object_get (ev, "Actor"), "Attributes");
  const char *type = str_at (ev, "Type", NULL, NULL), *action = str_at (ev, "Action", NULL, NULL);
  const char *id = str_at (ev, "Actor", "ID", NULL);
  json_int_t tn = json_integer_value (json_object_get (ev, "timeNano"));
  cleanup_free const char **keys = NULL;
  char *out = NULL, *c, stamp[64];
  size_t n = 0, i, len = 0;
  const char *k;
  json_t *v;
  struct tm tm;
  time_t secs;
  FILE *f;

  if (type == NULL || action == NULL || id == NULL)
    return NULL;
  if (tn == 0)
    tn = json_integer_value (json_object_get (ev, "time")) * 1000000000;
  secs = (time_t) (tn / 1000000000);
  gmtime_r (&secs, &tm);
  strftime (stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
  keys = calloc (json_object_size (attrs) + 1, sizeof *keys);
  f = open_memstream (&out, &len);
  if (keys == NULL || f == NULL)
    {
      if (f)
        fclose (f);
      free (out);
      return NULL;
    }
  fprintf (f, "%s.%09lldZ %s %s %s", stamp, (long long) (tn % 1000000000), type, action, id);
  json_object_foreach (attrs, k, v)
    if (json_is_string (v))
      keys[n++] = k;
  qsort (keys, n, sizeof *keys, cmp_str);
  for (i = 0; i < n; i++)
    fprintf (f, "%s%s=%s", i ? ", " : " (", keys[i], json_string_value (json_object_get (attrs, keys[i])));
  if (n)
    fputc (')', f);
  fclose (f);
  /* One event, one line, whatever the names hold. */
  for (c = out; c && *c; c++)
    if ((unsigned char) *c < 0x20 || *c == 0x7f)
      *c = '?';
  return out;
}
