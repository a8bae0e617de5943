/* Statistics: each engine declares its counters once, as an X-macro list, and uses these
 * helpers to print them as text or JSON without allocating.
 *
 *   #define BUDDY_STATS(X) X(malloc_calls, "calls to malloc") X(bytes_in_use, "bytes handed out")
 *   enum { BUDDY_STATS(HK_STAT_ENUM) BUDDY_STAT_COUNT };
 *   static const hk_stat_desc_t buddy_stat_desc[] = { BUDDY_STATS(HK_STAT_DESC) };
 *
 * Counters are plain uint64_t values (engines decide whether they are atomic, per-thread and
 * summed, or updated under a lock); printing takes a snapshot array. The kernel layer's
 * counters are printed by hk_stats_sys_*. */
#ifndef HK_CORE_STATS_H
#define HK_CORE_STATS_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *name;        /* identifier, used as the JSON key */
    const char *description; /* one line for the text report */
} hk_stat_desc_t;

#define HK_STAT_ENUM(name, description) STAT_##name,
#define HK_STAT_DESC(name, description) {#name, description},

/* Appends "title:\n  name  value  description\n…" to buf (hk_snprintf semantics: returns the
 * length the whole output would have; buf is always NUL-terminated when cap > 0). */
size_t hk_stats_text(char *buf, size_t cap, const char *title, const hk_stat_desc_t *desc,
                     const uint64_t *values, size_t count);

/* Appends "\"title\": {\"name\": value, …}" (an object member; the caller adds braces). */
size_t hk_stats_json(char *buf, size_t cap, const char *title, const hk_stat_desc_t *desc,
                     const uint64_t *values, size_t count);

/* The kernel layer's counters, in the same two forms, under the title "os". */
size_t hk_stats_sys_text(char *buf, size_t cap);
size_t hk_stats_sys_json(char *buf, size_t cap);

/* Relaxed atomic helpers for counters shared between threads. */
static inline void hk_stat_add(uint64_t *counter, uint64_t amount)
{
    __atomic_fetch_add(counter, amount, __ATOMIC_RELAXED);
}

static inline void hk_stat_sub(uint64_t *counter, uint64_t amount)
{
    __atomic_fetch_sub(counter, amount, __ATOMIC_RELAXED);
}

/* Raises *peak to value if value is larger. */
static inline void hk_stat_max(uint64_t *peak, uint64_t value)
{
    uint64_t old = __atomic_load_n(peak, __ATOMIC_RELAXED);
    while (value > old && !__atomic_compare_exchange_n(peak, &old, value, 1, __ATOMIC_RELAXED,
                                                       __ATOMIC_RELAXED)) {
    }
}

#endif
