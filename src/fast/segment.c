/* Segments: 4 MiB aligned mappings cut into pages. This file owns the segment registry, the
 * mapping and unmapping of segments, handing pages to a heap and taking them back, purging
 * free pages (returning their memory to the OS after a delay), and the abandoned-segment list
 * through which a dead thread's memory passes to a live one. */
#include <stddef.h>
#include <string.h>

#include "core/checked.h"
#include "core/stats.h"
#include "fast/fast_internal.h"
#include "os/sys.h"

uint8_t fast_registry[REGISTRY_SIZE];

/* Segments of exited threads that still hold live blocks, one list per kind. */
static hk_lock_t abandoned_lock = HK_LOCK_INIT;
static segment_t *abandoned[2];

/* ---- Registry ------------------------------------------------------------------------------ */

void fast_registry_set(void *start, size_t size, bool on)
{
    uintptr_t first = (uintptr_t)start >> SEGMENT_SHIFT;
    uintptr_t last = ((uintptr_t)start + size - 1) >> SEGMENT_SHIFT;
    for (uintptr_t i = first; i <= last && i < REGISTRY_SIZE; i++) {
        uint8_t value = !on ? REGISTRY_NONE : i == first ? REGISTRY_START : REGISTRY_TAIL;
        __atomic_store_n(&fast_registry[i], value, __ATOMIC_RELEASE);
    }
}

segment_t *fast_segment_resolve(const void *p)
{
    uintptr_t i = (uintptr_t)p >> SEGMENT_SHIFT;
    if (i >= REGISTRY_SIZE) return NULL;
    uint8_t value = __atomic_load_n(&fast_registry[i], __ATOMIC_ACQUIRE);
    while (value == REGISTRY_TAIL && i > 0)
        value = __atomic_load_n(&fast_registry[--i], __ATOMIC_ACQUIRE);
    if (value != REGISTRY_START) return NULL;
    segment_t *segment = (segment_t *)(i << SEGMENT_SHIFT);
    if (segment->cookie != (SEGMENT_COOKIE ^ (uintptr_t)segment)) return NULL;
    if ((uintptr_t)p >= (uintptr_t)segment + segment->map_size) return NULL;
    return segment;
}

/* ---- Segment lists ------------------------------------------------------------------------- */

void fast_segment_list_remove(segment_t **list, segment_t *segment)
{
    if (segment->prev)
        segment->prev->next = segment->next;
    else
        *list = segment->next;
    if (segment->next) segment->next->prev = segment->prev;
    segment->next = segment->prev = NULL;
}

void fast_segment_list_push(segment_t **list, segment_t *segment)
{
    segment->prev = NULL;
    segment->next = *list;
    if (*list) (*list)->prev = segment;
    *list = segment;
}

/* A heap keeps segments with a free page on seg_avail, the others on seg_full. */
static segment_t **list_for(heap_t *heap, segment_t *segment)
{
    return segment->free_mask ? &heap->seg_avail[segment->kind] : &heap->seg_full[segment->kind];
}

/* ---- Mapping ------------------------------------------------------------------------------- */

static size_t page_bytes(const segment_t *segment)
{
    return (size_t)1 << segment->page_shift;
}

static segment_t *segment_map(heap_t *heap, unsigned kind)
{
    void *memory;
    if (sys_map_aligned(SEGMENT_SIZE, SEGMENT_SIZE, &memory) != 0) return NULL;
    segment_t *segment = memory; /* fresh mappings read as zero: only non-zero fields are set */
    unsigned shift = kind == SEGMENT_SMALL ? SMALL_PAGE_SHIFT : MEDIUM_PAGE_SHIFT;
    uint32_t count = (uint32_t)(SEGMENT_SIZE >> shift);
    segment->owner = heap->tag;
    segment->page_shift = shift;
    segment->kind = kind;
    segment->cookie = SEGMENT_COOKIE ^ (uintptr_t)segment;
    segment->map_size = SEGMENT_SIZE;
    segment->free_mask = count == 64 ? ~(uint64_t)0 : ((uint64_t)1 << count) - 1;
    segment->page_count = count;
    segment->header_size = (uint32_t)(offsetof(segment_t, pages) + count * sizeof(page_t));
    for (uint32_t i = 0; i < count; i++)
        segment->pages[i].mem_zero = 1;
    fast_registry_set(segment, SEGMENT_SIZE, true);
    fast_segment_list_push(&heap->seg_avail[kind], segment);
    heap->empty_segments[kind]++;
    hk_stat_add(&fast_global_stats[STAT_segments_mapped], 1);
    hk_stat_add(&fast_global_stats[STAT_segment_bytes], SEGMENT_SIZE);
    return segment;
}

