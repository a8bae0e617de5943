/* memory_allocation (spec 000): a thread-safe allocator over a linked list of memory chunks in
 * mmap'd pages. One global mutex guards the list; the library's constructor readies it for
 * fork, and it is never destroyed, so free_memory and allocate_memory keep working in
 * destructors and atexit handlers that run after the library's own destructor. Chunks are split
 * on allocation and coalesced on free; when no chunk fits, more pages are mapped (a request
 * larger than a page gets a mapping big enough). */
#ifndef MEMORY_ALLOCATION_H
#define MEMORY_ALLOCATION_H

#include <stddef.h>
#include <string.h> /* the usage example fills blocks with memset */

#ifdef __cplusplus
extern "C" {
#endif

typedef struct memory_chunk {
    size_t size;               /* usable bytes after this header (a multiple of 8) */
    int in_use;                /* 1 while allocated, 0 while free */
    struct memory_chunk *prev; /* previous chunk in the list (lower address in its page run) */
    struct memory_chunk *next; /* next chunk in the list */
} memory_chunk_t;

/* Returns size usable bytes (8-byte aligned), or NULL (size 0, or no memory: errno ENOMEM). */
void *allocate_memory(size_t size);

/* Gives back a block from allocate_memory and merges it with free neighbours. NULL and
 * pointers that are not live blocks are ignored (HEAPKIT_CHECK=1: reported, then abort). */
void free_memory(void *ptr);

/* Marks chunk in use with at least size usable bytes, splitting the rest off as a free chunk
 * when it can hold a header and 8 bytes. Returns chunk, or NULL (errno EINVAL) when chunk is
 * not one of the list's chunks, size is 0, or chunk is smaller than size. */
memory_chunk_t *chunk_split(memory_chunk_t *chunk, size_t size);

/* Maps the first page and makes it the first (free) chunk; later calls return the list's
 * first chunk. NULL when the mapping fails. */
memory_chunk_t *initialize_dynamic_memory(void);

#ifdef __cplusplus
}
#endif

#endif
