/* virtio-net, legacy (0.9.5, I/O BAR0) and modern (1.0, vendor capabilities),
 * one queue pair of split virtqueues, polled: the device's setup here, the
 * rings in virtq.c. Section numbers are the virtio 1.0 specification's (OASIS,
 * 2016).
 *
 * Where the 10/12-byte virtio-net header goes: on receive, the device writes it
 * at the start of the caller's buffer and the frame follows, so rx_poll returns
 * data = buffer + header (buffers must hold header + max_frame); on transmit,
 * every frame is a two-descriptor chain whose first descriptor is one shared,
 * all-zero header (no offloads), so what goes out is exactly the caller's bytes.
 * Legacy devices need VIRTIO_F_ANY_LAYOUT for the one-descriptor receive. */
#include "driver.h"
#include "virtq.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define F_NET_MAC (1ull << 5)
#define F_NET_STATUS (1ull << 16)
#define F_CTRL_VQ (1ull << 17)
#define F_CTRL_RX (1ull << 18)
#define F_CTRL_MAC_ADDR (1ull << 23)
#define F_ANY_LAYOUT (1ull << 27)
#define F_VERSION_1 (1ull << 32)
#define F_ACCESS_PLATFORM (1ull << 33) /* the device's DMA goes through the IOMMU */
#define F_ORDER_PLATFORM (1ull << 36)  /* a device in hardware: the ring needs DMA barriers */

enum { S_ACKNOWLEDGE = 1, S_DRIVER = 2, S_DRIVER_OK = 4, S_FEATURES_OK = 8 };
/* The registers both interfaces have: [0] in the legacy I/O BAR0 (4.1.4.8),
 * [1] in struct virtio_pci_common_cfg (4.1.4.3); indexed by vp->modern. */
static const struct { uint8_t device_features, driver_features, queue_size, queue_select, status; } reg[2] = {
	{.device_features = 0, .driver_features = 4, .queue_size = 12, .queue_select = 14, .status = 18},
	{.device_features = 4, .driver_features = 12, .queue_size = 24, .queue_select = 22, .status = 20}};
/* Legacy only; the device config follows at 20 while MSI-X is off. */
enum { L_QUEUE_PFN = 8, L_QUEUE_NOTIFY = 16, L_CONFIG = 20 };
/* Modern only (common_cfg); queue_driver and queue_device follow queue_desc at 40, 48. */
enum { C_DEVICE_FEATURE_SELECT = 0, C_DRIVER_FEATURE_SELECT = 8, C_CONFIG_GENERATION = 21, C_QUEUE_ENABLE = 28,
       C_QUEUE_NOTIFY_OFF = 30, C_QUEUE_DESC = 32 };
enum { CAP_COMMON = 1, CAP_NOTIFY = 2, CAP_DEVICE = 4 }; /* cfg_type (4.1.4) */
/* Control virtqueue classes and commands (5.1.6.5). */
enum { CTRL_RX = 0, CTRL_MAC = 1, RX_PROMISC = 0, RX_ALLMULTI = 1, MAC_TABLE_SET = 0, MAC_ADDR_SET = 1 };

struct region { const struct lobo_pci_bar *bar; size_t off; };

struct virtio_port {
	struct lobo_pci_port base;
	struct lobo_mem *mem, rings;
	struct lobo_pci_bar bars[6];
	struct region common, notify, device;
	uint32_t notify_multiplier;
	bool modern;
	uint64_t features;
	struct virtq rx, tx, ctrl; /* ctrl: commands in the last page of rings, one at a time */
};

static uint32_t rd(struct region r, size_t at, int width) { return lobo_pci_read(r.bar, r.off + at, width); }
static void wr(struct region r, size_t at, uint32_t v, int width) { lobo_pci_write(r.bar, r.off + at, v, width); }

static uint8_t status(struct virtio_port *vp) { return (uint8_t)rd(vp->common, reg[vp->modern].status, 1); }
static void set_status(struct virtio_port *vp, uint8_t s) { wr(vp->common, reg[vp->modern].status, s, 1); }

/* 2.1.2 / 4.1.4.3.2: writing 0 resets; a modern driver waits to read 0 back. */
static int reset(struct virtio_port *vp)
{
	set_status(vp, 0);
	for (int ms = 0; ms < 1000; ms++) {
		if (!status(vp))
			return 0;
		nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
	}
	return -ETIMEDOUT;
}

