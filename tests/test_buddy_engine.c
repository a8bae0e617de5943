/* The buddy engine linked straight into the test (ASan+UBSan): split and merge per order with
 * buddy_check after every step, in pages of the sbrk heap (the default: the break moves a page
 * at a time, empty pages go back to the heap's pool, memory others took from the break is left
 * alone, chunks when the break cannot grow) and in 64 KiB chunks (HEAPKIT_BUDDY_CHUNKS=1: chunk
 * release), alignment of every power of two up to 1 MiB, realloc in place, large mappings and
 * their munmap, statistics, misuse detection, the checks that are always on (encoded links,
 * cookies, neighbour headers) and the hardened mode (canaries, quarantine, junk). Each test runs
 * in its own process, so the options and the heap start afresh in each. */
#include <criterion/criterion.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "buddy/buddy.h"
#include "core/engine.h"
#include "os/sys.h"

#define KiB ((size_t)1024)
#define MiB (KiB * 1024)

static void expect_sound(buddy_arena_t *arena)
{
    const char *why = NULL;
    cr_assert(buddy_check(arena, &why), "buddy_check: %s", why);
}

static void expect_all_arenas_sound(void)
{
    for (unsigned i = 0; i < buddy_arena_count(); i++) {
        buddy_arena_lock(&buddy_arenas[i]);
        const char *why = NULL;
        bool ok = buddy_check(&buddy_arenas[i], &why);
        buddy_arena_unlock(&buddy_arenas[i]);
        cr_assert(ok, "arena %u: %s", i, why);
    }
}

/* Private arenas, so counts start from zero whatever other tests did; their indexes (which the
 * page map records for heap pages) are past those the engine's arenas use on this machine. */
static buddy_arena_t *fresh_arena(void)
{
    static buddy_arena_t arenas[2];
    static unsigned used;
    cr_assert_lt(used, 2);
    buddy_arena_t *arena = &arenas[used];
    memset(arena, 0, sizeof *arena);
    hk_lock_init(&arena->lock);
    arena->index = BUDDY_ARENAS_MAX - 1 - used++;
    cr_assert_gt(arena->index, buddy_arena_count());
    return arena;
}

/* .init of the suites that run with HEAPKIT_BUDDY_CHUNKS=1. */
static void use_chunks(void)
{
    setenv("HEAPKIT_BUDDY_CHUNKS", "1", 1);
}

static sys_counters_t counters(void)
{
    sys_counters_t now;
    sys_counters(&now);
    return now;
}

static char *current_break(void)
{
    return sbrk(0);
}

static volatile size_t opaque_size;
static size_t opaque(size_t x)
{
    opaque_size = x;
    return opaque_size;
}

/* ---- Orders, split, merge ------------------------------------------------------------------ */

Test(heap, level_for_maps_sizes_with_header_to_orders)
{
    cr_assert_eq(buddy_level_for(1), 0);
    cr_assert_eq(buddy_level_for(32), 0);
    cr_assert_eq(buddy_level_for(33), 1);
    cr_assert_eq(buddy_level_for(64), 1);
    cr_assert_eq(buddy_level_for(1024), 5);
    cr_assert_eq(buddy_level_for(1025), 6);
    cr_assert_eq(buddy_level_for(2048), 6);
    for (unsigned l = 0; l < BUDDY_ORDERS; l++)
        cr_assert_eq(buddy_level_for(buddy_order_bytes(l)), l);
}

Test(heap, allocating_the_smallest_order_takes_one_page_from_the_break_and_splits_it)
{
    buddy_arena_t *arena = fresh_arena();
    sys_counters_t before = counters();
    buddy_block_t *b = buddy_alloc_block(arena, 0);
    cr_assert_not_null(b);
    sys_counters_t after = counters();
    expect_sound(arena);
    cr_assert_eq(after.brk, before.brk + 1, "one sbrk");
    cr_assert_eq(after.brk_bytes - before.brk_bytes, BUDDY_PAGE_BYTES, "of one page");
    cr_assert_eq(arena->heap_pages, 1);
    cr_assert_eq(arena->chunk_count, 0);
    cr_assert_eq((uintptr_t)b % BUDDY_PAGE_BYTES, 0, "the page's lower half is kept");
    cr_assert(buddy_in_sbrk_heap(b));
    cr_assert_eq(buddy_pagemap_get(b), buddy_heap_page_entry(arena));
    /* The lower half split into one free block of each order from 32 to 1024; the upper half is
     * one free top-order block. */
    for (unsigned l = 0; l < BUDDY_ORDERS; l++)
        cr_assert_eq(arena->free_blocks[l], 1, "order %u", l);
    cr_assert_eq(arena->used_blocks[0], 1);
    buddy_free_block(arena, b);
    expect_sound(arena);
    cr_assert_eq(arena->used_blocks[0], 0);
    cr_assert_eq(arena->free_blocks[BUDDY_ORDERS - 1], 2, "everything merged back to two halves");
    cr_assert_eq(arena->free_blocks[0], 0);
    cr_assert_eq(arena->empty_pages, 1, "the page is empty, and kept");
}

