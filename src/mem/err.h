/* The one line a failing call leaves in `err` (LOBO_ERR_LEN bytes), for every
 * layer. Messages quote what the user gave (a URI, a path, a filter), which
 * may hold a newline or escape codes: those become '?', so the line stays one
 * line and the terminal stays sane. */
#ifndef LOBO_ERR_H
#define LOBO_ERR_H

#include "lobo.h"

#include <stdarg.h>
#include <stdio.h>

static inline void lobo_err_one_line(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

__attribute__((format(printf, 2, 3))) static inline int lobo_err(char *err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(err, LOBO_ERR_LEN, fmt, ap);
	va_end(ap);
	lobo_err_one_line(err);
	return n;
}

/* lobo_err, then rc: `return lobo_fail(err, -EINVAL, "...")` keeps the
 * errno next to the line that explains it. */
__attribute__((format(printf, 3, 4))) static inline int lobo_fail(char *err, int rc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, LOBO_ERR_LEN, fmt, ap);
	va_end(ap);
	lobo_err_one_line(err);
	return rc;
}

#endif
