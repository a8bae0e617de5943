/* The heapkit command (build/bin/heapkit, a compiled program): run passes exit statuses,
 * arguments and signals through and leaves one valid JSON dump per process (a program that
 * forks and executes leaves two), the dumps' heap maps add up to their statistics, report
 * writes one self-contained page (with the flame graph of a profile beside a dump, and from a
 * large dump read as a stream), stats prints tables, every verb has --help, and the page opens
 * in headless Chromium with no console error and a picture that is not blank. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"

#define HEAPKIT HK_BUILD_DIR "/bin/heapkit"
#define HELPER  HK_BUILD_DIR "/tests/helper_fork_exec"

static child_result_t *run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static child_result_t *run(const char *fmt, ...)
{
    char command[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(command, sizeof command, fmt, ap);
    va_end(ap);
    child_result_t *r = malloc(sizeof *r);
    cr_assert_not_null(r);
    child_run(r, command, NULL, 120);
    return r;
}

static void make_temp_dir(char *dir, size_t cap)
{
    snprintf(dir, cap, "/tmp/heapkit-cli-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void remove_dir(const char *dir)
{
    free(run("rm -rf '%s'", dir));
}

/* The heapkit.<pid>.json files of dir. */
static int dumps_in(const char *dir, char names[][64], int cap)
{
    DIR *d = opendir(dir);
    cr_assert_not_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        long pid;
        char rest[8];
        if (sscanf(e->d_name, "heapkit.%ld.jso%7s", &pid, rest) == 2 && strcmp(rest, "n") == 0 &&
            n < cap)
            snprintf(names[n++], 64, "%.60s", e->d_name);
    }
    closedir(d);
    return n;
}

/* ---- run ---------------------------------------------------------------------------------- */

Test(run, the_exit_status_of_the_program_is_heapkits)
{
    child_result_t *r = run(HEAPKIT " run -- sh -c 'exit 42'");
    cr_expect_eq(child_exit_code(r), 42, "%s", r->err);
    free(r);
    r = run(HEAPKIT " run --engine buddy -- true");
    cr_expect_eq(child_exit_code(r), 0, "%s", r->err);
    free(r);
    r = run(HEAPKIT " run -- /no/such/program");
    cr_expect_eq(child_exit_code(r), 127);
    cr_expect_not_null(strstr(r->err, "cannot run /no/such/program"), "%s", r->err);
    free(r);
}

Test(run, arguments_reach_the_program_exactly)
{
    child_result_t *r = run(HEAPKIT " run --engine buddy -- printf '[%%s]\\n' 'two words' "
                                    "'\"quoted\"' \"it's\" '' '$HOME' '--stats' '*'");
    cr_expect_eq(child_exit_code(r), 0, "%s", r->err);
    cr_expect_str_eq(r->out, "[two words]\n[\"quoted\"]\n[it's]\n[]\n[$HOME]\n[--stats]\n[*]\n");
    free(r);
}

Test(run, a_program_killed_by_a_signal_gives_128_plus_its_number)
{
    child_result_t *r = run(HEAPKIT " run -- sh -c 'kill -TERM $$'");
    cr_expect_eq(child_exit_code(r), 128 + SIGTERM, "%s", r->err);
    free(r);
}

/* Starts heapkit run with the program's output on a pipe, and waits for the program to say
 * "ready" (so its signal handling is in place). */
