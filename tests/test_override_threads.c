/* Threads and fork on a malloc-replacement product: cross-thread frees, thread churn, frees
 * after a thread has exited, malloc inside thread-exit destructors, and fork while other
 * threads allocate. The binary links the product, so every allocation here is the product's. */
#include <criterion/criterion.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"

/* A block carries its size and a pattern derived from it, so the consumer can verify it. */
static void *make_block(size_t size, unsigned seed)
{
    unsigned char *p = malloc(size);
    if (!p) abort(); /* worker threads cannot use Criterion's assertions */
    for (size_t i = 0; i < size; i++) p[i] = (unsigned char)(seed + i);
    return p;
}

static void check_block(const unsigned char *p, size_t size, unsigned seed)
{
    for (size_t i = 0; i < size; i++)
        if (p[i] != (unsigned char)(seed + i)) {
            fprintf(stderr, "block %p corrupted at byte %zu\n", (const void *)p, i);
            abort();
        }
}

static unsigned next_random(unsigned *state)
{
    *state = *state * 1103515245u + 12345u;
    return *state >> 8;
}

/* ---- producer/consumer: every block is freed by a thread that did not allocate it ---------- */

enum { RING = 1024, PRODUCERS = 3, ITEMS = 40000 };

typedef struct {
    void *block;
    size_t size;
    unsigned seed;
} item_t;

static item_t ring[RING];
static atomic_size_t head, tail;
static atomic_int producers_left;
static pthread_mutex_t ring_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ring_cond = PTHREAD_COND_INITIALIZER;

static void ring_push(item_t item)
{
    pthread_mutex_lock(&ring_lock);
    while (head - tail == RING) pthread_cond_wait(&ring_cond, &ring_lock);
    ring[head % RING] = item;
    head++;
    pthread_cond_broadcast(&ring_cond);
    pthread_mutex_unlock(&ring_lock);
}

static int ring_pop(item_t *item)
{
    pthread_mutex_lock(&ring_lock);
    while (head == tail && atomic_load(&producers_left) > 0)
        pthread_cond_wait(&ring_cond, &ring_lock);
    int got = head != tail;
    if (got) {
        *item = ring[tail % RING];
        tail++;
        pthread_cond_broadcast(&ring_cond);
    }
    pthread_mutex_unlock(&ring_lock);
    return got;
}

static void *producer(void *arg)
{
    unsigned state = (unsigned)(uintptr_t)arg;
    for (int i = 0; i < ITEMS / PRODUCERS; i++) {
        unsigned r = next_random(&state);
        size_t size = r % 8 == 0 ? r % 20000 + 1 : r % 300 + 1;
        ring_push((item_t){make_block(size, r), size, r});
    }
    pthread_mutex_lock(&ring_lock);
    atomic_fetch_sub(&producers_left, 1);
    pthread_cond_broadcast(&ring_cond);
    pthread_mutex_unlock(&ring_lock);
    return NULL;
}

static void *consumer(void *arg)
{
    (void)arg;
    item_t item;
    long count = 0;
    while (ring_pop(&item)) {
        check_block(item.block, item.size, item.seed);
        free(item.block);
        count++;
    }
    return (void *)count;
}

Test(threads, blocks_freed_by_other_threads_stay_intact_and_are_reused)
{
    pthread_t producers[PRODUCERS], consumers[2];
    atomic_store(&producers_left, PRODUCERS);
    for (int i = 0; i < PRODUCERS; i++)
        pthread_create(&producers[i], NULL, producer, (void *)(uintptr_t)(i + 1));
    for (int i = 0; i < 2; i++) pthread_create(&consumers[i], NULL, consumer, NULL);
    for (int i = 0; i < PRODUCERS; i++) pthread_join(producers[i], NULL);
    long consumed = 0;
    for (int i = 0; i < 2; i++) {
        void *count;
        pthread_join(consumers[i], &count);
        consumed += (long)count;
    }
    cr_assert_eq(consumed, (ITEMS / PRODUCERS) * PRODUCERS);
    struct mallinfo2 info = mallinfo2();
    cr_assert_lt(info.uordblks + info.hblkhd, (size_t)64 << 20,
                 "memory freed by other threads must be reusable (in use: %zu)",
                 info.uordblks + info.hblkhd);
}

