/* The fast engine through its contract (hk_engine_*), linked directly (not as the process's
 * malloc, so this suite runs under ASan and UBSan): size classes, alignment, cross-thread
 * frees, abandonment and adoption, page retirement and purging, trim, the huge cache,
 * calloc/realloc, checked-mode misuse. fast_check() runs after each step. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fast/fast_internal.h"
#include "core/engine.h"
#include "os/sys.h"

static uint64_t heap_stat(int which)
{
    uint64_t h[FAST_HEAP_STAT_COUNT], g[FAST_GLOBAL_STAT_COUNT];
    fast_stats_snapshot(h, g);
    return h[which];
}

static uint64_t global_stat(int which)
{
    uint64_t h[FAST_HEAP_STAT_COUNT], g[FAST_GLOBAL_STAT_COUNT];
    fast_stats_snapshot(h, g);
    return g[which];
}

#define CHECK() cr_assert(fast_check(), "fast_check failed")

Test(fast_engine, every_size_class_round_trips_with_bounded_waste)
{
    for (size_t size = 0; size <= MEDIUM_BLOCK_MAX; size += size < 2048 ? 1 : size / 64) {
        unsigned char *p = hk_engine_malloc(size);
        cr_assert_not_null(p, "size %zu", size);
        size_t usable = hk_engine_usable_size(p, "test");
        cr_assert_geq(usable, size);
        if (size > 128) cr_assert_leq(usable * 8, size * 9, "size %zu usable %zu", size, usable);
        memset(p, 0xab, usable);
        hk_engine_free(p, "test");
    }
    for (unsigned c = 1; c < CLASS_COUNT; c++)
        cr_assert_eq(size_class_of(class_block_size(c)), c);
    CHECK();
}

Test(fast_engine, blocks_are_16_byte_aligned_for_sizes_up_to_4096)
{
    void *kept[4097];
    for (size_t size = 0; size <= 4096; size++) {
        kept[size] = hk_engine_malloc(size);
        cr_assert_eq((uintptr_t)kept[size] % 16, 0, "size %zu", size);
    }
    CHECK();
    for (size_t size = 0; size <= 4096; size++)
        hk_engine_free(kept[size], "test");
    CHECK();
}

Test(fast_engine, alignments_from_16_bytes_to_64_mib_are_honoured)
{
    for (size_t align = 16; align <= ((size_t)64 << 20); align <<= 1) {
        size_t sizes[] = {0, 1, align / 2, align, align + 1, 3000};
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            unsigned char *p = hk_engine_aligned(align, sizes[i]);
            cr_assert_not_null(p);
            cr_assert_eq((uintptr_t)p % align, 0, "align %zu size %zu -> %p", align, sizes[i], p);
            cr_assert_geq(hk_engine_usable_size(p, "test"), sizes[i]);
            memset(p, 1, sizes[i]);
            hk_engine_free(p, "test");
        }
        CHECK();
    }
}

Test(fast_engine, calloc_zeroes_reused_and_fresh_blocks)
{
    for (size_t size = 1; size <= 300000; size = size * 3 + 1) {
        unsigned char *p = hk_engine_malloc(size);
        memset(p, 0xff, size);
        hk_engine_free(p, "test");
        unsigned char *q = hk_engine_calloc(size);
        for (size_t i = 0; i < size; i++)
            cr_assert_eq(q[i], 0, "size %zu byte %zu", size, i);
        hk_engine_free(q, "test");
    }
    CHECK();
}

Test(fast_engine, realloc_keeps_contents_while_growing_and_shrinking)
{
    unsigned char *p = hk_engine_malloc(10);
    for (int i = 0; i < 10; i++)
        p[i] = (unsigned char)i;
    size_t size = 10;
    while (size < ((size_t)8 << 20)) {
        size_t next = size * 3;
        p = hk_engine_realloc(p, next, "realloc");
        cr_assert_not_null(p);
        for (int i = 0; i < 10; i++)
            cr_assert_eq(p[i], i);
        size = next;
    }
    void *same = hk_engine_realloc(p, size - 16, "realloc");
    cr_assert_eq(same, p, "a slight shrink stays in place");
    p = hk_engine_realloc(p, 20, "realloc");
    for (int i = 0; i < 10; i++)
        cr_assert_eq(p[i], i);
    hk_engine_free(p, "free");
    CHECK();
}

Test(fast_engine, calloc_on_purged_pages_is_zero_without_stale_data)
{
    enum { N = 3000 };
    static unsigned char *blocks[N];
    for (int i = 0; i < N; i++) {
        blocks[i] = hk_engine_malloc(500);
        memset(blocks[i], 0xff, 500);
    }
    for (int i = 0; i < N; i++)
        hk_engine_free(blocks[i], "free");
    cr_assert(hk_engine_trim(0), "the emptied pages are purged");
    for (int i = 0; i < N; i++) {
        blocks[i] = hk_engine_calloc(500);
        for (int j = 0; j < 500; j++)
            cr_assert_eq(blocks[i][j], 0, "block %d byte %d", i, j);
    }
    CHECK();
    for (int i = 0; i < N; i++)
        hk_engine_free(blocks[i], "free");
}

Test(fast_engine, a_local_free_into_a_full_page_makes_its_block_reusable)
{
    enum { N = 200 }; /* 4 KiB blocks: 16 per page, so the first pages fill up */
    static void *blocks[N];
    for (int i = 0; i < N; i++)
        blocks[i] = hk_engine_malloc(4096);
    CHECK();
    uint64_t pages = heap_stat(STAT_pages_started);
    hk_engine_free(blocks[3], "free"); /* blocks[3] lives in a full page */
    CHECK();
    void *again = NULL;
    for (int i = 0; i < 16 && again != blocks[3]; i++)
        again = hk_engine_malloc(4096);
    cr_assert_eq(again, blocks[3], "the freed block of the full page was not reused");
    cr_assert_leq(heap_stat(STAT_pages_started), pages + 1);
    CHECK();
}

