/* SPDX-License-Identifier: GPL-2.0-or-later */
/* sandbox/spawn.c: the parent <-> init sync messages.  CVE-2021-43784 (runc)
 * was an oversize parent->child message whose length field overflowed, so
 * user data was parsed as control attributes.  Here every message carries its
 * type and length in a fixed header: the largest payload must arrive whole on
 * the real socketpair, a larger one must fail before anything is sent, and a
 * header that disagrees with its datagram (longer, shorter, over the limit,
 * cut short) must be refused as EPROTO, never parsed. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sandbox/sandbox.h"

struct raw_header
{
  uint32_t type;
  uint32_t len;
};

static void
pair (int sv[2])
{
  struct moat_error err = { 0 };

  if (moat_sync_socketpair (sv, &err) < 0)
    fail_msg ("moat_sync_socketpair: %s", err.msg);
}

/* Nothing queued on FD. */
static void
assert_empty (int fd)
{
  char b;

  assert_int_equal (recv (fd, &b, 1, MSG_DONTWAIT | MSG_PEEK), -1);
  assert_true (errno == EAGAIN || errno == EWOULDBLOCK);
}

static void
test_max_payload_round_trip (void **state)
{
  (void) state;
  int sv[2];
  struct moat_error err = { 0 };
  size_t n = MOAT_SYNC_MAX_PAYLOAD, got = 0;
  char *data = malloc (n), *p = NULL;
  enum moat_sync t = 0;

  assert_non_null (data);
  for (size_t i = 0; i < n; i++)
    data[i] = (char) ('a' + i % 26);
  pair (sv);
  /* Above the default socket send buffer (wmem_default, 212992). */
  if (moat_sync_send (sv[0], MOAT_SYNC_HOOKS_DONE, data, n, -1, &err) < 0)
    fail_msg ("send of the maximum payload: %s", err.msg);
  if (moat_sync_recv (sv[1], &t, &p, &got, NULL, &err) < 0)
    fail_msg ("recv of the maximum payload: %s", err.msg);
  assert_int_equal (t, MOAT_SYNC_HOOKS_DONE);
  assert_int_equal (got, n);
  assert_memory_equal (p, data, n);
  assert_int_equal (p[n], '\0');
  free (p);
  free (data);
  close (sv[0]);
  close (sv[1]);
}

static void
test_oversize_send_refused (void **state)
{
  (void) state;
  int sv[2];
  struct moat_error err = { 0 };
  size_t n = MOAT_SYNC_MAX_PAYLOAD + 1;
  char *data = calloc (1, n);

  assert_non_null (data);
  pair (sv);
  assert_int_equal (moat_sync_send (sv[0], MOAT_SYNC_HOOKS_DONE, data, n, -1, &err), -1);
  assert_int_equal (err.code, E2BIG);
  assert_empty (sv[1]);
  free (data);
  close (sv[0]);
  close (sv[1]);
}

/* Send a raw datagram: a header claiming CLAIM bytes, then ACTUAL bytes. */
static void
send_raw (int fd, uint32_t claim, size_t actual)
{
  struct raw_header h = { .type = MOAT_SYNC_HOOKS_DONE, .len = claim };
  char *buf = calloc (1, sizeof h + actual);

  assert_non_null (buf);
  memcpy (buf, &h, sizeof h);
  memset (buf + sizeof h, 'x', actual);
  assert_int_equal (send (fd, buf, sizeof h + actual, 0), (ssize_t) (sizeof h + actual));
  free (buf);
}

static void
expect_eproto (int fd, const char *needle)
{
  struct moat_error err = { 0 };
  enum moat_sync t = 0;
  char *p = NULL;
  size_t len = 0;

  assert_int_equal (moat_sync_recv (fd, &t, &p, &len, NULL, &err), -1);
  assert_null (p);
  assert_int_equal (err.code, EPROTO);
  if (strstr (err.msg, needle) == NULL)
    fail_msg ("message \"%s\" lacks \"%s\"", err.msg, needle);
}

static void
test_bad_headers_refused (void **state)
{
  (void) state;
  int sv[2];

  pair (sv);
  /* A length over the limit (runc's uint16 overflow, here uint32). */
  send_raw (sv[0], MOAT_SYNC_MAX_PAYLOAD + 1, 16);
  expect_eproto (sv[1], "too large");
  recv (sv[1], (char[64]){ 0 }, 64, MSG_DONTWAIT); /* drop the refused datagram */
  send_raw (sv[0], UINT32_MAX, 16);
  expect_eproto (sv[1], "too large");
  recv (sv[1], (char[64]){ 0 }, 64, MSG_DONTWAIT);
  /* The header claims more than the datagram holds. */
  send_raw (sv[0], 100, 10);
  expect_eproto (sv[1], "truncated");
  /* The header claims less: the rest must not be read as a next message. */
  send_raw (sv[0], 10, 100);
  expect_eproto (sv[1], "truncated");
  assert_empty (sv[1]);
  /* Shorter than a header. */
  assert_int_equal (send (sv[0], "abc", 3, 0), 3);
  expect_eproto (sv[1], "short");
  close (sv[0]);
  close (sv[1]);
}

static void
test_peer_gone (void **state)
{
  (void) state;
  int sv[2];
  struct moat_error err = { 0 };
  enum moat_sync t = 0;

  pair (sv);
  close (sv[0]);
  assert_int_equal (moat_sync_recv (sv[1], &t, NULL, NULL, NULL, &err), -1);
  assert_int_equal (err.code, EPIPE);
  assert_int_equal (moat_sync_send (sv[1], MOAT_SYNC_GO, NULL, 0, -1, &err), -1);
  assert_true (err.code == EPIPE || err.code == ECONNRESET);
  close (sv[1]);
}

/* The init reports its error and exits while a message of ours waits
 * unread in its queue: the kernel then marks our end ECONNRESET, which a
 * SOCK_SEQPACKET recv reports before the queued error.  The error must still
 * arrive (it was lost this way when a failing init raced the parent's GO). */
static void
test_error_survives_unread_message (void **state)
{
  (void) state;
  int sv[2];
  struct moat_error err = { 0 };
  enum moat_sync t = 0;
  char *payload = NULL;
  size_t len = 0;

  pair (sv);
  assert_int_equal (moat_sync_send (sv[0], MOAT_SYNC_GO, NULL, 0, -1, &err), 0);
  assert_int_equal (moat_sync_send (sv[1], MOAT_SYNC_ERROR, "hostname: boom", 14, -1, &err), 0);
  close (sv[1]);
  assert_int_equal (moat_sync_recv (sv[0], &t, &payload, &len, NULL, &err), 0);
  assert_int_equal (t, MOAT_SYNC_ERROR);
  assert_string_equal (payload, "hostname: boom");
  free (payload);
  assert_int_equal (moat_sync_recv (sv[0], &t, NULL, NULL, NULL, &err), -1);
  assert_int_equal (err.code, EPIPE);
  close (sv[0]);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_max_payload_round_trip),
    cmocka_unit_test (test_oversize_send_refused),
    cmocka_unit_test (test_bad_headers_refused),
    cmocka_unit_test (test_peer_gone),
    cmocka_unit_test (test_error_survives_unread_message),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
