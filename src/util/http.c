/* SPDX-License-Identifier: GPL-2.0-or-later */
/* HTTP/1.1 over a unix socket for the engine APIs (see http.h for why this is
 * not libcurl).  RFC 9112 is followed where a daemon could make us misread a
 * response: one Content-Length, Transfer-Encoding only "chunked", no obsolete
 * line folding, no NUL in the head; everything else is rejected rather than
 * guessed at. */
#include "util/http.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_CHUNK 1024 /* a chunk-size line or a trailer line */
#define TRAILERS_MAX 64
#define CONTENT_LENGTH_MAX (1ULL << 40)

int
moat_http_unix_path (const char *url, char *out, size_t size, struct moat_error *err)
{
  static const char scheme[] = "unix://";
  const char *p;
  size_t n;

  if (url == NULL || strncmp (url, scheme, sizeof scheme - 1) != 0)
    {
      const char *colon = url ? strstr (url, "://") : NULL;
      if (colon)
        return moat_err (err, EPROTONOSUPPORT, "`%.*s`: only unix:///path/to.sock is supported",
                         (int) (colon - url + 3), url);
      return moat_err (err, EINVAL, "`%s`: expected unix:///path/to.sock", url ? url : "");
    }
  p = url + sizeof scheme - 1;
  n = strlen (p);
  if (p[0] != '/')
    return moat_err (err, EINVAL, "`%s`: the socket path must be absolute (unix:///path/to.sock)", url);
  if (n >= size || n >= sizeof ((struct sockaddr_un *) 0)->sun_path)
    return moat_err (err, ENAMETOOLONG, "`%s`: socket path too long", url);
  memcpy (out, p, n + 1);
  return 0;
}

void
moat_http_conn_init (struct moat_http_conn *c, moat_http_read_fn read, void *src)
{
  memset (c, 0, offsetof (struct moat_http_conn, buf));
  c->fd = -1;
  c->timeout_ms = -1;
  c->read = read;
  c->src = src;
  c->off = c->len = 0;
  c->eof = false;
}

ssize_t
moat_http_mem_read (void *src, char *buf, size_t n, struct moat_error *err)
{
  struct moat_http_mem *m = src;
  size_t k = m->n < n ? m->n : n;

  (void) err;
  if (k > m->step)
    k = m->step;
  memcpy (buf, m->p, k);
  m->p += k;
  m->n -= k;
  return (ssize_t) k;
}

/* Wait until FD is ready for EVENTS: 0, or -1 with ETIMEDOUT / EINTR. */
static int
wait_fd (struct moat_http_conn *c, short events, struct moat_error *err)
{
  struct pollfd pfd = { .fd = c->fd, .events = events };
  struct timespec ts, *tsp = NULL;
  int r;

  if (c->timeout_ms >= 0)
    {
      ts.tv_sec = c->timeout_ms / 1000;
      ts.tv_nsec = (long) (c->timeout_ms % 1000) * 1000000L;
      tsp = &ts;
    }
  r = c->sigmask ? ppoll (&pfd, 1, tsp, c->sigmask) : poll (&pfd, 1, c->timeout_ms);
  if (r < 0)
    return moat_err (err, errno, "wait for the engine");
  if (r == 0)
    return moat_err (err, ETIMEDOUT, "no answer from the engine within %d ms", c->timeout_ms);
  return 0;
}

int
moat_http_connect (struct moat_http_conn *c, const char *path, int timeout_ms, struct moat_error *err)
{
  struct sockaddr_un sa = { .sun_family = AF_UNIX };
  struct timespec pause = { 0, 10 * 1000000L };
  int waited = 0;

  moat_http_conn_init (c, NULL, NULL);
  c->timeout_ms = timeout_ms;
  if (strlen (path) >= sizeof sa.sun_path)
    return moat_err (err, ENAMETOOLONG, "%s", path);
  strcpy (sa.sun_path, path);
  c->fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (c->fd < 0)
    return moat_err (err, errno, "socket");
  /* A non-blocking connect on a unix socket fails with EAGAIN while the
     listener's backlog is full, instead of blocking without a limit. */
  while (connect (c->fd, (struct sockaddr *) &sa, sizeof sa) < 0)
    {
      if ((errno != EAGAIN && errno != EINTR) || (timeout_ms >= 0 && waited >= timeout_ms))
        {
          int e = errno;
          moat_http_close (c);
          return moat_err (err, e, "connect to %s", path);
        }
      nanosleep (&pause, NULL);
      waited += 10;
    }
  return 0;
}

