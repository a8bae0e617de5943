/* Real programs with a heapkit product preloaded (LD_PRELOAD, as users run it) must print
 * exactly what they print on glibc's malloc and exit the same way. Each runs as a child process;
 * the preload reaches every process of a pipeline through the environment. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "child.h"

static const char *preload_env[] = {"LD_PRELOAD=" HK_PRODUCT_LIB, NULL};

/* Runs command twice, on glibc and preloaded, in a fresh temporary directory each time, and
 * expects identical stdout and exit code 0. Returns the preloaded run's stderr in err. */
static void expect_same_output(const char *command)
{
    child_result_t *plain = malloc(sizeof *plain), *ours = malloc(sizeof *ours);
    char wrapped[8192];
    snprintf(wrapped, sizeof wrapped,
             "d=$(mktemp -d) && cd \"$d\" && (%s); rc=$?; cd / && rm -rf \"$d\"; exit $rc",
             command);
    child_run(plain, wrapped, NULL, 120);
    cr_assert_eq(child_exit_code(plain), 0, "on glibc: %s\nstderr: %s", command, plain->err);
    child_run(ours, wrapped, preload_env, 120);
    cr_assert_eq(child_exit_code(ours), 0, "under %s: %s\nstderr: %s", HK_PRODUCT_NAME, command,
                 ours->err);
    cr_assert_str_eq(ours->out, plain->out, "output differs for: %s", command);
    cr_assert_gt(strlen(ours->out), 0, "the command printed nothing: %s", command);
    cr_assert_null(strstr(ours->err, "heapkit:"), "heapkit complained: %s", ours->err);
    free(plain);
    free(ours);
}

Test(programs, true_and_ls_start_and_exit_cleanly)
{
    expect_same_output("/bin/true && echo ok && ls -la / | wc -l && env | grep -c PATH");
}

Test(programs, shell_pipeline)
{
    expect_same_output("seq 1 30000 | sort -r | uniq | awk '{s+=$1} END {print NR, s}' && "
                       "seq 1 5000 | tr 0-9 a-j | sort | md5sum");
}

Test(programs, python3_allocation_heavy_script, .timeout = 200)
{
    /* Debian's python3 when present (a version manager's shim is a shell script). */
    expect_same_output("py=/usr/bin/python3; [ -x $py ] || py=python3; "
                       "$py " HK_SOURCE_DIR "/tests/data/alloc_churn.py");
}

Test(programs, sqlite3_builds_and_queries_a_database, .timeout = 200)
{
    expect_same_output(
        "{ echo 'CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, x INTEGER);'; "
        "echo 'BEGIN;'; seq 1 20000 | awk '{printf \"INSERT INTO t(name, x) VALUES "
        "(\\x27n%d\\x27, %d);\\n\", $1 * 7 % 1000, $1 * 13 % 9973}'; echo 'COMMIT;'; "
        "echo 'CREATE INDEX tx ON t(x);'; "
        "echo 'SELECT count(*), sum(x), count(DISTINCT name) FROM t;'; "
        "echo 'SELECT name, count(*) FROM t GROUP BY name ORDER BY 2 DESC, 1 LIMIT 5;'; "
        "} | sqlite3 db.sqlite");
}

Test(programs, git_commits_and_hashes, .timeout = 200)
{
    expect_same_output(
        "export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.org GIT_COMMITTER_NAME=t "
        "GIT_COMMITTER_EMAIL=t@example.org GIT_AUTHOR_DATE='2020-01-01T00:00:00Z' "
        "GIT_COMMITTER_DATE='2020-01-01T00:00:00Z' HOME=$PWD GIT_CONFIG_NOSYSTEM=1; "
        "git init -q repo && cd repo && seq 1 3000 > a.txt && mkdir d && "
        "seq 1 100 | sed 's/^/line /' > d/b.txt && git add . && "
        "git commit -q -m first && sed -i 's/7/seven/' a.txt && git commit -qam second && "
        "git log --format='%H %s' && git diff --stat HEAD~1 && git gc -q && git count-objects");
}

Test(programs, gcc_compiles_and_runs_a_program, .timeout = 200)
{
    expect_same_output(
        "printf '#include <stdio.h>\\n#include <stdlib.h>\\n"
        "struct n { struct n *next; int v; };\\n"
        "int main(void) { struct n *h = 0; long s = 0;\\n"
        "  for (int i = 0; i < 100000; i++) { struct n *x = malloc(sizeof *x); x->v = i; "
        "x->next = h; h = x; }\\n"
        "  while (h) { struct n *x = h; s += x->v; h = x->next; free(x); }\\n"
        "  printf(\"%%ld\\\\n\", s); return 0; }\\n' > prog.c && "
        "gcc -O2 -Wall -o prog prog.c && ./prog && gcc -O0 -c prog.c -o prog.o && "
        "nm prog.o | awk '{print $NF}' | sort");
}

Test(programs, statistics_are_printed_at_exit_when_asked)
{
    child_result_t *r = malloc(sizeof *r);
    const char *env[] = {"LD_PRELOAD=" HK_PRODUCT_LIB, "HEAPKIT_SHOW_STATS=1", NULL};
    child_run(r, "seq 1 1000 | sort -n | tail -n 1", env, 60);
    cr_assert_eq(child_exit_code(r), 0);
    cr_assert_str_eq(r->out, "1000\n");
    cr_assert_not_null(strstr(r->err, HK_PRODUCT_NAME " statistics"), "stderr: %s", r->err);
    const char *json_env[] = {"LD_PRELOAD=" HK_PRODUCT_LIB, "HEAPKIT_SHOW_STATS=1",
                              "HEAPKIT_STATS_JSON=1", NULL};
    child_run(r, "/bin/true", json_env, 60); /* not sh's builtin: dash leaves by _exit */
    cr_assert_eq(r->err[0], '{', "JSON statistics start with '{': %s", r->err);
    free(r);
}

Test(programs, heapkit_run_preloads_and_reports)
{
    char dir[4096], command[4600];
    child_self_dir(dir, sizeof dir);
    const char *engine = strcmp(HK_PRODUCT_NAME, "heapkit") == 0 ? "fast" : "buddy";
    snprintf(command, sizeof command,
             "%s../bin/heapkit run --engine %s --stats --time -- "
             "sh -c 'grep -c \"%s\" /proc/self/maps; exit 3'",
             dir, engine, HK_PRODUCT_LIB);
    child_result_t *r = malloc(sizeof *r);
    child_run(r, command, NULL, 60);
    cr_assert_eq(child_exit_code(r), 3, "the program's exit status passes through; stderr: %s",
                 r->err);
    cr_assert_neq(atoi(r->out), 0, "the library is mapped in the program: %s", r->out);
    cr_assert_not_null(strstr(r->err, HK_PRODUCT_NAME " statistics"), "stderr: %s", r->err);
    cr_assert_not_null(strstr(r->err, "wall time"), "stderr: %s", r->err);
    free(r);
}
