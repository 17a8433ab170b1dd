/* afpacket:IFNAME[?queues=N&rx_ring=N&tx_ring=N&fanout=ID] — a Linux interface
 * through AF_PACKET sockets with mmap'ed TPACKET_V3 rings (packet(7),
 * Documentation/networking/packet_mmap.rst). One socket per queue; with
 * queues > 1 (or fanout=ID, to share with other processes) the sockets join
 * one PACKET_FANOUT_HASH group, so each flow stays on one queue. The kernel
 * interface forces a copy each way: rx_poll copies out of the receive blocks,
 * tx_post into transmit slots; both are counted. Transmit bypasses the qdisc
 * (PACKET_QDISC_BYPASS), so tc shaping and local captures do not see it. */
#include "port.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/virtio_net.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

/* A received packet waits in its block until the block fills or this timer
 * retires it. At low rates the timer is the latency floor, at high rates
 * blocks fill first and it costs nothing, so take the smallest the interface
 * allows (tp_retire_blk_tov is in ms). Small blocks hand packets over sooner
 * at middling rates; 32 KiB still holds ~300 minimum-size frames. */
#define RETIRE_MS 1
#define RX_BLOCK_MAX (32u << 10)
#define RX_BUDGET_PER_SLOT 2048u   /* rx_ring=N buys N * 2 KiB of blocks */
#define POLLS_PER_STATS 1024u      /* PACKET_STATISTICS is a syscall */
#define TX_DATA_OFF TPACKET_ALIGN(sizeof(struct tpacket3_hdr)) /* packet_mmap.rst, TX_RING */
#define VNET_LEN sizeof(struct virtio_net_hdr)
#define FANOUT_NONE -1
#define FANOUT_NEW 0x10000 /* not a group id (those are 16 bits): ask the kernel for an unused one */

struct queue {
	int fd;
	uint8_t *map; /* rx blocks, then tx frames */
	size_t map_len;
	uint32_t rx_block, rx_left; /* block being read, packets left in it */
	bool rx_open;
	uint8_t *rx_pkt;
	uint32_t tx_next, polls; /* tx_next: slots filled so far (the next is tx_next % tx_frames) */
	bool tx_unsent; /* frames still wait in the ring after the last kick: kick again on reclaim */
	struct lobo_ring posted, done;
};

struct afpacket_port {
	struct lobo_port port;
	uint32_t frame_size, rx_block_size, rx_blocks, tx_frames;
	char ifname[IF_NAMESIZE];
	struct queue q[LOBO_MAX_QUEUES];
	struct lobo_frame slots[];
};

/* Frames the kernel dropped with the ring full. Only rx_poll calls this, so
 * the queue's counters keep one writer. */
static void count_kernel_drops(struct queue *q, struct lobo_counters *c)
{
	struct tpacket_stats_v3 st; /* reading resets it, so each drop is added once */
	socklen_t len = sizeof st;
	if (!getsockopt(q->fd, SOL_PACKET, PACKET_STATISTICS, &st, &len))
		c->rx_dropped += st.tp_drops;
}

static uint16_t afp_rx_post(struct lobo_port *p, uint16_t q, const struct lobo_frame *f, uint16_t n)
{
	return lobo_ring_put(&((struct afpacket_port *)p)->q[q].posted, f, n);
}

static struct tpacket_block_desc *rx_block(const struct afpacket_port *ap, const struct queue *q)
{
	return (void *)(q->map + (size_t)q->rx_block * ap->rx_block_size);
}

/* Hands the block just read back to the kernel (one call late, after its
 * last packet has been copied) and opens the next once the kernel has
 * filled it; false while it has not. */