/* ---- thread churn and frees after the allocating thread has exited ------------------------ */

typedef struct {
    void *keep[64];
    unsigned seed;
} churn_t;

static void *short_lived(void *arg)
{
    churn_t *c = arg;
    unsigned state = c->seed;
    void *scratch[200];
    for (int i = 0; i < 200; i++) scratch[i] = malloc(next_random(&state) % 2000 + 1);
    for (int i = 0; i < 200; i++) free(scratch[i]);
    for (int i = 0; i < 64; i++) c->keep[i] = make_block((size_t)(i * 13 + 1), c->seed + i);
    return NULL;
}

Test(threads, memory_of_exited_threads_can_be_freed_and_reused)
{
    static churn_t work[400];
    for (int round = 0; round < 100; round++) {
        pthread_t t[4];
        for (int i = 0; i < 4; i++) {
            work[round * 4 + i].seed = (unsigned)(round * 4 + i);
            pthread_create(&t[i], NULL, short_lived, &work[round * 4 + i]);
        }
        for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    }
    for (int w = 0; w < 400; w++)
        for (int i = 0; i < 64; i++) {
            check_block(work[w].keep[i], (size_t)(i * 13 + 1), work[w].seed + i);
            free(work[w].keep[i]);
        }
    struct mallinfo2 info = mallinfo2();
    cr_assert_lt(info.uordblks + info.hblkhd, (size_t)64 << 20,
                 "400 exited threads must not leave their memory stranded");
}

/* ---- malloc and free inside thread-exit destructors --------------------------------------- */

static pthread_key_t key;
static atomic_int destructor_runs;

static void destructor(void *value)
{
    free(value);
    if (atomic_fetch_add(&destructor_runs, 1) % 2 == 0) {
        /* Allocating again re-arms the key: the destructor runs once more. */
        char *again = malloc(500);
        memset(again, 3, 500);
        pthread_setspecific(key, again);
    }
}

static void *uses_key(void *arg)
{
    (void)arg;
    pthread_setspecific(key, malloc(100));
    void *p = malloc(3000);
    free(p);
    return NULL;
}

Test(threads, destructors_may_allocate_and_free_at_thread_exit)
{
    pthread_key_create(&key, destructor);
    for (int i = 0; i < 50; i++) {
        pthread_t t;
        pthread_create(&t, NULL, uses_key, NULL);
        pthread_join(t, NULL);
    }
    cr_assert_eq(atomic_load(&destructor_runs), 100);
}

/* ---- fork ---------------------------------------------------------------------------------- */

static atomic_int stop_churn;

static void *churn(void *arg)
{
    unsigned state = (unsigned)(uintptr_t)arg;
    void *slots[64] = {0};
    while (!atomic_load(&stop_churn)) {
        unsigned r = next_random(&state);
        free(slots[r % 64]);
        slots[r % 64] = malloc(r % 4096 + 1);
    }
    for (int i = 0; i < 64; i++) free(slots[i]);
    return NULL;
}

