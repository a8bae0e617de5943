/* Huge blocks (over 128 KiB, or aligned beyond what the size classes give): each is its own
 * segment, a mapping aligned to 4 MiB (or to the alignment asked for) with the block after a
 * short header. Any thread may free one. Freed mappings are cached so a program that frees and
 * allocates big buffers in turn does not pay mmap/munmap each time: a cached mapping keeps its
 * memory for the purge delay, then only its address range (its pages are decommitted), and is
 * unmapped after a few seconds unused or by trim. */
#include <string.h>

#include "core/checked.h"
#include "core/fatal.h"
#include "core/stats.h"
#include "fast/fast_internal.h"
#include "os/sys.h"

#define HUGE_CACHE_SLOTS           32
#define HUGE_CACHE_MAX_BYTES       ((size_t)512 << 20) /* address space, mostly decommitted */
#define HUGE_CACHE_COMMITTED_BYTES ((size_t)128 << 20)  /* memory kept before the delay */
#define HUGE_CACHE_EXPIRE_MS       3000
/* The block starts this far into its mapping (the header, rounded to a cache line). */
#define HUGE_HEADER_BYTES ((offsetof(segment_t, pages) + 63) & ~(size_t)63)

static hk_lock_t huge_lock = HK_LOCK_INIT;
static segment_t *huge_cache[HUGE_CACHE_SLOTS];
static size_t huge_cache_committed; /* bytes of cached mappings not yet decommitted */

void fast_huge_register_locks(void)
{
    hk_lock_register(&huge_lock);
}

static void huge_unmap(segment_t *segment)
{
    size_t size = segment->map_size;
    segment->cookie = 0;
    fast_registry_set(segment, size, false);
    sys_unmap(segment, size);
}

/* Returns a cached mapping's pages (all but the header's) to the OS; it stays mapped. */
static void cache_decommit(segment_t *segment)
{
    if (!segment->huge_committed) return;
    size_t os_page = sys_page_size();
    sys_decommit((uint8_t *)segment + os_page, segment->map_size - os_page);
    segment->huge_committed = 0;
    huge_cache_committed -= segment->map_size;
}

/* With huge_lock held: decommits entries older than the purge delay, unmaps those older than
 * the expiry (all of them when force). Returns how many were unmapped. */
static unsigned cache_maintain(uint32_t now, bool force)
{
    unsigned dropped = 0;
    for (unsigned i = 0; i < HUGE_CACHE_SLOTS; i++) {
        segment_t *segment = huge_cache[i];
        if (!segment) continue;
        uint32_t age = now - segment->huge_cached_ms;
        if (force || age >= HUGE_CACHE_EXPIRE_MS) {
            huge_cache[i] = NULL;
            if (segment->huge_committed) huge_cache_committed -= segment->map_size;
            hk_stat_sub(&fast_global_stats[STAT_huge_cache_bytes], segment->map_size);
            huge_unmap(segment);
            dropped++;
        } else if (age >= fast_options.purge_delay_ms) {
            cache_decommit(segment);
        }
    }
    return dropped;
}

/* The smallest cached mapping that holds need bytes at the alignment, not over twice as big. */
static segment_t *cache_take(size_t need, size_t map_align)
{
    int best = -1;
    for (int i = 0; i < HUGE_CACHE_SLOTS; i++) {
        segment_t *s = huge_cache[i];
        if (!s || s->map_size < need || s->map_size / 2 > need) continue;
        if ((uintptr_t)s & (map_align - 1)) continue;
        if (best < 0 || s->map_size < huge_cache[best]->map_size) best = i;
    }
    if (best < 0) return NULL;
    segment_t *segment = huge_cache[best];
    huge_cache[best] = NULL;
    if (segment->huge_committed) huge_cache_committed -= segment->map_size;
    hk_stat_sub(&fast_global_stats[STAT_huge_cache_bytes], segment->map_size);
    return segment;
}

void *fast_huge_malloc(size_t size, size_t alignment, bool zero)
{
    return fast_huge_malloc_reserve(size, alignment, zero, 0);
}

/* Like fast_huge_malloc, with at least reserve bytes of address space mapped for the block to
 * grow into (fast_huge_resize): pages never touched cost no memory. */
