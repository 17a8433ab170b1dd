/* What a port implementation provides. Drivers (src/driver) and kernel-backed
 * ports (src/port) embed struct lobo_port as their first member and fill in
 * ops, info and counters in their open function. */
#ifndef LOBO_PORT_H
#define LOBO_PORT_H

#include "err.h"
#include "lobo.h"

#include <stdio.h>
#include <string.h>

struct lobo_port_ops {
	const char *scheme;
	/* arg: the URI between "scheme:" and "?"; params: after "?" (may be ""). */
	int (*open)(struct lobo_port **port, const char *arg, const char *params,
		    struct lobo_mem *mem, char *err);
	void (*close)(struct lobo_port *port);
	void (*refresh_info)(struct lobo_port *port); /* may be NULL */
	uint16_t (*rx_post)(struct lobo_port *, uint16_t, const struct lobo_frame *, uint16_t);
	uint16_t (*rx_poll)(struct lobo_port *, uint16_t, struct lobo_frame *, uint16_t);
	uint16_t (*tx_post)(struct lobo_port *, uint16_t, const struct lobo_frame *, uint16_t);
	uint16_t (*tx_reclaim)(struct lobo_port *, uint16_t, struct lobo_frame *, uint16_t);

	/* Control operations: the shadow interface (shadow.c) calls them when
	 * the operator changes it, from the thread that polls queue 0, never on
	 * the data path. Each may be NULL when the device cannot; each returns 0,
	 * or a negative errno with the line in err. A driver starts its NIC
	 * promiscuous (lobo's tools want every frame), accepting its own address
	 * and broadcast; the shadow asks for less only when the operator does. */
	/* The unicast address the NIC accepts as its own; info.mac follows. */
	int (*set_mac)(struct lobo_port *, const uint8_t mac[6], char *err);
	/* Accept every frame, whatever its destination. */
	int (*set_promisc)(struct lobo_port *, bool on, char *err);
	/* Accept every multicast frame. */
	int (*set_allmulti)(struct lobo_port *, bool on, char *err);
	/* Accept exactly these multicast addresses (n <= LOBO_MC_MAX). */
	int (*set_mc_list)(struct lobo_port *, const uint8_t (*mc)[6], uint16_t n, char *err);
	/* Receive and send frames up to mtu + 18 bytes; info.max_frame follows. */
	int (*set_mtu)(struct lobo_port *, uint32_t mtu, char *err);
	/* Off: the NIC neither receives nor sends (administratively down). */
	int (*set_enabled)(struct lobo_port *, bool on, char *err);
	/* lobo_port_service for a port without a shadow (may be NULL). */
	int (*service)(struct lobo_port *, char *err);
	/* Hardware detail (lobo.h), each may be NULL. read_hw_counters adds the
	 * NIC's clear-on-read registers to port->hw; link reads only the link. */
	void (*read_hw_counters)(struct lobo_port *port);
	struct lobo_link (*link)(struct lobo_port *port);
	int (*set_rss)(struct lobo_port *port, const uint8_t *key, const uint16_t *reta, char *err);
	int (*tx_loop_start)(struct lobo_port *port, uint16_t queue, const struct lobo_frame *frames, uint32_t n,
			     char *err);
	uint32_t (*tx_loop_kick)(struct lobo_port *port, uint16_t queue);
	void (*tx_loop_stop)(struct lobo_port *port, uint16_t queue);
};
#define LOBO_MC_MAX 64 /* more multicast groups than this: the shadow asks for allmulti */

struct lobo_shadow;

struct lobo_port {
	const struct lobo_port_ops *ops;
	struct lobo_port_info info;
	struct lobo_counters counters[LOBO_MAX_QUEUES];
	struct lobo_shadow *shadow; /* set by lobo_shadow_attach; ops are then the shadow's */
	struct lobo_hw_counters hw; /* written only by lobo_port_hw_counters */
};

extern const struct lobo_port_ops lobo_null_ops, lobo_pcap_ops, lobo_afpacket_ops,
	lobo_tap_ops, lobo_xdp_ops, lobo_pci_ops, lobo_dpdk_ops;

/* Gives an open port a shadow interface `name` (shadow.c); filter: a pcap
 * filter choosing the exception frames, or "" for the default. The shadow's
 * ops wrap the port's; lobo_port_close removes both. */
int lobo_shadow_attach(struct lobo_port *port, const char *name, const char *filter, char *err);

/* URI parameters: "key=value&key=value". Unknown keys are the caller's to
 * reject with lobo_params_check. */
long lobo_param_long(const char *params, const char *key, long dflt);
/* Copies the value (or dflt) into out; returns true if the key was present. */
bool lobo_param_str(const char *params, const char *key, char *out, size_t outlen, const char *dflt);
/* Returns 0, or -EINVAL with "unknown option KEY for SCHEME: ports (known: ...)". */
int lobo_params_check(const char *params, const char *scheme, const char *const *known, char *err);
/* Reads queues=/rx_ring=/tx_ring= into info with limits; writes err on bad values. */
int lobo_params_rings(const char *params, struct lobo_port_info *info, uint16_t dflt_ring, char *err);

/* A ring of frames a port holds for the caller: buffers posted for receive,
 * frames sent and waiting to be reclaimed. mask + 1 is a power of two. */
struct lobo_ring {
	struct lobo_frame *slot;
	uint32_t mask, head, tail; /* head: next to take out, tail: next free */
};

/* A batch goes in and out whole, in at most two copies (the second where the
 * ring wraps), not frame by frame: memcpy moves a batch of 32-byte frames at
 * the width of the machine's widest loads. */
static inline uint16_t lobo_ring_put(struct lobo_ring *r, const struct lobo_frame *f, uint16_t n)
{
	uint32_t room = r->mask + 1 - (r->tail - r->head), at = r->tail & r->mask;
	if (n > room)
		n = (uint16_t)room;
	uint32_t first = r->mask + 1 - at < n ? r->mask + 1 - at : n;
	memcpy(&r->slot[at], f, first * sizeof *f);
	if (n > first)
		memcpy(r->slot, f + first, (n - first) * sizeof *f);
	r->tail += n;
	return n;
}

static inline uint16_t lobo_ring_take(struct lobo_ring *r, struct lobo_frame *f, uint16_t max)
{
	uint32_t have = r->tail - r->head, at = r->head & r->mask;
	uint16_t n = have < max ? (uint16_t)have : max;
	uint32_t first = r->mask + 1 - at < n ? r->mask + 1 - at : n;
	memcpy(f, &r->slot[at], first * sizeof *f);
	if (n > first)
		memcpy(f + first, r->slot, (n - first) * sizeof *f);
	r->head += n;
	return n;
}

#endif
