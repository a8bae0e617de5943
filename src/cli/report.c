/* heapkit report: one self-contained HTML page from the dumps of a run (HEAPKIT_DUMP_DIR):
 * a summary of the processes, then for each one its heap map, size classes, live and mapped
 * bytes over time, allocation sites and statistics. Everything is inline (CSS, SVG, a few
 * lines of script that show the hovered item's details): the page fetches nothing. Dumps are
 * read one at a time as streams (report_dump.c), each section written as soon as it is ready;
 * the page goes to FILE.tmp and is renamed when complete. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "heapkit.h"
#include "report.h"

static const char report_usage[] =
    "usage: heapkit report DUMP... -o FILE.html\n"
    "Writes one self-contained HTML page from heapkit dumps: heapkit.<pid>.json files (or\n"
    "directories holding them, as heapkit run --dump-dir leaves them) and heap maps\n"
    "(HEAPKIT_MAP_FILE). Profiles beside a dump (heapkit.<pid>.folded, .alloc.folded or\n"
    ".heap) become its flame graphs: bytes live at exit, bytes allocated during the run.\n"
    "  -o, --output FILE  the page to write\n"
    "  --help             print this summary\n";

static const char page_style[] =
    "body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;background:#fafafa}"
    "h1{margin:0 0 4px}h2{margin:32px 0 8px;border-bottom:2px solid #ddd}"
    "h3{margin:0 0 8px;font-size:15px}h4{margin:12px 0 4px;font-size:14px}"
    ".sub{color:#666;margin:0 0 16px}"
    ".card{background:#fff;border:1px solid #e2e2e2;border-radius:6px;padding:12px 16px;"
    "margin:12px 0;overflow-x:auto}"
    "table{border-collapse:collapse}td,th{padding:2px 10px;text-align:left}"
    "td.n{text-align:right;font-variant-numeric:tabular-nums}tr:nth-child(even){background:#f4f4f4}"
    "th{border-bottom:1px solid #ccc}.group td{font-weight:600;background:#eef}"
    ".note{color:#666}.legend span{margin-right:14px}.legend i{display:inline-block;width:11px;"
    "height:11px;margin-right:4px;vertical-align:-1px;border-radius:2px}"
    "svg text{font:11px system-ui,sans-serif;fill:#333}svg .seg{font-weight:600}"
    "svg .bg{fill:#efefef;stroke:#ddd}svg .grid{stroke:#e5e5e5}"
    "svg rect:hover,svg g:hover>rect{stroke:#000;stroke-width:1}"
    ".hover{min-height:1.4em;font-family:monospace;white-space:pre-wrap;color:#333}"
    "code{background:#eee;padding:0 3px}";

/* Shows the <title> of what the pointer is over in the section's hover line. */
static const char page_script[] =
    "document.querySelectorAll('section').forEach(function(section){"
    "var line=section.querySelector('.hover');if(!line)return;"
    "section.addEventListener('mouseover',function(event){"
    "var node=event.target;while(node&&node!==section){"
    "var title=node.querySelector?node.querySelector(':scope>title'):null;"
    "if(title){line.textContent=title.textContent.replace(/\\n/g,' \\u00b7 ');return;}"
    "node=node.parentNode;}});});";

/* ---- Inputs ------------------------------------------------------------------------------- */

typedef struct {
    char **paths;
    size_t count, cap;
} path_list_t;

static void path_add(path_list_t *list, const char *path)
{
    if (list->count == list->cap) {
        list->cap = list->cap ? list->cap * 2 : 16;
        list->paths = realloc(list->paths, list->cap * sizeof *list->paths);
        if (!list->paths) exit(1);
    }
    list->paths[list->count++] = strdup(path);
}

static long pid_of_name(const char *name)
{
    long pid;
    char rest[8];
    return sscanf(name, "heapkit.%ld.jso%7s", &pid, rest) == 2 && strcmp(rest, "n") == 0 ? pid : -1;
}

static int by_pid(const void *a, const void *b)
{
    const char *x = strrchr(*(char *const *)a, '/'), *y = strrchr(*(char *const *)b, '/');
    long px = pid_of_name(x ? x + 1 : *(char *const *)a);
    long py = pid_of_name(y ? y + 1 : *(char *const *)b);
    return px < py ? -1 : px > py;
}

/* A file is taken as it is; a directory gives its heapkit.<pid>.json files, by pid. */
static bool collect_inputs(const char *input, path_list_t *list)
{
    struct stat st;
    if (stat(input, &st) != 0) {
        cli_error("cannot read %s: %s", input, strerror(errno));
        return false;
    }
    if (!S_ISDIR(st.st_mode)) {
        path_add(list, input);
        return true;
    }
    DIR *d = opendir(input);
    if (!d) {
        cli_error("cannot read %s: %s", input, strerror(errno));
        return false;
    }
    size_t first = list->count;
    for (struct dirent *e; (e = readdir(d));) {
        if (pid_of_name(e->d_name) < 0) continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", input, e->d_name);
        path_add(list, path);
    }
    closedir(d);
    qsort(list->paths + first, list->count - first, sizeof *list->paths, by_pid);
    return true;
}

