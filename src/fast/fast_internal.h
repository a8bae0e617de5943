/* The fast engine's internals: limits, size classes, the three data types (segment, page,
 * heap), the segment registry and the inline fast paths of malloc and free. Reading this file
 * top to bottom is reading the design; the slow paths live in segment.c, page.c, heap.c,
 * huge.c, and the contract in fast_engine.c. See README.md for the picture. */
#ifndef HK_FAST_INTERNAL_H
#define HK_FAST_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/compiler.h"
#include "core/lock.h"
#include "core/stats.h"
#include "core/vg.h"
#include "fast/fast.h"
#include "heapkit.h"

/* ---- Limits -------------------------------------------------------------------------------- */

/* Segments are 4 MiB mappings aligned to 4 MiB: the owner of any small or medium block is one
 * mask away. 4 MiB (not 32) keeps a lightly used thread's footprint small. */
#define SEGMENT_SHIFT 22
#define SEGMENT_SIZE  ((size_t)1 << SEGMENT_SHIFT)
#define SEGMENT_MASK  (SEGMENT_SIZE - 1)

/* Small pages (64 KiB, 64 per segment) hold blocks up to 8 KiB; medium pages (512 KiB, 8 per
 * segment) blocks up to 128 KiB, so every page holds at least a few blocks. */
/* Bytes of free pages a heap may leave committed while their purge delay runs; past it they
 * are purged at once. */
#define DIRTY_BYTES_MAX ((size_t)4 << 20)
#define SMALL_PAGE_SHIFT  16
#define MEDIUM_PAGE_SHIFT 19
#define SMALL_PAGE_COUNT  (SEGMENT_SIZE >> SMALL_PAGE_SHIFT)
#define MEDIUM_PAGE_COUNT (SEGMENT_SIZE >> MEDIUM_PAGE_SHIFT)
#define SMALL_BLOCK_MAX   ((size_t)8 << 10)
#define MEDIUM_BLOCK_MAX  ((size_t)128 << 10)

/* Sizes up to DIRECT_MAX find their page through heap->direct[size]: indexed by the size itself
 * (8 KiB of pointers per heap) so the malloc fast path does no arithmetic on it. */
#define DIRECT_MAX   1024
#define DIRECT_COUNT (DIRECT_MAX + 1)

/* Classes: 1..8 are 16..128 in 16-byte steps, then eight per doubling up to 128 KiB, so a
 * block is never more than 12.5% larger than the request it serves. Every power of two is a
 * class (aligned allocations use that). Class 0 means "no class" (a free page). */
#define CLASS_COUNT 89

#define SEGMENT_COOKIE ((uintptr_t)0x6865617068656170ull) /* xor'ed with the address */

/* A page in the full queue has every block handed out (used == reserved); its `used` is set to
 * 1 instead, so the owner's first free into it takes the `--used == 0` branch the fast path
 * has anyway, and requeues it: no separate "is it full" test on the fast path. */
#define FULL_PAGE_USED 1

/* Set in a full page's thread_free: the first other thread to free into it hands its block(s)
 * to the owner heap's `delayed` list instead, so the owner learns which full page has room
 * again without scanning, and no free touches a counter the others share. */
#define THREAD_FREE_NOTIFY ((uintptr_t)1)

/* Remote frees a heap keeps per page before handing them over with one atomic operation, and
 * how many pages it keeps them for (direct-mapped by descriptor address). */
/* A block that realloc grows to this size moves into a huge span (with room to double) rather
 * than to the next size class (fast_engine.c says why). */
#define REALLOC_SPAN_MIN_BYTES ((size_t)16 << 10)

/* Blocks are carved EXTEND_BYTES at a time (one block at a time from 4 KiB up: carving writes a
 * link into every block, so each block carved ahead is an OS page touched ahead), so a page
 * touches only the memory it uses. */
#define EXTEND_BYTES 4096

/* Hardened mode: blocks a heap's quarantine holds at most, and their bytes. */
#define QUARANTINE_SLOTS 256
#define QUARANTINE_BYTES ((size_t)2 << 20)

#define REMOTE_BATCH_MAX   32
#define REMOTE_BATCH_SLOTS 16

