/* Shared helpers for the benchmark workloads: thread count, work scale, a fast deterministic
 * random generator and RSS readings. Workloads use the C library's malloc family only, so the
 * allocator under test is whatever LD_PRELOAD puts in front of it. */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE                             /* sched_getaffinity, CPU_COUNT */
#endif

#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* BENCH_THREADS, else the cores this process may run on (what `nproc` prints). */
static inline int bench_threads(void) {
    const char *s = getenv("BENCH_THREADS");
    if (s && *s) {
        long n = strtol(s, NULL, 10);
        return n < 1 ? 1 : (int)n;
    }
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
        return CPU_COUNT(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (int)n;
}

/* BENCH_SCALE multiplies each workload's amount of work (default 1.0). */
static inline size_t bench_scaled(size_t base) {
    const char *s = getenv("BENCH_SCALE");
    double f = s ? strtod(s, NULL) : 1.0;
    if (!(f > 0))
        f = 1.0;
    size_t n = (size_t)((double)base * f);
    return n ? n : 1;
}

/* xorshift64*: deterministic per seed, no shared state between threads. */
static inline uint64_t bench_rand(uint64_t *state) {
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* Resident set size in KiB, from /proc/self/statm (second field, in pages). */
static inline long bench_rss_kib(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    long size = 0, resident = 0;
    if (!f)
        return -1;
    if (fscanf(f, "%ld %ld", &size, &resident) != 2)
        resident = -1;
    fclose(f);
    return resident < 0 ? -1 : resident * (sysconf(_SC_PAGESIZE) / 1024);
}

/* The runner collects lines of this form as extra result columns. */
#define BENCH_RESULT(key, fmt, ...) printf("result: " key "=" fmt "\n", __VA_ARGS__)

static inline void bench_die(const char *what) {
    fprintf(stderr, "bench: %s failed\n", what);
    exit(1);
}

#endif
