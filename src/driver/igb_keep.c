/* pci:BDF?kernel=keep on igb: the kernel's igb driver keeps the NIC, its
 * interface, link, filters, statistics and its own transmit queue; lobo maps
 * BAR0 beside it (sysfs resource0: the kernel must allow it, iomem=relaxed)
 * and takes one queue pair: receive queue 0 and the first transmit queue the
 * kernel does not use.
 *
 * What Linux 6.12's igb does, and why this is safe (igb_main.c):
 * - Receive queue 0 is where frames RSS cannot hash (ARP, non-IP) land in
 *   QEMU's model; lobo also sets every RETA entry to 0, so hashed frames land
 *   there, and so would unhashed ones on a chip that sends them to RETA's
 *   first entry: lobo gets every frame the NIC accepts.
 * - The kernel writes a queue's tail (RDT) only after it cleaned descriptors
 *   the NIC wrote back into the kernel's own ring (igb_clean_rx_irq, then
 *   igb_alloc_rx_buffers). lobo disables queue 0, waits until the kernel has
 *   caught up (RDT = RDH - 1: every frame the NIC gave it is taken and the
 *   ring refilled), and only then points queue 0 at its own ring. The NIC
 *   never writes into the kernel's ring again, so the watchdog's interrupts
 *   (EICS on every queue vector every 2 s) find nothing and write nothing.
 *   lobo clears queue 0's receive interrupt (IVAR0's valid bit) meanwhile.
 * - The kernel transmits on its own queues (ARP, neighbour discovery,
 *   anything the stack sends), which lobo never touches, so its "Detected
 *   Tx Unit Hang" check, which looks at its own rings only, stays quiet.
 * - ip link set down/up, an MTU change, ethtool -L/-G/-t, some ethtool -K
 *   changes, a Tx timeout and the watchdog's reset on link loss with frames
 *   queued all go through igb_down/igb_reset: CTRL.RST clears every queue
 *   register, then igb_configure writes the kernel's rings again. lobo reads
 *   its ring's base (RDBAL, TDBAL) before every tail write and in
 *   lobo_port_service: once it is not lobo's, lobo writes nothing more and
 *   the service says so in one line (-ESTALE). The reset stopped the NIC's DMA.
 * - Statistics: the NIC's counters clear when read and the kernel reads them
 *   every 2 s (igb_update_stats), RQDPC included: lobo never reads them, so
 *   the kernel's ethtool -S stays true for the whole NIC; lobo counts its ring.
 * - No IOMMU stands between the NIC and memory (igb holds the device, not
 *   vfio-pci): lobo's rings and buffers go by physical address, held in
 *   hugetlbfs until the NIC no longer points at them.
 * Fail-back: on close, and on the next open or lobo reset after a kill -9
 * (what the kernel had is kept in /run/lobo/pci-BDF.keep before anything
 * changes), lobo puts back the registers it changed: the kernel's ring base,
 * head and tail exactly where the kernel left them, RETA and IVAR. The
 * kernel never notices and the link does not flap; a kernel that reset the
 * NIC since has set everything up itself, and then lobo leaves it alone. */
#include "igb.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define KEEP_MAGIC 0x6b656570u
#define IVAR_RX0_VALID (1u << 7) /* IVAR0 bits 7:0: receive queue 0's vector, 82576/i350/i210 alike */

/* What lobo changes, as the kernel had it, and lobo's rings. */
struct keep_state {
	uint32_t magic;
	uint32_t txq;
	uint64_t rx_dma, tx_dma;
	uint32_t rdbal, rdbah, rdlen, srrctl, rxdctl, rdh, rdt; /* the kernel's receive queue 0 */
	uint32_t ivar0, reta[RETA_SIZE / 4];
};

struct keep_port {
	struct igb_port igb; /* first: an igb_port for igb.c's calls */
	struct keep_state saved;
	char ifname[IF_NAMESIZE];
	bool lost; /* the kernel reset the NIC: lobo's rings are gone */
};

#define KEEP(p) ((struct keep_port *)(p))

static void state_path(const char *bdf, char *path, size_t len)
{
	snprintf(path, len, LOBO_STATS_DIR "/pci-%s.keep", bdf);
}

