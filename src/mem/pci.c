/* PCI devices through sysfs (Documentation/PCI/sysfs-pci.rst): config space,
 * BARs, driver binding; VFIO when the device sits behind an IOMMU. */
#include "pci.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define SYSFS "/sys/bus/pci/devices/"
#define VFIO_PCI "/sys/bus/pci/drivers/vfio-pci"
#define PCI_COMMAND 0x04
#define PCI_COMMAND_IO_MEM 0x3 /* I/O space, memory space */
#define PCI_COMMAND_MASTER 0x4
#define IORESOURCE_IO 0x100

extern char **environ;

int lobo_pci_parse_bdf(const char *arg, char bdf[16], char *err)
{
	unsigned dom = 0, bus, dev, fn;
	char end;
	if (arg[strspn(arg, "0123456789abcdefABCDEF:.")] || /* scanf's %x would take "0x" */
	    (sscanf(arg, "%x:%x:%x.%x%c", &dom, &bus, &dev, &fn, &end) != 4 &&
	     (dom = 0, sscanf(arg, "%x:%x.%x%c", &bus, &dev, &fn, &end) != 3)))
		return lobo_fail(err, -EINVAL, "pci: '%s' is not a PCI address: write DDDD:BB:DD.F or BB:DD.F as "
				 "lspci -D shows it", arg);
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

/* Writes the device's sysfs attribute name. */
static int write_dev(const char *bdf, const char *name, const char *value)
{
	char path[96];
	snprintf(path, sizeof path, SYSFS "%s/%s", bdf, name);
	return write_sysfs(path, value);
}

/* The first line of a sysfs file, "" if unreadable; "(null)" (no driver_override) reads as "". */
static void read_line(const char *path, char *out, size_t len)
{
	FILE *f = fopen(path, "re");
	if (!f || !fgets(out, (int)len, f) || !strncmp(out, "(null)", 6))
		out[0] = 0;
	out[strcspn(out, "\n")] = 0;
	if (f)
		fclose(f);
}

static void read_dev(const char *bdf, const char *name, char *out, size_t len)
{
	char path[96];
	snprintf(path, sizeof path, SYSFS "%s/%s", bdf, name);
	read_line(path, out, len);
}

static unsigned read_hex(const char *path)
{
	char buf[32];
	read_line(path, buf, sizeof buf);
	return (unsigned)strtoul(buf, NULL, 16);
}

/* The last part of the path the device's link `name` points to, "" without one. */
static void read_link(const char *bdf, const char *name, char *out, size_t len)
{
	char path[96], link[256];
	snprintf(path, sizeof path, SYSFS "%s/%s", bdf, name);
	ssize_t n = readlink(path, link, sizeof link - 1);
	link[n > 0 ? n : 0] = 0;
	snprintf(out, len, "%s", n > 0 ? strrchr(link, '/') + 1 : "");
}

void lobo_pci_driver(const char *bdf, char *name, size_t len) { read_link(bdf, "driver", name, len); }

int lobo_pci_vf_of(const char *bdf, char pf[16])
{
	char name[24], at[16] = "-";
	read_link(bdf, "physfn", pf, 16);
	for (int i = 0; *pf && *at; i++) {
		snprintf(name, sizeof name, "virtfn%d", i);
		read_link(pf, name, at, sizeof at);
		if (!strcmp(at, bdf))
			return i;
	}
	return -1;
}

int lobo_pci_iommu_group(const char *bdf)
{
	char group[16];
	read_link(bdf, "iommu_group", group, sizeof group);
	return *group ? atoi(group) : -1;
}

int lobo_pci_id(const char *bdf, uint16_t *vendor, uint16_t *device, char *err)
{
	char path[64], value[16];
	snprintf(path, sizeof path, SYSFS "%s", bdf);
	if (access(path, F_OK))
		return lobo_fail(err, -ENODEV, "pci: no PCI device at %s: list devices with lspci -D or ls " SYSFS, bdf);
	read_dev(bdf, "vendor", value, sizeof value);
	*vendor = (uint16_t)strtoul(value, NULL, 16);
	read_dev(bdf, "device", value, sizeof value);
	*device = (uint16_t)strtoul(value, NULL, 16);
	return 0;
}

/* One lobo process per device: flock is released when its holder dies, even by
 * SIGKILL, so a restarted lobo gets the device back (and resets it). */
static int lock_device(struct lobo_pci *pci, char *err)
{
	char path[64], pid[16] = "";
	mkdir(LOBO_STATS_DIR, 0755);
	snprintf(path, sizeof path, LOBO_STATS_DIR "/pci-%s.lock", pci->bdf);
	pci->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (pci->lock_fd < 0)
		return lobo_fail(err, -errno, "pci: cannot create %s: %s", path, strerror(errno));
	if (flock(pci->lock_fd, LOCK_EX | LOCK_NB)) {
		ssize_t n = pread(pci->lock_fd, pid, sizeof pid - 1, 0);
		pid[n > 0 ? n : 0] = 0;
		close(pci->lock_fd);
		pci->lock_fd = -1;
		return lobo_fail(err, -EBUSY, "pci: %s is in use by lobo process %s: stop that process first", pci->bdf,
				 *pid ? pid : "(unknown)");
	}
	if (!ftruncate(pci->lock_fd, 0)) /* the pid only makes the message above clearer */
		dprintf(pci->lock_fd, "%d", (int)getpid());
	return 0;
}

/* A route through the interface: IPv4, or IPv6 beyond link-local and multicast. */
static bool has_route(const char *ifname)
{
	char line[256], dev[32], dest[40];
	bool found = false;
	FILE *f = fopen("/proc/net/route", "re");
	while (f && !found && fgets(line, sizeof line, f))
		found = sscanf(line, "%31s", dev) == 1 && !strcmp(dev, ifname);
	if (f)
		fclose(f);
	f = fopen("/proc/net/ipv6_route", "re");
	while (f && !found && fgets(line, sizeof line, f))
		found = sscanf(line, "%39s %*s %*s %*s %*s %*s %*s %*s %*s %31s", dest, dev) == 2 &&
			!strcmp(dev, ifname) && strncmp(dest, "fe80", 4) && strncmp(dest, "ff", 2);
	if (f)
		fclose(f);
	return found;
}

static bool has_address(const struct ifaddrs *a, const char *ifname)
{
	for (; a; a = a->ifa_next) {
		if (!a->ifa_addr || strcmp(a->ifa_name, ifname))
			continue;
		if (a->ifa_addr->sa_family == AF_INET || (a->ifa_addr->sa_family == AF_INET6 &&
		    !IN6_IS_ADDR_LINKLOCAL(&((const struct sockaddr_in6 *)(const void *)a->ifa_addr)->sin6_addr)))
			return true;
	}
	return false;
}

/* The kernel uses an interface that is up with an address or a route through
 * it: taking its device away cuts whatever runs over it, perhaps the very
 * session the user works in (dpdk-devbind refuses such devices too). */
void lobo_pci_kernel_use(const char *bdf, char *out, size_t len)
{
	char pattern[96];
	glob_t g;
	struct ifaddrs *addrs = NULL;
	size_t at = 0;
	out[0] = 0;
	snprintf(pattern, sizeof pattern, SYSFS "%s/{net,virtio*/net}/*", bdf); /* virtio-pci holds a virtio device */
	if (glob(pattern, GLOB_BRACE, NULL, &g) || getifaddrs(&addrs)) {
		globfree(&g);
		return;
	}
	for (size_t i = 0; i < g.gl_pathc && at < len; i++) {
		const char *name = strrchr(g.gl_pathv[i], '/') + 1;
		char path[96];
		snprintf(path, sizeof path, "/sys/class/net/%s/flags", name);
		bool addr = has_address(addrs, name), route = has_route(name);
		if (!(read_hex(path) & IFF_UP) || !(addr || route))
			continue;
		at += (size_t)snprintf(out + at, len - at, "%s%s (%s%s%s)", at ? ", " : "", name, addr ? "addresses" : "",
				       addr && route ? ", " : "", route ? "routes" : "");
	}
	freeifaddrs(addrs);
	globfree(&g);
}

static int load_vfio_pci(void)
{
	char *argv[] = {"modprobe", "-q", "vfio-pci", NULL};
	pid_t pid;
	int status;
	if (posix_spawnp(&pid, "modprobe", NULL, NULL, argv, environ) || waitpid(pid, &status, 0) != pid)
		return -ENOENT;
	return access(VFIO_PCI, F_OK) ? -ENOENT : 0;
}

/* VFIO needs vfio-pci (loaded here if it is not) and an IOMMU group whose
 * other devices are free for it (vfio.rst, "Groups, Devices, and IOMMUs"). */
static int vfio_ready(const char *bdf, char *err)
{
	char pattern[96], drv[32];
	glob_t g;
	int group = lobo_pci_iommu_group(bdf), rc = 0;
	if (access(VFIO_PCI, F_OK) && load_vfio_pci())
		return lobo_fail(err, -ENOENT, "pci: %s has an IOMMU but vfio-pci is not loaded and modprobe vfio-pci "
				 "failed: load it, or add ?vfio=0 to run without isolation", bdf);
	snprintf(pattern, sizeof pattern, "/sys/kernel/iommu_groups/%d/devices/*", group);
	if (glob(pattern, 0, NULL, &g)) {
		globfree(&g);
		return 0; /* VFIO itself will say what is wrong */
	}
	for (size_t i = 0; i < g.gl_pathc && !rc; i++) {
		const char *other = strrchr(g.gl_pathv[i], '/') + 1;
		lobo_pci_driver(other, drv, sizeof drv);
		if (!strcmp(other, bdf) || !*drv || !strcmp(drv, "vfio-pci") || !strcmp(drv, "pci-stub") ||
		    !strcmp(drv, "pcieport"))
			continue;
		rc = lobo_fail(err, -EBUSY, "pci: %s shares IOMMU group %d with %s, which %s drives: give that device "
			       "to vfio-pci too, or add ?vfio=0 to run without isolation", bdf, group, other, drv);
	}
	globfree(&g);
	return rc;
}

/* Without VFIO the device takes physical addresses: it needs hugepages (a
 * buffer must be physically contiguous) in a file that can outlive a crash. */
static int phys_ready(const char *bdf, const struct lobo_mem *mem, char *err)
{
	if (!mem->huge)
		return lobo_fail(err, -ENOMEM, "pci: %s without IOMMU needs hugepage memory: "
				 "echo 64 > /proc/sys/vm/nr_hugepages", bdf);
	if (mem->fd < 0)
		return lobo_fail(err, -ENOTSUP, "pci: %s without IOMMU needs its DMA memory in a hugetlbfs file, which "
				 "outlives a crash: mount -t hugetlbfs nodev /dev/hugepages", bdf);
	return 0;
}

/* Everything that can be checked before the device is touched. */
static int check_device(const struct lobo_pci *pci, const struct lobo_pci_want *want, char *err)
{
	char use[160];
	lobo_pci_kernel_use(pci->bdf, use, sizeof use);
	if (*use && !want->force)
		return lobo_fail(err, -EBUSY, "pci: %s is in use by the kernel: %s: take the interface down, or add "
				 "?force=1", pci->bdf, use);
	return want->vfio ? vfio_ready(pci->bdf, err) : phys_ready(pci->bdf, want->mem, err);
}

/* Unbinds the kernel driver and, for VFIO, binds vfio-pci; driver_override
 * keeps every other driver off the device. */
static int take_device(struct lobo_pci *pci, bool vfio, char *err)
{
	const char *drv = pci->old_driver;
	int rc = 0;
	if (vfio && !strcmp(drv, "vfio-pci"))
		return 0;
	if (*drv && (rc = write_dev(pci->bdf, "driver/unbind", pci->bdf)))
		return lobo_fail(err, rc, "pci: cannot unbind %s from kernel driver %s: %s", pci->bdf, drv, strerror(-rc));
	if (!vfio)
		return 0;
	rc = write_dev(pci->bdf, "driver_override", "vfio-pci");
	if (!rc)
		rc = write_sysfs(VFIO_PCI "/bind", pci->bdf);
	if (rc)
		lobo_err(err, "pci: cannot bind %s to vfio-pci: %s: add ?vfio=0 to run without VFIO", pci->bdf, strerror(-rc));
	return rc;
}

/* Puts the device back as lobo_pci_open found it: its driver, driver_override. */
static void give_back(struct lobo_pci *pci)
{
	char drv[32], path[96];
	lobo_pci_driver(pci->bdf, drv, sizeof drv);
	if (strcmp(drv, pci->old_driver)) {
		if (*drv)
			write_dev(pci->bdf, "driver/unbind", pci->bdf);
		if (*pci->old_driver) { /* the override lets it bind whatever its ID table says (vfio-pci has none) */
			snprintf(path, sizeof path, "/sys/bus/pci/drivers/%s/bind", pci->old_driver);
			write_dev(pci->bdf, "driver_override", pci->old_driver);
			write_sysfs(path, pci->bdf);
		}
	}
	write_dev(pci->bdf, "driver_override", *pci->old_override ? pci->old_override : "\n");
}

static int open_config(struct lobo_pci *pci, char *err)
{
	char path[96];
	snprintf(path, sizeof path, SYSFS "%s/config", pci->bdf);
	pci->config_fd = open(path, O_RDWR | O_CLOEXEC);
	if (pci->config_fd < 0)
		return lobo_fail(err, -errno, "pci: cannot open %s: %s", path, strerror(errno));
	return 0;
}

static void close_access(struct lobo_pci *pci)
{
	if (pci->config_fd >= 0 && pci->config_fd != pci->device_fd)
		close(pci->config_fd);
	pci->config_fd = -1;
	lobo_vfio_close(pci);
}

/* Registers on, DMA off: a device an earlier run left configured (killed with
 * kill -9) stops writing into memory, and stays quiet until its driver has
 * reset it (lobo_pci_bus_master). */
static int registers_on(struct lobo_pci *pci, char *err)
{
	uint16_t cmd = 0;
	int rc = lobo_pci_config_read(pci, PCI_COMMAND, &cmd, 2);
	cmd = (uint16_t)((cmd | PCI_COMMAND_IO_MEM) & ~PCI_COMMAND_MASTER);
	if (!rc)
		rc = lobo_pci_config_write(pci, PCI_COMMAND, &cmd, 2);
	if (rc)
		lobo_err(err, "pci: cannot write the command register of %s: is the device still there?", pci->bdf);
	return rc;
}

/* Nothing open yet. */
static void pci_init(struct lobo_pci *pci, const char *bdf)
{
	*pci = (struct lobo_pci){.lock_fd = -1, .config_fd = -1, .container = -1, .group = -1, .device_fd = -1};
	snprintf(pci->bdf, sizeof pci->bdf, "%s", bdf);
}

int lobo_pci_open(struct lobo_pci *pci, const char *bdf, const struct lobo_pci_want *want, char *err)
{
	pci_init(pci, bdf);
	pci->restore = true;
	if (geteuid())
		return lobo_fail(err, -EPERM, "pci: driving %s needs root (sysfs and DMA memory): run lobo with sudo", bdf);
	int rc = lock_device(pci, err);
	if (rc)
		return rc;
	rc = check_device(pci, want, err);
	if (rc)
		goto unlock;
	lobo_pci_driver(bdf, pci->old_driver, sizeof pci->old_driver);
	read_dev(bdf, "driver_override", pci->old_override, sizeof pci->old_override);
	rc = take_device(pci, want->vfio, err);
	if (rc)
		goto give_back;
	rc = want->vfio ? lobo_vfio_open(pci, err) : open_config(pci, err);
	if (!rc)
		rc = registers_on(pci, err);
	if (!rc)
		return 0;
	close_access(pci);
give_back:
	give_back(pci);
unlock:
	close(pci->lock_fd);
	pci->lock_fd = -1;
	return rc;
}

int lobo_pci_attach(struct lobo_pci *pci, const char *bdf, char *err)
{
	pci_init(pci, bdf);
	if (geteuid())
		return lobo_fail(err, -EPERM, "pci: driving %s needs root (sysfs and DMA memory): run lobo with sudo", bdf);
	return lock_device(pci, err);
}

int lobo_pci_bus_master(struct lobo_pci *pci, bool on)
{
	uint16_t cmd;
	if (on) /* after the driver's reset: what earlier owners left the device is free again */
		lobo_mem_release(pci->bdf, getpid());
	pci->was_reset |= on;
	if (lobo_pci_config_read(pci, PCI_COMMAND, &cmd, 2))
		return -EIO;
	cmd = (uint16_t)(on ? cmd | PCI_COMMAND_MASTER : cmd & ~PCI_COMMAND_MASTER);
	return lobo_pci_config_write(pci, PCI_COMMAND, &cmd, 2);
}

void lobo_pci_close(struct lobo_pci *pci)
{
	if (pci->config_fd >= 0)
		lobo_pci_bus_master(pci, false); /* no DMA into memory we are about to free */
	close_access(pci);
	if (pci->was_reset) /* a device never reset may still hold what a killed run gave it */
		lobo_mem_release(pci->bdf, 0);
	if (pci->restore)
		give_back(pci);
	if (pci->lock_fd >= 0)
		close(pci->lock_fd);
	pci->lock_fd = -1;
}

/* DMA off, then the function reset the kernel knows for the device, if any. */
static int reset_function(struct lobo_pci *pci, char *err)
{
	int rc = open_config(pci, err);
	if (!rc && lobo_pci_bus_master(pci, false))
		rc = lobo_fail(err, -EIO, "pci: cannot turn bus mastering off on %s: is the device still there?", pci->bdf);
	if (!rc)
		write_dev(pci->bdf, "reset", "1");
	close_access(pci);
	return rc;
}

int lobo_pci_reset_device(const char *arg, size_t *released, char *err)
{
	struct lobo_pci pci;
	uint16_t vendor, device;
	char bdf[16], drv[32];
	*released = 0;
	int rc = lobo_pci_parse_bdf(arg, bdf, err);
	if (!rc)
		rc = lobo_pci_id(bdf, &vendor, &device, err);
	if (rc)
		return rc;
	if (geteuid())
		return lobo_fail(err, -EPERM, "pci: resetting %s needs root: run lobo with sudo", bdf);
	pci_init(&pci, bdf);
	if ((rc = lock_device(&pci, err)))
		return rc;
	/* A kernel driver other than vfio-pci reset the device when it bound to it. */
	lobo_pci_driver(bdf, drv, sizeof drv);
	if (!*drv || !strcmp(drv, "vfio-pci"))
		rc = reset_function(&pci, err);
	if (!rc)
		*released = lobo_mem_release(bdf, 0);
	close(pci.lock_fd);
	return rc;
}

int lobo_pci_config_read(const struct lobo_pci *pci, unsigned off, void *buf, size_t len)
{
	return pread(pci->config_fd, buf, len, pci->config_off + off) == (ssize_t)len ? 0 : -EIO;
}

int lobo_pci_config_write(const struct lobo_pci *pci, unsigned off, const void *buf, size_t len)
{
	return pwrite(pci->config_fd, buf, len, pci->config_off + off) == (ssize_t)len ? 0 : -EIO;
}

/* BAR index in sysfs's resource file: a line "start end flags" per BAR. */
static int sysfs_resource(const struct lobo_pci *pci, int index, size_t *len, bool *mappable)
{
	char path[96];
	unsigned long long start = 0, end = 0, flags = 0;
	snprintf(path, sizeof path, SYSFS "%s/resource", pci->bdf);
	FILE *f = fopen(path, "re");
	for (int i = 0; f && i <= index; i++)
		if (fscanf(f, "%llx %llx %llx", &start, &end, &flags) != 3)
			start = end = 0;
	if (f)
		fclose(f);
	if (!end)
		return -ENODEV;
	*len = (size_t)(end - start + 1);
	*mappable = !(flags & IORESOURCE_IO);
	return 0;
}

/* A memory BAR is mapped; an I/O BAR keeps an fd to pread and pwrite at off
 * (VFIO's region, or sysfs's resourceN). bar->len is set only once the BAR is
 * open: a caller may take it for "open". */
int lobo_pci_bar_open(const struct lobo_pci *pci, int index, struct lobo_pci_bar *bar, char *err)
{
	char path[96];
	bool mappable, vfio = pci->device_fd >= 0;
	size_t len;
	*bar = (struct lobo_pci_bar){.fd = -1};
	if (vfio ? lobo_vfio_region(pci, index, &bar->off, &len, &mappable) : sysfs_resource(pci, index, &len, &mappable))
		return lobo_fail(err, -ENODEV, "pci: %s has no BAR%d: is it the device you meant?", pci->bdf, index);
	snprintf(path, sizeof path, SYSFS "%s/resource%d", pci->bdf, index);
	int fd = vfio ? dup(pci->device_fd) : open(path, O_RDWR | O_CLOEXEC | (mappable ? O_SYNC : 0));
	if (fd < 0)
		return lobo_fail(err, -errno, "pci: cannot open BAR%d of %s: %s", index, pci->bdf, strerror(errno));
	if (mappable) {
		void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, bar->off);
		int rc = p == MAP_FAILED ? -errno : 0;
		close(fd);
		if (rc)
			return lobo_fail(err, rc, "pci: cannot map BAR%d of %s: %s", index, pci->bdf, strerror(-rc));
		bar->mmio = p;
	} else {
		bar->fd = fd;
	}
	bar->len = len;
	return 0;
}

