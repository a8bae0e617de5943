/* Real programs with libheapkit-buddy.so preloaded (LD_PRELOAD, as users run it): each command
 * runs twice as a child process, on glibc's malloc and on the buddy engine, in a fresh
 * temporary directory, and must print the same thing and exit 0 both times. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef BUDDY_PRELOAD
#error "built by mk/buddy.mk, which defines BUDDY_PRELOAD"
#endif

typedef struct {
    int status;      /* from waitpid */
    char out[65536]; /* stdout, truncated */
    char err[16384]; /* stderr, truncated */
} run_t;

static void read_back(int fd, char *buf, size_t cap)
{
    ssize_t n = pread(fd, buf, cap - 1, 0);
    buf[n > 0 ? n : 0] = '\0';
    close(fd);
}

/* Runs sh -c command with extra (NULL-terminated "NAME=value" list, may be NULL) added to the
 * environment; stdout and stderr go to anonymous files read back afterwards. */
static void run(run_t *r, const char *command, const char *const *extra)
{
    char out_path[] = "/tmp/buddy-out-XXXXXX", err_path[] = "/tmp/buddy-err-XXXXXX";
    int out = mkstemp(out_path), err = mkstemp(err_path);
    cr_assert(out >= 0 && err >= 0);
    unlink(out_path);
    unlink(err_path);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        dup2(out, 1);
        dup2(err, 2);
        for (; extra && *extra; extra++)
            putenv((char *)*extra);
        execl("/bin/sh", "sh", "-c", command, (char *)NULL);
        _exit(127);
    }
    cr_assert_eq(waitpid(pid, &r->status, 0), pid);
    read_back(out, r->out, sizeof r->out);
    read_back(err, r->err, sizeof r->err);
}

static int exit_code(const run_t *r)
{
    return WIFEXITED(r->status) ? WEXITSTATUS(r->status) : 128 + WTERMSIG(r->status);
}

static const char *const preload[] = {BUDDY_PRELOAD, NULL};

static void expect_same_output(const char *command)
{
    static run_t plain, ours;
    char wrapped[8192];
    snprintf(wrapped, sizeof wrapped,
             "d=$(mktemp -d) && cd \"$d\" && (%s); rc=$?; cd / && rm -rf \"$d\"; exit $rc",
             command);
    run(&plain, wrapped, NULL);
    cr_assert_eq(exit_code(&plain), 0, "on glibc: %s\nstderr: %s", command, plain.err);
    run(&ours, wrapped, preload);
    cr_assert_eq(exit_code(&ours), 0, "under the buddy engine: %s\nstderr: %s", command, ours.err);
    cr_assert_gt(strlen(ours.out), 0, "the command printed nothing: %s", command);
    cr_assert_str_eq(ours.out, plain.out, "output differs for: %s", command);
    cr_assert_null(strstr(ours.err, "heapkit:"), "heapkit complained: %s", ours.err);
}

Test(programs, true_and_ls_start_and_exit_cleanly)
{
    expect_same_output("/bin/true && echo ok && ls -la / | wc -l && env | grep -c PATH");
}

Test(programs, shell_pipeline)
{
    expect_same_output("seq 1 20000 | sort -r | uniq | wc -l && "
                       "seq 1 5000 | tr 0-9 a-j | sort | md5sum");
}

Test(programs, python3_builds_dicts_lists_and_strings, .timeout = 120)
{
    expect_same_output("python3 " BUDDY_SOURCE_DIR "/tests/data/buddy_churn.py");
}

Test(programs, sqlite3_inserts_and_sums_20000_rows, .timeout = 120)
{
    expect_same_output(
        "{ echo 'CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, x INTEGER);'; "
        "echo 'BEGIN;'; seq 1 20000 | awk '{printf \"INSERT INTO t(name, x) VALUES "
        "(\\x27n%d\\x27, %d);\\n\", $1 * 7 % 1000, $1 * 13 % 9973}'; echo 'COMMIT;'; "
        "echo 'SELECT count(*), sum(x) FROM t;'; "
        "echo 'SELECT name, count(*) FROM t GROUP BY name ORDER BY 2 DESC, 1 LIMIT 3;'; "
        "} | sqlite3 db.sqlite");
}

Test(programs, git_init_add_commit_and_hash, .timeout = 120)
{
    expect_same_output(
        "export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.org GIT_COMMITTER_NAME=t "
        "GIT_COMMITTER_EMAIL=t@example.org GIT_AUTHOR_DATE='2020-01-01T00:00:00Z' "
        "GIT_COMMITTER_DATE='2020-01-01T00:00:00Z' HOME=$PWD GIT_CONFIG_NOSYSTEM=1; "
        "git --version && git init -q repo && cd repo && seq 1 2000 > a.txt && "
        "git add a.txt && git commit -q -m first && git log --format='%H %s' && "
        "git hash-object a.txt");
}

Test(programs, gcc_compiles_a_program_that_runs, .timeout = 120)
{
    expect_same_output(
        "printf '#include <stdio.h>\\n#include <stdlib.h>\\n"
        "int main(void) { long s = 0; for (int i = 0; i < 1000; i++) { int *p = malloc(64); "
        "p[0] = i; s += p[0]; free(p); } printf(\"%%ld\\\\n\", s); return 0; }\\n' > p.c && "
        "gcc -O2 -o p p.c && ./p && gcc -O0 -c p.c -o p.o && nm p.o | awk '{print $NF}'");
}

Test(programs, statistics_are_printed_at_exit_when_asked)
{
    static run_t r;
    const char *const env[] = {BUDDY_PRELOAD, "HEAPKIT_SHOW_STATS=1", NULL};
    run(&r, "seq 1 1000 | sort -n | tail -n 1", env);
    cr_assert_eq(exit_code(&r), 0);
    cr_assert_str_eq(r.out, "1000\n");
    cr_assert_not_null(strstr(r.err, "heapkit-buddy statistics"), "stderr: %s", r.err);
    cr_assert_not_null(strstr(r.err, "used_32"), "per-order counts: %s", r.err);
    const char *const json[] = {BUDDY_PRELOAD, "HEAPKIT_SHOW_STATS=1", "HEAPKIT_STATS_JSON=1",
                                NULL};
    run(&r, "/bin/true", json); /* not the shell builtin: dash leaves through _exit */
    cr_assert_eq(r.err[0], '{', "JSON statistics start with '{': %s", r.err);
    cr_assert_not_null(strstr(r.err, "\"engine\": \"heapkit-buddy\""));
}
