/* Virtual functions of the igb family: 82576 VF (8086:10ca), i350 VF
 * (8086:1520). The kernel's igb keeps the physical function (PF): its
 * interface, the link, the filters, its own traffic. lobo drives one VF: a
 * small register space of its own (BAR0: a reset bit, the PF's STATUS, a
 * mailbox to the PF, its queues), and for everything the PF decides (which
 * frames reach the VF, its MAC, whether it may send) a request in the
 * mailbox, as Linux's igb answers them (igb_main.c, igb_rcv_msg_from_vf;
 * messages in e1000_mbx.h). The 82576 datasheet's 7.8 (Virtualization)
 * describes the VF's reset and the PF/VF mailbox; register offsets are the
 * VF's, as the datasheet's virtual-function register list in chapter 8 and
 * Linux's igbvf (regs.h) name them. One queue pair, on adv_ring.c's rings
 * and intel.c's ring registers; transmit reclaims by DD.
 *
 * What the VF receives is what the PF lets through: frames to its MAC,
 * broadcast, multicast groups it joined (a hash table it shares with the
 * PF), untagged or with an 802.1ad outer tag; 802.1Q-tagged frames only for
 * VLANs the PF lets it join, which lobo does not ask for. Nothing is
 * stripped or rewritten. Linux's igb grants a VF no unicast promiscuous
 * mode, trusted or not. */
#include "driver.h"
#include "intel.h"

#include <errno.h>
#include <glob.h>
#include <netinet/ether.h>
#include <stdlib.h>
#include <string.h>

/* The VF's registers. Its queue 0's sit where the PF's queues 0-3 alias,
 * receive at RX and transmit at TX in the same layout. */
enum {
	CTRL = 0x0000, STATUS = 0x0008, VMBMEM = 0x0800, V2PMAILBOX = 0x0c40,
	VFGPRC = 0x0f10, VFGPTC = 0x0f14, VFGORC = 0x0f18, VFGOTC = 0x0f34,
	RX = 0x2800, TX = 0x3800,
	SRRCTL = 0x0c, DT = 0x18, DCTL = 0x28, RQDPC = 0x30, /* from a queue's first register */
};
#define CTRL_RST (1u << 26)
#define STATUS_LU (1u << 1)
#define SRRCTL_BSIZE_2K 2u
#define SRRCTL_ADV_ONEBUF (1u << 25)
#define SRRCTL_DROP_EN (1u << 31)

/* V2PMAILBOX (82576 7.8, the mailbox). PFSTS, PFACK and RSTD clear when read. */
#define MBX_REQ (1u << 0)   /* VF: a message for the PF is in VMBMEM */
#define MBX_ACK (1u << 1)   /* VF: the PF's message was read */
#define MBX_VFU (1u << 2)   /* VMBMEM is the VF's (while it reads back set) */
#define MBX_PFSTS (1u << 4) /* the PF wrote a message */
#define MBX_PFACK (1u << 5) /* the PF read the VF's message */
#define MBX_RSTI (1u << 6)  /* the PF is resetting, or down */
#define MBX_RSTD (1u << 7)  /* the PF finished a reset */
#define MBX_READ_CLEARS (MBX_PFSTS | MBX_PFACK | MBX_RSTD)
#define MBX_WORDS 16
#define MBX_TIMEOUT_MS 2000

/* Messages: type in bits 15:0, detail in 23:16, the PF's answer in 31:29. */
enum { VF_RESET = 1, VF_SET_MAC_ADDR = 2, VF_SET_MULTICAST = 3, VF_SET_LPE = 5, VF_SET_PROMISC = 6,
       PF_CONTROL_MSG = 0x100 };
#define MSG_ACK (1u << 31)
#define MSG_CTS (1u << 29) /* the PF takes requests: it has seen the VF's reset */
#define PROMISC_UNICAST (1u << 16)
#define PROMISC_MULTICAST (2u << 16)
#define MC_MAX 30 /* multicast hashes the PF keeps for a VF */

/* The VF's statistics: they wrap and never clear. */
static const uint32_t stat_regs[4] = {VFGPRC, VFGORC, VFGPTC, VFGOTC};

#define BUF_SIZE 2048u
#define MAX_FRAME 1522u
#define MAX_RING 4096u

