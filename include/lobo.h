/* lobo.h — the one public header of liblobo.
 *
 * Layers (each depends only on those above it in this file):
 *   1. memory: a region the caller owns, registered once, DMA-able;
 *   2. ports: drivers and kernel-backed ports behind one ring-style interface;
 *   3. pool and stats: optional conveniences built on 1 and 2.
 *
 * Conventions: functions that can fail return 0 or a negative errno and write a
 * one-line message naming the problem and the fix into `err` (LOBO_ERR_LEN bytes).
 * The library never prints, never starts threads and never allocates on the data
 * path (rx_post, rx_poll, tx_post, tx_reclaim). */
#ifndef LOBO_H
#define LOBO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LOBO_ERR_LEN 256
#define LOBO_MAX_QUEUES 16
#define LOBO_BATCH 32 /* a good default burst; ports accept any n */

/* ---------------------------------------------------------------- memory */

/* A region the caller owns and cuts into buffers as it likes. Backed by 2 MiB
 * hugepages when the system has them, else by ordinary locked pages (huge is
 * then false and the caller should warn: no physical contiguity beyond 4 KiB).
 * The hugepages are an unnamed file in a hugetlbfs mount (fd) when there is
 * one: a pci: port without IOMMU names it in the device's folder there, so
 * that the memory outlives a killed process while the device may still write
 * into it, and unnames it when the port closes (see lobo_pci_reset). */
struct lobo_mem {
	uint8_t *base;
	size_t len;
	size_t page_size;  /* 2 MiB with hugepages, else 4096 */
	bool huge;
	uint64_t *phys;    /* physical address per page, or NULL (see lobo_mem_dma) */
	int iommu_mapped;  /* count of VFIO containers that reach this region by IOVA */
	int fd;            /* the hugetlbfs file behind base, or -1 */
};

int lobo_mem_alloc(struct lobo_mem *mem, size_t len, char *err);
void lobo_mem_free(struct lobo_mem *mem);
/* Fill mem->phys from /proc/self/pagemap (root only); needed by drivers that
 * run without an IOMMU. */
int lobo_mem_resolve_phys(struct lobo_mem *mem, char *err);

/* DMA memory a killed lobo process left to the PCI device at bdf (DDDD:BB:DD.F)
 * stays allocated until the device is reset: by the next open of the device,
 * or by this call, which turns the device's bus mastering off, resets it where
 * the kernel offers a reset, and frees that memory (*released bytes). An igb
 * a killed kernel=keep run left gets the kernel's queue back first. */
int lobo_pci_reset(const char *bdf, size_t *released, char *err);
/* Why the kernel still uses the device: its interfaces that are up with
 * addresses or routes, e.g. "eth0 (addresses, routes)"; "" when none is.
 * Opening such a device as a pci: port needs ?force=1. */
void lobo_pci_kernel_use(const char *bdf, char *out, size_t len);
/* An SR-IOV virtual function's number at its physical function, whose
 * address goes to pf; -1 (and pf "") when bdf is no VF. */
int lobo_pci_vf_of(const char *bdf, char pf[16]);

/* The address a device uses for `p`: its IOVA under VFIO (lobo maps the region
 * at IOVA == virtual address), its physical address otherwise. Buffers must
 * not cross a page_size boundary, so one lookup covers a whole buffer. */
static inline uint64_t lobo_mem_dma(const struct lobo_mem *mem, const void *p)
{
	size_t off = (size_t)((const uint8_t *)p - mem->base);
	if (!mem->phys)
		return (uint64_t)(uintptr_t)p;
	return mem->phys[off / mem->page_size] + off % mem->page_size;
}

/* ----------------------------------------------------------------- ports */

/* One frame, or one empty buffer. The tag is the caller's and comes back
 * unchanged; ports never look inside it.
 *  rx_post:    data = start of an empty buffer, len = its capacity
 *  rx_poll:    data = start of the received frame (may lie anywhere inside the
 *              posted buffer), len = frame length, tag = the buffer's tag
 *  tx_post:    data, len = the frame to send
 *  tx_reclaim: data, tag of a buffer the port is done with (len undefined) */
