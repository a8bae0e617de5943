/* The heap map and the size-class histogram, built from a map's items as they stream by.
 *
 * Each segment is drawn as a band of cells, 128 to a row, each cell standing for an equal
 * share of the segment's addresses (down to 16 bytes; at most 128 cells for segments up to
 * 256 KiB, 1024 up to 4 MiB, 8192 beyond, so a big heap stays a picture and not a million
 * rectangles). The deepest items (blocks; pages and segments without children: pooled,
 * purged or cached memory) add their bytes to the cells they cover, by state. A cell takes
 * the colour of the state holding most of its bytes, paler when little of it is covered;
 * neighbouring cells that look the same become one rectangle, whose <title> (the hover text)
 * gives its addresses, the bytes of each state, its blocks and the class and size of the
 * largest. Segments of one or two items (large blocks, cached mappings) are tiles instead,
 * packed in rows. A segment's cells are freed once it is drawn; only the SVG text is kept. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "report.h"

#define MAP_COLUMNS        128
#define CELL_WIDTH         7
#define CELL_HEIGHT        9
#define MAP_WIDTH          (MAP_COLUMNS * CELL_WIDTH)
#define CELL_MIN_BYTES     16.0
#define SEGMENTS_DRAWN_MAX 2000
#define HISTOGRAM_ROWS_MAX 64

const char *const state_names[STATE_COUNT] = {"used", "free", "purged", "cached"};
const char *const state_colors[STATE_COUNT] = {"#e4572e", "#76b041", "#b8c4d0", "#f2c14e"};

typedef struct {
    double bytes[STATE_COUNT]; /* bytes of each state in the cell */
    uint32_t blocks;           /* blocks starting in the cell */
    uint64_t top_size;         /* the largest block there: its bytes, class, usable size */
    unsigned top_class;
    uint64_t top_usable;
} cell_t;

typedef struct {
    unsigned size_class; /* the engine's class, or 0 for a bucket of sizes */
    uint64_t bucket;     /* classless blocks: the power of two their size rounds up to */
    uint64_t block_size; /* a class's usable size (the first seen) */
    uint64_t used_blocks, free_blocks, used_bytes, free_bytes;
} histogram_row_t;

struct map_builder {
    strbuf_t svg;       /* the drawn segments */
    unsigned height;    /* the SVG's height so far */
    map_item_t segment; /* the open segment */
    char segment_label[128];
    bool segment_open, segment_has_children, segment_drawn;
    cell_t *cells;
    size_t cell_count;
    double cell_bytes;
    uint64_t segment_leaves; /* deepest items of the open segment */
    map_item_t page;         /* the open page, whose children decide whether it counts itself */
    bool page_open, page_has_children;
    uint64_t items, segments_drawn, segments_hidden, hidden_bytes;
    strbuf_t tiles;          /* small segments waiting to be placed as one group */
    unsigned tile_x, tile_y; /* where the next tile goes, relative to the group */
    uint64_t tile_count, tile_bytes;
    double state_bytes[STATE_COUNT];
    histogram_row_t *rows;
    size_t row_count, row_cap;
};

map_builder_t *map_builder_new(void)
{
    map_builder_t *map = calloc(1, sizeof *map);
    if (!map) {
        cli_error("out of memory");
        exit(1);
    }
    return map;
}

void map_builder_free(map_builder_t *map)
{
    if (!map) return;
    sb_free(&map->svg);
    sb_free(&map->tiles);
    free(map->cells);
    free(map->rows);
    free(map);
}

uint64_t map_items(const map_builder_t *map)
{
    return map->items;
}

uint64_t map_state_bytes(const map_builder_t *map, unsigned state)
{
    return (uint64_t)map->state_bytes[state];
}

/* Square root by Newton's method (enough for pixel widths; keeps the command off libm). */
static double sqrt_approx(double x)
{
    if (x <= 0) return 0;
    double r = x > 1 ? x / 2 : 1;
    for (int i = 0; i < 40; i++)
        r = (r + x / r) / 2;
    return r;
}

/* ---- Cells -------------------------------------------------------------------------------- */

static size_t cells_for(uint64_t size)
{
    size_t most = size <= 256 * 1024 ? 128 : size <= 4 * 1024 * 1024 ? 1024 : 8192;
    double wanted = (double)size / CELL_MIN_BYTES;
    return wanted < 1 ? 1 : wanted > most ? most : (size_t)(wanted + 0.999);
}

