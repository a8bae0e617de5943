/* memalloc (spec 002) on the list heap: a lazily mapped pool of `Block`s (singly linked,
 * `free` = 1 for free blocks), first fit, split, merge of adjacent free blocks, growth by
 * mapping another region, and grown regions unmapped once wholly free. One mutex. */
#include "memalloc.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>

#include "core/compiler.h"
#include "core/fatal.h"
#include "core/lock.h"
#include "core/options.h"
#include "front/list_fronts.h"

/* The pool a first custom_malloc maps, and the least a later region maps. */
#define POOL_DEFAULT_BYTES ((size_t)64 * 1024)

#define BLOCK_FREE      1 /* Block.free of a free block */
#define BLOCK_ALLOCATED 0

_Static_assert(sizeof(Block) == 24, "Block is 24 bytes");
_Static_assert(offsetof(Block, size) == LIST_SIZE_OFFSET, "size first");
_Static_assert(offsetof(Block, free) == LIST_STATUS_OFFSET, "free flag second");

static const list_config_t pool_config = {
    .layout = {.header_size = sizeof(Block),
               .next_offset = offsetof(Block, next),
               .prev_offset = LIST_NO_PREV,
               .status_free = BLOCK_FREE,
               .status_alloc = BLOCK_ALLOCATED,
               .status_mapped = -1}, /* no block has its own mapping */
    .fit = LIST_FIRST_FIT,
    .backing = LIST_BACKING_MMAP,
    .first_grow_bytes = POOL_DEFAULT_BYTES,
    .region_min_bytes = POOL_DEFAULT_BYTES,
    .min_split_payload = LIST_ALIGN,
    .coalesce_on_free = true,
    .release_empty_regions = true,
};

static hk_lock_t pool_lock = HK_LOCK_INIT;
static list_heap_t heap;
static bool started;
static bool checked; /* HEAPKIT_CHECK: report bad frees and abort */

/* Takes the lock (registered for fork first, outside it) and configures the heap once. */
static void pool_enter(void)
{
    hk_lock_register(&pool_lock);
    hk_lock(&pool_lock);
    if (hk_likely(started)) return;
    list_init(&heap, &pool_config);
    checked = hk_env_bool("HEAPKIT_CHECK", false);
    started = true;
}

list_heap_t *pool_heap(void)
{
    pool_enter();
    hk_unlock(&pool_lock);
    return &heap;
}

void pool_stats(list_stats_t *out)
{
    pool_enter();
    list_stats(&heap, out);
    hk_unlock(&pool_lock);
}

bool pool_walk(hk_block_visitor_t visitor, void *arg, int max_level)
{
    pool_enter();
    bool complete = list_visit(&heap, visitor, arg, max_level);
    hk_unlock(&pool_lock);
    return complete;
}

HK_EXPORT void init_pool(size_t size)
{
    size_t payload;
    pool_enter();
    if (!heap.started && list_request_size(&heap, size, &payload)) {
        heap.cfg.first_grow_bytes = 0; /* exactly the pages this size needs */
        list_grow(&heap, payload);
    }
    hk_unlock(&pool_lock);
}

HK_EXPORT void *custom_malloc(size_t size)
{
    size_t payload;
    if (size == 0) return NULL;
    pool_enter();
    void *ptr = NULL;
    if (list_request_size(&heap, size, &payload)) ptr = list_alloc(&heap, payload);
    else errno = ENOMEM;
    hk_unlock(&pool_lock);
    return ptr;
}

HK_EXPORT void custom_free(void *ptr)
{
    if (!ptr) return;
    pool_enter();
    char *block = list_lookup(&heap, ptr);
    if (block && list_status(block) == BLOCK_ALLOCATED) {
        list_free(&heap, ptr);
    } else if (checked) {
        hk_fatal("%s %p in custom_free()", block ? "double free of" : "invalid pointer", ptr);
    }
    hk_unlock(&pool_lock);
}

HK_EXPORT void print_free_list(void)
{
    pool_enter();
    list_stats_t stats;
    list_stats(&heap, &stats);
    printf("pool: %llu blocks, %llu free, %llu free bytes, largest free %llu\n",
           (unsigned long long)stats.v[STAT_blocks], (unsigned long long)stats.v[STAT_free_blocks],
           (unsigned long long)stats.v[STAT_free_bytes],
           (unsigned long long)stats.v[STAT_largest_free]);
    for (Block *b = (Block *)(void *)heap.head; b; b = b->next)
        printf("  block %p: size %zu, %s\n", (void *)b, b->size, b->free ? "free" : "allocated");
    fflush(stdout);
    hk_unlock(&pool_lock);
}
