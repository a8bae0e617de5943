/* Fast-path micro-measure: N malloc+free pairs of one size, after a warm-up, with a few blocks
 * of that size kept live.
 *   pair SIZE N
 * Run it under `valgrind --tool=callgrind` twice, with N pairs and with 0 pairs; the difference
 * of the two instruction totals divided by N is the cost of one pair (plus the 3–4 instructions
 * of the loop itself). Callgrind does not replace malloc, so LD_PRELOAD selects the allocator.
 * Built with -fno-builtin so the compiler cannot remove the pairs. */
#include <stdio.h>
#include <stdlib.h>

#define WARMUP_PAIRS 10000
/* Blocks of the same size held live throughout, as in a real program: otherwise every free
 * empties its page and allocators that tidy up empty pages would be measured on that path.
 * Twice as many are allocated and every other one freed, so the free slots the loop reuses
 * sit between live blocks. */
#define KEPT_LIVE 32

static void *volatile sink;
static void *kept[2 * KEPT_LIVE];

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: pair SIZE N\n");
        return 2;
    }
    size_t size = strtoul(argv[1], NULL, 10);
    long n = strtol(argv[2], NULL, 10);
    for (int i = 0; i < 2 * KEPT_LIVE; i++)
        kept[i] = malloc(size);
    for (int i = 1; i < 2 * KEPT_LIVE; i += 2)
        free(kept[i]);
    for (long i = 0; i < WARMUP_PAIRS; i++) {
        sink = malloc(size);
        free(sink);
    }
    for (long i = 0; i < n; i++) {
        sink = malloc(size);
        free(sink);
    }
    for (int i = 0; i < 2 * KEPT_LIVE; i += 2)
        free(kept[i]);
    return 0;
}
