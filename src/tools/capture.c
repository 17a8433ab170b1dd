/* lobo capture: receive, keep what a libpcap BPF filter accepts, write it
 * with pcap_dump. Rejected frames are counted as filtered: they are not drops. */
#include "tools.h"

#include <errno.h>
#include <pcap/pcap.h>
#include <stdlib.h>
#include <sys/time.h>

struct capture {
	pcap_t *dead; /* a handle with no device, for compiling and dumping */
	struct bpf_program prog;
	pcap_dumper_t *out;
	const char *file;
	uint64_t written, filtered;
};

int capture_open(struct capture **out, const char *file, const char *filter, char *err)
{
	struct capture *c = calloc(1, sizeof *c);
	*out = NULL;
	if (!c || !(c->dead = pcap_open_dead(DLT_EN10MB, 65535))) {
		free(c);
		tool_err(err, "out of memory for the capture");
		return -ENOMEM;
	}
	c->file = file;
	if (pcap_compile(c->dead, &c->prog, filter ? filter : "", 1, PCAP_NETMASK_UNKNOWN)) {
		tool_err(err, "bad filter '%s': %s: see man 7 pcap-filter", filter, pcap_geterr(c->dead));
		pcap_close(c->dead);
		free(c);
		return -EINVAL;
	}
	if (!(c->out = pcap_dump_open(c->dead, file))) {
		tool_err(err, "cannot write %s: %s: choose a writable path", file, pcap_geterr(c->dead));
		capture_close(c);
		return -EIO;
	}
	*out = c;
	return 0;
}

void capture_close(struct capture *c)
{
	if (!c)
		return;
	if (c->out)
		pcap_dump_close(c->out);
	pcap_freecode(&c->prog);
	pcap_close(c->dead);
	free(c);
}

static uint16_t capture_round(struct tool_session *s, struct capture *c, uint16_t queue, uint64_t max)
{
	struct lobo_frame f[LOBO_BATCH];
	uint16_t n = lobo_rx_poll(s->port[0], queue, f, max < LOBO_BATCH ? (uint16_t)max : LOBO_BATCH);
	struct pcap_pkthdr h;
	gettimeofday(&h.ts, NULL);
	for (uint16_t i = 0; i < n; i++) {
		h.caplen = h.len = f[i].len;
		if (f[i].flags & LOBO_F_ERROR) /* counted by the port in rx_errors */
			continue;
		if (pcap_offline_filter(&c->prog, &h, f[i].data)) {
			pcap_dump((u_char *)c->out, &h, f[i].data);
			c->written++;
		} else {
			c->filtered++;
		}
	}
	lobo_pool_free(&s->pool, f, n);
	return n;
}

int tool_capture(struct tool_session *s, struct capture *c, const struct tool_run *run, char *err)
{
	int rc = 0;
	const struct lobo_port_info *info = lobo_port_info(s->port[0]);
	uint32_t posted[LOBO_MAX_QUEUES] = {0};
	struct tool_loop loop;
	tool_loop_start(&loop, s, run);
	while (tool_loop_tick(&loop) && (!run->count || c->written < run->count)) {
		uint32_t moved = 0;
		for (uint16_t q = 0; q < info->queues; q++) {
			tool_refill(&s->pool, s->port[0], q, &posted[q], info->rx_ring);
			uint16_t n = capture_round(s, c, q, run->count ? run->count - c->written : LOBO_BATCH);
			posted[q] -= n;
			moved += n;
		}
		loop.report.filtered = c->filtered;
		tool_loop_work(&loop, moved);
		if (!moved && tool_port_exhausted(&loop, s->port[0]))
			break;
	}
	if (pcap_dump_flush(c->out)) {
		tool_err(err, "cannot write %s: disk full or file gone?", c->file);
		rc = -EIO;
	}
	int fatal = tool_loop_finish(&loop, rc ? NULL : err);
	return rc ? rc : fatal;
}