static void each_order_splits_and_merges(void)
{
    buddy_arena_t *arena = fresh_arena();
    for (unsigned level = 0; level < BUDDY_ORDERS; level++) {
        enum { N = 40 };
        buddy_block_t *blocks[N];
        for (int i = 0; i < N; i++) {
            blocks[i] = buddy_alloc_block(arena, level);
            cr_assert_not_null(blocks[i]);
            cr_assert_eq(blocks[i]->level, level);
            cr_assert_eq((uintptr_t)blocks[i] % buddy_order_bytes(level), 0,
                         "a block is aligned to its order");
            memset((char *)blocks[i] + BUDDY_HEADER_BYTES, 0xA5,
                   buddy_order_bytes(level) - BUDDY_HEADER_BYTES);
            expect_sound(arena);
        }
        cr_assert_eq(arena->used_blocks[level], N);
        for (int i = 0; i < N; i += 2) {
            buddy_free_block(arena, blocks[i]);
            expect_sound(arena);
        }
        for (int i = 1; i < N; i += 2) {
            buddy_free_block(arena, blocks[i]);
            expect_sound(arena);
        }
        cr_assert_eq(arena->used_blocks[level], 0);
        for (unsigned l = 0; l < BUDDY_ORDERS - 1; l++)
            cr_assert_leq(arena->free_blocks[l], arena->chunk_count,
                          "order %u: only the chunk headers' buddies stay split", l);
    }
}

Test(heap, each_order_splits_and_merges_with_check_after_every_step)
{
    each_order_splits_and_merges();
}

static void random_allocations_and_frees(buddy_arena_t *arena)
{
    enum { SLOTS = 300, STEPS = 4000 };
    static buddy_block_t *slots[SLOTS];
    memset(slots, 0, sizeof slots);
    srand(7);
    for (int step = 0; step < STEPS; step++) {
        int i = rand() % SLOTS;
        if (slots[i]) {
            buddy_free_block(arena, slots[i]);
            slots[i] = NULL;
        } else {
            slots[i] = buddy_alloc_block(arena, (unsigned)(rand() % BUDDY_ORDERS));
            cr_assert_not_null(slots[i]);
        }
        if (step % 8 == 0) expect_sound(arena);
    }
    for (int i = 0; i < SLOTS; i++)
        if (slots[i]) buddy_free_block(arena, slots[i]);
    expect_sound(arena);
}

Test(heap, random_allocations_and_frees_keep_every_invariant)
{
    buddy_arena_t *arena = fresh_arena();
    random_allocations_and_frees(arena);
    cr_assert_eq(arena->chunk_count, 0);
    cr_assert_eq(arena->empty_pages, arena->heap_pages, "nothing is in use");
    cr_assert_leq(arena->heap_pages, BUDDY_EMPTY_PAGES_KEPT);
    cr_assert_gt(arena->pages_returned, 0, "the pages beyond a few went to the pool");
    cr_assert_eq(arena->free_blocks[BUDDY_ORDERS - 1], 2 * arena->heap_pages,
                 "every page merged back to its two halves");
}

Test(heap, empty_pages_beyond_a_few_go_to_the_pool_and_serve_other_arenas_first)
{
    buddy_arena_t *arena = fresh_arena();
    enum { PAGES = BUDDY_EMPTY_PAGES_KEPT + 4 };
    static buddy_block_t *blocks[2 * PAGES];
    for (int i = 0; i < 2 * PAGES; i++)
        blocks[i] = buddy_alloc_block(arena, BUDDY_ORDERS - 1);
    cr_assert_eq(arena->heap_pages, PAGES);
    cr_assert_eq(arena->empty_pages, 0);
    for (int i = 0; i < 2 * PAGES; i++) {
        buddy_free_block(arena, blocks[i]);
        if (i % 4 == 0) expect_sound(arena);
    }
    expect_sound(arena);
    cr_assert_eq(arena->heap_pages, BUDDY_EMPTY_PAGES_KEPT, "a few empty pages are kept");
    cr_assert_eq(arena->empty_pages, BUDDY_EMPTY_PAGES_KEPT);
    cr_assert_eq(arena->pages_returned, PAGES - BUDDY_EMPTY_PAGES_KEPT);
    cr_assert_eq(buddy_pagemap_get(blocks[2 * PAGES - 1]), PAGE_NOT_OURS,
                 "the page map forgets a pooled page");
    buddy_sbrk_stats_t pool;
    buddy_sbrk_stats(&pool);
    cr_assert_eq(pool.pooled, PAGES - BUDDY_EMPTY_PAGES_KEPT);
    /* Another arena takes the pooled pages before the break moves. */
    buddy_arena_t *other = fresh_arena();
    sys_counters_t before = counters();
    for (int i = 0; i < 2 * (PAGES - BUDDY_EMPTY_PAGES_KEPT); i++)
        cr_assert_not_null(buddy_alloc_block(other, BUDDY_ORDERS - 1));
    cr_assert_eq(counters().brk, before.brk, "pooled pages were reused");
    cr_assert_eq(other->heap_pages, PAGES - BUDDY_EMPTY_PAGES_KEPT);
    expect_sound(other);
    cr_assert_not_null(buddy_alloc_block(other, BUDDY_ORDERS - 1));
    cr_assert_eq(counters().brk, before.brk + 1, "then the break moves again");
    expect_sound(other);
    expect_sound(arena);
}

