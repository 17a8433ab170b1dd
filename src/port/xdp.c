/* xdp: AF_XDP sockets, one per queue. The kernel keeps the interface and its
 * control plane; lobo gets the data path. The caller's lobo_mem is the UMEM
 * (Documentation/networking/af_xdp.rst), registered in unaligned-chunk mode so
 * that any buffer of the caller's, at any offset, can be posted or sent: a
 * frame received here leaves through any port sharing the memory, uncopied.
 * Rings and sockets come from libxdp's xsk.h; the XDP program that steers
 * frames to them (xdp_steer.bpf.c) is attached through libxdp: into its
 * multiprog dispatcher where the kernel allows, else alone (libxdp's fallback,
 * which this 6.18 kernel takes: its dispatcher compatibility check fails). */
#include "port.h"

#include <errno.h>
#include <linux/ethtool.h>
#include <linux/if_xdp.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <xdp/libxdp.h>
#include <xdp/xsk.h>

#include "xdp_steer.h"

static const unsigned char steer_obj[] = {
#include "xdp_steer_obj.h"
};
#define PROG_NAME "lobo_xsk"
#define STATS_EVERY 1024 /* rx_polls between reads of XDP_STATISTICS */

struct xdp_queue {
	struct xsk_socket *xsk;
	struct xsk_ring_prod fill, tx;
	struct xsk_ring_cons comp, rx;
	struct lobo_ring sent;    /* frames handed to the kernel, in post order */
	struct lobo_ring refused; /* frames tx_post took but could not send, for tx_reclaim */
	uint32_t polls;
	uint64_t kernel_dropped, kernel_invalid; /* XDP_STATISTICS already added to the counters */
};

struct xdp_port {
	struct lobo_port port;
	struct lobo_mem *mem;
	struct xsk_umem *umem;
	struct bpf_object *obj;
	struct xdp_program *prog;
	enum xdp_attach_mode mode;
	int ifindex;
	uint16_t first_queue;
	uint32_t chunk;          /* bytes the kernel may write into one rx buffer */
	char ifname[IF_NAMESIZE];
	struct xdp_queue q[LOBO_MAX_QUEUES];
	uint64_t *rx_tag;        /* tag of the buffer posted at UMEM offset o, at o / chunk */
	struct lobo_frame *slots; /* the sent and refused rings of every queue */
};

/* ------------------------------------------------------------- data path */

/* [data, data + len) lies in the UMEM [base, base + mem_len). The bounds come
 * as values so that a batch's loop keeps them in registers. */
static bool in_umem(const uint8_t *data, size_t len, const uint8_t *base, size_t mem_len)
{
	return data >= base && (size_t)(data - base) + len <= mem_len;
}

/* Where the tag of the buffer at UMEM offset addr is kept: chunk is a power
 * of two, so a shift, not a division, per frame. */
static uint64_t *rx_tag(const struct xdp_port *xp, uint64_t addr)
{
	return &xp->rx_tag[addr >> __builtin_ctz(xp->chunk)];
}

/* The fill ring's entries are reserved for the whole batch and given back
 * for buffers not taken, so one pass checks and posts each buffer. */
static uint16_t xdp_rx_post(struct lobo_port *p, uint16_t qi, const struct lobo_frame *f, uint16_t n)
{
	struct xdp_port *xp = (struct xdp_port *)p;
	struct xdp_queue *q = &xp->q[qi];
	const uint8_t *base = xp->mem->base;
	size_t mem_len = xp->mem->len;
	uint32_t idx, chunk = xp->chunk, room = xsk_prod_nb_free(&q->fill, n);
	uint16_t take = (uint16_t)xsk_ring_prod__reserve(&q->fill, n < room ? n : (uint16_t)room, &idx), ok;
	/* A buffer must lie in the UMEM and hold a whole chunk: the kernel writes
	 * up to chunk bytes from its start (XDP_PACKET_HEADROOM, then the frame). */
	for (ok = 0; ok < take && f[ok].len >= chunk && in_umem(f[ok].data, chunk, base, mem_len); ok++) {
		uint64_t addr = (uint64_t)(f[ok].data - base);
		*rx_tag(xp, addr) = f[ok].tag;
		*xsk_ring_prod__fill_addr(&q->fill, idx + ok) = addr;
	}
	q->fill.cached_prod -= take - ok;
	xsk_ring_prod__submit(&q->fill, ok);
	return ok;
}

