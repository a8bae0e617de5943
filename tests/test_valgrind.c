/* Every example program of the list heap and the page families, and a randomized workload
 * through the list heap's three seed APIs, run under valgrind's memcheck: none of these
 * allocators is the process's malloc, so memcheck sees their system calls and every byte they
 * touch. A run passes when the program exits 0 and valgrind reports nothing (no invalid read
 * or write, no use of uninitialised memory, no definitely lost malloc'd block).
 *
 * helper_list_workload_vg is the same workload linked with the list heap built with valgrind
 * client requests: then memcheck knows the heap's blocks too. Its workload must stay clean (no
 * false reports), and each misuse it commits on request must be reported. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "child.h"

#define VG_TIMEOUT_S 180

typedef struct {
    child_result_t run;
    char log[8192]; /* what valgrind wrote (its own log file, not the program's stderr) */
    bool log_seen;  /* the log file was created: valgrind really ran */
} vg_result_t;

static void slurp(const char *path, char *buf, size_t cap, bool *seen)
{
    buf[0] = '\0';
    FILE *f = fopen(path, "r");
    *seen = f != NULL;
    if (!f) return;
    size_t n = fread(buf, 1, cap - 1, f);
    buf[n] = '\0';
    fclose(f);
}

/* Runs dir_rel/name (relative to this binary's directory) with args under memcheck, with
 * preload_rel (relative to this binary's directory, or NULL) preloaded, valgrind's own options
 * (or "") and one more environment variable (NAME=value, or NULL). */
static void vg_run_preloaded(vg_result_t *r, const char *dir_rel, const char *name,
                             const char *args, const char *preload_rel, const char *options,
                             const char *env_extra)
{
    char self[4096], prog[4200];
    child_self_dir(self, sizeof self);
    snprintf(prog, sizeof prog, "%s%s%s", self, dir_rel, name);
    struct stat st;
    cr_assert_eq(stat(prog, &st), 0, "%s is not built", prog);

    char dir[] = "/tmp/heapkit-vg-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char log_path[64], command[8600];
    snprintf(log_path, sizeof log_path, "%s/valgrind.log", dir);
    snprintf(command, sizeof command,
             "exec valgrind --error-exitcode=99 --leak-check=full "
             "--errors-for-leak-kinds=definite -q %s --log-file=%s '%s' %s </dev/null",
             options, log_path, prog, args);
    char preload[4200];
    const char *env[3] = {NULL, NULL, NULL};
    size_t n = 0;
    if (preload_rel) {
        snprintf(preload, sizeof preload, "LD_PRELOAD=%s%s", self, preload_rel);
        env[n++] = preload;
    }
    if (env_extra) env[n++] = env_extra;
    child_run(&r->run, command, env, VG_TIMEOUT_S);
    slurp(log_path, r->log, sizeof r->log, &r->log_seen);
    unlink(log_path);
    rmdir(dir);
}

static void vg_run(vg_result_t *r, const char *dir_rel, const char *name, const char *args)
{
    vg_run_preloaded(r, dir_rel, name, args, NULL, "", NULL);
}

static void assert_clean(const char *dir_rel, const char *name, const char *args)
{
    vg_result_t *r = calloc(1, sizeof *r);
    cr_assert_not_null(r);
    vg_run(r, dir_rel, name, args);
    int code = child_exit_code(&r->run);
    cr_assert_neq(code, 127, "valgrind not found (tools/deps.sh test installs it): %s", r->run.err);
    cr_assert(r->log_seen, "valgrind wrote no log file; stderr: %s", r->run.err);
    cr_assert_eq(code, 0, "%s exited with %d under valgrind\nvalgrind: %s\nstderr: %s", name, code,
                 r->log, r->run.err);
    cr_assert_str_empty(r->log, "valgrind reported on %s:\n%s", name, r->log);
    free(r);
}

Test(valgrind, osmem_example_is_clean)
{
    assert_clean("../examples/", "osmem_example", "");
}

Test(valgrind, chunks_example_is_clean)
{
    assert_clean("../examples/", "chunks_example", "");
}

Test(valgrind, pool_main_is_clean)
{
    assert_clean("../examples/", "pool_main", "");
}

Test(valgrind, list_stats_demo_is_clean)
{
    assert_clean("../examples/", "list_stats_demo", "");
}

Test(valgrind, family_test_application_is_clean)
{
    assert_clean("../examples/", "test_application", "");
}

