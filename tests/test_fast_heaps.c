/* A program's own heaps (hk_heap_* in heapkit.h) over the fast engine, linked directly with
 * ASan and UBSan: allocation, reset and destroy free every block at once, memory stays flat
 * across request-scoped heaps, other threads may free a heap's blocks, realloc and calloc
 * follow the malloc family's rules, and checked mode catches a free after destroy. */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/engine.h"
#include "fast/fast_internal.h"
#include "heapkit.h"
#include "os/sys.h"

#define CHECK() cr_assert(fast_check(), "fast_check failed")

static uint64_t heap_stat(int which)
{
    uint64_t h[FAST_HEAP_STAT_COUNT], g[FAST_GLOBAL_STAT_COUNT];
    fast_stats_snapshot(h, g);
    return h[which];
}

static uint64_t global_stat(int which)
{
    uint64_t h[FAST_HEAP_STAT_COUNT], g[FAST_GLOBAL_STAT_COUNT];
    fast_stats_snapshot(h, g);
    return g[which];
}

/* A mixed request: many small blocks, some medium, one huge. */
static void fill(hk_heap_t *heap, uint64_t seed, int count)
{
    for (int i = 0; i < count; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        size_t size = 16 + (size_t)(seed >> 40) % 2000;
        if (i % 1000 == 999) size = 64 * 1024;
        uint8_t *p = hk_heap_malloc(heap, size);
        cr_assert_not_null(p);
        memset(p, (int)i, size < 64 ? size : 64);
    }
    cr_assert_not_null(hk_heap_malloc(heap, 300 * 1024), "a huge block of the heap");
}

Test(fast_heaps, destroy_frees_every_block_and_the_pages_leave)
{
    uint64_t pages_before = global_stat(STAT_page_bytes_in_use);
    hk_heap_t *heap = hk_heap_new();
    cr_assert_not_null(heap);
    fill(heap, 1, 20000);
    cr_assert_gt(global_stat(STAT_page_bytes_in_use), pages_before);
    cr_assert_eq(global_stat(STAT_huge_blocks_in_use), 1);
    hk_heap_destroy(heap);
    cr_assert_eq(global_stat(STAT_page_bytes_in_use), pages_before, "every page of the heap left");
    cr_assert_eq(global_stat(STAT_huge_blocks_in_use), 0, "its huge block was freed");
    CHECK();
}

Test(fast_heaps, reset_frees_everything_and_the_heap_stays_usable)
{
    hk_heap_t *heap = hk_heap_new();
    fill(heap, 2, 5000);
    uint64_t segments = global_stat(STAT_segments_mapped);
    uint64_t pages = global_stat(STAT_page_bytes_in_use);
    for (int round = 0; round < 20; round++) {
        hk_heap_reset(heap);
        cr_assert_eq(global_stat(STAT_huge_blocks_in_use), 0);
        struct heap *h = (struct heap *)heap;
        for (unsigned c = 1; c < CLASS_COUNT; c++) {
            cr_assert_null(h->full[c].head, "no full page after a reset");
            for (page_t *page = h->avail[c].head; page; page = page->next) {
                uint32_t listed = 0;
                for (block_t *b = page->free; b; b = b->next) listed++;
                cr_assert(page->used == 0 && listed == page->capacity && !page->local_free,
                          "every block of the class-%u page is free", c);
            }
        }
        fill(heap, 3 + (uint64_t)round, 5000);
        CHECK();
    }
    cr_assert_eq(global_stat(STAT_segments_mapped), segments, "reset reuses the heap's segments");
    cr_assert_leq(global_stat(STAT_page_bytes_in_use), pages + 8 * 65536, "and its pages");
    hk_heap_destroy(heap);
    CHECK();
}

/* Resident set in KiB. */
static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long size = 0, resident = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &size, &resident) != 2) resident = 0;
        fclose(f);
    }
    return resident * 4;
}

