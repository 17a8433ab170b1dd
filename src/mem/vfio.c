/* VFIO: container, group, device (Documentation/driver-api/vfio.rst, "VFIO
 * Usage Example"), and DMA mapping of lobo_mem at IOVA == virtual address so
 * that lobo_mem_dma() needs no table. */
#include "pci.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/vfio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

int lobo_vfio_open(struct lobo_pci *pci, char *err)
{
	char path[32];
	int group = lobo_pci_iommu_group(pci->bdf);
	snprintf(path, sizeof path, "/dev/vfio/%d", group);
	pci->container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	pci->group = open(path, O_RDWR | O_CLOEXEC);
	if (pci->container < 0 || pci->group < 0)
		return lobo_fail(err, -errno, "pci: %s: cannot open %s: %s: load vfio-pci or add ?vfio=0 to run without "
				 "an IOMMU", pci->bdf, pci->container < 0 ? "/dev/vfio/vfio" : path, strerror(errno));
	struct vfio_group_status status = {.argsz = sizeof status};
	if (ioctl(pci->container, VFIO_GET_API_VERSION) != VFIO_API_VERSION ||
	    !ioctl(pci->container, VFIO_CHECK_EXTENSION, VFIO_TYPE1_IOMMU) ||
	    ioctl(pci->group, VFIO_GROUP_GET_STATUS, &status) ||
	    !(status.flags & VFIO_GROUP_FLAGS_VIABLE))
		return lobo_fail(err, -EINVAL, "pci: %s: IOMMU group %d is not usable by VFIO: bind every device in it "
				 "to vfio-pci", pci->bdf, group);
	if (ioctl(pci->group, VFIO_GROUP_SET_CONTAINER, &pci->container) ||
	    ioctl(pci->container, VFIO_SET_IOMMU, VFIO_TYPE1_IOMMU))
		return lobo_fail(err, -errno, "pci: %s: VFIO setup failed: %s", pci->bdf, strerror(errno));
	pci->device_fd = ioctl(pci->group, VFIO_GROUP_GET_DEVICE_FD, pci->bdf);
	if (pci->device_fd < 0)
		return lobo_fail(err, -errno, "pci: %s: VFIO setup failed: %s", pci->bdf, strerror(errno));
	size_t len;
	bool mappable;
	pci->config_fd = pci->device_fd;
	if (lobo_vfio_region(pci, VFIO_PCI_CONFIG_REGION_INDEX, &pci->config_off, &len, &mappable))
		return lobo_fail(err, -ENODEV, "pci: %s: VFIO gives no config space region: check that vfio-pci drives it",
				 pci->bdf);
	return 0;
}

int lobo_vfio_region(const struct lobo_pci *pci, int index, off_t *off, size_t *len, bool *mappable)
{
	struct vfio_region_info info = {.argsz = sizeof info, .index = (uint32_t)index};
	if (ioctl(pci->device_fd, VFIO_DEVICE_GET_REGION_INFO, &info))
		return -errno;
	*off = (off_t)info.offset;
	*len = info.size;
	*mappable = info.flags & VFIO_REGION_INFO_FLAG_MMAP;
	return info.size ? 0 : -ENOENT;
}

int lobo_vfio_map(struct lobo_pci *pci, struct lobo_mem *mem, char *err)
{
	struct vfio_iommu_type1_dma_map map = {
		.argsz = sizeof map,
		.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
		.vaddr = (uintptr_t)mem->base,
		.iova = (uintptr_t)mem->base,
		.size = mem->len,
	};
	if (ioctl(pci->container, VFIO_IOMMU_MAP_DMA, &map))
		return lobo_fail(err, -errno, "pci: %s: cannot map %zu bytes for DMA: %s: %s", pci->bdf, mem->len,
				 strerror(errno), errno == ENOMEM ? "raise ulimit -l (locked memory)"
								  : "the address may be beyond the IOMMU's width: try ?vfio=0 as root");
	return 0;
}

/* Closing the container unmaps and unpins everything mapped into it. */
void lobo_vfio_close(struct lobo_pci *pci)
{
	for (int i = 0; i < LOBO_PCI_MAX_IOVA; i++) {
		if (pci->iova[i])
			pci->iova[i]->iommu_mapped--;
		pci->iova[i] = NULL;
	}
	if (pci->device_fd >= 0)
		close(pci->device_fd);
	if (pci->group >= 0)
		close(pci->group);
	if (pci->container >= 0)
		close(pci->container);
	pci->device_fd = pci->group = pci->container = -1;
}
