/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MOAT_PROC_H
#define MOAT_PROC_H

#include <stdint.h>
#include <sys/types.h>

/* starttime (field 22 of /proc/PID/stat); 0 when the process does not exist
   or is a zombie.  With the pid it names one process across pid reuse. */
uint64_t moat_pid_starttime (pid_t pid);

#endif
