/* The JSON reader (see json.h): a byte-at-a-time state machine over a 64 KiB window of the
 * stream, one state per open container. */
#include "json.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define WINDOW_BYTES (64 * 1024)

typedef enum {
    OBJECT_KEY_OR_END, /* just after '{' */
    OBJECT_KEY,        /* after ',' */
    OBJECT_VALUE,      /* after "key": */
    OBJECT_NEXT,       /* after a member: ',' or '}' */
    ARRAY_VALUE_OR_END,
    ARRAY_VALUE,
    ARRAY_NEXT,
} container_state_t;

struct json_reader {
    FILE *in;
    unsigned char window[WINDOW_BYTES];
    size_t pos, len;             /* next byte, bytes in window */
    unsigned long long consumed; /* bytes before window[0] */
    char *text;                  /* the last key, string or number */
    size_t text_len, text_cap;
    double number;
    int depth;
    container_state_t stack[JSON_MAX_DEPTH];
    char error[160];
};

json_reader_t *json_reader_open(FILE *in)
{
    json_reader_t *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->in = in;
    r->text_cap = 256;
    r->text = malloc(r->text_cap);
    if (!r->text) {
        free(r);
        return NULL;
    }
    return r;
}

void json_reader_close(json_reader_t *r)
{
    if (!r) return;
    free(r->text);
    free(r);
}

const char *json_text(const json_reader_t *r, size_t *len)
{
    if (len) *len = r->text_len;
    return r->text;
}

double json_number(const json_reader_t *r)
{
    return r->number;
}

const char *json_error(const json_reader_t *r)
{
    return r->error;
}

unsigned long long json_offset(const json_reader_t *r)
{
    return r->consumed + r->pos;
}

static int peek(json_reader_t *r)
{
    if (r->pos == r->len) {
        r->consumed += r->len;
        r->len = fread(r->window, 1, sizeof r->window, r->in);
        r->pos = 0;
        if (r->len == 0) return EOF;
    }
    return r->window[r->pos];
}

static int take(json_reader_t *r)
{
    int c = peek(r);
    if (c != EOF) r->pos++;
    return c;
}

static void skip_space(json_reader_t *r)
{
    for (int c; (c = peek(r)) == ' ' || c == '\n' || c == '\r' || c == '\t';)
        r->pos++;
}

static json_event_t fail(json_reader_t *r, const char *what)
{
    snprintf(r->error, sizeof r->error, "%s at byte %llu", what, json_offset(r));
    return JSON_ERROR;
}

static bool text_put(json_reader_t *r, char c)
{
    if (r->text_len + 1 >= r->text_cap) {
        size_t cap = r->text_cap * 2;
        char *grown = realloc(r->text, cap);
        if (!grown) return false;
        r->text = grown;
        r->text_cap = cap;
    }
    r->text[r->text_len++] = c;
    r->text[r->text_len] = '\0';
    return true;
}

static void text_put_utf8(json_reader_t *r, uint32_t code)
{
    if (code < 0x80) {
        text_put(r, (char)code);
    } else if (code < 0x800) {
        text_put(r, (char)(0xC0 | code >> 6));
        text_put(r, (char)(0x80 | (code & 0x3F)));
    } else if (code < 0x10000) {
        text_put(r, (char)(0xE0 | code >> 12));
        text_put(r, (char)(0x80 | (code >> 6 & 0x3F)));
        text_put(r, (char)(0x80 | (code & 0x3F)));
    } else {
        text_put(r, (char)(0xF0 | code >> 18));
        text_put(r, (char)(0x80 | (code >> 12 & 0x3F)));
        text_put(r, (char)(0x80 | (code >> 6 & 0x3F)));
        text_put(r, (char)(0x80 | (code & 0x3F)));
    }
}

static bool read_hex4(json_reader_t *r, uint32_t *out)
{
    uint32_t value = 0;
    for (int i = 0; i < 4; i++) {
        int c = take(r);
        int digit = c >= '0' && c <= '9'   ? c - '0'
                    : c >= 'a' && c <= 'f' ? c - 'a' + 10
                    : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                           : -1;
        if (digit < 0) return false;
        value = value << 4 | (uint32_t)digit;
    }
    *out = value;
    return true;
}