struct lobo_frame {
	uint8_t *data;
	uint32_t len;
	uint32_t flags;    /* LOBO_F_*: which of the fields below are valid */
	uint64_t tag;
	uint32_t rss_hash; /* rx, LOBO_F_RSS_HASH: the NIC's RSS (Toeplitz) hash of the frame */
	uint16_t vlan_tci; /* rx, LOBO_F_VLAN: a tag the NIC removed, only ever when the program asked */
	uint16_t reserved; /* 0 */
}; /* 32 bytes, two to a cache line. Ports fill in the fields their flags name. */
#define LOBO_F_ERROR 1u        /* rx: damaged (counted in rx_errors, never in rx_packets), or a
                                  buffer handed back unread (counted nowhere: see the port) */
#define LOBO_F_RSS_HASH 2u     /* rx: rss_hash is valid */
#define LOBO_F_VLAN 4u         /* rx: vlan_tci is valid */
#define LOBO_F_IP_CSUM_OK 8u   /* rx: the NIC checked the IPv4 header checksum and it is right */
#define LOBO_F_IP_CSUM_BAD 16u /* rx: ... and it is wrong (the frame is delivered as it came) */
#define LOBO_F_L4_CSUM_OK 32u  /* rx: the NIC checked the TCP/UDP checksum and it is right */
#define LOBO_F_L4_CSUM_BAD 64u /* rx: ... and it is wrong */

/* Counted per queue by the port, in memory only the thread polling the queue
 * writes: every count, kernel statistics included, enters through that
 * queue's own rx_post, rx_poll, tx_post and tx_reclaim, never through
 * lobo_port_info. Each frame is counted once, in one place:
 *  - A frame that reached the port is rx_packets (handed to the caller whole),
 *    rx_dropped (lost for want of buffer or ring space: no buffer posted, a
 *    ring or queue full, a posted buffer too small for it) or rx_errors
 *    (arrived damaged: cut short, longer than max_frame, a bad length or
 *    descriptor from the device; the port drops it, or hands it over flagged
 *    LOBO_F_ERROR for the caller to free).
 *  - A frame tx_post took is tx_packets (handed to the wire or the kernel),
 *    tx_dropped (given up on: the device or kernel refused it for now, e.g.
 *    ENOBUFS or link down) or tx_errors (refused as unsendable: too short,
 *    longer than max_frame, outside the memory the port can reach). A frame
 *    tx_post did not take stays the caller's and is in no counter: a caller
 *    that then drops it adds it to tx_dropped (see src/tools/fwd.c).
 * So through a forwarder, frames in = frames out + counted drops:
 *   rx_packets(A) = tx_packets(B) + tx_dropped(B) + tx_errors(B).
 * rx_bytes and tx_bytes count the frames
 * in rx_packets and tx_packets. copies counts frames copied because the
 * kernel interface forces it (AF_PACKET, TAP, pcap), not a loss. */
struct lobo_counters {
	uint64_t rx_packets, rx_bytes, rx_dropped, rx_errors;
	uint64_t tx_packets, tx_bytes, tx_dropped, tx_errors;
	uint64_t copies;
	/* The exception path of a port with a shadow interface (?shadow=NAME):
	 * frames handed to the kernel through the shadow, frames the kernel sent
	 * out of the port, and frames lost on the way in (the TAP refused them)
	 * or out (bad size, port down, ring full). rx/tx_packets include the
	 * exception path; while the shadow is down, arriving frames are dropped
	 * and counted in rx_dropped. */
	uint64_t exception_rx, exception_tx, exception_rx_dropped, exception_tx_dropped;
} __attribute__((aligned(64)));

