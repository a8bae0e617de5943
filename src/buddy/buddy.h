/* The buddy engine's internal interface (spec 003): block layout, the two kinds of container
 * blocks live in (pages of the one sbrk heap, the default; 64 KiB mapped chunks, an option and
 * the fallback), arenas, the page map that says which addresses are ours, large mappings. Only
 * src/buddy and its tests include this; the rest of heapkit reaches the engine through
 * core/engine.h. */
#ifndef HK_BUDDY_BUDDY_H
#define HK_BUDDY_BUDDY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/compiler.h"
#include "core/lock.h"
#include "core/vg.h"
#include "core/walk.h"

/* ---- Limits ------------------------------------------------------------------------------ */

/* Orders: block sizes 32, 64, …, 2048 bytes (seven free lists, as the spec has). Order i holds
 * blocks of BUDDY_MIN_BLOCK_BYTES << i, header included. */
#define BUDDY_MIN_SHIFT       5
#define BUDDY_MAX_SHIFT       11
#define BUDDY_ORDERS          (BUDDY_MAX_SHIFT - BUDDY_MIN_SHIFT + 1)
#define BUDDY_MIN_BLOCK_BYTES ((size_t)1 << BUDDY_MIN_SHIFT)
#define BUDDY_MAX_BLOCK_BYTES ((size_t)1 << BUDDY_MAX_SHIFT)
/* An allocated block keeps status, level and one spare word before its payload (16 bytes, so
 * payloads stay 16-byte aligned); a free block also uses the next 8 bytes for `previous`. */
#define BUDDY_HEADER_BYTES    16
#define BUDDY_MAX_SMALL_BYTES (BUDDY_MAX_BLOCK_BYTES - BUDDY_HEADER_BYTES)
/* The sbrk heap (the default, as the spec has it) grows by pages; each 4 KiB page is the root of
 * its own buddy tree, two top-order blocks, so a block's buddy never leaves its page. */
#define BUDDY_PAGE_BYTES ((size_t)4096)
_Static_assert(BUDDY_PAGE_BYTES == 2 * BUDDY_MAX_BLOCK_BYTES, "a page holds two top blocks");
/* Empty pages an arena keeps before giving one that empties back to the heap's pool, where any
 * arena can take it: a little hysteresis, so an arena that shrinks and grows by a page does not
 * go to the heap's lock each time. */
#define BUDDY_EMPTY_PAGES_KEPT 16
/* HEAPKIT_BUDDY_CHUNKS=1, or when the break cannot grow: arenas grow by chunks of this size,
 * mapped and aligned to it, so ptr -> chunk is a mask. */
#define BUDDY_CHUNK_BYTES ((size_t)64 * 1024)
/* Empty chunks an arena keeps (its current one included) before unmapping one that empties:
 * a little hysteresis, so a heap that shrinks and grows by one chunk does not map each time. */
#define BUDDY_EMPTY_CHUNKS_KEPT 3
/* The most arenas, whatever the CPU count. */
#define BUDDY_ARENAS_MAX 64
/* A plain large mapping starts with its record (length) and then the tag: payload at +32. */
#define BUDDY_LARGE_PREFIX_BYTES 32
/* The hardened mode's quarantine: freed small blocks an arena holds back from reuse (junk-filled
 * and checked when they leave). A free into a full quarantine lets a randomly chosen one go, so
 * a block waits 128 frees of its arena on average, and when it is reused is not predictable. */
#define BUDDY_QUARANTINE_SLOTS 128
/* glibc's mmap threshold: it counts every block asked below it in mallinfo2's uordblks (its heap)
 * and only bigger ones in hblkhd. Large blocks asked below it are counted the same way here. */
#define BUDDY_HEAP_LIKE_MAX_BYTES ((size_t)128 * 1024)

