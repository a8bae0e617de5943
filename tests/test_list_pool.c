/* memalloc (spec 002): lazy pool, explicit init_pool, Block layout, first fit, split and
 * merge, growth by mapping and the grown region given back with munmap, print_free_list's
 * output read back through a pipe, bad input and checked-mode misuse. */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "front/list_fronts.h"
#include "memalloc.h"
#include "os/sys.h"

#define CHECK()                                                                              \
    do {                                                                                     \
        char why_[256];                                                                      \
        cr_assert(list_check(pool_heap(), why_, sizeof why_), "list_check: %s", why_);      \
    } while (0)

static Block *block(void *p)
{
    return (Block *)p - 1;
}

static sys_counters_t counters(void)
{
    sys_counters_t c;
    sys_counters(&c);
    return c;
}

Test(pool, pool_is_mapped_on_first_malloc_only)
{
    sys_counters_t c0 = counters();
    cr_assert_not(pool_heap()->started);
    cr_assert_eq(counters().mmap, c0.mmap);
    void *p = custom_malloc(100);
    cr_assert_not_null(p);
    cr_assert_eq(counters().mmap - c0.mmap, 1);
    cr_assert_eq(counters().mapped_bytes - c0.mapped_bytes, 64 * 1024);
    custom_malloc(100);
    cr_assert_eq(counters().mmap - c0.mmap, 1);
    cr_assert_eq(block(p)->size, 104);
    cr_assert_eq(block(p)->free, 0);
    CHECK();
}

Test(pool, init_pool_maps_the_pages_the_size_needs)
{
    sys_counters_t c0 = counters();
    init_pool(10000);
    cr_assert_eq(counters().mmap - c0.mmap, 1);
    cr_assert_eq(counters().mapped_bytes - c0.mapped_bytes, 12288); /* 10000 + headers */
    init_pool(50000); /* already mapped: nothing */
    cr_assert_eq(counters().mmap - c0.mmap, 1);
    void *p = custom_malloc(9000);
    cr_assert_not_null(p);
    cr_assert_eq(counters().mmap - c0.mmap, 1);
    CHECK();
}

Test(pool, first_fit_takes_the_first_free_block_that_fits)
{
    char *a = custom_malloc(300), *g1 = custom_malloc(8), *b = custom_malloc(100);
    char *g2 = custom_malloc(8);
    (void)g1;
    (void)g2;
    custom_free(a);
    custom_free(b);
    cr_assert_eq(custom_malloc(50), a); /* 300 comes first though 100 fits better */
    cr_assert_eq(block(a)->size, 56);
    cr_assert_eq(block(a)->next, (Block *)(a + 56));
    cr_assert_eq(block(a)->next->free, 1);
    CHECK();
}

Test(pool, adjacent_free_blocks_merge)
{
    char *a = custom_malloc(100), *b = custom_malloc(200), *c = custom_malloc(8);
    (void)c;
    custom_free(a);
    custom_free(b);
    cr_assert_eq(block(a)->free, 1);
    cr_assert_eq(block(a)->size, 104 + sizeof(Block) + 200);
    cr_assert_eq(block(a)->next, block(c));
    CHECK();
}

Test(pool, pool_grows_with_another_mapping_and_unmaps_it_when_free)
{
    custom_malloc(100);
    sys_counters_t c0 = counters();
    char *big = custom_malloc(100000); /* more than the 64 KiB pool holds */
    cr_assert_not_null(big);
    cr_assert_eq(counters().mmap - c0.mmap, 1);
    memset(big, 3, 100000);
    CHECK();
    custom_free(big);
    cr_assert_eq(counters().munmap - c0.munmap, 1);
    cr_assert_eq(counters().mapped_bytes, c0.mapped_bytes);
    CHECK();
}

static char *capture_free_list(void)
{
    static char text[8192];
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    fflush(stdout);
    int saved = dup(1);
    dup2(fds[1], 1);
    print_free_list();
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    close(fds[1]);
    ssize_t n = read(fds[0], text, sizeof text - 1);
    close(fds[0]);
    cr_assert_gt(n, 0);
    text[n] = '\0';
    return text;
}