static void add_leaf(map_builder_t *map, const map_item_t *item)
{
    map->state_bytes[item->state] += (double)item->size;
    map->segment_leaves++;
    if (!map->segment_drawn || !map->cells) return;
    uint64_t base = map->segment.address, end_of_segment = base + map->segment.size;
    uint64_t start = item->address < base ? base : item->address;
    uint64_t end = item->address + item->size;
    if (end > end_of_segment) end = end_of_segment;
    if (start >= end) return;
    size_t first = (size_t)((double)(start - base) / map->cell_bytes);
    for (size_t c = first; c < map->cell_count; c++) {
        double cell_start = (double)c * map->cell_bytes, cell_end = cell_start + map->cell_bytes;
        double from = (double)(start - base), to = (double)(end - base);
        if (cell_start >= to) break;
        double overlap = (to < cell_end ? to : cell_end) - (from > cell_start ? from : cell_start);
        if (overlap > 0) map->cells[c].bytes[item->state] += overlap;
    }
    if (item->level == 2 && first < map->cell_count) {
        cell_t *cell = &map->cells[first];
        cell->blocks++;
        if (item->size > cell->top_size) {
            cell->top_size = item->size;
            cell->top_class = item->size_class;
            cell->top_usable = item->block_size;
        }
    }
}

/* ---- Drawing a segment -------------------------------------------------------------------- */

/* -1 for an empty cell, else the dominant state * 4 + how much is covered (0..3). */
static int cell_look(const map_builder_t *map, const cell_t *cell)
{
    double covered = 0, most = 0;
    int state = 0;
    for (int s = 0; s < STATE_COUNT; s++) {
        covered += cell->bytes[s];
        if (cell->bytes[s] > most) most = cell->bytes[s], state = s;
    }
    if (covered <= 0) return -1;
    double share = covered / map->cell_bytes;
    int cover = share >= 0.75 ? 3 : share >= 0.5 ? 2 : share >= 0.25 ? 1 : 0;
    return state * 4 + cover;
}

static void draw_run(map_builder_t *map, size_t first, size_t last, unsigned y, int look)
{
    static const double opacity[] = {0.45, 0.65, 0.85, 1.0};
    double bytes[STATE_COUNT] = {0};
    uint32_t blocks = 0;
    const cell_t *top = NULL;
    for (size_t c = first; c <= last; c++) {
        const cell_t *cell = &map->cells[c];
        for (int s = 0; s < STATE_COUNT; s++)
            bytes[s] += cell->bytes[s];
        blocks += cell->blocks;
        if (cell->top_size && (!top || cell->top_size > top->top_size)) top = cell;
    }
    unsigned x = (unsigned)(first % MAP_COLUMNS) * CELL_WIDTH;
    unsigned width = (unsigned)(last - first + 1) * CELL_WIDTH;
    uint64_t from = map->segment.address + (uint64_t)((double)first * map->cell_bytes);
    uint64_t to = map->segment.address + (uint64_t)((double)(last + 1) * map->cell_bytes);
    sb_printf(&map->svg,
              "<rect x=\"%u\" y=\"%u\" width=\"%u\" height=\"%u\" fill=\"%s\" "
              "fill-opacity=\"%.2f\"><title>0x%llx\u20130x%llx",
              x, y, width, CELL_HEIGHT - 1, state_colors[look / 4], opacity[look % 4],
              (unsigned long long)from, (unsigned long long)to);
    for (int s = 0; s < STATE_COUNT; s++) {
        if (bytes[s] <= 0) continue;
        char human[24];
        cli_human_bytes(bytes[s], human, sizeof human);
        sb_printf(&map->svg, "\n%s: %s", state_names[s], human);
    }
    if (blocks) sb_printf(&map->svg, "\n%u block%s", blocks, blocks == 1 ? "" : "s");
    if (top) {
        char size[24];
        cli_human_bytes((double)top->top_size, size, sizeof size);
        if (top->top_class)
            sb_printf(&map->svg, "\nlargest: class %u, %s (%llu usable)", top->top_class, size,
                      (unsigned long long)top->top_usable);
        else
            sb_printf(&map->svg, "\nlargest: %s (%llu usable)", size,
                      (unsigned long long)top->top_usable);
    }
    sb_printf(&map->svg, "</title></rect>\n");
}

