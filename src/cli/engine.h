/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MOAT_CLI_ENGINE_H
#define MOAT_CLI_ENGINE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "cli/cli.h"
#include "engine/status.h"

/* `moat run -d` flags that only a monitored container has. */
struct moat_engine_opts
{
  const char *restart;          /* validated: no|on-failure[:N]|always|unless-stopped */
  const char *health_cmd;       /* --health-cmd (run as /bin/sh -c) */
  int64_t health_interval, health_timeout, health_start_period; /* ns; 0 = default */
  long long health_retries;     /* 0 = default */
  bool no_healthcheck;
  uint64_t log_max_size;        /* 0 = default */
  long long log_max_files;      /* 0 = default */
};

/* Parse one of those flags (NAME without the dashes); -2 when NAME is not one. */
int moat_engine_parse_opt (struct moat_engine_opts *o, const char *name, const char *arg, struct moat_error *err);
/* Usage error when an engine-only flag is used without -d. */
int moat_engine_opts_need_detach (const struct moat_engine_opts *o, struct moat_error *err);

struct moat_engine_launch
{
  const char *id;
  const char *image;            /* image name, or the rootfs directory */
  json_t *config;               /* the OCI config */
  json_t *image_health;         /* the image's Healthcheck, or NULL */
  const struct moat_engine_opts *opts;
  const char *secrets;          /* host secrets tmpfs kept until `moat rm` ("" none) */
  bool remove;                  /* --rm */
};

/* Write the record (<root>/.engine/<id>), start the container's monitor and
 * wait until it says the container started (or why it did not, in which
 * case nothing is left).  Prints the id. */
int moat_engine_launch (struct moat_cli *cli, const struct moat_engine_launch *l, struct moat_error *err);


#endif
