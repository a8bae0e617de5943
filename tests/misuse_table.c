/* Prints the misuse table of docs/hardening.md from real runs: every case of misuse_cases.h
 * under glibc's malloc (no preload) and under each heapkit product and mode, as Markdown, with
 * what each column stops in its last row. `make misuse-table` builds and runs it. A heapkit cell
 * the table marks TODO reads "… (to do)". */
#include <stdio.h>

#include "misuse_run.h"

#ifndef HK_BUILD_DIR
#error "HK_BUILD_DIR must name the build directory"
#endif

static void cell(misuse_outcome_t outcome, bool todo)
{
    printf(" %s%s |", misuse_outcome_word(outcome),
           todo && outcome != OUTCOME_ABORT ? " (to do)" : "");
}

int main(void)
{
    const char *helper = HK_BUILD_DIR "/tests/helper_misuse_cases";
    unsigned stopped[CONFIG_COUNT + 1] = {0};
    printf("| case | what | glibc |");
    for (unsigned c = 0; c < CONFIG_COUNT; c++)
        printf(" %s |", misuse_configs[c].name);
    printf("\n|---|---|---|");
    for (unsigned c = 0; c < CONFIG_COUNT; c++)
        printf("---|");
    printf("\n");
    for (size_t i = 0; i < MISUSE_CASE_COUNT; i++) {
        const misuse_case_t *m = &misuse_cases[i];
        misuse_result_t r;
        printf("| %s | %s |", m->name, m->what);
        misuse_run(&r, helper, m->name, NULL, NULL);
        stopped[0] += r.outcome == OUTCOME_ABORT || r.outcome == OUTCOME_FAULT;
        cell(r.outcome, false);
        for (unsigned c = 0; c < CONFIG_COUNT; c++) {
            char lib[4096];
            snprintf(lib, sizeof lib, "%s/lib/%s", HK_BUILD_DIR, misuse_configs[c].lib);
            misuse_run(&r, helper, m->name, lib, misuse_configs[c].env);
            stopped[c + 1] += r.outcome == OUTCOME_ABORT || r.outcome == OUTCOME_FAULT;
            cell(r.outcome, m->expect[c] == TODO);
        }
        printf("\n");
        fflush(stdout);
    }
    printf("| **stopped** | of %zu cases |", MISUSE_CASE_COUNT);
    for (unsigned c = 0; c <= CONFIG_COUNT; c++)
        printf(" **%u** |", stopped[c]);
    printf("\n");
    return 0;
}
