/* dpdk:DEVARGS[?queues=N&rx_ring=N&tx_ring=N&buf=BYTES&copy=1] — an ethdev of
 * DPDK 22.11 behind lobo's four calls, for NICs lobo has no driver for yet.
 * DEVARGS is what DPDK's --vdev and -a take: net_null0, net_af_packet0,iface=eth1,
 * or a PCI address bound to vfio-pci (0000:00:08.0).
 *
 * Frames stay in the caller's memory. Receive: each queue's mempool is lobo's
 * own mempool driver ("lobo_zc"), whose mbuf headers carry the caller's posted
 * buffers as pinned external buffers, so the PMD receives straight into them.
 * Transmit: each frame is attached to an mbuf header (rte_pktmbuf_attach_extbuf);
 * when the PMD frees the mbuf, the callback queues the buffer for tx_reclaim.
 * Copies happen only where they must, and are counted: when a PMD refuses the
 * mempool (or copy=1), when a DMA device cannot reach a frame (outside the
 * registered lobo_mem), when the PMD fills its ring while nothing is posted
 * (those that fill it at setup: the first ring's worth of frames), and inside
 * PMDs that copy by nature (net_af_packet, net_pcap, net_tap). The EAL is
 * dpdk_eal.c's. */
#define ALLOW_EXPERIMENTAL_API /* rte_dev_dma_map is experimental in DPDK 22.11 */
#include "dpdk_eal.h"
#include "pci.h"
#include "port.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_bus.h>
#include <rte_dev.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#define BURST 256 /* the most frames one call moves (the tools' --batch limit) */
#define ZC_OPS "lobo_zc"
#define POLLS_PER_STATS 4096u /* rte_eth_stats_get may be a syscall per queue */

struct txq;
struct dpdk_port;

/* lobo's part of every mbuf (the private area after the header). */
struct mbuf_priv {
	struct rte_mbuf_ext_shared_info shinfo;
	struct lobo_frame frame; /* the caller's buffer the mbuf carries */
	struct txq *q;           /* tx: whose done ring it joins once sent; NULL: not taken */
};
#define PRIV_SIZE RTE_ALIGN(sizeof(struct mbuf_priv), RTE_MBUF_PRIV_ALIGN)

struct rxq {
	struct dpdk_port *dp;
	struct rte_mempool *zc;  /* headers lent to the PMD with posted buffers; NULL: copy mode */
	struct lobo_ring posted; /* posted buffers not lent yet */
	struct rte_mbuf **idle;  /* headers not lent */
	uint32_t nidle, lent, polls;
};

struct txq {
	struct rte_mempool *hdr;
	struct lobo_ring done;
	uint32_t outstanding; /* taken by tx_post, not reclaimed yet */
	bool no_cleanup;      /* the PMD has no tx_done_cleanup */
};

struct dpdk_port {
	struct lobo_port port;
	uint16_t id;
	struct rte_device *dev;
	struct lobo_mem *mem;
	int socket;               /* the device's NUMA node, for its pools */
	bool dma, pa, copy_mode, pmd_copies;
	bool mapped;              /* mem is registered with DPDK and mapped for the device */
	const struct dpdk_eal *eal;
	uint16_t buf;             /* data room of every rx buffer, headroom included */
	struct rte_mempool *copy; /* DPDK's own buffers, for every copy */
	uint64_t missed;          /* rte_eth_stats imissed counted so far */
	struct rxq rx[LOBO_MAX_QUEUES];
	struct txq tx[LOBO_MAX_QUEUES];
	struct lobo_frame *slots; /* the posted and done rings of every queue */
};

/* DPDK registers external memory once per process: the regions registered,
 * each with the number of ports that use it. */
static struct extmem {
	struct lobo_mem *mem;
	int refs;
} extmems[8];

static const char *const copying_pmds[] = {"net_af_packet", "net_pcap", "net_tap"};

/* ------------------------------------------------------ memory and DMA */

static bool reachable(const struct dpdk_port *dp, const uint8_t *p, uint32_t len)
{
	const struct lobo_mem *m = dp->mem;
	return !dp->dma || (m && p >= m->base && p + len <= m->base + m->len);
}

static rte_iova_t iova(const struct dpdk_port *dp, const uint8_t *p)
{
	return dp->dma && dp->pa ? lobo_mem_dma(dp->mem, p) : (rte_iova_t)(uintptr_t)p;
}

