/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MOAT_EVENTS_READ_H
#define MOAT_EVENTS_READ_H

/* The reading side of the events log (`moat events`): Docker's time and
 * filter syntax, matching, and the text form of an event.  Unlike the
 * writer (events.c) this uses jansson. */

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

/* A Go duration ("10m", "1h30s", "1.5h", "250ms"; units ns us µs ms s m h)
 * into nanoseconds; -1 when S is not one (or is negative). */
int moat_event_parse_duration (const char *s, int64_t *ns);

/* Docker's --since/--until TIME: a duration meaning NOW_NS minus it, unix
 * seconds with an optional fraction, or RFC 3339 (date, date and time, with
 * optional fraction and zone; no zone is local time).  -1 when S is none. */
int moat_event_parse_time (const char *s, int64_t now_ns, int64_t *ns);

/* --filter KEY=VALUE: type, event (or action), container (or id), name,
 * image, label (KEY or KEY=VALUE).  Several values of one key match when
 * any does; different keys must all match.  "type=container,name=web" adds
 * two filters (a comma starts a new one when a known key and '=' follow). */
struct moat_event_filter_item
{
  const char *key; /* normalised: "type", "event", "container", "name", "image", "label" */
  char *value;
};
struct moat_event_filter
{
  struct moat_event_filter_item *v;
  size_t n;
};
int moat_event_filter_add (struct moat_event_filter *f, const char *arg, struct moat_error *err);
bool moat_event_filter_match (const struct moat_event_filter *f, json_t *ev);
void moat_event_filter_free (struct moat_event_filter *f);

/* Docker's text form: "2026-11-23T16:30:02.123456789Z container die ID
 * (exitCode=0, name=x)", attributes sorted by key, control characters shown
 * as '?'.  A heap string without the newline, NULL on a malformed event. */
char *moat_event_text (json_t *ev);

#endif
