/* `make check` (spec 003), the single-thread test: the malloc family the spec lists (malloc,
 * free, calloc, realloc, reallocarray, posix_memalign, memalign) and what programs rely on —
 * alignment, usable sizes, contents kept by realloc, zeroed calloc memory, NULL and errno on
 * impossible requests — checked one call at a time in one thread. Prints each failed check and
 * one summary line; exits 0 when all passed. */
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int checks, failures;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        checks++;                                                                                  \
        if (!(cond)) {                                                                             \
            failures++;                                                                            \
            printf("test1: %s:%d: ", __FILE__, __LINE__);                                          \
            printf(__VA_ARGS__);                                                                   \
            printf("\n");                                                                          \
        }                                                                                          \
    } while (0)

/* Hides a size from the compiler, which would otherwise reject the impossible ones. */
static size_t opaque(size_t size)
{
    volatile size_t hidden = size;
    return hidden;
}

static void sizes_are_aligned_usable_and_distinct(void)
{
    enum { N = 600 };
    static unsigned char *blocks[N];
    for (size_t i = 0; i < N; i++) {
        size_t size = i * 11 % 4200;
        blocks[i] = malloc(size);
        CHECK(blocks[i] != NULL, "malloc(%zu) failed", size);
        if (!blocks[i]) return;
        CHECK((uintptr_t)blocks[i] % 16 == 0, "malloc(%zu) = %p is not 16-byte aligned", size,
              (void *)blocks[i]);
        CHECK(malloc_usable_size(blocks[i]) >= size, "usable size of malloc(%zu) is %zu", size,
              malloc_usable_size(blocks[i]));
        memset(blocks[i], (int)(i & 0xFF), size);
    }
    for (size_t i = 0; i < N; i++) {
        size_t size = i * 11 % 4200;
        for (size_t j = 0; j < size; j++)
            if (blocks[i][j] != (unsigned char)(i & 0xFF)) {
                CHECK(0, "block %zu overwritten at byte %zu", i, j);
                break;
            }
    }
    /* Free in an order that is neither the allocation order nor its reverse. */
    for (size_t i = 0; i < N; i += 3)
        free(blocks[i]);
    for (size_t i = 1; i < N; i += 3)
        free(blocks[i]);
    for (size_t i = 2; i < N; i += 3)
        free(blocks[i]);
}

static void calloc_zeroes_and_checks_the_product(void)
{
    for (size_t size = 1; size <= 70000; size = size * 3 + 1) {
        unsigned char *dirty = malloc(size);
        if (dirty) memset(dirty, 0xFF, size);
        free(dirty);
        unsigned char *p = calloc(size, 1);
        CHECK(p != NULL, "calloc(%zu, 1) failed", size);
        if (!p) continue;
        size_t nonzero = 0;
        for (size_t i = 0; i < size; i++)
            nonzero += p[i] != 0;
        CHECK(nonzero == 0, "calloc(%zu, 1) has %zu nonzero bytes", size, nonzero);
        free(p);
    }
    errno = 0;
    CHECK(calloc(opaque(SIZE_MAX / 2), 3) == NULL && errno == ENOMEM,
          "an overflowing calloc product gives NULL and ENOMEM");
}

static void realloc_keeps_contents(void)
{
    size_t size = 1;
    unsigned char *p = malloc(size);
    CHECK(p != NULL, "malloc(1) failed");
    if (!p) return;
    p[0] = 0;
    while (size < 300000) {
        size_t next = size * 2 + 3;
        unsigned char *q = realloc(p, next);
        CHECK(q != NULL, "realloc to %zu failed", next);
        if (!q) break;
        p = q;
        for (size_t i = 0; i < size; i++)
            if (p[i] != (unsigned char)(i * 13)) {
                CHECK(0, "growing to %zu lost byte %zu", next, i);
                break;
            }
        for (size_t i = size; i < next; i++)
            p[i] = (unsigned char)(i * 13);
        size = next;
    }
    while (size > 4) {
        size /= 3;
        p = realloc(p, size);
        CHECK(p != NULL, "realloc down to %zu failed", size);
        if (!p) return;
        for (size_t i = 0; i < size; i++)
            if (p[i] != (unsigned char)(i * 13)) {
                CHECK(0, "shrinking to %zu lost byte %zu", size, i);
                break;
            }
    }
    free(p);
    p = realloc(NULL, 100);
    CHECK(p != NULL, "realloc(NULL, 100) allocates");
    CHECK(realloc(p, 0) == NULL, "realloc(p, 0) frees and returns NULL");
}

static void reallocarray_checks_the_product(void)
{
    int *a = reallocarray(NULL, 50, sizeof(int));
    CHECK(a != NULL, "reallocarray(NULL, 50, 4) failed");
    if (!a) return;
    for (int i = 0; i < 50; i++)
        a[i] = i;
    int *b = reallocarray(a, 5000, sizeof(int));
    CHECK(b != NULL, "reallocarray to 5000 ints failed");
    if (b) {
        a = b;
        for (int i = 0; i < 50; i++)
            CHECK(a[i] == i, "reallocarray lost element %d", i);
    }
    int *volatile kept = a; /* still ours after the failed call (the compiler cannot know) */
    errno = 0;
    CHECK(reallocarray(kept, opaque(SIZE_MAX / 2), 4) == NULL && errno == ENOMEM,
          "an overflowing reallocarray gives NULL and ENOMEM");
    free(kept);
}

static void alignments_are_honoured(void)
{
    for (size_t alignment = sizeof(void *); alignment <= 65536; alignment *= 2) {
        static const size_t sizes[] = {1, 100, 2000, 5000};
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            void *p = NULL;
            int error = posix_memalign(&p, alignment, sizes[i]);
            CHECK(error == 0 && p && (uintptr_t)p % alignment == 0,
                  "posix_memalign(%zu, %zu) = %d, %p", alignment, sizes[i], error, p);
            if (p) memset(p, 1, sizes[i]);
            free(p);
            void *q = memalign(alignment, sizes[i]);
            CHECK(q && (uintptr_t)q % alignment == 0, "memalign(%zu, %zu) = %p", alignment,
                  sizes[i], q);
            free(q);
        }
    }
    void *p = (void *)1;
    CHECK(posix_memalign(&p, 24, 8) == EINVAL && p == (void *)1,
          "posix_memalign rejects an alignment that is not a power of two");
    errno = 0;
    CHECK(posix_memalign(&p, 64, opaque(SIZE_MAX - 64)) == ENOMEM && errno == ENOMEM,
          "posix_memalign of an impossible size gives ENOMEM and sets errno");
}

static void impossible_sizes_fail_with_enomem(void)
{
    errno = 0;
    CHECK(malloc(opaque(SIZE_MAX)) == NULL && errno == ENOMEM, "malloc(SIZE_MAX)");
    void *volatile p = malloc(10); /* still ours after the failed realloc */
    errno = 0;
    CHECK(realloc(p, opaque(SIZE_MAX - 8)) == NULL && errno == ENOMEM, "realloc to SIZE_MAX");
    free(p);
    free(NULL);
}

int main(void)
{
    sizes_are_aligned_usable_and_distinct();
    calloc_zeroes_and_checks_the_product();
    realloc_keeps_contents();
    reallocarray_checks_the_product();
    alignments_are_honoured();
    impossible_sizes_fail_with_enomem();
    printf("test1: %d checks, %d failed\n", checks, failures);
    return failures ? 1 : 0;
}
