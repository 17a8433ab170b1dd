/* The programs behind `lobo fwd|blast|capture|list`, written as library users.
 * Tools never print: they hand reports to a callback the CLI supplies, and
 * errors go into `err` like everywhere else in lobo. */
#ifndef LOBO_TOOLS_H
#define LOBO_TOOLS_H

#include "lobo.h"

#include <signal.h>
#include <stdio.h>

#include "err.h"

#define tool_err lobo_err /* one line, control characters made harmless */

#define TOOL_MAX_PORTS 2
#define TOOL_BUF_SIZE 2048u   /* one standard frame (1518) fits, a power of two for the pool */
#define TOOL_RX_BUFFERS 8192u /* enough to fill a few rings; fewer just leaves rings part-filled */
#define TOOL_MAX_BATCH 256    /* the most --batch takes: tools keep batches on the stack */

/* Ports opened over one memory region and one pool, published for `lobo top`. */
struct tool_session {
	struct lobo_mem mem;
	struct lobo_pool pool;
	struct lobo_stats stats;
	bool stats_open;
	char stats_err[LOBO_ERR_LEN]; /* why `lobo top` won't see us, if it won't */
	uint16_t nports;
	struct lobo_port *port[TOOL_MAX_PORTS];
};

int tool_session_open(struct tool_session *s, const char *program, const char *const *uris,
		      uint16_t nports, uint32_t buffers, char *err);
void tool_session_close(struct tool_session *s);

struct tool_report {
	bool final;
	double seconds;  /* since the start */
	double interval; /* what the deltas cover: about 1 s, or the whole run when final */
	uint16_t nports;
	const char *name[TOOL_MAX_PORTS];
	struct lobo_counters total[TOOL_MAX_PORTS], delta[TOOL_MAX_PORTS];
	uint64_t filtered; /* capture: frames the filter rejected (not drops) */
	const char *loop;  /* blast --loop: "hardware" (the NIC loops) or "software"; else NULL */
	double cpu_seconds; /* the process's CPU time (user + system) since the start */
};

struct tool_run {
	double duration; /* seconds; 0 = until stopped */
	uint64_t count;  /* frames; 0 = no limit */
	uint16_t batch;  /* frames per port call, 1..TOOL_MAX_BATCH; 0 = LOBO_BATCH */
	volatile sig_atomic_t *stop; /* set by the CLI's SIGINT/SIGTERM handler */
	void (*report)(const struct tool_report *r, void *ctx);
	void (*warn)(const char *line, void *ctx); /* e.g. a change the NIC refused on a shadow */
	void *ctx;
};

/* The run loop every tool shares: deadlines, reports, stats publishing. */
struct tool_loop {
	struct tool_session *s;
	const struct tool_run *run;
	uint64_t start_ns, end_ns, next_publish_ns, next_report_ns, last_report_ns, next_service_ns, start_cpu_ns;
	uint32_t idle_rounds, rounds;
	struct tool_report report;
	int fatal;                   /* a port can no longer be used (-ESTALE): the loop ends with it */
	char fatal_err[LOBO_ERR_LEN];
};

uint64_t tool_now_ns(void);
static inline uint16_t tool_batch(const struct tool_run *run)
{
	return run->batch && run->batch <= TOOL_MAX_BATCH ? run->batch : LOBO_BATCH;
}
void tool_loop_start(struct tool_loop *l, struct tool_session *s, const struct tool_run *run);
bool tool_loop_tick(struct tool_loop *l); /* false once stopped or the duration is over */
/* Publishes and reports a last time; returns the port's fatal error, if one ended the loop. */
int tool_loop_finish(struct tool_loop *l, char *err);
/* Tells the loop how many frames a round moved; long idle stretches sleep a
 * little, so a waiting tool leaves the CPU to the processes it waits for. */
void tool_loop_work(struct tool_loop *l, uint32_t frames);
/* True once idle a while and a port will never receive again: a pcap reader
 * at end of file. */
bool tool_port_exhausted(const struct tool_loop *l, struct lobo_port *port);
/* The fewest buffers worth posting to a ring of `ring` (tool_refill). */
static inline uint32_t tool_refill_batch(uint32_t ring) { return ring / 4 < LOBO_BATCH ? ring / 4 : LOBO_BATCH; }
/* Tops up an rx queue from the pool; posted counts the buffers it holds. */
void tool_refill(struct lobo_pool *pool, struct lobo_port *port, uint16_t queue,
		 uint32_t *posted, uint32_t ring);

int tool_fwd(struct tool_session *s, const struct tool_run *run, char *err);

struct blast_opts {
	uint32_t size;       /* synthesise UDP frames of this size, or */
	const char *pcap;    /* replay this file's frames */
	double rate;         /* frames per second; 0 = as fast as the port takes them */
	bool loop;           /* let the NIC send the frames round and round where it can */
	uint8_t dst_mac[6];  /* the CLI's default: 02:00:00:00:00:00 */
};
/* Frames a blast will pre-build: reads the pcap once; <0 and err if unreadable. */
long blast_frame_count(const struct blast_opts *o, char *err);
int tool_blast(struct tool_session *s, const struct blast_opts *o, const struct tool_run *run, char *err);
/* One Ethernet/IPv4/UDP frame of `size` bytes with valid checksums. */
void blast_build_udp(uint8_t *frame, uint32_t size, const uint8_t dst[6], const uint8_t src[6],
		     uint16_t src_port);

/* The filter compiled and the file created before any port is opened, so a
 * bad filter or path fails first. */
struct capture;
int capture_open(struct capture **c, const char *file, const char *filter, char *err);
void capture_close(struct capture *c);
int tool_capture(struct tool_session *s, struct capture *c, const struct tool_run *run, char *err);

/* lobo list */
struct list_iface {
	char name[32], mac[18], operstate[16], driver[32];
};
struct list_pci {
	char bdf[16], driver[32];
	uint16_t vendor, device;
	const char *lobo_driver; /* NULL: lobo has no driver for it */
	char kernel_use[96];     /* "eth0 (addresses, routes)": lobo takes it only with ?force=1 */
	int lobo_pid;            /* the lobo process driving it, or 0 */
	char lobo_mode[32];      /* its port's mode, e.g. "keep eth0 rx0 tx1 no-iommu" (kernel=keep) */
	char link[24];           /* "down", "1G", "100M", "up" (speed unknown), or "-" (no one drives it) */
	const char *lobo_note;   /* e.g. "untested on hardware", or NULL */
	char sriov[80];          /* "VF 0 of 0000:01:00.0 (igb eth0)", "PF of 2 VFs", or "" */
};
int list_ifaces(struct list_iface *out, int max, char *err);
int list_pci_nics(struct list_pci *out, int max, char *err);
/* The DPDK this lobo's dpdk: ports were built with, or NULL: none. */
const char *list_dpdk_version(void);

/* lobo reset pci:BDF: the device reset and the DMA memory a killed lobo left
 * to it freed (*released bytes). */
int tool_reset(const char *uri, size_t *released, char *err);

#endif
