/* hk_fatal and hk_warn (see fatal.h). */
#include "core/fatal.h"

#include <stdarg.h>
#include <stdlib.h>

#include "core/fmt.h"

static void say(const char *fmt, va_list ap)
{
    char line[512];
    size_t prefix = sizeof "heapkit: " - 1;
    __builtin_memcpy(line, "heapkit: ", prefix);
    size_t n = prefix + hk_vsnprintf(line + prefix, sizeof line - prefix - 1, fmt, ap);
    if (n > sizeof line - 2) n = sizeof line - 2;
    line[n++] = '\n';
    hk_write_all(2, line, n);
}

void hk_fatal(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    say(fmt, ap);
    va_end(ap);
    abort();
}

void hk_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    say(fmt, ap);
    va_end(ap);
}
