/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Docker Engine API calls for `audit --docker-host` and `watch` (engine.h).
 * Every answer is untrusted: bodies are capped, ids checked before they go
 * into a request path, and an inspect document goes through the same
 * adapter as `docker inspect` output given to `moat audit`. */
#include "policy/engine.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec/spec_internal.h"
#include "util/cleanup.h"

int
moat_engine_open (struct moat_engine *e, const char *url, struct moat_error *err)
{
  memset (e, 0, sizeof *e);
  e->url = url;
  e->timeout_ms = MOAT_ENGINE_TIMEOUT_MS;
  return moat_http_unix_path (url, e->path, sizeof e->path, err);
}

bool
moat_engine_id_ok (const char *id)
{
  size_t n = 0;

  for (const char *p = id; *p; p++, n++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_'
          || *p == '-' || *p == '.'))
      return false;
  return n > 0 && n < 128;
}

/* The daemon's {"message": ...} on an error status, for the one-line error. */
static int
api_error (const struct moat_engine *e, const char *what, int status, const char *body, struct moat_error *err)
{
  json_t *j = json_loads (body, 0, NULL);
  const char *m = json_string_value (json_object_get (j, "message"));
  int r = moat_err (err, 0, "%s: %s: HTTP %d%s%.200s", e->url, what, status, m ? ": " : "", m ? m : "");
  json_decref (j);
  /* So that callers can tell "no such container" from a failure. */
  if (status == 404)
    err->code = ENOENT;
  return r;
}

static int
get (const struct moat_engine *e, const char *method, const char *target, size_t max, int *status, char **out,
     struct moat_error *err)
{
  size_t len;

  if (moat_http_request (e->path, method, target, NULL, e->timeout_ms, max, status, out, &len, err) < 0)
    return moat_error_wrap (err, "%s %s", e->url, target);
  return 0;
}

int
moat_engine_ping (const struct moat_engine *e, struct moat_error *err)
{
  cleanup_free char *body = NULL;
  int status;

  if (get (e, "GET", "/_ping", 4096, &status, &body, err) < 0)
    return -1;
  if (status != 200)
    return api_error (e, "/_ping", status, body, err);
  return 0;
}

int
moat_engine_list (const struct moat_engine *e, bool all, struct moat_strv *ids, struct moat_error *err)
{
  cleanup_free char *body = NULL;
  json_error_t je;
  json_t *arr, *c;
  size_t i;
  int status;

  memset (ids, 0, sizeof *ids);
  if (get (e, "GET", all ? "/containers/json?all=1" : "/containers/json", MOAT_ENGINE_LIST_MAX, &status, &body,
           err)
      < 0)
    return -1;
  if (status != 200)
    return api_error (e, "list containers", status, body, err);
  arr = json_loads (body, 0, &je);
  if (!json_is_array (arr))
    {
      json_decref (arr);
      return moat_err (err, EPROTO, "%s: list containers: not a JSON array", e->url);
    }
  ids->v = calloc (json_array_size (arr) + 1, sizeof *ids->v);
  if (ids->v == NULL)
    {
      json_decref (arr);
      return moat_err (err, ENOMEM, "list containers");
    }
  json_array_foreach (arr, i, c)
    {
      const char *id = json_string_value (json_object_get (c, "Id"));
      if (id == NULL || !moat_engine_id_ok (id))
        continue; /* not something we could inspect; audit counts what it saw */
      if ((ids->v[ids->n] = strdup (id)) == NULL)
        {
          json_decref (arr);
          spec_strv_free (ids);
          return moat_err (err, ENOMEM, "list containers");
        }
      ids->n++;
    }
  json_decref (arr);
  return 0;
}

int
moat_engine_inspect (const struct moat_engine *e, const char *id, struct moat_audit_input *in, bool *running,
                     struct moat_error *err)
{
  cleanup_free char *body = NULL;
  char target[256];
  enum moat_input_kind kind;
  json_error_t je;
  json_t *o;
  int status, r;

  if (!moat_engine_id_ok (id))
    return moat_err (err, EINVAL, "container id `%.140s` is not an id", id);
  snprintf (target, sizeof target, "/containers/%s/json", id);
  if (get (e, "GET", target, MOAT_ENGINE_INSPECT_MAX, &status, &body, err) < 0)
    return -1;
  if (status != 200)
    return api_error (e, "inspect", status, body, err);
  o = json_loads (body, JSON_REJECT_DUPLICATES, &je);
  if (o == NULL)
    return moat_err (err, EPROTO, "%s: inspect %s: %d:%d: %s", e->url, id, je.line, je.column, je.text);
  if (moat_inspect_kind (o, &kind) < 0 || kind == MOAT_INPUT_OCI)
    r = moat_err (err, EPROTO, "%s: inspect %s: not a container inspect document", e->url, id);
  else
    {
      *running = json_is_true (json_object_get (json_object_get (o, "State"), "Running"));
      r = moat_inspect_convert (o, kind, in, err);
    }
  json_decref (o);
  return r;
}

