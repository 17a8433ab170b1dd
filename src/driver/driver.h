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

/* Opens the device at bdf for a port whose DMA memory is mem, as the URI's
 * vfio= and force= ask (driver/pci.c). Until the driver's open has returned
 * 0, lobo_pci_close gives the device back to its kernel driver. */
int lobo_pci_port_open(struct lobo_pci_port *pp, const char *bdf, const char *params,
		       const struct lobo_mem *mem, char *err);

/* A row of the pci: table: which driver serves a vendor:device, the model's
 * name and how many queue pairs it has. */
struct lobo_pci_model {
	uint16_t vendor, device;
	const struct lobo_port_ops *ops;
	const char *model;
	uint16_t max_queues;
};
/* The row for vendor:device, or NULL when lobo has no driver for it. */
const struct lobo_pci_model *lobo_pci_model(uint16_t vendor, uint16_t device);

/* What a killed igb kernel=keep run left the device, given back (igb_keep.c). */
int igb_keep_recover(const char *bdf, size_t *released, char *err);

extern const struct lobo_port_ops lobo_virtio_ops, lobo_igb_ops, lobo_igbvf_ops, lobo_ixgbe_ops;

#endif