/* Adds what XDP_STATISTICS counted since the last read. Only rx_poll calls
 * this, so the queue's counters keep one writer. rx_dropped (no fill-ring
 * buffer, or the frame larger than one) and rx_ring_full (rx ring full) are
 * disjoint and count lost frames; rx_fill_ring_empty_descs counts failed
 * fill-ring reads, not frames (copy mode counts such a frame in rx_dropped
 * too, __xsk_rcv), so it is left out. A descriptor the kernel found invalid
 * was counted as sent by tx_post: it moves to tx_errors. */
static void read_kernel_stats(struct xdp_port *xp, uint16_t qi)
{
	struct xdp_statistics st;
	socklen_t len = sizeof st;
	struct lobo_counters *c = &xp->port.counters[qi];
	struct xdp_queue *q = &xp->q[qi];
	if (getsockopt(xsk_socket__fd(q->xsk), SOL_XDP, XDP_STATISTICS, &st, &len))
		return;
	uint64_t dropped = st.rx_dropped + st.rx_ring_full;
	c->rx_dropped += dropped - q->kernel_dropped;
	c->tx_packets -= st.tx_invalid_descs - q->kernel_invalid;
	c->tx_errors += st.tx_invalid_descs - q->kernel_invalid;
	q->kernel_dropped = dropped;
	q->kernel_invalid = st.tx_invalid_descs;
}

static uint16_t xdp_rx_poll(struct lobo_port *p, uint16_t qi, struct lobo_frame *f, uint16_t max)
{
	struct xdp_port *xp = (struct xdp_port *)p;
	struct xdp_queue *q = &xp->q[qi];
	uint32_t idx;
	uint64_t bytes = 0;
	uint16_t n = (uint16_t)xsk_ring_cons__peek(&q->rx, max, &idx);
	for (uint16_t i = 0; i < n; i++) { /* the fields a frame without flags has */
		const struct xdp_desc *d = xsk_ring_cons__rx_desc(&q->rx, idx + i);
		f[i].data = xp->mem->base + xsk_umem__add_offset_to_addr(d->addr);
		f[i].len = d->len;
		f[i].flags = 0;
		f[i].tag = *rx_tag(xp, xsk_umem__extract_addr(d->addr));
		bytes += d->len;
	}
	xsk_ring_cons__release(&q->rx, n);
	p->counters[qi].rx_packets += n;
	p->counters[qi].rx_bytes += bytes;
	/* Zero-copy drivers sleep when the fill ring ran dry and ask to be woken
	 * (XDP_USE_NEED_WAKEUP, af_xdp.rst); copy mode never asks. */
	if (!n && xsk_ring_prod__needs_wakeup(&q->fill))
		recvfrom(xsk_socket__fd(q->xsk), NULL, 0, MSG_DONTWAIT, NULL, NULL);
	if (++q->polls % STATS_EVERY == 0)
		read_kernel_stats(xp, qi);
	return n;
}

/* Copy mode sends at most 32 descriptors per kick (xsk_generic_xmit's
 * TX_BATCH_SIZE) and answers EAGAIN while more wait, so kick until the ring
 * is drained, as DPDK's af_xdp PMD does; zero-copy drivers return at once. */
