/* libosmem (spec 001) at the system-call level: each scenario counts the brk/mmap/munmap
 * calls through the kernel layer's counters and checks block addresses relative to our own
 * blocks (never absolute break positions), with list_check after the steps. Also: bad input,
 * misuse in checked mode (SIGABRT), and one run of osmem_example under strace. */
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "front/list_fronts.h"
#include "os/sys.h"
#include "osmem.h"

#define META 32
#define PREALLOC (128 * 1024)

#define CHECK()                                                                              \
    do {                                                                                     \
        char why_[256];                                                                      \
        cr_assert(list_check(osmem_heap(), why_, sizeof why_), "list_check: %s", why_);     \
    } while (0)

static struct block_meta *meta(void *p)
{
    return (struct block_meta *)p - 1;
}

static sys_counters_t base;

/* Counters from here on: brk, mmap, munmap calls and bytes relative to this point. */
static void mark(void)
{
    sys_counters_reset();
    sys_counters(&base);
}

static sys_counters_t since(void)
{
    sys_counters_t now;
    sys_counters(&now);
    now.brk_bytes -= base.brk_bytes;
    now.mapped_bytes -= base.mapped_bytes;
    return now;
}

static void expect_calls(uint64_t brk, uint64_t mmap, uint64_t munmap)
{
    sys_counters_t c = since();
    cr_assert_eq(c.brk, brk, "brk calls %lu, expected %lu", (unsigned long)c.brk,
                 (unsigned long)brk);
    cr_assert_eq(c.mmap, mmap, "mmap calls %lu, expected %lu", (unsigned long)c.mmap,
                 (unsigned long)mmap);
    cr_assert_eq(c.munmap, munmap, "munmap calls %lu, expected %lu", (unsigned long)c.munmap,
                 (unsigned long)munmap);
}

Test(osmem, first_small_malloc_preallocates_128k_with_one_brk)
{
    mark();
    void *p = os_malloc(100);
    cr_assert_not_null(p);
    expect_calls(1, 0, 0);
    cr_assert_eq(since().brk_bytes, PREALLOC);
    cr_assert_eq(meta(p)->size, 104);
    cr_assert_eq(meta(p)->status, STATUS_ALLOC);
    cr_assert_eq((uintptr_t)p % 8, 0);
    CHECK();
}

Test(osmem, array_of_small_blocks_is_carved_from_the_preallocation)
{
    size_t sizes[] = {1, 8, 13, 100, 1000, 4000, 24, 7};
    char *p[8];
    mark();
    for (int i = 0; i < 8; i++) {
        p[i] = os_malloc(sizes[i]);
        memset(p[i], i, sizes[i]);
    }
    expect_calls(1, 0, 0);
    for (int i = 0; i + 1 < 8; i++) {
        size_t rounded = (sizes[i] + 7) & ~(size_t)7;
        cr_assert_eq(p[i + 1], p[i] + rounded + META, "block %d", i + 1);
        cr_assert_eq(meta(p[i])->size, rounded);
    }
    CHECK();
}

Test(osmem, freed_block_is_reused_without_a_syscall)
{
    void *a = os_malloc(300);
    os_malloc(16);
    os_free(a);
    cr_assert_eq(meta(a)->status, STATUS_FREE);
    mark();
    cr_assert_eq(os_malloc(300), a);
    expect_calls(0, 0, 0);
    CHECK();
}

Test(osmem, free_last_block_is_extended_by_the_difference)
{
    char *a = os_malloc(100000);
    mark();
    char *b = os_malloc(60000); /* the free tail holds 131040 - 100000 - 32 = 31008 */
    expect_calls(1, 0, 0);
    cr_assert_eq(since().brk_bytes, 60000 - 31008);
    cr_assert_eq(b, a + 100000 + META);
    cr_assert_eq(meta(b)->size, 60000);
    CHECK();
}

Test(osmem, allocated_last_block_gets_a_new_block_of_size_plus_header)
{
    char *a = os_malloc(100000);
    char *b = os_malloc(31000); /* takes the whole rest: 8 bytes left cannot be split off */
    cr_assert_eq(meta(b)->size, 31008);
    mark();
    char *c = os_malloc(1000);
    expect_calls(1, 0, 0);
    cr_assert_eq(since().brk_bytes, 1000 + META);
    cr_assert_eq(c, b + 31008 + META);
    cr_assert_eq(b, a + 100000 + META);
    CHECK();
}

