/* pcap:FILE[?mode=r|w&loop=1] — a capture file as a port, through libpcap.
 * mode=r (the default when FILE exists) replays FILE on rx as fast as it is
 * polled, copying each record into the next posted buffer; loop=1 rewinds at
 * the end. mode=w (the default otherwise) writes every tx frame to FILE
 * (EN10MB, snaplen 65535). The other direction takes nothing: rx_post on a
 * writer and tx_post on a reader return 0.
 * link_up false on a reader means no more frames will come: end of file, or a
 * damaged record (counted in rx_errors, and info.mode says "truncated"). A
 * record larger than the posted buffer is skipped and counted in rx_dropped. */
#include "port.h"

#include <errno.h>
#include <pcap/pcap.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>

#define SNAPLEN 65535

struct pcap_port {
	struct lobo_port port;
	pcap_t *pcap;
	pcap_dumper_t *dumper; /* NULL on a reader */
	bool loop, done;
	long data_start;       /* file offset of the first record, for loop=1 */
	struct lobo_ring posted, sent;
	struct lobo_frame slots[];
};

static void stop_reading(struct pcap_port *pp, const char *why)
{
	pp->done = true;
	pp->port.info.link_up = false;
	snprintf(pp->port.info.mode, sizeof pp->port.info.mode, "read, %s", why);
}

/* Next record, rewinding once at the end with loop=1. libpcap has no rewind,
 * but reads a savefile straight from its stdio stream (pcap_file(3PCAP)),
 * so seeking back to the first record restarts it without reopening. */
static int next_record(struct pcap_port *pp, struct pcap_pkthdr **hdr, const u_char **data)
{
	int rc = pcap_next_ex(pp->pcap, hdr, data);
	if (rc == PCAP_ERROR_BREAK && pp->loop && fseek(pcap_file(pp->pcap), pp->data_start, SEEK_SET) == 0)
		rc = pcap_next_ex(pp->pcap, hdr, data);
	return rc;
}

static uint16_t pcap_rx_post(struct lobo_port *p, uint16_t q, const struct lobo_frame *f, uint16_t n)
{
	struct pcap_port *pp = (struct pcap_port *)p;
	(void)q;
	return pp->dumper ? 0 : lobo_ring_put(&pp->posted, f, n);
}

static uint16_t pcap_rx_poll(struct lobo_port *p, uint16_t q, struct lobo_frame *f, uint16_t max)
{
	struct pcap_port *pp = (struct pcap_port *)p;
	struct lobo_counters *c = &p->counters[q];
	uint16_t n = 0;
	/* One record read per slot of max, delivered or skipped, so a looping file
	 * of records too large for the buffers cannot spin here forever. */
	for (uint16_t reads = 0; reads < max && !pp->done && pp->posted.tail != pp->posted.head; reads++) {
		struct pcap_pkthdr *hdr;
		const u_char *data;
		int rc = next_record(pp, &hdr, &data);
		if (rc == PCAP_ERROR_BREAK) {
			stop_reading(pp, "end of file");
		} else if (rc != 1) {
			c->rx_errors++;
			stop_reading(pp, "truncated");
		} else if (hdr->caplen > pp->posted.slot[pp->posted.head & pp->posted.mask].len) {
			c->rx_dropped++; /* never write past a buffer: a record too large for it is lost */
		} else {
			lobo_ring_take(&pp->posted, &f[n], 1);
			memcpy(f[n].data, data, hdr->caplen);
			f[n].len = hdr->caplen;
			f[n++].flags = 0;
			c->rx_bytes += hdr->caplen;
		}
	}
	c->rx_packets += n;
	c->copies += n;
	return n;
}

static uint16_t pcap_tx_post(struct lobo_port *p, uint16_t q, const struct lobo_frame *f, uint16_t n)
{
	struct pcap_port *pp = (struct pcap_port *)p;
	struct lobo_counters *c = &p->counters[q];
	if (!pp->dumper)
		return 0;
	n = lobo_ring_put(&pp->sent, f, n);
	struct pcap_pkthdr hdr;
	gettimeofday(&hdr.ts, NULL);
	for (uint16_t i = 0; i < n; i++) {
		if (f[i].len > SNAPLEN) {
			c->tx_errors++;
			continue;
		}
		hdr.caplen = hdr.len = f[i].len;
		pcap_dump((u_char *)pp->dumper, &hdr, f[i].data);
		c->tx_packets++;
		c->tx_bytes += f[i].len;
	}
	return n;
}

