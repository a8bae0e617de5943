/* The buddy heap of one arena (spec 003): seven orders of 32..2048-byte blocks in doubly linked
 * free lists (buddy.h), split on allocation, merged with the buddy on free, and the invariant
 * checker. Every function here runs under the arena's lock.
 *
 * Blocks live in pages of the one sbrk heap (buddy_sbrk.c), the default, or in 64 KiB mapped
 * chunks (buddy_chunks.c). Either is aligned to at least the top order's 2048 bytes and a block
 * of order i starts at a multiple of its size, so its buddy is at address ^ size and a block of
 * order >= k is aligned to 2^k. A page is the root of its own tree: two top-order blocks that
 * never merge further. It is empty when both are free, which the heap notices when a free
 * merges up to the top order, so no per-page count is kept; an arena keeps a few empty pages
 * and gives the rest back to the heap's pool. Chunks count their live blocks instead. */
#include "buddy/buddy.h"

#define TOP_LEVEL (BUDDY_ORDERS - 1)

/* ---- Pages of the sbrk heap ---------------------------------------------------------------- */

/* The other top-order half of the page holding a top-order block. */
static inline buddy_block_t *page_mate(const buddy_block_t *block)
{
    return buddy_of(block, TOP_LEVEL);
}

static inline bool is_free_top(const buddy_block_t *block)
{
    return block->status == BLOCK_FREE && block->level == TOP_LEVEL;
}

/* A page from the heap: its upper half goes to the free list, its lower half is returned as a
 * top-order block. */
static buddy_block_t *page_carve(buddy_arena_t *arena)
{
    char *page = buddy_sbrk_take_page(arena);
    if (!page) return NULL;
    arena->heap_pages++;
    buddy_list_push(arena, (buddy_block_t *)(page + BUDDY_MAX_BLOCK_BYTES), TOP_LEVEL);
    buddy_block_t *lower = (buddy_block_t *)page;
    lower->status = BLOCK_USED; /* a pooled page may still say FREE from its last owner */
    lower->level = TOP_LEVEL;
    return lower;
}

/* The page of block (top order, about to be listed) has just become empty: the arena keeps it
 * (true) or gives it to the heap's pool (false: block is no longer the arena's). */
static HK_NOINLINE bool page_emptied(buddy_arena_t *arena, buddy_block_t *block)
{
    if (arena->empty_pages < BUDDY_EMPTY_PAGES_KEPT) {
        arena->empty_pages++;
        return true;
    }
    buddy_block_t *mate = page_mate(block);
    buddy_list_remove(arena, mate, TOP_LEVEL, "free");
    block->status = BLOCK_FREE;
    if (!buddy_sbrk_give_page(buddy_page_of(block))) {
        buddy_list_push(arena, mate, TOP_LEVEL);
        arena->empty_pages++;
        return true;
    }
    arena->heap_pages--;
    arena->pages_returned++;
    return false;
}

/* A fresh top-order block: from a heap page unless chunks are asked for or the break cannot
 * grow, else from a chunk. */
static HK_NOINLINE buddy_block_t *refill(buddy_arena_t *arena)
{
    if (!buddy_use_chunks()) {
        buddy_block_t *block = page_carve(arena);
        if (block) return block;
    }
    return buddy_chunk_carve(arena);
}

/* ---- Split and merge ----------------------------------------------------------------------- */

buddy_block_t *buddy_alloc_block(buddy_arena_t *arena, unsigned level)
{
    unsigned found = level;
    while (found < BUDDY_ORDERS && !arena->free_list[found])
        found++;
    buddy_block_t *block;
    if (found < BUDDY_ORDERS) {
        block = arena->free_list[found];
        buddy_list_remove(arena, block, found, "malloc");
        /* Half of an empty page taken: the page is no longer empty. */
        if (found == TOP_LEVEL && buddy_in_sbrk_heap(block) && is_free_top(page_mate(block)))
            arena->empty_pages--;
    } else {
        found = TOP_LEVEL;
        block = refill(arena);
        if (!block) return NULL;
    }
    /* Split: keep the lower half, free the upper half, until the order fits. */
    while (found > level) {
        found--;
        buddy_list_push(arena, (buddy_block_t *)((char *)block + buddy_order_bytes(found)), found);
    }
    block->status = BLOCK_USED;
    block->level = level;
    buddy_cookie_set(block, 0);
    HK_RELAXED_ADD(&arena->used_blocks[level], 1);
    if (!buddy_in_sbrk_heap(block)) buddy_chunk_block_taken(arena, block);
    return block;
}

