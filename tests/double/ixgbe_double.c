/* A register-level test double of the Intel 82599 (ixgbe_double.h says what
 * it is and is not). Register offsets and behaviour are our own reading of the
 * 82599 datasheet (331520), written independently of src/driver/ixgbe.c;
 * section numbers are that datasheet's. */
#include "ixgbe_double.h"

#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#define BAR 0x20000u
#define PAGE 4096u
#define QUEUES 16u
#define NEVER UINT64_MAX
#define MS 1000000ull

/* Registers, 8.2.3 (per queue: + 0x40 * n). */
enum {
	CTRL = 0x0, STATUS = 0x8, CTRL_EXT = 0x18, EIMC = 0x888, EIMC_EX0 = 0xab0, EIMC_EX1 = 0xab4,
	RDBAL = 0x1000, RDBAH = 0x1004, RDLEN = 0x1008, DCA_RXCTRL = 0x100c, RDH = 0x1010, SRRCTL = 0x1014,
	RDT = 0x1018, RXDCTL = 0x1028, QPRC = 0x1030, QPRDC = 0x1430, RDRXCTL = 0x2f00, RXCTRL = 0x3000,
	MPC0 = 0x3fa0, CRCERRS = 0x4000, GPRC = 0x4074, GPTC = 0x4080, GORCL = 0x4088, GORCH = 0x408c,
	GOTCL = 0x4090, GOTCH = 0x4094, RUC = 0x40a4, ROC = 0x40ac, MNGPRC = 0x40b4, MNGPDC = 0x40b8,
	TORL = 0x40c0, TORH = 0x40c4, HLREG0 = 0x4240, MAXFRS = 0x4268, AUTOC = 0x42a0, LINKS = 0x42a4,
	RTTDCS = 0x4900, DMATXCTL = 0x4a80, FCTRL = 0x5080, TDBAL = 0x6000, TDBAH = 0x6004, TDLEN = 0x6008,
	TDH = 0x6010, TDT = 0x6018, TXDCTL = 0x6028, TDWBAL = 0x6038, TDWBAH = 0x603c, MTQC = 0x8120,
	QPTC = 0x8680, QBTCL = 0x8700, SECRXCTRL = 0x8d00, SECRXSTAT = 0x8d04, RAL0 = 0xa200, RAH0 = 0xa204,
	RETA = 0xeb00, RSSRK = 0xeb80, MRQC = 0xec80, ERETA = 0xee80, EEC = 0x10010,
};
#define Q(reg, q) ((reg) + 0x40u * (q))

static const struct { uint32_t off; const char *name; } names[] = {
	{CTRL, "CTRL"}, {CTRL_EXT, "CTRL_EXT"}, {RDBAL, "RDBAL"}, {RDBAH, "RDBAH"}, {RDLEN, "RDLEN"},
	{DCA_RXCTRL, "DCA_RXCTRL"}, {RDH, "RDH"}, {SRRCTL, "SRRCTL"}, {RDT, "RDT"}, {RXDCTL, "RXDCTL"},
	{RDRXCTL, "RDRXCTL"}, {RXCTRL, "RXCTRL"}, {HLREG0, "HLREG0"}, {MAXFRS, "MAXFRS"}, {AUTOC, "AUTOC"},
	{RTTDCS, "RTTDCS"}, {DMATXCTL, "DMATXCTL"}, {FCTRL, "FCTRL"}, {TDBAL, "TDBAL"}, {TDBAH, "TDBAH"},
	{TDLEN, "TDLEN"}, {TDH, "TDH"}, {TDT, "TDT"}, {TXDCTL, "TXDCTL"}, {TDWBAL, "TDWBAL"}, {TDWBAH, "TDWBAH"},
	{MTQC, "MTQC"}, {SECRXCTRL, "SECRXCTRL"}, {RETA, "RETA"}, {RSSRK, "RSSRK"}, {MRQC, "MRQC"},
};

