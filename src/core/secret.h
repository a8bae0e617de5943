/* The per-process secret behind every hardening check that must not be forgeable: free-list
 * links stored encoded, header cookies, canary patterns, the quarantine's random choices. It is
 * read once from the kernel (getrandom, or the 16 random bytes of AT_RANDOM when getrandom is
 * unavailable), never allocates, and stays the same in a forked child (whose heap holds links
 * encoded with it). hk_secret() is a load and a test on every call after the first. */
#ifndef HK_CORE_SECRET_H
#define HK_CORE_SECRET_H

#include <stdint.h>

#include "core/compiler.h"

/* 0 until the first hk_secret(); then the secret, never 0. Read it through hk_secret(). */
extern uint64_t hk_secret_word;

/* Draws the secret (racing threads agree on one value) and returns it. */
HK_NOINLINE HK_COLD uint64_t hk_secret_init(void);

/* The per-process secret: random, non-zero, the same for every thread and after fork. */
static inline uint64_t hk_secret(void)
{
    uint64_t secret = __atomic_load_n(&hk_secret_word, __ATOMIC_RELAXED);
    return hk_likely(secret != 0) ? secret : hk_secret_init();
}

/* A 64-bit mixing function (the finaliser of splitmix64): every input bit affects every output
 * bit, so keys derived from the secret and an address look unrelated to each other. */
static inline uint64_t hk_mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9u;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebu;
    x ^= x >> 31;
    return x;
}

/* A key for one purpose (purpose: any constant, e.g. an ASCII tag), independent of the keys
 * for other purposes: leaking one does not give away the secret or the others. */
static inline uint64_t hk_secret_key(uint64_t purpose)
{
    return hk_mix64(hk_secret() ^ hk_mix64(purpose));
}

/* ---- Encoded links ----------------------------------------------------------------------------
 * A free-list link stored in freed memory is the first thing a write after free or a linear
 * overflow reaches. Stored encoded — the target xor the key xor the slot's own address — a
 * corrupted link decodes to an unrelated value (which the engine then finds outside its page,
 * misaligned or not free) instead of an address the attacker chose, and a link copied from one
 * slot to another decodes wrongly too. NULL is encoded like any other value, so a list's end
 * cannot be forged by zeroing the slot either. */
static inline uintptr_t hk_link_encode(const void *slot, const void *target, uint64_t key)
{
    return (uintptr_t)target ^ (uintptr_t)key ^ (uintptr_t)slot;
}

static inline void *hk_link_decode(const void *slot, uintptr_t stored, uint64_t key)
{
    return (void *)(stored ^ (uintptr_t)key ^ (uintptr_t)slot);
}

/* ---- A small random generator -----------------------------------------------------------------
 * For randomised choices (which quarantined block leaves first, free-list order): splitmix64
 * over a caller's state word, seeded with hk_secret_key(). Not for anything cryptographic. */
static inline uint64_t hk_rng_next(uint64_t *state)
{
    *state += 0x9e3779b97f4a7c15u;
    return hk_mix64(*state);
}

#endif