Test(valgrind, list_workload_through_the_three_seed_apis_is_clean)
{
    assert_clean("", "helper_list_workload", "1");
}

Test(valgrind, list_workload_with_another_seed_is_clean)
{
    assert_clean("", "helper_list_workload", "977");
}

/* The harness itself: a definitely lost block must make the run fail. */
Test(valgrind, a_leaking_program_is_reported)
{
    vg_result_t *r = calloc(1, sizeof *r);
    cr_assert_not_null(r);
    vg_run(r, "", "helper_list_workload", "leak");
    cr_assert_eq(child_exit_code(&r->run), 99, "valgrind should fail the run; log: %s", r->log);
    cr_assert_not_null(strstr(r->log, "definitely lost"), "log: %s", r->log);
    free(r);
}

/* The list heap with valgrind client requests: no false reports on a correct workload ... */
Test(valgrind, list_workload_with_client_requests_is_clean)
{
    assert_clean("", "helper_list_workload_vg", "1");
}

/* ... and each misuse is reported with memcheck's own words. */
static void assert_reported(const char *mode, const char *report)
{
    vg_result_t *r = calloc(1, sizeof *r);
    cr_assert_not_null(r);
    vg_run(r, "", "helper_list_workload_vg", mode);
    cr_assert_eq(child_exit_code(&r->run), 99,
                 "%s: memcheck reported nothing (built without valgrind's headers?); log: %s", mode,
                 r->log);
    cr_assert_not_null(strstr(r->log, report), "%s: expected \"%s\" in: %s", mode, report, r->log);
    free(r);
}

Test(valgrind, client_requests_report_a_write_after_os_free)
{
    assert_reported("use-after-free", "Invalid write of size 1");
}

Test(valgrind, client_requests_report_a_write_into_a_free_block)
{
    assert_reported("write-into-free", "Invalid write of size 1");
}

Test(valgrind, client_requests_report_a_branch_on_uninitialised_os_malloc_bytes)
{
    assert_reported("uninit-read", "depends on uninitialised value");
}

Test(valgrind, client_requests_report_lost_os_malloc_blocks)
{
    assert_reported("lost-block", "definitely lost");
}

Test(valgrind, client_requests_report_a_read_after_custom_free)
{
    assert_reported("pool-use-after-free", "Invalid read of size 1");
}

Test(valgrind, client_requests_report_a_write_after_free_memory)
{
    assert_reported("chunks-use-after-free", "Invalid write of size 1");
}

/* libheapkit itself, built with client requests (make VALGRIND=1; the suite builds a copy in
 * vg/): preloaded into a program under memcheck, its blocks are memcheck's heap blocks. Clean
 * work must stay clean, and misuse inside heapkit memory is reported. memcheck replaces the
 * malloc of any library that exports one with its own unless told not to (--soname-synonyms=
 * somalloc= a name no library has): then the program's calls reach heapkit's malloc, and the
 * reports' stacks name heapkit's functions, which the tests check. */
#define VG_LIBHEAPKIT      "../vg/libheapkit.so"
#define VG_KEEP_OUR_MALLOC "--soname-synonyms=somalloc=nouserintercepts"

static void fast_reported(const char *mode, const char *report, const char *heapkit_frame)
{
    vg_result_t *r = calloc(1, sizeof *r);
    cr_assert_not_null(r);
    vg_run_preloaded(r, "", "helper_vg_malloc", mode, VG_LIBHEAPKIT, VG_KEEP_OUR_MALLOC, NULL);
    cr_assert_eq(child_exit_code(&r->run), 99, "%s: memcheck reported nothing; log: %s", mode,
                 r->log);
    cr_assert_not_null(strstr(r->log, report), "%s: expected \"%s\" in: %s", mode, report, r->log);
    cr_assert_not_null(strstr(r->log, heapkit_frame),
                       "%s: no %s in the stacks (did memcheck replace heapkit's malloc?): %s", mode,
                       heapkit_frame, r->log);
    free(r);
}

static void fast_clean(const char *env_extra)
{
    vg_result_t *r = calloc(1, sizeof *r);
    cr_assert_not_null(r);
    vg_run_preloaded(r, "", "helper_vg_malloc", "clean", VG_LIBHEAPKIT, VG_KEEP_OUR_MALLOC,
                     env_extra);
    cr_assert_eq(child_exit_code(&r->run), 0, "%s: exit %d; valgrind: %s; stderr: %s",
                 env_extra ? env_extra : "default mode", child_exit_code(&r->run), r->log,
                 r->run.err);
    cr_assert_str_empty(r->log, "%s: valgrind reported:\n%s", env_extra ? env_extra : "default",
                        r->log);
    free(r);
}

