/* A program that starts another process: it allocates, forks, and its child executes this
 * program again with the argument "child" (which allocates and exits); the parent waits and
 * exits 0. Run under heapkit run --dump-dir, it leaves two dumps, one per pid. */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void *keep[64];

static void allocate_some(void)
{
    for (int i = 0; i < 64; i++) {
        keep[i] = malloc((size_t)(i * 37 % 3000) + 1);
        memset(keep[i], i, 1);
    }
    for (int i = 0; i < 64; i += 3)
        free(keep[i]);
}

int main(int argc, char **argv)
{
    allocate_some();
    if (argc > 1 && strcmp(argv[1], "child") == 0) return 0;
    pid_t pid = fork();
    if (pid < 0) return 1;
    if (pid == 0) {
        execl("/proc/self/exe", argv[0], "child", (char *)NULL);
        _exit(127);
    }
    int status;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return 2;
    return 0;
}
