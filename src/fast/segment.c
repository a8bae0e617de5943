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

uint16_t fast_registry[REGISTRY_SIZE];

/* Segments of exited threads that still hold live blocks, one list per kind; and empty segments
 * kept mapped (their pages decommitted) for the next heap that needs one, so short-lived threads
 * cost neither mmap nor munmap. Both under abandoned_lock. */
static hk_lock_t abandoned_lock = HK_LOCK_INIT;
/* Every small and medium segment mapped, for heap walks: linked when mapped, unlinked before
 * the unmap, all under segments_lock. A walk holding it may take abandoned_lock (never the
 * other way round), so it comes first in the fork registry. */
static hk_lock_t segments_lock = HK_LOCK_INIT;
static segment_t *all_segments;
static segment_t *abandoned[2];
static segment_t *segment_cache;
static unsigned segment_cache_count;

/* Empty segments the cache keeps. Their recently freed pages stay committed (the next thread
 * to take one reuses them without faults, as short-lived threads do all the time) until the
 * purge delay has passed, then the cache purges them like a heap would. */
#define SEGMENT_CACHE_MAX 8
static uint32_t segment_cache_next_purge_ms; /* when a cached dirty page may be due */

/* Bytes at a segment's start that describe it, for the largest page count. */
#define SEGMENT_HEADER_MAX_BYTES (offsetof(segment_t, pages) + SMALL_PAGE_COUNT * sizeof(page_t))

/* ---- Registry ------------------------------------------------------------------------------ */

/* A huge mapping: its first chunk says where it starts, the others point back to it. */
void fast_registry_set(void *start, size_t size, bool on)
{
    uintptr_t first = (uintptr_t)start >> SEGMENT_SHIFT;
    uintptr_t last = ((uintptr_t)start + size - 1) >> SEGMENT_SHIFT;
    for (uintptr_t i = first; i <= last && i < REGISTRY_SIZE; i++) {
        uint16_t value = !on ? REGISTRY_NONE : i == first ? REGISTRY_HUGE : REGISTRY_TAIL;
        __atomic_store_n(&fast_registry[i], value, __ATOMIC_RELEASE);
    }
}

/* A small or medium segment (exactly one chunk): who owns it, or REGISTRY_LOOSE / NONE. Only
 * the owner's own fast path compares its key with this value, and only the owner (or the
 * thread taking an unowned segment) changes it, so a plain store is enough for that reader;
 * release order serves fast_segment_resolve in other threads. */
void fast_registry_mark(segment_t *segment, uint16_t value)
{
    __atomic_store_n(&fast_registry[registry_index(segment)], value, __ATOMIC_RELEASE);
}

/* The registry value of a heap's segments of a kind: its slot's (medium: odd), or LOOSE for a
 * heap past the slots. */
uint16_t fast_registry_value_for(const heap_t *heap, unsigned kind)
{
    if (heap->slot >= REGISTRY_SLOTS) return REGISTRY_LOOSE;
    return (uint16_t)(REGISTRY_OWNED + 2 * heap->slot + (kind == SEGMENT_MEDIUM));
}

segment_t *fast_segment_resolve(const void *p)
{
    uintptr_t i = (uintptr_t)p >> SEGMENT_SHIFT;
    if (i >= REGISTRY_SIZE) return NULL;
    uint16_t value = __atomic_load_n(&fast_registry[i], __ATOMIC_ACQUIRE);
    while (value == REGISTRY_TAIL && i > 0)
        value = __atomic_load_n(&fast_registry[--i], __ATOMIC_ACQUIRE);
    if (value < REGISTRY_HUGE) return NULL;
    segment_t *segment = (segment_t *)(i << SEGMENT_SHIFT);
    if (segment->cookie != (SEGMENT_COOKIE ^ (uintptr_t)segment)) return NULL;
    if ((uintptr_t)p >= (uintptr_t)segment + segment->map_size) return NULL;
    return segment;
}

/* ---- Segment lists ------------------------------------------------------------------------- */

void fast_segment_list_remove(segment_t **list, segment_t *segment)
{
    /* The head is stored atomically: some lists are peeked at without their lock. */
    if (segment->prev)
        segment->prev->next = segment->next;
    else
        __atomic_store_n(list, segment->next, __ATOMIC_RELAXED);
    if (segment->next) segment->next->prev = segment->prev;
    segment->next = segment->prev = NULL;
}