static int write_state(const char *bdf, const struct keep_state *s, char *err)
{
	char path[96];
	state_path(bdf, path, sizeof path);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	bool ok = fd >= 0 && write(fd, s, sizeof *s) == (ssize_t)sizeof *s;
	if (fd >= 0)
		close(fd);
	return ok ? 0 : lobo_fail(err, -EIO, "igb: cannot write %s: is /run writable?", path);
}

/* What a killed kernel=keep run left, or false. */
static bool read_state(const char *bdf, struct keep_state *s)
{
	char path[96];
	state_path(bdf, path, sizeof path);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	bool ok = fd >= 0 && read(fd, s, sizeof *s) == (ssize_t)sizeof *s && s->magic == KEEP_MAGIC;
	if (fd >= 0)
		close(fd);
	return ok;
}

/* The kernel's queue 0 as it left it, if lobo's ring (or, after a take-over
 * cut short, the kernel's own, paused) is still in it. A kernel that reset
 * the NIC since has set queue 0, RETA and IVAR up itself. lobo's transmit
 * queue goes back to how a reset leaves an unused queue. False while the NIC
 * may still reach lobo's memory. */
static bool give_back(struct igb_port *ip, const struct keep_state *s)
{
	uint32_t bal = rd(ip, QUEUE(RDBAL, 0)), q = s->txq;
	bool ours = bal == (uint32_t)s->rx_dma, paused = bal == s->rdbal && !(rd(ip, RXDCTL) & QUEUE_ENABLE);
	if (rd(ip, QUEUE(TDBAL, q)) == (uint32_t)s->tx_dma) {
		if (!intel_queue_stop(reg(ip, QUEUE(TXDCTL, q))))
			return false;
		static const uint32_t ring[] = {TDBAL, TDBAH, TDLEN, TDH, TDT, TDWBAL, TDWBAH};
		for (size_t i = 0; i < sizeof ring / sizeof ring[0]; i++)
			wr(ip, QUEUE(ring[i], q), 0);
	}
	if (!ours && !paused)
		return true;
	if (ours) {
		if (!intel_queue_stop(reg(ip, RXDCTL)))
			return false;
		wr(ip, RDBAL, s->rdbal);
		wr(ip, RDBAH, s->rdbah);
		wr(ip, RDLEN, s->rdlen);
		wr(ip, SRRCTL, s->srrctl);
		wr(ip, RDH, s->rdh);
		wr(ip, RDT, s->rdt);
	}
	wr(ip, IVAR0, s->ivar0);
	for (uint32_t i = 0; i < RETA_SIZE / 4; i++)
		wr(ip, RETA + 4 * i, s->reta[i]);
	wr(ip, RXDCTL, s->rxdctl);
	return true;
}

/* Leftovers of a kernel=keep run killed with kill -9: the kernel's queue
 * back, then the memory held for the NIC freed (*released bytes). */
static int recover(struct igb_port *ip, const char *bdf, size_t *released, char *err)
{
	struct keep_state s;
	char path[96];
	if (!read_state(bdf, &s))
		return 0;
	if (!give_back(ip, &s))
		return lobo_fail(err, -EIO, "igb: %s does not stop the queues a killed lobo left it: is the NIC still "
				 "there? (lobo reset pci:%s)", bdf, bdf);
	state_path(bdf, path, sizeof path);
	unlink(path);
	*released = lobo_mem_release(bdf, getpid());
	return 0;
}

/* ----------------------------------------------- the kernel's interface */

/* The interface the kernel's igb has for the device, which must be up: a
 * down igb is reset and has no rings, and up resets it again. */
static int kernel_interface(const char *bdf, char *ifname, char *err)
{
	char drv[32], pattern[96], path[96], flags[16] = "";
	glob_t g;
	lobo_pci_driver(bdf, drv, sizeof drv);
	if (strcmp(drv, "igb"))
		return lobo_fail(err, -ENODEV, "igb: kernel=keep needs the kernel's igb driver on %s (it has %s): "
				 "echo %s > /sys/bus/pci/drivers/igb/bind", bdf, *drv ? drv : "none", bdf);
	snprintf(pattern, sizeof pattern, "/sys/bus/pci/devices/%s/net/*", bdf);
	if (glob(pattern, 0, NULL, &g) || g.gl_pathc != 1) {
		globfree(&g);
		return lobo_fail(err, -ENODEV, "igb: %s has no kernel interface in this network namespace: run lobo "
				 "where it is (ip netns exec NS lobo ...)", bdf);
	}
	snprintf(ifname, IF_NAMESIZE, "%s", strrchr(g.gl_pathv[0], '/') + 1);
	globfree(&g);
	snprintf(path, sizeof path, "/sys/class/net/%s/flags", ifname);
	FILE *f = fopen(path, "re");
	if (f && !fgets(flags, sizeof flags, f))
		flags[0] = 0;
	if (f)
		fclose(f);
	if (!(strtoul(flags, NULL, 16) & IFF_UP))
		return lobo_fail(err, -ENETDOWN, "igb: %s is down, and a down igb has no queues to keep: ip link set %s up",
				 ifname, ifname);
	return 0;
}

