/* Intel 10 GbE controllers of the ixgbe family: 82599, X540 and X550. One port,
 * up to 16 queue pairs spread by RSS, polled; the rings are adv_ring.c's.
 * Section numbers are the 82599 datasheet's (Intel 82599 10 GbE Controller
 * Datasheet, 331520); the X540 (333369) and X550 datasheets describe the same
 * steps under nearby numbers.
 *
 * UNTESTED ON HARDWARE. No emulator of these chips exists, so this driver has
 * only ever run against the register-level test double in tests/double, which
 * behaves as we read the datasheet. That proves the driver follows the
 * datasheet as we read it, not that the hardware agrees.
 *
 * Behaviour is igb's: what a program receives is what was on the wire without
 * the FCS (HLREG0.RXCRCSTRP and RDRXCTL.CRCSTRIP, which must agree): no VLAN
 * tag stripped (RXDCTL.VME off), nothing padded or rewritten. What a program
 * sends goes out as it is, the FCS appended and frames under 60 bytes padded
 * (HLREG0.TXCRCEN, TXPADEN). The port is promiscuous (FCTRL.UPE, MPE, BAM).
 * Checksums are reported, never acted on; the RSS hash comes with every frame.
 *
 * The 82599 is set up completely. For the X540 and X550 (copper, 10GBASE-T)
 * lobo does the same and leaves the link to the PHY, which negotiates on its
 * own after power-up; the X550EM (X552/X553) parts are not driven. See the
 * README for what is not covered. */
#include "driver.h"
#include "intel.h"
#include "ixgbe.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Registers, 8.2.3. Per-queue ones are at their base + 0x40 * queue. */
enum {
	CTRL = 0x00000, STATUS = 0x00008, CTRL_EXT = 0x00018, EIMC = 0x00888, EIMC_EX0 = 0x00ab0, RDBAL = 0x01000,
	RDBAH = 0x01004, RDLEN = 0x01008, DCA_RXCTRL = 0x0100c, RDH = 0x01010, SRRCTL = 0x01014, RDT = 0x01018,
	RXDCTL = 0x01028, QPRDC = 0x01430, RDRXCTL = 0x02f00, RXCTRL = 0x03000, RXPBSIZE0 = 0x03c00, MPC0 = 0x03fa0,
	/* Statistics, 8.2.3.23: they clear when read. */
	CRCERRS = 0x04000, GPRC = 0x04074, GPTC = 0x04080, GORCL = 0x04088, GOTCL = 0x04090, RUC = 0x040a4,
	ROC = 0x040ac, STATS_END = 0x04128,
	HLREG0 = 0x04240, MAXFRS = 0x04268, AUTOC = 0x042a0, LINKS = 0x042a4, RTTDCS = 0x04900, TXPBTHRESH0 = 0x04950,
	DMATXCTL = 0x04a80, RXCSUM = 0x05000, FCTRL = 0x05080, VLNCTRL = 0x05088, MTA = 0x05200, TDBAL = 0x06000,
	TDBAH = 0x06004, TDLEN = 0x06008, TDH = 0x06010, TDT = 0x06018, TXDCTL = 0x06028, TDWBAL = 0x06038,
	TDWBAH = 0x0603c, DTXMXSZRQ = 0x08100, MTQC = 0x08120, SECRXCTRL = 0x08d00, SECRXSTAT = 0x08d04,
	RAL0 = 0x0a200, RAH0 = 0x0a204, TXPBSIZE0 = 0x0cc00, RETA = 0x0eb00, RSSRK = 0x0eb80, MRQC = 0x0ec80,
	ERETA = 0x0ee80, EEC = 0x10010,
};
#define QUEUE(reg, q) ((reg) + 0x40u * (q))

