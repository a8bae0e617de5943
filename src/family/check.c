/* family_check: the invariant walker the tests call after every step.
 * For every family, under its lock:
 *   pages      are page-aligned, point back to the family, and are doubly linked;
 *   blocks     tile each page exactly (offsets match addresses, each block ends where the next
 *              header starts, the last ends at the page's end), carry a live canary, are
 *              doubly linked, and no two neighbours are both free; no page is all free;
 *   free list  is sorted largest first, consistently linked, and holds exactly the free
 *              blocks of this family's pages. */
#include "core/fatal.h"
#include "family/family.h"

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        hk_warn(__VA_ARGS__);                                                                      \
        return false;                                                                              \
    } while (0)

static bool check_page(vm_page_family_t *f, vm_page_t *page, vm_page_t *prev, size_t *free_count)
{
    size_t page_size = family_page_size();
    if ((uintptr_t)page % page_size)
        FAIL("family_check: %s: page %p not aligned", f->struct_name, (void *)page);
    if (page->pg_family != f)
        FAIL("family_check: %s: page %p names another family", f->struct_name, (void *)page);
    if (page->prev != prev)
        FAIL("family_check: %s: page %p has a wrong prev link", f->struct_name, (void *)page);

    block_meta_data_t *expect_prev = NULL;
    size_t expect_offset = offsetof(vm_page_t, block_meta_data);
    for (block_meta_data_t *b = &page->block_meta_data; b; b = b->next_block) {
        if ((size_t)((char *)b - (char *)page) != expect_offset || b->offset != expect_offset)
            FAIL("family_check: %s: block %p at a wrong offset (%u, expected %zu)", f->struct_name,
                 (void *)b, b->offset, expect_offset);
        if (b->magic != family_block_magic(b))
            FAIL("family_check: %s: block %p has a broken canary", f->struct_name, (void *)b);
        if (b->is_free != MM_TRUE && b->is_free != MM_FALSE)
            FAIL("family_check: %s: block %p has a bad is_free", f->struct_name, (void *)b);
        if (b->block_size % MM_BLOCK_ALIGN || b->block_size == 0)
            FAIL("family_check: %s: block %p has a bad size %u", f->struct_name, (void *)b,
                 b->block_size);
        if (b->prev_block != expect_prev)
            FAIL("family_check: %s: block %p has a wrong prev link", f->struct_name, (void *)b);
        if (b->is_free && expect_prev && expect_prev->is_free)
            FAIL("family_check: %s: free neighbours %p and %p not merged", f->struct_name,
                 (void *)expect_prev, (void *)b);
        expect_offset += sizeof(block_meta_data_t) + b->block_size;
        if (expect_offset > page_size)
            FAIL("family_check: %s: block %p runs past its page", f->struct_name, (void *)b);
        if (b->next_block && b->next_block != NEXT_META_BLOCK_BY_SIZE(b))
            FAIL("family_check: %s: block %p is not followed by its next block", f->struct_name,
                 (void *)b);
        if (b->is_free) (*free_count)++;
        expect_prev = b;
    }
    if (expect_offset != page_size)
        FAIL("family_check: %s: blocks of page %p cover %zu of %zu bytes", f->struct_name,
             (void *)page, expect_offset, page_size);
    block_meta_data_t *first = &page->block_meta_data;
    if (!first->next_block && first->is_free)
        FAIL("family_check: %s: page %p is all free but still mapped", f->struct_name,
             (void *)page);
    return true;
}

static bool check_priority_list(vm_page_family_t *f, size_t free_count)
{
    size_t listed = 0;
    mm_glue_t *prev = &f->free_block_priority_list_head;
    uint32_t last_size = UINT32_MAX;
    for (mm_glue_t *g = prev->next; g; prev = g, g = g->next) {
        if (++listed > free_count)
            FAIL("family_check: %s: priority list holds more than the %zu free blocks",
                 f->struct_name, free_count);
        block_meta_data_t *b = MM_GLUE_TO_BLOCK(g);
        if (g->prev != prev)
            FAIL("family_check: %s: priority list link broken at %p", f->struct_name, (void *)b);
        if (b->magic != family_block_magic(b) || !b->is_free)
            FAIL("family_check: %s: priority list holds %p, not a free block", f->struct_name,
                 (void *)b);
        if (MM_GET_PAGE_FROM_META_BLOCK(b)->pg_family != f)
            FAIL("family_check: %s: priority list holds %p of another family", f->struct_name,
                 (void *)b);
        if (b->block_size > last_size)
            FAIL("family_check: %s: priority list not sorted largest first at %p (%u after %u)",
                 f->struct_name, (void *)b, b->block_size, last_size);
        last_size = b->block_size;
    }
    if (listed != free_count)
        FAIL("family_check: %s: priority list holds %zu blocks, pages hold %zu free",
             f->struct_name, listed, free_count);
    return true;
}

static bool check_family(vm_page_family_t *f)
{
    size_t free_count = 0;
    vm_page_t *prev = NULL;
    for (vm_page_t *page = f->first_page; page; page = page->next) {
        if (!check_page(f, page, prev, &free_count)) return false;
        prev = page;
    }
    return check_priority_list(f, free_count);
}

bool family_check(void)
{
    family_iter_t it;
    family_iter_begin(&it);
    for (vm_page_family_t *f; (f = family_iter_next(&it));) {
        family_lock(f);
        bool ok = check_family(f);
        family_unlock(f);
        if (!ok) return false;
    }
    return true;
}
