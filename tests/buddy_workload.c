/* A small allocation workload for comparing mallocs (run it plain and with a heapkit library
 * preloaded, under /usr/bin/time): each thread keeps a ring of live blocks of mixed sizes
 * (mostly small, some up to 64 KiB), replaces them in a sliding window, grows strings with
 * realloc, and hands a share of its blocks to the next thread to free. Prints a checksum.
 *   buddy_workload [threads] [rounds] */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { RING = 4096, HANDOFF = 256 };

typedef struct {
    unsigned seed;
    long rounds;
    uint64_t checksum;
} worker_t;

static void *volatile mailbox[64][HANDOFF];

static size_t pick_size(unsigned *seed)
{
    unsigned r = (unsigned)rand_r(seed);
    if (r % 64 == 0) return 4096 + (size_t)rand_r(seed) % (60 * 1024);
    if (r % 8 == 0) return 512 + (size_t)rand_r(seed) % 1536;
    return 8 + (size_t)rand_r(seed) % 248;
}

static void *work(void *arg)
{
    worker_t *w = arg;
    static __thread void *ring[RING];
    unsigned box = w->seed % 64;
    for (long round = 0; round < w->rounds; round++) {
        size_t slot = (size_t)round % RING;
        if (ring[slot]) {
            w->checksum += ((unsigned char *)ring[slot])[0];
            free(ring[slot]);
        }
        size_t size = pick_size(&w->seed);
        ring[slot] = malloc(size);
        memset(ring[slot], (int)(round & 0xFF), size < 64 ? size : 64);
        if (round % 16 == 0) {
            /* A string grown a piece at a time. */
            char *s = NULL;
            size_t len = 0;
            for (int i = 0; i < 40; i++) {
                s = realloc(s, len + 24);
                len += (size_t)snprintf(s + len, 24, "%ld,", round + i);
            }
            w->checksum += len;
            free(s);
        }
        if (round % 8 == 0) {
            /* Hand a block to the neighbouring thread's mailbox; free whatever was there. */
            void *mine = malloc(pick_size(&w->seed));
            void *old = __atomic_exchange_n(&mailbox[(box + 1) % 64][round % HANDOFF], mine,
                                            __ATOMIC_ACQ_REL);
            free(old);
        }
    }
    for (size_t i = 0; i < RING; i++) {
        free(ring[i]);
        ring[i] = NULL;
    }
    return NULL;
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 2;
    long rounds = argc > 2 ? atol(argv[2]) : 2000000;
    if (threads < 1 || threads > 64) return 2;
    pthread_t tid[64];
    worker_t workers[64];
    for (int i = 0; i < threads; i++) {
        workers[i] = (worker_t){(unsigned)i + 1, rounds, 0};
        pthread_create(&tid[i], NULL, work, &workers[i]);
    }
    uint64_t sum = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(tid[i], NULL);
        sum += workers[i].checksum;
    }
    for (int b = 0; b < 64; b++)
        for (int i = 0; i < HANDOFF; i++)
            free(mailbox[b][i]);
    printf("%llu\n", (unsigned long long)sum);
    return 0;
}
