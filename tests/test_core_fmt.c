/* hk_snprintf: the allocation-free printf used for every message and report. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>

#include "core/fmt.h"

#define CHECK_SAME(...)                                                                      \
    do {                                                                                     \
        char ours[256], libc[256];                                                           \
        size_t n = hk_snprintf(ours, sizeof ours, __VA_ARGS__);                              \
        int m = snprintf(libc, sizeof libc, __VA_ARGS__);                                    \
        cr_assert_str_eq(ours, libc);                                                        \
        cr_assert_eq(n, (size_t)m);                                                          \
    } while (0)

Test(fmt, matches_libc_for_integers)
{
    CHECK_SAME("%d %i %u", -42, 7, 4000000000u);
    CHECK_SAME("%ld %lu %lld %llu", -1L, 1UL << 40, (long long)INT64_MIN, (unsigned long long)UINT64_MAX);
    CHECK_SAME("%zu %zx %x %X", (size_t)123456789, (size_t)0xdeadbeef, 255u, 255u);
    CHECK_SAME("[%8d] [%-8d] [%08d] [%+d] [%08d]", 42, 42, 42, 42, -42);
}

Test(fmt, matches_libc_for_strings_and_chars)
{
    CHECK_SAME("[%s] [%10s] [%-10s] [%.3s] [%c] [%%]", "abc", "abc", "abc", "abcdef", 'z');
    CHECK_SAME("[%*d] [%-*s] [%.*s]", 6, 1, 5, "x", 2, "hello");
}

Test(fmt, prints_pointers_in_hex)
{
    char buf[64];
    hk_snprintf(buf, sizeof buf, "%p", (void *)0x1234abcd);
    cr_assert_str_eq(buf, "0x1234abcd");
}

Test(fmt, truncates_but_reports_full_length)
{
    char buf[8];
    size_t n = hk_snprintf(buf, sizeof buf, "%s", "0123456789");
    cr_assert_eq(n, 10);
    cr_assert_str_eq(buf, "0123456");
    cr_assert_eq(hk_snprintf(NULL, 0, "%d", 12345), 5);
}