static struct extmem *extmem_slot(const struct lobo_mem *mem)
{
	struct extmem *free_slot = NULL;
	for (size_t i = 0; i < sizeof extmems / sizeof extmems[0]; i++) {
		if (extmems[i].mem == mem)
			return &extmems[i];
		if (!extmems[i].mem && !free_slot)
			free_slot = &extmems[i];
	}
	return free_slot;
}

/* The device's mappings of the region: one at IOVA = VA, or one per page at
 * its physical address when the EAL runs in IOVA-as-PA mode. */
static size_t dma_chunk(const struct dpdk_port *dp) { return dp->pa ? dp->mem->page_size : dp->mem->len; }

/* The caller's region, known to DPDK as external memory (once) and mapped
 * for this device. */
static int dma_map(struct dpdk_port *dp, char *err)
{
	struct lobo_mem *m = dp->mem;
	struct extmem *x = extmem_slot(m);
	if (!x)
		return lobo_fail(err, -ENOSPC, "dpdk: too many memory regions registered with DPDK: share one lobo_mem between ports");
	if (dp->pa && !m->phys && lobo_mem_resolve_phys(m, err))
		return -EPERM;
	if (!x->refs && rte_extmem_register(m->base, m->len, dp->pa ? m->phys : NULL, (unsigned)(m->len / m->page_size),
					    m->page_size))
		return lobo_fail(err, -rte_errno, "dpdk: cannot register lobo's memory with DPDK: %s",
				 dpdk_said(rte_strerror(rte_errno)));
	x->mem = m;
	x->refs++;
	dp->mapped = true;
	for (size_t at = 0; at + dma_chunk(dp) <= m->len; at += dma_chunk(dp))
		if (rte_dev_dma_map(dp->dev, m->base + at, iova(dp, m->base + at), dma_chunk(dp)) && rte_errno != EEXIST)
			return lobo_fail(err, -EIO, "dpdk: cannot map lobo's memory for DMA by %s: %s", rte_dev_name(dp->dev),
					 dpdk_said(rte_strerror(rte_errno)));
	return 0;
}

static void dma_unmap(struct dpdk_port *dp)
{
	struct lobo_mem *m = dp->mem;
	struct extmem *x = extmem_slot(m);
	if (!dp->mapped)
		return;
	for (size_t at = 0; at + dma_chunk(dp) <= m->len; at += dma_chunk(dp))
		rte_dev_dma_unmap(dp->dev, m->base + at, iova(dp, m->base + at), dma_chunk(dp));
	if (--x->refs == 0) {
		rte_extmem_unregister(m->base, m->len);
		x->mem = NULL;
	}
}

/* ------------------------------------------- lobo_zc, the rx mempool */

/* A header the PMD gets: the caller's buffer attached, as DPDK's pinned
 * external buffers are (rte_pktmbuf_pool_create_extbuf), headroom kept. The
 * rest is as a freed mbuf leaves it (next NULL, one segment): PMDs that want
 * more call rte_pktmbuf_reset themselves. */
static void lend(struct rxq *q, struct rte_mbuf *m, const struct lobo_frame *f)
{
	((struct mbuf_priv *)rte_mbuf_to_priv(m))->frame = *f;
	m->buf_addr = f->data;
	rte_mbuf_iova_set(m, iova(q->dp, f->data));
	m->buf_len = q->dp->buf;
	m->data_off = RTE_PKTMBUF_HEADROOM;
	m->ol_flags = RTE_MBUF_F_EXTERNAL;
}

static int zc_alloc(struct rte_mempool *mp)
{
	mp->pool_data = mp->pool_config;
	return 0;
}

static void zc_free(struct rte_mempool *mp) { (void)mp; }

/* Headers coming back. One still carrying a buffer was never delivered (the
 * PMD dropped the frame or stopped): the buffer is still the caller's posted
 * one. (While the pool is populated, q->zc is NULL and headers hold garbage.) */
static int zc_enqueue(struct rte_mempool *mp, void *const *obj, unsigned n)
{
	struct rxq *q = mp->pool_data;
	for (unsigned i = 0; i < n; i++) {
		struct mbuf_priv *p = rte_mbuf_to_priv((struct rte_mbuf *)obj[i]);
		if (q->zc && p->frame.data) {
			lobo_ring_put(&q->posted, &p->frame, 1);
			p->frame.data = NULL;
			q->lent--;
		}
		q->idle[q->nidle++] = obj[i];
	}
	return 0;
}

/* The PMD wants n buffers: posted ones first; while nothing is posted, DPDK's
 * own (a PMD that fills its whole ring at setup or start fails without them,
 * or spins: virtio's vector rearm). */
