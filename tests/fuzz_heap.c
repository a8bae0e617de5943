/* A libFuzzer target over every heapkit engine: the input is a program of allocation calls
 * (malloc, calloc, realloc, free, an aligned allocation, the usable size) on 64 slots. Every
 * block is filled with a pattern derived from its id and checked whole when it is freed or
 * moved (and its prefix after a realloc), calloc's zeroes are checked, alignments and usable
 * sizes are checked, and the engine's invariant checker runs after every call. Any mismatch
 * aborts, which libFuzzer reports with the input that caused it.
 *
 * Built once per engine (mk/harden.mk), the engine's objects linked in directly:
 *   FUZZ_ENGINE_FAST    hk_engine_* of src/fast, fast_check()
 *   FUZZ_ENGINE_BUDDY   hk_engine_* of src/buddy, buddy_check() over every arena
 *   FUZZ_ENGINE_LIST    the list heap's three fronts (os_*, allocate_memory, custom_malloc;
 *                       the input's first byte picks one), list_check()
 *   FUZZ_ENGINE_FAMILY  xcalloc/xfree over five families, family_check()
 * Run it for hours: see docs/hardening.md ("Fuzzing"). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS 64

typedef struct {
    const char *name;
    void *(*malloc)(size_t size);
    void *(*calloc)(size_t count, size_t size); /* NULL: not offered */
    void *(*realloc)(void *p, size_t size);     /* NULL: not offered; size > 0, p != NULL */
    void (*free)(void *p);
    void *(*aligned)(size_t alignment, size_t size); /* NULL: not offered; alignment > 16 */
    size_t (*usable)(void *p);                       /* NULL: not offered */
    bool (*check)(void);
    /* NULL, or a cheaper check of the memory around block p (the page or chunk holding it),
     * run after each call instead of check, which then runs every CHECK_EVERY calls. */
    bool (*check_near)(const void *p);
    size_t max_size;      /* the largest request worth making */
    size_t min_alignment; /* every block's alignment */
} fuzz_engine_t;

/* ---- The engines ------------------------------------------------------------------------- */

#if defined(FUZZ_ENGINE_FAST) || defined(FUZZ_ENGINE_BUDDY)
#include "core/engine.h"

static void *engine_malloc(size_t size)
{
    return hk_engine_malloc(size);
}
static void *engine_calloc(size_t count, size_t size)
{
    size_t total;
    if (__builtin_mul_overflow(count, size, &total)) return NULL;
    return hk_engine_calloc(total);
}
static void *engine_realloc(void *p, size_t size)
{
    return hk_engine_realloc(p, size, "realloc");
}
static void engine_free(void *p)
{
    hk_engine_free(p, "free");
}
static void *engine_aligned(size_t alignment, size_t size)
{
    return hk_engine_aligned(alignment, size);
}
static size_t engine_usable(void *p)
{
    return hk_engine_usable_size(p, "malloc_usable_size");
}
#endif

#if defined(FUZZ_ENGINE_FAST)
#include "fast/fast.h"

static const fuzz_engine_t engines[] = {{"fast", engine_malloc, engine_calloc, engine_realloc,
                                         engine_free, engine_aligned, engine_usable, fast_check,
                                         NULL, (size_t)1 << 20, 16}};

#elif defined(FUZZ_ENGINE_BUDDY)
#include "buddy/buddy.h"

/* Every arena that holds pages or chunks (one thread uses one arena: the others hold none). */
static bool buddy_check_all(void)
{
    for (unsigned i = 0; i < buddy_arena_count(); i++) {
        buddy_arena_t *arena = &buddy_arenas[i];
        if (__atomic_load_n(&arena->heap_pages, __ATOMIC_RELAXED) == 0 &&
            __atomic_load_n(&arena->chunk_count, __ATOMIC_RELAXED) == 0)
            continue;
        buddy_arena_lock(arena);
        const char *why = NULL;
        bool ok = buddy_check(arena, &why);
        buddy_arena_unlock(arena);
        if (!ok) {
            fprintf(stderr, "buddy_check: arena %u: %s\n", i, why);
            return false;
        }
    }
    return true;
}

/* The page or chunk holding p, as HEAPKIT_CHECK=1 walks it after each call. */
static bool buddy_check_near(const void *p)
{
    uint8_t entry = buddy_pagemap_get((const char *)p - BUDDY_HEADER_BYTES);
    buddy_arena_t *arena;
    if (buddy_page_kind(entry) == PAGE_SMALL_HEAP)
        arena = &buddy_arenas[buddy_page_arena(entry)];
    else if (buddy_page_kind(entry) == PAGE_SMALL_CHUNK)
        arena = buddy_chunk_of(p)->arena;
    else
        return true; /* a mapped block, or a page that went back to the pool */
    buddy_arena_lock(arena);
    const char *why = NULL;
    bool ok = buddy_check_around(arena, p, &why);
    buddy_arena_unlock(arena);
    if (!ok) fprintf(stderr, "buddy_check_around %p: %s\n", p, why);
    return ok;
}