/* Owner tag bit: in checked mode every owner value carries it, so the slow path's owner test
 * never matches either and every free is checked. */
#define OWNER_CHECK_TAG ((uintptr_t)1)

enum segment_kind { SEGMENT_SMALL = 0, SEGMENT_MEDIUM = 1, SEGMENT_HUGE = 2 };

/* ---- Types --------------------------------------------------------------------------------- */

typedef struct block {
    struct block *next;
} block_t;

typedef struct heap heap_t;

/* A link of a circular doubly linked list (a program's own heap lists its huge blocks). */
typedef struct huge_link {
    struct huge_link *next;
    struct huge_link *prev;
} huge_link_t;

/* One page: a run of equal-sized blocks of one class. Exactly 64 bytes so that the free path's
 * index-to-descriptor step is a shift. */
typedef struct page {
    block_t *free;        /* blocks malloc pops (owner only) */
    block_t *local_free;  /* blocks the owner freed; become `free` when it runs dry */
    uintptr_t thread_free; /* blocks other threads freed (atomic push, owner takes all), and
                              THREAD_FREE_NOTIFY while the page waits in its full queue */
    struct page *next;    /* neighbours in the heap's available or full queue */
    struct page *prev;
    uint32_t used;        /* blocks handed out, not yet freed locally or collected */
    uint32_t block_size;  /* bytes per block (0 for a free page) */
    uint32_t capacity;    /* blocks carved so far (the free list grows lazily) */
    uint32_t area_offset; /* first block, as an offset from the segment start */
    uint16_t reserved;    /* blocks that fit in the page (at most 4096) */
    uint8_t size_class;   /* class served; 0 when the page is free */
    uint8_t in_full;      /* in the heap's full queue; `used` then reads FULL_PAGE_USED */
    uint8_t free_is_zero; /* every block on `free` is zero (except its next word) */
    uint8_t mem_zero;     /* the page's memory reads zero (fresh map or decommitted) */
    uint8_t hardened;     /* started in the hardened mode: its blocks carry canaries */
} __attribute__((aligned(64))) page_t;
_Static_assert(sizeof(page_t) == 64, "page descriptors are indexed with a shift");

/* A segment: header at the start of its mapping, then the pages. A huge segment is a region of
 * huge blocks (huge.c keeps its own headers inside it). */
typedef struct segment {
    uintptr_t owner;      /* heap tag of the owner thread; 0 abandoned or huge */
    uint32_t page_shift;  /* log2 of the page size (63 for huge: one page) */
    uint32_t kind;        /* enum segment_kind */
    uintptr_t cookie;     /* SEGMENT_COOKIE ^ address: a quick sanity check */
    size_t map_size;      /* bytes mapped at the segment start */
    struct segment *next; /* heap segment list, abandoned list or huge cache */
    struct segment *prev;
    struct segment *all_next;              /* every small and medium segment mapped (walks) */
    struct segment *all_prev;
    uint64_t free_mask;                    /* pages not in use */
    uint64_t dirty_mask;                   /* free pages not yet returned to the OS */
    uint32_t page_count;                   /* pages in this segment */
    uint32_t used_pages;                   /* pages serving a class */
    uint32_t header_size;                  /* bytes before the first page's blocks may start */
    uint32_t is_abandoned;                 /* on an abandoned list (under its lock) */
    uint32_t guarded;                      /* its last OS page is a guard page (hardened) */
    uint32_t retired_ms[SMALL_PAGE_COUNT]; /* when each free page was retired (for purging) */
    uint16_t sampled[SMALL_PAGE_COUNT];    /* heap profiler: sampled live blocks per page */
    page_t pages[];                        /* page_count descriptors */
} segment_t;

/* A doubly linked queue of pages. */
typedef struct {
    page_t *head;
    page_t *tail;
} page_queue_t;

/* Counters kept per heap without atomics (owner thread only), summed for reports. */
#define FAST_HEAP_STATS(X)                                                                         \
    X(malloc_slow, "mallocs that took the slow path")                                              \
    X(free_slow, "frees that took the slow path")                                                  \
    X(remote_frees, "frees of blocks owned by another thread")                                     \
    X(pages_started, "pages given a size class")                                                   \
    X(pages_retired, "empty pages returned to their segment")                                      \
    X(pages_purged, "free pages returned to the OS")                                               \
    X(delayed_frees, "remote frees into full pages handed to the owner heap")                    \
    X(remote_batches, "batches of remote frees handed over")

