/* The shadow interface (pci:BDF?shadow=NAME): a TAP device NAME that stands
 * for a NIC lobo drives whole, so that ip, ethtool and the kernel's stack go
 * on working with it. The shadow wraps the port: its ops do their part and
 * call the driver's (sh->inner).
 *
 *  - Control: what the operator changes on NAME arrives as rtnetlink messages
 *    and goes to the driver's control operations (port.h); a change the
 *    driver refuses is set back on NAME. The NIC's link is NAME's carrier.
 *  - Exception path in: rx_poll writes the frames the program does not claim
 *    into the TAP, where the kernel receives them as if they came in on
 *    NAME. By default those are unicast frames to NAME's address (diverted:
 *    only the kernel gets them) and broadcast or multicast ARP and ICMPv6
 *    (copied: the program gets them too, a forwarder must forward them); a
 *    pcap filter can choose instead. A diverted frame's buffer goes straight
 *    back to the driver's ring: the caller posted it and still counts it as
 *    posted. For that, rx_post hands the driver its own tags (slot numbers)
 *    and remembers the caller's buffer behind each.
 *  - Exception path out: what the kernel sends on NAME is read into one of
 *    OWN_BUFS buffers the shadow keeps from those posted to queue 0 (beyond
 *    what the NIC's ring takes, so the ring never starves; DMA-able, since
 *    the caller posted them to this NIC) and sent on queue 0. tx_reclaim
 *    keeps them back from the caller.
 * lobo_port_service does the control part and the way out, from the thread
 * that polls queue 0, so every counter keeps its one writer. */
#include "port.h"

#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/if_tun.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <pcap/pcap.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define OWN_BUFS 32      /* buffers for the kernel's frames; a burst beyond waits in the TAP's queue */
#define BATCH 256        /* frames per rx_poll/rx_post call to the driver */
#define LINK_CHECK_NS 100000000ull /* the carrier follows the link within 0.1 s */

enum verdict { KEEP, DIVERT, COPY, DROP };

struct rx_slots {           /* per queue: the caller's buffer behind each tag the driver holds */
	struct lobo_frame *slot;
	uint32_t *free, nfree;
};

/* What the NIC was last given. */
struct nic_state {
	uint8_t mac[6];
	uint32_t mtu;
	bool up, promisc, allmulti; /* up is read by rx_poll and tx_post: atomic */
	uint16_t nmc;
	uint8_t mc[LOBO_MC_MAX + 1][6];
};

struct lobo_shadow {
	const struct lobo_port_ops *inner;
	struct lobo_port_ops ops;       /* the driver's, with the shadow's data path in front */
	char name[IF_NAMESIZE];
	int ifindex, tap, ctl, epoll;  /* ctl: a socket for SIOCSIF* ioctls */
	struct mnl_socket *nl;
	struct bpf_program filter;      /* bf_insns NULL: no exception= filter */
	bool mc_stale, allmulti_asked;
	uint64_t mac_key;               /* nic.mac as a number, for rx_poll: atomic */
	uint64_t next_link_ns;
	struct nic_state nic;
	struct rx_slots rx[LOBO_MAX_QUEUES];
	struct lobo_frame own[OWN_BUFS]; /* the kept buffers: data, capacity, the caller's tag */
	bool sending[OWN_BUFS];
	uint16_t nown, idle[OWN_BUFS], nidle; /* idle: a stack of kept buffers not being sent */
	struct lobo_ring done;          /* the caller's sent frames the service reclaimed for it */
};

/* A MAC address as one number, which another thread reads whole. */
static uint64_t mac_key(const uint8_t mac[6])
{
	uint64_t k = 0;
	memcpy(&k, mac, 6);
	return k;
}

static bool is_up(const struct lobo_shadow *sh) { return __atomic_load_n(&sh->nic.up, __ATOMIC_RELAXED); }

/* ------------------------------------------------------------ the way in */

