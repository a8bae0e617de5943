/* Workload 5 — large blocks, 64 KiB to 32 MiB (mmap churn).
 * Models image/frame buffers and I/O staging areas: large blocks of log-uniform sizes are
 * allocated, touched page by page, kept in a small window and freed. With an allocator that
 * maps and unmaps every large block this is a stream of mmap/munmap and page faults; caching
 * or reusing large spans avoids most of them. */
#include "common.h"

int main(void) {
    const size_t window = 8;                   /* blocks alive at once */
    const size_t iters = bench_scaled(1500);
    uint64_t rng = 99;
    char *slot[8] = {0};
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    uint64_t checksum = 0;
    for (size_t it = 0; it < iters; it++) {
        size_t i = it % window;
        if (slot[i]) {
            checksum += (uint8_t)slot[i][0];
            free(slot[i]);
        }
        /* log-uniform 64 KiB .. 32 MiB: 2^16 .. 2^25, then a random fraction of the step */
        unsigned shift = 16 + (unsigned)(bench_rand(&rng) % 10);
        size_t size = ((size_t)1 << shift) + bench_rand(&rng) % ((size_t)1 << shift);
        if (size > ((size_t)32 << 20))
            size = (size_t)32 << 20;
        char *p = malloc(size);
        if (!p)
            bench_die("malloc");
        /* touch a quarter of the pages: programs rarely fill a large buffer completely */
        for (size_t off = 0; off < size; off += 4 * page)
            p[off] = (char)it;
        slot[i] = p;
    }
    for (size_t i = 0; i < window; i++)
        free(slot[i]);
    BENCH_RESULT("checksum", "%llu", (unsigned long long)checksum);
    return 0;
}
