/* Huge blocks: over 128 KiB, or aligned beyond what the size classes give.
 *
 * They are carved from regions: large mappings (64 MiB, or bigger for a bigger block) that start
 * on a 4 MiB boundary with a segment header of kind HUGE, so the registry finds a region from any
 * pointer into it. A region is cut into spans at page granularity, each with a 64-byte header
 * just before its block and boundary tags (its size, its neighbour below), like a small
 * dlmalloc over whole pages: best fit from a list of free spans, split on allocation, merged
 * with free neighbours on free, grown and shrunk in place by taking or giving back the space
 * after it. Untouched address space costs nothing, so a fresh region's remainder is simply the
 * next blocks' room (and a growing block's).
 *
 * Freed spans keep their memory committed, so a program that frees and allocates big buffers in
 * turn reuses resident pages instead of faulting new ones in. Each span knows how much of it may
 * be committed (a prefix: past it the span reads as zero, which also spares calloc a memset).
 * Committed free memory is bounded by a budget tied to the live heap (as much as is live, at
 * least HUGE_COMMITTED_MIN_BYTES) and decays: a span idle longer than HEAPKIT_HUGE_DECAY_MS is
 * decommitted (it stays mapped, reading as zero), and a region entirely free for several decay
 * times is unmapped. Any thread may allocate or free; one lock covers all of it. */
#include <string.h>

#include "core/canary.h"
#include "core/checked.h"
#include "core/fatal.h"
#include "core/stats.h"
#include "fast/fast_internal.h"
#include "os/sys.h"

/* A fresh region is at least this big: address space only (pages are touched when used), and
 * the fewer region boundaries, the more freed spans can merge into big ones. */
#define HUGE_REGION_BYTES ((size_t)256 << 20)
/* Committed free memory allowed: as much as the live heap, or as much as it has shrunk from its
 * peak if that is more, and at least this much. (Measured on big-buffer churn: a quarter or a
 * half of the live heap faults two to five times as many pages in again for no lower peak.) */
#define HUGE_COMMITTED_MIN_BYTES  ((size_t)16 << 20)
#define HUGE_COMMITTED_LIVE_SHIFT 0
/* A region entirely free this many decay times is unmapped; so are entirely free regions
 * beyond this much address space. */
#define HUGE_UNMAP_DECAYS     4
#define HUGE_FREE_REGION_MAX_BYTES ((size_t)1 << 30)
/* A shrinking block gives back the room after it from this size up. */
#define HUGE_SHRINK_MIN_BYTES ((size_t)256 << 10)
/* Span headers and blocks: a span's block starts HUGE_SPAN_BYTES after it. */
#define HUGE_SPAN_BYTES 64
/* Spans start and end on multiples of this (except around over-aligned blocks): blocks then
 * start at the same offset within a 64 KiB grain wherever they land, so a program that touches
 * a reused block with some stride touches the pages its predecessor did, and fewer distinct
 * sizes fragment less. At most 64 KiB of address space per block goes unused. */
#define HUGE_GRAIN_BYTES ((size_t)64 << 10)
/* The first span starts one grain into its region (the region's segment header is before). */
#define HUGE_REGION_HEADER_BYTES HUGE_GRAIN_BYTES
#define HUGE_SPAN_COOKIE ((uintptr_t)0x6875676573706e21ull) /* xor'ed with the address */

/* A span: a run of a region's bytes, in use (a block after the header) or free. */
typedef struct huge_span {
    uintptr_t cookie;           /* HUGE_SPAN_COOKIE ^ address; 0 once merged into another */
    size_t size;                /* bytes from this header to the next span or the region end */
    struct huge_span *below;    /* the span just before it in the region, or NULL */
    size_t committed;           /* bytes from the header that may be committed; past them the
                                   span reads as zero */
    size_t usable;              /* in use: bytes usable from the block; 0 when free */
    union {
        struct {
            struct huge_span *next; /* free: the free list */
            struct huge_span *prev;
        };
        huge_link_t owned; /* in use by a program's own heap: its list (else both NULL) */
    };
    uint32_t freed_ms;          /* free: when it became free; in use: SPAN_SAMPLED and
                                   SPAN_GUARDED */
    uint32_t resident;          /* free: pages thought resident (at most the committed prefix's),
                                   RESIDENT_MEASURED once counted with mincore */
} huge_span_t;
_Static_assert(sizeof(huge_span_t) == HUGE_SPAN_BYTES, "a span header is one cache line");

/* The marks of a span in use (in freed_ms): the heap profiler sampled its block; its block was
 * handed out hardened, with a guard page after it (the last page of its usable bytes). */
#define SPAN_SAMPLED 1u
#define SPAN_GUARDED 2u

static hk_lock_t huge_lock = HK_LOCK_INIT;
static huge_span_t *free_spans;         /* free spans, most recently freed first */
static size_t free_resident_bytes;      /* their resident pages, in bytes (an upper bound) */
static segment_t *regions;              /* every region */
static uint32_t huge_next_maintain_ms;  /* when something may next be due (read unlocked) */

void fast_huge_register_locks(void)
{
    hk_lock_register(&huge_lock);
}

static size_t os_page(void)
{
    return sys_page_size();
}

static size_t min_size(size_t a, size_t b)
{
    return a < b ? a : b;
}

