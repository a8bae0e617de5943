/* A randomized workload through the list heap's three seed APIs (libosmem, memory_allocation,
 * memalloc), linked with their objects, that checks every block's contents before it is
 * released or resized. test_valgrind runs it under memcheck. Exit status 0 when every check
 * held, 1 (with one line on stderr) at the first wrong byte.
 *
 *   helper_list_workload [seed]   the workload (default seed 1)
 *   helper_list_workload leak     loses one malloc'd block: memcheck must report it
 * Built with the heap's valgrind client requests (make VALGRIND=1, or helper_list_workload_vg)
 * memcheck also sees misuse inside the heap, which these modes commit on purpose:
 *   use-after-free | write-into-free | uninit-read | lost-block
 *   pool-use-after-free | chunks-use-after-free */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memalloc.h"
#include "memory_allocation.h"
#include "osmem.h"

#define SLOTS  96
#define ROUNDS 3000

enum api { API_OSMEM, API_CHUNKS, API_POOL, API_COUNT };

typedef struct {
    unsigned char *p;
    size_t size;
    enum api api;
    unsigned char tag; /* every byte of the block holds tag ^ (offset & 0xff) */
} slot_t;

static uint64_t rng_state;

static uint32_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)rng_state;
}

static void fail(const char *what, const slot_t *s, size_t at)
{
    fprintf(stderr, "helper_list_workload: %s: api %d block %p size %zu byte %zu\n", what,
            (int)s->api, (void *)s->p, s->size, at);
    exit(1);
}

static void fill(slot_t *s, size_t from)
{
    for (size_t i = from; i < s->size; i++)
        s->p[i] = (unsigned char)(s->tag ^ (i & 0xff));
}

static void verify(const slot_t *s, size_t upto, const char *when)
{
    for (size_t i = 0; i < upto; i++)
        if (s->p[i] != (unsigned char)(s->tag ^ (i & 0xff))) fail(when, s, i);
}

/* Small sizes mostly, some past a page, a few past libosmem's 128 KiB mmap threshold. */
static size_t pick_size(void)
{
    uint32_t r = rng();
    switch (r % 16) {
    case 0:
        return 4096 + (r >> 8) % 8192;
    case 1:
        return 100000 + (r >> 8) % 80000;
    default:
        return 1 + (r >> 8) % 512;
    }
}

static void release(slot_t *s)
{
    verify(s, s->size, "contents changed before free");
    switch (s->api) {
    case API_OSMEM:
        os_free(s->p);
        break;
    case API_CHUNKS:
        free_memory(s->p);
        break;
    case API_POOL:
        custom_free(s->p);
        break;
    default:
        break;
    }
    s->p = NULL;
}

static void acquire(slot_t *s, unsigned index)
{
    s->api = (enum api)(rng() % API_COUNT);
    s->size = pick_size();
    s->tag = (unsigned char)(index * 31u + rng());
    bool zeroed = false;
    switch (s->api) {
    case API_OSMEM:
        if (rng() % 3 == 0) {
            s->p = os_calloc(1, s->size);
            zeroed = true;
        } else {
            s->p = os_malloc(s->size);
        }
        break;
    case API_CHUNKS:
        s->p = allocate_memory(s->size);
        break;
    case API_POOL:
        s->p = custom_malloc(s->size);
        break;
    default:
        break;
    }
    if (!s->p) fail("allocation returned NULL", s, 0);
    if ((uintptr_t)s->p % 8 != 0) fail("payload not 8-byte aligned", s, 0);
    if (zeroed)
        for (size_t i = 0; i < s->size; i++)
            if (s->p[i] != 0) fail("os_calloc block not zeroed", s, i);
    fill(s, 0);
}

