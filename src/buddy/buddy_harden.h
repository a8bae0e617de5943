/* The buddy engine's checks, in one place: what is always on (the default mode, costing a few
 * instructions per call) and what HEAPKIT_HARDEN=1 adds (buddy_harden.c). Included by buddy.h,
 * after the types.
 *
 * Always on:
 * - Links. A free block's next/previous are stored encoded with a per-process secret
 *   (core/secret.h), and a block leaving its list has both neighbours checked: inside our memory,
 *   at a multiple of the order's size, linking back to it. A write after free or an overflow
 *   that reaches a free block's links is reported instead of followed.
 * - Cookies. A block in use keeps in its spare header word a cookie computed from its address and
 *   the secret; free, realloc and malloc_usable_size check it, so a header copied from another
 *   block or forged inside a block (a fake chunk) is not taken for a block of ours.
 * - Headers read on the way. The buddy a free looks at for merging must hold a header that can
 *   be there (a status of ours, an order no larger): a linear overflow into the next block's
 *   header is reported when the block below it is freed.
 * - (Elsewhere, as before: the page map rejects pointers into memory that is not ours, statuses
 *   reject double frees, realloc and malloc_usable_size of freed blocks.)
 *
 * Hardened mode (core/harden.h: HEAPKIT_HARDEN=1, read once):
 * - Canaries. Every block gets at least one byte more than asked; the bytes from the end of the
 *   request to the end of the block (for a mapped block, to the end of that page) hold a pattern
 *   from the block's address and the secret (core/canary.h), checked on free and realloc: an
 *   overflow of one byte is caught. The size asked is kept (in the cookie word, or in a mapped
 *   block's record), so malloc_usable_size answers exactly it and free_sized can be checked.
 * - Junk and quarantine. A freed small block is filled with junk and held in its arena's
 *   quarantine (BUDDY_QUARANTINE_SLOTS, a random one leaves when it is full), so it is not
 *   reused at once; when it leaves, its junk and header are checked: a write after free is
 *   caught, with or without a reuse of the memory by then.
 * - Mapped blocks. A freed mapping kept for reuse is filled with junk (beyond 128 KiB: its first
 *   page, the rest made inaccessible, so a write after free faults), and the junk is checked
 *   when the mapping is reused.
 * - Zero-size blocks are blocks of 0 bytes asked: any write into them breaks the canary. */
#ifndef HK_BUDDY_BUDDY_HARDEN_H
#define HK_BUDDY_BUDDY_HARDEN_H

#include "core/harden.h"
#include "core/misuse.h"
#include "core/secret.h"

/* ---- Keys: one per purpose, derived from the secret on first use -------------------------- */

enum { BUDDY_KEY_COOKIE, BUDDY_KEY_LINK, BUDDY_KEY_CANARY, BUDDY_KEY_QUARANTINE, BUDDY_KEYS };
extern uint64_t buddy_keys[BUDDY_KEYS];
HK_NOINLINE HK_COLD uint64_t buddy_key_init(unsigned which);

HK_INLINE uint64_t buddy_key(unsigned which)
{
    uint64_t key = __atomic_load_n(&buddy_keys[which], __ATOMIC_RELAXED);
    return hk_likely(key != 0) ? key : buddy_key_init(which);
}

/* ---- Encoded links -------------------------------------------------------------------------- */

/* key: buddy_key(BUDDY_KEY_LINK), loaded once by the caller. */
HK_INLINE void buddy_link_put(uintptr_t *slot, const buddy_block_t *target, uint64_t key)
{
    *slot = hk_link_encode(slot, target, key);
}

HK_INLINE buddy_block_t *buddy_link_read(const uintptr_t *slot, uint64_t key)
{
    return hk_link_decode(slot, *slot, key);
}

static inline void buddy_link_set(uintptr_t *slot, const buddy_block_t *target)
{
    buddy_link_put(slot, target, buddy_key(BUDDY_KEY_LINK));
}

static inline buddy_block_t *buddy_link_get(const uintptr_t *slot)
{
    return buddy_link_read(slot, buddy_key(BUDDY_KEY_LINK));
}

/* Whether a decoded link may be followed to a block of order level: at a multiple of the
 * order's size, in the sbrk heap's span (all of it readable) or in a chunk of ours. (That the
 * block links back, which a forged link cannot arrange without the key, is the caller's test.) */
HK_INLINE bool buddy_link_sound(const buddy_block_t *block, unsigned level)
{
    if ((uintptr_t)block & (buddy_order_bytes(level) - 1)) return false;
    return buddy_in_sbrk_heap(block) ||
           buddy_page_kind(buddy_pagemap_get(block)) == PAGE_SMALL_CHUNK;
}

/* ---- Cookies of blocks in use --------------------------------------------------------------- */

