/* Shared by the XDP program (xdp_steer.bpf.c) and the port (xdp.c). */
#ifndef LOBO_XDP_STEER_H
#define LOBO_XDP_STEER_H

#define LOBO_XDP_MAX_QUEUE 256 /* xskmap slots: rx queue indices lobo can bind */
#define LOBO_XDP_KERNEL_ARP 1u
#define LOBO_XDP_KERNEL_ICMP 2u /* ICMP and ICMPv6 (ping, neighbour discovery) */

/* Element 0 of the lobo_config map. owner is the pid that attached the
 * program: a later open finds it dead and replaces the stale program. */
struct lobo_xdp_config {
	__u32 owner;
	__u32 kernel; /* LOBO_XDP_KERNEL_* kinds left to the kernel stack */
};

#endif