static int zc_dequeue(struct rte_mempool *mp, void **obj, unsigned n)
{
	struct rxq *q = mp->pool_data;
	uint32_t posted = q->posted.tail - q->posted.head;
	unsigned zc = n < posted ? n : posted;
	if (zc < n && rte_mempool_get_bulk(q->dp->copy, obj + zc, n - zc))
		return -ENOBUFS;
	for (unsigned i = 0; i < zc; i++) {
		obj[i] = q->idle[--q->nidle];
		lend(q, obj[i], &q->posted.slot[(q->posted.head + i) & q->posted.mask]);
	}
	q->posted.head += zc;
	q->lent += zc;
	return 0;
}

static unsigned zc_count(const struct rte_mempool *mp) { return ((struct rxq *)mp->pool_data)->nidle; }

static const struct rte_mempool_ops zc_ops = {
	.name = ZC_OPS, .alloc = zc_alloc, .free = zc_free,
	.enqueue = zc_enqueue, .dequeue = zc_dequeue, .get_count = zc_count,
};

static void zc_header_init(struct rte_mempool *mp, void *opaque, void *obj, unsigned idx)
{
	struct rte_mbuf *m = obj;
	struct mbuf_priv *p = rte_mbuf_to_priv(m);
	(void)opaque;
	rte_pktmbuf_init(mp, NULL, m, idx);
	*p = (struct mbuf_priv){.shinfo = {.refcnt = 1}};
	m->shinfo = &p->shinfo;
	m->ol_flags = RTE_MBUF_F_EXTERNAL;
}

/* As rte_pktmbuf_pool_create_extbuf builds a pool of headers, with lobo_zc
 * as the mempool driver. */
static struct rte_mempool *zc_pool(struct rxq *q, const char *name, uint32_t n, int socket)
{
	struct rte_pktmbuf_pool_private priv = {.mbuf_data_room_size = q->dp->buf, .mbuf_priv_size = PRIV_SIZE,
						.flags = RTE_PKTMBUF_POOL_F_PINNED_EXT_BUF};
	struct rte_mempool *mp = rte_mempool_create_empty(name, n, sizeof(struct rte_mbuf) + PRIV_SIZE, 0,
							  sizeof priv, socket, 0);
	if (!mp)
		return NULL;
	if (rte_mempool_set_ops_byname(mp, ZC_OPS, q))
		goto fail;
	rte_pktmbuf_pool_init(mp, &priv);
	if (rte_mempool_populate_default(mp) < 0)
		goto fail;
	rte_mempool_obj_iter(mp, zc_header_init, NULL);
	return mp;
fail:
	rte_mempool_free(mp);
	return NULL;
}

/* ------------------------------------------------------------- receive */

static uint16_t dpdk_rx_post(struct lobo_port *p, uint16_t qi, const struct lobo_frame *f, uint16_t n)
{
	struct dpdk_port *dp = (struct dpdk_port *)p;
	struct rxq *q = &dp->rx[qi];
	uint32_t room = q->posted.mask + 1 - (q->posted.tail - q->posted.head) - q->lent;
	uint16_t ok = 0;
	while (ok < n && ok < room && f[ok].len >= dp->buf && reachable(dp, f[ok].data, dp->buf))
		ok++;
	return lobo_ring_put(&q->posted, f, ok);
}

/* The PMD hands a VLAN tag over in the mbuf and puts it back only into
 * direct mbufs (rte_vlan_insert): put it back into the frame, in the headroom. */
static void vlan_reinsert(struct rte_mbuf *m)
{
	uint8_t *d = (uint8_t *)rte_pktmbuf_prepend(m, 4);
	if (!d)
		return;
	memmove(d, d + 4, 12);
	d[12] = 0x81, d[13] = 0x00;
	d[14] = (uint8_t)(m->vlan_tci >> 8), d[15] = (uint8_t)m->vlan_tci;
	m->ol_flags &= ~RTE_MBUF_F_RX_VLAN_STRIPPED;
}

/* A frame in a posted buffer: the header goes straight back to the idle
 * stack, the buffer is the caller's now. */