/* ---- Sections ----------------------------------------------------------------------------- */

static void stats_rows(strbuf_t *out, const json_value_t *object, int depth)
{
    for (size_t i = 0; i < object->count; i++) {
        const json_value_t *v = object->items[i];
        if (v->kind == JV_OBJECT) {
            sb_printf(out, "<tr class=\"group\"><td colspan=\"3\" style=\"padding-left:%dpx\">",
                      10 + 14 * depth);
            sb_escape(out, object->keys[i]);
            sb_printf(out, "</td></tr>\n");
            stats_rows(out, v, depth + 1);
            continue;
        }
        sb_printf(out, "<tr><td style=\"padding-left:%dpx\">", 10 + 14 * depth);
        sb_escape(out, object->keys[i]);
        sb_printf(out, "</td><td class=\"n\">");
        if (v->kind == JV_NUMBER) {
            char grouped[48] = "", human[24] = "";
            if (v->number >= 0 && v->number == (double)(unsigned long long)v->number)
                cli_grouped((unsigned long long)v->number, grouped, sizeof grouped);
            else
                snprintf(grouped, sizeof grouped, "%s", v->text);
            if (strstr(object->keys[i], "bytes")) cli_human_bytes(v->number, human, sizeof human);
            sb_printf(out, "%s</td><td class=\"n\">%s", grouped, human);
        } else if (v->kind == JV_STRING) {
            sb_escape(out, v->text);
            sb_printf(out, "</td><td>");
        } else {
            sb_printf(out, "%s</td><td>",
                      v->kind == JV_BOOL ? (v->boolean ? "true" : "false") : "null");
        }
        sb_printf(out, "</td></tr>\n");
    }
}

static void write_section(FILE *page, const dump_t *dump, const char *path)
{
    strbuf_t out = {0};
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    else
        snprintf(dir, sizeof dir, ".");

    sb_printf(&out, "<section id=\"pid-%ld\"><h2>pid %ld \u2014 ", dump->pid, dump->pid);
    sb_escape(&out, dump->program ? dump->program : path);
    sb_printf(&out, "</h2>\n<p class=\"sub\">");
    if (dump->library && (!dump->engine || strcmp(dump->library, dump->engine) != 0)) {
        sb_printf(&out, "library ");
        sb_escape(&out, dump->library);
        sb_printf(&out, " \u00b7 ");
    }
    sb_printf(&out, "engine ");
    sb_escape(&out, dump->engine ? dump->engine : "?");
    sb_printf(&out, " \u00b7 heapkit ");
    sb_escape(&out, dump->version ? dump->version : "?");
    sb_printf(&out, " \u00b7 %llu map items \u00b7 ", (unsigned long long)map_items(dump->map));
    sb_escape(&out, path);
    sb_printf(&out, "</p>\n<div class=\"card\"><h3>Heap map</h3>\n"
                    "<p class=\"note\">Each segment (a mapping or heap extent) is a band; its "
                    "pages and blocks colour the addresses they cover. Hover for details.</p>\n");
    map_render(dump->map, &out);
    sb_printf(&out, "<div class=\"hover\"></div></div>\n"
                    "<div class=\"card\"><h3>Size classes</h3>\n");
    histogram_render(dump->map, &out);
    sb_printf(&out, "</div>\n<div class=\"card\"><h3>Live and mapped bytes over time</h3>\n");
    series_render(dump->series, &out);
    sb_printf(&out, "</div>\n<div class=\"card\"><h3>Top allocation sites</h3>\n");
    flame_render(dir, dump->pid, &out);
    sb_printf(&out, "</div>\n<div class=\"card\"><h3>Statistics</h3>\n");
    if (dump->stats && dump->stats->kind == JV_OBJECT) {
        sb_printf(&out,
                  "<table class=\"stats\"><tr><th>counter</th><th>value</th><th></th></tr>\n");
        stats_rows(&out, dump->stats, 0);
        sb_printf(&out, "</table>\n");
    } else {
        sb_printf(&out, "<p class=\"note\">No statistics in this dump.</p>\n");
    }
    sb_printf(&out, "</div></section>\n");
    fwrite(out.data, 1, out.len, page);
    sb_free(&out);
}

static void summary_row(strbuf_t *out, const dump_t *dump)
{
    char used[24], free_bytes[24], other[24];
    cli_human_bytes((double)map_state_bytes(dump->map, STATE_USED), used, sizeof used);
    cli_human_bytes((double)map_state_bytes(dump->map, STATE_FREE), free_bytes, sizeof free_bytes);
    cli_human_bytes((double)(map_state_bytes(dump->map, STATE_PURGED) +
                             map_state_bytes(dump->map, STATE_CACHED)),
                    other, sizeof other);
    sb_printf(out, "<tr><td><a href=\"#pid-%ld\">%ld</a></td><td>", dump->pid, dump->pid);
    sb_escape(out, dump->program ? dump->program : "?");
    sb_printf(out, "</td><td>");
    sb_escape(out, dump->library ? dump->library : dump->engine ? dump->engine : "?");
    sb_printf(out,
              "</td><td class=\"n\">%s</td><td class=\"n\">%s</td><td class=\"n\">%s</td></tr>\n",
              used, free_bytes, other);
}

