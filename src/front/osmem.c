/* libosmem (spec 001) on the list heap: brk backing with a 128 KiB preallocation, best fit
 * after coalescing every free run, `struct block_meta` headers, and a mapping of exactly
 * payload + 32 bytes for blocks at or above the threshold. The syscalls are the spec's and
 * no others; nothing runs before the first os_* call. Single-threaded, as the spec is. */
#include "osmem.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "core/checked.h"
#include "core/compiler.h"
#include "core/fatal.h"
#include "core/options.h"
#include "front/list_fronts.h"
#include "os/sys.h"

#define META_SIZE sizeof(struct block_meta)

_Static_assert(sizeof(struct block_meta) == 32, "spec 001: the header is 32 bytes");
_Static_assert(offsetof(struct block_meta, size) == LIST_SIZE_OFFSET, "size first");
_Static_assert(offsetof(struct block_meta, status) == LIST_STATUS_OFFSET, "status second");

static const list_config_t osmem_config = {
    .layout = {.header_size = META_SIZE,
               .next_offset = offsetof(struct block_meta, next),
               .prev_offset = offsetof(struct block_meta, prev),
               .status_free = STATUS_FREE,
               .status_alloc = STATUS_ALLOC,
               .status_mapped = STATUS_MAPPED},
    .fit = LIST_BEST_FIT,
    .backing = LIST_BACKING_BRK,
    .first_grow_bytes = OSMEM_MMAP_THRESHOLD_BYTES, /* the heap preallocation */
    .min_split_payload = LIST_ALIGN,                /* a header and at least one aligned word */
    .coalesce_before_fit = true,
};

static list_heap_t heap;
static bool started;
static bool checked; /* HEAPKIT_CHECK: validate every pointer handed back */

static void osmem_start(void)
{
    if (hk_likely(started)) return;
    list_init(&heap, &osmem_config);
    checked = hk_env_bool("HEAPKIT_CHECK", false);
    started = true;
}

list_heap_t *osmem_heap(void)
{
    osmem_start();
    return &heap;
}

void osmem_stats(list_stats_t *out)
{
    list_stats(osmem_heap(), out);
}

bool osmem_walk(hk_block_visitor_t visitor, void *arg, int max_level)
{
    return list_visit(osmem_heap(), visitor, arg, max_level);
}

/* A block for size bytes: mapped when payload + header reach threshold, else from the heap. */
static void *osmem_alloc(size_t size, size_t threshold)
{
    size_t payload;
    if (!list_request_size(&heap, size, &payload)) {
        errno = ENOMEM;
        return NULL;
    }
    if (payload + META_SIZE >= threshold) return list_map_block(&heap, payload);
    return list_alloc(&heap, payload);
}

/* The header of ptr; in checked mode only when ptr is one of our blocks. */
static struct block_meta *osmem_block(void *ptr, const char *call)
{
    if (!checked) return (struct block_meta *)(void *)list_header(&heap, ptr);
    struct block_meta *block = (struct block_meta *)(void *)list_lookup(&heap, ptr);
    if (!block) hk_fatal("invalid pointer %p in %s()", ptr, call);
    return block;
}

static void osmem_release(struct block_meta *block, void *ptr)
{
    if (block->status == STATUS_MAPPED) list_unmap_block(&heap, ptr);
    else if (block->status == STATUS_ALLOC) list_free(&heap, ptr);
}

HK_EXPORT void *os_malloc(size_t size)
{
    if (size == 0) return NULL;
    osmem_start();
    return osmem_alloc(size, OSMEM_MMAP_THRESHOLD_BYTES);
}

HK_EXPORT void os_free(void *ptr)
{
    if (!ptr) return;
    osmem_start();
    struct block_meta *block = osmem_block(ptr, "os_free");
    if (block->status == STATUS_FREE) {
        if (checked) hk_fatal("double free of %p in os_free()", ptr);
        return; /* already free: nothing to do */
    }
    osmem_release(block, ptr);
}

HK_EXPORT void *os_calloc(size_t nmemb, size_t size)
{
    size_t total;
    if (nmemb == 0 || size == 0) return NULL;
    if (!hk_mul(nmemb, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    osmem_start();
    void *ptr = osmem_alloc(total, sys_page_size());
    if (!ptr) return NULL;
    /* fresh mappings are already zero */
    if (((struct block_meta *)(void *)list_header(&heap, ptr))->status != STATUS_MAPPED)
        memset(ptr, 0, total);
    return ptr;
}

HK_EXPORT void *os_realloc(void *ptr, size_t size)
{
    if (!ptr) return os_malloc(size);
    if (size == 0) {
        os_free(ptr);
        return NULL;
    }
    osmem_start();
    struct block_meta *block = osmem_block(ptr, "os_realloc");
    if (block->status == STATUS_FREE) return NULL; /* spec: a freed block cannot be resized */
    size_t payload;
    if (!list_request_size(&heap, size, &payload)) {
        errno = ENOMEM;
        return NULL;
    }
    if (payload == block->size) return ptr;
    /* Heap blocks that stay below the threshold resize in place when they can; mapped blocks
     * and blocks crossing the threshold always move. */
    if (block->status == STATUS_ALLOC && payload + META_SIZE < OSMEM_MMAP_THRESHOLD_BYTES &&
        list_resize_in_place(&heap, ptr, payload))
        return ptr;
    void *moved = osmem_alloc(size, OSMEM_MMAP_THRESHOLD_BYTES);
    if (!moved) return NULL;
    memcpy(moved, ptr, block->size < payload ? block->size : payload);
    osmem_release(block, ptr);
    return moved;
}