/* Block status words. A magic in the high half catches pointers we never returned. */
enum {
    BLOCK_FREE = 0xB0DD0001u,         /* in its order's free list */
    BLOCK_USED = 0xB0DD0002u,         /* handed out; payload at header + 16 */
    BLOCK_USED_ALIGNED = 0xB0DD0003u, /* handed out with an inner tag at an aligned payload */
    BLOCK_MERGED = 0xB0DD0004u,       /* was the upper buddy of a merge: stale, freed */
    BLOCK_PINNED = 0xB0DD0005u,       /* the chunk header's block, never free */
    TAG_ALIGNED = 0xB0DD0006u,        /* inner tag of an aligned payload inside a buddy block */
    TAG_ALIGNED_FREED = 0xB0DD0007u,  /* the same, after the block was freed */
    TAG_LARGE = 0xB0DD0008u,          /* tag of a directly mapped block */
    TAG_LARGE_FREED = 0xB0DD0009u,    /* a mapped block freed into the large cache */
    BLOCK_QUARANTINED = 0xB0DD000Au,  /* freed in the hardened mode, waiting in the quarantine */
};
#define LEVEL_LARGE 0xFFu

/* The spec's BlockHeader, with its links stored encoded (buddy_harden.h): next/previous are the
 * free-list links while the block is free; while it is in use the payload starts at `previous`
 * and `next` holds the block's cookie (and, in the hardened mode, the size asked). In an inner
 * tag `next` is the encoded back link to the block, in a large block's tag the encoded start of
 * its mapping. */
typedef struct buddy_block {
    uint32_t status;    /* one of the BLOCK_ and TAG_ values */
    uint32_t level;     /* order index, 0 = 32-byte blocks */
    uintptr_t next;     /* free list successor, encoded (or the cookie word when used) */
    uintptr_t previous; /* free list predecessor, encoded (overlaps the payload) */
} buddy_block_t;

struct buddy_arena;

/* The header of a chunk: lives in the chunk's first block (pinned, order CHUNK_HEADER_LEVEL),
 * so its first two fields read like a block header. */
typedef struct buddy_chunk {
    uint32_t status;           /* BLOCK_PINNED */
    uint32_t level;            /* CHUNK_HEADER_LEVEL */
    struct buddy_arena *arena; /* owner: frees from any thread come back to it */
    struct buddy_chunk *next;  /* the arena's chunk list */
    struct buddy_chunk *previous;
    uint32_t frontier;    /* offset of the first never-used byte (page-at-a-time growth) */
    uint32_t live_blocks; /* blocks handed out from this chunk */
} buddy_chunk_t;
#define CHUNK_HEADER_LEVEL 1 /* the header takes one 64-byte block */

/* An arena: a heap of pages (and chunks) with its own lock and free lists. */
typedef struct buddy_arena {
    hk_lock_t lock;                         /* guards everything below */
    buddy_block_t *free_list[BUDDY_ORDERS]; /* doubly linked, NULL-terminated */
    buddy_chunk_t *chunks;                  /* every chunk this arena owns */
    buddy_chunk_t *current;                 /* the chunk new top-order blocks come from */
    uint64_t used_blocks[BUDDY_ORDERS];     /* blocks handed out, per order */
    uint64_t free_blocks[BUDDY_ORDERS];     /* blocks in the free lists, per order */
    uint64_t heap_pages;                    /* sbrk heap pages this arena holds */
    uint64_t empty_pages;                   /* of those, pages whose two halves are free */
    uint64_t pages_returned;                /* pages given back to the heap's pool */
    uint64_t chunk_count;                   /* chunks mapped now */
    uint64_t empty_chunks;                  /* chunks with no block in use (kept for reuse) */
    uint64_t chunks_released;               /* chunks given back to the kernel */
    uint64_t malloc_calls;                  /* small allocations served */
    uint64_t free_calls;                    /* small blocks freed */
    uint64_t realloc_in_place;              /* reallocs answered without moving */
    uint64_t series_bytes;                  /* bytes allocated and freed since the last
                                               time-series note (core/series.h) */
    uint32_t index;                         /* position in buddy_arenas (the page map says it) */
    uint32_t quarantined;                   /* hardened mode: blocks in quarantine[] */
    uint64_t quarantine_rng;                /* hardened mode: state for picking who leaves */
    buddy_block_t *quarantine[BUDDY_QUARANTINE_SLOTS]; /* hardened mode: freed, not yet reusable */
} buddy_arena_t;

