/* The list heap: one boundary-tag free-list engine behind three seed front ends (specs 000,
 * 001, 002). Blocks are a header followed by the payload; headers are linked in address order
 * (brk backing) or region-by-region in creation order (mmap backing). A block's physical
 * neighbour is found from its header (end = header + header_size + size), so split and
 * coalesce need no footer: two blocks merge only when one ends exactly where the other starts.
 *
 * Each front end describes its header layout (list_layout_t) and its policy (list_config_t);
 * split, coalesce, fit and growth exist once, here. Not thread-safe: callers lock. */
#ifndef HK_LIST_LIST_H
#define HK_LIST_LIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/stats.h"
#include "core/walk.h"

/* Every layout keeps `size_t size` at offset 0 and `int status` at offset 8; the link fields
 * and the status values vary by seed. */
#define LIST_SIZE_OFFSET   0
#define LIST_STATUS_OFFSET 8
#define LIST_NO_PREV       ((size_t)-1)
#define LIST_ALIGN         8 /* payload sizes and addresses are multiples of this */

typedef struct {
    size_t header_size;  /* bytes from header to payload (a multiple of LIST_ALIGN) */
    size_t next_offset;  /* offset of the `next` pointer in the header */
    size_t prev_offset;  /* offset of the `prev` pointer, or LIST_NO_PREV (singly linked) */
    int status_free;     /* status value of a free block */
    int status_alloc;    /* status value of an allocated block */
    int status_mapped;   /* status value of a block with its own mapping */
} list_layout_t;

typedef enum { LIST_FIRST_FIT, LIST_BEST_FIT } list_fit_t;
typedef enum { LIST_BACKING_BRK, LIST_BACKING_MMAP } list_backing_t;

typedef struct {
    list_layout_t layout;       /* where the header fields are */
    list_fit_t fit;             /* first fit or best fit (lowest address on ties) */
    list_backing_t backing;     /* the program break, or a chain of mmap'd regions */
    size_t first_grow_bytes;    /* brk: the first sbrk; mmap: bytes of the first region */
    size_t region_min_bytes;    /* mmap: smallest later region (rounded up to pages) */
    size_t min_split_payload;   /* a split leaves a header plus at least this many bytes */
    bool coalesce_on_free;      /* merge with free neighbours when a block is freed */
    bool coalesce_before_fit;   /* merge every run of free blocks before each search */
    bool release_empty_regions; /* mmap: unmap a region (not the first) once wholly free */
} list_config_t;

/* Engine counters, declared once (core/stats.h X-macro). */
#define LIST_STATS(X)                                                                        \
    X(allocs, "blocks handed out")                                                           \
    X(frees, "blocks given back")                                                            \
    X(splits, "blocks split")                                                                \
    X(coalesces, "free blocks merged into a neighbour")                                      \
    X(grows, "times the heap grew (sbrk or new region)")                                     \
    X(regions_released, "regions given back with munmap")                                    \
    X(mapped_blocks, "blocks given their own mapping")                                       \
    X(heap_bytes, "bytes under the heap's blocks, headers included")                         \
    X(free_bytes, "payload bytes in free blocks")                                            \
    X(largest_free, "largest free payload")                                                  \
    X(blocks, "blocks in the list")                                                          \
    X(free_blocks, "free blocks in the list")

enum { LIST_STATS(HK_STAT_ENUM) LIST_STAT_COUNT };

typedef struct {
    uint64_t v[LIST_STAT_COUNT]; /* indexed by STAT_<name> */
} list_stats_t;

typedef struct list_region {
    size_t size;              /* bytes of the mapping, this header included */
    struct list_region *next; /* next region in creation order */
} list_region_t;

typedef struct {
    list_config_t cfg;      /* fixed at list_init */
    char *head;             /* first block header, or NULL */
    char *tail;             /* last block header, or NULL */
    char *mapped;           /* blocks with their own mapping (their own list), or NULL */
    list_region_t *regions; /* mmap backing: regions in creation order */
    bool started;           /* the first growth has happened */
    uint64_t counts[LIST_STAT_COUNT]; /* the event counters of LIST_STATS */
} list_heap_t;

void list_init(list_heap_t *heap, const list_config_t *cfg);