static void segment_unmap(heap_t *heap, segment_t *segment)
{
    fast_segment_list_remove(list_for(heap, segment), segment);
    heap->dirty_pages -= (uint32_t)__builtin_popcountll(segment->dirty_mask);
    heap->empty_segments[segment->kind]--;
    segment->cookie = 0;
    fast_registry_set(segment, SEGMENT_SIZE, false);
    sys_unmap(segment, SEGMENT_SIZE);
    hk_stat_add(&fast_global_stats[STAT_segments_unmapped], 1);
    hk_stat_sub(&fast_global_stats[STAT_segment_bytes], SEGMENT_SIZE);
}

/* ---- Pages --------------------------------------------------------------------------------- */

/* A free page for the heap, from a segment of the given kind: an owned segment with room,
 * else an abandoned one, else a new mapping. Recently freed (still committed) pages first. */
page_t *fast_segment_page_alloc(heap_t *heap, unsigned kind)
{
    segment_t *segment = heap->seg_avail[kind];
    if (!segment && fast_segment_adopt(heap, kind)) segment = heap->seg_avail[kind];
    if (!segment) segment = segment_map(heap, kind);
    if (!segment) return NULL;
    uint64_t warm = segment->free_mask & segment->dirty_mask;
    unsigned index = (unsigned)__builtin_ctzll(warm ? warm : segment->free_mask);
    uint64_t bit = (uint64_t)1 << index;
    if (segment->dirty_mask & bit) {
        segment->dirty_mask &= ~bit;
        heap->dirty_pages--;
    }
    if (segment->used_pages++ == 0) heap->empty_segments[kind]--;
    segment->free_mask &= ~bit;
    if (!segment->free_mask) {
        fast_segment_list_remove(&heap->seg_avail[kind], segment);
        fast_segment_list_push(&heap->seg_full[kind], segment);
    }
    hk_stat_add(&fast_global_stats[STAT_page_bytes_in_use], page_bytes(segment));
    return &segment->pages[index];
}

/* Takes an empty page back (no live blocks, out of every queue). Its memory stays committed
 * until the purge delay has passed, so a page freed and wanted again soon costs nothing. */
void fast_segment_page_free(heap_t *heap, segment_t *segment, page_t *page)
{
    unsigned index = (unsigned)(page - segment->pages);
    uint64_t bit = (uint64_t)1 << index;
    if (!segment->free_mask) {
        fast_segment_list_remove(&heap->seg_full[segment->kind], segment);
        fast_segment_list_push(&heap->seg_avail[segment->kind], segment);
    }
    uint8_t mem_zero = page->mem_zero;
    memset(page, 0, sizeof *page);
    page->mem_zero = mem_zero;
    segment->free_mask |= bit;
    segment->dirty_mask |= bit;
    heap->now_ms = fast_now_ms(); /* the fast path may have run long since the last tick */
    segment->retired_ms[index] = heap->now_ms;
    heap->dirty_pages++;
    if (--segment->used_pages == 0) heap->empty_segments[segment->kind]++;
    heap->stats[STAT_pages_retired]++;
    hk_stat_sub(&fast_global_stats[STAT_page_bytes_in_use], page_bytes(segment));
    if (fast_options.purge_delay_ms == 0) fast_segment_purge(heap, false);
}

/* ---- Purging ------------------------------------------------------------------------------- */

/* Returns pages [first, last] of a segment to the OS with one call. */
static void purge_run(heap_t *heap, segment_t *segment, unsigned first, unsigned last)
{
    size_t os_page = sys_page_size();
    size_t start = (size_t)first << segment->page_shift;
    if (first == 0) start = hk_align_up_small(segment->header_size, os_page);
    size_t end = (size_t)(last + 1) << segment->page_shift;
    if (end > start) sys_decommit((uint8_t *)segment + start, end - start);
    for (unsigned i = first; i <= last; i++) {
        segment->pages[i].mem_zero = 1;
        segment->dirty_mask &= ~((uint64_t)1 << i);
        heap->dirty_pages--;
        heap->stats[STAT_pages_purged]++;
    }
}