static bool rx_next_block(struct afpacket_port *ap, struct queue *q)
{
	if (q->rx_open) {
		__atomic_store_n(&rx_block(ap, q)->hdr.bh1.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
		q->rx_open = false;
		q->rx_block = (q->rx_block + 1) % ap->rx_blocks;
	}
	struct tpacket_block_desc *b = rx_block(ap, q);
	if (!(__atomic_load_n(&b->hdr.bh1.block_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER))
		return false;
	q->rx_open = true;
	q->rx_left = b->hdr.bh1.num_pkts;
	q->rx_pkt = (uint8_t *)b + b->hdr.bh1.offset_to_first_pkt;
	return q->rx_left != 0;
}

/* The next received packet, or NULL. */
static struct tpacket3_hdr *rx_next(struct afpacket_port *ap, struct queue *q)
{
	if (!q->rx_left && !rx_next_block(ap, q))
		return NULL;
	struct tpacket3_hdr *h = (void *)q->rx_pkt;
	q->rx_pkt += h->tp_next_offset;
	q->rx_left--;
	return h;
}

/* A frame from a local socket (veth, tap) may carry only the pseudo-header
 * sum in its L4 checksum (CHECKSUM_PARTIAL, the vnet header's NEEDS_CSUM):
 * finish it as the kernel's skb_checksum_help would, or the next host drops it. */
static void finish_checksum(const struct virtio_net_hdr *vnet, uint8_t *frame, uint32_t len, uint32_t shift)
{
	uint32_t start = vnet->csum_start + shift, at = start + vnet->csum_offset, sum = 0;
	if (!(vnet->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) || at + 2 > len)
		return;
	for (uint32_t i = start; i < len; i += 2)
		sum += (uint32_t)frame[i] << 8 | (i + 1 < len ? frame[i + 1] : 0);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	uint16_t csum = (uint16_t)~sum ? (uint16_t)~sum : 0xffff; /* UDP: 0 would mean "none" */
	frame[at] = (uint8_t)(csum >> 8);
	frame[at + 1] = (uint8_t)csum;
}

/* The frame's length once the 802.1Q header the kernel moved into
 * tp_vlan_tci (packet(7), PACKET_AUXDATA) is back in place. */
static uint32_t frame_len(const struct tpacket3_hdr *h)
{
	return h->tp_snaplen + (h->tp_status & TP_STATUS_VLAN_VALID ? 4 : 0);
}

/* Copies h into buf (which holds frame_len(h)), putting the 802.1Q header back. */
static void rx_copy(const struct tpacket3_hdr *h, const struct lobo_frame *buf, uint32_t len)
{
	const uint8_t *src = (const uint8_t *)h + h->tp_mac;
	const struct virtio_net_hdr *vnet = (const void *)(src - VNET_LEN); /* PACKET_VNET_HDR */
	if (!(h->tp_status & TP_STATUS_VLAN_VALID)) {
		memcpy(buf->data, src, len);
		finish_checksum(vnet, buf->data, len, 0);
		return;
	}
	uint16_t tag[2] = {htons(h->tp_status & TP_STATUS_VLAN_TPID_VALID ? h->hv1.tp_vlan_tpid : ETH_P_8021Q),
			   htons(h->hv1.tp_vlan_tci)};
	memcpy(buf->data, src, 2 * ETH_ALEN);
	memcpy(buf->data + 2 * ETH_ALEN, tag, sizeof tag);
	memcpy(buf->data + 2 * ETH_ALEN + 4, src + 2 * ETH_ALEN, h->tp_snaplen - 2 * ETH_ALEN);
	finish_checksum(vnet, buf->data, len, 4);
}

static uint16_t afp_rx_poll(struct lobo_port *p, uint16_t qi, struct lobo_frame *f, uint16_t max)
{
	struct afpacket_port *ap = (struct afpacket_port *)p;
	struct queue *q = &ap->q[qi];
	struct lobo_counters *c = &p->counters[qi];
	struct tpacket3_hdr *h;
	uint32_t max_frame = p->info.max_frame;
	uint64_t bytes = 0;
	uint16_t n = 0;
	if (++q->polls % POLLS_PER_STATS == 0)
		count_kernel_drops(q, c);
	while (n < max && q->posted.head != q->posted.tail && (h = rx_next(ap, q))) {
		const struct sockaddr_ll *sll = (const void *)((uint8_t *)h + TPACKET_ALIGN(sizeof *h));
		if (sll->sll_pkttype == PACKET_OUTGOING) /* kernels without PACKET_IGNORE_OUTGOING */
			continue;
		const struct lobo_frame *buf = &q->posted.slot[q->posted.head & q->posted.mask];
		uint32_t len = frame_len(h);
		/* cut short by the ring's frame size, or larger than the link carries (GRO) */
		if (h->tp_snaplen < h->tp_len || h->tp_snaplen < ETH_HLEN || len > max_frame) {
			c->rx_errors++;
			continue;
		}
		if (len > buf->len) {
			c->rx_dropped++;
			continue;
		}
		rx_copy(h, buf, len);
		q->posted.head++;
		f[n].data = buf->data; /* the fields a frame without flags has */
		f[n].len = len;
		f[n].flags = 0;
		f[n].tag = buf->tag;
		n++;
		bytes += len;
	}
	c->rx_packets += n;
	c->rx_bytes += bytes;
	c->copies += n;
	return n;
}

static bool tx_frame_ok(const struct afpacket_port *ap, const struct lobo_frame *f)
{
	uint32_t max = ap->port.info.max_frame; /* MTU + 14 + 4 */
	if (f->len < ETH_HLEN || f->len > max || f->len > ap->frame_size - TX_DATA_OFF - VNET_LEN)
		return false;
	/* the kernel takes the extra 4 bytes only for an 802.1Q tag (packet_extra_vlan_len_allowed) */
	return f->len <= max - 4 || (f->data[12] == 0x81 && f->data[13] == 0x00);
}

static struct tpacket3_hdr *tx_slot(const struct afpacket_port *ap, const struct queue *q, uint32_t i)
{
	uint8_t *tx = q->map + (size_t)ap->rx_blocks * ap->rx_block_size;
	return (void *)(tx + (size_t)(i & (ap->tx_frames - 1)) * ap->frame_size);
}

/* A send that fails leaves the frames the kernel would not take in the ring,
 * and tpacket_snd marks them TP_STATUS_SEND_REQUEST again to retry on the next
 * send: ENOBUFS when the device's queue is full or its link down, ENETDOWN.
 * They were counted as sent; give them up instead, newest first, back to where
 * the kernel stopped, and count them in tx_dropped, so no frame is counted as
 * sent that was not, nor sent long after. EAGAIN (socket buffer full) only
 * means later: those wait for the retry in tx_reclaim. */
static void give_up_unsent(struct afpacket_port *ap, struct queue *q, struct lobo_counters *c)
{
	for (uint32_t i = 0; i < ap->tx_frames; i++) {
		struct tpacket3_hdr *h = tx_slot(ap, q, q->tx_next - 1);
		if (__atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE) != TP_STATUS_SEND_REQUEST)
			break;
		__atomic_store_n(&h->tp_status, TP_STATUS_AVAILABLE, __ATOMIC_RELEASE);
		q->tx_next--;
		c->tx_packets--;
		c->tx_bytes -= h->tp_len - VNET_LEN;
		c->tx_dropped++;
	}
}

/* One syscall sends every frame waiting in the ring; MSG_DONTWAIT: do not wait for completions. */
static void kick(struct afpacket_port *ap, struct queue *q, struct lobo_counters *c)
{
	if (send(q->fd, NULL, 0, MSG_DONTWAIT) < 0 && errno != EAGAIN)
		give_up_unsent(ap, q, c);
	q->tx_unsent = __atomic_load_n(&tx_slot(ap, q, q->tx_next - 1)->tp_status, __ATOMIC_ACQUIRE) ==
		       TP_STATUS_SEND_REQUEST;
}

static uint16_t afp_tx_post(struct lobo_port *p, uint16_t qi, const struct lobo_frame *f, uint16_t n)
{
	struct afpacket_port *ap = (struct afpacket_port *)p;
	struct queue *q = &ap->q[qi];
	struct lobo_counters *c = &p->counters[qi];
	uint32_t room = q->done.mask + 1 - (q->done.tail - q->done.head);
	uint16_t taken = 0, queued = 0;
	uint64_t bytes = 0;
	for (; taken < n && taken < room; taken++) {
		if (!tx_frame_ok(ap, &f[taken])) {
			c->tx_errors++;
			continue;
		}
		struct tpacket3_hdr *h = tx_slot(ap, q, q->tx_next + queued);
		if (__atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE) != TP_STATUS_AVAILABLE)
			break; /* ring full: the kernel has not sent this slot yet */
		/* hdr_len = the whole frame: tpacket_snd copies that much into the
		 * skb's head instead of hanging ring pages off it as frags, which
		 * veth and the receiving stack would copy or pull again. */
		struct virtio_net_hdr *vnet = (void *)((uint8_t *)h + TX_DATA_OFF);
		*vnet = (struct virtio_net_hdr){.hdr_len = (uint16_t)f[taken].len};
		memcpy(vnet + 1, f[taken].data, f[taken].len);
		h->tp_len = h->tp_snaplen = f[taken].len + VNET_LEN;
		h->tp_next_offset = 0;
		__atomic_store_n(&h->tp_status, TP_STATUS_SEND_REQUEST, __ATOMIC_RELEASE);
		queued++;
		bytes += f[taken].len;
	}
	lobo_ring_put(&q->done, f, taken);
	q->tx_next += queued;
	c->tx_packets += queued;
	c->tx_bytes += bytes;
	c->copies += queued;
	if (queued)
		kick(ap, q, c);
	return taken;
}

