/* The specs' own build commands (mk/specs.mk, src/Makefile), run the way a user following each
 * spec's README runs them: each in a make of its own on this tree and build directory, one at a
 * time (flock), without the outer make's flags. Each must succeed and do what its spec says. */
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "child.h"

/* Runs `make ARGS` in directory dir (relative to the tree) with this build's BUILD and CC, in
 * an environment without the outer make's flags and without BXFI_MAP (which would make a
 * Criterion binary run by the command believe it is one of this suite's sandboxed workers). */
static child_result_t *run_make(const char *dir, const char *args)
{
    char lock[4200], command[8192];
    if (HK_BUILD_DIR[0] == '/')
        snprintf(lock, sizeof lock, "%s/.spec-commands.lock", HK_BUILD_DIR);
    else
        snprintf(lock, sizeof lock, "%s/%s/.spec-commands.lock", HK_SOURCE_DIR, HK_BUILD_DIR);
    snprintf(command, sizeof command,
             "cd '%s/%s' && exec flock '%s' env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u BXFI_MAP "
             "make --no-print-directory BUILD='%s' CC='%s' %s",
             HK_SOURCE_DIR, dir, lock, HK_BUILD_DIR, HK_CC, args);
    child_result_t *r = malloc(sizeof *r);
    cr_assert_not_null(r);
    child_run(r, command, NULL, 120);
    cr_assert_eq(child_exit_code(r), 0, "%s failed\nstdout: %s\nstderr: %s", command, r->out,
                 r->err);
    return r;
}

static void expect_output(const child_result_t *r, const char *text)
{
    cr_assert_not_null(strstr(r->out, text), "missing \"%s\" in:\n%s", text, r->out);
}

Test(spec000, make_example_builds_and_runs_the_example)
{
    child_result_t *r = run_make(".", "example");
    expect_output(r, "chunks_example: ok");
    free(r);
}

Test(spec000, make_tests_runs_the_memory_allocation_suite)
{
    child_result_t *r = run_make(".", "tests");
    expect_output(r, "test_list_chunks");
    expect_output(r, "heapkit: ");
    expect_output(r, " passed, 0 failed");
    free(r);
}

Test(spec001, make_in_src_builds_libosmem_so_there)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/src/libosmem.so", HK_SOURCE_DIR);
    child_result_t *r = run_make("src", "");
    free(r);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0, "%s was not built", path);
    void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    cr_assert_not_null(lib, "%s", dlerror());
    const char *api[] = {"os_malloc", "os_calloc", "os_realloc", "os_free"};
    for (size_t i = 0; i < sizeof api / sizeof api[0]; i++)
        cr_assert_not_null(dlsym(lib, api[i]), "%s missing", api[i]);
    dlclose(lib);
}

Test(spec002, make_main_builds_and_runs_the_demo)
{
    child_result_t *r = run_make(".", "main");
    expect_output(r, "pool: 3 blocks");
    expect_output(r, "allocated");
    free(r);
}

Test(spec002, make_test_runs_every_suite_the_pool_suite_included)
{
    /* Not run here (this suite is part of it): make -n shows what it would run. */
    child_result_t *r = run_make(".", "-n test");
    expect_output(r, "tests/run.sh");
    expect_output(r, "/tests/test_list_pool");
    free(r);
}

Test(spec003, make_check_runs_t_test1_and_test1_on_the_buddy_library)
{
    child_result_t *r = run_make(".", "check");
    int t_test1 = 0, test1 = 0;
    for (const char *line = r->out; (line = strstr(line, "t-test1: ")) != NULL; line++)
        t_test1++;
    for (const char *line = r->out; (line = strstr(line, "\ntest1: ")) != NULL; line++)
        test1++;
    cr_assert_eq(t_test1, 2, "t-test1 runs with the sbrk heap and with chunks:\n%s", r->out);
    cr_assert_eq(test1, 2, "test1 runs with the sbrk heap and with chunks:\n%s", r->out);
    cr_assert_null(strstr(r->out, "FAILED"), "%s", r->out);
    expect_output(r, ": ok");
    expect_output(r, " 0 failed");
    free(r);
}

Test(spec004, make_test_application_builds_and_runs_it)
{
    child_result_t *r = run_make(".", "test_application");
    expect_output(r, "emp_t");
    expect_output(r, "student_t");
    free(r);
}
