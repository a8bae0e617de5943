/* Thread-local heaps: the state behind the fast paths, the slow paths of malloc and free, the
 * pool heaps come from, options, and what happens when a thread exits (its segments are
 * abandoned, for other threads to adopt). */
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "core/checked.h"
#include "core/fatal.h"
#include "core/harden.h"
#include "core/misuse.h"
#include "core/options.h"
#include "core/series.h"
#include "prof/prof.h"
#include "core/stats.h"
#include "fast/fast_internal.h"
#include "os/sys.h"

/* ---- Globals ------------------------------------------------------------------------------- */

/* A page with nothing on it, and a heap whose every direct entry points at it: a thread
 * without a heap of its own uses this, so the malloc fast path needs no initialisation test. */
page_t fast_empty_page;
heap_t fast_empty_heap = {.direct = {[0 ... DIRECT_COUNT - 1] = &fast_empty_page},
                          .free_key = REGISTRY_NEVER};
__thread fast_thread_t fast_tls = {.heap = &fast_empty_heap, .free_key = REGISTRY_NEVER};

uint64_t fast_global_stats[FAST_GLOBAL_STAT_COUNT];
fast_options_t fast_options = {.check = false,
                               .verbose = false,
                               .harden = HK_HARDEN_ALWAYS,
                               .slow_only = HK_HARDEN_ALWAYS,
                               .purge_delay_ms = 10,
                               .huge_decay_ms = 1000};

/* Heaps are never unmapped (a remote free may still touch an old owner's counters); exited
 * threads' heaps are reused. */
#define HEAPS_PER_CHUNK 8
static hk_lock_t heap_pool_lock = HK_LOCK_INIT;
static heap_t *heap_pool; /* free heaps */
static heap_t *heap_all;  /* every heap made */
static uint32_t heap_count; /* heaps made: the next heap's slot */
static pthread_key_t heap_key;
static bool heap_key_ready;
static bool locks_registered;

uint32_t fast_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint32_t)((uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u);
}

/* ---- Options ------------------------------------------------------------------------------- */

/* The options are read into a copy, then published once under a lock: threads making their
 * first heaps at the same time would otherwise write fast_options together (ThreadSanitizer
 * reports it). Nothing that reading them may call (the profiler's start) runs under the lock,
 * so a malloc it makes, which comes back here, cannot deadlock. */
void fast_options_init(void)
{
    static bool done;
    static hk_lock_t options_lock = HK_LOCK_INIT;
    if (__atomic_load_n(&done, __ATOMIC_ACQUIRE) || !hk_env_ready()) return;
    fast_options_t read = {0};
    read.check = hk_env_bool("HEAPKIT_CHECK", false);
    read.verbose = hk_env_bool("HEAPKIT_VERBOSE", false);
    long delay = hk_env_long("HEAPKIT_PURGE_DELAY_MS", 10);
    read.purge_delay_ms = delay < 0 ? 0 : delay > 3600000 ? 3600000 : (uint32_t)delay;
    read.profile = hk_prof_on();
    read.harden = hk_harden();
    read.slow_only = read.profile || read.harden;
    long decay = hk_env_long("HEAPKIT_HUGE_DECAY_MS", 1000);
    read.huge_decay_ms = decay < 0 ? 0 : decay > 3600000 ? 3600000 : (uint32_t)decay;
    hk_lock(&options_lock);
    bool first = !__atomic_load_n(&done, __ATOMIC_RELAXED);
    if (first) {
        fast_options = read;
        __atomic_store_n(&done, true, __ATOMIC_RELEASE);
    }
    hk_unlock(&options_lock);
    if (first && read.verbose)
        hk_warn("fast engine: check=%d profile=%d harden=%d purge_delay_ms=%u huge_decay_ms=%u",
                (int)read.check, (int)read.profile, (int)read.harden,
                (unsigned)read.purge_delay_ms, (unsigned)read.huge_decay_ms);
}

/* ---- Heap life cycle ----------------------------------------------------------------------- */

static void heap_thread_exit(void *arg);
static void heap_tick(heap_t *heap);

static heap_t *heap_pool_take(void)
{
    /* Heaps come from chunks mapped HEAPS_PER_CHUNK at a time and handed out in order, so a
     * process touches only the memory of the heaps it uses (one, for most programs). */
    static heap_t *fresh;       /* the chunk being handed out */
    static size_t fresh_used;   /* heaps of it handed out so far */
    hk_lock(&heap_pool_lock);
    heap_t *heap = heap_pool;
    if (heap) {
        heap_pool = heap->pool_next;
    } else {
        if (!fresh || fresh_used == HEAPS_PER_CHUNK) {
            void *chunk;
            size_t bytes = hk_align_up_small(HEAPS_PER_CHUNK * sizeof(heap_t), sys_page_size());
            if (sys_map(bytes, &chunk) != 0) {
                hk_unlock(&heap_pool_lock);
                return NULL;
            }
            fresh = chunk;
            fresh_used = 0;
        }
        heap = &fresh[fresh_used++];
        heap->slot = heap_count++;
        heap->all_next = heap_all;
        heap_all = heap;
    }
    if (!heap_key_ready) heap_key_ready = pthread_key_create(&heap_key, heap_thread_exit) == 0;
    hk_unlock(&heap_pool_lock);
    return heap;
}

