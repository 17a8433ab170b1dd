/* lobo blast: build the frames once into pool buffers, then post the same
 * buffers again and again (Snabb's packetblaster), so the only per-frame work
 * is the ring operations. A tx buffer is only read, so one may be in flight
 * several times at once. */
#include "tools.h"

#include <errno.h>
#include <pcap/pcap.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MIN_FRAME 60       /* 802.3 minimum without the FCS */
#define SYNTH_FRAMES 256u  /* distinct source ports, so receivers can spread flows (RSS) */

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8), p[1] = (uint8_t)v; }

/* RFC 1071 one's-complement sum of big-endian 16-bit words. */
static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

void blast_build_udp(uint8_t *f, uint32_t size, const uint8_t dst[6], const uint8_t src[6],
		     uint16_t src_port)
{
	/* RFC 2544 benchmarking addresses, UDP to the discard port (RFC 863). */
	static const uint8_t ips[8] = {198, 18, 0, 1, 198, 18, 0, 2};
	uint8_t *ip = f + 14, *udp = ip + 20;
	uint16_t udp_len = (uint16_t)(size - 34);
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	put16(f + 12, 0x0800);
	memset(ip, 0, 20);
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)(size - 14));
	ip[8] = 64;
	ip[9] = 17;
	memcpy(ip + 12, ips, 8);
	put16(ip + 10, csum_fold(csum_add(0, ip, 20)));
	put16(udp, src_port);
	put16(udp + 2, 9);
	put16(udp + 4, udp_len);
	put16(udp + 6, 0);
	for (uint32_t i = 8; i < udp_len; i++)
		udp[i] = (uint8_t)i;
	/* RFC 768: the sum covers a pseudo header; a computed 0 is sent as 0xffff. */
	uint16_t sum = csum_fold(csum_add(csum_add(17u + udp_len, ips, 8), udp, udp_len));
	put16(udp + 6, sum ? sum : 0xffff);
}

static pcap_t *open_pcap(const char *file, char *err)
{
	char perr[PCAP_ERRBUF_SIZE];
	pcap_t *p = pcap_open_offline(file, perr);
	if (!p)
		tool_err(err, "cannot read %s: %.160s: give a pcap file (e.g. from tcpdump -w)", file, perr);
	else if (pcap_datalink(p) != DLT_EN10MB) {
		tool_err(err, "%s holds %s frames, not Ethernet: lobo blast replays Ethernet captures only",
			 file, pcap_datalink_val_to_name(pcap_datalink(p)));
		pcap_close(p);
		p = NULL;
	}
	return p;
}

/* Calls fn for each frame; stops at the first error or when fn returns nonzero. */
static long pcap_each(const char *file, char *err, int (*fn)(const uint8_t *, uint32_t, long, void *), void *ctx)
{
	*err = 0;
	pcap_t *p = open_pcap(file, err);
	if (!p)
		return -EINVAL;
	struct pcap_pkthdr *h;
	const uint8_t *data;
	long n = 0;
	int rc;
	while ((rc = pcap_next_ex(p, &h, &data)) == 1) {
		if (h->caplen > TOOL_BUF_SIZE) {
			tool_err(err, "frame %ld of %s is %u bytes: lobo blast sends frames up to %u bytes",
				 n + 1, file, h->caplen, TOOL_BUF_SIZE);
			rc = -1;
			break;
		}
		if (fn && fn(data, h->caplen, n, ctx))
			break;
		n++;
	}
	if (rc == PCAP_ERROR && !*err)
		tool_err(err, "%s is damaged after frame %ld: %s: repair or re-capture it", file, n,
			 pcap_geterr(p));
	pcap_close(p);
	if (rc == PCAP_ERROR)
		return -EINVAL;
	if (n == 0) {
		tool_err(err, "%s holds no frames: give a capture with at least one frame", file);
		return -EINVAL;
	}
	return n;
}

long blast_frame_count(const struct blast_opts *o, char *err)
{
	return o->pcap ? pcap_each(o->pcap, err, NULL, NULL) : SYNTH_FRAMES;
}

struct load_ctx {
	struct lobo_frame *frames;
	long max;
};

static int load_frame(const uint8_t *data, uint32_t len, long i, void *ctx)
{
	struct load_ctx *c = ctx;
	if (i >= c->max)
		return 1; /* the file grew since it was counted */
	memcpy(c->frames[i].data, data, len);
	c->frames[i].len = len;
	return 0;
}

static long build_frames(struct tool_session *s, const struct blast_opts *o, struct lobo_frame **out, char *err)
{
	const struct lobo_port_info *info = lobo_port_info(s->port[0]);
	uint32_t max = info->max_frame < TOOL_BUF_SIZE ? info->max_frame : TOOL_BUF_SIZE;
	if (!o->pcap && (o->size < MIN_FRAME || o->size > max)) {
		tool_err(err, "--size %u is out of range: use %u to %u bytes (the largest frame %s takes)",
			 o->size, MIN_FRAME, max, info->name);
		return -EINVAL;
	}
	long n = blast_frame_count(o, err);
	if (n < 0)
		return n;
	struct lobo_frame *f = calloc((size_t)n, sizeof *f);
	if (!f || lobo_pool_alloc(&s->pool, f, (uint32_t)n) != (uint32_t)n) {
		free(f);
		tool_err(err, "no room for %ld frames in memory: use a shorter pcap", n);
		return -ENOMEM;
	}
	for (long i = 0; !o->pcap && i < n; i++) {
		blast_build_udp(f[i].data, o->size, o->dst_mac, info->mac, (uint16_t)(1024 + i));
		f[i].len = o->size;
	}
	struct load_ctx ctx = {f, n};
	if (o->pcap && (n = pcap_each(o->pcap, err, load_frame, &ctx)) < 0) {
		free(f);
		return n;
	}
	*out = f;
	return n;
}

