/* The fast engine's heap walk (hk_engine_walk, hk_visit_blocks, hk_map_dump), linked directly
 * with ASan and UBSan: totals agree with the statistics, every live block is listed with its
 * size, other threads' pages are described without their blocks, a visitor can stop the walk,
 * and the heap map is valid JSON. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/engine.h"
#include "core/walk.h"
#include "fast/fast_internal.h"
#include "heapkit.h"

static uint64_t global_stat(int which)
{
    uint64_t h[FAST_HEAP_STAT_COUNT], g[FAST_GLOBAL_STAT_COUNT];
    fast_stats_snapshot(h, g);
    return g[which];
}

typedef struct {
    size_t page_bytes_used;   /* small and medium pages in use */
    size_t huge_bytes_used;   /* huge blocks */
    size_t blocks_used;       /* block-level items in use, huge ones included */
    size_t block_bytes_used;
    size_t items[3];          /* per level */
    size_t stop_after;        /* stop when this many items were seen (0: never) */
    uintptr_t wanted;         /* an address whose block must be listed */
    size_t wanted_size;
    bool wanted_seen;
} totals_t;

static bool count(const hk_block_info_t *info, void *arg)
{
    totals_t *t = arg;
    t->items[info->level]++;
    bool huge = info->label && strstr(info->label, "huge");
    if (info->level == HK_LEVEL_PAGE && info->state == HK_STATE_USED && !huge)
        t->page_bytes_used += info->size;
    if (info->level == HK_LEVEL_BLOCK && info->state == HK_STATE_USED) {
        t->blocks_used++;
        t->block_bytes_used += info->size;
        if (huge) t->huge_bytes_used += info->size;
        if (info->address == t->wanted) {
            t->wanted_seen = true;
            t->wanted_size = info->size;
        }
    }
    return !t->stop_after || t->items[0] + t->items[1] + t->items[2] < t->stop_after;
}

Test(fast_walk, totals_agree_with_the_statistics_and_every_live_block_is_listed)
{
    enum { N = 3000 };
    static void *blocks[N];
    uint64_t rng = 5;
    size_t live = 0;
    for (int i = 0; i < N; i++) {
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        size_t size = i % 500 == 0 ? 300000 : i % 50 == 0 ? 20000 : 16 + (rng >> 40) % 1500;
        blocks[i] = hk_engine_malloc(size);
    }
    for (int i = 0; i < N; i += 3) {
        hk_engine_free(blocks[i], "free");
        blocks[i] = NULL;
    }
    for (int i = 0; i < N; i++) live += blocks[i] != NULL;
    totals_t t = {.wanted = (uintptr_t)blocks[1]};
    cr_assert(hk_engine_walk(count, &t, HK_LEVEL_BLOCK));
    cr_assert_eq(t.page_bytes_used, global_stat(STAT_page_bytes_in_use));
    cr_assert_eq(t.huge_bytes_used, global_stat(STAT_huge_bytes_in_use));
    cr_assert_eq(t.blocks_used, live, "%zu blocks listed in use, %zu live", t.blocks_used, live);
    cr_assert(t.wanted_seen, "a live block is listed at its address");
    cr_assert_eq(t.wanted_size, hk_engine_usable_size(blocks[1], "malloc_usable_size"));
    cr_assert(fast_check());
}

Test(fast_walk, levels_limit_the_walk_and_a_visitor_can_stop_it)
{
    void *p = hk_engine_malloc(100);
    totals_t segments = {0}, pages = {0}, stopped = {.stop_after = 3};
    hk_engine_walk(count, &segments, HK_LEVEL_SEGMENT);
    cr_assert_gt(segments.items[0], 0);
    cr_assert_eq(segments.items[1] + segments.items[2], 0);
    hk_engine_walk(count, &pages, HK_LEVEL_PAGE);
    cr_assert_gt(pages.items[1], 0);
    cr_assert_eq(pages.items[2], 0);
    cr_assert_not(hk_engine_walk(count, &stopped, HK_LEVEL_BLOCK), "the walk reports the stop");
    cr_assert_eq(stopped.items[0] + stopped.items[1] + stopped.items[2], 3);
    hk_engine_free(p, "free");
}

static void *allocate_and_wait(void *arg)
{
    void **out = arg;
    for (int i = 0; i < 100; i++) out[i] = hk_engine_malloc(64);
    while (!__atomic_load_n(&out[100], __ATOMIC_ACQUIRE)) usleep(1000);
    for (int i = 0; i < 100; i++) hk_engine_free(out[i], "free");
    return NULL;
}

Test(fast_walk, another_threads_pages_are_counted_but_their_blocks_not_listed)
{
    static void *theirs[101];
    pthread_t t;
    pthread_create(&t, NULL, allocate_and_wait, theirs);
    while (!__atomic_load_n(&theirs[99], __ATOMIC_ACQUIRE)) usleep(1000);
    totals_t totals = {.wanted = (uintptr_t)theirs[0]};
    hk_engine_walk(count, &totals, HK_LEVEL_BLOCK);
    cr_assert_eq(totals.page_bytes_used, global_stat(STAT_page_bytes_in_use));
    cr_assert_not(totals.wanted_seen, "a live thread's blocks are not read");
    __atomic_store_n(&theirs[100], (void *)1, __ATOMIC_RELEASE);
    pthread_join(t, NULL);
}

Test(fast_walk, the_heap_map_is_one_valid_json_object)
{
    void *kept[200];
    for (int i = 0; i < 200; i++) kept[i] = hk_engine_malloc(i % 10 == 0 ? 200000 : 24 + i * 8);
    char path[] = "/tmp/heapkit-map-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(hk_map_write(fd, hk_engine_name, hk_engine_walk, HK_LEVEL_BLOCK), 0);
    close(fd);
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); "
             "assert m[\"heapkit_map\"]==1 and m[\"engine\"]==\"heapkit\"; "
             "assert sum(1 for i in m[\"items\"] if i[0]==2 and i[1]==0) >= 200' %s",
             path);
    cr_assert_eq(system(cmd), 0, "the map parses and lists the blocks");
    unlink(path);
    for (int i = 0; i < 200; i++) hk_engine_free(kept[i], "free");
}
