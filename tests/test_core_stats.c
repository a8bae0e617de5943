/* Statistics print as aligned text and as JSON, without allocating. */
#include <criterion/criterion.h>
#include <string.h>

#include "core/checked.h"
#include "core/stats.h"

#define DEMO_STATS(X) X(alpha, "first counter") X(beta, "second counter")
enum { DEMO_STATS(HK_STAT_ENUM) DEMO_STAT_COUNT };
static const hk_stat_desc_t demo_desc[] = {DEMO_STATS(HK_STAT_DESC)};

Test(stats, text_lists_name_value_and_description)
{
    uint64_t values[DEMO_STAT_COUNT] = {[STAT_alpha] = 5, [STAT_beta] = 123456789012ULL};
    char buf[512];
    hk_stats_text(buf, sizeof buf, "demo", demo_desc, values, DEMO_STAT_COUNT);
    cr_assert(strstr(buf, "demo:\n") == buf);
    cr_assert_not_null(strstr(buf, "alpha"));
    cr_assert_not_null(strstr(buf, "123456789012  second counter"));
}

Test(stats, json_is_an_object_member)
{
    uint64_t values[DEMO_STAT_COUNT] = {1, 2};
    char buf[256];
    hk_stats_json(buf, sizeof buf, "demo", demo_desc, values, DEMO_STAT_COUNT);
    cr_assert_str_eq(buf, "\"demo\": {\"alpha\": 1, \"beta\": 2}");
}

Test(stats, sys_report_names_every_syscall)
{
    char buf[2048];
    hk_stats_sys_text(buf, sizeof buf);
    cr_assert_not_null(strstr(buf, "mmap"));
    cr_assert_not_null(strstr(buf, "munmap"));
    cr_assert_not_null(strstr(buf, "brk"));
    size_t n = hk_stats_sys_json(buf, sizeof buf);
    cr_assert_eq(n, strlen(buf));
    cr_assert(strncmp(buf, "\"os\": {", 7) == 0);
}

Test(checked, catches_overflowing_products_and_alignments)
{
    size_t r;
    cr_assert(hk_mul(1u << 20, 1u << 20, &r) && r == (size_t)1 << 40);
    cr_assert(!hk_mul(SIZE_MAX / 2 + 1, 2, &r));
    cr_assert(hk_align_up(13, 8, &r) && r == 16);
    cr_assert(!hk_align_up(SIZE_MAX - 3, 16, &r));
    cr_assert(hk_is_power_of_two(64) && !hk_is_power_of_two(48) && !hk_is_power_of_two(0));
}