static bool deliver_lent(struct rxq *q, struct rte_mbuf *m, struct lobo_frame *out, struct lobo_counters *c)
{
	struct mbuf_priv *p = rte_mbuf_to_priv(m);
	if (m->nb_segs > 1) { /* scatter is off: only a broken PMD chains */
		rte_pktmbuf_free(m);
		c->rx_errors++;
		return false;
	}
	if (m->ol_flags & RTE_MBUF_F_RX_VLAN_STRIPPED)
		vlan_reinsert(m);
	*out = (struct lobo_frame){.data = rte_pktmbuf_mtod(m, uint8_t *), .len = m->data_len, .tag = p->frame.tag};
	p->frame.data = NULL;
	q->idle[q->nidle++] = m;
	q->lent--;
	return true;
}

/* A frame in DPDK's own buffer: copied into the next posted one. */
static bool deliver_copy(struct rxq *q, struct rte_mbuf *m, struct lobo_frame *out, struct lobo_counters *c)
{
	struct lobo_frame buf;
	uint32_t len = rte_pktmbuf_pkt_len(m);
	bool ok = false;
	if (!lobo_ring_take(&q->posted, &buf, 1))
		c->rx_dropped++;
	else if (len > buf.len) {
		q->posted.head--; /* unused: it stays posted */
		c->rx_errors++;
	} else {
		const void *d = rte_pktmbuf_read(m, 0, len, buf.data);
		if (d != buf.data)
			memcpy(buf.data, d, len);
		*out = (struct lobo_frame){.data = buf.data, .len = len, .tag = buf.tag};
		c->copies++;
		ok = true;
	}
	rte_pktmbuf_free(m);
	return ok;
}

static void count_missed(struct dpdk_port *dp)
{
	struct rte_eth_stats st;
	if (!rte_eth_stats_get(dp->id, &st) && st.imissed > dp->missed) {
		dp->port.counters[0].rx_dropped += st.imissed - dp->missed;
		dp->missed = st.imissed;
	}
}

static uint16_t dpdk_rx_poll(struct lobo_port *p, uint16_t qi, struct lobo_frame *f, uint16_t max)
{
	struct dpdk_port *dp = (struct dpdk_port *)p;
	struct rxq *q = &dp->rx[qi];
	struct lobo_counters *c = &p->counters[qi];
	struct rte_mbuf *m[BURST];
	/* No more than the buffers to deliver into: a PMD that allocates as it
	 * receives (net_null, net_af_packet) then never needs DPDK's own. */
	uint32_t can = q->lent + (q->posted.tail - q->posted.head);
	uint16_t want = (uint16_t)(max < can ? max : can), got = 0;
	if (qi == 0 && ++q->polls % POLLS_PER_STATS == 0)
		count_missed(dp);
	if (!want)
		return 0;
	uint16_t n = rte_eth_rx_burst(dp->id, qi, m, want < BURST ? want : BURST);
	uint64_t bytes = 0;
	for (uint16_t i = 0; i < n; i++) {
		bool ok = m[i]->pool == q->zc ? deliver_lent(q, m[i], &f[got], c) : deliver_copy(q, m[i], &f[got], c);
		if (ok)
			bytes += f[got++].len;
	}
	c->rx_packets += got;
	c->rx_bytes += bytes;
	if (dp->pmd_copies)
		c->copies += got;
	return got;
}

/* ------------------------------------------------------------ transmit */

static void tx_sent(void *addr, void *opaque)
{
	struct mbuf_priv *p = opaque;
	(void)addr;
	if (p->q)
		lobo_ring_put(&p->q->done, &p->frame, 1);
}

/* Where f cannot be lent it is copied: copy=1, or a DMA device cannot reach it. */
static bool tx_copies(const struct dpdk_port *dp, const struct lobo_frame *f)
{
	return dp->copy_mode || !reachable(dp, f->data, f->len);
}

/* A frame in DPDK's own buffer (there is room: max_frame <= buf - headroom). */
static struct rte_mbuf *tx_copy(struct dpdk_port *dp, const struct lobo_frame *f)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(dp->copy);
	if (m)
		memcpy(rte_pktmbuf_mtod(m, void *), f->data, f->len);
	return m;
}

/* A header with f attached: tx_sent puts f on the done ring when the PMD frees it. */
static struct rte_mbuf *tx_attach(struct dpdk_port *dp, struct txq *q, const struct lobo_frame *f)
{
	struct rte_mbuf *m;
	if (rte_mempool_get(q->hdr, (void **)&m)) /* raw, as freed: set here */
		return NULL;
	struct mbuf_priv *p = rte_mbuf_to_priv(m);
	p->frame = *f;
	p->q = q;
	p->shinfo = (struct rte_mbuf_ext_shared_info){.free_cb = tx_sent, .fcb_opaque = p, .refcnt = 1};
	rte_pktmbuf_attach_extbuf(m, f->data, iova(dp, f->data), (uint16_t)f->len, &p->shinfo);
	m->tx_offload = 0;
	return m;
}

