/* DMA memory held for a device: lobo_mem_alloc's unnamed hugetlbfs file, a
 * claim that keeps its pages allocated after the region is freed (as when its
 * process is killed), and the release that hands them back. Runs in a private
 * mount namespace with its own hugetlbfs mount; skips without free hugepages
 * (make test runs with none, CI's second pass with some). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>
#include <errno.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "pci.h"
#include "testing.h"

static long free_hugepages(void)
{
	char line[128];
	long n = -1;
	FILE *f = fopen("/proc/meminfo", "r");
	while (f && fgets(line, sizeof line, f))
		sscanf(line, "HugePages_Free: %ld", &n);
	if (f)
		fclose(f);
	return n;
}

/* A hugetlbfs mount of our own, seen by this process only. */
static void private_hugetlbfs(char *dir)
{
	need_root();
	if (free_hugepages() < 4)
		skip();
	strcpy(dir, "/tmp/lobo-hugetlbfs.XXXXXX");
	if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) || !mkdtemp(dir))
		skip(); /* a container that allows no mounts */
	assert_int_equal(mount("nodev", dir, "hugetlbfs", 0, NULL), 0);
}

static void held_until_released(void **state)
{
	(void)state;
	char dir[64], path[128], err[LOBO_ERR_LEN];
	struct lobo_mem mem;
	struct stat st;
	private_hugetlbfs(dir);
	long before = free_hugepages();
	assert_int_equal(lobo_mem_alloc(&mem, 3 << 20, err), 0);
	assert_true(mem.huge);
	assert_true(mem.fd >= 0);
	assert_int_equal(mem.len, 4 << 20);
	assert_int_equal(free_hugepages(), before - 2);
	assert_int_equal(lobo_mem_claim(&mem, "0000:00:08.0", err), 0);
	assert_int_equal(lobo_mem_claim(&mem, "0000:00:08.0", err), 0); /* twice: one name */
	fstat(mem.fd, &st);
	snprintf(path, sizeof path, "%s/lobo/0000:00:08.0/%d-%lu", dir, (int)getpid(), (unsigned long)st.st_ino);
	assert_int_equal(access(path, F_OK), 0);
	lobo_mem_free(&mem); /* the process's end, as far as the memory can tell */
	assert_int_equal(free_hugepages(), before - 2);
	assert_int_equal(lobo_mem_release("0000:00:08.0", getpid()), 0); /* our own stays */
	assert_int_equal(lobo_mem_release("0000:00:08.0", 0), 4 << 20);
	assert_int_equal(free_hugepages(), before);
	assert_int_equal(lobo_mem_release("0000:00:08.0", 0), 0);
	umount(dir);
	rmdir(dir);
}

/* Anonymous or small-page memory cannot outlive its process: no claim. */
static void small_pages_cannot_be_held(void **state)
{
	(void)state;
	char err[LOBO_ERR_LEN];
	struct lobo_mem mem;
	assert_int_equal(lobo_mem_alloc(&mem, 4096, err), 0);
	if (mem.fd >= 0) /* hugepages in a mount: not this case */
		skip();
	assert_int_equal(lobo_mem_claim(&mem, "0000:00:08.0", err), -ENOTSUP);
	assert_non_null(strstr(err, "mount -t hugetlbfs"));
	lobo_mem_free(&mem);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(small_pages_cannot_be_held),
		cmocka_unit_test(held_until_released),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
