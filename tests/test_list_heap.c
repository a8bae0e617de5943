/* The list heap engine on its own: fit policies, split at the exact boundary, coalescing
 * (eager and lazy), in-place resizing, growth of both backings, region release, the
 * singly linked layout, lookup and walk, and list_check after every step. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>

#include "list/list.h"
#include "os/sys.h"

struct hdr32 {
    size_t size;
    int status;
    struct hdr32 *prev, *next;
};

struct hdr24 {
    size_t size;
    int free;
    struct hdr24 *next;
};

#define CHECK(heap)                                                                          \
    do {                                                                                     \
        char why_[256];                                                                      \
        cr_assert(list_check((heap), why_, sizeof why_), "list_check: %s", why_);           \
    } while (0)

static list_config_t config(list_fit_t fit, list_backing_t backing, bool eager)
{
    return (list_config_t){
        .layout = {.header_size = 32, .next_offset = 24, .prev_offset = 16, .status_free = 0,
                   .status_alloc = 1, .status_mapped = 2},
        .fit = fit,
        .backing = backing,
        .first_grow_bytes = 64 * 1024,
        .region_min_bytes = 4096,
        .min_split_payload = 8,
        .coalesce_on_free = eager,
        .coalesce_before_fit = !eager,
        .release_empty_regions = eager,
    };
}

static list_heap_t heap;

static void *get(size_t size)
{
    size_t payload;
    cr_assert(list_request_size(&heap, size, &payload));
    void *p = list_alloc(&heap, payload);
    cr_assert_not_null(p);
    CHECK(&heap);
    return p;
}

static void put(void *p)
{
    list_free(&heap, p);
    CHECK(&heap);
}

static struct hdr32 *hdr(void *p)
{
    return (struct hdr32 *)p - 1;
}

static void start(list_fit_t fit, bool eager)
{
    list_config_t cfg = config(fit, LIST_BACKING_MMAP, eager);
    list_init(&heap, &cfg);
}

/* Four candidates separated by allocated guards: sizes 104, 200, 104, 304. */
static void four_holes(void *hole[4])
{
    size_t sizes[4] = {100, 200, 100, 300};
    for (int i = 0; i < 4; i++) {
        hole[i] = get(sizes[i]);
        get(8); /* guard */
    }
    for (int i = 0; i < 4; i++) put(hole[i]);
}

Test(list_heap, best_fit_takes_smallest_fitting_block_lowest_address_on_ties)
{
    void *hole[4];
    start(LIST_BEST_FIT, true);
    four_holes(hole);
    cr_assert_eq(get(96), hole[0]);  /* 104 twice: the lower one */
    cr_assert_eq(get(96), hole[2]);  /* then the other 104 */
    cr_assert_eq(get(250), hole[3]); /* 304, though 200 came first and is too small */
    cr_assert_eq(get(150), hole[1]);
}

Test(list_heap, first_fit_takes_lowest_fitting_block)
{
    void *hole[4];
    start(LIST_FIRST_FIT, true);
    four_holes(hole);
    cr_assert_eq(get(150), hole[1]); /* 200 comes before 304 */
    cr_assert_eq(get(96), hole[0]);
}

Test(list_heap, split_only_when_remainder_holds_header_plus_8_bytes)
{
    start(LIST_FIRST_FIT, true);
    void *a = get(200);
    get(8);
    put(a);
    uint64_t splits = heap.counts[STAT_splits];
    /* remainder 200 - 168 = 32 bytes: a header and nothing else, so no split */
    cr_assert_eq(get(168), a);
    cr_assert_eq(hdr(a)->size, 200);
    cr_assert_eq(heap.counts[STAT_splits], splits);
    put(a);
    /* remainder 40 bytes: header + 8, split */
    cr_assert_eq(get(160), a);
    cr_assert_eq(hdr(a)->size, 160);
    struct hdr32 *rest = hdr(a)->next;
    cr_assert_eq((char *)rest, (char *)a + 160);
    cr_assert_eq(rest->size, 8);
    cr_assert_eq(rest->status, 0);
    cr_assert_eq(heap.counts[STAT_splits], splits + 1);
}

Test(list_heap, free_merges_with_both_free_neighbours)
{
    start(LIST_FIRST_FIT, true);
    void *a = get(64), *b = get(64), *c = get(64);
    get(8);
    put(a);
    put(c);
    put(b);
    cr_assert_eq(hdr(a)->size, 64 * 3 + 32 * 2);
    cr_assert_eq(hdr(a)->status, 0);
    cr_assert_eq(hdr(a)->next, hdr(c)->next); /* b and c are gone from the list */
}