/* Resident-page estimates. A block's pages are assumed touched up to its end (the committed
 * prefix); programs that use part of a big buffer make that an overestimate, so before memory
 * over budget is given back, mincore counts what is really resident (RESIDENT_MEASURED). */
#define RESIDENT_MEASURED ((uint32_t)1 << 31)

static size_t pages_in(size_t bytes)
{
    return (bytes + os_page() - 1) / os_page();
}

static size_t resident_bytes(const struct huge_span *span);

/* ---- Spans and their neighbours ------------------------------------------------------------- */

static uint8_t *region_end(const segment_t *region)
{
    return (uint8_t *)region + region->map_size;
}

static uint8_t *span_block(huge_span_t *span)
{
    return (uint8_t *)span + HUGE_SPAN_BYTES;
}

static huge_span_t *span_above(const segment_t *region, huge_span_t *span)
{
    uint8_t *next = (uint8_t *)span + span->size;
    return next < region_end(region) ? (huge_span_t *)next : NULL;
}

static huge_span_t *span_init(void *at, size_t size, huge_span_t *below, size_t committed)
{
    huge_span_t *span = at;
    HK_VG_UNDEFINED(span, sizeof *span); /* may lie in a freed block */
    memset(span, 0, sizeof *span);
    span->cookie = HUGE_SPAN_COOKIE ^ (uintptr_t)span;
    span->size = size;
    span->below = below;
    span->committed = committed > HUGE_SPAN_BYTES ? committed : HUGE_SPAN_BYTES;
    return span;
}

/* The span in use whose block is p, or NULL when p is not the start of a huge block in use
 * in this region (an interior or foreign pointer, or a block already freed). Reads only the
 * region's own memory. */
static huge_span_t *span_of_block(const segment_t *region, const void *p, bool *was_free)
{
    *was_free = false;
    uintptr_t first = (uintptr_t)region + HUGE_REGION_HEADER_BYTES + HUGE_SPAN_BYTES;
    if ((uintptr_t)p % HUGE_SPAN_BYTES || (uintptr_t)p < first ||
        (uintptr_t)p >= (uintptr_t)region_end(region))
        return NULL;
    huge_span_t *span = (huge_span_t *)((uint8_t *)p - HUGE_SPAN_BYTES);
    if (span->cookie != (HUGE_SPAN_COOKIE ^ (uintptr_t)span)) return NULL;
    if (span->usable == 0) {
        *was_free = true;
        return NULL;
    }
    return span;
}

/* ---- The free list (huge_lock held) --------------------------------------------------------- */

static void free_list_add(huge_span_t *span, uint32_t now)
{
    span->usable = 0;
    span->freed_ms = now;
    span->prev = NULL;
    span->next = free_spans;
    if (free_spans) free_spans->prev = span;
    __atomic_store_n(&free_spans, span, __ATOMIC_RELAXED); /* peeked at unlocked */
    HK_RELAXED_ADD(&free_resident_bytes, resident_bytes(span)); /* (read unlocked) */
    hk_stat_add(&fast_global_stats[STAT_huge_cache_bytes], span->size);
}

static void free_list_remove(huge_span_t *span)
{
    if (span->prev)
        span->prev->next = span->next;
    else
        __atomic_store_n(&free_spans, span->next, __ATOMIC_RELAXED);
    if (span->next) span->next->prev = span->prev;
    span->next = span->prev = NULL;
    HK_RELAXED_ADD(&free_resident_bytes, -resident_bytes(span));
    hk_stat_sub(&fast_global_stats[STAT_huge_cache_bytes], span->size);
}

size_t fast_huge_free_committed_bytes(void)
{
    return __atomic_load_n(&free_resident_bytes, __ATOMIC_RELAXED);
}

static size_t resident_bytes(const huge_span_t *span)
{
    return (size_t)(span->resident & ~RESIDENT_MEASURED) * os_page();
}

static void set_resident(huge_span_t *span, size_t pages, bool measured)
{
    if (pages > ~RESIDENT_MEASURED) pages = ~RESIDENT_MEASURED;
    span->resident = (uint32_t)pages | (measured ? RESIDENT_MEASURED : 0);
}

/* The most pages the span's committed prefix can have resident: those it overlaps (a span
 * after an over-aligned block starts just before a page boundary). */
static size_t committed_pages(const huge_span_t *span)
{
    uintptr_t lo = (uintptr_t)span & ~(uintptr_t)(os_page() - 1);
    uintptr_t hi = hk_align_up_small((uintptr_t)span + min_size(span->committed, span->size),
                                     os_page());
    return (size_t)(hi - lo) / os_page();
}

static bool span_is_free(const huge_span_t *span)
{
    return span && span->usable == 0;
}

/* ---- Committed memory ------------------------------------------------------------------------ */

/* Returns the span's pages from byte `from` on to the OS; the span reads as zero from there on
 * (partial pages at either end are cleared by hand). Free-list totals are the caller's. */
