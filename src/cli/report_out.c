/* Growable text buffers for the report's parts, and HTML escaping. Out of memory ends the
 * command: a half-written report is worth nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "report.h"

static void reserve(strbuf_t *sb, size_t more)
{
    if (sb->len + more + 1 <= sb->cap) return;
    size_t cap = sb->cap ? sb->cap : 4096;
    while (cap < sb->len + more + 1)
        cap *= 2;
    char *grown = realloc(sb->data, cap);
    if (!grown) {
        cli_error("out of memory writing the report");
        exit(1);
    }
    sb->data = grown;
    sb->cap = cap;
}

void sb_put(strbuf_t *sb, const char *text, size_t len)
{
    reserve(sb, len);
    memcpy(sb->data + sb->len, text, len);
    sb->len += len;
    sb->data[sb->len] = '\0';
}

void sb_printf(strbuf_t *sb, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    reserve(sb, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(sb->data + sb->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sb->len += (size_t)n;
}

void sb_escape(strbuf_t *sb, const char *text)
{
    for (const char *p = text ? text : ""; *p; p++) {
        switch (*p) {
        case '&':
            sb_put(sb, "&amp;", 5);
            break;
        case '<':
            sb_put(sb, "&lt;", 4);
            break;
        case '>':
            sb_put(sb, "&gt;", 4);
            break;
        case '"':
            sb_put(sb, "&quot;", 6);
            break;
        case '\'':
            sb_put(sb, "&#39;", 5);
            break;
        default:
            /* Control characters have no place in HTML text. */
            if ((unsigned char)*p < 0x20 && *p != '\n' && *p != '\t')
                sb_put(sb, "?", 1);
            else
                sb_put(sb, p, 1);
        }
    }
}

void sb_free(strbuf_t *sb)
{
    free(sb->data);
    sb->data = NULL;
    sb->len = sb->cap = 0;
}