/* Legacy has 32 feature bits; modern shows 64 through a 32-bit window (4.1.4.3). */
static uint64_t device_features(struct virtio_port *vp)
{
	uint64_t f = 0;
	for (uint32_t half = 0; half < 1u + vp->modern; half++) {
		if (vp->modern)
			wr(vp->common, C_DEVICE_FEATURE_SELECT, half, 4);
		f |= (uint64_t)rd(vp->common, reg[vp->modern].device_features, 4) << (32 * half);
	}
	return f;
}

static void driver_features(struct virtio_port *vp, uint64_t f)
{
	for (uint32_t half = 0; half < 1u + vp->modern; half++) {
		if (vp->modern)
			wr(vp->common, C_DRIVER_FEATURE_SELECT, half, 4);
		wr(vp->common, reg[vp->modern].driver_features, (uint32_t)(f >> (32 * half)), 4);
	}
}

static const struct lobo_pci_bar *bar(struct virtio_port *vp, unsigned i, char *err)
{
	bool ok = i < 6 && (vp->bars[i].len || !lobo_pci_bar_open(&vp->base.pci, (int)i, &vp->bars[i], err));
	return ok ? &vp->bars[i] : NULL;
}

/* Walks the vendor-specific capabilities (4.1.4) for the modern interface;
 * true when common, notify and device config were all found. */
static bool find_modern(struct virtio_port *vp, char *err)
{
	const struct lobo_pci *pci = &vp->base.pci;
	struct region *by_type[] = {[CAP_COMMON] = &vp->common, [CAP_NOTIFY] = &vp->notify, [CAP_DEVICE] = &vp->device};
	uint16_t pci_status = 0;
	uint8_t at = 0;
	struct { uint8_t vndr, next, len, cfg_type, bar, pad[3]; uint32_t offset, length, notify_multiplier; } cap;
	if (lobo_pci_config_read(pci, 0x06, &pci_status, 2) || !(pci_status & 0x10) ||
	    lobo_pci_config_read(pci, 0x34, &at, 1))
		return false;
	for (int guard = 0; at >= 0x40 && guard < 48; guard++, at = cap.next) {
		if (lobo_pci_config_read(pci, at & ~3u, &cap, sizeof cap))
			return false;
		struct region *r = cap.vndr == 0x09 && cap.cfg_type <= CAP_DEVICE ? by_type[cap.cfg_type] : NULL;
		if (!r || r->bar) /* the first capability of a type wins (4.1.4) */
			continue;
		*r = (struct region){bar(vp, cap.bar, err), cap.offset};
		if (r == &vp->notify)
			vp->notify_multiplier = cap.notify_multiplier;
	}
	return vp->common.bar && vp->notify.bar && vp->device.bar;
}

static void notify(struct virtq *vq)
{
	struct virtio_port *vp = vq->device;
	wr(vp->notify, vq->notify_at, vq->index, 2);
}

/* Sets up queue index in the ring memory at *cursor and tells the device where it is. */
static int setup_queue(struct virtio_port *vp, struct virtq *vq, uint16_t index, uint16_t stride, uint16_t want,
		       uint8_t **cursor, char *err)
{
	wr(vp->common, reg[vp->modern].queue_select, index, 2);
	uint16_t size = (uint16_t)rd(vp->common, reg[vp->modern].queue_size, 2);
	if (vp->modern && size > want) /* a legacy device's size is fixed */
		wr(vp->common, reg[1].queue_size, size = want, 2);
	if (!size || (size & (size - 1))) {
		lobo_err(err, "virtio: %s: queue %u has size %u: not a usable split virtqueue", vp->base.pci.bdf, index, size);
		return -EIO;
	}
	if (*cursor + virtq_bytes(size) > vp->rings.base + vp->rings.len - 4096) {
		lobo_err(err, "virtio: queues of %u descriptors do not fit: use rx_ring/tx_ring of 4096 or less", size);
		return -ENOMEM;
	}
	*vq = (struct virtq){.hdr_len = vp->modern ? 12 : 10, /* 5.1.6: num_buffers is there in 1.0 even without MRG_RXBUF */
			     .max_frame = vp->base.port.info.max_frame, .mem = vp->mem, .counters = &vp->base.port.counters[0],
			     .platform_order = vp->features & F_ORDER_PLATFORM, .index = index, .device = vp, .notify = notify};
	if (virtq_init(vq, *cursor, size, stride, lobo_mem_dma(&vp->rings, vp->rings.base + vp->rings.len - 64))) {
		lobo_err(err, "virtio: out of memory");
		return -ENOMEM;
	}
	*cursor += virtq_bytes(size);
	const uint64_t addr[3] = {lobo_mem_dma(&vp->rings, vq->desc), lobo_mem_dma(&vp->rings, vq->avail),
				  lobo_mem_dma(&vp->rings, vq->used)};
	if (!vp->modern) {
		wr(vp->common, L_QUEUE_PFN, (uint32_t)(addr[0] >> 12), 4);
		return 0;
	}
	for (int i = 0; i < 6; i++) /* queue_desc, queue_driver, queue_device: 64 bits as two 32-bit writes */
		wr(vp->common, C_QUEUE_DESC + 4u * (unsigned)i, (uint32_t)(addr[i / 2] >> (32 * (i % 2))), 4);
	vq->notify_at = rd(vp->common, C_QUEUE_NOTIFY_OFF, 2) * (size_t)vp->notify_multiplier;
	wr(vp->common, C_QUEUE_ENABLE, 1, 2);
	return 0;
}