/* Frames the burst did not take stay the caller's: no callback for them. */
static void tx_untake(struct rte_mbuf *m)
{
	((struct mbuf_priv *)rte_mbuf_to_priv(m))->q = NULL;
	rte_pktmbuf_free(m);
}

static uint16_t dpdk_tx_post(struct lobo_port *p, uint16_t qi, const struct lobo_frame *f, uint16_t n)
{
	struct dpdk_port *dp = (struct dpdk_port *)p;
	struct txq *q = &dp->tx[qi];
	struct lobo_counters *c = &p->counters[qi];
	struct rte_mbuf *m[BURST];
	uint16_t of[BURST], k = 0, i, j; /* m[j] sends f[of[j]] */
	uint32_t room = q->done.mask + 1 - q->outstanding;
	n = (uint16_t)RTE_MIN(RTE_MIN((uint32_t)n, room), (uint32_t)BURST);
	for (i = 0; i < n; i++) {
		if (f[i].len < 14 || f[i].len > p->info.max_frame)
			continue; /* taken, and failed below */
		m[k] = tx_copies(dp, &f[i]) ? tx_copy(dp, &f[i]) : tx_attach(dp, q, &f[i]);
		if (!m[k])
			break; /* no mbuf left */
		m[k]->data_len = (uint16_t)f[i].len;
		m[k]->pkt_len = f[i].len;
		of[k++] = i;
	}
	uint16_t sent = rte_eth_tx_burst(dp->id, qi, m, k);
	uint16_t taken = sent < k ? of[sent] : i; /* the frames before the first one not sent */
	for (j = sent; j < k; j++)
		tx_untake(m[j]);
	uint64_t bytes = 0;
	for (i = 0, j = 0; i < taken; i++) {
		if (j < sent && of[j] == i) {
			bool copied = tx_copies(dp, &f[i]);
			j++;
			bytes += f[i].len;
			c->copies += copied || dp->pmd_copies;
			if (!copied)
				continue; /* lent: tx_sent brings it back */
		} else {
			c->tx_errors++;
		}
		lobo_ring_put(&q->done, &f[i], 1); /* DPDK has its copy, or it was not sent: free now */
	}
	q->outstanding += taken;
	c->tx_packets += sent;
	c->tx_bytes += bytes;
	return taken;
}

static uint16_t dpdk_tx_reclaim(struct lobo_port *p, uint16_t qi, struct lobo_frame *f, uint16_t max)
{
	struct dpdk_port *dp = (struct dpdk_port *)p;
	struct txq *q = &dp->tx[qi];
	/* PMDs free sent mbufs when they need ring space; an idle one is asked to. */
	if (q->done.tail == q->done.head && q->outstanding && !q->no_cleanup)
		q->no_cleanup = rte_eth_tx_done_cleanup(dp->id, qi, 0) == -ENOTSUP;
	uint16_t n = lobo_ring_take(&q->done, f, max);
	q->outstanding -= n;
	return n;
}

/* ------------------------------------------------------- open and close */

static void dpdk_refresh_info(struct lobo_port *p)
{
	struct dpdk_port *dp = (struct dpdk_port *)p;
	struct rte_eth_link link;
	struct rte_ether_addr mac;
	if (!rte_eth_link_get_nowait(dp->id, &link))
		p->info.link_up = link.link_status == RTE_ETH_LINK_UP;
	if (!rte_eth_macaddr_get(dp->id, &mac))
		memcpy(p->info.mac, mac.addr_bytes, 6);
	count_missed(dp);
}

static void dpdk_close(struct lobo_port *p)
{
	struct dpdk_port *dp = (struct dpdk_port *)p;
	/* Sent mbufs come back through tx_sent, lent ones through zc_enqueue (a
	 * device that never started stays as it is). */
	rte_eth_dev_stop(dp->id);
	dma_unmap(dp);
	rte_eth_dev_close(dp->id);
	rte_dev_remove(dp->dev);
	for (uint16_t q = 0; q < LOBO_MAX_QUEUES; q++) {
		rte_mempool_free(dp->rx[q].zc);
		rte_mempool_free(dp->tx[q].hdr);
		free(dp->rx[q].idle);
	}
	rte_mempool_free(dp->copy);
	free(dp->slots);
	free(dp);
}