/* A token bucket 10 ms deep: deep enough to absorb a late wake-up from sleep,
 * shallow enough that a stall is not made up by a long burst. */
static uint16_t paced(double rate, double *tokens, uint64_t *last_ns, uint16_t want)
{
	if (rate <= 0)
		return want;
	uint64_t now = tool_now_ns();
	double depth = rate / 100 > want ? rate / 100 : want;
	*tokens += rate * (double)(now - *last_ns) / 1e9;
	*last_ns = now;
	if (*tokens > depth)
		*tokens = depth;
	if (*tokens < 1) {
		double wait_ns = (1 - *tokens) / rate * 1e9;
		if (wait_ns > 20000) /* sleep only when it is worth a context switch, at most 1 ms */
			nanosleep(&(struct timespec){0, wait_ns > 1e6 ? 1000000 : (long)wait_ns}, NULL);
		return 0;
	}
	return *tokens < want ? (uint16_t)*tokens : want;
}

/* The NIC sends the ring round and round by itself; the CPU only moves the
 * tail behind the head now and then, so a round of the ring never runs dry
 * (Snabb's packetblaster). */
static void hardware_loop(struct tool_loop *loop, struct lobo_port *port)
{
	while (tool_loop_tick(loop)) {
		lobo_tx_loop_kick(port, 0);
		nanosleep(&(struct timespec){0, 100000}, NULL); /* 100 µs: well inside a round of a ring */
	}
	lobo_tx_loop_stop(port, 0);
}

/* The next n frames of the replay: straight from the array where they lie in
 * a row (n shrinks to the array's end), else gathered into batch. */
static const struct lobo_frame *next_frames(const struct lobo_frame *frames, long nframes, long next,
					    uint16_t *n, struct lobo_frame *batch)
{
	if (nframes >= LOBO_BATCH || nframes - next >= *n) {
		*n = nframes - next < *n ? (uint16_t)(nframes - next) : *n;
		return frames + next;
	}
	for (uint16_t i = 0; i < *n; i++) /* a capture of a few frames, sent over and over */
		batch[i] = frames[(next + i) % nframes];
	return batch;
}

static void software_loop(struct tool_loop *loop, struct tool_session *s, const struct blast_opts *o,
			  const struct tool_run *run, struct lobo_frame *frames, long nframes)
{
	struct lobo_frame batch[TOOL_MAX_BATCH];
	uint16_t max = tool_batch(run);
	/* Replayed captures keep their order, so they go out on one queue. */
	uint16_t queues = o->pcap ? 1 : lobo_port_info(s->port[0])->queues;
	uint64_t sent = 0, in_flight = 0, last_ns = tool_now_ns();
	double tokens = 0;
	long next = 0;
	while (tool_loop_tick(loop) && (!run->count || sent < run->count)) {
		for (uint16_t q = 0; q < queues; q++) {
			in_flight -= lobo_tx_reclaim(s->port[0], q, batch, TOOL_MAX_BATCH);
			uint64_t left = run->count ? run->count - sent : max;
			uint16_t n = paced(o->rate, &tokens, &last_ns, left < max ? (uint16_t)left : max);
			const struct lobo_frame *f = next_frames(frames, nframes, next, &n, batch);
			uint16_t took = lobo_tx_post(s->port[0], q, f, n);
			tokens -= took;
			sent += took;
			in_flight += took;
			next = (next + took) % nframes;
		}
	}
	/* Let the port finish what it holds before the final count and close. */
	for (uint64_t until = tool_now_ns() + 500000000ull; in_flight && tool_now_ns() < until;)
		for (uint16_t q = 0; q < queues; q++)
			in_flight -= lobo_tx_reclaim(s->port[0], q, batch, TOOL_MAX_BATCH);
}

int tool_blast(struct tool_session *s, const struct blast_opts *o, const struct tool_run *run, char *err)
{
	struct lobo_frame *frames;
	long nframes = build_frames(s, o, &frames, err);
	if (nframes < 0)
		return (int)nframes;
	int rc = o->loop ? lobo_tx_loop_start(s->port[0], 0, frames, (uint32_t)nframes, err) : -ENOTSUP;
	if (rc && rc != -ENOTSUP) {
		free(frames);
		return rc;
	}
	struct tool_loop loop;
	tool_loop_start(&loop, s, run);
	if (o->loop)
		loop.report.loop = rc ? "software" : "hardware";
	if (rc)
		software_loop(&loop, s, o, run, frames, nframes);
	else
		hardware_loop(&loop, s->port[0]);
	free(frames);
	return tool_loop_finish(&loop, err);
}