/* Their bits, register by register. */
enum {
	CTRL_GIO_DIS = 1 << 2, CTRL_LRST = 1 << 3, CTRL_RST = 1 << 26, STATUS_GIO = 1 << 19,
	CTRL_EXT_NS_DIS = 1 << 16, CTRL_EXT_DRV_LOAD = 1 << 28, EEC_ARD = 1 << 9,
	RDRXCTL_CRCSTRIP = 1 << 1, RDRXCTL_DMAIDONE = 1 << 3, RDRXCTL_RSCFRSTSIZE = 0x1f << 17,
	RDRXCTL_RSCACKC = 1 << 25, RDRXCTL_FCOE_WRFIX = 1 << 26,
	DCA_RXCTRL_BIT12 = 1 << 12, /* reserved, reads 1 after reset, must be cleared (4.6.7) */
	RXCTRL_RXEN = 1, SECRXCTRL_RX_DIS = 1 << 1, SECRXSTAT_RDY = 1,
	HLREG0_TXCRCEN = 1 << 0, HLREG0_RXCRCSTRP = 1 << 1, HLREG0_JUMBOEN = 1 << 2, HLREG0_TXPADEN = 1 << 10,
	AUTOC_AN_RESTART = 1 << 12,
	LINKS_SPEED_NON_STD = 1 << 27, /* X550: 2.5 and 5 Gb/s in place of 10 Gb/s and 100 Mb/s */
	LINKS_UP = 1 << 30,
	RTTDCS_ARBDIS = 1 << 6, RTTDCS_BDPM = 1 << 22, RTTDCS_BPBFSM = 1 << 23, DMATXCTL_TE = 1,
	RXCSUM_PCSD = 1 << 13, /* the descriptor carries the RSS hash */
	FCTRL_MPE = 1 << 8, FCTRL_UPE = 1 << 9, FCTRL_BAM = 1 << 10,
	VLNCTRL_VET = 0x8100, /* VFE (bit 30) off: no VLAN filtering */
	SRRCTL_BSIZE_2K = 2, SRRCTL_ADV_ONEBUF = 1 << 25, SRRCTL_DROP_EN = 1 << 28,
	TXDCTL_THRESH = (1 << 8) | 32, /* prefetch at 32 free, HTHRESH 1, WTHRESH 0: write back each RS */
	MRQC_RSS = 1, MRQC_HASH_FIELDS = 0x00f30000, /* IPv4, IPv6, TCP and UDP over both */
};

#define BUF_SIZE 2048u
#define MAX_FRAME 1522u /* 1500 bytes of payload, a header and two VLAN tags */
#define RETA_SIZE 128u
#define ERETA_SIZE 384u /* X550: the table goes on to 512 entries */
#define MAX_RING 4096u

struct ixgbe_port {
	struct lobo_pci_port base;
	struct lobo_mem *mem, rings;
	struct lobo_pci_bar bar;
	const struct lobo_pci_model *model;
	struct adv_rx_ring rx[LOBO_MAX_QUEUES];
	struct adv_tx_ring tx[LOBO_MAX_QUEUES];
	struct adv_slot *slots;
	uint8_t key[LOBO_RSS_KEY_LEN], reta[RETA_SIZE];
};

static volatile uint32_t *reg(struct ixgbe_port *xp, uint32_t at) { return (volatile uint32_t *)(xp->bar.mmio + at); }
static uint32_t rd(struct ixgbe_port *xp, uint32_t at) { return *reg(xp, at); }
static void wr(struct ixgbe_port *xp, uint32_t at, uint32_t v) { *reg(xp, at) = v; }
static void wr64(struct ixgbe_port *xp, uint32_t at, uint64_t v) { wr(xp, at, (uint32_t)v); wr(xp, at + 4, v >> 32); }
static void set_bits(struct ixgbe_port *xp, uint32_t at, uint32_t bits) { wr(xp, at, rd(xp, at) | bits); }
static void clear_bits(struct ixgbe_port *xp, uint32_t at, uint32_t bits) { wr(xp, at, rd(xp, at) & ~bits); }

static bool is_82599(const struct ixgbe_port *xp) { return !strcmp(xp->model->model, "82599"); }
static bool is_x550(const struct ixgbe_port *xp) { return !strcmp(xp->model->model, "X550"); }

static int fail(struct ixgbe_port *xp, char *err, const char *what)
{
	lobo_err(err, "ixgbe: %s %s: is it a working %s? (this driver is untested on hardware: see the README)",
		 xp->base.pci.bdf, what, xp->model->model);
	return -EIO;
}

