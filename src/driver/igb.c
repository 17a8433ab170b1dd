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
 * multicast and broadcast frame is received. Receive checksum checking is on
 * only to report (LOBO_F_*_CSUM_*); the RSS hash is reported on every frame. */
#include "driver.h"
#include "intel.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Registers, 8.1.3. Per-queue ones are at 0xC000/0xE000 + 0x40 * queue. */
enum {
	CTRL = 0x0000, STATUS = 0x0008, EECD = 0x0010, MDIC = 0x0020, IMC = 0x00d8,
	RCTL = 0x0100, TCTL = 0x0400, EIMC = 0x1528,
	RXCSUM = 0x5000, RLPML = 0x5004, MTA = 0x5200, RAL0 = 0x5400, RAH0 = 0x5404,
	MRQC = 0x5818, RETA = 0x5c00, RSSRK = 0x5c80,
	/* Statistics, 8.19: they clear when read. */
	CRCERRS = 0x4000, ALGNERRC = 0x4004, RXERRC = 0x400c, MPC = 0x4010, GPRC = 0x4074, GPTC = 0x4080, GORCL = 0x4088, GOTCL = 0x4090,
	RUC = 0x40a4, ROC = 0x40ac, STATS_END = 0x4100,
	RDBAL = 0xc000, RDBAH = 0xc004, RDLEN = 0xc008, SRRCTL = 0xc00c, RDH = 0xc010, RDT = 0xc018,
	RXDCTL = 0xc028, RQDPC = 0xc030,
	TDBAL = 0xe000, TDBAH = 0xe004, TDLEN = 0xe008, TDH = 0xe010, TDT = 0xe018, TXDCTL = 0xe028,
	TDWBAL = 0xe038, TDWBAH = 0xe03c,
};
#define QUEUE(reg, q) ((reg) + 0x40u * (q))

#define CTRL_SLU (1u << 6)
#define CTRL_FRCSPD (1u << 11)
#define CTRL_FRCDPX (1u << 12)
#define CTRL_RST (1u << 26)
#define CTRL_VME (1u << 30)
#define STATUS_LU (1u << 1)
#define EECD_AUTO_RD (1u << 9)
#define MDIC_WRITE (1u << 26)
#define MDIC_READY (1u << 28)
#define MDIC_ERROR (1u << 30)
#define PHY_ADDR (1u << 21)
#define PHY_BMCR_AUTONEG 0x1340u /* BMCR: autonegotiation on and restarted, 1000 full advertised */
#define RCTL_EN (1u << 1)
#define RCTL_UPE (1u << 3)
#define RCTL_MPE (1u << 4)
#define RCTL_LPE (1u << 5)
#define RCTL_BAM (1u << 15)
#define RCTL_SECRC (1u << 26)
#define TCTL_EN (1u << 1)
#define TCTL_PSP (1u << 3)
#define TCTL_CT_COLD ((15u << 4) | (63u << 12)) /* collision threshold and full-duplex distance, 4.5.10 */
#define RXCSUM_IPOFLD (1u << 8)
#define RXCSUM_TUOFLD (1u << 9)
#define RXCSUM_PCSD (1u << 13) /* the descriptor carries the RSS hash */
#define MRQC_RSS 2u
#define MRQC_HASH_FIELDS 0x00ff0000u /* IPv4, IPv6 (with extensions), TCP and UDP over both */
#define SRRCTL_BSIZE_2K 2u
#define SRRCTL_ADV_ONEBUF (1u << 25)
#define SRRCTL_DROP_EN (1u << 31)
#define QUEUE_ENABLE (1u << 25) /* RXDCTL, TXDCTL */
#define RXDCTL_WTHRESH_1 (1u << 16) /* write each descriptor back at once: nothing waits in the NIC */

#define BUF_SIZE 2048u
#define MAX_FRAME 1522u /* 1500 bytes of payload, a header and two VLAN tags */
#define RETA_SIZE 128u
#define MAX_RING 4096u

struct igb_port {
	struct lobo_pci_port base;
	struct lobo_mem *mem, rings;
	struct lobo_pci_bar bar;
	struct adv_rx_ring rx[LOBO_MAX_QUEUES];
	struct adv_tx_ring tx[LOBO_MAX_QUEUES];
	struct adv_slot *slots;
	uint8_t key[LOBO_RSS_KEY_LEN], reta[RETA_SIZE];
};

static volatile uint32_t *reg(struct igb_port *ip, uint32_t at) { return (volatile uint32_t *)(ip->bar.mmio + at); }
static uint32_t rd(struct igb_port *ip, uint32_t at) { return *reg(ip, at); }
static void wr(struct igb_port *ip, uint32_t at, uint32_t v) { *reg(ip, at) = v; }

