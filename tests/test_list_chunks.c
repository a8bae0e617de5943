/* memory_allocation (spec 000): chunk layout, first page, split and coalesce, growth by
 * mapping, chunk_split, bad input, the lock released on every error path, checked-mode
 * misuse, several threads allocating and freeing with their contents verified, and frees after
 * the library's destructor has run. */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "child.h"
#include "front/list_fronts.h"
#include "memory_allocation.h"
#include "os/sys.h"

#define CHECK()                                                                              \
    do {                                                                                     \
        char why_[256];                                                                      \
        cr_assert(list_check(chunks_heap(), why_, sizeof why_), "list_check: %s", why_);    \
    } while (0)

static memory_chunk_t *chunk(void *p)
{
    return (memory_chunk_t *)p - 1;
}

static uint64_t mmaps(void)
{
    sys_counters_t c;
    sys_counters(&c);
    return c.mmap;
}

static uint64_t munmaps(void)
{
    sys_counters_t c;
    sys_counters(&c);
    return c.munmap;
}

Test(chunks, initialize_maps_one_page_as_the_first_free_chunk)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    uint64_t before = mmaps();
    memory_chunk_t *first = initialize_dynamic_memory();
    cr_assert_not_null(first);
    cr_assert_eq(mmaps() - before, 1);
    cr_assert_eq(first->in_use, 0);
    cr_assert_eq(first->size, page - 16 - sizeof(memory_chunk_t));
    cr_assert_null(first->next);
    cr_assert_eq(initialize_dynamic_memory(), first); /* once only */
    cr_assert_eq(mmaps() - before, 1);
    void *p = allocate_memory(16);
    cr_assert_eq(chunk(p), first);
    CHECK();
}

Test(chunks, allocations_split_the_page_in_order)
{
    char *a = allocate_memory(16), *b = allocate_memory(100), *c = allocate_memory(1);
    cr_assert_eq(b, a + 16 + sizeof(memory_chunk_t));
    cr_assert_eq(c, b + 104 + sizeof(memory_chunk_t));
    cr_assert_eq(chunk(b)->size, 104);
    cr_assert_eq(chunk(b)->in_use, 1);
    cr_assert_eq(chunk(b)->prev, chunk(a));
    cr_assert_eq(chunk(b)->next, chunk(c));
    cr_assert_eq((uintptr_t)c % 8, 0);
    memset(a, 0xA, 16);
    CHECK();
}

Test(chunks, free_coalesces_with_both_neighbours)
{
    char *a = allocate_memory(64), *b = allocate_memory(64), *c = allocate_memory(64);
    allocate_memory(8);
    free_memory(a);
    free_memory(c);
    CHECK();
    free_memory(b);
    CHECK();
    cr_assert_eq(chunk(a)->in_use, 0);
    cr_assert_eq(chunk(a)->size, 3 * 64 + 2 * sizeof(memory_chunk_t));
    cr_assert_eq(allocate_memory(200), a); /* first fit reuses the merged chunk */
}

Test(chunks, requests_beyond_a_page_map_a_region_big_enough_and_give_it_back)
{
    allocate_memory(16);
    uint64_t m0 = mmaps(), u0 = munmaps();
    char *big = allocate_memory(20000);
    cr_assert_not_null(big);
    cr_assert_eq(mmaps() - m0, 1);
    cr_assert_geq(chunk(big)->size, 20000);
    memset(big, 7, 20000);
    CHECK();
    free_memory(big);
    cr_assert_eq(munmaps() - u0, 1);
    CHECK();
}

Test(chunks, full_page_grows_by_another_page)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    uint64_t m0 = mmaps();
    int n = 0;
    while (mmaps() - m0 < 2) {
        cr_assert_not_null(allocate_memory(200));
        n++;
    }
    cr_assert_eq(n, (int)((page - 16) / 232) + 1);
    CHECK();
}

Test(chunks, chunk_split_allocates_the_front_and_frees_the_rest)
{
    memory_chunk_t *first = initialize_dynamic_memory();
    size_t total = first->size;
    cr_assert_eq(chunk_split(first, 60), first);
    cr_assert_eq(first->in_use, 1);
    cr_assert_eq(first->size, 64);
    cr_assert_not_null(first->next);
    cr_assert_eq(first->next->in_use, 0);
    cr_assert_eq(first->next->size, total - 64 - sizeof(memory_chunk_t));
    CHECK();
    free_memory(first + 1);
    cr_assert_eq(first->size, total);
    CHECK();
}