static uint16_t pcap_tx_reclaim(struct lobo_port *p, uint16_t q, struct lobo_frame *f, uint16_t max)
{
	(void)q;
	return lobo_ring_take(&((struct pcap_port *)p)->sent, f, max);
}

static int open_file(struct pcap_port *pp, const char *file, bool write, char *err)
{
	char errbuf[PCAP_ERRBUF_SIZE] = "";
	if (write) {
		pp->pcap = pcap_open_dead(DLT_EN10MB, SNAPLEN);
		pp->dumper = pp->pcap ? pcap_dump_open(pp->pcap, file) : NULL;
		if (!pp->dumper) {
			lobo_err(err, "pcap: cannot write %s: check that its directory exists and is writable",
				 pp->pcap ? pcap_geterr(pp->pcap) : "(out of memory)");
			return -EIO;
		}
		return 0;
	}
	FILE *fp = fopen(file, "rb");
	if (!fp) {
		int rc = -errno;
		lobo_err(err, "pcap: cannot read %s: %s (use mode=w to write a new file)", file, strerror(errno));
		return rc;
	}
	pp->pcap = pcap_fopen_offline(fp, errbuf);
	if (!pp->pcap) {
		fclose(fp);
		lobo_err(err, "pcap: %s is not a pcap file (libpcap: %s): give a pcap or pcapng capture", file, errbuf);
		return -EINVAL;
	}
	pp->data_start = ftell(fp);
	return 0;
}

static void pcap_close_port(struct lobo_port *p)
{
	struct pcap_port *pp = (struct pcap_port *)p;
	if (pp->dumper) {
		pcap_dump_flush(pp->dumper);
		pcap_dump_close(pp->dumper);
	}
	if (pp->pcap)
		pcap_close(pp->pcap);
	free(pp);
}

static int pcap_open_port(struct lobo_port **out, const char *arg, const char *params,
			  struct lobo_mem *mem, char *err)
{
	static const char *const known[] = {"mode", "loop", "queues", "rx_ring", "tx_ring", NULL};
	struct lobo_port_info info = {0};
	char mode[4];
	struct stat st;
	(void)mem;
	if (!*arg) {
		lobo_err(err, "pcap: needs a file name: write pcap:FILE.pcap");
		return -EINVAL;
	}
	int rc = lobo_params_check(params, "pcap", known, err);
	if (!rc)
		rc = lobo_params_rings(params, &info, 256, err);
	if (rc)
		return rc;
	if (info.queues != 1) {
		lobo_err(err, "pcap: has one queue (got queues=%u): drop the queues option", info.queues);
		return -EINVAL;
	}
	lobo_param_str(params, "mode", mode, sizeof mode, stat(arg, &st) == 0 ? "r" : "w");
	bool loop = lobo_param_long(params, "loop", 0) == 1;
	if (strcmp(mode, "r") && strcmp(mode, "w")) {
		lobo_err(err, "pcap: mode=%s is unknown: use mode=r to read FILE or mode=w to write it", mode);
		return -EINVAL;
	}
	struct pcap_port *pp = calloc(1, sizeof *pp + (info.rx_ring + info.tx_ring) * sizeof pp->slots[0]);
	if (!pp) {
		lobo_err(err, "pcap: out of memory");
		return -ENOMEM;
	}
	pp->posted = (struct lobo_ring){.slot = pp->slots, .mask = info.rx_ring - 1u};
	pp->sent = (struct lobo_ring){.slot = pp->slots + info.rx_ring, .mask = info.tx_ring - 1u};
	pp->loop = loop;
	rc = open_file(pp, arg, *mode == 'w', err);
	if (rc) {
		pcap_close_port(&pp->port);
		return rc;
	}
	info.max_frame = SNAPLEN;
	info.link_up = true;
	snprintf(info.mode, sizeof info.mode, "%s", *mode == 'w' ? "write" : loop ? "read, loop" : "read");
	pp->port.info = info;
	*out = &pp->port;
	return 0;
}

const struct lobo_port_ops lobo_pcap_ops = {
	.scheme = "pcap",
	.open = pcap_open_port,
	.close = pcap_close_port,
	.rx_post = pcap_rx_post,
	.rx_poll = pcap_rx_poll,
	.tx_post = pcap_tx_post,
	.tx_reclaim = pcap_tx_reclaim,
};