/* Bits. */
#define CTRL_GIO_DIS (1u << 2)
#define CTRL_RESET ((1u << 26) | (1u << 3)) /* RST, LRST */
#define STATUS_GIO (1u << 19)
#define CTRL_EXT_NS_DIS (1u << 16)
#define EEC_PRES (1u << 8)
#define EEC_ARD (1u << 9)
#define RDRXCTL_CRCSTRIP (1u << 1)
#define RDRXCTL_DMAIDONE (1u << 3)
#define RDRXCTL_RSCFRSTSIZE (0x1fu << 17)
#define RDRXCTL_RSCACKC (1u << 25)
#define RDRXCTL_FCOE_WRFIX (1u << 26)
#define RXCTRL_RXEN 1u
#define HLREG0_RXCRCSTRP (1u << 1)
#define HLREG0_JUMBOEN (1u << 2)
#define HLREG0_TXPADEN (1u << 10)
#define AUTOC_AN_RESTART (1u << 12)
#define LINKS_UP (1u << 30)
#define LINKS_NON_STD (1u << 27)
#define RTTDCS_ARBDIS (1u << 6)
#define RTTDCS_DCB_OFF ((1u << 22) | (1u << 23)) /* BDPM, BPBFSM; TDPAC, VMPAC, TDRM, ARBDIS clear */
#define RTTDCS_CHECKED (RTTDCS_DCB_OFF | 0x53u)
#define DMATXCTL_TE 1u
#define FCTRL_MPE (1u << 8)
#define FCTRL_UPE (1u << 9)
#define FCTRL_BAM (1u << 10)
#define SRRCTL_DESCTYPE (7u << 25)
#define SRRCTL_ADV_ONEBUF (1u << 25)
#define SRRCTL_DROP_EN (1u << 28)
#define RXDCTL_VME (1u << 30)
#define ENABLE (1u << 25)
#define SECRXCTRL_RX_DIS (1u << 1)
#define RAH_AV (1u << 31)
/* Descriptors, 7.1.6 and 7.2.3.2.4. */
#define RX_DD 1u
#define RX_EOP 2u
#define RX_VP 8u
#define RX_IPCS (1u << 6)
#define RX_IPE (1u << 31)
#define TX_EOP (1u << 24)
#define TX_IFCS (1u << 25)
#define TX_RS (1u << 27)
#define TX_DEXT (1u << 29)

const uint8_t ixgbe_double_mac[6] = {0x00, 0x1b, 0x21, 0x0d, 0xb1, 0xe0};

struct ixgbe_double {
	uint16_t device;
	unsigned faults;
	int fd;
	volatile uint32_t *reg; /* the device's view */
	volatile uint8_t *bus;  /* the driver's: no access allowed, every one traps */
	atomic_flag lock;       /* held from a trapped access's fault to its single step */
	pthread_t thread;
	atomic_bool stop, paused;
	uint32_t pending, pending_write, speed_bits;
	/* Times in ns: the reset's end, the EEPROM and DMA done, the link up, the end of the 10 ms quiet. */
	uint64_t reset_done, ard_at, dma_at, link_at, quiet_until;
	bool ard_seen, dma_seen, masked;
	uint64_t rx_on[QUEUES], tx_on[QUEUES]; /* when the queue reads enabled, 0: off */
	bool rx_seen[QUEUES], tx_seen[QUEUES]; /* the driver read its enable bit as 1 */
	struct double_ring rx[QUEUES], tx[QUEUES];
	uint64_t *count;        /* statistics by register, cleared when read */
	char violation[192];
	uint8_t (*log)[2048];
	uint32_t log_len[IXGBE_DOUBLE_LOG];
	uint64_t sent;
	struct sigaction old_segv, old_trap;
};

static struct ixgbe_double *live; /* the one double the fault handler serves */

static uint64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static void lock(struct ixgbe_double *d)
{
	while (atomic_flag_test_and_set_explicit(&d->lock, memory_order_acquire))
		;
}
static void unlock(struct ixgbe_double *d) { atomic_flag_clear_explicit(&d->lock, memory_order_release); }

static volatile uint32_t *reg(struct ixgbe_double *d, uint32_t off) { return &d->reg[off / 4]; }

static const char *name(uint32_t off, char *buf)
{
	uint32_t q = off >= RDBAL && off < RDBAL + 0x40 * QUEUES ? (off - RDBAL) / 0x40 : 0;
	if (off >= TDBAL && off < TDBAL + 0x40 * QUEUES)
		q = (off - TDBAL) / 0x40;
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (names[i].off == off - 0x40 * q) {
			snprintf(buf, 32, q ? "%s[%u]" : "%s", names[i].name, q);
			return buf;
		}
	snprintf(buf, 32, "register 0x%05x", off);
	return buf;
}

static void violate(struct ixgbe_double *d, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (!d->violation[0])
		vsnprintf(d->violation, sizeof d->violation, fmt, ap);
	va_end(ap);
}

/* --------------------------------------------------------------- statistics */

/* QPRC, QBRC low and high, per queue; QPRDC per queue. */
static bool queue_count(uint32_t off)
{
	uint32_t at = off & 0x3f;
	return (off >= QPRC && off < Q(QPRC, QUEUES) && (at == 0x30 || at == 0x34 || at == 0x38)) ||
	       (off >= QPRDC && off < Q(QPRDC, QUEUES) && at == 0x30);
}

static bool clears_on_read(uint32_t off)
{
	bool mng = off == MNGPRC || off == MNGPDC; /* read-only in the register table: not cleared */
	return queue_count(off) || (off >= MPC0 && off < MPC0 + 32) || (off >= CRCERRS && off <= 0x4124 && !mng) ||
	       (off >= QPTC && off < QPTC + 4 * QUEUES) || (off >= QBTCL && off < QBTCL + 8 * QUEUES);
}

static bool low_half(uint32_t off) /* of a 36-bit octet counter */
{
	return off == GORCL || off == GOTCL || off == TORL || (off >= QBTCL && off < QBTCL + 8 * QUEUES && !(off & 4)) ||
	       (queue_count(off) && (off & 0x3f) == 0x34);
}