Test(heap, trim_gives_empty_pages_to_the_pool_and_their_memory_to_the_kernel)
{
    buddy_arena_t *arena = fresh_arena();
    static buddy_block_t *blocks[16];
    for (int i = 0; i < 16; i++)
        blocks[i] = buddy_alloc_block(arena, BUDDY_ORDERS - 1);
    for (int i = 0; i < 16; i++)
        buddy_free_block(arena, blocks[i]);
    cr_assert_eq(arena->empty_pages, 8);
    cr_assert(buddy_release_idle(arena));
    expect_sound(arena);
    cr_assert_eq(arena->heap_pages, 0);
    cr_assert_eq(arena->free_blocks[BUDDY_ORDERS - 1], 0);
    sys_counters_t before = counters();
    cr_assert(buddy_sbrk_trim());
    cr_assert_eq(counters().madvise, before.madvise + 8, "one madvise per pooled page");
    buddy_sbrk_stats_t pool;
    buddy_sbrk_stats(&pool);
    cr_assert_eq(pool.pooled, 8);
    cr_assert_eq(pool.pooled_resident, 0);
    cr_assert_not(buddy_sbrk_trim(), "nothing left to give back");
}

Test(heap, the_break_moves_a_page_at_a_time_past_memory_others_took_from_it)
{
    buddy_arena_t *arena = fresh_arena();
    buddy_block_t *first = buddy_alloc_block(arena, BUDDY_ORDERS - 1);
    buddy_alloc_block(arena, BUDDY_ORDERS - 1); /* the page's other half */
    /* Someone else takes memory from the break, leaving it unaligned. */
    char *foreign = sbrk(3 * (intptr_t)BUDDY_PAGE_BYTES + 100);
    cr_assert_neq(foreign, (char *)-1);
    cr_assert_eq(foreign, (char *)first + BUDDY_PAGE_BYTES, "the heap's page ended at the break");
    char *foreign_end = current_break();
    sys_counters_t before = counters();
    buddy_block_t *next = buddy_alloc_block(arena, BUDDY_ORDERS - 1);
    cr_assert_eq(counters().brk, before.brk + 1);
    uintptr_t boundary = ((uintptr_t)foreign_end + BUDDY_PAGE_BYTES - 1) & ~(BUDDY_PAGE_BYTES - 1);
    cr_assert_eq((uintptr_t)next, boundary,
                 "the next page starts at the next page boundary above the foreign memory");
    cr_assert_eq(current_break(), (char *)next + BUDDY_PAGE_BYTES);
    for (char *p = foreign; p < foreign_end; p += 1024)
        cr_assert_eq(buddy_pagemap_get(p), PAGE_NOT_OURS, "foreign brk memory is not ours");
    cr_assert_not(buddy_in_sbrk_heap((char *)next + BUDDY_PAGE_BYTES));
    memset(foreign, 0x77, (size_t)(foreign_end - foreign));
    expect_sound(arena);
}