/* Counters for rare events, shared by all threads (relaxed atomics). */
#define FAST_GLOBAL_STATS(X)                                                                       \
    X(heapless_frees, "frees by threads that never allocated")                                     \
    X(heaps_created, "thread heaps created")                                                       \
    X(threads_exited, "thread heaps released at thread exit")                                      \
    X(segments_mapped, "segments mapped")                                                          \
    X(segments_unmapped, "segments unmapped")                                                      \
    X(segments_abandoned, "segments abandoned by exiting threads")                                 \
    X(segments_adopted, "abandoned segments adopted")                                              \
    X(segment_bytes, "bytes in small and medium segments now")                                     \
    X(page_bytes_in_use, "bytes of pages serving a class now")                                     \
    X(huge_allocs, "huge (over 128 KiB) allocations")                                              \
    X(huge_frees, "huge frees")                                                                    \
    X(huge_cache_hits, "huge allocations served from a free span")                                 \
    X(huge_bytes_in_use, "bytes of huge blocks handed out now")                                    \
    X(huge_blocks_in_use, "huge blocks handed out now")                                            \
    X(huge_cache_bytes, "bytes of free huge spans kept mapped now")                                \
    X(huge_splits, "huge spans split")                                                             \
    X(huge_merges, "huge spans merged with a free neighbour")                                      \
    X(huge_decommits, "free huge spans decommitted (decay or budget)")                             \
    X(huge_regions_mapped, "huge regions mapped")                                                  \
    X(huge_regions_unmapped, "huge regions unmapped")                                              \
    X(trims, "calls to malloc_trim or hk_trim")

enum { FAST_HEAP_STATS(HK_STAT_ENUM) FAST_HEAP_STAT_COUNT };
enum { FAST_GLOBAL_STATS(HK_STAT_ENUM) FAST_GLOBAL_STAT_COUNT };

/* A thread's heap. `direct` comes first: the malloc fast path reads one word of it. */
struct heap {
    page_t *direct[DIRECT_COUNT];      /* current page for each request size up to DIRECT_MAX */
    uintptr_t tag;                     /* this heap's owner value in its segments */
    uint32_t slot;                     /* creation index; gives the registry values below */
    uint16_t registry_value;           /* registry value of its small segments (medium: + 1) */
    uint16_t free_key;                 /* what the free fast path compares: registry_value, or
                                          REGISTRY_NEVER in checked mode */
    page_queue_t avail[CLASS_COUNT];   /* pages that may have free blocks; head is current */
    page_queue_t full[CLASS_COUNT];    /* pages found full; wait for remote frees */
    segment_t *seg_avail[2];           /* owned small / medium segments with a free page */
    segment_t *seg_full[2];            /* owned segments with every page in use */
    uint32_t empty_segments[2];        /* owned segments with no page in use */
    uint64_t idle_current[2];          /* classes whose current page was empty at the last
                                          idle check (a bit per class) */
    uint64_t classes_used[2];          /* classes that had a page in a queue since the last
                                          reset: loops over classes skip the others */
    uint64_t classes_allocated[2];     /* classes its malloc looked for a page of since the
                                          last reset: only their current page stays when empty */
    uint32_t direct_ready;             /* the direct table has been filled once */
    uint64_t series_live;              /* live bytes at this heap's last series point */
    uint32_t next_idle_check_ms;       /* when current pages are next checked for idleness */
    uint32_t now_ms;                   /* coarse clock, refreshed in the slow path */
    uint32_t next_purge_ms;            /* when the next purge pass is due */
    uint32_t dirty_pages;              /* free pages waiting to be purged */
    size_t dirty_bytes;                /* their bytes */
    uint32_t in_use;                   /* serving a live thread, or a program's own heap */
    uint32_t user;                     /* a program's own heap (hk_heap_new), no thread's */
    huge_link_t huge_owned;            /* user heaps: their huge blocks (under the huge lock) */
    heap_t *pool_next;                 /* heap pool free list */
    heap_t *all_next;                  /* every heap ever made (for statistics) */
    uint64_t stats[FAST_HEAP_STAT_COUNT];
    /* This heap's frees of other heaps' blocks, batched per page (see free_remote). */
    struct remote_batch {
        page_t *page;  /* the page its blocks belong to, or NULL */
        block_t *head; /* newest block; linked through next */
        block_t *tail; /* oldest block */
        uint32_t count;
    } remote[REMOTE_BATCH_SLOTS];
    /* Written by other threads: blocks they freed into this heap's full pages, for the owner
     * to free in its slow path. On its own cache line. */
    block_t *delayed __attribute__((aligned(64)));
    /* Hardened mode: blocks this heap's thread freed, junk-filled, waiting to be really freed
     * (harden.c). */
    struct quarantine {
        struct quarantined {
            void *block;
            uint32_t extent; /* bytes junk-filled from block */
        } slot[QUARANTINE_SLOTS];
        uint32_t count;
        size_t bytes;
        uint64_t rng; /* which block leaves when it is full */
    } quarantine __attribute__((aligned(64)));
};