/* One queue pair: the port's queue 0 is the only one. */
static uint16_t virtio_rx_post(struct lobo_port *p, uint16_t q, const struct lobo_frame *f, uint16_t n)
{
	(void)q;
	return virtq_rx_post(&((struct virtio_port *)p)->rx, f, n);
}

static uint16_t virtio_rx_poll(struct lobo_port *p, uint16_t q, struct lobo_frame *f, uint16_t max)
{
	(void)q;
	return virtq_rx_poll(&((struct virtio_port *)p)->rx, f, max);
}

static uint16_t virtio_tx_post(struct lobo_port *p, uint16_t q, const struct lobo_frame *f, uint16_t n)
{
	(void)q;
	return virtq_tx_post(&((struct virtio_port *)p)->tx, f, n);
}

static uint16_t virtio_tx_reclaim(struct lobo_port *p, uint16_t q, struct lobo_frame *f, uint16_t max)
{
	(void)q;
	return virtq_tx_reclaim(&((struct virtio_port *)p)->tx, f, max);
}

/* One command on the control virtqueue (5.1.6.5): class, command and data in
 * a device-readable descriptor, the ack byte in a device-writable one. QEMU
 * answers before the notification returns; a device gets a second. */
static int ctrl(struct lobo_port *p, uint8_t class, uint8_t cmd, const void *data, uint32_t len, char *err)
{
	struct virtio_port *vp = (struct virtio_port *)p;
	struct virtq *vq = &vp->ctrl;
	uint8_t *buf = vp->rings.base + vp->rings.len - 4096, *ack = buf + 2 + len;
	uint64_t at = lobo_mem_dma(&vp->rings, buf);
	if (!vq->size) {
		lobo_err(err, "virtio: %s has no control virtqueue", vp->base.pci.bdf);
		return -EOPNOTSUPP;
	}
	buf[0] = class;
	buf[1] = cmd;
	memcpy(buf + 2, data, len);
	*ack = 0xff;
	vq->desc[0] = (struct vring_desc){at, 2 + len, VRING_DESC_F_NEXT, 1};
	vq->desc[1] = (struct vring_desc){at + 2 + len, 1, VRING_DESC_F_WRITE, 0};
	vq->avail->ring[vq->next_avail++ & vq->mask] = 0;
	virtq_publish(vq);
	for (int us = 0; __atomic_load_n(&vq->used->idx, __ATOMIC_ACQUIRE) != vq->next_avail && us < 1000000; us += 10)
		nanosleep(&(struct timespec){.tv_nsec = 10000}, NULL);
	if (__atomic_load_n(ack, __ATOMIC_RELAXED) == 0)
		return 0;
	lobo_err(err, "virtio: %s did not accept control command %u.%u", vp->base.pci.bdf, class, cmd);
	return -EIO;
}

static int virtio_set_promisc(struct lobo_port *p, bool on, char *err) { return ctrl(p, CTRL_RX, RX_PROMISC, &on, 1, err); }
static int virtio_set_allmulti(struct lobo_port *p, bool on, char *err) { return ctrl(p, CTRL_RX, RX_ALLMULTI, &on, 1, err); }
static int virtio_set_mac(struct lobo_port *p, const uint8_t mac[6], char *err) { return ctrl(p, CTRL_MAC, MAC_ADDR_SET, mac, 6, err); }

/* The MAC table (5.1.6.5.2): le32 count and addresses, unicast (none) then multicast. */
static int virtio_set_mc_list(struct lobo_port *p, const uint8_t (*mc)[6], uint16_t n, char *err)
{
	uint8_t table[8 + 6 * LOBO_MC_MAX] = {0};
	uint32_t count = n;
	memcpy(table + 4, &count, 4);
	memcpy(table + 8, mc, 6u * n);
	return ctrl(p, CTRL_MAC, MAC_TABLE_SET, table, 8 + 6u * n, err);
}

