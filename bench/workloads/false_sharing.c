/* Workload 3 — false sharing (after the "cache-thrash" and "cache-scratch" tests of Berger et
 * al., Hoard, ASPLOS 2000).
 * Passive: the main thread allocates one small object per thread back to back (likely on one
 * cache line) and hands them out; each thread frees its object and then, actively, allocates
 * small objects of its own and writes them in a tight loop. An allocator that gives objects on
 * one cache line to different threads makes every write a cache-line transfer. */
#include "common.h"

#include <pthread.h>

#define OBJECT_BYTES 8

static size_t rounds, writes_per_round;

static void *worker(void *arg) {
    free(arg);                                  /* the passive case: main's object, freed here */
    uint64_t sum = 0;
    for (size_t r = 0; r < rounds; r++) {
        volatile char *p = malloc(OBJECT_BYTES);
        if (!p)
            bench_die("malloc");
        for (size_t w = 0; w < writes_per_round; w++)
            p[w % OBJECT_BYTES] = (char)(p[w % OBJECT_BYTES] + 1);
        sum += (uint8_t)p[0];
        free((void *)p);
    }
    return (void *)(uintptr_t)sum;
}

int main(void) {
    int nthreads = bench_threads();
    rounds = bench_scaled(40000);
    writes_per_round = 10000;
    pthread_t *tid = calloc((size_t)nthreads, sizeof(*tid));
    char **given = calloc((size_t)nthreads, sizeof(*given));
    if (!tid || !given)
        bench_die("calloc");
    for (int i = 0; i < nthreads; i++)
        if (!(given[i] = malloc(OBJECT_BYTES)))
            bench_die("malloc");
    for (int i = 0; i < nthreads; i++)
        if (pthread_create(&tid[i], NULL, worker, given[i]))
            bench_die("pthread_create");
    uint64_t sum = 0;
    for (int i = 0; i < nthreads; i++) {
        void *r;
        pthread_join(tid[i], &r);
        sum += (uint64_t)(uintptr_t)r;
    }
    free(tid);
    free(given);
    BENCH_RESULT("threads", "%d", nthreads);
    BENCH_RESULT("checksum", "%llu", (unsigned long long)sum);
    return 0;
}
