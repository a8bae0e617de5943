/* The engine contract (core/engine.h) over the buddy heap: requests of up to 2032 bytes (2048
 * with the header) come from the calling thread's arena (pages of the sbrk heap, or chunks),
 * larger ones are mapped directly.
 * Every free finds its block through the page map and the 16 bytes before the payload, and
 * checks them: a pointer in no page, chunk or mapping of ours, a header without our magic or
 * cookie, or a block already free ends the process with one line naming the call. The hardened
 * mode (HEAPKIT_HARDEN=1) takes a branch to buddy_harden.c at each entry; every check is
 * described in buddy_harden.h. */
#include <malloc.h>
#include <string.h>

#include "buddy/buddy.h"
#include "core/checked.h"
#include "core/fatal.h"
#include "core/fmt.h"
#include "core/harden.h"
#include "core/misuse.h"
#include "core/options.h"
#include "core/series.h"
#include "core/stats.h"
#include "core/engine.h"
#include "os/sys.h"
#include "prof/prof.h"

const char hk_engine_name[] = "heapkit-buddy";

/* ---- Small blocks -------------------------------------------------------------------------- */

static inline void *payload_of(buddy_block_t *block)
{
    return (char *)block + BUDDY_HEADER_BYTES;
}

/* memcheck (VALGRIND=1 builds, core/vg.h): a block handed out at p is a heap block of its
 * usable bytes, from p to the end of its buddy block; a freed one is no access, but for the
 * header and links the engine keeps in its first 24 bytes (buddy_list_push). Large blocks are
 * told in buddy_large.c. In other builds these are nothing. */
static inline void *vg_small_out(buddy_block_t *block, void *p)
{
    (void)block;
    HK_VG_MALLOCLIKE(p, (size_t)((char *)block + buddy_order_bytes(block->level) - (char *)p), 0);
    return p;
}

/* A plain block shrunk in place to order level: memcheck's block shrinks first, then the freed
 * upper halves get their headers. */
static inline void small_shrink(buddy_arena_t *arena, buddy_block_t *block, unsigned level)
{
    HK_VG_RESIZE(payload_of(block), buddy_order_bytes(block->level) - BUDDY_HEADER_BYTES,
                 buddy_order_bytes(level) - BUDDY_HEADER_BYTES);
    buddy_shrink_block(arena, block, level);
}

/* HEAPKIT_CHECK=1: after every small allocation and free, the page or chunk involved is walked
 * with the invariant checker (a few thousand blocks at most) and a violation ends the process.
 * Read once, at the first allocation after the environment is readable. */
enum { CHECK_UNREAD, CHECK_OFF, CHECK_ON };
static int checked_mode = CHECK_UNREAD;

static HK_NOINLINE HK_COLD bool checked_mode_read(void)
{
    if (!hk_env_ready()) return false;
    int mode = hk_env_bool("HEAPKIT_CHECK", false) ? CHECK_ON : CHECK_OFF;
    __atomic_store_n(&checked_mode, mode, __ATOMIC_RELAXED);
    return mode == CHECK_ON;
}

static inline bool checked(void)
{
    int mode = __atomic_load_n(&checked_mode, __ATOMIC_RELAXED);
    if (hk_likely(mode == CHECK_OFF)) return false;
    return mode == CHECK_ON || checked_mode_read();
}

/* Called under the arena's lock. */
static HK_NOINLINE HK_COLD void check_after(buddy_arena_t *arena, const void *p, const char *who)
{
    const char *why = NULL;
    if (!buddy_check_around(arena, p, &why))
        hk_fatal("heap corrupted (%s) near %p in %s()", why, p, who);
}

/* The time series (core/series.h): a note per HK_SERIES_STEP_BYTES allocated and freed in an
 * arena, counted under its lock. */
static HK_NOINLINE HK_COLD void series_note(buddy_arena_t *arena)
{
    arena->series_bytes = 0;
    uint64_t live, mapped;
    buddy_series_figures(&live, &mapped);
    hk_series_note(live, mapped);
}

