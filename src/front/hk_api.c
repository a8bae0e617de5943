/* The namespaced public API of libheapkit (include/heapkit.h), over the fast engine. */
#include "heapkit.h"

#include <errno.h>

#include <fcntl.h>
#include <unistd.h>

#include "core/checked.h"
#include "core/walk.h"

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

/* ---- Heaps of your own: hk_heap_t is the fast engine's heap ---------------------------------- */

static void *heap_out_of_memory(void)
{
    errno = ENOMEM;
    return NULL;
}

HK_EXPORT hk_heap_t *hk_heap_new(void)
{
    hk_heap_t *heap = (hk_heap_t *)fast_heap_create();
    if (!heap) errno = ENOMEM;
    return heap;
}

HK_EXPORT void *hk_heap_malloc(hk_heap_t *heap, size_t size)
{
    if (size > PTRDIFF_MAX) return heap_out_of_memory();
    void *p = fast_heap_malloc((struct heap *)heap, size, false);
    return p ? p : heap_out_of_memory();
}

HK_EXPORT void *hk_heap_calloc(hk_heap_t *heap, size_t count, size_t size)
{
    size_t total;
    if (!hk_mul(count, size, &total) || total > PTRDIFF_MAX) return heap_out_of_memory();
    void *p = fast_heap_malloc((struct heap *)heap, total, true);
    return p ? p : heap_out_of_memory();
}

HK_EXPORT void *hk_heap_realloc(hk_heap_t *heap, void *p, size_t size)
{
    if (!p) return hk_heap_malloc(heap, size);
    if (size == 0) {
        hk_engine_free(p, "hk_heap_realloc");
        return NULL;
    }
    if (size > PTRDIFF_MAX) return heap_out_of_memory();
    void *q = fast_heap_realloc((struct heap *)heap, p, size);
    return q ? q : heap_out_of_memory();
}

HK_EXPORT void hk_heap_reset(hk_heap_t *heap)
{
    fast_heap_clear((struct heap *)heap, false);
}

HK_EXPORT void hk_heap_destroy(hk_heap_t *heap)
{
    if (heap) fast_heap_clear((struct heap *)heap, true);
}

/* ---- Heap walks ------------------------------------------------------------------------------ */

HK_EXPORT bool hk_visit_blocks(hk_block_visitor_t visitor, void *arg, int max_level)
{
    return hk_engine_walk(visitor, arg, max_level);
}

HK_EXPORT int hk_map_dump(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return errno;
    int err = hk_map_write(fd, hk_engine_name, hk_engine_walk, HK_LEVEL_BLOCK);
    if (close(fd) != 0 && !err) err = errno;
    return err;
}
