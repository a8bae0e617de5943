/* Compiler helpers shared by every layer: branch hints, visibility, inlining. */
#ifndef HK_CORE_COMPILER_H
#define HK_CORE_COMPILER_H

#define hk_likely(x)   __builtin_expect(!!(x), 1)
#define hk_unlikely(x) __builtin_expect(!!(x), 0)

/* Everything is built with -fvisibility=hidden; HK_EXPORT marks a product's public symbols. */
#define HK_EXPORT     __attribute__((visibility("default")))
#define HK_INLINE     static inline __attribute__((always_inline))
#define HK_NOINLINE   __attribute__((noinline))
#define HK_NORETURN   __attribute__((noreturn))
#define HK_COLD       __attribute__((cold))
#define HK_FLATTEN    __attribute__((flatten)) /* inline every call inside (not noinline ones) */
#define HK_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define HK_UNUSED     __attribute__((unused))

#define HK_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Adds to a counter that only its owner (or the holder of its lock) writes but that others read
 * without a lock (relaxed atomic loads): a plain load and store, atomic to the language. */
#define HK_RELAXED_ADD(counter, amount)                                                           \
    __atomic_store_n((counter), __atomic_load_n((counter), __ATOMIC_RELAXED) + (amount),          \
                     __ATOMIC_RELAXED)

#endif