/* Resets a heap for a new thread; its statistics keep counting. */
static void heap_reset(heap_t *heap)
{
    /* Only the classes it used since the last reset (a short-lived thread uses a few). */
    if (!heap->direct_ready || fast_options.slow_only) {
        for (size_t i = 0; i < DIRECT_COUNT; i++)
            heap->direct[i] = &fast_empty_page;
        heap->direct_ready = 1;
    }
    for (unsigned c = heap_used_class_after(heap, 0); c < CLASS_COUNT;
         c = heap_used_class_after(heap, c)) {
        fast_heap_set_direct(heap, c, &fast_empty_page);
        heap->avail[c].head = heap->avail[c].tail = NULL;
        heap->full[c].head = heap->full[c].tail = NULL;
    }
    heap->classes_used[0] = heap->classes_used[1] = 0;
    heap->classes_allocated[0] = heap->classes_allocated[1] = 0;
    memset(heap->remote, 0, sizeof heap->remote);
    memset(heap->seg_avail, 0, sizeof heap->seg_avail);
    memset(heap->seg_full, 0, sizeof heap->seg_full);
    memset(heap->empty_segments, 0, sizeof heap->empty_segments);
    heap->tag = (uintptr_t)heap | (fast_options.check ? OWNER_CHECK_TAG : 0);
    heap->registry_value = fast_registry_value_for(heap, SEGMENT_SMALL);
    /* Checked mode, and heaps without a registry value of their own, free through the slow
     * path: no registry entry equals REGISTRY_NEVER. */
    heap->free_key = fast_options.check || fast_options.slow_only ||
                             heap->registry_value == REGISTRY_LOOSE
                         ? (uint16_t)REGISTRY_NEVER
                         : heap->registry_value;
    heap->now_ms = fast_now_ms();
    heap->next_purge_ms = heap->now_ms;
    heap->dirty_pages = 0;
    heap->dirty_bytes = 0;
    heap->idle_current[0] = heap->idle_current[1] = 0;
    heap->next_idle_check_ms = heap->now_ms + fast_options.purge_delay_ms;
}

static void heap_register_locks(void)
{
    if (!__atomic_exchange_n(&locks_registered, true, __ATOMIC_ACQ_REL)) {
        hk_lock_register(&heap_pool_lock);
        fast_segment_register_locks();
        fast_huge_register_locks();
        hk_series_register_lock(); /* after ours, holding none */
    }
}

heap_t *fast_heap_get(void)
{
    heap_t *heap = fast_tls.heap;
    if (heap != &fast_empty_heap) return heap;
    fast_options_init();
    heap = heap_pool_take();
    if (!heap) return NULL;
    heap_reset(heap);
    heap->in_use = 1;
    fast_tls.heap = heap;
    fast_tls.free_key = heap->free_key;
    fast_heap_drain_delayed(heap); /* late hand-overs to this heap's previous thread */
    hk_stat_add(&fast_global_stats[STAT_heaps_created], 1);
    /* Both calls below may allocate (pthread_atfork's list, keys past the first 32); the heap
     * is in place by now, so that allocation simply uses it. */
    if (heap_key_ready) pthread_setspecific(heap_key, heap);
    heap_register_locks();
    return heap;
}

/* A heap of the program's own (hk_heap_new): no thread's, used by one thread at a time. */
heap_t *fast_heap_create(void)
{
    fast_options_init();
    heap_t *heap = heap_pool_take();
    if (!heap) return NULL;
    heap_reset(heap);
    heap->in_use = 1;
    heap->user = 1;
    heap->huge_owned.next = heap->huge_owned.prev = &heap->huge_owned;
    (void)__atomic_exchange_n(&heap->delayed, NULL, __ATOMIC_ACQUIRE); /* a pooled heap's */
    hk_stat_add(&fast_global_stats[STAT_heaps_created], 1);
    heap_register_locks();
    return heap;
}

/* ---- Page queues ---------------------------------------------------------------------------- */

/* The available queue's head is the page the fast path allocates from: every change of head
 * updates the direct table. */
static void avail_changed(heap_t *heap, unsigned size_class)
{
    page_t *head = heap->avail[size_class].head;
    fast_heap_set_direct(heap, size_class, head ? head : &fast_empty_page);
}

static void avail_push_back(heap_t *heap, page_t *page)
{
    page_queue_t *q = &heap->avail[page->size_class];
    heap_class_used(heap, page->size_class);
    fast_queue_push_back(q, page);
    if (q->head == page) avail_changed(heap, page->size_class);
}