static void kick_tx(struct xdp_queue *q, struct lobo_counters *c, uint32_t frames)
{
	for (uint32_t kicks = frames / 32 + 1; kicks--;) {
		if (!sendto(xsk_socket__fd(q->xsk), NULL, 0, MSG_DONTWAIT, NULL, 0))
			break;
		/* EBUSY: the device dropped one frame ("SKB completed but not sent",
		 * xsk_generic_xmit); it still completes, so count it here. */
		if (errno == EBUSY)
			c->tx_packets--, c->tx_dropped++;
		else if (errno != EAGAIN)
			break;
	}
}

/* A frame the kernel can send: inside the UMEM (the kernel only reads from
 * it) and no longer than a chunk (xp_unaligned_validate_desc). The bounds
 * come as values so that a batch's loop keeps them in registers. */
static bool sendable(const struct lobo_frame *f, const uint8_t *base, size_t mem_len, uint32_t chunk)
{
	return f->len && f->len <= chunk && in_umem(f->data, f->len, base, mem_len);
}

static bool tx_frame_ok(const struct xdp_port *xp, const struct lobo_frame *f)
{
	return sendable(f, xp->mem->base, xp->mem->len, xp->chunk);
}

/* Frames of a batch that tx_post took, each to the ring it belongs on: sent
 * (the kernel has it) or refused (handed back by the next tx_reclaim). */
static void sort_taken(struct xdp_port *xp, struct xdp_queue *q, const struct lobo_frame *f, uint16_t n)
{
	for (uint16_t i = 0; i < n; i++)
		lobo_ring_put(tx_frame_ok(xp, &f[i]) ? &q->sent : &q->refused, &f[i], 1);
}

/* A frame the kernel could not send is taken all the same, counted in
 * tx_errors and handed back by the next tx_reclaim, so the caller counts it
 * nowhere else. One pass writes the descriptors; the batch then goes onto
 * the sent ring in one copy (frame by frame only when some were refused). */
static uint16_t xdp_tx_post(struct lobo_port *p, uint16_t qi, const struct lobo_frame *f, uint16_t n)
{
	struct xdp_port *xp = (struct xdp_port *)p;
	struct xdp_queue *q = &xp->q[qi];
	struct lobo_counters *c = &p->counters[qi];
	uint32_t idx, room = p->info.tx_ring - (q->sent.tail - q->sent.head) - (q->refused.tail - q->refused.head);
	uint16_t take = n < room ? n : (uint16_t)room, good = 0;
	uint64_t bytes = 0;
	if (xsk_ring_prod__reserve(&q->tx, take, &idx) != take) /* room <= free tx ring: never */
		return 0;
	const uint8_t *base = xp->mem->base;
	size_t mem_len = xp->mem->len;
	struct xdp_desc *desc = q->tx.ring;
	for (uint32_t i = 0, mask = q->tx.mask, chunk = xp->chunk; i < take; i++) {
		if (!sendable(&f[i], base, mem_len, chunk))
			continue;
		desc[(idx + good++) & mask] = (struct xdp_desc){.addr = (uint64_t)(f[i].data - base), .len = f[i].len};
		bytes += f[i].len;
	}
	if (good == take)
		lobo_ring_put(&q->sent, f, take);
	else
		sort_taken(xp, q, f, take);
	q->tx.cached_prod -= take - good; /* the refused frames' descriptors were reserved, not written */
	xsk_ring_prod__submit(&q->tx, good);
	c->tx_packets += good;
	c->tx_bytes += bytes;
	c->tx_errors += take - good;
	/* Copy mode always wants the kick; zero-copy only when the driver slept. */
	if (good && xsk_ring_prod__needs_wakeup(&q->tx))
		kick_tx(q, c, good);
	return take;
}

/* Completions come in post order in practice; af_xdp.rst does not promise
 * it, so an out-of-order one is found in the sent ring and swapped to its
 * head. */
static struct lobo_frame completed(struct lobo_ring *sent, const uint8_t *data)
{
	struct lobo_frame *head = &sent->slot[sent->head & sent->mask];
	for (uint32_t j = sent->head + 1; head->data != data && j != sent->tail; j++) {
		struct lobo_frame *s = &sent->slot[j & sent->mask], t = *s;
		if (t.data == data)
			*s = *head, *head = t;
	}
	sent->head++;
	return *head;
}