/* The frames were copied into the ring, so buffers come back at once. */
static uint16_t afp_tx_reclaim(struct lobo_port *p, uint16_t qi, struct lobo_frame *f, uint16_t max)
{
	struct afpacket_port *ap = (struct afpacket_port *)p;
	struct queue *q = &ap->q[qi];
	if (q->tx_unsent) /* the socket buffer was full: the frames wait in the ring for another kick */
		kick(ap, q, &p->counters[qi]);
	return lobo_ring_take(&q->done, f, max);
}

static void afp_refresh_info(struct lobo_port *p)
{
	struct afpacket_port *ap = (struct afpacket_port *)p;
	struct ifreq ifr = {0};
	memcpy(ifr.ifr_name, ap->ifname, sizeof ap->ifname);
	if (!ioctl(ap->q[0].fd, SIOCGIFHWADDR, &ifr))
		memcpy(p->info.mac, ifr.ifr_hwaddr.sa_data, 6);
	p->info.link_up = !ioctl(ap->q[0].fd, SIOCGIFFLAGS, &ifr) && (ifr.ifr_flags & IFF_RUNNING);
	if (!ioctl(ap->q[0].fd, SIOCGIFMTU, &ifr))
		p->info.max_frame = (uint32_t)ifr.ifr_mtu + ETH_HLEN + 4;
}

