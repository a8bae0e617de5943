/* A stand-in for the part of Criterion the threaded suites use, for the builds with
 * ThreadSanitizer (mk/harden.mk): Criterion itself cannot start under TSan (its inheritable
 * arena is refused: Snaipe/Criterion issue 274). Each Test registers itself; main runs, one by
 * one and each in a forked child, the tests whose "suite/name" matches the --filter pattern
 * (fnmatch with extended patterns; SHIM_DEFAULT_FILTER when none is given), and prints
 * Criterion's summary line, so tests/run.sh counts them like any suite. A failed assertion
 * prints its place and aborts; a race ends the child with TSan's exit code (66). */
#ifndef HK_TESTS_TSAN_SHIM_CRITERION_H
#define HK_TESTS_TSAN_SHIM_CRITERION_H

#include <fnmatch.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SHIM_DEFAULT_FILTER
#define SHIM_DEFAULT_FILTER "*"
#endif
#define SHIM_TSAN_EXIT_CODE 66

struct shim_test {
    const char *suite, *name;
    void (*fn)(void);
    void (*init)(void);
    void (*fini)(void);
    int signal;  /* the signal the test must end with, or 0 */
    int timeout; /* seconds, or 0 for the default */
    struct shim_test *next;
};

static struct shim_test *shim_tests, **shim_last = &shim_tests;

/* Stop at the first race, with TSan's report and exit code; known races of code owned
 * elsewhere are listed in SHIM_TSAN_SUPPRESSIONS (tests/tsan_known_races.supp). */
#ifndef SHIM_TSAN_SUPPRESSIONS
#define SHIM_TSAN_SUPPRESSIONS ""
#endif
const char *__tsan_default_options(void);
const char *__tsan_default_options(void)
{
    return "halt_on_error=1:exitcode=66:second_deadlock_stack=1:print_suppressions=1"
           ":suppressions=" SHIM_TSAN_SUPPRESSIONS;
}

#define Test(S, N, ...)                                                                            \
    static void S##_##N##_run(void);                                                               \
    static struct shim_test S##_##N##_test = {                                                     \
        .suite = #S, .name = #N, .fn = S##_##N##_run, __VA_ARGS__};                                \
    __attribute__((constructor)) static void S##_##N##_register(void)                              \
    {                                                                                              \
        *shim_last = &S##_##N##_test;                                                              \
        shim_last = &S##_##N##_test.next;                                                          \
    }                                                                                              \
    static void S##_##N##_run(void)

__attribute__((noreturn, format(printf, 4, 5))) static void
shim_fail(const char *expr, const char *file, int line, const char *fmt, ...)
{
    fprintf(stderr, "[----] %s:%d: Assertion failed: %s\n[----]   ", file, line, expr);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    abort();
}

#define cr_assert(cond, ...)                                                                       \
    do {                                                                                           \
        if (!(cond)) shim_fail(#cond, __FILE__, __LINE__, " " __VA_ARGS__);                        \
    } while (0)
#define cr_assert_not(cond, ...)    cr_assert(!(cond), __VA_ARGS__)
#define cr_assert_eq(a, b, ...)     cr_assert((a) == (b), __VA_ARGS__)
#define cr_assert_neq(a, b, ...)    cr_assert((a) != (b), __VA_ARGS__)
#define cr_assert_lt(a, b, ...)     cr_assert((a) < (b), __VA_ARGS__)
#define cr_assert_leq(a, b, ...)    cr_assert((a) <= (b), __VA_ARGS__)
#define cr_assert_gt(a, b, ...)     cr_assert((a) > (b), __VA_ARGS__)
#define cr_assert_geq(a, b, ...)    cr_assert((a) >= (b), __VA_ARGS__)
#define cr_assert_null(p, ...)      cr_assert((p) == NULL, __VA_ARGS__)
#define cr_assert_not_null(p, ...)  cr_assert((p) != NULL, __VA_ARGS__)
#define cr_assert_str_eq(a, b, ...) cr_assert(strcmp((a), (b)) == 0, __VA_ARGS__)
#define cr_expect(cond, ...)        cr_assert(cond, __VA_ARGS__)
#define cr_log_warn(...)            (fprintf(stderr, "[WARN] " __VA_ARGS__), fputc('\n', stderr))
#define cr_log_info(...)            ((void)0)

/* Runs one test in a child; true when it ended as it must. */
static bool shim_run(const struct shim_test *t)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        alarm(t->timeout ? (unsigned)t->timeout : 300);
        if (t->init) t->init();
        t->fn();
        if (t->fini) t->fini();
        exit(0); /* exit, not _exit: TSan reports at exit what it found */
    }
    int status = 0;
    waitpid(pid, &status, 0);
    if (t->signal) return WIFSIGNALED(status) && WTERMSIG(status) == t->signal;
    if (WIFEXITED(status) && WEXITSTATUS(status) == SHIM_TSAN_EXIT_CODE)
        fprintf(stderr, "[----] %s::%s: ThreadSanitizer reported a problem (above)\n", t->suite,
                t->name);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

int main(int argc, char **argv)
{
    const char *filter = SHIM_DEFAULT_FILTER;
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "--filter=", 9) == 0) filter = argv[i] + 9;
        if (strcmp(argv[i], "--filter") == 0 && i + 1 < argc) filter = argv[++i];
    }
    unsigned tested = 0, passed = 0;
    for (const struct shim_test *t = shim_tests; t; t = t->next) {
        char full[512];
        snprintf(full, sizeof full, "%s/%s", t->suite, t->name);
        if (fnmatch(filter, full, FNM_EXTMATCH) != 0) continue;
        tested++;
        bool ok = shim_run(t);
        passed += ok;
        fprintf(stderr, "[%s] %s::%s (ThreadSanitizer)\n", ok ? "PASS" : "FAIL", t->suite, t->name);
    }
    fprintf(stderr, "[====] Synthesis: Tested: %u | Passing: %u | Failing: %u | Crashing: 0 \n",
            tested, passed, tested - passed);
    return passed == tested ? 0 : 1;
}

#endif
