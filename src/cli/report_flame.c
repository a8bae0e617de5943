/* Allocation sites: the profile written beside a dump drawn as flame graphs — the whole
 * program at the bottom, each frame above its caller, as wide as the bytes under it — one of
 * the bytes live at exit and one of the bytes allocated during the run. Live bytes come from
 * heapkit.<pid>.folded (one stack per line, "outer;...;inner bytes"), else from the live columns
 * of heapkit.<pid>.heap (the heap-profile text format, whose addresses are named by the library
 * that holds them with the MAPPED_LIBRARIES list at its end); the run's allocations from
 * heapkit.<pid>.alloc.folded, else from that file's bracketed columns. A program that frees
 * everything before it exits (an interpreter does) has only the second. Frames narrower than
 * two pixels are left out (they could be neither read nor pointed at, and a single deep stack
 * of them, as an interpreter's start-up leaves, would make the graph mostly empty height);
 * hovering a frame shows its name, bytes and share. A table under
 * each graph lists the sites (innermost frames) holding the most. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "report.h"

#define FLAME_WIDTH     896
#define FLAME_ROW       17
#define FLAME_DEPTH_MAX 96
#define FLAME_MIN_WIDTH 2.0 /* pixels */
#define TOP_SITES       12

typedef struct node {
    char *name;
    double bytes;
    struct node **children;
    size_t count, cap;
} node_t;

typedef struct {
    char *name;
    double bytes;
} site_t;

typedef struct {
    node_t root;
    site_t *sites;
    size_t site_count, site_cap;
    size_t stacks;
} profile_t;

static void *checked(void *p)
{
    if (!p) {
        cli_error("out of memory");
        exit(1);
    }
    return p;
}

static node_t *child_named(node_t *parent, const char *name, size_t len)
{
    for (size_t i = parent->count; i-- > 0;)
        if (strncmp(parent->children[i]->name, name, len) == 0 &&
            parent->children[i]->name[len] == '\0')
            return parent->children[i];
    if (parent->count == parent->cap) {
        parent->cap = parent->cap ? parent->cap * 2 : 4;
        parent->children = checked(realloc(parent->children, parent->cap * sizeof(node_t *)));
    }
    node_t *child = checked(calloc(1, sizeof *child));
    child->name = checked(strndup(name, len));
    parent->children[parent->count++] = child;
    return child;
}

static void add_site(profile_t *p, const char *name, size_t len, double bytes)
{
    for (size_t i = 0; i < p->site_count; i++)
        if (strncmp(p->sites[i].name, name, len) == 0 && p->sites[i].name[len] == '\0') {
            p->sites[i].bytes += bytes;
            return;
        }
    if (p->site_count == p->site_cap) {
        p->site_cap = p->site_cap ? p->site_cap * 2 : 64;
        p->sites = checked(realloc(p->sites, p->site_cap * sizeof *p->sites));
    }
    p->sites[p->site_count++] = (site_t){checked(strndup(name, len)), bytes};
}

/* frames: "outer;...;inner" (len bytes). */
static void add_stack(profile_t *p, const char *frames, size_t len, double bytes)
{
    if (bytes <= 0) return;
    p->stacks++;
    p->root.bytes += bytes;
    node_t *node = &p->root;
    const char *end = frames + len, *leaf = frames;
    size_t leaf_len = 0;
    for (const char *f = frames; f < end;) {
        const char *semi = memchr(f, ';', (size_t)(end - f));
        size_t n = semi ? (size_t)(semi - f) : (size_t)(end - f);
        if (n > 0) {
            node = child_named(node, f, n);
            node->bytes += bytes;
            leaf = f;
            leaf_len = n;
        }
        f += n + 1;
    }
    if (leaf_len) add_site(p, leaf, leaf_len, bytes);
}

static bool read_folded(FILE *in, profile_t *p)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, in)) > 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        char *space = strrchr(line, ' ');
        if (!space) continue;
        char *end;
        double bytes = strtod(space + 1, &end);
        if (*end != '\0') continue;
        add_stack(p, line, (size_t)(space - line), bytes);
    }
    free(line);
    return p->stacks > 0;
}

/* ---- The heap-profile text format ---------------------------------------------------------- */

typedef struct {
    unsigned long long start, end, offset;
    char *path;
} mapping_t;

typedef struct {
    double bytes;
    unsigned long long *addresses; /* innermost first, as the format lists them */
    size_t count;
} record_t;

static const char *name_address(unsigned long long a, const mapping_t *maps, size_t n, char *out,
                                size_t cap)
{
    for (size_t i = 0; i < n; i++)
        if (a >= maps[i].start && a < maps[i].end) {
            const char *base = strrchr(maps[i].path, '/');
            snprintf(out, cap, "%s+0x%llx", base ? base + 1 : maps[i].path,
                     a - maps[i].start + maps[i].offset);
            return out;
        }
    snprintf(out, cap, "0x%llx", a);
    return out;
}

