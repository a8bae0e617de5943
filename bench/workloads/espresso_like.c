/* Workload 13 — a small-object program: an espresso-like two-level logic minimiser.
 * Models single-threaded programs built from many small records that live for one phase
 * (compilers, solvers, the espresso minimiser itself): 80 problems (× BENCH_SCALE), each a cover
 * of 400–1600 cubes over 16–768 variables. A cube is a bit vector in positional notation (two
 * bits per variable: 01, 10, or 11 for "either"), 12–200 B with its header; a problem's cubes
 * come in clusters of near-copies so that neighbours often differ in one variable. Each problem
 * runs four waves of
 *   expand      — every cube gets a widened copy; the copy replaces the cube unless it meets a
 *                 cube of the off-set, otherwise the copy is freed;
 *   consensus   — neighbouring pairs at distance 0 or 1 are queued on a list of 16 B nodes;
 *                 distance 1 adds their consensus cube to the cover (which grows with realloc),
 *                 distance 0 builds their intersection, compares it and frees it;
 *   irredundant — cubes are sorted by size and each one contained in one of the 24 larger cubes
 *                 before it is freed (the cover shrinks);
 * plus a 16–128 B scratch set per cube per wave. The last 4 problems' results stay live, so the
 * working set grows and shrinks over the run. Single thread; peak RSS is the figure to watch. */
#include "common.h"

#include <stdint.h>

#define PROBLEMS 80
#define WAVES 4
#define KEPT_RESULTS 4
#define CONTAINMENT_WINDOW 24
#define OFFSET_SAMPLE 6

typedef struct {
    uint32_t words;                             /* 16 variables per 32-bit word */
    uint32_t literals;                          /* variables that are not "either" */
    uint32_t bits[];
} cube_t;

typedef struct {
    cube_t **cube;
    size_t count, capacity;
} cover_t;

typedef struct pair {
    struct pair *next;
    uint32_t a, b;
} pair_t;

static uint64_t rng = 0xe59e550;

static cube_t *cube_new(uint32_t words) {
    cube_t *c = malloc(sizeof(cube_t) + words * sizeof(uint32_t));
    if (!c)
        bench_die("malloc");
    c->words = words;
    return c;
}

static uint32_t count_literals(const cube_t *c) {
    uint32_t n = 0;
    for (uint32_t w = 0; w < c->words; w++) {
        uint32_t either = c->bits[w] & (c->bits[w] >> 1) & 0x55555555u;
        n += 16 - (uint32_t)__builtin_popcount(either);
    }
    return n;
}

static cube_t *cube_copy(const cube_t *c) {
    cube_t *d = cube_new(c->words);
    memcpy(d->bits, c->bits, c->words * sizeof(uint32_t));
    d->literals = c->literals;
    return d;
}

/* Variables on which a and b conflict (01 against 10): where a & b leaves the pair empty. */
static uint32_t distance(const cube_t *a, const cube_t *b) {
    uint32_t d = 0;
    for (uint32_t w = 0; w < a->words; w++) {
        uint32_t x = a->bits[w] & b->bits[w];
        d += (uint32_t)__builtin_popcount(~(x | (x >> 1)) & 0x55555555u);
    }
    return d;
}

static int contains(const cube_t *a, const cube_t *b) {
    for (uint32_t w = 0; w < a->words; w++)
        if (b->bits[w] & ~a->bits[w])
            return 0;
    return 1;
}

static void cover_add(cover_t *cv, cube_t *c) {
    if (cv->count == cv->capacity) {
        cv->capacity = cv->capacity ? cv->capacity * 2 : 64;
        cube_t **grown = realloc(cv->cube, cv->capacity * sizeof(*grown));
        if (!grown)
            bench_die("realloc");
        cv->cube = grown;
    }
    cv->cube[cv->count++] = c;
}

static void cover_free(cover_t *cv) {
    for (size_t i = 0; i < cv->count; i++)
        free(cv->cube[i]);
    free(cv->cube);
    cv->cube = NULL;
    cv->count = cv->capacity = 0;
}

static cube_t *random_cube(uint32_t words) {
    cube_t *c = cube_new(words);
    for (uint32_t w = 0; w < words; w++) {
        uint64_t r = bench_rand(&rng);
        uint32_t lits = 0;
        for (int v = 0; v < 16; v++, r >>= 2)   /* 01, 10, 11, 11: half the variables free */
            lits |= (uint32_t)((r & 3) == 0 ? 1 : (r & 3) == 1 ? 2 : 3) << (2 * v);
        c->bits[w] = lits;
    }
    c->literals = count_literals(c);
    return c;
}

static void set_variable(cube_t *c, uint32_t var, uint32_t value) {
    uint32_t shift = 2 * (var % 16);
    c->bits[var / 16] = (c->bits[var / 16] & ~(3u << shift)) | (value << shift);
}

