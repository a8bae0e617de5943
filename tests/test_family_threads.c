/* Page families under threads: several threads allocate and free at random in two families;
 * every object keeps the pattern its owner wrote, and the invariants hold at the end. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "UserAPI_MemoryManager.h"
#include "family/family.h"

typedef struct {
    uint64_t words[5];
} small_t;

typedef struct {
    uint64_t words[21];
} large_t;

enum { THREADS = 4, SLOTS = 64, ROUNDS = 4000 };

typedef struct {
    void *ptr;    /* the object, or NULL */
    size_t bytes; /* its size */
    uint8_t fill; /* the byte written all over it */
} slot_t;

static int corrupt; /* set by a thread that finds a wrong byte */

static void *worker(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg * 2654435761u + 1;
    slot_t slots[SLOTS] = {{0}};
    for (int round = 0; round < ROUNDS; round++) {
        seed = seed * 1103515245u + 12345u;
        slot_t *s = &slots[(seed >> 8) % SLOTS];
        if (s->ptr) {
            const uint8_t *b = s->ptr;
            for (size_t i = 0; i < s->bytes; i++)
                if (b[i] != s->fill) __atomic_store_n(&corrupt, 1, __ATOMIC_RELAXED);
            XFREE(s->ptr);
            s->ptr = NULL;
            continue;
        }
        int units = 1 + (int)((seed >> 20) % 4);
        int small = (seed >> 24) & 1;
        s->ptr = small ? (void *)XCALLOC(units, small_t) : (void *)XCALLOC(units, large_t);
        if (!s->ptr) {
            __atomic_store_n(&corrupt, 2, __ATOMIC_RELAXED);
            break;
        }
        s->bytes = (size_t)units * (small ? sizeof(small_t) : sizeof(large_t));
        const uint8_t *b = s->ptr;
        for (size_t i = 0; i < s->bytes; i++)
            if (b[i] != 0) __atomic_store_n(&corrupt, 3, __ATOMIC_RELAXED);
        s->fill = (uint8_t)(seed >> 3);
        memset(s->ptr, s->fill, s->bytes);
    }
    for (int i = 0; i < SLOTS; i++) {
        if (!slots[i].ptr) continue;
        const uint8_t *b = slots[i].ptr;
        for (size_t k = 0; k < slots[i].bytes; k++)
            if (b[k] != slots[i].fill) __atomic_store_n(&corrupt, 1, __ATOMIC_RELAXED);
        XFREE(slots[i].ptr);
    }
    return NULL;
}

Test(family_threads, random_alloc_free_in_two_families_keeps_contents_and_invariants)
{
    mm_init();
    MM_REG_STRUCT(small_t);
    MM_REG_STRUCT(large_t);
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)(i + 1)), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    cr_assert_eq(corrupt, 0, "corruption kind %d", corrupt);
    cr_assert(family_check());
    mm_family_stats_t all;
    mm_get_family_stats(NULL, &all);
    cr_assert_eq(all.pages, 0, "every page went back");
    cr_assert_eq(all.alloc_calls, all.free_calls);
    cr_assert_eq(all.pages_obtained, all.pages_released);
    cr_assert_gt(all.alloc_calls, 1000);
}

static const char *const race_names[] = {"alpha_t", "beta_t", "gamma_t", "delta_t", "eps_t"};

static void *register_all(void *arg)
{
    (void)arg;
    for (int round = 0; round < 50; round++)
        for (size_t i = 0; i < sizeof race_names / sizeof race_names[0]; i++) {
            mm_instantiate_new_page_family((char *)race_names[i], (uint32_t)(16 + 8 * i));
            void *p = xcalloc((char *)race_names[i], 1);
            if (!p) __atomic_store_n(&corrupt, 4, __ATOMIC_RELAXED);
            xfree(p);
        }
    return NULL;
}

Test(family_threads, racing_registrations_yield_one_family_per_name)
{
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, register_all, NULL), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    cr_assert_eq(corrupt, 0);
    mm_family_stats_t all;
    mm_get_family_stats(NULL, &all);
    cr_assert_eq(all.families, 5);
    for (size_t i = 0; i < 5; i++) {
        vm_page_family_t *f = lookup_page_family_by_name((char *)race_names[i]);
        cr_assert_not_null(f);
        cr_assert_eq(f->struct_size, 16 + 8 * i);
    }
    cr_assert(family_check());
}

static int workers_done;

static void *checker(void *arg)
{
    (void)arg;
    while (!__atomic_load_n(&workers_done, __ATOMIC_ACQUIRE))
        if (!family_check()) __atomic_store_n(&corrupt, 5, __ATOMIC_RELAXED);
    return NULL;
}

Test(family_threads, invariants_hold_while_threads_allocate)
{
    MM_REG_STRUCT(small_t);
    MM_REG_STRUCT(large_t);
    pthread_t t[THREADS], c;
    cr_assert_eq(pthread_create(&c, NULL, checker, NULL), 0);
    for (int i = 0; i < THREADS; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)(i + 11)), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    __atomic_store_n(&workers_done, 1, __ATOMIC_RELEASE);
    pthread_join(c, NULL);
    cr_assert_eq(corrupt, 0, "corruption kind %d", corrupt);
}

static void *hold_and_churn(void *arg)
{
    (void)arg;
    while (!__atomic_load_n(&workers_done, __ATOMIC_ACQUIRE)) {
        small_t *s = XCALLOC(2, small_t);
        XFREE(s);
    }
    return NULL;
}

Test(family_threads, child_of_a_threaded_parent_can_allocate)
{
    MM_REG_STRUCT(small_t);
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, hold_and_churn, NULL), 0);
    for (int round = 0; round < 20; round++) {
        pid_t pid = fork();
        if (pid == 0) {
            small_t *s = XCALLOC(3, small_t);
            int ok = s && s->words[0] == 0 && family_check();
            XFREE(s);
            _exit(ok ? 0 : 1);
        }
        int status;
        cr_assert_eq(waitpid(pid, &status, 0), pid);
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    __atomic_store_n(&workers_done, 1, __ATOMIC_RELEASE);
    pthread_join(t, NULL);
    cr_assert(family_check());
}