static uint16_t xdp_tx_reclaim(struct lobo_port *p, uint16_t qi, struct lobo_frame *f, uint16_t max)
{
	struct xdp_port *xp = (struct xdp_port *)p;
	struct xdp_queue *q = &xp->q[qi];
	struct lobo_ring *sent = &q->sent;
	uint32_t idx;
	uint16_t refused = lobo_ring_take(&q->refused, f, max), in_order = 0;
	uint16_t n = (uint16_t)xsk_ring_cons__peek(&q->comp, max - refused, &idx);
	f += refused;
	while (in_order < n && sent->slot[(sent->head + in_order) & sent->mask].data ==
				       xp->mem->base + *xsk_ring_cons__comp_addr(&q->comp, idx + in_order))
		in_order++;
	lobo_ring_take(sent, f, in_order); /* the usual case: the whole batch in one copy */
	for (uint16_t i = in_order; i < n; i++)
		f[i] = completed(sent, xp->mem->base + *xsk_ring_cons__comp_addr(&q->comp, idx + i));
	xsk_ring_cons__release(&q->comp, n);
	/* Copy mode sends at most a batch per kick (xsk_generic_xmit), so kick
	 * again while the kernel has left descriptors in the tx ring. */
	if (xsk_ring_prod__needs_wakeup(&q->tx) && __atomic_load_n(q->tx.consumer, __ATOMIC_RELAXED) != q->tx.cached_prod)
		kick_tx(q, &p->counters[qi], 0);
	return refused + n;
}

/* ------------------------------------------------------ open and close */

static int silent(enum libxdp_print_level l, const char *fmt, va_list ap)
{
	(void)l, (void)fmt, (void)ap;
	return 0;
}

static int silent_bpf(enum libbpf_print_level l, const char *fmt, va_list ap)
{
	(void)l, (void)fmt, (void)ap;
	return 0;
}

static const char *mode_name(const struct xdp_port *xp) { return xp->mode == XDP_MODE_NATIVE ? "native" : "generic"; }

/* The pid recorded in an attached lobo program's lobo_config map, or 0. */
static uint32_t program_owner(struct xdp_program *prog)
{
	uint32_t ids[8], owner = 0, zero = 0;
	struct bpf_prog_info info = {.nr_map_ids = 8, .map_ids = (uint64_t)(uintptr_t)ids};
	uint32_t len = sizeof info;
	if (bpf_obj_get_info_by_fd(xdp_program__fd(prog), &info, &len))
		return 0;
	for (uint32_t i = 0; i < info.nr_map_ids && i < 8; i++) {
		int fd = bpf_map_get_fd_by_id(ids[i]);
		struct bpf_map_info mi = {0};
		uint32_t mlen = sizeof mi;
		struct lobo_xdp_config cfg;
		if (fd >= 0 && !bpf_obj_get_info_by_fd(fd, &mi, &mlen) && !strcmp(mi.name, "lobo_config") &&
		    !bpf_map_lookup_elem(fd, &zero, &cfg))
			owner = cfg.owner;
		if (fd >= 0)
			close(fd);
	}
	return owner;
}

/* Detaches lobo's program p, attached alone or in libxdp's dispatcher mp,
 * unless the process that attached it still runs. */
static int detach_stale(struct xdp_port *xp, struct xdp_multiprog *mp, struct xdp_program *p, char *err)
{
	uint32_t owner = program_owner(p);
	if (owner && (!kill((pid_t)owner, 0) || errno != ESRCH))
		return lobo_fail(err, -EBUSY, "xdp: %s is in use by lobo process %u: stop it first (one process opens "
				 "an interface once; use ?queues=N for several queues)", xp->ifname, owner);
	int rc = xdp_multiprog__is_legacy(mp) ? xdp_multiprog__detach(mp)
					      : xdp_program__detach(p, xp->ifindex, xdp_multiprog__attach_mode(mp), 0);
	if (rc)
		lobo_err(err, "xdp: cannot remove the program a dead lobo left on %s: %s", xp->ifname, strerror(-rc));
	return rc;
}

