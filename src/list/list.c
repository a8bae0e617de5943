/* The list heap's allocation paths: fit, split, coalesce, growth (brk or mmap regions) and
 * blocks with their own mapping. Walks, the checker and statistics are in list_check.c.
 *
 * Under `make VALGRIND=1` memcheck is told what the heap does: handed-out payloads are heap
 * blocks (MALLOCLIKE/FREELIKE/RESIZEINPLACE), free payloads are no-access, and headers stay
 * accessible, since the engine walks them. Front ends that hand out a block by other means
 * (chunk_split) make the same requests. */
#include "list/list.h"

#include <errno.h>

#include "core/checked.h"
#include "core/vg.h"
#include "os/sys.h"

/* ---- header fields ------------------------------------------------------------------- */

static inline void set_size(char *block, size_t size)
{
    *(size_t *)(void *)(block + LIST_SIZE_OFFSET) = size;
}

static inline void set_status(char *block, int status)
{
    *(int *)(void *)(block + LIST_STATUS_OFFSET) = status;
}

static inline char **next_field(const list_heap_t *heap, char *block)
{
    return (char **)(void *)(block + heap->cfg.layout.next_offset);
}

static inline bool has_prev(const list_heap_t *heap)
{
    return heap->cfg.layout.prev_offset != LIST_NO_PREV;
}

static inline void set_prev(const list_heap_t *heap, char *block, char *prev)
{
    if (has_prev(heap)) *(char **)(void *)(block + heap->cfg.layout.prev_offset) = prev;
}

static inline bool is_free(const list_heap_t *heap, const char *block)
{
    return list_status(block) == heap->cfg.layout.status_free;
}

/* One past the block's last payload byte: where its physical successor would start. */
static inline char *end_of(const list_heap_t *heap, const char *block)
{
    return (char *)block + heap->cfg.layout.header_size + list_size(block);
}

char *list_next(const list_heap_t *heap, const char *block)
{
    return *next_field(heap, (char *)block);
}

/* With a singly linked layout the predecessor is found by walking from the head: the seeds
 * that use one (002) are small teaching heaps, and only merging backwards needs it. */
static char *prev_in(const list_heap_t *heap, char *first, const char *block)
{
    if (has_prev(heap)) return *(char **)(void *)((char *)block + heap->cfg.layout.prev_offset);
    char *prev = NULL;
    for (char *b = first; b && b != block; b = list_next(heap, b)) prev = b;
    return prev;
}

char *list_prev(const list_heap_t *heap, const char *block)
{
    return prev_in(heap, heap->head, block);
}

/* ---- links ----------------------------------------------------------------------------- */

/* Inserts block after `after` (at the head when after is NULL). */
static void link_after(list_heap_t *heap, char *after, char *block)
{
    char *next = after ? list_next(heap, after) : heap->head;
    *next_field(heap, block) = next;
    set_prev(heap, block, after);
    if (next) set_prev(heap, next, block);
    else heap->tail = block;
    if (after) *next_field(heap, after) = block;
    else heap->head = block;
}

static void unlink_block(list_heap_t *heap, char *prev, char *block)
{
    char *next = list_next(heap, block);
    if (prev) *next_field(heap, prev) = next;
    else heap->head = next;
    if (next) set_prev(heap, next, prev);
    else heap->tail = prev;
}

/* ---- split and coalesce ---------------------------------------------------------------- */

/* Absorbs block's successor (free, physically adjacent) into block. */
static void absorb_next(list_heap_t *heap, char *block)
{
    char *next = list_next(heap, block);
    set_size(block, list_size(block) + heap->cfg.layout.header_size + list_size(next));
    unlink_block(heap, block, next);
    heap->counts[STAT_coalesces]++;
}

static bool next_is_free_neighbour(const list_heap_t *heap, char *block)
{
    char *next = list_next(heap, block);
    return next && is_free(heap, next) && end_of(heap, block) == next;
}

