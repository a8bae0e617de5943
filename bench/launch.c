/* Measuring launcher used by bench/run.py:
 *   launch RESULT_FILE PRELOAD|- PROGRAM [ARGS...]
 * Forks, sets LD_PRELOAD (unless "-") in the child only, execs PROGRAM, waits with wait4 and
 * writes "<ru_maxrss KiB> <exit status> <user+system CPU seconds>" to RESULT_FILE; exits with
 * the program's status.
 * Why not measure from python3 directly: ru_maxrss survives exec, so a child forked from the
 * runner would report at least the runner's own RSS (~18 MiB). Forked from this small process,
 * the floor is about 1 MiB and the same for every allocator. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: launch RESULT_FILE PRELOAD|- PROGRAM [ARGS...]\n");
        return 2;
    }
    pid_t pid = fork();
    if (pid < 0) {
        perror("launch: fork");
        return 127;
    }
    if (pid == 0) {
        if (strcmp(argv[2], "-") != 0 && setenv("LD_PRELOAD", argv[2], 1) != 0)
            _exit(127);
        execvp(argv[3], argv + 3);
        fprintf(stderr, "launch: cannot run %s: %s\n", argv[3], strerror(errno));
        _exit(127);
    }
    int status;
    struct rusage ru;
    while (wait4(pid, &status, 0, &ru) < 0)
        if (errno != EINTR) {
            perror("launch: wait4");
            return 127;
        }
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    FILE *f = fopen(argv[1], "w");
    double cpu = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                 (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
    if (!f || fprintf(f, "%ld %d %.6f\n", ru.ru_maxrss, code, cpu) < 0 || fclose(f) != 0) {
        perror(argv[1]);
        return 127;
    }
    return code;
}