/* ------------------------------------------------------------ bring-up */

/* 4.6.3.1: no interrupts during (or after) initialization: lobo polls. */
static void mask_interrupts(struct ixgbe_port *xp)
{
	wr(xp, EIMC, 0x7fffffffu);
	wr(xp, EIMC_EX0, ~0u);
	wr(xp, EIMC_EX0 + 4, ~0u);
}

/* 4.6.3.2 and 5.2.5.3.2: DMA stopped (master disable, which may time out on
 * a busy NIC: the reset goes on regardless, as in Linux), then CTRL.RST with
 * CTRL.LRST resets the MAC, the link and every register but PCI
 * configuration; both bits clear themselves, then the datasheet asks for
 * 10 ms before the device is touched again. */
static int global_reset(struct ixgbe_port *xp)
{
	mask_interrupts(xp);
	set_bits(xp, CTRL, CTRL_GIO_DIS);
	intel_wait(reg(xp, STATUS), STATUS_GIO, 0, 100);
	set_bits(xp, CTRL, CTRL_RST | CTRL_LRST);
	intel_sleep_ms(1);
	if (!intel_wait(reg(xp, CTRL), CTRL_RST | CTRL_LRST, 0, 100))
		return -ETIMEDOUT;
	intel_sleep_ms(10);
	mask_interrupts(xp);
	return 0;
}

/* 4.6.3, steps 1-4: interrupts off, reset, the EEPROM auto-read (MAC address
 * and defaults, EEC.ARD; the same register on all three chips) and the DMA
 * unit's own initialization (RDRXCTL.DMAIDONE). */
static int reset_device(struct ixgbe_port *xp, char *err)
{
	if (global_reset(xp))
		return fail(xp, err, "does not finish its reset (CTRL.RST stays set)");
	if (!intel_wait(reg(xp, EEC), EEC_ARD, EEC_ARD, 100))
		return fail(xp, err, "does not finish reading its EEPROM (EEC.ARD stays clear)");
	if (!intel_wait(reg(xp, RDRXCTL), RDRXCTL_DMAIDONE, RDRXCTL_DMAIDONE, 100))
		return fail(xp, err, "does not finish initializing its DMA (RDRXCTL.DMAIDONE stays clear)");
	return 0;
}

/* 4.6.4: the 82599's MAC negotiates through AUTOC, whose link mode the NVM
 * chose for the board's media (SFI, KR, KX4, ...): lobo keeps it and restarts
 * autonegotiation, which also applies it. ixy and Snabb instead force 10G
 * serial (SFI), right for the usual SFP+ boards. The X540 and X550 have a PHY
 * of their own that negotiates by itself. */
static void link_setup(struct ixgbe_port *xp)
{
	if (is_82599(xp))
		set_bits(xp, AUTOC, AUTOC_AN_RESTART);
}

/* 4.6.5: the statistics survive a reset: read them to clear them. */
static void clear_statistics(struct ixgbe_port *xp)
{
	for (uint32_t at = CRCERRS; at < STATS_END; at += 4)
		rd(xp, at);
	for (uint32_t i = 0; i < 8; i++)
		rd(xp, MPC0 + 4 * i);
	for (uint16_t q = 0; q < LOBO_MAX_QUEUES; q++)
		rd(xp, QUEUE(QPRDC, q));
}

/* Receive-side scaling (7.1.2.8): the key, 128 one-byte table entries and,
 * on the X550, the 384 more it has (ERETA) as three copies of the 128:
 * h % 512 % 128 is h % 128. */
static void write_rss(struct ixgbe_port *xp)
{
	intel_write_bytes(reg(xp, RSSRK), xp->key, sizeof xp->key);
	intel_write_bytes(reg(xp, RETA), xp->reta, RETA_SIZE);
	for (uint32_t at = 0; is_x550(xp) && at < ERETA_SIZE; at += RETA_SIZE)
		intel_write_bytes(reg(xp, ERETA + at), xp->reta, RETA_SIZE);
	wr(xp, MRQC, MRQC_RSS | MRQC_HASH_FIELDS);
}

