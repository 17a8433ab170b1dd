/* DMA memory held for a device: lobo_mem_alloc's unnamed hugetlbfs file, a
 * claim that keeps its pages allocated after the region is freed (as when its
 * process is killed), and the release that hands them back. Uses the system's
 * hugetlbfs mount, or mounts one in a private mount namespace; skips without
 * free hugepages (make test runs with none; the lab and CI's second pass have
 * some). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>
#include <errno.h>
#include <mntent.h>
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

/* The hugetlbfs mount lobo uses (the first), or one of our own, seen by this
 * process only; false if there is none. */
static bool hugetlbfs(char *dir)
{
	FILE *f = setmntent("/proc/self/mounts", "r");
	struct mntent *m;
	bool found = false;
	while (f && !found && (m = getmntent(f)))
		if ((found = !strcmp(m->mnt_type, "hugetlbfs")))
			snprintf(dir, 64, "%s", m->mnt_dir);
	if (f)
		endmntent(f);
	if (found)
		return false;
	strcpy(dir, "/tmp/lobo-hugetlbfs.XXXXXX");
	if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) || !mkdtemp(dir))
		skip(); /* a container that allows no mounts */
	assert_int_equal(mount("nodev", dir, "hugetlbfs", 0, NULL), 0);
	return true;
}

static void held_until_released(void **state)
{
	(void)state;
	char dir[64], path[128], err[LOBO_ERR_LEN];
	struct lobo_mem mem;
	struct stat st;
	need_root();
	if (free_hugepages() < 4)
		skip();
	bool ours = hugetlbfs(dir);
	long before = free_hugepages();
	assert_int_equal(lobo_mem_alloc(&mem, 3 << 20, err), 0);
	assert_true(mem.huge);
	assert_true(mem.fd >= 0);
	assert_int_equal(mem.len, 4 << 20);
	assert_int_equal(free_hugepages(), before - 2);
	assert_int_equal(lobo_mem_claim(&mem, "test-mem", err), 0);
	assert_int_equal(lobo_mem_claim(&mem, "test-mem", err), 0); /* twice: one name */
	fstat(mem.fd, &st);
	snprintf(path, sizeof path, "%s/lobo/test-mem/%d-%lu", dir, (int)getpid(), (unsigned long)st.st_ino);
	assert_int_equal(access(path, F_OK), 0);
	lobo_mem_free(&mem); /* the process's end, as far as the memory can tell */
	assert_int_equal(free_hugepages(), before - 2);
	assert_int_equal(lobo_mem_release("test-mem", getpid()), 0); /* our own stays */
	assert_int_equal(lobo_mem_release("test-mem", 0), 4 << 20);
	assert_int_equal(free_hugepages(), before);
	assert_int_equal(lobo_mem_release("test-mem", 0), 0);
	if (ours) {
		umount(dir);
		rmdir(dir);
	}
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
	assert_int_equal(lobo_mem_claim(&mem, "test-mem", err), -ENOTSUP);
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