struct igbvf_port {
	struct lobo_pci_port base;
	struct lobo_mem *mem, rings;
	struct lobo_pci_bar bar;
	struct adv_rx_ring rx;
	struct adv_tx_ring tx;
	struct adv_slot *slots;
	uint32_t mbx;         /* read-to-clear mailbox bits seen, not yet consumed */
	uint32_t stats[4];    /* stat_regs as last read */
	bool pf_reset;        /* the PF reset since the open: the VF's queues are gone */
	bool want_mac;        /* mac= asks for mac */
	uint8_t mac[6];
	int vf;               /* the VF's number at its PF */
	char pf[16], pf_if[16]; /* the PF's address and interface, for messages */
	char who[64];         /* "BDF (VF n of eth0, PF_BDF)", for messages */
};

#define VF(p) ((struct igbvf_port *)(p))

static volatile uint32_t *reg(struct igbvf_port *vp, uint32_t at) { return (volatile uint32_t *)(vp->bar.mmio + at); }
static uint32_t rd(struct igbvf_port *vp, uint32_t at) { return *reg(vp, at); }
static void wr(struct igbvf_port *vp, uint32_t at, uint32_t v) { *reg(vp, at) = v; }

/* ------------------------------------------------------------ mailbox */

static uint32_t mbx_read(struct igbvf_port *vp)
{
	uint32_t v = rd(vp, V2PMAILBOX);
	vp->mbx |= v & MBX_READ_CLEARS;
	return v | vp->mbx;
}

/* True once bit was seen (and consumed) within ms milliseconds. */
static bool mbx_wait(struct igbvf_port *vp, uint32_t bit, int ms)
{
	for (int i = 0; i <= ms; i++, intel_sleep_ms(1))
		if (mbx_read(vp) & bit) {
			vp->mbx &= ~bit;
			return true;
		}
	return false;
}

/* VMBMEM is the VF's when VFU reads back set: the PF may hold it a moment. */
static bool mbx_lock(struct igbvf_port *vp)
{
	for (int i = 0; i < 100; i++, intel_sleep_ms(1)) {
		wr(vp, V2PMAILBOX, MBX_VFU);
		if (mbx_read(vp) & MBX_VFU)
			return true;
	}
	return false;
}

/* The PF's message: n words of it, then ACK, which also frees VMBMEM. */
static int mbx_receive(struct igbvf_port *vp, uint32_t *msg, int n)
{
	if (!mbx_wait(vp, MBX_PFSTS, MBX_TIMEOUT_MS) || !mbx_lock(vp))
		return -ETIMEDOUT;
	for (int i = 0; i < n; i++)
		msg[i] = rd(vp, VMBMEM + 4u * i);
	wr(vp, V2PMAILBOX, MBX_ACK);
	return 0;
}

/* A request and the PF's answer in msg (answer words): 0 for ACK, -EPERM for
 * NACK, -ETIMEDOUT when the PF's driver does not answer, -ECONNRESET when
 * the answer is the PF's own message (it reset meanwhile). REQ frees VMBMEM
 * and rings the PF; PFACK says it has read the request. */
static int mbx_request(struct igbvf_port *vp, uint32_t *msg, int n, int answer)
{
	uint32_t type = msg[0] & 0xffff;
	vp->mbx &= ~(MBX_PFSTS | MBX_PFACK); /* stale: the request overwrites VMBMEM */
	if (!mbx_lock(vp))
		return -ETIMEDOUT;
	for (int i = 0; i < n; i++)
		wr(vp, VMBMEM + 4u * i, msg[i]);
	wr(vp, V2PMAILBOX, MBX_REQ);
	if (!mbx_wait(vp, MBX_PFACK, MBX_TIMEOUT_MS) || mbx_receive(vp, msg, answer))
		return -ETIMEDOUT;
	if ((msg[0] & 0xffff) != type)
		return -ECONNRESET;
	return msg[0] & MSG_ACK ? 0 : -EPERM;
}

/* The line for a request that failed; refused: why the PF said no, and the fix. */
static int mbx_fail(struct igbvf_port *vp, int rc, const char *asked, const char *refused, char *err)
{
	if (rc == -ETIMEDOUT)
		return lobo_fail(err, rc, "igbvf: %s: the PF does not answer the mailbox: bring %s up, or load igb on %s",
				 vp->who, vp->pf_if, vp->pf);
	if (rc == -ECONNRESET)
		return lobo_fail(err, rc, "igbvf: %s: the PF reset while asked to %s: open the port again", vp->who, asked);
	return lobo_fail(err, rc, "igbvf: %s: the PF refuses to %s: %s", vp->who, asked, refused);
}

