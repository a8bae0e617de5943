/* Fast-path micro-measure: N malloc+free pairs of one size, after a warm-up.
 *   pair SIZE N
 * Run it under `valgrind --tool=callgrind` twice, with N pairs and with 0 pairs; the difference
 * of the two instruction totals divided by N is the cost of one pair (plus the 3–4 instructions
 * of the loop itself). Callgrind does not replace malloc, so LD_PRELOAD selects the allocator.
 * Built with -fno-builtin so the compiler cannot remove the pairs. */
#include <stdio.h>
#include <stdlib.h>

#define WARMUP_PAIRS 10000

static void *volatile sink;

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: pair SIZE N\n");
        return 2;
    }
    size_t size = strtoul(argv[1], NULL, 10);
    long n = strtol(argv[2], NULL, 10);
    for (long i = 0; i < WARMUP_PAIRS; i++) {
        sink = malloc(size);
        free(sink);
    }
    for (long i = 0; i < n; i++) {
        sink = malloc(size);
        free(sink);
    }
    return 0;
}
