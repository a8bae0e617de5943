/* Workload 10 — Larson-style server simulation (after Larson and Krishnan, "Memory allocation for
 * long-running server applications", ISMM 1998).
 * Models a server whose worker threads each hold a set of live objects (connections, sessions)
 * and are replaced from time to time by a fresh thread that inherits the set: BENCH_THREADS
 * lineages run at once; each thread owns an array of 2000 slots holding blocks of a random size
 * 8–1000 B (~1 MiB live per lineage). It repeatedly frees a random slot and allocates a new
 * random-size block into it (writing its first and last bytes); after 10 000 such rounds it
 * starts a successor thread, hands it the whole slot array and exits. The successor frees and
 * replaces blocks its predecessor allocated: cross-thread frees, to a heap whose thread is
 * gone. Each lineage runs 1500 generations (× BENCH_SCALE); the last frees everything.
 * The work is fixed; the figure is throughput, `result: ops_per_s` = (mallocs + frees) / the
 * seconds from the first thread's start to the last lineage's end (timed inside the program,
 * without process start and exit). */
#include "common.h"

#include <pthread.h>
#include <time.h>

#define SLOTS_PER_THREAD 2000
#define ROUNDS_PER_THREAD 10000
#define MIN_BYTES 8
#define MAX_BYTES 1000

typedef struct {
    char *slot[SLOTS_PER_THREAD];
    uint64_t rng;
    size_t generations_left;
    uint64_t ops;                               /* mallocs + frees done by this lineage */
    uint64_t checksum;
} lineage_t;

static pthread_mutex_t done_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t done_cond = PTHREAD_COND_INITIALIZER;
static int lineages_running;

static char *block_new(uint64_t *rng) {
    size_t size = MIN_BYTES + bench_rand(rng) % (MAX_BYTES - MIN_BYTES + 1);
    char *p = malloc(size);
    if (!p)
        bench_die("malloc");
    p[0] = (char)size;
    p[size - 1] = 1;
    return p;
}

static void start_thread(lineage_t *l);

static void *generation(void *arg) {
    lineage_t *l = arg;
    for (size_t r = 0; r < ROUNDS_PER_THREAD; r++) {
        size_t i = bench_rand(&l->rng) % SLOTS_PER_THREAD;
        l->checksum += (uint8_t)l->slot[i][0];
        free(l->slot[i]);
        l->slot[i] = block_new(&l->rng);
    }
    l->ops += 2 * ROUNDS_PER_THREAD;
    if (--l->generations_left > 0) {
        start_thread(l);                        /* the successor inherits every slot */
        return NULL;
    }
    for (size_t i = 0; i < SLOTS_PER_THREAD; i++)
        free(l->slot[i]);
    l->ops += SLOTS_PER_THREAD;
    pthread_mutex_lock(&done_lock);
    lineages_running--;
    pthread_cond_signal(&done_cond);
    pthread_mutex_unlock(&done_lock);
    return NULL;
}

static void start_thread(lineage_t *l) {
    pthread_attr_t attr;
    pthread_t tid;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&tid, &attr, generation, l))
        bench_die("pthread_create");
    pthread_attr_destroy(&attr);
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int main(void) {
    const int nthreads = bench_threads();
    const size_t generations = bench_scaled(1500);
    lineage_t *lineage = calloc((size_t)nthreads, sizeof(*lineage));
    if (!lineage)
        bench_die("calloc");
    double t0 = now_s();
    for (int t = 0; t < nthreads; t++) {        /* the first generation's blocks, made here */
        lineage_t *l = &lineage[t];
        l->rng = 0x1a7504 + (uint64_t)t;
        l->generations_left = generations;
        for (size_t i = 0; i < SLOTS_PER_THREAD; i++)
            l->slot[i] = block_new(&l->rng);
        l->ops = SLOTS_PER_THREAD;
    }
    lineages_running = nthreads;
    for (int t = 0; t < nthreads; t++)
        start_thread(&lineage[t]);
    pthread_mutex_lock(&done_lock);
    while (lineages_running > 0)
        pthread_cond_wait(&done_cond, &done_lock);
    pthread_mutex_unlock(&done_lock);
    double seconds = now_s() - t0;
    uint64_t ops = 0, checksum = 0;
    for (int t = 0; t < nthreads; t++) {
        ops += lineage[t].ops;
        checksum += lineage[t].checksum;
    }
    free(lineage);
    BENCH_RESULT("threads", "%d", nthreads);
    BENCH_RESULT("ops", "%llu", (unsigned long long)ops);
    BENCH_RESULT("ops_per_s", "%.0f", (double)ops / seconds);
    BENCH_RESULT("checksum", "%llu", (unsigned long long)checksum);
    return 0;
}
