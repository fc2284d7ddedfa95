/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MOAT_SPEC_INTERNAL_H
#define MOAT_SPEC_INTERNAL_H

/* Helpers shared by the config parser's files.  Not part of the contract in
 * spec.h: every later stage reads struct moat_spec, never JSON. */

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "spec/spec.h"

/* Longest field path we build for messages ("linux.resources.blockIO.
 * throttleReadBpsDevice[12].rate"); keys that come from the config (sysctl
 * names, annotations) are truncated, which only shortens the message. */
#define SPEC_PATH_MAX 384

/* A validation error: the message names the field and says what is wrong,
 * without a strerror() suffix; err->code still carries CODE for callers. */
#define spec_err(err, errnum_, ...)                                            \
  ({                                                                           \
    struct moat_error *_spec_e = (err);                                        \
    moat_err (_spec_e, 0, __VA_ARGS__);                                        \
    spec_err_finish (_spec_e, (errnum_));                                      \
    -1;                                                                        \
  })

/* Set err->code and replace control characters that came from the config
 * (a newline in a sysctl value) so the message stays one line. */
void spec_err_finish (struct moat_error *err, int code);

/* Parse JSON text into an object.  Integers above INT64_MAX (RLIM_INFINITY as
 * Go writes it, seccomp masks) are kept exact, see spec_json.c. */
int spec_json_load (const char *json, size_t len, json_t **out, struct moat_error *err);

/* "parent.key", or "key" when parent is empty. */
void spec_path (char *buf, size_t size, const char *parent, const char *key);
/* "parent.key[i]" */
void spec_path_idx (char *buf, size_t size, const char *parent, const char *key, size_t i);

/* Member KEY of OBJ, or NULL when absent or JSON null (Go writers emit null
 * for nil slices and maps; the spec treats that as absent). */
json_t *spec_member (json_t *obj, const char *key);

/* Value getters: V is the JSON value, PATH its full field path. */
int spec_value_string (json_t *v, const char *path, char **out, struct moat_error *err);
int spec_value_int64 (json_t *v, const char *path, int64_t min, int64_t max, int64_t *out,
                      struct moat_error *err);
int spec_value_uint64 (json_t *v, const char *path, uint64_t max, uint64_t *out, struct moat_error *err);

/* Member getters: *PRESENT (may be NULL) tells whether the member was there;
 * when absent the output is left untouched.  REQUIRED makes absence an error. */
int spec_get_string (json_t *obj, const char *parent, const char *key, bool required, char **out,
                     struct moat_error *err);
int spec_get_bool (json_t *obj, const char *parent, const char *key, bool *out, bool *present,
                   struct moat_error *err);
int spec_get_int64 (json_t *obj, const char *parent, const char *key, int64_t min, int64_t max,
                    int64_t *out, bool *present, struct moat_error *err);
int spec_get_uint64 (json_t *obj, const char *parent, const char *key, uint64_t max, uint64_t *out,
                     bool *present, struct moat_error *err);
int spec_get_uint32 (json_t *obj, const char *parent, const char *key, uint32_t *out, bool *present,
                     struct moat_error *err);
/* Object / array members: *OUT is NULL when absent. */
int spec_get_object (json_t *obj, const char *parent, const char *key, bool required, json_t **out,
                     struct moat_error *err);
int spec_get_array (json_t *obj, const char *parent, const char *key, bool required, json_t **out,
                    struct moat_error *err);
int spec_get_strv (json_t *obj, const char *parent, const char *key, struct moat_strv *out,
                   struct moat_error *err);
int spec_get_kvv (json_t *obj, const char *parent, const char *key, struct moat_kvv *out,
                  struct moat_error *err);
/* PARENT.KEY: an array of {containerID, hostID, size} (user namespace and
 * idmapped-mount mappings), checked for overflow and overlap. */
int spec_parse_id_maps (json_t *obj, const char *parent, const char *key, struct moat_id_map **out, size_t *n,
                        struct moat_error *err);
/* Refuse a member we cannot honour (when present and not null/empty). */
int spec_refuse (json_t *obj, const char *parent, const char *key, const char *why,
                 struct moat_error *err);

/* An absolute path; the stored copy is cleaned with moat_path_clean(). */
int spec_value_abs_path (json_t *v, const char *path, char **out, struct moat_error *err);
/* An absolute path on the host (hook binaries, namespace files), kept as
 * written: lexical cleaning of ".." after a symlink would name another file. */
int spec_value_host_path (json_t *v, const char *path, char **out, struct moat_error *err);

void spec_strv_free (struct moat_strv *s);
void spec_kvv_free (struct moat_kvv *k);

/* spec_process.c */
int spec_parse_process (json_t *obj, const char *path, struct moat_process *out, struct moat_error *err);

/* spec_linux.c */
int spec_parse_linux (json_t *obj, struct moat_linux *out, struct moat_error *err);
void spec_linux_free (struct moat_linux *l);
int spec_validate_linux (const struct moat_spec *spec, struct moat_error *err);

/* spec_resources.c */
int spec_parse_resources (json_t *obj, const char *path, struct moat_resources *out,
                          struct moat_error *err);

/* spec_seccomp.c */
int spec_parse_seccomp (json_t *obj, const char *path, struct moat_seccomp **out, struct moat_error *err);
void spec_seccomp_free (struct moat_seccomp *s);

/* names.c */
int spec_rlimit_from_name (const char *name); /* "RLIMIT_NOFILE" -> RLIMIT_NOFILE, -1 */
int spec_propagation_from_name (const char *name, unsigned long *out); /* "rprivate" -> MS_PRIVATE|MS_REC */

#endif
