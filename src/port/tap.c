/* PLACEHOLDER: being written. */
#include "port.h"

#include <errno.h>

static int tap_open(struct lobo_port **out, const char *arg, const char *params,
		     struct lobo_mem *mem, char *err)
{
	(void)out, (void)arg, (void)params, (void)mem;
	lobo_err(err, "tap: ports are not implemented yet");
	return -ENOTSUP;
}

const struct lobo_port_ops lobo_tap_ops = {.scheme = "tap", .open = tap_open};
