/* Byte patterns written into memory the program must not touch, and checked later: canaries
 * (the bytes between what a block's owner asked for and the block's end, checked on free and
 * realloc, so an overflow of even one byte is caught) and junk (what freed memory is filled
 * with, checked when the block leaves a quarantine, so a write after free is caught).
 *
 * A pattern is an 8-byte word; the byte at address a is byte (a mod 8) of the word (little
 * endian), so a pattern lines up with aligned words and a check compares 8 bytes at a time.
 * A canary's word comes from the block's address and a secret key: it differs from block to
 * block and cannot be predicted, so an overflow cannot write the right bytes back, and it has no
 * zero byte, so a string's terminating NUL written one past the end is always caught. */
#ifndef HK_CORE_CANARY_H
#define HK_CORE_CANARY_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/secret.h"

/* What freed memory is filled with in hardened modes (0xdf: odd, high bit set, so it reads
 * as neither a small integer, a pointer nor text). */
#define HK_JUNK_BYTE    0xdfu
#define HK_JUNK_PATTERN 0xdfdfdfdfdfdfdfdfu

/* The canary word of the block at block, under key (hk_secret_key of the engine's choosing). */
static inline uint64_t hk_canary_pattern(const void *block, uint64_t key)
{
    /* Every byte has its high bit set: never zero (a string's terminator) nor ASCII (text),
     * so an overflow by text is always seen, whatever the random bits. */
    return hk_mix64((uint64_t)(uintptr_t)block ^ key) | 0x8080808080808080u;
}

/* The byte of the pattern at address at. */
static inline uint8_t hk_pattern_byte(const void *at, uint64_t pattern)
{
    return (uint8_t)(pattern >> (((uintptr_t)at & 7) * 8));
}

/* Writes the pattern over [start, start + len): a byte at a time up to an 8-byte boundary, then
 * 32 bytes a store burst (a canary can be kilobytes long), then words, then the tail. Inline:
 * the hardened modes call it on every malloc. */
static inline void hk_pattern_fill(void *start, size_t len, uint64_t pattern)
{
    uint8_t *p = start, *end = p + len;
    /* A pattern of one repeated byte (junk) is what memset does best. */
    if (pattern == (pattern & 0xff) * 0x0101010101010101u) {
        memset(p, (int)(pattern & 0xff), len);
        return;
    }
    while (p < end && ((uintptr_t)p & 7)) {
        *p = hk_pattern_byte(p, pattern);
        p++;
    }
    for (; end - p >= 32; p += 32) {
        uint64_t w[4] = {pattern, pattern, pattern, pattern};
        memcpy(p, w, sizeof w);
    }
    for (; end - p >= 8; p += 8)
        memcpy(p, &pattern, 8);
    for (; p < end; p++)
        *p = hk_pattern_byte(p, pattern);
}

/* A run of junk, as freed memory should read, for memcmp (canary.c). */
extern const uint8_t hk_junk_bytes[256];

/* The first byte of [start, start + len) that differs from the pattern, or NULL when every byte
 * still matches. Reads 32 bytes at a time while they match (junk: memcmp against a run of it). */
static inline const void *hk_pattern_mismatch(const void *start, size_t len, uint64_t pattern)
{
    const uint8_t *p = start, *end = p + len;
    if (pattern == HK_JUNK_PATTERN) /* whole runs that match, then the loops below */
        for (; end - p >= (ptrdiff_t)sizeof hk_junk_bytes &&
               memcmp(p, hk_junk_bytes, sizeof hk_junk_bytes) == 0;
             p += sizeof hk_junk_bytes) {
        }
    while (p < end && ((uintptr_t)p & 7)) {
        if (*p != hk_pattern_byte(p, pattern)) return p;
        p++;
    }
    /* 32 bytes a time while all match; the loops below find the byte that does not. */
    for (; end - p >= 32; p += 32) {
        uint64_t w[4];
        memcpy(w, p, sizeof w);
        if (((w[0] ^ pattern) | (w[1] ^ pattern) | (w[2] ^ pattern) | (w[3] ^ pattern)) != 0) break;
    }
    for (; end - p >= 8; p += 8) {
        uint64_t word;
        memcpy(&word, p, 8);
        if (word != pattern) break;
    }
    for (; p < end; p++)
        if (*p != hk_pattern_byte(p, pattern)) return p;
    return NULL;
}

#endif
