/* libFuzzer: the virtio driver's receive path (src/driver/virtq.c) against a
 * device that does whatever the input says (tests/unit/fake_virtq.h): well-
 * formed frames, used entries with any id and length, any used index, entries
 * rewritten behind the driver's back, interleaved with the driver posting
 * buffers and polling. After every poll each frame must be a buffer the
 * harness posted and has not had back, with data and len inside it; ASan and
 * UBSan catch the rest. Built and run by make fuzz like every target. */
#include "fake_virtq.h"
#include "fuzz.h"

#include <stdio.h>
#include <stdlib.h>

#define NBUF 48
#define BUF 2048u

struct input {
	const uint8_t *p;
	size_t left;
};

static unsigned take(struct input *in, unsigned bytes)
{
	unsigned v = 0;
	for (; bytes && in->left; bytes--, in->left--)
		v = v << 8 | *in->p++;
	return v;
}

static void check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_virtio_rx: %s\n", what);
		abort();
	}
}


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fake_virtq d;
	struct input in = {data, size};
	bool posted[NBUF] = {false};
	uint8_t frame[1600];
	struct lobo_frame f[64];
	if (fake_open(&d, 32, 1, NBUF * BUF))
		return 0;
	uint8_t *bufs = fake_buffers(&d);
	for (uint32_t i = 0; i < sizeof frame; i++)
		frame[i] = (uint8_t)i;
	while (in.left) {
		switch (take(&in, 1) % 6) {
		case 0: { /* the driver posts up to n free buffers */
			unsigned n = take(&in, 1) % 40, k = 0;
			for (uint32_t b = 0; b < NBUF && k < n; b++)
				if (!posted[b])
					f[k++] = (struct lobo_frame){.data = bufs + b * BUF, .len = BUF, .tag = b};
			uint16_t took = virtq_rx_post(&d.vq, f, (uint16_t)k);
			check(took <= k, "took more than offered");
			for (uint16_t i = 0; i < took; i++)
				posted[f[i].tag] = true;
			break;
		}
		case 1: /* a well-formed frame */
			fake_receive(&d, frame, 14 + take(&in, 2) % (sizeof frame - 14));
			break;
		case 2: { /* any used entry */
			uint32_t id = take(&in, 2), len = take(&in, 3);
			fake_used(&d, id, len);
			break;
		}
		case 3: /* any used index */
			fake_used_idx(&d, (uint16_t)take(&in, 2));
			break;
		case 4: { /* an entry rewritten behind the driver's back */
			unsigned at = take(&in, 1) % 32;
			d.vq.used->ring[at] = (struct vring_used_elem){take(&in, 2), take(&in, 2)};
			break;
		}
		default: { /* the driver polls */
			uint16_t max = (uint16_t)(take(&in, 1) % 65), n = virtq_rx_poll(&d.vq, f, max);
			check(n <= max, "more frames than asked for");
			for (uint16_t i = 0; i < n; i++) {
				check(f[i].tag < NBUF && posted[f[i].tag], "a buffer the device did not hold");
				uint8_t *buf = bufs + f[i].tag * BUF;
				check(f[i].data >= buf && f[i].data + f[i].len <= buf + BUF, "a frame outside its buffer");
				posted[f[i].tag] = false;
			}
		}
		}
	}
	fake_close(&d);
	return 0;
}
