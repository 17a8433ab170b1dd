/* PCI devices through sysfs (Documentation/PCI/sysfs-pci.rst): config space,
 * BARs, driver binding; VFIO when the device sits behind an IOMMU. */
#include "pci.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define SYSFS "/sys/bus/pci/devices/"
#define PCI_COMMAND 0x04
#define PCI_COMMAND_IO_MEM 0x3 /* I/O space, memory space */
#define PCI_COMMAND_MASTER 0x4
#define IORESOURCE_IO 0x100

int lobo_pci_parse_bdf(const char *arg, char bdf[16], char *err)
{
	unsigned dom = 0, bus, dev, fn;
	char end;
	if (arg[strspn(arg, "0123456789abcdefABCDEF:.")] || /* scanf's %x would take "0x" */
	    (sscanf(arg, "%x:%x:%x.%x%c", &dom, &bus, &dev, &fn, &end) != 4 &&
	     (dom = 0, sscanf(arg, "%x:%x.%x%c", &bus, &dev, &fn, &end) != 3))) {
		lobo_err(err, "pci: '%s' is not a PCI address: write DDDD:BB:DD.F or BB:DD.F as lspci -D shows it", arg);
		return -EINVAL;
	}
	snprintf(bdf, 16, "%04x:%02x:%02x.%x", dom & 0xffff, bus & 0xff, dev & 0x1f, fn & 7);
	return 0;
}

static int write_sysfs(const char *path, const char *value)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = write(fd, value, strlen(value));
	int rc = n < 0 ? -errno : 0;
	close(fd);
	return rc;
}

static unsigned read_hex(const char *bdf, const char *name)
{
	char path[96], buf[32] = "";
	snprintf(path, sizeof path, SYSFS "%s/%s", bdf, name);
	FILE *f = fopen(path, "re");
	if (f) {
		if (!fgets(buf, sizeof buf, f))
			buf[0] = 0;
		fclose(f);
	}
	return (unsigned)strtoul(buf, NULL, 16);
}

static void current_driver(const char *bdf, char *name, size_t len)
{
	char path[96], link[256];
	snprintf(path, sizeof path, SYSFS "%s/driver", bdf);
	ssize_t n = readlink(path, link, sizeof link - 1);
	link[n > 0 ? n : 0] = 0;
	snprintf(name, len, "%s", n > 0 ? strrchr(link, '/') + 1 : "");
}

int lobo_pci_id(const char *bdf, uint16_t *vendor, uint16_t *device, char *err)
{
	char path[64];
	snprintf(path, sizeof path, SYSFS "%s", bdf);
	if (access(path, F_OK)) {
		lobo_err(err, "pci: no PCI device at %s: list devices with lspci -D or ls " SYSFS, bdf);
		return -ENODEV;
	}
	*vendor = (uint16_t)read_hex(bdf, "vendor");
	*device = (uint16_t)read_hex(bdf, "device");
	return 0;
}

bool lobo_pci_vfio_possible(const char *bdf)
{
	char path[96];
	snprintf(path, sizeof path, SYSFS "%s/iommu_group", bdf);
	return !access(path, F_OK) && !access("/sys/bus/pci/drivers/vfio-pci", F_OK);
}

/* One lobo process per device: flock is released when its holder dies, even by
 * SIGKILL, so a restarted lobo gets the device back (and resets it). */
static int lock_device(struct lobo_pci *pci, char *err)
{
	char path[64], pid[16] = "";
	mkdir(LOBO_STATS_DIR, 0755);
	snprintf(path, sizeof path, LOBO_STATS_DIR "/pci-%s.lock", pci->bdf);
	pci->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (pci->lock_fd < 0) {
		lobo_err(err, "pci: cannot create %s: %s", path, strerror(errno));
		return -errno;
	}
	if (flock(pci->lock_fd, LOCK_EX | LOCK_NB)) {
		ssize_t n = pread(pci->lock_fd, pid, sizeof pid - 1, 0);
		pid[n > 0 ? n : 0] = 0;
		lobo_err(err, "pci: %s is in use by lobo process %s: stop that process first", pci->bdf,
			 *pid ? pid : "(unknown)");
		return -EBUSY;
	}
	int n = snprintf(pid, sizeof pid, "%d", (int)getpid());
	bool noted = !ftruncate(pci->lock_fd, 0) && pwrite(pci->lock_fd, pid, (size_t)n, 0) == n;
	(void)noted; /* the pid only makes the message above clearer */
	return 0;
}

