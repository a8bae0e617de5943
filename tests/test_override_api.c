/* Conformance of the malloc family of a malloc-replacement product (libheapkit.so or
 * libheapkit-buddy.so): the binary links the product, so it is this process's malloc, and every
 * assertion here is about what programs rely on — sizes, alignment, errno, NULL cases.
 * Built once per product; HK_PRODUCT_LIB and HK_PRODUCT_NAME say which. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "child.h"

/* mallinfo is deprecated but still part of the surface programs call. */
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

#define KiB ((size_t)1024)

/* Hides a value from the compiler, which otherwise rejects the impossible sizes at build time
 * or reasons about a pointer after a realloc that (by design, here) failed. */
static size_t opaque(size_t x)
{
    volatile size_t v = x;
    return v;
}
#define MiB (KiB * 1024)

/* Sizes that cross every kind of block an engine has: tiny, small classes, medium, large, huge. */
static const size_t sizes[] = {0,    1,     7,     8,     15,    16,     17,      24,     32,
                               48,   100,   128,   129,   255,   256,    1000,    1024,   2047,
                               2048, 2049,  4095,  4096,  4097,  10000,  32768,   65536,  100000,
                               131072, 262145, 1048576, 4194305, 16777216};

static void expect_aligned(void *p, size_t alignment)
{
    cr_assert_not_null(p);
    cr_assert_eq((uintptr_t)p % alignment, 0, "%p is not %zu-aligned", p, alignment);
}

Test(api, malloc_resolves_to_the_product)
{
    void *lib = dlopen(HK_PRODUCT_LIB, RTLD_NOW | RTLD_NOLOAD);
    cr_assert_not_null(lib, "%s is not loaded", HK_PRODUCT_LIB);
    cr_assert_eq(dlsym(RTLD_DEFAULT, "malloc"), dlsym(lib, "malloc"));
    cr_assert_eq(dlsym(RTLD_DEFAULT, "free"), dlsym(lib, "free"));
    dlclose(lib);
}

Test(api, exports_no_seed_api_names)
{
    /* A preloaded malloc must not capture a program's own helpers of the same names. */
    void *lib = dlopen(HK_PRODUCT_LIB, RTLD_NOW | RTLD_NOLOAD);
    const char *seed_names[] = {"os_malloc",     "os_free",       "allocate_memory",
                                "free_memory",   "custom_malloc", "init_pool",
                                "xcalloc",       "xfree",         "mm_init",
                                "list_check",    "hk_engine_malloc", "sys_map"};
    for (size_t i = 0; i < sizeof seed_names / sizeof seed_names[0]; i++)
        cr_assert_null(dlsym(lib, seed_names[i]), "%s is exported", seed_names[i]);
    dlclose(lib);
}

Test(api, running_out_of_address_space_under_rlimit_as_is_graceful)
{
    /* Each test runs in its own process, so the limit dies with it. */
    struct rlimit limit = {(rlim_t)1 << 30, (rlim_t)1 << 30};
    cr_assert_eq(setrlimit(RLIMIT_AS, &limit), 0);
    enum { MAX_BLOCKS = 4096 };
    static void *blocks[MAX_BLOCKS];
    const size_t sizes_tried[] = {48, 3000, 100 * KiB, 3 * MiB};
    int failures = 0, n = 0;
    for (int round = 0; n < MAX_BLOCKS && failures < 8; round++) {
        size_t size = sizes_tried[round % 4];
        errno = 0;
        void *p = malloc(size);
        if (!p) {
            cr_assert_eq(errno, ENOMEM, "a failed malloc(%zu) sets ENOMEM", size);
            failures++;
            continue;
        }
        memset(p, 1, size < 4096 ? size : 4096);
        blocks[n++] = p;
    }
    cr_assert_gt(failures, 0, "1 GiB of address space must run out");
    for (int i = 0; i < n; i++) free(blocks[i]);
    void *again = malloc(100 * KiB);
    cr_assert_not_null(again, "memory freed after exhaustion can be allocated again");
    free(again);
}

Test(api, malloc_zero_returns_distinct_freeable_pointers)
{
    void *a = malloc(0), *b = malloc(0);
    cr_assert_not_null(a);
    cr_assert_not_null(b);
    cr_assert_neq(a, b);
    free(a);
    free(b);
}