/* A PCI address must name a device DPDK can take: bound to vfio-pci or uio. */
static int pci_check(const char *name, char bdf[16], char *err)
{
	char driver[32];
	uint16_t vendor, device;
	int rc = lobo_pci_parse_bdf(name, bdf, err);
	if (!rc)
		rc = lobo_pci_id(bdf, &vendor, &device, err);
	if (rc)
		return rc;
	lobo_pci_driver(bdf, driver, sizeof driver);
	if (strcmp(driver, "vfio-pci") && strcmp(driver, "uio_pci_generic") && strcmp(driver, "igb_uio"))
		return lobo_fail(err, -EBUSY, "dpdk: %s is bound to %s, which DPDK cannot use: bind it to vfio-pci "
				 "(dpdk-devbind.py -b vfio-pci %s)", bdf, *driver ? driver : "no driver", bdf);
	return 0;
}

/* The ethdev for devargs, probed already by the EAL (-a, --vdev) or now, and
 * owned by lobo, so that a second open of it fails before touching it. */
static int probe(const struct dpdk_eal *eal, const char *devargs, const char *name, uint16_t *id, char *err)
{
	struct rte_eth_dev_owner owner = {.id = eal->owner, .name = "lobo"};
	dpdk_said(NULL);
	bool found = !rte_eth_dev_get_port_by_name(name, id);
	if (!found && !rte_dev_probe(devargs))
		found = !rte_eth_dev_get_port_by_name(name, id);
	if (!found)
		return lobo_fail(err, -ENODEV, "dpdk: cannot open '%.60s': %.100s: check the PMD's name and arguments",
				 devargs, dpdk_said("no such ethdev"));
	if (rte_eth_dev_owner_set(*id, &owner))
		return lobo_fail(err, -EBUSY, "dpdk: %s is open already: open each device once", name);
	return 0;
}

static int rx_setup(struct dpdk_port *dp, uint16_t qi, uint16_t desc, struct lobo_frame *slots, uint32_t cap, char *err)
{
	struct rxq *q = &dp->rx[qi];
	char name[RTE_MEMPOOL_NAMESIZE];
	snprintf(name, sizeof name, "lobo%u_zc%u", dp->id, qi);
	*q = (struct rxq){.dp = dp, .posted = {.slot = slots, .mask = cap - 1}, .idle = calloc(cap, sizeof *q->idle)};
	if (!q->idle)
		return lobo_fail(err, -ENOMEM, "dpdk: out of memory");
	if (!dp->copy_mode && dp->eal->zc_ops >= 0) {
		q->zc = zc_pool(q, name, cap, dp->socket);
		if (!q->zc)
			return lobo_fail(err, -ENOMEM, "dpdk: cannot create a mempool of %u mbuf headers: %s", cap,
					 dpdk_said(rte_strerror(rte_errno)));
		if (!rte_eth_rx_queue_setup(dp->id, qi, desc, dp->socket, NULL, q->zc))
			return 0;
		rte_mempool_free(q->zc); /* the PMD wants mbufs of its own kind: receive into them, and copy */
		q->zc = NULL;
	}
	if (rte_eth_rx_queue_setup(dp->id, qi, desc, dp->socket, NULL, dp->copy))
		return lobo_fail(err, -EIO, "dpdk: cannot set up rx queue %u of %s: %s", qi, rte_dev_name(dp->dev),
				 dpdk_said("rx_queue_setup failed"));
	return 0;
}

static int tx_setup(struct dpdk_port *dp, uint16_t qi, uint16_t desc, struct lobo_frame *slots, uint32_t cap, char *err)
{
	struct txq *q = &dp->tx[qi];
	char name[RTE_MEMPOOL_NAMESIZE];
	snprintf(name, sizeof name, "lobo%u_tx%u", dp->id, qi);
	*q = (struct txq){.done = {.slot = slots, .mask = cap - 1}};
	q->hdr = rte_pktmbuf_pool_create(name, cap + BURST, 64, PRIV_SIZE, 0, dp->socket);
	if (!q->hdr || rte_eth_tx_queue_setup(dp->id, qi, desc, dp->socket, NULL))
		return lobo_fail(err, -EIO, "dpdk: cannot set up tx queue %u of %s: %s", qi, rte_dev_name(dp->dev),
				 dpdk_said("tx_queue_setup failed"));
	return 0;
}

/* Device queues, pools and start. Each queue holds twice its descriptors in
 * buffers, so the PMD's refill finds posted buffers while the caller has a
 * batch in hand (info.rx_ring tells the caller). */
