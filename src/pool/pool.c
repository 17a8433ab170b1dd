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

/* The stack, its top and the counts are read into locals once per batch: the
 * stores into frames and refs would otherwise make the compiler read them
 * again for every frame. */
uint32_t lobo_pool_alloc(struct lobo_pool *pool, struct lobo_frame *out, uint32_t n)
{
	uint32_t top = pool->free_count, size = pool->buf_size;
	const uint32_t *stack = pool->stack;
	uint16_t *refs = pool->refs;
	uint8_t *base = pool->base;
	if (n > top)
		n = top;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t idx = stack[--top];
		refs[idx] = 1;
		out[i] = (struct lobo_frame){.data = base + (size_t)idx * size, .len = size, .tag = idx};
	}
	pool->free_count = top;
	return n;
}

void lobo_pool_free(struct lobo_pool *pool, const struct lobo_frame *frames, uint32_t n)
{
	uint32_t top = pool->free_count, count = pool->count;
	uint32_t *stack = pool->stack;
	uint16_t *refs = pool->refs;
	for (uint32_t i = 0; i < n; i++) {
		uint64_t idx = frames[i].tag;
		/* Pushing a buffer twice would hand it to two owners later. */
		if (idx >= count || !refs[idx]) {
			pool->double_frees++;
			continue;
		}
		/* A buffer with references left is not in the stack, so the slot
		 * at top is free to write whether or not the push counts. */
		stack[top] = (uint32_t)idx;
		top += --refs[idx] == 0;
	}
	pool->free_count = top;
}