/* Whether every cell of the open segment looks the same (one state, as fully covered). */
static bool cells_alike(const map_builder_t *map)
{
    int look = cell_look(map, &map->cells[0]);
    for (size_t c = 1; c < map->cell_count; c++)
        if (cell_look(map, &map->cells[c]) != look) return false;
    return true;
}

/* A segment of one or two items (a large block, a cached mapping), or one whose cells all look
 * alike (a cached or purged segment of many pages), shows nothing in many rows that one row
 * does not: its cells are merged down to a single row. */
static void compact_cells(map_builder_t *map)
{
    if (map->cell_count <= MAP_COLUMNS || (map->segment_leaves > 2 && !cells_alike(map))) return;
    size_t group = (map->cell_count + MAP_COLUMNS - 1) / MAP_COLUMNS;
    size_t count = (map->cell_count + group - 1) / group;
    for (size_t c = 0; c < count; c++) {
        cell_t merged = {0};
        for (size_t k = c * group; k < (c + 1) * group && k < map->cell_count; k++) {
            const cell_t *cell = &map->cells[k];
            for (int st = 0; st < STATE_COUNT; st++)
                merged.bytes[st] += cell->bytes[st];
            merged.blocks += cell->blocks;
            if (cell->top_size > merged.top_size) {
                merged.top_size = cell->top_size;
                merged.top_class = cell->top_class;
                merged.top_usable = cell->top_usable;
            }
        }
        map->cells[c] = merged;
    }
    map->cell_count = count;
    map->cell_bytes *= (double)group;
}

/* The caption gives the bytes of the deepest items by state, as the cells are coloured (an
 * engine's own used and free figures for a segment may count other things: the fast engine's
 * count the pages in use, however many of their blocks are free). */
static void draw_segment(map_builder_t *map)
{
    compact_cells(map);
    const map_item_t *s = &map->segment;
    double bytes[STATE_COUNT] = {0};
    for (size_t c = 0; c < map->cell_count; c++)
        for (int st = 0; st < STATE_COUNT; st++)
            bytes[st] += map->cells[c].bytes[st];
    char size[24];
    cli_human_bytes((double)s->size, size, sizeof size);
    unsigned y = map->height;
    sb_printf(&map->svg, "<text x=\"0\" y=\"%u\" class=\"seg\">", y + 11);
    sb_escape(&map->svg, map->segment_label);
    sb_printf(&map->svg, " \u00b7 0x%llx \u00b7 %s", (unsigned long long)s->address, size);
    for (int st = 0; st < STATE_COUNT; st++) {
        if (st != STATE_USED && bytes[st] <= 0) continue;
        char human[24];
        cli_human_bytes(bytes[st], human, sizeof human);
        sb_printf(&map->svg, " \u00b7 %s %s", human, state_names[st]);
    }
    sb_printf(&map->svg, "</text>\n");
    y += 15;
    size_t rows = (map->cell_count + MAP_COLUMNS - 1) / MAP_COLUMNS;
    size_t columns = map->cell_count < MAP_COLUMNS ? map->cell_count : MAP_COLUMNS;
    sb_printf(&map->svg,
              "<rect x=\"0\" y=\"%u\" width=\"%zu\" height=\"%zu\" class=\"bg\"><title>%s: "
              "addresses no item covers</title></rect>\n",
              y, columns * CELL_WIDTH, rows * CELL_HEIGHT, size);
    for (size_t row = 0; row < rows; row++) {
        size_t first = row * MAP_COLUMNS, end = first + MAP_COLUMNS;
        if (end > map->cell_count) end = map->cell_count;
        size_t run = first;
        int look = cell_look(map, &map->cells[first]);
        for (size_t c = first + 1; c <= end; c++) {
            int next = c < end ? cell_look(map, &map->cells[c]) : -2;
            if (next == look) continue;
            if (look >= 0) draw_run(map, run, c - 1, y + (unsigned)row * CELL_HEIGHT, look);
            run = c;
            look = next;
        }
    }
    map->height = y + (unsigned)rows * CELL_HEIGHT + 8;
}