static inline void series_count(buddy_arena_t *arena, unsigned level)
{
    arena->series_bytes += buddy_order_bytes(level);
    if (hk_unlikely(arena->series_bytes >= HK_SERIES_STEP_BYTES)) series_note(arena);
}

/* status: BLOCK_USED, or BLOCK_USED_ALIGNED; set under the lock, since a free of the block's
 * buddy in another thread reads it there. Flattened (as small_free is): the heap's split, merge
 * and checked list operations are inlined into the two, with no call inside the lock. */
static HK_NOINLINE HK_FLATTEN buddy_block_t *small_alloc(unsigned level, uint32_t status)
{
    buddy_arena_t *arena = buddy_arena_acquire();
    buddy_block_t *block = buddy_alloc_block(arena, level);
    if (block) block->status = status;
    arena->malloc_calls++;
    series_count(arena, level);
    if (hk_unlikely(checked()) && block) check_after(arena, block, "malloc");
    buddy_arena_unlock(arena);
    return block;
}

/* The heap profiler (src/prof/prof.h): every allocation counts its bytes down the thread's
 * sampling countdown (hk_prof_due: a subtraction and a branch; the countdown never runs out
 * when the profiler is off). A sampled block is marked, in the spare word of its buddy block's
 * header (BUDDY_MARK_SAMPLED in its cookie mark) or in its large mapping's record, and recorded with its stack; a
 * free or a realloc that finds the mark tells the profiler. All outside the arena locks. */
static HK_NOINLINE HK_COLD void *prof_sample(void *p, size_t size);

static inline void *prof_count(void *p, size_t size)
{
    if (hk_unlikely(hk_prof_due(size)) && p) return prof_sample(p, size);
    return p;
}

/* Blocks above the buddy heap's orders: a mapping each (buddy_large.c). */
static inline void *large_malloc(size_t size, bool zeroed)
{
    if (size > PTRDIFF_MAX) return NULL;
    return prof_count(buddy_large_alloc(size, 0, BUDDY_HEADER_BYTES, zeroed), size);
}

/* The hardened mode's malloc and calloc: one byte more than asked, at least, for the canary. */
static HK_NOINLINE void *hardened_alloc(size_t size, bool zeroed)
{
    if (size <= BUDDY_HARDENED_MAX_SMALL_BYTES) {
        buddy_block_t *block =
            small_alloc(buddy_level_for(size + 1 + BUDDY_HEADER_BYTES), BLOCK_USED);
        if (!block) return NULL;
        void *p = vg_small_out(block, payload_of(block));
        if (zeroed) memset(p, 0, size);
        buddy_harden_small_out(block, p, size);
        return p;
    }
    if (size > PTRDIFF_MAX) return NULL;
    return buddy_large_alloc(size, 0, BUDDY_HEADER_BYTES, zeroed);
}

inline void *hk_engine_malloc(size_t size)
{
    if (hk_unlikely(hk_harden())) return prof_count(hardened_alloc(size, false), size);
    if (hk_likely(size <= BUDDY_MAX_SMALL_BYTES)) {
        buddy_block_t *block = small_alloc(buddy_level_for(size + BUDDY_HEADER_BYTES), BLOCK_USED);
        if (hk_unlikely(block == NULL)) return NULL;
        return prof_count(vg_small_out(block, payload_of(block)), size);
    }
    return large_malloc(size, false);
}

void *hk_engine_calloc(size_t size)
{
    if (hk_unlikely(hk_harden())) return prof_count(hardened_alloc(size, true), size);
    if (size <= BUDDY_MAX_SMALL_BYTES) {
        buddy_block_t *block = small_alloc(buddy_level_for(size + BUDDY_HEADER_BYTES), BLOCK_USED);
        if (!block) return NULL;
        return prof_count(memset(vg_small_out(block, payload_of(block)), 0, size), size);
    }
    return large_malloc(size, true);
}

static uint64_t aligned_calls, realloc_calls, realloc_in_place_large;

