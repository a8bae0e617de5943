/* libheapkit-buddy.so as this process's malloc (the binary links it, so every allocation here,
 * Criterion's own included, goes through the buddy engine): what is particular to the buddy
 * engine — every power-of-two alignment, misuse caught without checked mode, its statistics — and
 * a threaded random malloc/free/realloc stress in the spirit of t-test1, with blocks handed
 * between threads, and the sbrk heap seen through strace (the break moves one page at a time).
 * The whole malloc surface, threads and fork are the cross-engine suites'
 * (tests/test_override_*.c). No sanitizer: it would replace malloc itself. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define KiB ((size_t)1024)
#define MiB (KiB * 1024)



static void expect_aligned(void *p, size_t alignment)
{
    cr_assert_not_null(p);
    cr_assert_eq((uintptr_t)p % alignment, 0, "%p is not %zu-aligned", p, alignment);
}

/* ---- API conformance ------------------------------------------------------------------------ */

Test(api, every_power_of_two_alignment_is_honoured)
{
    static const size_t sizes[] = {1, 24, 200, 1000, 3000, 100000};
    for (size_t alignment = sizeof(void *); alignment <= MiB; alignment <<= 1) {
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            void *p = NULL;
            cr_assert_eq(posix_memalign(&p, alignment, sizes[i]), 0);
            expect_aligned(p, alignment);
            cr_assert_geq(malloc_usable_size(p), sizes[i]);
            memset(p, 0x11, sizes[i]);
            free(p);
            p = aligned_alloc(alignment, sizes[i]);
            expect_aligned(p, alignment);
            free(p);
        }
    }
}

Test(api, statistics_report_the_engine, .init = cr_redirect_stderr)
{
    void *p = malloc(1000);
    struct mallinfo2 info = mallinfo2();
    cr_assert_geq(info.uordblks, 1024);
    malloc_stats();
    free(p);
    fflush(stderr);
    cr_assert_stderr_neq_str("");
}

/* ---- The sbrk heap under strace ------------------------------------------------------------ */

typedef struct {
    int moves;           /* brk calls that moved the break */
    int other_steps;     /* of those, moves by anything but one page */
    unsigned long first; /* the first move's step */
} brk_trace_t;

/* Runs buddy_workload (two threads, mostly small blocks) under strace -f -e trace=brk with the
 * library preloaded (and strace_options, e.g. "-E NAME=value"), and measures each move of the
 * break against the break before it. */
static brk_trace_t trace_brk_of_workload(const char *strace_options)
{
    char dir[4096], log[] = "/tmp/heapkit-buddy-brk-XXXXXX", command[9000];
    ssize_t n = readlink("/proc/self/exe", dir, sizeof dir - 1);
    cr_assert_gt(n, 0);
    dir[n] = '\0';
    strrchr(dir, '/')[1] = '\0';
    int fd = mkstemp(log);
    cr_assert_geq(fd, 0);
    close(fd);
    snprintf(command, sizeof command,
             "strace -f -e trace=brk -o %s -E LD_PRELOAD=%s %s %s../examples/buddy_workload 2 "
             "20000 >/dev/null",
             log, HK_BUDDY_LIB, strace_options, dir);
    cr_assert_eq(system(command), 0, "failed: %s", command);
    FILE *f = fopen(log, "r");
    cr_assert_not_null(f);
    brk_trace_t trace = {0};
    unsigned long known = 0;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        char *call = strstr(line, "brk(");
        unsigned long asked, result;
        cr_assert_null(strstr(line, "unfinished"), "a brk call was interrupted: %s", line);
        if (!call) continue;
        if (strncmp(call, "brk(NULL)", 9) == 0) {
            char *eq = strrchr(call, '=');
            if (eq) known = strtoul(eq + 1, NULL, 16);
        } else if (sscanf(call, "brk(%lx) = %lx", &asked, &result) == 2 && asked == result) {
            unsigned long step = result - known;
            if (trace.moves++ == 0) trace.first = step;
            if (step != (unsigned long)sysconf(_SC_PAGESIZE)) trace.other_steps++;
            known = result;
        }
    }
    fclose(f);
    unlink(log);
    return trace;
}

Test(sbrk, strace_shows_the_heap_growing_one_page_at_a_time)
{
    brk_trace_t trace = trace_brk_of_workload("");
    cr_assert_geq(trace.moves, 50, "the heap grew %d times", trace.moves);
    cr_assert_eq(trace.other_steps, 0, "%d of %d moves were not one page (the first: %lu bytes)",
                 trace.other_steps, trace.moves, trace.first);
}

Test(sbrk, with_chunks_asked_for_the_break_never_moves)
{
    brk_trace_t trace = trace_brk_of_workload("-E HEAPKIT_BUDDY_CHUNKS=1");
    cr_assert_eq(trace.moves, 0);
}

/* ---- Misuse --------------------------------------------------------------------------------- */

Test(misuse, double_free_aborts, .signal = SIGABRT)
{
    void *volatile p = malloc(32);
    free(p);
    free(p);
}

Test(misuse, double_free_of_a_large_block_aborts, .signal = SIGABRT)
{
    void *volatile p = malloc(8 * MiB);
    free(p);
    free(p);
}

