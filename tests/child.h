/* Test helper: runs a shell command in a child process, optionally with heapkit preloaded, and
 * captures its stdout, stderr and exit status. Header-only so each suite takes what it needs. */
#ifndef HK_TESTS_CHILD_H
#define HK_TESTS_CHILD_H

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct {
    int status;       /* raw wait status */
    char out[65536];  /* stdout, NUL-terminated, truncated if longer */
    char err[16384];  /* stderr, likewise */
} child_result_t;

static inline size_t child_read_all(int fd, char *buf, size_t cap)
{
    size_t len = 0;
    for (;;) {
        char scratch[4096];
        ssize_t n = read(fd, len + 1 < cap ? buf + len : scratch,
                         len + 1 < cap ? cap - 1 - len : sizeof scratch);
        if (n <= 0) break;
        if (len + 1 < cap) len += (size_t)n;
    }
    buf[len] = '\0';
    return len;
}

/* Runs `sh -c command`; env_extra is "NAME=value" strings ending in NULL (may be NULL).
 * The child gets timeout_s seconds before SIGKILL. */
static inline void child_run(child_result_t *r, const char *command, const char *const *env_extra,
                      unsigned timeout_s)
{
    int out_pipe[2], err_pipe[2];
    if (pipe(out_pipe) || pipe(err_pipe)) abort();
    pid_t pid = fork();
    if (pid == 0) {
        dup2(out_pipe[1], 1);
        dup2(err_pipe[1], 2);
        close(out_pipe[0]), close(err_pipe[0]), close(out_pipe[1]), close(err_pipe[1]);
        for (const char *const *e = env_extra; e && *e; e++) putenv((char *)*e);
        alarm(timeout_s);
        execl("/bin/sh", "sh", "-c", command, (char *)NULL);
        _exit(127);
    }
    close(out_pipe[1]), close(err_pipe[1]);
    /* Read stderr in a second child-free way: drain stdout first, then stderr; commands in the
     * suites write little to stderr, so the pipe buffer (64 KiB) cannot fill and block them. */
    child_read_all(out_pipe[0], r->out, sizeof r->out);
    child_read_all(err_pipe[0], r->err, sizeof r->err);
    close(out_pipe[0]), close(err_pipe[0]);
    waitpid(pid, &r->status, 0);
}

static inline int child_exit_code(const child_result_t *r)
{
    return WIFEXITED(r->status) ? WEXITSTATUS(r->status) : 128 + WTERMSIG(r->status);
}

/* Directory of the running test binary, with a trailing slash. */
static inline void child_self_dir(char *buf, size_t cap)
{
    ssize_t n = readlink("/proc/self/exe", buf, cap - 1);
    if (n <= 0) abort();
    buf[n] = '\0';
    strrchr(buf, '/')[1] = '\0';
}

#endif