/* alignment: a power of two above 16. A buddy block of order 2^k starts at a multiple of 2^k
 * in its (aligned) page or chunk, so in a block of at least alignment + size bytes the payload sits
 * at block + alignment, with a 16-byte inner tag before it that points back to the block. */
void *hk_engine_aligned(size_t alignment, size_t size)
{
    hk_stat_add(&aligned_calls, 1);
    if (size > PTRDIFF_MAX || alignment > PTRDIFF_MAX) return NULL;
    bool hardened = hk_harden();
    /* Hardened: one byte of canary at least. */
    size_t room = size + hardened < BUDDY_HEADER_BYTES ? BUDDY_HEADER_BYTES : size + hardened;
    if (alignment <= BUDDY_MAX_BLOCK_BYTES / 2 && room <= BUDDY_MAX_BLOCK_BYTES - alignment) {
        buddy_block_t *block = small_alloc(buddy_level_for(alignment + room), BLOCK_USED_ALIGNED);
        if (!block) return NULL;
        char *payload = (char *)block + alignment;
        buddy_block_t *tag = (buddy_block_t *)(payload - BUDDY_HEADER_BYTES);
        HK_VG_UNDEFINED(tag, BUDDY_HEADER_BYTES); /* may lie in a freed, no-access payload */
        tag->status = TAG_ALIGNED;
        tag->level = block->level;
        buddy_link_set(&tag->next, block);
        vg_small_out(block, payload);
        if (hardened) buddy_harden_small_out(block, payload, size);
        return prof_count(payload, size);
    }
    return prof_count(buddy_large_alloc(size, 0, alignment, false), size);
}

/* ---- Finding and checking a block from a pointer -------------------------------------------- */

static HK_NOINLINE HK_COLD void report_invalid(const void *p, const char *who)
{
    hk_misuse(HK_MISUSE_INVALID_POINTER, p, who);
}

static HK_NOINLINE HK_COLD void report_freed(const void *p, const char *who)
{
    /* A free of a freed block is a double free; any other use of one (realloc, usable size) is
     * a use after free. */
    bool freeing = strcmp(who, "realloc") != 0 && strcmp(who, "malloc_usable_size") != 0;
    hk_misuse(freeing ? HK_MISUSE_DOUBLE_FREE : HK_MISUSE_USE_AFTER_FREE, p, who);
}

static inline bool is_freed_status(uint32_t status)
{
    return status == BLOCK_FREE || status == BLOCK_MERGED || status == TAG_ALIGNED_FREED ||
           status == TAG_LARGE_FREED || status == BLOCK_QUARANTINED;
}

/* A block header we may trust: our magic, a level in range, at a multiple of its size inside its
 * page (heap) or past the chunk header and below the frontier (chunk), with its cookie. */
static inline bool block_is_sound(uint8_t page_kind, const buddy_block_t *block)
{
    if (page_kind == PAGE_SMALL_HEAP) {
        if (block->level >= BUDDY_ORDERS ||
            ((uintptr_t)block & (buddy_order_bytes(block->level) - 1)) != 0)
            return false;
    } else if (!buddy_chunk_block_is_sound(buddy_chunk_of(block), block)) {
        return false;
    }
    return buddy_cookie_sound(block);
}

/* Whether the aligned block and its inner tag share one page or chunk. */
static inline bool same_container(uint8_t page_kind, const void *a, const void *b)
{
    if (page_kind == PAGE_SMALL_HEAP) return buddy_page_of(a) == buddy_page_of(b);
    return buddy_chunk_of(a) == buddy_chunk_of(b);
}

