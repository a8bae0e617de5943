/* heapkit — the public API of libheapkit beyond the standard malloc family.
 * Link with -lheapkit (or preload libheapkit.so); every function here is safe to call from
 * any thread and never allocates. */
#ifndef HEAPKIT_H
#define HEAPKIT_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The release, major.minor.patch. This line is where the version is written: the build reads it
 * from here for the libraries' names, the pkg-config and CMake files and the packages. */
#define HEAPKIT_VERSION "0.2.0"

/* The library's version, e.g. "0.2.0": the same as HEAPKIT_VERSION when the headers and the
 * library come from the same release. */
const char *hk_version(void);

/* Writes the allocator's statistics as text to fd. */
void hk_stats_print(int fd);

/* (Named _to_json: core/stats.h already uses hk_stats_json internally.)
 * Writes the statistics as one JSON object into buf (at most cap bytes, NUL-terminated when
 * cap > 0); returns the length the whole object has (compare with cap to detect truncation). */
size_t hk_stats_to_json(char *buf, size_t cap);

/* Collects the calling thread's heap: blocks other threads freed, empty pages. force also
 * returns every free page to the OS now. */
void hk_collect(bool force);

/* Returns free memory to the OS now (like malloc_trim(0)); true when some was released. */
bool hk_trim(void);

#ifdef __cplusplus
}
#endif

#endif