/* ---- Threads ------------------------------------------------------------------------------- */

#define CROSS_COUNT 5000
static void *cross_blocks[CROSS_COUNT];

static void *free_all_blocks(void *arg)
{
    (void)arg;
    for (int i = 0; i < CROSS_COUNT; i++)
        hk_engine_free(cross_blocks[i], "free");
    return NULL;
}

Test(fast_engine, cross_thread_frees_are_collected_and_reused)
{
    for (int i = 0; i < CROSS_COUNT; i++)
        cross_blocks[i] = hk_engine_malloc(48);
    uint64_t pages_before = heap_stat(STAT_pages_started);
    pthread_t t;
    pthread_create(&t, NULL, free_all_blocks, NULL);
    pthread_join(t, NULL);
    cr_assert_geq(heap_stat(STAT_remote_frees) + global_stat(STAT_heapless_frees), CROSS_COUNT);
    CHECK();
    uintptr_t lo = UINTPTR_MAX, hi = 0;
    for (int i = 0; i < CROSS_COUNT; i++) {
        uintptr_t a = (uintptr_t)cross_blocks[i];
        lo = a < lo ? a : lo;
        hi = a > hi ? a : hi;
    }
    /* The current page's not-yet-carved blocks come first, then the collected ones. */
    int reused = 0;
    for (int i = 0; i < CROSS_COUNT; i++) {
        uintptr_t a = (uintptr_t)hk_engine_malloc(48);
        reused += a >= lo && a <= hi;
    }
    cr_assert_geq(reused, CROSS_COUNT / 2, "only %d remotely freed blocks reused", reused);
    cr_assert_eq(heap_stat(STAT_pages_started), pages_before, "no new page was needed");
    CHECK();
}

#define KEPT_COUNT 1000
static void *kept_blocks[KEPT_COUNT];

