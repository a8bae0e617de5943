/* Blocks inside a family's VM pages: allocation takes the largest free block (the head of the
 * family's priority list), splits off what it does not need, and maps a new VM page when even
 * the largest block is too small; release merges a block with its free neighbours and gives a
 * page whose blocks are all free back to the kernel at once.
 *
 * The priority structure is a list sorted largest first, threaded through the free blocks'
 * metadata. Taking the largest is O(1); inserting is O(free blocks of the family), which a
 * page bounds (a page of 4 KiB holds at most 64 blocks of metadata). A merge has to remove
 * arbitrary blocks (the free neighbours) from the middle of the structure, which a linked
 * list does in O(1) and needs no memory of its own, while a binary heap would need an array
 * to grow (an allocation inside the allocator) and back-pointers to delete from the middle. */
#include <errno.h>
#include <string.h>

#include "core/checked.h"
#include "core/fatal.h"
#include "family/family.h"
#include "os/sys.h"

#define BLOCK_MAGIC_LIVE 0x4d4d424cu /* a block header in use (free or occupied) */
#define BLOCK_MAGIC_DEAD 0x4d4d4244u /* a header absorbed by a merge */

/* The smallest block worth splitting off: a header and one aligned granule of data. */
#define BLOCK_SPLIT_MIN_BYTES (sizeof(block_meta_data_t) + MM_BLOCK_ALIGN)

_Static_assert(sizeof(block_meta_data_t) % MM_BLOCK_ALIGN == 0, "headers keep data aligned");
_Static_assert(offsetof(vm_page_t, page_memory) % MM_BLOCK_ALIGN == 0, "first data aligned");
_Static_assert(offsetof(vm_page_t, page_memory) ==
                   offsetof(vm_page_t, block_meta_data) + sizeof(block_meta_data_t),
               "the first block's data follows its header");

/* Canaries depend on the header's address, so a copied or stale header does not pass. */
static uint32_t magic_for(const block_meta_data_t *meta, uint32_t kind)
{
    uintptr_t a = (uintptr_t)meta;
    return kind ^ (uint32_t)(a >> 4) ^ (uint32_t)((uint64_t)a >> 36);
}

uint32_t family_block_magic(const block_meta_data_t *meta)
{
    return magic_for(meta, BLOCK_MAGIC_LIVE);
}

void family_priority_insert(vm_page_family_t *family, block_meta_data_t *block)
{
    mm_glue_t *prev = &family->free_block_priority_list_head;
    /* After the blocks of equal size: among equals the oldest is used first. */
    while (prev->next && MM_GLUE_TO_BLOCK(prev->next)->block_size >= block->block_size)
        prev = prev->next;
    mm_glue_t *glue = &block->priority_glue;
    glue->prev = prev;
    glue->next = prev->next;
    if (prev->next) prev->next->prev = glue;
    prev->next = glue;
}

void family_priority_remove(block_meta_data_t *block)
{
    mm_glue_t *glue = &block->priority_glue;
    glue->prev->next = glue->next;
    if (glue->next) glue->next->prev = glue->prev;
    glue->prev = glue->next = NULL;
}

static void block_init(block_meta_data_t *meta, uint32_t offset, uint32_t size)
{
    meta->magic = family_block_magic(meta);
    meta->is_free = MM_TRUE;
    meta->block_size = size;
    meta->offset = offset;
    meta->prev_block = meta->next_block = NULL;
    meta->priority_glue.prev = meta->priority_glue.next = NULL;
}

/* Maps a VM page for the family, made of one free block, and puts it on the priority list.
 * Returns the block, or NULL when the kernel refuses. Family lock held. */
static block_meta_data_t *page_add(vm_page_family_t *family)
{
    void *mem;
    if (sys_map(family_page_size(), &mem) != 0) return NULL;
    vm_page_t *page = mem;
    page->pg_family = family;
    page->prev = NULL;
    page->next = family->first_page;
    if (page->next) page->next->prev = page;
    family->first_page = page;
    family->pages_obtained++;
    block_init(&page->block_meta_data, offsetof(vm_page_t, block_meta_data),
               (uint32_t)family_max_block_bytes());
    family_priority_insert(family, &page->block_meta_data);
    return &page->block_meta_data;
}

/* Unlinks an all-free page from its family and unmaps it. Family lock held. */
static void page_release(vm_page_family_t *family, vm_page_t *page)
{
    if (page->prev)
        page->prev->next = page->next;
    else
        family->first_page = page->next;
    if (page->next) page->next->prev = page->prev;
    family->pages_released++;
    int err = sys_unmap(page, family_page_size());
    if (err) hk_warn("xfree: munmap of VM page %p failed (errno %d)", (void *)page, err);
}

/* Cuts block (off the priority list) to need bytes and puts the rest, when it can hold a
 * header and some data, on the list as a new free block; otherwise the block keeps the
 * remainder as slack. Family lock held. */
static void block_split(vm_page_family_t *family, block_meta_data_t *block, uint32_t need)
{
    uint32_t rest = block->block_size - need;
    if (rest < BLOCK_SPLIT_MIN_BYTES) return;
    block_meta_data_t *fresh = (block_meta_data_t *)((char *)MM_BLOCK_DATA(block) + need);
    block_init(fresh, block->offset + (uint32_t)sizeof(block_meta_data_t) + need,
               rest - (uint32_t)sizeof(block_meta_data_t));
    fresh->prev_block = block;
    fresh->next_block = block->next_block;
    if (fresh->next_block) fresh->next_block->prev_block = fresh;
    block->next_block = fresh;
    block->block_size = need;
    family_priority_insert(family, fresh);
}