Test(osmem, no_split_when_remainder_is_exactly_a_header)
{
    char *a = os_malloc(200);
    os_malloc(8);
    os_free(a);
    cr_assert_eq(os_malloc(168), a); /* 32 bytes left: no room for header + 8 */
    cr_assert_eq(meta(a)->size, 200);
    os_free(a);
    cr_assert_eq(os_malloc(160), a); /* 40 bytes left: split */
    cr_assert_eq(meta(a)->size, 160);
    cr_assert_eq(meta(a)->next, (struct block_meta *)(a + 160));
    cr_assert_eq(meta(a)->next->size, 8);
    cr_assert_eq(meta(a)->next->status, STATUS_FREE);
    CHECK();
}

static void split_position(int which)
{
    char *blk[3];
    for (int i = 0; i < 3; i++) blk[i] = os_malloc(400);
    os_malloc(8);
    os_free(blk[which]);
    mark();
    char *p = os_malloc(100);
    expect_calls(0, 0, 0);
    cr_assert_eq(p, blk[which]);
    cr_assert_eq(meta(p)->size, 104);
    struct block_meta *rest = meta(p)->next;
    cr_assert_eq((char *)rest, p + 104);
    cr_assert_eq(rest->size, 400 - 104 - META);
    cr_assert_eq(rest->status, STATUS_FREE);
    cr_assert_eq(rest->prev, meta(p));
    CHECK();
}

Test(osmem, split_first_block)
{
    split_position(0);
}
Test(osmem, split_middle_block)
{
    split_position(1);
}
Test(osmem, split_last_block)
{
    split_position(2);
}

Test(osmem, free_neighbours_are_coalesced_before_the_search)
{
    char *a = os_malloc(400), *b = os_malloc(400), *c = os_malloc(400);
    os_malloc(8);
    os_free(a);
    os_free(b);
    os_free(c);
    cr_assert_eq(meta(a)->size, 400); /* os_free leaves merging to the next search */
    mark();
    cr_assert_eq(os_malloc(1200), a); /* 3 * 400 + 2 * 32 = 1264 bytes after coalescing */
    expect_calls(0, 0, 0);
    CHECK();
}

Test(osmem, best_fit_lowest_address_on_ties)
{
    char *hole[4];
    size_t sizes[4] = {400, 200, 304, 200};
    for (int i = 0; i < 4; i++) {
        hole[i] = os_malloc(sizes[i]);
        os_malloc(8);
    }
    for (int i = 0; i < 4; i++) os_free(hole[i]);
    cr_assert_eq(os_malloc(150), hole[1]);
    cr_assert_eq(os_malloc(150), hole[3]);
    cr_assert_eq(os_malloc(300), hole[2]);
    cr_assert_eq(os_malloc(300), hole[0]);
    CHECK();
}

Test(osmem, big_blocks_are_mapped_with_exactly_size_plus_header)
{
    mark();
    char *m = os_malloc(PREALLOC - META); /* payload + header reach the threshold */
    expect_calls(0, 1, 0);
    cr_assert_eq(since().mapped_bytes, PREALLOC);
    cr_assert_eq(meta(m)->status, STATUS_MAPPED);
    cr_assert_eq(meta(m)->size, PREALLOC - META);
    memset(m, 1, PREALLOC - META);
    char *n = os_malloc(300001);
    cr_assert_eq(since().mapped_bytes, PREALLOC + 300008 + META);
    os_free(m);
    os_free(n);
    expect_calls(0, 2, 2);
    cr_assert_eq(since().mapped_bytes, 0);
    char *h = os_malloc(PREALLOC - META - 8); /* one word below: the heap */
    cr_assert_eq(meta(h)->status, STATUS_ALLOC);
    expect_calls(1, 2, 2);
    CHECK();
}

Test(osmem, calloc_maps_from_the_page_size_and_zeroes)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    mark();
    char *h = os_calloc(1, page - META - 8);
    expect_calls(1, 0, 0);
    cr_assert_eq(meta(h)->status, STATUS_ALLOC);
    char *m = os_calloc(page - META, 1);
    expect_calls(1, 1, 0);
    cr_assert_eq(since().mapped_bytes, page);
    cr_assert_eq(meta(m)->status, STATUS_MAPPED);
    /* a reused heap block is zeroed too */
    memset(h, 0xff, page - META - 8);
    os_free(h);
    char *z = os_calloc(10, 8);
    cr_assert_eq(z, h);
    for (int i = 0; i < 80; i++) cr_assert_eq(z[i], 0);
    for (size_t i = 0; i < page - META; i++) cr_assert_eq(m[i], 0);
}

