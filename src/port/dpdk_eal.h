/* DPDK's EAL for dpdk: ports (dpdk_eal.c): started once per process, by the
 * first dpdk: port, with DPDK's log kept off the terminal. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include <rte_mempool.h>

struct dpdk_eal {
	bool pci;       /* the PCI bus is on */
	int zc_ops;     /* index of the mempool ops given at the start, <0: DPDK had no slot left */
	uint64_t owner; /* lobo's ethdev owner id: a device is opened once */
};

/* Starts the EAL for a virtual device (bdf NULL) or for PCI device bdf, and
 * registers zc_ops; a later call gives the first one's outcome. 0 and the
 * running EAL in *eal, or a negative errno and the line in err. */
int dpdk_eal_start(const char *bdf, const struct rte_mempool_ops *zc_ops, const struct dpdk_eal **eal, char *err);

/* The first warning DPDK logged since the last call, or dflt. */
const char *dpdk_said(const char *dflt);
