/* Locks and the fork registry. Every lock an engine holds across a fork-sensitive section is
 * registered once; a pthread_atfork handler (installed lazily, on the first registration) then
 * takes all of them in registration order before fork, releases them in the parent and
 * re-initialises them in the child, so a child of a threaded parent can allocate. Before them it
 * takes the C library's stream-list lock, which fork itself takes only after the prepare
 * handlers: stdio holds that lock while it waits for streams whose holders may be allocating.
 *
 * Rules for engines: never hold two registered locks at once unless you take them in
 * registration order; never allocate while holding one (fork handlers of other libraries may).
 *
 * In a process with a single thread the prepare handler takes no lock at all (as glibc's own
 * malloc does), so fork() from a signal handler that interrupted malloc cannot deadlock. */
#ifndef HK_CORE_LOCK_H
#define HK_CORE_LOCK_H

#include <pthread.h>
#include <stdbool.h>

typedef struct hk_lock {
    pthread_mutex_t mutex;      /* the lock itself */
    struct hk_lock *next;       /* next in the fork registry, in registration order */
    int registered;             /* set once it is in the registry */
} hk_lock_t;

#define HK_LOCK_INIT {PTHREAD_MUTEX_INITIALIZER, NULL, 0}

void hk_lock_init(hk_lock_t *lock);

static inline void hk_lock(hk_lock_t *lock)
{
    pthread_mutex_lock(&lock->mutex);
}

static inline bool hk_trylock(hk_lock_t *lock)
{
    return pthread_mutex_trylock(&lock->mutex) == 0;
}

static inline void hk_unlock(hk_lock_t *lock)
{
    pthread_mutex_unlock(&lock->mutex);
}

/* Adds lock to the fork registry (idempotent, thread-safe, allocation-free). */
void hk_lock_register(hk_lock_t *lock);

/* Extra work around fork for engines: run after all locks are taken (prepare), and after they
 * are released (parent) or re-initialised (child). At most HK_FORK_HOOKS_MAX hooks; any of the
 * three may be NULL. Returns false when the table is full. */
#define HK_FORK_HOOKS_MAX 16
bool hk_fork_hooks_register(void (*prepare)(void), void (*parent)(void), void (*child)(void));

/* The handlers themselves, exposed so tests can drive them without forking. */
void hk_fork_prepare(void);
void hk_fork_parent(void);
void hk_fork_child(void);

#endif
