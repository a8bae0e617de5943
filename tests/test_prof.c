/* The heap profiler seen from outside: programs on libheapkit-buddy.so with HEAPKIT_PROF=1
 * (tests/helper_prof_sites.c), their dump files read back here, by google-pprof and as folded
 * stacks. Sampling uses a fixed seed (HEAPKIT_PROF_SEED), so every run draws the same samples,
 * and a 1 KiB mean interval: a site of B bytes in blocks much smaller than the interval m is
 * estimated with a relative standard deviation of about sqrt(m / B), 2.2 % for the 2 MiB site,
 * so the 10 % bound would hold for any seed (over 60 seeds the largest error was 3.5 %; at 4 KiB
 * it was 14 %). test_prof_unit checks the estimator itself. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <limits.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "child.h"

#ifndef HK_BUILD_DIR
#error "HK_BUILD_DIR must name the build directory"
#endif

/* The helper linked with libheapkit-buddy.so, and the same program linked with libheapkit.so. */
#define HELPER_BUDDY HK_BUILD_DIR "/tests/helper_prof_sites"
#define HELPER_FAST  HK_BUILD_DIR "/tests/helper_prof_sites_fast"
static const char *helper = HELPER_BUDDY;
#define HELPER helper
#define SITES  3

static const char *const site_names[SITES] = {"site_two_mib", "site_eight_mib",
                                              "site_thirty_two_mib"};
static const double site_bytes[SITES] = {2 << 20, 8 << 20, 32 << 20};

static char dir[PATH_MAX];

static void make_dir(void)
{
    snprintf(dir, sizeof dir, "/tmp/heapkit-prof-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void remove_dir(void)
{
    char command[PATH_MAX + 16];
    snprintf(command, sizeof command, "rm -rf '%s'", dir);
    cr_expect_eq(system(command), 0);
}

/* Runs the helper in dir with the profiler on (1 KiB mean interval, seed 1) and extra
 * environment; returns the result (exit status checked). */
static child_result_t *run_helper(const char *args, const char *const *extra)
{
    static const char *base[] = {"HEAPKIT_PROF=1", "HEAPKIT_PROF_SAMPLE=1K", "HEAPKIT_PROF_SEED=1"};
    const char *env[16];
    size_t n = 0;
    for (size_t i = 0; i < sizeof base / sizeof base[0]; i++)
        env[n++] = base[i];
    for (; extra && *extra && n < 15; extra++)
        env[n++] = *extra;
    env[n] = NULL;
    char command[2 * PATH_MAX];
    snprintf(command, sizeof command, "cd '%s' && exec '%s' %s", dir, HELPER, args);
    child_result_t *r = malloc(sizeof *r);
    child_run(r, command, env, 120);
    cr_assert_eq(child_exit_code(r), 0, "%s %s failed (%d):\n%s%s", HELPER, args,
                 child_exit_code(r), r->out, r->err);
    return r;
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    rewind(f);
    char *text = malloc((size_t)len + 1);
    cr_assert_eq(fread(text, 1, (size_t)len, f), (size_t)len);
    text[len] = '\0';
    fclose(f);
    return text;
}

/* The one file in dir named heapkit.<pid><suffix> (the exit dump is named after the pid). */
static void find_dump(const char *suffix, char *out, size_t cap)
{
    DIR *d = opendir(dir);
    cr_assert_not_null(d);
    struct dirent *e;
    int found = 0;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, "heapkit.", 8) != 0) continue;
        const char *after_pid = e->d_name + 8 + strspn(e->d_name + 8, "0123456789");
        if (after_pid > e->d_name + 8 && strcmp(after_pid, suffix) == 0) {
            snprintf(out, cap, "%s/%s", dir, e->d_name);
            found++;
        }
    }
    closedir(d);
    cr_assert_eq(found, 1, "%d files named *%s in %s", found, suffix, dir);
}

/* Sums the folded file's bytes per site: a line counts for a site when the site's function is
 * one of its frames. Every line must be "frame;frame;... bytes". */
