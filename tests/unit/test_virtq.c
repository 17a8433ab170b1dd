/* The virtio driver's ring code against a device played in memory
 * (fake_virtq.h): frames both ways, the caller's mistakes refused without
 * counting, and a device that lies — ids out of range or returned twice,
 * lengths beyond the buffer, a runaway used index — counted in rx_errors and
 * tx_errors, never followed outside the caller's buffers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fake_virtq.h"

#define BUF 2048u

static struct lobo_frame buffer(struct fake_virtq *d, uint32_t i)
{
	return (struct lobo_frame){.data = fake_buffers(d) + i * BUF, .len = BUF, .tag = i};
}

/* Posts n buffers numbered from first. */
static uint16_t post_rx(struct fake_virtq *d, uint32_t first, uint16_t n)
{
	struct lobo_frame f[64];
	for (uint16_t i = 0; i < n; i++)
		f[i] = buffer(d, first + i);
	return virtq_rx_post(&d->vq, f, n);
}

static void frame_bytes(uint8_t *out, uint32_t len, uint8_t seed)
{
	for (uint32_t i = 0; i < len; i++)
		out[i] = (uint8_t)(seed + i * 7);
}

static void receives_frames(void **state)
{
	(void)state;
	struct fake_virtq d;
	struct lobo_frame f[8];
	uint8_t sent[3][1514];
	const uint32_t len[3] = {60, 1514, 333};
	assert_int_equal(fake_open(&d, 64, 1, 32 * BUF), 0);
	assert_int_equal(post_rx(&d, 0, 32), 32);
	assert_true(d.notified > 0);
	for (int i = 0; i < 3; i++) {
		frame_bytes(sent[i], len[i], (uint8_t)i);
		assert_int_equal(fake_receive(&d, sent[i], len[i]), 0);
	}
	assert_int_equal(virtq_rx_poll(&d.vq, f, 8), 3);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(f[i].tag, i);
		assert_int_equal(f[i].len, len[i]);
		assert_int_equal(f[i].flags, 0);
		assert_ptr_equal(f[i].data, buffer(&d, (uint32_t)i).data + FAKE_HDR);
		assert_memory_equal(f[i].data, sent[i], len[i]);
	}
	assert_int_equal(d.counters.rx_packets, 3);
	assert_int_equal(d.counters.rx_bytes, 60 + 1514 + 333);
	assert_int_equal(d.counters.rx_errors, 0);
	assert_int_equal(virtq_rx_poll(&d.vq, f, 8), 0);
	fake_close(&d);
}

/* Too small for header + max_frame, or outside the DMA memory: the caller's
 * mistake, refused (fewer taken), and not counted as a damaged frame. */
static void refuses_unusable_rx_buffers(void **state)
{
	(void)state;
	struct fake_virtq d;
	uint8_t elsewhere[BUF];
	assert_int_equal(fake_open(&d, 64, 1, 32 * BUF), 0);
	struct lobo_frame f[3] = {buffer(&d, 0), buffer(&d, 1), buffer(&d, 2)};
	f[1].len = FAKE_HDR + 1517;
	assert_int_equal(virtq_rx_post(&d.vq, f, 3), 1);
	f[1] = (struct lobo_frame){.data = elsewhere, .len = BUF};
	assert_int_equal(virtq_rx_post(&d.vq, &f[1], 2), 0);
	f[1] = (struct lobo_frame){.data = d.mem.base + d.mem.len - 100, .len = BUF}; /* runs off the end */
	assert_int_equal(virtq_rx_post(&d.vq, &f[1], 2), 0);
	assert_int_equal(d.counters.rx_errors, 0);
	assert_int_equal(d.counters.rx_dropped, 0);
	fake_close(&d);
}

static void sends_frames(void **state)
{
	(void)state;
	struct fake_virtq d;
	struct lobo_frame f[40], done[40];
	uint8_t out[1518];
	assert_int_equal(fake_open(&d, 64, 2, 40 * BUF), 0);
	for (uint32_t i = 0; i < 40; i++) {
		f[i] = buffer(&d, i);
		f[i].len = 60 + i * 30;
		frame_bytes(f[i].data, f[i].len, (uint8_t)i);
	}
	assert_int_equal(virtq_tx_post(&d.vq, f, 40), 32); /* 32 two-descriptor chains: full */
	for (uint32_t i = 0; i < 32; i++) {
		assert_int_equal(fake_transmit(&d, out, sizeof out), f[i].len);
		assert_memory_equal(out, f[i].data, f[i].len);
	}
	assert_int_equal(fake_transmit(&d, out, sizeof out), -1);
	assert_int_equal(virtq_tx_reclaim(&d.vq, done, 40), 32);
	for (uint32_t i = 0; i < 32; i++)
		assert_int_equal(done[i].tag, i);
	assert_int_equal(d.counters.tx_packets, 32);
	assert_int_equal(d.counters.tx_dropped, 0);
	assert_int_equal(virtq_tx_post(&d.vq, f + 32, 8), 8);
	fake_close(&d);
}