/* ---- Small segments as tiles -------------------------------------------------------------- */

/* Segments of one or two items (a large block, a cached mapping) say nothing a band would say
 * better: runs of them are drawn as tiles packed in rows, as wide as the square root of their
 * size (4 KiB: 14 pixels, 1 MiB: 224), each with its own hover text. */
#define TILE_HEIGHT 14
#define TILE_GAP    3

static bool is_tile(const map_builder_t *map)
{
    return map->segment_leaves <= 2 && map->segment.size <= 64u * 1024 * 1024;
}

static void add_tile(map_builder_t *map)
{
    const map_item_t *s = &map->segment;
    double bytes[STATE_COUNT] = {0};
    const cell_t *top = NULL;
    for (size_t c = 0; c < map->cell_count; c++) {
        for (int st = 0; st < STATE_COUNT; st++)
            bytes[st] += map->cells[c].bytes[st];
        if (map->cells[c].top_size && (!top || map->cells[c].top_size > top->top_size))
            top = &map->cells[c];
    }
    int state = 0;
    for (int st = 1; st < STATE_COUNT; st++)
        if (bytes[st] > bytes[state]) state = st;
    double width = 14 * sqrt_approx((double)s->size / 4096);
    if (width < 10) width = 10;
    if (width > MAP_WIDTH / 2) width = MAP_WIDTH / 2;
    if (map->tile_x > 0 && map->tile_x + width > MAP_WIDTH) {
        map->tile_x = 0;
        map->tile_y += TILE_HEIGHT + TILE_GAP;
    }
    char size[24];
    cli_human_bytes((double)s->size, size, sizeof size);
    sb_printf(&map->tiles,
              "<rect x=\"%u\" y=\"%u\" width=\"%.0f\" height=\"%d\" fill=\"%s\" rx=\"2\">"
              "<title>",
              map->tile_x, map->tile_y, width, TILE_HEIGHT, state_colors[state]);
    sb_escape(&map->tiles, map->segment_label);
    sb_printf(&map->tiles, " at 0x%llx\n%s %s", (unsigned long long)s->address, size,
              state_names[state]);
    if (top && top->top_usable)
        sb_printf(&map->tiles, "\nblock of %llu usable bytes%s",
                  (unsigned long long)top->top_usable, top->top_class ? "" : " (no class)");
    sb_printf(&map->tiles, "</title></rect>\n");
    map->tile_x += (unsigned)width + TILE_GAP;
    map->tile_count++;
    map->tile_bytes += s->size;
}

/* Places the waiting tiles under a caption line. */
static void flush_tiles(map_builder_t *map)
{
    if (map->tile_count == 0) return;
    char bytes[24];
    cli_human_bytes((double)map->tile_bytes, bytes, sizeof bytes);
    unsigned y = map->height;
    sb_printf(&map->svg,
              "<text x=\"0\" y=\"%u\" class=\"seg\">%llu mapping%s of their own \u00b7 %s "
              "\u00b7 one tile each, its width the square root of its size</text>\n"
              "<g transform=\"translate(0,%u)\">\n",
              y + 11, (unsigned long long)map->tile_count, map->tile_count == 1 ? "" : "s", bytes,
              y + 15);
    sb_put(&map->svg, map->tiles.data, map->tiles.len);
    sb_printf(&map->svg, "</g>\n");
    map->height = y + 15 + map->tile_y + TILE_HEIGHT + 10;
    map->tiles.len = 0;
    map->tile_x = map->tile_y = 0;
    map->tile_count = map->tile_bytes = 0;
}

/* ---- Items -------------------------------------------------------------------------------- */

static void close_page(map_builder_t *map)
{
    if (map->page_open && !map->page_has_children) add_leaf(map, &map->page);
    map->page_open = false;
}

static void close_segment(map_builder_t *map)
{
    close_page(map);
    if (!map->segment_open) return;
    if (!map->segment_has_children) add_leaf(map, &map->segment);
    if (map->segment_drawn) {
        if (is_tile(map)) {
            add_tile(map);
        } else {
            flush_tiles(map);
            draw_segment(map);
        }
        map->segments_drawn++;
    }
    free(map->cells);
    map->cells = NULL;
    map->segment_open = false;
}

