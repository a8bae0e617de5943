/* Heap walks and the heap map: the types are public (include/heapkit.h: hk_block_info_t,
 * hk_block_visitor_t); this is what engines and the front ends share to turn a walk into the
 * JSON heap map without allocating. */
#ifndef HK_CORE_WALK_H
#define HK_CORE_WALK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "heapkit.h"

/* An engine's walk: visits its items down to max_level (hk_level_t); false when the visitor
 * stopped it. Walks never allocate and run under the engine's locks, so a visitor must not call
 * that engine (malloc, free) and should be quick; writing to a file descriptor is fine. Items
 * nest by level: a segment, then its pages and their blocks; an engine without pages (the list
 * heap, the page families) goes from a segment straight to its blocks. */
typedef bool (*hk_walker_t)(hk_block_visitor_t visitor, void *arg, int max_level);

/* Hands one item to a visitor: what every engine's walk does for each item. */
static inline bool hk_walk_visit(hk_block_visitor_t visitor, void *arg, hk_level_t level,
                                 hk_state_t state, uint32_t size_class, uintptr_t address,
                                 size_t size, size_t block_size, size_t used, size_t free,
                                 const char *label)
{
    hk_block_info_t info = {
        .level = (uint8_t)level,
        .state = (uint8_t)state,
        .size_class = size_class,
        .address = address,
        .size = size,
        .block_size = block_size,
        .used_blocks = used,
        .free_blocks = free,
        .label = label,
    };
    return visitor(&info, arg);
}

/* Writes one JSON object describing the heap to fd:
 *   {"heapkit_map": 1, "engine": NAME, "pid": N, "page_size": N,
 *    "items": [[level, state, "0xaddress", size, block_size, used, free, class, "label"], ...]}
 * items in walk order (a parent before its children). Streams through a stack buffer: never
 * allocates. 0, or an errno value. */
int hk_map_write(int fd, const char *engine, hk_walker_t walker, int max_level);

#endif