static int igbvf_set_mac(struct lobo_port *p, const uint8_t mac[6], char *err)
{
	struct igbvf_port *vp = VF(p);
	uint32_t msg[3] = {VF_SET_MAC_ADDR};
	char fix[96];
	memcpy(&msg[1], mac, 6);
	int rc = mbx_request(vp, msg, 3, 1);
	snprintf(fix, sizeof fix, "it set the VF's MAC itself (ip link set %s vf %d trust on lets the VF choose)",
		 vp->pf_if, vp->vf);
	if (rc)
		return mbx_fail(vp, rc, "give the VF another MAC", fix, err);
	memcpy(p->info.mac, mac, 6);
	return 0;
}

static int set_promisc(struct igbvf_port *vp, uint32_t flags, char *err)
{
	uint32_t msg = VF_SET_PROMISC | flags;
	char fix[160];
	snprintf(fix, sizeof fix, "Linux's igb grants a VF multicast promiscuous mode only, trusted or not: give the "
		 "VF the MAC to receive (ip link set %s vf %d mac ...)", vp->pf_if, vp->vf);
	int rc = mbx_request(vp, &msg, 1, 1);
	return rc ? mbx_fail(vp, rc, flags & PROMISC_UNICAST ? "make the VF promiscuous" : "change its multicast "
			     "promiscuous mode", fix, err) : 0;
}

/* The multicast filter is a hash table (the PF's MTA): the VF sends the
 * hashes of its groups, bits 47:36 of the address as the PF's RCTL.MO = 0
 * takes them (82576 datasheet, MTA). */
static int igbvf_set_mc_list(struct lobo_port *p, const uint8_t (*mc)[6], uint16_t n, char *err)
{
	struct igbvf_port *vp = VF(p);
	uint32_t msg[MBX_WORDS] = {VF_SET_MULTICAST | (uint32_t)n << 16};
	uint16_t hash[MC_MAX];
	if (n > MC_MAX)
		return lobo_fail(err, -ENOSPC, "igbvf: %s: the PF keeps %d multicast groups for a VF, not %u: join fewer, "
				 "or ask for allmulticast", vp->base.pci.bdf, MC_MAX, n);
	for (uint16_t i = 0; i < n; i++)
		hash[i] = (uint16_t)((mc[i][4] >> 4 | mc[i][5] << 4) & 0xfff);
	memcpy(&msg[1], hash, sizeof hash);
	int rc = mbx_request(vp, msg, MBX_WORDS, 1);
	return rc ? mbx_fail(vp, rc, "set the VF's multicast groups", "see its kernel log", err) : 0;
}

/* The PF resets (its interface down or up, an MTU change, igb reloaded):
 * its global reset clears the VF's queues, and the mailbox says so: RSTI
 * while it lasts, and the message igb sends every VF before it (igb_reset,
 * igb_ping_all_vfs), which has no CTS. (RSTD, "reset done", is no sign: QEMU
 * raises it on every PF write of CTRL_EXT that keeps PFRSTD set.) Once that
 * happened the port stays down: open it again. */
static void watch_pf(struct igbvf_port *vp)
{
	uint32_t msg = MSG_CTS, m = mbx_read(vp);
	if ((m & MBX_PFSTS) && !mbx_receive(vp, &msg, 1) && (msg & 0xffff) != PF_CONTROL_MSG)
		msg = MSG_CTS; /* a late answer to a request given up on: no news */
	vp->pf_reset |= (m & MBX_RSTI) || !(msg & MSG_CTS);
	vp->mbx &= ~MBX_RSTD;
}

/* ------------------------------------------------------------ bring-up */

