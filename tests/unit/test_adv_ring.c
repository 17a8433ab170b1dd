/* The advanced-descriptor rings against a NIC played in software: it reads
 * the descriptors the ring writes and writes back what a NIC would, or what
 * a broken or hostile one might. No hardware, no QEMU. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include <errno.h>

#include "adv_ring.h"

#define SIZE 16u
#define BUF 2048u
#define MAX_FRAME 1522u

/* The device side of one ring: its registers are plain memory here. */
struct nic {
	union { union adv_rx_desc rx[SIZE]; union adv_tx_desc tx[SIZE]; } *desc;
	uint32_t tail_reg, head, head_wb;
	uint8_t sent[64][BUF]; /* what "went out on the wire" */
	uint32_t sent_len[64], nsent;
};

static struct lobo_mem mem;
static struct nic nic;
static struct adv_slot slots[SIZE];
static struct lobo_counters c;

static int setup(void **state)
{
	char err[LOBO_ERR_LEN];
	(void)state;
	memset(&nic, 0, sizeof nic);
	memset(&c, 0, sizeof c);
	if (lobo_mem_alloc(&mem, 64 * BUF + 4096, err))
		return -1;
	nic.desc = (void *)(mem.base + 64 * BUF); /* the last page: descriptors */
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	lobo_mem_free(&mem);
	return 0;
}

static uint8_t *buf(unsigned i) { return mem.base + i * BUF; }
/* lobo_mem_dma of ordinary memory is the virtual address: the NIC here
 * dereferences what the ring wrote. */
static uint8_t *dma(uint64_t addr) { return (uint8_t *)(uintptr_t)addr; }

/* ---------------------------------------------------------------- receive */

static void rx_ring(struct adv_rx_ring *r)
{
	adv_rx_init(r, nic.desc->rx, &nic.tail_reg, slots, SIZE, &mem, BUF, ADV_RX_ERRORS_IGB);
}

static uint16_t post_rx(struct adv_rx_ring *r, unsigned first, uint16_t n)
{
	struct lobo_frame f[SIZE];
	for (uint16_t i = 0; i < n; i++)
		f[i] = (struct lobo_frame){.data = buf(first + i), .len = BUF, .tag = 100 + first + i};
	return adv_rx_post(r, f, n, &c);
}

/* The NIC stores a frame in the next posted buffer, as an honest one does,
 * then lets `tamper` rewrite the descriptor as a dishonest one might. */
static bool deliver(const uint8_t *frame, uint32_t len, uint32_t status, uint16_t pkt_info, uint32_t hash)
{
	if (nic.head == nic.tail_reg)
		return false; /* no buffer: a NIC drops it (and counts it) */
	volatile union adv_rx_desc *d = &nic.desc->rx[nic.head];
	memcpy(dma(d->read.pkt_addr), frame, len < BUF ? len : BUF);
	union adv_rx_desc wb = {.wb = {.pkt_info = pkt_info, .rss_hash = hash, .length = (uint16_t)len}};
	wb.wb.status_error = ADV_RX_DD | status;
	d->wb.pkt_info = wb.wb.pkt_info;
	d->wb.hdr_info = 0;
	d->wb.rss_hash = wb.wb.rss_hash;
	d->wb.length = wb.wb.length;
	d->wb.vlan = 0;
	d->wb.status_error = wb.wb.status_error; /* DD last */
	nic.head = (nic.head + 1) % SIZE;
	return true;
}

static void frame(uint8_t *f, uint32_t len, uint8_t seed)
{
	for (uint32_t i = 0; i < len; i++)
		f[i] = (uint8_t)(seed + i * 7);
}