/* Which figures of a profile: the bytes live at exit, or all the bytes allocated in the run. */
typedef enum { COLUMN_LIVE, COLUMN_ALLOCATED } column_t;

static bool read_heap_profile(FILE *in, profile_t *p, column_t column)
{
    record_t *records = NULL;
    mapping_t *maps = NULL;
    size_t record_count = 0, record_cap = 0, map_count = 0, map_cap = 0;
    bool in_maps = false;
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, in) > 0) {
        if (strncmp(line, "MAPPED_LIBRARIES:", 17) == 0) {
            in_maps = true;
            continue;
        }
        if (in_maps) {
            unsigned long long start, end, offset;
            char perms[8], path[1024] = "";
            if (sscanf(line, "%llx-%llx %7s %llx %*s %*s %1023s", &start, &end, perms, &offset,
                       path) >= 4 &&
                path[0]) {
                if (map_count == map_cap) {
                    map_cap = map_cap ? map_cap * 2 : 64;
                    maps = checked(realloc(maps, map_cap * sizeof *maps));
                }
                maps[map_count++] = (mapping_t){start, end, offset, checked(strdup(path))};
            }
            continue;
        }
        long long live_count, live_bytes, all_count, all_bytes;
        char *at = strchr(line, '@');
        if (!at || strncmp(line, "heap profile:", 13) == 0 ||
            sscanf(line, " %lld: %lld [ %lld: %lld ]", &live_count, &live_bytes, &all_count,
                   &all_bytes) != 4)
            continue;
        record_t r = {(double)(column == COLUMN_LIVE ? live_bytes : all_bytes), NULL, 0};
        size_t address_cap = 0;
        for (char *tok = strtok(at + 1, " \t\n"); tok; tok = strtok(NULL, " \t\n")) {
            if (r.count == address_cap) {
                address_cap = address_cap ? address_cap * 2 : 16;
                r.addresses = checked(realloc(r.addresses, address_cap * sizeof *r.addresses));
            }
            r.addresses[r.count++] = strtoull(tok, NULL, 16);
        }
        if (record_count == record_cap) {
            record_cap = record_cap ? record_cap * 2 : 64;
            records = checked(realloc(records, record_cap * sizeof *records));
        }
        records[record_count++] = r;
    }
    free(line);
    strbuf_t frames = {0};
    for (size_t i = 0; i < record_count; i++) {
        frames.len = 0;
        for (size_t k = records[i].count; k-- > 0;) {
            char name[1200];
            name_address(records[i].addresses[k], maps, map_count, name, sizeof name);
            sb_printf(&frames, "%s%s", frames.len ? ";" : "", name);
        }
        if (frames.len) add_stack(p, frames.data, frames.len, records[i].bytes);
        free(records[i].addresses);
    }
    sb_free(&frames);
    for (size_t i = 0; i < map_count; i++)
        free(maps[i].path);
    free(maps);
    free(records);
    return p->stacks > 0;
}

/* ---- Drawing ------------------------------------------------------------------------------ */

static int by_name(const void *a, const void *b)
{
    return strcmp((*(node_t *const *)a)->name, (*(node_t *const *)b)->name);
}

/* Rows of frames that are drawn (at least FLAME_MIN_WIDTH wide) at and above node. */
static int depth_of(const node_t *node, double total)
{
    if (FLAME_WIDTH * node->bytes / total < FLAME_MIN_WIDTH) return 0;
    int deepest = 0;
    for (size_t i = 0; i < node->count; i++) {
        int d = depth_of(node->children[i], total);
        if (d > deepest) deepest = d;
    }
    return deepest + 1;
}

/* Warm colours from the name, so a frame keeps its colour from one report to the next. */
static void frame_colour(const char *name, char *out, size_t cap)
{
    unsigned hash = 2166136261u;
    for (const char *c = name; *c; c++)
        hash = (hash ^ (unsigned char)*c) * 16777619u;
    snprintf(out, cap, "hsl(%u,%u%%,%u%%)", hash % 50, 70 + (hash >> 8) % 20,
             55 + (hash >> 16) % 12);
}

static void draw_node(strbuf_t *out, node_t *node, double x, int depth, int height, double total)
{
    double width = FLAME_WIDTH * node->bytes / total;
    if (width < FLAME_MIN_WIDTH || depth >= FLAME_DEPTH_MAX) return;
    double y = height - (depth + 1) * FLAME_ROW;
    char colour[40], human[24];
    frame_colour(node->name, colour, sizeof colour);
    cli_human_bytes(node->bytes, human, sizeof human);
    sb_printf(out, "<g><title>");
    sb_escape(out, node->name);
    sb_printf(out,
              "\n%s (%.1f%%)</title><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%d\" "
              "fill=\"%s\" rx=\"2\"/>",
              human, 100 * node->bytes / total, x, y, width, FLAME_ROW - 1, colour);
    int fits = (int)((width - 6) / 6.5);
    if (fits >= 3) {
        size_t len = strlen(node->name);
        char shown[256];
        if ((int)len <= fits || fits >= (int)sizeof shown)
            snprintf(shown, sizeof shown, "%s", node->name);
        else
            snprintf(shown, sizeof shown, "%.*s\u2026", fits - 1, node->name);
        sb_printf(out, "<text x=\"%.1f\" y=\"%.1f\">", x + 3, y + 12);
        sb_escape(out, shown);
        sb_printf(out, "</text>");
    }
    sb_printf(out, "</g>\n");
    qsort(node->children, node->count, sizeof *node->children, by_name);
    for (size_t i = 0; i < node->count; i++) {
        draw_node(out, node->children[i], x, depth + 1, height, total);
        x += FLAME_WIDTH * node->children[i]->bytes / total;
    }
}