/* The kernel transmits on queues 0..n-1 (tx-0 ... in sysfs). */
static uint32_t kernel_tx_queues(const char *ifname)
{
	char pattern[96];
	glob_t g;
	snprintf(pattern, sizeof pattern, "/sys/class/net/%s/queues/tx-*", ifname);
	uint32_t n = glob(pattern, 0, NULL, &g) ? 0 : (uint32_t)g.gl_pathc;
	globfree(&g);
	return n;
}

/* ------------------------------------------------------------ take-over */

/* The kernel has taken every frame the NIC wrote into its ring and filled it
 * again: its tail is one behind the head where the NIC stopped. */
static bool kernel_caught_up(struct igb_port *ip, int ms)
{
	uint32_t count = rd(ip, RDLEN) / 16;
	for (int i = 0; count && i < ms; i++) {
		if ((rd(ip, RDH) + count - 1) % count == rd(ip, RDT))
			return true;
		intel_sleep_ms(1);
	}
	return false;
}

static void save_kernel(struct igb_port *ip, struct keep_state *s)
{
	s->magic = KEEP_MAGIC;
	s->rdbal = rd(ip, RDBAL);
	s->rdbah = rd(ip, RDBAH);
	s->rdlen = rd(ip, RDLEN);
	s->srrctl = rd(ip, SRRCTL);
	s->rxdctl = rd(ip, RXDCTL);
	s->ivar0 = rd(ip, IVAR0);
	for (uint32_t i = 0; i < RETA_SIZE / 4; i++)
		s->reta[i] = rd(ip, RETA + 4 * i);
}

/* Receive queue 0 and transmit queue txq onto lobo's rings (at rx, tx, wb),
 * everything the kernel had written down first. */
static int take_queues(struct keep_port *kp, const struct lobo_port_info *info, uint8_t *rx, uint8_t *tx,
		       volatile uint32_t *wb, char *err)
{
	struct igb_port *ip = &kp->igb;
	struct keep_state *s = &kp->saved;
	const char *bdf = ip->base.pci.bdf;
	save_kernel(ip, s);
	s->rx_dma = lobo_mem_dma(&ip->rings, rx);
	s->tx_dma = lobo_mem_dma(&ip->rings, tx);
	int rc = write_state(bdf, s, err);
	if (rc)
		return rc;
	/* 8.10.10: a queue's ring changes only while it is off */
	if (!intel_queue_stop(reg(ip, RXDCTL)) || !kernel_caught_up(ip, 2000))
		return lobo_fail(err, -EBUSY, "igb: the kernel's igb does not finish with receive queue 0 of %s: try "
				 "again; does %s receive a flood?", kp->ifname, kp->ifname);
	s->rdh = rd(ip, RDH);
	s->rdt = rd(ip, RDT);
	rc = write_state(bdf, s, err);
	if (rc)
		return rc;
	wr(ip, IVAR0, s->ivar0 & ~IVAR_RX0_VALID);
	intel_write_bytes(reg(ip, RETA), ip->reta, RETA_SIZE); /* all 0: igb_alloc zeroed the port */
	igb_rx_queue_init(ip, 0, 0, rx, info);
	ip->rx[0].strips_vlan = rd(ip, CTRL) & CTRL_VME; /* the kernel's choice (rxvlan); the service follows it */
	igb_tx_queue_init(ip, 0, (uint16_t)s->txq, tx, wb, info);
	if (!intel_queue_start(reg(ip, RXDCTL)) || !intel_queue_start(reg(ip, QUEUE(TXDCTL, s->txq))))
		return lobo_fail(err, -EIO, "igb: %s does not enable lobo's queues: is it a working igb NIC?", bdf);
	return 0;
}