static void receives_in_place(void **state)
{
	(void)state;
	struct adv_rx_ring r;
	struct lobo_frame got[SIZE];
	uint8_t f[BUF];
	rx_ring(&r);
	assert_int_equal(post_rx(&r, 0, 8), 8);
	assert_int_equal(nic.tail_reg, 8); /* tail moved once, to the end of the batch */
	assert_int_equal(adv_rx_poll(&r, got, SIZE, &c), 0); /* nothing yet: DD clear */
	for (uint8_t k = 0; k < 5; k++) {
		frame(f, 60u + k * 300u, k);
		assert_true(deliver(f, 60u + k * 300u, ADV_RX_EOP, 0, 0));
	}
	assert_int_equal(adv_rx_poll(&r, got, 3, &c), 3); /* at most max */
	assert_int_equal(adv_rx_poll(&r, got + 3, SIZE, &c), 2);
	for (uint8_t k = 0; k < 5; k++) {
		frame(f, 60u + k * 300u, k);
		assert_ptr_equal(got[k].data, buf(k)); /* zero-copy: the posted buffer itself */
		assert_int_equal(got[k].tag, 100 + k);
		assert_int_equal(got[k].len, 60u + k * 300u);
		assert_int_equal(got[k].flags, 0);
		assert_memory_equal(got[k].data, f, got[k].len);
	}
	assert_int_equal(c.rx_packets, 5);
	assert_int_equal(c.rx_bytes, 5 * 60 + 300 * 10);
	assert_int_equal(c.rx_errors, 0);
	/* The ring wraps; the NIC never gets more than size - 1 buffers. */
	assert_int_equal(post_rx(&r, 8, 13), 12);
	assert_int_equal(nic.tail_reg, 20 % SIZE);
	for (uint8_t k = 0; k < 15; k++)
		assert_true(deliver(f, 64, ADV_RX_EOP, 0, 0));
	assert_false(deliver(f, 64, ADV_RX_EOP, 0, 0));
	assert_int_equal(adv_rx_poll(&r, got, SIZE, &c), 15);
	assert_int_equal(got[14].tag, 100 + 19);
}

static void refuses_buffers_the_nic_could_overrun(void **state)
{
	(void)state;
	struct adv_rx_ring r;
	struct lobo_frame f[3] = {{.data = buf(0), .len = BUF, .tag = 1}, {.data = buf(1), .len = BUF - 1, .tag = 2},
				  {.data = buf(2), .len = BUF, .tag = 3}};
	rx_ring(&r);
	assert_int_equal(adv_rx_post(&r, f, 3, &c), 1); /* 2047 bytes: the NIC may write 2048 */
	assert_int_equal(c.rx_errors, 1);
	uint8_t outside[BUF];
	f[0] = (struct lobo_frame){.data = outside, .len = BUF};
	assert_int_equal(adv_rx_post(&r, f, 1, &c), 0); /* not in the DMA region */
	f[0] = (struct lobo_frame){.data = mem.base + mem.len - BUF / 2, .len = BUF};
	assert_int_equal(adv_rx_post(&r, f, 1, &c), 0); /* runs off its end */
	assert_int_equal(c.rx_errors, 3);
	assert_int_equal(nic.tail_reg, 1);
}

/* Whatever the NIC writes back, the ring reads no descriptor it did not post
 * and returns each posted buffer exactly once, within its bounds. */
