/* Lab helper for the virtio tests, on liblobo directly (stands in for `lobo
 * blast`/`lobo capture` until the CLI has them):
 *   virtio_io info URI                      prints driver mode, MAC and link
 *   virtio_io send URI IN.pcap [loop]       sends every frame of IN.pcap (forever with loop)
 *   virtio_io recv URI OUT.pcap N SECONDS   writes received frames until N or SECONDS
 *   virtio_io hold URI SECONDS              keeps the port open (busy-device test) */
#include <lobo.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define BUF 2048u
#define NBUF 1024u

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + t.tv_nsec / 1e9;
}

/* Takes back sent buffers; gives up when the port takes nothing for 10 s. */
static void reclaim(struct lobo_port *p, uint32_t *free_bufs, uint32_t *nfree, double *last)
{
	struct lobo_frame f[LOBO_BATCH];
	uint16_t n = lobo_tx_reclaim(p, 0, f, LOBO_BATCH);
	for (uint16_t i = 0; i < n; i++)
		free_bufs[(*nfree)++] = (uint32_t)f[i].tag;
	if (n)
		*last = now();
	else if (now() - *last > 10) {
		fprintf(stderr, "virtio_io: stuck: the port sent nothing for 10 s\n");
		exit(1);
	}
}

static void print_counters(struct lobo_port *p)
{
	struct lobo_counters c;
	lobo_port_counters_sum(p, &c);
	printf("rx_packets=%llu rx_bytes=%llu rx_errors=%llu tx_packets=%llu tx_bytes=%llu tx_errors=%llu\n",
	       (unsigned long long)c.rx_packets, (unsigned long long)c.rx_bytes, (unsigned long long)c.rx_errors,
	       (unsigned long long)c.tx_packets, (unsigned long long)c.tx_bytes, (unsigned long long)c.tx_errors);
}

int main(int argc, char **argv)
{
	char err[LOBO_ERR_LEN], perr[PCAP_ERRBUF_SIZE];
	struct lobo_mem mem;
	struct lobo_port *p;
	struct lobo_frame f[LOBO_BATCH];
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 3) {
		fprintf(stderr, "usage: virtio_io info|send|recv|hold URI ...\n");
		return 2;
	}
	if (lobo_mem_alloc(&mem, NBUF * BUF, err) || lobo_port_open(&p, argv[2], &mem, err)) {
		fprintf(stderr, "virtio_io: %s\n", err);
		return 1;
	}
	const struct lobo_port_info *info = lobo_port_info(p);
	printf("mode=%s mac=%02x:%02x:%02x:%02x:%02x:%02x link=%s rx_ring=%u tx_ring=%u\n", info->mode,
	       info->mac[0], info->mac[1], info->mac[2], info->mac[3], info->mac[4], info->mac[5],
	       info->link_up ? "up" : "down", info->rx_ring, info->tx_ring);
	int rc = 0;
	if (!strcmp(argv[1], "hold") && argc == 4) {
		sleep((unsigned)atoi(argv[3]));
	} else if (!strcmp(argv[1], "send") && argc >= 4) {
		/* Buffers 0..NBUF-1 are a free stack; a frame is copied into one, sent, reclaimed. */
		uint32_t free_bufs[NBUF], nfree = 0, sent = 0;
		double last = now();
		for (uint32_t i = 0; i < NBUF; i++)
			free_bufs[nfree++] = i;
		do {
			pcap_t *in = pcap_open_offline(argv[3], perr);
			struct pcap_pkthdr *h;
			const u_char *bytes;
			if (!in) {
				fprintf(stderr, "virtio_io: %s\n", perr);
				return 1;
			}
			while (pcap_next_ex(in, &h, &bytes) == 1) {
				while (!nfree)
					reclaim(p, free_bufs, &nfree, &last);
				uint32_t b = free_bufs[--nfree];
				struct lobo_frame one = {.data = mem.base + b * BUF, .len = h->caplen, .tag = b};
				memcpy(one.data, bytes, h->caplen);
				while (lobo_tx_post(p, 0, &one, 1) != 1)
					reclaim(p, free_bufs, &nfree, &last);
				sent++;
			}
			pcap_close(in);
		} while (argc == 5 && !strcmp(argv[4], "loop"));
		while (nfree < NBUF)
			reclaim(p, free_bufs, &nfree, &last);
		printf("sent=%u reclaimed_all=%s\n", sent, nfree == NBUF ? "yes" : "no");
		rc = nfree == NBUF ? 0 : 1;
	} else if (!strcmp(argv[1], "recv") && argc == 6) {
		pcap_t *dead = pcap_open_dead(DLT_EN10MB, 65535);
		pcap_dumper_t *out = pcap_dump_open(dead, argv[3]);
		long want = atol(argv[4]), got = 0;
		double end = now() + atof(argv[5]);
		for (uint32_t i = 0; i < NBUF; i += LOBO_BATCH) {
			for (uint32_t j = 0; j < LOBO_BATCH; j++)
				f[j] = (struct lobo_frame){.data = mem.base + (i + j) * BUF, .len = BUF, .tag = i + j};
			lobo_rx_post(p, 0, f, LOBO_BATCH);
		}
		while (got < want && now() < end) {
			uint16_t n = lobo_rx_poll(p, 0, f, LOBO_BATCH);
			for (uint16_t i = 0; i < n; i++) {
				struct pcap_pkthdr h = {.caplen = f[i].len, .len = f[i].len};
				gettimeofday(&h.ts, NULL);
				pcap_dump((u_char *)out, &h, f[i].data);
				f[i].data = mem.base + f[i].tag * BUF;
				f[i].len = BUF;
			}
			got += n;
			if (n && lobo_rx_post(p, 0, f, n) != n)
				rc = 1;
		}
		pcap_dump_close(out);
		printf("received=%ld\n", got);
	} else if (strcmp(argv[1], "info")) {
		fprintf(stderr, "virtio_io: unknown command or arguments\n");
		rc = 2;
	}
	print_counters(p);
	lobo_port_close(p);
	lobo_mem_free(&mem);
	return rc;
}
