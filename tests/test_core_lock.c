/* The fork registry: every registered lock is taken before fork and usable in the child. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <sys/wait.h>
#include <string.h>
#include <unistd.h>

#include "core/lock.h"

static hk_lock_t lock_a = HK_LOCK_INIT;
static hk_lock_t lock_b = HK_LOCK_INIT;
static int child_hook_ran;

static void child_hook(void) { child_hook_ran = 1; }

static void *idle_thread(void *arg)
{
    (void)arg;
    return NULL;
}

Test(lock, registration_is_idempotent)
{
    hk_lock_register(&lock_a);
    hk_lock_register(&lock_a);
    hk_lock_register(&lock_b);
    cr_assert(lock_a.registered && lock_b.registered);
    cr_assert_eq(lock_a.next, &lock_b, "registry keeps registration order, each lock once");
}

Test(lock, prepare_takes_every_lock_when_threads_exist)
{
    pthread_t t;
    pthread_create(&t, NULL, idle_thread, NULL); /* makes the process multi-threaded */
    pthread_join(t, NULL);
    hk_lock_register(&lock_a);
    hk_lock_register(&lock_b);
    hk_fork_prepare();
    cr_assert(!hk_trylock(&lock_a), "prepare must hold lock a");
    cr_assert(!hk_trylock(&lock_b), "prepare must hold lock b");
    hk_fork_parent();
    cr_assert(hk_trylock(&lock_a), "parent handler must release lock a");
    hk_unlock(&lock_a);
}

Test(lock, child_of_threaded_parent_can_take_locks)
{
    pthread_t t;
    pthread_create(&t, NULL, idle_thread, NULL);
    pthread_join(t, NULL);
    hk_lock_register(&lock_a);
    hk_fork_hooks_register(NULL, NULL, child_hook);
    pid_t pid = fork();
    if (pid == 0) {
        int ok = hk_trylock(&lock_a) && child_hook_ran;
        _exit(ok ? 0 : 1);
    }
    int status;
    waitpid(pid, &status, 0);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    cr_assert(hk_trylock(&lock_a), "parent keeps a usable lock");
    hk_unlock(&lock_a);
}

Test(lock, single_threaded_fork_takes_no_lock)
{
    /* Criterion's workers have threads, so the single-threaded case runs in a fresh process:
     * it holds a registered lock (as if a signal handler interrupted its holder) and forks. */
    char path[4096];
    ssize_t n = readlink("/proc/self/exe", path, sizeof path - 32);
    cr_assert_gt(n, 0);
    path[n] = '\0';
    strcpy(strrchr(path, '/') + 1, "helper_single_fork");
    pid_t pid = fork();
    if (pid == 0) {
        alarm(10); /* a deadlock fails the test instead of hanging it */
        execl(path, path, (char *)NULL);
        _exit(127);
    }
    int status;
    waitpid(pid, &status, 0);
    cr_assert(WIFEXITED(status), "helper was killed by signal %d", WTERMSIG(status));
    cr_assert_eq(WEXITSTATUS(status), 0);
}
