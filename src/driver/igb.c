/* Intel 1 GbE controllers of the igb family: 82576, i350, i210/i211. One port,
 * up to 16 queue pairs spread by RSS, polled; the rings are adv_ring.c's.
 * Section numbers are the 82576 datasheet's (Intel 82576EB GbE Controller
 * Datasheet, rev. 2.x); the i350 and i210 datasheets describe the same steps
 * under nearby numbers.
 *
 * What a program receives is what was on the wire, without the FCS, which
 * the NIC checks and strips (RCTL.SECRC): no VLAN tag is stripped (CTRL.VME
 * off, so CTRL.VME's tag stripping and the descriptors' VP bit never apply),
 * nothing is padded, nothing rewritten. What a program sends goes out as it
 * is, with the FCS appended (IFCS). The port is promiscuous: every unicast,
 * multicast and broadcast frame is received, until a shadow interface asks
 * for its address and groups only (the control operations). Receive
 * checksum checking is on only to report (LOBO_F_*_CSUM_*); the RSS hash is
 * reported on every frame. */
#include "igb.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ bring-up */

/* 4.5.4: no interrupts during (or after) initialization: lobo polls. */
static void mask_interrupts(struct igb_port *ip)
{
	wr(ip, IMC, ~0u);
	wr(ip, EIMC, ~0u);
}

/* 4.5.5 and 4.2.1.6.1: CTRL.RST resets the MAC, its DMA and every register
 * but the PCI configuration; wait at least 1 ms before touching the device.
 * Then the EEPROM auto-read (EECD.AUTO_RD) reloads the MAC address and the
 * defaults; QEMU's model never sets AUTO_RD, so like Linux's igb lobo goes on
 * after 10 ms without it. */
static int global_reset(struct igb_port *ip)
{
	mask_interrupts(ip);
	wr(ip, CTRL, rd(ip, CTRL) | CTRL_RST);
	intel_sleep_ms(1);
	if (!intel_wait(reg(ip, CTRL), CTRL_RST, 0, 100))
		return -ETIMEDOUT;
	mask_interrupts(ip);
	intel_wait(reg(ip, EECD), EECD_AUTO_RD, EECD_AUTO_RD, 10);
	return 0;
}

/* 4.5.7, copper: the MAC takes speed and duplex from the PHY (no forcing),
 * CTRL.SLU lets the link come up, and the PHY autonegotiates again through
 * MDIC (8.2.4). After a reset nothing else restarts it: neither QEMU's model
 * nor a PHY whose link partner is already settled. */
static void link_setup(struct igb_port *ip)
{
	wr(ip, CTRL, (rd(ip, CTRL) | CTRL_SLU) & ~(CTRL_FRCSPD | CTRL_FRCDPX | CTRL_VME));
	wr(ip, MDIC, PHY_BMCR_AUTONEG | PHY_ADDR | MDIC_WRITE); /* PHY register 0: control */
	intel_wait(reg(ip, MDIC), MDIC_READY, MDIC_READY, 10); /* fibre/SerDes parts have no copper PHY: fine */
}

/* 4.5.8: the statistics registers survive a reset: read them to clear them. */
static void clear_statistics(struct igb_port *ip)
{
	for (uint32_t at = CRCERRS; at < STATS_END; at += 4)
		rd(ip, at);
}

/* Receive-side scaling (7.1.2): the key, then 128 one-byte table entries. */
static void write_rss(struct igb_port *ip)
{
	intel_write_bytes(reg(ip, RSSRK), ip->key, sizeof ip->key);
	intel_write_bytes(reg(ip, RETA), ip->reta, RETA_SIZE);
	wr(ip, MRQC, MRQC_RSS | MRQC_HASH_FIELDS);
}

/* The rings' memory: each ring aligned to its own size (a power of two), so
 * none crosses a page and each is one DMA range; then a head write-back word
 * per queue, a cache line apart. */
static size_t ring_layout(const struct lobo_port_info *info, size_t *rx_at, size_t *tx_at)
{
	size_t at = 0, rx = info->rx_ring * 16u, tx = info->tx_ring * 16u;
	for (uint16_t q = 0; q < info->queues; q++) {
		rx_at[q] = at = (at + rx - 1) / rx * rx;
		at += rx;
		tx_at[q] = at = (at + tx - 1) / tx * tx;
		at += tx;
	}
	return at;
}

static volatile uint32_t *head_wb(struct igb_port *ip, size_t wb_at, uint16_t q)
{
	return (volatile uint32_t *)(ip->rings.base + wb_at + 64u * q);
}

