/* Large blocks (more than 2048 bytes with their header, or alignments the buddy heap cannot
 * give): each is its own mapping, as spec 003 says, sized in whole pages. The mapping starts
 * with a record holding its length; the 16-byte tag right before the payload (the same shape
 * as a block header: status, level, then the mapping's start) leads free() back to it, so a
 * payload can sit at any alignment inside the mapping.
 *
 * A small cache keeps recently freed plain mappings (up to LARGE_CACHE_SLOTS, each at most
 * LARGE_CACHE_ENTRY_MAX_BYTES) so programs that free and allocate the same sizes do not pay an
 * mmap and munmap each time. A cached mapping keeps its page-map mark and a FREED tag, so a
 * second free of it is reported as a double free.
 *
 * The heap walk finds mappings through their page-map marks (buddy_large_walk), so a mark is
 * set and cleared only under large_lock, and a mapping is unmapped only after its mark is gone:
 * a walk holding the lock reads only mappings that stay mapped. */
#include <string.h>

#include "buddy/buddy.h"
#include "core/checked.h"
#include "core/harden.h"
#include "core/series.h"
#include "core/stats.h"
#include "os/sys.h"

#define LARGE_CACHE_SLOTS           32
#define LARGE_CACHE_ENTRY_MAX_BYTES ((size_t)4 << 20)
#define LARGE_CACHE_TOTAL_MAX_BYTES ((size_t)16 << 20)

typedef struct {
    size_t length;                /* bytes mapped, from the record's address */
    uint64_t heap_like : 1;       /* asked below BUDDY_HEAP_LIKE_MAX_BYTES (mallinfo2's uordblks) */
    uint64_t junked : 1;          /* hardened mode: cached with junk and protection */
    uint64_t sampled : 1;         /* the heap profiler sampled the block (src/prof) */
    uint64_t asked_plus_one : 61; /* hardened mode: the size asked + 1; 0 in the default mode */
} large_record_t;
/* The tag of a plain block follows the record at +16, its payload at +32. */
_Static_assert(sizeof(large_record_t) == 16, "the record is 16 bytes");

typedef struct {
    void *start;   /* the mapping (its record) */
    size_t length; /* its bytes */
} cache_entry_t;

static hk_lock_t large_lock = HK_LOCK_INIT; /* guards the cache and the page-map marks */
static cache_entry_t cache[LARGE_CACHE_SLOTS];
static unsigned cache_count;
static size_t cache_bytes;
static buddy_large_stats_t stats; /* updated with relaxed atomics */

static inline large_record_t *record_of(const buddy_block_t *tag)
{
    return (large_record_t *)buddy_link_get(&tag->next);
}

bool buddy_large_tag_sound(const buddy_block_t *tag)
{
    /* The decoded start of the mapping: a page boundary at or before the tag, and no further
     * from it than an alignment a request can ask (the size limit of PTRDIFF_MAX). */
    uintptr_t record = (uintptr_t)record_of(tag);
    return (record & (sys_page_size() - 1)) == 0 && record < (uintptr_t)tag &&
           (uintptr_t)tag - record <= PTRDIFF_MAX;
}

size_t buddy_large_asked_plus_one(const buddy_block_t *tag)
{
    return record_of(tag)->asked_plus_one;
}

void buddy_large_set_asked_plus_one(buddy_block_t *tag, size_t asked_plus_one)
{
    record_of(tag)->asked_plus_one = asked_plus_one;
}

char *buddy_large_end(const buddy_block_t *tag)
{
    large_record_t *record = record_of(tag);
    return (char *)record + record->length;
}

/* Sets the page-map mark of the page holding tag, under large_lock (see the top). */
static bool large_mark(const buddy_block_t *tag, uint8_t entry)
{
    hk_lock_register(&large_lock);
    hk_lock(&large_lock);
    bool marked = buddy_pagemap_set(tag, 1, entry);
    hk_unlock(&large_lock);
    return marked;
}