void *fast_huge_malloc_reserve(size_t size, size_t alignment, bool zero, size_t reserve)
{
    if (size > PTRDIFF_MAX) return NULL;
    if (alignment < 16) alignment = 16;
    if (size < 16) size = 16; /* a block of size 0 still lies inside its mapping */
    size_t map_align = alignment > SEGMENT_SIZE ? alignment : SEGMENT_SIZE;
    size_t offset = hk_align_up_small(HUGE_HEADER_BYTES, alignment);
    size_t need;
    if (!hk_add(offset, size, &need) || !hk_align_up(need, sys_page_size(), &need)) return NULL;

    uint32_t now = fast_now_ms();
    hk_lock(&huge_lock);
    cache_maintain(now, false);
    size_t map_size = need;
    if (reserve > need && !hk_align_up(reserve, sys_page_size(), &map_size)) map_size = need;
    segment_t *segment = cache_take(map_size, map_align);
    hk_unlock(&huge_lock);
    if (segment) {
        hk_stat_add(&fast_global_stats[STAT_huge_cache_hits], 1);
        if (zero) memset((uint8_t *)segment + offset, 0, size);
    } else {
        void *memory;
        if (sys_map_aligned(map_size, map_align, &memory) != 0) return NULL;
        segment = memory; /* zero-filled */
        segment->page_shift = 63;
        segment->kind = SEGMENT_HUGE;
        segment->map_size = map_size;
        segment->cookie = SEGMENT_COOKIE ^ (uintptr_t)segment;
        fast_registry_set(segment, map_size, true);
    }
    segment->huge_block = (uint8_t *)segment + offset;
    /* Usable: the pages the request spans, not the whole mapping, so realloc copies and
     * malloc_usable_size stay honest; the rest is room to grow in place. */
    segment->huge_usable = need - offset;
    hk_stat_add(&fast_global_stats[STAT_huge_allocs], 1);
    hk_stat_add(&fast_global_stats[STAT_huge_blocks_in_use], 1);
    hk_stat_add(&fast_global_stats[STAT_huge_bytes_in_use], segment->huge_usable);
    return segment->huge_block;
}

void fast_huge_free(segment_t *segment, void *p, const char *who)
{
    if (hk_unlikely(segment->huge_block != p)) {
        if (!segment->huge_block) hk_fatal("double free of %p in %s()", p, who);
        hk_fatal("invalid pointer %p in %s()", p, who);
    }
    hk_stat_add(&fast_global_stats[STAT_huge_frees], 1);
    hk_stat_sub(&fast_global_stats[STAT_huge_blocks_in_use], 1);
    hk_stat_sub(&fast_global_stats[STAT_huge_bytes_in_use], segment->huge_usable);
    segment->huge_block = NULL;
    uint32_t now = fast_now_ms();
    hk_lock(&huge_lock);
    cache_maintain(now, false);
    uint64_t cached = __atomic_load_n(&fast_global_stats[STAT_huge_cache_bytes], __ATOMIC_RELAXED);
    if (segment->map_size <= HUGE_CACHE_MAX_BYTES - cached) {
        for (unsigned i = 0; i < HUGE_CACHE_SLOTS; i++) {
            if (huge_cache[i]) continue;
            segment->huge_cached_ms = now;
            segment->huge_committed = 1;
            huge_cache_committed += segment->map_size;
            huge_cache[i] = segment;
            hk_stat_add(&fast_global_stats[STAT_huge_cache_bytes], segment->map_size);
            if (huge_cache_committed > HUGE_CACHE_COMMITTED_BYTES ||
                fast_options.purge_delay_ms == 0)
                cache_decommit(segment);
            segment = NULL;
            break;
        }
    }
    hk_unlock(&huge_lock);
    if (segment) huge_unmap(segment);
}

/* Resizes a huge block within its mapping: true (and the block's usable size follows) when
 * size fits; otherwise false and nothing changes. */
bool fast_huge_resize(segment_t *segment, void *p, size_t size, const char *who)
{
    if (hk_unlikely(segment->huge_block != p)) {
        if (!segment->huge_block) hk_fatal("double free of %p in %s()", p, who);
        hk_fatal("invalid pointer %p in %s()", p, who);
    }
    size_t offset = (size_t)((uint8_t *)p - (uint8_t *)segment);
    size_t need;
    if (!hk_add(offset, size < 16 ? 16 : size, &need) ||
        !hk_align_up(need, sys_page_size(), &need) || need > segment->map_size)
        return false;
    size_t usable = need - offset;
    hk_stat_sub(&fast_global_stats[STAT_huge_bytes_in_use], segment->huge_usable);
    hk_stat_add(&fast_global_stats[STAT_huge_bytes_in_use], usable);
    segment->huge_usable = usable;
    return true;
}

/* Empties the cache (malloc_trim). */
bool fast_huge_trim(void)
{
    hk_lock(&huge_lock);
    unsigned dropped = cache_maintain(0, true);
    hk_unlock(&huge_lock);
    return dropped != 0;
}
