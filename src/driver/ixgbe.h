/* The ixgbe driver's one seam for testing without a device: opening a port on
 * a BAR that is already mapped (driver/ixgbe.c; the register-level test
 * double in tests/double is its user). */
#ifndef LOBO_IXGBE_H
#define LOBO_IXGBE_H

#include "port.h"

#define IXGBE_BAR_SIZE 0x20000u /* the registers the driver touches all lie in the first 128 KiB */

/* Runs the driver's whole bring-up on `bar` (IXGBE_BAR_SIZE bytes of
 * registers) of an Intel device `device` from the pci: table, with rings and
 * frames in memory the device reaches at the addresses lobo_mem_dma gives.
 * No sysfs, no PCI configuration space, no bus mastering: the caller stands
 * for the PCI layer. The BAR stays the caller's after lobo_port_close. */
int ixgbe_open_bar(struct lobo_port **port, volatile uint8_t *bar, uint16_t device, const char *params,
		   struct lobo_mem *mem, char *err);

#endif