static void span_decommit_from(huge_span_t *span, size_t from)
{
    if (from < HUGE_SPAN_BYTES) from = HUGE_SPAN_BYTES;
    size_t end = min_size(span->committed, span->size);
    if (end <= from) return;
    uint8_t *base = (uint8_t *)span;
    uintptr_t lo = hk_align_up_small((uintptr_t)base + from, os_page());
    uintptr_t hi = ((uintptr_t)base + end) & ~(uintptr_t)(os_page() - 1);
    HK_VG_UNDEFINED(base + from, end - from); /* freed blocks, for memcheck */
    if (hi > lo) {
        memset(base + from, 0, lo - ((uintptr_t)base + from));
        if (hk_unlikely(fast_options.harden) && (uintptr_t)base + end > hi)
            sys_protect((void *)hi, os_page(), SYS_PROT_RW); /* see span_split */
        memset((void *)hi, 0, (uintptr_t)base + end - hi);
        sys_decommit((void *)lo, hi - lo);
    } else {
        memset(base + from, 0, end - from);
    }
    span->committed = from;
    size_t left = committed_pages(span);
    if ((span->resident & ~RESIDENT_MEASURED) > left)
        set_resident(span, left, span->resident & RESIDENT_MEASURED);
    hk_stat_add(&fast_global_stats[STAT_huge_decommits], 1);
}

static void free_span_decommit_from(huge_span_t *span, size_t from)
{
    size_t before = resident_bytes(span);
    span_decommit_from(span, from);
    HK_RELAXED_ADD(&free_resident_bytes, resident_bytes(span) - before);
}

/* Counts the span's resident pages with mincore (free span on the list). */
static void free_span_measure(huge_span_t *span)
{
    size_t end = min_size(span->committed, span->size);
    uintptr_t lo = hk_align_up_small((uintptr_t)span + HUGE_SPAN_BYTES, os_page());
    uintptr_t hi = ((uintptr_t)span + end) & ~(uintptr_t)(os_page() - 1);
    size_t pages = 0;
    if (hi > lo && sys_resident((void *)lo, hi - lo, &pages) != 0) pages = pages_in(end);
    size_t before = resident_bytes(span);
    set_resident(span, pages + 1, true); /* and the header's page */
    HK_RELAXED_ADD(&free_resident_bytes, resident_bytes(span) - before);
}

/* ---- Split and merge (huge_lock held) -------------------------------------------------------- */

/* Cuts span after its first keep bytes; the rest becomes a free span. */
static void span_split(segment_t *region, huge_span_t *span, size_t keep, uint32_t now)
{
    size_t committed = span->committed > keep ? span->committed - keep : 0;
    /* Hardened: freed blocks' pages are inaccessible, and the header may land in one. */
    if (hk_unlikely(fast_options.harden))
        sys_protect((void *)(((uintptr_t)span + keep) & ~(uintptr_t)(os_page() - 1)), os_page(),
                    SYS_PROT_RW);
    huge_span_t *rest = span_init((uint8_t *)span + keep, span->size - keep, span, committed);
    size_t resident = span->resident & ~RESIDENT_MEASURED;
    size_t rest_resident = min_size(resident, committed_pages(rest));
    set_resident(rest, rest_resident, false);
    span->size = keep;
    span->committed = min_size(span->committed, keep);
    set_resident(span, min_size(resident - rest_resident, committed_pages(span)), false);
    huge_span_t *above = span_above(region, rest);
    if (above) above->below = rest;
    free_list_add(rest, now);
    hk_stat_add(&fast_global_stats[STAT_huge_splits], 1);
}

/* Joins above (a free span right after span, already off the list) into span. */
static void span_absorb(segment_t *region, huge_span_t *span, huge_span_t *above)
{
    size_t size = above->size;
    size_t resident = (span->resident & ~RESIDENT_MEASURED) + (above->resident & ~RESIDENT_MEASURED);
    /* Above's header stays in memory: the committed prefix reaches past it (an upper bound, as
     * it is past any of span's own decommitted pages). */
    span->committed = span->size + (above->committed > HUGE_SPAN_BYTES ? above->committed
                                                                        : HUGE_SPAN_BYTES);
    above->cookie = 0;
    span->size += size;
    /* Both estimates may count the page where they meet. */
    set_resident(span, min_size(resident, committed_pages(span)), false);
    huge_span_t *next = span_above(region, span);
    if (next) next->below = span;
    hk_stat_add(&fast_global_stats[STAT_huge_merges], 1);
}

/* ---- Regions --------------------------------------------------------------------------------- */

static huge_span_t *region_first_span(segment_t *region)
{
    return (huge_span_t *)((uint8_t *)region + HUGE_REGION_HEADER_BYTES);
}

/* Maps a region for a span of at least span_bytes at the alignment; its whole room is one free
 * span, off the list (the caller takes it). */
static huge_span_t *region_map(size_t span_bytes, size_t map_align, segment_t **out)
{
    size_t exact;
    if (!hk_add(span_bytes, HUGE_REGION_HEADER_BYTES, &exact) ||
        !hk_align_up(exact, HUGE_GRAIN_BYTES, &exact))
        return NULL;
    /* A roomy region (whole chunks, at least HUGE_REGION_BYTES); the exact size when address
     * space is tight (RLIMIT_AS). */
    size_t size = exact < HUGE_REGION_BYTES ? HUGE_REGION_BYTES : hk_align_up_small(exact, SEGMENT_SIZE);
    if (size < exact) size = exact;
    void *memory;
    if (sys_map_aligned(size, map_align, &memory) != 0) {
        size = exact;
        if (sys_map_aligned(size, map_align, &memory) != 0) return NULL;
    }
    segment_t *region = memory; /* zero-filled */
    region->page_shift = 63;
    region->kind = SEGMENT_HUGE;
    region->map_size = size;
    region->cookie = SEGMENT_COOKIE ^ (uintptr_t)region;
    fast_segment_list_push(&regions, region);
    fast_registry_set(region, size, true);
    hk_stat_add(&fast_global_stats[STAT_huge_regions_mapped], 1);
    *out = region;
    return span_init(region_first_span(region), size - HUGE_REGION_HEADER_BYTES, NULL, 0);
}

