/* Request-scoped memory: malloc/free against a heap of one's own (hk_heap_* in heapkit.h).
 * Models a server that builds each request's data (a parse tree of 16–512 B nodes, a few
 * 4 KiB buffers, strings grown with realloc) and throws all of it away when the reply is
 * sent. Mode "malloc" frees every object with free(); mode "heap" allocates from a heap of
 * the thread's own and resets it after each request (one call frees everything). Linked with
 * libheapkit; prints `result: requests_per_s=…` (timed from the first worker's start to the last
 * one's end) and `result: requests=…`. BENCH_THREADS workers, BENCH_SCALE work.
 * Usage: request_arena malloc|heap */
#include "../workloads/common.h"

#include <heapkit.h>
#include <pthread.h>
#include <time.h>

#define OBJECTS_PER_REQUEST 600
#define REQUESTS 100000                /* about half a second per run on one 2-core machine */

static int use_heap;
static size_t requests_per_thread;

typedef struct node {
    struct node *next;
    size_t len;
    char data[];
} node_t;

static void *request_alloc(hk_heap_t *heap, size_t size)
{
    void *p = use_heap ? hk_heap_malloc(heap, size) : malloc(size);
    if (!p) bench_die("malloc");
    return p;
}

static void *request_realloc(hk_heap_t *heap, void *p, size_t size)
{
    void *q = use_heap ? hk_heap_realloc(heap, p, size) : realloc(p, size);
    if (!q) bench_die("realloc");
    return q;
}

static void *worker(void *arg)
{
    uint64_t rng = 77 + (uint64_t)(uintptr_t)arg, sum = 0;
    hk_heap_t *heap = use_heap ? hk_heap_new() : NULL;
    for (size_t r = 0; r < requests_per_thread; r++) {
        node_t *list = NULL;
        char *text = NULL;
        size_t text_len = 0;
        for (int i = 0; i < OBJECTS_PER_REQUEST; i++) {
            uint64_t x = bench_rand(&rng);
            size_t size = x % 32 == 0 ? 4096 : 16 + (x >> 8) % 497;
            node_t *n = request_alloc(heap, sizeof(node_t) + size);
            n->len = size;
            n->data[0] = (char)i;
            n->next = list;
            list = n;
            if (i % 8 == 0) { /* a reply string built by appends */
                text = request_realloc(heap, text, text_len + 40);
                memset(text + text_len, 'a' + i % 26, 40);
                text_len += 40;
            }
        }
        for (node_t *n = list; n; n = n->next) sum += (uint8_t)n->data[0] + n->len;
        sum += (uint8_t)text[text_len / 2];
        if (use_heap) {
            hk_heap_reset(heap);
        } else {
            while (list) {
                node_t *next = list->next;
                free(list);
                list = next;
            }
            free(text);
        }
    }
    if (use_heap) hk_heap_destroy(heap);
    return (void *)(uintptr_t)sum;
}

int main(int argc, char **argv)
{
    if (argc != 2 || (strcmp(argv[1], "malloc") && strcmp(argv[1], "heap"))) {
        fprintf(stderr, "usage: request_arena malloc|heap\n");
        return 2;
    }
    use_heap = strcmp(argv[1], "heap") == 0;
    int threads = bench_threads();
    requests_per_thread = bench_scaled(REQUESTS) / (size_t)threads;
    pthread_t tid[256];
    if (threads > 256) threads = 256;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < threads; i++)
        if (pthread_create(&tid[i], NULL, worker, (void *)(uintptr_t)i)) bench_die("pthread_create");
    uint64_t sum = 0;
    for (int i = 0; i < threads; i++) {
        void *r;
        pthread_join(tid[i], &r);
        sum += (uint64_t)(uintptr_t)r;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    BENCH_RESULT("requests_per_s", "%.0f", (double)requests_per_thread * threads / seconds);
    BENCH_RESULT("requests", "%zu", requests_per_thread * (size_t)threads);
    BENCH_RESULT("checksum", "%llu", (unsigned long long)sum);
    return 0;
}
