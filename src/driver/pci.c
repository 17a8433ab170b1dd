/* The pci: scheme: finds the device and hands it to the driver for its
 * vendor:device ID, whose ops then serve the port directly. */
#include "driver.h"

#include <errno.h>

/* The pci: table. Only the 82576 (QEMU's igb) and virtio are tested here;
 * see the README for the i350 and i210. No ixgbe chip has been: they run
 * against a register-level test double only (tests/double). */
static const struct lobo_pci_model models[] = {
	{0x1af4, 0x1000, &lobo_virtio_ops, "virtio-net", 1}, /* transitional (legacy + modern) */
	{0x1af4, 0x1041, &lobo_virtio_ops, "virtio-net", 1}, /* modern only */
	{0x8086, 0x10c9, &lobo_igb_ops, "82576", 16},        /* copper */
	{0x8086, 0x10e6, &lobo_igb_ops, "82576", 16},        /* fiber */
	{0x8086, 0x10e7, &lobo_igb_ops, "82576", 16},        /* SerDes */
	{0x8086, 0x10e8, &lobo_igb_ops, "82576", 16},        /* quad copper */
	{0x8086, 0x1526, &lobo_igb_ops, "82576", 16},        /* quad copper ET2 */
	{0x8086, 0x150a, &lobo_igb_ops, "82576", 16},        /* NS */
	{0x8086, 0x1518, &lobo_igb_ops, "82576", 16},        /* NS SerDes */
	{0x8086, 0x150d, &lobo_igb_ops, "82576", 16},        /* SerDes quad */
	{0x8086, 0x1521, &lobo_igb_ops, "i350", 8},          /* copper */
	{0x8086, 0x1522, &lobo_igb_ops, "i350", 8},          /* fiber */
	{0x8086, 0x1523, &lobo_igb_ops, "i350", 8},          /* SerDes */
	{0x8086, 0x1524, &lobo_igb_ops, "i350", 8},          /* SGMII */
	{0x8086, 0x1546, &lobo_igb_ops, "i350", 8},          /* DA4 */
	{0x8086, 0x1533, &lobo_igb_ops, "i210", 4},          /* copper */
	{0x8086, 0x1536, &lobo_igb_ops, "i210", 4},          /* fiber */
	{0x8086, 0x1537, &lobo_igb_ops, "i210", 4},          /* SerDes */
	{0x8086, 0x1538, &lobo_igb_ops, "i210", 4},          /* SGMII */
	{0x8086, 0x157b, &lobo_igb_ops, "i210", 4},          /* copper, flashless */
	{0x8086, 0x157c, &lobo_igb_ops, "i210", 4},          /* SerDes, flashless */
	{0x8086, 0x1539, &lobo_igb_ops, "i211", 2},          /* copper */
	{0x8086, 0x10ca, &lobo_igbvf_ops, "82576 VF", 1},    /* virtual functions: the kernel's igb keeps the PF */
	{0x8086, 0x1520, &lobo_igbvf_ops, "i350 VF", 1},
	{0x8086, 0x10f7, &lobo_ixgbe_ops, "82599", 16}, /* KX4 */
	{0x8086, 0x10f8, &lobo_ixgbe_ops, "82599", 16}, /* combo backplane */
	{0x8086, 0x10f9, &lobo_ixgbe_ops, "82599", 16}, /* CX4 */
	{0x8086, 0x10fb, &lobo_ixgbe_ops, "82599", 16}, /* SFP+ (X520) */
	{0x8086, 0x10fc, &lobo_ixgbe_ops, "82599", 16}, /* XAUI LOM */
	{0x8086, 0x1507, &lobo_ixgbe_ops, "82599", 16}, /* SFP+ EM */
	{0x8086, 0x1514, &lobo_ixgbe_ops, "82599", 16}, /* KX4 mezzanine */
	{0x8086, 0x1517, &lobo_ixgbe_ops, "82599", 16}, /* KR */
	{0x8086, 0x151c, &lobo_ixgbe_ops, "82599", 16}, /* T3 LOM */
	{0x8086, 0x1529, &lobo_ixgbe_ops, "82599", 16}, /* SFP+ FCoE */
	{0x8086, 0x152a, &lobo_ixgbe_ops, "82599", 16}, /* backplane FCoE */
	{0x8086, 0x154a, &lobo_ixgbe_ops, "82599", 16}, /* SFP+ quad port */
	{0x8086, 0x154d, &lobo_ixgbe_ops, "82599", 16}, /* SFP+ SF2 */
	{0x8086, 0x154f, &lobo_ixgbe_ops, "82599", 16}, /* LS */
	{0x8086, 0x1557, &lobo_ixgbe_ops, "82599", 16}, /* 82599EN SFP+ */
	{0x8086, 0x1558, &lobo_ixgbe_ops, "82599", 16}, /* QSFP+ quad port */
	{0x8086, 0x1528, &lobo_ixgbe_ops, "X540", 16},  /* X540-T2 */
	{0x8086, 0x1560, &lobo_ixgbe_ops, "X540", 16},  /* X540-T1 */
	{0x8086, 0x1563, &lobo_ixgbe_ops, "X550", 16},  /* X550-T2 */
	{0x8086, 0x15d1, &lobo_ixgbe_ops, "X550", 16},  /* X550-T1 */
};

