/* The heap walk (core/walk.h): the engine's memory as segments, pages and blocks, for
 * hk_engine_walk, the heap map and the dump set.
 *
 *   segment "sbrk heap"   the break's area that holds our pages, [lo, hi)
 *     page "heap page"    a 4 KiB page of an arena (used, or free: empty but kept)
 *       blocks            its buddy blocks, used or free
 *     page "pooled page"  an empty page in the heap's pool: cached (resident) or purged
 *   segment "chunk"       a 64 KiB chunk (cached when empty and kept for reuse)
 *     page "chunk page"   each 4 KiB below the chunk's frontier, then its blocks
 *     page "untouched"    the chunk beyond its frontier, never handed out (purged: no memory)
 *   segment "large block" one mapping, with one page and one block spanning it
 *   segment "cached large mapping"
 *
 * Blocks: size = the block's bytes (header included), block_size = usable bytes, size_class =
 * the order as a power of two (5 for 32-byte blocks ... 11 for 2048). Segments count bytes
 * (used_blocks = bytes of blocks in use, free_blocks = bytes of free blocks); pages count blocks.
 *
 * The small blocks are walked with every arena's lock held, in index order, and then the heap's
 * lock (the order fork takes them in), so the figures add up to what the statistics say; the
 * large mappings after that, under their own lock. Nothing here allocates. */
#include "core/walk.h"
#include "buddy/buddy.h"

#include "os/sys.h"

typedef struct {
    hk_block_visitor_t visitor;
    void *arg;
    int max_level;
} walk_t;

typedef struct {
    size_t used_bytes, free_bytes;   /* bytes of blocks in use / free */
    size_t used_blocks, free_blocks; /* blocks in use / free */
} tally_t;

static bool emit(walk_t *walk, hk_level_t level, hk_state_t state, uint32_t size_class,
                 uintptr_t address, size_t size, size_t block_size, size_t used, size_t free,
                 const char *label)
{
    if ((int)level > walk->max_level) return true;
    return hk_walk_visit(walk->visitor, walk->arg, level, state, size_class, address, size,
                         block_size, used, free, label);
}

static bool block_in_use(const buddy_block_t *block)
{
    return block->status == BLOCK_USED || block->status == BLOCK_USED_ALIGNED;
}

/* Counts the blocks of [start, end) (whole blocks, each aligned to its order). */
static void tally_blocks(uintptr_t start, uintptr_t end, tally_t *tally)
{
    for (uintptr_t at = start; at < end;) {
        const buddy_block_t *block = (const buddy_block_t *)at;
        size_t bytes = buddy_order_bytes(block->level);
        if (block_in_use(block)) {
            tally->used_bytes += bytes;
            tally->used_blocks++;
        } else {
            tally->free_bytes += bytes;
            tally->free_blocks++;
        }
        at += bytes;
    }
}

/* A page (or the used part of one) and, when asked, its blocks. */
static bool walk_page(walk_t *walk, uintptr_t start, uintptr_t end, const char *label)
{
    tally_t tally = {0};
    tally_blocks(start, end, &tally);
    if (!emit(walk, HK_LEVEL_PAGE, tally.used_blocks ? HK_STATE_USED : HK_STATE_FREE, 0, start,
              end - start, 0, tally.used_blocks, tally.free_blocks, label))
        return false;
    if (walk->max_level < HK_LEVEL_BLOCK) return true;
    for (uintptr_t at = start; at < end;) {
        const buddy_block_t *block = (const buddy_block_t *)at;
        size_t bytes = buddy_order_bytes(block->level);
        if (!emit(walk, HK_LEVEL_BLOCK, block_in_use(block) ? HK_STATE_USED : HK_STATE_FREE,
                  BUDDY_MIN_SHIFT + block->level, at, bytes, bytes - BUDDY_HEADER_BYTES, 0, 0,
                  "block"))
            return false;
        at += bytes;
    }
    return true;
}

/* ---- The sbrk heap ------------------------------------------------------------------------- */

static bool is_arena_page(uintptr_t page)
{
    return buddy_page_kind(buddy_pagemap_get((const void *)page)) == PAGE_SMALL_HEAP;
}

static bool walk_pooled_page(uintptr_t page, bool resident, void *arg)
{
    return emit(arg, HK_LEVEL_PAGE, resident ? HK_STATE_CACHED : HK_STATE_PURGED, 0, page,
                BUDDY_PAGE_BYTES, 0, 0, 0, "pooled page");
}

static bool walk_sbrk_heap(walk_t *walk)
{
    uintptr_t lo = __atomic_load_n(&buddy_sbrk_lo, __ATOMIC_ACQUIRE);
    uintptr_t hi = __atomic_load_n(&buddy_sbrk_hi, __ATOMIC_ACQUIRE);
    if (lo >= hi) return true;
    tally_t tally = {0};
    for (uintptr_t page = lo; page < hi; page += BUDDY_PAGE_BYTES)
        if (is_arena_page(page)) tally_blocks(page, page + BUDDY_PAGE_BYTES, &tally);
    if (!emit(walk, HK_LEVEL_SEGMENT, HK_STATE_USED, 0, lo, hi - lo, 0, tally.used_bytes,
              tally.free_bytes, "sbrk heap"))
        return false;
    if (walk->max_level < HK_LEVEL_PAGE) return true;
    for (uintptr_t page = lo; page < hi; page += BUDDY_PAGE_BYTES)
        if (is_arena_page(page) && !walk_page(walk, page, page + BUDDY_PAGE_BYTES, "heap page"))
            return false;
    return buddy_sbrk_each_pooled(walk_pooled_page, walk);
}

