/* Opening ports by URI, and the thin dispatch every data-path call goes through. */
#include "port.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const struct lobo_port_ops *const schemes[] = {
	&lobo_null_ops, &lobo_pcap_ops, &lobo_afpacket_ops, &lobo_tap_ops,
#ifdef LOBO_HAVE_XDP
	&lobo_xdp_ops,
#endif
	&lobo_pci_ops,
#ifdef LOBO_HAVE_DPDK
	&lobo_dpdk_ops,
#endif
};

/* shadow= and exception= (only schemes that list them as known get here
 * with them): the port gets its shadow interface, or is closed again. */
static int open_shadow(struct lobo_port **port, const char *params, char *err)
{
	char name[32], filter[256];
	bool shadow = lobo_param_str(params, "shadow", name, sizeof name, NULL);
	bool exception = lobo_param_str(params, "exception", filter, sizeof filter, "");
	int rc = 0;
	if (exception && !shadow) {
		lobo_err(err, "exception= chooses frames for a shadow interface: add shadow=NAME");
		rc = -EINVAL;
	} else if (shadow) {
		rc = lobo_shadow_attach(*port, name, filter, err);
	}
	if (rc) {
		lobo_port_close(*port);
		*port = NULL;
	}
	return rc;
}

int lobo_port_open(struct lobo_port **port, const char *uri, struct lobo_mem *mem, char *err)
{
	const char *colon = strchr(uri, ':');
	*port = NULL;
	if (!colon) {
		lobo_err(err, "'%s' is not a port URI: write SCHEME:ARG, e.g. null:, pcap:FILE, afpacket:eth0", uri);
		return -EINVAL;
	}
	size_t n = (size_t)(colon - uri);
	for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++) {
		const struct lobo_port_ops *ops = schemes[i];
		if (strlen(ops->scheme) != n || strncmp(ops->scheme, uri, n))
			continue;
		char arg[256];
		const char *q = strchr(colon + 1, '?');
		size_t alen = q ? (size_t)(q - colon - 1) : strlen(colon + 1);
		if (alen >= sizeof arg) {
			lobo_err(err, "port argument in '%s' is too long (at most %zu characters)", uri, sizeof arg - 1);
			return -EINVAL;
		}
		memcpy(arg, colon + 1, alen);
		arg[alen] = 0;
		int rc = ops->open(port, arg, q ? q + 1 : "", mem, err);
		if (rc)
			return rc;
		/* A dispatching scheme (pci:) has already installed its driver's ops. */
		if (!(*port)->ops)
			(*port)->ops = ops;
		snprintf((*port)->info.name, sizeof (*port)->info.name, "%s", uri);
		snprintf((*port)->info.driver, sizeof (*port)->info.driver, "%s", (*port)->ops->scheme);
		return open_shadow(port, q ? q + 1 : "", err);
	}
#ifndef LOBO_HAVE_DPDK
	if (!strncmp(uri, "dpdk:", 5)) {
		lobo_err(err, "'%s': this lobo is built without dpdk: ports: install libdpdk-dev and rebuild", uri);
		return -ENOTSUP;
	}
#endif
	lobo_err(err, "unknown port scheme in '%s': use null:, pcap:FILE, afpacket:IF, tap:NAME, xdp:IF, pci:BDF or dpdk:DEVARGS", uri);
	return -EINVAL;
}

void lobo_port_close(struct lobo_port *port)
{
	if (port)
		port->ops->close(port);
}

const struct lobo_port_info *lobo_port_info(struct lobo_port *port)
{
	if (port->ops->refresh_info)
		port->ops->refresh_info(port);
	return &port->info;
}

struct lobo_counters *lobo_port_counters(struct lobo_port *port, uint16_t queue)
{
	return queue < port->info.queues ? &port->counters[queue] : NULL;
}

void lobo_port_counters_sum(struct lobo_port *port, struct lobo_counters *sum)
{
	uint64_t *out = (uint64_t *)sum;
	memset(sum, 0, sizeof *sum);
	for (uint16_t q = 0; q < port->info.queues; q++) {
		const uint64_t *in = (const uint64_t *)&port->counters[q];
		for (size_t i = 0; i < sizeof *sum / sizeof *out; i++)
			out[i] += in[i];
	}
	/* What the NIC dropped never reached a queue, so nothing counts it twice. */
	sum->rx_dropped += port->hw.rx_missed + port->hw.rx_no_buffer;
	sum->rx_errors += port->hw.rx_frame_errors + port->hw.rx_length_errors;
}

const struct lobo_hw_counters *lobo_port_hw_counters(struct lobo_port *port)
{
	if (port->ops->read_hw_counters)
		port->ops->read_hw_counters(port);
	return &port->hw;
}

struct lobo_link lobo_port_link(struct lobo_port *port)
{
	if (port->ops->link) {
		struct lobo_link l = port->ops->link(port);
		port->info.link_up = l.up;
		port->info.speed_mbps = l.speed_mbps;
		return l;
	}
	const struct lobo_port_info *info = lobo_port_info(port);
	return (struct lobo_link){info->link_up, info->speed_mbps};
}

int lobo_port_set_rss(struct lobo_port *port, const uint8_t *key, const uint16_t *reta, uint32_t reta_len, char *err)
{
	if (!port->ops->set_rss || !port->info.rss_reta_size) {
		lobo_err(err, "%s: %s ports have no RSS to set: spread flows with queues= of a NIC driver",
			 port->info.name, port->ops->scheme);
		return -ENOTSUP;
	}
	for (uint32_t i = 0; reta && i < reta_len; i++)
		if (reta[i] >= port->info.queues) {
			lobo_err(err, "%s: RSS table entry %u names queue %u of %u: use queues below %u", port->info.name,
				 i, reta[i], port->info.queues, port->info.queues);
			return -EINVAL;
		}
	if (reta && reta_len != port->info.rss_reta_size) {
		lobo_err(err, "%s: the RSS table has %u entries, not %u: give all of them", port->info.name,
			 port->info.rss_reta_size, reta_len);
		return -EINVAL;
	}
	return port->ops->set_rss(port, key, reta, err);
}

