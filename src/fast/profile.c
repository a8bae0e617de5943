/* The heap profiler's hooks (src/prof/prof.h) in the fast engine. With HEAPKIT_PROF=1 every
 * malloc and free takes the engine's slow path (the direct tables stay empty and the threads'
 * free keys match no registry entry), where these run; with the profiler off none of this is
 * reached and the fast paths are exactly what they are without it. Sampled small blocks are
 * counted per page in their segment's header and sampled huge blocks flagged in their span, so
 * a free asks the profiler only about blocks of pages that hold a sampled one. */
#include "fast/fast_internal.h"
#include "prof/prof.h"

/* A block of size requested bytes was just allocated (by the calling thread, holding no lock):
 * sampled when the thread's byte countdown runs out. */
void fast_prof_allocated(void *p, size_t size)
{
    if (hk_likely(!hk_prof_due(size))) return;
    segment_t *segment = fast_segment_resolve(p);
    if (!segment) return;
    size_t usable;
    if (segment->kind == SEGMENT_HUGE) {
        fast_huge_set_sampled(segment, p, true);
        usable = fast_huge_usable(segment, p, "malloc");
    } else {
        page_t *page = page_of(segment, p);
        __atomic_add_fetch(&segment->sampled[page - segment->pages], 1, __ATOMIC_RELAXED);
        usable = page->block_size;
    }
    hk_prof_sampled(p, size, usable);
}

/* p (a block of segment) is about to be freed or moved: forget it if it was sampled. */
void fast_prof_freeing(segment_t *segment, void *p)
{
    if (segment->kind == SEGMENT_HUGE) {
        if (fast_huge_set_sampled(segment, p, false)) hk_prof_freed(p);
        return;
    }
    uint16_t *count = &segment->sampled[page_of(segment, p) - segment->pages];
    if (__atomic_load_n(count, __ATOMIC_RELAXED) && hk_prof_freed(p))
        __atomic_sub_fetch(count, 1, __ATOMIC_RELAXED);
}

/* p was resized in place to size requested bytes. */
void fast_prof_resized(void *p, size_t size)
{
    segment_t *segment = fast_segment_resolve(p);
    if (!segment) return;
    size_t usable;
    if (segment->kind == SEGMENT_HUGE) {
        if (!fast_huge_is_sampled(segment, p)) return;
        usable = fast_huge_usable(segment, p, "realloc");
    } else {
        if (!__atomic_load_n(&segment->sampled[page_of(segment, p) - segment->pages],
                             __ATOMIC_RELAXED))
            return;
        usable = page_of(segment, p)->block_size;
    }
    hk_prof_resized(p, size, usable);
}
