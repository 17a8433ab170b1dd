/* Register idioms of Intel's NICs (intel.h). */
#include "intel.h"

#include <errno.h>
#include <time.h>

/* A transmit queue's registers by their offset from its TDBAL, the same in
 * both families (82576 8.12, 82599 8.2.3.9). */
enum { TDLEN = 0x08, TDH = 0x10, TDT = 0x18, TXDCTL = 0x28 };
#define QUEUE_ENABLE (1u << 25)

const uint8_t intel_default_key[LOBO_RSS_KEY_LEN] = {
	0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0,
	0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30, 0xf2, 0x0c,
	0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa};

void intel_sleep_ms(long ms) { nanosleep(&(struct timespec){ms / 1000, ms % 1000 * 1000000}, NULL); }

static int64_t now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

bool intel_wait(volatile uint32_t *reg, uint32_t mask, uint32_t want, int ms)
{
	int64_t end = now_ms() + ms;
	while ((*reg & mask) != want) {
		if (now_ms() > end)
			return false;
		nanosleep(&(struct timespec){0, 100000}, NULL);
	}
	return true;
}

uint64_t intel_rd64(volatile uint32_t *low)
{
	uint64_t v = low[0];
	return v | (uint64_t)low[1] << 32;
}

void intel_write_bytes(volatile uint32_t *reg, const uint8_t *b, uint32_t len)
{
	for (uint32_t i = 0; i < len; i += 4)
		reg[i / 4] = (uint32_t)b[i] | (uint32_t)b[i + 1] << 8 | (uint32_t)b[i + 2] << 16 | (uint32_t)b[i + 3] << 24;
}

bool intel_queue_start(volatile uint32_t *ctl)
{
	*ctl |= QUEUE_ENABLE;
	return intel_wait(ctl, QUEUE_ENABLE, QUEUE_ENABLE, 100);
}

bool intel_queue_stop(volatile uint32_t *ctl)
{
	*ctl &= ~QUEUE_ENABLE;
	return intel_wait(ctl, QUEUE_ENABLE, 0, 100);
}

static volatile uint32_t *txq(volatile uint32_t *tdbal, uint32_t reg) { return tdbal + reg / 4; }

/* The NIC uses len descriptors of the ring, from the first; the length changes
 * only while the queue is stopped (82576 4.5.10.1, 82599 4.6.8.1). Head
 * write-back stays on: without RS bits (the loop) nothing is written back. */
static void tx_ring_length(volatile uint32_t *tdbal, uint32_t len)
{
	*txq(tdbal, TDLEN) = len * 16u;
	*txq(tdbal, TDH) = 0;
	*txq(tdbal, TDT) = 0;
}

int intel_tx_loop_start(struct lobo_port *p, uint16_t q, struct adv_tx_ring *r, volatile uint32_t *tdbal,
			const struct lobo_frame *f, uint32_t n, char *err)
{
	const char *driver = p->info.driver, *name = p->info.name;
	uint32_t len = adv_tx_loop_len(n, r->size);
	if (r->head != r->tail)
		return lobo_fail(err, -EINVAL, "%s: %s: frames are still in flight on the queue: reclaim them before "
				 "starting a loop", driver, name);
	if (!len)
		return lobo_fail(err, -EINVAL, "%s: %s: the frames do not fit the transmit ring: use fewer frames or a "
				 "larger tx_ring", driver, name);
	if (!intel_queue_stop(txq(tdbal, TXDCTL)))
		return lobo_fail(err, -EIO, "%s: %s: transmit queue %u does not stop", driver, name, q);
	tx_ring_length(tdbal, len);
	int rc = adv_tx_loop_fill(r, f, n, len, &p->counters[q]);
	if (rc) {
		lobo_err(err, "%s: %s: a frame of the loop is empty, too long or outside lobo_mem", driver, name);
		tx_ring_length(tdbal, r->size);
	}
	if (!intel_queue_start(txq(tdbal, TXDCTL)) && !rc)
		rc = lobo_fail(err, -EIO, "%s: %s: transmit queue %u does not start again", driver, name, q);
	if (!rc)
		adv_tx_loop_kick(r, 0, &p->counters[q]);
	return rc;
}

void intel_tx_loop_stop(struct lobo_port *p, uint16_t q, struct adv_tx_ring *r, volatile uint32_t *tdbal)
{
	intel_queue_stop(txq(tdbal, TXDCTL));
	adv_tx_loop_end(r, *txq(tdbal, TDH), &p->counters[q]);
	tx_ring_length(tdbal, r->size);
	intel_queue_start(txq(tdbal, TXDCTL));
}