/* Takes the smallest cached mapping of at least length bytes and at most twice that. */
static void *cache_take(size_t length, size_t *got)
{
    hk_lock_register(&large_lock);
    hk_lock(&large_lock);
    unsigned best = LARGE_CACHE_SLOTS;
    for (unsigned i = 0; i < cache_count; i++)
        if (cache[i].length >= length && cache[i].length / 2 <= length &&
            (best == LARGE_CACHE_SLOTS || cache[i].length < cache[best].length))
            best = i;
    void *start = NULL;
    if (best != LARGE_CACHE_SLOTS) {
        start = cache[best].start;
        *got = cache[best].length;
        cache_bytes -= *got;
        cache[best] = cache[--cache_count];
        hk_stat_sub(&stats.cached, 1);
        hk_stat_sub(&stats.cached_bytes, *got);
        hk_stat_add(&stats.cache_hits, 1);
    }
    hk_unlock(&large_lock);
    return start;
}

/* Keeps a freed mapping; returns false when it does not fit. Evicts the oldest entries (the
 * front of the array) to make room; they are unmapped by the caller's way out: here. */
static bool cache_put(void *start, size_t length)
{
    if (length > LARGE_CACHE_ENTRY_MAX_BYTES) return false;
    cache_entry_t evicted[LARGE_CACHE_SLOTS];
    unsigned evicted_count = 0;
    hk_lock_register(&large_lock);
    hk_lock(&large_lock);
    while (cache_count && (cache_count == LARGE_CACHE_SLOTS ||
                           cache_bytes + length > LARGE_CACHE_TOTAL_MAX_BYTES)) {
        evicted[evicted_count++] = cache[0];
        buddy_pagemap_set((char *)cache[0].start + sizeof(large_record_t), 1, PAGE_NOT_OURS);
        cache_bytes -= cache[0].length;
        memmove(&cache[0], &cache[1], (cache_count - 1) * sizeof cache[0]);
        cache_count--;
    }
    cache[cache_count++] = (cache_entry_t){start, length};
    cache_bytes += length;
    hk_unlock(&large_lock);
    hk_stat_add(&stats.cached, 1 - (uint64_t)evicted_count);
    hk_stat_add(&stats.cached_bytes, length);
    for (unsigned i = 0; i < evicted_count; i++) {
        hk_stat_sub(&stats.cached_bytes, evicted[i].length);
        sys_unmap(evicted[i].start, evicted[i].length);
    }
    return true;
}

/* Bytes of large blocks allocated and freed since the last time-series note. */
static uint64_t series_bytes;

/* Counts a block as in use, or as no longer in use, in the figures of its kind; every
 * HK_SERIES_STEP_BYTES of them, a time-series note (core/series.h). */
static void count_live(const large_record_t *record, size_t length, bool in_use)
{
    void (*change)(uint64_t *, uint64_t) = in_use ? hk_stat_add : hk_stat_sub;
    change(&stats.live, 1);
    change(&stats.live_bytes, length);
    if (record->heap_like) {
        change(&stats.live_small, 1);
        change(&stats.live_small_bytes, length);
    }
    if (__atomic_add_fetch(&series_bytes, length, __ATOMIC_RELAXED) >= HK_SERIES_STEP_BYTES &&
        __atomic_exchange_n(&series_bytes, 0, __ATOMIC_RELAXED) >= HK_SERIES_STEP_BYTES) {
        uint64_t live, mapped;
        buddy_series_figures(&live, &mapped);
        hk_series_note(live, mapped);
    }
}