/* The VF's number at its PF, and the PF's address and interface. */
static void find_pf(struct igbvf_port *vp, const char *bdf)
{
	char path[96];
	glob_t g = {0};
	vp->vf = lobo_pci_vf_of(bdf, vp->pf);
	snprintf(path, sizeof path, "/sys/bus/pci/devices/%s/net/*", vp->pf);
	bool named = *vp->pf && !glob(path, 0, NULL, &g) && g.gl_pathc;
	snprintf(vp->pf_if, sizeof vp->pf_if, "%s", named ? strrchr(g.gl_pathv[0], '/') + 1 : "its interface");
	globfree(&g);
	if (!*vp->pf)
		snprintf(vp->pf, sizeof vp->pf, "(none)");
	snprintf(vp->who, sizeof vp->who, "%s (VF %d of %s, %s)", bdf, vp->vf, vp->pf_if, vp->pf);
}

/* VF reset (CTRL.RST): the VF's queues stop and the PF hears of it (VFLRE):
 * it forgets the VF's filters and lets it send and receive again only after
 * the VF's reset message. Not while the PF itself resets (RSTI). */
static int vf_reset(struct igbvf_port *vp, char *err)
{
	wr(vp, CTRL, CTRL_RST);
	for (int i = 0; i < 100 && (mbx_read(vp) & MBX_RSTI); i++)
		intel_sleep_ms(10);
	intel_sleep_ms(10);
	if (mbx_read(vp) & MBX_RSTI)
		return lobo_fail(err, -ENETDOWN, "igbvf: %s: the PF is down or resetting (the mailbox says RSTI): ip link "
				 "set %s up", vp->who, vp->pf_if);
	vp->mbx = 0; /* an RSTD from before the open is no news */
	return 0;
}

/* The reset message: the PF answers with the VF's MAC, the one `ip link set
 * PF vf N mac` gave it, or NACK when it has none. Then the MAC mac= asks
 * for (the PF grants it only to a trusted VF), and long frames. */
static int mbx_setup(struct igbvf_port *vp, char *err)
{
	uint32_t msg[3] = {VF_RESET}, lpe[2] = {VF_SET_LPE, MAX_FRAME + 4};
	int rc = mbx_request(vp, msg, 1, 3);
	if (rc == -EPERM && !vp->want_mac)
		return lobo_fail(err, rc, "igbvf: %s: the PF has no MAC for the VF: give it one (ip link set %s vf %d mac "
				 "02:...) or add ?mac=", vp->who, vp->pf_if, vp->vf);
	if (rc && rc != -EPERM)
		return mbx_fail(vp, rc, "reset the VF", "", err);
	memcpy(vp->base.port.info.mac, &msg[1], 6);
	rc = vp->want_mac ? igbvf_set_mac(&vp->base.port, vp->mac, err) : 0;
	if (!rc && (rc = mbx_request(vp, lpe, 2, 1)))
		rc = mbx_fail(vp, rc, "take frames of 1522 bytes", "see its kernel log", err);
	return rc;
}

/* Queue 0, as the PF's queues are set up (82576 4.5.9, 4.5.10): 2 KiB
 * buffers in advanced one-buffer descriptors, and a full ring drops
 * (SRRCTL.DROP_EN, as Linux's igbvf) rather than holding up the PF's traffic;
 * transmit without head write-back: the ring reads each batch's DD bit. The
 * PF owns RCTL and TCTL: they are on while it is up, and the queues' enable
 * bits read 1 only then. */
static bool queues_init(struct igbvf_port *vp, const struct lobo_port_info *info, size_t tx_at)
{
	intel_ring_init(reg(vp, RX), lobo_mem_dma(&vp->rings, vp->rings.base), info->rx_ring);
	wr(vp, RX + SRRCTL, SRRCTL_BSIZE_2K | SRRCTL_ADV_ONEBUF | SRRCTL_DROP_EN);
	adv_rx_init(&vp->rx, vp->rings.base, reg(vp, RX + DT), vp->slots, info->rx_ring, vp->mem, BUF_SIZE,
		    ADV_RX_ERRORS_IGB);
	intel_ring_init(reg(vp, TX), lobo_mem_dma(&vp->rings, vp->rings.base + tx_at), info->tx_ring);
	adv_tx_init(&vp->tx, vp->rings.base + tx_at, reg(vp, TX + DT), NULL, vp->slots + info->rx_ring, info->tx_ring,
		    vp->mem, MAX_FRAME);
	return intel_queue_start(reg(vp, RX + DCTL)) && intel_queue_start(reg(vp, TX + DCTL));
}