static void folded_site_bytes(const char *path, double bytes[SITES], int *lines)
{
    char *text = read_file(path);
    memset(bytes, 0, SITES * sizeof bytes[0]);
    *lines = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        char *space = strrchr(line, ' ');
        cr_assert_not_null(space, "folded line without bytes: %s", line);
        char *end;
        unsigned long long value = strtoull(space + 1, &end, 10);
        cr_assert(*end == '\0' && end > space + 1 && value > 0, "bad byte count: %s", line);
        *space = '\0';
        cr_assert_eq(strchr(line, ' '), NULL, "a frame holds a space: %s", line);
        for (char *frame = line;; frame++) {
            char *semi = strchr(frame, ';');
            cr_assert(semi != frame && *frame != '\0', "empty frame in: %s", line);
            if (!semi) break;
            frame = semi;
        }
        for (int s = 0; s < SITES; s++) {
            char *hit = strstr(line, site_names[s]);
            size_t n = strlen(site_names[s]);
            while (hit && !((hit == line || hit[-1] == ';') && (hit[n] == ';' || hit[n] == '\0')))
                hit = strstr(hit + 1, site_names[s]);
            if (hit) bytes[s] += (double)value;
        }
        (*lines)++;
    }
    free(text);
}

static void expect_within_ten_percent(const double bytes[SITES], int s)
{
    double error = (bytes[s] - site_bytes[s]) / site_bytes[s];
    cr_expect(error > -0.10 && error < 0.10, "%s: estimated %.0f bytes, truly %.0f (%+.1f %%)",
              site_names[s], bytes[s], site_bytes[s], 100 * error);
}

Test(prof, three_sites_are_found_with_their_bytes_within_ten_percent)
{
    make_dir();
    free(run_helper("sites", NULL));
    char path[PATH_MAX + 64];
    find_dump(".folded", path, sizeof path);
    double bytes[SITES];
    int lines;
    folded_site_bytes(path, bytes, &lines);
    for (int s = 0; s < SITES; s++) {
        cr_log_info("%s: %.0f estimated, %.0f true", site_names[s], bytes[s], site_bytes[s]);
        expect_within_ten_percent(bytes, s);
    }
    remove_dir();
}

/* The heap file: the header, one "n: bytes [n: bytes] @ 0x..." line per stack, whose in-use
 * figures add up to the header's, then the process's maps. */
Test(prof, the_heap_file_has_the_gperftools_layout)
{
    make_dir();
    free(run_helper("sites", NULL));
    char path[PATH_MAX + 64];
    find_dump(".heap", path, sizeof path);
    char *text = read_file(path);
    regex_t header, entry;
    cr_assert_eq(regcomp(&header,
                         "^heap profile: +([0-9]+): +([0-9]+) \\[ *([0-9]+): +([0-9]+)\\] @ "
                         "heapprofile$",
                         REG_EXTENDED),
                 0);
    cr_assert_eq(regcomp(&entry,
                         "^ *([0-9]+): +([0-9]+) \\[ *([0-9]+): +([0-9]+)\\] @( 0x[0-9a-f]+)+$",
                         REG_EXTENDED),
                 0);
    char *maps = strstr(text, "\n\nMAPPED_LIBRARIES:\n");
    cr_assert_not_null(maps, "no MAPPED_LIBRARIES section");
    *maps = '\0';
    maps += strlen("\n\nMAPPED_LIBRARIES:\n");
    cr_expect_not_null(strstr(maps, "helper_prof_sites"), "the maps do not name the program");
    cr_expect_not_null(strstr(maps, "libheapkit-buddy.so"), "the maps do not name the library");

    char *line = strtok(text, "\n");
    regmatch_t m[5];
    cr_assert_eq(regexec(&header, line, 5, m, 0), 0, "bad header: %s", line);
    unsigned long long header_count = strtoull(line + m[1].rm_so, NULL, 10);
    unsigned long long header_bytes = strtoull(line + m[2].rm_so, NULL, 10);
    unsigned long long count = 0, bytes = 0;
    int stacks = 0;
    while ((line = strtok(NULL, "\n"))) {
        cr_assert_eq(regexec(&entry, line, 5, m, 0), 0, "bad stack line: %s", line);
        count += strtoull(line + m[1].rm_so, NULL, 10);
        bytes += strtoull(line + m[2].rm_so, NULL, 10);
        cr_expect_geq(strtoull(line + m[4].rm_so, NULL, 10), strtoull(line + m[2].rm_so, NULL, 10),
                      "more bytes in use than allocated: %s", line);
        stacks++;
    }
    cr_expect_geq(stacks, 3);
    cr_expect_eq(count, header_count);
    cr_expect_eq(bytes, header_bytes);
    /* 42 MiB are live in the three sites (the rest of the program holds little). */
    cr_expect(bytes > 37.0 * (1 << 20) && bytes < 48.0 * (1 << 20), "%llu bytes in use", bytes);
    regfree(&header);
    regfree(&entry);
    free(text);
    remove_dir();
}