/* --------------------------------------------------------------- data path */

/* Is the ring at hardware register `at` still lobo's? Read before each tail
 * write: a kernel that reset the NIC has put its own ring (or none) there. */
static bool owns(struct keep_port *kp, uint32_t at, uint64_t dma)
{
	kp->lost |= rd(&kp->igb, at) != (uint32_t)dma;
	return !kp->lost;
}

static uint16_t keep_rx_post(struct lobo_port *p, uint16_t q, const struct lobo_frame *f, uint16_t n)
{
	struct keep_port *kp = KEEP(p);
	if (q || !owns(kp, RDBAL, kp->saved.rx_dma))
		return 0;
	return adv_rx_post(&kp->igb.rx[0], f, n, &p->counters[0]);
}

static uint16_t keep_tx_post(struct lobo_port *p, uint16_t q, const struct lobo_frame *f, uint16_t n)
{
	struct keep_port *kp = KEEP(p);
	if (q || !owns(kp, QUEUE(TDBAL, kp->saved.txq), kp->saved.tx_dma))
		return 0;
	return adv_tx_post(&kp->igb.tx[0], f, n, &p->counters[0]);
}

/* Called every millisecond or so by the thread that polls queue 0: follows
 * the kernel's VLAN stripping (ethtool -K rxvlan), notices a reset. */
static int keep_service(struct lobo_port *p, char *err)
{
	struct keep_port *kp = KEEP(p);
	kp->igb.rx[0].strips_vlan = rd(&kp->igb, CTRL) & CTRL_VME;
	if (owns(kp, RDBAL, kp->saved.rx_dma) && owns(kp, QUEUE(TDBAL, kp->saved.txq), kp->saved.tx_dma))
		return 0;
	return lobo_fail(err, -ESTALE, "igb: the kernel reset %s and set up its own queues again (ip link down/up, mtu, "
			 "ethtool -L/-G/-t do that): lobo stopped using it; start lobo again", kp->ifname);
}

/* ------------------------------------------------------------ open, close */

static void keep_close(struct lobo_port *p)
{
	struct keep_port *kp = KEEP(p);
	struct igb_port *ip = &kp->igb;
	char path[96];
	if (ip->bar.mmio && kp->saved.magic && give_back(ip, &kp->saved)) {
		state_path(ip->base.pci.bdf, path, sizeof path);
		unlink(path);
		ip->base.pci.was_reset = true; /* the NIC no longer reaches lobo's memory: free it */
	}
	if (ip->bar.len)
		lobo_pci_bar_close(&ip->bar);
	lobo_pci_close(&ip->base.pci);
	igb_free(ip);
}

static const struct lobo_port_ops keep_ops = {
	.scheme = "igb",
	.close = keep_close,
	.refresh_info = igb_refresh_info,
	.rx_post = keep_rx_post,
	.rx_poll = igb_rx_poll,
	.tx_post = keep_tx_post,
	.tx_reclaim = igb_tx_reclaim,
	.service = keep_service,
	.link = igb_link,
};

static int check_keep(const char *params, const char *mode, char *err)
{
	char shadow[32];
	if (strcmp(mode, "keep"))
		return lobo_fail(err, -EINVAL, "igb: kernel=%s: the only choice is kernel=keep", mode);
	if (lobo_param_long(params, "queues", 1) != 1 || lobo_param_long(params, "vfio", 0) != 0)
		return lobo_fail(err, -EINVAL, "igb: kernel=keep takes one queue pair and no VFIO (the kernel's igb "
				 "holds the NIC): drop queues= and vfio=");
	if (lobo_param_str(params, "shadow", shadow, sizeof shadow, NULL))
		return lobo_fail(err, -EINVAL, "igb: with kernel=keep the kernel's own interface stands for the NIC: "
				 "drop shadow=");
	return 0;
}

/* BAR0 beside the kernel's driver: sysfs refuses a region a driver has
 * claimed when the kernel is built with CONFIG_IO_STRICT_DEVMEM. */
