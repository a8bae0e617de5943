/* A bounded run of each engine's fuzzer (tests/fuzz_heap.c, $(BUILD)/fuzz/fuzz_<engine>): a fixed
 * seed and a fixed number of inputs, so the test takes seconds and does the same each time.
 * Longer runs: make fuzz (docs/hardening.md). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "child.h"

#ifndef HK_BUILD_DIR
#error "HK_BUILD_DIR must name the build directory"
#endif

/* Runs engine's fuzzer for runs inputs of up to 1 KiB from the start (-len_control=0), at most
 * 60 seconds (an input that fails is kept in $(BUILD)/fuzz/artifacts): a content mismatch, a broken
 * invariant or a sanitizer report fails the test with the end of libFuzzer's report. The inputs per
 * engine are sized to a few seconds each on one core, sanitizers and the invariant checks included.
 */
static void fuzz_env(const char *env, const char *engine, unsigned runs)
{
    char command[2048];
    snprintf(command, sizeof command,
             "log=$(mktemp) && mkdir -p %s/fuzz/artifacts && %s %s/fuzz/fuzz_%s -seed=1 -runs=%u "
             "-max_len=1024 -len_control=0 -timeout=30 -max_total_time=60 -rss_limit_mb=4096 "
             "-print_final_stats=1 -artifact_prefix=%s/fuzz/artifacts/ >\"$log\" 2>&1; "
             "status=$?; grep -v '^#\\|NEW_FUNC\\|^INFO' \"$log\" | tail -n 60 >&2; "
             "rm -f \"$log\"; exit $status",
             HK_BUILD_DIR, env, HK_BUILD_DIR, engine, runs, HK_BUILD_DIR);
    child_result_t *r = malloc(sizeof *r);
    child_run(r, command, NULL, 300);
    cr_assert_eq(child_exit_code(r), 0, "fuzz_%s failed (%d):\n%s", engine, child_exit_code(r),
                 r->err);
    const char *done = strstr(r->err, "Done ");
    cr_assert_not_null(done, "fuzz_%s did not finish:\n%s", engine, r->err);
    /* For the record (the log shows it): how many inputs ran, and in how long. */
    fprintf(stderr, "fuzz_%s: %.*s\n", engine, (int)strcspn(done, "\n"), done);
    free(r);
}

static void fuzz(const char *engine, unsigned runs)
{
    fuzz_env("", engine, runs);
}

Test(fuzz, fast_engine_survives_its_fuzzer, .timeout = 300)
{
    fuzz("fast", 3000);
}

Test(fuzz, fast_engine_hardened_survives_its_fuzzer, .timeout = 300)
{
    fuzz_env("HEAPKIT_HARDEN=1", "fast", 1500);
}

Test(fuzz, buddy_engine_survives_its_fuzzer, .timeout = 300)
{
    fuzz("buddy", 1000);
}

Test(fuzz, list_heap_fronts_survive_their_fuzzer, .timeout = 300)
{
    fuzz("list", 2000);
}

Test(fuzz, page_families_survive_their_fuzzer, .timeout = 300)
{
    fuzz("family", 10000);
}