static int bind_driver(struct lobo_pci *pci, bool use_vfio, char *err)
{
	char path[128], drv[32];
	current_driver(pci->bdf, drv, sizeof drv);
	if (*drv && !(use_vfio && !strcmp(drv, "vfio-pci"))) {
		if (strcmp(drv, "vfio-pci"))
			snprintf(pci->old_driver, sizeof pci->old_driver, "%s", drv);
		snprintf(path, sizeof path, SYSFS "%s/driver/unbind", pci->bdf);
		if (write_sysfs(path, pci->bdf)) {
			lobo_err(err, "pci: cannot unbind %s from kernel driver %s: %s", pci->bdf, drv, strerror(errno));
			return -errno;
		}
	}
	if (!use_vfio || !strcmp(drv, "vfio-pci"))
		return 0;
	snprintf(path, sizeof path, SYSFS "%s/driver_override", pci->bdf);
	int rc = write_sysfs(path, "vfio-pci");
	if (!rc)
		rc = write_sysfs("/sys/bus/pci/drivers/vfio-pci/bind", pci->bdf);
	if (rc)
		lobo_err(err, "pci: cannot bind %s to vfio-pci: %s: add ?vfio=0 to run without VFIO",
			 pci->bdf, strerror(-rc));
	return rc;
}

int lobo_pci_open(struct lobo_pci *pci, const char *bdf, bool use_vfio, bool rebind, char *err)
{
	char path[96];
	memset(pci, 0, sizeof *pci);
	pci->lock_fd = pci->config_fd = pci->container = pci->group = pci->device_fd = -1;
	snprintf(pci->bdf, sizeof pci->bdf, "%s", bdf);
	pci->rebind = rebind;
	if (geteuid()) {
		lobo_err(err, "pci: driving %s needs root (sysfs and DMA memory): run lobo with sudo", bdf);
		return -EPERM;
	}
	int rc = lock_device(pci, err);
	if (!rc)
		rc = bind_driver(pci, use_vfio, err);
	if (!rc && use_vfio)
		rc = lobo_vfio_open(pci, err);
	if (!rc && !use_vfio) {
		snprintf(path, sizeof path, SYSFS "%s/config", bdf);
		pci->config_fd = open(path, O_RDWR | O_CLOEXEC);
		rc = pci->config_fd < 0 ? -errno : 0;
		if (rc)
			lobo_err(err, "pci: cannot open %s: %s", path, strerror(errno));
	}
	/* Registers on, DMA off: a device an earlier run left configured (killed
	 * with kill -9) stops writing into memory that is no longer ours, and
	 * stays quiet until its driver has reset it (lobo_pci_bus_master). */
	uint16_t cmd = 0;
	if (!rc && (lobo_pci_config_read(pci, PCI_COMMAND, &cmd, 2) ||
		    (cmd = (uint16_t)((cmd | PCI_COMMAND_IO_MEM) & ~PCI_COMMAND_MASTER),
		     lobo_pci_config_write(pci, PCI_COMMAND, &cmd, 2)))) {
		lobo_err(err, "pci: cannot write the command register of %s: is the device still there?", bdf);
		rc = -EIO;
	}
	if (rc)
		lobo_pci_close(pci);
	return rc;
}

int lobo_pci_bus_master(const struct lobo_pci *pci, bool on)
{
	uint16_t cmd;
	if (lobo_pci_config_read(pci, PCI_COMMAND, &cmd, 2))
		return -EIO;
	cmd = (uint16_t)(on ? cmd | PCI_COMMAND_MASTER : cmd & ~PCI_COMMAND_MASTER);
	return lobo_pci_config_write(pci, PCI_COMMAND, &cmd, 2);
}

void lobo_pci_close(struct lobo_pci *pci)
{
	char path[96];
	if (pci->config_fd >= 0)
		lobo_pci_bus_master(pci, false); /* no DMA into memory we are about to free */
	if (pci->config_fd >= 0 && pci->config_fd != pci->device_fd)
		close(pci->config_fd);
	lobo_vfio_close(pci);
	if (pci->rebind && *pci->old_driver) {
		pci->rebind = false;
		char drv[32];
		current_driver(pci->bdf, drv, sizeof drv);
		snprintf(path, sizeof path, SYSFS "%s/driver/unbind", pci->bdf);
		if (*drv)
			write_sysfs(path, pci->bdf);
		snprintf(path, sizeof path, SYSFS "%s/driver_override", pci->bdf);
		write_sysfs(path, "\n");
		snprintf(path, sizeof path, "/sys/bus/pci/drivers/%s/bind", pci->old_driver);
		write_sysfs(path, pci->bdf);
	}
	if (pci->lock_fd >= 0)
		close(pci->lock_fd);
	pci->config_fd = pci->lock_fd = -1;
}

int lobo_pci_config_read(const struct lobo_pci *pci, unsigned off, void *buf, size_t len)
{
	return pread(pci->config_fd, buf, len, pci->config_off + off) == (ssize_t)len ? 0 : -EIO;
}