static void *allocate_and_exit(void *arg)
{
    (void)arg;
    for (int i = 0; i < KEPT_COUNT; i++)
        kept_blocks[i] = hk_engine_malloc(100 + (size_t)i % 50);
    return NULL;
}

static void *allocate_some(void *arg)
{
    (void)arg;
    void *p = hk_engine_malloc(5000);
    cr_assert(fast_check());
    hk_engine_free(p, "free");
    return NULL;
}

Test(fast_engine, exited_thread_segment_is_abandoned_then_adopted)
{
    pthread_t t;
    pthread_create(&t, NULL, allocate_and_exit, NULL);
    pthread_join(t, NULL);
    cr_assert_eq(global_stat(STAT_threads_exited), 1);
    cr_assert_geq(global_stat(STAT_segments_abandoned), 1);
    pthread_create(&t, NULL, allocate_some, NULL);
    pthread_join(t, NULL);
    cr_assert_geq(global_stat(STAT_segments_adopted), 1);
    /* The blocks of the dead thread are still valid and can be freed from here. */
    for (int i = 0; i < KEPT_COUNT; i++)
        hk_engine_free(kept_blocks[i], "free");
    CHECK();
}

static void *free_all_and_exit(void *arg)
{
    void **blocks = arg;
    hk_engine_free(hk_engine_malloc(16), "free"); /* a thread with a heap of its own */
    for (int i = 0; blocks[i]; i++) hk_engine_free(blocks[i], "free");
    return NULL;
}

Test(fast_engine, remote_frees_are_batched_and_a_full_page_notifies_its_owner)
{
    /* Fill one page of 64 B blocks (it goes to the full queue) and start a second. */
    enum { PER_PAGE = 65536 / 64 };
    static void *blocks[PER_PAGE + 16];
    int n = 0;
    while (heap_stat(STAT_pages_started) < 2) blocks[n++] = hk_engine_malloc(64);
    cr_assert_geq(n, PER_PAGE / 2); /* page 0 shares its space with the segment header */
    /* Another thread frees ten blocks of the full page and the one block of the new page. */
    void *theirs[12] = {0};
    for (int i = 0; i < 10; i++) theirs[i] = blocks[i];
    theirs[10] = blocks[n - 1];
    pthread_t t;
    pthread_create(&t, NULL, free_all_and_exit, theirs);
    pthread_join(t, NULL);
    cr_assert_eq(heap_stat(STAT_remote_frees), 11);
    cr_assert_eq(heap_stat(STAT_remote_batches), 2, "one hand-over per page");
    /* The full page's blocks went to this heap's delayed list; collection frees them, and the
     * page leaves the full queue. */
    page_t *full = page_of(segment_of(blocks[0]), blocks[0]);
    cr_assert(full->in_full);
    cr_assert_not_null(fast_tls.heap->delayed, "the full page's blocks were handed to its owner");
    fast_collect(false);
    cr_assert_eq(heap_stat(STAT_delayed_frees), 10);
    cr_assert(!full->in_full, "the page left the full queue");
    CHECK();
    for (int i = 10; i < n - 1; i++) hk_engine_free(blocks[i], "free");
    CHECK();
}

Test(fast_engine, an_idle_empty_current_page_is_retired_after_two_checks)
{
    setenv("HEAPKIT_PURGE_DELAY_MS", "5", 1);
    void *blocks[100];
    for (int i = 0; i < 100; i++) blocks[i] = hk_engine_malloc(48);
    for (int i = 0; i < 100; i++) hk_engine_free(blocks[i], "free");
    cr_assert_eq(heap_stat(STAT_pages_retired), 0, "the current page stays when it empties");
    /* Other size classes keep the slow path (and its clock) running. */
    size_t sizes[] = {3000, 5000, 7000};
    for (int i = 0; i < 3 && heap_stat(STAT_pages_retired) == 0; i++) {
        usleep(8 * 1000);
        hk_engine_free(hk_engine_malloc(sizes[i]), "free");
    }
    cr_assert_geq(heap_stat(STAT_pages_retired), 1, "an idle empty current page is retired");
    CHECK();
}

