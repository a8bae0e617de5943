/* MM.h — the data structures of the typed page-family allocator (spec 004).
 *
 * Memory is organised in three levels:
 *   vm_page_for_families_t  a VM page holding the registry: an array of page families;
 *   vm_page_family_t        one registered struct type: its name, size, VM pages, free blocks;
 *   vm_page_t               one VM page of a family, tiled by blocks; every block starts with
 *                           its block_meta_data_t, and the first block's metadata is part of the
 *                           page header itself.
 * Free blocks of a family are also threaded, largest first, on the family's priority list
 * through the glue node inside their metadata, so the head is always the biggest free block. */
#ifndef HEAPKIT_MM_H
#define HEAPKIT_MM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    MM_FALSE = 0,
    MM_TRUE = 1,
} vm_bool_t;

/* Longest struct name a family can carry (characters, without the NUL). */
#define MM_MAX_STRUCT_NAME 32

/* Every block size and every data address is a multiple of this. */
#define MM_BLOCK_ALIGN 16

/* An intrusive doubly-linked list node: embedded in the structure it links. */
typedef struct mm_glue {
    struct mm_glue *prev; /* previous node, or the list head */
    struct mm_glue *next; /* next node, NULL at the end */
} mm_glue_t;

/* The header in front of every block. Blocks of a page are contiguous: a block's data ends
 * where the next block's metadata starts, and the last block ends at the end of the page. */
typedef struct block_meta_data {
    uint32_t magic;                     /* canary derived from this header's address */
    vm_bool_t is_free;                  /* MM_TRUE while the block is on the priority list */
    uint32_t block_size;                /* data bytes after this header */
    uint32_t offset;                    /* bytes from the start of the VM page to this header */
    struct block_meta_data *prev_block; /* neighbour at the lower address, or NULL */
    struct block_meta_data *next_block; /* neighbour at the higher address, or NULL */
    mm_glue_t priority_glue;            /* links free blocks, largest first */
} __attribute__((aligned(MM_BLOCK_ALIGN))) block_meta_data_t;

struct vm_page_family;

/* One VM page of a family. */
typedef struct vm_page {
    struct vm_page *next;              /* next page of the same family */
    struct vm_page *prev;              /* previous page of the same family */
    struct vm_page_family *pg_family;  /* the family this page serves */
    block_meta_data_t block_meta_data; /* metadata of the first block */
    char page_memory[];                /* the first block's data, then further blocks */
} vm_page_t;

struct hk_lock; /* heapkit's lock; opaque to users */

/* One registered struct type. */
typedef struct vm_page_family {
    char struct_name[MM_MAX_STRUCT_NAME + 1]; /* NUL-terminated name given at registration */
    uint32_t struct_size;                     /* sizeof the struct */
    vm_page_t *first_page;                    /* most recently added VM page, or NULL */
    mm_glue_t free_block_priority_list_head;  /* .next: the largest free block's glue */
    struct hk_lock *lock;                     /* guards everything below the name and size */
    uint64_t alloc_calls;                     /* successful xcalloc calls */
    uint64_t free_calls;                      /* xfree calls */
    uint64_t pages_obtained;                  /* VM pages mapped over the family's life */
    uint64_t pages_released;                  /* VM pages given back to the kernel */
} vm_page_family_t;

/* A VM page of the registry. The families' locks sit at the far end of the same page. */
typedef struct vm_page_for_families {
    struct vm_page_for_families *next; /* next registry page, or NULL */
    uint32_t count;                    /* families in use in this page */
    uint32_t capacity;                 /* families this page can hold */
    vm_page_family_t vm_page_family[]; /* the families, filling the page */
} vm_page_for_families_t;

/* Offset of the first block's data from the start of a VM page. */
#define MM_PAGE_HEADER_BYTES offsetof(vm_page_t, page_memory)

/* The VM page a block belongs to. */
#define MM_GET_PAGE_FROM_META_BLOCK(meta) ((vm_page_t *)((char *)(meta) - (meta)->offset))

/* The metadata that immediately follows a block in memory (may be past the page's end). */
#define NEXT_META_BLOCK_BY_SIZE(meta)                                                              \
    ((block_meta_data_t *)((char *)((meta) + 1) + (meta)->block_size))

/* The block's data, and the block of some data. */
#define MM_BLOCK_DATA(meta)    ((void *)((meta) + 1))
#define MM_DATA_TO_BLOCK(data) ((block_meta_data_t *)(data)-1)

/* The block whose glue node this is. */
#define MM_GLUE_TO_BLOCK(glue)                                                                     \
    ((block_meta_data_t *)((char *)(glue)-offsetof(block_meta_data_t, priority_glue)))

/* Walks the families of every registry page. */
#define ITERATE_PAGE_FAMILIES_BEGIN(first_families_page, family)                                   \
    for (vm_page_for_families_t *mm_fp_ = (first_families_page); mm_fp_; mm_fp_ = mm_fp_->next) {  \
        for (uint32_t mm_fi_ = 0; mm_fi_ < mm_fp_->count; mm_fi_++) {                              \
            vm_page_family_t *family = &mm_fp_->vm_page_family[mm_fi_];
#define ITERATE_PAGE_FAMILIES_END                                                                  \
    }                                                                                              \
    }

/* Walks the VM pages of a family. */
#define ITERATE_VM_PAGE_BEGIN(family_ptr, page)                                                    \
    for (vm_page_t *page = (family_ptr)->first_page; page; page = page->next) {
#define ITERATE_VM_PAGE_END }

/* Walks the blocks of a VM page in address order. */
#define ITERATE_VM_PAGE_ALL_BLOCKS_BEGIN(page_ptr, block)                                          \
    for (block_meta_data_t *block = &(page_ptr)->block_meta_data; block;                           \
         block = block->next_block) {
#define ITERATE_VM_PAGE_ALL_BLOCKS_END }

#ifdef __cplusplus
}
#endif

#endif
