/* Pattern fill and check (see canary.h): a byte at a time up to an 8-byte boundary, then whole
 * words, then the tail. */
#include "core/canary.h"

#include <string.h>

static inline uint8_t pattern_byte(const void *at, uint64_t pattern)
{
    return (uint8_t)(pattern >> (((uintptr_t)at & 7) * 8));
}

void hk_pattern_fill(void *start, size_t len, uint64_t pattern)
{
    uint8_t *p = start, *end = p + len;
    /* A pattern of one repeated byte (junk) is what memset does best. */
    if (pattern == (pattern & 0xff) * 0x0101010101010101u) {
        memset(p, (int)(pattern & 0xff), len);
        return;
    }
    while (p < end && ((uintptr_t)p & 7)) {
        *p = pattern_byte(p, pattern);
        p++;
    }
    for (; end - p >= 8; p += 8)
        memcpy(p, &pattern, 8);
    for (; p < end; p++)
        *p = pattern_byte(p, pattern);
}

/* Junk, to compare freed memory with (memcmp is the fastest check there is). */
static const uint8_t junk[256] = {[0 ... 255] = HK_JUNK_BYTE};

const void *hk_pattern_mismatch(const void *start, size_t len, uint64_t pattern)
{
    const uint8_t *p = start, *end = p + len;
    if (pattern == HK_JUNK_PATTERN) /* whole runs that match, then the loops below */
        for (; end - p >= (ptrdiff_t)sizeof junk && memcmp(p, junk, sizeof junk) == 0;
             p += sizeof junk) {
        }
    while (p < end && ((uintptr_t)p & 7)) {
        if (*p != pattern_byte(p, pattern)) return p;
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
        if (*p != pattern_byte(p, pattern)) return p;
    return NULL;
}
