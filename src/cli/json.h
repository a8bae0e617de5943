/* A small JSON reader for the command's inputs (dumps, heap maps, statistics): a pull parser
 * that reads a stream in pieces, so a map of millions of items is read item by item without
 * holding the file, and a little tree for the small parts (statistics, the time series).
 * Objects keep their members in order, duplicates included (the statistics of one engine
 * name two members "engine"); lookups take the first. Accepts one value or several in a row
 * (files of one JSON object per line). Depth is limited to JSON_MAX_DEPTH. */
#ifndef HK_CLI_JSON_H
#define HK_CLI_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define JSON_MAX_DEPTH 64

typedef enum {
    JSON_ERROR,        /* malformed input: json_error says what and where */
    JSON_END,          /* no more values in the stream */
    JSON_OBJECT_BEGIN, /* then pairs of JSON_KEY and a value, then JSON_OBJECT_END */
    JSON_OBJECT_END,
    JSON_ARRAY_BEGIN,
    JSON_ARRAY_END,
    JSON_KEY,    /* text: the member's name */
    JSON_STRING, /* text: the string, unescaped (UTF-8) */
    JSON_NUMBER, /* number, and its text */
    JSON_TRUE,
    JSON_FALSE,
    JSON_NULL,
} json_event_t;

typedef struct json_reader json_reader_t;

json_reader_t *json_reader_open(FILE *in);
void json_reader_close(json_reader_t *reader);

/* The next event. */
json_event_t json_next(json_reader_t *reader);
/* The text of the last KEY, STRING or NUMBER (valid until the next call), and its length. */
const char *json_text(const json_reader_t *reader, size_t *len);
double json_number(const json_reader_t *reader);
/* What went wrong, with the byte offset. */
const char *json_error(const json_reader_t *reader);
/* Bytes read so far (for progress). */
unsigned long long json_offset(const json_reader_t *reader);

/* Skips the rest of the value that begins with event (a whole object or array; nothing for a
 * scalar); false on malformed input. */
bool json_skip(json_reader_t *reader, json_event_t event);

/* ---- The tree ----------------------------------------------------------------------------- */

typedef enum { JV_NULL, JV_BOOL, JV_NUMBER, JV_STRING, JV_ARRAY, JV_OBJECT } json_kind_t;

typedef struct json_value {
    json_kind_t kind;
    bool boolean;
    double number;
    char *text;                /* strings: the string; numbers: their text */
    size_t count;              /* arrays and objects: elements or members */
    char **keys;               /* objects: member names, in order */
    struct json_value **items; /* elements or member values */
} json_value_t;

/* Reads the value that begins with event into a tree (NULL on malformed input). */
json_value_t *json_read_value(json_reader_t *reader, json_event_t event);
void json_free(json_value_t *value);
/* Reads an object (after its JSON_OBJECT_BEGIN) into a tree, skipping the members named in
 * skip (a NULL-terminated list): a dump's statistics without its map. */
json_value_t *json_read_object_skipping(json_reader_t *reader, const char *const *skip);
/* The first member named key, or NULL. */
const json_value_t *json_get(const json_value_t *object, const char *key);
/* A member's number (fallback when missing or not a number). */
double json_get_number(const json_value_t *object, const char *key, double fallback);

#endif