/* ---- Chunks -------------------------------------------------------------------------------- */

static bool walk_chunk(walk_t *walk, const buddy_chunk_t *chunk)
{
    uintptr_t start = (uintptr_t)chunk;
    /* The header's own 64-byte block is neither handed out nor free: not counted. */
    uintptr_t first = start + buddy_order_bytes(CHUNK_HEADER_LEVEL);
    uintptr_t frontier = start + chunk->frontier;
    tally_t tally = {0};
    tally_blocks(first, frontier, &tally);
    if (!emit(walk, HK_LEVEL_SEGMENT, chunk->live_blocks ? HK_STATE_USED : HK_STATE_CACHED, 0,
              start, BUDDY_CHUNK_BYTES, 0, tally.used_bytes, tally.free_bytes, "chunk"))
        return false;
    if (walk->max_level < HK_LEVEL_PAGE) return true;
    for (uintptr_t page = start; page < frontier; page += BUDDY_PAGE_BYTES) {
        uintptr_t from = page == start ? first : page;
        uintptr_t to = page + BUDDY_PAGE_BYTES < frontier ? page + BUDDY_PAGE_BYTES : frontier;
        if (!walk_page(walk, from, to, "chunk page")) return false;
    }
    if (frontier < start + BUDDY_CHUNK_BYTES &&
        !emit(walk, HK_LEVEL_PAGE, HK_STATE_PURGED, 0, frontier,
              start + BUDDY_CHUNK_BYTES - frontier, 0, 0, 0, "untouched"))
        return false;
    return true;
}

static bool walk_chunks(walk_t *walk, unsigned arenas)
{
    for (unsigned i = 0; i < arenas; i++)
        for (const buddy_chunk_t *chunk = buddy_arenas[i].chunks; chunk; chunk = chunk->next)
            if (!walk_chunk(walk, chunk)) return false;
    return true;
}

/* ---- Large mappings ------------------------------------------------------------------------ */

static bool walk_large(const buddy_large_view_t *view, void *arg)
{
    walk_t *walk = arg;
    if (view->cached)
        return emit(walk, HK_LEVEL_SEGMENT, HK_STATE_CACHED, 0, view->start, view->length, 0, 0,
                    view->length, "cached large mapping");
    return emit(walk, HK_LEVEL_SEGMENT, HK_STATE_USED, 0, view->start, view->length, 0,
                view->length, 0, "large block") &&
           emit(walk, HK_LEVEL_PAGE, HK_STATE_USED, 0, view->start, view->length, view->usable, 1,
                0, "large block") &&
           emit(walk, HK_LEVEL_BLOCK, HK_STATE_USED, 0, view->payload, view->usable, view->usable,
                0, 0, "large block");
}

/* ---- The walk ------------------------------------------------------------------------------ */

bool buddy_walk(hk_block_visitor_t visitor, void *arg, int max_level)
{
    walk_t walk = {visitor, arg, max_level};
    unsigned arenas = buddy_arena_count();
    for (unsigned i = 0; i < arenas; i++)
        buddy_arena_lock(&buddy_arenas[i]);
    buddy_sbrk_lock();
    bool complete = walk_sbrk_heap(&walk) && walk_chunks(&walk, arenas);
    buddy_sbrk_unlock();
    for (unsigned i = arenas; i-- > 0;)
        buddy_arena_unlock(&buddy_arenas[i]);
    return complete && buddy_large_walk(walk_large, &walk);
}

/* ---- Time-series figures ------------------------------------------------------------------- */

void hk_engine_series_figures(uint64_t *live_bytes, uint64_t *held_bytes)
{
    buddy_series_figures(live_bytes, held_bytes);
}

void buddy_series_figures(uint64_t *live_bytes, uint64_t *mapped_bytes)
{
    uint64_t live = 0, chunks = 0;
    unsigned arenas = buddy_arena_count();
    for (unsigned i = 0; i < arenas; i++) {
        const buddy_arena_t *arena = &buddy_arenas[i];
        for (unsigned level = 0; level < BUDDY_ORDERS; level++)
            live += __atomic_load_n(&arena->used_blocks[level], __ATOMIC_RELAXED) *
                    buddy_order_bytes(level);
        chunks += __atomic_load_n(&arena->chunk_count, __ATOMIC_RELAXED);
    }
    buddy_large_stats_t large;
    buddy_large_stats(&large);
    *live_bytes = live + large.live_bytes;
    *mapped_bytes = buddy_sbrk_pages_relaxed() * BUDDY_PAGE_BYTES + chunks * BUDDY_CHUNK_BYTES +
                    large.live_bytes;
}