static void survives_a_hostile_nic(void **state)
{
	(void)state;
	struct adv_rx_ring r;
	struct lobo_frame got[SIZE];
	uint8_t f[BUF] = {0};
	rx_ring(&r);
	assert_int_equal(post_rx(&r, 0, 9), 9);
	assert_true(deliver(f, 60, ADV_RX_EOP, 0, 0));
	assert_true(deliver(f, 60, ADV_RX_EOP, 0, 0));
	nic.desc->rx[1].wb.length = BUF + 1;                /* longer than the buffer */
	assert_true(deliver(f, 1000, 0, 0, 0));            /* a frame over three buffers */
	assert_true(deliver(f, 1000, 0, 0, 0));
	assert_true(deliver(f, 100, ADV_RX_EOP, 0, 0));    /* its end */
	assert_true(deliver(f, 64, ADV_RX_EOP | 0x80000000u, 0, 0)); /* RXE: a damaged frame */
	assert_true(deliver(f, 0, ADV_RX_EOP, 0, 0));      /* empty */
	assert_true(deliver(f, 5, ADV_RX_EOP, 0, 0));      /* shorter than a header */
	assert_true(deliver(f, 60, ADV_RX_EOP, 0, 0));     /* and a good one after all that */
	/* DD set on descriptors never posted: the ring must not look at them. */
	for (unsigned i = 9; i < SIZE; i++)
		nic.desc->rx[i].wb.status_error = ADV_RX_DD | ADV_RX_EOP;
	assert_int_equal(adv_rx_poll(&r, got, SIZE, &c), 9);
	const bool bad[9] = {false, true, true, true, true, true, true, true, false};
	for (unsigned i = 0; i < 9; i++) {
		assert_ptr_equal(got[i].data, buf(i));
		assert_int_equal(got[i].tag, 100 + i);
		assert_int_equal(!!(got[i].flags & LOBO_F_ERROR), bad[i]);
		assert_true(got[i].len <= BUF);
		if (bad[i])
			assert_int_equal(got[i].len, 0);
	}
	assert_int_equal(c.rx_packets, 2);
	assert_int_equal(c.rx_errors, 7);
	assert_int_equal(adv_rx_poll(&r, got, SIZE, &c), 0);
	assert_int_equal(c.rx_packets, 2);
	/* A frame cut short by the end of the ring's posted buffers: a start
	 * without an end is dropped, and so is its end when it comes later. */
	assert_int_equal(post_rx(&r, 0, 1), 1);
	assert_true(deliver(f, 1000, 0, 0, 0));
	assert_int_equal(adv_rx_poll(&r, got, SIZE, &c), 1);
	assert_true(got[0].flags & LOBO_F_ERROR);
	assert_int_equal(post_rx(&r, 1, 2), 2);
	assert_true(deliver(f, 100, ADV_RX_EOP, 0, 0));
	assert_true(deliver(f, 70, ADV_RX_EOP, 0, 0));
	assert_int_equal(adv_rx_poll(&r, got, SIZE, &c), 2);
	assert_true(got[0].flags & LOBO_F_ERROR);
	assert_int_equal(got[1].flags, 0);
	assert_int_equal(got[1].len, 70);
}