/* 4.5.9: promiscuous, CRC stripped, long frames up to MAX_FRAME, the RSS hash
 * in the descriptors; each queue's ring with 2 KiB buffers, advanced one-buffer
 * descriptors (QEMU's model knows no others). With several queues a queue
 * without buffers drops its frames (counted in RQDPC) instead of stalling the
 * others (SRRCTL.DROP_EN). */
static void rx_init(struct igb_port *ip, const struct lobo_port_info *info, const size_t *rx_at)
{
	wr(ip, RCTL, RCTL_UPE | RCTL_MPE | RCTL_BAM | RCTL_LPE | RCTL_SECRC);
	wr(ip, RLPML, MAX_FRAME + 4);
	wr(ip, RXCSUM, RXCSUM_PCSD | RXCSUM_IPOFLD | RXCSUM_TUOFLD);
	for (uint32_t i = 0; i < 128; i++)
		wr(ip, MTA + 4 * i, 0);
	write_rss(ip);
	for (uint16_t q = 0; q < info->queues; q++)
		igb_rx_queue_init(ip, q, q, ip->rings.base + rx_at[q], info);
}

void igb_rx_queue_init(struct igb_port *ip, uint16_t q, uint16_t hwq, void *desc, const struct lobo_port_info *info)
{
	intel_ring_init(reg(ip, QUEUE(RDBAL, hwq)), lobo_mem_dma(&ip->rings, desc), info->rx_ring);
	wr(ip, QUEUE(SRRCTL, hwq), SRRCTL_BSIZE_2K | SRRCTL_ADV_ONEBUF | (info->queues > 1 ? SRRCTL_DROP_EN : 0));
	wr(ip, QUEUE(RXDCTL, hwq), QUEUE_ENABLE | RXDCTL_WTHRESH_1);
	adv_rx_init(&ip->rx[q], desc, reg(ip, QUEUE(RDT, hwq)), ip->slots + (size_t)q * (info->rx_ring + info->tx_ring),
		    info->rx_ring, ip->mem, BUF_SIZE, ADV_RX_ERRORS_IGB);
}

/* 4.5.10: short frames padded, each queue's ring, and its head written back
 * to memory whenever a descriptor with RS is done (TDWBAL bit 0), so that
 * reclaiming reads memory, not a register. */
static void tx_init(struct igb_port *ip, const struct lobo_port_info *info, const size_t *tx_at, size_t wb_at)
{
	wr(ip, TCTL, TCTL_PSP | TCTL_CT_COLD);
	for (uint16_t q = 0; q < info->queues; q++)
		igb_tx_queue_init(ip, q, q, ip->rings.base + tx_at[q], head_wb(ip, wb_at, q), info);
}

void igb_tx_queue_init(struct igb_port *ip, uint16_t q, uint16_t hwq, void *desc, volatile uint32_t *head_wb,
		       const struct lobo_port_info *info)
{
	uint64_t wb = lobo_mem_dma(&ip->rings, (void *)head_wb);
	intel_ring_init(reg(ip, QUEUE(TDBAL, hwq)), lobo_mem_dma(&ip->rings, desc), info->tx_ring);
	wr(ip, QUEUE(TDWBAL, hwq), (uint32_t)wb | 1);
	wr(ip, QUEUE(TDWBAH, hwq), (uint32_t)(wb >> 32));
	wr(ip, QUEUE(TXDCTL, hwq), QUEUE_ENABLE);
	adv_tx_init(&ip->tx[q], desc, reg(ip, QUEUE(TDT, hwq)), head_wb,
		    ip->slots + (size_t)q * (info->rx_ring + info->tx_ring) + info->rx_ring, info->tx_ring, ip->mem,
		    MAX_FRAME);
}

/* The receiver and transmitter on; a queue's enable bit reads 1 only once
 * its unit is on and the queue ready (8.10.10, 8.12.13). */
static int enable(struct igb_port *ip, uint16_t queues)
{
	wr(ip, RCTL, rd(ip, RCTL) | RCTL_EN);
	wr(ip, TCTL, rd(ip, TCTL) | TCTL_EN);
	for (uint16_t q = 0; q < queues; q++)
		if (!intel_queue_start(reg(ip, QUEUE(RXDCTL, q))) || !intel_queue_start(reg(ip, QUEUE(TXDCTL, q))))
			return -ETIMEDOUT;
	return 0;
}

