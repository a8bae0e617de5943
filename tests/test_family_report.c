/* Page families: the figures behind the reports, the JSON form, the text reports, and the
 * spec's test application run as a child process. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "UserAPI_MemoryManager.h"
#include "family/family.h"

typedef struct {
    char name[32];
    uint32_t id;
} emp_t; /* 36 bytes: blocks of 48 */

typedef struct {
    char name[32];
    uint32_t rollno;
    uint32_t marks[3];
    void *next;
} student_t; /* 56 bytes: blocks of 64 */

#define HDR sizeof(block_meta_data_t)

Test(family_report, stats_follow_the_spec_scenarios)
{
    MM_REG_STRUCT(emp_t);
    MM_REG_STRUCT(student_t);
    size_t max = family_max_block_bytes(), page = family_page_size();
    emp_t *e1 = XCALLOC(1, emp_t), *e2 = XCALLOC(1, emp_t), *e3 = XCALLOC(1, emp_t);
    student_t *s1 = XCALLOC(1, student_t), *s2 = XCALLOC(1, student_t);
    cr_assert(family_check());

    mm_family_stats_t e, s, all;
    cr_assert_eq(mm_get_family_stats("emp_t", &e), 0);
    cr_assert_str_eq(e.struct_name, "emp_t");
    cr_assert_eq(e.struct_size, 36);
    cr_assert_eq(e.pages, 1);
    cr_assert_eq(e.blocks, 4);
    cr_assert_eq(e.occupied_blocks, 3);
    cr_assert_eq(e.occupied_bytes, 3 * 48);
    cr_assert_eq(e.free_blocks, 1);
    cr_assert_eq(e.free_bytes, max - 3 * (48 + HDR));
    cr_assert_eq(e.largest_free_block, e.free_bytes);
    cr_assert_eq(e.fragmentation_permille, 0);
    cr_assert_eq(e.meta_bytes, page - max + 3 * HDR);
    cr_assert_eq(e.alloc_calls, 3);
    cr_assert_eq(mm_get_family_stats("student_t", &s), 0);
    cr_assert_eq(s.occupied_bytes, 2 * 64);
    cr_assert_eq(mm_get_family_stats(NULL, &all), 0);
    cr_assert_eq(all.families, 2);
    cr_assert_eq(all.pages, 2);
    cr_assert_eq(all.occupied_blocks, 5);
    cr_assert_eq(all.mapped_bytes, 2 * page);
    cr_assert_eq(mm_get_family_stats("nobody_t", &s), -1);

    /* Scenario 2: a hole at the front of emp_t's page: two free blocks. */
    XFREE(e1);
    XFREE(e3);
    XFREE(s2);
    cr_assert(family_check());
    mm_get_family_stats("emp_t", &e);
    cr_assert_eq(e.blocks, 3);
    cr_assert_eq(e.free_blocks, 2);
    cr_assert_eq(e.occupied_blocks, 1);
    cr_assert_eq(e.largest_free_block, max - 48 - HDR - 48 - HDR);
    cr_assert_eq(e.free_bytes, 48 + e.largest_free_block);
    cr_assert_eq(e.fragmentation_permille, 1000 - e.largest_free_block * 1000 / e.free_bytes);
    cr_assert_gt(e.fragmentation_permille, 0);
    cr_assert_eq(e.free_calls, 2);
    mm_get_family_stats("student_t", &s);
    cr_assert_eq(s.blocks, 2);
    cr_assert_eq(s.free_blocks, 1);

    /* Scenario 3: everything back to the kernel. */
    XFREE(e2);
    XFREE(s1);
    cr_assert(family_check());
    mm_get_family_stats(NULL, &all);
    cr_assert_eq(all.pages, 0);
    cr_assert_eq(all.blocks, 0);
    cr_assert_eq(all.pages_obtained, 2);
    cr_assert_eq(all.pages_released, 2);
    cr_assert_eq(all.alloc_calls, 5);
    cr_assert_eq(all.free_calls, 5);
}

Test(family_report, json_carries_every_family_and_reports_its_full_length)
{
    MM_REG_STRUCT(emp_t);
    MM_REG_STRUCT(student_t);
    emp_t *e = XCALLOC(2, emp_t);
    char buf[4096];
    size_t n = mm_usage_json(buf, sizeof buf);
    cr_assert_eq(n, strlen(buf));
    cr_assert(strstr(buf, "\"name\": \"emp_t\", \"struct_size\": 36, \"pages\": 1") != NULL, "%s",
              buf);
    cr_assert(strstr(buf, "\"occupied_bytes\": 80") != NULL, "%s", buf);
    cr_assert(strstr(buf, "\"name\": \"student_t\", \"struct_size\": 56, \"pages\": 0") != NULL,
              "%s", buf);
    cr_assert_eq(buf[0], '{');
    cr_assert_str_eq(buf + n - 2, "]}");
    char small[40];
    cr_assert_eq(mm_usage_json(small, sizeof small), n, "truncated output says the full length");
    cr_assert_eq(strlen(small), sizeof small - 1);
    XFREE(e);
}

Test(family_report, text_reports_name_families_blocks_and_totals, .init = cr_redirect_stdout)
{
    MM_REG_STRUCT(emp_t);
    MM_REG_STRUCT(student_t);
    emp_t *e = XCALLOC(1, emp_t);
    mm_print_registered_page_families();
    mm_print_memory_usage(NULL);
    mm_print_memory_usage("emp_t");
    mm_print_memory_usage("nobody_t");
    mm_print_block_usage();
    XFREE(e);
    fflush(stdout);
    FILE *out = cr_get_redirected_stdout();
    char text[8192] = {0};
    size_t n = fread(text, 1, sizeof text - 1, out);
    text[n] = '\0';
    cr_assert(strstr(text, "emp_t                            struct size     36 bytes") != NULL,
              "%s", text);
    cr_assert(strstr(text, "2 families\n") != NULL);
    cr_assert(strstr(text, "vm_page_family emp_t, struct size 36 bytes") != NULL);
    cr_assert(strstr(text, "OCCUPIED  size    48  offset    32") != NULL, "%s", text);
    cr_assert(strstr(text, "1 page(s), 4096 bytes mapped; 2 block(s): 1 occupied (48 bytes)") !=
                      NULL ||
                  family_page_size() != 4096,
              "%s", text);
    cr_assert(strstr(text, "no page family is registered as nobody_t") != NULL);
    cr_assert(strstr(text, "Total: 2 families, 1 VM page(s) in use") != NULL, "%s", text);
    cr_assert(strstr(text, "Block usage") != NULL);
}

#ifdef FAMILY_APP_PATH
Test(family_report, spec_test_application_exits_zero_with_the_three_scenarios)
{
    FILE *p = popen(FAMILY_APP_PATH " 2>&1", "r");
    cr_assert_not_null(p);
    char text[32768];
    size_t n = fread(text, 1, sizeof text - 1, p);
    text[n] = '\0';
    int status = pclose(p);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s", text);
    cr_assert(strstr(text, "Scenario 1") && strstr(text, "Scenario 2") &&
              strstr(text, "Scenario 3"));
    cr_assert(strstr(text, "Total: 2 families, 0 VM page(s) in use, 2 obtained and 2 released") !=
                  NULL,
              "%s", text);
}
#endif