static enum verdict classify(const struct lobo_shadow *sh, bool up, const struct lobo_frame *f)
{
	const uint8_t *d = f->data;
	if (f->flags & LOBO_F_ERROR)
		return KEEP; /* damaged (in rx_errors): the caller sees it flagged, as without a shadow */
	if (!up)
		return DROP; /* the shadow is down: so is the port */
	if (f->len < 14)
		return KEEP;
	bool group = d[0] & 1;
	if (sh->filter.bf_insns) {
		struct pcap_pkthdr h = {.caplen = f->len, .len = f->len};
		if (!pcap_offline_filter(&sh->filter, &h, d))
			return KEEP;
		return group ? COPY : DIVERT;
	}
	if (!group)
		return mac_key(d) == __atomic_load_n(&sh->mac_key, __ATOMIC_RELAXED) ? DIVERT : KEEP;
	uint16_t type = (uint16_t)(d[12] << 8 | d[13]);
	if (type == 0x0806 || (type == 0x86dd && f->len >= 54 && d[20] == 58)) /* ARP; IPv6 next header ICMPv6 */
		return COPY;
	return KEEP;
}

static void to_kernel(const struct lobo_shadow *sh, struct lobo_counters *c, const struct lobo_frame *f)
{
	if (write(sh->tap, f->data, f->len) == (ssize_t)f->len)
		c->exception_rx++;
	else
		c->exception_rx_dropped++;
}

/* The driver gets slot numbers as tags; buffers it does not take are the caller's again. */
static uint16_t post_to_driver(struct lobo_port *p, uint16_t q, const struct lobo_frame *bufs, uint16_t n)
{
	struct lobo_shadow *sh = p->shadow;
	struct rx_slots *r = &sh->rx[q];
	struct lobo_frame f[BATCH];
	uint16_t k = n < BATCH ? n : BATCH;
	k = k < r->nfree ? k : (uint16_t)r->nfree;
	if (!k)
		return 0;
	for (uint16_t i = 0; i < k; i++) {
		f[i] = bufs[i];
		f[i].tag = r->free[--r->nfree];
		r->slot[f[i].tag] = bufs[i];
	}
	uint16_t took = sh->inner->rx_post(p, q, f, k);
	for (uint16_t i = k; i-- > took;)
		r->free[r->nfree++] = (uint32_t)f[i].tag;
	return took;
}

/* Keeps buffers the ring did not take for the kernel's frames (queue 0). */
static uint16_t keep_own(struct lobo_port *p, const struct lobo_frame *bufs, uint16_t n)
{
	struct lobo_shadow *sh = p->shadow;
	uint16_t i = 0;
	for (; i < n && sh->nown < OWN_BUFS && bufs[i].len >= p->info.max_frame; i++) {
		sh->own[sh->nown] = bufs[i];
		sh->idle[sh->nidle++] = sh->nown++;
	}
	return i;
}

static uint16_t shadow_rx_post(struct lobo_port *p, uint16_t q, const struct lobo_frame *bufs, uint16_t n)
{
	uint16_t took = 0, got;
	do {
		got = post_to_driver(p, q, bufs + took, (uint16_t)(n - took));
		took += got;
	} while (got == BATCH && took < n);
	if (q == 0 && took < n)
		took += keep_own(p, bufs + took, (uint16_t)(n - took));
	return took;
}

static uint16_t shadow_rx_poll(struct lobo_port *p, uint16_t q, struct lobo_frame *f, uint16_t max)
{
	struct lobo_shadow *sh = p->shadow;
	struct rx_slots *r = &sh->rx[q];
	struct lobo_counters *c = &p->counters[q];
	struct lobo_frame back[BATCH];
	uint16_t n = sh->inner->rx_poll(p, q, f, max < BATCH ? max : BATCH), kept = 0, nback = 0;
	bool up = is_up(sh);
	for (uint16_t i = 0; i < n; i++) {
		uint32_t s = (uint32_t)f[i].tag;
		enum verdict v = classify(sh, up, &f[i]);
		if (v == DIVERT || v == COPY)
			to_kernel(sh, c, &f[i]);
		if (v == DROP) { /* the driver counted it received: it is dropped instead */
			c->rx_packets--;
			c->rx_bytes -= f[i].len;
			c->rx_dropped++;
		}
		if (v == DIVERT || v == DROP) {
			back[nback] = r->slot[s];
			back[nback++].tag = s;
			continue;
		}
		f[i].tag = r->slot[s].tag;
		r->free[r->nfree++] = s;
		f[kept++] = f[i];
	}
	uint16_t again = nback ? sh->inner->rx_post(p, q, back, nback) : 0;
	/* Refused (the MTU grew past it): the caller's again, flagged so that it
	 * is freed, not read; its frame is counted already (diverted, dropped). */
	for (uint16_t i = again; i < nback; i++) {
		struct lobo_frame *b = &r->slot[back[i].tag];
		r->free[r->nfree++] = (uint32_t)back[i].tag;
		f[kept++] = (struct lobo_frame){.data = b->data, .flags = LOBO_F_ERROR, .tag = b->tag};
	}
	return kept;
}

