/* The fast engine's hardened mode: HEAPKIT_HARDEN=1, or always in libheapkit-secure.so
 * (-DHK_HARDEN_ALWAYS=1). Every malloc and free then takes this file's paths (the direct tables
 * stay empty and the threads' free keys match no registry entry, as with the heap profiler), so
 * the default mode's fast paths are exactly what they are without it.
 *
 * A block handed out hardened, of `asked` bytes in a block of `extent` bytes (its class's size,
 * or up to the guard page after a huge block), reads
 *
 *     [0, asked)              the program's bytes
 *     [asked, extent - 8)     canary: a pattern from the block's address and the secret, at
 *                             least one byte (a one-byte overflow is caught)
 *     [extent - 8, extent)    the size asked, xor a key from the block's address and the secret
 *
 * and is checked whole on free, realloc and malloc_usable_size: a size that does not decode
 * (overwritten) or a changed canary byte is a heap overflow. A freed block is filled with junk
 * (0xdf, its last word too: a second free or a realloc finds junk where the size was) and waits
 * in its thread's quarantine, 256 blocks or 2 MiB, from which a random one leaves when it is
 * full; when it leaves (or on malloc_trim, or when its thread exits) its junk is checked, so a
 * write after free is caught whether or not the memory was reused, then it is really freed.
 * Blocks pop from their page's free list only if the link they leave behind lies in the page on
 * a block boundary, and a page's fresh blocks are linked in a random order. Pointers not at a
 * block start are rejected. Huge blocks end at a guard page, and their pages fault from free
 * until the space is handed out again (huge.c); every small and medium segment ends with a
 * guard page (segment.c). malloc(0) returns a distinct address in a region that faults on any
 * access. */
#include <stdint.h>
#include <string.h>

#include "core/canary.h"
#include "core/checked.h"
#include "core/lock.h"
#include "core/misuse.h"
#include "core/secret.h"
#include "fast/fast_internal.h"
#include "os/sys.h"

#define TRAILER_BYTES 8
/* The bytes a block needs beyond the request: one of canary, the size's word. */
#define HARDENED_EXTRA (1 + TRAILER_BYTES)

#define KEY_SIZE   0x73697a652d6b6579ull /* "size-key" */
#define KEY_CANARY 0x63616e6172792d6bull /* "canary-k" */
#define KEY_RNG    0x7175617261746e65ull /* "quaratne" */

/* ---- Zero-size blocks ----------------------------------------------------------------------- */

/* malloc(0) hands out 16-byte slots of a region mapped without access (64 MiB of address space,
 * no memory), one bit each in a bitmap: reading or writing one faults, freeing one twice is a
 * double free. When every slot is taken, a 0-byte block with a canary is handed out instead. */
#define ZERO_SLOT_BYTES   16
#define ZERO_REGION_BYTES ((size_t)64 << 20)
#define ZERO_SLOTS        (ZERO_REGION_BYTES / ZERO_SLOT_BYTES)

static hk_lock_t zero_lock = HK_LOCK_INIT;
static uint8_t *zero_region; /* set once, under zero_lock; read without it */
static uint64_t *zero_bits;
static size_t zero_next; /* where the search for a free slot starts */

static bool is_zero_slot(const void *p)
{
    uint8_t *region = __atomic_load_n(&zero_region, __ATOMIC_ACQUIRE);
    return region && (const uint8_t *)p >= region &&
           (const uint8_t *)p < region + ZERO_REGION_BYTES;
}

static void *zero_alloc(void)
{
    hk_lock_register(&zero_lock);
    hk_lock(&zero_lock);
    if (!zero_region) {
        void *region, *bits;
        if (sys_map(ZERO_REGION_BYTES, &region) != 0) goto none;
        if (sys_protect(region, ZERO_REGION_BYTES, SYS_PROT_NONE) != 0 ||
            sys_map(ZERO_SLOTS / 8, &bits) != 0) {
            sys_unmap(region, ZERO_REGION_BYTES);
            goto none;
        }
        zero_bits = bits;
        __atomic_store_n(&zero_region, (uint8_t *)region, __ATOMIC_RELEASE);
    }
    for (size_t n = 0; n < ZERO_SLOTS / 64; n++) {
        size_t word = (zero_next / 64 + n) % (ZERO_SLOTS / 64);
        uint64_t bits = zero_bits[word];
        if (bits == ~(uint64_t)0) continue;
        unsigned bit = (unsigned)__builtin_ctzll(~bits);
        zero_bits[word] = bits | (uint64_t)1 << bit;
        size_t slot = word * 64 + bit;
        zero_next = slot + 1;
        hk_unlock(&zero_lock);
        return zero_region + slot * ZERO_SLOT_BYTES;
    }
none:
    hk_unlock(&zero_lock);
    return NULL;
}