/* After the opening quote: the string into text. */
static bool read_string(json_reader_t *r)
{
    r->text_len = 0;
    r->text[0] = '\0';
    for (;;) {
        int c = take(r);
        if (c == EOF || c < 0x20) return false;
        if (c == '"') return true;
        if (c != '\\') {
            if (!text_put(r, (char)c)) return false;
            continue;
        }
        c = take(r);
        static const char plain[] = "\"\\/bfnrt", meaning[] = "\"\\/\b\f\n\r\t";
        const char *known = c > 0 ? strchr(plain, c) : NULL;
        if (known) {
            text_put(r, meaning[known - plain]);
        } else if (c == 'u') {
            uint32_t code, low;
            if (!read_hex4(r, &code)) return false;
            if (code >= 0xD800 && code < 0xDC00 && peek(r) == '\\') {
                take(r);
                if (take(r) != 'u' || !read_hex4(r, &low) || low < 0xDC00 || low > 0xDFFF)
                    return false;
                code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
            }
            text_put_utf8(r, code);
        } else {
            return false;
        }
    }
}

static bool read_number(json_reader_t *r)
{
    r->text_len = 0;
    r->text[0] = '\0';
    for (int c; (c = peek(r)) != EOF && (strchr("+-.eE", c) || (c >= '0' && c <= '9'));) {
        text_put(r, (char)c);
        r->pos++;
    }
    char *end;
    r->number = strtod(r->text, &end);
    return r->text_len > 0 && *end == '\0';
}

static bool read_literal(json_reader_t *r, const char *word)
{
    for (const char *w = word; *w; w++)
        if (take(r) != *w) return false;
    return true;
}

static json_event_t begin_value(json_reader_t *r)
{
    int c = peek(r);
    switch (c) {
    case '{':
    case '[':
        if (r->depth == JSON_MAX_DEPTH) return fail(r, "nesting too deep");
        r->pos++;
        r->stack[r->depth++] = c == '{' ? OBJECT_KEY_OR_END : ARRAY_VALUE_OR_END;
        return c == '{' ? JSON_OBJECT_BEGIN : JSON_ARRAY_BEGIN;
    case '"':
        r->pos++;
        return read_string(r) ? JSON_STRING : fail(r, "bad string");
    case 't':
        return read_literal(r, "true") ? JSON_TRUE : fail(r, "bad literal");
    case 'f':
        return read_literal(r, "false") ? JSON_FALSE : fail(r, "bad literal");
    case 'n':
        return read_literal(r, "null") ? JSON_NULL : fail(r, "bad literal");
    case EOF:
        return fail(r, "unexpected end of input");
    default:
        if (c == '-' || (c >= '0' && c <= '9'))
            return read_number(r) ? JSON_NUMBER : fail(r, "bad number");
        return fail(r, "unexpected character");
    }
}

json_event_t json_next(json_reader_t *r)
{
    for (;;) {
        skip_space(r);
        if (r->depth == 0) return peek(r) == EOF ? JSON_END : begin_value(r);
        container_state_t *state = &r->stack[r->depth - 1];
        int c = peek(r);
        switch (*state) {
        case OBJECT_KEY_OR_END:
            if (c == '}') {
                r->pos++;
                r->depth--;
                return JSON_OBJECT_END;
            }
            /* fall through */
        case OBJECT_KEY:
            if (c != '"') return fail(r, "expected a member name");
            r->pos++;
            if (!read_string(r)) return fail(r, "bad member name");
            skip_space(r);
            if (take(r) != ':') return fail(r, "expected ':'");
            *state = OBJECT_VALUE;
            return JSON_KEY;
        case OBJECT_VALUE:
            *state = OBJECT_NEXT;
            return begin_value(r);
        case OBJECT_NEXT:
            if (c == EOF) return fail(r, "unexpected end of input");
            r->pos++;
            if (c == ',') {
                *state = OBJECT_KEY;
                continue;
            }
            if (c == '}') {
                r->depth--;
                return JSON_OBJECT_END;
            }
            return fail(r, "expected ',' or '}'");
        case ARRAY_VALUE_OR_END:
            if (c == ']') {
                r->pos++;
                r->depth--;
                return JSON_ARRAY_END;
            }
            /* fall through */
        case ARRAY_VALUE:
            *state = ARRAY_NEXT;
            return begin_value(r);
        case ARRAY_NEXT:
            if (c == EOF) return fail(r, "unexpected end of input");
            r->pos++;
            if (c == ',') {
                *state = ARRAY_VALUE;
                continue;
            }
            if (c == ']') {
                r->depth--;
                return JSON_ARRAY_END;
            }
            return fail(r, "expected ',' or ']'");
        }
    }
}

