/* Pages: a run of equal blocks with three free lists (free list sharding): `free` for malloc,
 * `local_free` for the owner's frees, `thread_free` for other threads' frees (atomic push).
 * This file sets a page up for a class, refills `free` from the other two lists or from
 * not-yet-carved space, and keeps the heap's page queues and direct table. */
#include <string.h>

#include "core/stats.h"
#include "fast/fast_internal.h"
#include "os/sys.h"


/* ---- Set-up -------------------------------------------------------------------------------- */

void fast_page_init(segment_t *segment, page_t *page, unsigned size_class)
{
    size_t block_size = class_block_size(size_class);
    size_t index = (size_t)(page - segment->pages);
    size_t start = index << segment->page_shift;
    size_t end = (index + 1) << segment->page_shift;
    if (index == 0) {
        /* After the header, aligned to the block size's lowest set bit, so every block of a
         * size that is a multiple of A is A-aligned (aligned allocations rely on it). */
        size_t align = block_size & (~block_size + 1);
        start = (segment->header_size + align - 1) & ~(align - 1);
    }
    page->size_class = (uint8_t)size_class;
    page->block_size = (uint32_t)block_size;
    page->area_offset = (uint32_t)start;
    if (segment->guarded && index + 1 == segment->page_count) end -= sys_page_size();
    /* For memcheck: the blocks of the page's last class are gone (new ones start elsewhere). */
    HK_VG_UNDEFINED((uint8_t *)segment + start, end - start);
    page->reserved = (uint16_t)((end - start) / block_size);
    page->hardened = fast_options.harden;
    page->capacity = 0;
    page->used = 0;
    page->free = page->local_free = NULL;
    page->thread_free = 0;
    page->next = page->prev = NULL;
    page->in_full = 0;
    page->free_is_zero = page->mem_zero;
    page->mem_zero = 0;
}

/* Carves up to EXTEND_BYTES of new blocks onto the (empty) free list. */
static void page_extend(segment_t *segment, page_t *page)
{
    size_t block_size = page->block_size;
    uint32_t count = (uint32_t)(EXTEND_BYTES / block_size);
    if (count == 0) count = 1;
    if (count > page->reserved - page->capacity) count = page->reserved - page->capacity;
    uint8_t *first = page_area(segment, page) + (size_t)page->capacity * block_size;
    uint8_t *p = first;
    if (hk_unlikely(page->hardened)) {
        page->free = fast_page_shuffle(first, block_size, count); /* in a random order */
    } else {
        for (uint32_t i = 1; i < count; i++, p += block_size)
            ((block_t *)p)->next = (block_t *)(p + block_size);
        ((block_t *)p)->next = NULL;
        page->free = (block_t *)first;
    }
    page->capacity += count;
}

/* Makes every carved block of the page free again, on one list in address order (a program's
 * own heap being reset: its blocks are all freed at once). */
void fast_page_free_all(page_t *page)
{
    size_t block_size = page->block_size;
    uint8_t *first = page_area(segment_of(page), page), *p = first;
    for (uint32_t i = 1; i < page->capacity; i++, p += block_size)
        ((block_t *)p)->next = (block_t *)(p + block_size);
    ((block_t *)p)->next = NULL;
    page->free = page->capacity ? (block_t *)first : NULL;
    page->local_free = NULL;
    __atomic_store_n(&page->thread_free, 0, __ATOMIC_RELAXED);
    page->used = 0;
    page->in_full = page->free_is_zero = page->mem_zero = 0;
}

/* Tells memcheck (VALGRIND=1 builds) that the page's live blocks are freed: a program's own heap
 * being reset or destroyed frees them without a free() each. Nothing in other builds. */
void fast_page_vg_forget_live(page_t *page)
{
#if defined(HEAPKIT_VALGRIND) && HEAPKIT_VALGRIND
    uint64_t is_free[((size_t)1 << SMALL_PAGE_SHIFT) / 16 / 64] = {0};
    uint8_t *area = page_area(segment_of(page), page);
    const block_t *lists[3] = {page->free, page->local_free,
                               thread_free_blocks(page->thread_free)};
    for (int l = 0; l < 3; l++)
        for (const block_t *b = lists[l]; b; b = b->next) {
            size_t index = (size_t)((const uint8_t *)b - area) / page->block_size;
            if (index < page->capacity) is_free[index / 64] |= (uint64_t)1 << (index % 64);
        }
    for (uint32_t i = 0; i < page->capacity; i++)
        if (!(is_free[i / 64] >> (i % 64) & 1)) block_vg_freed(area + (size_t)i * page->block_size);
#else
    (void)page;
#endif
}