static void *allocate_one_and_exit(void *arg)
{
    *(void **)arg = hk_engine_malloc(128);
    return NULL;
}

Test(fast_engine, a_new_thread_allocates_from_a_dead_threads_partly_used_page)
{
    /* Short-lived threads that each leave one object behind must not start a page each: the
     * next thread adopts the dead one's segment and allocates from its page. */
    void *left[8];
    for (int i = 0; i < 8; i++) {
        pthread_t t;
        pthread_create(&t, NULL, allocate_one_and_exit, &left[i]);
        pthread_join(t, NULL);
    }
    cr_assert_eq(heap_stat(STAT_pages_started), 1, "%llu pages started for 8 threads",
                 (unsigned long long)heap_stat(STAT_pages_started));
    for (int i = 1; i < 8; i++)
        cr_assert_eq((uintptr_t)left[i] >> SMALL_PAGE_SHIFT, (uintptr_t)left[0] >> SMALL_PAGE_SHIFT,
                     "block %d on another page", i);
    cr_assert_geq(global_stat(STAT_segments_adopted), 7);
    void *mine = hk_engine_malloc(128); /* this thread adopts the segment too */
    cr_assert_eq((uintptr_t)mine >> SMALL_PAGE_SHIFT, (uintptr_t)left[0] >> SMALL_PAGE_SHIFT);
    CHECK();
    for (int i = 0; i < 8; i++) hk_engine_free(left[i], "free");
    hk_engine_free(mine, "free");
    CHECK();
}

static void *allocate_only(void *arg)
{
    (void)arg;
    for (int i = 0; i < KEPT_COUNT; i++)
        kept_blocks[i] = hk_engine_malloc(64);
    return NULL;
}

Test(fast_engine, freeing_a_dead_threads_blocks_adopts_and_releases_its_segment)
{
    void *mine = hk_engine_malloc(16); /* this thread has a heap */
    pthread_t t;
    pthread_create(&t, NULL, allocate_only, NULL);
    pthread_join(t, NULL);
    cr_assert_eq(global_stat(STAT_segments_abandoned), 1);
    for (int i = 0; i < KEPT_COUNT; i++)
        hk_engine_free(kept_blocks[i], "free");
    cr_assert_eq(global_stat(STAT_segments_adopted), 1, "the first free adopted the segment");
    /* Left: this thread's page. The adopted page was the current page of its class only
     * because it was adopted (this thread never allocated 64 B): it is retired when it empties,
     * which leaves its segment empty (kept, or cached for the next thread). */
    cr_assert_eq(global_stat(STAT_page_bytes_in_use), (uint64_t)1 << SMALL_PAGE_SHIFT);
    cr_assert_eq(segment_of(kept_blocks[0])->used_pages, 0);
    CHECK();
    hk_engine_free(mine, "free");
    cr_assert(hk_engine_trim(0));
    cr_assert_eq(global_stat(STAT_page_bytes_in_use), 0);
    cr_assert_eq(global_stat(STAT_segment_bytes), 0, "trim unmapped every empty segment");
    CHECK();
}

static void *lent_blocks[8];
static pthread_barrier_t lent_freed;

static void *allocate_lend_and_wait(void *arg)
{
    (void)arg;
    for (int i = 0; i < 8; i++)
        lent_blocks[i] = hk_engine_malloc(200);
    pthread_barrier_wait(&lent_freed); /* the blocks are out */
    pthread_barrier_wait(&lent_freed); /* the other thread freed all but the last */
    return NULL;
}