static void avail_remove(heap_t *heap, page_t *page)
{
    page_queue_t *q = &heap->avail[page->size_class];
    bool was_head = q->head == page;
    fast_queue_remove(q, page);
    if (was_head) avail_changed(heap, page->size_class);
}

/* page has no free block at all (so used == reserved): it waits in the full queue until a
 * local free or another thread's free (through `delayed`) gives it room. False, and the page is
 * not queued, when other threads freed into it meanwhile: the caller collects their blocks. */
static bool full_push(heap_t *heap, page_t *page)
{
    if (!fast_page_mark_full(page)) return false;
    page->in_full = 1;
    page->used = FULL_PAGE_USED;
    heap_class_used(heap, page->size_class);
    fast_queue_push_back(&heap->full[page->size_class], page);
    return true;
}

/* Takes a page off the full queue with its true count (blocks freed since are not in it). */
static void full_remove(heap_t *heap, page_t *page)
{
    page->in_full = 0;
    page->used = page->reserved;
    fast_queue_remove(&heap->full[page->size_class], page);
    fast_page_unmark_full(page);
}

static void page_retire(heap_t *heap, page_t *page)
{
    fast_segment_page_free(heap, segment_of(page), page);
}

/* An adopted segment's page joins this heap's queues (after collecting its remote frees). */
void fast_heap_adopt_page(heap_t *heap, page_t *page)
{
    if (page->in_full) page->used = page->reserved; /* its queue was the dead heap's */
    page->in_full = 0;
    page->next = page->prev = NULL;
    for (;;) {
        fast_page_collect_thread_free(page);
        if (page->used == 0) {
            page_retire(heap, page);
        } else if (page->free || page->local_free || page->capacity < page->reserved) {
            avail_push_back(heap, page);
        } else if (!full_push(heap, page)) {
            continue; /* other threads freed into it meanwhile */
        }
        return;
    }
}

/* A local free brought a page's `used` to zero: the page is empty, or it is in the full queue
 * (FULL_PAGE_USED) and this was the first free into it. The current page of a class this heap
 * allocates from stays, so a loop of malloc/free does not bounce pages in and out; a page that
 * is current only because it was adopted (a thread that frees what dead threads left and never
 * allocates that size) is retired like any other, or it would pin its segment. */
void fast_page_emptied(heap_t *heap, page_t *page)
{
    if (page->in_full) { /* not empty: the first local free into a full page */
        full_remove(heap, page);
        page->used--;
        avail_push_back(heap, page);
        return;
    }
    unsigned c = page->size_class;
    if (heap->avail[c].head == page && (heap->classes_allocated[c / 64] >> (c % 64) & 1)) return;
    avail_remove(heap, page);
    unsigned kind = segment_of(page)->kind;
    page_retire(heap, page);
    fast_segment_release_extra(heap, kind);
    /* A thread that frees much and allocates little would otherwise purge only when its
     * malloc next takes the slow path. */
    heap_tick(heap);
}

/* ---- Malloc slow path ----------------------------------------------------------------------- */

/* A class's current page stays when it empties, so a malloc/free loop does not bounce it in and
 * out of its segment; but one found empty at two idle checks in a row (a purge delay apart) is
 * retired like any empty page, so a program done with a size class does not keep a page of it
 * committed. */
static void heap_retire_idle_current_pages(heap_t *heap)
{
    for (unsigned c = heap_used_class_after(heap, 0); c < CLASS_COUNT;
         c = heap_used_class_after(heap, c)) {
        page_t *page = heap->avail[c].head;
        uint64_t bit = (uint64_t)1 << (c % 64);
        uint64_t *idle = &heap->idle_current[c / 64];
        if (!page || page->used != 0) {
            *idle &= ~bit;
        } else if (*idle & bit) {
            *idle &= ~bit;
            avail_remove(heap, page);
            page_retire(heap, page);
        } else {
            *idle |= bit;
        }
    }
}

/* A point of the live/mapped curve (core/series.h) whenever the live bytes moved by a step since
 * this heap's last point. */
/* The curve's figures: live, the bytes of pages serving a class (the fast paths count no
 * blocks) and of huge blocks; held, those plus the free huge memory still committed: what the
 * engine holds of the kernel's memory (huge regions' untouched address space is not). */
void hk_engine_series_figures(uint64_t *live_bytes, uint64_t *held_bytes)
{
    *live_bytes = __atomic_load_n(&fast_global_stats[STAT_page_bytes_in_use], __ATOMIC_RELAXED) +
                  __atomic_load_n(&fast_global_stats[STAT_huge_bytes_in_use], __ATOMIC_RELAXED);
    *held_bytes = *live_bytes + fast_huge_free_committed_bytes();
}

void fast_series_note(heap_t *heap)
{
    uint64_t live, held;
    hk_engine_series_figures(&live, &held);
    uint64_t moved = live > heap->series_live ? live - heap->series_live : heap->series_live - live;
    if (moved < HK_SERIES_STEP_BYTES) return;
    heap->series_live = live;
    hk_series_note(live, held);
}

