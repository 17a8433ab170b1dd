/* The pcap reading path: bytes as a capture file -> libpcap -> a pcap: port ->
 * frames in caller buffers. The first input byte picks buffer sizes and
 * loop=1; the rest is the file. Every frame must come back in the buffer it
 * was read into and fit it (ASan checks the copy itself); a bad file fails
 * to open with one line. */
#include "fuzz.h"

#include <sys/mman.h>
#include <unistd.h>

#define BUFS 8
#define POLLS 256

static uint8_t *buf[BUFS];
static uint32_t cap[BUFS];

/* Buffers of the sizes cfg picks, each its own allocation so ASan sees past
 * its end; they stay the port's until it hands them back. */
static void post_all(struct lobo_port *p, uint8_t cfg)
{
	static const uint32_t sizes[] = {14, 60, 64, 1514, 2048, 9000, 65535, 70000};
	struct lobo_frame f[BUFS];
	for (int i = 0; i < BUFS; i++) {
		cap[i] = sizes[(cfg + i) % 8];
		buf[i] = malloc(cap[i]);
		f[i] = (struct lobo_frame){.data = buf[i], .len = cap[i], .tag = (uint64_t)i};
	}
	if (lobo_rx_post(p, 0, f, BUFS) != BUFS)
		abort();
}

static void read_all(struct lobo_port *p)
{
	struct lobo_frame f[BUFS];
	for (int polls = 0; polls < POLLS && lobo_port_info(p)->link_up; polls++) {
		uint16_t n = lobo_rx_poll(p, 0, f, BUFS);
		for (uint16_t i = 0; i < n; i++) {
			uint64_t t = f[i].tag;
			if (t >= BUFS || f[i].data != buf[t] || f[i].len > cap[t])
				abort(); /* not the buffer it was given, or past its end */
			f[i] = (struct lobo_frame){.data = buf[t], .len = cap[t], .tag = t};
		}
		if (lobo_rx_post(p, 0, f, n) != n)
			abort();
	}
	if (lobo_port_counters(p, 0)->rx_packets > (uint64_t)POLLS * BUFS)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char uri[96], err[LOBO_ERR_LEN] = "";
	struct lobo_port *p;
	if (!size)
		return 0;
	int fd = memfd_create("lobo-fuzz.pcap", MFD_CLOEXEC);
	if (fd < 0 || write(fd, data + 1, size - 1) != (ssize_t)(size - 1))
		abort();
	snprintf(uri, sizeof uri, "pcap:/proc/self/fd/%d?mode=r%s", fd, data[0] & 0x80 ? "&loop=1" : "");
	int rc = lobo_port_open(&p, uri, NULL, err);
	check_one_line(rc, err);
	if (!rc) {
		post_all(p, data[0]);
		read_all(p);
		lobo_port_close(p);
	}
	close(fd);
	for (int i = 0; i < BUFS; i++) {
		free(buf[i]);
		buf[i] = NULL;
	}
	return 0;
}
