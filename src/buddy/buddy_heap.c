/* The buddy heap of one arena (spec 003): seven orders of 32..2048-byte blocks in doubly
 * linked free lists, split on allocation, merged with the buddy on free, and the invariant
 * checker. Every function here runs under the arena's lock.
 *
 * Chunks: 64 KiB, mapped aligned to their size. A block of order i starts at an offset from
 * its chunk that is a multiple of its size, so its buddy is at offset ^ size and a block of
 * order >= k is aligned to 2^k. The chunk header is the chunk's first 64-byte block, pinned.
 * A chunk hands out its 2048-byte regions one at a time from `frontier`, so a heap's resident
 * memory grows a page at a time, as the spec's sbrk(PAGESIZE) heap does. */
#include "buddy/buddy.h"

#include "os/sys.h"

/* ---- Free lists ---------------------------------------------------------------------------- */

static void list_push(buddy_arena_t *arena, buddy_block_t *block, unsigned level)
{
    block->status = BLOCK_FREE;
    block->level = level;
    block->previous = NULL;
    block->next = arena->free_list[level];
    if (block->next) block->next->previous = block;
    arena->free_list[level] = block;
    arena->free_blocks[level]++;
}

static void list_remove(buddy_arena_t *arena, buddy_block_t *block)
{
    unsigned level = block->level;
    if (block->previous)
        block->previous->next = block->next;
    else
        arena->free_list[level] = block->next;
    if (block->next) block->next->previous = block->previous;
    arena->free_blocks[level]--;
}

/* ---- Chunks -------------------------------------------------------------------------------- */

static buddy_block_t *block_at(buddy_chunk_t *chunk, size_t offset)
{
    return (buddy_block_t *)((char *)chunk + offset);
}

/* Maps a chunk, pins its header block and frees the rest of its first 2048-byte region (the
 * header's buddies: one block of each order from the header's up to 1024 bytes). */
static buddy_chunk_t *chunk_new(buddy_arena_t *arena)
{
    void *memory;
    if (sys_map_aligned(BUDDY_CHUNK_BYTES, BUDDY_CHUNK_BYTES, &memory) != 0) return NULL;
    if (!buddy_pagemap_set(memory, BUDDY_CHUNK_BYTES, PAGE_SMALL_CHUNK)) {
        sys_unmap(memory, BUDDY_CHUNK_BYTES);
        return NULL;
    }
    buddy_chunk_t *chunk = memory;
    chunk->status = BLOCK_PINNED;
    chunk->level = CHUNK_HEADER_LEVEL;
    chunk->arena = arena;
    chunk->frontier = BUDDY_MAX_BLOCK_BYTES;
    chunk->live_blocks = 0;
    chunk->previous = NULL;
    chunk->next = arena->chunks;
    if (chunk->next) chunk->next->previous = chunk;
    arena->chunks = chunk;
    arena->chunk_count++;
    arena->empty_chunks++;
    for (unsigned level = CHUNK_HEADER_LEVEL; level < BUDDY_ORDERS - 1; level++)
        list_push(arena, block_at(chunk, buddy_order_bytes(level)), level);
    return chunk;
}

/* Gives an empty chunk back: its free blocks leave the lists, then the pages go. */
static void chunk_release(buddy_arena_t *arena, buddy_chunk_t *chunk)
{
    for (unsigned level = CHUNK_HEADER_LEVEL; level < BUDDY_ORDERS - 1; level++)
        list_remove(arena, block_at(chunk, buddy_order_bytes(level)));
    for (size_t offset = BUDDY_MAX_BLOCK_BYTES; offset < chunk->frontier;
         offset += BUDDY_MAX_BLOCK_BYTES)
        list_remove(arena, block_at(chunk, offset));
    if (chunk->previous)
        chunk->previous->next = chunk->next;
    else
        arena->chunks = chunk->next;
    if (chunk->next) chunk->next->previous = chunk->previous;
    if (arena->current == chunk) arena->current = NULL;
    arena->chunk_count--;
    arena->empty_chunks--;
    arena->chunks_released++;
    buddy_pagemap_set(chunk, BUDDY_CHUNK_BYTES, PAGE_NOT_OURS);
    sys_unmap(chunk, BUDDY_CHUNK_BYTES);
}