/* No VIRTIO_NET_F_MRG_RXBUF: a frame must fit the receive buffers the
 * program posts (seen in the first descriptor). */
static int virtio_set_mtu(struct lobo_port *p, uint32_t mtu, char *err)
{
	struct virtio_port *vp = (struct virtio_port *)p;
	uint32_t room = vp->rx.desc[0].len - vp->rx.hdr_len;
	if (vp->rx.desc[0].len && mtu + 18 > room) {
		lobo_err(err, "virtio: receive buffers of %u bytes hold an MTU of %u at most", vp->rx.desc[0].len, room - 18);
		return -EINVAL;
	}
	p->info.max_frame = vp->rx.max_frame = vp->tx.max_frame = mtu + 18;
	return 0;
}

/* MAC and link from the device config, read again while config_generation
 * moves under us (4.1.4.3.1): a MAC is never half old, half new. Legacy has
 * no generation; a device that keeps changing it gets ten tries. */
static void virtio_refresh_info(struct lobo_port *p)
{
	struct virtio_port *vp = (struct virtio_port *)p;
	uint8_t before = 0;
	for (int tries = 0; tries < 10; tries++) {
		if (vp->modern)
			before = (uint8_t)rd(vp->common, C_CONFIG_GENERATION, 1);
		for (int i = 0; i < 6 && (vp->features & F_NET_MAC); i++)
			p->info.mac[i] = (uint8_t)rd(vp->device, (size_t)i, 1);
		/* virtio_net_config.status (5.1.4): bit 0 is VIRTIO_NET_S_LINK_UP. */
		p->info.link_up = !(vp->features & F_NET_STATUS) || (rd(vp->device, 6, 2) & 1);
		if (!vp->modern || before == (uint8_t)rd(vp->common, C_CONFIG_GENERATION, 1))
			break;
	}
}

static void virtio_close(struct lobo_port *p)
{
	struct virtio_port *vp = (struct virtio_port *)p;
	if (vp->common.bar)
		reset(vp); /* the device forgets our rings before their memory goes */
	for (int i = 0; i < 6; i++)
		if (vp->bars[i].len)
			lobo_pci_bar_close(&vp->bars[i]);
	lobo_pci_close(&vp->base.pci);
	lobo_mem_free(&vp->rings);
	virtq_free(&vp->rx);
	virtq_free(&vp->tx);
	virtq_free(&vp->ctrl);
	free(vp);
}

/* The initialization sequence of 3.1.1, up to DRIVER_OK. */
static int init_device(struct virtio_port *vp, struct lobo_port_info *info, char *err)
{
	const char *bdf = vp->base.pci.bdf;
	if (reset(vp) || lobo_pci_bus_master(&vp->base.pci, true)) {
		lobo_err(err, "virtio: %s does not finish its reset: is it a working virtio device?", bdf);
		return -EIO;
	}
	set_status(vp, S_ACKNOWLEDGE);
	set_status(vp, S_ACKNOWLEDGE | S_DRIVER);
	uint64_t needed = vp->modern ? F_VERSION_1 : F_ANY_LAYOUT;
	uint64_t modern_only = vp->modern ? F_ACCESS_PLATFORM | F_ORDER_PLATFORM : 0;
	vp->features = device_features(vp) & (F_NET_MAC | F_NET_STATUS | F_CTRL_VQ | F_CTRL_RX | F_CTRL_MAC_ADDR |
					      needed | modern_only);
	if (!(vp->features & needed)) {
		lobo_err(err, vp->modern ? "virtio: %s does not offer VIRTIO_F_VERSION_1: use ?virtio=legacy"
				: "virtio: legacy %s lacks VIRTIO_F_ANY_LAYOUT, which lobo needs: use ?virtio=modern", bdf);
		return -ENOTSUP;
	}
	driver_features(vp, vp->features);
	uint8_t s = (uint8_t)(S_ACKNOWLEDGE | S_DRIVER | (vp->modern ? S_FEATURES_OK : 0));
	if (vp->modern) { /* legacy devices have no FEATURES_OK step */
		set_status(vp, s);
		if (!(status(vp) & S_FEATURES_OK))
			return lobo_fail(err, -ENOTSUP, "virtio: %s refused features %#llx", bdf,
					 (unsigned long long)vp->features);
	}
	/* A device without VIRTIO_F_ACCESS_PLATFORM (and every legacy one)
	 * bypasses the IOMMU and takes physical addresses. */
	bool bypass = !(vp->features & F_ACCESS_PLATFORM);
	int rc = lobo_mem_alloc(&vp->rings, 2u << 20, err);
	if (!rc)
		rc = lobo_pci_dma_map(&vp->base.pci, vp->mem, bypass, err);
	if (!rc)
		rc = lobo_pci_dma_map(&vp->base.pci, &vp->rings, bypass, err);
	uint8_t *cursor = vp->rings.base;
	if (!rc)
		rc = setup_queue(vp, &vp->rx, 0, 1, info->rx_ring, &cursor, err);
	if (!rc)
		rc = setup_queue(vp, &vp->tx, 1, 2, (uint16_t)(info->tx_ring * 2), &cursor, err);
	if (!rc && (vp->features & F_CTRL_VQ)) /* queue 2 without VIRTIO_NET_F_MQ (5.1.2) */
		rc = setup_queue(vp, &vp->ctrl, 2, 1, 2, &cursor, err);
	if (rc)
		return rc;
	set_status(vp, s | S_DRIVER_OK);
	info->rx_ring = vp->rx.size;
	info->tx_ring = vp->tx.size / 2;
	snprintf(info->mode, sizeof info->mode, "%s, %s", vp->modern ? "modern" : "legacy",
		 !vp->mem->phys ? "vfio" : vp->base.pci.container < 0 ? "no-iommu (no isolation)" : "vfio, iommu bypassed");
	return 0;
}