Test(prof, google_pprof_reads_the_profile_and_names_the_sites)
{
    child_result_t *r = malloc(sizeof *r);
    child_run(r, "command -v google-pprof", NULL, 10);
    cr_assert_eq(child_exit_code(r), 0,
                 "google-pprof is missing: apt-get install google-perftools (tools/deps.sh test)");
    make_dir();
    free(run_helper("sites", NULL));
    char path[PATH_MAX + 64], command[3 * PATH_MAX];
    find_dump(".heap", path, sizeof path);
    snprintf(command, sizeof command, "google-pprof --text '%s' '%s'", HELPER, path);
    child_run(r, command, NULL, 120);
    cr_assert_eq(child_exit_code(r), 0, "%s:\n%s%s", command, r->out, r->err);
    /* Lines: flat flat% sum% cum cum% function, flat in MB. */
    for (int s = 0; s < SITES; s++) {
        const char *line = strstr(r->out, site_names[s]);
        cr_expect_not_null(line, "pprof does not name %s:\n%s", site_names[s], r->out);
    }
    cr_expect_not_null(strstr(r->out, "main"), "pprof does not name main:\n%s", r->out);
    cr_expect_not_null(strstr(r->out, "Total: "), "%s", r->out);
    free(r);
    remove_dir();
}

Test(prof, freed_blocks_leave_the_profile)
{
    make_dir();
    free(run_helper("freed", NULL));
    char path[PATH_MAX + 64];
    find_dump(".folded", path, sizeof path);
    double bytes[SITES];
    int lines;
    folded_site_bytes(path, bytes, &lines);
    cr_expect_eq(bytes[1], 0, "site_eight_mib freed every block, yet holds %.0f bytes", bytes[1]);
    expect_within_ten_percent(bytes, 0);
    expect_within_ten_percent(bytes, 2);
    remove_dir();
}

/* Sums the folded file's bytes of the stacks through one function. */
static double folded_bytes_through(const char *path, const char *function)
{
    char *text = read_file(path);
    double bytes = 0;
    size_t n = strlen(function);
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        char *space = strrchr(line, ' ');
        cr_assert_not_null(space);
        *space = '\0';
        for (char *hit = strstr(line, function); hit; hit = strstr(hit + 1, function)) {
            if ((hit == line || hit[-1] == ';') && (hit[n] == ';' || hit[n] == '\0')) {
                bytes += strtod(space + 1, NULL);
                break;
            }
        }
    }
    free(text);
    return bytes;
}

/* realloc in place keeps a block's sampling and updates its size: buffers grown by small
 * appends to 64 KiB are estimated right, and the whole run takes few samples (the heap file's
 * allocated count stays far below the appends' 32768). */