/* ------------------------------------------------------------ the way out */

static uint16_t shadow_tx_post(struct lobo_port *p, uint16_t q, const struct lobo_frame *f, uint16_t n)
{
	return is_up(p->shadow) ? p->shadow->inner->tx_post(p, q, f, n) : 0;
}

/* Takes the shadow's own buffers out of reclaimed frames; returns how many
 * are left. A caller's frame cannot match: that buffer is the shadow's now. */
static uint16_t take_own(struct lobo_shadow *sh, struct lobo_frame *f, uint16_t n)
{
	uint16_t left = 0;
	if (sh->nidle == sh->nown)
		return n; /* none being sent */
	for (uint16_t i = 0; i < n; i++) {
		uint64_t t = f[i].tag;
		if (t < sh->nown && sh->sending[t] && sh->own[t].data == f[i].data) {
			sh->sending[t] = false;
			sh->idle[sh->nidle++] = (uint16_t)t;
		} else {
			f[left++] = f[i];
		}
	}
	return left;
}

/* Queue 0 also carries the kernel's frames, and what the service reclaimed. */
static uint16_t shadow_tx_reclaim(struct lobo_port *p, uint16_t q, struct lobo_frame *f, uint16_t max)
{
	struct lobo_shadow *sh = p->shadow;
	if (q)
		return sh->inner->tx_reclaim(p, q, f, max);
	uint16_t n = lobo_ring_take(&sh->done, f, max);
	uint16_t got = sh->inner->tx_reclaim(p, 0, f + n, (uint16_t)(max - n));
	return (uint16_t)(n + take_own(sh, f + n, got));
}

/* The kernel announces a multicast join on the wire: IGMP, or MLD (behind a
 * hop-by-hop header). Then its list on NAME has changed. */
static bool is_join(const struct lobo_frame *f)
{
	const uint8_t *d = f->data;
	uint16_t type = (uint16_t)(d[12] << 8 | d[13]);
	return (d[0] & 1) && f->len >= 34 && ((type == 0x0800 && d[23] == 2) || (type == 0x86dd && d[20] == 0));
}

/* Sends what the kernel sent on NAME, in kept buffers; first takes back those
 * the NIC is done with, parking the caller's frames for its tx_reclaim. */
static void send_from_kernel(struct lobo_port *p)
{
	struct lobo_shadow *sh = p->shadow;
	struct lobo_counters *c = &p->counters[0];
	struct lobo_frame f[LOBO_BATCH];
	uint32_t room = sh->done.mask + 1 - (sh->done.tail - sh->done.head);
	if (sh->nidle < sh->nown && room) {
		uint16_t n = sh->inner->tx_reclaim(p, 0, f, room < LOBO_BATCH ? (uint16_t)room : LOBO_BATCH);
		lobo_ring_put(&sh->done, f, take_own(sh, f, n));
	}
	while (sh->nidle) {
		uint16_t i = sh->idle[sh->nidle - 1];
		struct lobo_frame out = {.data = sh->own[i].data, .tag = i};
		ssize_t len = read(sh->tap, out.data, sh->own[i].len);
		if (len < 0)
			break; /* EAGAIN: the kernel has sent nothing more */
		out.len = (uint32_t)len;
		if (len < 14 || out.len > p->info.max_frame || !is_up(sh) || sh->inner->tx_post(p, 0, &out, 1) != 1) {
			c->exception_tx_dropped++;
			continue;
		}
		sh->nidle--;
		sh->sending[i] = true;
		c->exception_tx++;
		sh->mc_stale |= is_join(&out);
	}
}