/* libxdp attaches through netlink, not a bpf_link, so a lobo killed by SIGKILL
 * leaves its program behind: find it by name and detach it. Another program
 * attached alone blocks us; in libxdp's dispatcher we run beside others. */
static int remove_stale_program(struct xdp_port *xp, char *err)
{
	struct xdp_multiprog *mp = xdp_multiprog__get_from_ifindex(xp->ifindex);
	struct xdp_program *p;
	int rc = 0;
	if (libxdp_get_error(mp))
		return 0; /* nothing attached */
	if (xdp_multiprog__is_legacy(mp)) {
		p = xdp_multiprog__main_prog(mp);
		if (p && strcmp(xdp_program__name(p), PROG_NAME))
			rc = lobo_fail(err, -EBUSY, "xdp: %s already has XDP program '%s' (id %u) attached by someone else: "
				       "remove it with 'ip link set dev %s xdp off' if it is not needed",
				       xp->ifname, xdp_program__name(p), xdp_program__id(p), xp->ifname);
		else if (p)
			rc = detach_stale(xp, mp, p, err);
	} else {
		for (p = xdp_multiprog__next_prog(NULL, mp); p && !rc; p = xdp_multiprog__next_prog(p, mp))
			if (!strcmp(xdp_program__name(p), PROG_NAME))
				rc = detach_stale(xp, mp, p, err);
	}
	xdp_multiprog__close(mp);
	return rc;
}

static int attach_program(struct xdp_port *xp, const char *want, uint32_t kernel, char *err)
{
	xp->obj = bpf_object__open_mem(steer_obj, sizeof steer_obj, NULL);
	xp->prog = libbpf_get_error(xp->obj) ? NULL : xdp_program__from_bpf_obj(xp->obj, "xdp");
	if (libbpf_get_error(xp->obj) || libxdp_get_error(xp->prog)) {
		xp->prog = NULL;
		return lobo_fail(err, -EINVAL, "xdp: cannot open lobo's embedded XDP program: libbpf %s is too old? "
				 "(need 1.0 or later)", libbpf_version_string());
	}
	xp->mode = strcmp(want, "generic") ? XDP_MODE_NATIVE : XDP_MODE_SKB;
	int rc = xdp_program__attach(xp->prog, xp->ifindex, xp->mode, 0);
	if (rc && !want[0]) { /* the driver lacks native XDP: fall back to generic */
		xp->mode = XDP_MODE_SKB;
		rc = xdp_program__attach(xp->prog, xp->ifindex, xp->mode, 0);
	}
	if (rc) {
		char why[128];
		libxdp_strerror(rc, why, sizeof why);
		if (rc == -EPERM || geteuid() != 0) /* libxdp turns EPERM into others */
			lobo_err(err, "xdp: no permission to load BPF programs on %s: run as root (CAP_BPF, CAP_NET_ADMIN)", xp->ifname);
		else
			lobo_err(err, "xdp: cannot attach the XDP program to %s in %s mode: %s (try ?mode=generic)",
				 xp->ifname, mode_name(xp), why);
		xdp_program__close(xp->prog);
		xp->prog = NULL;
		return rc;
	}
	struct lobo_xdp_config cfg = {.owner = (uint32_t)getpid(), .kernel = kernel};
	uint32_t zero = 0;
	rc = bpf_map_update_elem(bpf_object__find_map_fd_by_name(xp->obj, "lobo_config"), &zero, &cfg, 0);
	if (rc)
		lobo_err(err, "xdp: cannot configure the XDP program on %s: %s", xp->ifname, strerror(-rc));
	return rc;
}

