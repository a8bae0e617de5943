/* Page families: splitting, merging, the largest-first choice and giving pages back. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <stdint.h>
#include <string.h>

#include "UserAPI_MemoryManager.h"
#include "family/family.h"
#include "os/sys.h"

typedef struct {
    char payload[48];
} rec_t; /* 48 bytes: a block of exactly 48 data bytes, no slack */

#define CHECKED() cr_assert(family_check(), "family_check failed")
#define HDR       sizeof(block_meta_data_t)

static mm_family_stats_t stats(void)
{
    mm_family_stats_t s;
    cr_assert_eq(mm_get_family_stats("rec_t", &s), 0);
    return s;
}

static block_meta_data_t *largest_free(void)
{
    mm_glue_t *g = lookup_page_family_by_name("rec_t")->free_block_priority_list_head.next;
    return g ? MM_GLUE_TO_BLOCK(g) : NULL;
}

Test(family_blocks, first_allocation_maps_one_page_and_splits_it_in_two)
{
    MM_REG_STRUCT(rec_t);
    sys_counters_t before, after;
    sys_counters(&before);
    rec_t *r = XCALLOC(1, rec_t);
    sys_counters(&after);
    cr_assert_eq(after.mmap, before.mmap + 1);
    CHECKED();
    mm_family_stats_t s = stats();
    cr_assert_eq(s.pages, 1);
    cr_assert_eq(s.blocks, 2);
    cr_assert_eq(s.occupied_blocks, 1);
    cr_assert_eq(s.occupied_bytes, 48);
    cr_assert_eq(s.free_bytes, family_max_block_bytes() - 48 - HDR);
    cr_assert_eq(s.mapped_bytes, s.meta_bytes + s.free_bytes + s.occupied_bytes,
                 "metadata, free and occupied bytes add up to the page");
    block_meta_data_t *b = MM_DATA_TO_BLOCK(r);
    cr_assert_eq(b->block_size, 48);
    cr_assert_eq(b->is_free, MM_FALSE);
    cr_assert_eq(b->next_block, largest_free());
    XFREE(r);
}

Test(family_blocks, freeing_merges_with_both_free_neighbours)
{
    MM_REG_STRUCT(rec_t);
    rec_t *r[4];
    for (int i = 0; i < 4; i++)
        r[i] = XCALLOC(1, rec_t);
    CHECKED();
    cr_assert_eq(stats().blocks, 5); /* r0 r1 r2 r3 tail */
    XFREE(r[0]);
    CHECKED();
    XFREE(r[2]); /* both neighbours occupied: nothing to merge */
    CHECKED();
    mm_family_stats_t s = stats();
    cr_assert_eq(s.blocks, 5);
    cr_assert_eq(s.free_blocks, 3);
    XFREE(r[1]); /* merges with r0 before it and r2 after it */
    CHECKED();
    s = stats();
    cr_assert_eq(s.blocks, 3);
    cr_assert_eq(s.free_blocks, 2);
    block_meta_data_t *merged = MM_DATA_TO_BLOCK(r[0]);
    cr_assert_eq(merged->is_free, MM_TRUE);
    cr_assert_eq(merged->block_size, 3 * 48 + 2 * HDR);
    cr_assert_eq(merged->next_block, MM_DATA_TO_BLOCK(r[3]));
    cr_assert_eq(MM_DATA_TO_BLOCK(r[3])->prev_block, merged);
    sys_counters_t before, after;
    sys_counters(&before);
    XFREE(r[3]); /* merges with both sides: the page is all free and goes back */
    sys_counters(&after);
    cr_assert_eq(after.munmap, before.munmap + 1);
    cr_assert_eq(stats().pages, 0);
    CHECKED();
}

Test(family_blocks, freeing_next_to_the_free_tail_merges_into_it)
{
    MM_REG_STRUCT(rec_t);
    rec_t *a = XCALLOC(1, rec_t);
    rec_t *b = XCALLOC(1, rec_t);
    size_t tail = largest_free()->block_size;
    XFREE(b);
    CHECKED();
    mm_family_stats_t s = stats();
    cr_assert_eq(s.blocks, 2);
    cr_assert_eq(s.free_blocks, 1);
    cr_assert_eq(largest_free(), MM_DATA_TO_BLOCK(b), "b's header now starts the free tail");
    cr_assert_eq(largest_free()->block_size, tail + 48 + HDR);
    XFREE(a);
    CHECKED();
}

