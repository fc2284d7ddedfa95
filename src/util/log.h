/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MOAT_LOG_H
#define MOAT_LOG_H

#include <stdbool.h>

/* --log FILE and --log-format text|json, as runc writes them: engines such as
 * podman and containerd read the last error line of the JSON log to show the
 * user why the runtime failed ({"level":"error","msg":"...","time":"..."}). */
void moat_log_init (const char *path, bool json, bool debug);
void moat_log (const char *level, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));
#define moat_debug(...) moat_log ("debug", __VA_ARGS__)
bool moat_log_debug_enabled (void);

#endif
