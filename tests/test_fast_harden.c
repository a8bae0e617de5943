/* The fast engine's checks: the hardened mode (HEAPKIT_HARDEN=1, set before the engine's first
 * call; each test is a process of its own) and what the default mode finds at malloc_trim.
 * Linked directly with ASan and UBSan; memory the mode makes inaccessible faults with SIGSEGV
 * (ASan's own SEGV handler is off in this binary). tests/misuse_cases.h runs the same misuses
 * through the preloaded libraries. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/engine.h"
#include "fast/fast_internal.h"
#include "os/sys.h"

#define KIB ((size_t)1 << 10)
#define CHECK() cr_assert(fast_check(), "fast_check failed")

const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "handle_segv=0:handle_sigbus=0";
}

static void hardened(void)
{
    setenv("HEAPKIT_HARDEN", "1", 1);
}

/* Keeps stores the compiler would otherwise drop before a free. */
static void *volatile sink;

static void fill(void *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        ((uint8_t *)p)[i] = (uint8_t)(seed + i * 7);
}

static void expect_filled(const void *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(((const uint8_t *)p)[i], (uint8_t)(seed + i * 7), "byte %zu of %zu", i, n);
}

/* ---- Sizes, realloc, alignment ---------------------------------------------------------------- */

Test(fast_harden, usable_size_is_exactly_the_size_asked, .init = hardened)
{
    for (size_t n = 1; n <= 3000; n += n < 64 ? 1 : 37) {
        void *p = hk_engine_malloc(n);
        cr_assert_not_null(p);
        cr_assert_eq(hk_engine_usable_size(p, "malloc_usable_size"), n);
        cr_assert(hk_engine_size_matches(p, n, "free_sized"));
        cr_assert(!hk_engine_size_matches(p, n + 1, "free_sized"));
        fill(p, n, (unsigned)n);
        expect_filled(p, n, (unsigned)n);
        hk_engine_free(p, "free");
    }
    void *big = hk_engine_malloc(300 * KIB);
    cr_assert_eq(hk_engine_usable_size(big, "malloc_usable_size"), 300 * KIB);
    hk_engine_free(big, "free");
    CHECK();
}

Test(fast_harden, realloc_keeps_the_bytes_in_place_and_when_it_moves, .init = hardened)
{
    size_t n = 40;
    uint8_t *p = hk_engine_malloc(n);
    fill(p, n, 3);
    /* Smaller and a little larger: in place, the canary rewritten behind the new size. */
    uint8_t *q = hk_engine_realloc(p, 30, "realloc");
    cr_assert_eq(q, p);
    expect_filled(q, 30, 3);
    cr_assert_eq(hk_engine_usable_size(q, "malloc_usable_size"), 30);
    for (size_t size = 30; size < 200 * KIB; size = size * 3 / 2) {
        q = hk_engine_realloc(q, size, "realloc");
        cr_assert_not_null(q);
        cr_assert_eq(hk_engine_usable_size(q, "malloc_usable_size"), size);
        expect_filled(q, 30, 3);
    }
    hk_engine_free(q, "free");
    CHECK();
}

Test(fast_harden, calloc_zeroes_and_aligned_blocks_are_aligned, .init = hardened)
{
    for (size_t n = 1; n < 5000; n = n * 2 + 1) {
        uint8_t *p = hk_engine_calloc(n);
        for (size_t i = 0; i < n; i++)
            cr_assert_eq(p[i], 0);
        hk_engine_free(p, "free");
    }
    for (size_t a = 32; a <= 256 * KIB; a *= 2) {
        void *p = hk_engine_aligned(a, 100);
        cr_assert_not_null(p);
        cr_assert_eq((uintptr_t)p % a, 0, "alignment %zu", a);
        cr_assert_eq(hk_engine_usable_size(p, "malloc_usable_size"), 100);
        fill(p, 100, 9);
        hk_engine_free(p, "free");
    }
    CHECK();
}

/* ---- Canaries ----------------------------------------------------------------------------------- */

Test(fast_harden, one_byte_overflow_is_caught_on_free, .init = hardened, .signal = SIGABRT)
{
    uint8_t *p = hk_engine_malloc(24);
    p[24] = 0;
    sink = p;
    hk_engine_free(p, "free");
}

Test(fast_harden, one_byte_overflow_is_caught_on_realloc, .init = hardened, .signal = SIGABRT)
{
    uint8_t *p = hk_engine_malloc(100);
    p[100] = 'x';
    sink = p;
    hk_engine_realloc(p, 50, "realloc");
}

/* In-place resizes rewrite only what changed: the bytes a shrink gives back become canary again
 * (no false report, and a write there is an overflow), and a growth keeps the canary after the
 * new end. */
