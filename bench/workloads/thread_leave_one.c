/* Workload 9 — short-lived threads that each leave one small object behind.
 * Models thread-per-request servers and task runners whose threads publish one small result
 * (a status record, a cached reply) into a shared table and exit: waves of short-lived threads
 * (5 × BENCH_THREADS at a time, 10 on 2 cores) are started and joined, 1000 waves (× BENCH_SCALE).
 * Each thread callocs one 128 B object, atomically swaps it into a random slot of a shared array
 * of 1000 and frees whatever the slot held, an object some earlier, now dead, thread allocated.
 * At most 125 KiB are live at any time, but each live object pins a dead thread's heap: an
 * allocator that gives each new thread fresh pages instead of adopting the dead threads' partly
 * used ones keeps one page per dead thread resident. */
#include "common.h"

#include <pthread.h>
#include <stdatomic.h>

#define OBJECT_BYTES 128
#define SHARED_SLOTS 1000                   /* at most 125 KiB live, from up to 1000 threads */

static _Atomic(char *) shared[SHARED_SLOTS];

typedef struct {
    uint64_t seed;                             /* picks the slot; differs per thread and wave */
    uint64_t sum;                              /* read from the object this thread freed */
} task_t;

static void *worker(void *arg) {
    task_t *t = arg;
    char *mine = calloc(1, OBJECT_BYTES);
    if (!mine)
        bench_die("calloc");
    mine[0] = (char)t->seed;
    mine[OBJECT_BYTES - 1] = 1;
    size_t slot = bench_rand(&t->seed) % SHARED_SLOTS;
    char *found = atomic_exchange(&shared[slot], mine);
    if (found) {
        t->sum = (uint8_t)found[0] + (uint8_t)found[OBJECT_BYTES - 1];
        free(found);                            /* allocated by a thread that has exited */
    }
    return NULL;
}

int main(void) {
    const int per_wave = 5 * bench_threads();
    const size_t waves = bench_scaled(1000);
    pthread_t *tid = calloc((size_t)per_wave, sizeof(*tid));
    task_t *task = calloc((size_t)per_wave, sizeof(*task));
    if (!tid || !task)
        bench_die("calloc");
    uint64_t checksum = 0;
    for (size_t w = 0; w < waves; w++) {
        for (int i = 0; i < per_wave; i++) {
            task[i].seed = w * 1000003 + (uint64_t)i * 7919 + 1;
            task[i].sum = 0;
            if (pthread_create(&tid[i], NULL, worker, &task[i]))
                bench_die("pthread_create");
        }
        for (int i = 0; i < per_wave; i++) {
            pthread_join(tid[i], NULL);
            checksum += task[i].sum;
        }
    }
    for (size_t s = 0; s < SHARED_SLOTS; s++)
        free(atomic_load(&shared[s]));
    free(tid);
    free(task);
    BENCH_RESULT("threads_started", "%zu", waves * (size_t)per_wave);
    BENCH_RESULT("checksum", "%llu", (unsigned long long)checksum);
    return 0;
}
