/* Text and JSON printing of statistics (see stats.h). */
#include "core/stats.h"

#include "core/fmt.h"
#include "os/sys.h"

#define SYS_STATS(X)                                                                         \
    X(mmap, "mmap calls")                                                                    \
    X(munmap, "munmap calls")                                                                \
    X(madvise, "madvise calls (pages given back)")                                           \
    X(mprotect, "mprotect calls")                                                            \
    X(mincore, "mincore calls (resident pages counted)")                                     \
    X(brk, "sbrk calls that moved the break")                                                \
    X(failures, "system calls that failed")                                                  \
    X(mapped_bytes, "bytes mapped now")                                                      \
    X(mapped_peak_bytes, "most bytes mapped at once")                                        \
    X(brk_bytes, "bytes obtained by moving the break")

static const hk_stat_desc_t sys_desc[] = {SYS_STATS(HK_STAT_DESC)};

static void sys_values(uint64_t *values)
{
    sys_counters_t c;
    sys_counters(&c);
    size_t i = 0;
#define SYS_VALUE(name, description) values[i++] = c.name;
    SYS_STATS(SYS_VALUE)
#undef SYS_VALUE
}

/* Appends formatted text at buf + used, keeping the hk_snprintf length contract. */
#define APPEND(...)                                                                          \
    used += hk_snprintf(used < cap ? buf + used : NULL, used < cap ? cap - used : 0, __VA_ARGS__)

size_t hk_stats_text(char *buf, size_t cap, const char *title, const hk_stat_desc_t *desc,
                     const uint64_t *values, size_t count)
{
    size_t used = 0;
    if (cap) buf[0] = '\0';
    APPEND("%s:\n", title);
    for (size_t i = 0; i < count; i++)
        APPEND("  %-24s %20llu  %s\n", desc[i].name, (unsigned long long)values[i],
               desc[i].description);
    return used;
}

size_t hk_stats_json(char *buf, size_t cap, const char *title, const hk_stat_desc_t *desc,
                     const uint64_t *values, size_t count)
{
    size_t used = 0;
    if (cap) buf[0] = '\0';
    APPEND("\"%s\": {", title);
    for (size_t i = 0; i < count; i++)
        APPEND("%s\"%s\": %llu", i ? ", " : "", desc[i].name, (unsigned long long)values[i]);
    APPEND("}");
    return used;
}

size_t hk_stats_sys_text(char *buf, size_t cap)
{
    uint64_t values[HK_ARRAY_LEN(sys_desc)];
    sys_values(values);
    return hk_stats_text(buf, cap, "os", sys_desc, values, HK_ARRAY_LEN(sys_desc));
}

size_t hk_stats_sys_json(char *buf, size_t cap)
{
    uint64_t values[HK_ARRAY_LEN(sys_desc)];
    sys_values(values);
    return hk_stats_json(buf, cap, "os", sys_desc, values, HK_ARRAY_LEN(sys_desc));
}
