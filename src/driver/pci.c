/* The pci: scheme: finds the device, picks the driver by vendor:device ID and
 * forwards every call to it. */
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
	static const char *const known[] = {"queues", "rx_ring", "tx_ring", "vfio", "rebind", "virtio", NULL};
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
			((struct lobo_pci_port *)*out)->drv = drivers[i].ops;
		return rc;
	}
	lobo_err(err, "pci: no lobo driver for %04x:%04x at %s (lobo drives: virtio-net 1af4:1000, 1af4:1041)",
		 vendor, device, bdf);
	return -ENODEV;
}

#define DRV(p) (((struct lobo_pci_port *)(p))->drv)

static void pci_close(struct lobo_port *p) { DRV(p)->close(p); }

static void pci_refresh_info(struct lobo_port *p)
{
	if (DRV(p)->refresh_info)
		DRV(p)->refresh_info(p);
}

static uint16_t pci_rx_post(struct lobo_port *p, uint16_t q, const struct lobo_frame *f, uint16_t n)
{
	return DRV(p)->rx_post(p, q, f, n);
}

static uint16_t pci_rx_poll(struct lobo_port *p, uint16_t q, struct lobo_frame *f, uint16_t n)
{
	return DRV(p)->rx_poll(p, q, f, n);
}

static uint16_t pci_tx_post(struct lobo_port *p, uint16_t q, const struct lobo_frame *f, uint16_t n)
{
	return DRV(p)->tx_post(p, q, f, n);
}

static uint16_t pci_tx_reclaim(struct lobo_port *p, uint16_t q, struct lobo_frame *f, uint16_t n)
{
	return DRV(p)->tx_reclaim(p, q, f, n);
}

const struct lobo_port_ops lobo_pci_ops = {
	.scheme = "pci",
	.open = pci_open,
	.close = pci_close,
	.refresh_info = pci_refresh_info,
	.rx_post = pci_rx_post,
	.rx_poll = pci_rx_poll,
	.tx_post = pci_tx_post,
	.tx_reclaim = pci_tx_reclaim,
};