/* A frame that cannot be sent is taken and counted once, in tx_errors (lobo.h:
 * refused as unsendable), and comes back through reclaim; the good frames
 * after it still go out. */
static void bad_frame_does_not_stop_the_batch(void **state)
{
	(void)state;
	struct fake_virtq d;
	struct lobo_frame f[5], done[8];
	uint8_t out[1518], elsewhere[100];
	assert_int_equal(fake_open(&d, 64, 2, 8 * BUF), 0);
	for (uint32_t i = 0; i < 5; i++) {
		f[i] = buffer(&d, i);
		f[i].len = 100;
	}
	f[1].len = 9000;
	f[3] = (struct lobo_frame){.data = elsewhere, .len = 100, .tag = 3};
	f[4].len = 10;
	assert_int_equal(virtq_tx_post(&d.vq, f, 5), 5);
	assert_int_equal(fake_transmit(&d, out, sizeof out), 100);
	assert_memory_equal(out, f[0].data, 100);
	assert_int_equal(fake_transmit(&d, out, sizeof out), 100);
	assert_memory_equal(out, f[2].data, 100);
	assert_int_equal(fake_transmit(&d, out, sizeof out), -1);
	assert_int_equal(d.counters.tx_packets, 2);
	assert_int_equal(d.counters.tx_errors, 3);
	assert_int_equal(d.counters.tx_dropped, 0);
	assert_int_equal(virtq_tx_reclaim(&d.vq, done, 8), 5);
	uint64_t tags = 0;
	for (int i = 0; i < 5; i++)
		tags |= 1ull << done[i].tag;
	assert_int_equal(tags, 0x1f);
	assert_int_equal(virtq_tx_reclaim(&d.vq, done, 8), 0);
	fake_close(&d);
}

static void notifies_unless_told_not_to(void **state)
{
	(void)state;
	struct fake_virtq d;
	assert_int_equal(fake_open(&d, 64, 1, 4 * BUF), 0);
	assert_int_equal(post_rx(&d, 0, 1), 1);
	assert_int_equal(d.notified, 1);
	d.vq.used->flags = VRING_USED_F_NO_NOTIFY;
	assert_int_equal(post_rx(&d, 1, 1), 1);
	assert_int_equal(d.notified, 1);
	fake_close(&d);
}

static void rx_ids_out_of_range_are_errors(void **state)
{
	(void)state;
	struct fake_virtq d;
	struct lobo_frame f[8];
	uint8_t frame[60] = {1};
	assert_int_equal(fake_open(&d, 64, 1, 4 * BUF), 0);
	assert_int_equal(post_rx(&d, 0, 4), 4);
	fake_used(&d, 64, 100);
	fake_used(&d, 0xffffffffu, 100);
	fake_used(&d, 40, 100); /* in range, but never posted */
	assert_int_equal(virtq_rx_poll(&d.vq, f, 8), 0);
	assert_int_equal(d.counters.rx_errors, 3);
	fake_used(&d, 64, 100);
	fake_used(&d, 64, 100);
	d.last_avail = 0;
	assert_int_equal(fake_receive(&d, frame, sizeof frame), 0); /* the device still works */
	assert_int_equal(virtq_rx_poll(&d.vq, f, 8), 1);
	assert_int_equal(f[0].tag, 0);
	assert_int_equal(d.counters.rx_packets, 1);
	fake_close(&d);
}

/* A length beyond the posted buffer: the buffer comes back (it is the
 * caller's) flagged, with len 0, so nobody reads past its end. */
static void rx_length_beyond_the_buffer_is_an_error(void **state)
{
	(void)state;
	struct fake_virtq d;
	struct lobo_frame f[8];
	assert_int_equal(fake_open(&d, 64, 1, 4 * BUF), 0);
	assert_int_equal(post_rx(&d, 0, 2), 2);
	fake_used(&d, (uint32_t)fake_take(&d), BUF + 1);
	fake_used(&d, (uint32_t)fake_take(&d), FAKE_HDR + 13); /* a runt: no Ethernet header */
	assert_int_equal(virtq_rx_poll(&d.vq, f, 8), 2);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(f[i].tag, i);
		assert_int_equal(f[i].flags, LOBO_F_ERROR);
		assert_int_equal(f[i].len, 0);
		assert_ptr_equal(f[i].data, buffer(&d, (uint32_t)i).data);
	}
	assert_int_equal(d.counters.rx_errors, 2);
	assert_int_equal(d.counters.rx_packets, 0);
	assert_int_equal(d.counters.rx_bytes, 0);
	fake_close(&d);
}

