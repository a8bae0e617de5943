/* The heap walk of the page families (core/walk.h, an hk_walker_t): each VM page is a segment,
 * labelled with its family's struct name, and its blocks follow it (the engine has no level
 * between the two). Block address and size are the data's, without the 48-byte header, as
 * mm_family_stats_t counts them; segments count bytes (used_blocks = data bytes occupied,
 * free_blocks = data bytes free). One family's lock at a time, as every walk here takes them;
 * nothing is allocated. */
#include "family/family.h"

#include "core/walk.h"

typedef struct {
    hk_block_visitor_t visitor;
    void *arg;
    int max_level;
} walk_t;

static bool visit(walk_t *walk, hk_level_t level, bool in_use, uintptr_t address, size_t size,
                  size_t used, size_t free, const char *label)
{
    return hk_walk_visit(walk->visitor, walk->arg, level, in_use ? HK_STATE_USED : HK_STATE_FREE,
                         0, address, size, level == HK_LEVEL_BLOCK ? size : 0, used, free, label);
}

/* Family lock held. */
static bool walk_page(walk_t *walk, vm_page_family_t *family, vm_page_t *page)
{
    size_t used = 0, free = 0;
    for (block_meta_data_t *block = &page->block_meta_data; block; block = block->next_block)
        *(block->is_free ? &free : &used) += block->block_size;
    /* The name lives as long as the process: families are never unregistered. */
    if (!visit(walk, HK_LEVEL_SEGMENT, used != 0, (uintptr_t)page, family_page_size(), used, free,
               family->struct_name))
        return false;
    if (walk->max_level < HK_LEVEL_BLOCK) return true;
    for (block_meta_data_t *block = &page->block_meta_data; block; block = block->next_block)
        if (!visit(walk, HK_LEVEL_BLOCK, !block->is_free, (uintptr_t)MM_BLOCK_DATA(block),
                   block->block_size, 0, 0, family->struct_name))
            return false;
    return true;
}

bool family_walk(hk_block_visitor_t visitor, void *arg, int max_level)
{
    walk_t walk = {visitor, arg, max_level};
    family_iter_t it;
    family_iter_begin(&it);
    for (vm_page_family_t *family; (family = family_iter_next(&it));) {
        family_lock(family);
        bool going = true;
        for (vm_page_t *page = family->first_page; page && going; page = page->next)
            going = walk_page(&walk, family, page);
        family_unlock(family);
        if (!going) return false;
    }
    return true;
}
