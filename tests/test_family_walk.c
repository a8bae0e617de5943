/* The page families' heap walk (family_walk): after a random workload over two families its
 * totals equal mm_get_family_stats (pages, blocks and bytes occupied and free), every block
 * lies in its VM page, segments carry their family's name, and its heap map is valid JSON. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "UserAPI_MemoryManager.h"
#include "core/walk.h"
#include "family/family.h"
#include "json_valid.h"

typedef struct {
    char name[40];
} small_t;

typedef struct {
    char text[200];
} big_t;

typedef struct {
    uint64_t pages, blocks, occupied_blocks, free_blocks, occupied_bytes, free_bytes;
    uint64_t segment_used, segment_free;
    hk_block_info_t segment;
    bool outside, unnamed;
} tally_t;

static bool tally_item(const hk_block_info_t *info, void *arg)
{
    tally_t *t = arg;
    if (info->level == HK_LEVEL_SEGMENT) {
        t->segment = *info;
        t->pages++;
        t->segment_used += info->used_blocks;
        t->segment_free += info->free_blocks;
        if (strcmp(info->label, "small_t") != 0 && strcmp(info->label, "big_t") != 0)
            t->unnamed = true;
        return true;
    }
    cr_assert_eq(info->level, HK_LEVEL_BLOCK);
    if (info->address < t->segment.address ||
        info->address + info->size > t->segment.address + t->segment.size)
        t->outside = true;
    t->blocks++;
    if (info->state == HK_STATE_USED) {
        t->occupied_blocks++;
        t->occupied_bytes += info->size;
    } else {
        t->free_blocks++;
        t->free_bytes += info->size;
    }
    return true;
}

static void random_workload(void **kept, size_t count)
{
    MM_REG_STRUCT(small_t);
    MM_REG_STRUCT(big_t);
    srand(7);
    for (size_t i = 0; i < count; i++)
        kept[i] = rand() % 2 ? (void *)XCALLOC(rand() % 5 + 1, small_t)
                             : (void *)XCALLOC(rand() % 3 + 1, big_t);
    for (size_t i = 0; i < count; i++)
        if (rand() % 3 == 0) {
            XFREE(kept[i]);
            kept[i] = NULL;
        }
}

Test(family_walk, totals_equal_the_family_statistics_after_a_random_workload)
{
    static void *kept[600];
    random_workload(kept, 600);
    tally_t t = {0};
    cr_assert(family_walk(tally_item, &t, HK_LEVEL_BLOCK));
    mm_family_stats_t s;
    cr_assert_eq(mm_get_family_stats(NULL, &s), 0);
    cr_expect_eq(t.pages, s.pages);
    cr_expect_eq(t.blocks, s.blocks);
    cr_expect_eq(t.occupied_blocks, s.occupied_blocks);
    cr_expect_eq(t.free_blocks, s.free_blocks);
    cr_expect_eq(t.occupied_bytes, s.occupied_bytes);
    cr_expect_eq(t.free_bytes, s.free_bytes);
    cr_expect_eq(t.segment_used, s.occupied_bytes);
    cr_expect_eq(t.segment_free, s.free_bytes);
    cr_expect(!t.outside, "every block lies in its VM page");
    cr_expect(!t.unnamed, "segments carry their family's name");
    cr_assert(family_check());
}

static bool stop_at_once(const hk_block_info_t *info, void *arg)
{
    (void)info;
    (void)arg;
    return false;
}

Test(family_walk, a_visitor_that_returns_false_stops_the_walk_and_releases_the_lock)
{
    static void *kept[50];
    random_workload(kept, 50);
    cr_expect(!family_walk(stop_at_once, NULL, HK_LEVEL_BLOCK));
    small_t *more = XCALLOC(1, small_t); /* the family's lock is free again */
    cr_expect_not_null(more);
    XFREE(more);
}

Test(family_walk, the_heap_map_is_valid_json)
{
    static void *kept[200];
    random_workload(kept, 200);
    char path[] = "/tmp/heapkit-family-map-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(hk_map_write(fd, "mm", family_walk, HK_LEVEL_BLOCK), 0);
    close(fd);
    char why[4096];
    bool valid = json_file_is_valid(path, why, sizeof why);
    unlink(path);
    cr_expect(valid, "%s", why);
}
