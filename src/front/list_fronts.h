/* Internal hooks of the three list-heap front ends (osmem.c, chunks.c, pool.c) for tests and
 * the statistics demo. Hidden symbols: the shared libraries export only the seeds' APIs. */
#ifndef HK_FRONT_LIST_FRONTS_H
#define HK_FRONT_LIST_FRONTS_H

#include "list/list.h"

/* Payload + header at or above which os_malloc maps a block (spec 001's MMAP_THRESHOLD). */
#define OSMEM_MMAP_THRESHOLD_BYTES ((size_t)128 * 1024)

/* Each front end's heap (configured, possibly not yet grown) and its statistics. */
list_heap_t *osmem_heap(void);
void osmem_stats(list_stats_t *out);
list_heap_t *chunks_heap(void);
void chunks_stats(list_stats_t *out);
list_heap_t *pool_heap(void);
void pool_stats(list_stats_t *out);

/* Each heap's walk (core/walk.h's hk_walker_t, over list_visit), under its front end's lock
 * (osmem has none: spec 001 is single-threaded). */
bool osmem_walk(hk_block_visitor_t visitor, void *arg, int max_level);
bool chunks_walk(hk_block_visitor_t visitor, void *arg, int max_level);
bool pool_walk(hk_block_visitor_t visitor, void *arg, int max_level);

#endif