static inline buddy_found_t find_block(const void *p, const char *who)
{
    buddy_block_t *tag = (buddy_block_t *)((char *)p - BUDDY_HEADER_BYTES);
    uint8_t entry =
        ((uintptr_t)p & (BUDDY_HEADER_BYTES - 1)) == 0 ? buddy_pagemap_get(tag) : PAGE_NOT_OURS;
    uint8_t kind = buddy_page_kind(entry);
    if (hk_likely(kind == PAGE_SMALL_HEAP || kind == PAGE_SMALL_CHUNK)) {
        buddy_arena_t *arena = kind == PAGE_SMALL_HEAP ? &buddy_arenas[buddy_page_arena(entry)]
                                                       : buddy_chunk_of(tag)->arena;
        uint32_t status = tag->status;
        if (hk_likely(status == BLOCK_USED) && block_is_sound(kind, tag))
            return (buddy_found_t){FOUND_SMALL, tag, tag, arena};
        if (status == TAG_ALIGNED) {
            buddy_block_t *block = buddy_link_get(&tag->next);
            if (same_container(kind, block, tag) && block < tag && block_is_sound(kind, block) &&
                block->status == BLOCK_USED_ALIGNED && block->level == tag->level)
                return (buddy_found_t){FOUND_ALIGNED, block, tag, arena};
        }
        if (is_freed_status(status)) report_freed(p, who);
    } else if (kind == PAGE_LARGE_TAG) {
        if (tag->status == TAG_LARGE && tag->level == LEVEL_LARGE && buddy_large_tag_sound(tag))
            return (buddy_found_t){FOUND_LARGE, tag, tag, NULL};
        if (tag->status == TAG_LARGE_FREED) report_freed(p, who);
    }
    report_invalid(p, who);
    __builtin_unreachable();
}

/* Whether the block was handed out in the hardened mode (so it has a canary to check). */
static inline bool is_hardened(buddy_found_t found)
{
    if (found.kind == FOUND_LARGE) return buddy_large_asked_plus_one(found.tag) != 0;
    return (buddy_mark(found.block) & ~BUDDY_MARK_SAMPLED) != 0;
}

/* Frees a buddy block under its owner's lock, checking its status there so that two threads
 * freeing one block cannot both succeed. In the hardened mode the block goes to the quarantine
 * instead (buddy_harden.c). */
static HK_FLATTEN void small_free(const void *p, buddy_found_t found, const char *who)
{
    buddy_arena_t *arena = found.arena;
    uint32_t expected = found.kind == FOUND_ALIGNED ? BLOCK_USED_ALIGNED : BLOCK_USED;
    buddy_arena_lock(arena);
    if (hk_unlikely(found.block->status != expected)) report_freed(p, who);
    if (found.kind == FOUND_ALIGNED) found.tag->status = TAG_ALIGNED_FREED;
    series_count(arena, found.block->level);
    arena->free_calls++;
    if (hk_unlikely(hk_harden())) {
        buddy_harden_quarantine(arena, found.block, who);
        buddy_arena_unlock(arena);
        return;
    }
    bool still_ours = buddy_free_block(arena, found.block);
    if (hk_unlikely(checked()) && still_ours) check_after(arena, found.block, who);
    buddy_arena_unlock(arena);
}

/* The bytes usable at p: what the block holds, or in the hardened mode exactly what was asked
 * (the rest is canary). */
static size_t usable_of(const void *p, buddy_found_t found)
{
    size_t asked;
    if (hk_unlikely(hk_harden()) && buddy_harden_asked(p, found, &asked)) return asked;
    switch (found.kind) {
    case FOUND_SMALL:
        return buddy_order_bytes(found.block->level) - BUDDY_HEADER_BYTES;
    case FOUND_ALIGNED:
        return (size_t)((const char *)found.block + buddy_order_bytes(found.block->level) -
                        (const char *)p);
    case FOUND_LARGE:
        return buddy_large_usable(found.tag);
    }
    return 0;
}

/* ---- Sampled blocks (the profiler) --------------------------------------------------------- */

static inline bool is_sampled(buddy_found_t found)
{
    return found.kind == FOUND_LARGE ? buddy_large_sampled(found.tag)
                                     : (buddy_mark(found.block) & BUDDY_MARK_SAMPLED) != 0;
}

static void set_sampled(buddy_found_t found, bool sampled)
{
    if (found.kind == FOUND_LARGE)
        buddy_large_set_sampled(found.tag, sampled);
    else
        buddy_cookie_set(found.block, (buddy_mark(found.block) & ~BUDDY_MARK_SAMPLED) |
                                          (sampled ? BUDDY_MARK_SAMPLED : 0));
}