int
moat_engine_stop (const struct moat_engine *e, const char *id, struct moat_error *err)
{
  cleanup_free char *body = NULL;
  char target[256];
  int status;

  if (!moat_engine_id_ok (id))
    return moat_err (err, EINVAL, "container id `%.140s` is not an id", id);
  /* t=0: the engine's stop signal, then SIGKILL at once; a violator gets no
     grace period to finish what it started. */
  snprintf (target, sizeof target, "/containers/%s/stop?t=0", id);
  if (get (e, "POST", target, 64 << 10, &status, &body, err) < 0)
    return -1;
  if (status == 204)
    return 0;
  if (status == 304 || status == 404)
    return 1;
  return api_error (e, "stop", status, body, err);
}

static void
copy_str (char *dst, size_t size, const char *s)
{
  snprintf (dst, size, "%s", s ? s : "");
}

int
moat_engine_event_parse (const char *line, size_t len, struct moat_engine_event *ev, struct moat_error *err)
{
  json_error_t je;
  json_t *o = json_loadb (line, len, 0, &je), *actor, *attrs, *tn;
  const char *s;

  memset (ev, 0, sizeof *ev);
  if (!json_is_object (o))
    {
      json_decref (o);
      return moat_err (err, EPROTO, "event: not a JSON object");
    }
  actor = json_object_get (o, "Actor");
  attrs = json_object_get (actor, "Attributes");
  s = json_string_value (json_object_get (o, "Type"));
  /* Before API 1.22 there was no Type: every event with an id was a
     container's. */
  copy_str (ev->type, sizeof ev->type, s ? s : json_string_value (json_object_get (o, "id")) ? "container" : "");
  s = json_string_value (json_object_get (o, "Action"));
  copy_str (ev->action, sizeof ev->action, s ? s : json_string_value (json_object_get (o, "status")));
  s = json_string_value (json_object_get (actor, "ID"));
  copy_str (ev->id, sizeof ev->id, s ? s : json_string_value (json_object_get (o, "id")));
  copy_str (ev->name, sizeof ev->name, json_string_value (json_object_get (attrs, "name")));
  s = json_string_value (json_object_get (attrs, "image"));
  copy_str (ev->image, sizeof ev->image, s ? s : json_string_value (json_object_get (o, "from")));
  tn = json_object_get (o, "timeNano");
  if (json_is_integer (tn))
    ev->time_nano = json_integer_value (tn);
  else if (json_is_integer (json_object_get (o, "time")))
    ev->time_nano = json_integer_value (json_object_get (o, "time")) * 1000000000LL;
  json_decref (o);
  return 0;
}

int
moat_engine_events (const struct moat_engine *e, long long since_nano, const sigset_t *sigmask,
                    struct moat_http_conn *c, struct moat_http_response *r, struct moat_error *err)
{
  /* filters={"type":["container"],"event":["create","start"]}, URL-encoded.
     podman 4.3 honours both; the caller filters again anyway. */
  static const char filters[] = "filters=%7B%22type%22%3A%5B%22container%22%5D%2C%22event%22%3A%5B%22create%22%2C"
                                "%22start%22%5D%7D";
  char target[512];
  cleanup_free char *body = NULL;
  size_t len;

  if (since_nano > 0)
    snprintf (target, sizeof target, "/events?since=%lld.%09lld&%s", since_nano / 1000000000LL,
              since_nano % 1000000000LL, filters);
  else
    snprintf (target, sizeof target, "/events?%s", filters);
  if (moat_http_connect (c, e->path, e->timeout_ms, err) < 0)
    return moat_error_wrap (err, "%s", e->url);
  c->sigmask = sigmask;
  if (moat_http_send (c, "GET", target, NULL, err) < 0 || moat_http_read_head (c, r, err) < 0)
    {
      moat_http_close (c);
      return moat_error_wrap (err, "%s /events", e->url);
    }
  if (r->status != 200)
    {
      int rc = moat_http_read_all (c, r, 64 << 10, &body, &len, err) < 0
                   ? moat_err (err, 0, "%s: /events: HTTP %d", e->url, r->status)
                   : api_error (e, "/events", r->status, body, err);
      moat_http_close (c);
      return rc;
    }
  /* The stream is idle for as long as nothing happens: no read timeout. */
  c->timeout_ms = -1;
  return 0;
}
