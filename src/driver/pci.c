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

/* 0 or 1, or -1 for anything else. */
static int flag(const char *params, const char *key, long dflt)
{
	long v = lobo_param_long(params, key, dflt);
	return v == 0 || v == 1 ? (int)v : -1;
}

int lobo_pci_port_open(struct lobo_pci_port *pp, const char *bdf, const char *params,
		       const struct lobo_mem *mem, char *err)
{
	/* VFIO whenever the device has an IOMMU group: running without isolation is asked for. */
	int vfio = flag(params, "vfio", lobo_pci_iommu_group(bdf) >= 0), force = flag(params, "force", 0);
	if (vfio < 0 || force < 0 || flag(params, "rebind", 0) < 0) {
		lobo_err(err, "pci: vfio=, rebind= and force= take 0 or 1");
		return -EINVAL;
	}
	struct lobo_pci_want want = {.vfio = vfio, .force = force, .mem = mem};
	return lobo_pci_open(&pp->pci, bdf, &want, err);
}

static int pci_open(struct lobo_port **out, const char *arg, const char *params,
		    struct lobo_mem *mem, char *err)
{
	static const char *const known[] = {"queues", "rx_ring", "tx_ring", "vfio", "rebind", "force", "virtio",
					    "shadow", "exception", NULL};
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
		if (rc)
			return rc;
		(*out)->ops = drivers[i].ops;
		/* Opened: the device stays unbound after close unless rebind=1 asks. */
		((struct lobo_pci_port *)*out)->pci.restore = lobo_param_long(params, "rebind", 0) == 1;
		return 0;
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
