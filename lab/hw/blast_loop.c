/* Packetblaster on real hardware (lab/hw/ixgbe.sh): the NIC sends one frame
 * of SIZE bytes over and over from its own transmit ring for SECONDS, lobo
 * only moves the tail; prints what lobo counted and what the NIC counted.
 *   blast_loop URI SIZE SECONDS
 * Ends with "blast: N frames in S s = R Mpps, nic counted M". */
#include <lobo.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	char err[LOBO_ERR_LEN];
	struct lobo_mem mem;
	struct lobo_port *p;
	if (argc != 4) {
		fprintf(stderr, "usage: blast_loop URI SIZE SECONDS\n");
		return 2;
	}
	uint32_t size = (uint32_t)atoi(argv[2]);
	double seconds = atof(argv[3]), start, end;
	if (lobo_mem_alloc(&mem, 1 << 21, err) || lobo_port_open(&p, argv[1], &mem, err)) {
		fprintf(stderr, "blast_loop: %s\n", err);
		return 1;
	}
	/* Broadcast from a locally administered address, ethertype 0x88b5 (local experimental). */
	struct lobo_frame f = {.data = mem.base, .len = size};
	memset(f.data, 0, size);
	memset(f.data, 0xff, 6);
	memcpy(f.data + 6, "\x02\x00\x00\x00\x00\x01\x88\xb5", 8);
	lobo_port_hw_counters(p); /* start the NIC's counts from here */
	uint64_t nic0 = lobo_port_hw_counters(p)->tx_packets, sent = 0;
	if (lobo_tx_loop_start(p, 0, &f, 1, err)) {
		fprintf(stderr, "blast_loop: %s\n", err);
		return 1;
	}
	for (start = now(), end = start + seconds; now() < end;)
		sent += lobo_tx_loop_kick(p, 0);
	lobo_tx_loop_stop(p, 0);
	double took = now() - start;
	uint64_t nic = lobo_port_hw_counters(p)->tx_packets - nic0;
	printf("blast: %llu frames in %.1f s = %.2f Mpps, nic counted %llu\n", (unsigned long long)sent, took,
	       sent / took / 1e6, (unsigned long long)nic);
	lobo_port_close(p);
	lobo_mem_free(&mem);
	return 0;
}
