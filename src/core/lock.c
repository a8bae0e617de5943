/* Lock registry and fork handling (see lock.h). */
#include "core/lock.h"

#include <sys/single_threaded.h>

typedef struct {
    void (*prepare)(void);
    void (*parent)(void);
    void (*child)(void);
} fork_hooks_t;

/* The C library's lock on its list of streams (glibc exports these three; weak, so a C library
 * without them simply skips this step). fork takes that lock only after every prepare handler
 * has run, yet a thread may hold it (fflush(NULL) walking the streams) while it waits for a
 * stream that another thread holds inside getline, which allocates: the stream list comes
 * before the allocator's locks. Taking it here first keeps that order (it is recursive, so
 * fork's own acquisition then just counts); fork resets it in the child. */
extern void _IO_list_lock(void) __attribute__((weak));
extern void _IO_list_unlock(void) __attribute__((weak));
extern void _IO_list_resetlock(void) __attribute__((weak));

static pthread_mutex_t registry_mutex = PTHREAD_MUTEX_INITIALIZER;
static hk_lock_t *registry_head;
static hk_lock_t *registry_tail;
static fork_hooks_t hooks[HK_FORK_HOOKS_MAX];
static unsigned hook_count;
static int atfork_installed;
static int fork_took_locks; /* whether prepare locked (it does not when single-threaded) */

void hk_lock_init(hk_lock_t *lock)
{
    pthread_mutex_init(&lock->mutex, NULL);
    lock->next = NULL;
    lock->registered = 0;
}

/* Called with registry_mutex held. pthread_atfork does not allocate for the first few
 * handlers in glibc, and it is called once per process. */
static void install_atfork_locked(void)
{
    if (!atfork_installed) {
        atfork_installed = 1;
        pthread_atfork(hk_fork_prepare, hk_fork_parent, hk_fork_child);
    }
}

void hk_lock_register(hk_lock_t *lock)
{
    if (__atomic_load_n(&lock->registered, __ATOMIC_ACQUIRE)) return;
    pthread_mutex_lock(&registry_mutex);
    if (!lock->registered) {
        lock->next = NULL;
        if (registry_tail) registry_tail->next = lock;
        else registry_head = lock;
        registry_tail = lock;
        __atomic_store_n(&lock->registered, 1, __ATOMIC_RELEASE);
        install_atfork_locked();
    }
    pthread_mutex_unlock(&registry_mutex);
}

bool hk_fork_hooks_register(void (*prepare)(void), void (*parent)(void), void (*child)(void))
{
    bool ok = false;
    pthread_mutex_lock(&registry_mutex);
    if (hook_count < HK_FORK_HOOKS_MAX) {
        hooks[hook_count++] = (fork_hooks_t){prepare, parent, child};
        install_atfork_locked();
        ok = true;
    }
    pthread_mutex_unlock(&registry_mutex);
    return ok;
}

void hk_fork_prepare(void)
{
    /* One thread: nobody else can hold a lock, and the only holder could be code this thread
     * interrupted (a signal handler that forks); taking the lock would deadlock. */
    fork_took_locks = !__libc_single_threaded;
    if (!fork_took_locks) return;
    if (_IO_list_lock) _IO_list_lock();
    pthread_mutex_lock(&registry_mutex);
    for (hk_lock_t *l = registry_head; l; l = l->next) hk_lock(l);
    for (unsigned i = 0; i < hook_count; i++)
        if (hooks[i].prepare) hooks[i].prepare();
}

void hk_fork_parent(void)
{
    if (!fork_took_locks) return;
    for (unsigned i = 0; i < hook_count; i++)
        if (hooks[i].parent) hooks[i].parent();
    for (hk_lock_t *l = registry_head; l; l = l->next) hk_unlock(l);
    pthread_mutex_unlock(&registry_mutex);
    if (_IO_list_unlock) _IO_list_unlock();
}

void hk_fork_child(void)
{
    /* The child has one thread: re-initialise rather than unlock, since a mutex's owner is the
     * parent's thread id. When prepare took nothing, this also clears a lock the interrupted
     * code held, which is what lets the child allocate. */
    for (hk_lock_t *l = registry_head; l; l = l->next) pthread_mutex_init(&l->mutex, NULL);
    for (unsigned i = 0; i < hook_count; i++)
        if (hooks[i].child) hooks[i].child();
    pthread_mutex_init(&registry_mutex, NULL);
    /* fork has already reset the stream list lock in a child of a threaded parent; resetting
     * it again is harmless and also covers a prepare that took it without fork doing so. */
    if (fork_took_locks && _IO_list_resetlock) _IO_list_resetlock();
}
