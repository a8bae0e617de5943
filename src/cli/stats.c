/* heapkit stats: JSON statistics (HEAPKIT_STATS_JSON output: one object per process, one per
 * line; or dumps, whose "stats" member is used) printed as aligned tables. */
#include <string.h>

#include "cli.h"
#include "json.h"

static const char stats_usage[] =
    "usage: heapkit stats [FILE...]\n"
    "Prints JSON statistics as tables: the objects heapkit run --json (HEAPKIT_STATS_JSON=1)\n"
    "writes, one per process, or the dumps of heapkit run --dump-dir. Reads standard input\n"
    "when no FILE is given, or for '-'.\n"
    "  --help  print this summary\n";

static bool ends_with(const char *text, const char *suffix)
{
    size_t n = strlen(text), m = strlen(suffix);
    return n >= m && strcmp(text + n - m, suffix) == 0;
}

static void print_members(const json_value_t *object, int indent)
{
    for (size_t i = 0; i < object->count; i++) {
        const char *key = object->keys[i];
        const json_value_t *v = object->items[i];
        if (v->kind == JV_OBJECT) {
            printf("%*s%s:\n", indent, "", key);
            print_members(v, indent + 2);
        } else if (v->kind == JV_NUMBER) {
            char grouped[48] = "", human[32] = "";
            if (v->number >= 0 && v->number == (double)(unsigned long long)v->number)
                cli_grouped((unsigned long long)v->number, grouped, sizeof grouped);
            else
                snprintf(grouped, sizeof grouped, "%s", v->text);
            if (ends_with(key, "bytes") || strstr(key, "_bytes_")) {
                char size[24];
                cli_human_bytes(v->number, size, sizeof size);
                snprintf(human, sizeof human, "  (%s)", size);
            }
            printf("%*s%-*s %20s%s\n", indent, "", 30 - indent, key, grouped, human);
        } else if (v->kind == JV_STRING) {
            printf("%*s%-*s %20s\n", indent, "", 30 - indent, key, v->text);
        } else if (v->kind == JV_BOOL) {
            printf("%*s%-*s %20s\n", indent, "", 30 - indent, key, v->boolean ? "true" : "false");
        }
    }
}

static void print_object(const json_value_t *object)
{
    const json_value_t *stats = object;
    const json_value_t *dump = json_get(object, "heapkit_dump");
    if (dump) {
        stats = json_get(object, "stats");
        const json_value_t *program = json_get(object, "program");
        printf("== pid %.0f (%s) ==\n", json_get_number(object, "pid", 0),
               program && program->kind == JV_STRING ? program->text : "?");
        if (!stats || stats->kind != JV_OBJECT) {
            puts("  (no statistics)");
            return;
        }
    }
    const json_value_t *engine = json_get(stats, "engine");
    if (engine && engine->kind == JV_STRING) printf("%s statistics\n", engine->text);
    print_members(stats, 2);
}

/* Prints every statistics object of one file; false when it is not JSON. */
static bool print_file(const char *path, int *objects)
{
    FILE *in = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (!in) {
        cli_error("cannot open %s", path);
        return false;
    }
    const char *name = in == stdin ? "standard input" : path;
    json_reader_t *reader = json_reader_open(in);
    bool ok = reader != NULL;
    for (json_event_t e; ok && (e = json_next(reader)) != JSON_END;) {
        /* A dump's map and series can be large and are not statistics: skipped unread. */
        static const char *const skip[] = {"map", "series", NULL};
        json_value_t *v = e == JSON_OBJECT_BEGIN ? json_read_object_skipping(reader, skip)
                                                 : json_read_value(reader, e);
        if (!v) {
            cli_error("%s: %s", name, json_error(reader));
            ok = false;
            break;
        }
        if (v->kind == JV_OBJECT) {
            if ((*objects)++) putchar('\n');
            print_object(v);
        }
        json_free(v);
    }
    json_reader_close(reader);
    if (in != stdin) fclose(in);
    return ok;
}

int cli_stats(int argc, char **argv)
{
    int files = 0;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(stats_usage, stdout);
            return 0;
        }
        if (argv[i][0] == '-' && argv[i][1] != '\0') {
            cli_error("unknown option '%s'", argv[i]);
            fputs(stats_usage, stderr);
            return EXIT_USAGE;
        }
        files++;
    }
    int status = 0, objects = 0;
    if (files == 0 && !print_file("-", &objects)) status = 1;
    for (int i = 0; i < argc; i++)
        if (!print_file(argv[i], &objects)) status = 1;
    if (status == 0 && objects == 0) {
        cli_error("no statistics found");
        status = 1;
    }
    return status;
}
