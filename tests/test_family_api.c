/* Page families: registration, lookup, allocation, zeroing and refusals (spec 004). */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>

#include "UserAPI_MemoryManager.h"
#include "family/family.h"

typedef struct {
    char name[32];
    uint32_t id;
} emp_t;

typedef struct {
    char name[30];
    uint32_t rollno;
    double marks[3];
} student_t;

typedef struct {
    char bytes[8192];
} huge_t;

#define CHECKED() cr_assert(family_check(), "family_check failed")

Test(family_api, registered_family_is_found_by_name_with_its_size)
{
    mm_init();
    MM_REG_STRUCT(emp_t);
    MM_REG_STRUCT(student_t);
    vm_page_family_t *emp = lookup_page_family_by_name("emp_t");
    vm_page_family_t *stud = lookup_page_family_by_name("student_t");
    cr_assert_not_null(emp);
    cr_assert_not_null(stud);
    cr_assert_str_eq(emp->struct_name, "emp_t");
    cr_assert_eq(emp->struct_size, sizeof(emp_t));
    cr_assert_eq(stud->struct_size, sizeof(student_t));
    cr_assert_null(emp->first_page, "no page before the first allocation");
    cr_assert_null(lookup_page_family_by_name("nobody_t"));
    cr_assert_null(lookup_page_family_by_name(NULL));
    CHECKED();
}

Test(family_api, works_without_mm_init_and_mm_init_twice_is_harmless)
{
    MM_REG_STRUCT(emp_t);
    mm_init();
    mm_init();
    emp_t *e = XCALLOC(1, emp_t);
    cr_assert_not_null(e);
    XFREE(e);
    CHECKED();
}

Test(family_api, identical_second_registration_is_ignored)
{
    MM_REG_STRUCT(emp_t);
    vm_page_family_t *first = lookup_page_family_by_name("emp_t");
    MM_REG_STRUCT(emp_t);
    cr_assert_eq(lookup_page_family_by_name("emp_t"), first);
    mm_family_stats_t all;
    mm_get_family_stats(NULL, &all);
    cr_assert_eq(all.families, 1);
}

Test(family_api, many_families_spill_over_several_registry_pages)
{
    char name[24];
    for (int i = 0; i < 200; i++) {
        snprintf(name, sizeof name, "type_%d", i);
        mm_instantiate_new_page_family(name, (uint32_t)(8 + i));
    }
    for (int i = 0; i < 200; i++) {
        snprintf(name, sizeof name, "type_%d", i);
        vm_page_family_t *f = lookup_page_family_by_name(name);
        cr_assert_not_null(f, "%s", name);
        cr_assert_eq(f->struct_size, (uint32_t)(8 + i));
        void *p = xcalloc(name, 2);
        cr_assert_not_null(p);
        xfree(p);
    }
    mm_family_stats_t all;
    mm_get_family_stats(NULL, &all);
    cr_assert_eq(all.families, 200);
    cr_assert_eq(all.pages, 0);
    CHECKED();
}

Test(family_api, name_of_32_characters_is_accepted_and_33_refused, .init = cr_redirect_stderr)
{
    char name32[] = "abcdefghijklmnopqrstuvwxyz012345";
    char name33[] = "abcdefghijklmnopqrstuvwxyz0123456";
    mm_instantiate_new_page_family(name32, 16);
    mm_instantiate_new_page_family(name33, 16);
    cr_assert_not_null(lookup_page_family_by_name(name32));
    cr_assert_null(lookup_page_family_by_name(name33));
    fflush(stderr);
    cr_assert_stderr_eq_str("heapkit: mm_instantiate_new_page_family: struct name "
                            "abcdefghijklmnopqrstuvwxyz012345... is longer than 32 characters; "
                            "not registered\n");
}

Test(family_api, struct_larger_than_a_page_is_refused_with_one_line, .init = cr_redirect_stderr)
{
    MM_REG_STRUCT(huge_t);
    cr_assert_null(lookup_page_family_by_name("huge_t"));
    cr_assert_null(XCALLOC(1, huge_t));
    fflush(stderr);
    char expect[512];
    snprintf(expect, sizeof expect,
             "heapkit: mm_instantiate_new_page_family: struct huge_t of 8192 bytes does not fit "
             "in a VM page (1 to %zu bytes); not registered\n"
             "heapkit: xcalloc: struct huge_t is not registered (MM_REG_STRUCT it first)\n",
             family_max_block_bytes());
    cr_assert_stderr_eq_str(expect);
    CHECKED();
}

Test(family_api, unregistered_type_gives_null_and_one_line, .init = cr_redirect_stderr)
{
    cr_assert_null(XCALLOC(1, emp_t));
    fflush(stderr);
    cr_assert_stderr_eq_str("heapkit: xcalloc: struct emp_t is not registered "
                            "(MM_REG_STRUCT it first)\n");
}