static int init_device(struct igbvf_port *vp, struct lobo_port_info *info, char *err)
{
	size_t rx = info->rx_ring * 16u, tx = info->tx_ring * 16u, tx_at = (rx + tx - 1) / tx * tx;
	int rc = lobo_mem_alloc(&vp->rings, tx_at + tx, err);
	if (!rc)
		rc = lobo_pci_dma_map(&vp->base.pci, vp->mem, false, err);
	if (!rc)
		rc = lobo_pci_dma_map(&vp->base.pci, &vp->rings, false, err);
	if (!rc)
		rc = vf_reset(vp, err);
	if (!rc && lobo_pci_bus_master(&vp->base.pci, true))
		rc = lobo_fail(err, -EIO, "igbvf: cannot turn bus mastering on for %s", vp->base.pci.bdf);
	if (!rc)
		rc = mbx_setup(vp, err);
	if (rc)
		return rc;
	if (!queues_init(vp, info, tx_at))
		return lobo_fail(err, -EIO, "igbvf: %s does not enable its queues: is its PF %s up?", vp->base.pci.bdf,
				 vp->pf_if);
	return 0;
}

/* --------------------------------------------------------------- data path */

static uint16_t igbvf_rx_post(struct lobo_port *p, uint16_t q, const struct lobo_frame *f, uint16_t n)
{
	return q ? 0 : adv_rx_post(&VF(p)->rx, f, n, &p->counters[0]);
}

static uint16_t igbvf_rx_poll(struct lobo_port *p, uint16_t q, struct lobo_frame *f, uint16_t max)
{
	return q ? 0 : adv_rx_poll(&VF(p)->rx, f, max, &p->counters[0]);
}

static uint16_t igbvf_tx_post(struct lobo_port *p, uint16_t q, const struct lobo_frame *f, uint16_t n)
{
	return q ? 0 : adv_tx_post(&VF(p)->tx, f, n, &p->counters[0]);
}

static uint16_t igbvf_tx_reclaim(struct lobo_port *p, uint16_t q, struct lobo_frame *f, uint16_t max)
{
	return q ? 0 : adv_tx_reclaim(&VF(p)->tx, f, max, &p->counters[0]);
}

/* ------------------------------------------------- control, off the data path */

/* The PF's link (STATUS is the PF's), while the PF still knows the VF. */
static struct lobo_link igbvf_link(struct lobo_port *p)
{
	static const uint32_t speed[4] = {10, 100, 1000, 1000};
	struct igbvf_port *vp = VF(p);
	watch_pf(vp);
	uint32_t status = rd(vp, STATUS);
	bool up = (status & STATUS_LU) && !vp->pf_reset;
	return (struct lobo_link){up, up ? speed[(status >> 6) & 3] : 0};
}

static void igbvf_refresh_info(struct lobo_port *p) { lobo_port_link(p); /* which updates the info */ }

/* What the VF's statistics grew by since they were last read. */
static void igbvf_read_hw_counters(struct lobo_port *p)
{
	struct igbvf_port *vp = VF(p);
	uint64_t *to[4] = {&p->hw.rx_packets, &p->hw.rx_bytes, &p->hw.tx_packets, &p->hw.tx_bytes};
	for (int i = 0; i < 4; i++) {
		uint32_t now = rd(vp, stat_regs[i]);
		*to[i] += now - vp->stats[i];
		vp->stats[i] = now;
	}
	p->hw.rx_no_buffer += rd(vp, RX + RQDPC);
}

static int igbvf_set_promisc(struct lobo_port *p, bool on, char *err)
{
	return set_promisc(VF(p), on ? PROMISC_UNICAST | PROMISC_MULTICAST : 0, err);
}

static int igbvf_set_allmulti(struct lobo_port *p, bool on, char *err)
{
	return set_promisc(VF(p), on ? PROMISC_MULTICAST : 0, err);
}

/* ------------------------------------------------------------ open, close */

static void igbvf_close(struct lobo_port *p)
{
	struct igbvf_port *vp = VF(p);
	if (vp->bar.mmio) {
		wr(vp, RX + DCTL, 0);
		wr(vp, TX + DCTL, 0);
		wr(vp, CTRL, CTRL_RST); /* the VF forgets our rings, the PF its filters */
		intel_sleep_ms(10);
		lobo_pci_bar_close(&vp->bar);
	}
	lobo_pci_close(&vp->base.pci);
	lobo_mem_free(&vp->rings);
	free(vp->slots);
	free(vp);
}