Test(valgrind, preloaded_libheapkit_with_client_requests_is_clean)
{
    fast_clean(NULL);
    fast_clean("HEAPKIT_HARDEN=1");
}

Test(valgrind, preloaded_libheapkit_reports_a_write_into_a_freed_small_block)
{
    fast_reported("small-use-after-free", "20 bytes inside a block of size 48 free'd", "free");
}

Test(valgrind, preloaded_libheapkit_reports_a_write_into_a_freed_huge_block)
{
    fast_reported("huge-use-after-free", "5,000 bytes inside a block of size", "fast_huge_free");
}

/* A 100-byte request takes a 112-byte block: memcheck's block. */
Test(valgrind, preloaded_libheapkit_reports_a_leaked_block)
{
    fast_reported("leak", "112 bytes in 1 blocks are definitely lost", "malloc");
}

/* libheapkit-buddy built with client requests (vg/libheapkit-buddy.so), preloaded likewise.
 * memcheck replaces the malloc of any library that exports one with its own unless told not to
 * (--soname-synonyms=somalloc= a name no library has): then the program's calls reach
 * heapkit's malloc, and the reports' stacks name heapkit's functions, which the tests check. */
#define VG_LIBHEAPKIT_BUDDY "../vg/libheapkit-buddy.so"

static void buddy_run(vg_result_t *r, const char *mode, const char *env_extra)
{
    vg_run_preloaded(r, "", "helper_vg_malloc", mode, VG_LIBHEAPKIT_BUDDY, VG_KEEP_OUR_MALLOC,
                     env_extra);
}

static void buddy_reported(const char *mode, const char *report, const char *heapkit_frame)
{
    vg_result_t *r = calloc(1, sizeof *r);
    cr_assert_not_null(r);
    buddy_run(r, mode, NULL);
    cr_assert_eq(child_exit_code(&r->run), 99, "%s: memcheck reported nothing; log: %s", mode,
                 r->log);
    cr_assert_not_null(strstr(r->log, report), "%s: expected \"%s\" in: %s", mode, report, r->log);
    cr_assert_not_null(strstr(r->log, heapkit_frame),
                       "%s: no %s in the stacks (did memcheck replace heapkit's malloc?): %s", mode,
                       heapkit_frame, r->log);
    free(r);
}

static void buddy_clean(const char *env_extra)
{
    vg_result_t *r = calloc(1, sizeof *r);
    cr_assert_not_null(r);
    buddy_run(r, "clean", env_extra);
    cr_assert_eq(child_exit_code(&r->run), 0, "%s: exit %d; valgrind: %s; stderr: %s",
                 env_extra ? env_extra : "default mode", child_exit_code(&r->run), r->log,
                 r->run.err);
    cr_assert_str_empty(r->log, "%s: valgrind reported:\n%s", env_extra ? env_extra : "default",
                        r->log);
    free(r);
}

/* Clean work gives no report, in the default mode, with mapped chunks instead of the sbrk
 * heap, and in the hardened mode (whose junk and canaries the engine writes and reads in
 * blocks memcheck holds to be freed or in use). */
Test(valgrind, preloaded_libheapkit_buddy_with_client_requests_is_clean)
{
    buddy_clean(NULL);
    buddy_clean("HEAPKIT_BUDDY_CHUNKS=1");
    buddy_clean("HEAPKIT_HARDEN=1");
}

Test(valgrind, preloaded_libheapkit_buddy_reports_a_write_into_a_freed_small_block)
{
    buddy_reported("small-use-after-free", "20 bytes inside a block of size 48 free'd",
                   "hk_engine_free");
}

Test(valgrind, preloaded_libheapkit_buddy_reports_a_write_into_a_freed_large_block)
{
    buddy_reported("huge-use-after-free", "5,000 bytes inside a block of size", "hk_engine_free");
}

/* A 100-byte request takes a 128-byte buddy block: 112 usable bytes, memcheck's block. */
Test(valgrind, preloaded_libheapkit_buddy_reports_a_leaked_block)
{
    buddy_reported("leak", "112 bytes in 1 blocks are definitely lost", "hk_engine_malloc");
}
