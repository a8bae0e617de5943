/* The misuse cases of misuse_cases.h, each in a process of its own under each heapkit product
 * and mode, held to the table: a case marked STOP must end in SIGABRT after exactly one
 * "heapkit: " line naming the misuse, FLT may fault instead, MISS must run to its end, TODO is
 * skipped with a warning naming the missing feature (and fails once it is caught, so the table
 * is flipped). Also: docs/hardening.md's table agrees with this one, and the hardened modes
 * run real programs. */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <criterion/parameterized.h>

#include "child.h"
#include "misuse_run.h"

#if !defined(HK_BUILD_DIR) || !defined(HK_SOURCE_DIR)
#error "HK_BUILD_DIR and HK_SOURCE_DIR must name the build and the sources (mk/harden.mk)"
#endif

typedef struct {
    unsigned case_index, config;
} misuse_param_t;

ParameterizedTestParameters(misuse, each_case_ends_as_the_table_says)
{
    static misuse_param_t params[MISUSE_CASE_COUNT * CONFIG_COUNT];
    size_t n = 0;
    for (unsigned i = 0; i < MISUSE_CASE_COUNT; i++)
        for (unsigned c = 0; c < CONFIG_COUNT; c++)
            params[n++] = (misuse_param_t){i, c};
    return cr_make_param_array(misuse_param_t, params, n);
}

ParameterizedTest(misuse_param_t *param, misuse, each_case_ends_as_the_table_says)
{
    const misuse_case_t *m = &misuse_cases[param->case_index];
    const misuse_config_desc_t *config = &misuse_configs[param->config];
    misuse_expect_t expect = m->expect[param->config];
    char lib[4096];
    snprintf(lib, sizeof lib, "%s/lib/%s", HK_BUILD_DIR, config->lib);
    misuse_result_t r;
    misuse_run(&r, HK_BUILD_DIR "/tests/helper_misuse_cases", m->name, lib, config->env);
    const char *where = config->name;
    cr_assert_neq(r.outcome, OUTCOME_ERROR, "%s under %s: status 0x%x; stderr: %s", m->name, where,
                  (unsigned)r.status, r.err);
    cr_assert_neq(r.outcome, OUTCOME_NA, "%s under %s: the function is missing", m->name, where);
    if (r.outcome == OUTCOME_ABORT)
        cr_assert(misuse_report_is_one_line(r.err),
                  "%s under %s aborted without one line naming the misuse: %s", m->name, where,
                  r.err);
    switch (expect) {
    case STOP:
        cr_assert_eq(r.outcome, OUTCOME_ABORT, "%s under %s must be stopped (%s); stderr: %s",
                     m->name, where, misuse_outcome_word(r.outcome), r.err);
        break;
    case FLT:
        cr_assert(r.outcome == OUTCOME_ABORT || r.outcome == OUTCOME_FAULT,
                  "%s under %s must be stopped or fault (%s)", m->name, where,
                  misuse_outcome_word(r.outcome));
        break;
    case MISS:
        cr_assert_eq(r.outcome, OUTCOME_NONE,
                     "%s under %s is caught now (%s: %s): mark it STOP or FLT in misuse_cases.h",
                     m->name, where, misuse_outcome_word(r.outcome), r.err);
        break;
    case TODO:
        cr_assert_neq(r.outcome, OUTCOME_ABORT,
                      "%s under %s is stopped now: flip its TODO to STOP in misuse_cases.h "
                      "(and regenerate docs/hardening.md with make misuse-table)",
                      m->name, where);
        fprintf(stderr, "[WARN] not yet: %s under %s (%s) needs %s\n", m->name, where,
                misuse_outcome_word(r.outcome), m->needs);
        cr_skip_test("not yet: %s", m->needs);
        break;
    }
}