static void reports_hash_tag_and_checksums(void **state)
{
	(void)state;
	struct adv_rx_ring r;
	struct lobo_frame got[SIZE];
	uint8_t f[BUF] = {0};
	rx_ring(&r);
	assert_int_equal(post_rx(&r, 0, 5), 5);
	assert_true(deliver(f, 60, ADV_RX_EOP, 1, 0xdeadbeef)); /* RSS type 1 (IPv4 TCP) */
	assert_true(deliver(f, 60, ADV_RX_EOP, 0, 0x12345678)); /* type 0: the hash is not one */
	assert_true(deliver(f, 60, ADV_RX_EOP | ADV_RX_IPCS | ADV_RX_L4CS, 0, 0));
	assert_true(deliver(f, 60, ADV_RX_EOP | ADV_RX_IPCS | ADV_RX_L4CS | (1u << 30) | (1u << 29), 0, 0));
	assert_true(deliver(f, 60, ADV_RX_EOP | ADV_RX_VP, 0, 0));
	nic.desc->rx[4].wb.vlan = 0x2064;
	assert_int_equal(adv_rx_poll(&r, got, 4, &c), 4);
	r.strips_vlan = true; /* VP means a removed tag only when stripping is on */
	assert_int_equal(adv_rx_poll(&r, got + 4, 1, &c), 1);
	assert_int_equal(got[0].flags, LOBO_F_RSS_HASH);
	assert_int_equal(got[0].rss_hash, 0xdeadbeef);
	assert_int_equal(got[1].flags, 0);
	assert_int_equal(got[2].flags, LOBO_F_IP_CSUM_OK | LOBO_F_L4_CSUM_OK);
	assert_int_equal(got[3].flags, LOBO_F_IP_CSUM_BAD | LOBO_F_L4_CSUM_BAD); /* delivered, flagged */
	assert_int_equal(got[4].flags, LOBO_F_VLAN);
	assert_int_equal(got[4].vlan_tci, 0x2064);
	assert_int_equal(c.rx_packets, 5);
	r.strips_vlan = false;
	assert_int_equal(post_rx(&r, 5, 1), 1);
	assert_true(deliver(f, 60, ADV_RX_EOP | ADV_RX_VP, 0, 0));
	assert_int_equal(adv_rx_poll(&r, got, 1, &c), 1);
	assert_int_equal(got[0].flags, 0); /* the tag is still in the frame: nothing to report */
	/* The 82599's error bits sit elsewhere: the same ring, other constants. */
	struct adv_rx_ring x;
	adv_rx_init(&x, nic.desc->rx, &nic.tail_reg, slots, SIZE, &mem, BUF, ADV_RX_ERRORS_IXGBE);
	nic.head = nic.tail_reg = 0;
	struct lobo_frame one = {.data = buf(0), .len = BUF};
	assert_int_equal(adv_rx_post(&x, &one, 1, &c), 1);
	assert_true(deliver(f, 60, ADV_RX_EOP | ADV_RX_IPCS | (1u << 31), 0, 0));
	assert_int_equal(adv_rx_poll(&x, got, 1, &c), 1);
	assert_int_equal(got[0].flags, LOBO_F_IP_CSUM_BAD);
}

static void drains_posted_buffers(void **state)
{
	(void)state;
	struct adv_rx_ring r;
	struct lobo_frame got[SIZE];
	rx_ring(&r);
	assert_int_equal(post_rx(&r, 0, 6), 6);
	assert_int_equal(adv_rx_drain(&r, got, 4), 4);
	assert_int_equal(adv_rx_drain(&r, got + 4, SIZE), 2);
	for (unsigned i = 0; i < 6; i++)
		assert_int_equal(got[i].tag, 100 + i);
	assert_int_equal(adv_rx_drain(&r, got, SIZE), 0);
}

/* --------------------------------------------------------------- transmit */

/* The NIC sends from its head to the tail register, checking each descriptor
 * the way the 82576 reads it, and reports completion where RS asks for it. */
static void nic_send(bool head_writeback)
{
	while (nic.head != nic.tail_reg) {
		volatile union adv_tx_desc *d = &nic.desc->tx[nic.head];
		uint32_t cmd = d->read.cmd_type_len, len = cmd & 0xffff;
		assert_int_equal(cmd & 0x37300000u, (3u << 20) | (1u << 29) | (1u << 25) | (1u << 24)); /* DATA DEXT IFCS EOP */
		assert_int_equal(d->read.olinfo_status, len << 14);
		assert_true(nic.nsent < 64);
		memcpy(nic.sent[nic.nsent], dma(d->read.buffer_addr), len);
		nic.sent_len[nic.nsent++] = len;
		nic.head = (nic.head + 1) % SIZE;
		if (!(cmd & (1u << 27)))
			continue;
		if (head_writeback)
			nic.head_wb = nic.head;
		else
			d->wb.status |= 1;
	}
}

static uint16_t post_tx(struct adv_tx_ring *r, unsigned first, uint16_t n)
{
	struct lobo_frame f[SIZE];
	for (uint16_t i = 0; i < n; i++) {
		frame(buf(first + i), 60 + 10 * (first + i), (uint8_t)(first + i));
		f[i] = (struct lobo_frame){.data = buf(first + i), .len = 60 + 10 * (first + i), .tag = 200 + first + i};
	}
	return adv_tx_post(r, f, n, &c);
}