Test(osmem, realloc_moves_between_heap_and_mapping)
{
    char *p = os_malloc(1000);
    memset(p, 'a', 1000);
    mark();
    char *m = os_realloc(p, 200000); /* past the threshold: mapped, copied */
    expect_calls(0, 1, 0);
    cr_assert_eq(meta(m)->status, STATUS_MAPPED);
    cr_assert_eq(meta(p)->status, STATUS_FREE);
    for (int i = 0; i < 1000; i++) cr_assert_eq(m[i], 'a');
    memset(m, 'b', 200000);
    char *bigger = os_realloc(m, 300000); /* mapped blocks always move */
    expect_calls(0, 2, 1);
    cr_assert_neq(bigger, m);
    cr_assert_eq(bigger[199999], 'b');
    char *back = os_realloc(bigger, 500); /* below the threshold again: the heap */
    expect_calls(0, 2, 2);
    cr_assert_eq(meta(back)->status, STATUS_ALLOC);
    for (int i = 0; i < 500; i++) cr_assert_eq(back[i], 'b');
    CHECK();
}

Test(osmem, realloc_same_size_keeps_pointer_and_shrink_splits_in_place)
{
    char *p = os_malloc(1000);
    os_malloc(8);
    cr_assert_eq(os_realloc(p, 1000), p);
    cr_assert_eq(os_realloc(p, 997), p); /* rounds to the same 1000 */
    mark();
    cr_assert_eq(os_realloc(p, 200), p);
    expect_calls(0, 0, 0);
    cr_assert_eq(meta(p)->size, 200);
    cr_assert_eq(meta(p)->next->size, 1000 - 200 - META);
    cr_assert_eq(meta(p)->next->status, STATUS_FREE);
    CHECK();
}

Test(osmem, realloc_grows_the_last_block_with_brk)
{
    char *a = os_malloc(100000);
    char *b = os_malloc(31000); /* last block, ending at the break */
    (void)a;
    memset(b, 'q', 31000);
    mark();
    cr_assert_eq(os_realloc(b, 60000), b);
    expect_calls(1, 0, 0);
    cr_assert_eq(since().brk_bytes, 60000 - 31008);
    cr_assert_eq(b[30999], 'q');
    CHECK();
}

Test(osmem, realloc_absorbs_next_free_blocks_one_at_a_time_never_the_previous)
{
    char *v = os_malloc(64), *p = os_malloc(64);
    char *a = os_malloc(16), *b = os_malloc(16), *c = os_malloc(16);
    char *guard = os_malloc(8);
    os_free(v);
    os_free(a);
    os_free(b);
    os_free(c);
    mark();
    /* p + a = 112, + b = 160 >= 152: stops there, c stays a separate free block */
    cr_assert_eq(os_realloc(p, 152), p);
    expect_calls(0, 0, 0);
    cr_assert_eq(meta(p)->size, 160);
    cr_assert_eq(meta(p)->next, meta(c));
    cr_assert_eq(meta(c)->status, STATUS_FREE);
    cr_assert_eq(meta(v)->size, 64); /* the free block before p is never taken */
    cr_assert_eq(meta(v)->status, STATUS_FREE);
    /* too small even with c absorbed: c stays absorbed, the data moves */
    memset(p, 'z', 160);
    char *moved = os_realloc(p, 400);
    cr_assert_neq(moved, p);
    cr_assert_eq(moved[159], 'z');
    cr_assert_eq(meta(p)->size, 160 + META + 16);
    cr_assert_eq(meta(p)->status, STATUS_FREE);
    cr_assert_eq(meta(p)->next, meta(guard));
    CHECK();
}

/* A block that was not the last one grows by absorbing its free successors only; when that is
 * not enough it moves to the best fit (or a new block), even if absorbing the tail has made it
 * the last block. Only a block that is already last grows with brk. */