static inline size_t buddy_order_bytes(unsigned level)
{
    return BUDDY_MIN_BLOCK_BYTES << level;
}

/* The order whose blocks hold need bytes (header included; need <= BUDDY_MAX_BLOCK_BYTES). */
static inline unsigned buddy_level_for(size_t need)
{
    if (need <= BUDDY_MIN_BLOCK_BYTES) return 0;
    return (unsigned)(64 - __builtin_clzll((unsigned long long)need - 1)) - BUDDY_MIN_SHIFT;
}

static inline buddy_chunk_t *buddy_chunk_of(const void *p)
{
    return (buddy_chunk_t *)((uintptr_t)p & ~(uintptr_t)(BUDDY_CHUNK_BYTES - 1));
}

static inline char *buddy_page_of(const void *p)
{
    return (char *)((uintptr_t)p & ~(uintptr_t)(BUDDY_PAGE_BYTES - 1));
}

/* The block of the same order whose merge with block gives the order above. Pages and chunks are
 * aligned to at least the top order's size, so the offset's xor is the address's. */
static inline buddy_block_t *buddy_of(const buddy_block_t *block, unsigned level)
{
    return (buddy_block_t *)((uintptr_t)block ^ (uintptr_t)buddy_order_bytes(level));
}

/* ---- Heap (buddy_heap.c): all under the arena's lock --------------------------------------- */

/* A block of order level, or NULL when neither the sbrk heap nor a chunk can supply memory. */
buddy_block_t *buddy_alloc_block(buddy_arena_t *arena, unsigned level);
/* Frees block (status checked by the caller), merging with its buddies. Returns false when that
 * emptied its page or chunk and the page went back to the heap's pool or the chunk was unmapped
 * (its blocks are no longer the arena's to check). */
bool buddy_free_block(buddy_arena_t *arena, buddy_block_t *block);
/* Shrinks an allocated block to order level (< its own), freeing the upper halves. */
void buddy_shrink_block(buddy_arena_t *arena, buddy_block_t *block, unsigned level);
/* Gives back every page and chunk of the arena with nothing in use (pages to the heap's pool,
 * chunks to the kernel); true when it released one. */
bool buddy_release_idle(buddy_arena_t *arena);
/* Checks every invariant of arena; on a violation writes one line naming it to *why (if not
 * NULL) and returns false. */
bool buddy_check(buddy_arena_t *arena, const char **why);
/* The same checks for the one page or chunk holding p (the per-operation check of
 * HEAPKIT_CHECK=1). */
bool buddy_check_around(buddy_arena_t *arena, const void *p, const char **why);

/* ---- Chunks (buddy_chunks.c): all under the arena's lock ------------------------------------ */

/* A fresh top-order block from the arena's current chunk, mapping a chunk when it is used up;
 * NULL when the mapping fails. */
buddy_block_t *buddy_chunk_carve(buddy_arena_t *arena);
/* A block of the chunk was handed out / given back (the chunk's live count, the arena's count
 * of empty chunks). block_freed returns false when the chunk emptied and was unmapped. */
void buddy_chunk_block_taken(buddy_arena_t *arena, buddy_block_t *block);
bool buddy_chunk_block_freed(buddy_arena_t *arena, buddy_block_t *block);
/* Unmaps an empty chunk. */
void buddy_chunk_release(buddy_arena_t *arena, buddy_chunk_t *chunk);
/* Walks the chunk's blocks, counting free and used ones per order, checking headers, buddies
 * and the live count. */
bool buddy_chunk_check(buddy_arena_t *arena, buddy_chunk_t *chunk, uint64_t *free_seen,
                       uint64_t *used_seen, const char **why);
/* Whether block is a sound block header of chunk: an order in range, past the chunk header, below
 * the frontier, at a multiple of its size. Reads the frontier without the lock. */
