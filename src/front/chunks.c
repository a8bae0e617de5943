/* memory_allocation (spec 000) on the list heap: mmap'd page regions, first fit, split on
 * allocation, coalesce on free, one global mutex. Every entry point takes the lock and every
 * return path, errors included, releases it. */
#include "memory_allocation.h"

#include <errno.h>
#include <stdbool.h>

#include "core/compiler.h"
#include "core/fatal.h"
#include "core/lock.h"
#include "core/options.h"
#include "core/vg.h"
#include "front/list_fronts.h"
#include "os/sys.h"

_Static_assert(sizeof(memory_chunk_t) == 32, "chunk header is 32 bytes");
_Static_assert(offsetof(memory_chunk_t, size) == LIST_SIZE_OFFSET, "size first");
_Static_assert(offsetof(memory_chunk_t, in_use) == LIST_STATUS_OFFSET, "status second");

/* Statically initialised, so it locks even for a constructor of another library that runs
 * before ours. */
static hk_lock_t chunks_lock = HK_LOCK_INIT;
static list_heap_t heap;
static bool started;
static bool checked; /* HEAPKIT_CHECK: report bad frees and abort */

/* The spec sets the mutex up in a constructor and destroys it in a destructor. Here the
 * constructor enrols it for fork, and nothing destroys it: code that runs after this library's
 * destructor (a later destructor, an atexit handler registered late) may still free memory, and
 * a destroyed mutex no longer locks anything. The process's exit releases it. */
__attribute__((constructor)) static void chunks_lock_enrol(void)
{
    hk_lock_register(&chunks_lock);
}

/* Called with the lock held. */
static void chunks_start(void)
{
    if (hk_likely(started)) return;
    const list_config_t config = {
        .layout = {.header_size = sizeof(memory_chunk_t),
                   .next_offset = offsetof(memory_chunk_t, next),
                   .prev_offset = offsetof(memory_chunk_t, prev),
                   .status_free = 0,
                   .status_alloc = 1,
                   .status_mapped = 2},
        .fit = LIST_FIRST_FIT,
        .backing = LIST_BACKING_MMAP,
        .first_grow_bytes = sys_page_size(), /* one page to start */
        .region_min_bytes = sys_page_size(), /* then page runs as big as a request needs */
        .min_split_payload = LIST_ALIGN,
        .coalesce_on_free = true,
        .release_empty_regions = true,
    };
    list_init(&heap, &config);
    checked = hk_env_bool("HEAPKIT_CHECK", false);
    started = true;
}

list_heap_t *chunks_heap(void)
{
    hk_lock(&chunks_lock);
    chunks_start();
    hk_unlock(&chunks_lock);
    return &heap;
}

void chunks_stats(list_stats_t *out)
{
    hk_lock(&chunks_lock);
    chunks_start();
    list_stats(&heap, out);
    hk_unlock(&chunks_lock);
}

bool chunks_walk(hk_block_visitor_t visitor, void *arg, int max_level)
{
    hk_lock(&chunks_lock);
    chunks_start();
    bool complete = list_visit(&heap, visitor, arg, max_level);
    hk_unlock(&chunks_lock);
    return complete;
}

HK_EXPORT memory_chunk_t *initialize_dynamic_memory(void)
{
    hk_lock(&chunks_lock);
    chunks_start();
    if (!heap.started && !list_grow(&heap, 0)) {
        hk_unlock(&chunks_lock);
        return NULL;
    }
    memory_chunk_t *first = (memory_chunk_t *)(void *)heap.head;
    hk_unlock(&chunks_lock);
    return first;
}

HK_EXPORT void *allocate_memory(size_t size)
{
    size_t payload;
    if (size == 0) return NULL;
    hk_lock(&chunks_lock);
    chunks_start();
    void *ptr = NULL;
    if (list_request_size(&heap, size, &payload)) ptr = list_alloc(&heap, payload);
    else errno = ENOMEM;
    hk_unlock(&chunks_lock);
    return ptr;
}

HK_EXPORT void free_memory(void *ptr)
{
    if (!ptr) return;
    hk_lock(&chunks_lock);
    chunks_start();
    char *block = list_lookup(&heap, ptr);
    if (block && list_status(block) == 1) {
        list_free(&heap, ptr);
    } else if (checked) {
        hk_fatal("%s %p in free_memory()", block ? "double free of" : "invalid pointer", ptr);
    }
    hk_unlock(&chunks_lock);
}

HK_EXPORT memory_chunk_t *chunk_split(memory_chunk_t *chunk, size_t size)
{
    size_t payload;
    memory_chunk_t *result = NULL;
    hk_lock(&chunks_lock);
    chunks_start();
    if (chunk && size && list_request_size(&heap, size, &payload) &&
        list_lookup(&heap, list_payload(&heap, (char *)chunk)) && chunk->size >= payload) {
        bool was_free = !chunk->in_use;
        size_t old_size = chunk->size;
        if (was_free) heap.counts[STAT_allocs]++;
        chunk->in_use = 1;
        list_split(&heap, (char *)chunk, payload);
        if (was_free) HK_VG_MALLOCLIKE(list_payload(&heap, (char *)chunk), chunk->size, 0);
        else list_vg_resized(&heap, (char *)chunk, old_size);
        result = chunk;
    } else {
        errno = EINVAL;
    }
    hk_unlock(&chunks_lock);
    return result;
}