void
moat_http_close (struct moat_http_conn *c)
{
  if (c->fd >= 0)
    close (c->fd);
  c->fd = -1;
}

static int
write_all (struct moat_http_conn *c, const char *p, size_t n, struct moat_error *err)
{
  while (n > 0)
    {
      ssize_t w = send (c->fd, p, n, MSG_NOSIGNAL);
      if (w < 0 && errno == EAGAIN)
        {
          if (wait_fd (c, POLLOUT, err) < 0)
            return -1;
          continue;
        }
      if (w < 0 && errno == EINTR)
        continue;
      if (w <= 0)
        return moat_err (err, errno, "send the request");
      p += w;
      n -= (size_t) w;
    }
  return 0;
}

int
moat_http_send (struct moat_http_conn *c, const char *method, const char *target, const char *body,
                struct moat_error *err)
{
  char head[4096];
  size_t blen = body ? strlen (body) : 0;
  int n;

  /* The target carries ids the daemon gave us: nothing that could end the
     request line or start a header. */
  for (const char *p = target; *p; p++)
    if ((unsigned char) *p <= 0x20 || (unsigned char) *p >= 0x7f)
      return moat_err (err, EINVAL, "request target contains a space or control character");
  if (body)
    n = snprintf (head, sizeof head,
                  "%s %s HTTP/1.1\r\nHost: docker\r\nUser-Agent: moat/" MOAT_VERSION
                  "\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                  method, target, blen);
  else
    n = snprintf (head, sizeof head,
                  "%s %s HTTP/1.1\r\nHost: docker\r\nUser-Agent: moat/" MOAT_VERSION "\r\nConnection: close\r\n%s\r\n",
                  method, target, strcmp (method, "POST") == 0 ? "Content-Length: 0\r\n" : "");
  if (n < 0 || (size_t) n >= sizeof head)
    return moat_err (err, E2BIG, "request target too long");
  if (write_all (c, head, (size_t) n, err) < 0)
    return -1;
  return body ? write_all (c, body, blen, err) : 0;
}

/* Read more bytes into the buffer: > 0 read, 0 at end of stream, -1 error. */
static ssize_t
fill (struct moat_http_conn *c, struct moat_error *err)
{
  ssize_t r;

  if (c->off == c->len)
    c->off = c->len = 0;
  else if (c->len == sizeof c->buf && c->off > 0)
    {
      memmove (c->buf, c->buf + c->off, c->len - c->off);
      c->len -= c->off;
      c->off = 0;
    }
  if (c->len == sizeof c->buf)
    return moat_err (err, E2BIG, "response line longer than %zu bytes", sizeof c->buf);
  if (c->eof)
    return 0;
  for (;;)
    {
      if (c->read)
        r = c->read (c->src, c->buf + c->len, sizeof c->buf - c->len, err);
      else
        {
          r = recv (c->fd, c->buf + c->len, sizeof c->buf - c->len, 0);
          if (r < 0 && errno == EAGAIN)
            {
              if (wait_fd (c, POLLIN, err) < 0)
                return -1;
              continue;
            }
          if (r < 0 && errno == EINTR)
            continue;
          if (r < 0)
            return moat_err (err, errno, "read the response");
        }
      break;
    }
  if (r < 0)
    return -1;
  if (r == 0)
    c->eof = true;
  c->len += (size_t) r;
  return r;
}

/* A CRLF-terminated line of at most MAX bytes (CRLF excluded), consumed from
 * the buffer; *line points into it and stays valid until the next fill. */
static int
take_line (struct moat_http_conn *c, size_t max, const char *what, char **line, size_t *len,
           struct moat_error *err)
{
  for (;;)
    {
      char *start = c->buf + c->off, *nl = memchr (start, '\n', c->len - c->off);
      if (nl)
        {
          size_t n = (size_t) (nl - start);
          if (n == 0 || start[n - 1] != '\r')
            return moat_err (err, EPROTO, "%s: line not terminated by CRLF", what);
          if (n - 1 > max)
            return moat_err (err, E2BIG, "%s: line longer than %zu bytes", what, max);
          if (memchr (start, '\0', n))
            return moat_err (err, EPROTO, "%s: NUL byte", what);
          *line = start;
          *len = n - 1;
          c->off += n + 1;
          return 0;
        }
      if (c->len - c->off > max + 1)
        return moat_err (err, E2BIG, "%s: line longer than %zu bytes", what, max);
      ssize_t r = fill (c, err);
      if (r < 0)
        return -1;
      if (r == 0)
        return moat_err (err, EPROTO, "%s: connection closed mid-line", what);
    }
}

static bool
header_is (const char *line, size_t n, const char *name, const char **value, size_t *vlen)
{
  size_t k = strlen (name);

  if (n <= k || strncasecmp (line, name, k) != 0 || line[k] != ':')
    return false;
  *value = line + k + 1;
  *vlen = n - k - 1;
  while (*vlen && (**value == ' ' || **value == '\t'))
    (*value)++, (*vlen)--;
  while (*vlen && ((*value)[*vlen - 1] == ' ' || (*value)[*vlen - 1] == '\t'))
    (*vlen)--;
  return true;
}

static int
parse_status (const char *line, size_t n, struct moat_http_response *r, struct moat_error *err)
{
  /* "HTTP/1.1 200 OK": the version, one space, three digits, then a space
     or the end. */
  if (n < 12 || strncmp (line, "HTTP/1.", 7) != 0 || (line[7] != '0' && line[7] != '1') || line[8] != ' '
      || line[9] < '1' || line[9] > '5' || line[10] < '0' || line[10] > '9' || line[11] < '0' || line[11] > '9'
      || (n > 12 && line[12] != ' '))
    return moat_err (err, EPROTO, "not an HTTP/1.x status line: `%.*s`", (int) (n < 40 ? n : 40), line);
  r->status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
  return 0;
}

static int
parse_content_length (const char *v, size_t n, unsigned long long *out, struct moat_error *err)
{
  unsigned long long x = 0;
  size_t i;

  if (n == 0 || n > 15)
    return moat_err (err, EPROTO, "bad Content-Length");
  for (i = 0; i < n; i++)
    {
      if (v[i] < '0' || v[i] > '9')
        return moat_err (err, EPROTO, "bad Content-Length");
      x = x * 10 + (unsigned long long) (v[i] - '0');
    }
  if (x > CONTENT_LENGTH_MAX)
    return moat_err (err, E2BIG, "Content-Length %llu too large", x);
  *out = x;
  return 0;
}

static int
parse_header (const char *line, size_t n, struct moat_http_response *r, bool *has_cl, unsigned long long *cl,
              bool *chunked, struct moat_error *err)
{
  const char *v, *colon = memchr (line, ':', n);
  size_t vlen;
  unsigned long long x = 0;

  if (line[0] == ' ' || line[0] == '\t')
    return moat_err (err, EPROTO, "obsolete header line folding");
  if (colon == NULL || colon == line)
    return moat_err (err, EPROTO, "malformed header line");
  for (const char *p = line; p < colon; p++)
    if (*p <= ' ' || *p >= 0x7f)
      return moat_err (err, EPROTO, "malformed header name");
  if (header_is (line, n, "Content-Length", &v, &vlen))
    {
      if (parse_content_length (v, vlen, &x, err) < 0)
        return -1;
      if (*has_cl && x != *cl)
        return moat_err (err, EPROTO, "conflicting Content-Length headers");
      *has_cl = true;
      *cl = x;
    }
  else if (header_is (line, n, "Transfer-Encoding", &v, &vlen))
    {
      if (vlen != 7 || strncasecmp (v, "chunked", 7) != 0 || *chunked)
        return moat_err (err, EPROTO, "unsupported Transfer-Encoding `%.*s`", (int) (vlen < 32 ? vlen : 32), v);
      *chunked = true;
    }
  else if (header_is (line, n, "Content-Type", &v, &vlen))
    snprintf (r->content_type, sizeof r->content_type, "%.*s", (int) vlen, v);
  return 0;
}

int
moat_http_read_head (struct moat_http_conn *c, struct moat_http_response *r, struct moat_error *err)
{
  bool has_cl = false, chunked = false;
  unsigned long long cl = 0;
  size_t used = 0, n;
  char *line;
  int i;

  memset (r, 0, sizeof *r);
  if (take_line (c, MOAT_HTTP_HEAD_MAX - 2, "response status", &line, &n, err) < 0)
    return -1;
  if (parse_status (line, n, r, err) < 0)
    return -1;
  used = n + 2;
  for (i = 0;; i++)
    {
      if (take_line (c, MOAT_HTTP_HEAD_MAX - used, "response header", &line, &n, err) < 0)
        return -1;
      used += n + 2;
      if (n == 0)
        break;
      if (used > MOAT_HTTP_HEAD_MAX || i >= 256)
        return moat_err (err, E2BIG, "response head over %d bytes", MOAT_HTTP_HEAD_MAX);
      if (parse_header (line, n, r, &has_cl, &cl, &chunked, err) < 0)
        return -1;
    }
  if (r->status < 200)
    return moat_err (err, EPROTO, "unexpected informational response %d", r->status);
  if (r->status == 204 || r->status == 304)
    r->body = MOAT_HTTP_BODY_NONE;
  else if (chunked)
    r->body = MOAT_HTTP_BODY_CHUNKED;
  else if (has_cl)
    r->body = MOAT_HTTP_BODY_LENGTH, r->remaining = cl;
  else
    r->body = MOAT_HTTP_BODY_CLOSE;
  r->done = r->body == MOAT_HTTP_BODY_NONE || (r->body == MOAT_HTTP_BODY_LENGTH && cl == 0);
  return 0;
}

static int
parse_chunk_size (const char *line, size_t n, unsigned long long *out, struct moat_error *err)
{
  unsigned long long x = 0;
  size_t i;

  for (i = 0; i < n && line[i] != ';' && line[i] != ' ' && line[i] != '\t'; i++)
    {
      int d;
      if (line[i] >= '0' && line[i] <= '9')
        d = line[i] - '0';
      else if ((line[i] | 0x20) >= 'a' && (line[i] | 0x20) <= 'f')
        d = (line[i] | 0x20) - 'a' + 10;
      else
        return moat_err (err, EPROTO, "bad chunk size");
      if (i >= 15)
        return moat_err (err, E2BIG, "chunk size too large");
      x = x * 16 + (unsigned long long) d;
    }
  if (i == 0)
    return moat_err (err, EPROTO, "bad chunk size");
  *out = x;
  return 0;
}

/* Move to the next chunk's data: 1 inside a chunk, 0 at the end of the body. */
static int
next_chunk (struct moat_http_conn *c, struct moat_http_response *r, struct moat_error *err)
{
  unsigned long long size = 0;
  char *line;
  size_t n;
  int i;

  if (r->in_chunk)
    {
      /* The CRLF that ends the previous chunk's data. */
      if (take_line (c, LINE_MAX_CHUNK, "chunk", &line, &n, err) < 0)
        return -1;
      if (n != 0)
        return moat_err (err, EPROTO, "chunk data not followed by CRLF");
      r->in_chunk = false;
    }
  if (take_line (c, LINE_MAX_CHUNK, "chunk size", &line, &n, err) < 0)
    return -1;
  if (parse_chunk_size (line, n, &size, err) < 0)
    return -1;
  if (size > 0)
    {
      r->in_chunk = true;
      r->remaining = size;
      return 1;
    }
  for (i = 0; i < TRAILERS_MAX; i++)
    {
      if (take_line (c, LINE_MAX_CHUNK, "trailer", &line, &n, err) < 0)
        return -1;
      if (n == 0)
        {
          r->done = true;
          return 0;
        }
    }
  return moat_err (err, E2BIG, "more than %d trailer lines", TRAILERS_MAX);
}

ssize_t
moat_http_read_body (struct moat_http_conn *c, struct moat_http_response *r, char *buf, size_t n,
                     struct moat_error *err)
{
  size_t avail, k;
  ssize_t got;

