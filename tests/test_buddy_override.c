/* libheapkit-buddy.so as this process's malloc (the binary links it, so every allocation here,
 * Criterion's own included, goes through the buddy engine): API conformance, misuse, fork from
 * a threaded parent, and a threaded random malloc/free/realloc stress with blocks handed
 * between threads. No sanitizer: it would replace malloc itself. */
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

/* Hides a size from the compiler, which otherwise rejects impossible sizes at build time. */
static size_t opaque(size_t x)
{
    volatile size_t v = x;
    return v;
}

/* Hides a pointer, so the compiler does not reason about it after a realloc that (by design,
 * here) failed. */
static void *opaque_ptr(void *p)
{
    void *volatile v = p;
    return v;
}

static void expect_aligned(void *p, size_t alignment)
{
    cr_assert_not_null(p);
    cr_assert_eq((uintptr_t)p % alignment, 0, "%p is not %zu-aligned", p, alignment);
}

/* The C++ operators, called by their ABI names. */
void *_Znwm(size_t);
void _ZdlPv(void *);
void *_ZnwmSt11align_val_t(size_t, size_t);
void _ZdlPvSt11align_val_t(void *, size_t);

/* ---- API conformance ------------------------------------------------------------------------ */

Test(api, malloc_zero_returns_unique_freeable_pointers)
{
    void *a = malloc(0), *b = malloc(0);
    cr_assert_not_null(a);
    cr_assert_not_null(b);
    cr_assert_neq(a, b);
    free(a);
    free(b);
}

Test(api, calloc_overflow_fails_with_enomem)
{
    errno = 0;
    cr_assert_null(calloc(opaque(SIZE_MAX / 2), 3));
    cr_assert_eq(errno, ENOMEM);
    unsigned char *p = calloc(100, 30);
    for (int i = 0; i < 3000; i++)
        cr_assert_eq(p[i], 0);
    free(p);
}

Test(api, reallocarray_overflow_fails_and_keeps_the_block)
{
    char *p = malloc(10);
    strcpy(p, "kept");
    errno = 0;
    cr_assert_null(reallocarray(opaque_ptr(p), opaque(SIZE_MAX / 4), 8));
    cr_assert_eq(errno, ENOMEM);
    cr_assert_str_eq(p, "kept");
    p = reallocarray(p, 100, 40);
    cr_assert_str_eq(p, "kept");
    free(p);
}

Test(api, posix_memalign_rejects_bad_alignments_and_sizes)
{
    void *p = (void *)1;
    cr_assert_eq(posix_memalign(&p, 3, 10), EINVAL);
    cr_assert_eq(posix_memalign(&p, 4, 10), EINVAL, "not a multiple of sizeof(void *)");
    cr_assert_eq(posix_memalign(&p, 0, 10), EINVAL);
    cr_assert_eq(posix_memalign(&p, 64, opaque(SIZE_MAX - 10)), ENOMEM);
    cr_assert_eq(p, (void *)1, "the output is untouched on failure");
}

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

Test(api, aligned_alloc_rejects_non_power_of_two)
{
    errno = 0;
    cr_assert_null(aligned_alloc(opaque(24), 48));
    cr_assert_eq(errno, EINVAL);
    void *p = aligned_alloc(4096, 4096);
    expect_aligned(p, 4096);
    free(p);
}

Test(api, memalign_valloc_and_pvalloc_align)
{
    void *p = memalign(64, 100);
    expect_aligned(p, 64);
    free(p);
    p = memalign(opaque(48), 100); /* rounded up to 64, as glibc does */
    expect_aligned(p, 64);
    free(p);
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    p = valloc(10);
    expect_aligned(p, page);
    free(p);
    p = pvalloc(10);
    expect_aligned(p, page);
    cr_assert_geq(malloc_usable_size(p), page, "pvalloc rounds the size up to a page");
    free(p);
}

Test(api, malloc_usable_size_covers_the_request)
{
    for (size_t size = 1; size < 300 * KiB; size = size * 3 / 2 + 1) {
        unsigned char *p = malloc(size);
        size_t usable = malloc_usable_size(p);
        cr_assert_geq(usable, size);
        memset(p, 0x77, usable);
        free(p);
    }
    cr_assert_eq(malloc_usable_size(NULL), 0);
}