int lobo_tx_loop_start(struct lobo_port *port, uint16_t queue, const struct lobo_frame *frames, uint32_t n,
		       char *err)
{
	if (!port->ops->tx_loop_start) {
		lobo_err(err, "%s: %s ports cannot loop frames in hardware: send them in software", port->info.name,
			 port->ops->scheme);
		return -ENOTSUP;
	}
	if (queue >= port->info.queues || !n) {
		lobo_err(err, "%s: a transmit loop needs frames and a queue below %u", port->info.name, port->info.queues);
		return -EINVAL;
	}
	return port->ops->tx_loop_start(port, queue, frames, n, err);
}

uint32_t lobo_tx_loop_kick(struct lobo_port *port, uint16_t queue)
{
	return port->ops->tx_loop_kick(port, queue);
}

void lobo_tx_loop_stop(struct lobo_port *port, uint16_t queue)
{
	port->ops->tx_loop_stop(port, queue);
}

/* A queue index is checked here, once for every port: one compare per batch. */
uint16_t lobo_rx_post(struct lobo_port *p, uint16_t q, const struct lobo_frame *f, uint16_t n)
{
	return q < p->info.queues ? p->ops->rx_post(p, q, f, n) : 0;
}

uint16_t lobo_rx_poll(struct lobo_port *p, uint16_t q, struct lobo_frame *f, uint16_t n)
{
	return q < p->info.queues ? p->ops->rx_poll(p, q, f, n) : 0;
}

uint16_t lobo_tx_post(struct lobo_port *p, uint16_t q, const struct lobo_frame *f, uint16_t n)
{
	return q < p->info.queues ? p->ops->tx_post(p, q, f, n) : 0;
}

uint16_t lobo_tx_reclaim(struct lobo_port *p, uint16_t q, struct lobo_frame *f, uint16_t n)
{
	return q < p->info.queues ? p->ops->tx_reclaim(p, q, f, n) : 0;
}

/* ------------------------------------------------------------ parameters */

/* Finds key in "k=v&k=v"; returns a pointer to its value and its length. */
static const char *param_find(const char *params, const char *key, size_t *vlen)
{
	size_t klen = strlen(key);
	for (const char *p = params; p && *p;) {
		const char *end = strchr(p, '&');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (len > klen && !strncmp(p, key, klen) && p[klen] == '=') {
			*vlen = len - klen - 1;
			return p + klen + 1;
		}
		if (len == klen && !strncmp(p, key, klen)) { /* bare key means "1" */
			*vlen = 0;
			return p + klen;
		}
		p = end ? end + 1 : NULL;
	}
	return NULL;
}

bool lobo_param_str(const char *params, const char *key, char *out, size_t outlen, const char *dflt)
{
	size_t vlen;
	const char *v = param_find(params, key, &vlen);
	if (!v) {
		snprintf(out, outlen, "%s", dflt ? dflt : "");
		return false;
	}
	if (vlen == 0)
		v = "1", vlen = 1;
	snprintf(out, outlen, "%.*s", (int)vlen, v);
	return true;
}

long lobo_param_long(const char *params, const char *key, long dflt)
{
	char buf[32], *end;
	if (!lobo_param_str(params, key, buf, sizeof buf, NULL))
		return dflt;
	long v = strtol(buf, &end, 0);
	return *end ? -1 : v; /* -1: not a number; callers range-check */
}

int lobo_params_check(const char *params, const char *scheme, const char *const *known, char *err)
{
	for (const char *p = params; p && *p;) {
		const char *end = strchr(p, '&');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		const char *eq = memchr(p, '=', len);
		size_t klen = eq ? (size_t)(eq - p) : len;
		bool ok = false;
		for (const char *const *k = known; *k && !ok; k++)
			ok = strlen(*k) == klen && !strncmp(*k, p, klen);
		if (!ok) {
			char list[160] = "";
			for (const char *const *k = known; *k; k++)
				snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", k == known ? "" : ", ", *k);
			lobo_err(err, "unknown option '%.*s' for %s: ports (known: %s)", (int)klen, p, scheme, list);
			return -EINVAL;
		}
		p = end ? end + 1 : NULL;
	}
	return 0;
}

static bool is_pow2(long v) { return v > 0 && !(v & (v - 1)); }

int lobo_params_rings(const char *params, struct lobo_port_info *info, uint16_t dflt_ring, char *err)
{
	long queues = lobo_param_long(params, "queues", 1);
	long rx = lobo_param_long(params, "rx_ring", dflt_ring);
	long tx = lobo_param_long(params, "tx_ring", dflt_ring);
	if (queues < 1 || queues > LOBO_MAX_QUEUES) {
		lobo_err(err, "queues=%ld is out of range: use 1 to %d", queues, LOBO_MAX_QUEUES);
		return -EINVAL;
	}
	if (!is_pow2(rx) || !is_pow2(tx) || rx < 8 || tx < 8 || rx > 32768 || tx > 32768) {
		lobo_err(err, "ring sizes must be powers of two from 8 to 32768 (got rx_ring=%ld tx_ring=%ld)", rx, tx);
		return -EINVAL;
	}
	info->queues = (uint16_t)queues;
	info->rx_ring = (uint16_t)rx;
	info->tx_ring = (uint16_t)tx;
	return 0;
}
