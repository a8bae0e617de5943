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

/* Writes the pattern over [start, start + len). */
void hk_pattern_fill(void *start, size_t len, uint64_t pattern);

/* The first byte of [start, start + len) that differs from the pattern, or NULL when every byte
 * still matches. Reads 8 bytes at a time where it can. */
const void *hk_pattern_mismatch(const void *start, size_t len, uint64_t pattern);

#endif
