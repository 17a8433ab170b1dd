/* lobo top: live counters of every process that publishes with lobo_stats. */
#ifndef LOBO_TOP_H
#define LOBO_TOP_H

#include "lobo.h"

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>

/* Every interval_s seconds prints, per process and port, driver, mode, link,
 * rx/tx packets and bits per second, drops per second, errors and totals;
 * iterations times (0: until *stop is set, or `out` fails, e.g. EPIPE). Text
 * redraws the screen when `out` is a terminal and is plain lines otherwise;
 * json prints one object per line. Files of processes that are gone are not
 * shown, and removed. */
int lobo_top_run(FILE *out, double interval_s, int iterations, bool json, volatile sig_atomic_t *stop, char *err);

#endif