/* A VF is the isolated share of a NIC the kernel keeps: through VFIO, so an
 * IOMMU group it must have, unless vfio=0 asks for none. */
static int check_params(struct igbvf_port *vp, const char *bdf, const char *params, struct lobo_port_info *info,
			char *err)
{
	char mac[32];
	int rc = lobo_params_rings(params, info, 512, err);
	if (rc)
		return rc;
	if (info->queues > 1 || info->rx_ring > MAX_RING || info->tx_ring > MAX_RING)
		return lobo_fail(err, -EINVAL, "igbvf: a VF has one queue of rings up to %u (got queues=%u rx_ring=%u "
				 "tx_ring=%u)", MAX_RING, info->queues, info->rx_ring, info->tx_ring);
	vp->want_mac = lobo_param_str(params, "mac", mac, sizeof mac, NULL);
	if (vp->want_mac && !ether_aton_r(mac, (struct ether_addr *)vp->mac))
		return lobo_fail(err, -EINVAL, "igbvf: mac= takes a MAC address, e.g. mac=02:00:00:00:00:01");
	if (lobo_pci_iommu_group(bdf) < 0 && lobo_param_long(params, "vfio", 1))
		return lobo_fail(err, -ENODEV, "igbvf: VF %s has no IOMMU group, and a VF is driven through VFIO: "
				 "boot with intel_iommu=on (or amd_iommu=on), or add ?vfio=0 to run without isolation", bdf);
	return 0;
}

static int igbvf_open(struct lobo_port **out, const char *bdf, const char *params, struct lobo_mem *mem, char *err)
{
	struct lobo_port_info info = {.max_frame = MAX_FRAME};
	struct igbvf_port *vp = calloc(1, sizeof *vp);
	int rc = vp ? check_params(vp, bdf, params, &info, err) : -ENOMEM;
	if (!rc && !(vp->slots = calloc((size_t)info.rx_ring + info.tx_ring, sizeof *vp->slots)))
		rc = -ENOMEM;
	if (rc == -ENOMEM)
		lobo_err(err, "igbvf: out of memory");
	if (rc)
		goto free_port;
	vp->mem = mem;
	vp->base.port.info = info;
	find_pf(vp, bdf);
	rc = lobo_pci_port_open(&vp->base, bdf, params, mem, err);
	if (rc)
		goto free_port;
	rc = lobo_pci_bar_open(&vp->base.pci, 0, &vp->bar, err);
	if (!rc && (!vp->bar.mmio || vp->bar.len < 0x4000))
		rc = lobo_fail(err, -ENODEV, "igbvf: %s has no 16 KiB memory BAR0: is it an igb VF?", bdf);
	if (!rc)
		rc = init_device(vp, &vp->base.port.info, err);
	if (rc) {
		igbvf_close(&vp->base.port); /* resets the VF, gives the device back */
		return rc;
	}
	char mode[64];
	snprintf(mode, sizeof mode, "VF %d of %s, %s", vp->vf, vp->pf_if, mem->phys ? "no-iommu" : "vfio");
	snprintf(vp->base.port.info.mode, sizeof info.mode, "%.31s", mode);
	igbvf_read_hw_counters(&vp->base.port); /* from here on */
	vp->base.port.hw = (struct lobo_hw_counters){0};
	*out = &vp->base.port;
	return 0;
free_port:
	if (vp)
		free(vp->slots);
	free(vp);
	return rc;
}

const struct lobo_port_ops lobo_igbvf_ops = {
	.scheme = "igbvf",
	.open = igbvf_open,
	.close = igbvf_close,
	.refresh_info = igbvf_refresh_info,
	.rx_post = igbvf_rx_post,
	.rx_poll = igbvf_rx_poll,
	.tx_post = igbvf_tx_post,
	.tx_reclaim = igbvf_tx_reclaim,
	.set_mac = igbvf_set_mac,
	.set_promisc = igbvf_set_promisc,
	.set_allmulti = igbvf_set_allmulti,
	.set_mc_list = igbvf_set_mc_list,
	.read_hw_counters = igbvf_read_hw_counters,
	.link = igbvf_link,
};