static void sends_and_reclaims(bool head_writeback)
{
	struct adv_tx_ring r;
	struct lobo_frame done[SIZE];
	adv_tx_init(&r, nic.desc->tx, &nic.tail_reg, head_writeback ? &nic.head_wb : NULL, slots, SIZE, &mem, MAX_FRAME);
	assert_int_equal(post_tx(&r, 0, 3), 3);
	assert_int_equal(post_tx(&r, 3, 4), 4);
	assert_int_equal(nic.tail_reg, 7);
	/* RS only on the last descriptor of each batch. */
	for (unsigned i = 0; i < 7; i++)
		assert_int_equal(!!(nic.desc->tx[i].read.cmd_type_len & (1u << 27)), i == 2 || i == 6);
	assert_int_equal(adv_tx_reclaim(&r, done, SIZE, &c), 0); /* nothing sent yet */
	nic_send(head_writeback);
	assert_int_equal(nic.nsent, 7);
	for (unsigned i = 0; i < 7; i++) {
		uint8_t f[BUF];
		frame(f, 60 + 10 * i, (uint8_t)i);
		assert_int_equal(nic.sent_len[i], 60 + 10 * i);
		assert_memory_equal(nic.sent[i], f, nic.sent_len[i]);
	}
	assert_int_equal(adv_tx_reclaim(&r, done, 2, &c), 2); /* part of a batch */
	assert_int_equal(adv_tx_reclaim(&r, done + 2, SIZE, &c), 5);
	for (unsigned i = 0; i < 7; i++) {
		assert_ptr_equal(done[i].data, buf(i));
		assert_int_equal(done[i].tag, 200 + i);
	}
	assert_int_equal(c.tx_packets, 7);
	assert_int_equal(c.tx_bytes, 7 * 60 + 10 * 21);
	/* Around the ring, full at size - 1. */
	assert_int_equal(post_tx(&r, 7, 16), 15);
	assert_int_equal(post_tx(&r, 0, 1), 0);
	nic_send(head_writeback);
	assert_int_equal(adv_tx_reclaim(&r, done, SIZE, &c), 15);
	assert_int_equal(done[14].tag, 200 + 21);
	assert_int_equal(c.tx_errors, 0);
}

static void sends_and_reclaims_by_head_writeback(void **state)
{
	(void)state;
	sends_and_reclaims(true);
}

static void sends_and_reclaims_by_dd(void **state)
{
	(void)state;
	sends_and_reclaims(false);
}

static void refuses_frames_it_cannot_send(void **state)
{
	(void)state;
	struct adv_tx_ring r;
	uint8_t outside[64];
	adv_tx_init(&r, nic.desc->tx, &nic.tail_reg, &nic.head_wb, slots, SIZE, &mem, MAX_FRAME);
	struct lobo_frame f[] = {{.data = buf(0), .len = 60}, {.data = buf(1), .len = 13}};
	assert_int_equal(adv_tx_post(&r, f, 2, &c), 1); /* shorter than a header */
	f[0].len = MAX_FRAME + 1;
	assert_int_equal(adv_tx_post(&r, f, 1, &c), 0);
	f[0] = (struct lobo_frame){.data = outside, .len = 60};
	assert_int_equal(adv_tx_post(&r, f, 1, &c), 0);
	f[0] = (struct lobo_frame){.data = mem.base + mem.len - 30, .len = 60};
	assert_int_equal(adv_tx_post(&r, f, 1, &c), 0);
	assert_int_equal(c.tx_errors, 4);
	assert_int_equal(c.tx_packets, 1);
	assert_int_equal(nic.tail_reg, 1);
}

/* A written-back head outside what was posted hands back nothing, and is
 * counted once however often the ring looks. */