/* ------------------------------------------------------------ control */

static int set_flag(struct lobo_shadow *sh, short flag, bool on)
{
	struct ifreq ifr = {0};
	memcpy(ifr.ifr_name, sh->name, sizeof sh->name);
	if (ioctl(sh->ctl, SIOCGIFFLAGS, &ifr))
		return -errno;
	ifr.ifr_flags = (short)(on ? ifr.ifr_flags | flag : ifr.ifr_flags & ~flag);
	return ioctl(sh->ctl, SIOCSIFFLAGS, &ifr) ? -errno : 0;
}

static int set_tap_mac(struct lobo_shadow *sh, const uint8_t mac[6])
{
	struct ifreq ifr = {.ifr_hwaddr.sa_family = 1 /* ARPHRD_ETHER */};
	memcpy(ifr.ifr_name, sh->name, sizeof sh->name);
	memcpy(ifr.ifr_hwaddr.sa_data, mac, 6);
	return ioctl(sh->ctl, SIOCSIFHWADDR, &ifr) ? -errno : 0;
}

static int set_tap_mtu(struct lobo_shadow *sh, uint32_t mtu)
{
	struct ifreq ifr = {.ifr_mtu = (int)mtu};
	memcpy(ifr.ifr_name, sh->name, sizeof sh->name);
	return ioctl(sh->ctl, SIOCSIFMTU, &ifr) ? -errno : 0;
}

static int no_support(char *err)
{
	lobo_err(err, "its driver has no such operation");
	return -EOPNOTSUPP;
}

/* A refused change: err names NAME, what the NIC would not do and why. */
static int refused(const struct lobo_shadow *sh, int rc, const char *what, char *err)
{
	char why[LOBO_ERR_LEN];
	snprintf(why, sizeof why, "%s", err);
	lobo_err(err, "shadow %s: the NIC cannot %s (%.100s): set back on %s", sh->name, what, why, sh->name);
	return rc;
}

static int apply_mac(struct lobo_port *p, const uint8_t mac[6], char *err)
{
	struct lobo_shadow *sh = p->shadow;
	if (!memcmp(mac, sh->nic.mac, 6))
		return 0;
	int rc = sh->inner->set_mac ? sh->inner->set_mac(p, mac, err) : no_support(err);
	if (rc) {
		set_tap_mac(sh, sh->nic.mac);
		return refused(sh, rc, "take this address", err);
	}
	memcpy(sh->nic.mac, mac, 6);
	__atomic_store_n(&sh->mac_key, mac_key(mac), __ATOMIC_RELAXED);
	return 0;
}

static int apply_mtu(struct lobo_port *p, uint32_t mtu, char *err)
{
	struct lobo_shadow *sh = p->shadow;
	if (mtu == sh->nic.mtu)
		return 0;
	int rc = sh->inner->set_mtu ? sh->inner->set_mtu(p, mtu, err) : no_support(err);
	if (rc) {
		set_tap_mtu(sh, sh->nic.mtu);
		return refused(sh, rc, "take this MTU", err);
	}
	sh->nic.mtu = mtu;
	return 0;
}

/* A driver without set_enabled runs on; the shadow stops the port's traffic
 * itself (rx_poll drops, tx_post takes nothing). */
static int apply_up(struct lobo_port *p, bool up, char *err)
{
	struct lobo_shadow *sh = p->shadow;
	if (up == sh->nic.up)
		return 0;
	int rc = sh->inner->set_enabled ? sh->inner->set_enabled(p, up, err) : 0;
	if (rc) {
		set_flag(sh, IFF_UP, sh->nic.up);
		return refused(sh, rc, up ? "go up" : "go down", err);
	}
	__atomic_store_n(&sh->nic.up, up, __ATOMIC_RELAXED);
	return 0;
}