/* ---- Globals ------------------------------------------------------------------------------- */

/* What the fast paths need of the calling thread, in one TLS block: its heap (or
 * &fast_empty_heap before its first allocation) and the registry value that marks its small
 * segments (REGISTRY_NEVER without a heap, or in checked mode). */
typedef struct {
    heap_t *heap;
    uint16_t free_key;
} fast_thread_t;
extern __thread fast_thread_t fast_tls;
extern heap_t fast_empty_heap;         /* every direct entry -> fast_empty_page */
extern page_t fast_empty_page;         /* free == NULL: sends malloc to the slow path */
extern uint64_t fast_global_stats[FAST_GLOBAL_STAT_COUNT];

typedef struct {
    bool check;              /* HEAPKIT_CHECK: validate every free */
    bool verbose;            /* HEAPKIT_VERBOSE */
    bool profile;            /* HEAPKIT_PROF: every malloc and free through the slow path */
    bool harden;             /* HEAPKIT_HARDEN (or a -DHK_HARDEN_ALWAYS build): harden.c */
    bool slow_only;          /* profile or harden: empty direct tables, no free key */
    uint32_t purge_delay_ms; /* HEAPKIT_PURGE_DELAY_MS */
    uint32_t huge_decay_ms;  /* HEAPKIT_HUGE_DECAY_MS */
} fast_options_t;
extern fast_options_t fast_options;

/* ---- Segment registry ---------------------------------------------------------------------- */

/* Two bytes per 4 MiB of the 47-bit user address space (64 MiB of zero-fill bss, of which only
 * the touched pages cost memory: one OS page covers 8 GiB): what, if anything, of ours starts
 * in or covers that chunk, and for a small or medium segment which heap owns it. Free reads it
 * before touching the pointer's segment, so foreign pointers are told apart without reading
 * foreign memory, and the same load answers "is this my segment" (value == my free key). */
#define REGISTRY_BITS (47 - SEGMENT_SHIFT)
#define REGISTRY_SIZE ((size_t)1 << REGISTRY_BITS)
enum {
    REGISTRY_NONE = 0,  /* nothing of ours */
    REGISTRY_TAIL = 1,  /* inside a huge mapping that starts in an earlier chunk */
    REGISTRY_HUGE = 2,  /* a huge segment starts here */
    REGISTRY_LOOSE = 3, /* a small or medium segment without an owner with a slot: abandoned,
                           cached, or owned by a heap past REGISTRY_SLOTS */
    REGISTRY_OWNED = 4, /* + 2 * owner's slot, + 1 for a medium segment */
};
#define REGISTRY_SLOTS 32000     /* heaps with a registry value of their own */
#define REGISTRY_NEVER 0xFFFFu   /* a free key no registry entry holds */
extern uint16_t fast_registry[REGISTRY_SIZE];

HK_INLINE size_t registry_index(const void *p)
{
    return ((uintptr_t)p >> SEGMENT_SHIFT) & (REGISTRY_SIZE - 1);
}

