/* Layer 1, internal: a PCI device opened for a userspace driver, through sysfs
 * (no IOMMU: physical addresses) or VFIO (IOMMU: IOVA == virtual address). */
#ifndef LOBO_PCI_H
#define LOBO_PCI_H

#include "lobo.h"

#include <stdio.h>
#include <sys/types.h>

#include "err.h"

/* A BAR is either mapped (memory BARs) or reached with pread/pwrite at
 * off + register (I/O BARs: the sysfs resourceN file and the VFIO region both
 * accept 1, 2 and 4 byte accesses). */
struct lobo_pci_bar {
	volatile uint8_t *mmio;
	size_t len;
	int fd;
	off_t off;
};

struct lobo_pci {
	char bdf[16];            /* "0000:00:03.0" */
	char old_driver[32];     /* kernel driver we unbound, for ?rebind=1 */
	bool rebind;
	int lock_fd, config_fd;  /* config_fd: sysfs config file or the VFIO device */
	off_t config_off;
	int container, group, device_fd; /* VFIO, or -1 */
	struct lobo_mem *mapped[2];      /* regions mapped into the container */
};

/* Parses [DDDD:]BB:DD.F into bdf ("0000:BB:DD.F"); 0 or -EINVAL. */
int lobo_pci_parse_bdf(const char *arg, char bdf[16], char *err);
/* Vendor and device ID from sysfs; -ENODEV with a message when there is no such device. */
int lobo_pci_id(const char *bdf, uint16_t *vendor, uint16_t *device, char *err);
/* Locks the device against other processes, unbinds its kernel driver, binds
 * it to vfio-pci when use_vfio (and it has an IOMMU group), enables register
 * access and turns bus mastering off. */
int lobo_pci_open(struct lobo_pci *pci, const char *bdf, bool use_vfio, bool rebind, char *err);
void lobo_pci_close(struct lobo_pci *pci);
/* DMA on or off. A driver turns it on only after it has reset the device, so
 * that nothing an earlier owner set up can write into memory. */
int lobo_pci_bus_master(const struct lobo_pci *pci, bool on);
/* True when the device can use VFIO: IOMMU group present and vfio-pci loaded. */
bool lobo_pci_vfio_possible(const char *bdf);

int lobo_pci_config_read(const struct lobo_pci *pci, unsigned off, void *buf, size_t len);
int lobo_pci_config_write(const struct lobo_pci *pci, unsigned off, const void *buf, size_t len);
int lobo_pci_bar_open(const struct lobo_pci *pci, int index, struct lobo_pci_bar *bar, char *err);
void lobo_pci_bar_close(struct lobo_pci_bar *bar);
uint32_t lobo_pci_read(const struct lobo_pci_bar *bar, size_t at, int width);
void lobo_pci_write(const struct lobo_pci_bar *bar, size_t at, uint32_t value, int width);

/* Makes mem reachable by the device: VFIO_IOMMU_MAP_DMA at IOVA == VA, or,
 * without VFIO or when the device bypasses the IOMMU, physical addresses from
 * pagemap (which needs hugepages so that a buffer is physically contiguous). */
int lobo_pci_dma_map(struct lobo_pci *pci, struct lobo_mem *mem, bool bypass_iommu, char *err);

/* VFIO (vfio.c), used by pci.c. */
int lobo_vfio_open(struct lobo_pci *pci, char *err);
int lobo_vfio_region(const struct lobo_pci *pci, int index, off_t *off, size_t *len, bool *mappable);
int lobo_vfio_map(struct lobo_pci *pci, struct lobo_mem *mem, char *err);
void lobo_vfio_close(struct lobo_pci *pci);

#endif
