/* Overflow-checked size arithmetic: every size a caller hands us passes through here. */
#ifndef HK_CORE_CHECKED_H
#define HK_CORE_CHECKED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* *out = a * b; false when the product does not fit in size_t. */
static inline bool hk_mul(size_t a, size_t b, size_t *out)
{
    return !__builtin_mul_overflow(a, b, out);
}

/* *out = a + b; false on overflow. */
static inline bool hk_add(size_t a, size_t b, size_t *out)
{
    return !__builtin_add_overflow(a, b, out);
}

/* *out = value rounded up to a multiple of alignment (a power of two); false on overflow. */
static inline bool hk_align_up(size_t value, size_t alignment, size_t *out)
{
    size_t sum;
    if (__builtin_add_overflow(value, alignment - 1, &sum)) return false;
    *out = sum & ~(alignment - 1);
    return true;
}

/* Unchecked forms for values already known to be small. */
static inline size_t hk_align_up_small(size_t value, size_t alignment)
{
    return (value + alignment - 1) & ~(alignment - 1);
}

static inline uintptr_t hk_align_down_addr(uintptr_t value, size_t alignment)
{
    return value & ~(uintptr_t)(alignment - 1);
}

static inline bool hk_is_power_of_two(size_t x)
{
    return x != 0 && (x & (x - 1)) == 0;
}

#endif
