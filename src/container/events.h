/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MOAT_EVENTS_H
#define MOAT_EVENTS_H

#include <stddef.h>
#include <stdint.h>

/* The events log: one JSON object per line, shaped like the Docker Engine
 * API's event (docs.docker.com/reference/api/engine: /events), in
 *   <root>/.events.jsonl     appended to, one write(2) per event, O_APPEND
 *   <root>/.events.jsonl.1   the previous file, after a rotation
 * (dot names: no container id can take them, and `list` skips them).
 *
 * This file depends on libc alone (no jansson, no util/log.c): the
 * per-container monitor links it and must stay small.
 *
 * Rotation: when an event would take the file past the cap (1 MiB, or
 * $MOAT_EVENTS_MAX_BYTES), the writer renames it to .1 under an exclusive
 * flock(); every writer appends under a shared flock() after checking that
 * its fd is still the file at the path, so no event lands in a rotated file
 * and a reader that still holds the old fd can drain it to its end.
 *
 * Syslog mirror: with $MOAT_EVENTS_SYSLOG set (`moat --events-syslog` sets it
 * to /dev/log), each event also goes, as the same JSON line, to that unix
 * datagram socket in the RFC 3164 form syslog(3) uses, never blocking
 * (dropped when the daemon's queue is full). */

#define MOAT_EVENTS_FILE ".events.jsonl"
#define MOAT_EVENTS_FILE_OLD ".events.jsonl.1"
#define MOAT_EVENTS_MAX_BYTES_DEFAULT (1 << 20)
#define MOAT_EVENTS_MAX_BYTES_ENV "MOAT_EVENTS_MAX_BYTES"
#define MOAT_EVENTS_SYSLOG_ENV "MOAT_EVENTS_SYSLOG"
/* An event longer than this is refused (-EMSGSIZE). */
#define MOAT_EVENT_LINE_MAX (64 * 1024)

struct moat_event_attr
{
  const char *key;
  const char *value; /* NULL: the attribute is left out */
};

/* Append one event for container ID to the events log under the state root
 * ROOT.  Best effort by design: a failure returns -errno and never blocks the
 * caller for long (the container's life never waits on its log). */
int moat_event_emit (const char *root, const char *action, const char *id, const struct moat_event_attr *attrs,
                     size_t nattrs);

/* The JSON line (with its '\n') of one event at TIME_NS (unix ns), into BUF
 * of SIZE bytes; returns its length, or -EMSGSIZE when it does not fit.
 * Exposed for the unit tests. */
int moat_event_format (char *buf, size_t size, const char *action, const char *id,
                       const struct moat_event_attr *attrs, size_t nattrs, int64_t time_ns);

/* Append S (LEN bytes) to BUF as the inside of a JSON string: '"', '\\' and
 * control characters escaped, bytes that are not valid UTF-8 replaced by
 * U+FFFD.  Returns the new offset, or SIZE when it does not fit. */
size_t moat_json_escape (char *buf, size_t size, size_t off, const char *s, size_t len);

#endif