/* An SIOC* request about the interface, on a socket of its own. */
static int if_ioctl(const char *ifname, unsigned long request, struct ifreq *ifr)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	snprintf(ifr->ifr_name, sizeof ifr->ifr_name, "%s", ifname);
	int rc = fd < 0 || ioctl(fd, request, ifr) ? -1 : 0;
	if (fd >= 0)
		close(fd);
	return rc;
}

/* Receive queues of the interface (ETHTOOL_GCHANNELS), or 0 if it won't say. */
static long rx_queue_count(const char *ifname)
{
	struct ethtool_channels ch = {.cmd = ETHTOOL_GCHANNELS};
	struct ifreq ifr = {.ifr_data = (void *)&ch};
	return if_ioctl(ifname, SIOCETHTOOL, &ifr) ? 0 : (long)(ch.rx_count + ch.combined_count);
}

static const char *umem_hint(int rc)
{
	if (rc == -EPERM)
		return " (run as root)";
	return rc == -ENOMEM ? " (raise RLIMIT_MEMLOCK or run as root)" : "";
}

static const char *bind_hint(int rc)
{
	if (rc == -EINVAL)
		return "queue out of range? (see ethtool -l)";
	return rc == -EBUSY ? "another AF_XDP socket holds that queue" : strerror(-rc);
}

static int open_sockets(struct xdp_port *xp, char *err)
{
	struct lobo_port_info *info = &xp->port.info;
	struct xsk_umem_config ucfg = {.fill_size = info->rx_ring, .comp_size = info->tx_ring,
				       .frame_size = xp->chunk, .flags = XDP_UMEM_UNALIGNED_CHUNK_FLAG};
	int rc = xsk_umem__create(&xp->umem, xp->mem->base, xp->mem->len, &xp->q[0].fill, &xp->q[0].comp, &ucfg);
	if (rc)
		return lobo_fail(err, rc, "xdp: cannot register %zu bytes of memory as UMEM: %s%s", xp->mem->len,
				 strerror(-rc), umem_hint(rc));
	/* No XDP_ZEROCOPY/XDP_COPY flag: the kernel tries zero-copy and falls
	 * back to copy by itself (xp_assign_dev); XDP_OPTIONS tells which. */
	struct xsk_socket_config scfg = {.rx_size = info->rx_ring, .tx_size = info->tx_ring,
					 .libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD,
					 .bind_flags = XDP_USE_NEED_WAKEUP | (xp->mode == XDP_MODE_SKB ? XDP_COPY : 0)};
	int map = bpf_object__find_map_fd_by_name(xp->obj, "lobo_xsks");
	for (uint16_t i = 0; i < info->queues; i++) {
		struct xdp_queue *q = &xp->q[i];
		unsigned queue = xp->first_queue + i;
		/* A just-closed socket frees its queue from a workqueue (xsk_release,
		 * xp_release_deferred), so a quick reopen sees EBUSY for a moment. */
		for (int tries = 0; tries < 100; tries++) {
			rc = xsk_socket__create_shared(&q->xsk, xp->ifname, queue, xp->umem, &q->rx, &q->tx,
						       &q->fill, &q->comp, &scfg);
			if (rc != -EBUSY)
				break;
			usleep(10000);
		}
		if (!rc)
			rc = xsk_socket__update_xskmap(q->xsk, map);
		if (rc)
			return lobo_fail(err, rc, "xdp: cannot bind an AF_XDP socket to %s queue %u: %s", xp->ifname, queue,
					 bind_hint(rc));
	}
	struct xdp_options opt = {0};
	socklen_t len = sizeof opt;
	getsockopt(xsk_socket__fd(xp->q[0].xsk), SOL_XDP, XDP_OPTIONS, &opt, &len);
	snprintf(info->mode, sizeof info->mode, "%s %s", opt.flags & XDP_OPTIONS_ZEROCOPY ? "zero-copy" : "copy",
		 mode_name(xp));
	return 0;
}

