/* Receive and transmit rings of Intel's "advanced" descriptors: the format
 * the 82576, i350 and i210 (igb), the 82599, X540 and X550 (ixgbe) and the
 * virtual functions of both share (82576 datasheet 7.1.5 and 7.2.2.3, 82599
 * datasheet 7.1.6 and 7.2.3.2.4). A ring knows its descriptors, the queue's
 * tail register and the caller's buffers, nothing of the device around it:
 * each driver sets the queue up and hands the ring its pieces.
 *
 * The data path is the port interface's four calls, on batches: the tail is
 * written once per batch, completion is seen in memory (the DD bit, or the
 * transmit head the NIC writes back) and never by reading a register, and
 * nothing is allocated. What the NIC writes back is not trusted: a length
 * longer than the buffer posted, a frame spread over several buffers or a
 * head index outside what was posted is counted in rx_errors/tx_errors and
 * never makes the ring touch memory outside the caller's buffers. */
#ifndef LOBO_ADV_RING_H
#define LOBO_ADV_RING_H

#include "lobo.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "descriptors are little-endian and read in place: lobo runs on little-endian CPUs"
#endif

/* Receive: read format (what the driver writes) and write-back format (what
 * the NIC writes over it), 82576 7.1.5.1/7.1.5.2. */
union adv_rx_desc {
	struct { uint64_t pkt_addr, hdr_addr; } read; /* hdr_addr's bit 0 is DD after write-back: 0 */
	struct {
		uint16_t pkt_info, hdr_info; /* pkt_info bits 3:0: the RSS type, 0 when no hash */
		uint32_t rss_hash;
		uint32_t status_error;       /* extended status 19:0, extended errors 31:20 */
		uint16_t length, vlan;
	} wb;
};

/* Transmit: the advanced data descriptor, 82576 7.2.2.3. */
union adv_tx_desc {
	struct { uint64_t buffer_addr; uint32_t cmd_type_len, olinfo_status; } read;
	struct { uint64_t reserved; uint32_t nxtseq_seed, status; } wb;
};

/* Status bits the families share; the error bits differ (82599 moved them). */
enum {
	ADV_RX_DD = 1u << 0, ADV_RX_EOP = 1u << 1, ADV_RX_VP = 1u << 3,
	ADV_RX_L4CS = 1u << 5, ADV_RX_IPCS = 1u << 6,
};
struct adv_rx_errors {
	uint32_t frame; /* the frame is damaged: CRC, symbol, sequence, length, ... */
	uint32_t ip, l4; /* a checksum the NIC checked is wrong */
};
/* 82576/i350/i210 7.1.5.2: RXE 31, IPE 30, L4E 29, CXE 28, SEQ 26, SE 25, CE 24. */
#define ADV_RX_ERRORS_IGB ((struct adv_rx_errors){0x97000000u, 1u << 30, 1u << 29})
/* 82599/X540/X550 7.1.6.2: IPE 31, L4E 30, RXE 29 (USE), OSE 28, PE 27, LE 25, CE 24. */
#define ADV_RX_ERRORS_IXGBE ((struct adv_rx_errors){0x3b000000u, 1u << 31, 1u << 30})

/* What the ring remembers of each descriptor's buffer. */
struct adv_slot {
	uint8_t *buf;
	uint64_t tag;
	uint32_t len; /* rx: the buffer's capacity; tx: the frame's length */
	union {
		uint32_t report_at;    /* tx: the descriptor whose write-back says this one is done */
		uint32_t bytes_before; /* tx loop: bytes of the loop's descriptors before this one */
	};
};

/* Positions run freely and are masked into the ring: outstanding
 * descriptors are [head, tail), at most size - 1 of them (head == tail means
 * empty to the NIC too). */
