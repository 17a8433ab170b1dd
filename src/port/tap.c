/* tap:NAME[?queues=N&rx_ring=N&tx_ring=N] — a TAP device (Documentation/
 * networking/tuntap.rst): what the kernel sends out of NAME arrives on rx, what
 * lobo sends on tx enters the kernel as if received on NAME. One non-blocking
 * fd per queue (IFF_MULTI_QUEUE when queues > 1). A missing NAME is created
 * and brought up, and disappears on close since it is not persistent; an
 * existing one is attached to and left as it was. read(2)/write(2) copy each
 * frame; the copies are counted. Frames the kernel dropped because lobo read
 * too slowly are added to queue 0's rx_dropped by its rx_poll. */
#include "port.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define POLLS_PER_STATS 4096u /* reading /proc/self/net/dev costs 10-35 us */

struct tap_port {
	struct lobo_port port;
	char ifname[IF_NAMESIZE];
	int fd[LOBO_MAX_QUEUES];
	uint64_t kernel_drops; /* the device's tx_dropped when last read */
	uint32_t polls;        /* of queue 0, to read the device's drops now and then */
	struct lobo_ring posted[LOBO_MAX_QUEUES], done[LOBO_MAX_QUEUES];
	struct lobo_frame slots[];
};

static uint16_t tap_rx_post(struct lobo_port *p, uint16_t q, const struct lobo_frame *f, uint16_t n)
{
	return lobo_ring_put(&((struct tap_port *)p)->posted[q], f, n);
}

/* What the kernel sends out of the tap goes to lobo; frames it could not queue
 * because lobo read too slowly count as the device's tx drops. /proc/net/dev,
 * unlike sysfs, shows the reader's network namespace. The tap's tx_dropped,
 * or 0 with *found false if it cannot be read. */
static uint64_t device_tx_dropped(const char *ifname, bool *found)
{
	char line[512];
	unsigned long long v = 0;
	*found = false;
	size_t len = strlen(ifname);
	FILE *f = fopen("/proc/self/net/dev", "r");
	while (f && fgets(line, sizeof line, f)) {
		char *name = line + strspn(line, " ");
		if (!strncmp(name, ifname, len) && name[len] == ':' &&
		    sscanf(name + len + 1, "%*u %*u %*u %*u %*u %*u %*u %*u %*u %*u %*u %llu", &v) == 1) {
			*found = true;
			break;
		}
	}
	if (f)
		fclose(f);
	return v;
}

/* Adds the device's new drops to queue 0: only its rx_poll calls this, so the
 * counters keep one writer. An unreadable row must not wind the counter back. */
static void count_kernel_drops(struct tap_port *tp)
{
	bool found;
	uint64_t drops = device_tx_dropped(tp->ifname, &found);
	if (found) {
		tp->port.counters[0].rx_dropped += drops - tp->kernel_drops;
		tp->kernel_drops = drops;
	}
}

static uint16_t tap_rx_poll(struct lobo_port *p, uint16_t q, struct lobo_frame *f, uint16_t max)
{
	struct tap_port *tp = (struct tap_port *)p;
	struct lobo_ring *posted = &tp->posted[q];
	struct lobo_counters *c = &p->counters[q];
	uint16_t n = 0;
	if (q == 0 && ++tp->polls % POLLS_PER_STATS == 0)
		count_kernel_drops(tp);
	while (n < max && posted->head != posted->tail) {
		struct lobo_frame *buf = &posted->slot[posted->head & posted->mask];
		/* read(2) cuts a frame short to fit without a word; one byte more
		 * than the buffer holds tells a frame that did not fit */
		uint8_t spill;
		struct iovec iov[2] = {{buf->data, buf->len}, {&spill, 1}};
		ssize_t len = readv(tp->fd[q], iov, 2);
		if (len < 0)
			break; /* EAGAIN: nothing waiting; other errors: link_up says why */
		if (len > p->info.max_frame) {
			c->rx_errors++;
			continue;
		}
		if (len > buf->len) {
			c->rx_dropped++; /* the posted buffer was too small */
			continue;
		}
		posted->head++;
		f[n] = (struct lobo_frame){.data = buf->data, .len = (uint32_t)len, .tag = buf->tag};
		n++;
		c->rx_bytes += (uint64_t)len;
	}
	c->rx_packets += n;
	c->copies += n;
	return n;
}

static uint16_t tap_tx_post(struct lobo_port *p, uint16_t q, const struct lobo_frame *f, uint16_t n)
{
	struct tap_port *tp = (struct tap_port *)p;
	struct lobo_counters *c = &p->counters[q];
	struct lobo_ring *done = &tp->done[q];
	uint32_t room = done->mask + 1 - (done->tail - done->head);
	uint16_t taken = 0;
	for (; taken < n && taken < room; taken++) {
		if (f[taken].len < 14 || f[taken].len > p->info.max_frame) {
			c->tx_errors++;
			continue;
		}
		if (write(tp->fd[q], f[taken].data, f[taken].len) < 0) {
			if (errno == EAGAIN)
				break;
			c->tx_dropped++; /* e.g. EIO while the device is down */
			continue;
		}
		c->tx_packets++;
		c->tx_bytes += f[taken].len;
		c->copies++;
	}
	lobo_ring_put(done, f, taken);
	return taken;
}

/* write(2) copied the frames, so buffers come back at once. */
static uint16_t tap_tx_reclaim(struct lobo_port *p, uint16_t q, struct lobo_frame *f, uint16_t max)
{
	return lobo_ring_take(&((struct tap_port *)p)->done[q], f, max);
}