bool buddy_free_block(buddy_arena_t *arena, buddy_block_t *block)
{
    unsigned level = block->level;
    HK_RELAXED_ADD(&arena->used_blocks[level], -1);
    while (level < TOP_LEVEL) {
        buddy_block_t *buddy = buddy_of(block, level);
        uint32_t status = buddy->status, buddy_level = buddy->level;
        if (status != BLOCK_FREE || buddy_level != level) {
            /* Not mergeable; but what is there must be a header (an overflow of the block
             * below may have reached it). */
            if (hk_unlikely(!buddy_neighbour_sound(status, buddy_level, level)))
                buddy_report_header(buddy, "free");
            break;
        }
        buddy_list_remove(arena, buddy, level, "free");
        /* The upper one of the pair stops being a block; a stale free of it reads MERGED. */
        if (buddy < block) {
            block->status = BLOCK_MERGED;
            block = buddy;
        } else {
            buddy->status = BLOCK_MERGED;
        }
        level++;
    }
    if (!buddy_in_sbrk_heap(block)) {
        buddy_list_push(arena, block, level);
        return buddy_chunk_block_freed(arena, block);
    }
    if (level == TOP_LEVEL && is_free_top(page_mate(block)) && !page_emptied(arena, block))
        return false;
    buddy_list_push(arena, block, level);
    return true;
}

void buddy_shrink_block(buddy_arena_t *arena, buddy_block_t *block, unsigned level)
{
    unsigned old = block->level;
    HK_RELAXED_ADD(&arena->used_blocks[old], -1);
    HK_RELAXED_ADD(&arena->used_blocks[level], 1);
    block->level = level;
    /* Each freed upper half's buddy is the block being kept (in use), so no merge can happen. */
    for (unsigned l = level; l < old; l++)
        buddy_list_push(arena, (buddy_block_t *)((char *)block + buddy_order_bytes(l)), l);
}

/* Gives every empty page of the arena back to the heap's pool. */
static bool release_empty_pages(buddy_arena_t *arena)
{
    bool released = false;
    buddy_block_t *next;
    for (buddy_block_t *block = arena->free_list[TOP_LEVEL]; block; block = next) {
        next = buddy_link_get(&block->next);
        buddy_block_t *mate = page_mate(block);
        if (!buddy_in_sbrk_heap(block) || !is_free_top(mate)) continue;
        if (next == mate) next = buddy_link_get(&mate->next);
        buddy_list_remove(arena, block, TOP_LEVEL, "malloc_trim");
        buddy_list_remove(arena, mate, TOP_LEVEL, "malloc_trim");
        if (!buddy_sbrk_give_page(buddy_page_of(block))) {
            buddy_list_push(arena, block, TOP_LEVEL);
            buddy_list_push(arena, mate, TOP_LEVEL);
            break; /* the pool cannot grow: keep the rest too */
        }
        arena->empty_pages--;
        arena->heap_pages--;
        arena->pages_returned++;
        released = true;
    }
    return released;
}

bool buddy_release_idle(buddy_arena_t *arena)
{
    bool released = release_empty_pages(arena);
    buddy_chunk_t *next;
    for (buddy_chunk_t *chunk = arena->chunks; chunk; chunk = next) {
        next = chunk->next;
        if (chunk->live_blocks == 0) {
            buddy_chunk_release(arena, chunk);
            released = true;
        }
    }
    return released;
}

/* ---- Invariant checker --------------------------------------------------------------------- */

/* Walks one heap page block by block, counting free and used blocks per order. */
static bool check_page(const char *page, uint64_t *free_seen, uint64_t *used_seen, bool *empty,
                       const char **why)
{
    unsigned free_top = 0;
    for (size_t offset = 0; offset < BUDDY_PAGE_BYTES;) {
        const buddy_block_t *block = (const buddy_block_t *)(page + offset);
        BUDDY_CHECK(block->level < BUDDY_ORDERS, "block level out of range");
        size_t size = buddy_order_bytes(block->level);
        BUDDY_CHECK(offset % size == 0, "block not aligned to its order");
        if (block->status == BLOCK_FREE) {
            free_seen[block->level]++;
            free_top += block->level == TOP_LEVEL;
            if (block->level < TOP_LEVEL) {
                const buddy_block_t *buddy = buddy_of(block, block->level);
                BUDDY_CHECK(!(buddy->status == BLOCK_FREE && buddy->level == block->level),
                            "two free buddies left unmerged");
            }
        } else {
            BUDDY_CHECK(block->status == BLOCK_USED || block->status == BLOCK_USED_ALIGNED ||
                            block->status == BLOCK_QUARANTINED,
                        "block status corrupt");
            BUDDY_CHECK(buddy_cookie_sound(block), "block cookie corrupt");
            used_seen[block->level]++;
        }
        offset += size;
    }
    *empty = free_top == 2;
    return true;
}

