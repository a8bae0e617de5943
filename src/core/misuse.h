/* Reports of heap misuse: one line on stderr naming what went wrong, the address and the public
 * call that found it, then abort() — for example
 *     heapkit: heap overflow of 0x7f3a5c010040 detected in free() (byte 8 of 8 asked)
 * Every engine reports through here, so a misuse reads the same whichever engine found it and
 * tests can match the words. Never allocates (hk_fatal). */
#ifndef HK_CORE_MISUSE_H
#define HK_CORE_MISUSE_H

#include "core/compiler.h"

/* The kinds of misuse, each with the words of its report (%p the block, %s the call). */
#define HK_MISUSE_KINDS(X)                                                                         \
    X(DOUBLE_FREE, "double free of %p in %s()")                                                    \
    X(INVALID_POINTER, "invalid pointer %p in %s()")                                               \
    X(USE_AFTER_FREE, "use of freed pointer %p in %s()")                                           \
    X(OVERFLOW, "heap overflow of %p detected in %s()")                                            \
    X(WRITE_AFTER_FREE, "write after free of %p detected in %s()")                                 \
    X(CORRUPT_HEADER, "corrupted block header of %p detected in %s()")                             \
    X(CORRUPT_FREE_LIST, "corrupted free list at %p detected in %s()")                             \
    X(SIZE_MISMATCH, "wrong size for %p in %s()")

#define HK_MISUSE_ENUM(name, text) HK_MISUSE_##name,
typedef enum { HK_MISUSE_KINDS(HK_MISUSE_ENUM) HK_MISUSE_KIND_COUNT } hk_misuse_t;
#undef HK_MISUSE_ENUM

/* The report's format for kind (for tests: the words before " of"/" at" name the misuse). */
const char *hk_misuse_format(hk_misuse_t kind);

/* Reports kind for block p found in public call who ("free", "realloc", "operator delete"),
 * then aborts. */
HK_NORETURN HK_COLD void hk_misuse(hk_misuse_t kind, const void *p, const char *who);

/* The same with a detail in parentheses at the end of the line, e.g. "byte 8 of 8 asked". */
HK_NORETURN HK_COLD void hk_misuse_detail(hk_misuse_t kind, const void *p, const char *who,
                                          const char *detail_fmt, ...) HK_PRINTF(4, 5);

#endif