int lobo_pci_config_write(const struct lobo_pci *pci, unsigned off, const void *buf, size_t len)
{
	return pwrite(pci->config_fd, buf, len, pci->config_off + off) == (ssize_t)len ? 0 : -EIO;
}

int lobo_pci_bar_open(const struct lobo_pci *pci, int index, struct lobo_pci_bar *bar, char *err)
{
	char path[96];
	bool mappable = false;
	memset(bar, 0, sizeof *bar);
	bar->fd = -1;
	if (pci->device_fd >= 0) {
		if (lobo_vfio_region(pci, index, &bar->off, &bar->len, &mappable))
			goto absent;
		bar->fd = mappable ? pci->device_fd : dup(pci->device_fd);
	} else {
		unsigned long long start = 0, end = 0, flags = 0;
		snprintf(path, sizeof path, SYSFS "%s/resource", pci->bdf);
		FILE *f = fopen(path, "re");
		for (int i = 0; f && i <= index; i++)
			if (fscanf(f, "%llx %llx %llx", &start, &end, &flags) != 3)
				start = end = 0;
		if (f)
			fclose(f);
		if (!end)
			goto absent;
		bar->len = (size_t)(end - start + 1);
		mappable = !(flags & IORESOURCE_IO);
		snprintf(path, sizeof path, SYSFS "%s/resource%d", pci->bdf, index);
		bar->fd = open(path, O_RDWR | O_CLOEXEC | (mappable ? O_SYNC : 0));
		if (bar->fd < 0) {
			lobo_err(err, "pci: cannot open %s: %s", path, strerror(errno));
			return -errno;
		}
	}
	if (!mappable)
		return 0;
	void *p = mmap(NULL, bar->len, PROT_READ | PROT_WRITE, MAP_SHARED, bar->fd, bar->off);
	if (pci->device_fd < 0)
		close(bar->fd);
	bar->fd = -1;
	if (p == MAP_FAILED) {
		lobo_err(err, "pci: cannot map BAR%d of %s: %s", index, pci->bdf, strerror(errno));
		return -errno;
	}
	bar->mmio = p;
	return 0;
absent:
	lobo_err(err, "pci: %s has no BAR%d: is it the device you meant?", pci->bdf, index);
	return -ENODEV;
}

void lobo_pci_bar_close(struct lobo_pci_bar *bar)
{
	if (bar->mmio)
		munmap((void *)bar->mmio, bar->len);
	else if (bar->fd >= 0)
		close(bar->fd);
	bar->mmio = NULL;
	bar->fd = -1;
}

uint32_t lobo_pci_read(const struct lobo_pci_bar *bar, size_t at, int width)
{
	uint32_t v = 0;
	if (!bar->mmio)
		return pread(bar->fd, &v, (size_t)width, bar->off + (off_t)at) == width ? v : ~0u;
	switch (width) {
	case 1: return *(volatile uint8_t *)(bar->mmio + at);
	case 2: return *(volatile uint16_t *)(bar->mmio + at);
	default: return *(volatile uint32_t *)(bar->mmio + at);
	}
}

void lobo_pci_write(const struct lobo_pci_bar *bar, size_t at, uint32_t v, int width)
{
	if (!bar->mmio) {
		ssize_t n = pwrite(bar->fd, &v, (size_t)width, bar->off + (off_t)at);
		(void)n; /* a device that is gone reads back as all ones: the caller sees it there */
		return;
	}
	switch (width) {
	case 1: *(volatile uint8_t *)(bar->mmio + at) = (uint8_t)v; break;
	case 2: *(volatile uint16_t *)(bar->mmio + at) = (uint16_t)v; break;
	default: *(volatile uint32_t *)(bar->mmio + at) = v;
	}
}

int lobo_pci_dma_map(struct lobo_pci *pci, struct lobo_mem *mem, bool bypass_iommu, char *err)
{
	if (pci->container >= 0 && !bypass_iommu) {
		if (!mem->phys)
			return lobo_vfio_map(pci, mem, err);
		lobo_err(err, "pci: %s: this memory already serves a port without IOMMU: give each its own lobo_mem", pci->bdf);
		return -EINVAL;
	}
	if (mem->iommu_mapped) {
		lobo_err(err, "pci: %s needs physical addresses but this memory serves a VFIO port: give each its own lobo_mem", pci->bdf);
		return -EINVAL;
	}
	if (!mem->huge) {
		lobo_err(err, "pci: %s without IOMMU needs hugepage memory: echo 64 > /proc/sys/vm/nr_hugepages", pci->bdf);
		return -ENOMEM;
	}
	return mem->phys ? 0 : lobo_mem_resolve_phys(mem, err);
}