Test(fast_engine, adopting_a_segment_frees_the_blocks_batched_for_it)
{
    /* This thread frees seven blocks of a live thread (batched here, still counted as used on
     * their page); the thread exits; the free of the eighth adopts its segment, and the seven
     * must be freed with it, or the page could never empty in a thread that only frees. */
    void *mine = hk_engine_malloc(16);
    pthread_barrier_init(&lent_freed, NULL, 2);
    pthread_t t;
    pthread_create(&t, NULL, allocate_lend_and_wait, NULL);
    pthread_barrier_wait(&lent_freed);
    for (int i = 0; i < 7; i++)
        hk_engine_free(lent_blocks[i], "free");
    cr_assert_eq(heap_stat(STAT_remote_frees), 7);
    pthread_barrier_wait(&lent_freed);
    pthread_join(t, NULL);
    pthread_barrier_destroy(&lent_freed);
    page_t *page = page_of(segment_of(lent_blocks[7]), lent_blocks[7]);
    cr_assert_eq(global_stat(STAT_segments_abandoned), 1);
    hk_engine_free(lent_blocks[7], "free");
    cr_assert_eq(global_stat(STAT_segments_adopted), 1, "the free adopted the segment");
    cr_assert_eq(page->used, 0, "%u blocks still counted on the page", page->used);
    CHECK();
    hk_engine_free(mine, "free");
    CHECK();
}

#define CHURN_OBJECTS 200
#define CHURN_KEPT    16

struct churn_task {
    uint64_t seed;
    void *kept[CHURN_KEPT];
};

static void *allocate_keep_some_and_exit(void *arg)
{
    struct churn_task *task = arg;
    void *obj[CHURN_OBJECTS];
    for (int i = 0; i < CHURN_OBJECTS; i++) {
        task->seed = task->seed * 6364136223846793005ull + 1442695040888963407ull;
        obj[i] = hk_engine_malloc(16 + (size_t)(task->seed >> 33) % 496);
        memset(obj[i], i, 16);
    }
    for (int i = 0; i < CHURN_OBJECTS; i++) {
        if (i < CHURN_KEPT)
            task->kept[i] = obj[i];
        else
            hk_engine_free(obj[i], "free");
    }
    return NULL;
}

Test(fast_engine, waves_of_short_lived_threads_reuse_a_few_segments_and_purge_little)
{
    /* The thread_churn workload: waves of two threads each allocate 200 small objects, free
     * most and leave 16 to this thread, which joins them and frees those (adopting their
     * segments). The segments must circulate (worker, this thread, the cache, the next worker)
     * with their pages still committed: few mapped, and few pages purged under the workers.
     * (A long purge delay, so that a slow machine does not purge on time alone.) */
    setenv("HEAPKIT_PURGE_DELAY_MS", "1000", 1);
    void *mine = hk_engine_malloc(16); /* this thread has a heap, as a program's main has */
    static struct churn_task task[2];
    for (int wave = 0; wave < 200; wave++) {
        pthread_t t[2];
        for (int i = 0; i < 2; i++) {
            task[i].seed = (uint64_t)wave * 7919 + (uint64_t)i + 1;
            pthread_create(&t[i], NULL, allocate_keep_some_and_exit, &task[i]);
        }
        for (int i = 0; i < 2; i++) {
            pthread_join(t[i], NULL);
            for (int k = 0; k < CHURN_KEPT; k++) hk_engine_free(task[i].kept[k], "free");
        }
    }
    CHECK();
    /* (Before adoption handed over this thread's batched frees and retired the empty pages it
     * adopted: 8-12 segments, and 65-200 pages purged at once as too many free pages waited.) */
    cr_assert_leq(global_stat(STAT_segments_mapped), 6, "%llu segments mapped for 400 threads",
                  (unsigned long long)global_stat(STAT_segments_mapped));
    cr_assert_leq(heap_stat(STAT_pages_purged), 32, "%llu pages purged for 400 threads",
                  (unsigned long long)heap_stat(STAT_pages_purged));
    hk_engine_free(mine, "free");
    CHECK();
}

#define STRESS_THREADS 4
#define STRESS_SLOTS   512
static void *stress_slots[STRESS_SLOTS];