struct lobo_port_info {
	char name[64];        /* the URI it was opened with, shortened */
	char driver[16];      /* "null", "pcap", "afpacket", "tap", "xdp", "virtio", ... */
	uint16_t queues;
	uint16_t rx_ring, tx_ring; /* descriptors per queue */
	uint32_t max_frame;   /* largest frame it sends or receives (MTU + 14 [+4 VLAN]) */
	uint8_t mac[6];
	bool link_up;
	char mode[32];        /* driver detail shown by lobo list/top, e.g. "zero-copy" */
	char shadow[16];      /* the shadow interface's name, or "" */
	uint32_t speed_mbps;  /* link speed, 0 when down or unknown */
	uint16_t rss_reta_size; /* entries of the RSS redirection table, 0: no RSS */
};

struct lobo_port;

/* uri: SCHEME:ARG[?key=value&key=value]. Schemes: null, pcap, afpacket, tap,
 * xdp, pci. Common keys: queues=N, rx_ring=N, tx_ring=N. `mem` is the region
 * frames will live in (kernel-backed ports that copy may ignore it).
 * xdp:IF[:QUEUE] makes `mem` its AF_XDP UMEM: it takes rx buffers of at least
 * 2048 bytes (chunk=4096: 4096), and sends only frames that lie in `mem`
 * (others it takes, counts in tx_errors and hands back on tx_reclaim).
 * pci: ports take shadow=NAME: a TAP interface NAME stands for the NIC (see
 * lobo_port_service), and exception=FILTER, a pcap filter (no '&': write
 * "and") choosing the frames it gets instead of the default: unicast to its
 * address, broadcast and multicast ARP and ICMPv6 (these as copies). Queue 0
 * of such a port holds 32 more rx buffers than the NIC's ring (rx_ring counts
 * them): the kernel's frames are sent in them. An igb takes kernel=keep: its
 * kernel driver keeps the NIC and lobo one queue pair (README). */
int lobo_port_open(struct lobo_port **port, const char *uri, struct lobo_mem *mem, char *err);
void lobo_port_close(struct lobo_port *port);
/* The lobo driver for a PCI vendor:device ("virtio", ...), or NULL. */
const char *lobo_pci_driver_name(uint16_t vendor, uint16_t device);
/* What lobo list says of that driver for this device ("untested on
 * hardware"), or NULL. */
const char *lobo_pci_driver_note(uint16_t vendor, uint16_t device);
/* Refresh and return link state, MAC and the rest (not for the fast path). */
const struct lobo_port_info *lobo_port_info(struct lobo_port *port);
/* The queue's counters, or NULL for a queue the port does not have. Writable
 * so that a caller that drops frames the port would not take can count them
 * where every reader looks (from the thread that polls the queue). */
struct lobo_counters *lobo_port_counters(struct lobo_port *port, uint16_t queue);
void lobo_port_counters_sum(struct lobo_port *port, struct lobo_counters *sum);

/* A port opened with shadow=NAME: applies what was changed on NAME with ip
 * (address, mtu, up/down, promisc, allmulticast, multicast groups) to the NIC,
 * sets NAME's carrier from the NIC's link, and sends what the kernel sent on
 * NAME. Call it from the thread that polls queue 0 (it posts on queue 0) at
 * least every 100 ms, and whenever lobo_port_fd becomes readable. Returns 0,
 * or a negative errno with err when the NIC refused a change (NAME is set
 * back). Without a shadow it does the port's own housekeeping, if any: igb's
 * kernel=keep returns -ESTALE with err once the kernel has reset the NIC and
 * taken its queues back (close the port). No thread is involved. */
int lobo_port_service(struct lobo_port *port, char *err);
/* An fd (epoll) that becomes readable when lobo_port_service has work, or -1. */
int lobo_port_fd(const struct lobo_port *port);

/* ---------------------------------------- ports: hardware detail (igb, v2)
 * Port-wide counters the NIC keeps itself, link speed, RSS and a transmit
 * loop in the NIC. Kernel-backed ports have none of these: their hardware
 * counters stay 0, lobo_port_set_rss and lobo_tx_loop_start say -ENOTSUP. */

