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
 * accept 1, 2 and 4 byte accesses). len is 0 until it is open. */
struct lobo_pci_bar {
	volatile uint8_t *mmio;
	size_t len;
	int fd;
	off_t off;
};

#define LOBO_PCI_MAX_IOVA 4 /* regions one device reaches through the IOMMU */

struct lobo_pci {
	char bdf[16];            /* "0000:00:03.0" */
	char old_driver[32], old_override[32]; /* as lobo_pci_open found the device */
	bool restore;            /* lobo_pci_close gives the device back to old_driver */
	bool was_reset;          /* the driver reset the device (and turned bus mastering on) */
	int lock_fd, config_fd;  /* config_fd: sysfs config file or the VFIO device */
	off_t config_off;
	int container, group, device_fd; /* VFIO, or -1 */
	struct lobo_mem *iova[LOBO_PCI_MAX_IOVA]; /* regions mapped at IOVA == VA */
};

/* What the pci: URI asked for. */
struct lobo_pci_want {
	bool vfio;   /* through VFIO (the device has an IOMMU group), else physical addresses */
	bool force;  /* take the device even while the kernel uses its interface */
	const struct lobo_mem *mem; /* the DMA memory the port will use */
};

/* Parses [DDDD:]BB:DD.F into bdf ("0000:BB:DD.F"); 0 or -EINVAL. */
int lobo_pci_parse_bdf(const char *arg, char bdf[16], char *err);
/* Vendor and device ID from sysfs; -ENODEV with a message when there is no such device. */
int lobo_pci_id(const char *bdf, uint16_t *vendor, uint16_t *device, char *err);
/* The name of the kernel driver bound to the device, "" when none is. */
void lobo_pci_driver(const char *bdf, char *name, size_t len);
/* The device's IOMMU group, or -1 when it has none (no IOMMU). */
int lobo_pci_iommu_group(const char *bdf);
/* Locks the device against other processes and checks everything it can
 * before touching it: the kernel's use of it, VFIO (loading vfio-pci) or
 * memory for physical addresses. Then unbinds its kernel driver, binds it to
 * vfio-pci when want->vfio, enables register access and turns bus mastering
 * off. On failure the device is as it was. */
int lobo_pci_open(struct lobo_pci *pci, const char *bdf, const struct lobo_pci_want *want, char *err);
/* Locks the device for a driver that works beside its kernel driver (igb's
 * kernel=keep): nothing is unbound, no configuration space is touched. */
int lobo_pci_attach(struct lobo_pci *pci, const char *bdf, char *err);
/* lobo_pci_reset (lobo.h) once the driver layer has seen to what it left. */
int lobo_pci_reset_device(const char *bdf, size_t *released, char *err);
/* Call after the driver has reset the device: DMA off, VFIO closed, memory
 * held for the device released, and, while pci->restore, the kernel driver
 * and driver_override put back as lobo_pci_open found them. */
void lobo_pci_close(struct lobo_pci *pci);
/* DMA on or off. A driver turns it on only after it has reset the device, so
 * that nothing an earlier owner set up can write into memory; turning it on
 * releases the memory earlier owners left held for the device. */
int lobo_pci_bus_master(struct lobo_pci *pci, bool on);

int lobo_pci_config_read(const struct lobo_pci *pci, unsigned off, void *buf, size_t len);
int lobo_pci_config_write(const struct lobo_pci *pci, unsigned off, const void *buf, size_t len);
int lobo_pci_bar_open(const struct lobo_pci *pci, int index, struct lobo_pci_bar *bar, char *err);
void lobo_pci_bar_close(struct lobo_pci_bar *bar);
uint32_t lobo_pci_read(const struct lobo_pci_bar *bar, size_t at, int width);
void lobo_pci_write(const struct lobo_pci_bar *bar, size_t at, uint32_t value, int width);

/* Makes mem reachable by the device: VFIO_IOMMU_MAP_DMA at IOVA == VA, or,
 * without VFIO or when the device bypasses the IOMMU, physical addresses from
 * pagemap (hugepages, so that a buffer is physically contiguous), the region
 * claimed for the device and, under VFIO, pinned by mapping it all the same. */
int lobo_pci_dma_map(struct lobo_pci *pci, struct lobo_mem *mem, bool bypass_iommu, char *err);

/* Memory held for a device (mem.c): names mem's hugetlbfs file in the
 * owner's folder, or frees every region held there but those of keep_pid
 * (0: all); returns the bytes freed. */
int lobo_mem_claim(const struct lobo_mem *mem, const char *owner, char *err);
size_t lobo_mem_release(const char *owner, int keep_pid);

/* VFIO (vfio.c), used by pci.c. */
int lobo_vfio_open(struct lobo_pci *pci, char *err);
int lobo_vfio_region(const struct lobo_pci *pci, int index, off_t *off, size_t *len, bool *mappable);
int lobo_vfio_map(struct lobo_pci *pci, struct lobo_mem *mem, char *err);
void lobo_vfio_close(struct lobo_pci *pci);

#endif
