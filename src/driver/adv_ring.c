/* Rings of Intel advanced descriptors (adv_ring.h). */
#include "adv_ring.h"

#include <errno.h>
#include <string.h>

/* Advanced transmit data descriptor, 82576 7.2.2.3 (82599 7.2.3.2.4). */
#define TXD_DTYP_DATA (3u << 20)
#define TXD_EOP (1u << 24)
#define TXD_IFCS (1u << 25) /* the NIC appends the FCS */
#define TXD_RS (1u << 27)   /* report status: write DD back, or the head to TDWBAL */
#define TXD_DEXT (1u << 29)
#define TXD_PAYLEN_SHIFT 14
#define TXD_STAT_DD 1u
#define MIN_FRAME 14

/* Device-visible ordering of loads from ordinary memory, the way Linux's
 * dma_rmb() does it: x86 keeps loads in order (only the compiler must not
 * reorder); arm64 needs a barrier for the outer domain. (Stores to
 * descriptors are ordered by the tail write's barrier below.) */
static inline void dma_rmb(void)
{
#if defined(__aarch64__)
	__asm__ volatile("dmb oshld" ::: "memory");
#else
	__asm__ volatile("" ::: "memory");
#endif
}

/* The register write that hands descriptors over: every descriptor store
 * before it must reach memory first (on x86 an uncached store is not passed
 * by earlier write-back stores; arm64 needs the full store barrier). */
static inline void write_tail(volatile uint32_t *reg, uint32_t v)
{
#if defined(__aarch64__)
	__asm__ volatile("dmb oshst" ::: "memory");
#else
	__asm__ volatile("" ::: "memory");
#endif
	*reg = v;
}

/* True when the device can reach [p, p+len) as one DMA range. */
static bool dma_ok(const struct lobo_mem *m, const uint8_t *p, uint32_t len)
{
	size_t off = (size_t)(p - m->base);
	return p >= m->base && off < m->len && len <= m->len - off &&
	       (!m->phys || off % m->page_size + len <= m->page_size);
}

void adv_rx_init(struct adv_rx_ring *r, volatile void *desc, volatile uint32_t *tail_reg, struct adv_slot *slot,
		 uint32_t size, const struct lobo_mem *mem, uint32_t buf_size, struct adv_rx_errors errors)
{
	*r = (struct adv_rx_ring){.desc = desc, .tail_reg = tail_reg, .slot = slot, .mem = mem, .errors = errors,
				  .size = size, .mask = size - 1, .buf_size = buf_size};
}

void adv_tx_init(struct adv_tx_ring *r, volatile void *desc, volatile uint32_t *tail_reg, volatile uint32_t *head_wb,
		 struct adv_slot *slot, uint32_t size, const struct lobo_mem *mem, uint32_t max_frame)
{
	*r = (struct adv_tx_ring){.desc = desc, .tail_reg = tail_reg, .head_wb = head_wb, .slot = slot, .mem = mem,
				  .size = size, .mask = size - 1, .max_frame = max_frame, .bad_head = UINT32_MAX};
	if (head_wb)
		*head_wb = 0;
}

/* A buffer is taken only if it holds what the NIC may write into it. */
uint16_t adv_rx_post(struct adv_rx_ring *r, const struct lobo_frame *f, uint16_t n, struct lobo_counters *c)
{
	uint32_t room = r->size - 1 - (r->tail - r->head);
	uint16_t i;
	for (i = 0; i < n && i < room; i++) {
		if (f[i].len < r->buf_size || !dma_ok(r->mem, f[i].data, r->buf_size)) {
			c->rx_errors++;
			break;
		}
		uint32_t at = (r->tail + i) & r->mask;
		r->slot[at] = (struct adv_slot){.buf = f[i].data, .tag = f[i].tag, .len = f[i].len};
		r->desc[at].read.pkt_addr = lobo_mem_dma(r->mem, f[i].data);
		r->desc[at].read.hdr_addr = 0; /* clears DD */
	}
	if (i) {
		r->tail += i;
		write_tail(r->tail_reg, r->tail & r->mask);
	}
	return i;
}

/* Flags a well-formed frame carries from its descriptor. */
static uint32_t rx_flags(const struct adv_rx_ring *r, volatile union adv_rx_desc *d, uint32_t staterr,
			 struct lobo_frame *f)
{
	uint32_t flags = 0;
	if (d->wb.pkt_info & 0xf) {
		flags |= LOBO_F_RSS_HASH;
		f->rss_hash = d->wb.rss_hash;
	}
	if ((staterr & ADV_RX_VP) && r->strips_vlan) {
		flags |= LOBO_F_VLAN;
		f->vlan_tci = d->wb.vlan;
	}
	if (staterr & ADV_RX_IPCS)
		flags |= staterr & r->errors.ip ? LOBO_F_IP_CSUM_BAD : LOBO_F_IP_CSUM_OK;
	if (staterr & ADV_RX_L4CS)
		flags |= staterr & r->errors.l4 ? LOBO_F_L4_CSUM_BAD : LOBO_F_L4_CSUM_OK;
	return flags;
}