struct adv_rx_ring {
	volatile union adv_rx_desc *desc;
	volatile uint32_t *tail_reg; /* RDT */
	struct adv_slot *slot;       /* one per descriptor, the caller's to allocate */
	const struct lobo_mem *mem;  /* where buffers must lie */
	struct adv_rx_errors errors;
	uint32_t size, mask, head, tail;
	uint32_t buf_size; /* the buffer size the NIC was told (SRRCTL.BSIZEPACKET): it may fill that much */
	bool discarding;   /* inside a frame spread over several buffers: drop up to its end */
	bool strips_vlan;  /* the driver told the NIC to strip tags: only then is VP a removed tag */
};

struct adv_tx_ring {
	volatile union adv_tx_desc *desc;
	volatile uint32_t *tail_reg; /* TDT */
	volatile uint32_t *head_wb;  /* where the NIC writes its head (TDWBAL), or NULL: reclaim by DD */
	struct adv_slot *slot;
	const struct lobo_mem *mem;
	uint32_t size, mask, head, tail;
	uint32_t max_frame;
	uint32_t bad_head;       /* the last out-of-range head seen, so each is counted once */
	uint32_t loop_len, loop_at; /* hardware loop: descriptors in the loop, and where the NIC was last */
	uint64_t loop_bytes;     /* bytes of one round of the loop */
};

/* size: a power of two. desc (16-byte descriptors, 128-byte aligned) and slot
 * (size entries) are the caller's; buf_size: what SRRCTL tells the NIC. */
void adv_rx_init(struct adv_rx_ring *r, volatile void *desc, volatile uint32_t *tail_reg, struct adv_slot *slot,
		 uint32_t size, const struct lobo_mem *mem, uint32_t buf_size, struct adv_rx_errors errors);
void adv_tx_init(struct adv_tx_ring *r, volatile void *desc, volatile uint32_t *tail_reg, volatile uint32_t *head_wb,
		 struct adv_slot *slot, uint32_t size, const struct lobo_mem *mem, uint32_t max_frame);

/* The port interface's calls, counting into c. */
uint16_t adv_rx_post(struct adv_rx_ring *r, const struct lobo_frame *bufs, uint16_t n, struct lobo_counters *c);
uint16_t adv_rx_poll(struct adv_rx_ring *r, struct lobo_frame *frames, uint16_t max, struct lobo_counters *c);
uint16_t adv_tx_post(struct adv_tx_ring *r, const struct lobo_frame *frames, uint16_t n, struct lobo_counters *c);
uint16_t adv_tx_reclaim(struct adv_tx_ring *r, struct lobo_frame *done, uint16_t max, struct lobo_counters *c);

/* Buffers still posted, handed back (e.g. at close or after a reset): the
 * device must no longer own the ring. */
uint16_t adv_rx_drain(struct adv_rx_ring *r, struct lobo_frame *bufs, uint16_t max);
uint16_t adv_tx_drain(struct adv_tx_ring *r, struct lobo_frame *done, uint16_t max);

/* Hardware transmit loop (Snabb's packetblaster): the ring, reset and empty,
 * becomes len descriptors holding frames 0..n-1 over and over (n divides len)
 * with no RS bit, so the NIC never writes to it; the caller then makes the NIC
 * use len descriptors (TDLEN) and calls adv_tx_loop_kick with the NIC's head.
 * adv_tx_loop_len gives the longest such ring: 0 when n frames do not fit. */
uint32_t adv_tx_loop_len(uint32_t n, uint32_t size);
int adv_tx_loop_fill(struct adv_tx_ring *r, const struct lobo_frame *frames, uint32_t n, uint32_t len,
		     struct lobo_counters *c);
/* Puts the tail one behind the NIC's head (hw_head, 0..len-1), so the NIC
 * always has len - 1 descriptors to send; counts and returns the frames sent
 * since the last kick. The first kick after the fill starts the loop. */
uint32_t adv_tx_loop_kick(struct adv_tx_ring *r, uint32_t hw_head, struct lobo_counters *c);
/* Counts what was sent since the last kick (the NIC stopped at hw_head) and
 * makes the ring a normal, empty one (the device must no longer use it). */
void adv_tx_loop_end(struct adv_tx_ring *r, uint32_t hw_head, struct lobo_counters *c);

#endif
