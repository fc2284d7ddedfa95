/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "engine/crilog.h"

#include <stdlib.h>
#include <string.h>

#define TS_LEN MOAT_RFC3339_NS_LEN

static int
push (struct moat_cri_lines *ls, struct moat_cri_line *l)
{
  if (ls->n == ls->cap)
    {
      size_t cap = ls->cap ? ls->cap * 2 : 256;
      struct moat_cri_line *v = realloc (ls->v, cap * sizeof *v);
      if (v == NULL)
        return -1;
      ls->v = v;
      ls->cap = cap;
    }
  ls->v[ls->n++] = *l;
  memset (l, 0, sizeof *l);
  return 0;
}

/* One record "TS STREAM TAG CONTENT" (without its newline). */
static void
parse_record (struct moat_cri_lines *ls, const char *rec, size_t len)
{
  const char *content = rec + TS_LEN + 10;
  struct moat_cri_line *open;
  size_t clen;
  char *text;
  bool err;

  if (len < TS_LEN + 10 || rec[TS_LEN] != ' ' || rec[TS_LEN + 7] != ' ' || rec[TS_LEN + 9] != ' '
      || (rec[TS_LEN + 8] != 'F' && rec[TS_LEN + 8] != 'P'))
    return;
  err = memcmp (rec + TS_LEN + 1, "stderr", 6) == 0;
  if (!err && memcmp (rec + TS_LEN + 1, "stdout", 6) != 0)
    return;
  clen = len - (size_t) (content - rec);
  open = &ls->open[err];
  text = realloc (open->text, open->len + clen + 1);
  if (text == NULL)
    return;
  if (open->text == NULL)
    {
      memcpy (open->ts, rec, TS_LEN);
      open->ts[TS_LEN] = '\0';
      open->err = err;
    }
  open->text = text;
  memcpy (open->text + open->len, content, clen);
  open->len += clen;
  open->text[open->len] = '\0';
  if (rec[TS_LEN + 8] == 'F' && push (ls, open) < 0)
    {
      free (open->text);
      memset (open, 0, sizeof *open);
    }
}

size_t
moat_cri_parse (struct moat_cri_lines *ls, const char *buf, size_t len)
{
  size_t off = 0;

  while (off < len)
    {
      const char *nl = memchr (buf + off, '\n', len - off);
      if (nl == NULL)
        break;
      parse_record (ls, buf + off, (size_t) (nl - (buf + off)));
      off = (size_t) (nl - buf) + 1;
    }
  return off;
}

void
moat_cri_lines_free (struct moat_cri_lines *ls)
{
  for (size_t i = 0; i < ls->n; i++)
    free (ls->v[i].text);
  free (ls->v);
  free (ls->open[0].text);
  free (ls->open[1].text);
  memset (ls, 0, sizeof *ls);
}
