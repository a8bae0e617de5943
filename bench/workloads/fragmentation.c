/* Workload 6 — long-running fragmentation: does memory go back to the OS?
 * Models a long-lived service whose working set spikes and then shrinks (a cache filled and
 * mostly evicted): allocate many objects of mixed sizes, free every other one, then free a
 * random 90 % of the rest, and read the RSS (/proc/self/statm) at every stage (after the
 * frees, following a 50 ms pause and a little activity). A second,
 * smaller wave of allocations follows to show whether the holes are reused. The figure to
 * read is rss_after_free_kib: what the process still holds when 95 % of its data is gone. */
#include "common.h"

#include <time.h>

static size_t mixed_size(uint64_t *rng) {
    uint64_t r = bench_rand(rng);
    unsigned pick = (unsigned)(r % 100);
    r >>= 8;
    if (pick < 80)
        return 16 + r % 241;                    /* 80 %: 16..256 B */
    if (pick < 98)
        return 256 + r % 3841;                  /* 18 %: 256 B..4 KiB */
    return 4096 + r % (28 * 1024);              /* 2 %: 4..32 KiB */
}

/* Allocators that return memory lazily (after a delay, or on their next call) get the chance
 * a running service would give them: a short pause, then a little unrelated activity. */
static long settled_rss_kib(void) {
    struct timespec pause = {0, 50 * 1000 * 1000};
    nanosleep(&pause, NULL);
    for (int i = 0; i < 1000; i++) {
        void *volatile p = malloc(64);
        free(p);
    }
    return bench_rss_kib();
}

static void fill(char **obj, size_t n, uint64_t *rng) {
    for (size_t i = 0; i < n; i++) {
        if (obj[i])
            continue;
        size_t size = mixed_size(rng);
        if (!(obj[i] = malloc(size)))
            bench_die("malloc");
        memset(obj[i], (int)i, size);           /* the data is really written */
    }
}

int main(void) {
    const size_t n = bench_scaled(300000);
    const int cycles = 3;
    uint64_t rng = 2024;
    char **obj = calloc(n, sizeof(*obj));
    if (!obj)
        bench_die("calloc");
    long start = bench_rss_kib(), peak = 0, after_free = 0;
    for (int c = 0; c < cycles; c++) {
        fill(obj, n, &rng);
        long full = bench_rss_kib();
        for (size_t i = 0; i < n; i += 2) {     /* every other object */
            free(obj[i]);
            obj[i] = NULL;
        }
        long half = bench_rss_kib();
        for (size_t i = 1; i < n; i += 2) {     /* then a random 90 % of the rest */
            if (bench_rand(&rng) % 10 != 0) {
                free(obj[i]);
                obj[i] = NULL;
            }
        }
        after_free = settled_rss_kib();
        if (full > peak)
            peak = full;
        fprintf(stderr, "fragmentation: cycle %d rss_kib full=%ld half=%ld after_free=%ld\n", c,
                full, half, after_free);
    }
    /* a smaller wave: 25 % of the slots, which should fit in the holes left behind */
    for (size_t i = 0; i < n; i += 4)
        if (!obj[i] && (obj[i] = malloc(mixed_size(&rng))) == NULL)
            bench_die("malloc");
    long refill = bench_rss_kib();
    for (size_t i = 0; i < n; i++)
        free(obj[i]);
    long end = settled_rss_kib();
    free(obj);
    BENCH_RESULT("rss_start_kib", "%ld", start);
    BENCH_RESULT("rss_peak_kib", "%ld", peak);
    BENCH_RESULT("rss_after_free_kib", "%ld", after_free);
    BENCH_RESULT("rss_refill_kib", "%ld", refill);
    BENCH_RESULT("rss_end_kib", "%ld", end);
    return 0;
}
