/* The one sbrk heap (spec 003: the heap grows with sbrk(PAGESIZE) whenever memory runs out).
 * Arenas take pages from it one at a time under its lock; each page is the root of its own buddy
 * tree (buddy_heap.c), and the page map records which arena owns it, so a free from any thread
 * finds the owner. An arena that holds more than a few empty pages gives the next one back to
 * the heap's pool, where any arena takes it before the break moves again.
 *
 * The break is shared: the program, and libosmem in the same process, may move it too (all
 * through the C library's sbrk, which keeps the one cached break). So the heap never assumes it
 * owns the break: each step asks where the break is, starts at the next page boundary, and
 * moves it by one page; pages between ours that others took stay unknown to the page map. The
 * break never moves down (others may have memory above ours): pooled pages beyond a megabyte,
 * and all of them on malloc_trim, give their memory back with madvise instead. When the break
 * cannot grow (a mapping right above it, a data limit, valgrind's small brk segment), arenas
 * grow by mapped chunks from then on (buddy_chunks.c), as they do with HEAPKIT_BUDDY_CHUNKS=1. */
#include <string.h>

#include "buddy/buddy.h"
#include "core/checked.h"
#include "core/options.h"
#include "os/sys.h"

/* Pooled pages whose memory stays resident (1 MiB); one entering a fuller pool is decommitted. */
#define POOL_RESIDENT_PAGES_MAX 256
/* Set in a pooled page's entry when its memory went back to the kernel. */
#define POOL_DECOMMITTED ((uintptr_t)1)

uintptr_t buddy_sbrk_lo, buddy_sbrk_hi;

static hk_lock_t heap_lock = HK_LOCK_INIT; /* guards heap (lo and hi change under it too) */

static struct {
    uintptr_t *pool;        /* pooled pages, each address | POOL_DECOMMITTED when decommitted */
    size_t pool_count;      /* entries in pool (a stack: the most recently pooled on top) */
    size_t pool_capacity;   /* entries pool has room for (it is a mapping, grown by doubling) */
    uint64_t pages;         /* pages taken from the break */
    uint64_t pool_resident; /* pooled pages not decommitted */
} heap;

static bool brk_failed; /* set once, under heap_lock; read without it */

/* ---- The option ---------------------------------------------------------------------------- */

enum { OPTION_UNREAD, OPTION_OFF, OPTION_ON };
static int chunks_option = OPTION_UNREAD;

bool buddy_use_chunks(void)
{
    if (__atomic_load_n(&brk_failed, __ATOMIC_RELAXED)) return true;
    int option = __atomic_load_n(&chunks_option, __ATOMIC_RELAXED);
    if (hk_likely(option != OPTION_UNREAD)) return option == OPTION_ON;
    /* Before the C library has set up the environment, the default; read it later. */
    if (!hk_env_ready()) return false;
    option = hk_env_bool("HEAPKIT_BUDDY_CHUNKS", false) ? OPTION_ON : OPTION_OFF;
    __atomic_store_n(&chunks_option, option, __ATOMIC_RELAXED);
    return option == OPTION_ON;
}

void buddy_sbrk_register_lock(void)
{
    hk_lock_register(&heap_lock);
}

/* ---- The pool ------------------------------------------------------------------------------ */

/* Room for one more pooled page: the pool is a mapping of its own (never malloc), doubled when
 * full. Under heap_lock. */
static bool pool_reserve(void)
{
    if (heap.pool_count < heap.pool_capacity) return true;
    size_t bytes =
        heap.pool_capacity ? heap.pool_capacity * 2 * sizeof *heap.pool : sys_page_size();
    void *grown;
    if (sys_map(bytes, &grown) != 0) return false;
    if (heap.pool) {
        memcpy(grown, heap.pool, heap.pool_count * sizeof *heap.pool);
        sys_unmap(heap.pool, heap.pool_capacity * sizeof *heap.pool);
    }
    heap.pool = grown;
    heap.pool_capacity = bytes / sizeof *heap.pool;
    return true;
}

/* Under heap_lock, with room reserved. */
static void pool_push(char *page)
{
    uintptr_t entry = (uintptr_t)page;
    /* madvise works on whole kernel pages; with pages larger than ours, the memory stays. */
    if (heap.pool_resident >= POOL_RESIDENT_PAGES_MAX && sys_page_size() == BUDDY_PAGE_BYTES &&
        sys_decommit(page, BUDDY_PAGE_BYTES) == 0)
        entry |= POOL_DECOMMITTED;
    else
        heap.pool_resident++;
    heap.pool[heap.pool_count++] = entry;
}

static char *pool_pop(void)
{
    uintptr_t entry = heap.pool[--heap.pool_count];
    if (!(entry & POOL_DECOMMITTED)) heap.pool_resident--;
    return (char *)(entry & ~POOL_DECOMMITTED);
}

/* ---- Growth -------------------------------------------------------------------------------- */

