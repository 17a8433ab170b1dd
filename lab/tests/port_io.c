/* Lab helper for the driver tests, on liblobo directly, so a test sees what
 * the library gives (buffers, flags, RSS hash, queue) and not only the CLI:
 *   port_io info URI                      prints mode, MAC, link, speed, rings, queues
 *   port_io send URI IN.pcap [loop]       sends every frame of IN.pcap on queue 0 (forever with loop)
 *   port_io recv URI OUT.pcap N SECONDS   writes frames received on any queue until N or SECONDS;
 *                                         OUT.pcap.q gets "queue rss_hash flags" per frame
 *   port_io link URI SECONDS N            for SECONDS, or until N frames came, prints each change of
 *                                         link state with the time (as /proc/uptime counts)
 *   port_io hold URI SECONDS              keeps the port open (busy-device test)
 * Each ends with a line of counters: the queues' sums, then the NIC's own.
 * With PEER_RX=/sys/class/net/IF/statistics/rx_packets, send stays at most 64
 * frames ahead of what that peer has counted: QEMU's igb model drops frames
 * queued for a full ring when the ring is refilled, so a fast sender would
 * lose frames to a slow kernel igb peer (real NICs count such drops). */
#include <lobo.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define BUF 2048u
#define NBUF 8192u

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
		fprintf(stderr, "port_io: stuck: the port sent nothing for 10 s\n");
		exit(1);
	}
}

static void print_counters(struct lobo_port *p)
{
	struct lobo_counters c;
	const struct lobo_hw_counters *hw = lobo_port_hw_counters(p);
	lobo_port_counters_sum(p, &c);
	printf("rx_packets=%llu rx_bytes=%llu rx_dropped=%llu rx_errors=%llu tx_packets=%llu tx_bytes=%llu tx_errors=%llu "
	       "hw_rx_packets=%llu hw_rx_bytes=%llu hw_tx_packets=%llu hw_tx_bytes=%llu hw_rx_missed=%llu "
	       "hw_rx_no_buffer=%llu hw_rx_frame_errors=%llu hw_rx_length_errors=%llu\n",
	       (unsigned long long)c.rx_packets, (unsigned long long)c.rx_bytes, (unsigned long long)c.rx_dropped,
	       (unsigned long long)c.rx_errors, (unsigned long long)c.tx_packets, (unsigned long long)c.tx_bytes,
	       (unsigned long long)c.tx_errors, (unsigned long long)hw->rx_packets, (unsigned long long)hw->rx_bytes,
	       (unsigned long long)hw->tx_packets, (unsigned long long)hw->tx_bytes, (unsigned long long)hw->rx_missed,
	       (unsigned long long)hw->rx_no_buffer, (unsigned long long)hw->rx_frame_errors,
	       (unsigned long long)hw->rx_length_errors);
}

static long read_long(const char *path)
{
	char buf[32] = "";
	FILE *f = path ? fopen(path, "r") : NULL;
	if (f && !fgets(buf, sizeof buf, f))
		buf[0] = 0;
	if (f)
		fclose(f);
	return atol(buf);
}

/* Waits while the peer named by PEER_RX is more than 64 frames behind. */
static void pace(const char *peer_rx, long start, uint32_t sent)
{
	for (double until = now() + 5; peer_rx && sent - (read_long(peer_rx) - start) > 64 && now() < until;)
		usleep(200);
}

static int send_pcap(struct lobo_port *p, struct lobo_mem *mem, const char *file, int loop)
{
	const char *peer_rx = getenv("PEER_RX");
	if (peer_rx && access(peer_rx, R_OK)) /* not in this network namespace: no pacing */
		peer_rx = NULL;
	long peer_start = read_long(peer_rx);
	char perr[PCAP_ERRBUF_SIZE];
	/* Buffers 0..NBUF-1 are a free stack; a frame is copied into one, sent, reclaimed. */
	static uint32_t free_bufs[NBUF];
	uint32_t nfree = 0, sent = 0;
	double last = now();
	for (uint32_t i = 0; i < NBUF; i++)
		free_bufs[nfree++] = i;
	do {
		pcap_t *in = pcap_open_offline(file, perr);
		struct pcap_pkthdr *h;
		const u_char *bytes;
		if (!in) {
			fprintf(stderr, "port_io: %s\n", perr);
			return 1;
		}
		while (pcap_next_ex(in, &h, &bytes) == 1) {
			while (!nfree)
				reclaim(p, free_bufs, &nfree, &last);
			uint32_t b = free_bufs[--nfree];
			struct lobo_frame one = {.data = mem->base + b * BUF, .len = h->caplen, .tag = b};
			memcpy(one.data, bytes, h->caplen);
			pace(peer_rx, peer_start, sent);
			while (lobo_tx_post(p, 0, &one, 1) != 1)
				reclaim(p, free_bufs, &nfree, &last);
			sent++;
		}
		pcap_close(in);
	} while (loop);
	while (nfree < NBUF)
		reclaim(p, free_bufs, &nfree, &last);
	printf("sent=%u reclaimed_all=%s\n", sent, nfree == NBUF ? "yes" : "no");
	return nfree == NBUF ? 0 : 1;
}

/* Buffers are shared out among the queues. */
static void post_all(struct lobo_port *p, struct lobo_mem *mem)
{
	const struct lobo_port_info *info = lobo_port_info(p);
	uint32_t per = NBUF / info->queues < info->rx_ring ? NBUF / info->queues : info->rx_ring;
	for (uint16_t k = 0; k < info->queues; k++)
		for (uint32_t i = 0; i < per; i++) {
			uint32_t b = k * per + i;
			struct lobo_frame one = {.data = mem->base + b * BUF, .len = BUF, .tag = b};
			lobo_rx_post(p, k, &one, 1); /* a full ring takes no more: fine */
		}
}

