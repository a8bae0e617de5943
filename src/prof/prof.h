/* The sampling heap profiler: what an engine calls. The profiler sits on the core layer (it
 * calls src/os and src/core only); engines call it, never the other way round.
 *
 * Sampling. Each thread sees its allocations as one stream of bytes in which sample points fall
 * at exponentially distributed distances of mean HEAPKIT_PROF_SAMPLE bytes (512 KiB by
 * default): an allocation of s bytes holding at least one point is sampled, which happens with
 * probability P(s) = 1 - exp(-s / mean), and it stands for 1 / P(s) blocks and s / P(s) bytes
 * of its call stack. The sums over live sampled blocks are unbiased estimates of each site's
 * live blocks and bytes (as jemalloc and tcmalloc sample).
 *
 * What an engine must do (the buddy engine, src/buddy/buddy_engine.c, is the worked example):
 *  1. For every allocation of `size` requested bytes (malloc, calloc, aligned, and a realloc
 *     that moves a block), once the block exists:
 *         if (hk_unlikely(hk_prof_due(size))) { mark the block sampled;
 *                                               hk_prof_sampled(p, size, usable); }
 *     hk_prof_due is a per-thread byte countdown: one subtraction and one predictable branch,
 *     taken only when the countdown runs out (when the profiler is off the countdown is set so
 *     high that it never runs out). An engine with its own counter may use hk_prof_on() and
 *     hk_prof_interval() instead (see below).
 *  2. Mark sampled blocks where free finds them cheaply (a header bit or spare word, a bit in a
 *     page's metadata that sends its frees to the slow path): the mark is set before the
 *     pointer is returned and cleared when the block is freed or reused.
 *  3. Before freeing a marked block (free, or a realloc that moves it), call hk_prof_freed(p)
 *     and clear the mark, while the block is still allocated (so its address cannot be handed
 *     out and sampled again before the record is gone).
 *     A realloc in place counts nothing down and keeps the mark; for a marked block it calls
 *     hk_prof_resized(p, size, usable). The block keeps the weight it was sampled with, 1/P(s0)
 *     for its size s0 when it was allocated or last moved, and reports its new size s: it was
 *     sampled with probability P(s0), so its expected contribution is still s, unbiased. (A
 *     realloc in place that counted its whole new size, as a new allocation would, makes a
 *     buffer grown by small appends cost a sample every few appends.)
 *  4. Call hk_prof_sampled and hk_prof_freed with none of the engine's locks held: the
 *     profiler takes its own lock, and capturing the stack may allocate the first time (the
 *     nested allocation is served normally and never sampled).
 *  5. hk_prof_sampled must be called from the thread that made the allocation, inside the
 *     malloc call (it records that thread's call stack, skipping the library's own frames).
 *
 * Nothing here allocates memory through malloc: the tables are mappings from src/os. */
#ifndef HK_PROF_PROF_H
#define HK_PROF_PROF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/compiler.h"

/* Bytes this thread may still allocate before its next sample point. Starts at 0 in every
 * thread, so each thread's first allocation reaches hk_prof_due_slow, which reads the options
 * (once per process) and seeds the thread's generator. */
extern __thread size_t hk_prof_countdown;

/* The slow half of hk_prof_due: the countdown ran out (or was never set). */
bool hk_prof_due_slow(size_t size);

/* Whether an allocation of size requested bytes is to be sampled. */
HK_INLINE bool hk_prof_due(size_t size)
{
    size_t left = hk_prof_countdown;
    if (hk_likely(left > size)) {
        hk_prof_countdown = left - size;
        return false;
    }
    return hk_prof_due_slow(size);
}

/* Whether the profiler is on (HEAPKIT_PROF=1). Reads the options the first time it can (the
 * environment must be readable); false until then. A relaxed load afterwards. */
bool hk_prof_on(void);

/* For an engine that keeps its own countdown: the bytes from here to this thread's next sample
 * point (at least 1), drawn from the thread's generator; SIZE_MAX when the profiler is off.
 * Sample an allocation of s bytes when s >= the bytes left, then draw again. */
size_t hk_prof_interval(void);

/* Records a sampled live block: its address, the bytes asked for and the bytes usable. Captures
 * the calling thread's stack. See the rules above. */
void hk_prof_sampled(void *p, size_t requested, size_t usable);

/* Forgets the sampled block at p (nothing happens if it is not recorded); true when it was. An
 * engine whose mark covers several blocks (a page's count) learns which was the sampled one. */
bool hk_prof_freed(void *p);

/* The sampled block at p was resized in place to requested bytes (usable in all). */
void hk_prof_resized(void *p, size_t requested, size_t usable);

/* ---- For the front end ------------------------------------------------------------------- */

/* Writes the profile of the live sampled blocks to path (gperftools heap-profile text, which
 * `google-pprof --text PROGRAM FILE` reads) and folded stacks (one line per stack,
 * "outer;...;inner bytes") to the same name with .heap replaced by .folded, or with .folded
 * appended. path NULL: the exit dump's path. 0, or an errno value (ENOTSUP when the profiler is
 * off). Never allocates; safe in a signal handler. */
int hk_prof_dump_files(const char *path);

/* The dump at process exit (a destructor of the front end): when the profiler is on, to
 * HEAPKIT_DUMP_DIR/heapkit.<pid>.heap if set, else HEAPKIT_PROF_FILE (default
 * heapkit.%p.heap, %p the pid). */
void hk_prof_exit_dump(void);

#endif