static void segment_purge(heap_t *heap, segment_t *segment, bool force)
{
    uint32_t delay = fast_options.purge_delay_ms;
    int run_first = -1;
    for (unsigned i = 0; i <= segment->page_count; i++) {
        bool due = i < segment->page_count && (segment->dirty_mask >> i & 1) &&
                   (force || heap->now_ms - segment->retired_ms[i] >= delay);
        if (due && run_first < 0) run_first = (int)i;
        if (!due && run_first >= 0) {
            purge_run(heap, segment, (unsigned)run_first, i - 1);
            run_first = -1;
        }
    }
}

/* Purges the heap's free pages whose delay has passed (all of them when force), and unmaps
 * empty segments beyond the one per kind a heap keeps (all of them when force). */
void fast_segment_purge(heap_t *heap, bool force)
{
    for (unsigned kind = 0; kind < 2; kind++) {
        segment_t *next;
        for (segment_t *segment = heap->seg_avail[kind]; segment; segment = next) {
            next = segment->next;
            if (segment->dirty_mask) segment_purge(heap, segment, force);
            if (segment->used_pages == 0 && segment->dirty_mask == 0 &&
                (force || heap->empty_segments[kind] > 1))
                segment_unmap(heap, segment);
        }
    }
}

/* ---- Abandonment and adoption -------------------------------------------------------------- */

/* At thread exit, after the heap has collected its pages: empty segments are unmapped, the
 * others are handed to the abandoned lists with their free pages purged. */
void fast_segment_abandon_all(heap_t *heap)
{
    for (unsigned kind = 0; kind < 2; kind++) {
        segment_t **lists[2] = {&heap->seg_avail[kind], &heap->seg_full[kind]};
        for (unsigned l = 0; l < 2; l++) {
            while (*lists[l]) {
                segment_t *segment = *lists[l];
                if (segment->dirty_mask) segment_purge(heap, segment, true);
                if (segment->used_pages == 0) {
                    segment_unmap(heap, segment);
                    continue;
                }
                fast_segment_list_remove(lists[l], segment);
                __atomic_store_n(&segment->owner, 0, __ATOMIC_RELEASE);
                hk_lock(&abandoned_lock);
                segment->is_abandoned = 1;
                fast_segment_list_push(&abandoned[kind], segment);
                hk_unlock(&abandoned_lock);
                hk_stat_add(&fast_global_stats[STAT_segments_abandoned], 1);
            }
        }
        heap->empty_segments[kind] = 0;
    }
}

static void adopt_pages(heap_t *heap, segment_t *segment)
{
    __atomic_store_n(&segment->owner, heap->tag, __ATOMIC_RELEASE);
    fast_segment_list_push(list_for(heap, segment), segment);
    if (segment->used_pages == 0) heap->empty_segments[segment->kind]++;
    hk_stat_add(&fast_global_stats[STAT_segments_adopted], 1);
    for (unsigned i = 0; i < segment->page_count; i++) {
        page_t *page = &segment->pages[i];
        if (page->size_class != 0) fast_heap_adopt_page(heap, page);
    }
}

/* Takes one abandoned segment of the kind: its pages join the heap's queues (after collecting
 * the frees other threads made meanwhile), its empty pages are freed. */
bool fast_segment_adopt(heap_t *heap, unsigned kind)
{
    if (!__atomic_load_n(&abandoned[kind], __ATOMIC_RELAXED)) return false;
    hk_lock(&abandoned_lock);
    segment_t *segment = abandoned[kind];
    if (segment) {
        fast_segment_list_remove(&abandoned[kind], segment);
        segment->is_abandoned = 0;
    }
    hk_unlock(&abandoned_lock);
    if (!segment) return false;
    adopt_pages(heap, segment);
    return true;
}

/* A free into an abandoned segment adopts it: the freeing thread becomes its owner, so the
 * memory of exited threads is reclaimed by whoever frees their blocks, and those frees become
 * local ones. False when another thread took it first (or it is not on the list yet). */
bool fast_segment_adopt_this(heap_t *heap, segment_t *segment)
{
    hk_lock(&abandoned_lock);
    bool listed = segment->is_abandoned;
    if (listed) {
        fast_segment_list_remove(&abandoned[segment->kind], segment);
        segment->is_abandoned = 0;
    }
    hk_unlock(&abandoned_lock);
    if (listed) adopt_pages(heap, segment);
    return listed;
}

void fast_segment_register_locks(void)
{
    hk_lock_register(&abandoned_lock);
}