void fast_segment_list_push(segment_t **list, segment_t *segment)
{
    segment->prev = NULL;
    segment->next = *list;
    if (*list) (*list)->prev = segment;
    __atomic_store_n(list, segment, __ATOMIC_RELAXED);
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

/* Returns pages [first, last] of a segment to the OS with one call; they read as zero after. */
static void segment_decommit_pages(segment_t *segment, unsigned first, unsigned last)
{
    size_t os_page = sys_page_size();
    size_t start = (size_t)first << segment->page_shift;
    if (first == 0) {
        /* Page 0 shares an OS page with the header: zero its part of it by hand, since the page
         * is about to be marked as reading zero. */
        start = hk_align_up_small(segment->header_size, os_page);
        HK_VG_UNDEFINED((uint8_t *)segment + segment->header_size, start - segment->header_size);
        memset((uint8_t *)segment + segment->header_size, 0, start - segment->header_size);
    }
    size_t end = (size_t)(last + 1) << segment->page_shift;
    if (end > start) sys_decommit((uint8_t *)segment + start, end - start);
    for (unsigned i = first; i <= last; i++) {
        segment->pages[i].mem_zero = 1;
        segment->dirty_mask &= ~((uint64_t)1 << i);
    }
}

/* Calls back for each run of the segment's dirty pages retired at least the purge delay ago
 * (all of them when force); returns pages purged. */
static unsigned segment_purge_due(segment_t *segment, uint32_t now, bool force, heap_t *heap)
{
    uint32_t delay = fast_options.purge_delay_ms;
    unsigned purged = 0;
    int run_first = -1;
    for (unsigned i = 0; i <= segment->page_count; i++) {
        bool due = i < segment->page_count && (segment->dirty_mask >> i & 1) &&
                   (force || now - segment->retired_ms[i] >= delay);
        if (due && run_first < 0) run_first = (int)i;
        if (!due && run_first >= 0) {
            segment_decommit_pages(segment, (unsigned)run_first, i - 1);
            purged += i - (unsigned)run_first;
            run_first = -1;
        }
    }
    if (heap && purged) {
        heap->dirty_pages -= purged;
        heap->dirty_bytes -= (size_t)purged << segment->page_shift;
        heap->stats[STAT_pages_purged] += purged;
    }
    return purged;
}

/* An empty segment from the cache for a heap that wants one of the given kind (one of that
 * kind with committed pages first), its header zeroed as a fresh mapping's would be. Pages it
 * kept committed come back as dirty free pages of the new owner (*dirty: mask, retired times
 * kept), which purges them after the usual delay; a segment of the other kind is decommitted
 * first, since its page boundaries differ. */
static segment_t *segment_cache_take(unsigned kind, uint64_t *dirty)
{
    *dirty = 0;
    if (!__atomic_load_n(&segment_cache, __ATOMIC_RELAXED)) return NULL;
    hk_lock(&abandoned_lock);
    segment_t **link = &segment_cache;
    for (segment_t **at = &segment_cache; *at; at = &(*at)->next)
        if ((*at)->kind == kind && (*at)->dirty_mask) {
            link = at;
            break;
        }
    segment_t *segment = *link;
    if (segment) {
        __atomic_store_n(link, segment->next, __ATOMIC_RELAXED);
        __atomic_store_n(&segment_cache_count, segment_cache_count - 1, __ATOMIC_RELAXED);
    }
    hk_unlock(&abandoned_lock);
    if (!segment) return NULL;
    size_t body = hk_align_up_small(SEGMENT_HEADER_MAX_BYTES, sys_page_size());
    uint32_t retired_ms[SMALL_PAGE_COUNT];
    if (segment->dirty_mask && segment->kind != kind) {
        sys_decommit((uint8_t *)segment + body, SEGMENT_SIZE - body);
    } else if (segment->dirty_mask) {
        *dirty = segment->dirty_mask;
        memcpy(retired_ms, segment->retired_ms, sizeof retired_ms);
    }
    /* Up to the first decommitted byte: the header, and the start of page 0 that shares its
     * last OS page, so a clean page may claim to read as zero. (Its links in the list of every
     * segment stay: it is still mapped.) */
    hk_lock(&segments_lock);
    segment_t *all_next = segment->all_next, *all_prev = segment->all_prev;
    uint32_t guarded = segment->guarded; /* its last page still faults */
    HK_VG_UNDEFINED(segment, body); /* (blocks of page 0 freed there, for memcheck) */
    memset(segment, 0, body);
    segment->all_next = all_next;
    segment->all_prev = all_prev;
    segment->guarded = guarded;
    hk_unlock(&segments_lock);
    if (*dirty) memcpy(segment->retired_ms, retired_ms, sizeof retired_ms);
    return segment;
}

/* Keeps an empty segment (already off every heap list, cookie cleared) for reuse, its dirty
 * pages still committed: false when the cache is full. */
static bool segment_cache_put(segment_t *segment)
{
    if (__atomic_load_n(&segment_cache_count, __ATOMIC_RELAXED) >= SEGMENT_CACHE_MAX) return false;
    hk_lock(&abandoned_lock);
    bool kept = segment_cache_count < SEGMENT_CACHE_MAX;
    if (kept) {
        segment->next = segment_cache;
        __atomic_store_n(&segment_cache, segment, __ATOMIC_RELAXED); /* peeked at unlocked */
        __atomic_store_n(&segment_cache_count, segment_cache_count + 1, __ATOMIC_RELAXED);
        if (segment->dirty_mask && (!segment_cache_next_purge_ms || segment_cache_count == 1))
            __atomic_store_n(&segment_cache_next_purge_ms,
                             fast_now_ms() + fast_options.purge_delay_ms, __ATOMIC_RELAXED);
    }
    hk_unlock(&abandoned_lock);
    return kept;
}

/* Purges the cached segments' dirty pages once their delay has passed (from the slow path's
 * clock tick; cheap when nothing is due). */
void fast_segment_cache_tick(uint32_t now)
{
    uint32_t due = __atomic_load_n(&segment_cache_next_purge_ms, __ATOMIC_RELAXED);
    if (!due || (int32_t)(now - due) < 0) return;
    if (!hk_trylock(&abandoned_lock)) return;
    uint32_t next = 0;
    for (segment_t *segment = segment_cache; segment; segment = segment->next) {
        segment_purge_due(segment, now, false, NULL);
        for (unsigned i = 0; i < segment->page_count; i++)
            if (segment->dirty_mask >> i & 1) {
                uint32_t at = segment->retired_ms[i] + fast_options.purge_delay_ms;
                if (!next || (int32_t)(at - next) < 0) next = at ? at : 1;
            }
    }
    __atomic_store_n(&segment_cache_next_purge_ms, next, __ATOMIC_RELAXED);
    hk_unlock(&abandoned_lock);
}

/* Unmaps every cached segment (trim). */
static void segment_remember(segment_t *segment)
{
    hk_lock(&segments_lock);
    segment->all_prev = NULL;
    segment->all_next = all_segments;
    if (all_segments) all_segments->all_prev = segment;
    all_segments = segment;
    hk_unlock(&segments_lock);
}

static void segment_forget(segment_t *segment)
{
    hk_lock(&segments_lock);
    if (segment->all_prev)
        segment->all_prev->all_next = segment->all_next;
    else
        all_segments = segment->all_next;
    if (segment->all_next) segment->all_next->all_prev = segment->all_prev;
    hk_unlock(&segments_lock);
}

bool fast_segment_each(bool (*fn)(segment_t *segment, void *arg), void *arg)
{
    bool going = true;
    hk_lock(&segments_lock);
    for (segment_t *segment = all_segments; segment && going; segment = segment->all_next)
        going = fn(segment, arg);
    hk_unlock(&segments_lock);
    return going;
}

/* Whether an unowned segment is in the empty-segment cache (a walk's "cached" state). */
bool fast_segment_is_cached(const segment_t *segment)
{
    bool cached = false;
    hk_lock(&abandoned_lock);
    for (const segment_t *s = segment_cache; s && !cached; s = s->next)
        cached = s == segment;
    hk_unlock(&abandoned_lock);
    return cached;
}

void fast_segment_cache_flush(void)
{
    hk_lock(&abandoned_lock);
    segment_t *list = segment_cache;
    __atomic_store_n(&segment_cache, NULL, __ATOMIC_RELAXED);
    __atomic_store_n(&segment_cache_count, 0, __ATOMIC_RELAXED);
    hk_unlock(&abandoned_lock);
    while (list) {
        segment_t *next = list->next;
        fast_registry_mark(list, REGISTRY_NONE);
        segment_forget(list);
        sys_unmap(list, SEGMENT_SIZE);
        list = next;
    }
}

static segment_t *segment_map(heap_t *heap, unsigned kind)
{
    uint64_t dirty;
    segment_t *segment = segment_cache_take(kind, &dirty);
    if (!segment) {
        void *memory;
        if (sys_map_aligned(SEGMENT_SIZE, SEGMENT_SIZE, &memory) != 0) return NULL;
        segment = memory; /* fresh mappings read as zero: only non-zero fields are set */
        /* Hardened: the last OS page faults, so a linear overflow off the segment's end stops
         * there instead of reaching the next segment's header. */
        if (fast_options.harden &&
            sys_protect((uint8_t *)memory + SEGMENT_SIZE - sys_page_size(), sys_page_size(),
                        SYS_PROT_NONE) == 0)
            segment->guarded = 1;
        segment_remember(segment);
        hk_stat_add(&fast_global_stats[STAT_segments_mapped], 1);
    }
    unsigned shift = kind == SEGMENT_SMALL ? SMALL_PAGE_SHIFT : MEDIUM_PAGE_SHIFT;
    uint32_t count = (uint32_t)(SEGMENT_SIZE >> shift);
    segment->owner = heap->tag;
    fast_registry_mark(segment, fast_registry_value_for(heap, kind));
    segment->page_shift = shift;
    segment->kind = kind;
    segment->cookie = SEGMENT_COOKIE ^ (uintptr_t)segment;
    segment->map_size = SEGMENT_SIZE;
    segment->free_mask = count == 64 ? ~(uint64_t)0 : ((uint64_t)1 << count) - 1;
    segment->page_count = count;
    segment->header_size = (uint32_t)(offsetof(segment_t, pages) + count * sizeof(page_t));
    for (uint32_t i = 0; i < count; i++)
        segment->pages[i].mem_zero = !(dirty >> i & 1);
    segment->dirty_mask = dirty;
    heap->dirty_pages += (uint32_t)__builtin_popcountll(dirty);
    heap->dirty_bytes += (size_t)__builtin_popcountll(dirty) << shift;
    fast_segment_list_push(&heap->seg_avail[kind], segment);
    heap->empty_segments[kind]++;
    hk_stat_add(&fast_global_stats[STAT_segment_bytes], SEGMENT_SIZE);
    return segment;
}

static void segment_unmap(heap_t *heap, segment_t *segment)
{
    fast_segment_list_remove(list_for(heap, segment), segment);
    heap->dirty_pages -= (uint32_t)__builtin_popcountll(segment->dirty_mask);
    heap->dirty_bytes -= (size_t)__builtin_popcountll(segment->dirty_mask) << segment->page_shift;
    heap->empty_segments[segment->kind]--;
    segment->cookie = 0; /* frees into it are invalid from now on, cached or not */
    fast_registry_mark(segment, REGISTRY_LOOSE);
    hk_stat_sub(&fast_global_stats[STAT_segment_bytes], SEGMENT_SIZE);
    /* Checked mode unmaps at once: a late free into the segment (a destroyed heap's, say) then
     * finds nothing there and is reported. */
    if (!fast_options.check && segment_cache_put(segment)) return;
    fast_registry_mark(segment, REGISTRY_NONE);
    segment_forget(segment);
    sys_unmap(segment, SEGMENT_SIZE);
    hk_stat_add(&fast_global_stats[STAT_segments_unmapped], 1);
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
        heap->dirty_bytes -= page_bytes(segment);
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
    fast_segment_page_release(heap, segment, page);
    if (fast_options.purge_delay_ms == 0) fast_segment_purge(heap, false);
}

/* The same without purging, for a caller that walks the segment (fast_heap_clear). */
void fast_segment_page_release(heap_t *heap, segment_t *segment, page_t *page)
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
    heap->dirty_bytes += page_bytes(segment);
    if (--segment->used_pages == 0) heap->empty_segments[segment->kind]++;
    heap->stats[STAT_pages_retired]++;
    hk_stat_sub(&fast_global_stats[STAT_page_bytes_in_use], page_bytes(segment));
}

