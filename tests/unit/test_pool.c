/* The buffer pool: LIFO allocation, exhaustion, reference counts, double
 * frees and buffer placement. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lobo.h"

#define PAGE 4096u
#define MEM_LEN (16 * PAGE)

static struct lobo_mem fake_mem(void)
{
	struct lobo_mem mem = {.base = aligned_alloc(PAGE, MEM_LEN), .len = MEM_LEN, .page_size = PAGE};
	assert_non_null(mem.base);
	return mem;
}

static void rejects_bad_geometry(void **state)
{
	(void)state;
	char err[LOBO_ERR_LEN];
	struct lobo_mem mem = fake_mem();
	struct lobo_pool pool;
	assert_int_equal(lobo_pool_init(&pool, &mem, 0, 3000, 4, err), -EINVAL);
	assert_non_null(strstr(err, "power of two"));
	assert_int_equal(lobo_pool_init(&pool, &mem, 0, 2 * PAGE, 4, err), -EINVAL);
	assert_int_equal(lobo_pool_init(&pool, &mem, 0, 2048, 33, err), -EINVAL); /* 33 * 2 KiB > 64 KiB */
	assert_non_null(strstr(err, "does not fit"));
	assert_int_equal(lobo_pool_init(&pool, &mem, 1024, 2048, 4, err), -EINVAL); /* would straddle pages */
	assert_int_equal(lobo_pool_init(&pool, &mem, MEM_LEN + PAGE, 2048, 1, err), -EINVAL);
	assert_int_equal(lobo_pool_init(&pool, &mem, 0, 2048, 0, err), -EINVAL);
	assert_null(strchr(err, '\n'));
	assert_int_equal(lobo_pool_init(&pool, &mem, 2048, 2048, 31, err), 0); /* exactly fills the rest */
	lobo_pool_destroy(&pool);
	free(mem.base);
}

static void alloc_until_exhausted(void **state)
{
	(void)state;
	char err[LOBO_ERR_LEN];
	struct lobo_mem mem = fake_mem();
	struct lobo_pool pool;
	struct lobo_frame f[40];
	uint8_t seen[32] = {0};
	assert_int_equal(lobo_pool_init(&pool, &mem, PAGE, 1024, 32, err), 0);
	assert_int_equal(lobo_pool_alloc(&pool, f, 20), 20);
	assert_int_equal(lobo_pool_alloc(&pool, f + 20, 20), 12); /* only 12 left */
	assert_int_equal(lobo_pool_alloc(&pool, f + 32, 8), 0);
	for (int i = 0; i < 32; i++) {
		assert_true(f[i].tag < 32);
		assert_int_equal(seen[f[i].tag]++, 0);
		assert_ptr_equal(f[i].data, lobo_pool_buf(&pool, f[i].tag));
		assert_ptr_equal(f[i].data, mem.base + PAGE + f[i].tag * 1024);
		assert_int_equal(f[i].len, 1024);
		size_t off = (size_t)(f[i].data - mem.base);
		assert_int_equal(off % 1024, 0);
		assert_int_equal(off / PAGE, (off + 1023) / PAGE); /* inside one page */
	}
	assert_int_equal(f[0].tag, 0); /* a fresh pool goes in address order */
	lobo_pool_free(&pool, &f[5], 1);
	struct lobo_frame again;
	assert_int_equal(lobo_pool_alloc(&pool, &again, 1), 1);
	assert_int_equal(again.tag, f[5].tag); /* LIFO: the last freed comes back first */
	lobo_pool_free(&pool, f, 32);
	assert_int_equal(pool.free_count, 32);
	assert_int_equal(pool.double_frees, 0);
	lobo_pool_destroy(&pool);
	free(mem.base);
}

static void refcount_and_double_free(void **state)
{
	(void)state;
	char err[LOBO_ERR_LEN];
	struct lobo_mem mem = fake_mem();
	struct lobo_pool pool;
	struct lobo_frame f[4], g[4];
	assert_int_equal(lobo_pool_init(&pool, &mem, 0, 2048, 4, err), 0);
	assert_int_equal(lobo_pool_alloc(&pool, f, 2), 2);
	lobo_pool_ref(&pool, f[0].tag); /* handed to a second port */
	lobo_pool_free(&pool, f, 1);
	assert_int_equal(pool.free_count, 2); /* still held by the second owner */
	lobo_pool_free(&pool, f, 1);
	assert_int_equal(pool.free_count, 3);
	lobo_pool_free(&pool, f, 1); /* one too many */
	lobo_pool_free(&pool, f, 1);
	struct lobo_frame bogus = {.tag = 99};
	lobo_pool_free(&pool, &bogus, 1);
	assert_int_equal(pool.double_frees, 3);
	assert_int_equal(pool.free_count, 3); /* stack untouched */
	assert_int_equal(lobo_pool_alloc(&pool, g, 4), 3);
	assert_int_not_equal(g[0].tag, g[1].tag); /* no buffer handed out twice */
	assert_int_not_equal(g[0].tag, g[2].tag);
	assert_int_not_equal(g[1].tag, g[2].tag);
	for (int i = 0; i < 3; i++)
		assert_int_not_equal(g[i].tag, f[1].tag);
	lobo_pool_destroy(&pool);
	free(mem.base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rejects_bad_geometry),
		cmocka_unit_test(alloc_until_exhausted),
		cmocka_unit_test(refcount_and_double_free),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