static inline bool buddy_chunk_block_is_sound(const buddy_chunk_t *chunk,
                                              const buddy_block_t *block)
{
    size_t offset = (size_t)((const char *)block - (const char *)chunk);
    /* The frontier moves under the owner's lock; it only grows, so a stale value is safe. */
    uint32_t frontier = __atomic_load_n(&chunk->frontier, __ATOMIC_RELAXED);
    return block->level < BUDDY_ORDERS && offset >= buddy_order_bytes(CHUNK_HEADER_LEVEL) &&
           offset < frontier && (offset & (buddy_order_bytes(block->level) - 1)) == 0;
}

/* ---- The sbrk heap (buddy_sbrk.c) ----------------------------------------------------------- */

/* The span of the program break's area that holds our pages ([lo, hi), where other code's brk
 * memory may lie between them): no chunk or other mapping can lie inside it. */
extern uintptr_t buddy_sbrk_lo, buddy_sbrk_hi;
static inline bool buddy_in_sbrk_heap(const void *p)
{
    uintptr_t lo = __atomic_load_n(&buddy_sbrk_lo, __ATOMIC_ACQUIRE);
    uintptr_t hi = __atomic_load_n(&buddy_sbrk_hi, __ATOMIC_ACQUIRE);
    return (uintptr_t)p - lo < hi - lo;
}
/* A page for arena (taken with the arena's lock held: the heap's lock nests inside it): from the
 * pool of pages other arenas gave back, else by moving the break one page up. NULL when the
 * break cannot grow (then, for good, every arena grows by chunks instead). */
char *buddy_sbrk_take_page(buddy_arena_t *arena);
/* An empty page back to the heap's pool (arena's lock held); false when the pool cannot grow
 * (the arena keeps the page). */
bool buddy_sbrk_give_page(char *page);
/* Gives the memory of every pooled page back to the kernel (madvise); true when there was one. */
bool buddy_sbrk_trim(void);
/* Whether arenas should grow by chunks: HEAPKIT_BUDDY_CHUNKS=1, or the break could not grow. */
bool buddy_use_chunks(void);
/* Registers the heap's lock for fork; call after every arena lock is registered (the heap's
 * lock is taken inside arena locks, and fork takes them in registration order). */
void buddy_sbrk_register_lock(void);
typedef struct {
    uint64_t pages;           /* pages the break has given us (held by arenas or pooled) */
    uint64_t pooled;          /* pages waiting in the pool */
    uint64_t pooled_resident; /* of those, pages whose memory is still resident */
    uint64_t brk_failed;      /* 1 once the break refused to grow */
} buddy_sbrk_stats_t;
void buddy_sbrk_stats(buddy_sbrk_stats_t *out);
/* Pages the break has given the heap, read without the lock (time-series figures). */
uint64_t buddy_sbrk_pages_relaxed(void);
/* For the heap walk: the heap's lock (taken after every arena lock, as fork takes them), and
 * the pooled pages, each with whether its memory is still resident; visit returns false to
 * stop (then so does the iteration). */
void buddy_sbrk_lock(void);
void buddy_sbrk_unlock(void);
bool buddy_sbrk_each_pooled(bool (*visit)(uintptr_t page, bool resident, void *arg), void *arg);

/* ---- Arenas (buddy_arena.c) ---------------------------------------------------------------- */

extern buddy_arena_t buddy_arenas[BUDDY_ARENAS_MAX];
/* How many arenas are in use (4 per CPU, at most BUDDY_ARENAS_MAX). */
unsigned buddy_arena_count(void);
/* The calling thread's arena, locked. */
buddy_arena_t *buddy_arena_acquire(void);
/* Locks the arena that owns chunk (a free from any thread). */
static inline void buddy_arena_lock(buddy_arena_t *arena)
{
    hk_lock_register(&arena->lock);
    hk_lock(&arena->lock);
}
static inline void buddy_arena_unlock(buddy_arena_t *arena)
{
    hk_unlock(&arena->lock);
}

/* ---- Page map (buddy_pagemap.c): which pages are ours ------------------------------------ */