static void xdp_close(struct lobo_port *p)
{
	struct xdp_port *xp = (struct xdp_port *)p;
	for (uint16_t i = 0; i < LOBO_MAX_QUEUES; i++)
		xsk_socket__delete(xp->q[i].xsk);
	xsk_umem__delete(xp->umem);
	if (xp->prog) {
		xdp_program__detach(xp->prog, xp->ifindex, xp->mode, 0);
		xdp_program__close(xp->prog);
	}
	bpf_object__close(xp->obj);
	free(xp->rx_tag);
	free(xp->slots);
	free(xp);
}

static void xdp_refresh_info(struct lobo_port *p)
{
	struct xdp_port *xp = (struct xdp_port *)p;
	struct ifreq ifr = {0};
	uint32_t room = xp->chunk - XDP_PACKET_HEADROOM;
	if (!if_ioctl(xp->ifname, SIOCGIFHWADDR, &ifr))
		memcpy(p->info.mac, ifr.ifr_hwaddr.sa_data, 6);
	if (!if_ioctl(xp->ifname, SIOCGIFFLAGS, &ifr))
		p->info.link_up = (ifr.ifr_flags & IFF_RUNNING) != 0;
	if (!if_ioctl(xp->ifname, SIOCGIFMTU, &ifr))
		p->info.max_frame = (uint32_t)ifr.ifr_mtu + 14 < room ? (uint32_t)ifr.ifr_mtu + 14 : room;
}

/* "arp,icmp" -> LOBO_XDP_KERNEL_* bits; -1 on an unknown kind. */
static long kernel_kinds(const char *list)
{
	long bits = 0;
	for (const char *s = list; *s; s += *s == ',') {
		size_t len = strcspn(s, ",");
		if (len == 3 && !strncmp(s, "arp", 3))
			bits |= LOBO_XDP_KERNEL_ARP;
		else if (len == 4 && !strncmp(s, "icmp", 4))
			bits |= LOBO_XDP_KERNEL_ICMP;
		else
			return -1;
		s += len;
	}
	return bits;
}

static int parse(struct xdp_port *xp, const char *arg, const char *params, char *mode, long *kernel, char *err)
{
	static const char *const known[] = {"queues", "rx_ring", "tx_ring", "kernel", "mode", "chunk", NULL};
	char kinds[64], *end;
	int rc = lobo_params_check(params, "xdp", known, err);
	if (!rc)
		rc = lobo_params_rings(params, &xp->port.info, 2048, err);
	if (rc)
		return rc;
	const char *colon = strchr(arg, ':');
	size_t len = colon ? (size_t)(colon - arg) : strlen(arg);
	long queue = colon ? strtol(colon + 1, &end, 10) : 0;
	if (!len || len >= IF_NAMESIZE || (colon && (*end || queue < 0 || queue > 0xffff || end == colon + 1)))
		return lobo_fail(err, -EINVAL, "xdp: '%s' is not IFNAME[:QUEUE]: write e.g. xdp:eth0 or xdp:eth0:2", arg);
	memcpy(xp->ifname, arg, len);
	xp->first_queue = (uint16_t)queue;
	lobo_param_str(params, "kernel", kinds, sizeof kinds, "");
	lobo_param_str(params, "mode", mode, 16, "");
	long chunk = lobo_param_long(params, "chunk", 2048);
	*kernel = kernel_kinds(kinds);
	if (*kernel < 0 || (*mode && strcmp(mode, "native") && strcmp(mode, "generic")) ||
	    (chunk != 2048 && chunk != 4096))
		return lobo_fail(err, -EINVAL, "xdp: bad option in '%s': kernel= takes arp,icmp; mode= native or "
				 "generic; chunk= 2048 or 4096", params);
	xp->chunk = (uint32_t)chunk;
	return 0;
}