Test(api, free_preserves_errno)
{
    void *small = malloc(10), *large = malloc(5 * MiB);
    errno = 4321;
    free(small);
    free(large);
    free(NULL);
    cr_assert_eq(errno, 4321);
}

Test(api, near_size_max_requests_fail_with_enomem)
{
    static const size_t sizes[] = {SIZE_MAX, SIZE_MAX - 1, SIZE_MAX - 4096, SIZE_MAX / 2 + 1,
                                   (size_t)PTRDIFF_MAX + 1};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        errno = 0;
        cr_assert_null(malloc(opaque(sizes[i])));
        cr_assert_eq(errno, ENOMEM);
        errno = 0;
        cr_assert_null(calloc(1, opaque(sizes[i])));
        cr_assert_eq(errno, ENOMEM);
        errno = 0;
        cr_assert_null(aligned_alloc(64, opaque(sizes[i])));
        cr_assert_eq(errno, ENOMEM);
        void *p = malloc(16);
        errno = 0;
        cr_assert_null(realloc(opaque_ptr(p), opaque(sizes[i])));
        cr_assert_eq(errno, ENOMEM);
        free(p);
    }
}

Test(api, realloc_keeps_contents_across_every_kind_of_block)
{
    static const size_t steps[] = {1, 20, 100, 2032, 2033, 5000, 300000, 3000, 50, 8};
    unsigned char *p = NULL;
    size_t filled = 0;
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        p = realloc(p, steps[i]);
        cr_assert_not_null(p);
        size_t keep = filled < steps[i] ? filled : steps[i];
        for (size_t j = 0; j < keep; j++)
            cr_assert_eq(p[j], (unsigned char)j, "step %zu", i);
        for (size_t j = 0; j < steps[i]; j++)
            p[j] = (unsigned char)j;
        filled = steps[i];
    }
    free(p);
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

Test(api, cxx_operators_use_the_buddy_heap)
{
    void *p = _Znwm(100);
    cr_assert_geq(malloc_usable_size(p), 100);
    _ZdlPv(p);
    p = _ZnwmSt11align_val_t(300, 4096);
    expect_aligned(p, 4096);
    _ZdlPvSt11align_val_t(p, 4096);
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

/* ---- fork ----------------------------------------------------------------------------------- */

static volatile int churn_stop;

static void *churn(void *arg)
{
    (void)arg;
    unsigned seed = 1;
    while (!__atomic_load_n(&churn_stop, __ATOMIC_RELAXED)) {
        void *p = malloc(rand_r(&seed) % 4000);
        free(p);
    }
    return NULL;
}

Test(fork, child_of_a_threaded_parent_can_allocate)
{
    enum { THREADS = 3 };
    pthread_t threads[THREADS];
    for (int i = 0; i < THREADS; i++)
        pthread_create(&threads[i], NULL, churn, NULL);
    for (int round = 0; round < 20; round++) {
        pid_t pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
            void *blocks[500];
            for (int i = 0; i < 500; i++)
                blocks[i] = malloc((size_t)i * 37);
            for (int i = 0; i < 500; i++)
                free(blocks[i]);
            void *big = malloc(MiB);
            free(big);
            _exit(0);
        }
        int status;
        cr_assert_eq(waitpid(pid, &status, 0), pid);
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child %d failed", round);
    }
    __atomic_store_n(&churn_stop, 1, __ATOMIC_RELAXED);
    for (int i = 0; i < THREADS; i++)
        pthread_join(threads[i], NULL);
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

static void *exiting_thread(void *arg)
{
    void **out = arg;
    for (int i = 0; i < 200; i++)
        out[i] = malloc((size_t)i * 13 + 1);
    return NULL;
}

Test(threads, blocks_of_exited_threads_are_freed_and_their_memory_reused)
{
    static void *blocks[200];
    for (int round = 0; round < 20; round++) {
        pthread_t t;
        pthread_create(&t, NULL, exiting_thread, blocks);
        pthread_join(t, NULL);
        for (int i = 0; i < 200; i++) {
            memset(blocks[i], 1, (size_t)i * 13 + 1);
            free(blocks[i]);
        }
    }
    struct mallinfo2 info = mallinfo2();
    cr_assert_lt(info.arena, 64 * MiB, "twenty short-lived threads did not each keep a heap");
}
