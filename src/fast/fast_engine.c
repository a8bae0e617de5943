/* The engine contract (core/engine.h) over the fast engine, plus what the hk_* API and the
 * tests reach: statistics as text and JSON, mallinfo, trim and collection, and the invariant
 * checker fast_check(). */
#include <malloc.h>
#include <string.h>

#include "core/fatal.h"
#include "core/fmt.h"
#include "core/misuse.h"
#include "core/checked.h"
#include "core/stats.h"
#include "fast/fast.h"
#include "fast/fast_internal.h"
#include "core/engine.h"
#include "os/sys.h"

const char hk_engine_name[] = "heapkit";

/* ---- Allocation ---------------------------------------------------------------------------- */

inline __attribute__((always_inline)) void *hk_engine_malloc(size_t size)
{
    return fast_malloc(size);
}

void *hk_engine_calloc(size_t size)
{
    heap_t *heap = fast_tls.heap;
    if (hk_likely(size <= DIRECT_MAX)) {
        page_t *page = heap->direct[size];
        /* Only the bytes asked for need clearing: the rest of the block is never read. */
        if (hk_likely(page->free != NULL)) return page_pop(page, size ? size : 1);
    }
    return fast_malloc_generic(size, heap, true);
}

/* Forced inline so that, under LTO, free() is the fast path itself rather than a jump to it. */
inline __attribute__((always_inline)) void hk_engine_free(void *p, const char *who)
{
    fast_free(p, who);
}

/* The usable bytes of a block we handed out, and its segment; fatal for a pointer that is not
 * one. */
static size_t block_usable(const void *p, const char *who, segment_t **out)
{
    segment_t *segment = fast_segment_resolve(p);
    if (hk_unlikely(!segment)) hk_fatal("invalid pointer %p in %s()", p, who);
    if (out) *out = segment;
    if (segment->kind == SEGMENT_HUGE) return fast_huge_usable(segment, p, who);
    page_t *page = page_of(segment, p);
    if (hk_unlikely(page->size_class == 0)) hk_misuse(HK_MISUSE_INVALID_POINTER, p, who);
    /* The block freed last into its page, or next to be handed out, is free: what a realloc
     * or a usable size of a block just freed meets (and the first word of a fresh block, read
     * as a pointer). Only the owner reads its page's lists. */
    if ((__atomic_load_n(&segment->owner, __ATOMIC_RELAXED) & ~OWNER_CHECK_TAG) ==
            (uintptr_t)fast_tls.heap &&
        (p == page->local_free || p == page->free))
        hk_misuse(HK_MISUSE_USE_AFTER_FREE, p, who);
    return page->block_size;
}

size_t hk_engine_usable_size(const void *p, const char *who)
{
    if (hk_unlikely(fast_options.harden)) return fast_hardened_usable(p, who);
    return block_usable(p, who, NULL);
}

bool hk_engine_size_matches(const void *p, size_t size, const char *who)
{
    if (hk_unlikely(fast_options.harden)) return fast_hardened_size_matches(p, size, who);
    return size <= block_usable(p, who, NULL);
}

/* A block that realloc grows to REALLOC_SPAN_MIN_BYTES moves into a huge span (with room to
 * double) rather than to the next size class: from then on it grows in place into the space after it, so a
 * growing buffer is copied a few times, not at every class boundary, and does not leave a
 * trail of freed blocks in the medium classes it passed through (which other buffers rarely
 * reuse: in realloc_grow they held half of the peak). */

void *hk_engine_realloc(void *p, size_t size, const char *who)
{
    if (hk_unlikely(fast_options.harden)) return fast_hardened_realloc(NULL, p, size, who);
    segment_t *segment;
    size_t usable = block_usable(p, who, &segment);
    /* In place when it fits and does not waste more than half the block. A huge block grows
     * and shrinks in place when the space after it allows (a small one moves back to a size
     * class). */
    if ((size <= usable && (size >= usable / 2 || usable <= 64)) ||
        (segment->kind == SEGMENT_HUGE && size >= REALLOC_SPAN_MIN_BYTES / 2 &&
         fast_huge_resize(segment, p, size, who))) {
        if (hk_unlikely(fast_options.profile)) fast_prof_resized(p, size);
        return p;
    }
    bool grows = size > usable;
    void *q;
    if (size > MEDIUM_BLOCK_MAX || (grows && size >= REALLOC_SPAN_MIN_BYTES)) {
        /* Room to double: address space only, until the block grows into it. */
        size_t reserve = grows && size <= PTRDIFF_MAX / 2 ? 2 * size : 0;
        q = fast_huge_malloc_reserve(size, 0, false, reserve);
        if (hk_unlikely(fast_options.profile) && q) fast_prof_allocated(q, size);
    } else {
        /* A block that grows is likely to grow again: leave room for the next growths, half
         * its size (skipping three or four classes: fewer copies, fewer partly used pages). */
        size_t request = size;
        if (grows && usable >= 256) {
            size_t roomy = usable + usable / 2;
            if (roomy > size) request = roomy;
        }
        q = hk_engine_malloc(request);
    }
    if (!q) return NULL;
    memcpy(q, p, size < usable ? size : usable);
    hk_engine_free(p, who);
    return q;
}

