/* The list heap's read-only side: lookup, heap walks, invariant checker and statistics. */
#include "core/walk.h"
#include "core/fmt.h"
#include "list/list.h"

static const char *end_of(const list_heap_t *heap, const char *block)
{
    return block + heap->cfg.layout.header_size + list_size(block);
}

char *list_lookup(const list_heap_t *heap, const void *payload)
{
    if ((uintptr_t)payload % LIST_ALIGN != 0) return NULL;
    const char *want = (const char *)payload - heap->cfg.layout.header_size;
    for (char *b = heap->head; b; b = list_next(heap, b))
        if (b == want) return b;
    for (char *b = heap->mapped; b; b = list_next(heap, b))
        if (b == want) return b;
    return NULL;
}

void list_walk(const list_heap_t *heap, void (*visit)(const char *block, void *arg), void *arg)
{
    for (char *b = heap->head; b; b = list_next(heap, b)) visit(b, arg);
    for (char *b = heap->mapped; b; b = list_next(heap, b)) visit(b, arg);
}

/* ---- The heap walk (list.h: list_visit) ------------------------------------------------- */

typedef struct {
    hk_block_visitor_t visitor;
    void *arg;
} visit_t;

static bool visit_item(visit_t *v, hk_level_t level, bool in_use, const char *address,
                       size_t size, size_t block_size, size_t used, size_t free, const char *label)
{
    return hk_walk_visit(v->visitor, v->arg, level, in_use ? HK_STATE_USED : HK_STATE_FREE, 0,
                         (uintptr_t)address, size, block_size, used, free, label);
}

static bool visit_block(const list_heap_t *heap, visit_t *v, const char *block)
{
    size_t header = heap->cfg.layout.header_size;
    return visit_item(v, HK_LEVEL_BLOCK, list_status(block) != heap->cfg.layout.status_free,
                      block, header + list_size(block), list_size(block), 0, 0, "block");
}

bool list_visit(const list_heap_t *heap, hk_block_visitor_t visitor, void *arg, int max_level)
{
    visit_t v = {visitor, arg};
    const char *label = heap->cfg.backing == LIST_BACKING_BRK ? "brk heap" : "mmap region";
    for (const char *first = heap->head; first;) {
        /* The run starting at first: blocks that touch, counted before they are visited. */
        size_t used = 0, free = 0;
        const char *last = first;
        for (const char *b = first; b; b = list_next(heap, b)) {
            if (b != first && b != end_of(heap, last)) break;
            size_t bytes = heap->cfg.layout.header_size + list_size(b);
            *(list_status(b) == heap->cfg.layout.status_free ? &free : &used) += bytes;
            last = b;
        }
        const char *end = end_of(heap, last);
        if (!visit_item(&v, HK_LEVEL_SEGMENT, used != 0, first, (size_t)(end - first), 0, used,
                        free, label))
            return false;
        const char *after = list_next(heap, last);
        if (max_level >= HK_LEVEL_BLOCK)
            for (const char *b = first; b != after; b = list_next(heap, b))
                if (!visit_block(heap, &v, b)) return false;
        first = after;
    }
    for (const char *b = heap->mapped; b; b = list_next(heap, b)) {
        size_t bytes = heap->cfg.layout.header_size + list_size(b);
        if (!visit_item(&v, HK_LEVEL_SEGMENT, true, b, bytes, 0, bytes, 0, "mapped block"))
            return false;
        if (max_level >= HK_LEVEL_BLOCK &&
            !visit_item(&v, HK_LEVEL_BLOCK, true, b, bytes, list_size(b), 0, 0, "mapped block"))
            return false;
    }
    return true;
}

static const list_region_t *region_of(const list_heap_t *heap, const char *block)
{
    for (const list_region_t *r = heap->regions; r; r = r->next)
        if (block >= (const char *)r && block < (const char *)r + r->size) return r;
    return NULL;
}

#define FAIL(...)                                                                            \
    do {                                                                                     \
        if (why_cap) hk_snprintf(why, why_cap, __VA_ARGS__);                                 \
        return false;                                                                        \
    } while (0)

