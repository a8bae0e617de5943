/* Per-thread arenas: a fixed array of heaps, each with its own lock, so threads do not queue on
 * one lock. A thread is given an arena round-robin at its first allocation (an initial-exec TLS
 * index, no pthread key and no allocation); when that arena is busy it tries a few others and
 * keeps the first it gets. Arenas are shared, never owned: a thread's exit leaves its blocks and
 * free memory to whoever uses the arena next, and a free from any thread goes back to the
 * owning chunk's arena under that arena's lock. */
#include <sched.h>

#include "buddy/buddy.h"
#include "core/series.h"

/* Tries on other arenas before waiting for one's lock. */
#define ARENA_TRIES    4
#define ARENAS_PER_CPU 4

buddy_arena_t buddy_arenas[BUDDY_ARENAS_MAX] = {
    [0 ... BUDDY_ARENAS_MAX - 1] = {.lock = HK_LOCK_INIT},
};

static unsigned arena_count;                    /* 0 until the first allocation computes it */
static unsigned next_arena;                     /* round-robin counter for new threads */
static __thread unsigned thread_arena_plus_one; /* 0: this thread has no arena yet */

/* The CPUs this process may run on, without allocating (sched_getaffinity on a stack set). */
static unsigned cpu_count(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0) return 1;
    int n = CPU_COUNT(&set);
    return n > 0 ? (unsigned)n : 1;
}

/* One thread sets the arenas up (the others wait for it: a few dozen stores), so their
 * indexes are written once and published by the release of arena_count (ThreadSanitizer found
 * racing threads writing them at the same time). */
static HK_NOINLINE unsigned arena_setup(void)
{
    static unsigned claimed;
    if (__atomic_exchange_n(&claimed, 1, __ATOMIC_ACQUIRE) != 0) {
        unsigned count;
        while ((count = __atomic_load_n(&arena_count, __ATOMIC_ACQUIRE)) == 0)
            sched_yield();
        return count;
    }
    unsigned count = cpu_count() * ARENAS_PER_CPU;
    if (count > BUDDY_ARENAS_MAX) count = BUDDY_ARENAS_MAX;
    /* Arenas and their locks are statically initialised. Every arena lock is registered for
     * fork before the sbrk heap's lock, which is taken inside them: fork takes registered locks
     * in registration order. */
    for (unsigned i = 0; i < BUDDY_ARENAS_MAX; i++) {
        buddy_arenas[i].index = i;
        hk_lock_register(&buddy_arenas[i].lock);
    }
    buddy_sbrk_register_lock();
    /* The time series is noted under arena locks (with a trylock): its lock comes last. */
    hk_series_register_lock();
    __atomic_store_n(&arena_count, count, __ATOMIC_RELEASE);
    return count;
}

unsigned buddy_arena_count(void)
{
    unsigned count = __atomic_load_n(&arena_count, __ATOMIC_ACQUIRE);
    if (hk_likely(count)) return count;
    return arena_setup();
}

static HK_NOINLINE buddy_arena_t *arena_acquire_slow(unsigned index, unsigned count)
{
    for (unsigned i = 1; i < ARENA_TRIES && i < count; i++) {
        unsigned other = (index + i) % count;
        buddy_arena_t *arena = &buddy_arenas[other];
        hk_lock_register(&arena->lock);
        if (hk_trylock(&arena->lock)) {
            thread_arena_plus_one = other + 1;
            return arena;
        }
    }
    buddy_arena_t *arena = &buddy_arenas[index];
    hk_lock(&arena->lock);
    return arena;
}

buddy_arena_t *buddy_arena_acquire(void)
{
    unsigned count = buddy_arena_count();
    unsigned index = thread_arena_plus_one - 1;
    if (hk_unlikely(thread_arena_plus_one == 0)) {
        index = __atomic_fetch_add(&next_arena, 1, __ATOMIC_RELAXED) % count;
        thread_arena_plus_one = index + 1;
    }
    buddy_arena_t *arena = &buddy_arenas[index];
    hk_lock_register(&arena->lock);
    if (hk_likely(hk_trylock(&arena->lock))) return arena;
    return arena_acquire_slow(index, count);
}
