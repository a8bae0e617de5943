/* The buddy engine's heap walk (buddy_walk, hk_engine_walk) linked straight into the test
 * (ASan+UBSan): after random workloads in the sbrk heap and in chunks, the walk's totals equal
 * the engine's statistics (blocks and bytes in use and free per order, large mappings live and
 * cached, pooled pages); items nest (segments, then pages, then blocks inside them); the walk
 * stops when the visitor says so; and the heap map it makes is valid JSON. Each test runs in
 * its own process, so the heap starts afresh. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "buddy/buddy.h"
#include "core/engine.h"
#include "core/series.h"
#include "core/walk.h"
#include "json_valid.h"

typedef struct {
    uint64_t used_blocks[BUDDY_ORDERS], free_blocks[BUDDY_ORDERS];
    uint64_t used_bytes, free_bytes;  /* buddy blocks */
    uint64_t large, large_bytes;      /* large mappings in use */
    uint64_t cached, cached_bytes;    /* cached large mappings */
    uint64_t pooled, pooled_resident; /* pages in the heap's pool */
    uint64_t chunks;                  /* chunk segments */
    uint64_t items;                   /* everything visited */
    hk_block_info_t segment, page;    /* the current parents */
    bool nesting_broken;
} tally_t;

static bool inside(const hk_block_info_t *child, const hk_block_info_t *parent)
{
    return child->address >= parent->address &&
           child->address + child->size <= parent->address + parent->size;
}

static bool tally_item(const hk_block_info_t *info, void *arg)
{
    tally_t *t = arg;
    t->items++;
    switch (info->level) {
    case HK_LEVEL_SEGMENT:
        t->segment = *info;
        if (strcmp(info->label, "large block") == 0) {
            t->large++;
            t->large_bytes += info->size;
        } else if (strcmp(info->label, "cached large mapping") == 0) {
            t->cached++;
            t->cached_bytes += info->size;
        } else if (strcmp(info->label, "chunk") == 0) {
            t->chunks++;
        }
        break;
    case HK_LEVEL_PAGE:
        t->page = *info;
        if (!inside(info, &t->segment)) t->nesting_broken = true;
        if (strcmp(info->label, "pooled page") == 0) {
            t->pooled++;
            t->pooled_resident += info->state == HK_STATE_CACHED;
        }
        break;
    case HK_LEVEL_BLOCK:
        if (!inside(info, &t->page)) t->nesting_broken = true;
        if (strcmp(info->label, "block") != 0) break;
        unsigned level = info->size_class - BUDDY_MIN_SHIFT;
        cr_assert_lt(level, BUDDY_ORDERS);
        cr_assert_eq(info->size, buddy_order_bytes(level));
        if (info->state == HK_STATE_USED) {
            t->used_blocks[level]++;
            t->used_bytes += info->size;
        } else {
            cr_assert_eq(info->state, HK_STATE_FREE);
            t->free_blocks[level]++;
            t->free_bytes += info->size;
        }
        break;
    default:
        cr_assert_fail("level %u", info->level);
    }
    return true;
}

static char *stats_json(void)
{
    static char buf[16384];
    int fd = memfd_create("stats", 0);
    hk_engine_stats_print(fd, true);
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    close(fd);
    buf[n > 0 ? n : 0] = '\0';
    return buf;
}

static unsigned long long stat_value(const char *text, const char *name)
{
    char key[64];
    snprintf(key, sizeof key, "\"%s\": ", name);
    const char *at = strstr(text, key);
    cr_assert_not_null(at, "%s missing in %s", name, text);
    return strtoull(at + strlen(key), NULL, 10);
}

/* Random sizes from 1 byte to 64 KiB (mostly small), some aligned; frees half at random. */
static void random_workload(unsigned seed, void **kept, size_t count)
{
    srand(seed);
    for (size_t i = 0; i < count; i++) {
        size_t size = rand() % 8 ? (size_t)(rand() % 2000) + 1 : (size_t)(rand() % 65536) + 1;
        kept[i] = rand() % 16 ? hk_engine_malloc(size) : hk_engine_aligned(64, size);
        cr_assert_not_null(kept[i]);
        memset(kept[i], 0xab, size < 64 ? size : 64);
    }
    for (size_t i = 0; i < count; i++)
        if (rand() % 2) {
            hk_engine_free(kept[i], "free");
            kept[i] = NULL;
        }
}

static void expect_totals_equal_stats(void)
{
    tally_t t = {0};
    cr_assert(hk_engine_walk(tally_item, &t, HK_LEVEL_BLOCK));
    cr_expect(!t.nesting_broken, "every page lies in its segment, every block in its page");
    const char *stats = stats_json();
    static const char *const orders[] = {"32", "64", "128", "256", "512", "1024", "2048"};
    for (unsigned level = 0; level < BUDDY_ORDERS; level++) {
        char name[32];
        snprintf(name, sizeof name, "used_%s", orders[level]);
        cr_expect_eq(t.used_blocks[level], stat_value(stats, name), "%s", name);
        snprintf(name, sizeof name, "free_%s", orders[level]);
        cr_expect_eq(t.free_blocks[level], stat_value(stats, name), "%s", name);
    }
    cr_expect_eq(t.used_bytes, stat_value(stats, "heap_bytes_in_use"));
    cr_expect_eq(t.free_bytes, stat_value(stats, "heap_bytes_free"));
    cr_expect_eq(t.large, stat_value(stats, "large_in_use"));
    cr_expect_eq(t.large_bytes, stat_value(stats, "large_bytes_in_use"));
    cr_expect_eq(t.cached, stat_value(stats, "large_cached"));
    cr_expect_eq(t.cached_bytes, stat_value(stats, "large_cached_bytes"));
    cr_expect_eq(t.pooled, stat_value(stats, "sbrk_pages_pooled"));
    cr_expect_eq(t.pooled_resident, stat_value(stats, "sbrk_pages_resident"));
    cr_expect_eq(t.chunks, stat_value(stats, "chunks"));
}