static void make_problem(cover_t *on, cover_t *off, uint32_t words, size_t cubes) {
    cube_t *seed = NULL;
    for (size_t i = 0; i < cubes; i++) {
        if (i % 8 == 0) {                       /* a new cluster */
            free(seed);
            seed = random_cube(words);
        }
        cube_t *c = cube_copy(seed);
        for (uint64_t k = bench_rand(&rng) % 3; k > 0; k--)
            set_variable(c, (uint32_t)(bench_rand(&rng) % (16 * words)),
                         1 + (uint32_t)(bench_rand(&rng) % 3));
        c->literals = count_literals(c);
        cover_add(on, c);
    }
    free(seed);
    for (size_t i = 0; i < cubes / 8; i++)
        cover_add(off, random_cube(words));
}

static void expand(cover_t *on, const cover_t *off) {
    for (size_t i = 0; i < on->count; i++) {
        cube_t *wide = cube_copy(on->cube[i]);
        for (int k = 0; k < 3; k++)
            set_variable(wide, (uint32_t)(bench_rand(&rng) % (16 * wide->words)), 3);
        int blocked = 0;
        for (int k = 0; k < OFFSET_SAMPLE && !blocked; k++)
            blocked = distance(wide, off->cube[bench_rand(&rng) % off->count]) == 0;
        if (blocked) {
            free(wide);
        } else {
            wide->literals = count_literals(wide);
            free(on->cube[i]);
            on->cube[i] = wide;
        }
    }
}

static uint64_t consensus(cover_t *on) {
    pair_t *queue = NULL;
    uint64_t sum = 0;
    size_t n = on->count;
    for (size_t i = 0; i + 1 < n; i++) {
        for (size_t j = i + 1; j < n && j <= i + 4; j++) {
            if (distance(on->cube[i], on->cube[j]) > 1)
                continue;
            pair_t *p = malloc(sizeof(*p));
            if (!p)
                bench_die("malloc");
            p->a = (uint32_t)i;
            p->b = (uint32_t)j;
            p->next = queue;
            queue = p;
        }
    }
    while (queue) {
        pair_t *p = queue;
        queue = p->next;
        const cube_t *a = on->cube[p->a], *b = on->cube[p->b];
        cube_t *c = cube_new(a->words);
        for (uint32_t w = 0; w < a->words; w++) {
            uint32_t x = a->bits[w] & b->bits[w];
            uint32_t empty = ~(x | (x >> 1)) & 0x55555555u;
            c->bits[w] = x | empty | (empty << 1);      /* the conflicting variable: either */
        }
        c->literals = count_literals(c);
        if (distance(a, b) == 1) {
            cover_add(on, c);
        } else {
            sum += (uint64_t)contains(a, c) + (uint64_t)contains(b, c) + c->literals;
            free(c);
        }
        free(p);
    }
    return sum;
}

static int by_literals(const void *x, const void *y) {
    const cube_t *a = *(cube_t *const *)x, *b = *(cube_t *const *)y;
    return a->literals < b->literals ? -1 : a->literals > b->literals;
}

static void irredundant(cover_t *on) {
    qsort(on->cube, on->count, sizeof(*on->cube), by_literals);
    size_t kept = 0;
    for (size_t i = 0; i < on->count; i++) {
        cube_t *c = on->cube[i];
        int covered = 0;
        for (size_t k = kept; k > 0 && kept - k < CONTAINMENT_WINDOW && !covered; k--)
            covered = contains(on->cube[k - 1], c);
        if (covered)
            free(c);
        else
            on->cube[kept++] = c;
    }
    on->count = kept;
}

/* Per-cube scratch: a small set, as the minimiser's row and column sets are. */
static uint64_t scratch_sets(const cover_t *on) {
    uint64_t sum = 0;
    size_t n = on->count;
    uint8_t **set = malloc(n * sizeof(*set));
    if (!set)
        bench_die("malloc");
    for (size_t i = 0; i < n; i++) {
        size_t bytes = 16 + (size_t)(bench_rand(&rng) % 113);
        if (!(set[i] = malloc(bytes)))
            bench_die("malloc");
        memset(set[i], (int)on->cube[i]->literals, bytes);
    }
    for (size_t i = 0; i < n; i++) {
        sum += set[i][0];
        free(set[i]);
    }
    free(set);
    return sum;
}

int main(void) {
    const size_t problems = bench_scaled(PROBLEMS);
    cover_t result[KEPT_RESULTS] = {{0}};
    uint64_t checksum = 0;
    for (size_t p = 0; p < problems; p++) {
        uint32_t words = 1 + (uint32_t)(bench_rand(&rng) % 48);
        size_t cubes = 400 + bench_rand(&rng) % 1201;
        cover_t on = {0}, off = {0};
        make_problem(&on, &off, words, cubes);
        for (int w = 0; w < WAVES; w++) {
            expand(&on, &off);
            checksum += consensus(&on);
            checksum += scratch_sets(&on);
            irredundant(&on);
        }
        checksum += on.count;
        cover_free(&off);
        cover_free(&result[p % KEPT_RESULTS]);  /* the oldest kept result goes */
        result[p % KEPT_RESULTS] = on;
    }
    for (size_t i = 0; i < KEPT_RESULTS; i++)
        cover_free(&result[i]);
    BENCH_RESULT("checksum", "%llu", (unsigned long long)checksum);
    return 0;
}