static bool region_is_empty(segment_t *region)
{
    huge_span_t *first = region_first_span(region);
    return span_is_free(first) && first->size == region->map_size - HUGE_REGION_HEADER_BYTES;
}

static void region_unmap(segment_t *region)
{
    free_list_remove(region_first_span(region));
    fast_segment_list_remove(&regions, region);
    region->cookie = 0;
    fast_registry_set(region, region->map_size, false);
    sys_unmap(region, region->map_size);
    hk_stat_add(&fast_global_stats[STAT_huge_regions_unmapped], 1);
}

/* ---- Budget and decay (huge_lock held) ------------------------------------------------------- */

static size_t peak_live; /* the most the live heap has been, as huge allocations saw it */

static size_t live_bytes(void)
{
    return __atomic_load_n(&fast_global_stats[STAT_page_bytes_in_use], __ATOMIC_RELAXED) +
           __atomic_load_n(&fast_global_stats[STAT_huge_bytes_in_use], __ATOMIC_RELAXED);
}

static void note_live_peak(void)
{
    size_t live = live_bytes();
    size_t peak = __atomic_load_n(&peak_live, __ATOMIC_RELAXED);
    while (live > peak &&
           !__atomic_compare_exchange_n(&peak_live, &peak, live, true, __ATOMIC_RELAXED,
                                        __ATOMIC_RELAXED)) {
    }
}

static size_t committed_budget(void)
{
    note_live_peak();
    size_t live = live_bytes();
    size_t budget = live >> HUGE_COMMITTED_LIVE_SHIFT;
    /* What the program once used and does not now: keeping that much committed does not take
     * resident memory past where the live heap already took it. */
    size_t peak = __atomic_load_n(&peak_live, __ATOMIC_RELAXED);
    if (peak - live > budget) budget = peak - live;
    budget += budget / 8; /* spans are counted whole, blocks by their usable bytes */
    return budget > HUGE_COMMITTED_MIN_BYTES ? budget : HUGE_COMMITTED_MIN_BYTES;
}

/* The committed free span to give back first when over budget: the highest one, as a heap gives
 * back its top (on partly touched big-block churn this faults fewer pages in again than giving
 * back the oldest). */
static huge_span_t *span_to_decommit(void)
{
    huge_span_t *top = NULL;
    for (huge_span_t *s = free_spans; s; s = s->next)
        if (resident_bytes(s) > os_page() && (!top || s > top)) top = s;
    return top;
}

/* Decommits free spans idle past the decay time (all when force), unmaps regions entirely free
 * for several decay times (all when force) or beyond the address-space limit, then takes
 * committed free memory down to the budget, highest span first. Returns regions unmapped. */
static unsigned huge_maintain(uint32_t now, bool force)
{
    uint32_t decay = fast_options.huge_decay_ms;
    uint32_t next_due = now + (decay ? decay : 1);
    for (huge_span_t *s = free_spans; s; s = s->next) {
        uint32_t idle = now - s->freed_ms;
        if (s->committed > HUGE_SPAN_BYTES) {
            if (force || idle >= decay)
                free_span_decommit_from(s, 0);
            else if ((int32_t)(s->freed_ms + decay - next_due) < 0)
                next_due = s->freed_ms + decay;
        }
    }
    unsigned unmapped = 0;
    size_t empty_bytes = 0;
    segment_t *next;
    for (segment_t *region = regions; region; region = next) {
        next = region->next;
        if (!region_is_empty(region)) continue;
        huge_span_t *span = region_first_span(region);
        uint32_t due = span->freed_ms + decay * HUGE_UNMAP_DECAYS;
        empty_bytes += region->map_size;
        if (force || (int32_t)(now - due) >= 0 || empty_bytes > HUGE_FREE_REGION_MAX_BYTES) {
            empty_bytes -= region->map_size;
            region_unmap(region);
            unmapped++;
        } else if ((int32_t)(due - next_due) < 0) {
            next_due = due;
        }
    }
    size_t budget = committed_budget();
    huge_span_t *s;
    if (free_resident_bytes > budget) {
        /* Estimates first: spans freed since their last count are taken as wholly touched. */
        for (s = free_spans; s; s = s->next)
            if (!(s->resident & RESIDENT_MEASURED) && resident_bytes(s) > os_page())
                free_span_measure(s);
        while (free_resident_bytes > budget && (s = span_to_decommit()) != NULL)
            free_span_decommit_from(s, 0);
    }
    __atomic_store_n(&huge_next_maintain_ms, next_due, __ATOMIC_RELAXED);
    return unmapped;
}

/* Called from the small-block slow path's clock tick, so idle huge memory decays even in a
 * program that no longer allocates huge blocks. Cheap when nothing is due. */
void fast_huge_tick(uint32_t now)
{
    if (!__atomic_load_n(&free_spans, __ATOMIC_RELAXED)) return;
    if ((int32_t)(now - __atomic_load_n(&huge_next_maintain_ms, __ATOMIC_RELAXED)) < 0) return;
    if (!hk_trylock(&huge_lock)) return;
    huge_maintain(now, false);
    hk_unlock(&huge_lock);
}

