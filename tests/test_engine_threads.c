/* A threaded stress of the engine contract (core/engine.h), built with ThreadSanitizer and linked
 * to one engine's objects (mk/harden.mk: -DENGINE_fast or -DENGINE_buddy): blocks handed
 * between threads and freed by another, random exchanges of malloc, calloc, realloc, aligned
 * and usable-size calls on shared slots, and short-lived threads whose blocks outlive them, in
 * the default and the hardened mode. Every block carries a pattern checked when it is freed;
 * the engine's invariant checker runs at the end. Built with tests/tsan_shim's stand-in for
 * Criterion (Criterion cannot start under TSan); TSan stops a test at its first race. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/engine.h"

#if defined(ENGINE_fast)
#include "fast/fast.h"
static bool engine_check(void)
{
    return fast_check();
}
#elif defined(ENGINE_buddy)
#include "buddy/buddy.h"
static bool engine_check(void)
{
    for (unsigned i = 0; i < buddy_arena_count(); i++) {
        buddy_arena_lock(&buddy_arenas[i]);
        bool ok = buddy_check(&buddy_arenas[i], NULL);
        buddy_arena_unlock(&buddy_arenas[i]);
        if (!ok) return false;
    }
    return true;
}
#else
#error "define ENGINE_fast or ENGINE_buddy"
#endif

static void harden_on(void)
{
    setenv("HEAPKIT_HARDEN", "1", 1);
}

static unsigned next_random(unsigned *state)
{
    *state = *state * 1103515245u + 12345u;
    return *state >> 8;
}

/* A block's first 8 bytes hold its size, the rest a pattern from it (up to 256 bytes). */
static void *make(size_t size, unsigned kind, unsigned r)
{
    if (size < 8) size = 8;
    unsigned char *p;
    switch (kind % 3) {
    case 0:
        p = hk_engine_malloc(size);
        break;
    case 1:
        p = hk_engine_calloc(size);
        break;
    default:
        p = hk_engine_aligned((size_t)32 << r % 8, size);
        break;
    }
    if (!p) abort();
    memcpy(p, &size, sizeof size);
    for (size_t i = 8; i < size && i < 256; i++)
        p[i] = (unsigned char)(size + i);
    return p;
}

static void check_and_free(void *block)
{
    unsigned char *p = block;
    size_t size;
    memcpy(&size, p, sizeof size);
    for (size_t i = 8; i < size && i < 256; i++)
        if (p[i] != (unsigned char)(size + i)) abort();
    if (hk_engine_usable_size(p, "malloc_usable_size") < size) abort();
    hk_engine_free(p, "free");
}

/* ---- Blocks handed between threads through a ring ---------------------------------------------
 */

enum { RING = 256, ITEMS = 20000, PRODUCERS = 2, CONSUMERS = 2 };
static void *ring[RING];
static unsigned ring_head, ring_tail, producers_left;
static pthread_mutex_t ring_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ring_cond = PTHREAD_COND_INITIALIZER;

static void *producer(void *arg)
{
    unsigned state = (unsigned)(uintptr_t)arg;
    for (int i = 0; i < ITEMS / PRODUCERS; i++) {
        unsigned r = next_random(&state);
        void *block = make(r % 8 == 0 ? r % 9000 : r % 400, r >> 4, r >> 7);
        pthread_mutex_lock(&ring_lock);
        while (ring_head - ring_tail == RING)
            pthread_cond_wait(&ring_cond, &ring_lock);
        ring[ring_head++ % RING] = block;
        pthread_cond_broadcast(&ring_cond);
        pthread_mutex_unlock(&ring_lock);
    }
    pthread_mutex_lock(&ring_lock);
    producers_left--;
    pthread_cond_broadcast(&ring_cond);
    pthread_mutex_unlock(&ring_lock);
    return NULL;
}

static void *consumer(void *arg)
{
    (void)arg;
    for (;;) {
        pthread_mutex_lock(&ring_lock);
        while (ring_head == ring_tail && producers_left > 0)
            pthread_cond_wait(&ring_cond, &ring_lock);
        void *block = ring_head != ring_tail ? ring[ring_tail++ % RING] : NULL;
        pthread_cond_broadcast(&ring_cond);
        pthread_mutex_unlock(&ring_lock);
        if (!block) return NULL;
        check_and_free(block);
    }
}

