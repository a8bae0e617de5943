/* The report's parts (heapkit report): text buffers and HTML escaping (report_out.c), one
 * dump read as a stream (report_dump.c), the heap map and size-class histogram built from the
 * map's items (report_map.c), the curve of live and mapped bytes (report_series.c), the flame
 * graph of allocation sites (report_flame.c), and the page that holds them (report.c). */
#ifndef HK_CLI_REPORT_H
#define HK_CLI_REPORT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "json.h"

/* ---- Text buffers (report_out.c) ---------------------------------------------------------- */

typedef struct {
    char *data;
    size_t len, cap;
} strbuf_t;

void sb_printf(strbuf_t *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sb_put(strbuf_t *sb, const char *text, size_t len);
/* text with & < > " ' written as entities (for element text and attribute values). */
void sb_escape(strbuf_t *sb, const char *text);
void sb_free(strbuf_t *sb);

/* ---- The heap map (report_map.c) ---------------------------------------------------------- */

/* One item of a map (core/walk.h's hk_block_info_t as the JSON has it). */
typedef struct {
    unsigned level, state;
    uint64_t address, size, block_size, used, free;
    unsigned size_class;
    const char *label;
} map_item_t;

enum { STATE_USED, STATE_FREE, STATE_PURGED, STATE_CACHED, STATE_COUNT };
extern const char *const state_names[STATE_COUNT];
extern const char *const state_colors[STATE_COUNT];

typedef struct map_builder map_builder_t;

map_builder_t *map_builder_new(void);
void map_builder_free(map_builder_t *map);
/* Feeds the items in walk order; then map_finish once. */
void map_add(map_builder_t *map, const map_item_t *item);
void map_finish(map_builder_t *map);
/* Items seen and the bytes of the deepest items by state (for the summary). */
uint64_t map_items(const map_builder_t *map);
uint64_t map_state_bytes(const map_builder_t *map, unsigned state);
/* The heap map as SVG (segments, then pages and blocks in cells coloured by state, a title on
 * each for hover), and the histogram of size classes as SVG. */
void map_render(const map_builder_t *map, strbuf_t *out);
void histogram_render(const map_builder_t *map, strbuf_t *out);

/* ---- The curve (report_series.c) ---------------------------------------------------------- */

/* series: the dump's [[ms, live, mapped], ...] (NULL: none). */
void series_render(const json_value_t *series, strbuf_t *out);

/* ---- Allocation sites (report_flame.c) ---------------------------------------------------- */

/* The flame graphs of the profile beside a dump in dir (bytes live at exit from
 * heapkit.<pid>.folded, bytes allocated during the run from heapkit.<pid>.alloc.folded, else
 * both from heapkit.<pid>.heap), each with a table of the top sites; a note when there is none. */
void flame_render(const char *dir, long pid, strbuf_t *out);

/* ---- One dump (report_dump.c) ------------------------------------------------------------- */

typedef struct {
    long pid;
    char *program, *engine, *version;
    char *library;        /* the product ("heapkit-secure"), or NULL in older dumps */
    json_value_t *stats;  /* the engine's statistics, or NULL */
    json_value_t *series; /* [[ms, live, mapped], ...], or NULL */
    map_builder_t *map;   /* built from the map's items */
    bool has_map;
} dump_t;

/* Reads the dump (or a bare heap map) at path as a stream; false with a message in why. */
bool dump_read(const char *path, dump_t *dump, char *why, size_t why_cap);
void dump_free(dump_t *dump);

#endif