/* Reading the low half returns it and latches the high one, which its read
 * returns; either read clears what it returned (8.2.3.23). */
static uint32_t read_count(struct ixgbe_double *d, uint32_t off)
{
	uint64_t v = d->count[off / 4];
	d->count[off / 4] = 0;
	if (low_half(off))
		d->count[off / 4 + 1] = v >> 32;
	return (uint32_t)v;
}

static void add(struct ixgbe_double *d, uint32_t off, uint64_t n) { d->count[off / 4] += n; }

/* ---------------------------------------------------------------- registers */

static bool is_82599(const struct ixgbe_double *d) { return d->device != 0x1528 && d->device != 0x1560 && d->device < 0x1563; }
static bool is_x550(const struct ixgbe_double *d) { return d->device == 0x1563 || d->device == 0x15d1; }

/* What the registers hold after a reset (8.2.3, initial values). */
static void reset(struct ixgbe_double *d, uint64_t now)
{
	uint64_t never = NEVER;
	for (uint32_t off = 0; off < BAR; off += 4)
		if (!clears_on_read(off)) /* statistics survive a reset (4.6.5) */
			*reg(d, off) = 0;
	*reg(d, STATUS) = STATUS_GIO;
	*reg(d, EEC) = EEC_PRES;
	*reg(d, HLREG0) = (1u << 0) | HLREG0_RXCRCSTRP | HLREG0_TXPADEN | (1u << 13);
	*reg(d, RDRXCTL) = 8u << 17; /* RSCFRSTSIZE: not the 0 the driver must set (4.6.7) */
	*reg(d, AUTOC) = 3u << 13;   /* LMS: 10 Gb/s serial, as an SFP+ board's NVM sets it */
	*reg(d, MAXFRS) = 1518u << 16;
	for (uint32_t q = 0; q < QUEUES; q++)
		*reg(d, Q(DCA_RXCTRL, q)) = 1u << 12;
	*reg(d, RAL0) = (uint32_t)ixgbe_double_mac[0] | (uint32_t)ixgbe_double_mac[1] << 8 |
			(uint32_t)ixgbe_double_mac[2] << 16 | (uint32_t)ixgbe_double_mac[3] << 24;
	*reg(d, RAH0) = (uint32_t)ixgbe_double_mac[4] | (uint32_t)ixgbe_double_mac[5] << 8 | RAH_AV;
	d->reset_done = d->faults & FAULT_RESET_STUCK ? never : now + 1 * MS;
	d->ard_at = d->faults & (FAULT_RESET_STUCK | FAULT_NO_EEPROM) ? never : d->reset_done + 1 * MS;
	d->dma_at = d->faults & (FAULT_RESET_STUCK | FAULT_NO_DMA_INIT) ? never : d->reset_done + 2 * MS;
	d->quiet_until = d->reset_done == never ? never : d->reset_done + 10 * MS;
	/* The X540's and X550's PHY negotiates by itself; the 82599 waits for AUTOC. */
	d->link_at = is_82599(d) || (d->faults & FAULT_NO_LINK) || d->reset_done == never ? 0 : d->reset_done + 3 * MS;
	d->ard_seen = d->dma_seen = d->masked = false;
	memset(d->rx_on, 0, sizeof d->rx_on);
	memset(d->tx_on, 0, sizeof d->tx_on);
	memset(d->rx_seen, 0, sizeof d->rx_seen);
	memset(d->tx_seen, 0, sizeof d->tx_seen);
}

static bool queue_reg(uint32_t off, uint32_t base, uint32_t *q)
{
	if (off < base || off >= base + 0x40 * QUEUES)
		return false;
	*q = (off - base) / 0x40;
	return true;
}

/* The value a read returns, stored where the load will find it. */
static void before_read(struct ixgbe_double *d, uint32_t off)
{
	uint64_t now = now_ns();
	volatile uint32_t *r = reg(d, off);
	uint32_t q;
	if (clears_on_read(off))
		*r = read_count(d, off);
	else if (off == CTRL)
		*r = (*r & ~CTRL_RESET) | (now < d->reset_done ? CTRL_RESET : 0);
	else if (off == STATUS)
		*r = *reg(d, CTRL) & CTRL_GIO_DIS ? *r & ~STATUS_GIO : *r | STATUS_GIO;
	else if (off == EEC)
		*r = (*r & ~EEC_ARD) | ((d->ard_seen |= now >= d->ard_at) ? EEC_ARD : 0);
	else if (off == RDRXCTL)
		*r = (*r & ~RDRXCTL_DMAIDONE) | ((d->dma_seen |= now >= d->dma_at) ? RDRXCTL_DMAIDONE : 0);
	else if (off == LINKS)
		*r = d->link_at && now >= d->link_at ? LINKS_UP | d->speed_bits : 0;
	else if (off == SECRXSTAT)
		*r = *reg(d, SECRXCTRL) & SECRXCTRL_RX_DIS ? 1 : 0;
	else if (queue_reg(off, RXDCTL, &q) && (off & 0x3f) == (RXDCTL & 0x3f))
		*r = (*r & ~ENABLE) | ((d->rx_seen[q] = d->rx_on[q] && now >= d->rx_on[q]) ? ENABLE : 0);
	else if (queue_reg(off, TXDCTL, &q) && (off & 0x3f) == (TXDCTL & 0x3f))
		*r = (*r & ~ENABLE) | ((d->tx_seen[q] = d->tx_on[q] && now >= d->tx_on[q]) ? ENABLE : 0);
}