static void distrusts_the_written_back_head(void **state)
{
	(void)state;
	struct adv_tx_ring r;
	struct lobo_frame done[SIZE];
	adv_tx_init(&r, nic.desc->tx, &nic.tail_reg, &nic.head_wb, slots, SIZE, &mem, MAX_FRAME);
	assert_int_equal(post_tx(&r, 0, 4), 4);
	nic.head_wb = 9; /* past the tail: buffers not even posted */
	assert_int_equal(adv_tx_reclaim(&r, done, SIZE, &c), 0);
	assert_int_equal(adv_tx_reclaim(&r, done, SIZE, &c), 0);
	assert_int_equal(c.tx_errors, 1);
	nic.head_wb = 0x10000; /* not an index of this ring */
	assert_int_equal(adv_tx_reclaim(&r, done, SIZE, &c), 0);
	assert_int_equal(c.tx_errors, 2);
	nic.head_wb = 4;
	assert_int_equal(adv_tx_reclaim(&r, done, SIZE, &c), 4);
	assert_int_equal(done[3].tag, 203);
	/* With nothing posted, a stale or wild head is not even read. */
	nic.head_wb = 12;
	assert_int_equal(adv_tx_reclaim(&r, done, SIZE, &c), 0);
	assert_int_equal(c.tx_errors, 2);
	/* By DD: a DD on a descriptor that reports nothing proves nothing. */
	adv_tx_init(&r, nic.desc->tx, &nic.tail_reg, NULL, slots, SIZE, &mem, MAX_FRAME);
	nic.head = nic.tail_reg = 0;
	assert_int_equal(post_tx(&r, 0, 3), 3);
	nic.desc->tx[0].wb.status |= 1;
	nic.desc->tx[1].wb.status |= 1;
	assert_int_equal(adv_tx_reclaim(&r, done, SIZE, &c), 0);
	nic.desc->tx[2].wb.status |= 1;
	assert_int_equal(adv_tx_reclaim(&r, done, SIZE, &c), 3);
}

static void drains_frames_in_flight(void **state)
{
	(void)state;
	struct adv_tx_ring r;
	struct lobo_frame done[SIZE];
	adv_tx_init(&r, nic.desc->tx, &nic.tail_reg, &nic.head_wb, slots, SIZE, &mem, MAX_FRAME);
	assert_int_equal(post_tx(&r, 0, 5), 5);
	assert_int_equal(adv_tx_drain(&r, done, SIZE), 5);
	assert_int_equal(done[4].tag, 204);
}

/* ------------------------------------------------------------ hardware loop */

static void sizes_the_loop(void **state)
{
	(void)state;
	assert_int_equal(adv_tx_loop_len(1, 4096), 4096);
	assert_int_equal(adv_tx_loop_len(3, 4096), 4080); /* 170 rounds of 24 */
	assert_int_equal(adv_tx_loop_len(100, 4096), 4000);
	assert_int_equal(adv_tx_loop_len(5, 16), 0);    /* 40 descriptors needed */
	assert_int_equal(adv_tx_loop_len(4096, 4096), 4096);
	assert_int_equal(adv_tx_loop_len(4097, 4096), 0);
	assert_int_equal(adv_tx_loop_len(0, 4096), 0);
}

/* The NIC as it runs the loop: from its head towards the tail, at most
 * `most` descriptors, never writing. */
static void nic_loop(uint32_t len, uint32_t most)
{
	for (; nic.head != nic.tail_reg && most; most--) {
		volatile union adv_tx_desc *d = &nic.desc->tx[nic.head];
		assert_int_equal(d->read.cmd_type_len & (1u << 27), 0); /* no RS: nothing written back */
		uint32_t n = nic.nsent++ % 64;
		nic.sent_len[n] = d->read.cmd_type_len & 0xffff;
		nic.sent[n][0] = *dma(d->read.buffer_addr);
		nic.head = (nic.head + 1) % len;
	}
}