/* One byte per page: the kind in the low two bits, and for a heap page its owner arena's index
 * in the six above. */
enum { PAGE_NOT_OURS = 0, PAGE_SMALL_CHUNK = 1, PAGE_LARGE_TAG = 2, PAGE_SMALL_HEAP = 3 };
#define PAGE_KIND_MASK   3u
#define PAGE_ARENA_SHIFT 2
_Static_assert(BUDDY_ARENAS_MAX <= 1u << (8 - PAGE_ARENA_SHIFT), "an arena index fits the map");
static inline uint8_t buddy_page_kind(uint8_t entry)
{
    return entry & PAGE_KIND_MASK;
}
static inline unsigned buddy_page_arena(uint8_t entry)
{
    return entry >> PAGE_ARENA_SHIFT;
}
static inline uint8_t buddy_heap_page_entry(const buddy_arena_t *arena)
{
    return (uint8_t)(PAGE_SMALL_HEAP | arena->index << PAGE_ARENA_SHIFT);
}
/* Marks the pages of [addr, addr + size) with entry; false when the map cannot grow. */
bool buddy_pagemap_set(const void *addr, size_t size, uint8_t entry);
/* The entry of the page holding addr. Never faults, whatever addr is. */
uint8_t buddy_pagemap_get(const void *addr);
/* Calls visit with the address of every page whose kind is kind, in address order, without a
 * lock (entries may change under it: callers hold whatever lock guards that kind's marks);
 * false when visit stopped it. */
bool buddy_pagemap_each(uint8_t kind, bool (*visit)(uintptr_t page, void *arg), void *arg);

/* ---- Large blocks (buddy_large.c): mapped directly, with a small cache ---------------------- */

typedef struct {
    uint64_t allocs;           /* large blocks handed out */
    uint64_t frees;            /* large blocks freed */
    uint64_t live;             /* large blocks in use */
    uint64_t live_bytes;       /* bytes mapped for them */
    uint64_t live_small;       /* those asked with fewer than BUDDY_HEAP_LIKE_MAX_BYTES */
    uint64_t live_small_bytes; /* bytes mapped for those */
    uint64_t cached;           /* freed mappings kept for reuse */
    uint64_t cached_bytes;     /* their bytes */
    uint64_t cache_hits;       /* allocations served from the cache */
    uint64_t shrunk;           /* reallocs that unmapped a block's tail */
} buddy_large_stats_t;

/* A mapped block of size bytes, plus headroom bytes mapped beyond them for growth, whose payload
 * is aligned to alignment (16 or more). */
void *buddy_large_alloc(size_t size, size_t headroom, size_t alignment, bool zeroed);
/* Whether a tag that says TAG_LARGE leads back to a plausible mapping start (its link is
 * encoded: a forged tag decodes to nonsense). */
bool buddy_large_tag_sound(const buddy_block_t *tag);
/* The hardened mode's record of the size asked (+ 1; 0 for a block handed out in the default
 * mode), and the end of the block's mapping. */
size_t buddy_large_asked_plus_one(const buddy_block_t *tag);
void buddy_large_set_asked_plus_one(buddy_block_t *tag, size_t asked_plus_one);
char *buddy_large_end(const buddy_block_t *tag);
/* Frees the large block whose tag is at tag (already validated as TAG_LARGE). */
void buddy_large_free(buddy_block_t *tag);
/* The usable bytes of the large block with this tag. */
size_t buddy_large_usable(const buddy_block_t *tag);
/* Shrinks in place by unmapping whole tail pages; the block keeps at least size bytes. */
void buddy_large_shrink(buddy_block_t *tag, size_t size);
/* Unmaps every cached mapping; true when there was one. */
bool buddy_large_trim(void);
/* Whether the heap profiler sampled the large block with this tag, and marking it so. */
bool buddy_large_sampled(const buddy_block_t *tag);
void buddy_large_set_sampled(buddy_block_t *tag, bool sampled);
void buddy_large_stats(buddy_large_stats_t *out);