static void zero_free(const void *p, const char *who)
{
    size_t offset = (size_t)((const uint8_t *)p - zero_region);
    if (offset % ZERO_SLOT_BYTES) hk_misuse(HK_MISUSE_INVALID_POINTER, p, who);
    size_t slot = offset / ZERO_SLOT_BYTES;
    uint64_t bit = (uint64_t)1 << (slot % 64);
    hk_lock(&zero_lock);
    bool taken = zero_bits[slot / 64] & bit;
    zero_bits[slot / 64] &= ~bit;
    hk_unlock(&zero_lock);
    if (!taken) hk_misuse(HK_MISUSE_DOUBLE_FREE, p, who);
}

/* ---- A block's layout ---------------------------------------------------------------------- */

/* The mode's keys, drawn from the secret once. */
static uint64_t keys[3];
enum { KEY_OF_SIZE, KEY_OF_CANARY, KEY_OF_RNG };

HK_INLINE uint64_t key(unsigned which)
{
    uint64_t k = __atomic_load_n(&keys[which], __ATOMIC_RELAXED);
    if (hk_unlikely(k == 0)) {
        static const uint64_t purposes[] = {KEY_SIZE, KEY_CANARY, KEY_RNG};
        k = hk_secret_key(purposes[which]) | 1; /* never 0 */
        __atomic_store_n(&keys[which], k, __ATOMIC_RELAXED);
    }
    return k;
}

/* The size word's key for a block: its address mixed in, so a word copied from another block
 * does not decode. */
HK_INLINE uint64_t size_key(const void *block)
{
    return key(KEY_OF_SIZE) ^ (uint64_t)(uintptr_t)block;
}

/* The canary pattern of a block: from its address and the secret (core/canary.h). */
HK_INLINE uint64_t canary_of(const void *block)
{
    return hk_canary_pattern(block, key(KEY_OF_CANARY));
}

static uint64_t *trailer_of(void *block, size_t extent)
{
    return (uint64_t *)((uint8_t *)block + extent - TRAILER_BYTES);
}

/* The canary lies in the bytes from `asked` up to the size word, byte i holding the pattern's
 * byte i % 8 (hk_pattern_fill); the program's bytes below `asked` are never read. */

/* Writes the canary and the size word behind asked bytes (extent >= asked + HARDENED_EXTRA). */
static void block_tail(void *block, size_t extent, size_t asked)
{
    uint64_t *trailer = trailer_of(block, extent);
    hk_pattern_fill((uint8_t *)block + asked, (size_t)((uint8_t *)trailer - (uint8_t *)block) - asked,
                    canary_of(block));
    *trailer = (uint64_t)asked ^ size_key(block);
}

/* The same for a block resized in place within the same extent from old to asked bytes: the
 * canary beyond both is already there (a canary byte depends on its address only), so only the
 * bytes the program gave back and the size word are written. */
static void block_retail(void *block, size_t extent, size_t old, size_t asked)
{
    if (asked < old) hk_pattern_fill((uint8_t *)block + asked, old - asked, canary_of(block));
    *trailer_of(block, extent) = (uint64_t)asked ^ size_key(block);
}

/* The first canary byte changed, or NULL. */
static const uint8_t *canary_mismatch(void *block, size_t extent, size_t asked)
{
    const uint8_t *start = (const uint8_t *)block + asked;
    return hk_pattern_mismatch(start, (size_t)((const uint8_t *)trailer_of(block, extent) - start),
                               canary_of(block));
}

/* The first byte of a freed block that is not junk, or NULL: 8-byte words, from a multiple of
 * 16 to one. */
static const uint8_t *junk_mismatch(const void *block, size_t extent)
{
    if (extent > 128) return hk_pattern_mismatch(block, extent, HK_JUNK_PATTERN);
    const uint64_t *word = block, *end = (const uint64_t *)((const uint8_t *)block + extent);
    uint64_t diff = 0;
    for (; word < end && !diff; word += 2)
        diff = (word[0] ^ HK_JUNK_PATTERN) | (word[1] ^ HK_JUNK_PATTERN);
    if (!diff) return NULL;
    return hk_pattern_mismatch(word - 2, 16, HK_JUNK_PATTERN);
}

/* Lays a fresh block out for asked bytes. Its first bytes get junk unless zeroed: a stale
 * free-list link there would otherwise read as a pointer. */