static const fuzz_engine_t engines[] = {{"buddy", engine_malloc, engine_calloc, engine_realloc,
                                         engine_free, engine_aligned, engine_usable,
                                         buddy_check_all, buddy_check_near, (size_t)1 << 20, 16}};

#elif defined(FUZZ_ENGINE_LIST)
#include "front/list_fronts.h"
#include "memalloc.h"
#include "memory_allocation.h"
#include "osmem.h"

static bool check_heap(list_heap_t *heap)
{
    char why[256];
    if (list_check(heap, why, sizeof why)) return true;
    fprintf(stderr, "list_check: %s\n", why);
    return false;
}
static bool osmem_check(void)
{
    return check_heap(osmem_heap());
}
static bool chunks_check(void)
{
    return check_heap(chunks_heap());
}
static bool pool_check(void)
{
    return check_heap(pool_heap());
}

static const fuzz_engine_t engines[] = {
    {"osmem", os_malloc, os_calloc, os_realloc, os_free, NULL, NULL, osmem_check, NULL,
     (size_t)1 << 19, 8},
    {"chunks", allocate_memory, NULL, NULL, free_memory, NULL, NULL, chunks_check, NULL,
     (size_t)1 << 16, 8},
    {"pool", custom_malloc, NULL, NULL, custom_free, NULL, NULL, pool_check, NULL, (size_t)1 << 14,
     8},
};

#elif defined(FUZZ_ENGINE_FAMILY)
#include "UserAPI_MemoryManager.h"
#include "family/family.h"

/* Five families; a request of n bytes is as many units of the smallest family that fits. */
static const struct {
    const char *name;
    uint32_t size;
} families[] = {{"fuzz8", 8}, {"fuzz24", 24}, {"fuzz64", 64}, {"fuzz200", 200}, {"fuzz1000", 1000}};

static void family_setup(void)
{
    static bool done;
    if (done) return;
    done = true;
    mm_init();
    for (size_t i = 0; i < sizeof families / sizeof families[0]; i++)
        mm_instantiate_new_page_family((char *)families[i].name, families[i].size);
}

static void *family_malloc(size_t size)
{
    family_setup();
    size_t f = 0;
    while (f + 1 < sizeof families / sizeof families[0] && families[f].size < size)
        f++;
    size_t units = size ? (size + families[f].size - 1) / families[f].size : 1;
    return xcalloc((char *)families[f].name, (int)units);
}

static void family_xfree(void *p)
{
    xfree(p);
}

static const fuzz_engine_t engines[] = {
    {"family", family_malloc, NULL, NULL, family_xfree, NULL, NULL, family_check, NULL, 3000, 8}};

#else
#error "define one FUZZ_ENGINE_*"
#endif

#define ENGINE_COUNT (sizeof engines / sizeof engines[0])

/* ---- The driver ---------------------------------------------------------------------------- */

typedef struct {
    unsigned char *p;
    size_t size;
    uint32_t id;
} slot_t;

typedef struct {
    const uint8_t *data;
    size_t left;
} input_t;

static unsigned take(input_t *in, unsigned bytes)
{
    unsigned value = 0;
    for (unsigned i = 0; i < bytes && in->left; i++, in->left--)
        value = value << 8 | *in->data++;
    return value;
}

/* Mostly small sizes, some medium, a few large (and 0). */
static size_t take_size(input_t *in, size_t max)
{
    unsigned kind = take(in, 1), raw = take(in, 2);
    size_t size = kind < 160 ? raw % 260 : kind < 230 ? raw % 5000 : (size_t)raw * 24;
    return size % (max + 1);
}

/* The fill and the checks are the driver's bookkeeping, not paths to explore: kept out of
 * libFuzzer's coverage and comparison tracing (which would make megabyte blocks slow). */
#define NOT_EXPLORED __attribute__((no_sanitize("coverage")))

static inline unsigned char pattern(uint32_t id, size_t i)
{
    return (unsigned char)(id * 131u + i * 7u + (i >> 8));
}

NOT_EXPLORED static void fill(slot_t *s)
{
    for (size_t i = 0; i < s->size; i++)
        s->p[i] = pattern(s->id, i);
}

NOT_EXPLORED static void verify(const fuzz_engine_t *e, const slot_t *s, size_t upto,
                                const char *when)
{
    for (size_t i = 0; i < upto; i++)
        if (s->p[i] != pattern(s->id, i)) {
            fprintf(stderr, "%s: block %u (%zu bytes) changed at byte %zu %s\n", e->name, s->id,
                    s->size, i, when);
            abort();
        }
}

