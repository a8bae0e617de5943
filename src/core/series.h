/* Live and mapped bytes over time: a fixed ring of points that engines feed from their slow
 * paths and the dump writer turns into JSON (the report's curve). No allocation: the ring is
 * static; when it fills, every other point is dropped and from then on only every second note
 * is kept (then every fourth, ...), so a run of any length fits in HK_SERIES_POINTS points
 * spread evenly over it.
 *
 * The cadence rule for engines: call hk_series_note once per HK_SERIES_STEP_BYTES of memory
 * allocated and freed (a per-arena or per-heap byte counter checked where the engine already
 * takes a lock or leaves its fast path), and when memory is mapped or given back in steps of
 * that size or more; never on the fast path itself. A note costs a clock read and a trylock
 * (a note that finds the series busy is dropped); what the figures cost is the engine's. */
#ifndef HK_CORE_SERIES_H
#define HK_CORE_SERIES_H

#include <stddef.h>
#include <stdint.h>

#include "core/jsonout.h"

#define HK_SERIES_POINTS     1024 /* 24 KiB: enough for a curve, small in every process */
#define HK_SERIES_STEP_BYTES ((uint64_t)64 * 1024)

typedef struct {
    uint64_t ms;           /* milliseconds since the series' first point */
    uint64_t live_bytes;   /* bytes handed out to the program (headers included) */
    uint64_t mapped_bytes; /* bytes the engine holds from the kernel */
} hk_series_point_t;

/* Puts the series' lock in the fork registry (core/lock.h), so a child never inherits it
 * locked. An engine calls it once where it registers its own locks, after them and never
 * while holding one (registering waits for a fork in progress, which may wait for that lock). */
void hk_series_register_lock(void);

/* A point, subject to the decimation above; dropped when another thread is noting. Never
 * waits: engines call it holding their own locks. */
void hk_series_note(uint64_t live_bytes, uint64_t mapped_bytes);

/* A point whatever the decimation (waits for the lock): the last one at exit or at a dump. */
void hk_series_mark(uint64_t live_bytes, uint64_t mapped_bytes);

/* Copies up to cap points, oldest first; returns how many the series holds. */
size_t hk_series_points(hk_series_point_t *out, size_t cap);

/* Writes the series as a JSON array of [ms, live_bytes, mapped_bytes] arrays. */
void hk_series_write(hk_jsonout_t *out);

/* Forgets every point (tests). */
void hk_series_reset(void);

#endif