/* The sequence of 4.5.3, up to a port that receives and sends. */
static int init_device(struct igb_port *ip, struct lobo_port_info *info, char *err)
{
	const char *bdf = ip->base.pci.bdf;
	size_t rx_at[LOBO_MAX_QUEUES], tx_at[LOBO_MAX_QUEUES], wb_at = ring_layout(info, rx_at, tx_at);
	int rc = lobo_mem_alloc(&ip->rings, wb_at + 64u * info->queues, err);
	if (!rc)
		rc = lobo_pci_dma_map(&ip->base.pci, ip->mem, false, err);
	if (!rc)
		rc = lobo_pci_dma_map(&ip->base.pci, &ip->rings, false, err);
	if (rc)
		return rc;
	if (global_reset(ip) || lobo_pci_bus_master(&ip->base.pci, true)) {
		lobo_err(err, "igb: %s does not finish its reset: is it a working igb NIC?", bdf);
		return -EIO;
	}
	link_setup(ip);
	clear_statistics(ip);
	rx_init(ip, info, rx_at);
	tx_init(ip, info, tx_at, wb_at);
	if (enable(ip, info->queues)) {
		lobo_err(err, "igb: %s does not enable its queues: is it a working igb NIC?", bdf);
		return -EIO;
	}
	intel_wait(reg(ip, STATUS), STATUS_LU, STATUS_LU, 3000); /* autonegotiation; a cable may be out: fine */
	return 0;
}

/* --------------------------------------------------------------- data path */

#define IGB(p) ((struct igb_port *)(p))

static uint16_t igb_rx_post(struct lobo_port *p, uint16_t q, const struct lobo_frame *f, uint16_t n)
{
	return q < p->info.queues ? adv_rx_post(&IGB(p)->rx[q], f, n, &p->counters[q]) : 0;
}

uint16_t igb_rx_poll(struct lobo_port *p, uint16_t q, struct lobo_frame *f, uint16_t max)
{
	return q < p->info.queues ? adv_rx_poll(&IGB(p)->rx[q], f, max, &p->counters[q]) : 0;
}

static uint16_t igb_tx_post(struct lobo_port *p, uint16_t q, const struct lobo_frame *f, uint16_t n)
{
	return q < p->info.queues ? adv_tx_post(&IGB(p)->tx[q], f, n, &p->counters[q]) : 0;
}

uint16_t igb_tx_reclaim(struct lobo_port *p, uint16_t q, struct lobo_frame *f, uint16_t max)
{
	return q < p->info.queues ? adv_tx_reclaim(&IGB(p)->tx[q], f, max, &p->counters[q]) : 0;
}

/* ------------------------------------------------- control, off the data path */

struct lobo_link igb_link(struct lobo_port *p)
{
	static const uint32_t speed[4] = {10, 100, 1000, 1000}; /* STATUS.SPEED, 8.2.2 */
	uint32_t status = rd(IGB(p), STATUS);
	bool up = status & STATUS_LU;
	return (struct lobo_link){up, up ? speed[(status >> 6) & 3] : 0};
}

void igb_refresh_info(struct lobo_port *p)
{
	struct lobo_link l = igb_link(p);
	p->info.link_up = l.up;
	p->info.speed_mbps = l.speed_mbps;
}

static void igb_read_hw_counters(struct lobo_port *p)
{
	struct igb_port *ip = IGB(p);
	struct lobo_hw_counters *hw = &p->hw;
	hw->rx_packets += rd(ip, GPRC);
	hw->rx_bytes += intel_rd64(reg(ip, GORCL));
	hw->tx_packets += rd(ip, GPTC);
	hw->tx_bytes += intel_rd64(reg(ip, GOTCL));
	hw->rx_missed += rd(ip, MPC);
	for (uint16_t q = 0; q < p->info.queues; q++)
		hw->rx_no_buffer += rd(ip, QUEUE(RQDPC, q));
	hw->rx_frame_errors += rd(ip, CRCERRS) + rd(ip, ALGNERRC) + rd(ip, RXERRC);
	hw->rx_length_errors += rd(ip, RUC) + rd(ip, ROC); /* as Linux's igb: RLEC is unreliable */
}

static int igb_set_rss(struct lobo_port *p, const uint8_t *key, const uint16_t *reta, char *err)
{
	struct igb_port *ip = IGB(p);
	(void)err;
	if (key)
		memcpy(ip->key, key, sizeof ip->key);
	for (uint32_t i = 0; reta && i < RETA_SIZE; i++)
		ip->reta[i] = (uint8_t)reta[i];
	write_rss(ip);
	return 0;
}

static int igb_tx_loop_start(struct lobo_port *p, uint16_t q, const struct lobo_frame *f, uint32_t n, char *err)
{
	return intel_tx_loop_start(p, q, &IGB(p)->tx[q], reg(IGB(p), QUEUE(TDBAL, q)), f, n, err);
}

