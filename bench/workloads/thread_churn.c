/* Workload 7 — thread churn: many short-lived threads each allocating a little.
 * Models thread-per-task servers and thread pools that shrink and grow: waves of threads are
 * started, each allocates a few hundred small objects, frees most of them, hands the rest to
 * the main thread (freed there after the join) and exits. Stresses per-thread heap set-up and
 * tear-down, and the adoption of memory left by dead threads. */
#include "common.h"

#include <pthread.h>

#define OBJECTS_PER_THREAD 200
#define HANDED_BACK 16

typedef struct {
    uint64_t seed;
    void *keep[HANDED_BACK];
} task_t;

static void *worker(void *arg) {
    task_t *t = arg;
    void *obj[OBJECTS_PER_THREAD];
    for (size_t i = 0; i < OBJECTS_PER_THREAD; i++) {
        size_t size = 16 + bench_rand(&t->seed) % 496;
        if (!(obj[i] = malloc(size)))
            bench_die("malloc");
        memset(obj[i], (int)i, 16);
    }
    for (size_t i = 0; i < OBJECTS_PER_THREAD; i++) {
        if (i < HANDED_BACK)
            t->keep[i] = obj[i];
        else
            free(obj[i]);
    }
    return NULL;
}

int main(void) {
    int nthreads = bench_threads();
    size_t waves = bench_scaled(8000) / (size_t)nthreads;
    pthread_t *tid = calloc((size_t)nthreads, sizeof(*tid));
    task_t *task = calloc((size_t)nthreads, sizeof(*task));
    if (!tid || !task)
        bench_die("calloc");
    for (size_t w = 0; w < waves; w++) {
        for (int i = 0; i < nthreads; i++) {
            task[i].seed = w * 7919 + (uint64_t)i + 1;
            if (pthread_create(&tid[i], NULL, worker, &task[i]))
                bench_die("pthread_create");
        }
        for (int i = 0; i < nthreads; i++) {
            pthread_join(tid[i], NULL);
            for (size_t k = 0; k < HANDED_BACK; k++)
                free(task[i].keep[k]);          /* freed by a thread that did not allocate */
        }
    }
    free(tid);
    free(task);
    BENCH_RESULT("threads", "%d", nthreads);
    BENCH_RESULT("threads_started", "%zu", waves * (size_t)nthreads);
    return 0;
}