void *buddy_large_alloc(size_t size, size_t headroom, size_t alignment, bool zeroed)
{
    bool heap_like = size < BUDDY_HEAP_LIKE_MAX_BYTES;
    size_t asked = size;
    /* Hardened: at least one byte of canary after the request. */
    bool hardened = hk_harden();
    if (hardened && !hk_add(headroom, 1, &headroom)) return NULL;
    if (!hk_add(size, headroom, &size)) return NULL;
    size_t page = sys_page_size();
    bool plain = alignment <= BUDDY_LARGE_PREFIX_BYTES;
    /* Up to a page, an alignment is met at a fixed offset from the (page-aligned) start;
     * beyond, anywhere in the first alignment bytes. */
    size_t prefix = plain               ? BUDDY_LARGE_PREFIX_BYTES
                    : alignment <= page ? alignment
                                        : alignment + BUDDY_LARGE_PREFIX_BYTES;
    size_t length;
    if (!hk_add(size, prefix, &length) || !hk_align_up(length, page, &length)) return NULL;
    void *start = NULL;
    bool fresh = true;
    if (plain && length <= LARGE_CACHE_ENTRY_MAX_BYTES) {
        size_t got;
        start = cache_take(length, &got);
        if (start) {
            length = got;
            fresh = false;
        }
    }
    if (!start && sys_map(length, &start) != 0) return NULL;
    if (!fresh && ((large_record_t *)start)->junked)
        buddy_harden_large_reused(start, length, (char *)start + prefix);
    char *payload =
        alignment <= page
            ? (char *)start + prefix
            : (char *)hk_align_up_small((uintptr_t)start + BUDDY_LARGE_PREFIX_BYTES, alignment);
    buddy_block_t *tag = (buddy_block_t *)(payload - BUDDY_HEADER_BYTES);
    large_record_t *record = start;
    record->length = length;
    record->heap_like = heap_like;
    record->junked = 0;
    record->sampled = 0;
    record->asked_plus_one = 0;
    tag->status = TAG_LARGE;
    tag->level = LEVEL_LARGE;
    buddy_link_set(&tag->next, start);
    if (fresh && !large_mark(tag, PAGE_LARGE_TAG)) {
        sys_unmap(start, length);
        return NULL;
    }
    /* memcheck (VALGRIND=1 builds): a heap block of its usable bytes; a fresh mapping reads 0. */
    HK_VG_MALLOCLIKE(payload, length - (size_t)(payload - (char *)start), fresh);
    if (zeroed && !fresh) memset(payload, 0, asked);
    if (hardened) buddy_harden_large_out(tag, payload, asked);
    hk_stat_add(&stats.allocs, 1);
    count_live(record, length, true);
    return payload;
}

void buddy_large_free(buddy_block_t *tag)
{
    large_record_t *record = record_of(tag);
    size_t length = record->length;
    tag->status = TAG_LARGE_FREED;
    hk_stat_add(&stats.frees, 1);
    count_live(record, length, false);
    bool plain = (char *)tag == (char *)record + sizeof(large_record_t);
    if (plain && length <= LARGE_CACHE_ENTRY_MAX_BYTES && hk_harden()) {
        /* Hardened: junk in the first page, the rest inaccessible while cached. */
        buddy_harden_large_cached(record, length, (char *)tag + BUDDY_HEADER_BYTES);
        record->junked = 1;
    }
    if (plain && cache_put(record, length)) return;
    large_mark(tag, PAGE_NOT_OURS);
    sys_unmap(record, length);
}

size_t buddy_large_usable(const buddy_block_t *tag)
{
    const large_record_t *record = record_of(tag);
    return (size_t)((const char *)record + record->length -
                    ((const char *)tag + BUDDY_HEADER_BYTES));
}

void buddy_large_shrink(buddy_block_t *tag, size_t size)
{
    large_record_t *record = record_of(tag);
    size_t used = (size_t)((char *)tag + BUDDY_HEADER_BYTES - (char *)record) + size;
    size_t length = hk_align_up_small(used, sys_page_size());
    if (length >= record->length) return;
    size_t cut = record->length - length;
    if (sys_unmap((char *)record + length, cut) != 0) return;
    HK_VG_RESIZE((char *)tag + BUDDY_HEADER_BYTES, record->length - (used - size),
                 length - (used - size));
    /* A walk reads the length under the lock (it never reads the tail). */
    hk_lock_register(&large_lock);
    hk_lock(&large_lock);
    record->length = length;
    hk_unlock(&large_lock);
    hk_stat_sub(&stats.live_bytes, cut);
    if (record->heap_like) hk_stat_sub(&stats.live_small_bytes, cut);
    hk_stat_add(&stats.shrunk, 1);
}

bool buddy_large_trim(void)
{
    cache_entry_t all[LARGE_CACHE_SLOTS];
    hk_lock_register(&large_lock);
    hk_lock(&large_lock);
    unsigned count = cache_count;
    memcpy(all, cache, count * sizeof cache[0]);
    for (unsigned i = 0; i < count; i++)
        buddy_pagemap_set((char *)all[i].start + sizeof(large_record_t), 1, PAGE_NOT_OURS);
    cache_count = 0;
    cache_bytes = 0;
    hk_unlock(&large_lock);
    for (unsigned i = 0; i < count; i++) {
        hk_stat_sub(&stats.cached, 1);
        hk_stat_sub(&stats.cached_bytes, all[i].length);
        sys_unmap(all[i].start, all[i].length);
    }
    return count > 0;
}

