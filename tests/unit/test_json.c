/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The scanner in front of jansson (src/util/json.c), differentially: any
 * tree it returns must equal jansson's (member order and positions
 * included), and moat_json_loadb() must answer exactly as json_loadb() on
 * every input, fixtures, fuzz corpora and hand-made edge cases alike. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/fs.h"
#include "util/json.h"

static const size_t flag_sets[] = { JSON_REJECT_DUPLICATES, JSON_REJECT_DUPLICATES | JSON_DISABLE_EOF_CHECK, 0,
                                    JSON_DISABLE_EOF_CHECK };

static char *
dump (const json_t *j)
{
  char *s = json_dumps (j, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION (17));

  assert_non_null (s);
  return s;
}

/* Compare on TEXT; returns whether the scanner took it (without jansson). */
static bool
compare (const char *what, const char *text, size_t len)
{
  bool took_all = true;

  for (size_t f = 0; f < sizeof flag_sets / sizeof flag_sets[0]; f++)
    {
      json_error_t je, me;
      size_t used = 0;
      json_t *ref = json_loadb (text, len, flag_sets[f], &je);
      json_t *scan = moat_json_scan (text, len, flag_sets[f], &used);
      json_t *front = moat_json_loadb (text, len, flag_sets[f], &me);

      if (scan != NULL)
        {
          char *a, *b;
          if (ref == NULL)
            fail_msg ("%s (flags %zu): scanner accepts what jansson refuses: %s", what, flag_sets[f], je.text);
          a = dump (ref), b = dump (scan);
          if (strcmp (a, b) != 0)
            fail_msg ("%s (flags %zu): trees differ:\njansson %.200s\nscanner %.200s", what, flag_sets[f], a, b);
          if ((flag_sets[f] & JSON_DISABLE_EOF_CHECK) && used != (size_t) je.position)
            fail_msg ("%s: scanner read %zu bytes, jansson %d", what, used, je.position);
          free (a), free (b);
        }
      else
        took_all = false;
      if ((ref == NULL) != (front == NULL))
        fail_msg ("%s (flags %zu): moat_json_loadb and json_loadb disagree", what, flag_sets[f]);
      if (ref == NULL && strcmp (je.text, me.text) != 0)
        fail_msg ("%s: error `%s`, jansson says `%s`", what, me.text, je.text);
      if (ref != NULL)
        {
          char *a = dump (ref), *b = dump (front);
          assert_string_equal (a, b);
          assert_int_equal (je.position, me.position);
          free (a), free (b);
        }
      json_decref (ref);
      json_decref (scan);
      json_decref (front);
    }
  return took_all;
}

static size_t
compare_dir (const char *dir, bool must_take)
{
  DIR *d = opendir (dir);
  struct dirent *e;
  size_t n = 0;

  if (d == NULL)
    fail_msg ("cannot open %s", dir);
  while ((e = readdir (d)) != NULL)
    {
      char path[4096], *buf = NULL;
      size_t len;
      struct moat_error err = { 0 };

      if (e->d_name[0] == '.')
        continue;
      snprintf (path, sizeof path, "%s/%s", dir, e->d_name);
      if (e->d_type == DT_DIR)
        {
          n += compare_dir (path, must_take);
          continue;
        }
      if (moat_read_file_at (AT_FDCWD, path, 1 << 24, &buf, &len, &err) < 0)
        fail_msg ("%s", err.msg);
      /* real engine output is all the plain JSON the scanner is for */
      if (!compare (path, buf, len) && must_take && strstr (e->d_name, ".json"))
        fail_msg ("%s: the scanner left a fixture to jansson", path);
      free (buf);
      n++;
    }
  closedir (d);
  return n;
}

static void
test_fixtures_and_corpora (void **state)
{
  (void) state;
  assert_true (compare_dir (MOAT_SOURCE_ROOT "/tests/fixtures/policy", true) >= 10);
  assert_true (compare_dir (MOAT_SOURCE_ROOT "/tests/fuzz/corpus", false) >= 10);
}