/* What the NIC counted, port-wide, from its statistics registers (which
 * clear when read): lobo_port_hw_counters reads them and adds them up here.
 * lobo_port_counters_sum folds the drops into rx_dropped and the errors into
 * rx_errors, since frames the NIC dropped never reach a queue's counters. */
struct lobo_hw_counters {
	uint64_t rx_packets, rx_bytes; /* good frames received, and their bytes with FCS */
	uint64_t tx_packets, tx_bytes; /* good frames sent, and their bytes with FCS */
	uint64_t rx_missed;            /* dropped: no room in the NIC's receive FIFO */
	uint64_t rx_no_buffer;         /* dropped: the queue they went to had no buffer posted */
	uint64_t rx_frame_errors;      /* dropped: damaged on the wire (bad FCS, alignment, symbols) */
	uint64_t rx_length_errors;     /* dropped: shorter than 64 or longer than the port's max_frame */
};

/* Reads the NIC's statistics registers, adds what they held to the port's
 * totals and returns the totals. One thread at a time and not on the data
 * path (a few register reads); lobo_stats_publish calls it for the ports it
 * publishes. */
const struct lobo_hw_counters *lobo_port_hw_counters(struct lobo_port *port);

/* The link as it is now, through one register read on a NIC (a system call on
 * kernel ports): cheap, touches no counter, safe to ask often from a control
 * thread. Also refreshes the port info's link_up and speed_mbps. */
struct lobo_link {
	bool up;
	uint32_t speed_mbps; /* 0 when down or unknown */
};
struct lobo_link lobo_port_link(struct lobo_port *port);

/* Receive-side scaling: a received frame's Toeplitz hash h (of its IP
 * addresses and TCP/UDP ports, with `key`) picks rx queue reta[h % reta_len].
 * key (LOBO_RSS_KEY_LEN bytes) or reta (info.rss_reta_size entries, each below
 * info.queues) may be NULL to keep the current one. A port opens with the
 * Microsoft RSS specification's example key and queues in turn in the table;
 * a table naming only some queues gives a port fewer receive than transmit
 * queues. Not on the data path. */
#define LOBO_RSS_KEY_LEN 40
int lobo_port_set_rss(struct lobo_port *port, const uint8_t *key, const uint16_t *reta, uint32_t reta_len,
		      char *err);

/* Packetblaster: the NIC sends frames[0..n-1] over and over, in this order,
 * with no CPU work per frame. The queue's transmit ring is filled once (the
 * queue must have nothing in flight: reclaim first) and lobo_tx_loop_kick
 * keeps the NIC going: call it often enough that the ring does not run dry
 * (a 4096-descriptor ring lasts 2.7 ms at 1 Gbit/s); it counts the frames
 * sent in tx_packets/tx_bytes and returns how many. The frames stay the
 * caller's and must stay unchanged until lobo_tx_loop_stop, which leaves the
 * queue empty and usable again. -ENOTSUP (with err) where the port cannot:
 * then send in software. */
int lobo_tx_loop_start(struct lobo_port *port, uint16_t queue, const struct lobo_frame *frames, uint32_t n,
		       char *err);
uint32_t lobo_tx_loop_kick(struct lobo_port *port, uint16_t queue);
void lobo_tx_loop_stop(struct lobo_port *port, uint16_t queue);

/* The data path: four calls per queue, each on a batch, each returning how many
 * it took or gave (0..n). Buffers not taken stay the caller's. A queue the
 * port does not have (queue >= info.queues) takes and gives nothing. */
uint16_t lobo_rx_post(struct lobo_port *port, uint16_t queue, const struct lobo_frame *bufs, uint16_t n);
uint16_t lobo_rx_poll(struct lobo_port *port, uint16_t queue, struct lobo_frame *frames, uint16_t max);
uint16_t lobo_tx_post(struct lobo_port *port, uint16_t queue, const struct lobo_frame *frames, uint16_t n);
uint16_t lobo_tx_reclaim(struct lobo_port *port, uint16_t queue, struct lobo_frame *done, uint16_t max);