bool list_check(const list_heap_t *heap, char *why, size_t why_cap)
{
    const list_layout_t *lay = &heap->cfg.layout;
    bool mmap_backed = heap->cfg.backing == LIST_BACKING_MMAP;
    const char *prev = NULL, *slow = heap->head;
    size_t index = 0;
    if (why_cap) why[0] = '\0';
    for (const char *b = heap->head; b; prev = b, b = list_next(heap, b), index++) {
        if (index && b == slow) FAIL("block list has a cycle at %p", (const void *)b);
        if (index % 2) slow = list_next(heap, slow);
        if ((uintptr_t)b % LIST_ALIGN) FAIL("block %zu header %p misaligned", index, (const void *)b);
        if (list_status(b) != lay->status_free && list_status(b) != lay->status_alloc)
            FAIL("block %zu at %p has status %d", index, (const void *)b, list_status(b));
        if (list_size(b) % LIST_ALIGN) FAIL("block %zu size %zu not aligned", index, list_size(b));
        if (lay->prev_offset != LIST_NO_PREV &&
            *(char *const *)(const void *)(b + lay->prev_offset) != prev)
            FAIL("block %zu at %p: prev link disagrees with list order", index, (const void *)b);
        bool touches = prev && end_of(heap, prev) == b;
        if (prev && heap->cfg.coalesce_on_free && touches && list_status(prev) == lay->status_free &&
            list_status(b) == lay->status_free)
            FAIL("blocks %zu and %zu are adjacent and both free", index - 1, index);
        if (!mmap_backed) {
            if (prev && b < end_of(heap, prev))
                FAIL("block %zu at %p overlaps its predecessor", index, (const void *)b);
            continue;
        }
        const list_region_t *r = region_of(heap, b);
        if (!r) FAIL("block %zu at %p lies in no region", index, (const void *)b);
        if (end_of(heap, b) > (const char *)r + r->size)
            FAIL("block %zu at %p runs past its region", index, (const void *)b);
        bool first_in_region = !prev || region_of(heap, prev) != r;
        if (first_in_region && b != (const char *)(r + 1))
            FAIL("block %zu at %p does not start its region", index, (const void *)b);
        if (!first_in_region && !touches)
            FAIL("block %zu at %p leaves a gap after its predecessor", index, (const void *)b);
        const char *next = list_next(heap, b);
        if ((!next || region_of(heap, next) != r) && end_of(heap, b) != (const char *)r + r->size)
            FAIL("block %zu at %p leaves a gap at its region's end", index, (const void *)b);
    }
    if (heap->tail != prev) FAIL("tail %p is not the last block %p", (const void *)heap->tail,
                                 (const void *)prev);
    index = 0;
    prev = NULL;
    for (const char *b = heap->mapped; b; prev = b, b = list_next(heap, b), index++) {
        if (list_status(b) != lay->status_mapped)
            FAIL("mapped block %zu at %p has status %d", index, (const void *)b, list_status(b));
        if (lay->prev_offset != LIST_NO_PREV &&
            *(char *const *)(const void *)(b + lay->prev_offset) != prev)
            FAIL("mapped block %zu: prev link disagrees", index);
        if (index > ((size_t)1 << 40)) FAIL("mapped list does not end");
    }
    return true;
}

void list_stats(const list_heap_t *heap, list_stats_t *out)
{
    for (size_t i = 0; i < LIST_STAT_COUNT; i++) out->v[i] = heap->counts[i];
    uint64_t heap_bytes = 0, free_bytes = 0, largest = 0, blocks = 0, free_blocks = 0;
    for (char *b = heap->head; b; b = list_next(heap, b)) {
        blocks++;
        heap_bytes += heap->cfg.layout.header_size + list_size(b);
        if (list_status(b) != heap->cfg.layout.status_free) continue;
        free_blocks++;
        free_bytes += list_size(b);
        if (list_size(b) > largest) largest = list_size(b);
    }
    out->v[STAT_heap_bytes] = heap_bytes;
    out->v[STAT_free_bytes] = free_bytes;
    out->v[STAT_largest_free] = largest;
    out->v[STAT_blocks] = blocks;
    out->v[STAT_free_blocks] = free_blocks;
}

static const hk_stat_desc_t list_stat_desc[] = {LIST_STATS(HK_STAT_DESC)};

size_t list_stats_text(const list_stats_t *stats, const char *title, char *buf, size_t cap)
{
    return hk_stats_text(buf, cap, title, list_stat_desc, stats->v, LIST_STAT_COUNT);
}
