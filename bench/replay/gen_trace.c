/* Writes a deterministic allocation trace (same seed, same file, on every machine).
 *   gen_trace FILE [RECORDS]
 * Mixed sizes (mostly small, some medium, a few above 128 KiB) and mixed lifetimes: a short-
 * lived half of the slots churns on every step, a long-lived half changes rarely, and two
 * phases free most of the live data to leave holes. */
#include "trace.h"

#include <stdio.h>
#include <stdlib.h>

#define SLOTS 2048u

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t next_random(void) {
    uint64_t x = rng_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static uint32_t trace_size(void) {
    uint64_t r = next_random();
    unsigned pick = (unsigned)(r % 1000);
    r >>= 10;
    if (pick < 700)
        return 8 + (uint32_t)(r % 249);         /* 70 %: 8..256 B */
    if (pick < 950)
        return 256 + (uint32_t)(r % 1793);      /* 25 %: 256 B..2 KiB */
    if (pick < 995)
        return 2048 + (uint32_t)(r % 14337);    /* 4.5 %: 2..16 KiB */
    return 131072 + (uint32_t)(r % 131073);     /* 0.5 %: 128..256 KiB (mmap path) */
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: gen_trace FILE [RECORDS]\n");
        return 2;
    }
    uint64_t want = argc > 2 ? strtoull(argv[2], NULL, 10) : 200000;
    static uint8_t live[SLOTS];
    trace_record_t *rec = malloc(want * sizeof(*rec) + SLOTS * sizeof(*rec));
    if (!rec)
        return 1;
    uint64_t n = 0;
    for (uint64_t step = 0; n < want; step++) {
        uint32_t slot;
        if (step % (want / 2 + 1) == want / 4) {   /* two purge phases: free ~90 % */
            for (slot = 0; slot < SLOTS && n < want; slot++)
                if (live[slot] && next_random() % 10) {
                    rec[n++] = (trace_record_t){slot, 0};
                    live[slot] = 0;
                }
            continue;
        }
        if (next_random() % 8)                  /* short-lived half: most steps */
            slot = (uint32_t)(next_random() % (SLOTS / 2));
        else
            slot = SLOTS / 2 + (uint32_t)(next_random() % (SLOTS / 2));
        if (live[slot]) {
            rec[n++] = (trace_record_t){slot, 0};
            live[slot] = 0;
        } else {
            rec[n++] = (trace_record_t){slot, trace_size()};
            live[slot] = 1;
        }
    }
    for (uint32_t slot = 0; slot < SLOTS; slot++)   /* the trace ends with nothing live */
        if (live[slot])
            rec[n++] = (trace_record_t){slot, 0};
    trace_header_t h = {TRACE_MAGIC, SLOTS, n};
    FILE *f = fopen(argv[1], "wb");
    if (!f || fwrite(&h, sizeof(h), 1, f) != 1 || fwrite(rec, sizeof(*rec), n, f) != n ||
        fclose(f) != 0) {
        perror(argv[1]);
        return 1;
    }
    free(rec);
    return 0;
}