/* A flag the NIC follows (promisc, allmulti); a refusal sets NAME's back. */
static int apply_flag(struct lobo_port *p, int (*op)(struct lobo_port *, bool, char *), short flag, bool *now, bool on,
		      const char *what, char *err)
{
	struct lobo_shadow *sh = p->shadow;
	if (on == *now)
		return 0;
	int rc = op ? op(p, on, err) : no_support(err);
	if (rc) {
		set_flag(sh, flag, *now);
		return refused(sh, rc, what, err);
	}
	*now = on;
	return 0;
}

static int apply_promisc(struct lobo_port *p, bool on, char *err)
{
	return apply_flag(p, p->shadow->inner->set_promisc, IFF_PROMISC, &p->shadow->nic.promisc, on,
			  on ? "go promiscuous" : "leave promiscuous mode", err);
}

static int apply_allmulti(struct lobo_port *p, bool on, char *err)
{
	return apply_flag(p, p->shadow->inner->set_allmulti, IFF_ALLMULTI, &p->shadow->nic.allmulti, on,
			  on ? "accept all multicast" : "leave allmulticast mode", err);
}

/* NAME's link-layer multicast list, from /proc (rtnetlink has no message
 * for it): up to LOBO_MC_MAX + 1 addresses, the last meaning "too many". */
static uint16_t read_mc(const struct lobo_shadow *sh, uint8_t (*mc)[6])
{
	char line[160];
	int index;
	unsigned m[6];
	uint16_t n = 0;
	FILE *f = fopen("/proc/self/net/dev_mcast", "r");
	while (f && n <= LOBO_MC_MAX && fgets(line, sizeof line, f)) {
		if (sscanf(line, "%d %*s %*d %*d %2x%2x%2x%2x%2x%2x", &index, &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]) != 7 ||
		    index != sh->ifindex)
			continue;
		for (int k = 0; k < 6; k++)
			mc[n][k] = (uint8_t)m[k];
		n++;
	}
	if (f)
		fclose(f);
	return n;
}

/* The multicast list, then allmulti as asked (or forced: by a list longer
 * than LOBO_MC_MAX, or one the NIC refused). */
static int apply_mc(struct lobo_port *p, char *err)
{
	struct lobo_shadow *sh = p->shadow;
	uint8_t mc[LOBO_MC_MAX + 1][6];
	uint16_t n = read_mc(sh, mc);
	sh->mc_stale = false;
	if (n > LOBO_MC_MAX)
		return apply_allmulti(p, true, err);
	if (n != sh->nic.nmc || memcmp(mc, sh->nic.mc, 6u * n)) {
		int rc = sh->inner->set_mc_list ? sh->inner->set_mc_list(p, (const uint8_t(*)[6])mc, n, err) : no_support(err);
		if (rc) {
			apply_allmulti(p, true, err);
			return refused(sh, rc, "take this multicast list (accepting all multicast instead)", err);
		}
		sh->nic.nmc = n;
		memcpy(sh->nic.mc, mc, 6u * n);
	}
	return apply_allmulti(p, sh->allmulti_asked, err);
}

struct link_msg {
	struct lobo_port *port;
	char *err;
	int rc;
};

static int link_attr(const struct nlattr *a, void *data)
{
	const struct nlattr **tb = data;
	if (mnl_attr_type_valid(a, IFLA_MAX) > 0)
		tb[mnl_attr_get_type(a)] = a;
	return MNL_CB_OK;
}

static uint32_t attr_u32(const struct nlattr *a) { return a && mnl_attr_get_payload_len(a) == 4 ? mnl_attr_get_u32(a) : 0; }