static uint32_t igb_tx_loop_kick(struct lobo_port *p, uint16_t q)
{
	struct igb_port *ip = IGB(p);
	return adv_tx_loop_kick(&ip->tx[q], rd(ip, QUEUE(TDH, q)), &p->counters[q]);
}

static void igb_tx_loop_stop(struct lobo_port *p, uint16_t q)
{
	intel_tx_loop_stop(p, q, &IGB(p)->tx[q], reg(IGB(p), QUEUE(TDBAL, q)));
}

/* ------------------------------------------ control: the shadow's operations */

/* 8.10.13-14: the first receive address, written invalid first so that the
 * NIC never matches half of the old one and half of the new. */
static int igb_set_mac(struct lobo_port *p, const uint8_t mac[6], char *err)
{
	struct igb_port *ip = IGB(p);
	(void)err;
	wr(ip, RAH0, 0);
	intel_write_bytes(reg(ip, RAL0), mac, 4);
	wr(ip, RAH0, (uint32_t)mac[4] | (uint32_t)mac[5] << 8 | RAH_AV);
	memcpy(p->info.mac, mac, 6);
	return 0;
}

/* RCTL.UPE accepts every unicast frame, MPE every multicast one (8.10.1). */
static void write_filter(struct igb_port *ip)
{
	uint32_t rctl = rd(ip, RCTL) & ~(RCTL_UPE | RCTL_MPE);
	rctl |= ip->promisc ? RCTL_UPE | RCTL_MPE : 0;
	wr(ip, RCTL, rctl | (ip->allmulti ? RCTL_MPE : 0));
}

static int igb_set_promisc(struct lobo_port *p, bool on, char *err)
{
	(void)err;
	IGB(p)->promisc = on;
	write_filter(IGB(p));
	return 0;
}

static int igb_set_allmulti(struct lobo_port *p, bool on, char *err)
{
	(void)err;
	IGB(p)->allmulti = on;
	write_filter(IGB(p));
	return 0;
}

/* The multicast table array (8.10.15) with RCTL.MO = 00: bits 47:36 of the
 * address pick one of its 4096 bits. */
static int igb_set_mc_list(struct lobo_port *p, const uint8_t (*mc)[6], uint16_t n, char *err)
{
	uint32_t mta[128] = {0};
	(void)err;
	for (uint16_t i = 0; i < n; i++) {
		uint32_t hash = (uint32_t)(mc[i][4] >> 4 | mc[i][5] << 4) & 0xfff;
		mta[hash >> 5] |= 1u << (hash & 31);
	}
	for (uint32_t i = 0; i < 128; i++)
		wr(IGB(p), MTA + 4 * i, mta[i]);
	return 0;
}

/* Long frames (RCTL.LPE) up to RLPML bytes with FCS and a VLAN tag; each must
 * fit one of lobo's 2 KiB buffers, the size SRRCTL gives the NIC. */
static int igb_set_mtu(struct lobo_port *p, uint32_t mtu, char *err)
{
	struct igb_port *ip = IGB(p);
	if (mtu + 18 > BUF_SIZE) {
		lobo_err(err, "igb: receive buffers of %u bytes hold an MTU of %u at most", BUF_SIZE, BUF_SIZE - 18);
		return -EINVAL;
	}
	wr(ip, RLPML, mtu + 22);
	p->info.max_frame = mtu + 18;
	for (uint16_t q = 0; q < p->info.queues; q++)
		ip->tx[q].max_frame = mtu + 22; /* a tagged frame may be 4 bytes longer */
	return 0;
}

/* Down: neither receiver nor transmitter runs (RCTL.EN, TCTL.EN); what is
 * posted stays posted. */
static int igb_set_enabled(struct lobo_port *p, bool on, char *err)
{
	struct igb_port *ip = IGB(p);
	(void)err;
	wr(ip, RCTL, on ? rd(ip, RCTL) | RCTL_EN : rd(ip, RCTL) & ~RCTL_EN);
	wr(ip, TCTL, on ? rd(ip, TCTL) | TCTL_EN : rd(ip, TCTL) & ~TCTL_EN);
	return 0;
}

/* ------------------------------------------------------------ open, close */

void igb_free(struct igb_port *ip)
{
	lobo_mem_free(&ip->rings);
	free(ip->slots);
	free(ip);
}

static void igb_close(struct lobo_port *p)
{
	struct igb_port *ip = IGB(p);
	if (ip->bar.mmio) {
		wr(ip, RCTL, 0);
		wr(ip, TCTL, 0);
		global_reset(ip); /* the NIC forgets our rings before their memory goes */
		lobo_pci_bar_close(&ip->bar);
	}
	lobo_pci_close(&ip->base.pci);
	igb_free(ip);
}

