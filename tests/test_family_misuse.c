/* Page families: misuse is answered with one line on stderr and abort(). */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "UserAPI_MemoryManager.h"

typedef struct {
    char name[32];
    uint32_t id;
} emp_t;

Test(family_misuse, double_free_aborts, .signal = SIGABRT)
{
    MM_REG_STRUCT(emp_t);
    emp_t *keep = XCALLOC(1, emp_t); /* the page stays mapped */
    emp_t *e = XCALLOC(1, emp_t);
    (void)keep;
    XFREE(e);
    XFREE(e);
}

Test(family_misuse, double_free_of_a_block_merged_into_its_neighbour_aborts, .signal = SIGABRT)
{
    MM_REG_STRUCT(emp_t);
    emp_t *a = XCALLOC(1, emp_t);
    emp_t *b = XCALLOC(1, emp_t);
    emp_t *keep = XCALLOC(1, emp_t);
    (void)keep;
    XFREE(a);
    XFREE(b); /* merges into a: b's header is gone */
    XFREE(b);
}

Test(family_misuse, free_of_a_pointer_from_elsewhere_aborts, .signal = SIGABRT)
{
    static _Alignas(16) char elsewhere[256];
    MM_REG_STRUCT(emp_t);
    emp_t *keep = XCALLOC(1, emp_t);
    (void)keep;
    XFREE(elsewhere + 128);
}

Test(family_misuse, free_of_an_interior_pointer_aborts, .signal = SIGABRT)
{
    MM_REG_STRUCT(emp_t);
    char *e = XCALLOC(4, emp_t);
    XFREE(e + 64); /* aligned, but no block header in front of it */
}

Test(family_misuse, free_of_a_misaligned_pointer_aborts, .signal = SIGABRT)
{
    MM_REG_STRUCT(emp_t);
    char *e = XCALLOC(2, emp_t);
    XFREE(e + 3);
}

Test(family_misuse, double_free_of_the_last_block_of_a_page_aborts, .signal = SIGABRT)
{
    MM_REG_STRUCT(emp_t);
    emp_t *e = XCALLOC(1, emp_t);
    XFREE(e); /* the page is all free now and given back to the kernel */
    XFREE(e); /* must not read the unmapped header */
}

Test(family_misuse, free_of_a_pointer_into_an_unmapped_page_aborts, .signal = SIGABRT)
{
    MM_REG_STRUCT(emp_t);
    emp_t *keep = XCALLOC(1, emp_t);
    (void)keep;
    long page = sysconf(_SC_PAGESIZE);
    char *gone =
        mmap(NULL, (size_t)page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(gone, MAP_FAILED);
    cr_assert_eq(munmap(gone, (size_t)page), 0);
    XFREE(gone + 128);
}

Test(family_misuse, free_of_a_pointer_into_a_page_no_family_owns_aborts, .signal = SIGABRT)
{
    MM_REG_STRUCT(emp_t);
    emp_t *keep = XCALLOC(1, emp_t);
    long page = sysconf(_SC_PAGESIZE);
    char *other =
        mmap(NULL, (size_t)page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(other, MAP_FAILED);
    /* A faithful copy of a family page: only the page's address gives it away. */
    memcpy(other, (char *)((uintptr_t)keep & ~(uintptr_t)(page - 1)), (size_t)page);
    XFREE(other + ((uintptr_t)keep & (uintptr_t)(page - 1)));
}

Test(family_misuse, same_name_with_another_size_aborts, .signal = SIGABRT)
{
    mm_instantiate_new_page_family("emp_t", 36);
    mm_instantiate_new_page_family("emp_t", 40);
}

Test(family_misuse, double_free_is_reported_in_one_line, .exit_code = 0)
{
    /* The message itself: run the abort in a child and read its stderr. */
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 2);
        MM_REG_STRUCT(emp_t);
        emp_t *keep = XCALLOC(1, emp_t);
        emp_t *e = XCALLOC(1, emp_t);
        (void)keep;
        XFREE(e);
        XFREE(e);
        _exit(0);
    }
    close(fds[1]);
    char buf[256] = {0};
    size_t n = 0;
    for (ssize_t r; (r = read(fds[0], buf + n, sizeof buf - 1 - n)) > 0;)
        n += (size_t)r;
    int status;
    waitpid(pid, &status, 0);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
    cr_assert(strncmp(buf, "heapkit: double free of 0x", 26) == 0, "got: %s", buf);
    cr_assert(strstr(buf, " in xfree()\n") != NULL, "got: %s", buf);
    cr_assert_eq(strchr(buf, '\n'), buf + n - 1, "exactly one line");
}

Test(family_misuse, free_in_an_unmapped_page_is_reported_in_one_line, .exit_code = 0)
{
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 2);
        MM_REG_STRUCT(emp_t);
        emp_t *e = XCALLOC(1, emp_t);
        XFREE(e);
        XFREE(e);
        _exit(0);
    }
    close(fds[1]);
    char buf[256] = {0};
    size_t n = 0;
    for (ssize_t r; (r = read(fds[0], buf + n, sizeof buf - 1 - n)) > 0;)
        n += (size_t)r;
    int status;
    waitpid(pid, &status, 0);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT, "status %#x", status);
    cr_assert(strncmp(buf, "heapkit: invalid pointer 0x", 27) == 0, "got: %s", buf);
    cr_assert(strstr(buf, " in xfree()\n") != NULL, "got: %s", buf);
    cr_assert_eq(strchr(buf, '\n'), buf + n - 1, "exactly one line");
}