static void handed_between_threads(void)
{
    pthread_t p[PRODUCERS], c[CONSUMERS];
    producers_left = PRODUCERS;
    for (uintptr_t i = 0; i < PRODUCERS; i++)
        pthread_create(&p[i], NULL, producer, (void *)(i + 1));
    for (int i = 0; i < CONSUMERS; i++)
        pthread_create(&c[i], NULL, consumer, NULL);
    for (int i = 0; i < PRODUCERS; i++)
        pthread_join(p[i], NULL);
    for (int i = 0; i < CONSUMERS; i++)
        pthread_join(c[i], NULL);
    cr_assert(engine_check());
}

Test(threads, blocks_freed_by_other_threads_stay_intact)
{
    handed_between_threads();
}

Test(threads, blocks_freed_by_other_threads_stay_intact_when_hardened, .init = harden_on)
{
    handed_between_threads();
}

/* ---- Random exchanges on shared slots -------------------------------------------------------- */

enum { SLOTS = 128, WORKERS = 3, STEPS = 12000 };
static void *slots[SLOTS];

static void *worker(void *arg)
{
    unsigned state = (unsigned)(uintptr_t)arg;
    for (int i = 0; i < STEPS; i++) {
        unsigned r = next_random(&state);
        void **slot = &slots[r % SLOTS];
        void *mine = __atomic_exchange_n(slot, NULL, __ATOMIC_ACQ_REL);
        if (mine && r % 5 == 0) {
            /* realloc: the pattern follows the new size */
            size_t size = (r >> 3) % 3000 + 8;
            unsigned char *p = hk_engine_realloc(mine, size, "realloc");
            if (!p) abort();
            memcpy(p, &size, sizeof size);
            for (size_t j = 8; j < size && j < 256; j++)
                p[j] = (unsigned char)(size + j);
            mine = p;
        } else if (mine) {
            check_and_free(mine);
            mine = make((r >> 3) % (r % 16 == 0 ? 200000 : 600), r >> 5, r >> 9);
        } else {
            mine = make((r >> 3) % 600, r >> 5, r >> 9);
        }
        void *other = __atomic_exchange_n(slot, mine, __ATOMIC_ACQ_REL);
        if (other) check_and_free(other);
    }
    return NULL;
}

static void random_exchanges(void)
{
    pthread_t t[WORKERS];
    for (uintptr_t i = 0; i < WORKERS; i++)
        pthread_create(&t[i], NULL, worker, (void *)(i + 7));
    for (int i = 0; i < WORKERS; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < SLOTS; i++)
        if (slots[i]) check_and_free(slots[i]);
    hk_engine_trim(0);
    cr_assert(engine_check());
}

Test(threads, random_exchanges_between_threads_keep_every_block)
{
    random_exchanges();
}

Test(threads, random_exchanges_between_threads_keep_every_block_when_hardened, .init = harden_on)
{
    random_exchanges();
}

/* ---- Short-lived threads whose blocks outlive them ---------------------------------------- */

enum { WAVES = 6, WAVE_THREADS = 3, KEPT = 100 };
static void *kept[WAVE_THREADS][KEPT];

static void *short_lived(void *arg)
{
    unsigned index = (unsigned)(uintptr_t)arg, state = index * 31 + 1;
    void *scratch[64];
    for (int i = 0; i < 64; i++)
        scratch[i] = make(next_random(&state) % 2000, i, i);
    for (int i = 0; i < 64; i++)
        check_and_free(scratch[i]);
    for (int i = 0; i < KEPT; i++)
        kept[index][i] = make((size_t)i * 13 + 8, 0, 0);
    return NULL;
}

Test(threads, blocks_of_exited_threads_are_freed_by_others)
{
    for (int wave = 0; wave < WAVES; wave++) {
        pthread_t t[WAVE_THREADS];
        for (uintptr_t i = 0; i < WAVE_THREADS; i++)
            pthread_create(&t[i], NULL, short_lived, (void *)i);
        for (int i = 0; i < WAVE_THREADS; i++)
            pthread_join(t[i], NULL);
        for (int i = 0; i < WAVE_THREADS; i++)
            for (int j = 0; j < KEPT; j++)
                check_and_free(kept[i][j]);
    }
    hk_engine_trim(0);
    cr_assert(engine_check());
}