/* ------------------------------------------------------------------ pool */

/* Fixed-size buffers carved from a lobo_mem: a LIFO stack of indices, as in
 * ixy. tag = buffer index. Buffer size is a power of two <= page_size so no
 * buffer straddles a page. A reference count per buffer lets a program hand
 * the same frame to several ports; lobo_pool_free drops one reference. */
struct lobo_pool {
	struct lobo_mem *mem;
	uint8_t *base;
	uint32_t buf_size, count, free_count;
	uint32_t *stack;
	uint16_t *refs;
	uint64_t double_frees; /* frees of a tag not allocated (refs already 0, or out of range): ignored */
};

int lobo_pool_init(struct lobo_pool *pool, struct lobo_mem *mem, size_t offset,
		   uint32_t buf_size, uint32_t count, char *err);
void lobo_pool_destroy(struct lobo_pool *pool);
/* Fills out[i].data/len(=buf_size)/tag; returns how many it could give. */
uint32_t lobo_pool_alloc(struct lobo_pool *pool, struct lobo_frame *out, uint32_t n);
void lobo_pool_free(struct lobo_pool *pool, const struct lobo_frame *frames, uint32_t n);
static inline uint8_t *lobo_pool_buf(const struct lobo_pool *pool, uint64_t tag)
{
	return pool->base + (size_t)tag * pool->buf_size;
}
static inline void lobo_pool_ref(struct lobo_pool *pool, uint64_t tag) { pool->refs[tag]++; }

/* ----------------------------------------------------------------- stats */

/* Publishes ports' counters to /run/lobo/<pid> (a shared-memory file) so that
 * `lobo top` in another process can read them live. Ports count into private
 * memory; lobo_stats_publish copies them out (call it every ~100 ms), so the
 * fast path never writes to a shared page (Snabb's lesson). */
#define LOBO_STATS_MAX_PORTS 16
struct lobo_stats_port {
	struct lobo_port_info info;
	struct lobo_counters total;
	struct lobo_counters queue[LOBO_MAX_QUEUES];
	struct lobo_hw_counters hw; /* v2: the NIC's own counters, already folded into total */
};
struct lobo_stats_file {
	uint32_t magic, version;
	int32_t pid;
	uint32_t nports;
	uint64_t seq;        /* odd while a publish is under way (a seqlock) */
	uint64_t updated_ns; /* CLOCK_MONOTONIC of the last publish */
	char program[64];
	struct lobo_stats_port port[LOBO_STATS_MAX_PORTS];
};
#define LOBO_STATS_MAGIC 0x6c6f626fu /* "lobo" */
#define LOBO_STATS_VERSION 4 /* 2: seq, writer lock; 3: shadow name, exception counters; 4: hw counters, link speed, 32-byte lobo_frame */
#define LOBO_STATS_DIR "/run/lobo"

/* The publishing side. The file stays locked (flock) while its process lives:
 * a reader that can take the lock knows the writer is gone, even if its pid
 * has been reused. */
struct lobo_stats {
	struct lobo_stats_file *file;
	int fd;
	uint32_t nports;
	char path[128];
	struct lobo_port *ports[LOBO_STATS_MAX_PORTS];
};

int lobo_stats_open(struct lobo_stats *stats, const char *program, char *err);
int lobo_stats_add(struct lobo_stats *stats, struct lobo_port *port, char *err);
void lobo_stats_publish(struct lobo_stats *stats);
void lobo_stats_close(struct lobo_stats *stats); /* removes the file */

/* The reading side: copies one whole publish of process pid into *copy, never
 * parts of two. Returns 0; -ESRCH when the process is gone (its file is then
 * removed); -ENOENT; -EINVAL when the file is not a complete stats file of
 * this version; -EAGAIN when publishes kept overlapping the copy. */
int lobo_stats_read(int pid, struct lobo_stats_file *copy);

#ifdef __cplusplus
}
#endif
#endif
