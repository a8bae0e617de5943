/* Helper for test_core_lock: a single-threaded process forks while it holds a registered lock
 * (what a signal handler that interrupted malloc sees). fork must not block, and the child must
 * find the lock free. Exit 0 on success. */
#include <sys/wait.h>
#include <unistd.h>

#include "core/lock.h"

static hk_lock_t held = HK_LOCK_INIT;

int main(void)
{
    hk_lock_register(&held);
    hk_lock(&held);
    pid_t pid = fork();
    if (pid == 0) _exit(hk_trylock(&held) ? 0 : 1);
    int status;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return 2;
    hk_unlock(&held);
    return WEXITSTATUS(status);
}