/* The rings' memory: the receive rings, then the transmit rings, each
 * aligned to its own size (a power of two) so that none crosses a page and
 * each is one DMA range; then a head write-back word per queue, a cache line
 * apart. */
static size_t rx_ring_at(const struct lobo_port_info *info, uint16_t q) { return (size_t)q * info->rx_ring * 16u; }
static size_t tx_ring_at(const struct lobo_port_info *info, uint16_t q)
{
	size_t tx = info->tx_ring * 16u;
	return (rx_ring_at(info, info->queues) + tx - 1) / tx * tx + q * tx;
}
static size_t head_wb_at(const struct lobo_port_info *info, uint16_t q)
{
	return tx_ring_at(info, info->queues) + 64u * q;
}

static struct adv_slot *queue_slots(struct ixgbe_port *xp, const struct lobo_port_info *info, uint16_t q)
{
	return xp->slots + (size_t)q * (info->rx_ring + info->tx_ring);
}

/* 4.6.7, the receive unit off while it is set up: promiscuous, the FCS
 * stripped in both places that must agree, frames up to MAX_FRAME (JUMBOEN
 * with MAXFRS, since 1518 bytes is the limit without), no VLAN filter, the RSS
 * hash in the descriptors, RDRXCTL's RSC bits as the datasheet requires them,
 * one 512 KB packet buffer (4.6.11.3.4, no DCB). Each queue: 2 KiB buffers,
 * advanced one-buffer descriptors, no VLAN stripping (RXDCTL.VME stays 0);
 * with several queues a queue without buffers drops its frames (QPRDC)
 * instead of stalling the others (SRRCTL.DROP_EN). */
static void rx_init(struct ixgbe_port *xp, const struct lobo_port_info *info)
{
	wr(xp, RXCTRL, 0);
	wr(xp, RXPBSIZE0, 0x200u << 10);
	wr(xp, FCTRL, FCTRL_UPE | FCTRL_MPE | FCTRL_BAM);
	wr(xp, VLNCTRL, VLNCTRL_VET);
	for (uint32_t i = 0; i < 128; i++)
		wr(xp, MTA + 4 * i, 0);
	set_bits(xp, HLREG0, HLREG0_TXCRCEN | HLREG0_RXCRCSTRP | HLREG0_JUMBOEN | HLREG0_TXPADEN); /* LPBK stays 0 */
	wr(xp, MAXFRS, (MAX_FRAME + 4) << 16);
	wr(xp, RDRXCTL, (rd(xp, RDRXCTL) | RDRXCTL_CRCSTRIP | RDRXCTL_RSCACKC | RDRXCTL_FCOE_WRFIX) &
				~RDRXCTL_RSCFRSTSIZE);
	wr(xp, RXCSUM, RXCSUM_PCSD);
	write_rss(xp);
	for (uint16_t q = 0; q < info->queues; q++) {
		uint8_t *ring = xp->rings.base + rx_ring_at(info, q);
		wr64(xp, QUEUE(RDBAL, q), lobo_mem_dma(&xp->rings, ring));
		wr(xp, QUEUE(RDLEN, q), info->rx_ring * 16u);
		wr(xp, QUEUE(SRRCTL, q), SRRCTL_BSIZE_2K | SRRCTL_ADV_ONEBUF | (info->queues > 1 ? SRRCTL_DROP_EN : 0));
		wr(xp, QUEUE(RDH, q), 0);
		wr(xp, QUEUE(RDT, q), 0);
		wr(xp, QUEUE(RXDCTL, q), 0);
		clear_bits(xp, QUEUE(DCA_RXCTRL, q), DCA_RXCTRL_BIT12);
		adv_rx_init(&xp->rx[q], ring, reg(xp, QUEUE(RDT, q)), queue_slots(xp, info, q),
			    info->rx_ring, xp->mem, BUF_SIZE, ADV_RX_ERRORS_IXGBE);
	}
	set_bits(xp, CTRL_EXT, CTRL_EXT_NS_DIS | CTRL_EXT_DRV_LOAD);
}