/* ---- A program's own heaps (hk_heap_*) ------------------------------------------------------ */

/* A block from a program's own heap: its pages (the same fast path as malloc's, on the heap's
 * own direct table) or, over 128 KiB, a huge span on the heap's list. */
void *fast_heap_malloc(heap_t *heap, size_t size, bool zero)
{
    if (hk_unlikely(fast_options.harden)) return fast_hardened_malloc(heap, size, 0, zero);
    if (hk_likely(size <= DIRECT_MAX)) {
        page_t *page = heap->direct[size];
        if (hk_likely(page->free != NULL)) return page_pop(page, zero ? (size ? size : 1) : 0);
    }
    if (size > MEDIUM_BLOCK_MAX) {
        void *p = fast_huge_malloc_owned(size, 0, zero, 0, heap);
        if (hk_unlikely(fast_options.profile) && p) fast_prof_allocated(p, size);
        return p;
    }
    return fast_malloc_generic(size, heap, zero);
}

/* realloc within a program's own heap: in place when the block is the heap's and fits (or is a
 * huge block of it that can grow in place), else a new block of the heap. */
void *fast_heap_realloc(heap_t *heap, void *p, size_t size)
{
    if (hk_unlikely(fast_options.harden)) return fast_hardened_realloc(heap, p, size, "hk_heap_realloc");
    segment_t *segment;
    size_t usable = block_usable(p, "hk_heap_realloc", &segment);
    bool huge = segment->kind == SEGMENT_HUGE;
    bool ours = huge || (__atomic_load_n(&segment->owner, __ATOMIC_ACQUIRE) & ~OWNER_CHECK_TAG) ==
                            (uintptr_t)heap;
    if (ours && size <= usable && (size >= usable / 2 || usable <= 64)) return p;
    if (huge && size > MEDIUM_BLOCK_MAX && fast_huge_owned_by(segment, p, heap) &&
        fast_huge_resize(segment, p, size, "hk_heap_realloc"))
        return p;
    void *q = fast_heap_malloc(heap, size, false);
    if (!q) return NULL;
    memcpy(q, p, size < usable ? size : usable);
    hk_engine_free(p, "hk_heap_realloc");
    return q;
}

static void *aligned_block(size_t alignment, size_t size);

void *hk_engine_aligned(size_t alignment, size_t size)
{
    fast_options_init(); /* (a first allocation may come here) */
    if (hk_unlikely(fast_options.harden))
        return fast_hardened_malloc(fast_tls.heap, size, alignment, false);
    void *p = aligned_block(alignment, size);
    if (hk_unlikely(fast_options.profile) && p) fast_prof_allocated(p, size);
    return p;
}

static void *aligned_block(size_t alignment, size_t size)
{
    if (size > PTRDIFF_MAX) return NULL;
    if (alignment <= MEDIUM_BLOCK_MAX && size <= MEDIUM_BLOCK_MAX) {
        /* A class whose size is a multiple of the alignment has only aligned blocks. */
        unsigned c = size_class_of(size < alignment ? alignment : size);
        while (c < CLASS_COUNT && class_block_size(c) % alignment != 0)
            c++;
        if (c < CLASS_COUNT) {
            heap_t *heap = fast_heap_get();
            if (!heap) return NULL;
            return fast_malloc_class(heap, c, false);
        }
    }
    return fast_huge_malloc(size, alignment, false);
}

/* ---- Trim and collection ------------------------------------------------------------------- */

/* Collects the calling thread's heap (and adopts abandoned segments when force, so the
 * memory of exited threads can go too); true when memory went back to the OS. */