static pid_t start_until_ready(const char *script, int *out_fd)
{
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        alarm(60);
        execl(HEAPKIT, "heapkit", "run", "--engine", "buddy", "--", "sh", "-c", script,
              (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    char line[64] = "";
    size_t len = 0;
    while (len + 1 < sizeof line && !strstr(line, "ready\n")) {
        ssize_t n = read(fds[0], line + len, sizeof line - 1 - len);
        cr_assert_gt(n, 0, "the program said it was ready");
        len += (size_t)n;
        line[len] = '\0';
    }
    *out_fd = fds[0];
    return pid;
}

Test(run, a_signal_sent_to_heapkit_reaches_the_program)
{
    int out;
    pid_t pid = start_until_ready("echo ready; exec sleep 60", &out);
    cr_assert_eq(kill(pid, SIGTERM), 0);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_expect(WIFEXITED(status), "heapkit itself did not die of the signal");
    cr_expect_eq(WEXITSTATUS(status), 128 + SIGTERM);
    close(out);
}

Test(run, a_signal_the_program_handles_is_handled_and_its_status_passed_on)
{
    int out;
    pid_t pid = start_until_ready(
        "trap 'echo got USR1; exit 7' USR1; echo ready; while :; do sleep 0.05; done", &out);
    cr_assert_eq(kill(pid, SIGUSR1), 0);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    char text[256];
    ssize_t n = read(out, text, sizeof text - 1);
    text[n > 0 ? n : 0] = '\0';
    cr_expect_not_null(strstr(text, "got USR1"), "%s", text);
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 7, "status %x", status);
    close(out);
}

Test(run, every_process_of_the_program_leaves_its_own_valid_dump)
{
    char dir[64];
    make_temp_dir(dir, sizeof dir);
    child_result_t *r = run(HEAPKIT " run --engine buddy --dump-dir '%s' -- " HELPER, dir);
    cr_assert_eq(child_exit_code(r), 0, "%s", r->err);
    free(r);
    char names[8][64];
    int n = dumps_in(dir, names, 8);
    cr_expect_eq(n, 2, "the program and the child it executed: one dump each");
    cr_expect_str_neq(names[0], names[1]);
    for (int i = 0; i < n; i++) {
        /* Valid JSON, every member there, and the heap map's blocks add up to the
         * statistics the process printed just before it. */
        r = run("python3 -c '\n"
                "import json, sys\n"
                "d = json.load(open(sys.argv[1]))\n"
                "for k in (\"heapkit_dump\", \"pid\", \"program\", \"engine\", \"version\", "
                "\"stats\", \"series\", \"map\"): assert k in d, k\n"
                "assert d[\"engine\"] == \"heapkit-buddy\" and d[\"map\"][\"heapkit_map\"] == 1\n"
                "assert d[\"library\"] == \"heapkit-buddy\"\n"
                "used = sum(i[3] for i in d[\"map\"][\"items\"] if i[0] == 2 and i[8] == "
                "\"block\" and i[1] == 0)\n"
                "assert used == d[\"stats\"][\"buddy\"][\"heap_bytes_in_use\"], used\n"
                "large = sum(i[3] for i in d[\"map\"][\"items\"] if i[0] == 0 and i[8] == "
                "\"large block\")\n"
                "assert large == d[\"stats\"][\"buddy\"][\"large_bytes_in_use\"], large\n"
                "assert len(d[\"series\"]) >= 1 and all(len(p) == 3 for p in d[\"series\"])\n"
                "' '%s/%s'",
                dir, names[i]);
        cr_expect_eq(child_exit_code(r), 0, "%s: %s", names[i], r->err);
        free(r);
    }
    remove_dir(dir);
}

Test(run, the_fast_engine_writes_valid_dumps_too)
{
    char dir[64];
    make_temp_dir(dir, sizeof dir);
    child_result_t *r = run(HEAPKIT " run --dump-dir '%s' -- " HELPER, dir);
    cr_assert_eq(child_exit_code(r), 0, "%s", r->err);
    free(r);
    char names[8][64];
    int n = dumps_in(dir, names, 8);
    cr_expect_eq(n, 2);
    for (int i = 0; i < n; i++) {
        r = run("python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); "
                "assert d[\"engine\"] == d[\"library\"] == \"heapkit\"; "
                "assert \"items\" in d[\"map\"]' '%s/%s'",
                dir, names[i]);
        cr_expect_eq(child_exit_code(r), 0, "%s: %s", names[i], r->err);
        free(r);
    }
    remove_dir(dir);
}

Test(run, the_heap_map_file_names_each_process_by_its_pid)
{
    char dir[64];
    make_temp_dir(dir, sizeof dir);
    child_result_t *r = run("HEAPKIT_MAP_FILE='%s/map.%%p.json' " HEAPKIT
                            " run --engine buddy -- " HELPER " && ls '%s' | wc -l && "
                            "for f in '%s'/map.*.json; do python3 -c 'import json, sys; "
                            "json.load(open(sys.argv[1]))' \"$f\" || exit 1; done",
                            dir, dir, dir);
    cr_expect_eq(child_exit_code(r), 0, "%s", r->err);
    cr_expect_str_eq(r->out, "2\n");
    free(r);
    remove_dir(dir);
}

/* ---- report ------------------------------------------------------------------------------- */

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s", path);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    rewind(f);
    char *text = malloc((size_t)size + 1);
    cr_assert_eq(fread(text, 1, (size_t)size, f), (size_t)size);
    text[size] = '\0';
    fclose(f);
    return text;
}

