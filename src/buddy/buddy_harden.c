/* The buddy engine's hardened mode (HEAPKIT_HARDEN=1), and the reports of the checks that are
 * always on; buddy_harden.h describes every check. Canaries and junk use core/canary.h, keys
 * core/secret.h, reports core/misuse.h. */
#include "buddy/buddy.h"

#include "core/canary.h"
#include "core/checked.h"
#include "os/sys.h"

uint64_t buddy_keys[BUDDY_KEYS];

uint64_t buddy_key_init(unsigned which)
{
    /* One purpose tag per key ("bdy" and an index): each key is independent of the others. */
    uint64_t key = hk_secret_key(0x6264790000000000u | which);
    /* Racing threads derive the same value. */
    __atomic_store_n(&buddy_keys[which], key, __ATOMIC_RELAXED);
    return key;
}

/* ---- Reports -------------------------------------------------------------------------------- */

static inline void *payload_of(const buddy_block_t *block)
{
    return (char *)block + BUDDY_HEADER_BYTES;
}

void buddy_report_free_list(const buddy_block_t *block, const char *who)
{
    hk_misuse(HK_MISUSE_CORRUPT_FREE_LIST, payload_of(block), who);
}

void buddy_report_header(const buddy_block_t *block, const char *who)
{
    hk_misuse(HK_MISUSE_CORRUPT_HEADER, payload_of(block), who);
}

/* ---- Canaries ------------------------------------------------------------------------------- */

static inline uint64_t canary_of(const void *p)
{
    return hk_canary_pattern(p, buddy_key(BUDDY_KEY_CANARY));
}

/* Where a block's canary ends: the block's end, or for a mapped block the end of the page after
 * the request (the pages beyond are left untouched, so they cost no memory). */
static char *canary_end(const void *p, buddy_found_t found, size_t asked)
{
    if (found.kind != FOUND_LARGE)
        return (char *)found.block + buddy_order_bytes(found.block->level);
    char *end = buddy_large_end(found.tag);
    uintptr_t page_end = hk_align_up_small((uintptr_t)p + asked + 1, sys_page_size());
    return (uintptr_t)end < page_end ? end : (char *)page_end;
}

bool buddy_harden_asked(const void *p, buddy_found_t found, size_t *asked)
{
    (void)p;
    size_t plus_one =
        found.kind == FOUND_LARGE ? buddy_large_asked_plus_one(found.tag)
                                   : buddy_mark(found.block) & ~BUDDY_MARK_SAMPLED;
    if (hk_likely(plus_one == 0)) return false;
    *asked = plus_one - 1;
    return true;
}

void buddy_harden_small_out(buddy_block_t *block, void *p, size_t asked)
{
    buddy_cookie_set(block, asked + 1);
    char *end = (char *)block + buddy_order_bytes(block->level);
    hk_pattern_fill((char *)p + asked, (size_t)(end - ((char *)p + asked)), canary_of(p));
}

void buddy_harden_large_out(buddy_block_t *tag, void *p, size_t asked)
{
    buddy_large_set_asked_plus_one(tag, asked + 1);
    buddy_found_t found = {FOUND_LARGE, tag, tag, NULL};
    char *end = canary_end(p, found, asked);
    hk_pattern_fill((char *)p + asked, (size_t)(end - ((char *)p + asked)), canary_of(p));
}

void buddy_harden_check(const void *p, buddy_found_t found, const char *who)
{
    size_t asked;
    if (!buddy_harden_asked(p, found, &asked)) return;
    const char *start = (const char *)p + asked;
    const char *end = canary_end(p, found, asked);
    const char *bad = hk_pattern_mismatch(start, (size_t)(end - start), canary_of(p));
    if (hk_unlikely(bad != NULL))
        hk_misuse_detail(HK_MISUSE_OVERFLOW, p, who, "%zu bytes asked, byte %zu overwritten", asked,
                         (size_t)(bad - (const char *)p));
}

/* ---- Junk and quarantine -------------------------------------------------------------------- */

/* A block leaving the quarantine: its header must still say quarantined with its cookie, and
 * its junk be intact; then it is freed for good. Arena locked. */