static HK_NOINLINE HK_COLD void *prof_sample(void *p, size_t size)
{
    buddy_found_t found = find_block(p, "malloc");
    set_sampled(found, true);
    hk_prof_sampled(p, size, usable_of(p, found));
    return p;
}

/* A sampled block is about to be freed (or moved by realloc): the profiler forgets it first,
 * while the block is still allocated (its address cannot be handed out and sampled meanwhile). */
static HK_NOINLINE HK_COLD void prof_forget(void *p, buddy_found_t found)
{
    set_sampled(found, false);
    hk_prof_freed(p);
}

/* A block resized in place keeps its sampling: nothing goes down the countdown, and a sampled
 * one has its record's size updated (prof.h says why the estimate stays unbiased). */
static inline void *prof_resized_in_place(void *p, buddy_found_t found, size_t size)
{
    if (hk_unlikely(is_sampled(found))) hk_prof_resized(p, size, usable_of(p, found));
    return p;
}

/* Frees a found block, small or large. */
static inline void free_found(void *p, buddy_found_t found, const char *who)
{
    if (hk_unlikely(is_sampled(found))) prof_forget(p, found);
    /* Only a hardened mode hands out blocks with canaries (the mode never changes once read). */
    if (hk_unlikely(hk_harden()) && is_hardened(found)) buddy_harden_check(p, found, who);
    HK_VG_FREELIKE(p);
    if (hk_likely(found.kind != FOUND_LARGE))
        small_free(p, found, who);
    else
        buddy_large_free(found.tag);
}

inline void hk_engine_free(void *p, const char *who)
{
    if (hk_unlikely(p == NULL)) return;
    free_found(p, find_block(p, who), who);
}

size_t hk_engine_usable_size(const void *p, const char *who)
{
    return usable_of(p, find_block(p, who));
}

bool hk_engine_size_matches(const void *p, size_t size, const char *who)
{
    buddy_found_t found = find_block(p, who);
    size_t asked;
    /* Hardened: exactly the size asked; otherwise no more than the block holds. */
    if (hk_harden() && buddy_harden_asked(p, found, &asked)) return size == asked;
    return size <= usable_of(p, found);
}

/* ---- realloc -------------------------------------------------------------------------------- */

/* A large block that grows by realloc is mapped with half as much again: a block grown
 * step by step (a vector, a string builder) then moves O(log n) times instead of at every
 * step, and the untouched headroom costs address space, not memory. */
#define LARGE_GROWTH_HEADROOM_DIVISOR 2

static void *realloc_move(void *p, buddy_found_t found, size_t usable, size_t size, const char *who)
{
    void *q = NULL;
    if (size > BUDDY_MAX_SMALL_BYTES && size > usable && found.kind == FOUND_LARGE)
        q = prof_count(buddy_large_alloc(size, size / LARGE_GROWTH_HEADROOM_DIVISOR,
                                         BUDDY_HEADER_BYTES, false),
                       size);
    if (!q) q = hk_engine_malloc(size);
    if (!q) return NULL;
    memcpy(q, p, usable < size ? usable : size);
    free_found(p, found, who);
    return q;
}

/* The hardened mode's realloc: the canary is checked first; a block stays in place while the
 * size fits with a byte of canary to spare (the canary is rewritten behind the new size), and
 * otherwise moves, the old block going to the quarantine. */
