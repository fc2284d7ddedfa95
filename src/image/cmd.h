/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MOAT_IMAGE_CMD_H
#define MOAT_IMAGE_CMD_H

#include "image/image.h"

struct img_opts
{
  const char *root;
  const char *name;
  bool json;
  struct moat_limits lim;
  const char *creds;           /* pull: --creds USER:PASS */
  const char *insecure[16];    /* pull: --insecure-registry HOST */
  size_t n_insecure;
};

/* A command returns its exit status, or < 0 with ERR filled. */
typedef int (*moat_image_cmd) (struct moat_store *s, const struct img_opts *o, const char *arg, struct moat_error *err);

int img_load (struct moat_store *, const struct img_opts *, const char *, struct moat_error *);
int img_ls (struct moat_store *, const struct img_opts *, const char *, struct moat_error *);
int img_inspect (struct moat_store *, const struct img_opts *, const char *, struct moat_error *);
int img_rm (struct moat_store *, const struct img_opts *, const char *, struct moat_error *);
int img_prune (struct moat_store *, const struct img_opts *, const char *, struct moat_error *);
int img_fsck (struct moat_store *, const struct img_opts *, const char *, struct moat_error *);
int img_unpack (struct moat_store *, const struct img_opts *, const char *, struct moat_error *);
int img_pull (struct moat_store *, const struct img_opts *, const char *, struct moat_error *);
int img_resolve (struct moat_store *, const struct img_opts *, const char *, struct moat_error *);

#endif