/* One mapping as the heap walk sees it. */
typedef struct {
    uintptr_t start;   /* the mapping (its record) */
    size_t length;     /* bytes mapped */
    uintptr_t payload; /* the block handed out */
    size_t usable;     /* its usable bytes */
    bool cached;       /* freed and kept in the cache for reuse */
} buddy_large_view_t;
/* Visits every large mapping, in use or cached, in address order, under the large blocks'
 * lock; false when visit stopped it. */
bool buddy_large_walk(bool (*visit)(const buddy_large_view_t *view, void *arg), void *arg);

/* ---- The heap walk (buddy_walk.c) ---------------------------------------------------------- */

/* Every segment (the sbrk heap, each chunk, each large mapping), page and block of the engine
 * (an hk_walker_t). Holds every arena's lock and the heap's while it walks the small blocks,
 * then the large blocks' lock. */
bool buddy_walk(hk_block_visitor_t visitor, void *arg, int max_level);

/* The figures of the time series (core/series.h): bytes of blocks in use (large mappings
 * included) and bytes held from the kernel (heap pages, chunks, large mappings in use). Reads
 * the counters without locks: a note may be a block or two off, never a page. */
void buddy_series_figures(uint64_t *live_bytes, uint64_t *mapped_bytes);

/* ---- Free lists: one per order and arena, under the arena's lock --------------------------- */

/* Links are stored encoded and checked whenever a block leaves its list (buddy_harden.h). */
#include "buddy/buddy_harden.h"

/* Under memcheck (VALGRIND=1 builds, core/vg.h) a freed payload is no access; the header and
 * `previous` written here may lie in one (a split half, a block just freed), so those 24 bytes
 * are made addressable first, and every one of them is then written. */
HK_INLINE void buddy_list_push(buddy_arena_t *arena, buddy_block_t *block, unsigned level)
{
    HK_VG_UNDEFINED(block, sizeof *block);
    uint64_t key = buddy_key(BUDDY_KEY_LINK);
    buddy_block_t *head = arena->free_list[level];
    block->status = BLOCK_FREE;
    block->level = level;
    buddy_link_put(&block->previous, NULL, key);
    buddy_link_put(&block->next, head, key);
    if (head) buddy_link_put(&head->previous, block, key);
    arena->free_list[level] = block;
    arena->free_blocks[level]++;
}

/* Takes block, a free block of order level, out of its list. Its header and both neighbours'
 * links are checked first (a neighbour must lie in our memory at a multiple of the order's size
 * and link back to block): a corrupted list is reported in one line naming who ("malloc",
 * "free"), never followed. */
HK_INLINE void buddy_list_remove(buddy_arena_t *arena, buddy_block_t *block, unsigned level,
                                 const char *who)
{
    uint64_t key = buddy_key(BUDDY_KEY_LINK);
    if (hk_unlikely(block->status != BLOCK_FREE || block->level != level))
        buddy_report_header(block, who);
    buddy_block_t *next = buddy_link_read(&block->next, key);
    buddy_block_t *previous = buddy_link_read(&block->previous, key);
    if (previous) {
        if (hk_unlikely(!buddy_link_sound(previous, level) ||
                        buddy_link_read(&previous->next, key) != block))
            buddy_report_free_list(block, who);
        buddy_link_put(&previous->next, next, key);
    } else {
        if (hk_unlikely(arena->free_list[level] != block)) buddy_report_free_list(block, who);
        arena->free_list[level] = next;
    }
    if (next) {
        if (hk_unlikely(!buddy_link_sound(next, level) ||
                        buddy_link_read(&next->previous, key) != block))
            buddy_report_free_list(block, who);
        buddy_link_put(&next->previous, previous, key);
    }
    arena->free_blocks[level]--;
}

/* ---- Invariant checkers (buddy_heap.c, buddy_chunks.c) ------------------------------------- */

/* In a checker returning bool with a `const char **why`: fails with the message unless cond. */
#define BUDDY_CHECK(cond, message)                                                                 \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            if (why) *why = message;                                                               \
            return false;                                                                          \
        }                                                                                          \
    } while (0)

#endif
