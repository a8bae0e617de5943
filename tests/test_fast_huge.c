/* The fast engine's huge blocks (over 128 KiB): spans carved from regions, reused while still
 * committed, split and merged with their neighbours, grown and shrunk in place, decommitted
 * when idle or over budget, regions unmapped by trim. Linked directly (ASan and UBSan);
 * fast_check() (which walks every region span by span) runs after each step. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fast/fast_internal.h"
#include "core/engine.h"
#include "os/sys.h"

#define MIB ((size_t)1 << 20)
#define CHECK() cr_assert(fast_check(), "fast_check failed")

static uint64_t global_stat(int which)
{
    uint64_t h[FAST_HEAP_STAT_COUNT], g[FAST_GLOBAL_STAT_COUNT];
    fast_stats_snapshot(h, g);
    return g[which];
}

static uint64_t mmap_calls(void)
{
    sys_counters_t c;
    sys_counters(&c);
    return c.mmap;
}

/* Resident pages of [p, p + size), from mincore. */
static size_t resident_pages(const void *p, size_t size)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    uintptr_t start = (uintptr_t)p & ~(uintptr_t)(page - 1);
    size_t count = ((uintptr_t)p + size - start + page - 1) / page;
    unsigned char *vec = calloc(count, 1);
    cr_assert_not_null(vec);
    cr_assert_eq(mincore((void *)start, count * page, vec), 0);
    size_t resident = 0;
    for (size_t i = 0; i < count; i++) resident += vec[i] & 1;
    free(vec);
    return resident;
}

Test(fast_huge, a_freed_block_is_reused_while_committed_without_mmap_or_faults)
{
    size_t size = 12 * MIB;
    uint8_t *p = hk_engine_malloc(size);
    memset(p, 1, size);
    hk_engine_free(p, "free");
    CHECK();
    uint64_t maps = mmap_calls();
    /* A smaller block takes the same committed memory (best fit, split). */
    uint8_t *q = hk_engine_malloc(5 * MIB);
    cr_assert_eq(q, p, "the freed span is taken first");
    cr_assert_eq(mmap_calls(), maps, "reuse maps nothing");
    cr_assert_eq(global_stat(STAT_huge_cache_hits), 1);
    cr_assert_geq(resident_pages(q, 5 * MIB), 5 * MIB / (size_t)sysconf(_SC_PAGESIZE) - 1,
                  "the reused block is still resident");
    CHECK();
    hk_engine_free(q, "free");
    CHECK();
}

Test(fast_huge, neighbours_merge_so_a_bigger_block_fits_where_two_were)
{
    uint8_t *a = hk_engine_malloc(3 * MIB);
    uint8_t *b = hk_engine_malloc(3 * MIB);
    uint8_t *c = hk_engine_malloc(3 * MIB); /* keeps the region's tail apart from b */
    cr_assert(b > a && c > b, "carved in address order from one region");
    memset(a, 1, 3 * MIB);
    memset(b, 2, 3 * MIB);
    hk_engine_free(a, "free");
    hk_engine_free(b, "free");
    CHECK();
    cr_assert_geq(global_stat(STAT_huge_merges), 1);
    uint64_t maps = mmap_calls();
    uint8_t *d = hk_engine_malloc(5 * MIB + 100 * 1024);
    cr_assert_eq(d, a, "the merged span serves a block bigger than either");
    cr_assert_eq(mmap_calls(), maps);
    CHECK();
    hk_engine_free(c, "free");
    hk_engine_free(d, "free");
    CHECK();
}

Test(fast_huge, calloc_on_reused_memory_is_zero)
{
    size_t size = 6 * MIB;
    uint8_t *p = hk_engine_malloc(size);
    memset(p, 0xAB, size);
    hk_engine_free(p, "free");
    uint8_t *q = hk_engine_calloc(size);
    cr_assert_eq(q, p);
    for (size_t i = 0; i < size; i += 4093) cr_assert_eq(q[i], 0, "byte %zu not zero", i);
    cr_assert_eq(q[size - 1], 0);
    hk_engine_free(q, "free");
    CHECK();
}

