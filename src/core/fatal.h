/* Fatal errors: one line on stderr, then abort(). Never allocates, so it is safe inside
 * malloc, inside a signal handler's malloc, and when the heap itself is corrupt. */
#ifndef HK_CORE_FATAL_H
#define HK_CORE_FATAL_H

#include "core/compiler.h"

/* Writes "heapkit: <message>\n" to fd 2 and aborts. */
HK_NORETURN HK_COLD void hk_fatal(const char *fmt, ...) HK_PRINTF(1, 2);

/* Writes "heapkit: <message>\n" to fd 2 and returns (warnings, verbose mode). */
HK_COLD void hk_warn(const char *fmt, ...) HK_PRINTF(1, 2);

#endif