Test(heap, when_the_break_cannot_grow_arenas_grow_by_chunks)
{
    buddy_arena_t *arena = fresh_arena();
    cr_assert_not_null(buddy_alloc_block(arena, 0));
    cr_assert_not(buddy_use_chunks());
    /* A mapping right above the break: brk can no longer grow. */
    uintptr_t above = ((uintptr_t)current_break() + 4095) & ~(uintptr_t)4095;
    void *wall = mmap((void *)above, 16 * 4096, PROT_NONE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    cr_assert_eq(wall, (void *)above, "could not place a mapping above the break");
    buddy_block_t *blocks[3];
    for (int i = 0; i < 3; i++) {
        blocks[i] = buddy_alloc_block(arena, BUDDY_ORDERS - 1);
        cr_assert_not_null(blocks[i], "no memory although chunks can be mapped");
    }
    cr_assert(buddy_use_chunks(), "the heap gave up on the break");
    cr_assert_eq(arena->chunk_count, 1);
    cr_assert_eq(buddy_pagemap_get(blocks[2]), PAGE_SMALL_CHUNK);
    buddy_sbrk_stats_t heap;
    buddy_sbrk_stats(&heap);
    cr_assert_eq(heap.brk_failed, 1);
    expect_sound(arena);
    for (int i = 0; i < 3; i++)
        buddy_free_block(arena, blocks[i]);
    expect_sound(arena);
}

/* ---- 64 KiB chunks (HEAPKIT_BUDDY_CHUNKS=1) ------------------------------------------------- */

Test(chunks, allocating_the_smallest_order_maps_a_chunk_and_splits_one_region, .init = use_chunks)
{
    buddy_arena_t *arena = fresh_arena();
    sys_counters_t before = counters();
    buddy_block_t *b = buddy_alloc_block(arena, 0);
    cr_assert_not_null(b);
    expect_sound(arena);
    cr_assert_eq(counters().brk, before.brk, "the break does not move");
    cr_assert_eq(arena->chunk_count, 1);
    cr_assert_eq(arena->heap_pages, 0);
    cr_assert_eq(arena->used_blocks[0], 1);
    /* The first region holds the chunk header (64 B) and its buddies (64..1024 B), the carved
     * 2048-byte region one free block of each order from 32 to 1024. */
    cr_assert_eq(arena->free_blocks[0], 1);
    for (unsigned l = 1; l < BUDDY_ORDERS - 1; l++)
        cr_assert_eq(arena->free_blocks[l], 2, "order %u", l);
    cr_assert_eq(arena->free_blocks[BUDDY_ORDERS - 1], 0);
    cr_assert_eq((uintptr_t)b % BUDDY_MAX_BLOCK_BYTES, 0, "the lower half is kept");
    buddy_free_block(arena, b);
    expect_sound(arena);
    cr_assert_eq(arena->used_blocks[0], 0);
    cr_assert_eq(arena->free_blocks[BUDDY_ORDERS - 1], 1, "everything merged back");
    cr_assert_eq(arena->free_blocks[0], 0);
}

Test(chunks, each_order_splits_and_merges_with_check_after_every_step, .init = use_chunks)
{
    each_order_splits_and_merges();
}

Test(chunks, random_allocations_and_frees_keep_every_invariant, .init = use_chunks)
{
    buddy_arena_t *arena = fresh_arena();
    random_allocations_and_frees(arena);
    cr_assert_eq(arena->heap_pages, 0);
    cr_assert_leq(arena->chunk_count, BUDDY_EMPTY_CHUNKS_KEPT);
    cr_assert_eq(arena->empty_chunks, arena->chunk_count, "nothing is in use");
    uint64_t carved = 0;
    for (buddy_chunk_t *c = arena->chunks; c; c = c->next)
        carved += c->frontier / BUDDY_MAX_BLOCK_BYTES - 1;
    cr_assert_eq(arena->free_blocks[BUDDY_ORDERS - 1], carved,
                 "every chunk merged back to top-order blocks");
}

Test(chunks, empty_chunks_beyond_a_few_are_unmapped_and_trim_releases_the_rest, .init = use_chunks)
{
    buddy_arena_t *arena = fresh_arena();
    enum { PER_CHUNK = BUDDY_CHUNK_BYTES / BUDDY_MAX_BLOCK_BYTES - 1, CHUNKS = 5 };
    static buddy_block_t *blocks[CHUNKS][PER_CHUNK];
    for (int c = 0; c < CHUNKS; c++)
        for (int i = 0; i < PER_CHUNK; i++)
            blocks[c][i] = buddy_alloc_block(arena, BUDDY_ORDERS - 1);
    cr_assert_eq(arena->chunk_count, CHUNKS);
    cr_assert_eq(arena->empty_chunks, 0);
    for (int c = 0; c < CHUNKS; c++)
        for (int i = 1; i < PER_CHUNK; i++)
            cr_assert_eq(buddy_chunk_of(blocks[c][i]), buddy_chunk_of(blocks[c][0]));
    sys_counters_t before, after;
    sys_counters(&before);
    for (int c = 0; c < CHUNKS - 1; c++) {
        for (int i = 0; i < PER_CHUNK; i++)
            buddy_free_block(arena, blocks[c][i]);
        expect_sound(arena);
    }
    sys_counters(&after);
    cr_assert_eq(arena->chunk_count, BUDDY_EMPTY_CHUNKS_KEPT + 1, "a few empty chunks are kept");
    cr_assert_eq(arena->chunks_released, CHUNKS - 1 - BUDDY_EMPTY_CHUNKS_KEPT);
    cr_assert_eq(after.munmap, before.munmap + CHUNKS - 1 - BUDDY_EMPTY_CHUNKS_KEPT);
    cr_assert_eq(buddy_pagemap_get(blocks[CHUNKS - 2][0]), PAGE_NOT_OURS,
                 "the page map forgets an unmapped chunk");
    for (int i = 0; i < PER_CHUNK; i++)
        buddy_free_block(arena, blocks[CHUNKS - 1][i]);
    expect_sound(arena);
    cr_assert(buddy_release_idle(arena));
    cr_assert_eq(arena->chunk_count, 0, "trim unmaps every empty chunk");
    expect_sound(arena);
}

Test(chunks, the_engine_maps_chunks_and_never_moves_the_break, .init = use_chunks)
{
    sys_counters_t before = counters();
    void *blocks[200];
    for (int i = 0; i < 200; i++) {
        blocks[i] = hk_engine_malloc((size_t)(i * 10 % 2000));
        cr_assert_eq(buddy_pagemap_get(blocks[i]), PAGE_SMALL_CHUNK);
    }
    cr_assert_eq(counters().brk, before.brk);
    expect_all_arenas_sound();
    for (int i = 0; i < 200; i++)
        hk_engine_free(blocks[i], "free");
    expect_all_arenas_sound();
}

Test(heap, shrinking_a_block_frees_its_upper_halves)
{
    buddy_arena_t *arena = fresh_arena();
    buddy_block_t *b = buddy_alloc_block(arena, 6);
    buddy_shrink_block(arena, b, 1);
    expect_sound(arena);
    cr_assert_eq(arena->used_blocks[6], 0);
    cr_assert_eq(arena->used_blocks[1], 1);
    buddy_free_block(arena, b);
    expect_sound(arena);
    cr_assert_eq(arena->used_blocks[1], 0);
}

Test(heap, checker_reports_a_corrupt_free_list)
{
    buddy_arena_t *arena = fresh_arena();
    buddy_block_t *a = buddy_alloc_block(arena, 0);
    expect_sound(arena);
    arena->free_list[2]->level = 3;
    const char *why = NULL;
    cr_assert_not(buddy_check(arena, &why));
    cr_assert_not_null(why);
    (void)a;
}

/* ---- The engine contract -------------------------------------------------------------------- */

Test(engine, malloc_zero_and_small_sizes_are_16_byte_aligned_and_usable)
{
    for (size_t size = 0; size <= 3000; size += 7) {
        unsigned char *p = hk_engine_malloc(size);
        cr_assert_not_null(p);
        cr_assert_eq((uintptr_t)p % 16, 0);
        size_t usable = hk_engine_usable_size(p, "test");
        cr_assert_geq(usable, size);
        memset(p, 0x5A, usable);
        hk_engine_free(p, "free");
    }
    expect_all_arenas_sound();
}

Test(engine, usable_size_is_the_order_minus_the_header)
{
    for (unsigned l = 0; l < BUDDY_ORDERS; l++) {
        size_t size = buddy_order_bytes(l) - BUDDY_HEADER_BYTES;
        void *p = hk_engine_malloc(size);
        cr_assert_eq(hk_engine_usable_size(p, "test"), size);
        hk_engine_free(p, "free");
    }
}

Test(engine, every_power_of_two_alignment_up_to_1_mib_is_honoured)
{
    static const size_t sizes[] = {0, 1, 16, 17, 100, 500, 1000, 2000, 2032, 4096, 70000};
    for (size_t alignment = 1; alignment <= MiB; alignment <<= 1) {
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            size_t size = sizes[i];
            unsigned char *p =
                alignment <= 16 ? hk_engine_malloc(size) : hk_engine_aligned(alignment, size);
            cr_assert_not_null(p, "alignment %zu size %zu", alignment, size);
            cr_assert_eq((uintptr_t)p % alignment, 0, "%p: alignment %zu size %zu", p, alignment,
                         size);
            size_t usable = hk_engine_usable_size(p, "test");
            cr_assert_geq(usable, size);
            memset(p, 0xC3, usable);
            hk_engine_free(p, "free");
        }
        expect_all_arenas_sound();
    }
}

