/* Workload 4 — realloc growth of many buffers.
 * Models string builders and dynamic arrays (JSON/text assembly, vectors pushed one element at
 * a time): many buffers grow interleaved by small appends, each append calling realloc to the
 * exact new length, so the allocator decides whether to grow in place or move. Buffers are
 * reset when they reach their target length. */
#include "common.h"

int main(void) {
    const size_t nbuf = 256;
    const size_t rounds = bench_scaled(5);
    uint64_t rng = 7;
    char **buf = calloc(nbuf, sizeof(*buf));
    size_t *len = calloc(nbuf, sizeof(*len)), *target = calloc(nbuf, sizeof(*target));
    if (!buf || !len || !target)
        bench_die("calloc");
    uint64_t checksum = 0, reallocs = 0;
    for (size_t r = 0; r < rounds; r++) {
        for (size_t i = 0; i < nbuf; i++)
            target[i] = 1024 + bench_rand(&rng) % (256 * 1024);   /* 1 KiB .. 257 KiB */
        int active = 1;
        while (active) {
            active = 0;
            for (size_t i = 0; i < nbuf; i++) {
                if (len[i] >= target[i])
                    continue;
                active = 1;
                size_t add = 8 + bench_rand(&rng) % 120;     /* an append of 8..127 bytes */
                char *p = realloc(buf[i], len[i] + add);
                if (!p)
                    bench_die("realloc");
                memset(p + len[i], (int)(i + r), add);
                buf[i] = p;
                len[i] += add;
                reallocs++;
            }
        }
        for (size_t i = 0; i < nbuf; i++) {
            checksum += (uint8_t)buf[i][len[i] / 2];
            free(buf[i]);
            buf[i] = NULL;
            len[i] = 0;
        }
    }
    free(buf);
    free(len);
    free(target);
    BENCH_RESULT("reallocs", "%llu", (unsigned long long)reallocs);
    BENCH_RESULT("checksum", "%llu", (unsigned long long)checksum);
    return 0;
}