char *list_split(list_heap_t *heap, char *block, size_t payload_size)
{
    const list_layout_t *lay = &heap->cfg.layout;
    size_t size = list_size(block);
    if (size < payload_size || size - payload_size < lay->header_size + heap->cfg.min_split_payload)
        return NULL;
    char *rest = block + lay->header_size + payload_size;
    HK_VG_UNDEFINED(rest, lay->header_size); /* may lie in a no-access free payload */
    set_size(rest, size - payload_size - lay->header_size);
    set_status(rest, lay->status_free);
    HK_VG_NOACCESS(list_payload(heap, rest), list_size(rest));
    set_size(block, payload_size);
    link_after(heap, block, rest);
    heap->counts[STAT_splits]++;
    /* A shrinking block's remainder may touch a free block; eager heaps keep no two free
     * neighbours. */
    if (heap->cfg.coalesce_on_free && next_is_free_neighbour(heap, rest)) absorb_next(heap, rest);
    return rest;
}

void list_coalesce_all(list_heap_t *heap)
{
    for (char *b = heap->head; b;) {
        if (is_free(heap, b) && next_is_free_neighbour(heap, b)) absorb_next(heap, b);
        else b = list_next(heap, b);
    }
}

/* ---- fit ------------------------------------------------------------------------------- */

static char *find_fit(const list_heap_t *heap, size_t payload_size)
{
    char *best = NULL;
    for (char *b = heap->head; b; b = list_next(heap, b)) {
        if (!is_free(heap, b) || list_size(b) < payload_size) continue;
        if (heap->cfg.fit == LIST_FIRST_FIT || list_size(b) == payload_size) return b;
        /* strictly smaller only: ties keep the first (lowest address) block */
        if (!best || list_size(b) < list_size(best)) best = b;
    }
    return best;
}

/* ---- growth ---------------------------------------------------------------------------- */

/* Makes [at, at + span) one free block at the tail of the list. */
static char *append_free_block(list_heap_t *heap, char *at, size_t span)
{
    set_size(at, (span - heap->cfg.layout.header_size) & ~(size_t)(LIST_ALIGN - 1));
    set_status(at, heap->cfg.layout.status_free);
    HK_VG_NOACCESS(list_payload(heap, at), list_size(at));
    link_after(heap, heap->tail, at);
    return at;
}

static char *current_break(void)
{
    /* sbrk(0) answers from the C library's cached break: no system call once it is known. */
    void *cur = NULL;
    if (sys_brk(0, &cur) != 0) return NULL;
    return cur;
}

/* The block ends at the program break, so moving the break extends it in place. */
static bool ends_at_break(const list_heap_t *heap, const char *block)
{
    return heap->cfg.backing == LIST_BACKING_BRK && block == heap->tail &&
           end_of(heap, block) == current_break();
}

static bool extend_at_break(list_heap_t *heap, char *block, size_t payload_size)
{
    void *old;
    if (sys_brk((intptr_t)(payload_size - list_size(block)), &old) != 0) return false;
    set_size(block, payload_size);
    heap->counts[STAT_grows]++;
    return true;
}

/* brk backing. First use: exactly first_grow_bytes (the preallocation). Later: extend a free
 * tail that ends at the break by the difference, or append header + payload_size bytes. */
static bool grow_brk(list_heap_t *heap, size_t payload_size)
{
    size_t header = heap->cfg.layout.header_size;
    void *old;
    if (!heap->started) {
        if (sys_brk((intptr_t)heap->cfg.first_grow_bytes, &old) != 0) return false;
        heap->started = true;
        heap->counts[STAT_grows]++;
        size_t pad = (size_t)(-(uintptr_t)old & (LIST_ALIGN - 1));
        append_free_block(heap, (char *)old + pad, heap->cfg.first_grow_bytes - pad);
        return true;
    }
    char *tail = heap->tail;
    if (tail && is_free(heap, tail) && ends_at_break(heap, tail))
        return extend_at_break(heap, tail, payload_size);
    /* Someone else may have moved the break (or left it unaligned): start a new block at the
     * next aligned address; blocks that do not touch never merge. */
    char *cur = current_break();
    if (!cur) return false;
    size_t pad = (size_t)(-(uintptr_t)cur & (LIST_ALIGN - 1));
    if (sys_brk((intptr_t)(pad + header + payload_size), &old) != 0) return false;
    heap->counts[STAT_grows]++;
    append_free_block(heap, (char *)old + pad, header + payload_size);
    return true;
}

