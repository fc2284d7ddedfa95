/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MOAT_JSON_H
#define MOAT_JSON_H

/* A faster front for jansson's json_loadb().  jansson reads its input one
 * byte at a time through a callback and copies every string byte by byte;
 * on config.json and inspect documents that was over half of `moat audit`.
 * moat_json_loadb() first tries a direct scanner that builds the same
 * jansson tree; whenever the scanner is not certain (any error, and a few
 * rare forms it leaves to jansson: real numbers that overflow, nesting
 * deeper than it recurses, flags other than the two below) the text goes to
 * json_loadb() itself, so jansson keeps the last word on what is refused
 * and on every error message.  The scanner's one obligation: a tree it
 * returns equals, member order included, the one json_loadb() would return
 * (tests/fuzz/fuzz_json.c and tests/unit/test_json.c check exactly that). */

#include <jansson.h>
#include <stddef.h>

/* json_loadb (buf, len, flags, error), same result.  FLAGS: any jansson
 * flags; only JSON_REJECT_DUPLICATES and JSON_DISABLE_EOF_CHECK take the
 * fast path.  On success with ERROR non-NULL, error->position is the number
 * of bytes read, as jansson sets it. */
json_t *moat_json_loadb (const char *buf, size_t len, size_t flags, json_error_t *error);

/* The scanner alone: the tree, or NULL when it leaves the text to jansson.
 * *used gets the bytes read.  Exposed for the differential tests. */
json_t *moat_json_scan (const char *buf, size_t len, size_t flags, size_t *used);

/* A scope in which every jansson allocation comes from a bump arena and
 * json_decref() frees nothing; moat_json_arena_end() releases it all at
 * once (keeping the largest block for the next scope).  For a loop that
 * decodes many documents, each converted to C structures (libc copies) and
 * dropped: audit spent a third of its time in malloc and free for trees it
 * throws away whole.  The caller must keep no jansson value past the end
 * of the scope, and must not nest scopes; jansson's allocator is global, so
 * single-threaded code only. */
void moat_json_arena_begin (void);
void moat_json_arena_end (void);

#endif