/* The same buffer twice must not reach the caller twice (it would be freed
 * twice, or handed to two owners) nor overflow the driver's free stack. */
static void rx_id_returned_twice_is_an_error(void **state)
{
	(void)state;
	struct fake_virtq d;
	struct lobo_frame f[8];
	uint8_t frame[60] = {1};
	assert_int_equal(fake_open(&d, 64, 1, 66 * BUF), 0);
	assert_int_equal(post_rx(&d, 0, 2), 2);
	for (int round = 0; round < 5; round++) { /* the free stack stays within the ring */
		assert_int_equal(fake_receive(&d, frame, sizeof frame), 0);
		fake_used(&d, d.vq.used->ring[(uint16_t)(d.used_idx - 1) % 64].id, FAKE_HDR + 60);
		assert_int_equal(virtq_rx_poll(&d.vq, f, 8), 1);
		assert_int_equal(d.counters.rx_errors, round + 1);
		assert_int_equal(virtq_rx_post(&d.vq, f, 1), 0); /* len is the frame's now: too small */
		assert_int_equal(post_rx(&d, (uint32_t)f[0].tag, 1), 1);
	}
	assert_int_equal(d.counters.rx_packets, 5);
	assert_int_equal(post_rx(&d, 2, 63), 62); /* 64 descriptors: 2 held, 62 free */
	fake_close(&d);
}

/* A used index far ahead of what the device holds: never more frames than
 * were posted, never one twice; the stale entries count as errors once
 * there are buffers again for them to name. */
static void runaway_used_index_is_bounded(void **state)
{
	(void)state;
	struct fake_virtq d;
	struct lobo_frame f[64];
	unsigned seen[8] = {0}, frames = 0;
	assert_int_equal(fake_open(&d, 64, 1, 8 * BUF), 0);
	assert_int_equal(post_rx(&d, 0, 4), 4);
	for (uint16_t i = 0; i < 4; i++)
		d.vq.used->ring[i] = (struct vring_used_elem){d.vq.avail->ring[i], FAKE_HDR + 60};
	fake_used_idx(&d, 40000);
	for (int round = 0; round < 10; round++) {
		if (round == 5)
			assert_int_equal(post_rx(&d, 4, 4), 4);
		uint16_t n = virtq_rx_poll(&d.vq, f, 64);
		for (uint16_t i = 0; i < n; i++) {
			assert_true(f[i].tag < 4);
			seen[f[i].tag]++;
		}
		frames += n;
	}
	assert_int_equal(frames, 4);
	for (int i = 0; i < 4; i++)
		assert_int_equal(seen[i], 1);
	assert_int_equal(d.counters.rx_errors, 5 * 4); /* rounds 5-9 look at 4 stale entries each */
	fake_close(&d);
}

/* tx: an id that is not a chain head, out of range, or returned twice. */
static void tx_lies_are_errors(void **state)
{
	(void)state;
	struct fake_virtq d;
	struct lobo_frame f[2], done[8];
	assert_int_equal(fake_open(&d, 64, 2, 2 * BUF), 0);
	f[0] = buffer(&d, 0), f[1] = buffer(&d, 1);
	f[0].len = f[1].len = 60;
	assert_int_equal(virtq_tx_post(&d.vq, f, 2), 2);
	int head = fake_take(&d);
	fake_used(&d, (uint32_t)head + 1, 0);
	fake_used(&d, 64, 0);
	fake_used(&d, (uint32_t)head, 0);
	fake_used(&d, (uint32_t)head, 0);
	uint16_t n = 0;
	for (int round = 0; round < 3; round++) /* two held: two entries looked at per round */
		n = (uint16_t)(n + virtq_tx_reclaim(&d.vq, done + n, 8));
	assert_int_equal(n, 1);
	assert_int_equal(done[0].tag, 0);
	assert_int_equal(d.counters.tx_errors, 3);
	fake_close(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(receives_frames),
		cmocka_unit_test(refuses_unusable_rx_buffers),
		cmocka_unit_test(sends_frames),
		cmocka_unit_test(bad_frame_does_not_stop_the_batch),
		cmocka_unit_test(notifies_unless_told_not_to),
		cmocka_unit_test(rx_ids_out_of_range_are_errors),
		cmocka_unit_test(rx_length_beyond_the_buffer_is_an_error),
		cmocka_unit_test(rx_id_returned_twice_is_an_error),
		cmocka_unit_test(runaway_used_index_is_bounded),
		cmocka_unit_test(tx_lies_are_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