/* The interface and its queues, checked; then the tables the queues keep. */
static int check_and_alloc(struct xdp_port *xp, struct lobo_mem *mem, char *err)
{
	struct lobo_port_info *info = &xp->port.info;
	unsigned last = xp->first_queue + info->queues - 1u;
	if (!mem || !mem->base || (uintptr_t)mem->base % (uintptr_t)sysconf(_SC_PAGESIZE) || mem->len < xp->chunk)
		return lobo_fail(err, -EINVAL, "xdp: needs the caller's lobo_mem (page-aligned, from lobo_mem_alloc): "
				 "frames live in it");
	xp->mem = mem;
	xp->ifindex = (int)if_nametoindex(xp->ifname);
	if (!xp->ifindex)
		return lobo_fail(err, -ENODEV, "xdp: no interface '%s' here: check the name and network namespace "
				 "with 'ip link'", xp->ifname);
	long have = rx_queue_count(xp->ifname);
	if (have > 0 && last >= have)
		return lobo_fail(err, -EINVAL, "xdp: %s has queues 0..%ld, not %u..%u: lower QUEUE or queues= "
				 "(ethtool -L changes them)", xp->ifname, have - 1, xp->first_queue, last);
	if (last >= LOBO_XDP_MAX_QUEUE)
		return lobo_fail(err, -EINVAL, "xdp: queue %u is beyond lobo's limit of %d", last, LOBO_XDP_MAX_QUEUE - 1);
	xp->rx_tag = calloc(mem->len / xp->chunk, sizeof *xp->rx_tag);
	xp->slots = calloc(2u * info->queues * info->tx_ring, sizeof *xp->slots);
	if (!xp->rx_tag || !xp->slots)
		return lobo_fail(err, -ENOMEM, "xdp: out of memory");
	for (uint16_t i = 0; i < info->queues; i++) {
		struct lobo_frame *s = xp->slots + 2u * i * info->tx_ring;
		xp->q[i].sent = (struct lobo_ring){.slot = s, .mask = info->tx_ring - 1u};
		xp->q[i].refused = (struct lobo_ring){.slot = s + info->tx_ring, .mask = info->tx_ring - 1u};
	}
	return 0;
}

/* The XDP program and the sockets, with libxdp and libbpf kept quiet (the
 * library never prints). */
static int attach_and_bind(struct xdp_port *xp, const char *mode, uint32_t kernel, char *err)
{
	libxdp_print_fn_t old_xdp = libxdp_set_print(silent);
	libbpf_print_fn_t old_bpf = libbpf_set_print(silent_bpf);
	int rc = remove_stale_program(xp, err);
	if (!rc)
		rc = attach_program(xp, mode, kernel, err);
	if (!rc)
		rc = open_sockets(xp, err);
	libxdp_set_print(old_xdp);
	libbpf_set_print(old_bpf);
	return rc;
}

static int xdp_open(struct lobo_port **out, const char *arg, const char *params,
		    struct lobo_mem *mem, char *err)
{
	char mode[16];
	long kernel = 0;
	struct xdp_port *xp = calloc(1, sizeof *xp);
	if (!xp)
		return lobo_fail(err, -ENOMEM, "xdp: out of memory");
	int rc = parse(xp, arg, params, mode, &kernel, err);
	if (!rc)
		rc = check_and_alloc(xp, mem, err);
	if (!rc)
		rc = attach_and_bind(xp, mode, (uint32_t)kernel, err);
	if (rc) {
		xdp_close(&xp->port);
		return rc;
	}
	xdp_refresh_info(&xp->port);
	*out = &xp->port;
	return 0;
}

const struct lobo_port_ops lobo_xdp_ops = {
	.scheme = "xdp",
	.open = xdp_open,
	.close = xdp_close,
	.refresh_info = xdp_refresh_info,
	.rx_post = xdp_rx_post,
	.rx_poll = xdp_rx_poll,
	.tx_post = xdp_tx_post,
	.tx_reclaim = xdp_tx_reclaim,
};
