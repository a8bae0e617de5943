/* Workload 2 — server-like pool with producer/consumer hand-off (cross-thread free).
 * Models request pipelines (a network thread parses requests, a worker thread answers and
 * frees them): every thread allocates batches of objects of random sizes (mostly 16 B–1 KiB,
 * some up to 16 KiB), fills them, and hands each batch through a mutex-protected queue to the
 * next thread in a ring, which reads and frees them. Almost every free happens on a thread
 * other than the one that allocated the block. */
#include "common.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#define BATCH_OBJECTS 64
#define QUEUE_LIMIT_BATCHES 16

typedef struct batch {
    struct batch *next;
    size_t count;
    char *obj[BATCH_OBJECTS];
} batch_t;

typedef struct {
    pthread_mutex_t lock;
    batch_t *head;
    size_t count;                               /* batches waiting: bounds the queue */
    char pad[64];                               /* keep queues on separate cache lines */
} queue_t;

static queue_t *queues;
static int nthreads;
static size_t batches_per_thread;
static atomic_size_t batches_consumed;

static size_t object_size(uint64_t *rng) {
    uint64_t r = bench_rand(rng);
    if (r % 16 == 0)
        return 1024 + (r >> 8) % (15 * 1024);   /* 1 in 16: 1..16 KiB */
    return 16 + (r >> 8) % 1008;                /* otherwise 16 B..1 KiB */
}

static uint64_t drain(queue_t *q) {
    pthread_mutex_lock(&q->lock);
    batch_t *b = q->head;
    q->head = NULL;
    q->count = 0;
    pthread_mutex_unlock(&q->lock);
    uint64_t sum = 0;
    while (b) {
        batch_t *next = b->next;
        for (size_t i = 0; i < b->count; i++) {
            sum += (uint8_t)b->obj[i][0];
            free(b->obj[i]);
        }
        free(b);
        atomic_fetch_add(&batches_consumed, 1);
        b = next;
    }
    return sum;
}

static void *worker(void *arg) {
    int id = (int)(intptr_t)arg;
    uint64_t rng = 1000 + (uint64_t)id, sum = 0;
    queue_t *out = &queues[(id + 1) % nthreads], *in = &queues[id];
    for (size_t n = 0; n < batches_per_thread; n++) {
        batch_t *b = malloc(sizeof(*b));
        if (!b)
            bench_die("malloc");
        b->count = BATCH_OBJECTS;
        for (size_t i = 0; i < BATCH_OBJECTS; i++) {
            size_t size = object_size(&rng);
            char *p = malloc(size);
            if (!p)
                bench_die("malloc");
            memset(p, (int)i, size < 64 ? size : 64);   /* a request header is written */
            b->obj[i] = p;
        }
        for (;;) {                              /* a full queue makes the producer wait */
            pthread_mutex_lock(&out->lock);
            if (out->count < QUEUE_LIMIT_BATCHES) {
                b->next = out->head;
                out->head = b;
                out->count++;
                pthread_mutex_unlock(&out->lock);
                break;
            }
            pthread_mutex_unlock(&out->lock);
            sum += drain(in);
            sched_yield();
        }
        sum += drain(in);
    }
    size_t total = (size_t)nthreads * batches_per_thread;
    while (atomic_load(&batches_consumed) < total) {
        sum += drain(in);
        sched_yield();
    }
    return (void *)(uintptr_t)sum;
}

int main(void) {
    nthreads = bench_threads();
    batches_per_thread = bench_scaled(40000) / (size_t)nthreads;
    queues = calloc((size_t)nthreads, sizeof(*queues));
    pthread_t *tid = calloc((size_t)nthreads, sizeof(*tid));
    if (!queues || !tid)
        bench_die("calloc");
    for (int i = 0; i < nthreads; i++)
        pthread_mutex_init(&queues[i].lock, NULL);
    for (int i = 0; i < nthreads; i++)
        if (pthread_create(&tid[i], NULL, worker, (void *)(intptr_t)i))
            bench_die("pthread_create");
    uint64_t sum = 0;
    for (int i = 0; i < nthreads; i++) {
        void *r;
        pthread_join(tid[i], &r);
        sum += (uint64_t)(uintptr_t)r;
    }
    free(queues);
    free(tid);
    BENCH_RESULT("threads", "%d", nthreads);
    BENCH_RESULT("checksum", "%llu", (unsigned long long)sum);
    return 0;
}