static void tap_refresh_info(struct lobo_port *p)
{
	struct tap_port *tp = (struct tap_port *)p;
	struct ifreq ifr = {0};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	memcpy(ifr.ifr_name, tp->ifname, sizeof tp->ifname);
	if (fd >= 0 && !ioctl(fd, SIOCGIFHWADDR, &ifr))
		memcpy(p->info.mac, ifr.ifr_hwaddr.sa_data, 6);
	p->info.link_up = fd >= 0 && !ioctl(fd, SIOCGIFFLAGS, &ifr) && (ifr.ifr_flags & IFF_RUNNING);
	if (fd >= 0 && !ioctl(fd, SIOCGIFMTU, &ifr))
		p->info.max_frame = (uint32_t)ifr.ifr_mtu + 14 + 4;
	if (fd >= 0)
		close(fd);
}

static void tap_close(struct lobo_port *p)
{
	struct tap_port *tp = (struct tap_port *)p;
	for (uint16_t q = 0; q < p->info.queues; q++)
		if (tp->fd[q] >= 0)
			close(tp->fd[q]);
	free(tp);
}

static int bring_up(const char *ifname, char *err)
{
	struct ifreq ifr = {0};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc = 0;
	memcpy(ifr.ifr_name, ifname, strlen(ifname) + 1);
	if (fd < 0 || ioctl(fd, SIOCGIFFLAGS, &ifr) ||
	    (ifr.ifr_flags |= IFF_UP, ioctl(fd, SIOCSIFFLAGS, &ifr))) {
		rc = -errno;
		lobo_err(err, "tap: cannot bring '%s' up: %s: run as root or grant CAP_NET_ADMIN", ifname, strerror(errno));
	}
	if (fd >= 0)
		close(fd);
	return rc;
}

static int tap_open(struct lobo_port **out, const char *arg, const char *params,
		    struct lobo_mem *mem, char *err)
{
	static const char *const known[] = {"queues", "rx_ring", "tx_ring", NULL};
	struct lobo_port_info info = {0};
	(void)mem; /* frames are copied, so any memory will do */
	int rc = lobo_params_check(params, "tap", known, err);
	if (!rc)
		rc = lobo_params_rings(params, &info, 1024, err);
	if (rc)
		return rc;
	if (!*arg || strlen(arg) >= IF_NAMESIZE) {
		lobo_err(err, "tap: '%s' is not an interface name: use 1 to %d characters, e.g. tap:lobo0", arg, IF_NAMESIZE - 1);
		return -EINVAL;
	}
	size_t slots = (size_t)info.queues * (info.rx_ring + info.tx_ring);
	struct tap_port *tp = calloc(1, sizeof *tp + slots * sizeof tp->slots[0]);
	if (!tp) {
		lobo_err(err, "tap: out of memory");
		return -ENOMEM;
	}
	tp->port.info = info;
	memcpy(tp->ifname, arg, strlen(arg) + 1);
	bool created = !if_nametoindex(arg);
	struct lobo_frame *s = tp->slots;
	for (uint16_t q = 0; q < info.queues; q++, s += info.rx_ring + info.tx_ring) {
		tp->posted[q] = (struct lobo_ring){.slot = s, .mask = info.rx_ring - 1u};
		tp->done[q] = (struct lobo_ring){.slot = s + info.rx_ring, .mask = info.tx_ring - 1u};
		tp->fd[q] = -1;
	}
	struct ifreq ifr = {.ifr_flags = IFF_TAP | IFF_NO_PI | (info.queues > 1 ? IFF_MULTI_QUEUE : 0)};
	memcpy(ifr.ifr_name, arg, strlen(arg) + 1);
	for (uint16_t q = 0; q < info.queues && !rc; q++) {
		tp->fd[q] = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
		if (tp->fd[q] < 0 || ioctl(tp->fd[q], TUNSETIFF, &ifr)) {
			rc = -errno;
			if (errno == EPERM)
				lobo_err(err, "tap: %s '%s' needs CAP_NET_ADMIN: run as root, or `ip tuntap add dev %s mode tap user $USER`",
					 created ? "creating" : "attaching to", arg, arg);
			else if (errno == EINVAL)
				lobo_err(err, "tap: '%s' exists but is not a %s tap: pick another name or delete it",
					 arg, info.queues > 1 ? "multi-queue" : "single-queue");
			else if (errno == EBUSY)
				lobo_err(err, "tap: '%s' is in use by another program: pick another name", arg);
			else
				lobo_err(err, "tap: cannot open '%s' through /dev/net/tun: %s: try `modprobe tun`", arg, strerror(errno));
		}
	}
	if (!rc && created)
		rc = bring_up(arg, err);
	if (rc) {
		tap_close(&tp->port);
		return rc;
	}
	tap_refresh_info(&tp->port);
	bool found; /* drops from before we opened it are not ours */
	tp->kernel_drops = device_tx_dropped(tp->ifname, &found);
	snprintf(tp->port.info.mode, sizeof tp->port.info.mode, "copy%s", created ? ", created" : "");
	*out = &tp->port;
	return 0;
}

const struct lobo_port_ops lobo_tap_ops = {
	.scheme = "tap",
	.open = tap_open,
	.close = tap_close,
	.refresh_info = tap_refresh_info,
	.rx_post = tap_rx_post,
	.rx_poll = tap_rx_poll,
	.tx_post = tap_tx_post,
	.tx_reclaim = tap_tx_reclaim,
};