static void block_out(void *block, size_t extent, size_t asked, bool zero)
{
    if (zero) {
        memset(block, 0, asked);
    } else { /* two words: every block has 16 bytes, and block_tail writes from asked on */
        ((uint64_t *)block)[0] = HK_JUNK_PATTERN;
        ((uint64_t *)block)[1] = HK_JUNK_PATTERN;
    }
    block_tail(block, extent, asked);
}

/* Fills a freed block with junk: small ones two words at a time, inline. */
static void junk_fill(void *block, size_t extent)
{
    if (extent > 128) {
        memset(block, HK_JUNK_BYTE, extent);
        return;
    }
    uint64_t *word = block, *end = (uint64_t *)((uint8_t *)block + extent);
    for (; word < end; word += 2) {
        word[0] = HK_JUNK_PATTERN;
        word[1] = HK_JUNK_PATTERN;
    }
}

/* Where a pointer the program handed back lies: a block start of ours, or a misuse report. */
typedef struct {
    segment_t *segment;
    page_t *page;  /* NULL for a huge block */
    size_t extent; /* the block's bytes (up to its guard page for a huge block) */
    bool hardened; /* handed out hardened (blocks from before the mode was read are not) */
} found_t;

static found_t find(const void *p, const char *who)
{
    found_t f = {fast_segment_resolve(p), NULL, 0, false};
    if (hk_unlikely(!f.segment)) hk_misuse(HK_MISUSE_INVALID_POINTER, p, who);
    if (f.segment->kind == SEGMENT_HUGE) {
        f.extent = fast_huge_guarded_extent(f.segment, p, who); /* reports a non-start */
        f.hardened = f.extent != 0;
        if (!f.hardened) f.extent = fast_huge_usable(f.segment, p, who);
        return f;
    }
    f.page = page_of(f.segment, p);
    const uint8_t *area = page_area(f.segment, f.page);
    size_t offset = (size_t)((const uint8_t *)p - area);
    if (hk_unlikely(f.page->size_class == 0 || (const uint8_t *)p < area ||
                    offset % f.page->block_size != 0 ||
                    offset / f.page->block_size >= f.page->reserved)) /* (set once) */
        hk_misuse(HK_MISUSE_INVALID_POINTER, p, who);
    f.extent = f.page->block_size;
    f.hardened = f.page->hardened;
    return f;
}

static bool frees(const char *who)
{
    return strcmp(who, "realloc") != 0 && strcmp(who, "malloc_usable_size") != 0 &&
           strcmp(who, "hk_heap_realloc") != 0;
}

/* The size asked for a hardened block, after checking its size word and its canary: junk there
 * means the block was freed (a double free, or a use of the freed block); anything else that
 * does not decode, or a canary byte changed, is an overflow. */
static size_t checked_asked(void *p, size_t extent, const char *who)
{
    uint64_t stored = *trailer_of(p, extent);
    if (hk_unlikely(stored == HK_JUNK_PATTERN))
        hk_misuse(frees(who) ? HK_MISUSE_DOUBLE_FREE : HK_MISUSE_USE_AFTER_FREE, p, who);
    uint64_t asked = stored ^ size_key(p);
    if (hk_unlikely(asked > extent - HARDENED_EXTRA))
        hk_misuse_detail(HK_MISUSE_OVERFLOW, p, who, "the block's last %d bytes overwritten",
                         TRAILER_BYTES);
    const uint8_t *bad = canary_mismatch(p, extent, (size_t)asked);
    if (hk_unlikely(bad != NULL))
        hk_misuse_detail(HK_MISUSE_OVERFLOW, p, who, "%zu bytes asked, byte %zu overwritten",
                         (size_t)asked, (size_t)(bad - (const uint8_t *)p));
    return (size_t)asked;
}

/* ---- Allocation ---------------------------------------------------------------------------- */

/* Takes the first block of a page's free list, checking the link it leaves behind. */
static void *checked_pop(page_t *page)
{
    block_t *block = page->free;
    block_t *next = block->next;
    if (next) {
        const uint8_t *area = page_area(segment_of(page), page);
        size_t offset = (size_t)((const uint8_t *)next - area);
        if (hk_unlikely((const uint8_t *)next < area || offset % page->block_size != 0 ||
                        offset / page->block_size >= page->capacity))
            hk_misuse(HK_MISUSE_CORRUPT_FREE_LIST, block, "malloc");
    }
    page->free = next;
    page->used++;
    HK_VG_MALLOCLIKE(block, page->block_size, false);
    return block;
}

