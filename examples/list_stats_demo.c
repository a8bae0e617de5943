/* The list heap's statistics under a mixed workload, for each of its three front ends, each
 * followed by the system calls that front end made (the kernel layer's counters):
 * libosmem (brk + mmap, best fit), memory_allocation (mmap'd pages, first fit, one mutex) and
 * memalloc (lazy pool, first fit, regions given back). Linked with the objects, since the
 * shared libraries export only the seeds' functions. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/stats.h"
#include "front/list_fronts.h"
#include "memalloc.h"
#include "memory_allocation.h"
#include "os/sys.h"
#include "osmem.h"

#define SLOTS 64

typedef struct {
    void *(*alloc)(size_t);
    void (*release)(void *);
    void (*stats)(list_stats_t *);
    const char *title;
} front_t;

static void *osmem_alloc_any(size_t size)
{
    return size % 3 ? os_malloc(size) : os_calloc(1, size);
}

/* A deterministic mix: small and large sizes, frees in between, some growth by realloc. */
static int workload(const front_t *front)
{
    void *slot[SLOTS] = {0};
    unsigned seed = 12345;
    sys_counters_reset(); /* the system calls below are this front end's */
    for (int round = 0; round < 2000; round++) {
        seed = seed * 1103515245u + 12345u;
        unsigned i = (seed >> 8) % SLOTS;
        size_t size = (seed >> 16) % 7 == 0 ? 8192 + (seed >> 4) % 150000 : 1 + (seed >> 12) % 600;
        if (slot[i]) front->release(slot[i]);
        slot[i] = front->alloc(size);
        if (!slot[i]) return 1;
        memset(slot[i], (int)i, size < 64 ? size : 64);
    }
    for (int i = 0; i < SLOTS; i += 2) {
        front->release(slot[i]);
        slot[i] = NULL;
    }
    list_stats_t stats;
    front->stats(&stats);
    char text[4096];
    list_stats_text(&stats, front->title, text, sizeof text);
    fputs(text, stdout);
    char calls[2048];
    hk_stats_sys_text(calls, sizeof calls);
    fputs(calls, stdout);
    for (int i = 0; i < SLOTS; i++) front->release(slot[i]);
    return 0;
}

int main(void)
{
    const front_t fronts[] = {
        {osmem_alloc_any, os_free, osmem_stats, "libosmem (spec 001)"},
        {allocate_memory, free_memory, chunks_stats, "memory_allocation (spec 000)"},
        {custom_malloc, custom_free, pool_stats, "memalloc (spec 002)"},
    };
    int failed = 0;
    for (size_t i = 0; i < sizeof fronts / sizeof fronts[0]; i++) failed |= workload(&fronts[i]);
    return failed;
}