int igb_check_params(const char *bdf, const char *params, struct lobo_port_info *info,
		     const struct lobo_pci_model **model, char *err)
{
	uint16_t vendor, device;
	int rc = lobo_params_rings(params, info, 512, err);
	if (!rc)
		rc = lobo_pci_id(bdf, &vendor, &device, err);
	if (rc)
		return rc;
	const struct lobo_pci_model *m = *model = lobo_pci_model(vendor, device);
	if (info->queues > m->max_queues || info->rx_ring > MAX_RING || info->tx_ring > MAX_RING) {
		lobo_err(err, "igb: the %s drives up to %u queues of rings up to %u (got queues=%u rx_ring=%u tx_ring=%u)",
			 m->model, m->max_queues, MAX_RING, info->queues, info->rx_ring, info->tx_ring);
		return -EINVAL;
	}
	return 0;
}

struct igb_port *igb_alloc(size_t size, const struct lobo_port_info *info, struct lobo_mem *mem, char *err)
{
	struct igb_port *ip = calloc(1, size);
	if (ip)
		ip->slots = calloc((size_t)info->queues * (info->rx_ring + info->tx_ring), sizeof *ip->slots);
	if (!ip || !ip->slots) {
		free(ip);
		lobo_err(err, "igb: out of memory");
		return NULL;
	}
	ip->mem = mem;
	return ip;
}

/* The address the EEPROM (or the kernel, or set_mac) put in RAL0/RAH0. */
void igb_read_mac(struct igb_port *ip, uint8_t mac[6])
{
	uint32_t ral = rd(ip, RAL0), rah = rd(ip, RAH0);
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)((i < 4 ? ral >> (8 * i) : rah >> (8 * (i - 4))) & 0xff);
}

static int igb_open(struct lobo_port **out, const char *bdf, const char *params, struct lobo_mem *mem, char *err)
{
	struct lobo_port_info info = {.max_frame = MAX_FRAME, .rss_reta_size = RETA_SIZE};
	const struct lobo_pci_model *model;
	char kernel[16];
	if (lobo_param_str(params, "kernel", kernel, sizeof kernel, ""))
		return igb_keep_open(out, bdf, params, mem, err);
	int rc = igb_check_params(bdf, params, &info, &model, err);
	if (rc)
		return rc;
	struct igb_port *ip = igb_alloc(sizeof *ip, &info, mem, err);
	if (!ip)
		return -ENOMEM;
	memcpy(ip->key, intel_default_key, sizeof ip->key);
	for (uint32_t i = 0; i < RETA_SIZE; i++)
		ip->reta[i] = (uint8_t)(i % info.queues);
	ip->promisc = true;
	rc = lobo_pci_port_open(&ip->base, bdf, params, mem, err);
	if (rc) {
		igb_free(ip);
		return rc;
	}
	rc = lobo_pci_bar_open(&ip->base.pci, 0, &ip->bar, err);
	if (!rc && !ip->bar.mmio) {
		lobo_err(err, "igb: %s has no memory-mapped BAR0: is it an igb NIC?", bdf);
		rc = -ENODEV;
	}
	if (!rc)
		rc = init_device(ip, &info, err);
	if (rc) {
		igb_close(&ip->base.port); /* resets the NIC, gives the device back */
		return rc;
	}
	igb_read_mac(ip, info.mac);
	snprintf(info.mode, sizeof info.mode, "%s, %s", model->model, !mem->phys ? "vfio" : "no-iommu (no isolation)");
	ip->base.port.info = info;
	igb_refresh_info(&ip->base.port);
	*out = &ip->base.port;
	return 0;
}

const struct lobo_port_ops lobo_igb_ops = {
	.scheme = "igb",
	.open = igb_open,
	.close = igb_close,
	.refresh_info = igb_refresh_info,
	.rx_post = igb_rx_post,
	.rx_poll = igb_rx_poll,
	.tx_post = igb_tx_post,
	.tx_reclaim = igb_tx_reclaim,
	.set_mac = igb_set_mac,
	.set_promisc = igb_set_promisc,
	.set_allmulti = igb_set_allmulti,
	.set_mc_list = igb_set_mc_list,
	.set_mtu = igb_set_mtu,
	.set_enabled = igb_set_enabled,
	.read_hw_counters = igb_read_hw_counters,
	.link = igb_link,
	.set_rss = igb_set_rss,
	.tx_loop_start = igb_tx_loop_start,
	.tx_loop_kick = igb_tx_loop_kick,
	.tx_loop_stop = igb_tx_loop_stop,
};