Test(osmem, realloc_of_a_block_that_was_not_last_moves_rather_than_moving_the_break)
{
    static const size_t sizes[] = {64 * 1024, 32 * 1024, 16 * 1024, 8 * 1024,
                                   4 * 1024,  2 * 1024,  1024,      512};
    enum { N = sizeof sizes / sizeof sizes[0] };
    char *block[N];
    mark();
    for (int i = 0; i < N; i++) block[i] = os_malloc(sizes[i]);
    expect_calls(1, 0, 0); /* all from the preallocation */
    for (int i = 0; i + 1 < N; i++) cr_assert_eq(block[i + 1], block[i] + sizes[i] + META);
    struct block_meta *tail = meta(block[N - 1])->next;
    cr_assert_not_null(tail);
    cr_assert_eq(tail->status, STATUS_FREE);
    cr_assert_eq(tail->size, 224, "free tail of %zu bytes", tail->size);
    char *first = block[0];
    os_free(first);
    for (int i = 2; i < N; i++) {
        memset(block[i], 'a' + i, sizes[i]);
        char *moved = os_realloc(block[i], sizes[i - 1] + 30);
        cr_assert_not_null(moved);
        cr_assert_neq(moved, block[i], "block %d cannot grow in place", i);
        for (size_t j = 0; j < sizes[i]; j++)
            cr_assert_eq(moved[j], 'a' + i, "block %d lost byte %zu", i, j);
        block[i] = moved;
        CHECK();
    }
    /* The 512-byte block absorbed the free tail and became the last block, still too small for
     * 1054 bytes: it moved into the freed 64 KiB region, and the break never moved. */
    cr_assert(block[N - 1] > first && block[N - 1] < first + sizes[0],
              "the last block moved to %p, outside the freed region at %p", (void *)block[N - 1],
              (void *)first);
    expect_calls(1, 0, 0);
    cr_assert_eq(since().brk_bytes, PREALLOC);
}

Test(osmem, realloc_of_free_block_returns_null)
{
    char *p = os_malloc(100);
    os_malloc(8);
    os_free(p);
    mark();
    cr_assert_null(os_realloc(p, 50));
    cr_assert_null(os_realloc(p, 500));
    expect_calls(0, 0, 0);
    cr_assert_eq(meta(p)->status, STATUS_FREE);
}

Test(osmem, realloc_null_mallocs_and_zero_frees)
{
    char *p = os_realloc(NULL, 100);
    cr_assert_not_null(p);
    cr_assert_eq(meta(p)->status, STATUS_ALLOC);
    cr_assert_null(os_realloc(p, 0));
    cr_assert_eq(meta(p)->status, STATUS_FREE);
}

/* ---- bad input ------------------------------------------------------------------------ */

Test(osmem_bad_input, zero_sizes_return_null_without_syscalls)
{
    mark();
    cr_assert_null(os_malloc(0));
    cr_assert_null(os_calloc(0, 10));
    cr_assert_null(os_calloc(10, 0));
    cr_assert_null(os_realloc(NULL, 0));
    os_free(NULL);
    expect_calls(0, 0, 0);
}

Test(osmem_bad_input, sizes_near_size_max_fail_with_enomem_and_no_syscall)
{
    size_t sizes[] = {SIZE_MAX, SIZE_MAX - 7, SIZE_MAX - 31, SIZE_MAX / 2, (size_t)PTRDIFF_MAX};
    mark();
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        errno = 0;
        cr_assert_null(os_malloc(sizes[i]));
        cr_assert_eq(errno, ENOMEM);
        errno = 0;
        cr_assert_null(os_calloc(1, sizes[i]));
        cr_assert_eq(errno, ENOMEM);
    }
    expect_calls(0, 0, 0);
    char *p = os_malloc(64);
    memset(p, 'k', 64);
    errno = 0;
    cr_assert_null(os_realloc(p, SIZE_MAX));
    cr_assert_eq(errno, ENOMEM);
    cr_assert_eq(meta(p)->status, STATUS_ALLOC); /* the old block is untouched */
    cr_assert_eq(p[63], 'k');
}

Test(osmem_bad_input, overflowing_calloc_product_fails_with_enomem)
{
    mark();
    errno = 0;
    cr_assert_null(os_calloc(SIZE_MAX / 2 + 1, 2));
    cr_assert_eq(errno, ENOMEM);
    errno = 0;
    cr_assert_null(os_calloc((size_t)1 << 33, (size_t)1 << 31));
    cr_assert_eq(errno, ENOMEM);
    expect_calls(0, 0, 0);
}

Test(osmem_bad_input, double_free_is_ignored_without_checked_mode)
{
    char *p = os_malloc(100);
    char *q = os_malloc(100);
    os_free(p);
    mark();
    os_free(p);
    expect_calls(0, 0, 0);
    cr_assert_eq(meta(p)->status, STATUS_FREE);
    cr_assert_eq(meta(q)->status, STATUS_ALLOC);
    CHECK();
}

Test(osmem_misuse, double_free_aborts_in_checked_mode, .signal = SIGABRT)
{
    setenv("HEAPKIT_CHECK", "1", 1);
    char *p = os_malloc(100);
    os_free(p);
    os_free(p);
}