static void afp_close(struct lobo_port *p)
{
	struct afpacket_port *ap = (struct afpacket_port *)p;
	for (uint16_t q = 0; q < p->info.queues; q++) {
		if (ap->q[q].map)
			munmap(ap->q[q].map, ap->q[q].map_len);
		if (ap->q[q].fd >= 0)
			close(ap->q[q].fd);
	}
	free(ap);
}

/* Ring geometry from the MTU and rx_ring/tx_ring (packet_mmap.rst: blocks are
 * whole pages, frames never cross blocks). */
static void size_rings(struct afpacket_port *ap)
{
	struct lobo_port_info *info = &ap->port.info;
	for (ap->frame_size = 2048; ap->frame_size < info->max_frame + 128;) /* + tpacket3_hdr, sockaddr_ll */
		ap->frame_size <<= 1;
	uint32_t bytes = (uint32_t)info->rx_ring * RX_BUDGET_PER_SLOT;
	uint32_t block = bytes / 8 < 4096 ? 4096 : bytes / 8 > RX_BLOCK_MAX ? RX_BLOCK_MAX : bytes / 8;
	ap->rx_block_size = block < ap->frame_size ? ap->frame_size : block;
	ap->rx_blocks = bytes / ap->rx_block_size < 4 ? 4 : bytes / ap->rx_block_size;
	ap->tx_frames = info->tx_ring;
}