Test(api, every_block_is_16_byte_aligned_and_fully_usable)
{
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        unsigned char *p = malloc(sizes[i]);
        expect_aligned(p, 16);
        size_t usable = malloc_usable_size(p);
        cr_assert_geq(usable, sizes[i], "usable %zu < requested %zu", usable, sizes[i]);
        memset(p, 0x5A, usable);
        free(p);
    }
    for (size_t size = 0; size <= 1024; size++) {
        void *p = malloc(size);
        expect_aligned(p, 16);
        free(p);
    }
}

Test(api, blocks_do_not_overlap)
{
    enum { N = 2000 };
    static unsigned char *blocks[N];
    static size_t lengths[N];
    for (int i = 0; i < N; i++) {
        lengths[i] = (size_t)(i * 37 % 3000) + 1;
        blocks[i] = malloc(lengths[i]);
        memset(blocks[i], (unsigned char)i, lengths[i]);
    }
    for (int i = 0; i < N; i++)
        for (size_t j = 0; j < lengths[i]; j++)
            cr_assert_eq(blocks[i][j], (unsigned char)i, "block %d was overwritten", i);
    for (int i = 0; i < N; i++) free(blocks[i]);
}

Test(api, impossible_sizes_fail_with_enomem)
{
    const size_t bad[] = {SIZE_MAX, SIZE_MAX - 15, (size_t)PTRDIFF_MAX + 1, (size_t)1 << 62};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        errno = 0;
        cr_assert_null(malloc(opaque(bad[i])), "malloc(%zu)", bad[i]);
        cr_assert_eq(errno, ENOMEM);
        errno = 0;
        cr_assert_null(calloc(1, opaque(bad[i])));
        cr_assert_eq(errno, ENOMEM);
        void *volatile ok = malloc(16);
        errno = 0;
        cr_assert_null(realloc(ok, opaque(bad[i])));
        cr_assert_eq(errno, ENOMEM);
        free(ok); /* still ours after a failed realloc */
    }
}

Test(api, calloc_zeroes_recycled_memory)
{
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t size = sizes[i];
        unsigned char *dirty = malloc(size);
        memset(dirty, 0xFF, malloc_usable_size(dirty));
        free(dirty);
        unsigned char *p = calloc(1, size);
        cr_assert_not_null(p);
        for (size_t j = 0; j < size; j++) cr_assert_eq(p[j], 0, "calloc(%zu)[%zu] != 0", size, j);
        free(p);
    }
}

Test(api, calloc_rejects_overflowing_products)
{
    errno = 0;
    cr_assert_null(calloc(opaque(SIZE_MAX / 2), 3));
    cr_assert_eq(errno, ENOMEM);
    errno = 0;
    cr_assert_null(calloc(opaque((size_t)1 << 33), (size_t)1 << 33));
    cr_assert_eq(errno, ENOMEM);
    void *p = calloc(0, 16);
    cr_assert_not_null(p, "calloc of zero elements gives a unique pointer");
    free(p);
}

Test(api, realloc_follows_glibc_for_null_and_zero)
{
    void *p = realloc(NULL, 40);
    cr_assert_not_null(p);
    cr_assert_null(realloc(p, 0), "realloc(p, 0) frees p and returns NULL");
}

Test(api, realloc_keeps_contents_while_growing_and_shrinking)
{
    size_t size = 1;
    unsigned char *p = malloc(size);
    p[0] = 0;
    /* Grow through every kind of block, then shrink back, checking the prefix each time. */
    while (size < 24 * MiB) {
        size_t next = size * 3 + 5;
        p = realloc(p, next);
        cr_assert_not_null(p);
        expect_aligned(p, 16);
        for (size_t j = 0; j < size; j++)
            cr_assert_eq(p[j], (unsigned char)(j * 7), "lost byte %zu growing to %zu", j, next);
        for (size_t j = size; j < next; j++) p[j] = (unsigned char)(j * 7);
        size = next;
    }
    while (size > 8) {
        size /= 5;
        p = realloc(p, size);
        cr_assert_not_null(p);
        for (size_t j = 0; j < size; j++)
            cr_assert_eq(p[j], (unsigned char)(j * 7), "lost byte %zu shrinking to %zu", j, size);
    }
    free(p);
}