/* 4.6.8: the transmit arbiter off while the queue layout changes, set for no
 * DCB and no virtualization (4.6.11.3.4: one 160 KB packet buffer, 64 queues
 * in one traffic class, descriptor and data arbiters bypassed), then on; DMA
 * on; each queue's ring with its head written back to memory whenever a
 * descriptor with RS is done (TDWBAL bit 0), so that reclaiming reads memory,
 * not a register. */
static void tx_init(struct ixgbe_port *xp, const struct lobo_port_info *info)
{
	set_bits(xp, RTTDCS, RTTDCS_ARBDIS);
	wr(xp, TXPBSIZE0, 0xa0u << 10);
	wr(xp, TXPBTHRESH0, 0xa0u - 10); /* in KB: the buffer less the largest frame the DMA may fetch */
	wr(xp, DTXMXSZRQ, 0xfff);
	wr(xp, MTQC, 0);
	wr(xp, RTTDCS, RTTDCS_BDPM | RTTDCS_BPBFSM); /* TDPAC, VMPAC, TDRM and ARBDIS clear */
	set_bits(xp, DMATXCTL, DMATXCTL_TE);
	for (uint16_t q = 0; q < info->queues; q++) {
		uint8_t *ring = xp->rings.base + tx_ring_at(info, q), *head_wb = xp->rings.base + head_wb_at(info, q);
		wr64(xp, QUEUE(TDBAL, q), lobo_mem_dma(&xp->rings, ring));
		wr(xp, QUEUE(TDLEN, q), info->tx_ring * 16u);
		wr(xp, QUEUE(TDH, q), 0);
		wr(xp, QUEUE(TDT, q), 0);
		wr64(xp, QUEUE(TDWBAL, q), lobo_mem_dma(&xp->rings, head_wb) | 1);
		wr(xp, QUEUE(TXDCTL, q), TXDCTL_THRESH);
		adv_tx_init(&xp->tx[q], ring, reg(xp, QUEUE(TDT, q)), (volatile uint32_t *)head_wb,
			    queue_slots(xp, info, q) + info->rx_ring, info->tx_ring, xp->mem, MAX_FRAME);
	}
}

/* 4.6.7, last: the receiver on, with the security block's receive path halted
 * around it (SECRXCTRL.RX_DIS until SECRXSTAT.SECRX_RDY; like Linux, go on
 * after 40 ms without it). */
static void rx_enable(struct ixgbe_port *xp)
{
	set_bits(xp, SECRXCTRL, SECRXCTRL_RX_DIS);
	intel_wait(reg(xp, SECRXSTAT), SECRXSTAT_RDY, SECRXSTAT_RDY, 40);
	wr(xp, RXCTRL, RXCTRL_RXEN);
	clear_bits(xp, SECRXCTRL, SECRXCTRL_RX_DIS);
}

/* 4.6.3, steps 5-8 and the queues: up to a port that receives and sends. */
static int setup_device(struct ixgbe_port *xp, struct lobo_port_info *info, char *err)
{
	link_setup(xp);
	clear_statistics(xp);
	rx_init(xp, info);
	tx_init(xp, info);
	/* 4.6.7.1 and 4.6.8.1: the queues on; their tails move only after that (adv_rx_post, adv_tx_post). */
	for (uint16_t q = 0; q < info->queues; q++)
		if (!intel_queue_start(reg(xp, QUEUE(RXDCTL, q))) || !intel_queue_start(reg(xp, QUEUE(TXDCTL, q))))
			return fail(xp, err, "does not enable its queues (RXDCTL/TXDCTL.ENABLE stays clear)");
	rx_enable(xp);
	intel_wait(reg(xp, LINKS), LINKS_UP, LINKS_UP, 1000); /* a cable may be out: the port opens with its link down */
	return 0;
}

/* --------------------------------------------------------------- data path */

#define IXGBE(p) ((struct ixgbe_port *)(p))

static uint16_t ixgbe_rx_post(struct lobo_port *p, uint16_t q, const struct lobo_frame *f, uint16_t n)
{
	return q < p->info.queues ? adv_rx_post(&IXGBE(p)->rx[q], f, n, &p->counters[q]) : 0;
}