Test(pool, print_free_list_shows_every_block)
{
    char *p1 = custom_malloc(100);
    char *p2 = custom_malloc(200);
    char *text = capture_free_list();
    char want[128];
    cr_assert(strstr(text, "pool: 3 blocks, 1 free"), "%s", text);
    snprintf(want, sizeof want, "block %p: size 104, allocated", (void *)block(p1));
    cr_assert(strstr(text, want), "%s", text);
    snprintf(want, sizeof want, "block %p: size 200, allocated", (void *)block(p2));
    cr_assert(strstr(text, want), "%s", text);
    custom_free(p1);
    custom_free(p2);
    text = capture_free_list();
    cr_assert(strstr(text, "pool: 1 blocks, 1 free"), "%s", text);
    snprintf(want, sizeof want, "block %p: size %zu, free", (void *)block(p1),
             (size_t)64 * 1024 - 16 - sizeof(Block));
    cr_assert(strstr(text, want), "%s", text);
}

Test(pool, bad_input_returns_null_without_syscalls, .timeout = 10)
{
    sys_counters_t c0 = counters();
    cr_assert_null(custom_malloc(0));
    errno = 0;
    cr_assert_null(custom_malloc(SIZE_MAX));
    cr_assert_eq(errno, ENOMEM);
    cr_assert_null(custom_malloc(SIZE_MAX - 24));
    cr_assert_eq(counters().mmap, c0.mmap);
    custom_free(NULL);
    int local;
    char *p = custom_malloc(40);
    custom_free(&local);
    custom_free(p + 8);
    custom_free(p);
    custom_free(p); /* ignored */
    cr_assert_not_null(custom_malloc(40)); /* the lock was released on every path */
    CHECK();
}

Test(pool_misuse, double_free_aborts_in_checked_mode, .signal = SIGABRT)
{
    setenv("HEAPKIT_CHECK", "1", 1);
    char *p = custom_malloc(40);
    custom_malloc(40);
    custom_free(p);
    custom_free(p);
}

Test(pool_misuse, foreign_pointer_aborts_in_checked_mode, .signal = SIGABRT)
{
    setenv("HEAPKIT_CHECK", "1", 1);
    static uint64_t fake[8];
    custom_malloc(40);
    custom_free(&fake[3]);
}

#define THREADS 4
#define SLOTS   32
#define ROUNDS  3000

static void *stress(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg * 104729u + 3;
    unsigned char *slot[SLOTS] = {0};
    size_t size[SLOTS] = {0};
    unsigned char tag = (unsigned char)(uintptr_t)arg;
    for (int round = 0; round < ROUNDS; round++) {
        seed = seed * 1103515245u + 12345u;
        int i = (int)((seed >> 8) % SLOTS);
        if (slot[i]) {
            for (size_t k = 0; k < size[i]; k++)
                if (slot[i][k] != tag) return (void *)1;
            custom_free(slot[i]);
            slot[i] = NULL;
        } else {
            size[i] = (seed >> 16) % 13 == 0 ? 20000 + (seed >> 4) % 60000 : 1 + (seed >> 12) % 500;
            slot[i] = custom_malloc(size[i]);
            if (!slot[i]) return (void *)2;
            memset(slot[i], tag, size[i]);
        }
    }
    for (int i = 0; i < SLOTS; i++) custom_free(slot[i]);
    return NULL;
}

Test(pool_threads, threads_share_the_pool_without_corruption, .timeout = 60)
{
    pthread_t t[THREADS];
    for (uintptr_t i = 0; i < THREADS; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, stress, (void *)(i + 1)), 0);
    for (int i = 0; i < THREADS; i++) {
        void *result;
        pthread_join(t[i], &result);
        cr_assert_null(result, "thread %d found result %p", i, result);
    }
    CHECK();
    list_stats_t s;
    pool_stats(&s);
    cr_assert_eq(s.v[STAT_allocs], s.v[STAT_frees]);
    cr_assert_eq(s.v[STAT_blocks], 1); /* merged back into the first pool; the rest unmapped */
}