Test(api, realloc_to_a_fitting_size_stays_in_place)
{
    char *p = malloc(100);
    uintptr_t before = (uintptr_t)p;
    size_t usable = malloc_usable_size(p);
    p = realloc(p, usable);
    cr_assert_eq((uintptr_t)p, before, "growing within the usable size must not move");
    free(p);
}

Test(api, reallocarray_checks_the_product)
{
    errno = 0;
    cr_assert_null(reallocarray(NULL, opaque(SIZE_MAX / 4), 8));
    cr_assert_eq(errno, ENOMEM);
    int *a = reallocarray(NULL, 10, sizeof(int));
    cr_assert_not_null(a);
    for (int i = 0; i < 10; i++) a[i] = i;
    a = reallocarray(a, 1000, sizeof(int));
    cr_assert_not_null(a);
    for (int i = 0; i < 10; i++) cr_assert_eq(a[i], i);
    free(a);
}

Test(api, posix_memalign_validates_and_aligns)
{
    void *p = (void *)0x1;
    cr_assert_eq(posix_memalign(&p, 0, 16), EINVAL);
    cr_assert_eq(posix_memalign(&p, 24, 16), EINVAL);
    cr_assert_eq(posix_memalign(&p, 4, 16), EINVAL, "below sizeof(void *)");
    cr_assert_eq(p, (void *)0x1, "*memptr untouched on error");
    for (size_t align = sizeof(void *); align <= 64 * MiB; align <<= 1) {
        const size_t request[] = {0, 1, 100, align, 3 * align / 2 + 1};
        for (int i = 0; i < 5; i++) {
            if (request[i] > 96 * MiB) continue;
            cr_assert_eq(posix_memalign(&p, align, request[i]), 0, "align %zu size %zu", align,
                         request[i]);
            expect_aligned(p, align);
            cr_assert_geq(malloc_usable_size(p), request[i]);
            memset(p, 1, request[i]);
            free(p);
        }
    }
    errno = 0;
    cr_assert_eq(posix_memalign(&p, 64, opaque(SIZE_MAX - 100)), ENOMEM);
}

Test(api, posix_memalign_failing_with_enomem_also_sets_errno)
{
    /* glibc's does, and programs (glibc's own tests among them) read errno after it. */
    void *p = (void *)0x1;
    const size_t alignments[] = {16, 64, 4096, 1 * MiB};
    for (size_t i = 0; i < sizeof alignments / sizeof alignments[0]; i++) {
        errno = 0;
        cr_assert_eq(posix_memalign(&p, alignments[i], opaque(SIZE_MAX - 100)), ENOMEM);
        cr_assert_eq(errno, ENOMEM, "errno %d after posix_memalign(%zu, SIZE_MAX - 100)", errno,
                     alignments[i]);
        cr_assert_eq(p, (void *)0x1, "*memptr untouched on failure");
    }
    errno = 1234;
    cr_assert_eq(posix_memalign(&p, 64, 100), 0);
    cr_assert_eq(errno, 1234, "a successful posix_memalign leaves errno alone");
    free(p);
}

Test(api, aligned_alloc_rejects_non_power_of_two)
{
    errno = 0;
    cr_assert_null(aligned_alloc(opaque(24), 48));
    cr_assert_eq(errno, EINVAL);
    errno = 0;
    cr_assert_null(aligned_alloc(opaque(0), 48));
    cr_assert_eq(errno, EINVAL);
    void *p = aligned_alloc(4096, 10000);
    expect_aligned(p, 4096);
    free(p);
}

Test(api, memalign_rounds_alignment_up_like_glibc)
{
    void *p = memalign(opaque(24), 10);
    expect_aligned(p, 32);
    free(p);
    p = memalign(1 * MiB, 5);
    expect_aligned(p, 1 * MiB);
    free(p);
    errno = 0;
    cr_assert_null(memalign(opaque(SIZE_MAX / 2 + 2), 8));
    cr_assert_eq(errno, EINVAL);
    errno = 0;
    cr_assert_null(memalign(64, opaque(SIZE_MAX - 1000)));
    cr_assert_eq(errno, ENOMEM);
}

