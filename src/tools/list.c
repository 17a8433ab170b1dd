/* lobo list: kernel interfaces and PCI network devices, read from sysfs. */
#include "tools.h"

#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

/* First line of dir/name, without the newline; "-" if unreadable. */
static void read_line(const char *dir, const char *name, char *out, size_t len)
{
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "r");
	if (!f || !fgets(out, (int)len, f))
		snprintf(out, len, "-");
	else
		out[strcspn(out, "\n")] = 0;
	if (f)
		fclose(f);
}

static void read_driver(const char *dir, const char *link, char *out, size_t len)
{
	char path[PATH_MAX], target[PATH_MAX];
	snprintf(path, sizeof path, "%s/%s", dir, link);
	ssize_t n = readlink(path, target, sizeof target - 1);
	if (n < 0) {
		snprintf(out, len, "-");
		return;
	}
	target[n] = 0;
	snprintf(out, len, "%s", basename(target));
}

static int sort_names(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int visible(const struct dirent *d) { return d->d_name[0] != '.'; }

/* Calls fn on each entry of root in name order; returns how many fn kept. */
static int each_dir(const char *root, int max, char *err, bool (*fn)(const char *dir, const char *name, void *out, int i),
		    void *out)
{
	struct dirent **names;
	int n = scandir(root, &names, visible, sort_names), kept = 0;
	if (n < 0) {
		tool_err(err, "cannot read %s: %s: is sysfs mounted?", root, strerror(errno));
		return -errno;
	}
	for (int i = 0; i < n; i++) {
		char dir[PATH_MAX];
		snprintf(dir, sizeof dir, "%s/%s", root, names[i]->d_name);
		if (kept < max && fn(dir, names[i]->d_name, out, kept))
			kept++;
		free(names[i]);
	}
	free(names);
	return kept;
}

/* Virtual interfaces (veth, tun, bridge) have no device link in sysfs; the
 * ethtool driver query (ETHTOOL_GDRVINFO, no privilege needed) names them. */
static void ethtool_driver(const char *name, char *out, size_t len)
{
	struct ethtool_drvinfo info = {.cmd = ETHTOOL_GDRVINFO};
	struct ifreq ifr = {.ifr_data = (char *)&info};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", name);
	if (fd >= 0 && !ioctl(fd, SIOCETHTOOL, &ifr) && info.driver[0])
		snprintf(out, len, "%.31s", info.driver);
	if (fd >= 0)
		close(fd);
}

static bool add_iface(const char *dir, const char *name, void *out, int i)
{
	struct list_iface *f = (struct list_iface *)out + i;
	char ifindex[16];
	read_line(dir, "ifindex", ifindex, sizeof ifindex);
	if (!strcmp(ifindex, "-")) /* not an interface, e.g. bonding_masters */
		return false;
	snprintf(f->name, sizeof f->name, "%s", name);
	read_line(dir, "address", f->mac, sizeof f->mac);
	read_line(dir, "operstate", f->operstate, sizeof f->operstate);
	read_driver(dir, "device/driver", f->driver, sizeof f->driver);
	if (!strcmp(f->driver, "-"))
		ethtool_driver(name, f->driver, sizeof f->driver);
	return true;
}

static bool add_pci(const char *dir, const char *name, void *out, int i)
{
	struct list_pci *p = (struct list_pci *)out + i;
	char cls[16], vendor[16], device[16];
	read_line(dir, "class", cls, sizeof cls);
	if (strncmp(cls, "0x02", 4)) /* PCI class 02: network controllers */
		return false;
	read_line(dir, "vendor", vendor, sizeof vendor);
	read_line(dir, "device", device, sizeof device);
	snprintf(p->bdf, sizeof p->bdf, "%s", name);
	p->vendor = (uint16_t)strtoul(vendor, NULL, 16);
	p->device = (uint16_t)strtoul(device, NULL, 16);
	read_driver(dir, "driver", p->driver, sizeof p->driver);
	p->lobo_driver = lobo_pci_driver_name(p->vendor, p->device);
	p->lobo_note = lobo_pci_driver_note(p->vendor, p->device);
	return true;
}

int list_ifaces(struct list_iface *out, int max, char *err)
{
	return each_dir("/sys/class/net", max, err, add_iface, out);
}

int list_pci_nics(struct list_pci *out, int max, char *err)
{
	return each_dir("/sys/bus/pci/devices", max, err, add_pci, out);
}