static void free_node(node_t *node)
{
    for (size_t i = 0; i < node->count; i++) {
        free_node(node->children[i]);
        free(node->children[i]);
    }
    free(node->children);
    free(node->name);
}

static int by_bytes(const void *a, const void *b)
{
    double x = ((const site_t *)a)->bytes, y = ((const site_t *)b)->bytes;
    return x > y ? -1 : x < y;
}

static void profile_free(profile_t *p)
{
    for (size_t i = 0; i < p->site_count; i++)
        free(p->sites[i].name);
    free(p->sites);
    free_node(&p->root);
}

/* Reads one column of the profile beside a dump into p (the folded file, else the heap file;
 * path names the one read). found tells whether either file exists; true when p has stacks. */
static bool profile_load(const char *dir, long pid, column_t column, profile_t *p, char *path,
                         size_t cap, bool *found)
{
    memset(p, 0, sizeof *p);
    p->root.name = checked(strdup("all"));
    snprintf(path, cap, "%s/heapkit.%ld.%s", dir, pid,
             column == COLUMN_LIVE ? "folded" : "alloc.folded");
    FILE *in = fopen(path, "r");
    if (in) {
        *found = true;
        bool read = read_folded(in, p);
        fclose(in);
        if (read) return true;
    }
    snprintf(path, cap, "%s/heapkit.%ld.heap", dir, pid);
    in = fopen(path, "r");
    if (!in) return false;
    *found = true;
    bool read = read_heap_profile(in, p, column);
    fclose(in);
    return read;
}

/* One flame graph and its table of top sites; what says which bytes ("live at exit"). */
static void profile_draw(profile_t *p, const char *what, const char *path, strbuf_t *out)
{
    int depth = depth_of(&p->root, p->root.bytes);
    if (depth > FLAME_DEPTH_MAX) depth = FLAME_DEPTH_MAX;
    int height = depth * FLAME_ROW + 2;
    char total[24];
    cli_human_bytes(p->root.bytes, total, sizeof total);
    sb_printf(out, "<p class=\"note\">%zu sampled stack%s, %s %s (", p->stacks,
              p->stacks == 1 ? "" : "s", total, what);
    sb_escape(out, path);
    sb_printf(out,
              ").</p>\n<svg class=\"flame\" xmlns=\"http://www.w3.org/2000/svg\" "
              "width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\">\n",
              FLAME_WIDTH, height, FLAME_WIDTH, height);
    draw_node(out, &p->root, 0, 0, height, p->root.bytes);
    sb_printf(out,
              "</svg>\n<table class=\"sites\"><tr><th>allocation site</th>"
              "<th>bytes %s</th><th>share</th></tr>\n",
              what);
    qsort(p->sites, p->site_count, sizeof *p->sites, by_bytes);
    for (size_t i = 0; i < p->site_count && i < TOP_SITES; i++) {
        char human[24];
        cli_human_bytes(p->sites[i].bytes, human, sizeof human);
        sb_printf(out, "<tr><td>");
        sb_escape(out, p->sites[i].name);
        sb_printf(out, "</td><td>%s</td><td>%.1f%%</td></tr>\n", human,
                  100 * p->sites[i].bytes / p->root.bytes);
    }
    sb_printf(out, "</table>\n");
}

void flame_render(const char *dir, long pid, strbuf_t *out)
{
    profile_t live, run;
    char live_path[4096], run_path[4096];
    bool found = false;
    bool has_live = profile_load(dir, pid, COLUMN_LIVE, &live, live_path, sizeof live_path, &found);
    bool has_run =
        profile_load(dir, pid, COLUMN_ALLOCATED, &run, run_path, sizeof run_path, &found);
    if (!found) {
        sb_printf(out, "<p class=\"note\">No profile for this process: run with "
                       "<code>heapkit run --profile</code> to sample allocation sites.</p>\n");
    } else if (has_live) {
        sb_printf(out, "<h4>Live at exit</h4>\n");
        profile_draw(&live, "live at exit", live_path, out);
    } else {
        sb_printf(out, "<p class=\"note\">No sampled block was live at exit: the program freed "
                       "what it had allocated before it ended.</p>\n");
    }
    if (has_run) {
        sb_printf(out, "<h4>Allocated during the run</h4>\n");
        profile_draw(&run, "allocated in the run", run_path, out);
    }
    profile_free(&live);
    profile_free(&run);
}
