/* The heap profiler's parts, linked directly (ASan+UBSan; the profiler is not this process's
 * malloc here): the arithmetic against libm, the sampling decision and the estimator it makes
 * unbiased, the tables, stack capture and the dump files. Each test runs in its own process,
 * so each may start the profiler (prof_start_for_tests) with its own settings. */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "prof/prof.h"
#include "prof/prof_internal.h"

Test(prof_math, neg_log_matches_libm)
{
    for (double u = 1.0; u > 1e-300; u *= 0.937) {
        double want = -log(u), got = prof_neg_log(u);
        cr_assert(fabs(got - want) <= 1e-12 * fabs(want) + 1e-15, "-ln(%g): %.17g, libm %.17g", u,
                  got, want);
    }
    cr_assert(fabs(prof_neg_log(0x1.0p-53) - 53 * log(2.0)) < 1e-12);
    cr_assert_eq(prof_neg_log(1.0), 0.0);
}

Test(prof_math, one_minus_exp_neg_matches_libm)
{
    for (double x = 1e-9; x < 60; x *= 1.07) {
        double want = -expm1(-x), got = prof_one_minus_exp_neg(x);
        cr_assert(fabs(got - want) <= 1e-12 * want, "1 - exp(-%g): %.17g, libm %.17g", x, got,
                  want);
    }
    cr_assert_eq(prof_one_minus_exp_neg(0.0), 0.0);
    cr_assert_eq(prof_one_minus_exp_neg(1e6), 1.0);
}

/* Distances between sample points are exponential with the configured mean: their mean, and
 * the share at most s (the probability that an s-byte block is sampled). */
Test(prof_math, intervals_are_exponential_with_the_mean)
{
    uint64_t state = prof_thread_seed(42, 0);
    const double mean = 65536;
    const int draws = 400000;
    double sum = 0;
    int below_mean = 0, below_tenth = 0;
    for (int i = 0; i < draws; i++) {
        size_t d = prof_draw_interval(&state, mean);
        cr_assert_geq(d, 1);
        sum += (double)d;
        below_mean += d <= mean;
        below_tenth += d <= mean / 10;
    }
    cr_expect(fabs(sum / draws / mean - 1) < 0.01, "mean %.1f", sum / draws);
    cr_expect(fabs((double)below_mean / draws - (1 - exp(-1.0))) < 0.005);
    cr_expect(fabs((double)below_tenth / draws - (1 - exp(-0.1))) < 0.003);
}

Test(prof_math, thread_seeds_differ_and_are_never_zero)
{
    uint64_t a = prof_thread_seed(0, 0), b = prof_thread_seed(0, 1), c = prof_thread_seed(1, 0);
    cr_expect(a && b && c && a != b && a != c && b != c);
}

/* The sampling decision through hk_prof_due, as an engine makes it: blocks of mixed sizes, and
 * the sum of size / P(size) over the sampled ones estimates the bytes allocated. */
Test(prof_sampling, the_estimate_of_allocated_bytes_is_unbiased)
{
    cr_assert(prof_start_for_tests(4096, 7));
    cr_assert(hk_prof_on());
    uint64_t r = 12345;
    double truth = 0, estimate = 0, small_truth = 0, small_estimate = 0;
    for (int i = 0; i < 2000000; i++) {
        r ^= r << 13, r ^= r >> 7, r ^= r << 17;
        size_t size = (r & 3) ? 16 + r % 200 : 1000 + r % 50000;
        truth += (double)size;
        if (size < 216) small_truth += (double)size;
        if (hk_prof_due(size)) {
            double weighted = (double)size * prof_weight(size, 4096);
            estimate += weighted;
            if (size < 216) small_estimate += weighted;
        }
    }
    cr_expect(fabs(estimate / truth - 1) < 0.01, "estimate %.0f of %.0f", estimate, truth);
    cr_expect(fabs(small_estimate / small_truth - 1) < 0.02, "small blocks: %.0f of %.0f",
              small_estimate, small_truth);
}

Test(prof_sampling, a_block_bigger_than_the_interval_is_nearly_always_sampled)
{
    cr_assert(prof_start_for_tests(1024, 3));
    int sampled = 0;
    for (int i = 0; i < 10000; i++)
        sampled += hk_prof_due(64 * 1024);
    cr_expect_eq(sampled, 10000);
    cr_expect_eq(prof_weight(64 * 1024, 1024), 1.0);
}

Test(prof_sampling, off_the_countdown_never_runs_out)
{
    /* Not started: the environment has no HEAPKIT_PROF. */
    cr_assert_not(hk_prof_on());
    for (int i = 0; i < 1000; i++)
        cr_assert_not(hk_prof_due(1 << 20));
    cr_expect_eq(hk_prof_countdown > ((size_t)1 << 62), true);
    cr_expect_eq(hk_prof_interval(), SIZE_MAX);
    cr_expect_eq(hk_prof_dump_files("/nonexistent/x.heap"), ENOTSUP);
}