Test(fast_huge, a_block_grows_into_free_space_after_it_and_gives_room_back_when_it_shrinks)
{
    uint8_t *p = hk_engine_malloc(1 * MIB);
    memset(p, 5, MIB);
    uint64_t maps = mmap_calls();
    for (size_t size = 2 * MIB; size <= 40 * MIB; size += 3 * MIB) {
        uint8_t *q = hk_engine_realloc(p, size, "realloc");
        cr_assert_eq(q, p, "grew in place to %zu", size);
        cr_assert_geq(hk_engine_usable_size(p, "malloc_usable_size"), size);
        CHECK();
    }
    cr_assert_eq(mmap_calls(), maps);
    for (size_t i = 0; i < MIB; i += 4096) cr_assert_eq(p[i], 5);
    p = hk_engine_realloc(p, 2 * MIB, "realloc");
    size_t usable = hk_engine_usable_size(p, "malloc_usable_size");
    cr_assert(usable >= 2 * MIB && usable < 2 * MIB + 8192, "shrunk to %zu", usable);
    CHECK();
    uint8_t *q = hk_engine_malloc(10 * MIB); /* fits in the room given back */
    cr_assert_gt(q, p);
    cr_assert_lt(q, p + 40 * MIB);
    hk_engine_free(q, "free");
    hk_engine_free(p, "free");
    CHECK();
}

Test(fast_huge, a_medium_block_growing_by_realloc_moves_once_into_a_span_and_then_grows_in_place)
{
    uint8_t *p = hk_engine_malloc(12 * 1024);
    memset(p, 3, 12 * 1024);
    p = hk_engine_realloc(p, 20 * 1024, "realloc");
    cr_assert_eq(fast_segment_resolve(p)->kind, SEGMENT_HUGE, "moved into a huge span");
    uint8_t *at = p;
    for (size_t size = 20 * 1024; size < 120 * 1024; size += 1000) {
        p = hk_engine_realloc(p, size, "realloc");
        cr_assert_eq(p, at, "realloc to %zu moved", size);
    }
    for (size_t i = 0; i < 12 * 1024; i++) cr_assert_eq(p[i], 3);
    /* Shrunk far below, it goes back to a size class. */
    p = hk_engine_realloc(p, 100, "realloc");
    cr_assert_neq(fast_segment_resolve(p)->kind, SEGMENT_HUGE);
    cr_assert_eq(p[99], 3);
    hk_engine_free(p, "free");
    CHECK();
}

Test(fast_huge, memory_freed_below_the_live_peak_stays_committed_until_it_decays)
{
    /* The budget lets committed free memory reach what the live heap has shrunk from its peak:
     * resident memory does not grow past where the live heap took it, and the next big
     * buffers reuse it without faults; the decay gives it back once idle. */
    setenv("HEAPKIT_HUGE_DECAY_MS", "100", 1);
    enum { N = 10 };
    uint8_t *blocks[N];
    for (int i = 0; i < N; i++) {
        blocks[i] = hk_engine_malloc(20 * MIB);
        memset(blocks[i], 1, 20 * MIB);
    }
    for (int i = 0; i < N; i++) hk_engine_free(blocks[i], "free");
    CHECK();
    size_t page = (size_t)sysconf(_SC_PAGESIZE), resident = 0;
    for (int i = 0; i < N; i++) resident += resident_pages(blocks[i], 20 * MIB);
    cr_assert_geq(resident * page, 150 * MIB, "%zu MiB resident after the free", resident * page / MIB);
    usleep(250 * 1000);
    hk_engine_free(hk_engine_malloc(64), "free"); /* slow-path ticks run the decay */
    hk_engine_free(hk_engine_malloc(3000), "free");
    hk_engine_free(hk_engine_malloc(200 * 1024), "free");
    resident = 0;
    for (int i = 0; i < N; i++) resident += resident_pages(blocks[i], 20 * MIB);
    cr_assert_leq(resident * page, 8 * MIB, "%zu MiB still resident after the decay",
                  resident * page / MIB);
    CHECK();
}

