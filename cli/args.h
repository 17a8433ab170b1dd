/* The command line, parsed into a struct and nothing else: no printing, no
 * exit, no global state but getopt's, so the fuzzer can call it in a loop. */
#ifndef LOBO_ARGS_H
#define LOBO_ARGS_H

#include "tools.h"

struct args {
	const char *cmd, *pos[2], *write, *filter, *prom;
	int npos;
	bool json;
	double interval;
	struct tool_run run;
	struct blast_opts blast;
	const char *help; /* set when --help was asked for: print it and stop */
	char filter_buf[1024];
	char err[LOBO_ERR_LEN]; /* the one line for a usage error */
};

extern const char cli_usage[];

/* argv[0] is the command ("fwd", ...). Fills *a from its defaults; returns 0,
 * or 2 with the problem and its fix in a->err (exit status 2: usage). */
int cli_parse(int argc, char **argv, struct args *a);

#endif