/* ---- Size classes -------------------------------------------------------------------------- */

HK_INLINE unsigned size_class_of(size_t n)
{
    if (n <= 128) return n <= 16 ? 1u : (unsigned)((n + 15) >> 4);
    unsigned b = 63u - (unsigned)__builtin_clzll((unsigned long long)(n - 1));
    unsigned q = (unsigned)((n - 1) >> (b - 3)) - 8u;
    return 9u + (b - 7u) * 8u + q;
}

HK_INLINE size_t class_block_size(unsigned c)
{
    if (c <= 8) return (size_t)c * 16;
    unsigned k = c - 9, b = 7 + k / 8, q = k % 8;
    return ((size_t)1 << b) + (size_t)(q + 1) * ((size_t)1 << (b - 3));
}

HK_INLINE segment_t *segment_of(const void *p)
{
    return (segment_t *)((uintptr_t)p & ~(uintptr_t)SEGMENT_MASK);
}

HK_INLINE page_t *page_of(const segment_t *segment, const void *p)
{
    size_t index = ((uintptr_t)p - (uintptr_t)segment) >> segment->page_shift;
    return (page_t *)&segment->pages[index];
}

HK_INLINE uint8_t *page_area(const segment_t *segment, const page_t *page)
{
    return (uint8_t *)segment + page->area_offset;
}

/* ---- Slow paths (other files) -------------------------------------------------------------- */

/* heap.c */
/* The slow paths stay out of line (also under LTO), so the fast paths need no stack frame. */
HK_NOINLINE void *fast_malloc_generic(size_t size, heap_t *heap, bool zero);
void *fast_malloc_class(heap_t *heap, unsigned size_class, bool zero);
heap_t *fast_heap_get(void); /* the calling thread's heap, made on first use; NULL on OOM */
HK_NOINLINE void fast_free_generic(void *p, const char *who);
HK_NOINLINE void fast_page_emptied(heap_t *heap, page_t *page);
void fast_heap_collect(heap_t *heap, bool force);
void fast_options_init(void);
void fast_stats_sum_heaps(uint64_t out[FAST_HEAP_STAT_COUNT]);
uint32_t fast_now_ms(void);

/* segment.c */
segment_t *fast_segment_resolve(const void *p); /* registry lookup; NULL if not ours */
page_t *fast_segment_page_alloc(heap_t *heap, unsigned kind);
void fast_segment_page_free(heap_t *heap, segment_t *segment, page_t *page);
void fast_segment_page_release(heap_t *heap, segment_t *segment, page_t *page); /* no purge */
void fast_segment_release_extra(heap_t *heap, unsigned kind);
void fast_segment_cache_flush(void);
void fast_segment_cache_tick(uint32_t now);
void fast_segment_purge_pages(heap_t *heap);
void fast_segment_purge(heap_t *heap, bool force);
void fast_segment_abandon_all(heap_t *heap);
bool fast_segment_adopt(heap_t *heap, unsigned kind);
bool fast_segment_adopt_this(heap_t *heap, segment_t *segment);
void fast_registry_set(void *start, size_t size, bool on); /* huge mappings */
void fast_registry_mark(segment_t *segment, uint16_t value); /* one-chunk segments */
uint16_t fast_registry_value_for(const heap_t *heap, unsigned kind);
void fast_segment_list_remove(segment_t **list, segment_t *segment);
void fast_segment_list_push(segment_t **list, segment_t *segment);
void fast_segment_register_locks(void);
/* Calls fn for every small and medium segment mapped (owned, abandoned or cached), holding the
 * lock that keeps them mapped; stops when fn returns false. */
bool fast_segment_each(bool (*fn)(segment_t *segment, void *arg), void *arg);
bool fast_segment_is_cached(const segment_t *segment);
void fast_heap_adopt_page(heap_t *heap, page_t *page); /* heap.c */
void fast_heap_flush_remote(heap_t *heap);              /* heap.c */
void fast_heap_drain_delayed(heap_t *heap);             /* heap.c */
void fast_heap_drain_pooled(void);                      /* heap.c */
void fast_series_note(heap_t *heap);                    /* heap.c */

