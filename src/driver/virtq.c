/* Split virtqueue, driver side (virtio 1.0, 2.4). See virtq.h. */
#include "virtq.h"

#include <errno.h>
#include <stdlib.h>

/* With VIRTIO_F_ORDER_PLATFORM (6) the device is hardware on a bus and orders
 * memory as the platform's DMA does, which CPU barriers do not cover on arm64
 * (Linux: dma_wmb, dma_rmb, mb). Without it the device is software on another
 * CPU and CPU barriers suffice (Linux: weak_barriers). x86 keeps stores in
 * order and devices snoop: only the full barrier differs there. */
#if defined(__aarch64__)
static inline void dma_wmb(void) { __asm__ volatile("dmb oshst" ::: "memory"); }
static inline void dma_rmb(void) { __asm__ volatile("dmb oshld" ::: "memory"); }
static inline void dma_mb(void) { __asm__ volatile("dsb sy" ::: "memory"); }
#else
static inline void dma_wmb(void) { __asm__ volatile("" ::: "memory"); }
static inline void dma_rmb(void) { __asm__ volatile("" ::: "memory"); }
static inline void dma_mb(void) { __asm__ volatile("mfence" ::: "memory"); }
#endif

static size_t used_at(uint16_t size) { return (16u * size + 6u + 2u * size + 4095) & ~(size_t)4095; }

size_t virtq_bytes(uint16_t size) { return (used_at(size) + 6u + 8u * size + 4095) & ~(size_t)4095; }

int virtq_init(struct virtq *vq, uint8_t *rings, uint16_t size, uint16_t stride, uint64_t zero_header)
{
	vq->size = size;
	vq->mask = (uint16_t)(size - 1);
	vq->stride = stride;
	vq->next_avail = vq->next_used = vq->nfree = 0;
	vq->desc = (struct vring_desc *)rings;
	vq->avail = (struct vring_avail *)(rings + 16u * size);
	vq->used = (struct vring_used *)(rings + used_at(size));
	vq->slot = calloc(size, sizeof *vq->slot);
	vq->refused = (struct lobo_ring){.slot = calloc(size, sizeof *vq->refused.slot), .mask = vq->mask};
	if (!vq->slot || !vq->refused.slot) {
		virtq_free(vq);
		return -ENOMEM;
	}
	for (uint16_t k = 0; k < size / stride; k++)
		vq->slot[vq->nfree++].free = k;
	for (uint16_t k = 0; stride == 2 && k < size / 2; k++)
		vq->desc[2 * k] = (struct vring_desc){zero_header, vq->hdr_len, VRING_DESC_F_NEXT, (uint16_t)(2 * k + 1)};
	vq->avail->flags = VRING_AVAIL_F_NO_INTERRUPT; /* poll mode (2.4.7) */
	return 0;
}

void virtq_free(struct virtq *vq)
{
	free(vq->slot);
	free(vq->refused.slot);
	vq->slot = NULL;
	vq->refused.slot = NULL;
}

void virtq_publish(struct virtq *vq)
{
	/* Release: the descriptors and ring entries written before must be visible
	 * to the device before the index that hands them over (2.4.7.2 step 3). */
	if (vq->platform_order)
		dma_wmb();
	__atomic_store_n(&vq->avail->idx, vq->next_avail, __ATOMIC_RELEASE);
	/* Full fence: the index store must be globally visible before we read the
	 * device's NO_NOTIFY flag (2.4.7.2 step 4). Without it the load can pass
	 * the store, we see a stale "don't notify" while the device, having seen
	 * the old index, goes idle waiting for a notification: both sides wait
	 * forever (the hang fixed in Snabb and DPDK's vhost). */
	if (vq->platform_order)
		dma_mb();
	else
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!(__atomic_load_n(&vq->used->flags, __ATOMIC_RELAXED) & VRING_USED_F_NO_NOTIFY))
		vq->notify(vq);
}

/* True when the device can reach [p, p+len) as one DMA range. */
static bool dma_ok(const struct lobo_mem *m, const uint8_t *p, uint32_t len)
{
	size_t off = (size_t)(p - m->base);
	return p >= m->base && off + len <= m->len && (!m->phys || off % m->page_size + len <= m->page_size);
}

/* Hands one buffer to the device: a receive buffer is one device-writable
 * descriptor, a frame to send the second of its chain. */
static void add(struct virtq *vq, const struct lobo_frame *f, uint16_t flags)
{
	uint16_t k = vq->slot[--vq->nfree].free, head = (uint16_t)(k * vq->stride);
	vq->desc[head + vq->stride - 1] = (struct vring_desc){lobo_mem_dma(vq->mem, f->data), f->len, flags, 0};
	vq->slot[k].buf = f->data;
	vq->slot[k].tag = f->tag;
	vq->slot[k].len = f->len;
	vq->avail->ring[vq->next_avail++ & vq->mask] = head;
}