Test(api, valloc_and_pvalloc_are_page_aligned)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    void *v = valloc(10);
    expect_aligned(v, page);
    free(v);
    void *pv = pvalloc(page + 1);
    expect_aligned(pv, page);
    cr_assert_geq(malloc_usable_size(pv), 2 * page);
    free(pv);
    errno = 0;
    cr_assert_null(pvalloc(opaque(SIZE_MAX - 10)));
    cr_assert_eq(errno, ENOMEM);
}

Test(api, free_null_is_harmless_and_free_preserves_errno)
{
    free(NULL);
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        void *p = malloc(sizes[i]);
        errno = 1234;
        free(p);
        cr_assert_eq(errno, 1234, "free of %zu bytes changed errno", sizes[i]);
    }
    cr_assert_eq(malloc_usable_size(NULL), 0);
}

Test(api, glibc_internal_names_share_the_heap)
{
    void *(*libc_malloc)(size_t) = (void *(*)(size_t))dlsym(RTLD_DEFAULT, "__libc_malloc");
    void (*libc_free)(void *) = (void (*)(void *))dlsym(RTLD_DEFAULT, "__libc_free");
    void *(*libc_memalign)(size_t, size_t) =
        (void *(*)(size_t, size_t))dlsym(RTLD_DEFAULT, "__libc_memalign");
    void *lib = dlopen(HK_PRODUCT_LIB, RTLD_NOW | RTLD_NOLOAD);
    cr_assert_eq((void *)libc_malloc, dlsym(lib, "__libc_malloc"));
    void *p = libc_malloc(100);
    cr_assert_geq(malloc_usable_size(p), 100);
    free(p);
    p = malloc(100);
    libc_free(p);
    p = libc_memalign(256, 100);
    expect_aligned(p, 256);
    free(p);
    dlclose(lib);
}

Test(api, mallinfo2_counts_live_memory)
{
    struct mallinfo2 before = mallinfo2();
    enum { N = 64 };
    void *blocks[N];
    for (int i = 0; i < N; i++) {
        blocks[i] = malloc(160 * KiB);
        memset(blocks[i], 1, 160 * KiB);
    }
    struct mallinfo2 during = mallinfo2();
    size_t live_before = before.uordblks + before.hblkhd;
    size_t live_during = during.uordblks + during.hblkhd;
    cr_assert_geq(live_during, live_before + N * 160 * KiB, "mallinfo2 in-use %zu -> %zu",
                  live_before, live_during);
    for (int i = 0; i < N; i++) free(blocks[i]);
    struct mallinfo2 after = mallinfo2();
    cr_assert_lt(after.uordblks + after.hblkhd, live_during);
    struct mallinfo narrow = mallinfo();
    cr_assert_geq(narrow.uordblks, 0);
}

Test(api, mallinfo2_in_use_grows_by_the_bytes_handed_out_below_128k)
{
    /* glibc counts every block below its mmap threshold (128 KiB) in uordblks, whichever way
     * the allocator obtained it; programs measure their own use that way. */
    enum { N = 19 };
    void *blocks[N];
    size_t asked = 0;
    struct mallinfo2 before = mallinfo2();
    for (int i = 0; i < N; i++) {
        size_t size = 160 * (size_t)(i + 1);
        blocks[i] = malloc(size);
        cr_assert_not_null(blocks[i]);
        memset(blocks[i], 0x3C, size);
        asked += size;
    }
    struct mallinfo2 after = mallinfo2();
    cr_assert_geq(after.uordblks, before.uordblks + asked,
                  "uordblks %zu -> %zu after handing out %zu bytes", before.uordblks,
                  after.uordblks, asked);
    for (int i = 0; i < N; i++) free(blocks[i]);
}

Test(api, malloc_stats_reports_on_stderr, .init = cr_redirect_stderr)
{
    void *p = malloc(1000);
    malloc_stats();
    free(p);
    fflush(stderr);
    cr_assert_stderr_neq_str("", "malloc_stats printed nothing");
}