/* One rtnetlink message: what changed on NAME goes to the NIC. */
static int on_message(const struct nlmsghdr *nlh, void *data)
{
	struct link_msg *m = data;
	struct lobo_port *p = m->port;
	struct lobo_shadow *sh = p->shadow;
	const struct nlattr *tb[IFLA_MAX + 1] = {0};
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	if (nlh->nlmsg_type == RTM_NEWADDR || nlh->nlmsg_type == RTM_DELADDR) {
		const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
		sh->mc_stale |= (int)ifa->ifa_index == sh->ifindex; /* an address brings its groups */
		return MNL_CB_OK;
	}
	if (nlh->nlmsg_type == RTM_DELLINK && ifi->ifi_index == sh->ifindex) {
		lobo_err(m->err, "shadow %s was deleted: the port runs on without it", sh->name);
		m->rc = -ENODEV;
	}
	if (nlh->nlmsg_type != RTM_NEWLINK || ifi->ifi_index != sh->ifindex ||
	    mnl_attr_parse(nlh, sizeof *ifi, link_attr, tb) < 0)
		return MNL_CB_OK;
	bool bad = false;
	if (tb[IFLA_ADDRESS] && mnl_attr_get_payload_len(tb[IFLA_ADDRESS]) == 6)
		bad |= apply_mac(p, mnl_attr_get_payload(tb[IFLA_ADDRESS]), m->err) != 0;
	if (tb[IFLA_MTU])
		bad |= apply_mtu(p, attr_u32(tb[IFLA_MTU]), m->err) != 0;
	bad |= apply_up(p, ifi->ifi_flags & IFF_UP, m->err) != 0;
	bad |= apply_promisc(p, (ifi->ifi_flags & IFF_PROMISC) || attr_u32(tb[IFLA_PROMISCUITY]), m->err) != 0;
	sh->allmulti_asked = (ifi->ifi_flags & IFF_ALLMULTI) || attr_u32(tb[IFLA_ALLMULTI]);
	bad |= apply_mc(p, m->err) != 0;
	if (bad)
		m->rc = -EIO;
	return MNL_CB_OK;
}

/* An rtnetlink request about NAME; sent without waiting for an answer. */
static struct nlmsghdr *link_request(const struct lobo_shadow *sh, char *buf, uint16_t type)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof *ifi);
	ifi->ifi_index = sh->ifindex;
	return nlh;
}

/* Asks for NAME's whole state again, after the socket lost messages. */
static void ask_link(struct lobo_shadow *sh)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = link_request(sh, buf, RTM_GETLINK);
	mnl_socket_sendto(sh->nl, nlh, nlh->nlmsg_len);
}

static int read_netlink(struct lobo_port *p, char *err)
{
	struct lobo_shadow *sh = p->shadow;
	char buf[16384];
	struct link_msg m = {p, err, 0};
	ssize_t len;
	while ((len = mnl_socket_recvfrom(sh->nl, buf, sizeof buf)) > 0)
		mnl_cb_run(buf, (size_t)len, 0, 0, on_message, &m);
	if (len < 0 && errno == ENOBUFS)
		ask_link(sh);
	return m.rc;
}

/* NAME's carrier is the NIC's link (the kernel ignores a carrier set twice). */
static void follow_link(struct lobo_port *p)
{
	struct lobo_shadow *sh = p->shadow;
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &t);
	uint64_t now = (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
	if (now < sh->next_link_ns)
		return;
	sh->next_link_ns = now + LINK_CHECK_NS;
	int link = lobo_port_info(p)->link_up;
	ioctl(sh->tap, TUNSETCARRIER, &link);
}

int lobo_port_service(struct lobo_port *p, char *err)
{
	if (!p->shadow)
		return p->ops->service ? p->ops->service(p, err) : 0;
	int rc = read_netlink(p, err);
	if (p->shadow->mc_stale && !rc && apply_mc(p, err))
		rc = -EIO;
	follow_link(p);
	send_from_kernel(p);
	return rc;
}

int lobo_port_fd(const struct lobo_port *p)
{
	return p->shadow ? p->shadow->epoll : -1;
}

/* ------------------------------------------------------------ open, close */

static void shadow_refresh_info(struct lobo_port *p)
{
	if (p->shadow->inner->refresh_info)
		p->shadow->inner->refresh_info(p);
}

static void free_shadow(struct lobo_shadow *sh)
{
	if (sh->epoll >= 0)
		close(sh->epoll);
	if (sh->nl)
		mnl_socket_close(sh->nl);
	if (sh->ctl >= 0)
		close(sh->ctl);
	if (sh->tap >= 0)
		close(sh->tap); /* not persistent: NAME goes with it */
	pcap_freecode(&sh->filter);
	free(sh->rx[0].slot);
	free(sh);
}