Test(prof, blocks_grown_in_place_by_realloc_are_estimated_right)
{
    make_dir();
    child_result_t *r = run_helper("grown", NULL);
    cr_expect_str_eq(r->out, "site_grown_by_realloc 8388608\n");
    free(r);
    char path[PATH_MAX + 64];
    find_dump(".folded", path, sizeof path);
    double bytes = folded_bytes_through(path, "site_grown_by_realloc");
    double error = bytes / (8 << 20) - 1;
    cr_expect(error > -0.10 && error < 0.10, "estimated %.0f of 8388608 bytes (%+.1f %%)", bytes,
              100 * error);
    find_dump(".heap", path, sizeof path);
    char *text = read_file(path);
    unsigned long long live_n, live_b, all_n, all_b;
    cr_assert_eq(
        sscanf(text, "heap profile: %llu: %llu [ %llu: %llu]", &live_n, &live_b, &all_n, &all_b), 4,
        "%.200s", text);
    cr_expect_lt(all_n, 4096, "%llu allocations estimated: resizes in place were counted", all_n);
    free(text);
    remove_dir();
}

Test(prof, hk_prof_dump_writes_the_heap_and_folded_files)
{
    make_dir();
    char args[PATH_MAX + 16];
    snprintf(args, sizeof args, "api '%s/now.heap'", dir);
    child_result_t *r = run_helper(args, NULL);
    cr_expect_str_eq(r->out, "site_two_mib 2097152\nsite_eight_mib 8388608\n"
                             "site_thirty_two_mib 33554432\nhk_prof_dump 0\n");
    free(r);
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/now.folded", dir);
    double bytes[SITES];
    int lines;
    folded_site_bytes(path, bytes, &lines);
    for (int s = 0; s < SITES; s++)
        expect_within_ten_percent(bytes, s);
    snprintf(path, sizeof path, "%s/now.heap", dir);
    char *text = read_file(path);
    cr_expect_eq(strncmp(text, "heap profile: ", 14), 0);
    free(text);
    remove_dir();
}

/* HEAPKIT_PROF_SIGNAL: the handler writes the exit dump's files at once (the helper renames
 * them to *.signal.* before freeing everything and exiting). Named and numbered signals. */
static void expect_signal_dump(const char *signal_option, const char *helper_signal)
{
    make_dir();
    char file[PATH_MAX + 32], option[PATH_MAX + 64], args[2 * PATH_MAX];
    snprintf(file, sizeof file, "%s/sig.heap", dir);
    snprintf(option, sizeof option, "HEAPKIT_PROF_FILE=%s", file);
    snprintf(args, sizeof args, "signal '%s'", file);
    const char *extra[] = {option, signal_option, helper_signal, NULL};
    child_result_t *r = run_helper(args, extra);
    cr_expect_not_null(strstr(r->out, "dumped\n"), "%s", r->out);
    free(r);
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/sig.signal.folded", dir);
    double bytes[SITES];
    int lines;
    folded_site_bytes(path, bytes, &lines);
    for (int s = 0; s < SITES; s++)
        expect_within_ten_percent(bytes, s);
    /* The exit dump came later, with every site freed. */
    snprintf(path, sizeof path, "%s/sig.folded", dir);
    folded_site_bytes(path, bytes, &lines);
    for (int s = 0; s < SITES; s++)
        cr_expect_eq(bytes[s], 0, "%s", site_names[s]);
    remove_dir();
}

Test(prof, a_signal_dumps_the_profile)
{
    expect_signal_dump("HEAPKIT_PROF_SIGNAL=SIGUSR2", "HELPER_SIGNAL=12");
}

Test(prof, a_signal_given_by_number_dumps_the_profile)
{
    expect_signal_dump("HEAPKIT_PROF_SIGNAL=10", "HELPER_SIGNAL=10");
}

