/* PLACEHOLDER: being written. */
#include "port.h"

#include <errno.h>

static int pcap_open(struct lobo_port **out, const char *arg, const char *params,
		     struct lobo_mem *mem, char *err)
{
	(void)out, (void)arg, (void)params, (void)mem;
	lobo_err(err, "pcap: ports are not implemented yet");
	return -ENOTSUP;
}

const struct lobo_port_ops lobo_pcap_ops = {.scheme = "pcap", .open = pcap_open};
