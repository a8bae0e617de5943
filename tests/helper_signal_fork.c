/* Helper for the fork tests: a single-threaded process allocates in a loop while a timer signal
 * interrupts it, often inside malloc or free; the handler forks and waits for the child. fork's
 * handlers must take no heap lock here (one thread: the holder may be the interrupted code), so
 * neither process deadlocks, and the parent's heap must stay consistent. Prints "forks=N". */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t forks;

static void on_timer(int sig)
{
    (void)sig;
    pid_t pid = fork();
    if (pid == 0) _exit(0); /* only async-signal-safe work: the heap may be mid-update */
    if (pid > 0) {
        int status;
        waitpid(pid, &status, 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) _exit(3);
        forks++;
    }
}

int main(void)
{
    alarm(25);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_timer;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGPROF, &sa, NULL);
    struct itimerval every = {{0, 2000}, {0, 2000}}; /* 2 ms of CPU time */
    setitimer(ITIMER_PROF, &every, NULL);
    void *slots[256] = {0};
    unsigned state = 1;
    while (forks < 200) {
        state = state * 1103515245u + 12345u;
        unsigned r = state >> 8;
        free(slots[r % 256]);
        slots[r % 256] = malloc(r % 3000 + 1);
    }
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_PROF, &off, NULL);
    for (int i = 0; i < 256; i++) free(slots[i]);
    printf("forks=%d\n", (int)forks);
    return 0;
}