/* The engine's invariant checker after a call that touched near (or NULL): the full one, or
 * the one around near with the full one every CHECK_EVERY calls. */
#define CHECK_EVERY 32

NOT_EXPLORED static void verify_zero(const fuzz_engine_t *e, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != 0) {
            fprintf(stderr, "%s: calloc byte %zu not zero\n", e->name, i);
            abort();
        }
}

static void check_invariants(const fuzz_engine_t *e, const char *after, const void *near)
{
    static unsigned calls;
    bool ok =
        e->check_near && near && ++calls % CHECK_EVERY != 0 ? e->check_near(near) : e->check();
    if (!ok) {
        fprintf(stderr, "%s: invariants broken after %s\n", e->name, after);
        abort();
    }
}

static void placed(const fuzz_engine_t *e, slot_t *s, void *p, size_t size, size_t alignment,
                   uint32_t id)
{
    if (((uintptr_t)p & (alignment - 1)) != 0) {
        fprintf(stderr, "%s: %p is not aligned to %zu\n", e->name, p, alignment);
        abort();
    }
    if (e->usable && e->usable(p) < size) {
        fprintf(stderr, "%s: %p holds fewer than %zu bytes\n", e->name, p, size);
        abort();
    }
    s->p = p;
    s->size = size;
    s->id = id;
    fill(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* FUZZ_MAX_SIZE=n in the environment caps request sizes (to keep a long run to small blocks). */
static size_t size_cap = (size_t)-1;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    const char *cap = getenv("FUZZ_MAX_SIZE");
    if (cap) size_cap = strtoull(cap, NULL, 0);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    input_t in = {data, size};
    fuzz_engine_t engine = engines[ENGINE_COUNT > 1 ? take(&in, 1) % ENGINE_COUNT : 0];
    if (engine.max_size > size_cap) engine.max_size = size_cap;
    const fuzz_engine_t *e = &engine;
    slot_t slots[SLOTS];
    memset(slots, 0, sizeof slots);
    uint32_t next_id = 1;
    while (in.left) {
        unsigned op = take(&in, 1) % 7;
        slot_t *s = &slots[take(&in, 1) % SLOTS];
        const char *what = "?";
        const void *near = s->p; /* the block the call touches (before or after it) */
        switch (op) {
        case 0: /* malloc */
        case 1: /* calloc */
        case 4: /* aligned */ {
            if (s->p) {
                verify(e, s, s->size, "before free");
                e->free(s->p);
                s->p = NULL;
            }
            size_t n = take_size(&in, e->max_size), alignment = e->min_alignment;
            void *p;
            if (op == 1 && e->calloc) {
                what = "calloc";
                size_t count = take(&in, 1) % 8 + 1;
                p = e->calloc(count, n / count);
                n = count * (n / count);
                if (p) verify_zero(e, p, n);
            } else if (op == 4 && e->aligned) {
                what = "aligned";
                alignment = (size_t)32 << take(&in, 1) % 12; /* 32 B .. 64 KiB */
                p = e->aligned(alignment, n);
            } else {
                what = "malloc";
                p = e->malloc(n);
            }
            if (p) placed(e, s, p, n, alignment, next_id++);
            near = p;
            break;
        }
        case 2: /* realloc */ {
            if (!s->p || !e->realloc) break;
            what = "realloc";
            size_t n = take_size(&in, e->max_size);
            if (n == 0) n = 1;
            verify(e, s, s->size, "before realloc");
            unsigned char *q = e->realloc(s->p, n);
            if (!q) break;
            s->p = q;
            near = q;
            verify(e, s, s->size < n ? s->size : n, "after realloc");
            s->size = n;
            fill(s);
            break;
        }
        case 3: /* free */
            if (!s->p) break;
            what = "free";
            verify(e, s, s->size, "before free");
            e->free(s->p);
            s->p = NULL;
            break;
        case 5: /* usable size */
            if (!s->p || !e->usable) break;
            what = "usable size";
            if (e->usable(s->p) < s->size) abort();
            break;
        default: /* check every live block */
            what = "a walk";
            for (unsigned i = 0; i < SLOTS; i++)
                if (slots[i].p) verify(e, &slots[i], slots[i].size, "in a walk");
            break;
        }
        check_invariants(e, what, near);
    }
    for (unsigned i = 0; i < SLOTS; i++) {
        if (!slots[i].p) continue;
        verify(e, &slots[i], slots[i].size, "at the end");
        e->free(slots[i].p);
    }
    check_invariants(e, "the last free", NULL);
    return 0;
}