bool buddy_large_sampled(const buddy_block_t *tag)
{
    return record_of(tag)->sampled != 0;
}

void buddy_large_set_sampled(buddy_block_t *tag, bool sampled)
{
    record_of(tag)->sampled = sampled;
}

void buddy_large_stats(buddy_large_stats_t *out)
{
    out->allocs = __atomic_load_n(&stats.allocs, __ATOMIC_RELAXED);
    out->frees = __atomic_load_n(&stats.frees, __ATOMIC_RELAXED);
    out->live = __atomic_load_n(&stats.live, __ATOMIC_RELAXED);
    out->live_bytes = __atomic_load_n(&stats.live_bytes, __ATOMIC_RELAXED);
    out->live_small = __atomic_load_n(&stats.live_small, __ATOMIC_RELAXED);
    out->live_small_bytes = __atomic_load_n(&stats.live_small_bytes, __ATOMIC_RELAXED);
    out->cached = __atomic_load_n(&stats.cached, __ATOMIC_RELAXED);
    out->cached_bytes = __atomic_load_n(&stats.cached_bytes, __ATOMIC_RELAXED);
    out->cache_hits = __atomic_load_n(&stats.cache_hits, __ATOMIC_RELAXED);
    out->shrunk = __atomic_load_n(&stats.shrunk, __ATOMIC_RELAXED);
}

/* ---- The heap walk ------------------------------------------------------------------------ */

/* Where the tag of a mapping can sit in the page that holds it: at +16 (plain blocks, after
 * the record), at alignment - 16 (alignments up to a page, payload at start + alignment), or
 * at the page's last 16 bytes (bigger alignments: the payload starts the next page). */
static const uint16_t TAG_OFFSETS[] = {16, 48, 112, 240, 496, 1008, 2032, 4080};

/* The tag in the marked page, or NULL. Bytes before the tag in its page are the record or
 * untouched zeros, never program data, so the first sound candidate is the tag. */
static const buddy_block_t *tag_in_page(uintptr_t page)
{
    size_t page_bytes = sys_page_size();
    for (unsigned i = 0; i < HK_ARRAY_LEN(TAG_OFFSETS) && TAG_OFFSETS[i] < page_bytes; i++) {
        const buddy_block_t *tag = (const buddy_block_t *)(page + TAG_OFFSETS[i]);
        if ((tag->status != TAG_LARGE && tag->status != TAG_LARGE_FREED) ||
            tag->level != LEVEL_LARGE)
            continue;
        const large_record_t *record = record_of(tag);
        if ((uintptr_t)record % page_bytes != 0 || (uintptr_t)record > (uintptr_t)tag ||
            (uintptr_t)tag - (uintptr_t)record >= record->length)
            continue;
        return tag;
    }
    return NULL;
}

typedef struct {
    bool (*visit)(const buddy_large_view_t *view, void *arg);
    void *arg;
} large_walk_t;

static bool large_walk_page(uintptr_t page, void *arg)
{
    large_walk_t *walk = arg;
    const buddy_block_t *tag = tag_in_page(page);
    if (!tag) return true;
    const large_record_t *record = record_of(tag);
    buddy_large_view_t view = {
        .start = (uintptr_t)record,
        .length = record->length,
        .payload = (uintptr_t)tag + BUDDY_HEADER_BYTES,
        .usable = buddy_large_usable(tag),
        .cached = tag->status == TAG_LARGE_FREED,
    };
    return walk->visit(&view, walk->arg);
}

bool buddy_large_walk(bool (*visit)(const buddy_large_view_t *view, void *arg), void *arg)
{
    large_walk_t walk = {visit, arg};
    hk_lock_register(&large_lock);
    hk_lock(&large_lock);
    bool complete = buddy_pagemap_each(PAGE_LARGE_TAG, large_walk_page, &walk);
    hk_unlock(&large_lock);
    return complete;
}