/* A used block's spare word is its cookie xor a mark: in its low 11 bits 0, or in the hardened
 * mode the size asked plus one (a small block is asked at most 2031 bytes there), and
 * BUDDY_MARK_SAMPLED when the heap profiler sampled the block (src/prof). */
#define BUDDY_MARK_BITS    12
#define BUDDY_MARK_SAMPLED ((size_t)1 << 11)

HK_INLINE uintptr_t buddy_cookie(const buddy_block_t *block)
{
    return ((uintptr_t)block ^ buddy_key(BUDDY_KEY_COOKIE)) * 0x9e3779b97f4a7c15u;
}

static inline void buddy_cookie_set(buddy_block_t *block, size_t mark)
{
    block->next = buddy_cookie(block) ^ mark;
}

/* The block's mark (0 when handed out in the default mode); a value of BUDDY_MARK_BITS bits or
 * more means the cookie is wrong. */
HK_INLINE size_t buddy_mark(const buddy_block_t *block)
{
    return block->next ^ buddy_cookie(block);
}

HK_INLINE bool buddy_cookie_sound(const buddy_block_t *block)
{
    return (buddy_mark(block) >> BUDDY_MARK_BITS) == 0;
}

/* Whether status/level can be the header of the buddy of a block of order level: a block of
 * ours there is free (possibly split smaller), in use, quarantined, or a chunk's header. */
static inline bool buddy_neighbour_sound(uint32_t status, uint32_t neighbour_level, unsigned level)
{
    return (status == BLOCK_FREE || status == BLOCK_USED || status == BLOCK_USED_ALIGNED ||
            status == BLOCK_QUARANTINED || status == BLOCK_PINNED) &&
           neighbour_level <= level;
}

/* ---- Reports (one line, then abort) ---------------------------------------------------------- */

/* A free list whose links around block do not hold. */
HK_NORETURN HK_COLD void buddy_report_free_list(const buddy_block_t *block, const char *who);
/* A header that cannot be what is there (overwritten). */
HK_NORETURN HK_COLD void buddy_report_header(const buddy_block_t *block, const char *who);

/* ---- Hardened mode (buddy_harden.c) ---------------------------------------------------------- */

typedef enum { FOUND_SMALL, FOUND_ALIGNED, FOUND_LARGE } buddy_found_kind_t;

/* A block found from a pointer handed to free, realloc or malloc_usable_size. */
typedef struct {
    buddy_found_kind_t kind;
    buddy_block_t *block;      /* the buddy block, or the large block's tag */
    buddy_block_t *tag;        /* the 16 bytes before the payload */
    struct buddy_arena *arena; /* the arena owning a buddy block's page or chunk */
} buddy_found_t;

/* Most bytes a small block can be asked for in the hardened mode (one byte of canary). */
#define BUDDY_HARDENED_MAX_SMALL_BYTES (BUDDY_MAX_SMALL_BYTES - 1)

/* The size asked for a block handed out in the hardened mode, or false (*asked untouched) for a
 * block handed out before the mode was read. */
HK_NOINLINE bool buddy_harden_asked(const void *p, buddy_found_t found, size_t *asked);
/* A small block (status set, payload at p, asked bytes asked) handed out hardened: keeps the
 * size in its cookie word and writes its canary. */
HK_NOINLINE void buddy_harden_small_out(buddy_block_t *block, void *p, size_t asked);
/* Checks the canary of a hardened block (any kind); reports an overflow in who. */
HK_NOINLINE void buddy_harden_check(const void *p, buddy_found_t found, const char *who);
/* In the arena's lock, a small block freed in the hardened mode (canary checked): junk, then
 * quarantine; a block leaving the quarantine is checked and freed for good. */
HK_NOINLINE void buddy_harden_quarantine(struct buddy_arena *arena, buddy_block_t *block,
                                         const char *who);
/* Lets every block in the arena's quarantine go (checked), e.g. for malloc_trim. Arena locked. */
HK_NOINLINE void buddy_harden_flush(struct buddy_arena *arena, const char *who);
/* The quarantine's part of buddy_check: every slot holds a quarantined block of the arena. */
bool buddy_harden_check_quarantine(struct buddy_arena *arena, const char **why);
/* Mapped blocks: the asked size and canary of one handed out hardened (record at start). */
HK_NOINLINE void buddy_harden_large_out(buddy_block_t *tag, void *p, size_t asked);
/* A mapping (payload at payload) entering the reuse cache: junk (beyond 128 KiB in the first
 * page only, the rest inaccessible); and the reverse, with the junk checked, on reuse. */
HK_NOINLINE void buddy_harden_large_cached(void *start, size_t length, void *payload);
HK_NOINLINE void buddy_harden_large_reused(void *start, size_t length, void *payload);

#endif