/* A received buffer goes back to the queue it came from. */
static int repost(struct lobo_port *p, struct lobo_mem *mem, uint16_t k, struct lobo_frame *f, uint16_t n)
{
	for (uint16_t i = 0; i < n; i++)
		f[i] = (struct lobo_frame){.data = mem->base + f[i].tag * BUF, .len = BUF, .tag = f[i].tag};
	return n && lobo_rx_post(p, k, f, n) != n;
}

static int recv_pcap(struct lobo_port *p, struct lobo_mem *mem, const char *file, long want, double seconds)
{
	char qfile[512];
	pcap_t *dead = pcap_open_dead(DLT_EN10MB, 65535);
	pcap_dumper_t *out = pcap_dump_open(dead, file);
	snprintf(qfile, sizeof qfile, "%s.q", file);
	FILE *q = fopen(qfile, "w");
	uint16_t queues = lobo_port_info(p)->queues;
	struct lobo_frame f[LOBO_BATCH];
	long got = 0;
	int rc = 0;
	if (!out || !q) {
		fprintf(stderr, "port_io: cannot write %s\n", file);
		return 1;
	}
	post_all(p, mem);
	printf("receiving on %u queues\n", queues);
	for (double end = now() + seconds; got < want && now() < end;) {
		for (uint16_t k = 0; k < queues; k++) {
			uint16_t n = lobo_rx_poll(p, k, f, LOBO_BATCH);
			for (uint16_t i = 0; i < n; i++) {
				struct pcap_pkthdr h = {.caplen = f[i].len, .len = f[i].len};
				gettimeofday(&h.ts, NULL);
				pcap_dump((u_char *)out, &h, f[i].data);
				fprintf(q, "%u %08x %x\n", k, f[i].flags & LOBO_F_RSS_HASH ? f[i].rss_hash : 0, f[i].flags);
			}
			got += n;
			rc |= repost(p, mem, k, f, n);
		}
	}
	pcap_dump_close(out);
	fclose(q);
	printf("received=%ld per_queue_rx_packets=", got);
	for (uint16_t k = 0; k < queues; k++)
		printf("%s%llu", k ? "," : "", (unsigned long long)lobo_port_counters(p, k)->rx_packets);
	printf("\n");
	return rc;
}

static double uptime(void)
{
	struct timespec t;
	clock_gettime(CLOCK_BOOTTIME, &t);
	return (double)t.tv_sec + t.tv_nsec / 1e9;
}

/* The link asked for every 10 ms, while frames keep being received. */
static int watch_link(struct lobo_port *p, struct lobo_mem *mem, double seconds, long want)
{
	struct lobo_frame f[LOBO_BATCH];
	double end = now() + seconds, next = 0;
	uint16_t queues = lobo_port_info(p)->queues;
	long got = 0;
	int was = -1, rc = 0;
	post_all(p, mem);
	while (now() < end && got < want) {
		if (now() >= next) {
			struct lobo_link l = lobo_port_link(p);
			if (l.up != was)
				printf("link %s %u at %.3f\n", l.up ? "up" : "down", l.speed_mbps, uptime());
			was = l.up;
			next = now() + 0.01;
		}
		for (uint16_t k = 0; k < queues; k++) {
			uint16_t n = lobo_rx_poll(p, k, f, LOBO_BATCH);
			got += n;
			rc |= repost(p, mem, k, f, n);
		}
	}
	printf("received=%ld\n", got);
	return rc;
}

int main(int argc, char **argv)
{
	char err[LOBO_ERR_LEN];
	struct lobo_mem mem;
	struct lobo_port *p;
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 3) {
		fprintf(stderr, "usage: port_io info|send|recv|link|hold URI ...\n");
		return 2;
	}
	if (lobo_mem_alloc(&mem, NBUF * BUF, err) || lobo_port_open(&p, argv[2], &mem, err)) {
		fprintf(stderr, "port_io: %s\n", err);
		return 1;
	}
	const struct lobo_port_info *info = lobo_port_info(p);
	printf("mode=%s mac=%02x:%02x:%02x:%02x:%02x:%02x link=%s speed=%u rx_ring=%u tx_ring=%u queues=%u\n",
	       info->mode, info->mac[0], info->mac[1], info->mac[2], info->mac[3], info->mac[4], info->mac[5],
	       info->link_up ? "up" : "down", info->speed_mbps, info->rx_ring, info->tx_ring, info->queues);
	int rc = 0;
	if (!strcmp(argv[1], "hold") && argc == 4)
		sleep((unsigned)atoi(argv[3]));
	else if (!strcmp(argv[1], "link") && argc == 5)
		rc = watch_link(p, &mem, atof(argv[3]), atol(argv[4]));
	else if (!strcmp(argv[1], "send") && argc >= 4)
		rc = send_pcap(p, &mem, argv[3], argc == 5 && !strcmp(argv[4], "loop"));
	else if (!strcmp(argv[1], "recv") && argc == 6)
		rc = recv_pcap(p, &mem, argv[3], atol(argv[4]), atof(argv[5]));
	else if (strcmp(argv[1], "info")) {
		fprintf(stderr, "port_io: unknown command or arguments\n");
		rc = 2;
	}
	print_counters(p);
	lobo_port_close(p);
	lobo_mem_free(&mem);
	return rc;
}