/* The device as the URI asks: modern through its capabilities, or legacy
 * through its I/O BAR0. */
static int find_interface(struct virtio_port *vp, const char *want, char *err)
{
	const char *bdf = vp->base.pci.bdf;
	vp->modern = strcmp(want, "legacy") && find_modern(vp, err);
	if (vp->modern)
		return 0;
	if (!strcmp(want, "modern")) {
		lobo_err(err, "virtio: %s has no modern (1.0) interface: drop ?virtio=modern", bdf);
		return -ENOTSUP;
	}
	vp->common = vp->notify = vp->device = (struct region){bar(vp, 0, err), 0};
	vp->notify.off = L_QUEUE_NOTIFY;
	vp->device.off = L_CONFIG;
	if (!vp->common.bar || vp->bars[0].mmio) {
		lobo_err(err, "virtio: %s has no legacy I/O BAR0: drop ?virtio=legacy", bdf);
		return -ENOTSUP;
	}
	return 0;
}

static int virtio_open(struct lobo_port **out, const char *bdf, const char *params,
		       struct lobo_mem *mem, char *err)
{
	struct lobo_port_info info = {.max_frame = 1518};
	char want[16];
	int rc = lobo_params_rings(params, &info, 256, err);
	if (rc)
		return rc;
	lobo_param_str(params, "virtio", want, sizeof want, "");
	/* A tx chain takes two descriptors, and a split virtqueue holds at most 32768. */
	if (info.queues != 1 || info.rx_ring > 4096 || info.tx_ring > 4096 ||
	    (*want && strcmp(want, "legacy") && strcmp(want, "modern"))) {
		lobo_err(err, "virtio: lobo drives one queue pair of rings up to 4096, virtio=legacy or modern "
			 "(got queues=%u rx_ring=%u tx_ring=%u virtio=%s)", info.queues, info.rx_ring, info.tx_ring, want);
		return -EINVAL;
	}
	struct virtio_port *vp = calloc(1, sizeof *vp);
	if (!vp) {
		lobo_err(err, "virtio: out of memory");
		return -ENOMEM;
	}
	vp->mem = mem;
	vp->base.port.info = info;
	rc = lobo_pci_port_open(&vp->base, bdf, params, mem, err);
	if (rc) {
		free(vp);
		return rc;
	}
	rc = find_interface(vp, want, err);
	if (!rc)
		rc = init_device(vp, &vp->base.port.info, err);
	if (rc) {
		virtio_close(&vp->base.port); /* resets: no S_FAILED needed (3.1.1) */
		return rc;
	}
	virtio_refresh_info(&vp->base.port);
	*out = &vp->base.port;
	return 0;
}

const struct lobo_port_ops lobo_virtio_ops = {
	.scheme = "virtio",
	.open = virtio_open,
	.close = virtio_close,
	.refresh_info = virtio_refresh_info,
	.rx_post = virtio_rx_post,
	.rx_poll = virtio_rx_poll,
	.tx_post = virtio_tx_post,
	.tx_reclaim = virtio_tx_reclaim,
	.set_mac = virtio_set_mac,
	.set_promisc = virtio_set_promisc,
	.set_allmulti = virtio_set_allmulti,
	.set_mc_list = virtio_set_mc_list,
	.set_mtu = virtio_set_mtu,
};