const struct lobo_pci_model *lobo_pci_model(uint16_t vendor, uint16_t device)
{
	for (size_t i = 0; i < sizeof models / sizeof models[0]; i++)
		if (models[i].vendor == vendor && models[i].device == device)
			return &models[i];
	return NULL;
}

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
					    "shadow", "exception", "kernel", "mac", NULL};
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
	const struct lobo_pci_model *m = lobo_pci_model(vendor, device);
	if (!m) {
		lobo_err(err, "pci: no lobo driver for %04x:%04x at %s (lobo drives virtio-net and Intel 82576, i350, "
			 "i210, 82599, X540, X550, 82576 and i350 VFs: lobo list shows which)", vendor, device, bdf);
		return -ENODEV;
	}
	char mac[32];
	if (m->ops != &lobo_igbvf_ops && lobo_param_str(params, "mac", mac, sizeof mac, NULL))
		return lobo_fail(err, -EINVAL, "pci: mac= is for virtual functions (igbvf): %s keeps its NIC "
				 "promiscuous, with the NIC's own MAC", m->ops->scheme);
	char kernel[16];
	if (m->ops != &lobo_igb_ops && lobo_param_str(params, "kernel", kernel, sizeof kernel, NULL))
		return lobo_fail(err, -EINVAL, "pci: kernel=keep is for igb only: %s takes the whole device "
				 "(a shadow=NAME interface keeps it visible to the kernel)", m->ops->scheme);
	rc = m->ops->open(out, bdf, params, mem, err);
	if (rc)
		return rc;
	if ((*out)->ops && (*out)->ops != m->ops) /* igb's kernel=keep: the kernel's driver never left */
		return 0;
	(*out)->ops = m->ops;
	/* Opened: the device stays unbound after close unless rebind=1 asks. */
	((struct lobo_pci_port *)*out)->pci.restore = lobo_param_long(params, "rebind", 0) == 1;
	return 0;
}

const char *lobo_pci_driver_name(uint16_t vendor, uint16_t device)
{
	const struct lobo_pci_model *m = lobo_pci_model(vendor, device);
	return m ? m->ops->scheme : NULL;
}

const char *lobo_pci_driver_note(uint16_t vendor, uint16_t device)
{
	const struct lobo_pci_model *m = lobo_pci_model(vendor, device);
	return m && m->ops == &lobo_ixgbe_ops ? "untested on hardware" : NULL; /* until someone runs it on one */
}

/* A kernel=keep run killed with kill -9 left the kernel's igb a queue to
 * take back before the memory it points at may go. */
int lobo_pci_reset(const char *arg, size_t *released, char *err)
{
	char bdf[16];
	size_t kept = 0;
	int rc = lobo_pci_parse_bdf(arg, bdf, err);
	*released = 0;
	if (!rc)
		rc = igb_keep_recover(bdf, &kept, err);
	if (!rc)
		rc = lobo_pci_reset_device(bdf, released, err);
	*released += kept;
	return rc;
}

const struct lobo_port_ops lobo_pci_ops = {.scheme = "pci", .open = pci_open};
