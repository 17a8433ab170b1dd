/* PLACEHOLDER: being written. */
#include "port.h"

#include <errno.h>

static int pci_open(struct lobo_port **out, const char *arg, const char *params,
		     struct lobo_mem *mem, char *err)
{
	(void)out, (void)arg, (void)params, (void)mem;
	lobo_err(err, "pci: ports are not implemented yet");
	return -ENOTSUP;
}

const struct lobo_port_ops lobo_pci_ops = {.scheme = "pci", .open = pci_open};
