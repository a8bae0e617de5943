/* The heap map: one JSON object streamed from an engine's walk (see walk.h). Each item is a
 * short array rather than an object, because a map of a large heap has millions of them. */
#include "core/walk.h"

#include <unistd.h>

#include "core/jsonout.h"
#include "os/sys.h"

typedef struct {
    hk_jsonout_t out; /* the map's destination */
    size_t items;     /* items written so far (a comma goes before every one but the first) */
} map_writer_t;

static bool map_write_item(const hk_block_info_t *info, void *arg)
{
    map_writer_t *writer = arg;
    hk_jsonout_t *out = &writer->out;
    hk_jsonout_printf(out, "%s[%u, %u, \"0x%zx\", %zu, %zu, %zu, %zu, %u, ",
                      writer->items ? ",\n" : "\n", (unsigned)info->level, (unsigned)info->state,
                      (size_t)info->address, info->size, info->block_size, info->used_blocks,
                      info->free_blocks, (unsigned)info->size_class);
    hk_jsonout_string(out, info->label);
    hk_jsonout_raw(out, "]", 1);
    writer->items++;
    /* A destination that stopped taking output stops the walk (and the engine's locks). */
    return out->error == 0;
}

int hk_map_write(int fd, const char *engine, hk_walker_t walker, int max_level)
{
    map_writer_t writer;
    writer.items = 0;
    hk_jsonout_init(&writer.out, fd);
    hk_jsonout_raw(&writer.out, "{\"heapkit_map\": 1, \"engine\": ", 29);
    hk_jsonout_string(&writer.out, engine);
    hk_jsonout_printf(&writer.out, ", \"pid\": %d, \"page_size\": %zu, \"items\": [", (int)getpid(),
                      sys_page_size());
    walker(map_write_item, &writer, max_level);
    hk_jsonout_raw(&writer.out, "]}\n", 3);
    return hk_jsonout_flush(&writer.out);
}