  for (;;)
    {
      if (r->done || n == 0)
        return 0;
      if (r->body == MOAT_HTTP_BODY_CHUNKED && (!r->in_chunk || r->remaining == 0))
        {
          int s = next_chunk (c, r, err);
          if (s <= 0)
            return s;
        }
      avail = c->len - c->off;
      if (avail == 0)
        {
          got = fill (c, err);
          if (got < 0)
            return -1;
          if (got == 0)
            {
              if (r->body == MOAT_HTTP_BODY_CLOSE)
                {
                  r->done = true;
                  return 0;
                }
              return moat_err (err, EPROTO, "connection closed before the end of the body");
            }
          continue;
        }
      k = avail < n ? avail : n;
      if (r->body != MOAT_HTTP_BODY_CLOSE && k > r->remaining)
        k = (size_t) r->remaining;
      memcpy (buf, c->buf + c->off, k);
      c->off += k;
      if (r->body != MOAT_HTTP_BODY_CLOSE)
        r->remaining -= k;
      if (r->body == MOAT_HTTP_BODY_LENGTH && r->remaining == 0)
        r->done = true;
      return (ssize_t) k;
    }
}

int
moat_http_read_all (struct moat_http_conn *c, struct moat_http_response *r, size_t max, char **out,
                    size_t *len, struct moat_error *err)
{
  size_t cap = r->body == MOAT_HTTP_BODY_LENGTH && r->remaining < max ? (size_t) r->remaining + 1 : 4096, n = 0;
  char *buf = malloc (cap), *nb;
  ssize_t got;

  if (buf == NULL)
    return moat_err (err, ENOMEM, "response body");
  if (r->body == MOAT_HTTP_BODY_LENGTH && r->remaining > max)
    {
      free (buf);
      return moat_err (err, E2BIG, "response body of %llu bytes over the %zu-byte limit", r->remaining, max);
    }
  for (;;)
    {
      if (n + 1 == cap)
        {
          if (cap > max)
            {
              free (buf);
              return moat_err (err, E2BIG, "response body over the %zu-byte limit", max);
            }
          cap = cap * 2 > max + 2 ? max + 2 : cap * 2;
          nb = realloc (buf, cap);
          if (nb == NULL)
            {
              free (buf);
              return moat_err (err, ENOMEM, "response body");
            }
          buf = nb;
        }
      got = moat_http_read_body (c, r, buf + n, cap - n - 1, err);
      if (got < 0)
        {
          free (buf);
          return -1;
        }
      if (got == 0)
        break;
      n += (size_t) got;
    }
  if (n > max)
    {
      free (buf);
      return moat_err (err, E2BIG, "response body over the %zu-byte limit", max);
    }
  buf[n] = '\0';
  *out = buf;
  *len = n;
  return 0;
}

int
moat_http_next_line (struct moat_http_conn *c, struct moat_http_response *r, struct moat_http_lines *l,
                     char **line, size_t *len, struct moat_error *err)
{
  if (l->consumed)
    {
      memmove (l->buf, l->buf + l->consumed, l->len - l->consumed);
      l->len -= l->consumed;
      l->consumed = 0;
    }
  for (;;)
    {
      char *nl = l->len ? memchr (l->buf, '\n', l->len) : NULL;
      size_t n;
      ssize_t got;

      if (nl || (r->done && l->len > 0))
        {
          n = nl ? (size_t) (nl - l->buf) : l->len;
          l->consumed = nl ? n + 1 : n;
          if (n > 0 && l->buf[n - 1] == '\r')
            n--;
          l->buf[n] = '\0';
          *line = l->buf;
          *len = n;
          return 1;
        }
      if (r->done)
        return 0;
      if (l->len >= l->max)
        return moat_err (err, E2BIG, "event longer than %zu bytes", l->max);
      if (l->cap - l->len < 4096 + 1)
        {
          size_t ncap = l->cap ? l->cap * 2 : 8192;
          char *nb;
          if (ncap > l->max + 4096 + 1)
            ncap = l->max + 4096 + 1;
          nb = realloc (l->buf, ncap);
          if (nb == NULL)
            return moat_err (err, ENOMEM, "event stream");
          l->buf = nb;
          l->cap = ncap;
        }
      got = moat_http_read_body (c, r, l->buf + l->len, l->cap - l->len - 1, err);
      if (got < 0)
        return -1;
      l->len += (size_t) got;
    }
}

void
moat_http_lines_free (struct moat_http_lines *l)
{
  free (l->buf);
  l->buf = NULL;
  l->len = l->cap = l->consumed = 0;
}

int
moat_http_request (const char *path, const char *method, const char *target, const char *body, int timeout_ms,
                   size_t max, int *status, char **out, size_t *len, struct moat_error *err)
{
  struct moat_http_conn *c = malloc (sizeof *c);
  struct moat_http_response r;
  int ret = -1;

  if (c == NULL)
    return moat_err (err, ENOMEM, "connection");
  if (moat_http_connect (c, path, timeout_ms, err) < 0)
    {
      free (c);
      return -1;
    }
  if (moat_http_send (c, method, target, body, err) == 0 && moat_http_read_head (c, &r, err) == 0
      && moat_http_read_all (c, &r, max, out, len, err) == 0)
    {
      *status = r.status;
      ret = 0;
    }
  moat_http_close (c);
  free (c);
  return ret;
}