static uint64_t reg64(struct ixgbe_double *d, uint32_t low) { return *reg(d, low) | (uint64_t)*reg(d, low + 4) << 32; }

static void queue_enable(struct ixgbe_double *d, uint32_t q, uint32_t v, bool tx)
{
	uint64_t *on = tx ? &d->tx_on[q] : &d->rx_on[q];
	if (!(v & ENABLE)) {
		*on = 0;
		return;
	}
	if (*on)
		return;
	*on = d->faults & FAULT_QUEUE_STUCK ? NEVER : now_ns() + MS / 20;
	uint32_t base = tx ? TDBAL : RDBAL;
	struct double_ring *r = tx ? &d->tx[q] : &d->rx[q];
	*r = (struct double_ring){.desc = (volatile uint8_t *)(uintptr_t)reg64(d, Q(base, q)),
				 .size = *reg(d, Q(base + 8, q)) / 16, .head = *reg(d, Q(base + 0x10, q)),
				 .tail = reg(d, Q(base + 0x18, q))};
	if (tx && (*reg(d, Q(TDWBAL, q)) & 1))
		r->head_wb = (volatile uint32_t *)(uintptr_t)(reg64(d, Q(TDWBAL, q)) & ~3ull);
	if (!r->size || r->head >= r->size)
		violate(d, "queue %u enabled with %s = %u (4.6.7.1, 4.6.8.1)", q, tx ? "TDLEN" : "RDLEN", r->size * 16);
}

/* Receive may start once everything the datasheet lists is set (4.6.7). */
static void check_receive_enable(struct ixgbe_double *d)
{
	uint32_t rdrxctl = *reg(d, RDRXCTL);
	if (!(*reg(d, HLREG0) & HLREG0_RXCRCSTRP) != !(rdrxctl & RDRXCTL_CRCSTRIP))
		violate(d, "HLREG0.RXCRCSTRP and RDRXCTL.CRCSTRIP differ (4.6.7: they must be equal)");
	if ((rdrxctl & RDRXCTL_RSCFRSTSIZE) || !(rdrxctl & RDRXCTL_RSCACKC) || !(rdrxctl & RDRXCTL_FCOE_WRFIX))
		violate(d, "RDRXCTL = 0x%08x: RSCFRSTSIZE must be 0, RSCACKC and FCOE_WRFIX 1 (4.6.7, 8.2.3.8.8)", rdrxctl);
	if (!(*reg(d, SECRXCTRL) & SECRXCTRL_RX_DIS))
		violate(d, "RXCTRL.RXEN set while the security receive path runs: set SECRXCTRL.RX_DIS first (4.6.7)");
	if (!(*reg(d, CTRL_EXT) & CTRL_EXT_NS_DIS))
		violate(d, "RXCTRL.RXEN set with CTRL_EXT.NS_DIS clear (4.6.7)");
	if (!d->masked)
		violate(d, "receive enabled without masking interrupts after the reset (4.6.3.1)");
	for (uint32_t q = 0; q < QUEUES; q++) {
		if (d->rx_on[q] && (*reg(d, Q(DCA_RXCTRL, q)) & (1u << 12)))
			violate(d, "DCA_RXCTRL[%u] bit 12 still set (4.6.7: it must be cleared)", q);
		if (d->rx_on[q] && (*reg(d, Q(SRRCTL, q)) & SRRCTL_DESCTYPE) != SRRCTL_ADV_ONEBUF)
			violate(d, "SRRCTL[%u].DESCTYPE is not advanced one-buffer, the only kind this double has", q);
	}
}

/* Transmit may start with the arbiters set for no DCB, no VT (4.6.11.3.4). */
static void check_transmit_enable(struct ixgbe_double *d)
{
	if ((*reg(d, RTTDCS) & RTTDCS_CHECKED) != RTTDCS_DCB_OFF || *reg(d, MTQC))
		violate(d, "DMATXCTL.TE set with RTTDCS = 0x%08x, MTQC = 0x%x: not DCB off, one TC (4.6.11.3.4)",
			*reg(d, RTTDCS), *reg(d, MTQC));
}

