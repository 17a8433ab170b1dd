/* Fixed-size buffers over caller memory: a LIFO stack of indices (ixy's
 * mempool), so the most recently freed, cache-warm buffer goes out first. */
#include "lobo.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int lobo_pool_init(struct lobo_pool *pool, struct lobo_mem *mem, size_t offset,
		   uint32_t buf_size, uint32_t count, char *err)
{
	memset(pool, 0, sizeof *pool);
	if (!buf_size || (buf_size & (buf_size - 1)) || buf_size > mem->page_size) {
		snprintf(err, LOBO_ERR_LEN, "pool buffer size %u must be a power of two no larger than the page size %zu",
			 buf_size, mem->page_size);
		return -EINVAL;
	}
	/* Aligned to its own size, a buffer can never straddle a page. */
	if (offset % buf_size || !count || offset > mem->len || (mem->len - offset) / buf_size < count) {
		snprintf(err, LOBO_ERR_LEN, "pool of %u buffers of %u bytes at offset %zu does not fit in %zu bytes of memory: "
			 "use a multiple of the buffer size as offset, fewer buffers or more memory", count, buf_size, offset, mem->len);
		return -EINVAL;
	}
	pool->stack = malloc((size_t)count * sizeof *pool->stack);
	pool->refs = calloc(count, sizeof *pool->refs);
	if (!pool->stack || !pool->refs) {
		lobo_pool_destroy(pool);
		snprintf(err, LOBO_ERR_LEN, "out of memory for a pool of %u buffers", count);
		return -ENOMEM;
	}
	/* Lowest index on top, so a fresh pool hands out buffers in address order. */
	for (uint32_t i = 0; i < count; i++)
		pool->stack[i] = count - 1 - i;
	pool->mem = mem;
	pool->base = mem->base + offset;
	pool->buf_size = buf_size;
	pool->count = pool->free_count = count;
	return 0;
}

void lobo_pool_destroy(struct lobo_pool *pool)
{
	free(pool->stack);
	free(pool->refs);
	memset(pool, 0, sizeof *pool);
}

uint32_t lobo_pool_alloc(struct lobo_pool *pool, struct lobo_frame *out, uint32_t n)
{
	if (n > pool->free_count)
		n = pool->free_count;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t idx = pool->stack[--pool->free_count];
		pool->refs[idx] = 1;
		out[i] = (struct lobo_frame){.data = lobo_pool_buf(pool, idx), .len = pool->buf_size, .tag = idx};
	}
	return n;
}

void lobo_pool_free(struct lobo_pool *pool, const struct lobo_frame *frames, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		uint64_t idx = frames[i].tag;
		/* Pushing a buffer twice would hand it to two owners later. */
		if (idx >= pool->count || !pool->refs[idx]) {
			pool->double_frees++;
			continue;
		}
		if (--pool->refs[idx] == 0)
			pool->stack[pool->free_count++] = (uint32_t)idx;
	}
}