Test(fast_heaps, a_request_scoped_heap_in_a_loop_keeps_memory_flat)
{
    long rss_early = 0;
    uint64_t mapped_early = 0;
    for (int request = 0; request < 300; request++) {
        hk_heap_t *heap = hk_heap_new();
        fill(heap, (uint64_t)request, 3000);
        hk_heap_destroy(heap);
        if (request == 30) {
            rss_early = rss_kib();
            sys_counters_t c;
            sys_counters(&c);
            mapped_early = c.mapped_bytes;
        }
    }
    sys_counters_t c;
    sys_counters(&c);
    cr_assert_leq(c.mapped_bytes, mapped_early, "mapped %llu then %llu",
                  (unsigned long long)mapped_early, (unsigned long long)c.mapped_bytes);
    cr_assert_lt(rss_kib() - rss_early, 2048, "RSS grew from %ld to %ld KiB", rss_early, rss_kib());
    CHECK();
}

static void *free_them(void *arg)
{
    void **blocks = arg;
    hk_engine_free(hk_engine_malloc(32), "free"); /* a thread with a heap of its own */
    for (int i = 0; blocks[i]; i++) hk_engine_free(blocks[i], "free");
    return NULL;
}

Test(fast_heaps, other_threads_free_a_heaps_blocks_and_destroy_may_follow_at_once)
{
    hk_heap_t *heap = hk_heap_new();
    static void *blocks[2001];
    for (int i = 0; i < 2000; i++) blocks[i] = hk_heap_malloc(heap, 48);
    pthread_t t;
    pthread_create(&t, NULL, free_them, blocks);
    pthread_join(t, NULL);
    /* None of those frees waits in the other thread's batches: the heap gets them all back. */
    uint64_t started = heap_stat(STAT_pages_started);
    for (int i = 0; i < 2000; i++) cr_assert_not_null(hk_heap_malloc(heap, 48));
    cr_assert_eq(heap_stat(STAT_pages_started), started, "the freed blocks were reused");
    /* ... and destroying it right away is safe. */
    hk_heap_destroy(heap);
    CHECK();
}

Test(fast_heaps, realloc_and_calloc_follow_the_malloc_family)
{
    hk_heap_t *heap = hk_heap_new();
    uint8_t *p = hk_heap_realloc(heap, NULL, 100);
    cr_assert_not_null(p);
    memset(p, 7, 100);
    p = hk_heap_realloc(heap, p, 5000);
    for (int i = 0; i < 100; i++) cr_assert_eq(p[i], 7);
    p = hk_heap_realloc(heap, p, 400 * 1024); /* huge, the heap's */
    for (int i = 0; i < 100; i++) cr_assert_eq(p[i], 7);
    uint8_t *q = hk_heap_realloc(heap, p, 900 * 1024); /* grows in place or moves */
    for (int i = 0; i < 100; i++) cr_assert_eq(q[i], 7);
    cr_assert_null(hk_heap_realloc(heap, q, 0), "size 0 frees");
    /* A block of the thread's heap moves into this heap. */
    uint8_t *outside = hk_engine_malloc(64);
    memset(outside, 9, 64);
    uint8_t *inside = hk_heap_realloc(heap, outside, 128);
    cr_assert_eq(inside[63], 9);
    uint8_t *zeroed = hk_heap_calloc(heap, 1000, 8);
    for (int i = 0; i < 8000; i++) cr_assert_eq(zeroed[i], 0);
    errno = 0;
    cr_assert_null(hk_heap_calloc(heap, SIZE_MAX / 2, 3));
    cr_assert_eq(errno, ENOMEM);
    errno = 0;
    cr_assert_null(hk_heap_malloc(heap, SIZE_MAX));
    cr_assert_eq(errno, ENOMEM);
    hk_heap_destroy(heap);
    CHECK();
}

Test(fast_heaps, checked_mode_reports_a_free_after_destroy, .signal = SIGABRT)
{
    setenv("HEAPKIT_CHECK", "1", 1);
    hk_heap_t *heap = hk_heap_new();
    void *p = hk_heap_malloc(heap, 64);
    hk_heap_destroy(heap);
    hk_engine_free(p, "free");
}