Test(api, malloc_trim_mallopt_and_malloc_info_answer)
{
    void *blocks[256];
    for (int i = 0; i < 256; i++) blocks[i] = malloc(4000);
    for (int i = 0; i < 256; i++) free(blocks[i]);
    int trimmed = malloc_trim(0);
    cr_assert(trimmed == 0 || trimmed == 1);
    cr_assert_eq(mallopt(M_ARENA_MAX, 2), 1);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    cr_assert_eq(malloc_info(0, f), 0);
    fclose(f);
    cr_assert(strncmp(text, "<malloc", 7) == 0, "malloc_info wrote: %s", text);
    free(text);
    errno = 0;
    cr_assert_eq(malloc_info(1, stdout), -1);
    cr_assert_eq(errno, EINVAL);
}

/* The C++ operators, reached by their ABI names (this suite is C). */
Test(api, cxx_operators_allocate_from_the_same_heap)
{
    void *(*op_new)(size_t) = (void *(*)(size_t))dlsym(RTLD_DEFAULT, "_Znwm");
    void (*op_delete)(void *) = (void (*)(void *))dlsym(RTLD_DEFAULT, "_ZdlPv");
    void *(*op_new_aligned)(size_t, size_t) =
        (void *(*)(size_t, size_t))dlsym(RTLD_DEFAULT, "_ZnwmSt11align_val_t");
    void (*op_delete_sized)(void *, size_t) =
        (void (*)(void *, size_t))dlsym(RTLD_DEFAULT, "_ZdlPvm");
    void *(*op_new_nothrow)(size_t, const void *) =
        (void *(*)(size_t, const void *))dlsym(RTLD_DEFAULT, "_ZnwmRKSt9nothrow_t");
    cr_assert(op_new && op_delete && op_new_aligned && op_delete_sized && op_new_nothrow);
    void *p = op_new(48);
    cr_assert_geq(malloc_usable_size(p), 48);
    op_delete(p);
    p = op_new_aligned(100, 4096);
    expect_aligned(p, 4096);
    op_delete_sized(p, 100);
    cr_assert_null(op_new_nothrow(opaque(SIZE_MAX / 2), NULL));
}

Test(api, cxx_new_without_a_cxx_runtime_aborts_when_memory_runs_out, .signal = SIGABRT)
{
    void *(*op_new)(size_t) = (void *(*)(size_t))dlsym(RTLD_DEFAULT, "_Znwm");
    op_new(opaque(SIZE_MAX / 2));
}

/* Misuse runs in a fresh process (helper_misuse), so options such as HEAPKIT_CHECK are read at
 * its first allocation; it must die of SIGABRT after one line naming the fault. */
static void expect_misuse_abort(const char *scenario, int checked, const char *message)
{
    char dir[4096], command[4300];
    child_self_dir(dir, sizeof dir);
    snprintf(command, sizeof command, "exec %shelper_misuse_%s %s", dir, HK_PRODUCT_NAME,
             scenario);
    const char *env[] = {checked ? "HEAPKIT_CHECK=1" : "HEAPKIT_CHECK=0", NULL};
    child_result_t *r = malloc(sizeof *r);
    child_run(r, command, env, 20);
    cr_assert(WIFSIGNALED(r->status) && WTERMSIG(r->status) == SIGABRT,
              "%s: expected SIGABRT, got exit code %d; stderr: %s", scenario, child_exit_code(r),
              r->err);
    cr_assert_not_null(strstr(r->err, message), "%s: stderr was: %s", scenario, r->err);
    cr_assert_not_null(strstr(r->err, "heapkit"), "the message names heapkit");
    cr_assert_eq(strchr(r->err, '\n'), r->err + strlen(r->err) - 1, "one line: %s", r->err);
    free(r);
}

Test(misuse, double_free_of_small_block_aborts_in_checked_mode)
{
    expect_misuse_abort("double-free-small", 1, "double free");
}

Test(misuse, double_free_of_large_block_aborts)
{
    expect_misuse_abort("double-free-large", 1, "free");
}

Test(misuse, free_of_stack_pointer_aborts)
{
    expect_misuse_abort("free-stack", 0, "invalid");
}

Test(misuse, free_of_interior_pointer_aborts_in_checked_mode)
{
    expect_misuse_abort("free-interior", 1, "invalid");
}

Test(misuse, realloc_of_freed_block_aborts_in_checked_mode)
{
    expect_misuse_abort("realloc-freed", 1, "realloc");
}
