/* Runs one misuse case (helper_misuse_cases) in a child process under one product and mode, or
 * under glibc's malloc, and says how it ended. Shared by test_misuse_cases.c and
 * misuse_table.c. The child gets a clean environment for heapkit (no HEAPKIT_* or LD_PRELOAD of
 * the parent's), no core dump, and 20 seconds. */
#ifndef HK_TESTS_MISUSE_RUN_H
#define HK_TESTS_MISUSE_RUN_H

#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "misuse_cases.h"

typedef enum {
    OUTCOME_ABORT, /* SIGABRT (for heapkit, after one "heapkit: " line) */
    OUTCOME_FAULT, /* SIGSEGV or SIGBUS */
    OUTCOME_NONE,  /* ran to its end: not caught */
    OUTCOME_NA,    /* the process has no such function (exit 77) */
    OUTCOME_ERROR, /* anything else: another signal, another exit code, a time-out */
} misuse_outcome_t;

typedef struct {
    misuse_outcome_t outcome;
    int status;     /* the raw wait status */
    char err[4096]; /* the child's stderr */
} misuse_result_t;

extern char **environ;

/* Runs helper (a path) with case name under library lib (a path, or NULL for glibc) and the
 * extra environment entry env (or NULL). */
static inline void misuse_run(misuse_result_t *r, const char *helper, const char *name,
                              const char *lib, const char *env)
{
    int err_pipe[2];
    if (pipe(err_pipe) != 0) abort();
    char preload[4200];
    snprintf(preload, sizeof preload, "LD_PRELOAD=%s", lib ? lib : "");
    const char *child_env[512];
    size_t n = 0;
    for (char **e = environ; *e && n < 500; e++)
        if (strncmp(*e, "HEAPKIT_", 8) != 0 && strncmp(*e, "LD_PRELOAD=", 11) != 0)
            child_env[n++] = *e;
    if (lib) child_env[n++] = preload;
    if (env) child_env[n++] = env;
    child_env[n] = NULL;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);
        dup2(null, 0);
        dup2(null, 1);
        dup2(err_pipe[1], 2);
        close(err_pipe[0]);
        close(err_pipe[1]);
        struct rlimit no_core = {0, 0};
        setrlimit(RLIMIT_CORE, &no_core);
        alarm(20);
        execve(helper, (char *const[]){(char *)helper, (char *)name, NULL},
               (char *const *)child_env);
        _exit(127);
    }
    close(err_pipe[1]);
    size_t len = 0;
    ssize_t got;
    char scratch[1024];
    while ((got = read(err_pipe[0], len + 1 < sizeof r->err ? r->err + len : scratch,
                       len + 1 < sizeof r->err ? sizeof r->err - 1 - len : sizeof scratch)) > 0)
        if (len + 1 < sizeof r->err) len += (size_t)got;
    r->err[len] = '\0';
    close(err_pipe[0]);
    waitpid(pid, &r->status, 0);
    if (WIFSIGNALED(r->status) && WTERMSIG(r->status) == SIGABRT)
        r->outcome = OUTCOME_ABORT;
    else if (WIFSIGNALED(r->status) &&
             (WTERMSIG(r->status) == SIGSEGV || WTERMSIG(r->status) == SIGBUS))
        r->outcome = OUTCOME_FAULT;
    else if (WIFEXITED(r->status) && WEXITSTATUS(r->status) == 0)
        r->outcome = OUTCOME_NONE;
    else if (WIFEXITED(r->status) && WEXITSTATUS(r->status) == 77)
        r->outcome = OUTCOME_NA;
    else
        r->outcome = OUTCOME_ERROR;
}

/* The words heapkit's reports start with (core/misuse.h): an ABORT must have printed exactly
 * one line "heapkit: <one of these> …". */
static inline bool misuse_report_is_one_line(const char *err)
{
    static const char *const kinds[] = {
        "double free of ",         "invalid pointer ",     "use of freed pointer ",
        "heap overflow of ",       "write after free of ", "corrupted block header of ",
        "corrupted free list at ", "wrong size for ",      "heap corrupted ",
    };
    const char *line = strstr(err, "heapkit: ");
    if (!line || strstr(line + 1, "heapkit: ")) return false;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (strncmp(line + 9, kinds[i], strlen(kinds[i])) == 0) return true;
    return false;
}

static inline const char *misuse_outcome_word(misuse_outcome_t outcome)
{
    switch (outcome) {
    case OUTCOME_ABORT:
        return "stopped";
    case OUTCOME_FAULT:
        return "fault";
    case OUTCOME_NONE:
        return "no";
    case OUTCOME_NA:
        return "n/a";
    case OUTCOME_ERROR:
        break;
    }
    return "error";
}

#endif