bool fast_collect(bool force)
{
    heap_t *heap = fast_heap_get();
    if (!heap) return false;
    if (heap->quarantine.count) fast_quarantine_flush(heap, "malloc_trim");
    sys_counters_t before, after;
    sys_counters(&before);
    if (force) {
        while (fast_segment_adopt(heap, SEGMENT_SMALL)) {
        }
        while (fast_segment_adopt(heap, SEGMENT_MEDIUM)) {
        }
    }
    fast_heap_collect(heap, force);
    if (force) {
        fast_heap_drain_pooled();
        fast_huge_trim();
        fast_segment_cache_flush();
    }
    sys_counters(&after);
    return after.madvise != before.madvise || after.munmap != before.munmap;
}

bool hk_engine_trim(size_t pad)
{
    (void)pad;
    heap_t *heap = fast_tls.heap;
    if (heap != &fast_empty_heap) fast_heap_validate(heap, "malloc_trim");
    hk_stat_add(&fast_global_stats[STAT_trims], 1);
    return fast_collect(true);
}

/* ---- Statistics ---------------------------------------------------------------------------- */

static const hk_stat_desc_t heap_stat_desc[] = {FAST_HEAP_STATS(HK_STAT_DESC)};
static const hk_stat_desc_t global_stat_desc[] = {FAST_GLOBAL_STATS(HK_STAT_DESC)};

void fast_stats_snapshot(uint64_t heap_out[FAST_HEAP_STAT_COUNT],
                         uint64_t global_out[FAST_GLOBAL_STAT_COUNT])
{
    fast_stats_sum_heaps(heap_out);
    for (size_t i = 0; i < FAST_GLOBAL_STAT_COUNT; i++)
        global_out[i] = __atomic_load_n(&fast_global_stats[i], __ATOMIC_RELAXED);
}

#define APPEND(call) used += (call)
#define AT(buf, cap, used)                                                                         \
    ((used) < (cap) ? (buf) + (used) : NULL), ((used) < (cap) ? (cap) - (used) : 0)

size_t fast_stats_format(char *buf, size_t cap, bool json)
{
    uint64_t heap_values[FAST_HEAP_STAT_COUNT], global_values[FAST_GLOBAL_STAT_COUNT];
    fast_stats_snapshot(heap_values, global_values);
    size_t used = 0;
    if (json) {
        APPEND(hk_snprintf(AT(buf, cap, used), "{\"engine\": \"%s\", ", hk_engine_name));
        APPEND(hk_stats_json(AT(buf, cap, used), "heaps", heap_stat_desc, heap_values,
                             FAST_HEAP_STAT_COUNT));
        APPEND(hk_snprintf(AT(buf, cap, used), ", "));
        APPEND(hk_stats_json(AT(buf, cap, used), "fast", global_stat_desc, global_values,
                             FAST_GLOBAL_STAT_COUNT));
        APPEND(hk_snprintf(AT(buf, cap, used), ", "));
        APPEND(hk_stats_sys_json(AT(buf, cap, used)));
        APPEND(hk_snprintf(AT(buf, cap, used), "}\n"));
    } else {
        APPEND(hk_stats_text(AT(buf, cap, used), "heaps", heap_stat_desc, heap_values,
                             FAST_HEAP_STAT_COUNT));
        APPEND(hk_stats_text(AT(buf, cap, used), "engine", global_stat_desc, global_values,
                             FAST_GLOBAL_STAT_COUNT));
        APPEND(hk_stats_sys_text(AT(buf, cap, used)));
    }
    return used;
}

void hk_engine_stats_print(int fd, bool json)
{
    char buf[8192];
    size_t len = fast_stats_format(buf, sizeof buf, json);
    if (len >= sizeof buf) len = sizeof buf - 1;
    hk_write_all(fd, buf, len);
}

void hk_engine_mallinfo(struct mallinfo2 *out)
{
    uint64_t heap_values[FAST_HEAP_STAT_COUNT], g[FAST_GLOBAL_STAT_COUNT];
    fast_stats_snapshot(heap_values, g);
    sys_counters_t sys;
    sys_counters(&sys);
    out->arena = g[STAT_segment_bytes];
    out->ordblks = 0;
    out->hblks = g[STAT_huge_blocks_in_use];
    out->hblkhd = g[STAT_huge_bytes_in_use];
    out->usmblks = sys.mapped_peak_bytes;
    out->uordblks = g[STAT_page_bytes_in_use] + g[STAT_huge_bytes_in_use];
    /* free: unused pages of segments, and cached huge mappings (mostly decommitted) */
    out->fordblks = g[STAT_segment_bytes] - g[STAT_page_bytes_in_use] + g[STAT_huge_cache_bytes];
    out->keepcost = 0;
}

/* ---- Invariant checker --------------------------------------------------------------------- */

static bool check_fail(const char *what, const void *where)
{
    hk_warn("fast_check: %s (%p)", what, where);
    return false;
}