Test(engine, small_aligned_blocks_come_from_the_buddy_heap)
{
    buddy_arena_t *arena = buddy_arena_acquire();
    uint64_t used = arena->used_blocks[3];
    buddy_arena_unlock(arena);
    void *p = hk_engine_aligned(128, 100); /* 128 + 100 bytes: a 256-byte block */
    cr_assert_eq((uintptr_t)p % 128, 0);
    cr_assert_eq(buddy_pagemap_get(p), buddy_heap_page_entry(arena), "a page of the sbrk heap");
    arena = buddy_arena_acquire();
    cr_assert_eq(arena->used_blocks[3], used + 1);
    buddy_arena_unlock(arena);
    cr_assert_eq(hk_engine_usable_size(p, "test"), 128);
    hk_engine_free(p, "free");
}

Test(engine, calloc_zeroes_recycled_blocks)
{
    for (int round = 0; round < 3; round++) {
        unsigned char *p = hk_engine_malloc(1000);
        memset(p, 0xFF, 1000);
        hk_engine_free(p, "free");
        unsigned char *q = hk_engine_calloc(1000);
        for (int i = 0; i < 1000; i++)
            cr_assert_eq(q[i], 0);
        hk_engine_free(q, "free");
        p = hk_engine_malloc(100 * KiB);
        memset(p, 0xFF, 100 * KiB);
        hk_engine_free(p, "free");
        q = hk_engine_calloc(100 * KiB);
        for (size_t i = 0; i < 100 * KiB; i += 511)
            cr_assert_eq(q[i], 0);
        hk_engine_free(q, "free");
    }
}

Test(engine, realloc_stays_in_place_within_its_order_and_splits_on_shrink)
{
    unsigned char *p = hk_engine_malloc(100); /* 128-byte block */
    memset(p, 7, 100);
    cr_assert_eq(hk_engine_realloc(p, 112, "realloc"), p, "still fits the order");
    cr_assert_eq(hk_engine_realloc(p, 20, "realloc"), p, "shrink stays in place");
    cr_assert_eq(hk_engine_usable_size(p, "test"), 48, "and gave back the upper halves");
    for (int i = 0; i < 20; i++)
        cr_assert_eq(p[i], 7);
    unsigned char *q = hk_engine_realloc(p, 1500, "realloc");
    for (int i = 0; i < 20; i++)
        cr_assert_eq(q[i], 7);
    cr_assert_geq(hk_engine_usable_size(q, "test"), 1500);
    unsigned char *r = hk_engine_realloc(q, 50000, "realloc");
    for (int i = 0; i < 20; i++)
        cr_assert_eq(r[i], 7);
    cr_assert_eq(buddy_pagemap_get(r - 16), PAGE_LARGE_TAG);
    unsigned char *s = hk_engine_realloc(r, 10, "realloc");
    cr_assert_eq(buddy_page_kind(buddy_pagemap_get(s - 16)), PAGE_SMALL_HEAP, "back to the heap");
    for (int i = 0; i < 10; i++)
        cr_assert_eq(s[i], 7);
    hk_engine_free(s, "free");
    expect_all_arenas_sound();
}

Test(engine, large_realloc_shrinks_in_place_by_unmapping_the_tail)
{
    hk_engine_trim(0);
    unsigned char *p = hk_engine_malloc(1 * MiB);
    memset(p, 3, 1 * MiB);
    sys_counters_t before, after;
    sys_counters(&before);
    cr_assert_eq(hk_engine_realloc(p, 100 * KiB, "realloc"), p);
    sys_counters(&after);
    cr_assert_eq(after.munmap, before.munmap + 1);
    cr_assert_lt(after.mapped_bytes, before.mapped_bytes);
    cr_assert_geq(hk_engine_usable_size(p, "test"), 100 * KiB);
    cr_assert_eq(p[100 * KiB - 1], 3);
    hk_engine_free(p, "free");
}