static int sys_fail(char *err, const char *what, const char *ifname, const char *fix)
{
	int e = errno;
	lobo_err(err, "afpacket: cannot %s '%s': %s: %s", what, ifname, strerror(e), fix);
	return -e;
}

static int queue_open(struct afpacket_port *ap, struct queue *q, int ifindex, int *fanout, char *err)
{
	uint32_t tx_block = ap->frame_size < 4096 ? 4096 : ap->frame_size;
	struct tpacket_req3 rx = {.tp_block_size = ap->rx_block_size, .tp_block_nr = ap->rx_blocks,
		.tp_frame_size = ap->frame_size, .tp_retire_blk_tov = RETIRE_MS,
		.tp_frame_nr = ap->rx_blocks * (ap->rx_block_size / ap->frame_size)};
	struct tpacket_req3 tx = {.tp_block_size = tx_block, .tp_frame_size = ap->frame_size,
		.tp_block_nr = ap->tx_frames / (tx_block / ap->frame_size), .tp_frame_nr = ap->tx_frames};
	int v3 = TPACKET_V3, one = 1;
	/* PACKET_LOSS: a frame the kernel rejects must not wedge the tx ring
	 * (without it the ring stops at TP_STATUS_WRONG_FORMAT); tx_frame_ok
	 * rejects such frames first, so none are lost silently. */
	if (setsockopt(q->fd, SOL_PACKET, PACKET_VERSION, &v3, sizeof v3) ||
	    setsockopt(q->fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof one) ||
	    setsockopt(q->fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one) ||
	    setsockopt(q->fd, SOL_PACKET, PACKET_LOSS, &one, sizeof one) ||
	    setsockopt(q->fd, SOL_PACKET, PACKET_RX_RING, &rx, sizeof rx) ||
	    setsockopt(q->fd, SOL_PACKET, PACKET_TX_RING, &tx, sizeof tx))
		return sys_fail(err, "set up rings on", ap->ifname, "try smaller rx_ring=/tx_ring=");
	(void)setsockopt(q->fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one); /* Linux 4.20+ */
	q->map_len = (size_t)ap->rx_blocks * ap->rx_block_size + (size_t)ap->tx_frames * ap->frame_size;
	void *map = mmap(NULL, q->map_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, q->fd, 0);
	if (map == MAP_FAILED)
		return sys_fail(err, "map the rings of", ap->ifname, "try smaller rx_ring=/tx_ring=");
	q->map = map;
	/* Between bind and joining the group a socket would get every frame
	 * itself while the group gets them too: it drops them all until it has joined. */
	struct sock_filter drop_all = BPF_STMT(BPF_RET | BPF_K, 0);
	struct sock_fprog prog = {.len = 1, .filter = &drop_all};
	if (*fanout != FANOUT_NONE && setsockopt(q->fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog))
		return sys_fail(err, "filter", ap->ifname, "check the kernel has CONFIG_BPF");
	struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL), .sll_ifindex = ifindex};
	if (bind(q->fd, (struct sockaddr *)&sll, sizeof sll))
		return sys_fail(err, "bind to", ap->ifname, "check `ip link`");
	if (*fanout == FANOUT_NONE)
		return 0;
	/* The first socket asks the kernel for an unused group id, unless given
	 * one; the rest join the id it got, which may well be 0 (the kernel's
	 * first unique id after boot). */
	int arg = *fanout == FANOUT_NEW ? PACKET_FANOUT_HASH << 16 | PACKET_FANOUT_FLAG_UNIQUEID << 16
					: *fanout | PACKET_FANOUT_HASH << 16;
	socklen_t len = sizeof arg;
	if (setsockopt(q->fd, SOL_PACKET, PACKET_FANOUT, &arg, sizeof arg) ||
	    getsockopt(q->fd, SOL_PACKET, PACKET_FANOUT, &arg, &len) ||
	    setsockopt(q->fd, SOL_SOCKET, SO_DETACH_FILTER, &len, sizeof len))
		return sys_fail(err, "join a fanout group on", ap->ifname,
				"pick another fanout=ID (another program uses it differently)");
	*fanout = arg & 0xffff;
	return 0;
}