/* mmap backing: a new region of at least first_grow_bytes (first) or region_min_bytes,
 * big enough for the request, rounded up to pages; one free block fills it. */
static bool grow_mmap(list_heap_t *heap, size_t payload_size)
{
    size_t want = sizeof(list_region_t) + heap->cfg.layout.header_size + payload_size;
    size_t least = heap->started ? heap->cfg.region_min_bytes : heap->cfg.first_grow_bytes;
    if (want < least) want = least;
    size_t bytes;
    void *mem;
    if (!hk_align_up(want, sys_page_size(), &bytes) || sys_map(bytes, &mem) != 0) return false;
    list_region_t *region = mem;
    region->size = bytes;
    region->next = NULL;
    list_region_t **link = &heap->regions;
    while (*link) link = &(*link)->next;
    *link = region;
    heap->started = true;
    heap->counts[STAT_grows]++;
    append_free_block(heap, (char *)mem + sizeof *region, bytes - sizeof *region);
    return true;
}

/* ---- public paths ---------------------------------------------------------------------- */

void list_init(list_heap_t *heap, const list_config_t *cfg)
{
    *heap = (list_heap_t){.cfg = *cfg};
}

bool list_request_size(const list_heap_t *heap, size_t size, size_t *out)
{
    /* Keep every later sum (header, padding, page rounding) far from overflow and within
     * sbrk's signed increment. */
    size_t limit = (size_t)PTRDIFF_MAX / 2;
    size_t rounded;
    if (!hk_align_up(size, LIST_ALIGN, &rounded) || rounded > limit - heap->cfg.layout.header_size)
        return false;
    *out = rounded;
    return true;
}

bool list_grow(list_heap_t *heap, size_t payload_size)
{
    return heap->cfg.backing == LIST_BACKING_BRK ? grow_brk(heap, payload_size)
                                                 : grow_mmap(heap, payload_size);
}

void *list_alloc(list_heap_t *heap, size_t payload_size)
{
    if (heap->cfg.coalesce_before_fit) list_coalesce_all(heap);
    char *block = find_fit(heap, payload_size);
    while (!block) {
        if (!list_grow(heap, payload_size)) {
            errno = ENOMEM;
            return NULL;
        }
        block = find_fit(heap, payload_size);
    }
    list_split(heap, block, payload_size);
    set_status(block, heap->cfg.layout.status_alloc);
    heap->counts[STAT_allocs]++;
    HK_VG_MALLOCLIKE(list_payload(heap, block), list_size(block), 0);
    return list_payload(heap, block);
}

/* The region holding block (mmap backing), or NULL. */
static list_region_t *region_of(const list_heap_t *heap, const char *block, list_region_t **prev)
{
    list_region_t *before = NULL;
    for (list_region_t *r = heap->regions; r; before = r, r = r->next) {
        if (block >= (char *)r && block < (char *)r + r->size) {
            if (prev) *prev = before;
            return r;
        }
    }
    return NULL;
}

/* Unmaps the region of a free block that fills it, unless it is the first region. */
static void release_if_empty(list_heap_t *heap, char *block)
{
    list_region_t *before;
    list_region_t *region = region_of(heap, block, &before);
    if (!region || region == heap->regions) return;
    if (block != (char *)region + sizeof *region ||
        end_of(heap, block) != (char *)region + region->size)
        return;
    unlink_block(heap, list_prev(heap, block), block);
    before->next = region->next;
    sys_unmap(region, region->size);
    heap->counts[STAT_regions_released]++;
}