static void open_segment(map_builder_t *map, const map_item_t *item)
{
    map->segment = *item;
    snprintf(map->segment_label, sizeof map->segment_label, "%s", item->label);
    map->segment.label = map->segment_label;
    map->segment_open = true;
    map->segment_has_children = false;
    map->segment_leaves = 0;
    /* Past SEGMENTS_DRAWN_MAX, segments are counted but not drawn: a process with thousands
     * of mappings still gives a page a browser opens. */
    map->segment_drawn = map->segments_drawn < SEGMENTS_DRAWN_MAX;
    if (!map->segment_drawn) {
        map->segments_hidden++;
        map->hidden_bytes += item->size;
        return;
    }
    map->cell_count = cells_for(item->size ? item->size : 1);
    map->cell_bytes = (double)(item->size ? item->size : 1) / (double)map->cell_count;
    map->cells = calloc(map->cell_count, sizeof *map->cells);
    if (!map->cells) {
        cli_error("out of memory");
        exit(1);
    }
}

static void histogram_add(map_builder_t *map, const map_item_t *item)
{
    uint64_t size = item->block_size ? item->block_size : item->size;
    uint64_t bucket = 0;
    if (!item->size_class)
        for (bucket = 16; bucket < size && bucket < (UINT64_C(1) << 62);)
            bucket <<= 1;
    histogram_row_t *row = NULL;
    for (size_t i = 0; i < map->row_count && !row; i++)
        if (map->rows[i].size_class == item->size_class && map->rows[i].bucket == bucket)
            row = &map->rows[i];
    if (!row) {
        if (map->row_count == map->row_cap) {
            map->row_cap = map->row_cap ? map->row_cap * 2 : 32;
            map->rows = realloc(map->rows, map->row_cap * sizeof *map->rows);
            if (!map->rows) {
                cli_error("out of memory");
                exit(1);
            }
        }
        row = &map->rows[map->row_count++];
        memset(row, 0, sizeof *row);
        row->size_class = item->size_class;
        row->bucket = bucket;
        row->block_size = size;
    }
    if (item->state == STATE_USED) {
        row->used_blocks++;
        row->used_bytes += item->size;
    } else {
        row->free_blocks++;
        row->free_bytes += item->size;
    }
}

void map_add(map_builder_t *map, const map_item_t *item)
{
    map->items++;
    switch (item->level) {
    case 0:
        close_segment(map);
        open_segment(map, item);
        break;
    case 1:
        close_page(map);
        if (!map->segment_open) break;
        map->segment_has_children = true;
        map->page = *item;
        map->page_open = true;
        map->page_has_children = false;
        break;
    default:
        if (!map->segment_open) break;
        map->segment_has_children = true;
        map->page_has_children = true;
        add_leaf(map, item);
        histogram_add(map, item);
        break;
    }
}

void map_finish(map_builder_t *map)
{
    close_segment(map);
    flush_tiles(map);
}

/* ---- Output ------------------------------------------------------------------------------- */

void map_render(const map_builder_t *map, strbuf_t *out)
{
    if (map->items == 0) {
        sb_printf(out, "<p class=\"note\">This dump has no heap map (the engine walked "
                       "nothing).</p>\n");
        return;
    }
    sb_printf(out, "<p class=\"legend\">");
    for (int s = 0; s < STATE_COUNT; s++) {
        char human[24];
        cli_human_bytes(map->state_bytes[s], human, sizeof human);
        sb_printf(out, "<span><i style=\"background:%s\"></i>%s %s</span> ", state_colors[s],
                  state_names[s], human);
    }
    sb_printf(out,
              "</p>\n<svg class=\"map\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
              "height=\"%u\" viewBox=\"0 0 %d %u\">\n",
              MAP_WIDTH, map->height, MAP_WIDTH, map->height);
    if (map->svg.len) sb_put(out, map->svg.data, map->svg.len);
    sb_printf(out, "</svg>\n");
    if (map->segments_hidden) {
        char human[24];
        cli_human_bytes((double)map->hidden_bytes, human, sizeof human);
        sb_printf(out,
                  "<p class=\"note\">%llu more segment%s (%s) are counted above but not "
                  "drawn.</p>\n",
                  (unsigned long long)map->segments_hidden, map->segments_hidden == 1 ? "" : "s",
                  human);
    }
}

