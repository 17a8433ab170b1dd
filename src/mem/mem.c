/* Caller-owned DMA memory: one anonymous mapping, hugepage-backed when the
 * system has hugepages, locked so the kernel never moves or swaps it. */
#include "lobo.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define HUGE_PAGE (2u << 20)

int lobo_mem_alloc(struct lobo_mem *mem, size_t len, char *err)
{
	memset(mem, 0, sizeof *mem);
	if (len == 0) {
		snprintf(err, LOBO_ERR_LEN, "cannot allocate an empty memory region: ask for at least one buffer");
		return -EINVAL;
	}
	size_t huge_len = (len + HUGE_PAGE - 1) & ~(size_t)(HUGE_PAGE - 1);
	void *p = mmap(NULL, huge_len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_POPULATE, -1, 0);
	if (p != MAP_FAILED) {
		mem->huge = true;
		mem->page_size = HUGE_PAGE;
		len = huge_len;
	} else {
		size_t page = (size_t)sysconf(_SC_PAGESIZE);
		len = (len + page - 1) & ~(page - 1);
		p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
		if (p == MAP_FAILED) {
			snprintf(err, LOBO_ERR_LEN, "cannot map %zu bytes of memory: %s", len, strerror(errno));
			return -errno;
		}
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
	free(mem->phys);
	memset(mem, 0, sizeof *mem);
}

/* /proc/self/pagemap: one 64-bit entry per 4 KiB page, PFN in bits 0-54,
 * bit 63 = present. The PFN reads as 0 without CAP_SYS_ADMIN. */
int lobo_mem_resolve_phys(struct lobo_mem *mem, char *err)
{
	size_t pages = mem->len / mem->page_size, small = (size_t)sysconf(_SC_PAGESIZE);
	uint64_t *phys = calloc(pages, sizeof *phys);
	int fd = open("/proc/self/pagemap", O_RDONLY);
	if (!phys || fd < 0) {
		snprintf(err, LOBO_ERR_LEN, "cannot read /proc/self/pagemap: %s", strerror(errno));
		free(phys);
		if (fd >= 0)
			close(fd);
		return -errno;
	}
	for (size_t i = 0; i < pages; i++) {
		uint64_t entry = 0;
		off_t at = (off_t)((uintptr_t)(mem->base + i * mem->page_size) / small * sizeof entry);
		if (pread(fd, &entry, sizeof entry, at) != sizeof entry || !(entry >> 63) ||
		    !(entry & ((1ull << 55) - 1))) {
			snprintf(err, LOBO_ERR_LEN,
				 "no physical address for DMA memory: run as root (CAP_SYS_ADMIN) or use a device with an IOMMU (VFIO)");
			free(phys);
			close(fd);
			return -EPERM;
		}
		phys[i] = (entry & ((1ull << 55) - 1)) * small;
	}
	close(fd);
	free(mem->phys);
	mem->phys = phys;
	return 0;
}
