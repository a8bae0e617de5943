/* The kernel layer maps, aligns, purges and counts every call. */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>

#include "os/sys.h"

Test(sys, page_size_is_a_power_of_two)
{
    size_t page = sys_page_size();
    cr_assert(page >= 4096 && (page & (page - 1)) == 0);
}

Test(sys, map_and_unmap_are_counted)
{
    sys_counters_t before, after;
    sys_counters(&before);
    void *p;
    cr_assert_eq(sys_map(1 << 20, &p), 0);
    memset(p, 1, 1 << 20);
    sys_counters(&after);
    cr_assert_eq(after.mmap, before.mmap + 1);
    cr_assert_eq(after.mapped_bytes, before.mapped_bytes + (1 << 20));
    cr_assert_eq(sys_unmap(p, 1 << 20), 0);
    sys_counters(&after);
    cr_assert_eq(after.munmap, before.munmap + 1);
    cr_assert_eq(after.mapped_bytes, before.mapped_bytes);
    cr_assert_geq(after.mapped_peak_bytes, before.mapped_bytes + (1 << 20));
}

Test(sys, aligned_map_is_aligned_and_trimmed)
{
    size_t align = 4u << 20;
    sys_counters_t before, after;
    sys_counters(&before);
    void *p;
    cr_assert_eq(sys_map_aligned(align, align, &p), 0);
    cr_assert_eq((uintptr_t)p % align, 0);
    memset(p, 7, align);
    sys_counters(&after);
    cr_assert_eq(after.mapped_bytes - before.mapped_bytes, align, "head and tail given back");
    cr_assert_eq(sys_unmap(p, align), 0);
}

Test(sys, decommit_zeroes_pages)
{
    size_t page = sys_page_size();
    void *p;
    cr_assert_eq(sys_map(4 * page, &p), 0);
    memset(p, 0xAB, 4 * page);
    cr_assert_eq(sys_decommit(p, 4 * page), 0);
    for (size_t i = 0; i < 4 * page; i++) cr_assert_eq(((unsigned char *)p)[i], 0);
    cr_assert_eq(sys_purge_lazy(p, 4 * page), 0);
    sys_unmap(p, 4 * page);
}

Test(sys, protect_none_makes_guard_pages, .signal = SIGSEGV)
{
    size_t page = sys_page_size();
    void *p;
    cr_assert_eq(sys_map(page, &p), 0);
    cr_assert_eq(sys_protect(p, page, SYS_PROT_NONE), 0);
    *(volatile char *)p = 1;
}

Test(sys, failure_returns_error_and_keeps_errno)
{
    void *p = NULL;
    errno = 1234;
    int error = sys_map(SIZE_MAX & ~(size_t)0xfff, &p);
    cr_assert_eq(error, ENOMEM);
    cr_assert_eq(errno, 1234, "errno is the caller's");
    sys_counters_t c;
    sys_counters(&c);
    cr_assert_geq(c.failures, 1);
}

Test(sys, brk_moves_the_break_and_counts)
{
    sys_counters_reset();
    void *old, *next;
    cr_assert_eq(sys_brk(4096, &old), 0);
    cr_assert_eq(sys_brk(0, &next), 0);
    cr_assert_eq((char *)next - (char *)old, 4096);
    sys_counters_t c;
    sys_counters(&c);
    cr_assert_eq(c.brk, 1, "a zero increment is a query, not a move");
}

/* Guard-page tests expect the process to die of SIGSEGV, not of ASan's report of it. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "handle_segv=0";
}
