/* lobo list: kernel interfaces and PCI network devices, read from sysfs;
 * lobo reset: a PCI device back to a state where nothing of lobo's is left. */
#include "tools.h"
#include "top.h"

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

static void link_text(char *out, bool up, long mbps)
{
	if (!up || mbps <= 0 || mbps > 10000000)
		snprintf(out, 8, up ? "up" : "down");
	else if (mbps % 1000)
		snprintf(out, 12, "%dM", (int)mbps);
	else
		snprintf(out, 12, "%dG", (int)(mbps / 1000));
}

/* "pci:3b:00.0?vfio=0" -> "0000:3b:00.0", the form sysfs names devices by. */
static void uri_bdf(const char *uri, char *bdf, size_t len)
{
	const char *arg = uri + 4;
	size_t n = strcspn(arg, "?");
	int colons = 0;
	for (size_t k = 0; k < n; k++)
		colons += arg[k] == ':';
	snprintf(bdf, len, "%s%.*s", colons == 1 ? "0000:" : "", (int)n, arg);
}

/* The link of a NIC a lobo process drives, from the counters it publishes
 * (its pid is in the device's lock file): no register is read here. */
static void lobo_link(struct list_pci *p)
{
	char path[96], pid[16] = "", bdf[80];
	snprintf(path, sizeof path, "%s/pci-%s.lock", LOBO_STATS_DIR, p->bdf);
	FILE *f = fopen(path, "re");
	bool read_pid = f && fgets(pid, sizeof pid, f);
	if (f)
		fclose(f);
	struct lobo_stats_file *copy = read_pid ? malloc(sizeof *copy) : NULL;
	if (copy && !lobo_stats_read(atoi(pid), copy))
		for (uint32_t i = 0; i < copy->nports; i++) {
			const struct lobo_port_info *info = &copy->port[i].info;
			if (strncmp(info->name, "pci:", 4))
				continue;
			uri_bdf(info->name, bdf, sizeof bdf);
			if (!strcasecmp(bdf, p->bdf)) {
				p->lobo_pid = copy->pid;
				snprintf(p->lobo_mode, sizeof p->lobo_mode, "%s", info->mode);
				link_text(p->link, info->link_up, info->speed_mbps);
			}
		}
	free(copy);
}

/* The link of a NIC with a kernel interface, from sysfs. */
static void kernel_link(const char *dir, struct list_pci *p)
{
	char net[PATH_MAX], rel[300], state[16], speed[16];
	struct dirent **names;
	snprintf(net, sizeof net, "%.4000s/net", dir);
	int n = scandir(net, &names, visible, sort_names);
	if (n > 0) {
		snprintf(rel, sizeof rel, "net/%.255s/operstate", names[0]->d_name);
		read_line(dir, rel, state, sizeof state);
		snprintf(rel, sizeof rel, "net/%.255s/speed", names[0]->d_name);
		read_line(dir, rel, speed, sizeof speed);
		link_text(p->link, !strcmp(state, "up"), atol(speed));
	}
	for (int k = 0; k < n; k++)
		free(names[k]);
	if (n >= 0)
		free(names);
}

/* SR-IOV: a virtual function names the physical function the kernel keeps
 * (its driver and interface) and its own number there; a PF counts its VFs. */
static void sriov_role(const char *dir, struct list_pci *p)
{
	char pf[16], path[PATH_MAX], drv[32], vfs[16];
	struct dirent **names;
	int vf = lobo_pci_vf_of(p->bdf, pf);
	read_line(dir, "sriov_numvfs", vfs, sizeof vfs);
	if (vf < 0 && atoi(vfs) > 0)
		snprintf(p->sriov, sizeof p->sriov, "PF of %d VF%s", atoi(vfs), atoi(vfs) > 1 ? "s" : "");
	if (vf < 0)
		return;
	snprintf(path, sizeof path, "%.4000s/physfn/net", dir);
	int n = scandir(path, &names, visible, sort_names);
	read_driver(dir, "physfn/driver", drv, sizeof drv);
	snprintf(p->sriov, sizeof p->sriov, "VF %d of %s (%.16s %.16s)", vf, pf, drv, n > 0 ? names[0]->d_name : "-");
	for (int k = 0; k < n; k++)
		free(names[k]);
	if (n >= 0)
		free(names);
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
	lobo_pci_kernel_use(name, p->kernel_use, sizeof p->kernel_use);
	p->lobo_pid = 0;
	p->lobo_mode[0] = 0;
	snprintf(p->link, sizeof p->link, "-");
	kernel_link(dir, p);
	lobo_link(p);
	p->lobo_note = lobo_pci_driver_note(p->vendor, p->device);
	p->sriov[0] = 0;
	sriov_role(dir, p);
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

int tool_reset(const char *uri, size_t *released, char *err)
{
	if (strncmp(uri, "pci:", 4) || strchr(uri, '?')) {
		tool_err(err, "reset takes a PCI device, pci:BDF: only devices lobo drives hold memory for a killed run");
		return -EINVAL;
	}
	return lobo_pci_reset(uri + 4, released, err);
}

const char *list_dpdk_version(void)
{
#ifdef LOBO_DPDK_VERSION
	return LOBO_DPDK_VERSION;
#else
	return NULL;
#endif
}