/* Takes a buffer only if it holds header + max_frame, so the device never has
 * to drop a frame for want of room (it would, silently, 5.1.6.3.1); a smaller
 * one, or one outside the DMA memory, is the caller's mistake and stays its. */
uint16_t virtq_rx_post(struct virtq *vq, const struct lobo_frame *f, uint16_t n)
{
	uint16_t i;
	for (i = 0; i < n && vq->nfree; i++) {
		if (f[i].len < vq->hdr_len + vq->max_frame || !dma_ok(vq->mem, f[i].data, f[i].len))
			break;
		add(vq, &f[i], VRING_DESC_F_WRITE);
	}
	if (i)
		virtq_publish(vq);
	return i;
}

/* A frame the device cannot send (no Ethernet header, longer than the link
 * takes, outside the DMA memory) is taken all the same, so the frames after
 * it go out, counted in tx_errors and handed back by the next reclaim. */
uint16_t virtq_tx_post(struct virtq *vq, const struct lobo_frame *f, uint16_t n)
{
	struct lobo_counters *c = vq->counters;
	uint16_t i, sent = 0;
	for (i = 0; i < n; i++) {
		if (f[i].len < 14 || f[i].len > vq->max_frame || !dma_ok(vq->mem, f[i].data, f[i].len)) {
			if (!lobo_ring_put(&vq->refused, &f[i], 1))
				break;
			c->tx_errors++;
			continue;
		}
		if (!vq->nfree)
			break;
		add(vq, &f[i], 0);
		c->tx_bytes += f[i].len;
		sent++;
	}
	c->tx_packets += sent;
	if (sent)
		virtq_publish(vq);
	return i;
}

/* Takes up to max used entries: buffer, tag and the length the device wrote
 * (2.4.8; acquire on the index so that the entries, and the buffers they
 * describe, are read only after it). An entry naming no buffer the device
 * holds (out of range, not a chain head, returned before) is counted in
 * *errors and skipped; the device never returns more than it holds. A length
 * beyond the buffer's flags the frame. */
static uint16_t reap(struct virtq *vq, struct lobo_frame *f, uint16_t max, uint64_t *errors)
{
	uint16_t ready = (uint16_t)(__atomic_load_n(&vq->used->idx, __ATOMIC_ACQUIRE) - vq->next_used);
	uint16_t held = (uint16_t)(vq->size / vq->stride - vq->nfree), got = 0;
	if (vq->platform_order)
		dma_rmb();
	if (ready > held) /* the excess is looked at, and counted, as buffers come back */
		ready = held;
	for (uint16_t i = 0; i < ready && got < max; i++) {
		/* Each field read once: the device may change it while we look. */
		const struct vring_used_elem *e = &vq->used->ring[vq->next_used++ & vq->mask];
		uint32_t id = __atomic_load_n(&e->id, __ATOMIC_RELAXED), len = __atomic_load_n(&e->len, __ATOMIC_RELAXED);
		uint16_t k = (uint16_t)(id / vq->stride);
		if (id >= vq->size || id % vq->stride || !vq->slot[k].buf) {
			(*errors)++;
			continue;
		}
		f[got++] = (struct lobo_frame){.data = vq->slot[k].buf, .len = len, .tag = vq->slot[k].tag,
					       .flags = len > vq->slot[k].len ? LOBO_F_ERROR : 0};
		vq->slot[k].buf = NULL;
		vq->slot[vq->nfree++].free = k;
	}
	return got;
}

/* A frame the device says is longer than its buffer, or too short to hold
 * the header and an Ethernet header, comes back flagged, with len 0. */
uint16_t virtq_rx_poll(struct virtq *vq, struct lobo_frame *f, uint16_t max)
{
	struct lobo_counters *c = vq->counters;
	uint16_t n = reap(vq, f, max, &c->rx_errors);
	for (uint16_t i = 0; i < n; i++) {
		bool bad = (f[i].flags & LOBO_F_ERROR) || f[i].len < vq->hdr_len + 14;
		f[i].data += bad ? 0 : vq->hdr_len;
		f[i].len = bad ? 0 : f[i].len - vq->hdr_len;
		f[i].flags = bad ? LOBO_F_ERROR : 0;
		c->rx_errors += bad;
		c->rx_packets += !bad;
		c->rx_bytes += f[i].len;
	}
	return n;
}

/* A frame's len is undefined here (lobo.h). */
uint16_t virtq_tx_reclaim(struct virtq *vq, struct lobo_frame *f, uint16_t max)
{
	uint16_t n = lobo_ring_take(&vq->refused, f, max);
	return (uint16_t)(n + reap(vq, f + n, (uint16_t)(max - n), &vq->counters->tx_errors));
}
