/* What the fast engine offers beyond the engine contract (core/engine.h): used by the hk_*
 * API (front/hk_api.c) and by tests. */
#ifndef HK_FAST_FAST_H
#define HK_FAST_FAST_H

#include <stdbool.h>
#include <stddef.h>

/* Statistics (per-heap sums, engine-wide counters, kernel-layer counters) as text or as one
 * JSON object; hk_snprintf semantics (returns the full length, always NUL-terminates). */
size_t fast_stats_format(char *buf, size_t cap, bool json);

/* Collects the calling thread's heap: remote frees, empty pages; force: purges every free
 * page now, adopts abandoned segments and empties the huge cache. True when memory went back
 * to the OS. */
bool fast_collect(bool force);

/* Walks the calling thread's heap and checks its invariants; reports the first problem with
 * hk_warn and returns false. */
bool fast_check(void);

/* The heap walk (walk.c): every segment, page and block (see hk_visit_blocks). */
#include "heapkit.h"
bool fast_walk(hk_block_visitor_t visitor, void *arg, int max_level);

/* A program's own heaps (hk_heap_* in heapkit.h): struct heap is the engine's heap type. */
struct heap;
struct heap *fast_heap_create(void);
void fast_heap_clear(struct heap *heap, bool destroy);
void *fast_heap_malloc(struct heap *heap, size_t size, bool zero);
void *fast_heap_realloc(struct heap *heap, void *p, size_t size);

#endif