Test(family_blocks, allocation_takes_the_largest_free_block)
{
    MM_REG_STRUCT(rec_t);
    /* Page: [a 48][gap 4*48][b 48][small 48][c 48][fill: the rest]. */
    rec_t *a = XCALLOC(1, rec_t);
    rec_t *gap = XCALLOC(4, rec_t); /* freed: a hole of 4*48 + ... data bytes */
    rec_t *b = XCALLOC(1, rec_t);
    rec_t *small = XCALLOC(1, rec_t);
    rec_t *c = XCALLOC(1, rec_t);
    /* Fill the tail completely (what is left is under 48 bytes, too small to split off). */
    size_t tail = largest_free()->block_size;
    rec_t *fill = XCALLOC((int)(tail / sizeof(rec_t)), rec_t);
    cr_assert_not_null(fill);
    cr_assert_null(largest_free(), "no free block left");
    XFREE(small);
    XFREE(gap);
    CHECKED();
    block_meta_data_t *head = largest_free();
    cr_assert_eq(MM_BLOCK_DATA(head), (void *)gap, "the 4-unit hole is the largest");
    cr_assert_eq(head->block_size, 4 * 48);
    block_meta_data_t *second = MM_GLUE_TO_BLOCK(head->priority_glue.next);
    cr_assert_eq(MM_BLOCK_DATA(second), (void *)small);
    cr_assert_null(second->priority_glue.next);
    rec_t *d = XCALLOC(1, rec_t);
    cr_assert_eq(d, gap, "allocation cut the largest block, not the exact fit");
    CHECKED();
    /* The 4-unit hole, cut to 1, leaves 3*48-HDR = 96 bytes, larger than small's 48. */
    cr_assert_eq(largest_free()->block_size, 3 * 48 - HDR);
    XFREE(a);
    XFREE(b);
    XFREE(c);
    XFREE(d);
    XFREE(fill);
    CHECKED();
    cr_assert_eq(stats().pages, 0);
}

Test(family_blocks, priority_list_stays_sorted_through_random_frees)
{
    MM_REG_STRUCT(rec_t);
    enum { N = 60 };
    rec_t *r[N];
    for (int i = 0; i < N; i++) {
        r[i] = XCALLOC(1 + i % 3, rec_t);
        cr_assert_not_null(r[i]);
    }
    CHECKED();
    unsigned seed = 12345;
    for (int i = 0; i < N; i++) { /* free in a scrambled order */
        int j = (int)((seed = seed * 1103515245u + 12345u) >> 16) % N;
        if (r[j]) {
            XFREE(r[j]);
            r[j] = NULL;
            CHECKED();
        }
    }
    for (int i = 0; i < N; i++)
        if (r[i]) {
            XFREE(r[i]);
            CHECKED();
        }
    cr_assert_eq(stats().pages, 0);
}

Test(family_blocks, page_whose_blocks_are_all_free_is_unmapped_at_once)
{
    MM_REG_STRUCT(rec_t);
    rec_t *a = XCALLOC(1, rec_t);
    rec_t *b = XCALLOC(1, rec_t);
    sys_counters_t before, after;
    sys_counters(&before);
    XFREE(a);
    sys_counters(&after);
    cr_assert_eq(after.munmap, before.munmap, "page still holds b");
    XFREE(b);
    sys_counters(&after);
    cr_assert_eq(after.munmap, before.munmap + 1, "the now empty page went back");
    cr_assert_eq(before.mapped_bytes - after.mapped_bytes, family_page_size());
    mm_family_stats_t s = stats();
    cr_assert_eq(s.pages, 0);
    cr_assert_eq(s.pages_obtained, 1);
    cr_assert_eq(s.pages_released, 1);
    cr_assert_null(lookup_page_family_by_name("rec_t")->first_page);
    CHECKED();
}