/* ---- Allocation ------------------------------------------------------------------------------ */

/* Where a block of size bytes at the alignment would start in a free span, or 0 if it does not
 * fit; *end receives the page-rounded end of its span (room included). */
static uintptr_t span_fit(huge_span_t *span, size_t size, size_t alignment, size_t room,
                          uintptr_t *end)
{
    uintptr_t start = (uintptr_t)span;
    uintptr_t block = hk_align_up_small(start + HUGE_SPAN_BYTES, alignment);
    uintptr_t limit = start + span->size;
    if (block > limit || limit - block < size) return 0;
    uintptr_t want = block + (size > room ? size : room);
    if (want < block || want > limit) want = block + size; /* room is a wish */
    *end = hk_align_up_small(want, HUGE_GRAIN_BYTES);
    if (*end > limit) *end = limit;
    return block;
}

/* Bytes of the span a block of size bytes covers, to the end of its last page (the span ends
 * on a page boundary, or at its region's end). */
static size_t span_need(huge_span_t *span, size_t size)
{
    uintptr_t end = hk_align_up_small((uintptr_t)span_block(span) + size, os_page());
    size_t need = (size_t)(end - (uintptr_t)span);
    return need < span->size ? need : span->size;
}

/* The free span that best fits: the one whose committed memory covers most of the block, then
 * the smallest. Taken off the list. */
static huge_span_t *free_list_take(size_t size, size_t alignment)
{
    huge_span_t *best = NULL;
    size_t best_warm = 0;
    for (huge_span_t *s = free_spans; s; s = s->next) {
        uintptr_t end;
        uintptr_t block = span_fit(s, size, alignment, 0, &end);
        if (!block) continue;
        size_t need = block + size - (uintptr_t)s;
        size_t warm = min_size(s->committed, need);
        if (!best || warm > best_warm || (warm == best_warm && s->size < best->size)) {
            best = s;
            best_warm = warm;
        }
    }
    if (best) free_list_remove(best);
    return best;
}

/* Carves the block out of a free span (off the list): a free span before it when the alignment
 * leaves room for one, the block's span, and the rest back on the free list. */
static huge_span_t *span_carve(segment_t *region, huge_span_t *span, size_t size,
                               size_t alignment, size_t room, uint32_t now)
{
    uintptr_t end;
    uintptr_t block = span_fit(span, size, alignment, room, &end);
    huge_span_t *used = (huge_span_t *)(block - HUGE_SPAN_BYTES);
    if (used != span) {
        size_t lead = (size_t)((uintptr_t)used - (uintptr_t)span);
        span_split(region, span, lead, now); /* span keeps the lead, free; used = the rest */
        free_list_remove(used);
        free_list_add(span, now);
        span = used;
    }
    size_t keep = (size_t)(end - (uintptr_t)span);
    if (span->size > keep) span_split(region, span, keep, now);
    return span;
}

void *fast_huge_malloc(size_t size, size_t alignment, bool zero)
{
    return fast_huge_malloc_owned(size, alignment, zero, 0, NULL);
}

/* Like fast_huge_malloc, with room for the block to grow to reserve bytes in place when the
 * free span it comes from has it (address space only until touched). */
void *fast_huge_malloc_reserve(size_t size, size_t alignment, bool zero, size_t reserve)
{
    return fast_huge_malloc_owned(size, alignment, zero, reserve, NULL);
}

/* The same, for a program's own heap when owner is not NULL: the block joins the heap's list,
 * so that resetting or destroying the heap frees it. */
static void *huge_malloc(size_t size, size_t alignment, bool zero, size_t reserve, heap_t *owner,
                         bool guarded);

void *fast_huge_malloc_owned(size_t size, size_t alignment, bool zero, size_t reserve,
                             heap_t *owner)
{
    return huge_malloc(size, alignment, zero, reserve, owner, false);
}

/* The bytes from a guarded block's start to its guard page. */
static size_t guarded_extent(huge_span_t *span)
{
    return span->usable - os_page();
}

void *fast_huge_malloc_guarded(size_t size, size_t alignment, heap_t *owner, size_t reserve,
                               size_t *extent)
{
    size_t with_guard;
    if (!hk_add(size, os_page(), &with_guard)) return NULL;
    uint8_t *block = huge_malloc(with_guard, alignment, false, reserve, owner, true);
    if (!block) return NULL;
    huge_span_t *span = (huge_span_t *)(block - HUGE_SPAN_BYTES);
    *extent = guarded_extent(span);
    return block;
}

