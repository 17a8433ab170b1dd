/* A virtio device in memory: the device's side of one split virtqueue
 * (virtio 1.0, 2.4), so that the driver's ring code (src/driver/virtq.c) runs
 * without QEMU. It behaves (fake_receive, fake_transmit) or misbehaves
 * (fake_used: any id, any length; fake_used_idx: any index) on request.
 * DMA addresses are virtual addresses: the memory has no phys table. */
#ifndef LOBO_FAKE_VIRTQ_H
#define LOBO_FAKE_VIRTQ_H

#include "virtq.h"

#include <stdlib.h>
#include <string.h>

#define FAKE_HDR 12 /* a modern device's virtio-net header */

struct fake_virtq {
	struct virtq vq;
	struct lobo_mem mem; /* rings first, then buffers */
	struct lobo_counters counters;
	uint16_t last_avail, used_idx;
	unsigned notified;
};

static inline void fake_notify(struct virtq *vq) { ((struct fake_virtq *)vq->device)->notified++; }

/* A queue of size descriptors over rings and buf_bytes of buffer memory;
 * stride 1 receives, 2 transmits. Buffers start at fake_buffers(). */
static inline int fake_open(struct fake_virtq *d, uint16_t size, uint16_t stride, size_t buf_bytes)
{
	memset(d, 0, sizeof *d);
	size_t rings = virtq_bytes(size) + 4096;
	d->mem = (struct lobo_mem){.len = rings + buf_bytes, .page_size = 4096, .fd = -1};
	d->mem.base = aligned_alloc(4096, (d->mem.len + 4095) & ~(size_t)4095);
	if (!d->mem.base)
		return -1;
	memset(d->mem.base, 0, d->mem.len);
	d->vq = (struct virtq){.hdr_len = FAKE_HDR, .max_frame = 1518, .mem = &d->mem, .counters = &d->counters,
			       .device = d, .notify = fake_notify};
	return virtq_init(&d->vq, d->mem.base, size, stride, (uint64_t)(uintptr_t)(d->mem.base + rings - 64));
}

static inline uint8_t *fake_buffers(struct fake_virtq *d) { return d->mem.base + virtq_bytes(d->vq.size) + 4096; }

static inline void fake_close(struct fake_virtq *d)
{
	virtq_free(&d->vq);
	free(d->mem.base);
}

/* The next descriptor chain the driver made available, or -1. */
static inline int fake_take(struct fake_virtq *d)
{
	if (__atomic_load_n(&d->vq.avail->idx, __ATOMIC_ACQUIRE) == d->last_avail)
		return -1;
	return d->vq.avail->ring[d->last_avail++ % d->vq.size];
}

/* Puts any entry on the used ring and publishes it, as a device would. */
static inline void fake_used(struct fake_virtq *d, uint32_t id, uint32_t len)
{
	d->vq.used->ring[d->used_idx++ % d->vq.size] = (struct vring_used_elem){id, len};
	__atomic_store_n(&d->vq.used->idx, d->used_idx, __ATOMIC_RELEASE);
}

static inline void fake_used_idx(struct fake_virtq *d, uint16_t idx)
{
	d->used_idx = idx;
	__atomic_store_n(&d->vq.used->idx, idx, __ATOMIC_RELEASE);
}

/* Receives frame into the next available buffer, after a zero header; 0, or
 * -1 when no buffer is available or it is too small (checked like a device). */
static inline int fake_receive(struct fake_virtq *d, const uint8_t *frame, uint32_t len)
{
	int head = fake_take(d);
	if (head < 0 || head >= d->vq.size)
		return -1;
	struct vring_desc *desc = &d->vq.desc[head];
	if (!(desc->flags & VRING_DESC_F_WRITE) || desc->len < FAKE_HDR + len)
		return -1;
	uint8_t *buf = (uint8_t *)(uintptr_t)desc->addr;
	memset(buf, 0, FAKE_HDR);
	memcpy(buf + FAKE_HDR, frame, len);
	fake_used(d, (uint32_t)head, FAKE_HDR + len);
	return 0;
}

/* Sends the next available chain: header descriptor, then the frame, copied
 * to out; returns its length, or -1. */
static inline int fake_transmit(struct fake_virtq *d, uint8_t *out, uint32_t room)
{
	int head = fake_take(d);
	if (head < 0 || head + 1 >= d->vq.size)
		return -1;
	const struct vring_desc *hdr = &d->vq.desc[head], *frame = &d->vq.desc[hdr->next % d->vq.size];
	if (!(hdr->flags & VRING_DESC_F_NEXT) || hdr->len != FAKE_HDR || frame->len > room)
		return -1;
	memcpy(out, (const void *)(uintptr_t)frame->addr, frame->len);
	fake_used(d, (uint32_t)head, 0);
	return (int)frame->len;
}

#endif