static uint16_t ixgbe_rx_poll(struct lobo_port *p, uint16_t q, struct lobo_frame *f, uint16_t max)
{
	return q < p->info.queues ? adv_rx_poll(&IXGBE(p)->rx[q], f, max, &p->counters[q]) : 0;
}

static uint16_t ixgbe_tx_post(struct lobo_port *p, uint16_t q, const struct lobo_frame *f, uint16_t n)
{
	return q < p->info.queues ? adv_tx_post(&IXGBE(p)->tx[q], f, n, &p->counters[q]) : 0;
}

static uint16_t ixgbe_tx_reclaim(struct lobo_port *p, uint16_t q, struct lobo_frame *f, uint16_t max)
{
	return q < p->info.queues ? adv_tx_reclaim(&IXGBE(p)->tx[q], f, max, &p->counters[q]) : 0;
}

/* ------------------------------------------------- control, off the data path */

/* LINKS (8.2.3.22.19): bits 29:28 are 10 Gb/s, 1 Gb/s or 100 Mb/s; the X550
 * reads 2.5 and 5 Gb/s into the first and last with bit 27. */
static struct lobo_link ixgbe_link(struct lobo_port *p)
{
	static const uint32_t speed[4] = {0, 100, 1000, 10000}, x550_speed[4] = {0, 5000, 1000, 2500};
	uint32_t links = rd(IXGBE(p), LINKS);
	bool up = links & LINKS_UP, non_std = is_x550(IXGBE(p)) && (links & LINKS_SPEED_NON_STD);
	return (struct lobo_link){up, up ? (non_std ? x550_speed : speed)[(links >> 28) & 3] : 0};
}

static void ixgbe_refresh_info(struct lobo_port *p) { lobo_port_link(p); /* which updates the info */ }

/* Every counter read here clears when read (8.2.3.23). The 82599's counters
 * that do not are the virtual functions' (VFGPRC and the rest, which wrap
 * instead) and, in the register table as Snabb transcribes it, the
 * management ones (MNGPRC, MNGPDC, MNGPTC); lobo reads none of those. */
static void ixgbe_read_hw_counters(struct lobo_port *p)
{
	struct ixgbe_port *xp = IXGBE(p);
	struct lobo_hw_counters *hw = &p->hw;
	hw->rx_packets += rd(xp, GPRC);
	hw->rx_bytes += intel_rd64(reg(xp, GORCL)); /* 36 bits used */
	hw->tx_packets += rd(xp, GPTC);
	hw->tx_bytes += intel_rd64(reg(xp, GOTCL));
	for (uint32_t i = 0; i < 8; i++)
		hw->rx_missed += rd(xp, MPC0 + 4 * i);
	for (uint16_t q = 0; q < p->info.queues; q++)
		hw->rx_no_buffer += rd(xp, QUEUE(QPRDC, q));
	hw->rx_frame_errors += rd(xp, CRCERRS);
	hw->rx_length_errors += rd(xp, RUC) + rd(xp, ROC);
}

static int ixgbe_set_rss(struct lobo_port *p, const uint8_t *key, const uint16_t *reta, char *err)
{
	struct ixgbe_port *xp = IXGBE(p);
	(void)err;
	if (key)
		memcpy(xp->key, key, sizeof xp->key);
	for (uint32_t i = 0; reta && i < RETA_SIZE; i++)
		xp->reta[i] = (uint8_t)reta[i];
	write_rss(xp);
	return 0;
}

/* Packetblaster: descriptors without RS, so the NIC never writes the ring;
 * the head comes from TDH. */
static int ixgbe_tx_loop_start(struct lobo_port *p, uint16_t q, const struct lobo_frame *f, uint32_t n, char *err)
{
	return intel_tx_loop_start(p, q, &IXGBE(p)->tx[q], reg(IXGBE(p), QUEUE(TDBAL, q)), f, n, err);
}

static uint32_t ixgbe_tx_loop_kick(struct lobo_port *p, uint16_t q)
{
	struct ixgbe_port *xp = IXGBE(p);
	return adv_tx_loop_kick(&xp->tx[q], rd(xp, QUEUE(TDH, q)), &p->counters[q]);
}