void *family_alloc(const char *name, int units)
{
    vm_page_family_t *family = family_lookup(name);
    if (hk_unlikely(!family)) {
        hk_warn("xcalloc: struct %s is not registered (MM_REG_STRUCT it first)",
                name ? name : "(null)");
        return NULL;
    }
    size_t bytes;
    if (hk_unlikely(units <= 0)) {
        hk_warn("xcalloc: %d units of %s requested; units must be positive", units, name);
        errno = EINVAL;
        return NULL;
    }
    if (hk_unlikely(!hk_mul((size_t)units, family->struct_size, &bytes) ||
                    bytes > family_max_block_bytes())) {
        hk_warn("xcalloc: %d units of %s (%u bytes each) do not fit in one VM page "
                "(%zu bytes at most)",
                units, name, family->struct_size, family_max_block_bytes());
        errno = ENOMEM;
        return NULL;
    }
    uint32_t need = (uint32_t)hk_align_up_small(bytes, MM_BLOCK_ALIGN);

    family_lock(family);
    mm_glue_t *head = family->free_block_priority_list_head.next;
    block_meta_data_t *block = head ? MM_GLUE_TO_BLOCK(head) : NULL;
    if (!block || block->block_size < need) block = page_add(family);
    if (hk_unlikely(!block)) {
        family_unlock(family);
        hk_warn("xcalloc: no VM page for %s (the kernel refused memory)", name);
        errno = ENOMEM;
        return NULL;
    }
    family_priority_remove(block);
    block_split(family, block, need);
    block->is_free = MM_FALSE;
    family->alloc_calls++;
    uint32_t size = block->block_size;
    family_unlock(family);

    /* The block is ours now; only its neighbours' headers can change under other threads. */
    void *data = MM_BLOCK_DATA(block);
    memset(data, 0, size);
    return data;
}

/* Finds the family that owns the VM page holding data, without reading anything at data:
 * the page (data rounded down to the page size) must be on some registered family's page
 * list. Returns that family with its lock held, so the page cannot be unmapped while the
 * header is checked; a pointer into no family's page (freed twice after its page was given
 * back, or never returned by xcalloc) aborts. xfree is not a hot path: the walk is
 * O(families + pages), one family lock at a time. */
static vm_page_family_t *page_owner_locked(void *data)
{
    size_t page_size = family_page_size();
    uintptr_t a = (uintptr_t)data;
    if (a % MM_BLOCK_ALIGN != 0 || a % page_size < MM_PAGE_HEADER_BYTES)
        hk_fatal("invalid pointer %p in xfree()", data);
    const vm_page_t *want = (const vm_page_t *)(a - a % page_size);
    family_iter_t it;
    family_iter_begin(&it);
    for (vm_page_family_t *family; (family = family_iter_next(&it));) {
        family_lock(family);
        for (const vm_page_t *page = family->first_page; page; page = page->next)
            if (page == want) return family;
        family_unlock(family);
    }
    hk_fatal("invalid pointer %p in xfree()", data);
}

/* Checks the header in front of data, in a page family owns (its lock held): the canary must
 * be live and the offset consistent with the header's place in the page. */
static void block_validate(vm_page_family_t *family, void *data, block_meta_data_t *block)
{
    size_t page_size = family_page_size();
    if (block->magic == magic_for(block, BLOCK_MAGIC_DEAD)) {
        family_unlock(family);
        hk_fatal("double free of %p in xfree()", data);
    }
    if (block->magic != family_block_magic(block) || block->offset >= page_size ||
        (uintptr_t)block % page_size != block->offset) {
        family_unlock(family);
        hk_fatal("invalid pointer %p in xfree()", data);
    }
    if (block->is_free != MM_FALSE) {
        family_unlock(family);
        hk_fatal("double free of %p in xfree()", data);
    }
}

/* low absorbs high, its free neighbour at the next address. */
static void block_absorb(block_meta_data_t *low, block_meta_data_t *high)
{
    low->block_size += (uint32_t)sizeof(block_meta_data_t) + high->block_size;
    low->next_block = high->next_block;
    if (low->next_block) low->next_block->prev_block = low;
    high->magic = magic_for(high, BLOCK_MAGIC_DEAD);
    high->is_free = MM_TRUE;
}

void family_free(void *data)
{
    if (!data) return;
    vm_page_family_t *family = page_owner_locked(data);
    block_meta_data_t *block = MM_DATA_TO_BLOCK(data);
    block_validate(family, data, block);
    family->free_calls++;
    block->is_free = MM_TRUE;
    block_meta_data_t *next = block->next_block, *prev = block->prev_block;
    if (next && next->is_free) {
        family_priority_remove(next);
        block_absorb(block, next);
    }
    if (prev && prev->is_free) {
        family_priority_remove(prev);
        block_absorb(prev, block);
        block = prev;
    }
    if (!block->prev_block && !block->next_block)
        page_release(family, MM_GET_PAGE_FROM_META_BLOCK(block));
    else
        family_priority_insert(family, block);
    family_unlock(family);
}