/* page.c */
void fast_page_init(segment_t *segment, page_t *page, unsigned size_class);
bool fast_page_refill(page_t *page); /* local/thread frees or fresh blocks into free */
bool fast_page_reuse(page_t *page);  /* local/thread frees into free */
void fast_page_free_all(page_t *page); /* every carved block free again */
void fast_page_vg_forget_live(page_t *page); /* memcheck: its live blocks freed (reset) */
uint32_t fast_page_collect_thread_free(page_t *page);
bool fast_page_mark_full(page_t *page); /* false: other threads freed into it meanwhile */
void fast_page_unmark_full(page_t *page);

HK_INLINE block_t *thread_free_blocks(uintptr_t value)
{
    return (block_t *)(value & ~THREAD_FREE_NOTIFY);
}
void fast_queue_push_front(page_queue_t *q, page_t *page);
void fast_queue_push_back(page_queue_t *q, page_t *page);
void fast_queue_remove(page_queue_t *q, page_t *page);
void fast_heap_set_direct(heap_t *heap, unsigned size_class, page_t *page);

/* The next class after c that had a page in one of the heap's queues since its reset, or
 * CLASS_COUNT: for (c = heap_used_class_after(heap, 0); c < CLASS_COUNT; c = ...(heap, c)). */
HK_INLINE unsigned heap_used_class_after(const heap_t *heap, unsigned c)
{
    for (unsigned word = (c + 1) / 64; word < 2; word++) {
        uint64_t bits = heap->classes_used[word];
        if (word == (c + 1) / 64) bits &= ~(uint64_t)0 << ((c + 1) % 64);
        if (bits) return word * 64 + (unsigned)__builtin_ctzll(bits);
    }
    return CLASS_COUNT;
}

HK_INLINE void heap_class_used(heap_t *heap, unsigned c)
{
    heap->classes_used[c / 64] |= (uint64_t)1 << (c % 64);
}
bool fast_block_is_free(const page_t *page, const void *p);

/* harden.c: the hardened mode (fast_options.harden), every call routed here */
void *fast_hardened_malloc(heap_t *heap, size_t size, size_t alignment, bool zero);
void fast_hardened_free(void *p, const char *who);
void *fast_hardened_realloc(heap_t *heap, void *p, size_t size, const char *who);
size_t fast_hardened_usable(const void *p, const char *who);
bool fast_hardened_size_matches(const void *p, size_t size, const char *who);
void fast_quarantine_flush(heap_t *heap, const char *who);
block_t *fast_page_shuffle(uint8_t *first, size_t block_size, uint32_t count);
void fast_free_plain(void *p, const char *who); /* heap.c: the free slow path itself */
/* heap.c: the rest of a free once its page is known (the hardened quarantine's real free) */
void fast_free_in_page(heap_t *heap, segment_t *segment, page_t *page, void *p, const char *who);
/* heap.c: checks every free list of the heap's pages (malloc_trim): a block freed twice, or a
 * pointer freed that was not a block's start, is reported there if no check caught it first. */
void fast_heap_validate(heap_t *heap, const char *who);
page_t *fast_heap_page_for(heap_t *heap, unsigned size_class);

/* profile.c: the heap profiler's hooks (profiling on only) */
void fast_prof_allocated(void *p, size_t size);
void fast_prof_freeing(segment_t *segment, void *p);
void fast_prof_resized(void *p, size_t size);

/* huge.c */
void *fast_huge_malloc(size_t size, size_t alignment, bool zero);
void *fast_huge_malloc_reserve(size_t size, size_t alignment, bool zero, size_t reserve);
bool fast_huge_resize(segment_t *segment, void *p, size_t size, const char *who);
size_t fast_huge_usable(const segment_t *segment, const void *p, const char *who);
void *fast_huge_malloc_owned(size_t size, size_t alignment, bool zero, size_t reserve,
                             heap_t *owner);
void fast_huge_free_owned(heap_t *owner); /* every huge block of a program's own heap */
bool fast_huge_owned_by(const segment_t *segment, const void *p, heap_t *owner);
bool fast_huge_set_sampled(segment_t *segment, void *p, bool sampled); /* returns the old */
/* Hardened mode: a block with a guard page after it (its extent: the bytes up to the guard,
 * where its canary and size end), and the extent of one (0 when it has no guard). */