/* Bounded: see intel_wait. */
static bool wait_reg(struct igb_port *ip, uint32_t at, uint32_t mask, uint32_t want, int ms)
{
	return intel_wait(reg(ip, at), mask, want, ms);
}

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
	if (!wait_reg(ip, CTRL, CTRL_RST, 0, 100))
		return -ETIMEDOUT;
	mask_interrupts(ip);
	wait_reg(ip, EECD, EECD_AUTO_RD, EECD_AUTO_RD, 10);
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
	wait_reg(ip, MDIC, MDIC_READY, MDIC_READY, 10); /* fibre/SerDes parts have no copper PHY: fine */
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
	for (uint16_t q = 0; q < info->queues; q++) {
		uint64_t dma = lobo_mem_dma(&ip->rings, ip->rings.base + rx_at[q]);
		wr(ip, QUEUE(RDBAL, q), (uint32_t)dma);
		wr(ip, QUEUE(RDBAH, q), (uint32_t)(dma >> 32));
		wr(ip, QUEUE(RDLEN, q), info->rx_ring * 16u);
		wr(ip, QUEUE(SRRCTL, q), SRRCTL_BSIZE_2K | SRRCTL_ADV_ONEBUF | (info->queues > 1 ? SRRCTL_DROP_EN : 0));
		wr(ip, QUEUE(RDH, q), 0);
		wr(ip, QUEUE(RDT, q), 0);
		wr(ip, QUEUE(RXDCTL, q), QUEUE_ENABLE | RXDCTL_WTHRESH_1);
		adv_rx_init(&ip->rx[q], ip->rings.base + rx_at[q], reg(ip, QUEUE(RDT, q)),
			    ip->slots + (size_t)q * (info->rx_ring + info->tx_ring), info->rx_ring, ip->mem, BUF_SIZE,
			    ADV_RX_ERRORS_IGB);
	}
}

/* 4.5.10: short frames padded, each queue's ring, and its head written back
 * to memory whenever a descriptor with RS is done (TDWBAL bit 0), so that
 * reclaiming reads memory, not a register. */
static void tx_init(struct igb_port *ip, const struct lobo_port_info *info, const size_t *tx_at, size_t wb_at)
{
	wr(ip, TCTL, TCTL_PSP | TCTL_CT_COLD);
	for (uint16_t q = 0; q < info->queues; q++) {
		uint64_t dma = lobo_mem_dma(&ip->rings, ip->rings.base + tx_at[q]);
		uint64_t wb = lobo_mem_dma(&ip->rings, (void *)head_wb(ip, wb_at, q));
		wr(ip, QUEUE(TDBAL, q), (uint32_t)dma);
		wr(ip, QUEUE(TDBAH, q), (uint32_t)(dma >> 32));
		wr(ip, QUEUE(TDLEN, q), info->tx_ring * 16u);
		wr(ip, QUEUE(TDH, q), 0);
		wr(ip, QUEUE(TDT, q), 0);
		wr(ip, QUEUE(TDWBAL, q), (uint32_t)wb | 1);
		wr(ip, QUEUE(TDWBAH, q), (uint32_t)(wb >> 32));
		wr(ip, QUEUE(TXDCTL, q), QUEUE_ENABLE);
		adv_tx_init(&ip->tx[q], ip->rings.base + tx_at[q], reg(ip, QUEUE(TDT, q)), head_wb(ip, wb_at, q),
			    ip->slots + (size_t)q * (info->rx_ring + info->tx_ring) + info->rx_ring, info->tx_ring,
			    ip->mem, MAX_FRAME);
	}
}

/* The receiver and transmitter on; a queue's enable bit reads 1 only once
 * its unit is on and the queue ready (8.10.10, 8.12.13). */
static int enable(struct igb_port *ip, uint16_t queues)
{
	wr(ip, RCTL, rd(ip, RCTL) | RCTL_EN);
	wr(ip, TCTL, rd(ip, TCTL) | TCTL_EN);
	for (uint16_t q = 0; q < queues; q++)
		if (!wait_reg(ip, QUEUE(RXDCTL, q), QUEUE_ENABLE, QUEUE_ENABLE, 100) ||
		    !wait_reg(ip, QUEUE(TXDCTL, q), QUEUE_ENABLE, QUEUE_ENABLE, 100))
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
	wait_reg(ip, STATUS, STATUS_LU, STATUS_LU, 3000); /* autonegotiation; a cable may be out: fine */
	return 0;
}

/* --------------------------------------------------------------- data path */