/* The class whose blocks hold need bytes at the alignment (a multiple of it), or CLASS_COUNT. */
static unsigned class_for(size_t need, size_t alignment)
{
    unsigned c = size_class_of(need < alignment ? alignment : need);
    while (c < CLASS_COUNT && alignment > 16 && class_block_size(c) % alignment != 0)
        c++;
    return c;
}

static void *hardened_malloc(heap_t *heap, size_t size, size_t alignment, bool zero,
                             size_t reserve);

void *fast_hardened_malloc(heap_t *heap, size_t size, size_t alignment, bool zero)
{
    return hardened_malloc(heap, size, alignment, zero, 0);
}

/* reserve: room for the block to grow in place to, when it is a huge one (realloc). */
static void *hardened_malloc(heap_t *heap, size_t size, size_t alignment, bool zero,
                             size_t reserve)
{
    if (alignment < 16) alignment = 16;
    if (size > PTRDIFF_MAX || alignment > PTRDIFF_MAX) return NULL;
    if (heap == &fast_empty_heap && !(heap = fast_heap_get())) return NULL;
    void *p = NULL;
    if (size == 0 && alignment <= ZERO_SLOT_BYTES && (p = zero_alloc()) != NULL) return p;
    size_t need = size + HARDENED_EXTRA;
    unsigned c = need <= MEDIUM_BLOCK_MAX && alignment <= MEDIUM_BLOCK_MAX && !reserve
                     ? class_for(need, alignment)
                     : CLASS_COUNT;
    if (c < CLASS_COUNT) {
        page_t *page = fast_heap_page_for(heap, c);
        if (!page) return NULL;
        p = checked_pop(page);
        if (page->hardened)
            block_out(p, page->block_size, size, zero);
        else if (zero)
            memset(p, 0, page->block_size);
    } else {
        size_t extent;
        p = fast_huge_malloc_guarded(need, alignment, heap->user ? heap : NULL, reserve, &extent);
        if (!p) return NULL;
        block_out(p, extent, size, zero);
    }
    if (hk_unlikely(fast_options.profile)) fast_prof_allocated(p, size);
    return p;
}

/* ---- Free and the quarantine ---------------------------------------------------------------- */

/* A block leaves the quarantine: its junk must be intact; then it is freed for real. It was
 * found and checked when the program freed it, and it is a small or medium block (huge ones
 * never wait here), so its segment and page are a mask and a shift away. */
static void release(void *block, size_t extent, const char *who)
{
    const uint8_t *bad = junk_mismatch(block, extent);
    if (hk_unlikely(bad != NULL))
        hk_misuse_detail(HK_MISUSE_WRITE_AFTER_FREE, block, who,
                         "byte %zu of the freed block changed", (size_t)(bad - (uint8_t *)block));
    segment_t *segment = segment_of(block);
    fast_free_in_page(fast_tls.heap, segment, page_of(segment, block), block, who);
}

static void quarantine(heap_t *heap, void *block, size_t extent, const char *who)
{
    struct quarantine *q = &heap->quarantine;
    if (q->count < QUARANTINE_SLOTS && q->bytes + extent <= QUARANTINE_BYTES) {
        q->slot[q->count++] = (struct quarantined){block, (uint32_t)extent};
        q->bytes += extent;
        return;
    }
    if (q->count == 0) { /* bigger than the whole quarantine */
        release(block, extent, who);
        return;
    }
    if (!q->rng) q->rng = key(KEY_OF_RNG) ^ (uint64_t)(uintptr_t)heap;
    uint32_t i = (uint32_t)(hk_rng_next(&q->rng) % q->count);
    struct quarantined out = q->slot[i];
    q->slot[i] = (struct quarantined){block, (uint32_t)extent};
    q->bytes = q->bytes + extent - out.extent;
    release(out.block, out.extent, who);
    while (q->bytes > QUARANTINE_BYTES && q->count > 1) { /* a big one came in */
        out = q->slot[--q->count];
        q->bytes -= out.extent;
        release(out.block, out.extent, who);
    }
}

void fast_quarantine_flush(heap_t *heap, const char *who)
{
    struct quarantine *q = &heap->quarantine;
    while (q->count) {
        struct quarantined out = q->slot[--q->count];
        q->bytes -= out.extent;
        release(out.block, out.extent, who);
    }
}

/* Frees a hardened block already checked: junk, then the quarantine (a huge block's pages are
 * made inaccessible instead, by huge.c). Blocks of a program's own heap skip the quarantine:
 * hk_heap_destroy may take their memory away at any time. */
