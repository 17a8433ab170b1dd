/* null: an endless source and a bottomless sink, for measuring lobo itself.
 * Receive hands posted buffers straight back as frames of `size` bytes without
 * touching their contents (like DPDK's net_null); transmit counts frames and
 * returns them on the next reclaim. */
#include "port.h"

#include <errno.h>
#include <stdlib.h>

struct null_port {
	struct lobo_port port;
	uint32_t size;
	struct lobo_ring rx[LOBO_MAX_QUEUES], tx[LOBO_MAX_QUEUES];
	struct lobo_frame slots[];
};

static uint16_t null_rx_post(struct lobo_port *p, uint16_t q, const struct lobo_frame *f, uint16_t n)
{
	return lobo_ring_put(&((struct null_port *)p)->rx[q], f, n);
}

static uint16_t null_rx_poll(struct lobo_port *p, uint16_t q, struct lobo_frame *f, uint16_t max)
{
	struct null_port *np = (struct null_port *)p;
	uint16_t n = lobo_ring_take(&np->rx[q], f, max);
	uint32_t size = np->size;
	uint64_t bytes = 0;
	for (uint16_t i = 0; i < n; i++) {
		f[i].len = size < f[i].len ? size : f[i].len; /* a frame never outgrows its buffer */
		f[i].flags = 0;
		bytes += f[i].len;
	}
	p->counters[q].rx_packets += n;
	p->counters[q].rx_bytes += bytes;
	return n;
}

static uint16_t null_tx_post(struct lobo_port *p, uint16_t q, const struct lobo_frame *f, uint16_t n)
{
	n = lobo_ring_put(&((struct null_port *)p)->tx[q], f, n);
	uint64_t bytes = 0;
	for (uint16_t i = 0; i < n; i++)
		bytes += f[i].len;
	p->counters[q].tx_packets += n;
	p->counters[q].tx_bytes += bytes;
	return n;
}

static uint16_t null_tx_reclaim(struct lobo_port *p, uint16_t q, struct lobo_frame *f, uint16_t max)
{
	return lobo_ring_take(&((struct null_port *)p)->tx[q], f, max);
}

static int null_open(struct lobo_port **out, const char *arg, const char *params,
		     struct lobo_mem *mem, char *err)
{
	static const char *const known[] = {"queues", "rx_ring", "tx_ring", "size", NULL};
	struct lobo_port_info info = {0};
	(void)mem;
	if (*arg) {
		lobo_err(err, "null: takes no argument (got '%s'): write null: or null:?size=64", arg);
		return -EINVAL;
	}
	int rc = lobo_params_check(params, "null", known, err);
	if (!rc)
		rc = lobo_params_rings(params, &info, 1024, err);
	if (rc)
		return rc;
	long size = lobo_param_long(params, "size", 60);
	if (size < 14 || size > 65535) {
		lobo_err(err, "null: size=%ld is out of range: use 14 to 65535 bytes", size);
		return -EINVAL;
	}
	size_t slots = (size_t)info.queues * (info.rx_ring + info.tx_ring);
	struct null_port *np = calloc(1, sizeof *np + slots * sizeof np->slots[0]);
	if (!np) {
		lobo_err(err, "null: out of memory");
		return -ENOMEM;
	}
	struct lobo_frame *s = np->slots;
	for (uint16_t q = 0; q < info.queues; q++) {
		np->rx[q] = (struct lobo_ring){.slot = s, .mask = info.rx_ring - 1u};
		s += info.rx_ring;
		np->tx[q] = (struct lobo_ring){.slot = s, .mask = info.tx_ring - 1u};
		s += info.tx_ring;
	}
	np->size = (uint32_t)size;
	info.max_frame = 65535;
	info.link_up = true;
	snprintf(info.mode, sizeof info.mode, "size=%ld", size);
	np->port.info = info;
	*out = &np->port;
	return 0;
}

static void null_close(struct lobo_port *p) { free(p); }

const struct lobo_port_ops lobo_null_ops = {
	.scheme = "null",
	.open = null_open,
	.close = null_close,
	.rx_post = null_rx_post,
	.rx_poll = null_rx_poll,
	.tx_post = null_tx_post,
	.tx_reclaim = null_tx_reclaim,
};