static int configure(struct dpdk_port *dp, const struct rte_eth_dev_info *di, uint16_t nrx, uint16_t ntx, char *err)
{
	struct rte_eth_conf conf = {0};
	uint16_t queues = dp->port.info.queues;
	char name[RTE_MEMPOOL_NAMESIZE];
	if (queues > di->max_rx_queues || queues > di->max_tx_queues)
		return lobo_fail(err, -EINVAL, "dpdk: %s has %u rx and %u tx queues: ask for queues=%u at most",
				 rte_dev_name(dp->dev), di->max_rx_queues, di->max_tx_queues,
				 RTE_MIN(di->max_rx_queues, di->max_tx_queues));
	if (queues > 1) {
		conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		conf.rx_adv_conf.rss_conf.rss_hf = di->flow_type_rss_offloads & (RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP);
	}
	int rc = rte_eth_dev_configure(dp->id, queues, queues, &conf);
	if (!rc)
		rc = rte_eth_dev_adjust_nb_rx_tx_desc(dp->id, &nrx, &ntx);
	if (rc)
		return lobo_fail(err, rc, "dpdk: cannot configure %s: %s", rte_dev_name(dp->dev), dpdk_said(rte_strerror(-rc)));
	uint32_t rx_cap = rte_align32pow2(RTE_MAX(2u * nrx, 8u)), tx_cap = rte_align32pow2(RTE_MAX(2u * ntx, 8u));
	snprintf(name, sizeof name, "lobo%u_copy", dp->id);
	/* DPDK's size at least: some PMDs want more room than the caller's buffers have
	 * (net_af_packet: its whole frame slot), and then get copies. */
	dp->copy = rte_pktmbuf_pool_create(name, queues * (nrx + ntx + BURST) + 128, 64, PRIV_SIZE,
					   RTE_MAX(dp->buf, RTE_MBUF_DEFAULT_BUF_SIZE), dp->socket);
	if (!dp->copy)
		return lobo_fail(err, -ENOMEM, "dpdk: cannot create a mempool for %u buffers: %s",
				 queues * (nrx + ntx + BURST), dpdk_said(rte_strerror(rte_errno)));
	dp->slots = calloc((size_t)queues * (rx_cap + tx_cap), sizeof *dp->slots);
	if (!dp->slots)
		return lobo_fail(err, -ENOMEM, "dpdk: out of memory");
	for (uint16_t q = 0; q < queues; q++) {
		struct lobo_frame *s = dp->slots + (size_t)q * (rx_cap + tx_cap);
		rc = rx_setup(dp, q, nrx, s, rx_cap, err);
		if (!rc)
			rc = tx_setup(dp, q, ntx, s + rx_cap, tx_cap, err);
		if (rc)
			return rc;
	}
	if ((rc = rte_eth_dev_start(dp->id)))
		return lobo_fail(err, rc, "dpdk: cannot start %s: %s", rte_dev_name(dp->dev), dpdk_said(rte_strerror(-rc)));
	rte_eth_promiscuous_enable(dp->id); /* a forwarder takes every frame; -ENOTSUP is fine */
	dp->port.info.rx_ring = (uint16_t)RTE_MIN(rx_cap, 32768u);
	dp->port.info.tx_ring = (uint16_t)RTE_MIN(tx_cap, 32768u);
	return 0;
}

/* What is copied: everything (copy=1), what the PMD receives into its own
 * buffers, what the PMD itself copies, or nothing. */
static const char *mode(const struct dpdk_port *dp)
{
	if (dp->copy_mode)
		return "copy";
	if (!dp->rx[0].zc)
		return "rx copied";
	return dp->pmd_copies ? "pmd copies" : "zero-copy";
}

