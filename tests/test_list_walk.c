/* The list heap's walk (list_visit, and the walkers of its three front ends): after random
 * workloads its totals equal list_stats (blocks, free blocks, heap and free bytes), segments
 * are runs of touching blocks (the brk heap, mmap regions) plus one per mapped block, blocks
 * tile their segment, and the heap maps are valid JSON. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/walk.h"
#include "front/list_fronts.h"
#include "json_valid.h"
#include "memalloc.h"
#include "memory_allocation.h"
#include "osmem.h"

typedef struct {
    uint64_t blocks, free_blocks, heap_bytes, free_payload, mapped;
    uint64_t segment_used, segment_free, block_used, block_free;
    hk_block_info_t segment;
    uintptr_t next_in_segment; /* where the segment's next block must start */
    bool gap, outside;
} tally_t;

static bool tally_item(const hk_block_info_t *info, void *arg)
{
    tally_t *t = arg;
    if (info->level == HK_LEVEL_SEGMENT) {
        if (t->segment.size && t->next_in_segment != t->segment.address + t->segment.size &&
            strcmp(t->segment.label, "mapped block") != 0)
            t->gap = true;
        t->segment = *info;
        t->next_in_segment = info->address;
        t->segment_used += info->used_blocks;
        t->segment_free += info->free_blocks;
        t->mapped += strcmp(info->label, "mapped block") == 0;
        return true;
    }
    cr_assert_eq(info->level, HK_LEVEL_BLOCK);
    if (info->address != t->next_in_segment) t->gap = true;
    t->next_in_segment = info->address + info->size;
    if (info->address + info->size > t->segment.address + t->segment.size) t->outside = true;
    *(info->state == HK_STATE_USED ? &t->block_used : &t->block_free) += info->size;
    if (strcmp(info->label, "mapped block") == 0) return true;
    t->blocks++;
    t->heap_bytes += info->size;
    if (info->state == HK_STATE_FREE) {
        t->free_blocks++;
        t->free_payload += info->block_size;
    }
    return true;
}

static void expect_totals(hk_walker_t walker, void (*stats)(list_stats_t *))
{
    tally_t t = {0};
    cr_assert(walker(tally_item, &t, HK_LEVEL_BLOCK));
    list_stats_t s;
    stats(&s);
    cr_expect_eq(t.blocks, s.v[STAT_blocks]);
    cr_expect_eq(t.free_blocks, s.v[STAT_free_blocks]);
    cr_expect_eq(t.heap_bytes, s.v[STAT_heap_bytes]);
    cr_expect_eq(t.free_payload, s.v[STAT_free_bytes]);
    cr_expect_eq(t.segment_used, t.block_used, "segments count the bytes of their blocks");
    cr_expect_eq(t.segment_free, t.block_free);
    cr_expect(!t.gap, "blocks tile their segment");
    cr_expect(!t.outside);
}

static void expect_valid_map(hk_walker_t walker)
{
    char path[] = "/tmp/heapkit-list-map-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(hk_map_write(fd, "list", walker, HK_LEVEL_BLOCK), 0);
    close(fd);
    char why[4096];
    bool valid = json_file_is_valid(path, why, sizeof why);
    unlink(path);
    cr_expect(valid, "%s", why);
}

#define BLOCKS 400

Test(list_walk, osmem_totals_equal_its_statistics_with_mapped_blocks)
{
    static void *kept[BLOCKS];
    srand(11);
    for (int i = 0; i < BLOCKS; i++)
        kept[i] = os_malloc(rand() % 50 ? (size_t)(rand() % 3000) + 1 : 200000);
    for (int i = 0; i < BLOCKS; i += 2)
        os_free(kept[i]);
    expect_totals(osmem_walk, osmem_stats);
    tally_t t = {0};
    osmem_walk(tally_item, &t, HK_LEVEL_SEGMENT);
    cr_expect_gt(t.mapped, 0, "blocks with their own mapping are segments");
    expect_valid_map(osmem_walk);
}

Test(list_walk, chunks_totals_equal_its_statistics_over_several_regions)
{
    static void *kept[BLOCKS];
    srand(12);
    for (int i = 0; i < BLOCKS; i++)
        kept[i] = allocate_memory((size_t)(rand() % 5000) + 1);
    for (int i = 1; i < BLOCKS; i += 3)
        free_memory(kept[i]);
    expect_totals(chunks_walk, chunks_stats);
    expect_valid_map(chunks_walk);
}

Test(list_walk, pool_totals_equal_its_statistics)
{
    static void *kept[BLOCKS];
    srand(13);
    for (int i = 0; i < BLOCKS; i++)
        kept[i] = custom_malloc((size_t)(rand() % 400) + 1);
    for (int i = 0; i < BLOCKS; i += 3)
        custom_free(kept[i]);
    expect_totals(pool_walk, pool_stats);
    expect_valid_map(pool_walk);
}