Test(engine, large_blocks_are_mapped_and_unmapped)
{
    hk_engine_trim(0);
    sys_counters_t before, mid, after;
    sys_counters(&before);
    unsigned char *p = hk_engine_malloc(8 * MiB);
    sys_counters(&mid);
    /* (The page map may map a table the first time it sees an address range.) */
    cr_assert_geq(mid.mmap, before.mmap + 1, "one mmap for a large block");
    cr_assert_geq(mid.mapped_bytes, before.mapped_bytes + 8 * MiB);
    p[0] = 1;
    p[8 * MiB - 1] = 2;
    hk_engine_free(p, "free");
    sys_counters(&after);
    cr_assert_eq(after.munmap, mid.munmap + 1, "too big for the cache: unmapped at once");
    cr_assert_eq(after.mapped_bytes, mid.mapped_bytes - (8 * MiB + sys_page_size()));
}

Test(engine, freed_large_mappings_are_reused_from_the_cache)
{
    hk_engine_trim(0);
    void *p = hk_engine_malloc(100 * KiB);
    hk_engine_free(p, "free");
    sys_counters_t before, after;
    sys_counters(&before);
    void *q = hk_engine_malloc(90 * KiB);
    sys_counters(&after);
    cr_assert_eq(q, p, "the cached mapping comes back");
    cr_assert_eq(after.mmap, before.mmap);
    hk_engine_free(q, "free");
    cr_assert(hk_engine_trim(0), "trim releases the cache");
}

Test(engine, impossible_sizes_fail_without_a_system_call)
{
    sys_counters_t before, after;
    sys_counters(&before);
    cr_assert_null(hk_engine_malloc(opaque(SIZE_MAX)));
    cr_assert_null(hk_engine_malloc(opaque((size_t)PTRDIFF_MAX + 1)));
    cr_assert_null(hk_engine_calloc(opaque(SIZE_MAX - 8)));
    cr_assert_null(hk_engine_aligned(64, opaque(SIZE_MAX - 100)));
    void *p = hk_engine_malloc(10);
    sys_counters(&before);
    cr_assert_null(hk_engine_realloc(p, opaque(SIZE_MAX), "realloc"));
    sys_counters(&after);
    cr_assert_eq(after.mmap, before.mmap);
    hk_engine_free(p, "free");
}

Test(engine, free_preserves_errno)
{
    void *p = hk_engine_malloc(8 * MiB), *q = hk_engine_malloc(10);
    errno = 1234;
    hk_engine_free(p, "free");
    hk_engine_free(q, "free");
    cr_assert_eq(errno, 1234);
}

static void *cross_thread_free(void *arg)
{
    void **blocks = arg;
    for (int i = 0; i < 1000; i++)
        hk_engine_free(blocks[i], "free");
    return NULL;
}

Test(engine, blocks_freed_by_another_thread_return_to_their_arena)
{
    static void *blocks[1000];
    for (int i = 0; i < 1000; i++)
        blocks[i] = hk_engine_malloc((size_t)(i % 50) * 40);
    pthread_t t;
    pthread_create(&t, NULL, cross_thread_free, blocks);
    pthread_join(t, NULL);
    expect_all_arenas_sound();
    for (unsigned i = 0; i < buddy_arena_count(); i++) {
        buddy_arena_t *a = &buddy_arenas[i];
        for (unsigned l = 0; l < BUDDY_ORDERS; l++)
            cr_assert_eq(a->used_blocks[l], 0, "arena %u order %u", i, l);
    }
}

/* ---- Statistics ----------------------------------------------------------------------------- */

static char *stats_text(bool json)
{
    static char buf[16384];
    int fd = memfd_create("stats", 0);
    hk_engine_stats_print(fd, json);
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    close(fd);
    buf[n > 0 ? n : 0] = '\0';
    return buf;
}

static unsigned long long stat_value(const char *text, const char *name)
{
    const char *at = strstr(text, name);
    cr_assert_not_null(at, "%s missing", name);
    return strtoull(at + strlen(name), NULL, 10);
}

Test(stats, per_order_counts_follow_allocations)
{
    unsigned long long before = stat_value(stats_text(false), "used_512 ");
    void *p = hk_engine_malloc(400), *q = hk_engine_malloc(300);
    unsigned long long during = stat_value(stats_text(false), "used_512 ");
    cr_assert_eq(during, before + 2);
    hk_engine_free(p, "free");
    hk_engine_free(q, "free");
    cr_assert_eq(stat_value(stats_text(false), "used_512 "), before);
    char *json = stats_text(true);
    cr_assert_eq(json[0], '{');
    cr_assert_not_null(strstr(json, "\"orders\": {\"used_32\": "));
    cr_assert_not_null(strstr(json, "\"os\": {\"mmap\": "));
    cr_assert_not_null(strstr(json, "\"free_2048\""));
}

Test(stats, mallinfo_counts_heap_and_mapped_bytes)
{
    struct mallinfo2 before, during;
    hk_engine_mallinfo(&before);
    void *small = hk_engine_malloc(1000), *large = hk_engine_malloc(300 * KiB);
    hk_engine_mallinfo(&during);
    cr_assert_geq(during.uordblks, before.uordblks + 1024);
    cr_assert_eq(during.hblks, before.hblks + 1);
    cr_assert_geq(during.hblkhd, before.hblkhd + 300 * KiB);
    hk_engine_free(small, "free");
    hk_engine_free(large, "free");
}

/* ---- Misuse --------------------------------------------------------------------------------- */

Test(misuse, double_free_of_a_small_block_aborts, .signal = SIGABRT)
{
    void *p = hk_engine_malloc(40);
    hk_engine_free(p, "free");
    hk_engine_free(p, "free");
}