void lobo_pci_bar_close(struct lobo_pci_bar *bar)
{
	if (bar->mmio)
		munmap((void *)bar->mmio, bar->len);
	else if (bar->fd >= 0)
		close(bar->fd);
	bar->mmio = NULL;
	bar->fd = -1;
	bar->len = 0;
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

/* IOVA == virtual address: the device reaches mem through the IOMMU. */
static int map_iova(struct lobo_pci *pci, struct lobo_mem *mem, char *err)
{
	int slot = 0;
	while (slot < LOBO_PCI_MAX_IOVA && pci->iova[slot])
		slot++;
	if (mem->phys)
		return lobo_fail(err, -EINVAL, "pci: %s: this memory already serves a port without IOMMU: give each "
				 "its own lobo_mem", pci->bdf);
	if (slot == LOBO_PCI_MAX_IOVA)
		return lobo_fail(err, -ENOSPC, "pci: %s: more than %d DMA regions for one device", pci->bdf,
				 LOBO_PCI_MAX_IOVA);
	int rc = lobo_vfio_map(pci, mem, err);
	if (!rc) {
		pci->iova[slot] = mem;
		mem->iommu_mapped++;
	}
	return rc;
}

int lobo_pci_dma_map(struct lobo_pci *pci, struct lobo_mem *mem, bool bypass_iommu, char *err)
{
	if (pci->container >= 0 && !bypass_iommu)
		return map_iova(pci, mem, err);
	if (mem->iommu_mapped)
		return lobo_fail(err, -EINVAL, "pci: %s needs physical addresses but this memory serves a VFIO port: "
				 "give each its own lobo_mem", pci->bdf);
	int rc = phys_ready(pci->bdf, mem, err);
	/* Mapped all the same where the device bypasses the IOMMU: VFIO pins the
	 * pages, so the kernel never moves one the device writes into. */
	if (!rc && pci->container >= 0)
		rc = lobo_vfio_map(pci, mem, err);
	if (!rc)
		rc = lobo_mem_claim(mem, pci->bdf, err);
	if (!rc && !mem->phys)
		rc = lobo_mem_resolve_phys(mem, err);
	return rc;
}