/* ---- Purging ------------------------------------------------------------------------------- */

static void segment_purge(heap_t *heap, segment_t *segment, bool force)
{
    segment_purge_due(segment, heap->now_ms, force, heap);
}

/* Purges the heap's free pages whose delay has passed (all of them when force), and unmaps
 * empty segments beyond the one per kind a heap keeps (all of them when force): unmapping gives
 * their memory back at once, so they need not wait for the delay. */
void fast_segment_purge(heap_t *heap, bool force)
{
    for (unsigned kind = 0; kind < 2; kind++) {
        segment_t *next;
        for (segment_t *segment = heap->seg_avail[kind]; segment; segment = next) {
            next = segment->next;
            if (segment->dirty_mask) segment_purge(heap, segment, force);
            if (segment->used_pages == 0 && (force || heap->empty_segments[kind] > 1))
                segment_unmap(heap, segment);
        }
    }
}

/* Purges every free page of the heap now, whatever its delay; segments stay. */
void fast_segment_purge_pages(heap_t *heap)
{
    for (unsigned kind = 0; kind < 2; kind++)
        for (segment_t *segment = heap->seg_avail[kind]; segment; segment = segment->next)
            if (segment->dirty_mask) segment_purge(heap, segment, true);
}

/* Unmaps the heap's empty segments of a kind beyond the one it keeps, at once. A thread that
 * only frees (a consumer, or the thread joining short-lived workers and freeing what they left)
 * never reaches the malloc slow path's purge tick, and would otherwise hoard every segment it
 * adopted and emptied. Not called while a segment's pages are being walked. */