/* What a write does, once it landed (the register holds v). */
static void after_write(struct ixgbe_double *d, uint32_t off, uint32_t v)
{
	uint64_t now = now_ns();
	uint32_t q, at = off & 0x3f;
	char n[32];
	bool early = off != CTRL && off != EIMC && off != EIMC_EX0 && off != EIMC_EX1;
	if (early && now < d->quiet_until)
		violate(d, "%s written %llu us after a reset: the datasheet asks for 10 ms (4.6.3.2)", name(off, n),
			(unsigned long long)((now - d->reset_done) / 1000));
	else if (early && (!d->ard_seen || !d->dma_seen))
		violate(d, "%s written before EEC.ARD and RDRXCTL.DMAIDONE were read as done (4.6.3)", name(off, n));
	if (off == CTRL && (v & CTRL_RESET))
		reset(d, now);
	else if (off == EIMC && now >= d->reset_done)
		d->masked = (v & 0x7fffffffu) == 0x7fffffffu;
	else if (off == AUTOC && (v & AUTOC_AN_RESTART)) {
		*reg(d, AUTOC) = v & ~AUTOC_AN_RESTART; /* self-clearing */
		d->link_at = d->faults & FAULT_NO_LINK ? 0 : now + 2 * MS;
	} else if (off == RXCTRL && (v & RXCTRL_RXEN))
		check_receive_enable(d);
	else if (off == DMATXCTL && (v & DMATXCTL_TE))
		check_transmit_enable(d);
	else if (off == MTQC && !(*reg(d, RTTDCS) & RTTDCS_ARBDIS))
		violate(d, "MTQC written with the transmit arbiter running (RTTDCS.ARBDIS clear, 4.6.8)");
	else if (queue_reg(off, RDBAL, &q) && at == (RXDCTL & 0x3f))
		queue_enable(d, q, v, false);
	else if (queue_reg(off, TDBAL, &q) && at == (TXDCTL & 0x3f))
		queue_enable(d, q, v, true);
	else if (queue_reg(off, RDBAL, &q) && at == (RDT & 0x3f) && !d->rx_seen[q] && v)
		violate(d, "RDT[%u] moved before RXDCTL[%u].ENABLE read 1 (4.6.7.1)", q, q);
	else if (queue_reg(off, TDBAL, &q) && at == (TDT & 0x3f) && !d->tx_seen[q] && v)
		violate(d, "TDT[%u] moved before TXDCTL[%u].ENABLE read 1 (4.6.8.1)", q, q);
	else if (queue_reg(off, RDBAL, &q) && at <= (SRRCTL & 0x3f) && at != (DCA_RXCTRL & 0x3f) && d->rx_on[q])
		violate(d, "%s written while receive queue %u is enabled (4.6.7.1)", name(off, n), q);
	else if (queue_reg(off, TDBAL, &q) && (at <= (TDH & 0x3f) || at >= (TDWBAL & 0x3f)) && d->tx_on[q])
		violate(d, "%s written while transmit queue %u is enabled (4.6.8.1)", name(off, n), q);
}

/* ------------------------------------------------------- the fault handler */

/* A trapped access: the driver's page opens for one instruction (EFLAGS.TF),
 * a read finds the value the register has now. */
static void on_fault(int sig, siginfo_t *si, void *uc_)
{
	ucontext_t *uc = uc_;
	struct ixgbe_double *d = live;
	volatile uint8_t *a = si->si_addr;
	if (!d || a < d->bus || a >= d->bus + BAR) { /* a real crash: let it happen */
		signal(sig, SIG_DFL);
		return;
	}
	lock(d);
	d->pending = (uint32_t)(a - d->bus) & ~3u;
	d->pending_write = uc->uc_mcontext.gregs[REG_ERR] & 2; /* page fault error code: W */
	if (!d->pending_write)
		before_read(d, d->pending);
	mprotect((void *)((uintptr_t)a & ~(uintptr_t)(PAGE - 1)), PAGE, PROT_READ | PROT_WRITE);
	uc->uc_mcontext.gregs[REG_EFL] |= 0x100;
}

static void on_step(int sig, siginfo_t *si, void *uc_)
{
	ucontext_t *uc = uc_;
	struct ixgbe_double *d = live;
	(void)sig;
	(void)si;
	uc->uc_mcontext.gregs[REG_EFL] &= ~0x100;
	mprotect((void *)(d->bus + (d->pending & ~(PAGE - 1))), PAGE, PROT_NONE);
	if (d->pending_write)
		after_write(d, d->pending, *reg(d, d->pending));
	unlock(d);
}

/* ------------------------------------------------------- descriptor engine */

bool double_rx_fill(struct double_ring *r, const uint8_t *frame, uint32_t len, uint32_t buf_size,
		    const struct double_wb *wb)
{
	if (r->head == *r->tail || *r->tail >= r->size)
		return false;
	volatile uint8_t *d = r->desc + 16u * r->head;
	uint8_t *buf = (uint8_t *)(uintptr_t)*(volatile uint64_t *)d;
	memcpy(buf, frame, len < buf_size ? len : buf_size);
	*(volatile uint32_t *)d = wb->rss_type;
	*(volatile uint32_t *)(d + 4) = wb->rss_hash;
	*(volatile uint16_t *)(d + 12) = (uint16_t)len;
	*(volatile uint16_t *)(d + 14) = wb->vlan;
	atomic_thread_fence(memory_order_release);
	*(volatile uint32_t *)(d + 8) = wb->status | RX_DD | RX_EOP;
	r->head = (r->head + 1) % r->size;
	return true;
}