static void quarantine_release(buddy_arena_t *arena, buddy_block_t *block, const char *who)
{
    if (hk_unlikely(block->status != BLOCK_QUARANTINED || !buddy_cookie_sound(block) ||
                    block->level >= BUDDY_ORDERS))
        buddy_report_header(block, who);
    size_t junk = buddy_order_bytes(block->level) - BUDDY_HEADER_BYTES;
    HK_VG_DEFINED(payload_of(block), junk); /* memcheck: the engine reads its own junk */
    const char *bad = hk_pattern_mismatch(payload_of(block), junk, HK_JUNK_PATTERN);
    if (hk_unlikely(bad != NULL))
        hk_misuse_detail(HK_MISUSE_WRITE_AFTER_FREE, payload_of(block), who,
                         "byte %zu of the freed block changed",
                         (size_t)(bad - (const char *)payload_of(block)));
    HK_VG_NOACCESS(payload_of(block), junk);
    buddy_free_block(arena, block);
}

void buddy_harden_quarantine(buddy_arena_t *arena, buddy_block_t *block, const char *who)
{
    /* Junk over everything after the header (an aligned block's inner tag too: a second free
     * of its payload then finds no tag and is reported as an invalid pointer). */
    size_t junk = buddy_order_bytes(block->level) - BUDDY_HEADER_BYTES;
    HK_VG_UNDEFINED(payload_of(block), junk); /* memcheck: freed (no access) but to the engine */
    hk_pattern_fill(payload_of(block), junk, HK_JUNK_PATTERN);
    HK_VG_NOACCESS(payload_of(block), junk);
    block->status = BLOCK_QUARANTINED;
    if (arena->quarantined < BUDDY_QUARANTINE_SLOTS) {
        arena->quarantine[arena->quarantined++] = block;
        return;
    }
    if (arena->quarantine_rng == 0) arena->quarantine_rng = buddy_key(BUDDY_KEY_QUARANTINE);
    size_t slot = hk_rng_next(&arena->quarantine_rng) % BUDDY_QUARANTINE_SLOTS;
    buddy_block_t *leaving = arena->quarantine[slot];
    arena->quarantine[slot] = block;
    quarantine_release(arena, leaving, who);
}

void buddy_harden_flush(buddy_arena_t *arena, const char *who)
{
    while (arena->quarantined > 0) {
        buddy_block_t *leaving = arena->quarantine[--arena->quarantined];
        quarantine_release(arena, leaving, who);
    }
}

bool buddy_harden_check_quarantine(buddy_arena_t *arena, const char **why)
{
    if (arena->quarantined > BUDDY_QUARANTINE_SLOTS) {
        if (why) *why = "quarantine count out of range";
        return false;
    }
    for (uint32_t i = 0; i < arena->quarantined; i++) {
        const buddy_block_t *block = arena->quarantine[i];
        if (block->status != BLOCK_QUARANTINED || !buddy_cookie_sound(block)) {
            if (why) *why = "quarantined block header corrupt";
            return false;
        }
    }
    return true;
}

/* ---- Mapped blocks in the reuse cache ------------------------------------------------------- */

/* Where the junk of a cached mapping ends: the whole mapping up to BUDDY_HEAP_LIKE_MAX_BYTES
 * (filling it costs less than two mprotect calls and their TLB shootdowns, and a write after
 * free anywhere in it is caught on reuse); beyond, the first page, the rest being made
 * inaccessible (a write after free faults). */
static char *junk_end(void *start, size_t length)
{
    size_t page = sys_page_size();
    return (char *)start + (length <= BUDDY_HEAP_LIKE_MAX_BYTES || length < page ? length : page);
}

void buddy_harden_large_cached(void *start, size_t length, void *payload)
{
    char *end = junk_end(start, length);
    HK_VG_UNDEFINED(payload, (size_t)(end - (char *)payload)); /* memcheck: freed, see above */
    hk_pattern_fill(payload, (size_t)(end - (char *)payload), HK_JUNK_PATTERN);
    HK_VG_NOACCESS(payload, (size_t)(end - (char *)payload));
    if (end < (char *)start + length)
        sys_protect(end, (size_t)((char *)start + length - end), SYS_PROT_NONE);
}

void buddy_harden_large_reused(void *start, size_t length, void *payload)
{
    char *end = junk_end(start, length);
    if (end < (char *)start + length)
        sys_protect(end, (size_t)((char *)start + length - end), SYS_PROT_RW);
    HK_VG_DEFINED(payload, (size_t)(end - (char *)payload)); /* memcheck: the engine's junk */
    const char *bad =
        hk_pattern_mismatch(payload, (size_t)(end - (char *)payload), HK_JUNK_PATTERN);
    if (hk_unlikely(bad != NULL))
        hk_misuse_detail(HK_MISUSE_WRITE_AFTER_FREE, payload, "malloc",
                         "byte %zu of the freed block changed", (size_t)(bad - (char *)payload));
}
