/* Streaming JSON output to a file descriptor through a buffer the caller keeps (on its stack):
 * what the heap map, the time series and the dump set are written with, from inside the
 * allocator, so it never allocates and never uses stdio. Write errors are remembered (the first
 * errno) and later output is dropped, so a writer checks once, at the end. */
#ifndef HK_CORE_JSONOUT_H
#define HK_CORE_JSONOUT_H

#include <stdarg.h>
#include <stddef.h>

#include "core/compiler.h"

/* Enough to batch a few hundred heap-map items per write(2); small enough for any stack. */
#define HK_JSONOUT_BUFFER_BYTES 8192
/* The longest piece hk_jsonout_printf formats at once (numbers and short keys). */
#define HK_JSONOUT_PIECE_MAX_BYTES 256

typedef struct {
    int fd;                            /* where the output goes */
    int error;                         /* the first errno a write failed with, 0 if none */
    size_t used;                       /* bytes waiting in buf */
    char buf[HK_JSONOUT_BUFFER_BYTES]; /* output not yet written */
} hk_jsonout_t;

void hk_jsonout_init(hk_jsonout_t *out, int fd);

/* Appends len bytes as they are. */
void hk_jsonout_raw(hk_jsonout_t *out, const char *text, size_t len);

/* Appends formatted text (hk_snprintf conversions; at most HK_JSONOUT_PIECE_MAX_BYTES). */
void hk_jsonout_printf(hk_jsonout_t *out, const char *fmt, ...) HK_PRINTF(2, 3);

/* Appends text as a JSON string: quoted, with quotes, backslashes and control characters
 * escaped (NULL reads as ""). */
void hk_jsonout_string(hk_jsonout_t *out, const char *text);

/* Writes what is buffered; returns 0 or the first errno any write failed with. */
int hk_jsonout_flush(hk_jsonout_t *out);

#endif