static void *huge_malloc(size_t size, size_t alignment, bool zero, size_t reserve, heap_t *owner,
                         bool guarded)
{
    if (size > PTRDIFF_MAX) return NULL;
    if (alignment < 16) alignment = 16;
    if (size < 16) size = 16;
    uint32_t now = fast_now_ms();
    hk_lock(&huge_lock);
    huge_span_t *span = free_list_take(size, alignment);
    segment_t *region = NULL;
    bool fresh = span == NULL;
    if (fresh) {
        size_t span_bytes;
        size_t map_align = alignment > SEGMENT_SIZE ? alignment : SEGMENT_SIZE;
        if (!hk_add(size, HUGE_SPAN_BYTES + alignment + HUGE_GRAIN_BYTES, &span_bytes) ||
            !(span = region_map(span_bytes, map_align, &region))) {
            hk_unlock(&huge_lock);
            return NULL;
        }
    } else {
        region = fast_segment_resolve(span);
    }
    span = span_carve(region, span, size, alignment, reserve, now);
    uint8_t *block = span_block(span);
    size_t need = span_need(span, size);
    span->usable = need - HUGE_SPAN_BYTES;
    span->freed_ms = guarded ? SPAN_GUARDED : 0; /* in use: not sampled */
    if (guarded) {
        /* The block's pages may be inaccessible from a hardened free: open them (the header's
         * page always is), and close the last one. */
        uintptr_t open = hk_align_up_small((uintptr_t)span + HUGE_SPAN_BYTES, os_page());
        uintptr_t guard = (uintptr_t)block + guarded_extent(span);
        if (guard > open) sys_protect((void *)open, guard - open, SYS_PROT_RW);
        sys_protect((void *)guard, os_page(), SYS_PROT_NONE); /* (no guard if this failed) */
    }
    size_t warm = span->committed;
    if (span->committed < need) span->committed = need;
    if (owner) {
        span->owned.next = owner->huge_owned.next;
        span->owned.prev = &owner->huge_owned;
        owner->huge_owned.next->prev = &span->owned;
        owner->huge_owned.next = &span->owned;
    }
    huge_maintain(now, false);
    hk_unlock(&huge_lock);

    if (!fresh) hk_stat_add(&fast_global_stats[STAT_huge_cache_hits], 1);
    HK_VG_MALLOCLIKE(block, span->usable, zero);
    if (zero && warm > HUGE_SPAN_BYTES) memset(block, 0, min_size(warm, need) - HUGE_SPAN_BYTES);
    hk_stat_add(&fast_global_stats[STAT_huge_allocs], 1);
    hk_stat_add(&fast_global_stats[STAT_huge_blocks_in_use], 1);
    hk_stat_add(&fast_global_stats[STAT_huge_bytes_in_use], span->usable);
    note_live_peak();
    fast_series_note(fast_tls.heap);
    return block;
}

static HK_NORETURN HK_COLD void bad_huge_pointer(bool was_free, const void *p, const char *who)
{
    if (was_free) hk_fatal("double free of %p in %s()", p, who);
    hk_fatal("invalid pointer %p in %s()", p, who);
}

/* The block's span, or a fatal error naming the misuse. */
static huge_span_t *span_checked(const segment_t *region, const void *p, const char *who)
{
    bool was_free;
    huge_span_t *span = span_of_block(region, p, &was_free);
    if (hk_unlikely(!span)) bad_huge_pointer(was_free, p, who);
    return span;
}

/* Whether the huge block p (in use) belongs to the program's own heap owner. */
bool fast_huge_owned_by(const segment_t *region, const void *p, heap_t *owner)
{
    bool was_free;
    huge_span_t *span = span_of_block(region, p, &was_free);
    if (!span) return false;
    hk_lock(&huge_lock);
    bool owned = false;
    for (huge_link_t *l = owner->huge_owned.next; l && l != &owner->huge_owned; l = l->next)
        if (l == &span->owned) {
            owned = true;
            break;
        }
    hk_unlock(&huge_lock);
    return owned;
}

/* The heap profiler's mark of a huge block in use (its span's freed_ms is spare then). */
bool fast_huge_set_sampled(segment_t *region, void *p, bool sampled)
{
    bool was_free;
    huge_span_t *span = span_of_block(region, p, &was_free);
    if (!span) return false;
    uint32_t old = sampled ? __atomic_fetch_or(&span->freed_ms, SPAN_SAMPLED, __ATOMIC_RELAXED)
                           : __atomic_fetch_and(&span->freed_ms, ~SPAN_SAMPLED, __ATOMIC_RELAXED);
    return old & SPAN_SAMPLED;
}

bool fast_huge_is_sampled(segment_t *region, void *p)
{
    bool was_free;
    huge_span_t *span = span_of_block(region, p, &was_free);
    return span && (__atomic_load_n(&span->freed_ms, __ATOMIC_RELAXED) & SPAN_SAMPLED);
}

size_t fast_huge_usable(const segment_t *region, const void *p, const char *who)
{
    return span_checked(region, p, who)->usable;
}

size_t fast_huge_guarded_extent(const segment_t *region, const void *p, const char *who)
{
    huge_span_t *span = span_checked(region, p, who);
    return __atomic_load_n(&span->freed_ms, __ATOMIC_RELAXED) & SPAN_GUARDED
               ? guarded_extent(span)
               : 0;
}

/* Frees a span in use (huge_lock held): off its owner's list, merged with free neighbours, onto
 * the free list. */
static void huge_free_locked(segment_t *region, huge_span_t *span, uint32_t now)
{
    hk_stat_add(&fast_global_stats[STAT_huge_frees], 1);
    hk_stat_sub(&fast_global_stats[STAT_huge_blocks_in_use], 1);
    hk_stat_sub(&fast_global_stats[STAT_huge_bytes_in_use], span->usable);
    if (span->owned.next) {
        span->owned.prev->next = span->owned.next;
        span->owned.next->prev = span->owned.prev;
    }
    span->next = span->prev = NULL;
    if (span->freed_ms & SPAN_GUARDED) {
        /* Hardened: the freed block's pages fault until a block is carved there again (its
         * first bytes share the header's page, which stays open: junk). */
        uint8_t *block = span_block(span);
        uintptr_t closed = hk_align_up_small((uintptr_t)block, os_page());
        uintptr_t guard = (uintptr_t)block + guarded_extent(span);
        memset(block, HK_JUNK_BYTE, min_size(closed, guard) - (uintptr_t)block);
        if (guard > closed) sys_protect((void *)closed, guard - closed, SYS_PROT_NONE);
    }
    set_resident(span, committed_pages(span), false); /* as if every page was touched */
    huge_span_t *above = span_above(region, span);
    if (span_is_free(above)) {
        free_list_remove(above);
        span_absorb(region, span, above);
    }
    if (span_is_free(span->below)) {
        huge_span_t *below = span->below;
        free_list_remove(below);
        span_absorb(region, below, span);
        span = below;
    }
    free_list_add(span, now);
}