static int dpdk_open(struct lobo_port **out, const char *arg, const char *params,
		     struct lobo_mem *mem, char *err)
{
	static const char *const known[] = {"queues", "rx_ring", "tx_ring", "buf", "copy", NULL};
	struct lobo_port_info info = {0};
	struct rte_eth_dev_info di;
	char name[128], bdf[16] = "", devargs[300];
	uint16_t id, mtu = 1500;
	int rc = lobo_params_check(params, "dpdk", known, err);
	if (!rc)
		rc = lobo_params_rings(params, &info, 1024, err);
	if (rc)
		return rc;
	long buf = lobo_param_long(params, "buf", 2048), copy = lobo_param_long(params, "copy", 0);
	if (buf < RTE_PKTMBUF_HEADROOM + 64 || buf > UINT16_MAX || (copy != 0 && copy != 1))
		return lobo_fail(err, -EINVAL, "dpdk: buf= takes %d to 65535 (bytes in each rx buffer the caller posts), "
				 "copy= 0 or 1", RTE_PKTMBUF_HEADROOM + 64);
	if (!*arg)
		return lobo_fail(err, -EINVAL, "dpdk: needs DPDK's device arguments: e.g. dpdk:net_null0, "
				 "dpdk:net_af_packet0,iface=eth0 or dpdk:0000:00:08.0");
	snprintf(name, sizeof name, "%.*s", (int)strcspn(arg, ","), arg);
	snprintf(devargs, sizeof devargs, "%s", arg);
	if (strchr(name, ':')) {
		if ((rc = pci_check(name, bdf, err)))
			return rc;
		if (!mem || !mem->base)
			return lobo_fail(err, -EINVAL, "dpdk: %s needs DMA memory: pass a lobo_mem from lobo_mem_alloc "
					 "to lobo_port_open", bdf);
		snprintf(devargs, sizeof devargs, "%s%s", bdf, arg + strlen(name));
		snprintf(name, sizeof name, "%s", bdf);
	} else if (strncmp(name, "net_", 4) && strncmp(name, "eth_", 4)) {
		/* Only network PMDs: probing another class (crypto_, baseband_...) makes no ethdev, and
		 * fuzzing found one (22.11's baseband_null) that crashes on arguments it cannot parse. */
		return lobo_fail(err, -EINVAL, "dpdk: '%.60s' is not a network device: virtual ones are named "
				 "net_<pmd><n> (dpdk:net_null0), physical ones by PCI address", name);
	}
	const struct dpdk_eal *eal;
	if ((rc = dpdk_eal_start(*bdf ? bdf : NULL, &zc_ops, &eal, err)))
		return rc;
	if (*bdf && !eal->pci)
		return lobo_fail(err, -EBUSY, "dpdk: %s: DPDK was started for virtual devices only (by an earlier dpdk: "
				 "port): open PCI ports first, or set LOBO_EAL_ARGS='-a %s'", bdf, bdf);
	if ((rc = probe(eal, devargs, name, &id, err)))
		return rc;
	if ((rc = rte_eth_dev_info_get(id, &di)))
		return lobo_fail(err, rc, "dpdk: cannot read %s's device info: %s", name, dpdk_said(rte_strerror(-rc)));
	struct dpdk_port *dp = calloc(1, sizeof *dp);
	if (!dp) {
		rte_dev_remove(di.device);
		return lobo_fail(err, -ENOMEM, "dpdk: out of memory");
	}
	*dp = (struct dpdk_port){.id = id, .dev = di.device, .mem = mem, .eal = eal, .socket = rte_eth_dev_socket_id(id),
		.copy_mode = copy, .buf = (uint16_t)buf, .dma = strcmp(rte_bus_name(rte_dev_bus(di.device)), "vdev"),
		.pa = rte_eal_iova_mode() == RTE_IOVA_PA};
	for (size_t i = 0; i < sizeof copying_pmds / sizeof copying_pmds[0]; i++)
		dp->pmd_copies |= !strcmp(di.driver_name, copying_pmds[i]);
	rte_eth_dev_get_mtu(id, &mtu);
	info.max_frame = RTE_MIN((uint32_t)mtu + RTE_ETHER_HDR_LEN + 4, (uint32_t)buf - RTE_PKTMBUF_HEADROOM);
	dp->port.info = info;
	if (dp->dma)
		rc = dma_map(dp, err);
	if (!rc)
		rc = configure(dp, &di, info.rx_ring, info.tx_ring, err);
	if (rc) {
		dpdk_close(&dp->port);
		return rc;
	}
	snprintf(dp->port.info.mode, sizeof dp->port.info.mode, "%s, %s", di.driver_name, mode(dp));
	dpdk_refresh_info(&dp->port);
	*out = &dp->port;
	return 0;
}

const struct lobo_port_ops lobo_dpdk_ops = {
	.scheme = "dpdk",
	.open = dpdk_open,
	.close = dpdk_close,
	.refresh_info = dpdk_refresh_info,
	.rx_post = dpdk_rx_post,
	.rx_poll = dpdk_rx_poll,
	.tx_post = dpdk_tx_post,
	.tx_reclaim = dpdk_tx_reclaim,
};
