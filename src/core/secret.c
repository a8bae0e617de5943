/* hk_secret (see secret.h). */
#include "core/secret.h"

#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/random.h>
#include <sys/types.h>
#include <time.h>

uint64_t hk_secret_word;

/* 16 random bytes: from getrandom (never blocking: early in boot it may not be ready), or the
 * kernel's AT_RANDOM bytes. The C library uses AT_RANDOM for its own stack and pointer guards,
 * so those bytes are only ever used mixed, never stored as they are. */
static void draw(uint64_t out[2])
{
    if (getrandom(out, 2 * sizeof out[0], GRND_NONBLOCK) == (ssize_t)(2 * sizeof out[0])) return;
    const unsigned char *at_random = (const unsigned char *)getauxval(AT_RANDOM);
    uint64_t words[2] = {0, 0};
    if (at_random) memcpy(words, at_random, sizeof words);
    /* Without either, addresses (ASLR) and the clock still differ from run to run. */
    struct timespec now = {0, 0};
    clock_gettime(CLOCK_MONOTONIC, &now);
    out[0] = words[0] ^ (uint64_t)(uintptr_t)&now ^ (uint64_t)now.tv_nsec;
    out[1] = words[1] ^ (uint64_t)(uintptr_t)&hk_secret_word ^ (uint64_t)now.tv_sec;
}

uint64_t hk_secret_init(void)
{
    uint64_t bytes[2];
    draw(bytes);
    uint64_t fresh = hk_mix64(bytes[0] ^ hk_mix64(bytes[1]));
    if (fresh == 0) fresh = 0x6a09e667f3bcc909u; /* 0 means "not drawn yet" */
    uint64_t expected = 0;
    /* Racing first calls: one value wins and every thread uses it. */
    if (__atomic_compare_exchange_n(&hk_secret_word, &expected, fresh, false, __ATOMIC_RELAXED,
                                    __ATOMIC_RELAXED))
        return fresh;
    return expected;
}
