/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer harness for the engine API's HTTP response parser (util/http.c):
 * the daemon's answers are untrusted.  The first input byte sets how the
 * bytes are cut into reads, so that every split of a status line, a header,
 * a chunk-size line or a chunk's CRLF across reads is exercised.  Each input
 * is read twice: as an event stream (lines, each given to the event parser)
 * and as one capped body. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/engine.h"
#include "util/http.h"

static void
check_head (const struct moat_http_response *r)
{
  if (r->status < 200 || r->status > 599)
    abort ();
  if (r->body == MOAT_HTTP_BODY_NONE && !r->done)
    abort ();
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static struct moat_http_conn c;
  struct moat_http_response r;
  struct moat_http_lines l = { .max = 4096 };
  struct moat_error err = { 0 };
  struct moat_http_mem m;
  char *line, *body;
  size_t len;
  int n, guard = 0;

  if (size < 1)
    return 0;
  m = (struct moat_http_mem){ (const char *) data + 1, size - 1, (size_t) data[0] % 17 + 1 };
  moat_http_conn_init (&c, moat_http_mem_read, &m);
  if (moat_http_read_head (&c, &r, &err) == 0)
    {
      check_head (&r);
      while ((n = moat_http_next_line (&c, &r, &l, &line, &len, &err)) > 0)
        {
          struct moat_engine_event ev;
          if (len > l.max || memchr (line, '\n', len) || line[len] != '\0' || ++guard > 1 << 20)
            abort ();
          /* Each line is an event the watcher parses next. */
          if (moat_engine_event_parse (line, len, &ev, &err) == 0
              && (ev.id[sizeof ev.id - 1] || ev.action[sizeof ev.action - 1] || ev.type[sizeof ev.type - 1]))
            abort ();
          memset (&err, 0, sizeof err);
        }
      if (n < 0 && err.msg[0] == '\0')
        abort ();
    }
  else if (err.msg[0] == '\0')
    abort ();
  moat_http_lines_free (&l);

  m = (struct moat_http_mem){ (const char *) data + 1, size - 1, (size_t) data[0] % 251 + 1 };
  moat_http_conn_init (&c, moat_http_mem_read, &m);
  memset (&err, 0, sizeof err);
  if (moat_http_read_head (&c, &r, &err) == 0)
    {
      check_head (&r);
      if (moat_http_read_all (&c, &r, 8192, &body, &len, &err) == 0)
        {
          if (len > 8192 || body[len] != '\0')
            abort ();
          free (body);
        }
      else if (err.msg[0] == '\0')
        abort ();
    }
  return 0;
}