static void
test_edge_cases (void **state)
{
  static const char *const cases[] = {
    "{}", "[]", " \t\r\n{ } \n", "[1, -0, 0, -1, 9223372036854775807, -9223372036854775808]",
    "[9223372036854775808]", "[-9223372036854775809]", "[18446744073709551615]", "[01]", "[-01]", "[-]",
    "[1.]", "[.5]", "[1e]", "[1e+]", "[1E-2, 2.5e+3, -0.0, 0e0, 1.7976931348623157e308]", "[1e309]", "[-1e309]",
    "[1e-400]", "[123456789012345678901234567890123456789012345678901234567890123.5]",
    "[0.1234567890123456789012345678901234567890123456789012345678901]", "[true, false, null]", "[tru]",
    "[truex]", "[nul]", "[True]", "[1true]", "{\"a\":1,}", "[1,]", "[,1]", "{\"a\" 1}", "{a:1}", "{\"a\":1 \"b\":2}",
    "{\"a\":1,\"a\":2}", "{\"a\":{\"b\":1,\"b\":1}}", "{\"\":1}", "{\"a\":1}x", "{\"a\":1} ", "{\"a\":1}{}",
    "[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"]", "[\"\\x\"]", "[\"\\u0041\\u00e9\\u20ac\\ud83d\\ude00\"]", "[\"\\u0000\"]",
    "{\"\\u0000\":1}", "[\"\\ud800\"]", "[\"\\udc00\"]", "[\"\\ud800\\u0041\"]", "[\"\\ud800x\"]",
    "[\"\\uD83D\\uDE00\"]", "[\"\\u00G0\"]", "[\"\\u12\"]", "[\"tab\there\"]", "[\"nl\nhere\"]", "[\"\x7f\"]",
    "[\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"]", "[\"\xc0\x80\"]", "[\"\xc1\xbf\"]", "[\"\xe0\x80\xaf\"]",
    "[\"\xed\xa0\x80\"]", "[\"\xf4\x8f\xbf\xbf\"]", "[\"\xf4\x90\x80\x80\"]", "[\"\xf5\x80\x80\x80\"]",
    "[\"\xc3\"]", "[\"\xe2\x82\"]", "[\"\x80\"]", "\xef\xbb\xbf{}", "[\xc3\xa9]", "\"a\"", "1", "null", "",
    "   ", "[", "{", "{\"a\"", "{\"a\":", "[\"abc", "[\"abc\\",
    /* a key decoded into the scratch, then a value that reuses it */
    "{\"k\\u00e9y\":\"v\\u00e0l\",\"k\\n2\":{\"x\\ty\":[\"\\u20ac\",\"plain\"]}}",
    "{\"a\\\"b\":1,\"a\\u0022b\":2}",
  };
  size_t i;

  (void) state;
  for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
    compare (cases[i], cases[i], strlen (cases[i]));
  /* NUL bytes inside the text */
  compare ("NUL in string", "[\"a\0b\"]", 7);
  compare ("NUL after", "{}\0", 3);
  compare ("NUL between", "[1,\0 2]", 7);
}

static void
test_depth (void **state)
{
  size_t depths[] = { 100, 255, 256, 257, 2047, 2048, 2049, 5000 };

  (void) state;
  for (size_t k = 0; k < sizeof depths / sizeof depths[0]; k++)
    {
      size_t n = depths[k];
      char *s = malloc (2 * n + 1);
      assert_non_null (s);
      memset (s, '[', n);
      memset (s + n, ']', n);
      s[2 * n] = '\0';
      compare ("deep arrays", s, 2 * n);
      free (s);
    }
}

/* Trees built in the arena are dropped at its end; jansson allocates from
   the heap again afterwards (ASan checks both). */
static void
test_arena (void **state)
{
  static const char text[] = "{\"a\": [1, 2.5, \"x\\u00e9\", {\"b\": null}], \"c\": \"plain\"}";
  json_t *j, *k;
  char *a = NULL;

  (void) state;
  for (int round = 0; round < 3; round++)
    {
      moat_json_arena_begin ();
      for (int i = 0; i < 2000; i++)
        {
          j = moat_json_loadb (text, strlen (text), JSON_REJECT_DUPLICATES, NULL);
          assert_non_null (j);
          if (i == 1999)
            {
              char *d = json_dumps (j, JSON_COMPACT); /* in the arena too: not freed */
              assert_non_null (d);
              if (a == NULL)
                a = strdup (d);
              assert_string_equal (a, d);
            }
          json_decref (j);
        }
      moat_json_arena_end ();
    }
  k = moat_json_loadb (text, strlen (text), JSON_REJECT_DUPLICATES, NULL);
  assert_non_null (k);
  json_decref (k);
  free (a);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_fixtures_and_corpora),
    cmocka_unit_test (test_edge_cases),
    cmocka_unit_test (test_depth),
    cmocka_unit_test (test_arena),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