void fast_segment_release_extra(heap_t *heap, unsigned kind)
{
    segment_t *next;
    for (segment_t *segment = heap->seg_avail[kind]; segment && heap->empty_segments[kind] > 1;
         segment = next) {
        next = segment->next;
        if (segment->used_pages == 0) segment_unmap(heap, segment);
    }
}

/* ---- Abandonment and adoption -------------------------------------------------------------- */

/* At thread exit, after the heap has collected its pages: empty segments are unmapped (or
 * cached), the others are handed to the abandoned lists. Their free pages stay committed: the
 * next thread that needs a page adopts such a segment before anything else, inherits them as
 * dirty pages and purges them after the delay (trim adopts and purges at once). */
void fast_segment_abandon_all(heap_t *heap)
{
    for (unsigned kind = 0; kind < 2; kind++) {
        segment_t **lists[2] = {&heap->seg_avail[kind], &heap->seg_full[kind]};
        for (unsigned l = 0; l < 2; l++) {
            while (*lists[l]) {
                segment_t *segment = *lists[l];
                if (segment->used_pages == 0) {
                    segment_unmap(heap, segment);
                    continue;
                }
                fast_segment_list_remove(lists[l], segment);
                fast_registry_mark(segment, REGISTRY_LOOSE);
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
    fast_registry_mark(segment, fast_registry_value_for(heap, segment->kind));
    fast_segment_list_push(list_for(heap, segment), segment);
    heap->dirty_pages += (uint32_t)__builtin_popcountll(segment->dirty_mask);
    heap->dirty_bytes += (size_t)__builtin_popcountll(segment->dirty_mask) << segment->page_shift;
    if (segment->used_pages == 0) heap->empty_segments[segment->kind]++;
    hk_stat_add(&fast_global_stats[STAT_segments_adopted], 1);
    uint64_t all = segment->page_count == 64 ? ~(uint64_t)0 : ((uint64_t)1 << segment->page_count) - 1;
    for (uint64_t in_use = all & ~segment->free_mask; in_use; in_use &= in_use - 1)
        fast_heap_adopt_page(heap, &segment->pages[__builtin_ctzll(in_use)]);
    /* Blocks this heap freed into the segment while another thread owned it wait in its remote
     * batches, counted as used: freed now (locally), or the pages they are in could not empty,
     * which in a thread that only frees (one joining short-lived workers) pins the segment until
     * the batch's slot happens to be needed. */
    fast_heap_flush_remote(heap);
    fast_segment_release_extra(heap, segment->kind);
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
    hk_lock_register(&segments_lock);
    hk_lock_register(&abandoned_lock);
}