static HK_NOINLINE void *hardened_realloc(void *p, buddy_found_t found, size_t size,
                                          const char *who)
{
    size_t usable = usable_of(p, found);
    if (is_hardened(found)) buddy_harden_check(p, found, who);
    if (found.kind != FOUND_LARGE && size <= BUDDY_HARDENED_MAX_SMALL_BYTES) {
        char *end = (char *)found.block + buddy_order_bytes(found.block->level);
        if ((size_t)(end - (char *)p) > size) {
            buddy_arena_lock(found.arena);
            if (hk_unlikely(found.block->status !=
                            (found.kind == FOUND_ALIGNED ? BLOCK_USED_ALIGNED : BLOCK_USED)))
                report_freed(p, who);
            /* A plain block that halves gives back its upper halves, as in the default mode. */
            unsigned level = buddy_level_for(size + 1 + BUDDY_HEADER_BYTES);
            if (found.kind == FOUND_SMALL && level < found.block->level)
                small_shrink(found.arena, found.block, level);
            found.arena->realloc_in_place++;
            buddy_harden_small_out(found.block, p, size);
            buddy_arena_unlock(found.arena);
            return p;
        }
    } else if (found.kind == FOUND_LARGE && size > BUDDY_HARDENED_MAX_SMALL_BYTES &&
               is_hardened(found) && buddy_large_end(found.tag) - (char *)p > (ptrdiff_t)size) {
        if (size <= usable / 2) buddy_large_shrink(found.tag, size + 1);
        buddy_harden_large_out(found.tag, p, size);
        hk_stat_add(&realloc_in_place_large, 1);
        return p;
    }
    return realloc_move(p, found, usable, size, who);
}

void *hk_engine_realloc(void *p, size_t size, const char *who)
{
    hk_stat_add(&realloc_calls, 1);
    buddy_found_t found = find_block(p, who);
    if (size > PTRDIFF_MAX) return NULL;
    if (hk_unlikely(hk_harden())) return hardened_realloc(p, found, size, who);
    size_t usable = usable_of(p, found);
    if (found.kind == FOUND_SMALL && size <= BUDDY_MAX_SMALL_BYTES) {
        /* Same order: nothing to do; a lower order: give back the upper halves. */
        unsigned level = buddy_level_for(size + BUDDY_HEADER_BYTES);
        buddy_arena_t *arena = found.arena;
        if (level > found.block->level) return realloc_move(p, found, usable, size, who);
        buddy_arena_lock(arena);
        if (hk_unlikely(found.block->status != BLOCK_USED)) report_freed(p, who);
        if (level < found.block->level) small_shrink(arena, found.block, level);
        arena->realloc_in_place++;
        if (hk_unlikely(checked())) check_after(arena, found.block, who);
        buddy_arena_unlock(arena);
        return prof_resized_in_place(p, found, size);
    }
    if (found.kind == FOUND_ALIGNED && size <= usable) return prof_resized_in_place(p, found, size);
    if (found.kind == FOUND_LARGE && size <= usable && size > BUDDY_MAX_SMALL_BYTES) {
        /* Keep growth headroom; give back the tail when the block halves. */
        if (size <= usable / 2) buddy_large_shrink(found.tag, size);
        hk_stat_add(&realloc_in_place_large, 1);
        return prof_resized_in_place(p, found, size);
    }
    return realloc_move(p, found, usable, size, who);
}

/* ---- Heap walk ------------------------------------------------------------------------------ */

bool hk_engine_walk(hk_block_visitor_t visitor, void *arg, int max_level)
{
    return buddy_walk(visitor, arg, max_level);
}

/* ---- Trim, statistics ----------------------------------------------------------------------- */

bool hk_engine_trim(size_t pad)
{
    (void)pad;
    bool released = buddy_large_trim();
    unsigned count = buddy_arena_count();
    for (unsigned i = 0; i < count; i++) {
        buddy_arena_t *arena = &buddy_arenas[i];
        buddy_arena_lock(arena);
        buddy_harden_flush(arena, "malloc_trim");
        released |= buddy_release_idle(arena);
        buddy_arena_unlock(arena);
    }
    /* Empty pages are in the heap's pool now: their memory goes back to the kernel. */
    released |= buddy_sbrk_trim();
    return released;
}

