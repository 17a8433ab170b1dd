/* Caller-owned DMA memory, locked so the kernel never moves or swaps it.
 *
 * With hugepages it is an unnamed file (O_TMPFILE) in a hugetlbfs mount: it
 * goes away with the process, like anonymous memory, until a device that
 * takes physical addresses claims it (lobo_mem_claim). The claim names the
 * file in that device's folder, <hugetlbfs>/lobo/<bdf>/, so a killed process's
 * memory stays allocated while the device may still write into it; it is
 * released once the device has been reset (lobo_mem_release), as DPDK and
 * Snabb keep theirs in hugetlbfs files. */
#include "pci.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <mntent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define HUGE_PAGE (2u << 20)

/* The first hugetlbfs mount of 2 MiB pages (the default size), or false. */
static bool hugetlbfs_mount(char *path, size_t len)
{
	FILE *f = setmntent("/proc/self/mounts", "re");
	struct mntent *m;
	bool found = false;
	while (f && !found && (m = getmntent(f))) {
		const char *size = hasmntopt(m, "pagesize");
		found = !strcmp(m->mnt_type, "hugetlbfs") && (!size || !strncmp(size, "pagesize=2M", 11));
		if (found)
			snprintf(path, len, "%s", m->mnt_dir);
	}
	if (f)
		endmntent(f);
	return found;
}

/* 2 MiB pages from an unnamed hugetlbfs file; fd stays -1 if it cannot be made. */
static void *map_huge_file(size_t len, int *fd)
{
	char dir[200];
	void *p = MAP_FAILED;
	*fd = hugetlbfs_mount(dir, sizeof dir) ? open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600) : -1;
	if (*fd >= 0 && !ftruncate(*fd, (off_t)len))
		p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, *fd, 0);
	if (p == MAP_FAILED && *fd >= 0) {
		close(*fd);
		*fd = -1;
	}
	return p;
}

int lobo_mem_alloc(struct lobo_mem *mem, size_t len, char *err)
{
	memset(mem, 0, sizeof *mem);
	mem->fd = -1;
	if (len == 0)
		return lobo_fail(err, -EINVAL, "cannot allocate an empty memory region: ask for at least one buffer");
	size_t huge_len = (len + HUGE_PAGE - 1) & ~(size_t)(HUGE_PAGE - 1);
	void *p = map_huge_file(huge_len, &mem->fd);
	if (p == MAP_FAILED) /* no hugetlbfs mount: hugepages that cannot outlive us */
		p = mmap(NULL, huge_len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_POPULATE, -1, 0);
	if (p != MAP_FAILED) {
		mem->huge = true;
		mem->page_size = HUGE_PAGE;
		len = huge_len;
	} else {
		size_t page = (size_t)sysconf(_SC_PAGESIZE);
		len = (len + page - 1) & ~(page - 1);
		p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
		if (p == MAP_FAILED)
			return lobo_fail(err, -errno, "cannot map %zu bytes of memory: %s", len, strerror(errno));
		mem->page_size = page;
	}
	/* Locking may fail for an unprivileged user with a small RLIMIT_MEMLOCK;
	 * kernel-backed ports work without it, drivers check mem->phys instead. */
	(void)mlock(p, len);
	mem->base = p;
	mem->len = len;
	return 0;
}

void lobo_mem_free(struct lobo_mem *mem)
{
	if (mem->base)
		munmap(mem->base, mem->len);
	if (mem->base && mem->fd >= 0)
		close(mem->fd);
	free(mem->phys);
	memset(mem, 0, sizeof *mem);
	mem->fd = -1;
}

/* /proc/self/pagemap: one 64-bit entry per 4 KiB page, PFN in bits 0-54,
 * bit 63 = present. The PFN reads as 0 without CAP_SYS_ADMIN. */
int lobo_mem_resolve_phys(struct lobo_mem *mem, char *err)
{
	size_t pages = mem->len / mem->page_size, small = (size_t)sysconf(_SC_PAGESIZE);
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return lobo_fail(err, -errno, "cannot read /proc/self/pagemap: %s", strerror(errno));
	uint64_t *phys = calloc(pages, sizeof *phys);
	int rc = phys ? 0 : lobo_fail(err, -ENOMEM, "out of memory");
	for (size_t i = 0; !rc && i < pages; i++) {
		uint64_t entry = 0;
		off_t at = (off_t)((uintptr_t)(mem->base + i * mem->page_size) / small * sizeof entry);
		bool present = pread(fd, &entry, sizeof entry, at) == sizeof entry && (entry >> 63);
		phys[i] = present ? (entry & ((1ull << 55) - 1)) * small : 0;
		if (!phys[i])
			rc = lobo_fail(err, -EPERM, "no physical address for DMA memory: run as root (CAP_SYS_ADMIN) or use "
				       "a device with an IOMMU (VFIO)");
	}
	close(fd);
	if (rc) {
		free(phys);
		return rc;
	}
	free(mem->phys);
	mem->phys = phys;
	return 0;
}

/* <hugetlbfs>/lobo/<owner>, the folder of regions held for a device. */
static int owner_dir(const char *owner, char *path, size_t len)
{
	char mount[200];
	if (!hugetlbfs_mount(mount, sizeof mount))
		return -ENOENT;
	snprintf(path, len, "%s/lobo/%s", mount, owner);
	return 0;
}

int lobo_mem_claim(const struct lobo_mem *mem, const char *owner, char *err)
{
	char dir[256], name[320];
	struct stat st;
	if (mem->fd < 0 || owner_dir("", dir, sizeof dir))
		return lobo_fail(err, -ENOTSUP, "pci: %s without IOMMU needs its DMA memory in a hugetlbfs file, which "
				 "outlives a crash: mount -t hugetlbfs nodev /dev/hugepages", owner);
	mkdir(dir, 0700); /* <hugetlbfs>/lobo/ */
	owner_dir(owner, dir, sizeof dir);
	mkdir(dir, 0700);
	fstat(mem->fd, &st);
	snprintf(name, sizeof name, "%s/%d-%lu", dir, (int)getpid(), (unsigned long)st.st_ino);
	if (linkat(mem->fd, "", AT_FDCWD, name, AT_EMPTY_PATH) && errno != EEXIST)
		return lobo_fail(err, -errno, "pci: cannot keep DMA memory for %s in %.120s: %s", owner, dir, strerror(errno));
	return 0;
}

/* Regions are named <pid>-<inode>: those of process keep_pid stay. */
size_t lobo_mem_release(const char *owner, int keep_pid)
{
	char dir[256], keep[16];
	size_t bytes = 0;
	DIR *d = owner_dir(owner, dir, sizeof dir) ? NULL : opendir(dir);
	struct dirent *e;
	snprintf(keep, sizeof keep, "%d-", keep_pid);
	while (d && (e = readdir(d))) {
		struct stat st;
		if (e->d_name[0] == '.' || (keep_pid && !strncmp(e->d_name, keep, strlen(keep))))
			continue;
		if (!fstatat(dirfd(d), e->d_name, &st, 0) && !unlinkat(dirfd(d), e->d_name, 0))
			bytes += (size_t)st.st_size;
	}
	if (d) {
		closedir(d);
		rmdir(dir); /* fails while something is left: that is fine */
	}
	return bytes;
}
