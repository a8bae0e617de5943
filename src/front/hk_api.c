/* The namespaced public API of libheapkit (include/heapkit.h), over the fast engine. */
#include "heapkit.h"

#include "core/compiler.h"
#include "fast/fast.h"
#include "core/engine.h"

HK_EXPORT const char *hk_version(void)
{
    return HEAPKIT_VERSION;
}

HK_EXPORT void hk_stats_print(int fd)
{
    hk_engine_stats_print(fd, false);
}

HK_EXPORT size_t hk_stats_to_json(char *buf, size_t cap)
{
    return fast_stats_format(buf, cap, true);
}

HK_EXPORT void hk_collect(bool force)
{
    fast_collect(force);
}

HK_EXPORT bool hk_trim(void)
{
    return hk_engine_trim(0);
}
