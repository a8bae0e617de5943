/* One dump read as a stream: the small members (pid, program, engine, version, stats, series)
 * into memory, the map's items one at a time into the map builder, so a dump of any size is
 * read in a few kilobytes plus what the pictures keep. A bare heap map (HEAPKIT_MAP_FILE) reads
 * the same way, without statistics and series. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "report.h"

/* The nine fields of an item: [level, state, "0xaddress", size, block_size, used, free,
 * class, "label"]. */
static bool read_item(json_reader_t *r, map_item_t *item, char *label, size_t label_cap)
{
    double numbers[8] = {0};
    unsigned field = 0;
    label[0] = '\0';
    for (json_event_t e; (e = json_next(r)) != JSON_ARRAY_END; field++) {
        const char *text = json_text(r, NULL);
        if (e == JSON_NUMBER && field < 8) {
            numbers[field] = json_number(r);
        } else if (e == JSON_STRING && field == 2) {
            item->address = strtoull(text, NULL, 16);
        } else if (e == JSON_STRING && field == 8) {
            snprintf(label, label_cap, "%s", text);
        } else if (!json_skip(r, e)) {
            return false;
        }
    }
    if (field < 8) return false;
    item->level = (unsigned)numbers[0];
    item->state = (unsigned)numbers[1] < STATE_COUNT ? (unsigned)numbers[1] : STATE_USED;
    item->size = (uint64_t)numbers[3];
    item->block_size = (uint64_t)numbers[4];
    item->used = (uint64_t)numbers[5];
    item->free = (uint64_t)numbers[6];
    item->size_class = (unsigned)numbers[7];
    item->label = label;
    return true;
}

static bool read_items(json_reader_t *r, dump_t *dump)
{
    if (json_next(r) != JSON_ARRAY_BEGIN) return false;
    dump->has_map = true;
    map_item_t item;
    char label[128];
    for (json_event_t e; (e = json_next(r)) != JSON_ARRAY_END;) {
        if (e != JSON_ARRAY_BEGIN) {
            if (!json_skip(r, e)) return false;
            continue;
        }
        if (!read_item(r, &item, label, sizeof label)) return false;
        map_add(dump->map, &item);
    }
    return true;
}

static char *string_value(json_reader_t *r, json_event_t e)
{
    if (e != JSON_STRING) {
        json_skip(r, e);
        return NULL;
    }
    return strdup(json_text(r, NULL));
}

/* The members of an object (the dump, or its map); nested is true inside "map". */
static bool read_members(json_reader_t *r, dump_t *dump, bool nested)
{
    for (json_event_t e; (e = json_next(r)) != JSON_OBJECT_END;) {
        if (e != JSON_KEY) return false;
        char key[32];
        snprintf(key, sizeof key, "%s", json_text(r, NULL));
        if (strcmp(key, "items") == 0) {
            if (!read_items(r, dump)) return false;
            continue;
        }
        e = json_next(r);
        if (e == JSON_ERROR) return false;
        if (strcmp(key, "map") == 0 && !nested && e == JSON_OBJECT_BEGIN) {
            if (!read_members(r, dump, true)) return false;
        } else if (strcmp(key, "pid") == 0 && e == JSON_NUMBER) {
            dump->pid = (long)json_number(r);
        } else if (strcmp(key, "program") == 0 && !dump->program) {
            dump->program = string_value(r, e);
        } else if (strcmp(key, "engine") == 0 && !dump->engine) {
            dump->engine = string_value(r, e);
        } else if (strcmp(key, "library") == 0 && !nested && !dump->library) {
            dump->library = string_value(r, e);
        } else if (strcmp(key, "version") == 0 && !dump->version) {
            dump->version = string_value(r, e);
        } else if (strcmp(key, "stats") == 0 && !nested) {
            json_free(dump->stats);
            if (!(dump->stats = json_read_value(r, e))) return false;
        } else if (strcmp(key, "series") == 0 && !nested) {
            json_free(dump->series);
            if (!(dump->series = json_read_value(r, e))) return false;
        } else if (!json_skip(r, e)) {
            return false;
        }
    }
    return true;
}

bool dump_read(const char *path, dump_t *dump, char *why, size_t why_cap)
{
    memset(dump, 0, sizeof *dump);
    dump->pid = -1;
    dump->map = map_builder_new();
    FILE *in = fopen(path, "r");
    if (!in) {
        snprintf(why, why_cap, "cannot open %s", path);
        return false;
    }
    json_reader_t *r = json_reader_open(in);
    bool ok = r && json_next(r) == JSON_OBJECT_BEGIN && read_members(r, dump, false);
    if (!ok)
        snprintf(why, why_cap, "%s is not a heapkit dump (%s)", path,
                 r && json_error(r)[0] ? json_error(r) : "unexpected content");
    json_reader_close(r);
    fclose(in);
    map_finish(dump->map);
    return ok;
}

void dump_free(dump_t *dump)
{
    free(dump->program);
    free(dump->engine);
    free(dump->library);
    free(dump->version);
    json_free(dump->stats);
    json_free(dump->series);
    map_builder_free(dump->map);
}