bool buddy_check_around(buddy_arena_t *arena, const void *p, const char **why)
{
    uint64_t free_seen[BUDDY_ORDERS] = {0}, used_seen[BUDDY_ORDERS] = {0};
    if (!buddy_in_sbrk_heap(p))
        return buddy_chunk_check(arena, buddy_chunk_of(p), free_seen, used_seen, why);
    bool empty;
    BUDDY_CHECK(buddy_pagemap_get(p) == buddy_heap_page_entry(arena),
                "page owned by another arena");
    return check_page(buddy_page_of(p), free_seen, used_seen, &empty, why);
}

/* Whether a free block lies in a page or chunk of this arena. */
static bool owned_by(buddy_arena_t *arena, const buddy_block_t *block)
{
    if (buddy_in_sbrk_heap(block)) return buddy_pagemap_get(block) == buddy_heap_page_entry(arena);
    if (buddy_page_kind(buddy_pagemap_get(block)) != PAGE_SMALL_CHUNK) return false;
    buddy_chunk_t *chunk = buddy_chunk_of(block);
    return chunk->status == BLOCK_PINNED && chunk->arena == arena;
}

bool buddy_check(buddy_arena_t *arena, const char **why)
{
    uint64_t free_seen[BUDDY_ORDERS] = {0}, used_seen[BUDDY_ORDERS] = {0};
    uint64_t chunks = 0, empty = 0, pages = 0, empty_pages = 0;
    bool current_found = arena->current == NULL;
    for (buddy_chunk_t *chunk = arena->chunks; chunk; chunk = chunk->next) {
        BUDDY_CHECK(((uintptr_t)chunk & (BUDDY_CHUNK_BYTES - 1)) == 0, "chunk misaligned");
        BUDDY_CHECK(chunk->previous || arena->chunks == chunk, "chunk list broken");
        BUDDY_CHECK(!chunk->next || chunk->next->previous == chunk, "chunk list broken");
        BUDDY_CHECK(buddy_pagemap_get(chunk) == PAGE_SMALL_CHUNK,
                    "chunk missing from the page map");
        BUDDY_CHECK(!buddy_in_sbrk_heap(chunk), "chunk inside the sbrk heap");
        if (!buddy_chunk_check(arena, chunk, free_seen, used_seen, why)) return false;
        if (chunk == arena->current) current_found = true;
        empty += chunk->live_blocks == 0;
        chunks++;
    }
    BUDDY_CHECK(current_found, "current chunk not in the chunk list");
    BUDDY_CHECK(chunks == arena->chunk_count, "chunk count differs");
    BUDDY_CHECK(empty == arena->empty_chunks, "empty chunk count differs");
    /* The heap's pages of this arena: the page map says whose each page is. */
    uintptr_t lo = __atomic_load_n(&buddy_sbrk_lo, __ATOMIC_ACQUIRE);
    uintptr_t hi = __atomic_load_n(&buddy_sbrk_hi, __ATOMIC_ACQUIRE);
    for (uintptr_t page = lo; page < hi; page += BUDDY_PAGE_BYTES) {
        if (buddy_pagemap_get((void *)page) != buddy_heap_page_entry(arena)) continue;
        bool page_empty;
        if (!check_page((const char *)page, free_seen, used_seen, &page_empty, why)) return false;
        pages++;
        empty_pages += page_empty;
    }
    BUDDY_CHECK(pages == arena->heap_pages, "heap page count differs");
    BUDDY_CHECK(empty_pages == arena->empty_pages, "empty page count differs");
    for (unsigned level = 0; level < BUDDY_ORDERS; level++) {
        uint64_t listed = 0;
        buddy_block_t *previous = NULL;
        for (buddy_block_t *b = arena->free_list[level]; b; b = buddy_link_get(&b->next)) {
            BUDDY_CHECK(owned_by(arena, b), "free block of a foreign page or chunk");
            BUDDY_CHECK(b->status == BLOCK_FREE, "non-free block in a free list");
            BUDDY_CHECK(b->level == level, "block in the wrong order's list");
            BUDDY_CHECK(buddy_link_get(&b->previous) == previous, "free list back link broken");
            previous = b;
            BUDDY_CHECK(++listed <= free_seen[level], "free list longer than the free blocks");
        }
        /* Every free block walked is in its list once: the counts match and no list repeats. */
        BUDDY_CHECK(listed == free_seen[level], "a free block is missing from its list");
        BUDDY_CHECK(listed == arena->free_blocks[level], "free block count differs");
        BUDDY_CHECK(used_seen[level] == arena->used_blocks[level], "used block count differs");
    }
    return buddy_harden_check_quarantine(arena, why);
}