Test(osmem_misuse, double_free_of_mapped_block_aborts_in_checked_mode, .signal = SIGABRT)
{
    setenv("HEAPKIT_CHECK", "1", 1);
    char *p = os_malloc(500000);
    os_free(p);
    os_free(p);
}

Test(osmem_misuse, foreign_pointer_free_aborts_in_checked_mode, .signal = SIGABRT)
{
    setenv("HEAPKIT_CHECK", "1", 1);
    static uint64_t fake[16]; /* looks like a header, but is not one of ours */
    fake[0] = 64;
    fake[1] = STATUS_ALLOC;
    os_malloc(8);
    os_free(&fake[4]);
}

Test(osmem_misuse, interior_pointer_realloc_aborts_in_checked_mode, .signal = SIGABRT)
{
    setenv("HEAPKIT_CHECK", "1", 1);
    char *p = os_malloc(100);
    os_realloc(p + 8, 200);
}

Test(osmem_misuse, checked_mode_accepts_valid_frees)
{
    setenv("HEAPKIT_CHECK", "1", 1);
    char *p = os_malloc(100), *m = os_malloc(200000);
    p = os_realloc(p, 3000);
    os_free(p);
    os_free(m);
    cr_assert_eq(meta(p)->status, STATUS_FREE);
    CHECK();
}

/* ---- strace ----------------------------------------------------------------------------- */

/* Runs osmem_example under strace and collects the brk/mmap/munmap lines between the
 * example's "== os_malloc(100)" marker and its next write. */
Test(osmem_strace, first_malloc_100_is_one_brk_of_128k_and_no_mmap)
{
    char log[] = "/tmp/heapkit-osmem-strace-XXXXXX";
    int fd = mkstemp(log);
    cr_assert_geq(fd, 0);
    close(fd);
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "strace -e trace=brk,mmap,munmap,write -o %s %s/osmem_example >/dev/null", log,
             LIST_EXAMPLES_DIR);
    cr_assert_eq(system(cmd), 0, "strace failed: %s", cmd);
    FILE *f = fopen(log, "r");
    cr_assert_not_null(f);
    char line[512];
    int in_window = 0, moves = 0, maps = 0, unmaps = 0;
    unsigned long known_break = 0, moved_by = 0;
    while (fgets(line, sizeof line, f)) {
        static const char marker[] = "write(1, \"== os_malloc(100)\\n\"";
        if (strncmp(line, marker, sizeof marker - 1) == 0) {
            in_window = 1;
            continue;
        }
        if (in_window && strncmp(line, "write(", 6) == 0) break;
        unsigned long arg, result;
        if (strncmp(line, "brk(NULL)", 9) == 0) {
            char *eq = strrchr(line, '=');
            if (eq) known_break = strtoul(eq + 1, NULL, 16);
        } else if (sscanf(line, "brk(%lx) = %lx", &arg, &result) == 2) {
            if (in_window) {
                moves++;
                moved_by = arg - known_break;
            }
            known_break = result;
        } else if (in_window && strncmp(line, "mmap(", 5) == 0) {
            maps++;
        } else if (in_window && strncmp(line, "munmap(", 7) == 0) {
            unmaps++;
        }
    }
    fclose(f);
    unlink(log);
    cr_assert(in_window, "marker not found in the strace log");
    cr_assert_eq(moves, 1, "brk calls that move the break: %d", moves);
    cr_assert_eq(moved_by, 131072, "the break moved by %lu", moved_by);
    cr_assert_eq(maps, 0);
    cr_assert_eq(unmaps, 0);
}

/* ---- the shared library's surface ------------------------------------------------------ */

Test(osmem_library, shared_library_exports_only_the_four_functions)
{
    void *lib = dlopen(LIST_LIB_DIR "/libosmem.so", RTLD_NOW | RTLD_LOCAL);
    cr_assert_not_null(lib, "%s", dlerror());
    const char *api[] = {"os_malloc", "os_calloc", "os_realloc", "os_free"};
    for (size_t i = 0; i < sizeof api / sizeof api[0]; i++)
        cr_assert_not_null(dlsym(lib, api[i]), "%s missing", api[i]);
    const char *hidden[] = {"osmem_heap", "osmem_stats", "list_alloc", "list_check", "sys_brk",
                            "sys_counters", "hk_fatal", "hk_env_bool", "hk_lock_register"};
    for (size_t i = 0; i < sizeof hidden / sizeof hidden[0]; i++)
        cr_assert_null(dlsym(lib, hidden[i]), "%s is exported", hidden[i]);
    dlclose(lib);
}