Test(fast_harden, in_place_resizes_keep_the_canary_exact, .init = hardened)
{
    uint8_t *p = hk_engine_malloc(2000);
    memset(p, 0, 2000); /* zeros where the canary will be after the shrink */
    uint8_t *q = hk_engine_realloc(p, 1500, "realloc");
    cr_assert_eq(q, p, "a shrink to three quarters stays in place");
    cr_assert_eq(hk_engine_usable_size(q, "malloc_usable_size"), 1500);
    q = hk_engine_realloc(q, 1990, "realloc");
    cr_assert_eq(q, p, "and grows back in place");
    memset(q, 1, 1990);
    q = hk_engine_realloc(q, 1501, "realloc");
    cr_assert_eq(q, p);
    hk_engine_free(q, "free"); /* no report: the canary is whole */
}

Test(fast_harden, a_write_into_the_bytes_a_shrink_gave_back_is_caught, .init = hardened,
     .signal = SIGABRT)
{
    uint8_t *p = hk_engine_malloc(2000);
    uint8_t *q = hk_engine_realloc(p, 1500, "realloc");
    if (q != p) return; /* (moved: nothing to test, and no abort fails the test) */
    q[1500] = 'x';
    sink = q;
    hk_engine_free(q, "free");
}

Test(fast_harden, a_write_past_a_grown_block_is_caught, .init = hardened, .signal = SIGABRT)
{
    uint8_t *p = hk_engine_malloc(1500);
    uint8_t *q = hk_engine_realloc(p, 1520, "realloc"); /* (a 1536-byte block) */
    if (q != p) return;
    q[1520] = 'x';
    sink = q;
    hk_engine_free(q, "free");
}

Test(fast_harden, an_overwritten_size_word_is_caught, .init = hardened, .signal = SIGABRT)
{
    uint8_t *p = hk_engine_malloc(16);
    memset(p, 0, 48); /* the whole 32-byte block and past it */
    sink = p;
    hk_engine_usable_size(p, "malloc_usable_size");
}

Test(fast_harden, a_huge_blocks_canary_is_checked, .init = hardened, .signal = SIGABRT)
{
    uint8_t *p = hk_engine_malloc(256 * KIB);
    p[256 * KIB] = 1;
    sink = p;
    hk_engine_free(p, "free");
}

/* ---- Frees that are not ------------------------------------------------------------------------- */

Test(fast_harden, a_double_free_is_caught_at_once, .init = hardened, .signal = SIGABRT)
{
    void *p = hk_engine_malloc(64);
    hk_engine_free(p, "free");
    hk_engine_free(p, "free");
}

Test(fast_harden, a_pointer_inside_a_block_is_caught_at_once, .init = hardened,
     .signal = SIGABRT)
{
    uint8_t *p = hk_engine_malloc(64);
    hk_engine_free(p + 16, "free");
}

Test(fast_harden, realloc_of_a_freed_block_is_caught, .init = hardened, .signal = SIGABRT)
{
    void *p = hk_engine_malloc(64);
    hk_engine_free(p, "free");
    hk_engine_realloc(p, 100, "realloc");
}

/* ---- Junk and the quarantine -------------------------------------------------------------------- */

Test(fast_harden, freed_blocks_are_junk_and_not_reused_at_once, .init = hardened)
{
    uint8_t *p = hk_engine_malloc(64);
    fill(p, 64, 1);
    hk_engine_free(p, "free");
    for (int i = 0; i < 64; i++)
        cr_assert_eq(p[i], 0xdf, "byte %d of the freed block", i); /* (ASan does not see ours) */
    for (int i = 0; i < 100; i++) {
        void *q = hk_engine_malloc(64);
        cr_assert_neq(q, p, "a freed block came back %d allocations later", i);
        sink = q;
    }
    CHECK();
}

Test(fast_harden, a_write_after_free_is_caught_when_the_block_leaves, .init = hardened,
     .signal = SIGABRT)
{
    uint8_t *p = hk_engine_malloc(64);
    hk_engine_free(p, "free");
    p[40] = 0;
    hk_engine_trim(0); /* empties the quarantine */
}

Test(fast_harden, the_quarantine_is_bounded_and_blocks_come_back, .init = hardened)
{
    /* Far more frees than the quarantine holds: blocks leave it (checked) and are reused. */
    for (int round = 0; round < 20; round++) {
        void *v[400];
        for (int i = 0; i < 400; i++)
            v[i] = hk_engine_malloc((size_t)(16 + (i % 50) * 24));
        for (int i = 0; i < 400; i++)
            hk_engine_free(v[i], "free");
    }
    cr_assert_leq(fast_tls.heap->quarantine.count, QUARANTINE_SLOTS);
    cr_assert_leq(fast_tls.heap->quarantine.bytes, QUARANTINE_BYTES);
    CHECK();
    hk_engine_trim(0);
    cr_assert_eq(fast_tls.heap->quarantine.count, 0);
    CHECK();
}

