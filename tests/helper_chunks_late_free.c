/* Test helper for spec 000: memory_allocation used after its library's destructor has run.
 * Linked with libmemory_allocation.a, so the library's destructor is one of this program's; a
 * destructor of priority 101 runs after every destructor of default priority (the library's
 * included), and an atexit handler it registers runs later still. Both free a block allocated
 * in main and allocate again. pthread_mutex_lock and pthread_mutex_unlock are wrapped here, so
 * a lock call that fails (a destroyed mutex answers EINVAL and locks nothing) is counted.
 * Prints "late frees: N lock failures: M" and exits 0 only when all went well. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "memory_allocation.h"

static int lock_failures;
static int late_frees;
static void *kept_for_destructor;
static void *kept_for_atexit;

typedef int (*mutex_call_t)(pthread_mutex_t *);

static mutex_call_t next_symbol(const char *name)
{
    mutex_call_t call;
    void *symbol = dlsym(RTLD_NEXT, name);
    memcpy(&call, &symbol, sizeof call);
    if (!call) abort();
    return call;
}

int pthread_mutex_lock(pthread_mutex_t *mutex)
{
    static mutex_call_t real;
    if (!real) real = next_symbol("pthread_mutex_lock");
    int error = real(mutex);
    if (error) lock_failures++;
    return error;
}

int pthread_mutex_unlock(pthread_mutex_t *mutex)
{
    static mutex_call_t real;
    if (!real) real = next_symbol("pthread_mutex_unlock");
    int error = real(mutex);
    if (error) lock_failures++;
    return error;
}

/* Frees block, then allocates, fills and frees another: the library must still work. */
static void use_late(void *block)
{
    free_memory(block);
    char *again = allocate_memory(300);
    if (!again) {
        printf("allocate_memory failed after the library's destructor\n");
        _exit(1);
    }
    memset(again, 7, 300);
    free_memory(again);
    late_frees++;
}

static void report(void)
{
    use_late(kept_for_atexit);
    printf("late frees: %d lock failures: %d\n", late_frees, lock_failures);
    fflush(stdout);
    _exit(late_frees == 2 && lock_failures == 0 ? 0 : 1);
}

__attribute__((destructor(101))) static void after_library_destructor(void)
{
    use_late(kept_for_destructor);
    atexit(report);
}

int main(void)
{
    kept_for_destructor = allocate_memory(64);
    kept_for_atexit = allocate_memory(5000);
    if (!kept_for_destructor || !kept_for_atexit) return 1;
    return 0;
}