void *fast_huge_malloc_guarded(size_t size, size_t alignment, heap_t *owner, size_t reserve,
                               size_t *extent);
bool fast_huge_resize_guarded(segment_t *segment, void *p, size_t size, const char *who,
                              size_t *extent);
size_t fast_huge_guarded_extent(const segment_t *segment, const void *p, const char *who);
bool fast_huge_is_sampled(segment_t *segment, void *p);
bool fast_huge_check(void);
size_t fast_huge_free_committed_bytes(void); /* estimate, read without the lock */
bool fast_huge_walk(hk_block_visitor_t visitor, void *arg, int max_level);
void fast_huge_free(segment_t *segment, void *p, const char *who);
bool fast_huge_trim(void);
void fast_huge_tick(uint32_t now);
void fast_huge_register_locks(void);

/* fast_engine.c (with fast.h's functions) */
void fast_stats_snapshot(uint64_t heap_out[FAST_HEAP_STAT_COUNT],
                         uint64_t global_out[FAST_GLOBAL_STAT_COUNT]);

/* ---- Fast paths ---------------------------------------------------------------------------- */

/* Takes the first block of the page's free list (not empty). When zero_bytes is not 0, the
 * block's first zero_bytes bytes are cleared, or only its link word when the list is known to
 * read as zero (fresh or purged memory). */
HK_INLINE block_t *page_pop(page_t *page, size_t zero_bytes)
{
    block_t *block = page->free;
    page->free = block->next;
    page->used++;
    HK_VG_MALLOCLIKE(block, page->block_size, page->free_is_zero && zero_bytes);
    if (zero_bytes) {
        if (page->free_is_zero)
            block->next = NULL;
        else
            memset(block, 0, zero_bytes);
    }
    return block;
}

HK_INLINE void *fast_malloc(size_t size)
{
    heap_t *heap = fast_tls.heap;
    if (hk_likely(size <= DIRECT_MAX)) {
        page_t *page = heap->direct[size];
        if (hk_likely(page->free != NULL)) return page_pop(page, 0);
    }
    return fast_malloc_generic(size, heap, false);
}

/* The page descriptor of p in a small segment: pages are 64 KiB and descriptors 64 bytes, so
 * it is one shift and one mask from p (medium segments, whose pages are larger, never reach
 * this: their registry value differs from every free key). */
HK_INLINE page_t *small_page_of(segment_t *segment, const void *p)
{
    size_t offset = ((uintptr_t)p >> (SMALL_PAGE_SHIFT - 6)) & ((SMALL_PAGE_COUNT - 1) << 6);
    return (page_t *)((uint8_t *)segment->pages + offset);
}

/* A block being freed, for memcheck (VALGRIND=1 builds): no longer allocated, no access but to
 * its first word, which free lists link through (every walk of a list reads it). */
HK_INLINE void block_vg_freed(void *p)
{
    (void)p;
    HK_VG_FREELIKE(p);
    HK_VG_DEFINED(p, sizeof(block_t));
}

/* The free fast path: one registry load says both "a small segment of ours starts in p's
 * chunk" and "the calling thread owns it" (NULL, foreign, huge, medium, remote, abandoned and
 * checked-mode frees all differ and go to fast_free_generic). */
HK_INLINE void fast_free(void *p, const char *who)
{
    size_t chunk = registry_index(p);
    /* Written by other threads (segments registered, adopted): read atomically (relaxed, so
     * the same one load). */
    if (hk_likely(__atomic_load_n(&fast_registry[chunk], __ATOMIC_RELAXED) == fast_tls.free_key)) {
        segment_t *segment = (segment_t *)(chunk << SEGMENT_SHIFT);
        page_t *page = small_page_of(segment, p);
        block_t *block = (block_t *)p;
        block_vg_freed(block);
        block->next = page->local_free;
        page->local_free = block;
        /* An emptied page may be retired; a full page (FULL_PAGE_USED) goes back to its
         * queue. */
        if (hk_unlikely(--page->used == 0)) fast_page_emptied(fast_tls.heap, page);
        return;
    }
    fast_free_generic(p, who);
}

#endif