static void loops_frames_in_order(void **state)
{
	(void)state;
	struct adv_tx_ring r;
	struct lobo_frame f[2] = {{.data = buf(0), .len = 60, .tag = 1}, {.data = buf(1), .len = 100, .tag = 2}};
	adv_tx_init(&r, nic.desc->tx, &nic.tail_reg, &nic.head_wb, slots, SIZE, &mem, MAX_FRAME);
	uint32_t len = adv_tx_loop_len(2, SIZE);
	assert_int_equal(len, 16);
	assert_int_equal(post_tx(&r, 0, 1), 1);
	assert_int_equal(adv_tx_loop_fill(&r, f, 2, len, &c), -EINVAL); /* a frame still in flight */
	assert_int_equal(adv_tx_drain(&r, (struct lobo_frame[1]){{0}}, 1), 1);
	memset(&c, 0, sizeof c);
	nic.head = nic.tail_reg = 0;
	buf(0)[0] = 0xa0;
	buf(1)[0] = 0xa1;
	assert_int_equal(adv_tx_loop_fill(&r, f, 2, len, &c), 0);
	assert_int_equal(adv_tx_loop_kick(&r, 0, &c), 0); /* starts it */
	assert_int_equal(nic.tail_reg, 15);
	nic_loop(len, 100);
	assert_int_equal(adv_tx_loop_kick(&r, nic.head, &c), 15);
	assert_int_equal(nic.tail_reg, 14);
	nic_loop(len, 4); /* a NIC that has not got as far as the tail: fine */
	assert_int_equal(nic.head, 3);
	assert_int_equal(adv_tx_loop_kick(&r, nic.head, &c), 4);
	nic_loop(len, 100);
	assert_int_equal(adv_tx_loop_kick(&r, nic.head, &c), 15);
	nic_loop(len, 3); /* sent after the last kick: counted when the loop ends */
	assert_int_equal(c.tx_packets, 34);
	assert_int_equal(nic.nsent, 37);
	for (uint32_t i = 0; i < nic.nsent; i++) {
		assert_int_equal(nic.sent[i][0], 0xa0 + i % 2); /* in order, round after round */
		assert_int_equal(nic.sent_len[i], i % 2 ? 100 : 60);
	}
	assert_int_equal(adv_tx_loop_kick(&r, 16, &c), 0); /* not an index of the loop */
	assert_int_equal(c.tx_errors, 1);
	adv_tx_loop_end(&r, nic.head, &c);
	assert_int_equal(c.tx_packets, 37);
	assert_int_equal(c.tx_bytes, 19 * 60 + 18 * 100);
	nic.head = nic.tail_reg = 0;
	assert_int_equal(post_tx(&r, 0, 2), 2); /* a normal ring again */
	nic_send(true);
	assert_int_equal(adv_tx_reclaim(&r, (struct lobo_frame[2]){{0}}, 2, &c), 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(receives_in_place, setup, teardown),
		cmocka_unit_test_setup_teardown(refuses_buffers_the_nic_could_overrun, setup, teardown),
		cmocka_unit_test_setup_teardown(survives_a_hostile_nic, setup, teardown),
		cmocka_unit_test_setup_teardown(reports_hash_tag_and_checksums, setup, teardown),
		cmocka_unit_test_setup_teardown(drains_posted_buffers, setup, teardown),
		cmocka_unit_test_setup_teardown(sends_and_reclaims_by_head_writeback, setup, teardown),
		cmocka_unit_test_setup_teardown(sends_and_reclaims_by_dd, setup, teardown),
		cmocka_unit_test_setup_teardown(refuses_frames_it_cannot_send, setup, teardown),
		cmocka_unit_test_setup_teardown(distrusts_the_written_back_head, setup, teardown),
		cmocka_unit_test_setup_teardown(drains_frames_in_flight, setup, teardown),
		cmocka_unit_test(sizes_the_loop),
		cmocka_unit_test_setup_teardown(loops_frames_in_order, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