Test(fork, child_of_a_threaded_parent_can_allocate)
{
    pthread_t t[3];
    atomic_store(&stop_churn, 0);
    for (int i = 0; i < 3; i++) pthread_create(&t[i], NULL, churn, (void *)(uintptr_t)(i + 7));
    for (int round = 0; round < 40; round++) {
        pid_t pid = fork();
        if (pid == 0) {
            alarm(10); /* a deadlock becomes a failure, not a hang */
            unsigned state = 99;
            void *blocks[500];
            for (int i = 0; i < 500; i++) blocks[i] = make_block(next_random(&state) % 5000 + 1, i);
            for (int i = 0; i < 500; i++) free(blocks[i]);
            pthread_t inner;
            pthread_create(&inner, NULL, short_lived, &(churn_t){.seed = 5});
            pthread_join(inner, NULL);
            _exit(0);
        }
        int status;
        cr_assert_eq(waitpid(pid, &status, 0), pid);
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "child %d failed (status %#x)", round, status);
    }
    atomic_store(&stop_churn, 1);
    for (int i = 0; i < 3; i++) pthread_join(t[i], NULL);
}

/* glibc's fork takes its stdio list lock after the prepare handlers have run. A thread in
 * fflush(NULL) holds that lock and waits for a stream that another thread holds while getline
 * grows its buffer with malloc: an allocator that locks its heaps in a prepare handler must take
 * the stdio lock first, or fork, fflush and getline wait on one another forever. */
static FILE *shared_stream;

static void *read_lines(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop_churn)) {
        char *line = NULL;
        size_t cap = 0;
        if (getline(&line, &cap, shared_stream) < 0) rewind(shared_stream);
        free(line);
    }
    return NULL;
}

static void *flush_all_streams(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop_churn)) fflush(NULL);
    return NULL;
}

static void *resize_blocks(void *arg)
{
    unsigned state = (unsigned)(uintptr_t)arg;
    void *slots[32] = {0};
    while (!atomic_load(&stop_churn)) {
        unsigned r = next_random(&state);
        void **slot = &slots[r % 32];
        if (r % 3 == 0) {
            free(*slot);
            *slot = NULL;
        } else {
            void *grown = realloc(*slot, r % 3000 + 1);
            if (!grown) abort();
            *slot = grown;
        }
    }
    for (int i = 0; i < 32; i++) free(slots[i]);
    return NULL;
}

Test(fork, repeated_forks_while_threads_allocate_and_use_stdio_do_not_deadlock, .timeout = 60)
{
    shared_stream = tmpfile();
    cr_assert_not_null(shared_stream);
    for (int i = 0; i < 4000; i++) fprintf(shared_stream, "%0*d\n", 40 + i % 300, i);
    rewind(shared_stream);
    atomic_store(&stop_churn, 0);
    pthread_t t[4];
    pthread_create(&t[0], NULL, read_lines, NULL);
    pthread_create(&t[1], NULL, flush_all_streams, NULL);
    pthread_create(&t[2], NULL, resize_blocks, (void *)(uintptr_t)3);
    pthread_create(&t[3], NULL, churn, (void *)(uintptr_t)4);
    for (int round = 0; round < 300; round++) {
        pid_t pid = fork();
        if (pid == 0) {
            alarm(10); /* a deadlock in the child becomes a failure, not a hang */
            char *blocks[64];
            for (int i = 0; i < 64; i++) blocks[i] = make_block((size_t)(i * 61 + 1), i);
            for (int i = 0; i < 64; i++) free(blocks[i]);
            _exit(0);
        }
        cr_assert_gt(pid, 0, "fork failed");
        int status;
        cr_assert_eq(waitpid(pid, &status, 0), pid);
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child %d failed (status %#x)",
                  round, status);
    }
    atomic_store(&stop_churn, 1);
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    fclose(shared_stream);
}

Test(fork, single_threaded_fork_from_a_signal_handler_is_safe)
{
    char dir[4096], command[4200];
    child_self_dir(dir, sizeof dir);
    snprintf(command, sizeof command, "exec %shelper_signal_fork_%s", dir, HK_PRODUCT_NAME);
    child_result_t *r = malloc(sizeof *r);
    child_run(r, command, NULL, 30);
    cr_assert_eq(child_exit_code(r), 0, "stderr: %s", r->err);
    cr_assert_not_null(strstr(r->out, "forks="), "output: %s", r->out);
    free(r);
}
