/* heapkit — the public API of libheapkit beyond the standard malloc family.
 * Link with -lheapkit (or preload libheapkit.so); every function here is safe to call from
 * any thread and never allocates. */
#ifndef HEAPKIT_H
#define HEAPKIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The release, major.minor.patch. This line is where the version is written: the build reads it
 * from here for the libraries' names, the pkg-config and CMake files and the packages. */
#define HEAPKIT_VERSION "0.2.0"

/* The library's version, e.g. "0.2.0": the same as HEAPKIT_VERSION when the headers and the
 * library come from the same release. */
const char *hk_version(void);

/* Writes the allocator's statistics as text to fd. */
void hk_stats_print(int fd);

/* (Named _to_json: core/stats.h already uses hk_stats_json internally.)
 * Writes the statistics as one JSON object into buf (at most cap bytes, NUL-terminated when
 * cap > 0); returns the length the whole object has (compare with cap to detect truncation). */
size_t hk_stats_to_json(char *buf, size_t cap);

/* Collects the calling thread's heap: blocks other threads freed, empty pages. force also
 * returns every free page to the OS now. */
void hk_collect(bool force);

/* Returns free memory to the OS now (like malloc_trim(0)); true when some was released. */
bool hk_trim(void);

/* ---- Heap profile ---------------------------------------------------------------------------
 * With HEAPKIT_PROF=1 the allocator samples about one allocation per HEAPKIT_PROF_SAMPLE bytes
 * (512 KiB by default) and records its call stack while the block lives. (libheapkit-buddy
 * exports this function too.) */

/* Writes the profile of the sampled live blocks now: path gets the gperftools heap-profile
 * text format (`google-pprof --text PROGRAM path`), and path with .heap replaced by .folded (or
 * .folded appended) the folded stacks, "outer;...;inner bytes" per line, for flame graphs; the
 * same name with .alloc.folded gets the folded stacks of every sampled allocation so far, freed
 * ones included. path NULL: the exit dump's path. Returns 0, or an errno value (ENOTSUP when HEAPKIT_PROF is
 * off). */
int hk_prof_dump(const char *path);

/* ---- Heaps of your own ----------------------------------------------------------------------
 * A heap a program creates, allocates from and then frees whole, like an arena or a pool: one
 * reset or destroy frees every block in it at once, and its pages go back for reuse (destroy:
 * back to the OS after the purge delay). Allocation from a heap is for one thread at a time
 * (lock around it if several threads share one); any thread may free one of its blocks with
 * free() until the heap is reset or destroyed. A block freed (or used) after that is a
 * use-after-free; with HEAPKIT_CHECK=1 a destroyed heap's memory is unmapped at once, so such a
 * free ends the program with a one-line report. The functions below follow the malloc family's
 * rules: NULL and ENOMEM when memory runs out or a size overflows. */
typedef struct hk_heap hk_heap_t;

hk_heap_t *hk_heap_new(void);
void *hk_heap_malloc(hk_heap_t *heap, size_t size);
void *hk_heap_calloc(hk_heap_t *heap, size_t count, size_t size);
/* realloc into the heap: p may be NULL (malloc), or a block of any heap (moved into this one
 * when it does not fit in place); size 0 frees p and returns NULL. */
void *hk_heap_realloc(hk_heap_t *heap, void *p, size_t size);
/* Frees every block of the heap; it stays usable. */
void hk_heap_reset(hk_heap_t *heap);
/* Frees every block of the heap and the heap itself. */
void hk_heap_destroy(hk_heap_t *heap);

/* ---- Heap walks ----------------------------------------------------------------------------
 * Every heapkit engine can describe its memory as a tree, without allocating: segments (a
 * mapping or heap extent it owns), pages (runs of blocks of one size) and blocks. A walk calls
 * the visitor once per item, parents before their children. */

typedef enum {
    HK_LEVEL_SEGMENT = 0, /* a mapping or heap extent: segment, huge region, chunk, VM page */
    HK_LEVEL_PAGE = 1,    /* a run of blocks of one size (or a huge span) */
    HK_LEVEL_BLOCK = 2,   /* one block */
} hk_level_t;

typedef enum {
    HK_STATE_USED = 0,   /* handed out (a segment or page with any block in use) */
    HK_STATE_FREE = 1,   /* free, its memory still committed */
    HK_STATE_PURGED = 2, /* free, its memory given back to the OS (reads as zero) */
    HK_STATE_CACHED = 3, /* kept aside for reuse (an empty segment or chunk in a cache) */
} hk_state_t;

typedef struct hk_block_info {
    uint8_t level;        /* hk_level_t */
    uint8_t state;        /* hk_state_t */
    uint16_t reserved;
    uint32_t size_class;  /* the engine's class or order of a page or block (0: none) */
    uintptr_t address;    /* first byte */
    size_t size;          /* bytes it spans */
    size_t block_size;    /* pages: bytes per block (0 for a free page); blocks: usable bytes */
    size_t used_blocks;   /* pages: blocks handed out; segments: bytes handed out */
    size_t free_blocks;   /* pages: blocks free; segments: bytes free */
    const char *label;    /* what it is, a static string ("small segment", "huge span", ...) */
} hk_block_info_t;

/* Return false to stop the walk. The visitor runs under the allocator's locks: it must not
 * allocate or free (write what it learns to a file or a buffer of its own). */
typedef bool (*hk_block_visitor_t)(const hk_block_info_t *info, void *arg);

/* Walks the heap down to max_level (HK_LEVEL_PAGE keeps big heaps quick; HK_LEVEL_BLOCK visits
 * every block). Pages of other threads' heaps are described from their counters only (their
 * free lists change under the walk); the calling thread's pages and unowned ones, block by
 * block. Returns false when the visitor stopped it. */
bool hk_visit_blocks(hk_block_visitor_t visitor, void *arg, int max_level);

/* Writes the heap map (every item of a walk, as one JSON object) to path; 0, or an errno value.
 * HEAPKIT_MAP_FILE=path writes it when the program exits. */
int hk_map_dump(const char *path);

#ifdef __cplusplus
}
#endif

#endif
