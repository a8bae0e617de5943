/* A small printf that never allocates: formats into a caller's buffer, or writes to a file
 * descriptor through a stack buffer. Used for error messages, reports and statistics, because
 * the allocator may not call stdio (stdio allocates, and may be what called us).
 * Conversions: %d %i %u %x %X %p %s %c %%, length modifiers hh h l ll z j t, flags '-' '0' '+',
 * a field width and, for %s, a precision ('*' allowed for both). */
#ifndef HK_CORE_FMT_H
#define HK_CORE_FMT_H

#include <stdarg.h>
#include <stddef.h>

#include "core/compiler.h"

/* Like vsnprintf: writes at most cap bytes including the terminating NUL, returns the length
 * the full output would have had. */
size_t hk_vsnprintf(char *buf, size_t cap, const char *fmt, va_list ap);
size_t hk_snprintf(char *buf, size_t cap, const char *fmt, ...) HK_PRINTF(3, 4);

/* Formats and writes to fd in pieces of up to 1 KiB; retries on EINTR; errno preserved. */
void hk_dprintf(int fd, const char *fmt, ...) HK_PRINTF(2, 3);

/* Writes len bytes to fd, retrying short writes and EINTR; errno preserved. */
void hk_write_all(int fd, const char *data, size_t len);

#endif