Test(chunks, chunk_split_rejects_foreign_and_too_small_chunks)
{
    memory_chunk_t fake = {64, 0, NULL, NULL};
    memory_chunk_t *first = initialize_dynamic_memory();
    errno = 0;
    cr_assert_null(chunk_split(&fake, 8));
    cr_assert_eq(errno, EINVAL);
    cr_assert_null(chunk_split(first, first->size + 8));
    cr_assert_null(chunk_split(first, 0));
    cr_assert_null(chunk_split(NULL, 8));
    cr_assert_eq(first->in_use, 0);
}

Test(chunks, bad_input_returns_null_and_releases_the_lock, .timeout = 10)
{
    uint64_t m0 = mmaps();
    cr_assert_null(allocate_memory(0));
    errno = 0;
    cr_assert_null(allocate_memory(SIZE_MAX));
    cr_assert_eq(errno, ENOMEM);
    cr_assert_null(allocate_memory(SIZE_MAX - 40));
    cr_assert_eq(mmaps(), m0); /* no system call for impossible sizes */
    int local;
    free_memory(NULL);
    free_memory(&local); /* foreign: ignored */
    char *p = allocate_memory(32);
    free_memory(p);
    free_memory(p); /* double free: ignored */
    chunk_split(NULL, 8);
    /* had any path above kept the mutex, this would never return */
    cr_assert_not_null(allocate_memory(32));
    CHECK();
}

Test(chunks_misuse, double_free_aborts_in_checked_mode, .signal = SIGABRT)
{
    setenv("HEAPKIT_CHECK", "1", 1);
    char *p = allocate_memory(32);
    allocate_memory(32);
    free_memory(p);
    free_memory(p);
}

Test(chunks_misuse, foreign_pointer_aborts_in_checked_mode, .signal = SIGABRT)
{
    setenv("HEAPKIT_CHECK", "1", 1);
    char *p = allocate_memory(32);
    free_memory(p + 8);
}

#define THREADS 4
#define SLOTS   64
#define ROUNDS  4000

static void *stress(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg * 7919u + 1;
    unsigned char *slot[SLOTS] = {0};
    size_t size[SLOTS] = {0};
    for (int round = 0; round < ROUNDS; round++) {
        seed = seed * 1103515245u + 12345u;
        int i = (int)((seed >> 8) % SLOTS);
        if (slot[i]) {
            unsigned char tag = (unsigned char)((uintptr_t)arg * 31 + (unsigned)i);
            for (size_t k = 0; k < size[i]; k++)
                if (slot[i][k] != tag) return (void *)1; /* someone else wrote here */
            free_memory(slot[i]);
            slot[i] = NULL;
        } else {
            size[i] = (seed >> 16) % 11 == 0 ? 3000 + (seed >> 4) % 9000 : 1 + (seed >> 12) % 300;
            slot[i] = allocate_memory(size[i]);
            if (!slot[i]) return (void *)2;
            memset(slot[i], (unsigned char)((uintptr_t)arg * 31 + (unsigned)i), size[i]);
        }
    }
    for (int i = 0; i < SLOTS; i++) free_memory(slot[i]);
    return NULL;
}

Test(chunks_threads, threads_allocate_and_free_without_corruption, .timeout = 60)
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
    chunks_stats(&s);
    cr_assert_eq(s.v[STAT_allocs], s.v[STAT_frees]);
    cr_assert_eq(s.v[STAT_blocks], 1); /* everything merged back; grown regions unmapped */
    cr_assert_eq(s.v[STAT_free_blocks], 1);
}

/* ---- after the library's destructor ---------------------------------------------------------- */

/* A later destructor and an atexit handler free blocks and allocate again once the library's
 * own destructor has run (helper_chunks_late_free): the lock must still lock. */
Test(chunks_exit, free_memory_works_after_the_library_destructor)
{
    char dir[4096], command[4200];
    child_self_dir(dir, sizeof dir);
    snprintf(command, sizeof command, "exec %shelper_chunks_late_free", dir);
    child_result_t *r = malloc(sizeof *r);
    child_run(r, command, NULL, 20);
    cr_assert_eq(child_exit_code(r), 0, "stdout: %s stderr: %s", r->out, r->err);
    cr_assert_not_null(strstr(r->out, "late frees: 2 lock failures: 0"), "stdout: %s", r->out);
    free(r);
}