#define BUDDY_STATS(X)                                                                             \
    X(malloc_calls, "blocks allocated (small and large)")                                          \
    X(free_calls, "blocks freed (small and large)")                                                \
    X(realloc_calls, "calls to realloc")                                                           \
    X(realloc_in_place, "reallocs answered without moving")                                        \
    X(aligned_calls, "aligned allocations")                                                        \
    X(arenas, "arenas available")                                                                  \
    X(arenas_used, "arenas that hold pages or chunks")                                             \
    X(sbrk_pages, "pages the break has given the heap")                                            \
    X(sbrk_pages_held, "of those, pages held by arenas")                                           \
    X(sbrk_pages_pooled, "of those, empty pages in the heap's pool")                               \
    X(sbrk_pages_resident, "of the pooled pages, those not yet given back with madvise")           \
    X(sbrk_pages_returned, "times an arena gave an empty page back to the pool")                   \
    X(sbrk_failed, "1 once the break could not grow (arenas then use chunks)")                     \
    X(chunks, "64 KiB heap chunks mapped now")                                                     \
    X(chunks_released, "heap chunks given back")                                                   \
    X(heap_bytes_mapped, "bytes of sbrk pages and chunks the heap holds")                          \
    X(heap_bytes_in_use, "bytes of buddy blocks in use (headers included)")                        \
    X(heap_bytes_free, "bytes of buddy blocks in free lists")                                      \
    X(large_in_use, "mapped large blocks in use")                                                  \
    X(large_bytes_in_use, "bytes mapped for large blocks in use")                                  \
    X(large_below_128k, "of those, asked below 128 KiB (mallinfo2 counts them as heap)")           \
    X(large_below_128k_bytes, "bytes mapped for those")                                            \
    X(large_cached, "freed large mappings kept for reuse")                                         \
    X(large_cached_bytes, "bytes of those")                                                        \
    X(large_cache_hits, "large allocations served from the cache")                                 \
    X(large_shrunk, "large blocks shrunk in place")

enum { BUDDY_STATS(HK_STAT_ENUM) BUDDY_STAT_COUNT };
static const hk_stat_desc_t buddy_stat_desc[] = {BUDDY_STATS(HK_STAT_DESC)};