static void ixgbe_tx_loop_stop(struct lobo_port *p, uint16_t q)
{
	intel_tx_loop_stop(p, q, &IXGBE(p)->tx[q], reg(IXGBE(p), QUEUE(TDBAL, q)));
}

/* ------------------------------------------------------------ open, close */

static void port_free(struct ixgbe_port *xp)
{
	lobo_mem_free(&xp->rings);
	free(xp->slots);
	free(xp);
}

static void ixgbe_close(struct lobo_port *p)
{
	struct ixgbe_port *xp = IXGBE(p);
	if (xp->bar.mmio) {
		wr(xp, RXCTRL, 0);
		clear_bits(xp, DMATXCTL, DMATXCTL_TE);
		clear_bits(xp, CTRL_EXT, CTRL_EXT_DRV_LOAD);
		global_reset(xp); /* the NIC forgets our rings before their memory goes */
	}
	if (xp->base.pci.lock_fd >= 0) /* a BAR lent to ixgbe_open_bar stays its owner's */
		lobo_pci_bar_close(&xp->bar);
	lobo_pci_close(&xp->base.pci);
	port_free(xp);
}

/* Everything that needs no device: options, the port, its slots and ring
 * memory. The PCI device stays closed (all its descriptors -1). */
static int port_alloc(struct ixgbe_port **out, const struct lobo_pci_model *m, const char *params,
		      struct lobo_mem *mem, struct lobo_port_info *info, char *err)
{
	*info = (struct lobo_port_info){.max_frame = MAX_FRAME, .rss_reta_size = RETA_SIZE};
	int rc = lobo_params_rings(params, info, 512, err);
	if (rc)
		return rc;
	if (info->queues > m->max_queues || info->rx_ring > MAX_RING || info->tx_ring > MAX_RING) {
		lobo_err(err, "ixgbe: the %s drives up to %u queues of rings up to %u (got queues=%u rx_ring=%u tx_ring=%u)",
			 m->model, m->max_queues, MAX_RING, info->queues, info->rx_ring, info->tx_ring);
		return -EINVAL;
	}
	struct ixgbe_port *xp = calloc(1, sizeof *xp);
	if (!xp)
		return lobo_fail(err, -ENOMEM, "ixgbe: out of memory");
	xp->slots = calloc((size_t)info->queues * (info->rx_ring + info->tx_ring), sizeof *xp->slots);
	if (!xp->slots) {
		port_free(xp);
		return lobo_fail(err, -ENOMEM, "ixgbe: out of memory");
	}
	rc = lobo_mem_alloc(&xp->rings, head_wb_at(info, info->queues), err);
	if (rc) {
		port_free(xp);
		return rc;
	}
	xp->base.pci = (struct lobo_pci){.lock_fd = -1, .config_fd = -1, .container = -1, .group = -1, .device_fd = -1};
	xp->mem = mem;
	xp->model = m;
	memcpy(xp->key, intel_default_key, sizeof xp->key);
	for (uint32_t i = 0; i < RETA_SIZE; i++)
		xp->reta[i] = (uint8_t)(i % info->queues);
	*out = xp;
	return 0;
}

/* The port as the program sees it, once the device runs. */
static struct lobo_port *port_ready(struct ixgbe_port *xp, struct lobo_port_info *info, const char *access)
{
	uint32_t ral = rd(xp, RAL0), rah = rd(xp, RAH0); /* the address in byte order, little-endian */
	memcpy(info->mac, &ral, 4);
	memcpy(info->mac + 4, &rah, 2);
	snprintf(info->mode, sizeof info->mode, "%s, %s", xp->model->model, access);
	xp->base.port.ops = &lobo_ixgbe_ops;
	xp->base.port.info = *info;
	ixgbe_refresh_info(&xp->base.port);
	return &xp->base.port;
}