/* A fresh top-order block from the current chunk's untouched tail, mapping a chunk if needed. */
static buddy_block_t *chunk_carve(buddy_arena_t *arena)
{
    buddy_chunk_t *chunk = arena->current;
    if (!chunk || chunk->frontier == BUDDY_CHUNK_BYTES) {
        chunk = chunk_new(arena);
        if (!chunk) return NULL;
        arena->current = chunk;
    }
    buddy_block_t *block = block_at(chunk, chunk->frontier);
    /* Atomic: free() reads it without the lock to check a pointer (buddy_engine.c). */
    __atomic_store_n(&chunk->frontier, chunk->frontier + (uint32_t)BUDDY_MAX_BLOCK_BYTES,
                     __ATOMIC_RELAXED);
    block->level = BUDDY_ORDERS - 1;
    return block;
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
        list_remove(arena, block);
    } else {
        found = BUDDY_ORDERS - 1;
        block = chunk_carve(arena);
        if (!block) return NULL;
    }
    /* Split: keep the lower half, free the upper half, until the order fits. */
    while (found > level) {
        found--;
        list_push(arena, (buddy_block_t *)((char *)block + buddy_order_bytes(found)), found);
    }
    block->status = BLOCK_USED;
    block->level = level;
    block->next = NULL;
    arena->used_blocks[level]++;
    if (buddy_chunk_of(block)->live_blocks++ == 0) arena->empty_chunks--;
    return block;
}

bool buddy_free_block(buddy_arena_t *arena, buddy_block_t *block)
{
    buddy_chunk_t *chunk = buddy_chunk_of(block);
    unsigned level = block->level;
    arena->used_blocks[level]--;
    while (level < BUDDY_ORDERS - 1) {
        size_t offset = (size_t)((char *)block - (char *)chunk);
        buddy_block_t *buddy = block_at(chunk, offset ^ buddy_order_bytes(level));
        if (buddy->status != BLOCK_FREE || buddy->level != level) break;
        list_remove(arena, buddy);
        /* The upper one of the pair stops being a block; a stale free of it reads MERGED. */
        if (buddy < block) {
            block->status = BLOCK_MERGED;
            block = buddy;
        } else {
            buddy->status = BLOCK_MERGED;
        }
        level++;
    }
    list_push(arena, block, level);
    if (--chunk->live_blocks == 0 && ++arena->empty_chunks > BUDDY_EMPTY_CHUNKS_KEPT &&
        chunk != arena->current) {
        chunk_release(arena, chunk);
        return false;
    }
    return true;
}

void buddy_shrink_block(buddy_arena_t *arena, buddy_block_t *block, unsigned level)
{
    unsigned old = block->level;
    arena->used_blocks[old]--;
    arena->used_blocks[level]++;
    block->level = level;
    /* Each freed upper half's buddy is the block being kept (in use), so no merge can happen. */
    for (unsigned l = level; l < old; l++)
        list_push(arena, (buddy_block_t *)((char *)block + buddy_order_bytes(l)), l);
}

bool buddy_release_idle(buddy_arena_t *arena)
{
    bool released = false;
    buddy_chunk_t *next;
    for (buddy_chunk_t *chunk = arena->chunks; chunk; chunk = next) {
        next = chunk->next;
        if (chunk->live_blocks == 0) {
            chunk_release(arena, chunk);
            released = true;
        }
    }
    return released;
}

/* ---- Invariant checker --------------------------------------------------------------------- */

#define CHECK(cond, message)                                                                       \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            if (why) *why = message;                                                               \
            return false;                                                                          \
        }                                                                                          \
    } while (0)

/* Walks one chunk block by block (each block's level says how far the next one is), checking
 * headers, buddies and counts. */