void fast_huge_free(segment_t *region, void *p, const char *who)
{
    uint32_t now = fast_now_ms();
    hk_lock(&huge_lock);
    huge_free_locked(region, span_checked(region, p, who), now);
    HK_VG_FREELIKE(p);
    huge_maintain(now, false);
    hk_unlock(&huge_lock);
    fast_series_note(fast_tls.heap);
}

void fast_huge_free_owned(heap_t *owner)
{
    if (!owner->huge_owned.next) return;
    uint32_t now = fast_now_ms();
    hk_lock(&huge_lock);
    while (owner->huge_owned.next != &owner->huge_owned) {
        huge_span_t *span = (huge_span_t *)((uint8_t *)owner->huge_owned.next -
                                            offsetof(huge_span_t, owned));
        huge_free_locked(fast_segment_resolve(span), span, now);
    }
    huge_maintain(now, false);
    hk_unlock(&huge_lock);
}

/* Resizes a huge block in place: within its span, by taking free space right after it, or by
 * giving back the room after it when it shrinks a lot. True (and the usable size follows) when
 * size fits; otherwise false and nothing changes. */
bool fast_huge_resize(segment_t *region, void *p, size_t size, const char *who)
{
    if (size < 16) size = 16;
    uint32_t now = fast_now_ms();
    hk_lock(&huge_lock);
    huge_span_t *span = span_checked(region, p, who);
    set_resident(span, committed_pages(span), false);
    uintptr_t end;
    if (size > PTRDIFF_MAX || !hk_align_up((uintptr_t)p + size, os_page(), &end)) {
        hk_unlock(&huge_lock);
        return false;
    }
    size_t need = (size_t)(end - (uintptr_t)span);
    if (need > span->size) {
        huge_span_t *above = span_above(region, span);
        if (!span_is_free(above) || span->size + above->size < need) {
            hk_unlock(&huge_lock);
            return false;
        }
        free_list_remove(above);
        span_absorb(region, span, above);
    }
    size_t keep = hk_align_up_small(need, HUGE_GRAIN_BYTES);
    if (need > span->size) need = span->size; /* the region's last span ends unaligned */
    if (keep < span->size && span->size - keep >= HUGE_SHRINK_MIN_BYTES) {
        span_split(region, span, keep, now);
        huge_span_t *rest = span_above(region, span);
        huge_span_t *after = span_above(region, rest);
        if (span_is_free(after)) { /* keep no two free spans side by side */
            free_list_remove(after);
            free_list_remove(rest);
            span_absorb(region, rest, after);
            free_list_add(rest, now);
        }
    }
    hk_stat_sub(&fast_global_stats[STAT_huge_bytes_in_use], span->usable);
    HK_VG_RESIZE(p, span->usable, need - HUGE_SPAN_BYTES);
    span->usable = need - HUGE_SPAN_BYTES;
    if (span->committed < need) span->committed = need;
    hk_stat_add(&fast_global_stats[STAT_huge_bytes_in_use], span->usable);
    hk_unlock(&huge_lock);
    return true;
}

/* The same for a guarded block (hardened mode): its guard page moves to its new end. size is
 * what its extent must hold; *extent receives the new one. */
bool fast_huge_resize_guarded(segment_t *region, void *p, size_t size, const char *who,
                              size_t *extent)
{
    huge_span_t *span = span_checked(region, p, who);
    uintptr_t old_guard = (uintptr_t)p + guarded_extent(span);
    size_t with_guard;
    if (!hk_add(size, os_page(), &with_guard) || !fast_huge_resize(region, p, with_guard, who))
        return false;
    uintptr_t guard = (uintptr_t)p + guarded_extent(span);
    if (guard > old_guard) /* what it grew into may have been a freed block's, closed */
        sys_protect((void *)old_guard, guard - old_guard, SYS_PROT_RW);
    if (guard != old_guard) sys_protect((void *)guard, os_page(), SYS_PROT_NONE);
    *extent = guarded_extent(span);
    return true;
}

/* Returns all free huge memory to the OS (malloc_trim): free spans decommitted, empty regions
 * unmapped. True when a region was unmapped. */
bool fast_huge_trim(void)
{
    hk_lock(&huge_lock);
    unsigned unmapped = huge_maintain(fast_now_ms(), true);
    hk_unlock(&huge_lock);
    return unmapped != 0;
}

/* ---- Invariant checker --------------------------------------------------------------------- */

static bool huge_check_fail(const char *what, const void *where)
{
    hk_warn("fast_check: huge: %s (%p)", what, where);
    return false;
}

/* Walks every region span by span: boundary tags agree, spans tile the region exactly, no two
 * free spans touch, every free span is on the free list and the list holds nothing else, and
 * the list's resident total is the sum of its spans'. */