Test(list_heap, lazy_heap_keeps_free_runs_until_coalesce_all)
{
    start(LIST_BEST_FIT, false);
    void *a = get(64), *b = get(64), *c = get(64);
    get(8);
    put(a);
    put(b);
    put(c);
    list_stats_t s;
    list_stats(&heap, &s);
    uint64_t free_before = s.v[STAT_free_blocks];
    list_coalesce_all(&heap);
    CHECK(&heap);
    list_stats(&heap, &s);
    cr_assert_eq(s.v[STAT_free_blocks], free_before - 2);
    cr_assert_eq(hdr(a)->size, 64 * 3 + 64);
}

Test(list_heap, resize_absorbs_following_free_blocks_one_at_a_time)
{
    start(LIST_BEST_FIT, false);
    void *p = get(64), *a = get(16), *b = get(16), *c = get(16);
    get(8);
    put(a);
    put(b);
    put(c);
    /* 64 + (32 + 16) + (32 + 16) = 160 fits 152 after two absorptions; c stays apart */
    cr_assert(list_resize_in_place(&heap, p, 152));
    CHECK(&heap);
    cr_assert_eq(hdr(p)->size, 160);
    cr_assert_eq((void *)hdr(p)->next, (void *)hdr(c));
    cr_assert_eq(hdr(c)->status, 0);
    cr_assert_eq(heap.counts[STAT_coalesces], 2);
}

Test(list_heap, resize_keeps_blocks_absorbed_when_still_too_small)
{
    start(LIST_BEST_FIT, false);
    void *p = get(64), *a = get(16), *b = get(16);
    void *guard = get(8);
    put(a);
    put(b);
    cr_assert_not(list_resize_in_place(&heap, p, 1000));
    CHECK(&heap);
    cr_assert_eq(hdr(p)->size, 64 + 48 + 48);
    cr_assert_eq((void *)hdr(p)->next, (void *)hdr(guard));
    cr_assert_eq(hdr(p)->status, 1);
}

Test(list_heap, resize_never_absorbs_the_previous_block)
{
    start(LIST_BEST_FIT, false);
    void *v = get(200), *p = get(64);
    get(8);
    put(v);
    cr_assert_not(list_resize_in_place(&heap, p, 128));
    CHECK(&heap);
    cr_assert_eq(hdr(v)->size, 200);
    cr_assert_eq(hdr(v)->status, 0);
    cr_assert_eq(hdr(p)->size, 64);
}

Test(list_heap, resize_shrinks_by_splitting)
{
    start(LIST_FIRST_FIT, true);
    void *p = get(400);
    get(8);
    cr_assert(list_resize_in_place(&heap, p, 104));
    CHECK(&heap);
    cr_assert_eq(hdr(p)->size, 104);
    cr_assert_eq(hdr(p)->next->size, 400 - 104 - 32);
    cr_assert_eq(hdr(p)->next->status, 0);
}

Test(list_heap, mmap_backing_grows_by_regions_and_releases_empty_ones)
{
    start(LIST_FIRST_FIT, true);
    sys_counters_t before, after;
    sys_counters(&before);
    void *small = get(100);
    void *big = get(200000); /* larger than the 64 KiB first region */
    sys_counters(&after);
    cr_assert_eq(after.mmap - before.mmap, 2);
    cr_assert_eq(heap.counts[STAT_grows], 2);
    cr_assert_geq(hdr(big)->size, 200000);
    put(big);
    sys_counters(&after);
    cr_assert_eq(after.munmap - before.munmap, 1);
    cr_assert_eq(heap.counts[STAT_regions_released], 1);
    put(small); /* the first region stays */
    sys_counters(&after);
    cr_assert_eq(after.munmap - before.munmap, 1);
    list_stats_t s;
    list_stats(&heap, &s);
    cr_assert_eq(s.v[STAT_blocks], 1);
    cr_assert_eq(s.v[STAT_free_bytes], 64 * 1024 - 16 - 32);
}

Test(list_heap, brk_backing_preallocates_then_extends_the_free_tail)
{
    list_config_t cfg = config(LIST_BEST_FIT, LIST_BACKING_BRK, false);
    cfg.first_grow_bytes = 128 * 1024;
    list_init(&heap, &cfg);
    sys_counters_reset();
    sys_counters_t c0, c1;
    sys_counters(&c0);
    void *a = get(100000);
    sys_counters(&c1);
    cr_assert_eq(c1.brk, 1);
    cr_assert_eq(c1.brk_bytes - c0.brk_bytes, 128 * 1024);
    void *b = get(60000); /* the free tail (31008 bytes) grows by the difference */
    sys_counters(&c0);
    cr_assert_eq(c0.brk, 2);
    cr_assert_eq(c0.brk_bytes - c1.brk_bytes, 60000 - (131072 - 32 - 100000 - 32));
    cr_assert_eq((char *)b, (char *)a + 100000 + 32);
    void *c = get(1000); /* the tail is allocated: a new block of header + payload */
    sys_counters(&c1);
    cr_assert_eq(c1.brk_bytes - c0.brk_bytes, 1000 + 32);
    cr_assert_eq((char *)c, (char *)b + 60000 + 32);
    cr_assert_eq(c1.mmap, 0);
}