/* ---- The page ----------------------------------------------------------------------------- */

int report_render(const char *const *inputs, size_t count, const char *output)
{
    path_list_t list = {0};
    for (size_t i = 0; i < count; i++)
        if (!collect_inputs(inputs[i], &list)) return 1;
    if (list.count == 0) {
        cli_error("no dumps to report (heapkit.<pid>.json files)");
        return 1;
    }
    unsigned long long total_bytes = 0;
    for (size_t i = 0; i < list.count; i++) {
        struct stat st;
        if (stat(list.paths[i], &st) == 0) total_bytes += (unsigned long long)st.st_size;
    }
    bool progress = isatty(2) || total_bytes > 16u * 1024 * 1024;

    char temporary[4200];
    snprintf(temporary, sizeof temporary, "%s.tmp", output);
    FILE *page = fopen(temporary, "w");
    if (!page) {
        cli_error("cannot write %s: %s", temporary, strerror(errno));
        return 1;
    }
    fprintf(page,
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
            "<title>heapkit report</title>\n<style>%s</style></head>\n<body>\n"
            "<h1>heapkit report</h1>\n",
            page_style);
    /* The summary comes first on the page but is known last: sections go to a second file,
     * copied after it. */
    FILE *sections = tmpfile();
    if (!sections) {
        cli_error("cannot create a temporary file: %s", strerror(errno));
        fclose(page);
        return 1;
    }
    strbuf_t summary = {0};
    int status = 0;
    size_t reported = 0;
    for (size_t i = 0; i < list.count; i++) {
        if (progress)
            fprintf(stderr, "heapkit: report: reading %s (%zu of %zu)\n", list.paths[i], i + 1,
                    list.count);
        dump_t dump;
        char why[512];
        if (!dump_read(list.paths[i], &dump, why, sizeof why)) {
            cli_error("%s", why);
            status = 1;
            dump_free(&dump);
            continue;
        }
        write_section(sections, &dump, list.paths[i]);
        summary_row(&summary, &dump);
        reported++;
        dump_free(&dump);
    }
    fprintf(page,
            "<p class=\"sub\">%zu process%s \u00b7 heapkit %s</p>\n<div class=\"card\">"
            "<table class=\"summary\"><tr><th>pid</th><th>program</th><th>library</th>"
            "<th>in use at exit</th><th>free</th><th>purged or cached</th></tr>\n",
            reported, reported == 1 ? "" : "es", HEAPKIT_VERSION);
    if (summary.len) fwrite(summary.data, 1, summary.len, page);
    fprintf(page, "</table></div>\n");
    sb_free(&summary);
    rewind(sections);
    char buffer[65536];
    for (size_t n; (n = fread(buffer, 1, sizeof buffer, sections)) > 0;)
        fwrite(buffer, 1, n, page);
    fclose(sections);
    fprintf(page, "<script>%s</script>\n</body></html>\n", page_script);
    bool written = !ferror(page);
    if (fclose(page) != 0) written = false;
    if (!written || rename(temporary, output) != 0) {
        cli_error("cannot write %s: %s", output, strerror(errno));
        unlink(temporary);
        status = 1;
    } else if (progress || reported > 0) {
        fprintf(stderr, "heapkit: report of %zu process%s written to %s\n", reported,
                reported == 1 ? "" : "es", output);
    }
    for (size_t i = 0; i < list.count; i++)
        free(list.paths[i]);
    free(list.paths);
    return reported == 0 ? 1 : status;
}

int cli_report(int argc, char **argv)
{
    const char *output = NULL;
    const char **inputs = calloc((size_t)argc + 1, sizeof *inputs);
    size_t count = 0;
    for (int i = 0; i < argc; i++) {
        const char *value;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(report_usage, stdout);
            free(inputs);
            return 0;
        }
        if (cli_option_value(argc, argv, &i, "--output", &value) ||
            cli_option_value(argc, argv, &i, "-o", &value)) {
            output = value;
        } else if (argv[i][0] == '-') {
            cli_error("unknown option '%s'", argv[i]);
            fputs(report_usage, stderr);
            free(inputs);
            return EXIT_USAGE;
        } else {
            inputs[count++] = argv[i];
        }
    }
    if (!output || count == 0) {
        cli_error(!output ? "report needs -o FILE.html" : "report needs at least one dump");
        fputs(report_usage, stderr);
        free(inputs);
        return EXIT_USAGE;
    }
    int status = report_render(inputs, count, output);
    free(inputs);
    return status;
}
