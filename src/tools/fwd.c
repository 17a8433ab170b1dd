/* lobo fwd: both ways between two ports, zero-copy. A frame received on one
 * port is posted to the other as it lies in its buffer; the buffer goes back
 * to the shared pool once the sending port reclaims it. */
#include "tools.h"

struct lane {
	struct lobo_port *from, *to;
	uint16_t rxq, txq;
	uint32_t posted, ring; /* rx buffers the `from` queue holds, and its ring size */
};

#define DRAIN_NS 500000000ull /* at the end, how long ports may take to finish what they hold */

/* Buffers the sending port is done with go straight back to the receive
 * queue, whole again, without a trip through the pool; only a batch at a
 * time, as tool_refill posts (a NIC's tail write is an exit in a VM). What the
 * queue does not take goes to the pool. */
static void recycle(struct lobo_pool *pool, struct lane *l, struct lobo_frame *f, uint16_t n)
{
	uint16_t took = 0;
	if (n >= tool_refill_batch(l->ring) && l->ring - l->posted >= n) {
		for (uint16_t i = 0; i < n; i++) { /* all rx_post reads: data, len, tag */
			f[i].data = lobo_pool_buf(pool, f[i].tag);
			f[i].len = pool->buf_size;
		}
		took = lobo_rx_post(l->from, l->rxq, f, n);
		l->posted += took;
	}
	lobo_pool_free(pool, f + took, n - took);
}

/* One round of a lane: receive, send, take back what the sending port is done
 * with. in_flight counts buffers the sending ports still hold. */
static uint16_t forward(struct lobo_pool *pool, struct lane *l, uint16_t max, uint64_t *in_flight)
{
	struct lobo_frame f[TOOL_MAX_BATCH];
	uint16_t n = lobo_rx_poll(l->from, l->rxq, f, max), good = 0;
	l->posted -= n;
	while (good < n && !(f[good].flags & LOBO_F_ERROR)) /* damaged frames are rare: move none until one */
		good++;
	for (uint16_t i = good; i < n; i++) {
		if (f[i].flags & LOBO_F_ERROR) /* already counted in the port's rx_errors */
			lobo_pool_free(pool, &f[i], 1);
		else
			f[good++] = f[i];
	}
	uint16_t sent = lobo_tx_post(l->to, l->txq, f, good);
	if (sent < good) { /* not taken: ours to drop and count (lobo.h) */
		lobo_pool_free(pool, f + sent, good - sent);
		lobo_port_counters(l->to, l->txq)->tx_dropped += good - sent;
	}
	uint16_t done = lobo_tx_reclaim(l->to, l->txq, f, TOOL_MAX_BATCH);
	recycle(pool, l, f, done);
	*in_flight += sent;
	*in_flight -= done;
	return n;
}

/* Frames a port took are counted as sent; give them time to leave before the
 * final count and the close, which would cut them off. */
static void drain(struct lobo_pool *pool, struct lane *lane, uint16_t nlanes, uint64_t in_flight)
{
	struct lobo_frame f[TOOL_MAX_BATCH];
	for (uint64_t until = tool_now_ns() + DRAIN_NS; in_flight && tool_now_ns() < until;) {
		for (uint16_t i = 0; i < nlanes; i++) {
			uint16_t done = lobo_tx_reclaim(lane[i].to, lane[i].txq, f, TOOL_MAX_BATCH);
			lobo_pool_free(pool, f, done);
			in_flight -= done;
		}
	}
}

int tool_fwd(struct tool_session *s, const struct tool_run *run, char *err)
{
	struct lane lane[2 * LOBO_MAX_QUEUES];
	const struct lobo_port_info *a = lobo_port_info(s->port[0]), *b = lobo_port_info(s->port[1]);
	uint16_t nlanes = 0;
	(void)err;
	/* Every rx queue is polled (an unpolled one would drop what fanout or RSS
	 * sends it); a port with fewer queues sends from several lanes per queue. */
	for (uint16_t q = 0; q < a->queues; q++)
		lane[nlanes++] = (struct lane){s->port[0], s->port[1], q, q % b->queues, 0, a->rx_ring};
	for (uint16_t q = 0; q < b->queues; q++)
		lane[nlanes++] = (struct lane){s->port[1], s->port[0], q, q % a->queues, 0, b->rx_ring};
	struct tool_loop loop;
	uint64_t forwarded = 0, in_flight = 0, batch = tool_batch(run);
	tool_loop_start(&loop, s, run);
	while (tool_loop_tick(&loop) && (!run->count || forwarded < run->count)) {
		uint32_t moved = 0;
		for (uint16_t i = 0; i < nlanes; i++) {
			uint64_t left = run->count ? run->count - forwarded - moved : batch;
			moved += forward(&s->pool, &lane[i], (uint16_t)(left < batch ? left : batch), &in_flight);
			tool_refill(&s->pool, lane[i].from, lane[i].rxq, &lane[i].posted, lane[i].ring);
		}
		forwarded += moved;
		tool_loop_work(&loop, moved);
		if (!moved && (tool_port_exhausted(&loop, s->port[0]) || tool_port_exhausted(&loop, s->port[1])))
			break;
	}
	drain(&s->pool, lane, nlanes, in_flight);
	return tool_loop_finish(&loop, err);
}