bool json_skip(json_reader_t *r, json_event_t event)
{
    if (event == JSON_ERROR || event == JSON_END) return false;
    if (event != JSON_OBJECT_BEGIN && event != JSON_ARRAY_BEGIN) return true;
    int target = r->depth - 1;
    while (r->depth > target) {
        json_event_t e = json_next(r);
        if (e == JSON_ERROR || e == JSON_END) return false;
    }
    return true;
}

/* ---- The tree ----------------------------------------------------------------------------- */

static json_value_t *value_new(json_kind_t kind)
{
    json_value_t *v = calloc(1, sizeof *v);
    if (v) v->kind = kind;
    return v;
}

static bool value_append(json_value_t *container, char *key, json_value_t *item)
{
    size_t n = container->count + 1;
    json_value_t **items = realloc(container->items, n * sizeof *items);
    if (!items) return false;
    container->items = items;
    if (container->kind == JV_OBJECT) {
        char **keys = realloc(container->keys, n * sizeof *keys);
        if (!keys) return false;
        container->keys = keys;
        keys[n - 1] = key;
    }
    items[n - 1] = item;
    container->count = n;
    return true;
}

json_value_t *json_read_value(json_reader_t *r, json_event_t event)
{
    json_value_t *v = NULL;
    switch (event) {
    case JSON_NULL:
        return value_new(JV_NULL);
    case JSON_TRUE:
    case JSON_FALSE:
        v = value_new(JV_BOOL);
        if (v) v->boolean = event == JSON_TRUE;
        return v;
    case JSON_NUMBER:
    case JSON_STRING:
        v = value_new(event == JSON_NUMBER ? JV_NUMBER : JV_STRING);
        if (!v) return NULL;
        v->number = r->number;
        v->text = strdup(r->text);
        return v;
    case JSON_ARRAY_BEGIN:
    case JSON_OBJECT_BEGIN:
        v = value_new(event == JSON_ARRAY_BEGIN ? JV_ARRAY : JV_OBJECT);
        if (!v) return NULL;
        for (;;) {
            json_event_t e = json_next(r);
            if (e == JSON_ARRAY_END || e == JSON_OBJECT_END) return v;
            char *key = NULL;
            if (e == JSON_KEY) {
                key = strdup(r->text);
                e = json_next(r);
            }
            json_value_t *item = json_read_value(r, e);
            if (!item || !value_append(v, key, item)) {
                free(key);
                json_free(item);
                json_free(v);
                return NULL;
            }
        }
    default:
        return NULL;
    }
}

json_value_t *json_read_object_skipping(json_reader_t *r, const char *const *skip)
{
    json_value_t *v = value_new(JV_OBJECT);
    if (!v) return NULL;
    for (json_event_t e; (e = json_next(r)) != JSON_OBJECT_END;) {
        if (e != JSON_KEY) goto malformed;
        bool skipped = false;
        for (const char *const *k = skip; *k && !skipped; k++)
            skipped = strcmp(*k, r->text) == 0;
        char *key = strdup(r->text);
        e = json_next(r);
        if (skipped) {
            free(key);
            if (!json_skip(r, e)) goto malformed;
            continue;
        }
        json_value_t *item = json_read_value(r, e);
        if (!item || !value_append(v, key, item)) {
            free(key);
            json_free(item);
            goto malformed;
        }
    }
    return v;
malformed:
    json_free(v);
    return NULL;
}

void json_free(json_value_t *v)
{
    if (!v) return;
    for (size_t i = 0; i < v->count; i++) {
        json_free(v->items[i]);
        if (v->keys) free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
    free(v->text);
    free(v);
}

const json_value_t *json_get(const json_value_t *object, const char *key)
{
    if (!object || object->kind != JV_OBJECT) return NULL;
    for (size_t i = 0; i < object->count; i++)
        if (strcmp(object->keys[i], key) == 0) return object->items[i];
    return NULL;
}

double json_get_number(const json_value_t *object, const char *key, double fallback)
{
    const json_value_t *v = json_get(object, key);
    return v && v->kind == JV_NUMBER ? v->number : fallback;
}
