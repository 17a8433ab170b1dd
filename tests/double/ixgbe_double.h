/* A register-level TEST DOUBLE of an Intel 82599 (X540, X550): not a device
 * model of anything real, not part of liblobo. It behaves the way we read the
 * 82599 datasheet (331520), so the ixgbe driver can run unchanged against it:
 * a test proves the driver follows the datasheet as we read it, not that the
 * hardware agrees.
 *
 * What it is: 128 KiB of registers in shared memory, seen twice. The driver
 * gets a view where every access faults; the fault handler lets the one access
 * through (single-stepping it) and acts on it the way the datasheet says the
 * register does: reads of statistics clear them, enable bits read 1 only once
 * the queue is ready, CTRL.RST clears itself after the reset, EEC.ARD and
 * RDRXCTL.DMAIDONE come after it, LINKS.LINK_UP after AUTOC's restart, a tail
 * write hands descriptors over. A thread (the "device") consumes transmit
 * descriptors and writes them back (DD, or the head to TDWBAL); frames the
 * test puts on the wire go to the queue RSS picks (Toeplitz over RSSRK, then
 * RETA) and into the next receive descriptor. Along the way it checks the
 * driver against the datasheet's rules and remembers the first it broke.
 * x86-64 Linux only (the trap reads the fault's error code and sets EFLAGS.TF).
 *
 * Its descriptor engine (double_rx_fill, double_tx_drain) works on any ring
 * with any tail word, without registers, which is how bench/ring_bench uses
 * it: a software NIC on the other core. */
#ifndef IXGBE_DOUBLE_H
#define IXGBE_DOUBLE_H

#include <stdbool.h>
#include <stdint.h>

/* Wrong behaviour to play, to see the driver fail loudly instead of hanging. */
enum double_fault {
	FAULT_RESET_STUCK = 1,  /* CTRL.RST never clears */
	FAULT_NO_EEPROM = 2,    /* EEC.ARD never sets */
	FAULT_NO_DMA_INIT = 4,  /* RDRXCTL.DMAIDONE never sets */
	FAULT_NO_LINK = 8,      /* LINKS.LINK_UP never sets */
	FAULT_QUEUE_STUCK = 16, /* RXDCTL/TXDCTL.ENABLE never read 1 */
};

/* ------------------------------------------------------ descriptor engine */

/* One descriptor ring as the device sees it (IOVA == virtual address). */
struct double_ring {
	volatile uint8_t *desc;
	uint32_t size, head;
	volatile uint32_t *tail;    /* the tail the driver writes */
	volatile uint32_t *head_wb; /* transmit: where to write the head back, or NULL: set DD */
};

/* What a receive write-back carries besides the length (82599 7.1.6.2). */
struct double_wb {
	uint32_t rss_hash;
	uint16_t rss_type; /* pkt_info bits 3:0 */
	uint16_t vlan;     /* the tag stripped, with ADV_RX_VP in status */
	uint32_t status;   /* extended status and errors; DD and EOP are added */
};

/* Receive: the frame into the next posted descriptor's buffer (up to
 * buf_size bytes), then the write-back, its DD bit stored last. False when no
 * descriptor is posted (head == tail). */
bool double_rx_fill(struct double_ring *r, const uint8_t *frame, uint32_t len, uint32_t buf_size,
		    const struct double_wb *wb);
/* Transmit: up to max descriptors between head and tail, each handed to sink
 * (frame, length, descriptor words), those with RS written back. Returns how
 * many it took. */
typedef void double_sink(void *ctx, const uint8_t *frame, uint32_t len, uint32_t cmd_type_len, uint32_t olinfo);
uint32_t double_tx_drain(struct double_ring *r, uint32_t max, double_sink *sink, void *ctx);

/* The RSS hash (Microsoft's Toeplitz) of n input bytes with a 40-byte key. */
uint32_t double_toeplitz(const uint8_t key[40], const uint8_t *in, uint32_t n);

/* ------------------------------------------------------------ the device */

struct ixgbe_double;

/* device: a PCI device ID from the pci: table (0x10fb: 82599 SFP+, 0x1528:
 * X540, 0x1563: X550); faults: enum double_fault bits. NULL if it cannot map
 * its memory or another double is live (the fault handler serves one). */
struct ixgbe_double *ixgbe_double_create(uint16_t device, unsigned faults);
void ixgbe_double_destroy(struct ixgbe_double *d);
/* Makes SIGSEGV and SIGTRAP the double's again, for harnesses that set their
 * own between phases (cmocka does for each test and fixture). */
void ixgbe_double_claim_signals(struct ixgbe_double *d);
/* The BAR as the driver sees it (every access trapped). */
volatile uint8_t *ixgbe_double_bar(struct ixgbe_double *d);
/* A register as the device holds it, with no side effect. */
uint32_t ixgbe_double_reg(struct ixgbe_double *d, uint32_t off);
/* The first datasheet rule the driver broke ("TDLEN written while the queue
 * is enabled (4.6.8.1)"), or NULL. */
const char *ixgbe_double_violation(struct ixgbe_double *d);
/* The EEPROM's MAC address, which the reset loads into RAL0/RAH0. */
extern const uint8_t ixgbe_double_mac[6];

/* A frame arrives from the wire (the double appends its FCS, a wrong one when
 * bad_fcs). Returns the receive queue it was stored in, or -1 if the port
 * dropped or filtered it (counted as the datasheet says). */
int ixgbe_double_receive(struct ixgbe_double *d, const uint8_t *frame, uint32_t len, bool bad_fcs);
/* Frames the device has sent, in order, as they left (padded, FCS not
 * included): total and the first IXGBE_DOUBLE_LOG of them. */
#define IXGBE_DOUBLE_LOG 4096u
uint64_t ixgbe_double_sent(struct ixgbe_double *d);
const uint8_t *ixgbe_double_sent_frame(struct ixgbe_double *d, uint32_t i, uint32_t *len);
/* Stops and restarts the transmitting thread (so a count can be taken while
 * nothing moves). */
void ixgbe_double_pause(struct ixgbe_double *d, bool paused);
/* Link speed the next link-up reports: 100, 1000, 10000, and on the X550
 * 2500, 5000. */
void ixgbe_double_set_speed(struct ixgbe_double *d, uint32_t mbps);

#endif