static void heap_tick(heap_t *heap)
{
    heap->now_ms = fast_now_ms();
    fast_series_note(heap);
    fast_huge_tick(heap->now_ms);
    fast_segment_cache_tick(heap->now_ms);
    if ((int32_t)(heap->now_ms - heap->next_idle_check_ms) >= 0) {
        heap_retire_idle_current_pages(heap);
        heap->next_idle_check_ms = heap->now_ms + (fast_options.purge_delay_ms ? fast_options.purge_delay_ms : 1);
    }
    if (heap->dirty_bytes > DIRTY_BYTES_MAX) {
        /* Too much freed memory waits for its delay: a program releasing a large working set
         * gives it back now, not at its next slow-path call (which may never come). */
        fast_segment_purge_pages(heap);
        return;
    }
    if (heap->dirty_pages && (int32_t)(heap->now_ms - heap->next_purge_ms) >= 0) {
        fast_segment_purge(heap, false);
        uint32_t step = fast_options.purge_delay_ms / 2;
        heap->next_purge_ms = heap->now_ms + (step ? step : 1);
    }
}

/* Abandoned segments a heap adopts at most while looking for a page of a class, before it
 * carves a new page: enough to find dead threads' partly used pages, bounded so one malloc does
 * not take over every abandoned segment. */
#define ADOPT_PER_PAGE_SEARCH 4

/* The first page of the class whose freed blocks can refill its free list, made the head:
 * blocks in memory already touched go out before a page carves fresh space (which would touch
 * new memory while freed blocks wait). Pages with neither freed blocks nor room go to the full
 * queue on the way. */
static page_t *heap_page_with_freed_blocks(heap_t *heap, unsigned size_class)
{
    page_queue_t *q = &heap->avail[size_class];
    page_t *next;
    for (page_t *page = q->head; page; page = next) {
        next = page->next;
        if (page->free || fast_page_reuse(page)) {
            if (page != q->head) {
                fast_queue_remove(q, page);
                fast_queue_push_front(q, page);
                avail_changed(heap, size_class);
            }
            return page;
        }
        if (page->capacity == page->reserved) {
            avail_remove(heap, page);
            if (!full_push(heap, page)) avail_push_back(heap, page); /* blocks arrived: later */
        }
    }
    return NULL;
}

/* Abandoned segments a heap adopts at most while looking for a page of a class. */
#define ADOPT_PER_PAGE_SEARCH 4

/* A page of the class with a free block, made the head of its queue. Freed blocks first: the
 * heap's own pages', then those other threads handed back for its full pages, then a dead
 * thread's partly used pages (adopting its segment); fresh space only after that. */
static page_t *heap_find_page(heap_t *heap, unsigned size_class)
{
    page_queue_t *q = &heap->avail[size_class];
    unsigned kind =
        class_block_size(size_class) <= SMALL_BLOCK_MAX ? SEGMENT_SMALL : SEGMENT_MEDIUM;
    heap->classes_allocated[size_class / 64] |= (uint64_t)1 << (size_class % 64);
    page_t *page = heap_page_with_freed_blocks(heap, size_class);
    if (page) return page;
    if (__atomic_load_n(&heap->delayed, __ATOMIC_RELAXED)) {
        fast_heap_drain_delayed(heap); /* may bring full pages of the class back */
        if ((page = heap_page_with_freed_blocks(heap, size_class)) != NULL) return page;
    }
    /* A heap without a segment of its own with room takes a dead thread's before a new one
     * (its partly used pages first); one that has room carves there rather than gathering
     * more segments, which short-lived threads would only abandon again. */
    for (int adopted = 0; adopted < ADOPT_PER_PAGE_SEARCH && !heap->seg_avail[kind] &&
                          fast_segment_adopt(heap, kind);
         adopted++)
        if ((page = heap_page_with_freed_blocks(heap, size_class)) != NULL) return page;
    /* Only then fresh space: the head page's, if it has room left, or a new page. */
    if ((page = q->head) != NULL && fast_page_refill(page)) return page;
    page = fast_segment_page_alloc(heap, kind);
    if (!page) return NULL;
    fast_page_init(segment_of(page), page, size_class);
    heap->stats[STAT_pages_started]++;
    fast_page_refill(page);
    heap_class_used(heap, size_class);
    fast_queue_push_front(q, page);
    avail_changed(heap, size_class);
    return page;
}

void *fast_malloc_class(heap_t *heap, unsigned size_class, bool zero)
{
    heap->stats[STAT_malloc_slow]++;
    heap_tick(heap);
    fast_heap_flush_remote(heap);
    page_t *page = heap_find_page(heap, size_class);
    if (hk_unlikely(!page)) return NULL;
    return page_pop(page, zero ? page->block_size : 0);
}