/* The table the docs show: every heapkit cell of every row says what this table expects. */
Test(misuse, docs_hardening_md_shows_this_table)
{
    FILE *f = fopen(HK_SOURCE_DIR "/docs/hardening.md", "r");
    cr_assert_not_null(f, "docs/hardening.md is missing");
    static char line[4096];
    unsigned rows = 0;
    while (fgets(line, sizeof line, f)) {
        char name[128];
        if (sscanf(line, "| %127[a-z0-9-] |", name) != 1) continue;
        const misuse_case_t *m = NULL;
        for (size_t i = 0; i < MISUSE_CASE_COUNT; i++)
            if (strcmp(misuse_cases[i].name, name) == 0) m = &misuse_cases[i];
        if (!m) continue;
        rows++;
        /* Cells: case, what, glibc, then one per config. */
        char *cells[16];
        unsigned n = 0;
        for (char *cell = strtok(line, "|"); cell && n < 16; cell = strtok(NULL, "|")) {
            while (*cell == ' ')
                cell++;
            char *end = cell + strlen(cell);
            while (end > cell && (end[-1] == ' ' || end[-1] == '\n'))
                *--end = '\0';
            cells[n++] = cell;
        }
        cr_assert_geq(n, 3 + CONFIG_COUNT, "row %s has %u cells", name, n);
        for (unsigned c = 0; c < CONFIG_COUNT; c++) {
            const char *cell = cells[3 + c];
            bool ok;
            switch (m->expect[c]) {
            case STOP:
                ok = strcmp(cell, "stopped") == 0;
                break;
            case FLT:
                ok = strcmp(cell, "stopped") == 0 || strcmp(cell, "fault") == 0;
                break;
            case MISS:
                ok = strcmp(cell, "no") == 0;
                break;
            default:
                ok = strstr(cell, "(to do)") != NULL;
                break;
            }
            cr_expect(ok, "docs/hardening.md: %s under %s says \"%s\"; run make misuse-table", name,
                      misuse_configs[c].name, cell);
        }
    }
    fclose(f);
    cr_expect_eq(rows, MISUSE_CASE_COUNT, "docs/hardening.md lists %u of the %zu cases", rows,
                 MISUSE_CASE_COUNT);
}

/* ---- Real programs in the hardened modes ------------------------------------------------- */

/* A shell pipeline, python3 and sqlite3 give the same output under the library (in mode env)
 * as under glibc's malloc. */
static void expect_programs_run(const char *lib, const char *env)
{
    static const char *const commands[] = {
        "seq 1 20000 | sort -rn | head -n 3",
        "python3 -c 'import json; d={str(i): list(range(i % 50)) for i in range(20000)}; "
        "print(len(json.dumps(d)))'",
        "sqlite3 :memory: 'create table t(x); with recursive c(i) as (select 1 union all select "
        "i+1 from c where i < 20000) insert into t select i*7 % 1000 from c; "
        "select count(*), sum(x), count(distinct x) from t;'",
    };
    char preload[4200];
    snprintf(preload, sizeof preload, "LD_PRELOAD=%s/lib/%s", HK_BUILD_DIR, lib);
    const char *with[] = {preload, env, NULL};
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        child_result_t *plain = malloc(sizeof *plain), *ours = malloc(sizeof *ours);
        child_run(plain, commands[i], NULL, 120);
        child_run(ours, commands[i], with, 120);
        cr_assert_eq(child_exit_code(ours), 0, "%s (%s): %s\nstderr: %s", lib, env ? env : "",
                     commands[i], ours->err);
        cr_assert_str_eq(ours->out, plain->out, "%s (%s): %s", lib, env ? env : "", commands[i]);
        free(plain);
        free(ours);
    }
}

Test(hardened, real_programs_run_under_libheapkit_secure)
{
    expect_programs_run("libheapkit-secure.so", NULL);
}

Test(hardened, real_programs_run_under_libheapkit_with_heapkit_harden)
{
    expect_programs_run("libheapkit.so", "HEAPKIT_HARDEN=1");
}

Test(hardened, real_programs_run_under_libheapkit_buddy_with_heapkit_harden)
{
    expect_programs_run("libheapkit-buddy.so", "HEAPKIT_HARDEN=1");
}