Test(family_api, zero_negative_and_overflowing_units_give_null, .init = cr_redirect_stderr)
{
    MM_REG_STRUCT(emp_t);
    cr_assert_null(XCALLOC(0, emp_t));
    cr_assert_eq(errno, EINVAL);
    cr_assert_null(XCALLOC(-3, emp_t));
    cr_assert_null(XCALLOC(INT_MAX, emp_t));
    cr_assert_eq(errno, ENOMEM);
    mm_family_stats_t s;
    cr_assert_eq(mm_get_family_stats("emp_t", &s), 0);
    cr_assert_eq(s.pages, 0, "a refused request maps nothing");
    cr_assert_eq(s.alloc_calls, 0);
    CHECKED();
}

Test(family_api, request_just_fitting_a_page_succeeds_and_one_more_unit_fails,
     .init = cr_redirect_stderr)
{
    mm_instantiate_new_page_family("byte_t", 1);
    size_t max = family_max_block_bytes();
    char *all = xcalloc("byte_t", (int)max);
    cr_assert_not_null(all);
    memset(all, 0x5a, max);
    CHECKED();
    cr_assert_null(xcalloc("byte_t", (int)max + 1));
    mm_family_stats_t s;
    mm_get_family_stats("byte_t", &s);
    cr_assert_eq(s.pages, 1);
    cr_assert_eq(s.blocks, 1);
    xfree(all);
    CHECKED();
}

Test(family_api, xcalloc_returns_zeroed_aligned_memory_even_when_reused)
{
    MM_REG_STRUCT(student_t);
    student_t *keep = XCALLOC(1, student_t); /* keeps the page mapped between rounds */
    for (int round = 0; round < 5; round++) {
        student_t *s = XCALLOC(4, student_t);
        cr_assert_not_null(s);
        cr_assert_eq((uintptr_t)s % 16, 0);
        const unsigned char *bytes = (const unsigned char *)s;
        for (size_t i = 0; i < 4 * sizeof(student_t); i++)
            cr_assert_eq(bytes[i], 0);
        memset(s, 0xff, 4 * sizeof(student_t));
        XFREE(s);
        CHECKED();
    }
    XFREE(keep);
    CHECKED();
}

Test(family_api, freed_block_is_reused_by_the_next_allocation)
{
    MM_REG_STRUCT(emp_t);
    emp_t *a = XCALLOC(1, emp_t);
    emp_t *b = XCALLOC(1, emp_t);
    cr_assert_neq(a, b);
    XFREE(b);
    CHECKED();
    emp_t *c = XCALLOC(1, emp_t);
    cr_assert_eq(c, b, "the freed block merged back into the largest and was cut again");
    XFREE(a);
    XFREE(c);
    XFREE(NULL);
    CHECKED();
}

Test(family_api, mm_h_iteration_macros_see_what_the_figures_count)
{
    MM_REG_STRUCT(emp_t);
    MM_REG_STRUCT(student_t);
    void *p[5] = {XCALLOC(1, emp_t), XCALLOC(2, emp_t), XCALLOC(1, student_t),
                  XCALLOC(3, student_t), XCALLOC(1, emp_t)};
    XFREE(p[1]);
    unsigned families = 0, pages = 0, blocks = 0, free_blocks = 0;
    /* clang-format off */
    ITERATE_PAGE_FAMILIES_BEGIN(family_registry_first(), family)
        families++;
        ITERATE_VM_PAGE_BEGIN(family, page)
            pages++;
            cr_assert_eq(page->pg_family, family);
            ITERATE_VM_PAGE_ALL_BLOCKS_BEGIN(page, block)
                blocks++;
                free_blocks += block->is_free == MM_TRUE;
                cr_assert_eq(MM_GET_PAGE_FROM_META_BLOCK(block), page);
                if (block->next_block)
                    cr_assert_eq(NEXT_META_BLOCK_BY_SIZE(block), block->next_block);
            ITERATE_VM_PAGE_ALL_BLOCKS_END
        ITERATE_VM_PAGE_END
    ITERATE_PAGE_FAMILIES_END
    /* clang-format on */
    mm_family_stats_t all;
    mm_get_family_stats(NULL, &all);
    cr_assert_eq(families, 2);
    cr_assert_eq(pages, all.pages);
    cr_assert_eq(blocks, all.blocks);
    cr_assert_eq(free_blocks, all.free_blocks);
    cr_assert_eq(blocks, 4 + 3, "emp_t: e0 hole e4 tail; student_t: s0 s1 tail");
    for (int i = 0; i < 5; i++)
        if (i != 1) XFREE(p[i]);
    CHECKED();
}