static int row_order(const void *a, const void *b)
{
    const histogram_row_t *x = a, *y = b;
    if ((x->size_class == 0) != (y->size_class == 0)) return x->size_class == 0 ? 1 : -1;
    if (x->size_class != y->size_class) return x->size_class < y->size_class ? -1 : 1;
    return x->bucket < y->bucket ? -1 : x->bucket > y->bucket;
}

static int row_by_bytes(const void *a, const void *b)
{
    const histogram_row_t *x = a, *y = b;
    uint64_t bx = x->used_bytes + x->free_bytes, by = y->used_bytes + y->free_bytes;
    return bx > by ? -1 : bx < by;
}

void histogram_render(const map_builder_t *map, strbuf_t *out)
{
    if (map->row_count == 0) {
        sb_printf(out, "<p class=\"note\">No blocks in the map.</p>\n");
        return;
    }
    size_t count = map->row_count;
    histogram_row_t *rows = malloc(count * sizeof *rows);
    if (!rows) return;
    memcpy(rows, map->rows, count * sizeof *rows);
    if (count > HISTOGRAM_ROWS_MAX) {
        qsort(rows, count, sizeof *rows, row_by_bytes);
        count = HISTOGRAM_ROWS_MAX;
    }
    qsort(rows, count, sizeof *rows, row_order);
    uint64_t most = 1;
    for (size_t i = 0; i < count; i++)
        if (rows[i].used_bytes + rows[i].free_bytes > most)
            most = rows[i].used_bytes + rows[i].free_bytes;
    const unsigned row_height = 16, label_width = 170, bar_width = 430;
    unsigned height = (unsigned)count * row_height + 4;
    sb_printf(out,
              "<svg class=\"histogram\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
              "height=\"%u\" viewBox=\"0 0 %d %u\">\n",
              MAP_WIDTH, height, MAP_WIDTH, height);
    for (size_t i = 0; i < count; i++) {
        const histogram_row_t *r = &rows[i];
        unsigned y = (unsigned)i * row_height;
        char label[64], size[24], used[24], free_bytes[24];
        if (r->size_class) {
            cli_human_bytes((double)r->block_size, size, sizeof size);
            snprintf(label, sizeof label, "class %u \u00b7 %s", r->size_class, size);
        } else {
            cli_human_bytes((double)r->bucket, size, sizeof size);
            snprintf(label, sizeof label, "\u2264 %s", size);
        }
        cli_human_bytes((double)r->used_bytes, used, sizeof used);
        cli_human_bytes((double)r->free_bytes, free_bytes, sizeof free_bytes);
        double used_width = (double)bar_width * (double)r->used_bytes / (double)most;
        double free_width = (double)bar_width * (double)r->free_bytes / (double)most;
        sb_printf(out, "<g><title>%s: %llu block%s in use (%s), %llu free (%s)</title>", label,
                  (unsigned long long)r->used_blocks, r->used_blocks == 1 ? "" : "s", used,
                  (unsigned long long)r->free_blocks, free_bytes);
        sb_printf(out, "<text x=\"%u\" y=\"%u\" text-anchor=\"end\">%s</text>", label_width - 6,
                  y + 12, label);
        sb_printf(out,
                  "<rect x=\"%u\" y=\"%u\" width=\"%.1f\" height=\"%u\" fill=\"%s\"/>"
                  "<rect x=\"%.1f\" y=\"%u\" width=\"%.1f\" height=\"%u\" fill=\"%s\"/>",
                  label_width, y + 2, used_width, row_height - 4, state_colors[STATE_USED],
                  label_width + used_width, y + 2, free_width, row_height - 4,
                  state_colors[STATE_FREE]);
        sb_printf(out,
                  "<text x=\"%.1f\" y=\"%u\">%llu used \u00b7 %llu free \u00b7 %s</text></g>\n",
                  label_width + used_width + free_width + 6, y + 12,
                  (unsigned long long)r->used_blocks, (unsigned long long)r->free_blocks, used);
    }
    sb_printf(out, "</svg>\n");
    if (map->row_count > HISTOGRAM_ROWS_MAX)
        sb_printf(out, "<p class=\"note\">The %d classes holding the most bytes of %zu.</p>\n",
                  HISTOGRAM_ROWS_MAX, map->row_count);
    free(rows);
}
