/* What a PCI driver provides: a port whose first member is struct
 * lobo_pci_port, and ops whose open takes the device's address as its arg. */
#ifndef LOBO_DRIVER_H
#define LOBO_DRIVER_H

#include "pci.h"
#include "port.h"

struct lobo_pci_port {
	struct lobo_port port;
	struct lobo_pci pci;
};

/* Opens the device at bdf as the URI's vfio= and rebind= ask (driver/pci.c). */
int lobo_pci_port_open(struct lobo_pci_port *pp, const char *bdf, const char *params, char *err);

extern const struct lobo_port_ops lobo_virtio_ops;

#endif