static int count(const char *text, const char *needle)
{
    int n = 0;
    for (const char *p = text; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

/* --engine secure preloads libheapkit-secure.so: the fast engine hardened, whose statistics
 * carry the fast engine's name; the heading and the dumps name the library. */
Test(run, the_secure_engine_is_libheapkit_secure_and_says_so)
{
    child_result_t *r = run(HEAPKIT " lib secure");
    cr_expect_eq(child_exit_code(r), 0, "%s", r->err);
    cr_expect_not_null(strstr(r->out, "/libheapkit-secure.so"), "%s", r->out);
    free(r);
    r = run(HEAPKIT " run --engine secure --stats -- sh -c 'ls / >/dev/null; exit 3'");
    cr_expect_eq(child_exit_code(r), 3, "%s", r->err);
    cr_expect_not_null(strstr(r->err, "== heapkit-secure statistics: pid "), "%s", r->err);
    free(r);
    char dir[64];
    make_temp_dir(dir, sizeof dir);
    r = run(HEAPKIT " run --engine secure --dump-dir '%s' --report '%s/page.html' -- " HELPER, dir,
            dir);
    cr_assert_eq(child_exit_code(r), 0, "%s", r->err);
    free(r);
    char names[8][64];
    int n = dumps_in(dir, names, 8);
    cr_expect_eq(n, 2);
    for (int i = 0; i < n; i++) {
        r = run("python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); "
                "assert d[\"engine\"] == \"heapkit\"; "
                "assert d[\"library\"] == \"heapkit-secure\"' '%s/%s'",
                dir, names[i]);
        cr_expect_eq(child_exit_code(r), 0, "%s: %s", names[i], r->err);
        free(r);
    }
    char path[128];
    snprintf(path, sizeof path, "%s/page.html", dir);
    char *html = read_file(path);
    cr_expect_eq(count(html, "library heapkit-secure \u00b7 engine heapkit"), 2, "each section");
    free(html);
    remove_dir(dir);
}

Test(run, report_writes_one_self_contained_page_with_a_section_per_process)
{
    char dir[64], page[128];
    make_temp_dir(dir, sizeof dir);
    snprintf(page, sizeof page, "%s/out.html", dir);
    /* TMPDIR: the dumps' temporary directory is made there, and must be gone afterwards. */
    child_result_t *r =
        run("TMPDIR='%s' " HEAPKIT " run --engine buddy --report '%s' -- " HELPER, dir, page);
    cr_assert_eq(child_exit_code(r), 0, "%s", r->err);
    cr_expect_not_null(strstr(r->err, "report of 2 processes written to"), "%s", r->err);
    free(r);
    char *html = read_file(page);
    cr_expect(strncmp(html, "<!DOCTYPE html>", 15) == 0);
    cr_expect_eq(count(html, "<section id=\"pid-"), 2);
    cr_expect_eq(count(html, "<svg class=\"map\""), 2);
    cr_expect_eq(count(html, "<svg class=\"histogram\""), 2);
    cr_expect_eq(count(html, "<svg class=\"series\""), 2);
    cr_expect_eq(count(html, "No profile for this process"), 2);
    cr_expect_gt(count(html, "<title>"), 10, "hover texts");
    cr_expect_gt(count(html, "<td>malloc_calls</td>") + count(html, ">malloc_calls<"), 1);
    /* Nothing is fetched: no external scripts, styles, images or links. */
    cr_expect_eq(count(html, "src="), 0);
    cr_expect_eq(count(html, "href=\"http"), 0);
    cr_expect_eq(count(html, "url("), 0);
    cr_expect_eq(count(html, "@import"), 0);
    free(html);
    r = run("ls '%s'", dir);
    cr_expect_str_eq(r->out, "out.html\n", "the temporary dumps are removed");
    free(r);
    remove_dir(dir);
}

/* A dump set with a profile beside one dump (folded stacks) and a heap profile beside the
 * other; the page draws their flame graphs: the live bytes of the first, the live and the
 * allocated bytes (its bracketed columns) of the second. */
Test(report, profiles_beside_the_dumps_become_flame_graphs)
{
    char dir[64];
    make_temp_dir(dir, sizeof dir);
    free(run(HEAPKIT " run --engine buddy --dump-dir '%s' -- " HELPER, dir));
    char names[8][64];
    cr_assert_eq(dumps_in(dir, names, 8), 2);
    long pids[2];
    for (int i = 0; i < 2; i++)
        sscanf(names[i], "heapkit.%ld", &pids[i]);
    char path[256];
    snprintf(path, sizeof path, "%s/heapkit.%ld.folded", dir, pids[0]);
    FILE *f = fopen(path, "w");
    fputs("main;parse_input;make_token 300000\nmain;parse_input;grow_buffer 100000\n"
          "main;build_index 600000\nmain;<script>&evil 10\n",
          f);
    fclose(f);
    snprintf(path, sizeof path, "%s/heapkit.%ld.heap", dir, pids[1]);
    f = fopen(path, "w");
    fputs("heap profile:    2:   3000 [     4:  9000] @ heapprofile\n"
          "     1:     2000 [     2:     6000] @ 0x401010 0x401200\n"
          "     1:     1000 [     2:     3000] @ 0x7f0000001000 0x401200\n"
          "\nMAPPED_LIBRARIES:\n"
          "00400000-00402000 r-xp 00000000 08:01 123 /usr/bin/demo\n"
          "7f0000000000-7f0000010000 r-xp 00002000 08:01 456 /usr/lib/libdemo.so\n",
          f);
    fclose(f);
    child_result_t *r = run(HEAPKIT " report '%s' -o '%s/page.html'", dir, dir);
    cr_assert_eq(child_exit_code(r), 0, "%s", r->err);
    free(r);
    snprintf(path, sizeof path, "%s/page.html", dir);
    char *html = read_file(path);
    cr_expect_eq(count(html, "<svg class=\"flame\""), 3);
    cr_expect_eq(count(html, "<h4>Live at exit</h4>"), 2);
    cr_expect_eq(count(html, "<h4>Allocated during the run</h4>"), 1);
    cr_expect_gt(count(html, "8.79 KiB allocated in the run"), 0, "the heap file's columns");
    cr_expect_gt(count(html, "build_index"), 0);
    cr_expect_gt(count(html, "make_token"), 0);
    cr_expect_gt(count(html, "demo+0x1010"), 0, "addresses named by their mapping");
    cr_expect_gt(count(html, "libdemo.so+0x3000"), 0);
    cr_expect_eq(count(html, "<script>&evil"), 0, "frame names are escaped");
    cr_expect_gt(count(html, "&lt;script&gt;&amp;evil"), 0);
    free(html);
    remove_dir(dir);
}

/* A program that freed everything before it ended: nothing live, the run's allocations drawn. */
Test(report, a_profile_with_nothing_live_shows_the_run_s_allocations)
{
    char dir[64];
    make_temp_dir(dir, sizeof dir);
    free(run(HEAPKIT " run --engine buddy --dump-dir '%s' -- true", dir));
    char names[8][64];
    cr_assert_eq(dumps_in(dir, names, 8), 1);
    long pid;
    sscanf(names[0], "heapkit.%ld", &pid);
    char path[256];
    snprintf(path, sizeof path, "%s/heapkit.%ld.folded", dir, pid);
    FILE *f = fopen(path, "w");
    fclose(f);
    snprintf(path, sizeof path, "%s/heapkit.%ld.alloc.folded", dir, pid);
    f = fopen(path, "w");
    fputs("main;load_corpus;PyUnicode_New 3000000\nmain;build_index;list_resize 1000000\n", f);
    fclose(f);
    child_result_t *r = run(HEAPKIT " report '%s' -o '%s/page.html'", dir, dir);
    cr_assert_eq(child_exit_code(r), 0, "%s", r->err);
    free(r);
    snprintf(path, sizeof path, "%s/page.html", dir);
    char *html = read_file(path);
    cr_expect_eq(count(html, "No profile for this process"), 0);
    cr_expect_eq(count(html, "No sampled block was live at exit"), 1);
    cr_expect_eq(count(html, "<svg class=\"flame\""), 1);
    cr_expect_gt(count(html, "load_corpus"), 0);
    cr_expect_gt(count(html, "3.81 MiB allocated in the run"), 0);
    free(html);
    remove_dir(dir);
}

Test(report, a_large_dump_is_read_as_a_stream)
{
    char dir[64], path[128];
    make_temp_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/heapkit.77.json", dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fprintf(f, "{\"heapkit_dump\": 1, \"pid\": 77, \"program\": \"big\", \"engine\": \"e\", "
               "\"version\": \"0\", \"stats\": {\"engine\": \"e\", \"engine\": {\"n\": 1}}, "
               "\"series\": [[0, 1, 2], [5, 3, 4]], \"map\": {\"heapkit_map\": 1, \"items\": [");
    /* 600 000 blocks in 64-byte classes: about 40 MB of JSON. */
    unsigned long long base = 0x10000000;
    fprintf(f, "[0, 0, \"0x%llx\", %d, 0, 0, 0, 0, \"heap\"]", base, 600000 * 64);
    for (int i = 0; i < 600000; i++)
        fprintf(f, ",\n[2, %d, \"0x%llx\", 64, 48, 0, 0, 6, \"block\"]", i % 3 == 0,
                base + (unsigned long long)i * 64);
    fprintf(f, "]}}\n");
    fclose(f);
    child_result_t *r = run(HEAPKIT " report '%s' -o '%s/page.html'", path, dir);
    cr_assert_eq(child_exit_code(r), 0, "%s", r->err);
    cr_expect_not_null(strstr(r->err, "report: reading"), "progress for a large input: %s", r->err);
    free(r);
    struct rusage usage;
    getrusage(RUSAGE_CHILDREN, &usage);
    cr_expect_lt(usage.ru_maxrss, 64 * 1024, "the report held %ld KiB at most", usage.ru_maxrss);
    snprintf(path, sizeof path, "%s/page.html", dir);
    char *html = read_file(path);
    cr_expect_gt(count(html, "600 000 map items") + count(html, "600001 map items") +
                     count(html, "600 001 map items"),
                 0, "all items counted");
    cr_expect_gt(count(html, "class 6"), 0);
    free(html);
    remove_dir(dir);
}

Test(report, malformed_dumps_are_reported_and_fail)
{
    char dir[64];
    make_temp_dir(dir, sizeof dir);
    child_result_t *r =
        run("printf '{\"heapkit_dump\": 1, \"pid\": 3, ' > '%s/heapkit.3.json' && " HEAPKIT
            " report '%s/heapkit.3.json' -o '%s/page.html'",
            dir, dir, dir);
    cr_expect_eq(child_exit_code(r), 1);
    cr_expect_not_null(strstr(r->err, "is not a heapkit dump"), "%s", r->err);
    free(r);
    r = run(HEAPKIT " report -o '%s/page.html'", dir);
    cr_expect_eq(child_exit_code(r), 2);
    free(r);
    remove_dir(dir);
}

/* ---- stats, help, errors ------------------------------------------------------------------ */

Test(stats, json_statistics_print_as_tables)
{
    char dir[64];
    make_temp_dir(dir, sizeof dir);
    child_result_t *r = run(HEAPKIT " run --engine buddy --json --stats-file '%s/s.json' -- " HELPER
                                    " && " HEAPKIT " stats '%s/s.json'",
                            dir, dir);
    cr_expect_eq(child_exit_code(r), 0, "%s", r->err);
    cr_expect_eq(count(r->out, "heapkit-buddy statistics"), 2, "%s", r->out);
    cr_expect_not_null(strstr(r->out, "malloc_calls"));
    cr_expect_not_null(strstr(r->out, "heap_bytes_mapped"));
    free(r);
    r = run("echo '{\"engine\": \"x\", \"engine\": {\"mapped_bytes\": 2097152}}' | " HEAPKIT
            " stats");
    cr_expect_eq(child_exit_code(r), 0, "%s", r->err);
    cr_expect_not_null(strstr(r->out, "2.00 MiB"), "%s", r->out);
    free(r);
    remove_dir(dir);
}

Test(command, every_verb_has_help_and_mistakes_exit_2)
{
    static const char *const verbs[] = {"run", "report", "stats", "lib"};
    for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++) {
        child_result_t *r = run(HEAPKIT " %s --help", verbs[i]);
        cr_expect_eq(child_exit_code(r), 0, "%s --help", verbs[i]);
        cr_expect_not_null(strstr(r->out, "usage: heapkit"), "%s --help: %s", verbs[i], r->out);
        free(r);
    }
    child_result_t *r = run(HEAPKIT " --help");
    cr_expect_not_null(strstr(r->out, "report DUMP"));
    free(r);
    r = run(HEAPKIT " frobnicate");
    cr_expect_eq(child_exit_code(r), 2);
    free(r);
    r = run(HEAPKIT " run --no-such-option -- true");
    cr_expect_eq(child_exit_code(r), 2);
    free(r);
    r = run(HEAPKIT " run");
    cr_expect_eq(child_exit_code(r), 2);
    free(r);
    r = run(HEAPKIT " run --engine nope -- true");
    cr_expect_eq(child_exit_code(r), 1);
    free(r);
}

/* ---- In a browser ------------------------------------------------------------------------- */

Test(browser, the_report_opens_in_headless_chromium_without_errors)
{
    child_result_t *r = run("command -v chromium || command -v chromium-browser");
    char browser[256];
    snprintf(browser, sizeof browser, "%.*s", (int)strcspn(r->out, "\n"), r->out);
    free(r);
    if (!browser[0]) cr_skip_test("chromium is not installed (tools/deps.sh test installs it)");
    char dir[64];
    make_temp_dir(dir, sizeof dir);
    r = run(HEAPKIT " run --engine buddy --report '%s/page.html' -- " HELPER, dir);
    cr_assert_eq(child_exit_code(r), 0, "%s", r->err);
    free(r);
    r = run("HOME='%s' '%s' --headless --no-sandbox --disable-gpu --disable-quic --no-first-run "
            "--disable-background-networking --disable-component-update --disable-sync "
            "--user-data-dir='%s/profile' --enable-logging=stderr --v=0 "
            "--screenshot='%s/shot.png' --window-size=1000,1200 'file://%s/page.html' 2>&1 | "
            "grep -E 'Uncaught|ERROR:CONSOLE|CONSOLE\\(' ; "
            "python3 '" HK_SOURCE_DIR "/tests/png_colours.py' '%s/shot.png'",
            dir, browser, dir, dir, dir, dir);
    cr_expect_eq(child_exit_code(r), 0, "%s", r->err);
    char *line_end;
    int colours = (int)strtol(r->out, &line_end, 10);
    cr_expect(line_end != r->out && *line_end == '\n' && !strchr(line_end + 1, '\n'),
              "no console errors, only the colour count: %s", r->out);
    cr_expect_geq(colours, 8, "the screenshot is not blank (%d colours)", colours);
    free(r);
    remove_dir(dir);
}