void list_free(list_heap_t *heap, void *payload)
{
    char *block = list_header(heap, payload);
    HK_VG_FREELIKE(payload);
    set_status(block, heap->cfg.layout.status_free);
    heap->counts[STAT_frees]++;
    if (heap->cfg.coalesce_on_free) {
        if (next_is_free_neighbour(heap, block)) absorb_next(heap, block);
        char *prev = list_prev(heap, block);
        if (prev && is_free(heap, prev) && end_of(heap, prev) == block) {
            absorb_next(heap, prev);
            block = prev;
        }
    }
    if (heap->cfg.release_empty_regions && heap->cfg.backing == LIST_BACKING_MMAP)
        release_if_empty(heap, block);
}

void list_vg_resized(const list_heap_t *heap, char *block, size_t old_size)
{
    (void)heap, (void)block, (void)old_size;
#if HEAPKIT_VALGRIND
    if (list_size(block) != old_size)
        HK_VG_RESIZE(list_payload((list_heap_t *)heap, block), old_size, list_size(block));
    /* Shrinking made the old tail no-access, a header split off there included. */
    char *next = list_next(heap, block);
    if (next && next == end_of(heap, block)) HK_VG_DEFINED(next, heap->cfg.layout.header_size);
#endif
}

static bool resize_in_place(list_heap_t *heap, char *block, size_t payload_size)
{
    if (payload_size <= list_size(block)) {
        list_split(heap, block, payload_size);
        return true;
    }
    /* Only a block that is already the last one grows by moving the break (spec 001). */
    if (ends_at_break(heap, block)) return extend_at_break(heap, block, payload_size);
    /* One neighbour at a time, checking after each; absorbed blocks stay absorbed. A block that
     * has become the last one by absorbing the free tail still moves when it is too small. */
    while (next_is_free_neighbour(heap, block)) {
        absorb_next(heap, block);
        if (list_size(block) >= payload_size) {
            list_split(heap, block, payload_size);
            return true;
        }
    }
    return false;
}

bool list_resize_in_place(list_heap_t *heap, void *payload, size_t payload_size)
{
    char *block = list_header(heap, payload);
    size_t old_size = list_size(block);
    bool done = resize_in_place(heap, block, payload_size);
    /* Also when it failed: the neighbours it absorbed belong to the block now. */
    list_vg_resized(heap, block, old_size);
    return done;
}

void *list_map_block(list_heap_t *heap, size_t payload_size)
{
    size_t bytes = heap->cfg.layout.header_size + payload_size;
    void *mem;
    if (sys_map(bytes, &mem) != 0) {
        errno = ENOMEM;
        return NULL;
    }
    char *block = mem;
    set_size(block, payload_size);
    set_status(block, heap->cfg.layout.status_mapped);
    *next_field(heap, block) = heap->mapped;
    set_prev(heap, block, NULL);
    if (heap->mapped) set_prev(heap, heap->mapped, block);
    heap->mapped = block;
    heap->counts[STAT_mapped_blocks]++;
    heap->counts[STAT_allocs]++;
    HK_VG_MALLOCLIKE(list_payload(heap, block), payload_size, 1); /* a fresh mapping is zero */
    return list_payload(heap, block);
}

void list_unmap_block(list_heap_t *heap, void *payload)
{
    char *block = list_header(heap, payload);
    HK_VG_FREELIKE(payload);
    char *prev = prev_in(heap, heap->mapped, block);
    char *next = list_next(heap, block);
    if (prev) *next_field(heap, prev) = next;
    else heap->mapped = next;
    if (next) set_prev(heap, next, prev);
    heap->counts[STAT_frees]++;
    sys_unmap(block, heap->cfg.layout.header_size + list_size(block));
}
