/* Live and mapped bytes over time (see series.h). */
#include "core/series.h"

#include <time.h>

#include "core/lock.h"

static hk_lock_t series_lock = HK_LOCK_INIT; /* guards series */

static struct {
    hk_series_point_t points[HK_SERIES_POINTS]; /* oldest first */
    size_t count;                               /* points held */
    unsigned stride_shift;                      /* keep one note in 1 << stride_shift */
    uint64_t skipped;                           /* notes dropped since the last kept one */
    uint64_t start_ns;                          /* the clock at the first point */
    int started;                                /* start_ns is set */
} series; /* all zero: in .bss, so a program that never fills it keeps no page of it */

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Under series_lock. Halves a full ring (keeping the even points, the first among them) and
 * doubles the stride, so the points stay evenly spread over the whole run. */
static void series_append(uint64_t live_bytes, uint64_t mapped_bytes)
{
    uint64_t now = now_ns();
    if (!series.started) {
        series.started = 1;
        series.start_ns = now;
    }
    if (series.count == HK_SERIES_POINTS) {
        for (size_t i = 0; i < HK_SERIES_POINTS / 2; i++)
            series.points[i] = series.points[2 * i];
        series.count = HK_SERIES_POINTS / 2;
        series.stride_shift++;
    }
    series.points[series.count++] = (hk_series_point_t){
        .ms = (now - series.start_ns) / 1000000u,
        .live_bytes = live_bytes,
        .mapped_bytes = mapped_bytes,
    };
}

void hk_series_register_lock(void)
{
    hk_lock_register(&series_lock);
}

/* A forked child inherits the lock's state; registered, fork hands it over unlocked. Callers
 * hold no other lock, so they may register it here too. */
static void series_lock_enter(void)
{
    hk_lock_register(&series_lock);
    hk_lock(&series_lock);
}

void hk_series_note(uint64_t live_bytes, uint64_t mapped_bytes)
{
    /* Engines note while holding their own locks: never wait here, and never register here
     * (see hk_series_register_lock). */
    if (!hk_trylock(&series_lock)) return;
    if (++series.skipped >= (uint64_t)1 << series.stride_shift || !series.started) {
        series.skipped = 0;
        series_append(live_bytes, mapped_bytes);
    }
    hk_unlock(&series_lock);
}

void hk_series_mark(uint64_t live_bytes, uint64_t mapped_bytes)
{
    series_lock_enter();
    series_append(live_bytes, mapped_bytes);
    hk_unlock(&series_lock);
}

size_t hk_series_points(hk_series_point_t *out, size_t cap)
{
    series_lock_enter();
    size_t count = series.count;
    for (size_t i = 0; i < count && i < cap; i++)
        out[i] = series.points[i];
    hk_unlock(&series_lock);
    return count;
}

void hk_series_write(hk_jsonout_t *out)
{
    series_lock_enter();
    hk_jsonout_raw(out, "[", 1);
    for (size_t i = 0; i < series.count; i++) {
        const hk_series_point_t *p = &series.points[i];
        hk_jsonout_printf(out, "%s[%llu, %llu, %llu]", i ? ", " : "", (unsigned long long)p->ms,
                          (unsigned long long)p->live_bytes, (unsigned long long)p->mapped_bytes);
    }
    hk_jsonout_raw(out, "]", 1);
    hk_unlock(&series_lock);
}

void hk_series_reset(void)
{
    series_lock_enter();
    series.count = 0;
    series.stride_shift = 0;
    series.skipped = 0;
    series.started = 0;
    hk_unlock(&series_lock);
}