static int map_registers(struct igb_port *ip, const char *bdf, char *err)
{
	int rc = lobo_pci_bar_open(&ip->base.pci, 0, &ip->bar, err);
	if (rc == -EINVAL || rc == -EPERM)
		return lobo_fail(err, rc, "igb: the kernel will not map %s's registers while its igb driver holds them "
				 "(CONFIG_IO_STRICT_DEVMEM): boot with iomem=relaxed on the kernel command line", bdf);
	if (!rc && !ip->bar.mmio)
		rc = lobo_fail(err, -ENODEV, "igb: %s has no memory-mapped BAR0: is it an igb NIC?", bdf);
	return rc;
}

/* lobo's rings: away from the region's start, so that no ring's address has
 * zero low bits, which a reset leaves in RDBAL and TDBAL. */
static int alloc_rings(struct keep_port *kp, const struct lobo_port_info *info, char *err)
{
	size_t r = (info->rx_ring > info->tx_ring ? info->rx_ring : info->tx_ring) * 16u;
	int rc = lobo_mem_alloc(&kp->igb.rings, 3 * r + 64, err);
	if (!rc)
		rc = lobo_pci_dma_map(&kp->igb.base.pci, kp->igb.mem, false, err);
	if (!rc)
		rc = lobo_pci_dma_map(&kp->igb.base.pci, &kp->igb.rings, false, err);
	return rc;
}

static int open_beside(struct keep_port *kp, struct lobo_port_info *info, char *err)
{
	struct igb_port *ip = &kp->igb;
	const char *bdf = ip->base.pci.bdf;
	size_t released;
	int rc = map_registers(ip, bdf, err);
	if (!rc)
		rc = recover(ip, bdf, &released, err);
	if (!rc)
		rc = alloc_rings(kp, info, err);
	if (rc)
		return rc;
	size_t r = (info->rx_ring > info->tx_ring ? info->rx_ring : info->tx_ring) * 16u;
	uint8_t *base = ip->rings.base;
	return take_queues(kp, info, base + r, base + 2 * r, (volatile uint32_t *)(base + 3 * r), err);
}

int igb_keep_open(struct lobo_port **out, const char *bdf, const char *params, struct lobo_mem *mem, char *err)
{
	struct lobo_port_info info = {.max_frame = MAX_FRAME};
	const struct lobo_pci_model *model;
	char mode[16], ifname[IF_NAMESIZE];
	lobo_param_str(params, "kernel", mode, sizeof mode, "");
	int rc = check_keep(params, mode, err);
	if (!rc)
		rc = igb_check_params(bdf, params, &info, &model, err);
	if (!rc)
		rc = kernel_interface(bdf, ifname, err);
	if (rc)
		return rc;
	uint32_t txq = kernel_tx_queues(ifname);
	if (txq >= model->max_queues)
		return lobo_fail(err, -EBUSY, "igb: %s uses all %u queues of the %s: leave lobo one with ethtool -L %s "
				 "combined %u", ifname, model->max_queues, model->model, ifname, model->max_queues - 1);
	struct keep_port *kp = (struct keep_port *)igb_alloc(sizeof *kp, &info, mem, err);
	if (!kp)
		return -ENOMEM;
	struct igb_port *ip = &kp->igb;
	kp->saved.txq = txq;
	snprintf(kp->ifname, sizeof kp->ifname, "%s", ifname);
	rc = lobo_pci_attach(&ip->base.pci, bdf, err);
	if (rc) {
		igb_free(ip);
		return rc;
	}
	rc = open_beside(kp, &info, err);
	if (rc) {
		keep_close(&ip->base.port);
		return rc;
	}
	ip->base.port.ops = &keep_ops;
	igb_read_mac(ip, info.mac);
	snprintf(info.mode, sizeof info.mode, "keep %.8s rx0 tx%u no-iommu", ifname, txq & 15);
	ip->base.port.info = info;
	igb_refresh_info(&ip->base.port);
	*out = &ip->base.port;
	return 0;
}

/* lobo reset pci:BDF: what a killed kernel=keep run left, given back. */
int igb_keep_recover(const char *bdf, size_t *released, char *err)
{
	struct keep_state s;
	struct igb_port ip = {0};
	if (!read_state(bdf, &s))
		return 0;
	int rc = lobo_pci_attach(&ip.base.pci, bdf, err);
	if (rc)
		return rc;
	rc = map_registers(&ip, bdf, err);
	if (!rc)
		rc = recover(&ip, bdf, released, err);
	lobo_pci_bar_close(&ip.bar);
	lobo_pci_close(&ip.base.pci);
	return rc;
}