/* os_realloc keeps the old contents up to the smaller size. */
static void resize(slot_t *s)
{
    size_t old = s->size, want = pick_size();
    verify(s, old, "contents changed before realloc");
    unsigned char *q = os_realloc(s->p, want);
    if (!q) fail("os_realloc returned NULL", s, 0);
    s->p = q;
    s->size = want;
    verify(s, old < want ? old : want, "os_realloc lost contents");
    fill(s, 0);
}

/* Blocks whose only pointer is overwritten: definitely lost. */
static void *volatile leak_sink;

__attribute__((noinline)) static void leak(void)
{
    for (int i = 0; i < 4; i++) {
        leak_sink = malloc(48);
        memset(leak_sink, i, 48);
    }
    leak_sink = NULL;
}

static volatile unsigned char sink; /* reads the compiler must keep */

/* One misuse of the list heap for memcheck to catch; returns 0 (memcheck decides). */
__attribute__((noinline)) static int misuse(const char *what)
{
    if (strcmp(what, "use-after-free") == 0) {
        unsigned char *p = os_malloc(64);
        os_free(p);
        p[8] = 1;
    } else if (strcmp(what, "write-into-free") == 0) {
        /* 64 bytes, then a free block: its header lies right after, its payload after that */
        unsigned char *p = os_malloc(64);
        p[64 + 32 + 8] = 1;
        os_free(p);
    } else if (strcmp(what, "uninit-read") == 0) {
        unsigned char *p = os_malloc(64);
        if (p[5] == 42) sink = 1;
        os_free(p);
    } else if (strcmp(what, "lost-block") == 0) {
        for (int i = 0; i < 4; i++) {
            leak_sink = os_malloc(48);
            memset(leak_sink, i, 48);
        }
        leak_sink = NULL;
    } else if (strcmp(what, "pool-use-after-free") == 0) {
        unsigned char *p = custom_malloc(64);
        custom_free(p);
        sink = p[8];
    } else if (strcmp(what, "chunks-use-after-free") == 0) {
        unsigned char *p = allocate_memory(64);
        free_memory(p);
        p[8] = 1;
    } else {
        return 2;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "leak") == 0) {
        leak();
        return 0;
    }
    if (argc > 1 && (argv[1][0] < '0' || argv[1][0] > '9')) return misuse(argv[1]);
    rng_state = argc > 1 ? strtoull(argv[1], NULL, 10) | 1 : 1;

    static slot_t slot[SLOTS];
    for (unsigned round = 0; round < ROUNDS; round++) {
        unsigned i = rng() % SLOTS;
        slot_t *s = &slot[i];
        if (s->p && s->api == API_OSMEM && rng() % 4 == 0) {
            resize(s);
            continue;
        }
        if (s->p) release(s);
        acquire(s, i);
        /* Somebody else's block is still intact after this one was written. */
        slot_t *other = &slot[rng() % SLOTS];
        if (other->p) verify(other, other->size, "a neighbour's write reached this block");
    }
    for (unsigned i = 0; i < SLOTS; i++)
        if (slot[i].p) release(&slot[i]);
    /* The same again after everything was released: reuse of coalesced memory. */
    for (unsigned i = 0; i < SLOTS; i++)
        acquire(&slot[i], i);
    for (unsigned i = 0; i < SLOTS; i++)
        release(&slot[i]);
    /* chunk_split on a block in use (shrinks it) and on the free first chunk (hands it out). */
    unsigned char *big = allocate_memory(256);
    memset(big, 7, 256);
    memory_chunk_t *chunk = (memory_chunk_t *)(void *)big - 1;
    if (chunk_split(chunk, 64) != chunk || chunk->size != 64) return 1;
    for (int i = 0; i < 64; i++)
        if (big[i] != 7) return 1;
    free_memory(big);
    memory_chunk_t *first = initialize_dynamic_memory();
    if (first && !first->in_use && first->size >= 128) {
        if (chunk_split(first, 128) != first) return 1;
        memset(first + 1, 9, 128);
        free_memory(first + 1);
    }
    puts("helper_list_workload: ok");
    return 0;
}