static void *stress_worker(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg;
    for (int i = 0; i < 40000; i++) {
        seed = seed * 1103515245u + 12345u;
        unsigned slot = (seed >> 8) % STRESS_SLOTS;
        size_t size = (seed >> 20) % 3000;
        if ((seed & 0xff) == 7) size = 200000;
        void *fresh = hk_engine_malloc(size);
        cr_assert_not_null(fresh);
        memset(fresh, (int)slot, size < 64 ? size : 64);
        void *old = __atomic_exchange_n(&stress_slots[slot], fresh, __ATOMIC_ACQ_REL);
        if (old) hk_engine_free(old, "free");
    }
    cr_assert(fast_check());
    return NULL;
}

Test(fast_engine, threads_allocating_and_freeing_each_others_blocks_stay_consistent)
{
    pthread_t t[STRESS_THREADS];
    for (uintptr_t i = 0; i < STRESS_THREADS; i++)
        pthread_create(&t[i], NULL, stress_worker, (void *)(i + 1));
    for (int i = 0; i < STRESS_THREADS; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < STRESS_SLOTS; i++)
        if (stress_slots[i]) hk_engine_free(stress_slots[i], "free");
    cr_assert(hk_engine_trim(0));
    CHECK();
}

static volatile int churn_stop;

static void *churn_until_stopped(void *arg)
{
    (void)arg;
    while (!churn_stop) {
        void *p = hk_engine_malloc(300000); /* huge path: takes the huge lock */
        void *q = hk_engine_malloc(40);
        hk_engine_free(p, "free");
        hk_engine_free(q, "free");
    }
    return NULL;
}

Test(fast_engine, a_child_forked_while_threads_allocate_can_allocate_and_trim)
{
    void *parent_block = hk_engine_malloc(100);
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, churn_until_stopped, NULL);
    for (int round = 0; round < 20; round++) {
        pid_t pid = fork();
        if (pid == 0) {
            void *blocks[1000];
            for (int i = 0; i < 1000; i++)
                blocks[i] = hk_engine_malloc((size_t)i * 7 + 1);
            void *big = hk_engine_malloc(5000000);
            for (int i = 0; i < 1000; i++)
                hk_engine_free(blocks[i], "free");
            hk_engine_free(big, "free");
            hk_engine_free(parent_block, "free");
            hk_engine_trim(0);
            _exit(fast_check() ? 0 : 1);
        }
        int status = 0;
        waitpid(pid, &status, 0);
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child %d failed", round);
    }
    churn_stop = 1;
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    hk_engine_free(parent_block, "free");
    CHECK();
}

/* ---- Returning memory ---------------------------------------------------------------------- */

Test(fast_engine, empty_pages_are_retired_and_trim_purges_them)
{
    enum { N = 20000 };
    static void *blocks[N];
    for (int i = 0; i < N; i++)
        blocks[i] = hk_engine_malloc(64);
    for (int i = 0; i < N; i++)
        hk_engine_free(blocks[i], "free");
    CHECK();
    cr_assert_gt(heap_stat(STAT_pages_retired), 0);
    sys_counters_t before, after;
    sys_counters(&before);
    cr_assert(hk_engine_trim(0));
    sys_counters(&after);
    cr_assert_gt(after.madvise + after.munmap, before.madvise + before.munmap);
    cr_assert_gt(heap_stat(STAT_pages_purged), 0);
    CHECK();
}

Test(fast_engine, free_pages_are_purged_after_the_delay)
{
    setenv("HEAPKIT_PURGE_DELAY_MS", "0", 1);
    enum { N = 5000 };
    static void *blocks[N];
    for (int i = 0; i < N; i++)
        blocks[i] = hk_engine_malloc(256);
    sys_counters_t before, after;
    sys_counters(&before);
    for (int i = 0; i < N; i++)
        hk_engine_free(blocks[i], "free");
    sys_counters(&after);
    cr_assert_gt(after.madvise, before.madvise, "retired pages purged without a trim");
    CHECK();
}

