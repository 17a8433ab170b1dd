/* lobo top: live counters of every process that publishes with lobo_stats. */
#ifndef LOBO_TOP_H
#define LOBO_TOP_H

#include "lobo.h"

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>

struct top_opts {
	double interval_s;
	int iterations;        /* 0: until *stop is set, or `out` fails (e.g. EPIPE) */
	bool json;
	const char *prom_file; /* instead of printing, write Prometheus text here */
	volatile sig_atomic_t *stop;
};

/* Every interval_s seconds prints, per process and port, driver, mode, link,
 * rx/tx packets and bits per second, drops per second, errors and totals, and
 * the exception path of ports with a shadow interface. Text redraws the
 * screen when `out` is a terminal and is plain lines otherwise; json prints
 * one object per line. With prom_file, replaces that file (write, rename)
 * with every counter in the Prometheus text format instead: node_exporter's
 * textfile collector serves it. Files of processes that are gone are not
 * shown, and removed. */
int lobo_top_run(FILE *out, const struct top_opts *o, char *err);

#endif
