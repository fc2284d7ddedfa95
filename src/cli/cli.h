/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MOAT_CLI_H
#define MOAT_CLI_H

#include "container/lifecycle.h"
#include "util/error.h"

/* A command returns its exit status (>= 0), MOAT_CLI_ERROR when ERR says why
 * it failed (exit 1), or MOAT_CLI_USAGE for a bad command line (exit 2). */
#define MOAT_CLI_ERROR (-1)
#define MOAT_CLI_USAGE (-2)
/* Refused by policy (admission, policy check): exit 3. */
#define MOAT_CLI_DENY (-3)

struct moat_cli
{
  struct moat_ctx ctx;
  char **full_argv; /* for the sealed re-exec */
};

typedef int (*moat_cmd_fn) (struct moat_cli *cli, int argc, char **argv, struct moat_error *err);

int cmd_create (struct moat_cli *, int, char **, struct moat_error *);
int cmd_run (struct moat_cli *, int, char **, struct moat_error *);
int cmd_start (struct moat_cli *, int, char **, struct moat_error *);
int cmd_state (struct moat_cli *, int, char **, struct moat_error *);
int cmd_kill (struct moat_cli *, int, char **, struct moat_error *);
int cmd_delete (struct moat_cli *, int, char **, struct moat_error *);
int cmd_list (struct moat_cli *, int, char **, struct moat_error *);
int cmd_ps (struct moat_cli *, int, char **, struct moat_error *);
int cmd_pause (struct moat_cli *, int, char **, struct moat_error *);
int cmd_resume (struct moat_cli *, int, char **, struct moat_error *);
int cmd_update (struct moat_cli *, int, char **, struct moat_error *);
int cmd_features (struct moat_cli *, int, char **, struct moat_error *);
int cmd_exec (struct moat_cli *, int, char **, struct moat_error *);
int cmd_policy (struct moat_cli *, int, char **, struct moat_error *);
int cmd_audit (struct moat_cli *, int, char **, struct moat_error *);
int cmd_watch (struct moat_cli *, int, char **, struct moat_error *);
int cmd_image (struct moat_cli *, int, char **, struct moat_error *);
int cmd_images (struct moat_cli *, int, char **, struct moat_error *);
int cmd_rmi (struct moat_cli *, int, char **, struct moat_error *);
int cmd_pull (struct moat_cli *, int, char **, struct moat_error *);
int cmd_spec (struct moat_cli *, int, char **, struct moat_error *);
int cmd_events (struct moat_cli *, int, char **, struct moat_error *);
/* engine*.c: Docker's commands on detached containers (moat run -d). */
int cmd_logs (struct moat_cli *, int, char **, struct moat_error *);
int cmd_stop (struct moat_cli *, int, char **, struct moat_error *);
int cmd_rm (struct moat_cli *, int, char **, struct moat_error *);
int cmd_wait (struct moat_cli *, int, char **, struct moat_error *);
int cmd_inspect (struct moat_cli *, int, char **, struct moat_error *);
int cmd_top (struct moat_cli *, int, char **, struct moat_error *);
int cmd_stats (struct moat_cli *, int, char **, struct moat_error *);
/* `moat ps` without an id: the detached containers. */
int moat_engine_ps (struct moat_cli *, int, char **, struct moat_error *);
/* run.c: `moat run [flags] ROOTFS_DIR|IMAGE [CMD...]`, the Docker-style front end;
 * cmd_run hands over to it when moat_run_is_frontend says so. */
bool moat_run_is_frontend (int argc, char **argv);
int cmd_run_frontend (struct moat_cli *, int, char **, struct moat_error *);

/* policy.c: --policy FILE, else $MOAT_POLICY, else the default path (missing:
 * the baseline); a broken policy fails with err->code MOAT_EPOLICY. */
struct moat_policy;
int moat_cli_load_policy (const char *opt, struct moat_policy *p, const char **label, struct moat_error *err);

/* opts.c */
int moat_usage (struct moat_error *err, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));
int moat_parse_size (const char *s, int64_t *out);
int moat_parse_int (const char *s, long long min, long long max, long long *out);
/* Wait for PID while forwarding every catchable signal to it; returns the
 * shell-style exit status (code, or 128 + signal). */
int moat_wait_forward (pid_t pid, int pty_master);
/* The directory of moat's real executable (not the sealed memfd copy), where
 * its helper executables (moat-image, moat-monitor) are installed. */
/* An environment entry KEY=VALUE whose key names a secret (TOKEN, PASSWORD,
 * ...): warned about by run, redacted by inspect. */
bool moat_env_is_secret (const char *kv);
int moat_exe_dir (const char *argv0, char *buf, size_t size, struct moat_error *err);

#endif
