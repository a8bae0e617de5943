/* The profiler's internal interface, shared by the files of src/prof (prof.h is what engines
 * see). Files, in the order to read them: prof.c (state, options, the engine hooks, the
 * signal), prof_sample.c (generator and the two bits of arithmetic), prof_stack.c (capturing a
 * call stack), prof_table.c (live sampled blocks and their stacks), prof_dump.c (the heap file
 * and the folded file), prof_symbols.c (function names from the ELF files). */
#ifndef HK_PROF_PROF_INTERNAL_H
#define HK_PROF_PROF_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/lock.h"

/* ---- Limits ------------------------------------------------------------------------------ */

/* Frames kept per stack (innermost first), after the library's own frames are skipped. */
#define PROF_MAX_FRAMES 64
/* Default mean distance between sample points (HEAPKIT_PROF_SAMPLE). */
#define PROF_DEFAULT_SAMPLE_BYTES ((size_t)512 * 1024)
/* Paths the profiler builds (the dump files). */
#define PROF_PATH_MAX 4096

/* ---- State (prof.c) ------------------------------------------------------------------------ */

typedef struct {
    double mean_bytes;             /* mean distance between sample points */
    uint64_t seed;                 /* HEAPKIT_PROF_SEED, or from AT_RANDOM */
    bool seeded;                   /* HEAPKIT_PROF_SEED was given: every run draws the same */
    int signal;                    /* HEAPKIT_PROF_SIGNAL's number, 0 for none */
    char exit_path[PROF_PATH_MAX]; /* where the exit and signal dumps go */
} prof_config_t;

extern prof_config_t prof_config;
/* Guards the tables (prof_table.c) and the dumps. Engines never hold a lock of theirs when they
 * call the profiler, and the profiler never calls an engine, so it nests with nothing. */
extern hk_lock_t prof_lock;

/* Starts the profiler with these settings without reading the environment (for unit tests):
 * mean distance, seed. Returns false if it had already started or been found off. */
bool prof_start_for_tests(size_t mean_bytes, uint64_t seed);

/* ---- Sampling arithmetic (prof_sample.c) -------------------------------------------------- */

/* -ln(u) for u in (0, 1]; relative error below 1e-12. */
double prof_neg_log(double u);
/* 1 - exp(-x) for x >= 0, accurate also for tiny x; relative error below 1e-12. */
double prof_one_minus_exp_neg(double x);
/* A thread's generator: xorshift64*. state must not be 0. */
uint64_t prof_random_next(uint64_t *state);
/* A seed for the n-th thread (splitmix64 of seed and n; never 0). */
uint64_t prof_thread_seed(uint64_t seed, uint64_t n);
/* Bytes to the next sample point for a generator state: ceil(mean * -ln(u)), at least 1. */
size_t prof_draw_interval(uint64_t *state, double mean_bytes);
/* The weight of a sampled block of size bytes: 1 / P(size) = 1 / (1 - exp(-size / mean)). */
double prof_weight(size_t size, double mean_bytes);

/* ---- Stacks (prof_stack.c) ----------------------------------------------------------------- */

/* Finds the library's own code (its mapped object), so captures skip its frames; warms the
 * unwinder up (the first unwind may allocate: call with the thread's re-entrance guard set). */
void prof_stack_init(void);
/* Captures the calling thread's stack into frames (return addresses, innermost first),
 * skipping the frames of the library itself; returns how many were kept. */
unsigned prof_stack_capture(uintptr_t *frames, unsigned max);

/* ---- Tables (prof_table.c): all under prof_lock --------------------------------------------- */

typedef struct {
    uint64_t hash;        /* of the frames (never 0) */
    uint32_t first_frame; /* index into the frame pool */
    uint32_t depth;       /* frames */
    double alloc_count;   /* estimated blocks ever allocated here */
    double alloc_bytes;   /* estimated bytes ever allocated here */
    double live_count;    /* estimated live blocks (filled by prof_table_sum_live) */
    double live_bytes;    /* estimated live bytes (likewise) */
} prof_stack_t;

/* Records a live sampled block; false when the tables cannot grow (the sample is dropped). */
bool prof_table_insert(uintptr_t address, size_t requested, size_t usable, double weight,
                       const uintptr_t *frames, unsigned depth);
/* Removes the record of address; false when there was none. */
bool prof_table_remove(uintptr_t address);
/* The block at address was resized in place: its record keeps its weight and stack and takes
 * the new sizes; false when there was none. */
bool prof_table_resize(uintptr_t address, size_t requested, size_t usable);
/* Fills every stack's live_count and live_bytes from the live blocks. */
void prof_table_sum_live(void);
/* The stacks and their count; the frame pool (stacks index it) and its length. */
prof_stack_t *prof_table_stacks(uint32_t *count);
const uintptr_t *prof_table_frames(size_t *count);
/* Live sampled blocks recorded now (for tests and the header line). */
uint64_t prof_table_live_records(void);

/* ---- Dumps (prof_dump.c) and names (prof_symbols.c) ----------------------------------------- */

/* Writes both files; prof_lock held. 0 or an errno value. */
int prof_dump_locked(const char *heap_path);

/* Names return addresses: call prof_symbols_prepare with every address to name, then
 * prof_symbols_name for each; prof_symbols_release at the end. Never allocates (mappings from
 * src/os; the ELF files are read with pread). prepare returns false when it ran out of memory
 * (then names are module+offset or hex). */
bool prof_symbols_prepare(const uintptr_t *addresses, size_t count);
/* Writes the name of the function holding address - 1 (a return address points after the
 * call) into out: "function", or "module+0xoffset", or "0xaddress". */
void prof_symbols_name(uintptr_t address, char *out, size_t cap);
void prof_symbols_release(void);

#endif