uint32_t double_tx_drain(struct double_ring *r, uint32_t max, double_sink *sink, void *ctx)
{
	uint32_t n = 0, tail = *r->tail;
	atomic_thread_fence(memory_order_acquire); /* descriptors only after the tail that hands them over */
	while (n < max && r->head != tail && tail < r->size) {
		volatile uint8_t *d = r->desc + 16u * r->head;
		uint32_t ctl = *(volatile uint32_t *)(d + 8), olinfo = *(volatile uint32_t *)(d + 12);
		const uint8_t *frame = (const uint8_t *)(uintptr_t)*(volatile uint64_t *)d;
		sink(ctx, frame, ctl & 0xffff, ctl, olinfo);
		r->head = (r->head + 1) % r->size;
		n++;
		if (!(ctl & TX_RS))
			continue;
		atomic_thread_fence(memory_order_release);
		if (r->head_wb)
			*r->head_wb = r->head;
		else
			*(volatile uint32_t *)(d + 12) = 1; /* DD */
	}
	return n;
}

uint32_t double_toeplitz(const uint8_t key[40], const uint8_t *in, uint32_t n)
{
	uint32_t hash = 0, window = (uint32_t)key[0] << 24 | key[1] << 16 | key[2] << 8 | key[3];
	for (uint32_t i = 0; i < n; i++)
		for (int b = 7; b >= 0; b--) {
			if (in[i] >> b & 1)
				hash ^= window;
			window = window << 1 | (key[i + 4] >> b & 1);
		}
	return hash;
}

/* --------------------------------------------------------- the wire, in */

static uint32_t crc32(const uint8_t *p, uint32_t n)
{
	uint32_t c = ~0u;
	for (uint32_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = c >> 1 ^ (0xedb88320u & -(c & 1));
	}
	return ~c;
}

/* RSS (7.1.2.8): IPv4 with TCP or UDP hashes addresses and ports, other IPv4
 * its addresses; the hash's low 7 bits (9 on the X550) index the table.
 * IPv6 is not modelled (no hash). Frames without a hash go to entry 0. */
static uint32_t rss(struct ixgbe_double *d, const uint8_t *f, uint32_t len, struct double_wb *wb)
{
	uint8_t key[40], in[12];
	uint32_t mrqc = *reg(d, MRQC), l3 = 14, idx = 0;
	for (uint32_t i = 0; i < 40; i++)
		key[i] = (uint8_t)(*reg(d, RSSRK + (i & ~3u)) >> 8 * (i & 3));
	if (len >= 18 && f[12] == 0x81 && f[13] == 0x00)
		l3 += 4;
	bool ipv4 = (mrqc & 0xf) == 1 && len >= l3 + 20 && f[l3 - 2] == 0x08 && f[l3 - 1] == 0x00;
	uint32_t ihl = ipv4 ? (f[l3] & 0xf) * 4u : 0;
	bool l4 = ipv4 && !(f[l3 + 6] & 0x3f) && !f[l3 + 7] && len >= l3 + ihl + 4; /* not a fragment */
	bool tcp = l4 && f[l3 + 9] == 6 && (mrqc & (1u << 16)), udp = l4 && f[l3 + 9] == 17 && (mrqc & (1u << 22));
	if (ipv4 && (tcp || udp || (mrqc & (1u << 17)))) {
		memcpy(in, f + l3 + 12, 8);
		memcpy(in + 8, f + l3 + ihl, 4);
		wb->rss_hash = double_toeplitz(key, in, tcp || udp ? 12 : 8);
		wb->rss_type = tcp ? 1 : udp ? 7 : 2;
		idx = wb->rss_hash & (is_x550(d) ? 511 : 127);
	}
	uint32_t entry = idx < 128 ? *reg(d, RETA + (idx & ~3u)) >> 8 * (idx & 3)
				   : *reg(d, ERETA + ((idx - 128) & ~3u)) >> 8 * (idx & 3);
	return entry & (is_x550(d) ? 0x3f : 0xf);
}

static uint32_t ipv4_checked(const uint8_t *f, uint32_t len, uint32_t l3)
{
	if (len < l3 + 20 || f[l3 - 2] != 0x08 || f[l3 - 1] != 0x00 || (f[l3] >> 4) != 4)
		return 0;
	uint32_t sum = 0, ihl = (f[l3] & 0xf) * 4u;
	for (uint32_t i = 0; i < ihl && l3 + i + 1 < len; i += 2)
		sum += (uint32_t)f[l3 + i] << 8 | f[l3 + i + 1];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum == 0xffff ? RX_IPCS : RX_IPCS | RX_IPE;
}