static void shadow_close(struct lobo_port *p)
{
	struct lobo_shadow *sh = p->shadow;
	p->ops = sh->inner;
	p->shadow = NULL;
	free_shadow(sh);
	p->ops->close(p);
}

/* The driver's ops with the shadow's data path and close in front: what the
 * shadow does not wrap (hardware counters, link, RSS, the transmit loop, the
 * control operations) goes to the driver as it is. */
static void wrap_ops(struct lobo_shadow *sh)
{
	sh->ops = *sh->inner;
	sh->ops.close = shadow_close;
	sh->ops.refresh_info = shadow_refresh_info;
	sh->ops.rx_post = shadow_rx_post;
	sh->ops.rx_poll = shadow_rx_poll;
	sh->ops.tx_post = shadow_tx_post;
	sh->ops.tx_reclaim = shadow_tx_reclaim;
}

static int compile_filter(struct lobo_shadow *sh, const char *filter, char *err)
{
	if (!*filter)
		return 0;
	pcap_t *dead = pcap_open_dead(DLT_EN10MB, 65535);
	if (!dead)
		return lobo_fail(err, -ENOMEM, "shadow: out of memory");
	int rc = pcap_compile(dead, &sh->filter, filter, 1, PCAP_NETMASK_UNKNOWN);
	if (rc)
		rc = lobo_fail(err, -EINVAL, "shadow: bad exception filter '%s': %s: see man 7 pcap-filter", filter,
			       pcap_geterr(dead));
	pcap_close(dead);
	return rc;
}

/* Rx slot tables for every queue in one allocation, and the ring of frames
 * parked for the caller (as long as the NIC's tx ring). */
static int alloc_tables(struct lobo_shadow *sh, const struct lobo_port_info *info, char *err)
{
	uint32_t ring = info->rx_ring, park = 1;
	while (park < info->tx_ring)
		park <<= 1;
	size_t per_queue = ring * (sizeof(struct lobo_frame) + sizeof(uint32_t));
	uint8_t *mem = calloc(1, info->queues * per_queue + park * sizeof(struct lobo_frame));
	if (!mem)
		return lobo_fail(err, -ENOMEM, "shadow: out of memory");
	for (uint16_t q = 0; q < info->queues; q++) {
		struct rx_slots *r = &sh->rx[q];
		r->slot = (struct lobo_frame *)(mem + q * per_queue);
		r->free = (uint32_t *)(r->slot + ring);
		for (r->nfree = 0; r->nfree < ring; r->nfree++)
			r->free[r->nfree] = ring - 1 - r->nfree;
	}
	sh->done = (struct lobo_ring){.slot = (struct lobo_frame *)(mem + info->queues * per_queue), .mask = park - 1};
	return 0;
}

static int open_tap(struct lobo_shadow *sh, char *err)
{
	struct ifreq ifr = {.ifr_flags = IFF_TAP | IFF_NO_PI};
	memcpy(ifr.ifr_name, sh->name, sizeof sh->name);
	sh->tap = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (sh->tap < 0 || ioctl(sh->tap, TUNSETIFF, &ifr))
		return lobo_fail(err, -errno, "shadow: cannot create TAP '%s': %s: run as root (CAP_NET_ADMIN), "
				 "or `modprobe tun`", sh->name, strerror(errno));
	sh->ifindex = (int)if_nametoindex(sh->name);
	sh->ctl = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sh->ctl < 0)
		return lobo_fail(err, -errno, "shadow: no socket for ioctls: %s", strerror(errno));
	return 0;
}

static int open_netlink(struct lobo_shadow *sh, char *err)
{
	sh->nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (!sh->nl || mnl_socket_bind(sh->nl, RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR, MNL_SOCKET_AUTOPID))
		return lobo_fail(err, -errno, "shadow: cannot open an rtnetlink socket: %s", strerror(errno));
	struct epoll_event in = {.events = EPOLLIN};
	sh->epoll = epoll_create1(EPOLL_CLOEXEC);
	if (sh->epoll < 0 || epoll_ctl(sh->epoll, EPOLL_CTL_ADD, mnl_socket_get_fd(sh->nl), &in) ||
	    epoll_ctl(sh->epoll, EPOLL_CTL_ADD, sh->tap, &in))
		return lobo_fail(err, -errno, "shadow: epoll: %s", strerror(errno));
	return 0;
}

