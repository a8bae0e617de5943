/* 64 KiB chunks: the buddy heap's other container, used with HEAPKIT_BUDDY_CHUNKS=1 and when
 * the program break cannot grow. A chunk is mapped aligned to its size, so ptr -> chunk is a
 * mask; its header is the chunk's first 64-byte block, pinned, so the buddy arithmetic needs no
 * exception for it. A chunk hands out its 2048-byte regions one at a time from `frontier`, so
 * its resident memory grows a page at a time, as the sbrk heap does. Every function here runs
 * under the owning arena's lock. */
#include "buddy/buddy.h"

#include "os/sys.h"

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
    HK_RELAXED_ADD(&arena->chunk_count, 1);
    arena->empty_chunks++;
    for (unsigned level = CHUNK_HEADER_LEVEL; level < BUDDY_ORDERS - 1; level++)
        buddy_list_push(arena, block_at(chunk, buddy_order_bytes(level)), level);
    return chunk;
}

void buddy_chunk_release(buddy_arena_t *arena, buddy_chunk_t *chunk)
{
    for (unsigned level = CHUNK_HEADER_LEVEL; level < BUDDY_ORDERS - 1; level++)
        buddy_list_remove(arena, block_at(chunk, buddy_order_bytes(level)), level, "free");
    for (size_t offset = BUDDY_MAX_BLOCK_BYTES; offset < chunk->frontier;
         offset += BUDDY_MAX_BLOCK_BYTES)
        buddy_list_remove(arena, block_at(chunk, offset), BUDDY_ORDERS - 1, "free");
    if (chunk->previous)
        chunk->previous->next = chunk->next;
    else
        arena->chunks = chunk->next;
    if (chunk->next) chunk->next->previous = chunk->previous;
    if (arena->current == chunk) arena->current = NULL;
    HK_RELAXED_ADD(&arena->chunk_count, -1);
    arena->empty_chunks--;
    arena->chunks_released++;
    buddy_pagemap_set(chunk, BUDDY_CHUNK_BYTES, PAGE_NOT_OURS);
    sys_unmap(chunk, BUDDY_CHUNK_BYTES);
}

buddy_block_t *buddy_chunk_carve(buddy_arena_t *arena)
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

void buddy_chunk_block_taken(buddy_arena_t *arena, buddy_block_t *block)
{
    if (buddy_chunk_of(block)->live_blocks++ == 0) arena->empty_chunks--;
}

bool buddy_chunk_block_freed(buddy_arena_t *arena, buddy_block_t *block)
{
    buddy_chunk_t *chunk = buddy_chunk_of(block);
    if (--chunk->live_blocks == 0 && ++arena->empty_chunks > BUDDY_EMPTY_CHUNKS_KEPT &&
        chunk != arena->current) {
        buddy_chunk_release(arena, chunk);
        return false;
    }
    return true;
}

/* Walks the chunk block by block (each block's level says how far the next one is). */
bool buddy_chunk_check(buddy_arena_t *arena, buddy_chunk_t *chunk, uint64_t *free_seen,
                       uint64_t *used_seen, const char **why)
{
    BUDDY_CHECK(chunk->status == BLOCK_PINNED && chunk->level == CHUNK_HEADER_LEVEL,
                "chunk header corrupt");
    BUDDY_CHECK(chunk->arena == arena, "chunk owned by another arena");
    BUDDY_CHECK(chunk->frontier % BUDDY_MAX_BLOCK_BYTES == 0 &&
                    chunk->frontier <= BUDDY_CHUNK_BYTES,
                "chunk frontier out of range");
    uint32_t live = 0;
    size_t offset = buddy_order_bytes(CHUNK_HEADER_LEVEL);
    while (offset < chunk->frontier) {
        buddy_block_t *block = block_at(chunk, offset);
        BUDDY_CHECK(block->level < BUDDY_ORDERS, "block level out of range");
        size_t size = buddy_order_bytes(block->level);
        BUDDY_CHECK(offset % size == 0, "block not aligned to its order");
        BUDDY_CHECK(offset + size <= chunk->frontier, "block crosses the frontier");
        if (block->status == BLOCK_FREE) {
            free_seen[block->level]++;
            if (block->level < BUDDY_ORDERS - 1) {
                buddy_block_t *buddy = block_at(chunk, offset ^ size);
                BUDDY_CHECK(!(buddy->status == BLOCK_FREE && buddy->level == block->level),
                            "two free buddies left unmerged");
            }
        } else {
            BUDDY_CHECK(block->status == BLOCK_USED || block->status == BLOCK_USED_ALIGNED ||
                            block->status == BLOCK_QUARANTINED,
                        "block status corrupt");
            BUDDY_CHECK(buddy_cookie_sound(block), "block cookie corrupt");
            used_seen[block->level]++;
            live++;
        }
        offset += size;
    }
    BUDDY_CHECK(live == chunk->live_blocks, "chunk live count differs from its blocks");
    return true;
}