int ixgbe_double_receive(struct ixgbe_double *d, const uint8_t *frame, uint32_t len, bool bad_fcs)
{
	uint8_t wire[9216 + 4];
	struct double_wb wb = {0};
	int q = -1;
	if (len > 9216)
		return -1;
	memcpy(wire, frame, len);
	uint32_t fcs = crc32(frame, len) ^ (bad_fcs ? 1 : 0);
	memcpy(wire + len, &fcs, 4);
	lock(d);
	uint32_t hlreg0 = *reg(d, HLREG0), fctrl = *reg(d, FCTRL), wire_len = len + 4;
	bool tagged = len >= 18 && frame[12] == 0x81 && frame[13] == 0x00;
	uint32_t max = hlreg0 & HLREG0_JUMBOEN ? *reg(d, MAXFRS) >> 16 : 1518u + (tagged ? 4 : 0);
	bool mine = !memcmp(frame, ixgbe_double_mac, 6), bcast = !memcmp(frame, "\xff\xff\xff\xff\xff\xff", 6);
	bool pass = frame[0] & 1 ? (bcast ? fctrl & FCTRL_BAM : fctrl & FCTRL_MPE) : mine || (fctrl & FCTRL_UPE);
	if (!(*reg(d, RXCTRL) & RXCTRL_RXEN) || !pass)
		goto out; /* not received, not counted */
	if (bad_fcs || wire_len < 64 || wire_len > max) {
		add(d, bad_fcs ? CRCERRS : wire_len < 64 ? RUC : ROC, 1);
		goto out;
	}
	add(d, GPRC, 1);
	add(d, GORCL, wire_len);
	uint32_t queue = rss(d, frame, len, &wb), rxdctl = *reg(d, Q(RXDCTL, queue));
	uint32_t srrctl = *reg(d, Q(SRRCTL, queue)), keep = len, l3 = tagged ? 18 : 14;
	uint8_t *data = wire;
	if (tagged && (rxdctl & RXDCTL_VME)) { /* the tag stripped into the descriptor */
		wb.vlan = (uint16_t)(wire[14] << 8 | wire[15]);
		wb.status |= RX_VP;
		memmove(wire + 4, wire, 12);
		data += 4, keep -= 4, l3 -= 4;
	}
	wb.status |= ipv4_checked(data, keep, l3);
	if (!((hlreg0 & HLREG0_RXCRCSTRP) && (*reg(d, RDRXCTL) & RDRXCTL_CRCSTRIP)))
		keep += 4;
	if (!d->rx_on[queue] || now_ns() < d->rx_on[queue] ||
	    !double_rx_fill(&d->rx[queue], data, keep, (srrctl & 0x1f) * 1024, &wb)) {
		add(d, srrctl & SRRCTL_DROP_EN ? Q(QPRDC, queue) : MPC0, 1); /* no buffer: dropped */
		goto out;
	}
	if (keep > (srrctl & 0x1f) * 1024)
		violate(d, "a %u-byte frame went into a %u-byte buffer (SRRCTL.BSIZEPACKET)", keep, (srrctl & 0x1f) * 1024);
	*reg(d, Q(RDH, queue)) = d->rx[queue].head;
	add(d, Q(QPRC, queue), 1);
	q = (int)queue;
out:
	unlock(d);
	return q;
}

/* --------------------------------------------------------- the wire, out */

static void wire_out(void *ctx, const uint8_t *frame, uint32_t len, uint32_t ctl, uint32_t olinfo)
{
	struct ixgbe_double *d = ctx;
	if (((ctl >> 20) & 0xf) != 3 || !(ctl & TX_DEXT) || !(ctl & TX_EOP))
		violate(d, "a transmit descriptor that is not a whole frame in one advanced data descriptor (7.2.3.2.4)");
	if (olinfo >> 14 != len)
		violate(d, "PAYLEN %u for a %u-byte frame (7.2.3.2.4: the whole frame without TSO)", olinfo >> 14, len);
	if (!(ctl & TX_IFCS))
		violate(d, "IFCS clear: the frame leaves without an FCS");
	uint32_t out = len < 60 && (*reg(d, HLREG0) & HLREG0_TXPADEN) ? 60 : len;
	if (d->sent < IXGBE_DOUBLE_LOG && len <= sizeof d->log[0]) {
		memcpy(d->log[d->sent], frame, len);
		memset(d->log[d->sent] + len, 0, out - len);
		d->log_len[d->sent] = out;
	}
	d->sent++;
	add(d, GPTC, 1);
	add(d, GOTCL, out + 4);
}

