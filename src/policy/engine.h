/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MOAT_POLICY_ENGINE_H
#define MOAT_POLICY_ENGINE_H

/* The few Docker Engine API calls that `audit --docker-host` and `watch`
 * make, on dockerd or on podman's Docker-compatible service: list, inspect,
 * stop, and the event stream.  Paths are unversioned so that the daemon
 * answers in its own current version (a pinned old version is refused by
 * daemons that raised their minimum). */

#include <signal.h>
#include <stdbool.h>

#include "policy/policy.h"
#include "util/http.h"

#define MOAT_ENGINE_TIMEOUT_MS 10000
#define MOAT_ENGINE_INSPECT_MAX (4 << 20)
#define MOAT_ENGINE_LIST_MAX (64 << 20)
#define MOAT_ENGINE_EVENT_MAX (256 << 10)

struct moat_engine
{
  const char *url;
  char path[108];
  int timeout_ms;
};

int moat_engine_open (struct moat_engine *e, const char *url, struct moat_error *err);

/* GET /_ping. */
int moat_engine_ping (const struct moat_engine *e, struct moat_error *err);

/* GET /containers/json[?all=1]: the ids, in *ids (free with moat_strv_free). */
int moat_engine_list (const struct moat_engine *e, bool all, struct moat_strv *ids, struct moat_error *err);

/* GET /containers/ID/json, converted as `moat audit` converts `docker
 * inspect` output; *running says whether State.Running is true.  A
 * container that does not exist (any more) fails with err->code ENOENT. */
int moat_engine_inspect (const struct moat_engine *e, const char *id, struct moat_audit_input *in, bool *running,
                         struct moat_error *err);

/* POST /containers/ID/stop?t=0: 0 stopped, 1 it was not running (or is
 * gone), -1 error. */
int moat_engine_stop (const struct moat_engine *e, const char *id, struct moat_error *err);

struct moat_engine_event
{
  char type[32];      /* "container" */
  char action[64];    /* "create", "start", ... */
  char id[132];
  char name[256];     /* Actor.Attributes.name, "" if absent */
  char image[256];    /* Actor.Attributes.image or from, "" if absent */
  long long time_nano;
};

/* One line of the event stream, in Docker's spelling (Type, Action,
 * Actor.ID, timeNano), its legacy one (status, id, from, time) or podman's
 * compat service's (the same keys; its timeNano is rounded). */
int moat_engine_event_parse (const char *line, size_t len, struct moat_engine_event *ev, struct moat_error *err);

/* GET /events for containers' create and start, from SINCE_NANO (0: now) on;
 * leaves the head read and the body ready for moat_http_next_line. */
int moat_engine_events (const struct moat_engine *e, long long since_nano, const sigset_t *sigmask,
                        struct moat_http_conn *c, struct moat_http_response *r, struct moat_error *err);

/* An id or name the daemon gave us, safe to put in a request path. */
bool moat_engine_id_ok (const char *id);

#endif