/* True for a descriptor that holds one whole, undamaged frame that fits its
 * buffer. A frame spread over several buffers (the NIC was told buffers are
 * smaller than it had to use, or lies) is dropped to its last descriptor. */
static bool rx_good(struct adv_rx_ring *r, uint32_t staterr, uint32_t len, uint32_t cap)
{
	bool was_discarding = r->discarding;
	r->discarding = !(staterr & ADV_RX_EOP);
	return !was_discarding && !r->discarding && !(staterr & r->errors.frame) && len >= MIN_FRAME &&
	       len <= r->buf_size && len <= cap;
}

uint16_t adv_rx_poll(struct adv_rx_ring *r, struct lobo_frame *f, uint16_t max, struct lobo_counters *c)
{
	uint16_t n = 0;
	uint64_t bytes = 0, bad = 0;
	for (; n < max && r->head != r->tail; n++, r->head++) {
		uint32_t at = r->head & r->mask;
		volatile union adv_rx_desc *d = &r->desc[at];
		uint32_t staterr = d->wb.status_error;
		if (!(staterr & ADV_RX_DD))
			break;
		dma_rmb(); /* the rest of the descriptor only after its DD bit */
		const struct adv_slot *s = &r->slot[at];
		uint32_t len = d->wb.length;
		f[n] = (struct lobo_frame){.data = s->buf, .tag = s->tag};
		if (rx_good(r, staterr, len, s->len)) {
			f[n].len = len;
			f[n].flags = rx_flags(r, d, staterr, &f[n]);
			bytes += len;
		} else {
			f[n].flags = LOBO_F_ERROR;
			bad++;
		}
	}
	c->rx_packets += n - bad;
	c->rx_bytes += bytes;
	c->rx_errors += bad;
	return n;
}

uint16_t adv_tx_post(struct adv_tx_ring *r, const struct lobo_frame *f, uint16_t n, struct lobo_counters *c)
{
	uint32_t room = r->loop_len ? 0 : r->size - 1 - (r->tail - r->head); /* none while the NIC loops */
	uint64_t bytes = 0;
	uint16_t i;
	for (i = 0; i < n && i < room; i++) {
		if (f[i].len < MIN_FRAME || f[i].len > r->max_frame || !dma_ok(r->mem, f[i].data, f[i].len)) {
			c->tx_errors++;
			break;
		}
		uint32_t at = (r->tail + i) & r->mask;
		r->desc[at].read.buffer_addr = lobo_mem_dma(r->mem, f[i].data);
		r->desc[at].read.cmd_type_len = f[i].len | TXD_DTYP_DATA | TXD_DEXT | TXD_IFCS | TXD_EOP;
		r->desc[at].read.olinfo_status = f[i].len << TXD_PAYLEN_SHIFT; /* clears DD */
		r->slot[at] = (struct adv_slot){.buf = f[i].data, .tag = f[i].tag, .len = f[i].len};
		bytes += f[i].len;
	}
	if (!i)
		return 0;
	/* One report per batch, on its last descriptor: it covers the batch. */
	uint32_t last = r->tail + i - 1;
	r->desc[last & r->mask].read.cmd_type_len |= TXD_RS;
	for (uint32_t k = r->tail; k != r->tail + i; k++)
		r->slot[k & r->mask].report_at = last;
	r->tail += i;
	write_tail(r->tail_reg, r->tail & r->mask);
	c->tx_packets += i;
	c->tx_bytes += bytes;
	return i;
}

/* How many outstanding descriptors the NIC is done with. */
static uint32_t tx_done(struct adv_tx_ring *r, struct lobo_counters *c)
{
	uint32_t outstanding = r->tail - r->head;
	if (r->head_wb) {
		uint32_t hw = *r->head_wb;
		uint32_t done = (hw - r->head) & r->mask;
		if (hw <= r->mask && done <= outstanding)
			return done;
		c->tx_errors += hw != r->bad_head; /* a head outside what was posted: believe nothing */
		r->bad_head = hw;
		return 0;
	}
	uint32_t done = 0;
	while (done < outstanding) {
		uint32_t report = r->slot[(r->head + done) & r->mask].report_at;
		if (!(r->desc[report & r->mask].wb.status & TXD_STAT_DD))
			break;
		done = report - r->head + 1;
	}
	return done;
}