Test(prof, the_exit_dump_goes_to_the_dump_dir)
{
    make_dir();
    char option[PATH_MAX + 32];
    snprintf(option, sizeof option, "HEAPKIT_DUMP_DIR=%s/set", dir);
    char set[PATH_MAX + 8];
    snprintf(set, sizeof set, "%s/set", dir);
    cr_assert_eq(mkdir(set, 0755), 0);
    const char *extra[] = {option, NULL};
    free(run_helper("sites", extra));
    child_result_t *r = malloc(sizeof *r);
    char command[2 * PATH_MAX];
    snprintf(command, sizeof command, "cd '%s' && ls", set);
    child_run(r, command, NULL, 10);
    regex_t names;
    cr_assert_eq(regcomp(&names,
                         "^heapkit\\.[0-9]+\\.alloc\\.folded\n"
                         "heapkit\\.[0-9]+\\.folded\n"
                         "heapkit\\.[0-9]+\\.heap\n"
                         "heapkit\\.[0-9]+\\.json\n$",
                         REG_EXTENDED),
                 0);
    /* (The profile beside the statistics, series and map the front end writes there.) */
    cr_expect_eq(regexec(&names, r->out, 0, NULL, 0), 0, "the dump set holds:\n%s", r->out);
    regfree(&names);
    /* Nothing in the current directory. */
    snprintf(command, sizeof command, "cd '%s' && ls | grep -v '^set$' || :", dir);
    child_run(r, command, NULL, 10);
    cr_expect_str_empty(r->out, "%s", r->out);
    free(r);
    remove_dir();
}

Test(prof, the_profiler_is_off_by_default)
{
    make_dir();
    char command[2 * PATH_MAX];
    snprintf(command, sizeof command, "cd '%s' && '%s' off && '%s' sites >/dev/null && ls", dir,
             HELPER, HELPER);
    child_result_t *r = malloc(sizeof *r);
    child_run(r, command, NULL, 60);
    cr_expect_eq(child_exit_code(r), 0, "%s", r->err);
    cr_expect_str_eq(r->out, "hk_prof_dump ENOTSUP\n", "files were written:\n%s", r->out);
    free(r);
    remove_dir();
}

/* Threads allocate, resize and free blocks (some freed by other threads) with a sample at
 * nearly every allocation; one forks and the child allocates. Nothing deadlocks or recurses
 * into malloc, and each process writes its own dump. */
Test(prof, threads_and_fork_allocate_while_nearly_every_block_is_sampled)
{
    make_dir();
    const char *extra[] = {"HEAPKIT_PROF_SAMPLE=64", "HEAPKIT_CHECK=1", NULL};
    child_result_t *r = run_helper("threads", extra);
    cr_expect_str_eq(r->out, "ok\n");
    free(r);
    r = malloc(sizeof *r);
    char command[2 * PATH_MAX];
    snprintf(command, sizeof command, "cd '%s' && ls *.heap | wc -l", dir);
    child_run(r, command, NULL, 10);
    cr_expect_str_eq(r->out, "2\n", "one dump per process expected");
    free(r);
    remove_dir();
}

/* A real program (python3, with threads) under the profiler, through LD_PRELOAD (Debian's
 * python3 when present: a version manager's shim is a shell script, which would dump too). */
Test(prof, python3_runs_under_the_profiler)
{
    make_dir();
    char command[3 * PATH_MAX];
    snprintf(command, sizeof command,
             "cd '%s' && py=/usr/bin/python3 && { [ -x $py ] || py=python3; } && "
             "LD_PRELOAD='%s/lib/libheapkit-buddy.so' HEAPKIT_PROF=1 "
             "HEAPKIT_PROF_SAMPLE=16K $py -c '"
             "import threading\n"
             "def work():\n"
             "    data = [str(i) * 10 for i in range(20000)]\n"
             "    return len(data)\n"
             "ts = [threading.Thread(target=work) for _ in range(4)]\n"
             "[t.start() for t in ts]\n"
             "[t.join() for t in ts]\n"
             "keep = [bytes(1000) for _ in range(3000)]\n"
             "print(\"ok\")' && ls",
             dir, HK_BUILD_DIR);
    child_result_t *r = malloc(sizeof *r);
    child_run(r, command, NULL, 120);
    cr_assert_eq(child_exit_code(r), 0, "%s", r->err);
    cr_expect_not_null(strstr(r->out, "ok\n"), "%s", r->out);
    cr_expect_not_null(strstr(r->out, ".heap\n"), "%s", r->out);
    free(r);
    char path[PATH_MAX + 64];
    find_dump(".folded", path, sizeof path);
    char *text = read_file(path);
    cr_expect_not_null(strstr(text, ";Py"), "no stack through python's functions:\n%.2000s", text);
    free(text);
    remove_dir();
}