static void give_up_on_brk(void)
{
    __atomic_store_n(&brk_failed, true, __ATOMIC_RELAXED);
}

/* Moves the break up by one kernel page, starting at the next page boundary at or above the
 * break (others may have left it anywhere). Returns the first of our pages there (any further
 * ones of a kernel page larger than ours go to the pool), or NULL when the break cannot move:
 * then never again. Under heap_lock. */
static char *heap_grow(void)
{
    size_t step = sys_page_size();
    void *now, *old;
    if (step % BUDDY_PAGE_BYTES != 0 || sys_brk(0, &now) != 0) {
        give_up_on_brk();
        return NULL;
    }
    size_t pad = (size_t)(-(uintptr_t)now & (step - 1));
    if (sys_brk((intptr_t)(pad + step), &old) != 0) {
        give_up_on_brk();
        return NULL;
    }
    /* Normally old == now; another thread outside heapkit may have moved the break in
     * between, so the aligned page is computed from what sbrk answered. */
    uintptr_t start = hk_align_up_small((uintptr_t)old, step);
    uintptr_t end = (uintptr_t)old + pad + step;
    uintptr_t hi = __atomic_load_n(&buddy_sbrk_hi, __ATOMIC_RELAXED);
    if (end < start + step || start < hi) {
        /* The break moved under us, or below our own pages: the break is not safe to use. */
        give_up_on_brk();
        return NULL;
    }
    if (!buddy_sbrk_lo) __atomic_store_n(&buddy_sbrk_lo, start, __ATOMIC_RELEASE);
    __atomic_store_n(&buddy_sbrk_hi, start + step, __ATOMIC_RELEASE);
    /* Atomic: the time series reads it without the lock. */
    __atomic_store_n(&heap.pages, heap.pages + step / BUDDY_PAGE_BYTES, __ATOMIC_RELAXED);
    for (uintptr_t extra = start + BUDDY_PAGE_BYTES; extra < start + step;
         extra += BUDDY_PAGE_BYTES)
        if (pool_reserve()) pool_push((char *)extra);
    return (char *)start;
}

/* ---- Pages for the arenas ------------------------------------------------------------------ */

char *buddy_sbrk_take_page(buddy_arena_t *arena)
{
    hk_lock(&heap_lock);
    char *page = heap.pool_count ? pool_pop() : NULL;
    if (!page && !__atomic_load_n(&brk_failed, __ATOMIC_RELAXED)) page = heap_grow();
    if (page && !buddy_pagemap_set(page, BUDDY_PAGE_BYTES, buddy_heap_page_entry(arena))) {
        if (pool_reserve()) pool_push(page);
        page = NULL;
    }
    hk_unlock(&heap_lock);
    return page;
}

bool buddy_sbrk_give_page(char *page)
{
    hk_lock(&heap_lock);
    bool pooled = pool_reserve();
    if (pooled) {
        /* A stale pointer into it is now "invalid" to free(). */
        buddy_pagemap_set(page, BUDDY_PAGE_BYTES, PAGE_NOT_OURS);
        pool_push(page);
    }
    hk_unlock(&heap_lock);
    return pooled;
}

bool buddy_sbrk_trim(void)
{
    bool released = false;
    hk_lock(&heap_lock);
    if (sys_page_size() == BUDDY_PAGE_BYTES) {
        for (size_t i = 0; i < heap.pool_count; i++) {
            if (heap.pool[i] & POOL_DECOMMITTED) continue;
            if (sys_decommit((void *)heap.pool[i], BUDDY_PAGE_BYTES) != 0) continue;
            heap.pool[i] |= POOL_DECOMMITTED;
            heap.pool_resident--;
            released = true;
        }
    }
    hk_unlock(&heap_lock);
    return released;
}

void buddy_sbrk_stats(buddy_sbrk_stats_t *out)
{
    hk_lock(&heap_lock);
    out->pages = heap.pages;
    out->pooled = heap.pool_count;
    out->pooled_resident = heap.pool_resident;
    out->brk_failed = __atomic_load_n(&brk_failed, __ATOMIC_RELAXED);
    hk_unlock(&heap_lock);
}

uint64_t buddy_sbrk_pages_relaxed(void)
{
    return __atomic_load_n(&heap.pages, __ATOMIC_RELAXED);
}

/* ---- For the heap walk ---------------------------------------------------------------------- */

void buddy_sbrk_lock(void)
{
    hk_lock(&heap_lock);
}

void buddy_sbrk_unlock(void)
{
    hk_unlock(&heap_lock);
}

bool buddy_sbrk_each_pooled(bool (*visit)(uintptr_t page, bool resident, void *arg), void *arg)
{
    for (size_t i = 0; i < heap.pool_count; i++) {
        uintptr_t entry = heap.pool[i];
        if (!visit(entry & ~POOL_DECOMMITTED, !(entry & POOL_DECOMMITTED), arg)) return false;
    }
    return true;
}