/* ---- Refilling ----------------------------------------------------------------------------- */

/* Moves every block other threads freed onto `free` (clearing THREAD_FREE_NOTIFY: a page with
 * room is not full); returns how many. */
uint32_t fast_page_collect_thread_free(page_t *page)
{
    if (!thread_free_blocks(__atomic_load_n(&page->thread_free, __ATOMIC_RELAXED))) return 0;
    block_t *list =
        thread_free_blocks(__atomic_exchange_n(&page->thread_free, 0, __ATOMIC_ACQUIRE));
    uint32_t count = 1;
    block_t *tail = list;
    while (tail->next) {
        tail = tail->next;
        count++;
    }
    tail->next = page->free;
    page->free = list;
    page->free_is_zero = 0;
    page->used -= count;
    return count;
}

/* Asks other threads to tell the owner about their next free into this page, which is about
 * to wait in the full queue. False when blocks arrived since it was found full: the caller
 * collects them instead. */
bool fast_page_mark_full(page_t *page)
{
    uintptr_t expected = 0;
    return __atomic_compare_exchange_n(&page->thread_free, &expected, THREAD_FREE_NOTIFY, false,
                                       __ATOMIC_ACQ_REL, __ATOMIC_RELAXED);
}

/* Clears THREAD_FREE_NOTIFY (a page leaving the full queue without a collection). */
void fast_page_unmark_full(page_t *page)
{
    __atomic_fetch_and(&page->thread_free, ~THREAD_FREE_NOTIFY, __ATOMIC_ACQ_REL);
}

/* Called when `free` is empty: refills it from local frees, then remote frees (memory already
 * touched). False when neither has a block. */
bool fast_page_reuse(page_t *page)
{
    if (page->local_free) {
        page->free = page->local_free;
        page->local_free = NULL;
        page->free_is_zero = 0;
        return true;
    }
    return fast_page_collect_thread_free(page) != 0;
}

/* Refills `free` from freed blocks, else from fresh space. False when the page is full. */
bool fast_page_refill(page_t *page)
{
    if (fast_page_reuse(page)) return true;
    if (page->capacity < page->reserved) {
        page_extend(segment_of(page), page);
        return true;
    }
    return false;
}

/* ---- Queues and the direct table ----------------------------------------------------------- */

void fast_queue_push_front(page_queue_t *q, page_t *page)
{
    page->prev = NULL;
    page->next = q->head;
    if (q->head)
        q->head->prev = page;
    else
        q->tail = page;
    q->head = page;
}

void fast_queue_push_back(page_queue_t *q, page_t *page)
{
    page->next = NULL;
    page->prev = q->tail;
    if (q->tail)
        q->tail->next = page;
    else
        q->head = page;
    q->tail = page;
}

void fast_queue_remove(page_queue_t *q, page_t *page)
{
    if (page->prev)
        page->prev->next = page->next;
    else
        q->head = page->next;
    if (page->next)
        page->next->prev = page->prev;
    else
        q->tail = page->prev;
    page->next = page->prev = NULL;
}

/* Points every direct entry of the class at page (the head of its available queue, or the
 * empty page): the malloc fast path then pops from it. */
void fast_heap_set_direct(heap_t *heap, unsigned size_class, page_t *page)
{
    /* With the heap profiler or the hardened mode every allocation takes the slow path: the
     * fast path finds nothing (the entries stay as heap_reset left them, on the empty page). */
    if (fast_options.slow_only) return;
    size_t block_size = class_block_size(size_class);
    if (block_size > DIRECT_MAX) return;
    size_t first = size_class == 1 ? 0 : class_block_size(size_class - 1) + 1;
    for (size_t size = first; size <= block_size; size++)
        heap->direct[size] = page;
}

/* ---- Checks -------------------------------------------------------------------------------- */

static bool list_contains(const block_t *list, const void *p, uint32_t limit)
{
    for (uint32_t n = 0; list && n <= limit; list = list->next, n++)
        if (list == p) return true;
    return false;
}

/* Whether p is on one of the page's free lists (checked mode: double free detection). */
bool fast_block_is_free(const page_t *page, const void *p)
{
    const block_t *remote =
        thread_free_blocks(__atomic_load_n(&page->thread_free, __ATOMIC_ACQUIRE));
    return list_contains(page->free, p, page->capacity) ||
           list_contains(page->local_free, p, page->capacity) ||
           list_contains(remote, p, page->capacity);
}