Test(misuse, double_free_of_an_aligned_block_aborts, .signal = SIGABRT)
{
    void *p = hk_engine_aligned(256, 40);
    hk_engine_free(p, "free");
    hk_engine_free(p, "free");
}

Test(misuse, double_free_of_a_cached_large_block_aborts, .signal = SIGABRT)
{
    void *p = hk_engine_malloc(64 * KiB);
    hk_engine_free(p, "free");
    hk_engine_free(p, "free");
}

Test(misuse, double_free_of_an_unmapped_large_block_aborts, .signal = SIGABRT)
{
    void *p = hk_engine_malloc(8 * MiB);
    hk_engine_free(p, "free");
    hk_engine_free(p, "free");
}

Test(misuse, free_of_a_stack_pointer_aborts, .signal = SIGABRT)
{
    char local[64];
    hk_engine_free(local + 16, "free");
}

Test(misuse, free_of_a_pointer_inside_a_block_aborts, .signal = SIGABRT)
{
    char *p = hk_engine_malloc(256);
    memset(p, 0, 256);
    hk_engine_free(p + 48, "free");
}

Test(misuse, free_of_a_misaligned_pointer_aborts, .signal = SIGABRT)
{
    char *p = hk_engine_malloc(256);
    hk_engine_free(p + 1, "free");
}

Test(misuse, free_of_brk_memory_the_heap_did_not_hand_out_aborts, .signal = SIGABRT)
{
    hk_engine_free(hk_engine_malloc(64), "free"); /* the heap has a page */
    char *foreign = sbrk(2 * (intptr_t)BUDDY_PAGE_BYTES);
    hk_engine_free(hk_engine_malloc(64), "free");
    memset(foreign, 0, 2 * BUDDY_PAGE_BYTES);
    buddy_block_t *fake = (buddy_block_t *)(foreign + BUDDY_PAGE_BYTES);
    fake->status = BLOCK_USED; /* looks like one of ours, but the page is someone else's */
    fake->level = 0;
    hk_engine_free((char *)fake + BUDDY_HEADER_BYTES, "free");
}

Test(misuse, realloc_of_a_freed_block_aborts, .signal = SIGABRT)
{
    void *p = hk_engine_malloc(64);
    hk_engine_free(p, "free");
    hk_engine_realloc(p, 128, "realloc");
}

/* ---- Checked mode (HEAPKIT_CHECK=1) ---------------------------------------------------------- */

Test(checked, normal_use_passes_the_per_operation_check)
{
    setenv("HEAPKIT_CHECK", "1", 1);
    void *blocks[300];
    for (int i = 0; i < 300; i++)
        blocks[i] = hk_engine_malloc((size_t)(i * 7) % 2000);
    for (int i = 0; i < 300; i += 2)
        blocks[i] = hk_engine_realloc(blocks[i], 10, "realloc");
    for (int i = 0; i < 300; i++)
        hk_engine_free(blocks[i], "free");
    expect_all_arenas_sound();
}

Test(checked, a_header_overwritten_after_free_is_caught_at_the_next_free, .signal = SIGABRT)
{
    setenv("HEAPKIT_CHECK", "1", 1);
    char *a = hk_engine_malloc(40), *b = hk_engine_malloc(40), *c = hk_engine_malloc(40);
    hk_engine_free(a, "free");
    /* A write through a dangling pointer that reaches the free block's header. */
    buddy_block_t *header = (buddy_block_t *)(a - BUDDY_HEADER_BYTES);
    header->level = 4;
    hk_engine_free(c, "free");
    (void)b;
}

/* ---- Checks that are always on (buddy_harden.h) ------------------------------------------- */

Test(checks, free_list_links_are_stored_encoded)
{
    char *a = hk_engine_malloc(40), *b = hk_engine_malloc(40);
    hk_engine_free(a, "free");
    buddy_block_t *header = (buddy_block_t *)(a - BUDDY_HEADER_BYTES);
    cr_assert_eq(header->status, BLOCK_FREE);
    /* Whatever its neighbours are, the raw words are not plain pointers into the heap. */
    cr_assert_not(buddy_in_sbrk_heap((void *)header->next) && header->next != 0);
    cr_assert_not(buddy_in_sbrk_heap((void *)header->previous) && header->previous != 0);
    hk_engine_free(b, "free");
    expect_all_arenas_sound();
}

Test(checks, a_corrupted_free_list_link_is_reported_not_followed, .signal = SIGABRT)
{
    char *a = hk_engine_malloc(40), *b = hk_engine_malloc(40), *c = hk_engine_malloc(40);
    hk_engine_free(c, "free");
    hk_engine_free(a, "free");
    /* A write after free into a's first payload bytes (its `previous` link). */
    char *target = b;
    memcpy(a, &target, sizeof target);
    for (int i = 0; i < 4; i++)
        hk_engine_malloc(40);
}

Test(checks, a_header_forged_inside_a_block_is_not_taken_for_a_block, .signal = SIGABRT)
{
    char *real = hk_engine_malloc(16), *big = hk_engine_malloc(1000);
    memset(big, 0, 1000);
    memcpy(big + 48, real - BUDDY_HEADER_BYTES, BUDDY_HEADER_BYTES); /* status, level, cookie */
    hk_engine_free(big + 64, "free");
}

