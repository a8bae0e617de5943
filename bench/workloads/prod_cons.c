/* Workload 11 — producer/consumer: one thread allocates, another frees.
 * Models pipelines where a reader thread builds messages and a worker thread consumes and
 * releases them (log shippers, network stacks, actor mailboxes): in each pair of threads the
 * producer mallocs blocks of a random size 16–512 B, writes their first and last bytes and
 * pushes them through a lock-free single-producer single-consumer ring of 1024 entries; the
 * consumer pops each block, reads it and frees it. Every free is remote: the block goes back to
 * a heap owned by the other thread. BENCH_THREADS / 2 pairs (at least one) move 2 million blocks
 * in all (× BENCH_SCALE).
 * The work is fixed; the figure is throughput, `result: ops_per_s` = (mallocs + frees) / the
 * seconds from the first thread's start to the last thread's end (timed inside the program).
 * When the two threads really run in parallel, allocator locks and cache lines shared between
 * them decide the figure; when other work leaves them one core, they take turns in batches of
 * up to a ring's length and the same allocator can look several times faster: compare runs made
 * on an idle machine. */
#include "common.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <time.h>

#define RING_ENTRIES 1024                       /* a power of two */
#define MIN_BYTES 16
#define MAX_BYTES 512
#define SPINS_BEFORE_YIELD 64                   /* two threads may share one core */

typedef struct {
    _Alignas(64) atomic_size_t head;            /* next entry to write; the producer's */
    _Alignas(64) atomic_size_t tail;            /* next entry to read; the consumer's */
    _Alignas(64) char *entry[RING_ENTRIES];
    size_t blocks;                              /* how many blocks this pair moves */
    uint64_t seed;
    uint64_t checksum;                          /* the consumer's */
} ring_t;

static void *producer(void *arg) {
    ring_t *r = arg;
    uint64_t rng = r->seed;
    size_t head = 0, tail_seen = 0;
    for (size_t n = 0; n < r->blocks; n++) {
        size_t size = MIN_BYTES + bench_rand(&rng) % (MAX_BYTES - MIN_BYTES + 1);
        char *p = malloc(size);
        if (!p)
            bench_die("malloc");
        p[0] = (char)size;
        p[size - 1] = (char)n;
        for (int spins = 0; head - tail_seen == RING_ENTRIES; spins++) {   /* ring full */
            tail_seen = atomic_load_explicit(&r->tail, memory_order_acquire);
            if (spins >= SPINS_BEFORE_YIELD)
                sched_yield();
        }
        r->entry[head % RING_ENTRIES] = p;
        atomic_store_explicit(&r->head, ++head, memory_order_release);
    }
    return NULL;
}

static void *consumer(void *arg) {
    ring_t *r = arg;
    size_t tail = 0, head_seen = 0;
    uint64_t sum = 0;
    while (tail < r->blocks) {
        for (int spins = 0; tail == head_seen; spins++) {                   /* ring empty */
            head_seen = atomic_load_explicit(&r->head, memory_order_acquire);
            if (spins >= SPINS_BEFORE_YIELD)
                sched_yield();
        }
        char *p = r->entry[tail % RING_ENTRIES];
        sum += (uint8_t)p[0];
        free(p);                                /* remote: allocated by the producer */
        atomic_store_explicit(&r->tail, ++tail, memory_order_release);
    }
    r->checksum = sum;
    return NULL;
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int main(void) {
    const int pairs = bench_threads() / 2 > 0 ? bench_threads() / 2 : 1;
    const size_t blocks = bench_scaled(2000000);
    ring_t *ring = aligned_alloc(64, (size_t)pairs * sizeof(ring_t));
    pthread_t *tid = calloc(2 * (size_t)pairs, sizeof(*tid));
    if (!ring || !tid)
        bench_die("alloc");
    memset(ring, 0, (size_t)pairs * sizeof(ring_t));
    double t0 = now_s();
    for (int i = 0; i < pairs; i++) {
        ring[i].blocks = blocks / (size_t)pairs;
        ring[i].seed = 0x9c0d + (uint64_t)i;
        if (pthread_create(&tid[2 * i], NULL, consumer, &ring[i]) ||
            pthread_create(&tid[2 * i + 1], NULL, producer, &ring[i]))
            bench_die("pthread_create");
    }
    for (int i = 0; i < 2 * pairs; i++)
        pthread_join(tid[i], NULL);
    double seconds = now_s() - t0;
    uint64_t ops = 0, checksum = 0;
    for (int i = 0; i < pairs; i++) {
        ops += 2 * ring[i].blocks;
        checksum += ring[i].checksum;
    }
    free(ring);
    free(tid);
    BENCH_RESULT("pairs", "%d", pairs);
    BENCH_RESULT("ops", "%llu", (unsigned long long)ops);
    BENCH_RESULT("ops_per_s", "%.0f", (double)ops / seconds);
    BENCH_RESULT("checksum", "%llu", (unsigned long long)checksum);
    return 0;
}