#define IGB(p) ((struct igb_port *)(p))

static uint16_t igb_rx_post(struct lobo_port *p, uint16_t q, const struct lobo_frame *f, uint16_t n)
{
	return q < p->info.queues ? adv_rx_post(&IGB(p)->rx[q], f, n, &p->counters[q]) : 0;
}

static uint16_t igb_rx_poll(struct lobo_port *p, uint16_t q, struct lobo_frame *f, uint16_t max)
{
	return q < p->info.queues ? adv_rx_poll(&IGB(p)->rx[q], f, max, &p->counters[q]) : 0;
}

static uint16_t igb_tx_post(struct lobo_port *p, uint16_t q, const struct lobo_frame *f, uint16_t n)
{
	return q < p->info.queues ? adv_tx_post(&IGB(p)->tx[q], f, n, &p->counters[q]) : 0;
}

static uint16_t igb_tx_reclaim(struct lobo_port *p, uint16_t q, struct lobo_frame *f, uint16_t max)
{
	return q < p->info.queues ? adv_tx_reclaim(&IGB(p)->tx[q], f, max, &p->counters[q]) : 0;
}

/* ------------------------------------------------- control, off the data path */

static struct lobo_link igb_link(struct lobo_port *p)
{
	static const uint32_t speed[4] = {10, 100, 1000, 1000}; /* STATUS.SPEED, 8.2.2 */
	uint32_t status = rd(IGB(p), STATUS);
	bool up = status & STATUS_LU;
	return (struct lobo_link){up, up ? speed[(status >> 6) & 3] : 0};
}

static void igb_refresh_info(struct lobo_port *p)
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

/* ------------------------------------------------------------ open, close */

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
	lobo_mem_free(&ip->rings);
	free(ip->slots);
	free(ip);
}

static int check_params(const char *bdf, const char *params, struct lobo_port_info *info, const char **model,
			char *err)
{
	uint16_t vendor, device;
	int rc = lobo_params_rings(params, info, 512, err);
	if (!rc)
		rc = lobo_pci_id(bdf, &vendor, &device, err);
	if (rc)
		return rc;
	const struct lobo_pci_model *m = lobo_pci_model(vendor, device);
	*model = m->model;
	if (info->queues > m->max_queues || info->rx_ring > MAX_RING || info->tx_ring > MAX_RING) {
		lobo_err(err, "igb: the %s drives up to %u queues of rings up to %u (got queues=%u rx_ring=%u tx_ring=%u)",
			 m->model, m->max_queues, MAX_RING, info->queues, info->rx_ring, info->tx_ring);
		return -EINVAL;
	}
	return 0;
}

static int igb_open(struct lobo_port **out, const char *bdf, const char *params, struct lobo_mem *mem, char *err)
{
	struct lobo_port_info info = {.max_frame = MAX_FRAME, .rss_reta_size = RETA_SIZE};
	const char *model;
	int rc = check_params(bdf, params, &info, &model, err);
	if (rc)
		return rc;
	struct igb_port *ip = calloc(1, sizeof *ip);
	if (ip)
		ip->slots = calloc((size_t)info.queues * (info.rx_ring + info.tx_ring), sizeof *ip->slots);
	if (!ip || !ip->slots) {
		free(ip);
		lobo_err(err, "igb: out of memory");
		return -ENOMEM;
	}
	ip->mem = mem;
	memcpy(ip->key, intel_default_key, sizeof ip->key);
	for (uint32_t i = 0; i < RETA_SIZE; i++)
		ip->reta[i] = (uint8_t)(i % info.queues);
	rc = lobo_pci_port_open(&ip->base, bdf, params, mem, err);
	if (rc)
		goto free_port;
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
	uint32_t ral = rd(ip, RAL0), rah = rd(ip, RAH0);
	for (int i = 0; i < 6; i++)
		info.mac[i] = (uint8_t)((i < 4 ? ral >> (8 * i) : rah >> (8 * (i - 4))) & 0xff);
	snprintf(info.mode, sizeof info.mode, "%s, %s", model,
		 !mem->phys ? "vfio" : "no-iommu (no isolation)");
	ip->base.port.info = info;
	igb_refresh_info(&ip->base.port);
	*out = &ip->base.port;
	return 0;
free_port:
	free(ip->slots);
	free(ip);
	return rc;
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
	.read_hw_counters = igb_read_hw_counters,
	.link = igb_link,
	.set_rss = igb_set_rss,
	.tx_loop_start = igb_tx_loop_start,
	.tx_loop_kick = igb_tx_loop_kick,
	.tx_loop_stop = igb_tx_loop_stop,
};