/* The opened device's BAR0, and DMA into the caller's memory and the rings. */
static int pci_attach(struct ixgbe_port *xp, const char *bdf, char *err)
{
	int rc = lobo_pci_bar_open(&xp->base.pci, 0, &xp->bar, err);
	if (rc)
		return rc;
	if (!xp->bar.mmio || xp->bar.len < IXGBE_BAR_SIZE) {
		lobo_err(err, "ixgbe: %s has no memory-mapped BAR0 of 128 KiB: is it an ixgbe NIC?", bdf);
		return -ENODEV;
	}
	rc = lobo_pci_dma_map(&xp->base.pci, xp->mem, false, err);
	if (rc)
		return rc;
	return lobo_pci_dma_map(&xp->base.pci, &xp->rings, false, err);
}

static int ixgbe_open(struct lobo_port **out, const char *bdf, const char *params, struct lobo_mem *mem, char *err)
{
	struct lobo_port_info info;
	struct ixgbe_port *xp;
	uint16_t vendor, device;
	int rc = lobo_pci_id(bdf, &vendor, &device, err);
	if (!rc)
		rc = port_alloc(&xp, lobo_pci_model(vendor, device), params, mem, &info, err);
	if (rc)
		return rc;
	rc = lobo_pci_port_open(&xp->base, bdf, params, mem, err);
	if (rc) { /* lobo_pci_open left the device as it was: closing it now would unbind it */
		port_free(xp);
		return rc;
	}
	rc = pci_attach(xp, bdf, err);
	if (rc)
		goto close;
	rc = reset_device(xp, err);
	if (rc)
		goto close;
	if (lobo_pci_bus_master(&xp->base.pci, true)) { /* DMA only once the reset made the NIC forget old rings */
		rc = fail(xp, err, "does not take bus mastering");
		goto close;
	}
	rc = setup_device(xp, &info, err);
	if (rc)
		goto close;
	*out = port_ready(xp, &info, !mem->phys ? "vfio" : "no-iommu (no isolation)");
	return 0;
close:
	ixgbe_close(&xp->base.port); /* resets the NIC if it got that far, gives the device back */
	return rc;
}

int ixgbe_open_bar(struct lobo_port **out, volatile uint8_t *bar, uint16_t device, const char *params,
		   struct lobo_mem *mem, char *err)
{
	const struct lobo_pci_model *m = lobo_pci_model(0x8086, device);
	struct lobo_port_info info;
	struct ixgbe_port *xp;
	if (!m || m->ops != &lobo_ixgbe_ops) {
		lobo_err(err, "ixgbe: 8086:%04x is not in the pci: table as an ixgbe NIC", device);
		return -ENODEV;
	}
	int rc = port_alloc(&xp, m, params, mem, &info, err);
	if (rc)
		return rc;
	xp->bar = (struct lobo_pci_bar){.mmio = bar, .len = IXGBE_BAR_SIZE, .fd = -1};
	snprintf(xp->base.pci.bdf, sizeof xp->base.pci.bdf, "(a BAR)");
	rc = reset_device(xp, err);
	if (!rc)
		rc = setup_device(xp, &info, err);
	if (rc) {
		ixgbe_close(&xp->base.port);
		return rc;
	}
	*out = port_ready(xp, &info, "BAR given");
	snprintf((*out)->info.name, sizeof (*out)->info.name, "ixgbe:8086:%04x", device);
	snprintf((*out)->info.driver, sizeof (*out)->info.driver, "ixgbe");
	return 0;
}

const struct lobo_port_ops lobo_ixgbe_ops = {
	.scheme = "ixgbe",
	.open = ixgbe_open,
	.close = ixgbe_close,
	.refresh_info = ixgbe_refresh_info,
	.rx_post = ixgbe_rx_post,
	.rx_poll = ixgbe_rx_poll,
	.tx_post = ixgbe_tx_post,
	.tx_reclaim = ixgbe_tx_reclaim,
	.read_hw_counters = ixgbe_read_hw_counters,
	.link = ixgbe_link,
	.set_rss = ixgbe_set_rss,
	.tx_loop_start = ixgbe_tx_loop_start,
	.tx_loop_kick = ixgbe_tx_loop_kick,
	.tx_loop_stop = ixgbe_tx_loop_stop,
};