bool fast_huge_check(void)
{
    hk_lock(&huge_lock);
    bool ok = true;
    size_t free_seen = 0, resident_seen = 0, listed = 0, listed_resident = 0;
    for (segment_t *region = regions; region && ok; region = region->next) {
        if (region->cookie != (SEGMENT_COOKIE ^ (uintptr_t)region) || region->kind != SEGMENT_HUGE)
            ok = huge_check_fail("bad region header", region);
        huge_span_t *below = NULL;
        uint8_t *at = (uint8_t *)region_first_span(region);
        while (ok && at < region_end(region)) {
            huge_span_t *span = (huge_span_t *)at;
            if (span->cookie != (HUGE_SPAN_COOKIE ^ (uintptr_t)span))
                ok = huge_check_fail("bad span cookie", span);
            else if (span->below != below)
                ok = huge_check_fail("span's lower neighbour disagrees", span);
            else if (span->size < HUGE_SPAN_BYTES || span->size % HUGE_SPAN_BYTES ||
                     at + span->size > region_end(region))
                ok = huge_check_fail("span size", span);
            else if (span_is_free(span) && span_is_free(below))
                ok = huge_check_fail("two free spans side by side", span);
            else if (!span_is_free(span) && span->usable + HUGE_SPAN_BYTES > span->size)
                ok = huge_check_fail("block larger than its span", span);
            if (ok && span_is_free(span)) {
                free_seen++;
                resident_seen += resident_bytes(span);
                if (resident_bytes(span) > committed_pages(span) * os_page())
                    ok = huge_check_fail("more resident than committed", span);
            }
            below = span;
            at += span->size;
        }
        if (ok && at != region_end(region)) ok = huge_check_fail("spans overrun the region", region);
    }
    for (huge_span_t *s = free_spans; s && ok; s = s->next) {
        if (!span_is_free(s)) ok = huge_check_fail("span in use on the free list", s);
        listed++;
        listed_resident += resident_bytes(s);
    }
    if (ok && listed != free_seen) ok = huge_check_fail("free list and regions disagree", NULL);
    if (ok && (listed_resident != free_resident_bytes || resident_seen != listed_resident))
        ok = huge_check_fail("resident total", NULL);
    hk_unlock(&huge_lock);
    return ok;
}

/* ---- Heap walk ----------------------------------------------------------------------------- */

/* Every huge region, its spans and their blocks (see walk.c), under the huge lock. */
bool fast_huge_walk(hk_block_visitor_t visitor, void *arg, int max_level)
{
    bool going = true;
    hk_lock(&huge_lock);
    for (segment_t *region = regions; region && going; region = region->next) {
        size_t used = 0;
        for (huge_span_t *span = region_first_span(region); (uint8_t *)span < region_end(region);
             span = (huge_span_t *)((uint8_t *)span + span->size))
            if (!span_is_free(span)) used += span->size;
        hk_block_info_t info = {.level = HK_LEVEL_SEGMENT,
                                .state = used ? HK_STATE_USED : HK_STATE_FREE,
                                .address = (uintptr_t)region,
                                .size = region->map_size,
                                .used_blocks = used,
                                .free_blocks = region->map_size - used,
                                .label = "huge region"};
        going = visitor(&info, arg);
        if (max_level < HK_LEVEL_PAGE) continue;
        for (huge_span_t *span = region_first_span(region);
             going && (uint8_t *)span < region_end(region);
             span = (huge_span_t *)((uint8_t *)span + span->size)) {
            bool in_use = !span_is_free(span);
            /* A free span is shown as its committed prefix (free) and the rest (purged: reads
             * as zero, takes no memory), so a fresh region's untouched room is not "free". */
            size_t committed = in_use ? span->size : hk_align_up_small(min_size(span->committed, span->size), os_page());
            if (committed > span->size) committed = span->size;
            hk_block_info_t page = {
                .level = HK_LEVEL_PAGE,
                .state = in_use                              ? HK_STATE_USED
                         : span->committed > HUGE_SPAN_BYTES ? HK_STATE_FREE
                                                             : HK_STATE_PURGED,
                .address = (uintptr_t)span,
                .size = span->committed > HUGE_SPAN_BYTES ? committed : span->size,
                .block_size = span->usable,
                .used_blocks = in_use,
                .free_blocks = !in_use,
                .label = in_use ? "huge span" : "free span"};
            going = visitor(&page, arg);
            if (going && !in_use && span->committed > HUGE_SPAN_BYTES && committed < span->size) {
                hk_block_info_t rest = {.level = HK_LEVEL_PAGE,
                                        .state = HK_STATE_PURGED,
                                        .address = (uintptr_t)span + committed,
                                        .size = span->size - committed,
                                        .free_blocks = 1,
                                        .label = "free span (decommitted)"};
                going = visitor(&rest, arg);
            }
            if (going && in_use && max_level >= HK_LEVEL_BLOCK) {
                hk_block_info_t block = {.level = HK_LEVEL_BLOCK,
                                         .state = HK_STATE_USED,
                                         .address = (uintptr_t)span_block(span),
                                         .size = span->usable,
                                         .block_size = span->usable,
                                         .used_blocks = 1,
                                         .label = "huge block"};
                going = visitor(&block, arg);
            }
        }
    }
    hk_unlock(&huge_lock);
    return going;
}