/* Counts a free list, checking every block lies on a block boundary inside the page; false on
 * a stray block or a cycle (more blocks than the page has). */
static bool check_list(const segment_t *segment, const page_t *page, const block_t *list,
                       uint32_t *count)
{
    const uint8_t *area = page_area(segment, page);
    for (*count = 0; list; list = list->next) {
        const uint8_t *p = (const uint8_t *)list;
        if (++*count > page->capacity) return check_fail("free list longer than the page", page);
        if (p < area || (size_t)(p - area) % page->block_size != 0 ||
            (size_t)(p - area) / page->block_size >= page->capacity)
            return check_fail("free block outside the page", p);
    }
    return true;
}

static bool check_page(const heap_t *heap, const page_t *page, unsigned size_class, bool full)
{
    const segment_t *segment = segment_of(page);
    if (segment->cookie != (SEGMENT_COOKIE ^ (uintptr_t)segment))
        return check_fail("bad segment", segment);
    if (segment->owner != heap->tag) return check_fail("page of a segment not owned", page);
    if (page->size_class != size_class) return check_fail("page in the wrong queue", page);
    if (page->block_size != class_block_size(size_class)) return check_fail("bad block size", page);
    if (page->in_full != full) return check_fail("in_full flag disagrees with queue", page);
    if (page->capacity > page->reserved) return check_fail("capacity over reserved", page);
    uint32_t n_free, n_local, n_thread;
    if (!check_list(segment, page, page->free, &n_free)) return false;
    if (!check_list(segment, page, page->local_free, &n_local)) return false;
    uintptr_t remote = __atomic_load_n(&page->thread_free, __ATOMIC_ACQUIRE);
    if (!check_list(segment, page, thread_free_blocks(remote), &n_thread))
        return false;
    /* thread_free blocks still count as used until collected; a full page has none free */
    if (full &&
        (page->used != FULL_PAGE_USED || n_free + n_local != 0 || page->capacity != page->reserved))
        return check_fail("full page with free blocks", page);
    if (!full && page->used + n_free + n_local != page->capacity)
        return check_fail("used + free blocks differ from capacity", page);
    if ((uintptr_t)page_area(segment, page) % 16) return check_fail("unaligned page area", page);
    return true;
}

bool fast_check(void)
{
    heap_t *heap = fast_tls.heap;
    if (heap == &fast_empty_heap) return fast_huge_check();
    if (fast_tls.free_key != heap->free_key) return check_fail("thread free key", heap);
    for (unsigned c = 1; c < CLASS_COUNT; c++) {
        page_t *head = heap->avail[c].head;
        if (class_block_size(c) <= DIRECT_MAX) {
            page_t *want = head && !fast_options.slow_only ? head : &fast_empty_page;
            size_t first = c == 1 ? 0 : class_block_size(c - 1) + 1;
            for (size_t size = first; size <= class_block_size(c); size++)
                if (heap->direct[size] != want)
                    return check_fail("direct entry is not the queue head", want);
        }
        for (const page_t *page = head; page; page = page->next)
            if (!check_page(heap, page, c, false)) return false;
        for (const page_t *page = heap->full[c].head; page; page = page->next)
            if (!check_page(heap, page, c, true)) return false;
    }
    uint32_t dirty = 0;
    for (unsigned kind = 0; kind < 2; kind++) {
        const segment_t *lists[2] = {heap->seg_avail[kind], heap->seg_full[kind]};
        for (unsigned l = 0; l < 2; l++) {
            for (const segment_t *s = lists[l]; s; s = s->next) {
                if (s->owner != heap->tag) return check_fail("listed segment not owned", s);
                if ((l == 0) != (s->free_mask != 0))
                    return check_fail("segment on the wrong list", s);
                uint64_t all =
                    s->page_count == 64 ? ~(uint64_t)0 : ((uint64_t)1 << s->page_count) - 1;
                if ((uint32_t)__builtin_popcountll(all & ~s->free_mask) != s->used_pages)
                    return check_fail("segment used_pages disagrees with its free mask", s);
                if (s->dirty_mask & ~s->free_mask) return check_fail("dirty page in use", s);
                for (unsigned i = 0; i < s->page_count; i++)
                    if (((s->free_mask >> i) & 1) != (s->pages[i].size_class == 0))
                        return check_fail("page class disagrees with the free mask", &s->pages[i]);
                dirty += (uint32_t)__builtin_popcountll(s->dirty_mask);
            }
        }
    }
    if (dirty != heap->dirty_pages) return check_fail("dirty page count", heap);
    return fast_huge_check();
}