static int afp_open(struct lobo_port **out, const char *arg, const char *params,
		    struct lobo_mem *mem, char *err)
{
	static const char *const known[] = {"queues", "rx_ring", "tx_ring", "fanout", NULL};
	struct lobo_port_info info = {0};
	(void)mem; /* frames are copied, so any memory will do */
	int rc = lobo_params_check(params, "afpacket", known, err);
	if (!rc)
		rc = lobo_params_rings(params, &info, 1024, err);
	if (rc)
		return rc;
	long fanout = lobo_param_long(params, "fanout", 0);
	int ifindex = (int)if_nametoindex(arg);
	if (fanout < 0 || fanout > 0xffff) {
		lobo_err(err, "afpacket: fanout=ID takes a group number from 1 to 65535");
		return -EINVAL;
	}
	if (!ifindex || strlen(arg) >= IF_NAMESIZE) {
		lobo_err(err, "afpacket: no interface '%s': check `ip link`", arg);
		return -ENODEV;
	}
	size_t slots = (size_t)info.queues * (info.rx_ring + info.tx_ring);
	struct afpacket_port *ap = calloc(1, sizeof *ap + slots * sizeof ap->slots[0]);
	if (!ap) {
		lobo_err(err, "afpacket: out of memory");
		return -ENOMEM;
	}
	ap->port.info = info;
	memcpy(ap->ifname, arg, strlen(arg) + 1);
	struct lobo_frame *s = ap->slots;
	for (uint16_t q = 0; q < info.queues; q++, s += info.rx_ring + info.tx_ring) {
		ap->q[q] = (struct queue){.fd = -1, .posted = {.slot = s, .mask = info.rx_ring - 1u},
			.done = {.slot = s + info.rx_ring, .mask = info.tx_ring - 1u}};
	}
	int fanout_id = fanout ? (int)fanout : info.queues > 1 ? FANOUT_NEW : FANOUT_NONE;
	for (uint16_t q = 0; q < info.queues && !rc; q++) {
		/* protocol 0 receives nothing until bind names the interface */
		ap->q[q].fd = socket(AF_PACKET, SOCK_RAW, 0);
		if (ap->q[q].fd < 0) {
			rc = sys_fail(err, "open a packet socket for", arg, "run as root or grant CAP_NET_RAW");
			break;
		}
		if (q == 0) {
			afp_refresh_info(&ap->port);
			size_rings(ap);
		}
		rc = queue_open(ap, &ap->q[q], ifindex, &fanout_id, err);
	}
	if (rc) {
		afp_close(&ap->port);
		return rc;
	}
	snprintf(ap->port.info.mode, sizeof ap->port.info.mode, "copy, tpacket_v3%s", fanout_id != FANOUT_NONE ? ", fanout" : "");
	*out = &ap->port;
	return 0;
}

const struct lobo_port_ops lobo_afpacket_ops = {
	.scheme = "afpacket",
	.open = afp_open,
	.close = afp_close,
	.refresh_info = afp_refresh_info,
	.rx_post = afp_rx_post,
	.rx_poll = afp_rx_poll,
	.tx_post = afp_tx_post,
	.tx_reclaim = afp_tx_reclaim,
};
