/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MOAT_HTTP_H
#define MOAT_HTTP_H

/* A compact HTTP/1.1 client for a container engine's API on a unix socket
 * (Docker Engine API, podman's Docker-compatible service).  The main binary
 * does not link libcurl (start-up cost, docs/performance.md), and the engine
 * API needs little: one request per connection, Content-Length, chunked or
 * close-delimited bodies, and a streaming body for /events.
 *
 * Everything the daemon sends is untrusted input: the head is capped at
 * MOAT_HTTP_HEAD_MAX, every body read takes a cap, and every wait on the
 * socket has a timeout (or is interruptible by the caller's signals). */

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "util/error.h"

#define MOAT_HTTP_HEAD_MAX 16384
#define MOAT_HTTP_BUF 16384

/* Where response bytes come from: the socket (NULL), or a test/fuzz source.
 * Returns bytes read, 0 at end of stream, -1 with ERR filled. */
typedef ssize_t (*moat_http_read_fn) (void *src, char *buf, size_t n, struct moat_error *err);

struct moat_http_conn
{
  int fd;
  int timeout_ms;           /* per wait; -1 = no limit (the event stream) */
  const sigset_t *sigmask;  /* if set, waits use ppoll with this mask, so that a
                               blocked SIGTERM interrupts them (EINTR) */
  moat_http_read_fn read;   /* NULL = read fd */
  void *src;
  char buf[MOAT_HTTP_BUF];
  size_t off, len;          /* unread bytes are buf[off, len) */
  bool eof;
};

enum moat_http_body
{
  MOAT_HTTP_BODY_NONE,      /* 204, 304, 1xx */
  MOAT_HTTP_BODY_LENGTH,    /* Content-Length */
  MOAT_HTTP_BODY_CHUNKED,
  MOAT_HTTP_BODY_CLOSE,     /* until the server closes */
};

struct moat_http_response
{
  int status;
  enum moat_http_body body;
  unsigned long long remaining; /* of the body (LENGTH) or of the chunk (CHUNKED) */
  bool in_chunk;                /* CHUNKED: inside a chunk's data */
  bool done;                    /* the body has ended */
  char content_type[64];
};

/* "unix:///path/to.sock" -> "/path/to.sock".  Any other scheme is refused. */
int moat_http_unix_path (const char *url, char *out, size_t size, struct moat_error *err);

/* A connection reading from memory or anything else (tests, fuzzing). */
void moat_http_conn_init (struct moat_http_conn *c, moat_http_read_fn read, void *src);

/* A memory source that hands out at most STEP bytes per read, so that tests
 * see every way a response can be split across reads. */
struct moat_http_mem
{
  const char *p;
  size_t n, step;
};
ssize_t moat_http_mem_read (void *src, char *buf, size_t n, struct moat_error *err);

/* Connect to the unix socket PATH; TIMEOUT_MS applies to every later wait. */
int moat_http_connect (struct moat_http_conn *c, const char *path, int timeout_ms, struct moat_error *err);
void moat_http_close (struct moat_http_conn *c);

/* Send one request ("Connection: close"); BODY (JSON) may be NULL. */
int moat_http_send (struct moat_http_conn *c, const char *method, const char *target, const char *body,
                    struct moat_error *err);

/* Read and parse the status line and headers. */
int moat_http_read_head (struct moat_http_conn *c, struct moat_http_response *r, struct moat_error *err);

/* Up to N bytes of the decoded body: > 0 bytes, 0 at its end, -1 on error. */
ssize_t moat_http_read_body (struct moat_http_conn *c, struct moat_http_response *r, char *buf, size_t n,
                             struct moat_error *err);

/* The whole body, NUL-terminated; more than MAX bytes is E2BIG. */
int moat_http_read_all (struct moat_http_conn *c, struct moat_http_response *r, size_t max, char **out,
                        size_t *len, struct moat_error *err);

/* Lines of a streamed body (the event stream: one JSON document per line). */
struct moat_http_lines
{
  char *buf;
  size_t len, cap, max;     /* a line longer than max is E2BIG */
  size_t consumed;          /* bytes of buf handed out by the last call */
};

/* The next line (without its newline, NUL-terminated, valid until the next
 * call): 1 with *line set, 0 at the end of the body, -1 on error. */
int moat_http_next_line (struct moat_http_conn *c, struct moat_http_response *r, struct moat_http_lines *l,
                         char **line, size_t *len, struct moat_error *err);
void moat_http_lines_free (struct moat_http_lines *l);

/* One complete request on a new connection: status in *status, body (capped
 * at MAX) in *out. */
int moat_http_request (const char *path, const char *method, const char *target, const char *body, int timeout_ms,
                       size_t max, int *status, char **out, size_t *len, struct moat_error *err);

#endif