static void *thread_frees(void *arg)
{
    (void)arg;
    for (int i = 0; i < 1000; i++)
        hk_engine_free(hk_engine_malloc((size_t)(i % 300 + 1)), "free");
    return NULL; /* its quarantine is emptied as it exits */
}

Test(fast_harden, threads_empty_their_quarantine_when_they_exit, .init = hardened)
{
    for (int i = 0; i < 4; i++) {
        pthread_t t;
        cr_assert_eq(pthread_create(&t, NULL, thread_frees, NULL), 0);
        pthread_join(t, NULL);
    }
    hk_engine_trim(0);
    CHECK();
}

/* ---- Free lists ---------------------------------------------------------------------------------- */

Test(fast_harden, fresh_blocks_come_in_a_random_order, .init = hardened)
{
    uintptr_t previous = 0;
    int rising = 0;
    for (int i = 0; i < 60; i++) {
        uintptr_t p = (uintptr_t)hk_engine_malloc(100);
        rising += p > previous;
        previous = p;
    }
    cr_assert_lt(rising, 50, "%d of 60 blocks came after the one before", rising);
}

Test(fast_harden, a_corrupted_free_list_link_is_caught, .init = hardened, .signal = SIGABRT)
{
    uint8_t *p = hk_engine_malloc(200);
    page_t *page = page_of(segment_of(p), p);
    cr_assert_not_null(page->free, "the page has more blocks to hand out");
    page->free->next = (block_t *)(p + 3); /* a link into the middle of a block */
    for (int i = 0; i < 1000; i++)
        sink = hk_engine_malloc(200);
}

/* ---- Guard pages and zero-size blocks ---------------------------------------------------------- */

Test(fast_harden, writing_past_a_huge_block_faults_at_its_guard, .init = hardened,
     .signal = SIGSEGV)
{
    volatile uint8_t *p = hk_engine_malloc(256 * KIB);
    for (size_t i = 256 * KIB;; i++)
        p[i] = 0;
}

Test(fast_harden, a_freed_huge_block_faults, .init = hardened, .signal = SIGSEGV)
{
    volatile uint8_t *p = hk_engine_malloc(1024 * KIB);
    hk_engine_free((void *)p, "free");
    p[512 * KIB] = 1;
}

Test(fast_harden, a_huge_block_reused_after_a_free_is_open_again, .init = hardened)
{
    for (int i = 0; i < 20; i++) {
        uint8_t *p = hk_engine_malloc((size_t)(200 + i * 50) * KIB);
        memset(p, i, (size_t)(200 + i * 50) * KIB);
        hk_engine_free(p, "free");
    }
    CHECK();
}

Test(fast_harden, the_last_page_of_a_segment_faults, .init = hardened, .signal = SIGSEGV)
{
    uint8_t *p = hk_engine_malloc(64);
    segment_t *segment = segment_of(p);
    cr_assert(segment->guarded);
    ((volatile uint8_t *)segment)[SEGMENT_SIZE - 1] = 0;
}

Test(fast_harden, zero_size_blocks_are_distinct, .init = hardened)
{
    void *a = hk_engine_malloc(0), *b = hk_engine_malloc(0);
    cr_assert_not_null(a);
    cr_assert_neq(a, b);
    cr_assert_eq(hk_engine_usable_size(a, "malloc_usable_size"), 0);
    void *c = hk_engine_realloc(a, 10, "realloc");
    cr_assert_eq(hk_engine_usable_size(c, "malloc_usable_size"), 10);
    hk_engine_free(b, "free");
    hk_engine_free(c, "free");
}

Test(fast_harden, reading_a_zero_size_block_faults, .init = hardened, .signal = SIGSEGV)
{
    volatile uint8_t *p = hk_engine_malloc(0);
    sink = (void *)(uintptr_t)p[0];
}

Test(fast_harden, a_zero_size_block_freed_twice_is_caught, .init = hardened, .signal = SIGABRT)
{
    void *p = hk_engine_malloc(0);
    hk_engine_free(p, "free");
    hk_engine_free(p, "free");
}

/* ---- A program's own heaps ---------------------------------------------------------------------- */