Test(checks, an_overflow_into_the_buddys_header_is_reported_by_the_free, .signal = SIGABRT)
{
    buddy_arena_t *arena = fresh_arena();
    buddy_block_t *a = buddy_alloc_block(arena, 0), *b = buddy_alloc_block(arena, 0);
    cr_assert_eq(buddy_of(a, 0), b);
    memset((char *)a + BUDDY_MIN_BLOCK_BYTES, 'A', 8); /* b's status and level */
    buddy_free_block(arena, a);
}

/* ---- The hardened mode (HEAPKIT_HARDEN=1) -------------------------------------------------- */

static void harden_on(void)
{
    setenv("HEAPKIT_HARDEN", "1", 1);
}

Test(hardened, usable_size_is_exactly_the_size_asked, .init = harden_on)
{
    void *p = hk_engine_malloc(10), *q = hk_engine_calloc(0), *r = hk_engine_aligned(64, 10);
    void *s = hk_engine_malloc(5000), *t = hk_engine_malloc(2031);
    cr_assert_eq(hk_engine_usable_size(p, "u"), 10);
    cr_assert_eq(hk_engine_usable_size(q, "u"), 0);
    cr_assert_eq(hk_engine_usable_size(r, "u"), 10);
    cr_assert_eq(hk_engine_usable_size(s, "u"), 5000);
    cr_assert_eq(hk_engine_usable_size(t, "u"), 2031);
    cr_assert(hk_engine_size_matches(p, 10, "free_sized"));
    cr_assert_not(hk_engine_size_matches(p, 9, "free_sized"));
    cr_assert_not(hk_engine_size_matches(s, 4096, "free_sized"));
    void *blocks[] = {p, q, r, s, t};
    for (int i = 0; i < 5; i++)
        hk_engine_free(blocks[i], "free");
    expect_all_arenas_sound();
}

Test(hardened, a_one_byte_overflow_is_caught_on_free, .signal = SIGABRT, .init = harden_on)
{
    char *p = hk_engine_malloc(24);
    p[24] = '\0';
    hk_engine_free(p, "free");
}

Test(hardened, a_one_byte_overflow_of_a_mapped_block_is_caught_on_free, .signal = SIGABRT,
     .init = harden_on)
{
    char *p = hk_engine_malloc(64 * KiB);
    p[64 * KiB] = 1;
    hk_engine_free(p, "free");
}

Test(hardened, an_overflow_is_caught_on_realloc, .signal = SIGABRT, .init = harden_on)
{
    char *p = hk_engine_aligned(128, 40);
    p[40] = 'x';
    hk_engine_realloc(p, 100, "realloc");
}

Test(hardened, realloc_keeps_contents_and_moves_the_canary, .init = harden_on)
{
    char *p = hk_engine_malloc(20);
    memset(p, 'a', 20);
    p = hk_engine_realloc(p, 30, "realloc"); /* in place: same 64-byte block */
    cr_assert_eq(hk_engine_usable_size(p, "u"), 30);
    memset(p + 20, 'b', 10);
    p = hk_engine_realloc(p, 3000, "realloc"); /* moves to a mapping */
    cr_assert_eq(p[0], 'a');
    cr_assert_eq(p[29], 'b');
    memset(p, 'c', 3000);
    p = hk_engine_realloc(p, 6000, "realloc");
    cr_assert_eq(p[2999], 'c');
    p = hk_engine_realloc(p, 10, "realloc");
    cr_assert_eq(p[9], 'c');
    hk_engine_free(p, "free");
    hk_engine_trim(0);
    expect_all_arenas_sound();
}

Test(hardened, freed_blocks_wait_in_the_quarantine_before_reuse, .init = harden_on)
{
    char *p = hk_engine_malloc(40);
    hk_engine_free(p, "free");
    for (int i = 0; i < 16; i++) {
        char *q = hk_engine_malloc(40);
        cr_assert_neq(q, p, "a freed block is not handed out again at once");
        hk_engine_free(q, "free");
    }
    expect_all_arenas_sound();
    cr_assert(hk_engine_trim(0) || true); /* the quarantine empties, checked */
    expect_all_arenas_sound();
    for (unsigned i = 0; i < buddy_arena_count(); i++)
        cr_assert_eq(buddy_arenas[i].quarantined, 0);
}

Test(hardened, a_double_free_of_a_quarantined_block_is_reported, .signal = SIGABRT,
     .init = harden_on)
{
    char *p = hk_engine_malloc(40);
    hk_engine_free(p, "free");
    hk_engine_free(p, "free");
}

Test(hardened, a_write_after_free_is_caught_when_the_block_leaves, .signal = SIGABRT,
     .init = harden_on)
{
    char *p = hk_engine_malloc(100);
    hk_engine_free(p, "free");
    p[50] = 1;
    hk_engine_trim(0);
}

Test(hardened, a_write_after_free_into_a_cached_mapping_is_caught_on_reuse, .signal = SIGABRT,
     .init = harden_on)
{
    char *p = hk_engine_malloc(20 * KiB);
    hk_engine_free(p, "free");
    p[100] = 1;
    hk_engine_malloc(20 * KiB);
}

static void exit_on_fault(int sig)
{
    (void)sig;
    _exit(42);
}

/* (A handler of our own: ASan's would report the fault and exit otherwise.) */
Test(hardened, a_freed_big_mapping_is_inaccessible_while_cached, .exit_code = 42, .init = harden_on)
{
    struct sigaction action = {.sa_handler = exit_on_fault};
    sigaction(SIGSEGV, &action, NULL);
    char *p = hk_engine_malloc(1024 * KiB);
    hk_engine_free(p, "free");
    p[512 * KiB] = 1;
}
