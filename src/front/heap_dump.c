/* What a process leaves behind when it exits, for the heapkit command's report (the command
 * sets these; any program can):
 *   HEAPKIT_MAP_FILE=path  the heap map (core/walk.h's JSON object); "%p" in path is the pid
 *   HEAPKIT_DUMP_DIR=dir   dir/heapkit.<pid>.json, one JSON object:
 *                            {"heapkit_dump": 1, "pid": N, "program": "...", "engine": "...",
 *                             "library": "...", "version": "...",
 *                             "stats": {the engine's JSON statistics},
 *                             "series": [[ms, live, mapped], ...], "map": {the heap map}}
 *                          (library: the product, "heapkit-secure" for libheapkit-secure.so,
 *                          whose engine is the fast one, "heapkit")
 *                          written as heapkit.<pid>.json.tmp and renamed when complete, so a
 *                          reader never sees half a dump
 *   HEAPKIT_MAP_LEVEL=0|1|2  how deep both maps go: segments, pages, or blocks (the default)
 * Both are written from a destructor over hk_engine_walk, in the order the walk gives, through
 * a stack buffer: nothing here allocates. */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <unistd.h>

#include "core/engine.h"
#include "core/fmt.h"
#include "core/jsonout.h"
#include "core/options.h"
#include "core/series.h"
#include "core/walk.h"
#include "front/library_name.h"

static int map_level(void)
{
    long level = hk_env_long("HEAPKIT_MAP_LEVEL", HK_LEVEL_BLOCK);
    return level < HK_LEVEL_SEGMENT ? HK_LEVEL_SEGMENT
           : level > HK_LEVEL_BLOCK ? HK_LEVEL_BLOCK
                                    : (int)level;
}

/* template with every "%p" replaced by the pid and "%%" by "%"; false when it does not fit. */
static bool expand_path(char *out, size_t cap, const char *template)
{
    size_t used = 0;
    for (const char *p = template; *p; p++) {
        if (p[0] == '%' && (p[1] == 'p' || p[1] == '%')) {
            used += p[1] == 'p' ? hk_snprintf(out + used, cap - used, "%d", (int)getpid())
                                : hk_snprintf(out + used, cap - used, "%%");
            p++;
        } else if (used + 1 < cap) {
            out[used++] = *p;
        } else {
            return false;
        }
        if (used >= cap) return false;
    }
    out[used] = '\0';
    return true;
}

static void write_map_file(const char *template)
{
    char path[4096];
    if (!expand_path(path, sizeof path, template)) return;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return;
    int err = hk_map_write(fd, hk_engine_name, hk_engine_walk, map_level());
    close(fd);
    if (err) hk_dprintf(2, "heapkit: cannot write the heap map to %s (errno %d)\n", path, err);
}

/* The last point of the curve, from the engine's own figures. */
static void series_mark_now(void)
{
    uint64_t live, held;
    hk_engine_series_figures(&live, &held);
    hk_series_mark(live, held);
}

static int write_dump(int fd)
{
    hk_jsonout_t out;
    hk_jsonout_init(&out, fd);
    hk_jsonout_printf(&out, "{\"heapkit_dump\": 1, \"pid\": %d, \"program\": ", (int)getpid());
    hk_jsonout_string(&out, program_invocation_name);
    hk_jsonout_raw(&out, ", \"engine\": ", 12);
    hk_jsonout_string(&out, hk_engine_name);
    hk_jsonout_raw(&out, ", \"library\": ", 13);
    hk_jsonout_string(&out, front_library_name());
    hk_jsonout_raw(&out, ", \"version\": ", 13);
    hk_jsonout_string(&out, HEAPKIT_VERSION);
    hk_jsonout_raw(&out, ",\n\"stats\": ", 11);
    if (hk_jsonout_flush(&out)) return out.error;
    hk_engine_stats_print(fd, true);
    hk_jsonout_raw(&out, ",\"series\": ", 11);
    hk_series_write(&out);
    hk_jsonout_raw(&out, ",\n\"map\": ", 9);
    if (hk_jsonout_flush(&out)) return out.error;
    int err = hk_map_write(fd, hk_engine_name, hk_engine_walk, map_level());
    if (err) return err;
    hk_jsonout_raw(&out, "}\n", 2);
    return hk_jsonout_flush(&out);
}

static void write_dump_set(const char *dir)
{
    char path[4096], temporary[4100];
    size_t n = hk_snprintf(path, sizeof path, "%s/heapkit.%d.json", dir, (int)getpid());
    if (n >= sizeof path) return;
    hk_snprintf(temporary, sizeof temporary, "%s.tmp", path);
    int fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        hk_dprintf(2, "heapkit: cannot write %s (errno %d)\n", temporary, errno);
        return;
    }
    series_mark_now();
    int err = write_dump(fd);
    if (close(fd) != 0 && !err) err = errno;
    if (!err && rename(temporary, path) != 0) err = errno;
    if (err) {
        hk_dprintf(2, "heapkit: cannot write %s (errno %d)\n", path, err);
        unlink(temporary);
    }
}

__attribute__((destructor)) static void heap_dump_at_exit(void)
{
    const char *map_file = hk_env_lookup("HEAPKIT_MAP_FILE");
    if (map_file && *map_file) write_map_file(map_file);
    const char *dump_dir = hk_env_lookup("HEAPKIT_DUMP_DIR");
    if (dump_dir && *dump_dir) write_dump_set(dump_dir);
}