Test(fast_huge, idle_spans_decay_and_trim_unmaps_empty_regions)
{
    setenv("HEAPKIT_HUGE_DECAY_MS", "20", 1);
    uint8_t *p = hk_engine_malloc(8 * MIB);
    memset(p, 1, 8 * MIB);
    hk_engine_free(p, "free");
    usleep(50 * 1000);
    uint8_t *small = hk_engine_malloc(64); /* a slow-path tick runs the decay */
    hk_engine_free(small, "free");
    hk_engine_free(hk_engine_malloc(300 * 1024), "free");
    cr_assert_lt(resident_pages(p, 8 * MIB), 8, "idle span decommitted");
    CHECK();
    cr_assert(hk_engine_trim(0), "trim unmaps the empty region");
    cr_assert_eq(global_stat(STAT_huge_cache_bytes), 0);
    cr_assert_eq(global_stat(STAT_huge_regions_mapped), global_stat(STAT_huge_regions_unmapped));
    CHECK();
}

Test(fast_huge, aligned_huge_blocks_honour_the_alignment)
{
    size_t alignments[] = {4096, 65536, 2 * MIB, 8 * MIB, 32 * MIB};
    void *blocks[5];
    for (int i = 0; i < 5; i++) {
        blocks[i] = hk_engine_aligned(alignments[i], 3 * MIB);
        cr_assert_not_null(blocks[i]);
        cr_assert_eq((uintptr_t)blocks[i] % alignments[i], 0, "alignment %zu", alignments[i]);
        memset(blocks[i], i, 3 * MIB);
        CHECK();
    }
    for (int i = 0; i < 5; i++) hk_engine_free(blocks[i], "free");
    CHECK();
}

Test(fast_huge, random_huge_traffic_keeps_contents_and_invariants)
{
    enum { SLOTS = 24, STEPS = 600 };
    uint8_t *slot[SLOTS] = {0};
    size_t len[SLOTS] = {0};
    uint64_t rng = 12345;
    for (int step = 0; step < STEPS; step++) {
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        int i = (int)((rng >> 33) % SLOTS);
        size_t size = 129 * 1024 + (size_t)((rng >> 13) % (24 * MIB));
        if (slot[i]) {
            cr_assert_eq(slot[i][0], (uint8_t)i);
            cr_assert_eq(slot[i][len[i] - 1], (uint8_t)i);
        }
        switch ((rng >> 40) % 4) {
        case 0:
        case 1:
            if (slot[i]) hk_engine_free(slot[i], "free");
            if ((rng >> 50) & 1) {
                slot[i] = hk_engine_calloc(size);
                cr_assert_not_null(slot[i]);
                for (size_t at = 0; at < size; at += size / 7)
                    cr_assert_eq(slot[i][at], 0, "calloc byte %zu", at);
                cr_assert_eq(slot[i][size - 1], 0);
            } else {
                slot[i] = hk_engine_malloc(size);
                cr_assert_not_null(slot[i]);
            }
            break;
        case 2:
            if (!slot[i]) continue;
            slot[i] = hk_engine_realloc(slot[i], size, "realloc");
            cr_assert_not_null(slot[i]);
            break;
        default:
            if (slot[i]) hk_engine_free(slot[i], "free");
            slot[i] = NULL;
            len[i] = 0;
            continue;
        }
        len[i] = size;
        slot[i][0] = slot[i][size - 1] = (uint8_t)i;
        cr_assert_geq(hk_engine_usable_size(slot[i], "malloc_usable_size"), size);
        cr_assert(fast_check(), "fast_check failed at step %d", step);
    }
    for (int i = 0; i < SLOTS; i++)
        if (slot[i]) hk_engine_free(slot[i], "free");
    CHECK();
}

Test(fast_huge, double_free_of_a_reused_span_is_caught, .signal = SIGABRT)
{
    void *p = hk_engine_malloc(2 * MIB);
    hk_engine_free(p, "free");
    hk_engine_free(p, "free");
}

Test(fast_huge, interior_pointer_into_a_huge_block_is_caught, .signal = SIGABRT)
{
    uint8_t *p = hk_engine_malloc(2 * MIB);
    hk_engine_free(p + 4096, "free");
}
