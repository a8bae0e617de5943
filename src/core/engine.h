/* The contract between the malloc-family front end (override.c, override_cxx.c) and the engine
 * behind it. A malloc-replacement product links the front end with exactly one engine
 * (src/fast for libheapkit, src/buddy for libheapkit-buddy); the front end owns the C and POSIX
 * semantics (NULL/0 cases, overflow, alignment validation, errno), the engine owns memory.
 *
 * Engine rules:
 * - Every block is at least 16-byte aligned (x86-64 max_align_t), also for size 0 or 1.
 * - Functions that return NULL on failure leave errno to the front end (it sets ENOMEM); they
 *   must fail fast, without a system call, for sizes above PTRDIFF_MAX.
 * - hk_engine_free and hk_engine_usable_size preserve errno.
 * - Nothing here may call malloc, stdio or getenv; options come from core/options.h.
 * - Checked mode (HEAPKIT_CHECK=1) and always-on cheap checks report misuse with hk_fatal naming
 *   the call, e.g. "double free of 0x… in free()". The name of the calling function is passed
 *   where a check can fire. */
#ifndef HK_CORE_ENGINE_H
#define HK_CORE_ENGINE_H

#include <stdbool.h>
#include <stddef.h>

#include "heapkit.h"

struct mallinfo2;

/* A block of at least size bytes (size may be 0: a unique pointer). */
void *hk_engine_malloc(size_t size);

/* A zeroed block of size bytes (the front end has already multiplied and checked). */
void *hk_engine_calloc(size_t size);

/* Frees p; NULL does nothing (the engine tests for it where it costs least: the fast engine
 * lets NULL fall through to its slow path). who names the public function for error messages
 * ("free", "realloc", "operator delete"). */
void hk_engine_free(void *p, const char *who);

/* Resizes p (never NULL) to size (> 0), in place when it can; on failure returns NULL and p is
 * untouched. */
void *hk_engine_realloc(void *p, size_t size, const char *who);

/* A block of size bytes aligned to alignment (a power of two, larger than 16). */
void *hk_engine_aligned(size_t alignment, size_t size);

/* The bytes usable at p (never NULL): at least what was asked for. */
size_t hk_engine_usable_size(const void *p, const char *who);

/* Whether size may be the size p (never NULL) was asked with, for free_sized and the sized
 * operator delete, which check it in the hardened mode (core/harden.h). An engine that keeps
 * the size asked answers exactly; the front end's fallback (a weak definition, for engines
 * without one) answers whether size fits the usable size. Reports a pointer that is not a block
 * as free would. */
bool hk_engine_size_matches(const void *p, size_t size, const char *who);

/* Returns free memory to the OS now; true when some was released. */
bool hk_engine_trim(size_t pad);

/* Fills glibc's mallinfo2 figures as well as the engine can. */
void hk_engine_mallinfo(struct mallinfo2 *out);

/* Writes the engine's statistics (and the kernel layer's) to fd, as text or as one JSON
 * object. Never allocates. */
void hk_engine_stats_print(int fd, bool json);

/* Walks the engine's heap (core/walk.h: an hk_walker_t): every segment, page and block down to
 * max_level, parents before children, without allocating, under the engine's locks (the
 * visitor must not call the allocator). False when the visitor stopped it. The front end builds
 * HEAPKIT_MAP_FILE, the dump set (HEAPKIT_DUMP_DIR) and libheapkit's hk_visit_blocks and
 * hk_map_dump on it. */
bool hk_engine_walk(hk_block_visitor_t visitor, void *arg, int max_level);

/* The figures of the time series (core/series.h) now: bytes handed out and bytes held from the
 * kernel, as the engine's own notes give them, so a dump's last point continues its curve. */
void hk_engine_series_figures(uint64_t *live_bytes, uint64_t *held_bytes);

/* The engine's name for reports ("heapkit", "heapkit-buddy"). */
extern const char hk_engine_name[];

#endif
