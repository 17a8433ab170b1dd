/* The XDP program behind xdp: ports. Every frame of a queue lobo has a socket
 * on goes to that socket, except the kinds the port was opened to leave to the
 * kernel (?kernel=arp,icmp), so the host keeps answering ARP and ping there.
 * Queues without a socket pass to the kernel (bpf_redirect_map's fallback).
 * Compiled by clang -target bpf and embedded in liblobo (see meson.build). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "xdp_steer.h"

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, LOBO_XDP_MAX_QUEUE);
	__type(key, __u32);
	__type(value, __u32);
} lobo_xsks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lobo_xdp_config);
} lobo_config SEC(".maps");

static __always_inline int for_kernel(struct xdp_md *ctx, __u32 kinds)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	__u8 *p = data;
	if (p + 18 > (__u8 *)end)
		return 0;
	__u16 type = *(__u16 *)(p + 12);
	if (type == bpf_htons(0x8100)) { /* one 802.1Q tag */
		type = *(__u16 *)(p + 16);
		p += 4;
	}
	p += 14;
	if (type == bpf_htons(0x0806))
		return kinds & LOBO_XDP_KERNEL_ARP;
	if (!(kinds & LOBO_XDP_KERNEL_ICMP))
		return 0;
	if (type == bpf_htons(0x0800) && p + 20 <= (__u8 *)end)
		return p[9] == 1;  /* IPv4 protocol: ICMP */
	if (type == bpf_htons(0x86dd) && p + 40 <= (__u8 *)end)
		return p[6] == 58; /* IPv6 next header: ICMPv6, which carries ND too */
	return 0;
}

SEC("xdp")
int lobo_xsk(struct xdp_md *ctx)
{
	__u32 zero = 0;
	struct lobo_xdp_config *cfg = bpf_map_lookup_elem(&lobo_config, &zero);
	if (cfg && cfg->kernel && for_kernel(ctx, cfg->kernel))
		return XDP_PASS;
	return bpf_redirect_map(&lobo_xsks, ctx->rx_queue_index, XDP_PASS);
}

char _license[] SEC("license") = "Dual BSD/GPL";