/* Header of a payload and back (no validation). */
static inline char *list_header(const list_heap_t *heap, void *payload)
{
    return (char *)payload - heap->cfg.layout.header_size;
}
static inline void *list_payload(const list_heap_t *heap, char *block)
{
    return block + heap->cfg.layout.header_size;
}
static inline size_t list_size(const char *block)
{
    return *(const size_t *)(const void *)(block + LIST_SIZE_OFFSET);
}
static inline int list_status(const char *block)
{
    return *(const int *)(const void *)(block + LIST_STATUS_OFFSET);
}
char *list_next(const list_heap_t *heap, const char *block);
char *list_prev(const list_heap_t *heap, const char *block);

/* Payload size for a request: rounded up to LIST_ALIGN; false when that overflows or the
 * block (header included) could not be described. */
bool list_request_size(const list_heap_t *heap, size_t size, size_t *out);

/* Allocates from the list (growing the heap when nothing fits). NULL on failure with errno
 * ENOMEM. size must already be a list_request_size result. */
void *list_alloc(list_heap_t *heap, size_t payload_size);

/* Grows the heap once (the brk preallocation, an extension of a free tail at the break, a new
 * block at the break, or a new mmap region) so that a later list_alloc of payload_size fits
 * (the brk preallocation may still be too small). False when the kernel refused. */
bool list_grow(list_heap_t *heap, size_t payload_size);

/* Gives an allocated block of the list back (coalescing and region release per config). */
void list_free(list_heap_t *heap, void *payload);

/* Resizes an allocated block in place: shrinks by splitting; grows by extending the block at
 * the break when it already is the last block (brk backing), or else by absorbing the following
 * free blocks one at a time (they stay absorbed even when the result is still too small, and a
 * block that became the last one that way does not then move the break). True when the block
 * now holds payload_size bytes; false when the caller must move it. */
bool list_resize_in_place(list_heap_t *heap, void *payload, size_t payload_size);

/* make VALGRIND=1: tells memcheck that the handed-out block, old_size payload bytes before,
 * now has list_size(block) bytes, and keeps a header split off its old tail accessible.
 * Nothing otherwise. */
void list_vg_resized(const list_heap_t *heap, char *block, size_t old_size);

/* Splits block so that it keeps payload_size bytes, when the remainder holds a header plus
 * min_split_payload bytes. Returns the new free block or NULL (no split). */
char *list_split(list_heap_t *heap, char *block, size_t payload_size);

/* Merges every run of physically adjacent free blocks. */
void list_coalesce_all(list_heap_t *heap);

/* A block with its own mapping (header + payload_size bytes, rounded up to pages only by the
 * kernel), kept on the heap's mapped list with status_mapped. NULL and ENOMEM on failure. */
void *list_map_block(list_heap_t *heap, size_t payload_size);
void list_unmap_block(list_heap_t *heap, void *payload);

/* The header of payload when payload is the payload of one of the heap's blocks (list or
 * mapped), else NULL. Walks the lists: for checked mode and the robust seeds. */
char *list_lookup(const list_heap_t *heap, const void *payload);

/* Calls visit for every block of the list, in list order, then for every mapped block. */
void list_walk(const list_heap_t *heap, void (*visit)(const char *block, void *arg), void *arg);

/* The heap walk (core/walk.h): each run of touching blocks (the brk heap's extent, extents when
 * others moved the break in between, each mmap region) is a segment labelled "brk heap" or
 * "mmap region", followed by its blocks; each block with its own mapping is a segment "mapped
 * block" with that block. Blocks span header and payload (address = header, size = header +
 * payload, block_size = payload); segments count bytes (used_blocks = bytes of blocks in use,
 * free_blocks = bytes of free blocks, headers included). Front ends wrap it into their own
 * hk_walker_t under their lock. False when the visitor stopped it. */
bool list_visit(const list_heap_t *heap, hk_block_visitor_t visitor, void *arg, int max_level);

/* Checks the invariants: links agree both ways, statuses valid, sizes and payloads aligned,
 * blocks never overlap, no two adjacent free blocks when coalesce_on_free, every block inside
 * a region (mmap backing), and the tail is the last block. On failure writes the first broken
 * rule to why (when why_cap > 0) and returns false. */
bool list_check(const list_heap_t *heap, char *why, size_t why_cap);

/* Counters plus a walk's figures (heap bytes, free bytes, largest free, block counts). */
void list_stats(const list_heap_t *heap, list_stats_t *out);

/* The statistics as text under title (core/stats.h's hk_stats_text format and contract). */
size_t list_stats_text(const list_stats_t *stats, const char *title, char *buf, size_t cap);

#endif
