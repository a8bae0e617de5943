/* hk_misuse (see misuse.h). */
#include "core/misuse.h"

#include <stdarg.h>

#include "core/fatal.h"
#include "core/fmt.h"

#define HK_MISUSE_TEXT(name, text) text,
static const char *const formats[] = {HK_MISUSE_KINDS(HK_MISUSE_TEXT)};
#undef HK_MISUSE_TEXT

const char *hk_misuse_format(hk_misuse_t kind)
{
    return (unsigned)kind < HK_MISUSE_KIND_COUNT ? formats[kind] : "heap misuse at %p in %s()";
}

/* The format is one of the fixed texts above, each taking (%p, %s). */
#pragma GCC diagnostic ignored "-Wformat-nonliteral"

void hk_misuse(hk_misuse_t kind, const void *p, const char *who)
{
    char line[256];
    hk_snprintf(line, sizeof line, hk_misuse_format(kind), p, who);
    hk_fatal("%s", line);
}

void hk_misuse_detail(hk_misuse_t kind, const void *p, const char *who, const char *detail_fmt, ...)
{
    char line[384];
    size_t n = hk_snprintf(line, sizeof line, hk_misuse_format(kind), p, who);
    if (n < sizeof line - 3) {
        line[n++] = ' ';
        line[n++] = '(';
        va_list ap;
        va_start(ap, detail_fmt);
        n += hk_vsnprintf(line + n, sizeof line - n - 1, detail_fmt, ap);
        va_end(ap);
        if (n > sizeof line - 2) n = sizeof line - 2;
        line[n++] = ')';
        line[n] = '\0';
    }
    hk_fatal("%s", line);
}
