/* Workload 8 — big zeroed buffers.
 * Models programs that keep a few large value-initialised arrays and replace them now and then
 * (image and audio frames, decompression windows, matrices built with
 * `std::make_unique<char[]>(n)` or `std::vector<char>(n)`): 20 buffers of 5–25 MiB stay live;
 * 800 times (× BENCH_SCALE) a random one is freed and replaced by a new buffer of a random
 * size, which is zeroed and then touched lightly (64 scattered writes and reads). BENCH_SCALE=2.5
 * gives 2000 replacements, ~3 s under glibc on 2 cores; the default keeps a run near 1.3 s.
 * Value-initialisation in C++ compiles to operator new followed by memset, not to calloc, so the
 * buffer is allocated with malloc and cleared with memset: the allocator cannot skip the clearing
 * for fresh pages, and what counts is whether it keeps freed memory committed (cheap memset over
 * resident pages) or maps and faults it in again. malloc is called through a volatile pointer so
 * that the compiler cannot fuse malloc + memset(0) into calloc. */
#include "common.h"

#define LIVE_BUFFERS 20
#define MIN_BYTES ((size_t)5 << 20)
#define MAX_BYTES ((size_t)25 << 20)
#define TOUCHES_PER_BUFFER 64

/* Opaque to the optimiser: keeps the malloc + memset pair that operator new + value-init makes. */
static void *(*volatile allocate)(size_t) = malloc;

static char *zeroed_buffer(size_t size) {
    char *p = allocate(size);
    if (!p)
        bench_die("malloc");
    memset(p, 0, size);
    return p;
}

int main(void) {
    const size_t replacements = bench_scaled(800);
    uint64_t rng = 4242, checksum = 0;
    char *buf[LIVE_BUFFERS];
    size_t len[LIVE_BUFFERS];
    for (size_t i = 0; i < LIVE_BUFFERS; i++) {
        len[i] = MIN_BYTES + bench_rand(&rng) % (MAX_BYTES - MIN_BYTES + 1);
        buf[i] = zeroed_buffer(len[i]);
    }
    for (size_t r = 0; r < replacements; r++) {
        size_t i = bench_rand(&rng) % LIVE_BUFFERS;
        checksum += (uint8_t)buf[i][len[i] / 2];
        free(buf[i]);
        len[i] = MIN_BYTES + bench_rand(&rng) % (MAX_BYTES - MIN_BYTES + 1);
        buf[i] = zeroed_buffer(len[i]);
        for (size_t t = 0; t < TOUCHES_PER_BUFFER; t++) {   /* light use: scattered writes */
            size_t off = bench_rand(&rng) % len[i];
            buf[i][off] = (char)(buf[i][off] + (char)r + 1);
            checksum += (uint8_t)buf[i][off];
        }
    }
    for (size_t i = 0; i < LIVE_BUFFERS; i++) {
        checksum += (uint8_t)buf[i][0];
        free(buf[i]);
    }
    BENCH_RESULT("replacements", "%zu", replacements);
    BENCH_RESULT("checksum", "%llu", (unsigned long long)checksum);
    return 0;
}
