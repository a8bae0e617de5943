/* The replay loop shared by the per-engine programs. Each program defines three small
 * functions (engine_setup, engine_alloc, engine_free), and engine_clip (the size it will
 * really ask of the engine for a trace size, usually the same), then includes this file once.
 * Figures: ops/s over the whole trace; peak live bytes (requested, as the trace asks) against
 * peak heap bytes, the memory the engine holds from the OS, measured as the growth of the
 * process's mapped size (/proc/self/statm, first field) over a baseline taken before the first
 * allocation — brk and mmap both count. statm is sampled every SAMPLE_EVERY records; the
 * measuring is done in a second, untimed pass so the timing stays clean. */
#ifndef BENCH_REPLAY_H
#define BENCH_REPLAY_H

#include "trace.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SAMPLE_EVERY 64

static void engine_setup(void);
static void *engine_alloc(uint32_t size);
static void engine_free(void *p);
static uint32_t engine_clip(uint32_t size);

static long mapped_bytes(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0;
    if (!f)
        return 0;
    if (fscanf(f, "%ld", &pages) != 1)
        pages = 0;
    fclose(f);
    return pages * sysconf(_SC_PAGESIZE);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One pass over the trace; with `measure`, tracks live bytes and samples the heap size. */
static int replay_pass(const trace_record_t *rec, uint64_t n, void **slot, uint32_t *size,
                       int measure, long base, long *peak_live, long *peak_heap) {
    long live = 0;
    for (uint64_t i = 0; i < n; i++) {
        uint32_t s = rec[i].slot;
        if (rec[i].size) {
            uint32_t want = engine_clip(rec[i].size);
            if (slot[s]) {
                engine_free(slot[s]);
                live -= size[s];
            }
            slot[s] = engine_alloc(want);
            if (!slot[s]) {
                fprintf(stderr, "replay: allocation of %u bytes failed at record %llu\n",
                        want, (unsigned long long)i);
                return -1;
            }
            memset(slot[s], (int)s, want < 64 ? want : 64);
            size[s] = want;
            live += size[s];
        } else if (slot[s]) {
            engine_free(slot[s]);
            slot[s] = NULL;
            live -= size[s];
        }
        if (measure) {
            if (live > *peak_live)
                *peak_live = live;
            if (i % SAMPLE_EVERY == 0 || rec[i].size > 65536) {
                long heap = mapped_bytes() - base;
                if (heap > *peak_heap)
                    *peak_heap = heap;
            }
        }
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s TRACE\n", argv[0]);
        return 2;
    }
    FILE *f = fopen(argv[1], "rb");
    trace_header_t h;
    if (!f || fread(&h, sizeof(h), 1, f) != 1 || h.magic != TRACE_MAGIC) {
        fprintf(stderr, "replay: %s is not a trace\n", argv[1]);
        return 1;
    }
    trace_record_t *rec = malloc(h.records * sizeof(*rec));
    void **slot = calloc(h.slots, sizeof(*slot));
    uint32_t *size = calloc(h.slots, sizeof(*size));
    if (!rec || !slot || !size || fread(rec, sizeof(*rec), h.records, f) != h.records) {
        fprintf(stderr, "replay: cannot read %s\n", argv[1]);
        return 1;
    }
    fclose(f);
    engine_setup();
    long base = mapped_bytes(), peak_live = 0, peak_heap = 0;
    if (replay_pass(rec, h.records, slot, size, 1, base, &peak_live, &peak_heap))
        return 1;
    double t0 = now_s();
    if (replay_pass(rec, h.records, slot, size, 0, 0, NULL, NULL))
        return 1;
    double elapsed = now_s() - t0;
    printf("result: ops=%llu\n", (unsigned long long)h.records);
    printf("result: ops_per_s=%.0f\n", (double)h.records / (elapsed > 0 ? elapsed : 1e-9));
    printf("result: peak_live_bytes=%ld\n", peak_live);
    printf("result: peak_heap_bytes=%ld\n", peak_heap);
    printf("result: utilisation=%.3f\n", peak_heap > 0 ? (double)peak_live / peak_heap : 0.0);
    free(rec);
    free(slot);
    free(size);
    return 0;
}

#endif