static void free_checked(void *p, const found_t *f, const char *who)
{
    if (hk_unlikely(fast_options.profile)) fast_prof_freeing(f->segment, p);
    if (!f->page) {
        *trailer_of(p, f->extent) = HK_JUNK_PATTERN;
        fast_huge_free(f->segment, p, who);
        return;
    }
    junk_fill(p, f->extent);
    heap_t *owner = (heap_t *)(__atomic_load_n(&f->segment->owner, __ATOMIC_ACQUIRE) &
                               ~OWNER_CHECK_TAG);
    heap_t *heap = fast_tls.heap;
    if (heap == &fast_empty_heap || (owner && owner->user)) {
        fast_free_plain(p, who);
        return;
    }
    quarantine(heap, p, f->extent, who);
}

void fast_hardened_free(void *p, const char *who)
{
    if (is_zero_slot(p)) {
        zero_free(p, who);
        return;
    }
    found_t f = find(p, who);
    if (!f.hardened) {
        if (hk_unlikely(fast_options.profile)) fast_prof_freeing(f.segment, p);
        fast_free_plain(p, who);
        return;
    }
    checked_asked(p, f.extent, who);
    free_checked(p, &f, who);
}

/* ---- realloc, usable size, sized frees -------------------------------------------------------- */

void *fast_hardened_realloc(heap_t *heap, void *p, size_t size, const char *who)
{
    if (heap == NULL) heap = fast_tls.heap;
    if (is_zero_slot(p)) {
        void *q = fast_hardened_malloc(heap, size, 0, false);
        if (q) zero_free(p, who);
        return q;
    }
    found_t f = find(p, who);
    size_t old = f.hardened ? checked_asked(p, f.extent, who) : f.extent;
    /* In place when it fits with its canary and wastes at most half the block; a huge block
     * also when the space after it lets it grow or shrink (its guard page moves). */
    size_t extent = f.extent;
    if (f.hardened && size <= SIZE_MAX - HARDENED_EXTRA &&
        ((size <= extent - HARDENED_EXTRA && (size >= extent / 2 || extent <= 64)) ||
         (!f.page && size + HARDENED_EXTRA > MEDIUM_BLOCK_MAX &&
          fast_huge_resize_guarded(f.segment, p, size + HARDENED_EXTRA, who, &extent)))) {
        if (extent == f.extent)
            block_retail(p, extent, old, size);
        else
            block_tail(p, extent, size);
        if (hk_unlikely(fast_options.profile)) fast_prof_resized(p, size);
        return p;
    }
    /* A block that grows past 16 KiB moves into a huge block with room to double, into which
     * it then grows in place (as in the default mode). */
    size_t reserve = size > old && size >= REALLOC_SPAN_MIN_BYTES && size <= PTRDIFF_MAX / 2
                         ? 2 * size + HARDENED_EXTRA
                         : 0;
    void *q = hardened_malloc(heap, size, 0, false, reserve);
    if (!q) return NULL;
    memcpy(q, p, size < old ? size : old);
    if (f.hardened)
        free_checked(p, &f, who);
    else
        fast_free_plain(p, who);
    return q;
}

size_t fast_hardened_usable(const void *p, const char *who)
{
    if (is_zero_slot(p)) return 0;
    found_t f = find(p, who);
    return f.hardened ? checked_asked((void *)p, f.extent, who) : f.extent;
}

bool fast_hardened_size_matches(const void *p, size_t size, const char *who)
{
    if (is_zero_slot(p)) return size == 0;
    found_t f = find(p, who);
    return f.hardened ? checked_asked((void *)p, f.extent, who) == size : size <= f.extent;
}

/* ---- Fresh blocks in a random order ----------------------------------------------------------- */

block_t *fast_page_shuffle(uint8_t *first, size_t block_size, uint32_t count)
{
    static __thread uint64_t rng;
    if (!rng) rng = key(KEY_OF_RNG) ^ (uint64_t)(uintptr_t)&rng;
    uint16_t order[EXTEND_BYTES / 16]; /* page_extend carves at most this many */
    for (uint32_t i = 0; i < count; i++)
        order[i] = (uint16_t)i;
    for (uint32_t i = count - 1; i > 0; i--) { /* Fisher-Yates */
        uint32_t j = (uint32_t)(hk_rng_next(&rng) % (i + 1));
        uint16_t t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    for (uint32_t i = 0; i + 1 < count; i++)
        ((block_t *)(first + (size_t)order[i] * block_size))->next =
            (block_t *)(first + (size_t)order[i + 1] * block_size);
    ((block_t *)(first + (size_t)order[count - 1] * block_size))->next = NULL;
    return (block_t *)(first + (size_t)order[0] * block_size);
}
