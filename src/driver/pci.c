/* The pci: scheme: finds the device and hands it to the driver for its
 * vendor:device ID, whose ops then serve the port directly. */
#include "driver.h"

#include <errno.h>

static const struct {
	uint16_t vendor, device;
	const struct lobo_port_ops *ops;
} drivers[] = {
	{0x1af4, 0x1000, &lobo_virtio_ops}, /* virtio-net, transitional (legacy + modern) */
	{0x1af4, 0x1041, &lobo_virtio_ops}, /* virtio-net, modern only */
};

int lobo_pci_port_open(struct lobo_pci_port *pp, const char *bdf, const char *params, char *err)
{
	long vfio = lobo_param_long(params, "vfio", lobo_pci_vfio_possible(bdf));
	long rebind = lobo_param_long(params, "rebind", 0);
	if ((vfio != 0 && vfio != 1) || (rebind != 0 && rebind != 1)) {
		lobo_err(err, "pci: vfio= and rebind= take 0 or 1");
		return -EINVAL;
	}
	return lobo_pci_open(&pp->pci, bdf, vfio, rebind, err);
}

static int pci_open(struct lobo_port **out, const char *arg, const char *params,
		    struct lobo_mem *mem, char *err)
{
	static const char *const known[] = {"queues", "rx_ring", "tx_ring", "vfio", "rebind", "virtio", "shadow", "exception", NULL};
	char bdf[16];
	uint16_t vendor, device;
	int rc = lobo_pci_parse_bdf(arg, bdf, err);
	if (!rc)
		rc = lobo_params_check(params, "pci", known, err);
	if (!rc)
		rc = lobo_pci_id(bdf, &vendor, &device, err);
	if (rc)
		return rc;
	if (!mem || !mem->base) {
		lobo_err(err, "pci: %s needs DMA memory: pass a lobo_mem from lobo_mem_alloc to lobo_port_open", bdf);
		return -EINVAL;
	}
	for (size_t i = 0; i < sizeof drivers / sizeof drivers[0]; i++) {
		if (drivers[i].vendor != vendor || drivers[i].device != device)
			continue;
		rc = drivers[i].ops->open(out, bdf, params, mem, err);
		if (!rc)
			(*out)->ops = drivers[i].ops;
		return rc;
	}
	lobo_err(err, "pci: no lobo driver for %04x:%04x at %s (lobo drives: virtio-net 1af4:1000, 1af4:1041)",
		 vendor, device, bdf);
	return -ENODEV;
}

const char *lobo_pci_driver_name(uint16_t vendor, uint16_t device)
{
	for (size_t i = 0; i < sizeof drivers / sizeof drivers[0]; i++)
		if (drivers[i].vendor == vendor && drivers[i].device == device)
			return drivers[i].ops->scheme;
	return NULL;
}

const struct lobo_port_ops lobo_pci_ops = {.scheme = "pci", .open = pci_open};