Test(misuse, free_of_a_stack_pointer_aborts, .signal = SIGABRT)
{
    char local[64];
    void *volatile p = local;
    free(p);
}

Test(misuse, free_of_a_pointer_into_a_block_aborts, .signal = SIGABRT)
{
    char *block = malloc(256);
    void *volatile p = block + 48;
    free(p);
}

Test(misuse, realloc_of_a_freed_block_aborts, .signal = SIGABRT)
{
    void *volatile p = malloc(64);
    free(p);
    p = realloc(p, 128);
}


/* ---- Threaded stress (in the spirit of t-test1) ---------------------------------------------- */

/* Slots shared by all threads: a thread takes a block out of a slot (whoever allocated it),
 * checks its pattern and frees it, or allocates a new one and puts it in. */
enum { STRESS_THREADS = 6, STRESS_SLOTS = 2048 };
static void *volatile stress_slots[STRESS_SLOTS];
static int stress_errors;

typedef struct {
    size_t size;   /* bytes asked for */
    uint32_t seed; /* pattern seed */
} stamp_t;

static unsigned char pattern(uint32_t seed, size_t i)
{
    return (unsigned char)(seed * 31u + i * 7u);
}

static void fill(void *block, size_t size, uint32_t seed)
{
    unsigned char *bytes = block;
    stamp_t stamp = {size, seed};
    if (size >= sizeof stamp) memcpy(bytes, &stamp, sizeof stamp);
    for (size_t i = sizeof stamp; i < size; i++)
        bytes[i] = pattern(seed, i);
}

static bool intact(const void *block, size_t *size_out)
{
    const unsigned char *bytes = block;
    stamp_t stamp;
    memcpy(&stamp, bytes, sizeof stamp);
    *size_out = stamp.size;
    for (size_t i = sizeof stamp; i < stamp.size; i++)
        if (bytes[i] != pattern(stamp.seed, i)) return false;
    return true;
}

static size_t random_size(unsigned *seed)
{
    unsigned r = (unsigned)rand_r(seed);
    /* Mostly small, sometimes up to 64 KiB, like t-test1's distribution. */
    size_t size =
        (r % 8 == 0) ? 1 + (size_t)rand_r(seed) % (64 * KiB) : 1 + (size_t)rand_r(seed) % 512;
    return size < sizeof(stamp_t) ? sizeof(stamp_t) : size;
}

static void *stress(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg * 7919u + 1;
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (long step = 0;; step++) {
        if (step % 1024 == 0) {
            clock_gettime(CLOCK_MONOTONIC, &now);
            if (now.tv_sec - start.tv_sec >= 2) break;
        }
        size_t slot = (size_t)rand_r(&seed) % STRESS_SLOTS;
        void *block = __atomic_exchange_n(&stress_slots[slot], NULL, __ATOMIC_ACQ_REL);
        if (block) {
            size_t size;
            if (!intact(block, &size)) __atomic_fetch_add(&stress_errors, 1, __ATOMIC_RELAXED);
            if (rand_r(&seed) % 4 == 0) {
                /* Resize, check the kept prefix, and put it back. */
                size_t bigger = random_size(&seed);
                unsigned char *moved = realloc(block, bigger);
                size_t dummy;
                stamp_t stamp;
                memcpy(&stamp, moved, sizeof stamp);
                stamp.size = size < bigger ? size : bigger;
                memcpy(moved, &stamp, sizeof stamp);
                if (!intact(moved, &dummy)) __atomic_fetch_add(&stress_errors, 1, __ATOMIC_RELAXED);
                fill(moved, bigger, (uint32_t)rand_r(&seed));
                block = moved;
            } else {
                free(block);
                continue;
            }
        } else {
            size_t size = random_size(&seed);
            block = malloc(size);
            if (!block) {
                __atomic_fetch_add(&stress_errors, 1, __ATOMIC_RELAXED);
                continue;
            }
            fill(block, size, (uint32_t)rand_r(&seed));
        }
        void *old = __atomic_exchange_n(&stress_slots[slot], block, __ATOMIC_ACQ_REL);
        if (old) {
            size_t size;
            if (!intact(old, &size)) __atomic_fetch_add(&stress_errors, 1, __ATOMIC_RELAXED);
            free(old);
        }
    }
    return NULL;
}

Test(threads, random_malloc_free_realloc_across_threads_keeps_every_block_intact, .timeout = 60)
{
    pthread_t threads[STRESS_THREADS];
    for (uintptr_t i = 0; i < STRESS_THREADS; i++)
        pthread_create(&threads[i], NULL, stress, (void *)i);
    for (int i = 0; i < STRESS_THREADS; i++)
        pthread_join(threads[i], NULL);
    cr_assert_eq(stress_errors, 0, "corrupted or missing blocks: %d", stress_errors);
    struct mallinfo2 during = mallinfo2();
    for (size_t i = 0; i < STRESS_SLOTS; i++) {
        size_t size;
        if (!stress_slots[i]) continue;
        cr_assert(intact(stress_slots[i], &size), "slot %zu", i);
        free(stress_slots[i]);
        stress_slots[i] = NULL;
    }
    struct mallinfo2 after = mallinfo2();
    cr_assert_lt(after.uordblks + after.hblkhd, during.uordblks + during.hblkhd);
}