Test(family_blocks, full_page_brings_a_second_page_and_each_goes_back_alone)
{
    MM_REG_STRUCT(rec_t);
    size_t per_page = (family_max_block_bytes() + HDR) / (48 + HDR);
    rec_t *r[256];
    cr_assert_lt(per_page + 1, 256);
    for (size_t i = 0; i <= per_page; i++) {
        r[i] = XCALLOC(1, rec_t);
        cr_assert_not_null(r[i]);
        memset(r[i], (int)i, sizeof(rec_t));
    }
    CHECKED();
    mm_family_stats_t s = stats();
    cr_assert_eq(s.pages, 2);
    cr_assert_eq(s.occupied_blocks, per_page + 1);
    sys_counters_t before, after;
    sys_counters(&before);
    XFREE(r[per_page]); /* alone on the second page */
    sys_counters(&after);
    cr_assert_eq(after.munmap, before.munmap + 1);
    CHECKED();
    for (size_t i = 0; i < per_page; i++) {
        for (size_t k = 0; k < sizeof(rec_t); k++)
            cr_assert_eq((unsigned char)r[i]->payload[k], (unsigned char)i);
        XFREE(r[i]);
        CHECKED();
    }
    sys_counters(&after);
    cr_assert_eq(after.munmap, before.munmap + 2);
    cr_assert_eq(stats().pages, 0);
}

Test(family_blocks, remainder_too_small_for_a_header_stays_with_the_block)
{
    MM_REG_STRUCT(rec_t);
    size_t max = family_max_block_bytes();
    /* Leave max - n*48 < HDR + 16 bytes: no split, the block takes the whole page. */
    int units = (int)((max - HDR) / 48);
    while ((size_t)units * 48 + HDR + 16 <= max)
        units++;
    cr_assert_leq((size_t)units * 48, max);
    rec_t *r = XCALLOC(units, rec_t);
    cr_assert_not_null(r);
    CHECKED();
    mm_family_stats_t s = stats();
    cr_assert_eq(s.blocks, 1);
    cr_assert_eq(MM_DATA_TO_BLOCK(r)->block_size, max);
    XFREE(r);
    CHECKED();
    cr_assert_eq(stats().pages, 0);
}

Test(family_blocks, checker_catches_a_block_missing_from_the_priority_list,
     .init = cr_redirect_stderr)
{
    MM_REG_STRUCT(rec_t);
    rec_t *a = XCALLOC(1, rec_t);
    rec_t *b = XCALLOC(1, rec_t);
    XFREE(a); /* two free blocks: a, and the tail */
    CHECKED();
    vm_page_family_t *f = lookup_page_family_by_name("rec_t");
    block_meta_data_t *hole = MM_DATA_TO_BLOCK(a);
    family_priority_remove(hole);
    cr_assert_not(family_check(), "a free block off the list is caught");
    family_priority_insert(f, hole);
    CHECKED();
    XFREE(b);
}

Test(family_blocks, checker_catches_an_overrun_into_the_next_header, .init = cr_redirect_stderr)
{
    MM_REG_STRUCT(rec_t);
    rec_t *a = XCALLOC(1, rec_t);
    rec_t *b = XCALLOC(1, rec_t);
    block_meta_data_t saved = *MM_DATA_TO_BLOCK(b);
    memset((char *)a + sizeof(rec_t), 0x41, 8); /* writes past a, over b's canary */
    cr_assert_not(family_check());
    *MM_DATA_TO_BLOCK(b) = saved;
    CHECKED();
    MM_DATA_TO_BLOCK(b)->block_size += 16; /* sizes no longer add up to the page */
    cr_assert_not(family_check());
    MM_DATA_TO_BLOCK(b)->block_size -= 16;
    CHECKED();
    XFREE(a);
    XFREE(b);
}

Test(family_blocks, checker_catches_an_unsorted_priority_list, .init = cr_redirect_stderr)
{
    MM_REG_STRUCT(rec_t);
    rec_t *a = XCALLOC(1, rec_t);
    rec_t *b = XCALLOC(1, rec_t);
    XFREE(a); /* list: tail (large), a (48) */
    block_meta_data_t *small = MM_DATA_TO_BLOCK(a);
    vm_page_family_t *f = lookup_page_family_by_name("rec_t");
    /* Put the small block in front by hand. */
    family_priority_remove(small);
    mm_glue_t *head = &f->free_block_priority_list_head;
    small->priority_glue.prev = head;
    small->priority_glue.next = head->next;
    head->next->prev = &small->priority_glue;
    head->next = &small->priority_glue;
    cr_assert_not(family_check());
    family_priority_remove(small);
    family_priority_insert(f, small);
    CHECKED();
    XFREE(b);
}
