/* The fast engine's heap walk (hk_engine_walk, hk_visit_blocks, the heap map): every small and
 * medium segment (owned, abandoned or cached) with its pages, and every huge region with its
 * spans, without allocating. Blocks are listed for the pages whose free lists this thread may
 * read: its own heap's, and unowned segments'; other threads' pages change under the walk, so
 * they are described from their counters only. */
#include <string.h>

#include "core/walk.h"
#include "core/engine.h"
#include "fast/fast_internal.h"

typedef struct {
    hk_block_visitor_t visitor;
    void *arg;
    int max_level;
} walk_t;

static bool visit(walk_t *walk, hk_level_t level, hk_state_t state, uintptr_t address, size_t size,
                  size_t block_size, size_t used, size_t free, unsigned size_class,
                  const char *label)
{
    return hk_walk_visit(walk->visitor, walk->arg, level, state, size_class, address, size,
                         block_size, used, free, label);
}

/* Marks the blocks on one free list in a bitmap of the page's blocks. */
static void mark_list(const page_t *page, const uint8_t *area, const block_t *list,
                      uint64_t *is_free)
{
    for (uint32_t n = 0; list && n <= page->capacity; list = list->next, n++) {
        size_t offset = (size_t)((const uint8_t *)list - area);
        if ((const uint8_t *)list < area || offset % page->block_size) return; /* corrupt */
        size_t index = offset / page->block_size;
        if (index >= page->capacity) return;
        is_free[index / 64] |= (uint64_t)1 << (index % 64);
    }
}

/* Every carved block of a page this thread may read, then its uncarved rest as one free run. */
static bool walk_blocks(walk_t *walk, const segment_t *segment, const page_t *page)
{
    uint64_t is_free[((size_t)1 << SMALL_PAGE_SHIFT) / 16 / 64] = {0}; /* 16 B blocks at most */
    if (page->capacity > sizeof is_free * 8) return true; /* cannot happen: blocks are >= 16 B */
    const uint8_t *area = page_area(segment, page);
    mark_list(page, area, page->free, is_free);
    mark_list(page, area, page->local_free, is_free);
    mark_list(page, area, thread_free_blocks(__atomic_load_n(&page->thread_free, __ATOMIC_ACQUIRE)),
              is_free);
    for (uint32_t i = 0; i < page->capacity; i++) {
        bool free = is_free[i / 64] >> (i % 64) & 1;
        if (!visit(walk, HK_LEVEL_BLOCK, free ? HK_STATE_FREE : HK_STATE_USED,
                   (uintptr_t)area + (size_t)i * page->block_size, page->block_size,
                   page->block_size, !free, free, page->size_class, "block"))
            return false;
    }
    size_t rest = (size_t)(page->reserved - page->capacity) * page->block_size;
    if (rest)
        return visit(walk, HK_LEVEL_BLOCK, page->mem_zero ? HK_STATE_PURGED : HK_STATE_FREE,
                     (uintptr_t)area + (size_t)page->capacity * page->block_size, rest,
                     page->block_size, 0, page->reserved - page->capacity, page->size_class,
                     "uncarved");
    return true;
}

static bool walk_segment(segment_t *segment, void *arg)
{
    walk_t *walk = arg;
    uintptr_t owner = __atomic_load_n(&segment->owner, __ATOMIC_ACQUIRE);
    bool cached = segment->cookie != (SEGMENT_COOKIE ^ (uintptr_t)segment);
    if (cached && !fast_segment_is_cached(segment)) return true; /* being set up or torn down */
    /* Blocks only where this thread may read the free lists. */
    bool readable = owner == 0 || owner == fast_tls.heap->tag;
    size_t page_size = (size_t)1 << segment->page_shift;
    uint32_t count = segment->page_count;
    size_t used_bytes = (size_t)segment->used_pages * page_size;
    const char *label = cached ? "cached segment"
                        : segment->kind == SEGMENT_SMALL ? "small segment"
                                                         : "medium segment";
    hk_state_t state = cached ? HK_STATE_CACHED
                       : segment->used_pages ? HK_STATE_USED
                                             : HK_STATE_FREE;
    if (!visit(walk, HK_LEVEL_SEGMENT, state, (uintptr_t)segment, SEGMENT_SIZE, page_size,
               used_bytes, SEGMENT_SIZE - used_bytes, 0, label))
        return false;
    if (walk->max_level < HK_LEVEL_PAGE) return true;
    for (uint32_t i = 0; i < count; i++) {
        const page_t *page = &segment->pages[i];
        uintptr_t start = (uintptr_t)segment + ((size_t)i << segment->page_shift);
        if (segment->free_mask >> i & 1) {
            hk_state_t free_state = cached                          ? HK_STATE_CACHED
                                    : segment->dirty_mask >> i & 1 ? HK_STATE_FREE
                                                                    : HK_STATE_PURGED;
            if (!visit(walk, HK_LEVEL_PAGE, free_state, start, page_size, 0, 0, 0, 0, "free page"))
                return false;
            continue;
        }
        uint32_t block_size = page->block_size;
        if (block_size == 0) continue; /* being set up by its owner */
        uint32_t used = page->in_full ? page->reserved : page->used;
        if (used > page->reserved) used = page->reserved;
        if (!visit(walk, HK_LEVEL_PAGE, HK_STATE_USED, start, page_size, block_size, used,
                   page->reserved - used, page->size_class, segment->kind == SEGMENT_SMALL
                                                                 ? "small page"
                                                                 : "medium page"))
            return false;
        if (walk->max_level >= HK_LEVEL_BLOCK && readable && !walk_blocks(walk, segment, page))
            return false;
    }
    return true;
}

bool fast_walk(hk_block_visitor_t visitor, void *arg, int max_level)
{
    walk_t walk = {.visitor = visitor, .arg = arg, .max_level = max_level};
    if (!fast_segment_each(walk_segment, &walk)) return false;
    return fast_huge_walk(visitor, arg, max_level);
}

bool hk_engine_walk(hk_block_visitor_t visitor, void *arg, int max_level)
{
    return fast_walk(visitor, arg, max_level);
}