Test(fast_engine, huge_block_is_reused_from_the_cache_without_mmap)
{
    size_t size = (size_t)8 << 20;
    void *p = hk_engine_malloc(size);
    memset(p, 1, size);
    hk_engine_free(p, "free");
    sys_counters_reset();
    void *q = hk_engine_malloc(size);
    sys_counters_t c;
    sys_counters(&c);
    cr_assert_eq(c.mmap, 0, "second huge malloc mapped memory");
    cr_assert_eq(global_stat(STAT_huge_cache_hits), 1);
    hk_engine_free(q, "free");
    cr_assert(hk_engine_trim(0), "trim unmaps the cached huge block");
    cr_assert_eq(global_stat(STAT_huge_cache_bytes), 0);
}

Test(fast_engine, a_growing_huge_block_moves_once_then_grows_in_place)
{
    /* A medium block that outgrows medium sizes moves into a huge mapping with room to double;
     * from then on it grows (and shrinks) without moving or mapping, and its usable size stays
     * the page-rounded request, not the mapping. */
    size_t size = 100 * 1024;
    unsigned char *p = hk_engine_malloc(size);
    memset(p, 7, size);
    size = 200 * 1024;
    p = hk_engine_realloc(p, size, "realloc");
    cr_assert_not_null(p);
    memset(p + 100 * 1024, 7, 100 * 1024);
    uintptr_t moved_to = (uintptr_t)p;
    sys_counters_reset();
    for (size = 200 * 1024; size <= 2 * 1024 * 1024; size += 40000) {
        p = hk_engine_realloc(p, size, "realloc");
        cr_assert_eq((uintptr_t)p, moved_to, "realloc to %zu moved the block", size);
        size_t usable = hk_engine_usable_size(p, "malloc_usable_size");
        cr_assert(usable >= size && usable < size + 2 * sys_page_size(), "usable %zu for %zu",
                  usable, size);
    }
    sys_counters_t c;
    sys_counters(&c);
    cr_assert_eq(c.mmap, 0, "in-place growth maps nothing");
    for (size_t i = 0; i < 200 * 1024; i++) cr_assert_eq(p[i], 7, "byte %zu lost", i);
    p = hk_engine_realloc(p, 300 * 1024, "realloc");
    cr_assert_eq((uintptr_t)p, moved_to, "shrinking a huge block stays in place");
    hk_engine_free(p, "free");
    CHECK();
}

Test(fast_engine, statistics_print_as_json)
{
    void *p = hk_engine_malloc(10);
    char buf[8192];
    size_t len = fast_stats_format(buf, sizeof buf, true);
    cr_assert_lt(len, sizeof buf);
    cr_assert_eq(buf[0], '{');
    cr_assert_not_null(strstr(buf, "\"segments_mapped\": 1"));
    cr_assert_not_null(strstr(buf, "\"os\""));
    hk_engine_free(p, "free");
}

/* ---- Misuse -------------------------------------------------------------------------------- */

Test(fast_engine, checked_mode_aborts_on_double_free, .signal = SIGABRT)
{
    setenv("HEAPKIT_CHECK", "1", 1);
    void *keep = hk_engine_malloc(32);
    void *p = hk_engine_malloc(32);
    hk_engine_free(p, "free");
    hk_engine_free(p, "free");
    (void)keep;
}

Test(fast_engine, checked_mode_aborts_on_interior_pointer, .signal = SIGABRT)
{
    setenv("HEAPKIT_CHECK", "1", 1);
    char *p = hk_engine_malloc(64);
    hk_engine_free(p + 16, "free");
}

Test(fast_engine, free_of_a_foreign_pointer_aborts, .signal = SIGABRT)
{
    static char not_ours[64];
    hk_engine_free(not_ours + 16, "free");
}

Test(fast_engine, double_free_of_a_huge_block_aborts, .signal = SIGABRT)
{
    void *p = hk_engine_malloc((size_t)1 << 20);
    hk_engine_free(p, "free");
    hk_engine_free(p, "free");
}
