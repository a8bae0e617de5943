/* The layering of src/ (DESIGN: dependencies point down only): every `#include "dir/…"` in a
 * source directory names a directory that directory may call. os is the bottom, core stands on
 * it, the heap profiler (prof) on both, the engines (list, family, fast, buddy) on those and
 * never on each other (fast and buddy call the profiler), and the front ends stand on
 * everything. The engine contract lives in core, so no engine needs a front-end header. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef HK_SOURCE_DIR
#error "HK_SOURCE_DIR must name the source tree"
#endif

/* Which directories the files of dir may include from (space-separated, each followed by a
 * space so a name can be searched with its trailing blank). */
static const char *allowed_for(const char *dir)
{
    static const struct {
        const char *dir, *allowed;
    } rules[] = {
        {"os", "os "},
        {"core", "core os "},
        {"prof", "prof core os "},
        {"list", "list core os "},
        {"family", "family core os "},
        {"fast", "fast core os prof "},
        {"buddy", "buddy core os prof "},
        {"front", "front core os prof list family fast buddy "},
        /* The command drives the library from outside: public headers only. */
        {"cli", "cli "},
    };
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++)
        if (strcmp(rules[i].dir, dir) == 0) return rules[i].allowed;
    return NULL;
}

/* Checks every `#include "x/…"` line of one file; returns the number of violations. */
static int check_file(const char *dir, const char *path)
{
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "cannot open %s", path);
    const char *allowed = allowed_for(dir);
    char line[512];
    int bad = 0;
    while (fgets(line, sizeof line, f)) {
        char target[64];
        int end = 0;
        /* Only includes with a directory: "core/lock.h", not "MM.h" or <stdio.h>. */
        if (sscanf(line, " #include \"%63[^/\"]/%n", target, &end) != 1 || end == 0) continue;
        char word[80];
        snprintf(word, sizeof word, "%s ", target);
        if (!strstr(allowed, word)) {
            cr_log_error("%s includes %s/: %s may only include from %s", path, target, dir,
                         allowed);
            bad++;
        }
    }
    fclose(f);
    return bad;
}

static int check_dir(const char *dir)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/src/%s", HK_SOURCE_DIR, dir);
    DIR *d = opendir(path);
    cr_assert_not_null(d, "cannot open %s", path);
    int bad = 0, files = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n < 3 || e->d_name[n - 2] != '.' ||
            (e->d_name[n - 1] != 'c' && e->d_name[n - 1] != 'h'))
            continue;
        char file[1400];
        snprintf(file, sizeof file, "%s/%s", path, e->d_name);
        bad += check_file(dir, file);
        files++;
    }
    closedir(d);
    cr_assert_gt(files, 0, "no sources in %s", path);
    return bad;
}

Test(layout, every_source_directory_has_a_rule)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/src", HK_SOURCE_DIR);
    DIR *d = opendir(path);
    cr_assert_not_null(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        char sub[1400];
        struct stat st;
        snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
        if (e->d_name[0] == '.' || stat(sub, &st) != 0 || !S_ISDIR(st.st_mode)) continue;
        cr_expect_not_null(allowed_for(e->d_name), "src/%s has no layering rule in %s", e->d_name,
                           __FILE__);
    }
    closedir(d);
}

Test(layout, lower_layers_include_nothing_above_them)
{
    cr_expect_eq(check_dir("os"), 0);
    cr_expect_eq(check_dir("core"), 0);
    cr_expect_eq(check_dir("prof"), 0);
}

Test(layout, engines_include_no_front_header_and_no_other_engine)
{
    cr_expect_eq(check_dir("list"), 0);
    cr_expect_eq(check_dir("family"), 0);
    cr_expect_eq(check_dir("fast"), 0);
    cr_expect_eq(check_dir("buddy"), 0);
}

Test(layout, the_command_includes_nothing_of_the_library)
{
    cr_expect_eq(check_dir("cli"), 0);
}

Test(layout, the_engine_contract_sits_in_core)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/src/core/engine.h", HK_SOURCE_DIR);
    cr_expect_eq(access(path, F_OK), 0, "%s is missing", path);
    snprintf(path, sizeof path, "%s/src/front/engine.h", HK_SOURCE_DIR);
    cr_expect_neq(access(path, F_OK), 0, "%s should have moved to src/core", path);
}