/* ---- Tables -------------------------------------------------------------------------------- */

Test(prof_table, records_are_found_removed_and_summed_per_stack)
{
    cr_assert(prof_start_for_tests(4096, 1));
    uintptr_t a[3] = {0x1000, 0x2000, 0x3000}, b[2] = {0x4000, 0x5000};
    hk_lock(&prof_lock);
    /* 100k blocks on two stacks: the tables grow several times. */
    for (uintptr_t i = 1; i <= 100000; i++)
        cr_assert(prof_table_insert(i * 16, 100, 112, 2.0, (i & 1) ? a : b, (i & 1) ? 3 : 2));
    cr_expect_eq(prof_table_live_records(), 100000);
    for (uintptr_t i = 1; i <= 100000; i += 2)
        cr_assert(prof_table_remove(i * 16));
    cr_expect_not(prof_table_remove(16));
    cr_expect_not(prof_table_remove(12345 * 16 + 8));
    cr_expect_eq(prof_table_live_records(), 50000);
    /* Every remaining record is still found after the shifts. */
    for (uintptr_t i = 2; i <= 100000; i += 2)
        cr_assert(prof_table_remove(i * 16), "%lu", i);
    cr_expect_eq(prof_table_live_records(), 0);
    cr_assert(prof_table_insert(32, 300, 304, 1.5, a, 3));
    prof_table_sum_live();
    uint32_t count;
    prof_stack_t *stacks = prof_table_stacks(&count);
    cr_assert_eq(count, 2, "two distinct stacks");
    size_t frame_count;
    const uintptr_t *frames = prof_table_frames(&frame_count);
    cr_expect_eq(frame_count, 5);
    for (uint32_t i = 0; i < count; i++) {
        bool is_a = stacks[i].depth == 3;
        cr_expect_eq(frames[stacks[i].first_frame], is_a ? a[0] : b[0]);
        cr_expect_eq(stacks[i].alloc_count, is_a ? 100001.5 : 100000.0);
        cr_expect_eq(stacks[i].live_count, is_a ? 1.5 : 0.0);
        cr_expect_eq(stacks[i].live_bytes, is_a ? 450.0 : 0.0);
    }
    hk_unlock(&prof_lock);
}

/* ---- Stacks and dumps ---------------------------------------------------------------------- */

static char dump_dir[64];

static void dump_dir_make(void)
{
    snprintf(dump_dir, sizeof dump_dir, "/tmp/heapkit-prof-unit-XXXXXX");
    cr_assert_not_null(mkdtemp(dump_dir));
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "cannot open %s", path);
    static char text[1 << 20];
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
    return text;
}

/* What an engine does: sample a block from inside "malloc". */
__attribute__((noinline)) void *sampled_by_known_caller(size_t size)
{
    void *p = (void *)(uintptr_t)(0x100000 + size * 64);
    hk_prof_sampled(p, size, size);
    __asm__ volatile("" ::: "memory"); /* keep the call from becoming a tail call */
    return p;
}

__attribute__((noinline)) void *another_known_caller(size_t size)
{
    void *p = (void *)(uintptr_t)(0x900000 + size * 64);
    hk_prof_sampled(p, size, size);
    __asm__ volatile("" ::: "memory");
    return p;
}

Test(prof_dump, the_files_name_the_callers_and_drop_freed_blocks)
{
    cr_assert(prof_start_for_tests(64, 5));
    dump_dir_make();
    for (size_t i = 1; i <= 10; i++)
        sampled_by_known_caller(4096 * i);
    void *gone = another_known_caller(8192);
    another_known_caller(16384);
    hk_prof_freed(gone);
    char heap[128], folded[128];
    snprintf(heap, sizeof heap, "%s/x.heap", dump_dir);
    snprintf(folded, sizeof folded, "%s/x.folded", dump_dir);
    cr_assert_eq(hk_prof_dump_files(heap), 0);

    char *text = slurp(folded);
    /* Blocks of 4 KiB and more against a 64-byte mean: weight 1 (exp(-64) is far below a
     * double's last bit), so the bytes are exact: 4096 * (1 + ... + 10) and 16384. */
    char *known = strstr(text, "sampled_by_known_caller 225280\n");
    cr_expect_not_null(known, "folded:\n%s", text);
    cr_expect_not_null(strstr(text, "another_known_caller 16384\n"), "folded:\n%s", text);
    cr_expect_not_null(strstr(text, "the_files_name_the_callers_and_drop_freed_blocks"),
                       "the test function is an outer frame:\n%s", text);

    /* The run's allocations keep the freed block. */
    char alloc_folded[128];
    snprintf(alloc_folded, sizeof alloc_folded, "%s/x.alloc.folded", dump_dir);
    text = slurp(alloc_folded);
    cr_expect_not_null(strstr(text, "sampled_by_known_caller 225280\n"), "alloc:\n%s", text);
    cr_expect_not_null(strstr(text, "another_known_caller 8192\n"), "alloc:\n%s", text);

    text = slurp(heap);
    const char *header = "heap profile:     11:   241664 [    12:   249856] @ heapprofile\n";
    cr_expect_eq(strncmp(text, header, strlen(header)), 0, "%s", text);
    cr_expect_not_null(strstr(text, "\nMAPPED_LIBRARIES:\n"));
    char command[160];
    snprintf(command, sizeof command, "rm -rf '%s'", dump_dir);
    cr_expect_eq(system(command), 0);
}