/* A TAP counts only what crosses it (the exception path) and no one can set
 * its counters: `ip link` says where the port's totals are. */
static void set_alias(struct lobo_shadow *sh, const struct lobo_port_info *info)
{
	char buf[MNL_SOCKET_BUFFER_SIZE], alias[128];
	struct nlmsghdr *nlh = link_request(sh, buf, RTM_NEWLINK);
	snprintf(alias, sizeof alias, "lobo %s (%s): port counters in lobo top", info->name, info->driver);
	mnl_attr_put_strz(nlh, IFLA_IFALIAS, alias);
	mnl_socket_sendto(sh->nl, nlh, nlh->nlmsg_len);
}

/* NAME as the NIC is: its address, MTU and link, up, promiscuous (port.h). */
static int mirror_nic(struct lobo_shadow *sh, const struct lobo_port_info *info, char *err)
{
	int carrier = info->link_up, rc = set_tap_mac(sh, info->mac);
	if (!rc)
		rc = set_tap_mtu(sh, info->max_frame - 18);
	if (!rc)
		rc = ioctl(sh->tap, TUNSETCARRIER, &carrier) ? -errno : 0;
	if (!rc)
		rc = set_flag(sh, IFF_UP | IFF_PROMISC, true);
	if (rc)
		lobo_err(err, "shadow: cannot set up '%s': %s", sh->name, strerror(-rc));
	set_alias(sh, info);
	sh->nic = (struct nic_state){.mtu = info->max_frame - 18, .up = true, .promisc = true};
	memcpy(sh->nic.mac, info->mac, 6);
	sh->mac_key = mac_key(info->mac);
	sh->mc_stale = true;
	return rc;
}

/* The messages our own set-up caused: mirror_nic already recorded that
 * state. Then NAME's state once more, in case someone changed it meanwhile. */
static void forget_own_changes(struct lobo_shadow *sh)
{
	char buf[16384];
	while (mnl_socket_recvfrom(sh->nl, buf, sizeof buf) > 0)
		;
	ask_link(sh);
}

int lobo_shadow_attach(struct lobo_port *p, const char *name, const char *filter, char *err)
{
	if (!*name || strlen(name) >= IF_NAMESIZE)
		return lobo_fail(err, -EINVAL, "shadow: '%s' is not an interface name: use 1 to %d characters, "
				 "e.g. shadow=lobo0", name, IF_NAMESIZE - 1);
	if (if_nametoindex(name))
		return lobo_fail(err, -EEXIST, "shadow: interface '%s' exists already: pick another name, "
				 "or `ip link del %s`", name, name);
	if (p->info.max_frame < 18 + 68)
		return lobo_fail(err, -EINVAL, "shadow: %s has no MTU: it cannot have a shadow", p->info.name);
	struct lobo_shadow *sh = calloc(1, sizeof *sh);
	if (!sh)
		return lobo_fail(err, -ENOMEM, "shadow: out of memory");
	*sh = (struct lobo_shadow){.inner = p->ops, .tap = -1, .ctl = -1, .epoll = -1};
	memcpy(sh->name, name, strlen(name) + 1);
	int rc = compile_filter(sh, filter, err);
	if (rc)
		goto fail;
	rc = alloc_tables(sh, &p->info, err);
	if (rc)
		goto fail;
	rc = open_tap(sh, err);
	if (rc)
		goto fail;
	rc = open_netlink(sh, err);
	if (rc)
		goto fail;
	rc = mirror_nic(sh, &p->info, err);
	if (rc)
		goto fail;
	forget_own_changes(sh);
	p->shadow = sh;
	wrap_ops(sh);
	p->ops = &sh->ops;
	p->info.rx_ring += OWN_BUFS;
	memcpy(p->info.shadow, name, strlen(name) + 1);
	return 0;
fail:
	free_shadow(sh); /* closes what was opened: NAME goes with its fd */
	return rc;
}
