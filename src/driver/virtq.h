/* Split virtqueue (virtio 1.0, 2.4), the driver's side: the four port calls
 * on one ring, apart from the device's registers, so that a test can play the
 * device in plain memory (tests/unit/fake_virtq.h). The device is not
 * trusted: every used entry it returns is checked before it is believed. */
#ifndef LOBO_VIRTQ_H
#define LOBO_VIRTQ_H

#include "port.h"

/* Little-endian fields: lobo runs on x86 and arm64 LE. */
struct vring_desc { uint64_t addr; uint32_t len; uint16_t flags, next; };
struct vring_avail { uint16_t flags, idx, ring[]; };
struct vring_used_elem { uint32_t id, len; };
struct vring_used { uint16_t flags, idx; struct vring_used_elem ring[]; };
#define VRING_DESC_F_NEXT 1
#define VRING_DESC_F_WRITE 2
#define VRING_AVAIL_F_NO_INTERRUPT 1
#define VRING_USED_F_NO_NOTIFY 1

struct virtq {
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint16_t size, mask, next_avail, next_used, nfree;
	uint16_t stride;       /* descriptors per buffer: rx 1; tx 2, chain k being descriptors 2k, 2k+1 */
	bool platform_order;   /* VIRTIO_F_ORDER_PLATFORM: DMA barriers, not CPU ones */
	uint32_t hdr_len;      /* the virtio-net header in front of every frame (10 or 12) */
	uint32_t max_frame;
	const struct lobo_mem *mem;
	struct lobo_counters *counters;
	/* Per buffer k; buf is NULL while the device does not hold it, free is a
	 * stack of the free buffer numbers. */
	struct virtq_slot { uint8_t *buf; uint64_t tag; uint32_t len; uint16_t free; } *slot;
	struct lobo_ring refused; /* tx frames taken but never sendable, for the next reclaim */
	/* The device's: its queue number, where its doorbell is, and how to ring it. */
	uint16_t index;
	size_t notify_at;
	void *device;
	void (*notify)(struct virtq *vq);
};

/* Bytes the rings of a queue of size descriptors take (2.4.2's legacy layout,
 * used ring aligned to 4096, which suits both interfaces). */
size_t virtq_bytes(uint16_t size);
/* Lays out the rings at `rings` (virtq_bytes(size), zeroed, reachable by the
 * device), chains every tx descriptor pair (stride 2) behind the shared
 * all-zero header at DMA address zero_header, and makes every buffer free.
 * The caller fills in the fields from hdr_len on first; -ENOMEM. */
int virtq_init(struct virtq *vq, uint8_t *rings, uint16_t size, uint16_t stride, uint64_t zero_header);
void virtq_free(struct virtq *vq);

/* Makes new available entries visible and notifies the device if it asks to
 * be (for a caller that fills the rings itself, as the control queue does). */
void virtq_publish(struct virtq *vq);

uint16_t virtq_rx_post(struct virtq *vq, const struct lobo_frame *f, uint16_t n);
uint16_t virtq_rx_poll(struct virtq *vq, struct lobo_frame *f, uint16_t max);
uint16_t virtq_tx_post(struct virtq *vq, const struct lobo_frame *f, uint16_t n);
uint16_t virtq_tx_reclaim(struct virtq *vq, struct lobo_frame *f, uint16_t max);

#endif