#define ORDER_DESC(bytes)                                                                          \
    {"used_" #bytes, "blocks of " #bytes " bytes in use"},                                         \
        {"free_" #bytes, "blocks of " #bytes " bytes free"},
static const hk_stat_desc_t order_desc[] = {ORDER_DESC(32) ORDER_DESC(64) ORDER_DESC(
    128) ORDER_DESC(256) ORDER_DESC(512) ORDER_DESC(1024) ORDER_DESC(2048)};
_Static_assert(HK_ARRAY_LEN(order_desc) == 2 * BUDDY_ORDERS, "one used/free pair per order");

/* Sums the arenas (each under its own lock, one at a time) and the large-block figures. */
static void collect(uint64_t *values, uint64_t *orders)
{
    memset(values, 0, BUDDY_STAT_COUNT * sizeof *values);
    memset(orders, 0, 2 * BUDDY_ORDERS * sizeof *orders);
    unsigned count = buddy_arena_count();
    for (unsigned i = 0; i < count; i++) {
        buddy_arena_t *arena = &buddy_arenas[i];
        buddy_arena_lock(arena);
        values[STAT_malloc_calls] += arena->malloc_calls;
        values[STAT_free_calls] += arena->free_calls;
        values[STAT_realloc_in_place] += arena->realloc_in_place;
        values[STAT_arenas_used] += arena->chunk_count + arena->heap_pages != 0;
        values[STAT_sbrk_pages_held] += arena->heap_pages;
        values[STAT_sbrk_pages_returned] += arena->pages_returned;
        values[STAT_chunks] += arena->chunk_count;
        values[STAT_chunks_released] += arena->chunks_released;
        for (unsigned level = 0; level < BUDDY_ORDERS; level++) {
            orders[2 * level] += arena->used_blocks[level];
            orders[2 * level + 1] += arena->free_blocks[level];
            values[STAT_heap_bytes_in_use] += arena->used_blocks[level] * buddy_order_bytes(level);
            values[STAT_heap_bytes_free] += arena->free_blocks[level] * buddy_order_bytes(level);
        }
        buddy_arena_unlock(arena);
    }
    buddy_large_stats_t large;
    buddy_large_stats(&large);
    values[STAT_malloc_calls] += large.allocs;
    values[STAT_free_calls] += large.frees;
    values[STAT_realloc_calls] = __atomic_load_n(&realloc_calls, __ATOMIC_RELAXED);
    values[STAT_realloc_in_place] += __atomic_load_n(&realloc_in_place_large, __ATOMIC_RELAXED);
    values[STAT_aligned_calls] = __atomic_load_n(&aligned_calls, __ATOMIC_RELAXED);
    values[STAT_arenas] = count;
    buddy_sbrk_stats_t sbrk;
    buddy_sbrk_stats(&sbrk);
    values[STAT_sbrk_pages] = sbrk.pages;
    values[STAT_sbrk_pages_pooled] = sbrk.pooled;
    values[STAT_sbrk_pages_resident] = sbrk.pooled_resident;
    values[STAT_sbrk_failed] = sbrk.brk_failed;
    values[STAT_heap_bytes_mapped] =
        values[STAT_chunks] * BUDDY_CHUNK_BYTES + sbrk.pages * BUDDY_PAGE_BYTES;
    values[STAT_large_in_use] = large.live;
    values[STAT_large_bytes_in_use] = large.live_bytes;
    values[STAT_large_below_128k] = large.live_small;
    values[STAT_large_below_128k_bytes] = large.live_small_bytes;
    values[STAT_large_cached] = large.cached;
    values[STAT_large_cached_bytes] = large.cached_bytes;
    values[STAT_large_cache_hits] = large.cache_hits;
    values[STAT_large_shrunk] = large.shrunk;
}

void hk_engine_mallinfo(struct mallinfo2 *out)
{
    uint64_t values[BUDDY_STAT_COUNT], orders[2 * BUDDY_ORDERS];
    collect(values, orders);
    size_t free_count = 0;
    for (unsigned level = 0; level < BUDDY_ORDERS; level++)
        free_count += orders[2 * level + 1];
    /* As glibc: blocks asked below its mmap threshold are the heap (arena, uordblks), whether
     * they came from the buddy heap or from their own mapping; bigger ones are hblks/hblkhd. */
    uint64_t heap_like = values[STAT_large_below_128k_bytes];
    out->arena = values[STAT_heap_bytes_mapped] + heap_like;
    out->ordblks = free_count;
    out->hblks = values[STAT_large_in_use] - values[STAT_large_below_128k];
    out->hblkhd = values[STAT_large_bytes_in_use] - heap_like;
    out->uordblks = values[STAT_heap_bytes_in_use] + heap_like;
    out->fordblks = values[STAT_heap_bytes_free] + values[STAT_large_cached_bytes];
    out->keepcost = 0;
}

void hk_engine_stats_print(int fd, bool json)
{
    uint64_t values[BUDDY_STAT_COUNT], orders[2 * BUDDY_ORDERS];
    collect(values, orders);
    char buf[6144];
    size_t used = 0, cap = sizeof buf;
#define APPEND(call) used += (call), used = used < cap ? used : cap - 1
    if (json) {
        APPEND(hk_snprintf(buf + used, cap - used, "{\"engine\": \"%s\", ", hk_engine_name));
        APPEND(hk_stats_json(buf + used, cap - used, "buddy", buddy_stat_desc, values,
                             BUDDY_STAT_COUNT));
        APPEND(hk_snprintf(buf + used, cap - used, ", "));
        APPEND(hk_stats_json(buf + used, cap - used, "orders", order_desc, orders,
                             HK_ARRAY_LEN(order_desc)));
        APPEND(hk_snprintf(buf + used, cap - used, ", "));
        APPEND(hk_stats_sys_json(buf + used, cap - used));
        APPEND(hk_snprintf(buf + used, cap - used, "}\n"));
    } else {
        APPEND(hk_stats_text(buf + used, cap - used, "buddy", buddy_stat_desc, values,
                             BUDDY_STAT_COUNT));
        APPEND(hk_stats_text(buf + used, cap - used, "orders", order_desc, orders,
                             HK_ARRAY_LEN(order_desc)));
        APPEND(hk_stats_sys_text(buf + used, cap - used));
    }
#undef APPEND
    hk_write_all(fd, buf, used);
}