Test(fast_harden, own_heaps_work_hardened, .init = hardened)
{
    heap_t *heap = fast_heap_create();
    void *kept[100];
    for (int i = 0; i < 100; i++) {
        kept[i] = fast_heap_malloc(heap, (size_t)(i * 40 + 1), i % 2);
        fill(kept[i], (size_t)(i * 40 + 1), (unsigned)i);
    }
    for (int i = 0; i < 100; i += 2)
        hk_engine_free(kept[i], "free"); /* plain free of a heap's block: no quarantine */
    void *big = fast_heap_malloc(heap, 400 * KIB, false);
    big = fast_heap_realloc(heap, big, 800 * KIB);
    cr_assert_not_null(big);
    for (int i = 1; i < 100; i += 2)
        expect_filled(kept[i], (size_t)(i * 40 + 1), (unsigned)i);
    fast_heap_clear(heap, true);
    CHECK();
}

/* ---- The default mode: what malloc_trim finds ----------------------------------------------------- */

Test(fast_default_checks, a_double_free_is_reported_by_malloc_trim, .signal = SIGABRT)
{
    void *p = hk_engine_malloc(32);
    sink = hk_engine_malloc(32);
    hk_engine_free(p, "free");
    hk_engine_free(p, "free");
    hk_engine_trim(0);
}

Test(fast_default_checks, an_interior_free_is_reported_by_malloc_trim, .signal = SIGABRT)
{
    uint8_t *p = hk_engine_malloc(64);
    hk_engine_free(p + 8, "free");
    hk_engine_trim(0);
}

Test(fast_default_checks, realloc_of_the_block_freed_last_is_reported, .signal = SIGABRT)
{
    sink = hk_engine_malloc(64);
    void *p = hk_engine_malloc(64);
    hk_engine_free(p, "free");
    hk_engine_realloc(p, 10, "realloc");
}

Test(fast_default_checks, trim_of_a_sound_heap_says_nothing)
{
    void *v[500];
    for (int i = 0; i < 500; i++)
        v[i] = hk_engine_malloc((size_t)(i % 700 + 1));
    for (int i = 0; i < 500; i += 3)
        hk_engine_free(v[i], "free");
    hk_engine_trim(0);
    CHECK();
    cr_assert_eq(fast_options.harden, false);
}

/* ---- Blocks handed between threads --------------------------------------------------------------- */

static heap_t *exited_heap;
static void *exited_block;

static void *allocate_one_and_exit(void *arg)
{
    (void)arg;
    exited_block = hk_engine_malloc(128);
    exited_heap = fast_tls.heap;
    return NULL;
}

/* Blocks other threads freed into a thread's full pages wait on its heap's delayed list; when
 * the heap is in the pool by then, malloc_trim frees them. They were checked (and junk-filled)
 * when the program freed them: the engine must not check them again as if freed twice. */
Test(fast_harden, a_pooled_heaps_delayed_blocks_are_freed_once, .init = hardened)
{
    hk_engine_free(hk_engine_malloc(16), "free"); /* this thread's heap, before the other's */
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, allocate_one_and_exit, NULL), 0);
    pthread_join(t, NULL);
    cr_assert_eq(exited_heap->in_use, 0, "the thread's heap is in the pool");
    memset(exited_block, 0xdf, 144); /* as a hardened free leaves it (a 144-byte block) */
    ((block_t *)exited_block)->next = NULL;
    __atomic_store_n(&exited_heap->delayed, (block_t *)exited_block, __ATOMIC_RELEASE);
    hk_engine_trim(0);
    cr_assert_null(__atomic_load_n(&exited_heap->delayed, __ATOMIC_ACQUIRE));
    CHECK();
}

static segment_t *exited_segment;

static void *allocate_free_and_exit(void *arg)
{
    (void)arg;
    void *p = hk_engine_malloc(64);
    exited_segment = segment_of(p);
    hk_engine_free(p, "free");
    return NULL; /* the quarantine lets the block go at exit: the segment empties, is cached */
}

/* A segment a thread left empty is cached; the next one to take it must keep its guard page
 * (and not hand out blocks in it). */
Test(fast_harden, a_cached_segment_keeps_its_guard_page, .init = hardened)
{
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, allocate_free_and_exit, NULL), 0);
    pthread_join(t, NULL);
    void *v[2000];
    bool reused = false;
    for (int i = 0; i < 2000; i++) {
        v[i] = hk_engine_malloc(64 * 1024 / 8); /* fills the segment's pages, the last too */
        segment_t *segment = segment_of(v[i]);
        reused |= segment == exited_segment;
        cr_assert(segment->guarded, "block %d in a segment without its guard page", i);
    }
    cr_assert(reused, "the cached segment was not reused");
    for (int i = 0; i < 2000; i++)
        hk_engine_free(v[i], "free");
    CHECK();
}