uint16_t adv_tx_reclaim(struct adv_tx_ring *r, struct lobo_frame *f, uint16_t max, struct lobo_counters *c)
{
	uint32_t done = r->head == r->tail || r->loop_len ? 0 : tx_done(r, c);
	uint16_t n = done < max ? (uint16_t)done : max;
	dma_rmb(); /* buffers go back only after the NIC said it read them */
	for (uint16_t i = 0; i < n; i++) {
		const struct adv_slot *s = &r->slot[(r->head + i) & r->mask];
		f[i] = (struct lobo_frame){.data = s->buf, .tag = s->tag};
	}
	r->head += n;
	return n;
}

static uint16_t drain(struct adv_slot *slot, uint32_t mask, uint32_t *head, uint32_t tail, struct lobo_frame *f,
		      uint16_t max)
{
	uint16_t n = 0;
	for (; n < max && *head != tail; n++, (*head)++)
		f[n] = (struct lobo_frame){.data = slot[*head & mask].buf, .tag = slot[*head & mask].tag,
					   .len = slot[*head & mask].len};
	return n;
}

uint16_t adv_rx_drain(struct adv_rx_ring *r, struct lobo_frame *f, uint16_t max)
{
	return drain(r->slot, r->mask, &r->head, r->tail, f, max);
}

uint16_t adv_tx_drain(struct adv_tx_ring *r, struct lobo_frame *f, uint16_t max)
{
	return drain(r->slot, r->mask, &r->head, r->tail, f, max);
}

/* ------------------------------------------------------- hardware loop */

/* The longest multiple of n up to size that is also a multiple of 8: the
 * NIC's ring length is counted in 128-byte units (TDLEN). */
uint32_t adv_tx_loop_len(uint32_t n, uint32_t size)
{
	uint32_t unit = n;
	while (n && unit % 8)
		unit += n;
	return n && unit <= size ? size / unit * unit : 0;
}

int adv_tx_loop_fill(struct adv_tx_ring *r, const struct lobo_frame *f, uint32_t n, uint32_t len,
		     struct lobo_counters *c)
{
	if (r->head != r->tail || !n || !len || len % n || len > r->size)
		return -EINVAL;
	for (uint32_t i = 0; i < n; i++)
		if (f[i].len < MIN_FRAME || f[i].len > r->max_frame || !dma_ok(r->mem, f[i].data, f[i].len)) {
			c->tx_errors++;
			return -EINVAL;
		}
	uint64_t bytes = 0;
	for (uint32_t at = 0; at < len; at++) {
		const struct lobo_frame *one = &f[at % n];
		/* No RS: the NIC reports nothing, so it never writes the ring. */
		r->desc[at].read.buffer_addr = lobo_mem_dma(r->mem, one->data);
		r->desc[at].read.cmd_type_len = one->len | TXD_DTYP_DATA | TXD_DEXT | TXD_IFCS | TXD_EOP;
		r->desc[at].read.olinfo_status = one->len << TXD_PAYLEN_SHIFT;
		r->slot[at] = (struct adv_slot){.buf = one->data, .tag = one->tag, .len = one->len,
						.bytes_before = (uint32_t)bytes};
		bytes += one->len;
	}
	r->head = r->tail = 0;
	r->loop_len = len;
	r->loop_at = 0;
	r->loop_bytes = bytes;
	return 0;
}

/* Counts the frames the NIC sent since it was last seen at loop_at. */
static uint32_t loop_count(struct adv_tx_ring *r, uint32_t hw_head, struct lobo_counters *c)
{
	uint32_t from = r->loop_at, sent = (hw_head + r->loop_len - from) % r->loop_len;
	uint64_t before = r->slot[hw_head].bytes_before, start = r->slot[from].bytes_before;
	c->tx_packets += sent;
	c->tx_bytes += hw_head >= from ? before - start : r->loop_bytes - start + before;
	r->loop_at = hw_head;
	return sent;
}

static bool loop_head_ok(struct adv_tx_ring *r, uint32_t hw_head, struct lobo_counters *c)
{
	if (hw_head < r->loop_len)
		return true;
	c->tx_errors += hw_head != r->bad_head;
	r->bad_head = hw_head;
	return false;
}

uint32_t adv_tx_loop_kick(struct adv_tx_ring *r, uint32_t hw_head, struct lobo_counters *c)
{
	if (!loop_head_ok(r, hw_head, c))
		return 0;
	uint32_t sent = loop_count(r, hw_head, c);
	write_tail(r->tail_reg, (hw_head + r->loop_len - 1) % r->loop_len);
	return sent;
}

void adv_tx_loop_end(struct adv_tx_ring *r, uint32_t hw_head, struct lobo_counters *c)
{
	if (loop_head_ok(r, hw_head, c))
		loop_count(r, hw_head, c);
	r->head = r->tail = r->loop_len = r->loop_at = 0;
	r->bad_head = UINT32_MAX;
	if (r->head_wb)
		*r->head_wb = 0;
}