Test(list_heap, mapped_blocks_live_on_their_own_list)
{
    start(LIST_BEST_FIT, false);
    sys_counters_t c0, c1;
    sys_counters(&c0);
    void *m = list_map_block(&heap, 300000);
    cr_assert_not_null(m);
    sys_counters(&c1);
    cr_assert_eq(c1.mapped_bytes - c0.mapped_bytes, 300000 + 32);
    cr_assert_eq(hdr(m)->status, 2);
    cr_assert_eq(list_lookup(&heap, m), (char *)hdr(m));
    CHECK(&heap);
    list_unmap_block(&heap, m);
    CHECK(&heap);
    cr_assert_null(list_lookup(&heap, m));
    sys_counters(&c1);
    cr_assert_eq(c1.munmap - c0.munmap, 1);
}

Test(list_heap, singly_linked_layout_splits_and_merges)
{
    list_config_t cfg = config(LIST_FIRST_FIT, LIST_BACKING_MMAP, true);
    cfg.layout = (list_layout_t){.header_size = 24, .next_offset = 16,
                                 .prev_offset = LIST_NO_PREV, .status_free = 1,
                                 .status_alloc = 0, .status_mapped = -1};
    list_init(&heap, &cfg);
    void *a = get(100), *b = get(100), *c = get(100);
    struct hdr24 *ha = (struct hdr24 *)a - 1;
    cr_assert_eq(ha->free, 0);
    cr_assert_eq((char *)ha->next, (char *)b - 24);
    put(b);
    put(a); /* merges forward into b's space */
    cr_assert_eq(ha->free, 1);
    cr_assert_eq(ha->size, 104 + 24 + 104);
    put(c); /* merges backward (found by walking) and forward */
    list_stats_t s;
    list_stats(&heap, &s);
    cr_assert_eq(s.v[STAT_blocks], 1);
    cr_assert_eq(s.v[STAT_free_bytes], 64 * 1024 - 16 - 24);
}

Test(list_heap, check_reports_a_corrupt_status_and_adjacent_free_blocks)
{
    start(LIST_FIRST_FIT, true);
    void *a = get(64), *b = get(64);
    get(8);
    char why[256];
    hdr(a)->status = 7;
    cr_assert_not(list_check(&heap, why, sizeof why));
    cr_assert(strstr(why, "status 7"), "%s", why);
    hdr(a)->status = 0; /* free beside free b: eager heaps never leave that */
    hdr(b)->status = 0;
    cr_assert_not(list_check(&heap, why, sizeof why));
    cr_assert(strstr(why, "adjacent"), "%s", why);
    hdr(b)->status = 1;
    hdr(b)->prev = NULL;
    cr_assert_not(list_check(&heap, why, sizeof why));
    cr_assert(strstr(why, "prev"), "%s", why);
}

static void count_block(const char *block, void *arg)
{
    (void)block;
    (*(int *)arg)++;
}

Test(list_heap, walk_and_lookup_see_exactly_the_blocks)
{
    start(LIST_FIRST_FIT, true);
    void *a = get(64), *b = get(64);
    int seen = 0;
    list_walk(&heap, count_block, &seen);
    cr_assert_eq(seen, 3); /* a, b and the free rest */
    cr_assert_eq(list_lookup(&heap, b), (char *)hdr(b));
    cr_assert_null(list_lookup(&heap, (char *)a + 8));
    int local;
    cr_assert_null(list_lookup(&heap, &local));
}

Test(list_heap, request_size_rounds_to_8_and_rejects_impossible_sizes)
{
    start(LIST_FIRST_FIT, true);
    size_t out = 0;
    cr_assert(list_request_size(&heap, 1, &out));
    cr_assert_eq(out, 8);
    cr_assert(list_request_size(&heap, 17, &out));
    cr_assert_eq(out, 24);
    cr_assert_not(list_request_size(&heap, SIZE_MAX, &out));
    cr_assert_not(list_request_size(&heap, SIZE_MAX - 7, &out));
    cr_assert_not(list_request_size(&heap, (size_t)PTRDIFF_MAX, &out));
}
