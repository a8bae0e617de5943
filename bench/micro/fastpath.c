/* Fast-path measure (the project's agreed one): instructions per malloc+free pair.
 *   fastpath N SIZE
 * 64 blocks of SIZE bytes stay live; each of the N steps mallocs one block, writes its first
 * byte and frees the block allocated 64 steps before. Run it under `valgrind --tool=callgrind`
 * with N and with 2N steps: (Ir(2N) − Ir(N)) / N is the cost of one step, the loop's own few
 * instructions included, with start-up, warm-up and exit cancelled out. Callgrind does not
 * replace malloc, so LD_PRELOAD selects the allocator. Built with plain -O2, the flags the
 * shared script uses, so the two give the same figures. */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: fastpath N SIZE\n");
        return 2;
    }
    long n = atol(argv[1]);
    size_t sz = (size_t)atol(argv[2]);
    void *keep[64];
    for (int i = 0; i < 64; i++)
        keep[i] = malloc(sz);
    for (long i = 0; i < n; i++) {
        void *p = malloc(sz);
        ((volatile char *)p)[0] = (char)i;
        free(keep[i & 63]);
        keep[i & 63] = p;
    }
    for (int i = 0; i < 64; i++)
        free(keep[i]);
    return 0;
}
