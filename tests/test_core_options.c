/* Options come from environ, parsed without getenv or allocation. */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "core/options.h"

Test(options, parses_booleans_in_every_spelling)
{
    bool v = false;
    cr_assert(hk_parse_bool("1", &v) && v);
    cr_assert(hk_parse_bool("YES", &v) && v);
    cr_assert(hk_parse_bool("On", &v) && v);
    cr_assert(hk_parse_bool("off", &v) && !v);
    cr_assert(hk_parse_bool("0", &v) && !v);
    cr_assert(!hk_parse_bool("maybe", &v));
    cr_assert(!hk_parse_bool("", &v));
}

Test(options, parses_sizes_with_suffixes)
{
    size_t v = 0;
    cr_assert(hk_parse_size("4096", &v) && v == 4096);
    cr_assert(hk_parse_size("64K", &v) && v == 65536);
    cr_assert(hk_parse_size("2MiB", &v) && v == 2u << 20);
    cr_assert(hk_parse_size("1g", &v) && v == 1u << 30);
    cr_assert(hk_parse_size("3kb", &v) && v == 3072);
    cr_assert(!hk_parse_size("12Q", &v));
    cr_assert(!hk_parse_size("-1", &v));
    cr_assert(!hk_parse_size("99999999999999999999", &v));
    cr_assert(!hk_parse_size("17179869184G", &v), "overflow must be rejected");
}

Test(options, parses_signed_numbers)
{
    long v = 0;
    cr_assert(hk_parse_long("-15", &v) && v == -15);
    cr_assert(hk_parse_long("+7", &v) && v == 7);
    cr_assert(!hk_parse_long("7x", &v));
}

Test(options, reads_environment_without_getenv)
{
    setenv("HEAPKIT_TEST_FLAG", "yes", 1);
    setenv("HEAPKIT_TEST_SIZE", "8M", 1);
    setenv("HEAPKIT_TEST_FLAGX", "no", 1);
    cr_assert_str_eq(hk_env_lookup("HEAPKIT_TEST_FLAG"), "yes");
    cr_assert(hk_env_bool("HEAPKIT_TEST_FLAG", false));
    cr_assert_eq(hk_env_size("HEAPKIT_TEST_SIZE", 1), 8u << 20);
    cr_assert_null(hk_env_lookup("HEAPKIT_TEST"), "a prefix of a name must not match");
    cr_assert_eq(hk_env_long("HEAPKIT_TEST_MISSING", 33), 33);
    setenv("HEAPKIT_TEST_SIZE", "garbage", 1);
    cr_assert_eq(hk_env_size("HEAPKIT_TEST_SIZE", 5), 5, "malformed values fall back");
}