static void *device_main(void *arg)
{
	struct ixgbe_double *d = arg;
	while (!atomic_load(&d->stop)) {
		uint32_t moved = 0;
		lock(d);
		uint64_t now = now_ns();
		for (uint32_t q = 0; q < QUEUES && !atomic_load(&d->paused) && (*reg(d, DMATXCTL) & DMATXCTL_TE); q++)
			if (d->tx_on[q] && now >= d->tx_on[q]) {
				uint32_t n = double_tx_drain(&d->tx[q], 64, wire_out, d);
				*reg(d, Q(TDH, q)) = d->tx[q].head;
				add(d, QPTC + 4 * q, n);
				moved += n;
			}
		unlock(d);
		if (!moved)
			nanosleep(&(struct timespec){0, 20000}, NULL);
	}
	return NULL;
}

/* ------------------------------------------------------------- lifetime */

struct ixgbe_double *ixgbe_double_create(uint16_t device, unsigned faults)
{
	struct ixgbe_double *d = calloc(1, sizeof *d);
	if (!d || live)
		goto free_double;
	d->device = device;
	d->faults = faults;
	d->speed_bits = 3u << 28;
	d->count = calloc(BAR / 4, sizeof *d->count);
	d->log = malloc(IXGBE_DOUBLE_LOG * sizeof *d->log);
	d->fd = memfd_create("ixgbe-double", MFD_CLOEXEC);
	if (!d->count || !d->log || d->fd < 0 || ftruncate(d->fd, BAR))
		goto free_memory;
	d->reg = mmap(NULL, BAR, PROT_READ | PROT_WRITE, MAP_SHARED, d->fd, 0);
	d->bus = mmap(NULL, BAR, PROT_NONE, MAP_SHARED, d->fd, 0);
	if (d->reg == MAP_FAILED || d->bus == MAP_FAILED)
		goto unmap;
	for (uint32_t off = 0; off < BAR; off += 4) /* statistics hold garbage at power-up */
		d->count[off / 4] = clears_on_read(off) ? 1000 + off : 0;
	reset(d, now_ns() - 20 * MS); /* powered up long ago */
	d->reset_done = d->quiet_until = 0;
	live = d;
	sigaction(SIGSEGV, NULL, &d->old_segv);
	sigaction(SIGTRAP, NULL, &d->old_trap);
	ixgbe_double_claim_signals(d);
	if (pthread_create(&d->thread, NULL, device_main, d))
		goto restore;
	return d;
restore:
	sigaction(SIGSEGV, &d->old_segv, NULL);
	sigaction(SIGTRAP, &d->old_trap, NULL);
	live = NULL;
unmap:
	if (d->reg != MAP_FAILED && d->reg)
		munmap((void *)d->reg, BAR);
	if (d->bus != MAP_FAILED && d->bus)
		munmap((void *)d->bus, BAR);
free_memory:
	if (d->fd >= 0)
		close(d->fd);
	free(d->count);
	free(d->log);
free_double:
	free(d);
	return NULL;
}

void ixgbe_double_destroy(struct ixgbe_double *d)
{
	atomic_store(&d->stop, true);
	pthread_join(d->thread, NULL);
	sigaction(SIGSEGV, &d->old_segv, NULL);
	sigaction(SIGTRAP, &d->old_trap, NULL);
	live = NULL;
	munmap((void *)d->reg, BAR);
	munmap((void *)d->bus, BAR);
	close(d->fd);
	free(d->count);
	free(d->log);
	free(d);
}

void ixgbe_double_claim_signals(struct ixgbe_double *d)
{
	struct sigaction fault = {.sa_sigaction = on_fault, .sa_flags = SA_SIGINFO};
	struct sigaction step = {.sa_sigaction = on_step, .sa_flags = SA_SIGINFO};
	(void)d;
	sigaction(SIGSEGV, &fault, NULL);
	sigaction(SIGTRAP, &step, NULL);
}

volatile uint8_t *ixgbe_double_bar(struct ixgbe_double *d) { return d->bus; }

uint32_t ixgbe_double_reg(struct ixgbe_double *d, uint32_t off)
{
	lock(d);
	uint32_t v = *reg(d, off);
	unlock(d);
	return v;
}

const char *ixgbe_double_violation(struct ixgbe_double *d) { return d->violation[0] ? d->violation : NULL; }

uint64_t ixgbe_double_sent(struct ixgbe_double *d)
{
	lock(d);
	uint64_t n = d->sent;
	unlock(d);
	return n;
}

const uint8_t *ixgbe_double_sent_frame(struct ixgbe_double *d, uint32_t i, uint32_t *len)
{
	*len = i < IXGBE_DOUBLE_LOG && i < d->sent ? d->log_len[i] : 0;
	return *len ? d->log[i] : NULL;
}

void ixgbe_double_pause(struct ixgbe_double *d, bool paused)
{
	atomic_store(&d->paused, paused);
	lock(d); /* the thread has finished what it was sending */
	unlock(d);
}

void ixgbe_double_set_speed(struct ixgbe_double *d, uint32_t mbps)
{
	uint32_t bits = mbps == 100 || mbps == 5000 ? 1u : mbps == 1000 ? 2u : 3u;
	d->speed_bits = bits << 28 | (mbps == 2500 || mbps == 5000 ? LINKS_NON_STD : 0);
}
