/* memalloc (spec 002): a pool allocator with a first-fit block list. The pool is mapped on the
 * first custom_malloc (or by init_pool), grows with more mappings when nothing fits, and gives
 * back whole grown regions with munmap once they are free again. Thread-safe (one mutex). */
#ifndef MEMALLOC_H
#define MEMALLOC_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct Block {
    size_t size;        /* size of the usable memory in the block */
    int free;           /* 1 if the block is free, 0 if allocated */
    struct Block *next; /* next block of the list */
} Block;

/* Returns size usable bytes (8-byte aligned), or NULL (size 0, or no memory: errno ENOMEM). */
void *custom_malloc(size_t size);

/* Frees a block from custom_malloc and merges it with adjacent free blocks. NULL and pointers
 * that are not live blocks are ignored (HEAPKIT_CHECK=1: reported, then abort). */
void custom_free(void *ptr);

/* Maps the pool with room for at least size bytes, if it is not mapped yet. */
void init_pool(size_t size);

/* Prints every block of the list (address, size, free or allocated) to stdout. */
void print_free_list(void);

#ifdef __cplusplus
}
#endif

#endif
