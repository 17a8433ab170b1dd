/* What every fuzz target shares. A target defines LLVMFuzzerTestOneInput;
 * under libFuzzer (make fuzz) that is the entry point, in an ordinary build
 * replay.c calls it on every committed input, so each input that once
 * crashed stays a test in make test. */
#ifndef LOBO_FUZZ_H
#define LOBO_FUZZ_H

#include "lobo.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The promise every bad input keeps: a failure comes with one line. */
static inline void check_one_line(int rc, const char *err)
{
	if (rc && (!err[0] || strchr(err, '\n') || !memchr(err, 0, LOBO_ERR_LEN))) {
		fprintf(stderr, "failure %d without one line of explanation: '%s'\n", rc, err);
		abort();
	}
}

#endif