static HK_NOINLINE void *malloc_generic(size_t size, heap_t *heap, bool zero);

void *fast_malloc_generic(size_t size, heap_t *heap, bool zero)
{
    if (hk_likely(size <= DIRECT_MAX)) {
        /* Most misses: the current page's `free` ran dry while the owner's frees piled up on
         * `local_free`. Swap them here, before any of the slow path's work. (Never taken with
         * the heap profiler on: its direct tables point at the empty page.) */
        page_t *page = heap->direct[size];
        block_t *local = page->local_free;
        if (hk_likely(local != NULL)) {
            page->free = local;
            page->local_free = NULL;
            page->free_is_zero = 0;
            return page_pop(page, zero ? page->block_size : 0);
        }
    }
    void *p = malloc_generic(size, heap, zero);
    /* (The hardened mode's allocations tell the profiler themselves.) */
    if (hk_unlikely(fast_options.profile) && p && !fast_options.harden) fast_prof_allocated(p, size);
    return p;
}

/* A page of the class with a block on its free list, the class's current page when it has one
 * (the hardened mode pops its blocks itself, checking each). NULL when memory ran out. */
page_t *fast_heap_page_for(heap_t *heap, unsigned size_class)
{
    page_t *page = heap->avail[size_class].head;
    if (page != NULL && page->free == NULL && page->local_free != NULL) {
        page->free = page->local_free;
        page->local_free = NULL;
        page->free_is_zero = 0;
    }
    if (hk_likely(page != NULL && page->free != NULL)) return page;
    heap->stats[STAT_malloc_slow]++;
    heap_tick(heap);
    fast_heap_flush_remote(heap);
    return heap_find_page(heap, size_class);
}

static void *malloc_generic(size_t size, heap_t *heap, bool zero)
{
    if (hk_unlikely(heap == &fast_empty_heap)) {
        heap = fast_heap_get(); /* reads the options the first time */
        if (!heap) return NULL;
    }
    /* (The hardened mode's direct tables are empty: nothing to swap above.) */
    if (hk_unlikely(fast_options.harden)) return fast_hardened_malloc(heap, size, 0, zero);
    if (size > MEDIUM_BLOCK_MAX) return fast_huge_malloc(size, 0, zero);
    unsigned size_class = size_class_of(size);
    /* The class's current page, refilled from its local frees if need be, still without the
     * slow path's work (sizes above DIRECT_MAX come here every time). */
    page_t *page = heap->avail[size_class].head;
    if (page != NULL && page->free == NULL && page->local_free != NULL) {
        page->free = page->local_free;
        page->local_free = NULL;
        page->free_is_zero = 0;
    }
    if (hk_likely(page != NULL && page->free != NULL))
        return page_pop(page, zero ? page->block_size : 0);
    return fast_malloc_class(heap, size_class, zero);
}

/* ---- Free slow path ------------------------------------------------------------------------- */

static HK_NORETURN HK_COLD void invalid_pointer(const void *p, const char *who)
{
    hk_fatal("invalid pointer %p in %s()", p, who);
}

/* ---- Frees of other heaps' blocks ----------------------------------------------------------- */

/* Hands a chain of blocks of one page (head ... tail, linked through next) to the page's owner
 * with one atomic operation: onto the page's thread_free, or, when the page waits in its
 * owner's full queue (THREAD_FREE_NOTIFY), onto the owner heap's `delayed` list, which the
 * owner drains in its slow path. The page and its segment stay valid until the blocks are
 * handed over (they count as used), not after: nothing of the page is read once they are. */