/* A block resized in place keeps its weight and reports its new size. */
Test(prof_dump, a_resized_block_reports_its_new_size_with_its_old_weight)
{
    cr_assert(prof_start_for_tests(4096, 5));
    dump_dir_make();
    void *p = another_known_caller(1000); /* weight 1 / (1 - exp(-1000/4096)) */
    hk_prof_resized(p, 3000, 3008);
    hk_prof_resized((void *)0x12345, 10, 10); /* not sampled: nothing happens */
    char heap[128], folded[128];
    snprintf(heap, sizeof heap, "%s/x.heap", dump_dir);
    snprintf(folded, sizeof folded, "%s/x.folded", dump_dir);
    cr_assert_eq(hk_prof_dump_files(heap), 0);
    double weight = (float)(1.0 / -expm1(-1000.0 / 4096));
    char expected[96];
    snprintf(expected, sizeof expected, "another_known_caller %.0f\n", weight * 3000);
    char *text = slurp(folded);
    cr_expect_not_null(strstr(text, expected), "want %s in:\n%s", expected, text);
    text = slurp(heap);
    snprintf(expected, sizeof expected, "%6.0f: %8.0f [%6.0f: %8.0f] @", weight, weight * 3000,
             weight, weight * 1000);
    cr_expect_not_null(strstr(text, expected), "want %s in:\n%s", expected, text);
    char command[160];
    snprintf(command, sizeof command, "rm -rf '%s'", dump_dir);
    cr_expect_eq(system(command), 0);
}

Test(prof_dump, a_dump_to_an_unwritable_place_returns_the_error)
{
    cr_assert(prof_start_for_tests(1024, 5));
    sampled_by_known_caller(4096);
    cr_expect_eq(hk_prof_dump_files("/nonexistent-dir/x.heap"), ENOENT);
}

Test(prof_dump, a_device_gets_the_heap_profile_and_stays_a_device)
{
    cr_assert(prof_start_for_tests(1024, 5));
    sampled_by_known_caller(4096);
    cr_expect_eq(hk_prof_dump_files("/dev/null"), 0);
    struct stat st;
    cr_assert_eq(stat("/dev/null", &st), 0);
    cr_expect(S_ISCHR(st.st_mode), "/dev/null was replaced");
    cr_expect_neq(access("/dev/null.folded", F_OK), 0, "a folded file was put beside /dev/null");
    cr_expect_neq(access("/dev/null.alloc.folded", F_OK), 0);
    cr_expect_neq(access("/dev/null.tmp", F_OK), 0);
}

Test(prof_dump, the_folded_names_replace_heap_or_append)
{
    cr_assert(prof_start_for_tests(1024, 5));
    dump_dir_make();
    char path[128];
    snprintf(path, sizeof path, "%s/profile", dump_dir);
    cr_assert_eq(hk_prof_dump_files(path), 0);
    snprintf(path, sizeof path, "%s/profile.folded", dump_dir);
    cr_expect_eq(access(path, R_OK), 0);
    snprintf(path, sizeof path, "%s/profile.alloc.folded", dump_dir);
    cr_expect_eq(access(path, R_OK), 0);
    char command[160];
    snprintf(command, sizeof command, "rm -rf '%s'", dump_dir);
    cr_expect_eq(system(command), 0);
}

Test(prof_symbols, names_are_functions_or_module_offsets_or_hex)
{
    uintptr_t addresses[3] = {(uintptr_t)&sampled_by_known_caller + 4, (uintptr_t)&printf + 4,
                              0x10};
    cr_assert(prof_symbols_prepare(addresses, 3));
    char name[128];
    prof_symbols_name(addresses[0], name, sizeof name);
    cr_expect_str_eq(name, "sampled_by_known_caller");
    prof_symbols_name(addresses[1], name, sizeof name);
    cr_expect(strstr(name, "printf") != NULL, "%s", name);
    prof_symbols_name(addresses[2], name, sizeof name);
    cr_expect_str_eq(name, "0x10");
    prof_symbols_release();
}
