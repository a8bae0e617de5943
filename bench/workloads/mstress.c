/* Workload 12 — mixed-size multi-thread stress with long-lived sets (in the spirit of the
 * "mstress" allocator stress test).
 * Models an application server whose request threads come and go while a share of their data
 * outlives them (caches, session tables): 16 iterations (× BENCH_SCALE), each starting
 * BENCH_THREADS fresh threads. Each thread does 200 000 steps on a local set of 800 objects:
 * 12 steps in 16 free a random object and allocate a replacement, 3 in 16 free one without
 * replacing it, and 1 in 16 swaps an object with a random slot of a shared transfer array of
 * 2048 (atomic exchange), taking over an object another thread allocated. 1 step in 32 also
 * replaces an object of the thread's long-lived set (4000 slots per thread index), which
 * survives the thread and is freed by a thread of a later iteration. At its end a thread frees
 * its local set; the main thread frees the rest at the very end.
 * Sizes are mixed: 70 % 8–128 B, 20 % 128 B–2 KiB, 8 % 2–64 KiB, 1.9 % 64–256 KiB and 0.1 %
 * 256 KiB–4 MiB. A block's size is written into its first word (so any thread can check it),
 * a byte into each further page and its last byte. */
#include "common.h"

#include <pthread.h>
#include <stdatomic.h>

#define LOCAL_OBJECTS 800
#define LONG_LIVED_OBJECTS 4000
#define TRANSFER_SLOTS 2048
#define STEPS_PER_THREAD 200000
#define PAGE_BYTES 4096

typedef struct {
    char *obj;
    size_t size;
} block_t;

static _Atomic(char *) transfer[TRANSFER_SLOTS];
static block_t (*long_lived)[LONG_LIVED_OBJECTS];    /* one set per thread index */

static size_t mixed_size(uint64_t *rng) {
    uint64_t r = bench_rand(rng);
    unsigned pick = (unsigned)(r % 1000);
    r >>= 10;
    if (pick < 700)
        return 8 + r % 121;                             /* 70 %: 8..128 B */
    if (pick < 900)
        return 128 + r % (2048 - 128 + 1);              /* 20 %: 128 B..2 KiB */
    if (pick < 980)
        return 2048 + r % (62 * 1024 + 1);              /* 8 %: 2..64 KiB */
    if (pick < 999)
        return 65536 + r % (192 * 1024 + 1);            /* 1.9 %: 64..256 KiB */
    return 262144 + r % (3840 * 1024 + 1);              /* 0.1 %: 256 KiB..4 MiB */
}

static char *block_new(uint64_t *rng) {
    size_t size = mixed_size(rng);
    char *p = malloc(size);
    if (!p)
        bench_die("malloc");
    memcpy(p, &size, sizeof(size));
    for (size_t off = PAGE_BYTES; off < size; off += PAGE_BYTES)
        p[off] = (char)off;
    if (size > sizeof(size))
        p[size - 1] = (char)size;
    return p;
}

static uint64_t block_free(char *p) {
    if (!p)
        return 0;
    size_t size;
    memcpy(&size, p, sizeof(size));
    uint64_t sum = (size & 0xff) + (size > sizeof(size) ? (uint8_t)p[size - 1] : 0);
    free(p);
    return sum;
}

typedef struct {
    int index;
    uint64_t seed, checksum;
} task_t;

static void *worker(void *arg) {
    task_t *t = arg;
    uint64_t rng = t->seed, sum = 0;
    char *local[LOCAL_OBJECTS] = {0};
    block_t *kept = long_lived[t->index];
    for (size_t s = 0; s < STEPS_PER_THREAD; s++) {
        uint64_t r = bench_rand(&rng);
        size_t i = (size_t)(r >> 32) % LOCAL_OBJECTS;
        unsigned kind = (unsigned)(r % 16);
        if (kind == 0) {                                /* hand one over, take one in */
            size_t slot = (size_t)(r >> 8) % TRANSFER_SLOTS;
            if (!local[i])
                local[i] = block_new(&rng);
            local[i] = atomic_exchange(&transfer[slot], local[i]);
        } else if (kind < 4) {                          /* free without replacing */
            sum += block_free(local[i]);
            local[i] = NULL;
        } else {                                        /* replace */
            sum += block_free(local[i]);
            local[i] = block_new(&rng);
        }
        if ((r >> 16) % 32 == 0) {                      /* the long-lived set changes slowly */
            size_t k = (size_t)(r >> 40) % LONG_LIVED_OBJECTS;
            sum += block_free(kept[k].obj);             /* often a dead thread's block */
            kept[k].obj = block_new(&rng);
        }
    }
    for (size_t i = 0; i < LOCAL_OBJECTS; i++)
        sum += block_free(local[i]);
    t->checksum = sum;
    return NULL;
}

int main(void) {
    const int nthreads = bench_threads();
    const size_t iterations = bench_scaled(16);
    long_lived = calloc((size_t)nthreads, sizeof(*long_lived));
    pthread_t *tid = calloc((size_t)nthreads, sizeof(*tid));
    task_t *task = calloc((size_t)nthreads, sizeof(*task));
    if (!long_lived || !tid || !task)
        bench_die("calloc");
    uint64_t checksum = 0;
    for (size_t it = 0; it < iterations; it++) {
        for (int i = 0; i < nthreads; i++) {
            task[i].index = i;
            task[i].seed = it * 104729 + (uint64_t)i * 31 + 5;
            if (pthread_create(&tid[i], NULL, worker, &task[i]))
                bench_die("pthread_create");
        }
        for (int i = 0; i < nthreads; i++) {
            pthread_join(tid[i], NULL);
            checksum += task[i].checksum;
        }
    }
    for (int i = 0; i < nthreads; i++)
        for (size_t k = 0; k < LONG_LIVED_OBJECTS; k++)
            checksum += block_free(long_lived[i][k].obj);
    for (size_t s = 0; s < TRANSFER_SLOTS; s++)
        checksum += block_free(atomic_load(&transfer[s]));
    free(long_lived);
    free(tid);
    free(task);
    BENCH_RESULT("threads", "%d", nthreads);
    BENCH_RESULT("checksum", "%llu", (unsigned long long)checksum);
    return 0;
}