static void use_chunks(void)
{
    setenv("HEAPKIT_BUDDY_CHUNKS", "1", 1);
}

#define BLOCKS 3000

Test(walk, totals_equal_the_statistics_after_a_random_workload_in_the_sbrk_heap)
{
    static void *kept[BLOCKS];
    random_workload(1, kept, BLOCKS);
    expect_totals_equal_stats();
    random_workload(2, kept, BLOCKS / 2); /* the first round's survivors stay */
    hk_engine_trim(0);                    /* empty pages pooled, their memory given back */
    expect_totals_equal_stats();
}

Test(walk, totals_equal_the_statistics_after_a_random_workload_in_chunks, .init = use_chunks)
{
    static void *kept[BLOCKS];
    random_workload(3, kept, BLOCKS);
    expect_totals_equal_stats();
    for (size_t i = 0; i < BLOCKS; i++)
        if (kept[i]) hk_engine_free(kept[i], "free");
    expect_totals_equal_stats();
}

Test(walk, blocks_in_use_are_found_with_their_order_and_usable_size)
{
    char *p = hk_engine_malloc(100); /* 128-byte order */
    tally_t before = {0};
    cr_assert(hk_engine_walk(tally_item, &before, HK_LEVEL_BLOCK));
    cr_expect_geq(before.used_blocks[2], 1);
    hk_engine_free(p, "free");
    tally_t after = {0};
    cr_assert(hk_engine_walk(tally_item, &after, HK_LEVEL_BLOCK));
    cr_expect_eq(after.used_blocks[2], before.used_blocks[2] - 1);
}

static bool stop_after_three(const hk_block_info_t *info, void *arg)
{
    (void)info;
    return ++*(int *)arg < 3;
}

Test(walk, a_visitor_that_returns_false_stops_the_walk)
{
    void *p[20];
    for (int i = 0; i < 20; i++)
        p[i] = hk_engine_malloc(64);
    int seen = 0;
    cr_expect(!hk_engine_walk(stop_after_three, &seen, HK_LEVEL_BLOCK));
    cr_expect_eq(seen, 3);
    for (int i = 0; i < 20; i++)
        hk_engine_free(p[i], "free");
    /* The locks were given back: the engine still works. */
    hk_engine_free(hk_engine_malloc(64), "free");
}

static bool count_levels(const hk_block_info_t *info, void *arg)
{
    ((unsigned *)arg)[info->level]++;
    return true;
}

Test(walk, max_level_limits_how_deep_the_walk_goes)
{
    void *p = hk_engine_malloc(64), *q = hk_engine_malloc(100000);
    unsigned levels[3] = {0};
    hk_engine_walk(count_levels, levels, HK_LEVEL_SEGMENT);
    cr_expect_geq(levels[0], 2);
    cr_expect_eq(levels[1] + levels[2], 0);
    memset(levels, 0, sizeof levels);
    hk_engine_walk(count_levels, levels, HK_LEVEL_PAGE);
    cr_expect_gt(levels[1], 0);
    cr_expect_eq(levels[2], 0);
    hk_engine_free(p, "free");
    hk_engine_free(q, "free");
}

Test(walk, large_mappings_in_use_and_cached_are_segments, .init = use_chunks)
{
    void *big = hk_engine_malloc(100000);
    void *aligned = hk_engine_aligned(8192, 20000);
    void *freed = hk_engine_malloc(50000);
    hk_engine_free(freed, "free"); /* into the cache */
    expect_totals_equal_stats();
    tally_t t = {0};
    hk_engine_walk(tally_item, &t, HK_LEVEL_BLOCK);
    cr_expect_eq(t.large, 2);
    cr_expect_eq(t.cached, 1);
    hk_engine_free(big, "free");
    hk_engine_free(aligned, "free");
}

Test(map, the_heap_map_of_a_workload_is_valid_json)
{
    static void *kept[BLOCKS];
    random_workload(4, kept, BLOCKS);
    char path[] = "/tmp/heapkit-map-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(hk_map_write(fd, hk_engine_name, hk_engine_walk, HK_LEVEL_BLOCK), 0);
    close(fd);
    char why[4096];
    bool valid = json_file_is_valid(path, why, sizeof why);
    unlink(path);
    cr_expect(valid, "%s", why);
}

Test(series, allocating_notes_points_of_live_and_mapped_bytes)
{
    hk_series_reset();
    void *p[400];
    for (int i = 0; i < 400; i++)
        p[i] = hk_engine_malloc(1000); /* 400 KiB in 1 KiB orders */
    hk_series_point_t points[16];
    size_t n = hk_series_points(points, 16);
    cr_expect_geq(n, 3, "a note per 64 KiB");
    cr_expect_leq(points[0].live_bytes, points[n < 16 ? n - 1 : 15].live_bytes);
    for (size_t i = 0; i < n && i < 16; i++)
        cr_expect_geq(points[i].mapped_bytes, points[i].live_bytes);
    for (int i = 0; i < 400; i++)
        hk_engine_free(p[i], "free");
}