/* The same program on the fast engine (linked with libheapkit.so): with the profiler on, every
 * malloc and free takes the fast engine's slow path, which samples and forgets blocks. */
static void use_fast_engine(void)
{
    helper = HELPER_FAST;
}

Test(prof_fast, three_sites_are_found_with_their_bytes_within_ten_percent, .init = use_fast_engine)
{
    make_dir();
    const char *extra[] = {NULL};
    free(run_helper("sites", extra));
    char path[PATH_MAX + 64];
    find_dump(".folded", path, sizeof path);
    double bytes[SITES];
    int lines;
    folded_site_bytes(path, bytes, &lines);
    for (int s = 0; s < SITES; s++) expect_within_ten_percent(bytes, s);
    find_dump(".heap", path, sizeof path);
    char *text = read_file(path);
    cr_expect_not_null(strstr(text, "/libheapkit.so"), "the maps name the fast engine's library");
    free(text);
    remove_dir();
}

Test(prof_fast, freed_blocks_leave_the_profile, .init = use_fast_engine)
{
    make_dir();
    const char *extra[] = {NULL};
    free(run_helper("freed", extra));
    char path[PATH_MAX + 64];
    find_dump(".folded", path, sizeof path);
    double bytes[SITES];
    int lines;
    folded_site_bytes(path, bytes, &lines);
    cr_expect_eq(bytes[1], 0, "site_eight_mib freed every block, yet holds %.0f bytes", bytes[1]);
    expect_within_ten_percent(bytes, 0);
    expect_within_ten_percent(bytes, 2);
    remove_dir();
}

/* heapkit.<pid>.alloc.folded counts every sampled allocation of the run, freed or not: each
 * site's estimate is within 10 % of the bytes its calls allocated (the helper prints them). */
Test(prof_fast, freed_blocks_stay_in_the_run_s_allocations, .init = use_fast_engine)
{
    make_dir();
    const char *extra[] = {NULL};
    child_result_t *r = run_helper("freed", extra);
    char path[PATH_MAX + 64];
    find_dump(".alloc.folded", path, sizeof path);
    double bytes[SITES];
    int lines;
    folded_site_bytes(path, bytes, &lines);
    for (int s = 0; s < SITES; s++) {
        char key[64];
        snprintf(key, sizeof key, "allocated %s ", site_names[s]);
        const char *line = strstr(r->out, key);
        cr_assert_not_null(line, "%s", r->out);
        double truth = strtod(line + strlen(key), NULL);
        double error = (bytes[s] - truth) / truth;
        cr_expect(error > -0.10 && error < 0.10, "%s: estimated %.0f bytes allocated, truly %.0f",
                  site_names[s], bytes[s], truth);
    }
    free(r);
    remove_dir();
}

Test(prof_fast, blocks_grown_in_place_by_realloc_are_estimated_right, .init = use_fast_engine)
{
    make_dir();
    const char *extra[] = {NULL};
    child_result_t *r = run_helper("grown", extra);
    free(r);
    char path[PATH_MAX + 64];
    find_dump(".folded", path, sizeof path);
    double bytes = folded_bytes_through(path, "site_grown_by_realloc");
    double error = bytes / (8 << 20) - 1;
    cr_expect(error > -0.10 && error < 0.10, "estimated %.0f of 8388608 bytes (%+.1f %%)", bytes,
              100 * error);
    remove_dir();
}

Test(prof_fast, threads_and_fork_allocate_while_nearly_every_block_is_sampled,
     .init = use_fast_engine)
{
    make_dir();
    const char *extra[] = {"HEAPKIT_PROF_SAMPLE=64", "HEAPKIT_CHECK=1", NULL};
    child_result_t *r = run_helper("threads", extra);
    cr_expect_str_eq(r->out, "ok\n");
    free(r);
    remove_dir();
}