static void remote_hand_over(segment_t *segment, page_t *page, block_t *head, block_t *tail)
{
    uintptr_t old = __atomic_load_n(&page->thread_free, __ATOMIC_RELAXED);
    for (;;) {
        if (old & THREAD_FREE_NOTIFY) {
            if (!__atomic_compare_exchange_n(&page->thread_free, &old, old & ~THREAD_FREE_NOTIFY,
                                             true, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
                continue;
            heap_t *owner =
                (heap_t *)(__atomic_load_n(&segment->owner, __ATOMIC_ACQUIRE) & ~OWNER_CHECK_TAG);
            if (owner) {
                block_t *first = __atomic_load_n(&owner->delayed, __ATOMIC_RELAXED);
                do {
                    tail->next = first;
                } while (!__atomic_compare_exchange_n(&owner->delayed, &first, head, true,
                                                      __ATOMIC_RELEASE, __ATOMIC_RELAXED));
                return;
            }
            old &= ~THREAD_FREE_NOTIFY; /* abandoned meanwhile: onto the page after all */
        }
        tail->next = (block_t *)old;
        if (__atomic_compare_exchange_n(&page->thread_free, &old, (uintptr_t)head, true,
                                        __ATOMIC_RELEASE, __ATOMIC_RELAXED))
            return;
    }
}

static void batch_flush(heap_t *heap, struct remote_batch *batch)
{
    segment_t *segment = segment_of(batch->page);
    batch->page = NULL;
    if (__atomic_load_n(&segment->owner, __ATOMIC_ACQUIRE) == heap->tag) {
        /* This heap adopted the segment since: its own frees now, not another's to collect. */
        block_t *block = batch->head;
        while (block) {
            block_t *next = block->next;
            page_t *page = page_of(segment, block);
            block->next = page->local_free;
            page->local_free = block;
            if (--page->used == 0) fast_page_emptied(heap, page);
            block = next;
        }
        return;
    }
    remote_hand_over(segment, page_of(segment, batch->head), batch->head, batch->tail);
    heap->stats[STAT_remote_batches]++;
}

/* Hands over every batched remote free (slow paths, collection, thread exit). */
void fast_heap_flush_remote(heap_t *heap)
{
    for (unsigned i = 0; i < REMOTE_BATCH_SLOTS; i++)
        if (heap->remote[i].page) batch_flush(heap, &heap->remote[i]);
}

/* A free by a thread that does not own the page. Frees into the same page are batched (a
 * consumer freeing a producer's blocks frees runs of them), so most remote frees cost no atomic
 * operation at all; a batch is handed over when it is full, when another page needs its slot,
 * and whenever this thread takes a slow path, collects or exits, so at most
 * REMOTE_BATCH_SLOTS * REMOTE_BATCH_MAX blocks wait. Threads without a heap, and checked mode
 * (whose double-free check must see every free block), hand each block over at once. */
static void free_remote(heap_t *heap, segment_t *segment, page_t *page, block_t *block)
{
    heap_t *owner =
        (heap_t *)(__atomic_load_n(&segment->owner, __ATOMIC_ACQUIRE) & ~OWNER_CHECK_TAG);
    /* A program's own heap may be reset or destroyed right after this free returns: its blocks
     * are never kept in a batch. */
    if (heap == &fast_empty_heap || fast_options.check || (owner && owner->user)) {
        remote_hand_over(segment, page, block, block);
        if (heap == &fast_empty_heap)
            hk_stat_add(&fast_global_stats[STAT_heapless_frees], 1);
        else
            heap->stats[STAT_remote_frees]++;
        return;
    }
    heap->stats[STAT_remote_frees]++;
    struct remote_batch *batch = &heap->remote[((uintptr_t)page / sizeof(page_t)) % REMOTE_BATCH_SLOTS];
    if (batch->page == page) {
        block->next = batch->head;
        batch->head = block;
        if (++batch->count == REMOTE_BATCH_MAX) batch_flush(heap, batch);
        return;
    }
    if (batch->page) batch_flush(heap, batch);
    block->next = NULL;
    batch->page = page;
    batch->head = batch->tail = block;
    batch->count = 1;
}

/* Frees the blocks other threads handed over for this heap's full pages. A block whose segment
 * this heap no longer owns (the heap was reused by a new thread) takes the ordinary free path. */
void fast_heap_drain_delayed(heap_t *heap)
{
    if (!__atomic_load_n(&heap->delayed, __ATOMIC_RELAXED)) return;
    block_t *list = __atomic_exchange_n(&heap->delayed, NULL, __ATOMIC_ACQUIRE);
    while (list) {
        block_t *block = list;
        list = list->next;
        segment_t *segment = segment_of(block);
        /* (A pooled heap's list is drained by another thread, for which these are not local.) */
        bool running_here = heap == fast_tls.heap || heap->user;
        if (!running_here || __atomic_load_n(&segment->owner, __ATOMIC_ACQUIRE) != heap->tag) {
            fast_free_plain(block, "free"); /* (freed by the program already) */
            continue;
        }
        heap->stats[STAT_delayed_frees]++;
        page_t *page = page_of(segment, block);
        block->next = page->local_free;
        page->local_free = block;
        if (--page->used == 0) fast_page_emptied(heap, page);
    }
}

void fast_free_generic(void *p, const char *who)
{
    if (p == NULL) return;
    if (hk_unlikely(fast_options.harden)) {
        fast_hardened_free(p, who);
        return;
    }
    fast_free_plain(p, who);
}

/* The free slow path (and the hardened mode's real free, once a block leaves the quarantine). */
void fast_free_plain(void *p, const char *who)
{
    heap_t *heap = fast_tls.heap;
    segment_t *segment = fast_segment_resolve(p);
    if (hk_unlikely(!segment)) invalid_pointer(p, who);
    if (hk_unlikely(fast_options.profile)) fast_prof_freeing(segment, p);
    if (segment->kind == SEGMENT_HUGE) {
        fast_huge_free(segment, p, who);
        return;
    }
    page_t *page = page_of(segment, p);
    if (hk_unlikely(page->size_class == 0)) invalid_pointer(p, who);
    if (fast_options.check) {
        uint8_t *area = page_area(segment, page);
        size_t offset = (size_t)((uint8_t *)p - area);
        if ((uint8_t *)p < area || offset % page->block_size != 0 ||
            offset / page->block_size >= page->capacity)
            invalid_pointer(p, who);
    }
    if (heap != &fast_empty_heap) heap->stats[STAT_free_slow]++;
    fast_free_in_page(heap, segment, page, p, who);
}

/* The rest of a free once the block is known to start a block of page, in segment (the
 * hardened mode's quarantine calls it directly: it found and checked the block when the program
 * freed it). */
void fast_free_in_page(heap_t *heap, segment_t *segment, page_t *page, void *p, const char *who)
{
    block_vg_freed(p);
    uintptr_t owner = __atomic_load_n(&segment->owner, __ATOMIC_ACQUIRE);
    if (owner == 0 && heap != &fast_empty_heap && fast_segment_adopt_this(heap, segment)) {
        owner = heap->tag;
        if (page->size_class == 0) invalid_pointer(p, who); /* its page was empty: a double free */
    }
    if (heap == &fast_empty_heap || owner != heap->tag) {
        free_remote(heap, segment, page, (block_t *)p);
        return;
    }
    if (fast_options.check && fast_block_is_free(page, p))
        hk_fatal("double free of %p in %s()", p, who);
    block_t *block = (block_t *)p;
    block->next = page->local_free;
    page->local_free = block;
    if (--page->used == 0) fast_page_emptied(heap, page); /* emptied, or was full */
}

/* ---- Validation ------------------------------------------------------------------------------ */

/* One free list of a page: every block inside the page on a block boundary, none twice (in
 * this list or an earlier one of the page: seen). */
static void validate_list(const page_t *page, const block_t *list, uint64_t *seen,
                          const char *who)
{
    const uint8_t *area = page_area(segment_of(page), page);
    size_t bytes = (size_t)page->capacity * page->block_size;
    for (const block_t *b = list; b; b = b->next) {
        size_t offset = (size_t)((const uint8_t *)b - area);
        if ((const uint8_t *)b < area || offset >= bytes)
            hk_misuse(HK_MISUSE_CORRUPT_FREE_LIST, b, who);
        if (offset % page->block_size)
            hk_misuse_detail(HK_MISUSE_INVALID_POINTER, b, who,
                             "freed earlier: not the start of a block");
        size_t index = offset / page->block_size;
        if (seen[index / 64] >> (index % 64) & 1)
            hk_misuse_detail(HK_MISUSE_DOUBLE_FREE, b, who, "found twice in the free lists");
        seen[index / 64] |= (uint64_t)1 << (index % 64);
    }
}

void fast_heap_validate(heap_t *heap, const char *who)
{
    uint64_t seen[((size_t)1 << SMALL_PAGE_SHIFT) / 16 / 64]; /* a bit per block of a page */
    for (unsigned c = heap_used_class_after(heap, 0); c < CLASS_COUNT;
         c = heap_used_class_after(heap, c))
        for (int queue = 0; queue < 2; queue++)
            for (page_t *page = queue ? heap->full[c].head : heap->avail[c].head; page;
                 page = page->next) {
                memset(seen, 0, ((size_t)page->capacity + 63) / 64 * sizeof seen[0]);
                validate_list(page, page->free, seen, who);
                validate_list(page, page->local_free, seen, who);
            }
}

/* ---- Collection and thread exit ------------------------------------------------------------- */

/* Collects every remote free, retires every empty page (force: the current ones too), then
 * purges (force: at once). */
static void heap_collect_pages(heap_t *heap, bool force)
{
    heap->now_ms = fast_now_ms();
    fast_heap_flush_remote(heap);
    fast_heap_drain_delayed(heap);
    for (unsigned c = heap_used_class_after(heap, 0); c < CLASS_COUNT;
         c = heap_used_class_after(heap, c)) {
        page_t *next;
        for (page_t *page = heap->full[c].head; page; page = next) {
            next = page->next;
            if (!thread_free_blocks(__atomic_load_n(&page->thread_free, __ATOMIC_RELAXED)))
                continue;
            full_remove(heap, page);
            fast_page_collect_thread_free(page);
            if (page->used == 0)
                page_retire(heap, page);
            else
                avail_push_back(heap, page);
        }
        for (page_t *page = heap->avail[c].head; page; page = next) {
            next = page->next;
            fast_page_collect_thread_free(page);
            if (page->used == 0 && (force || page != heap->avail[c].head)) {
                avail_remove(heap, page);
                page_retire(heap, page);
            }
        }
    }

}

void fast_heap_collect(heap_t *heap, bool force)
{
    heap_collect_pages(heap, force);
    fast_segment_purge(heap, force);
    heap->next_purge_ms = heap->now_ms + fast_options.purge_delay_ms;
}

static void heap_thread_exit(void *arg)
{
    heap_t *heap = arg;
    if (!heap || heap == &fast_empty_heap) return;
    if (heap->quarantine.count) fast_quarantine_flush(heap, "free");
    /* Every empty page back to its segment, but no purge: the segments' next owner (or the
     * cache) purges their free pages after the delay. */
    heap_collect_pages(heap, true);
    /* Pages still in use stay where they are; the queues go with the heap. Full pages stop
     * asking for notice, so later frees land on the pages, where their adopter finds them. */
    for (unsigned c = heap_used_class_after(heap, 0); c < CLASS_COUNT;
         c = heap_used_class_after(heap, c))
        for (page_t *page = heap->full[c].head; page; page = page->next)
            fast_page_unmark_full(page);
    fast_segment_abandon_all(heap);
    if (fast_tls.heap == heap) {
        fast_tls.heap = &fast_empty_heap;
        fast_tls.free_key = REGISTRY_NEVER;
    }
    /* Blocks handed over while the pages were still marked: freed as a heapless thread's. */
    fast_heap_drain_delayed(heap);
    heap_reset(heap);
    heap->in_use = 0;
    hk_stat_add(&fast_global_stats[STAT_threads_exited], 1);
    hk_lock(&heap_pool_lock);
    heap->pool_next = heap_pool;
    heap_pool = heap;
    hk_unlock(&heap_pool_lock);
}

/* ---- Statistics and checks ------------------------------------------------------------------ */

/* Frees every block of a program's own heap at once (hk_heap_reset, hk_heap_destroy): its huge
 * blocks, then every page, whatever its blocks' state. Blocks others handed back for its full
 * pages are simply dropped with the rest. reset keeps each page that served since the last
 * reset, with its class and every carved block on its free list again (what freeing each block
 * would cost, without the calls; the next request runs on the fast path), and retires pages
 * that did not serve; destroy retires them all, lets the segments go and gives the heap back
 * to the pool. */
void fast_heap_clear(heap_t *heap, bool destroy)
{
    fast_huge_free_owned(heap);
    (void)__atomic_exchange_n(&heap->delayed, NULL, __ATOMIC_ACQUIRE);
    heap->idle_current[0] = heap->idle_current[1] = 0;
    for (unsigned c = heap_used_class_after(heap, 0); c < CLASS_COUNT;
         c = heap_used_class_after(heap, c)) {
        page_t *avail = heap->avail[c].head, *full = heap->full[c].head;
        heap->avail[c].head = heap->avail[c].tail = NULL;
        heap->full[c].head = heap->full[c].tail = NULL;
        for (int queue = 0; queue < 2; queue++) {
            page_t *next;
            for (page_t *page = queue ? full : avail; page; page = next) {
                next = page->next;
                page->next = page->prev = NULL;
                fast_page_vg_forget_live(page);
                __atomic_store_n(&page->thread_free, 0, __ATOMIC_RELAXED);
                if (destroy || page->used == 0) { /* (a page reset and unused since: idle) */
                    page_retire(heap, page);
                    continue;
                }
                fast_page_free_all(page);
                fast_queue_push_back(&heap->avail[c], page);
            }
        }
        fast_heap_set_direct(heap, c, heap->avail[c].head ? heap->avail[c].head : &fast_empty_page);
    }
    if (!destroy) {
        fast_segment_release_extra(heap, SEGMENT_SMALL);
        fast_segment_release_extra(heap, SEGMENT_MEDIUM);
        return;
    }
    fast_segment_purge(heap, true); /* every segment is empty: all of them go */
    heap_reset(heap);
    heap->in_use = 0;
    heap->user = 0;
    hk_lock(&heap_pool_lock);
    heap->pool_next = heap_pool;
    heap_pool = heap;
    hk_unlock(&heap_pool_lock);
}

/* Frees the blocks handed over to heaps in the pool (after their thread exited) that no new
 * thread has drained yet (trim). */
void fast_heap_drain_pooled(void)
{
    block_t *lists = NULL;
    hk_lock(&heap_pool_lock);
    for (heap_t *heap = heap_pool; heap; heap = heap->pool_next) {
        block_t *list = __atomic_exchange_n(&heap->delayed, NULL, __ATOMIC_ACQUIRE);
        while (list) {
            block_t *next = list->next;
            list->next = lists;
            lists = list;
            list = next;
        }
    }
    hk_unlock(&heap_pool_lock);
    while (lists) {
        block_t *next = lists->next;
        fast_free_plain(lists, "free");
        lists = next;
    }
}

void fast_stats_sum_heaps(uint64_t out[FAST_HEAP_STAT_COUNT])
{
    memset(out, 0, sizeof(uint64_t) * FAST_HEAP_STAT_COUNT);
    hk_lock(&heap_pool_lock);
    for (heap_t *heap = heap_all; heap; heap = heap->all_next)
        for (size_t i = 0; i < FAST_HEAP_STAT_COUNT; i++)
            out[i] += __atomic_load_n(&heap->stats[i], __ATOMIC_RELAXED);
    hk_unlock(&heap_pool_lock);
}