static bool check_chunk(buddy_arena_t *arena, buddy_chunk_t *chunk, uint64_t *free_seen,
                        uint64_t *used_seen, const char **why)
{
    CHECK(chunk->status == BLOCK_PINNED && chunk->level == CHUNK_HEADER_LEVEL,
          "chunk header corrupt");
    CHECK(chunk->arena == arena, "chunk owned by another arena");
    CHECK(chunk->frontier % BUDDY_MAX_BLOCK_BYTES == 0 && chunk->frontier <= BUDDY_CHUNK_BYTES,
          "chunk frontier out of range");
    uint32_t live = 0;
    size_t offset = buddy_order_bytes(CHUNK_HEADER_LEVEL);
    while (offset < chunk->frontier) {
        buddy_block_t *block = block_at(chunk, offset);
        CHECK(block->level < BUDDY_ORDERS, "block level out of range");
        size_t size = buddy_order_bytes(block->level);
        CHECK(offset % size == 0, "block not aligned to its order");
        CHECK(offset + size <= chunk->frontier, "block crosses the frontier");
        if (block->status == BLOCK_FREE) {
            free_seen[block->level]++;
            if (block->level < BUDDY_ORDERS - 1) {
                buddy_block_t *buddy = block_at(chunk, offset ^ size);
                CHECK(!(buddy->status == BLOCK_FREE && buddy->level == block->level),
                      "two free buddies left unmerged");
            }
        } else {
            CHECK(block->status == BLOCK_USED || block->status == BLOCK_USED_ALIGNED,
                  "block status corrupt");
            used_seen[block->level]++;
            live++;
        }
        offset += size;
    }
    CHECK(live == chunk->live_blocks, "chunk live count differs from its blocks");
    return true;
}

bool buddy_check_chunk(buddy_arena_t *arena, const void *p, const char **why)
{
    uint64_t free_seen[BUDDY_ORDERS] = {0}, used_seen[BUDDY_ORDERS] = {0};
    return check_chunk(arena, buddy_chunk_of(p), free_seen, used_seen, why);
}

bool buddy_check(buddy_arena_t *arena, const char **why)
{
    uint64_t free_seen[BUDDY_ORDERS] = {0}, used_seen[BUDDY_ORDERS] = {0};
    uint64_t chunks = 0, empty = 0;
    bool current_found = arena->current == NULL;
    for (buddy_chunk_t *chunk = arena->chunks; chunk; chunk = chunk->next) {
        CHECK(((uintptr_t)chunk & (BUDDY_CHUNK_BYTES - 1)) == 0, "chunk misaligned");
        CHECK(chunk->previous || arena->chunks == chunk, "chunk list broken");
        CHECK(!chunk->next || chunk->next->previous == chunk, "chunk list broken");
        CHECK(buddy_pagemap_get(chunk) == PAGE_SMALL_CHUNK, "chunk missing from the page map");
        if (!check_chunk(arena, chunk, free_seen, used_seen, why)) return false;
        if (chunk == arena->current) current_found = true;
        empty += chunk->live_blocks == 0;
        chunks++;
    }
    CHECK(current_found, "current chunk not in the chunk list");
    CHECK(chunks == arena->chunk_count, "chunk count differs");
    CHECK(empty == arena->empty_chunks, "empty chunk count differs");
    for (unsigned level = 0; level < BUDDY_ORDERS; level++) {
        uint64_t listed = 0;
        buddy_block_t *previous = NULL;
        for (buddy_block_t *b = arena->free_list[level]; b; b = b->next) {
            CHECK(b->status == BLOCK_FREE, "non-free block in a free list");
            CHECK(b->level == level, "block in the wrong order's list");
            CHECK(b->previous == previous, "free list back link broken");
            buddy_chunk_t *chunk = buddy_chunk_of(b);
            CHECK(chunk->status == BLOCK_PINNED && chunk->arena == arena,
                  "free block of a foreign chunk");
            previous = b;
            CHECK(++listed <= free_seen[level], "free list longer than the free blocks");
        }
        /* Every free block walked is in its list once: the counts match and no list repeats. */
        CHECK(listed == free_seen[level], "a free block is missing from its list");
        CHECK(listed == arena->free_blocks[level], "free block count differs");
        CHECK(used_seen[level] == arena->used_blocks[level], "used block count differs");
    }
    return true;
}
