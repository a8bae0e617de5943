/* `make check` (spec 003), the multi-thread test: a random malloc/free/realloc/calloc/memalign
 * stress in the manner of the classic t-test1. Each thread keeps a set of bins, each bin empty
 * or holding a block stamped with its size and a seed; every action picks a bin at random,
 * verifies what is there, and frees, resizes or replaces it. Threads are started in waves until
 * the total is reached, so later threads reuse the memory and arenas of exited ones; each thread
 * hands a share of its blocks to the main thread, which frees them (frees from another thread).
 *
 *   check_t_test1 [threads at once] [threads in all] [actions per thread] [bins] [max size]
 *
 * Defaults: 4 8 20000 1000 10000. Prints one line and exits 0 when every block was intact. */
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    size_t size;   /* bytes asked */
    uint32_t seed; /* the pattern's seed */
} stamp_t;

typedef struct {
    unsigned char *block; /* NULL when the bin is empty */
    stamp_t stamp;
} bin_t;

typedef struct {
    unsigned seed;       /* the thread's random state */
    long actions;        /* actions to perform */
    unsigned bins;       /* bins it uses */
    size_t max_size;     /* largest block asked */
    bin_t *handed;       /* blocks left for the main thread to free */
    unsigned handed_out; /* how many */
    long errors;         /* corrupted blocks seen */
} worker_t;

static unsigned next_random(unsigned *state)
{
    *state = *state * 1103515245u + 12345u;
    return *state >> 8;
}

/* A size: mostly small, sometimes up to max (glibc's t-test1 skews to small blocks too). */
static size_t random_size(unsigned *state, size_t max)
{
    unsigned r = next_random(state);
    if (r % 16 == 0) return (size_t)next_random(state) % max + 1;
    return (size_t)next_random(state) % (max < 512 ? max : 512) + 1;
}

static void fill(unsigned char *p, stamp_t stamp)
{
    for (size_t i = 0; i < stamp.size; i++)
        p[i] = (unsigned char)(stamp.seed + i * 7);
}

static long count_damage(const unsigned char *p, stamp_t stamp)
{
    for (size_t i = 0; i < stamp.size; i++)
        if (p[i] != (unsigned char)(stamp.seed + i * 7)) {
            fprintf(stderr, "t-test1: block %p of %zu bytes damaged at byte %zu\n", (const void *)p,
                    stamp.size, i);
            return 1;
        }
    return 0;
}

/* A new block for bin by one of malloc, calloc or memalign. */
static void bin_fill(worker_t *w, bin_t *bin)
{
    stamp_t stamp = {random_size(&w->seed, w->max_size), next_random(&w->seed)};
    unsigned how = next_random(&w->seed) % 8;
    unsigned char *p;
    if (how == 0) {
        p = calloc(1, stamp.size);
        if (p)
            for (size_t i = 0; i < stamp.size; i++)
                if (p[i] != 0) {
                    fprintf(stderr, "t-test1: calloc(%zu) not zeroed at %zu\n", stamp.size, i);
                    w->errors++;
                    break;
                }
    } else if (how == 1) {
        p = memalign((size_t)16 << next_random(&w->seed) % 8, stamp.size);
    } else {
        p = malloc(stamp.size);
    }
    if (!p) {
        fprintf(stderr, "t-test1: no memory for %zu bytes\n", stamp.size);
        w->errors++;
        bin->block = NULL;
        return;
    }
    fill(p, stamp);
    bin->block = p;
    bin->stamp = stamp;
}

static void *worker_run(void *arg)
{
    worker_t *w = arg;
    bin_t *bins = calloc(w->bins, sizeof *bins);
    if (!bins) {
        w->errors++;
        return NULL;
    }
    for (long action = 0; action < w->actions; action++) {
        bin_t *bin = &bins[next_random(&w->seed) % w->bins];
        if (!bin->block) {
            bin_fill(w, bin);
            continue;
        }
        w->errors += count_damage(bin->block, bin->stamp);
        unsigned what = next_random(&w->seed) % 4;
        if (what == 0) {
            free(bin->block);
            bin->block = NULL;
        } else if (what == 1) {
            /* Resize: the kept prefix must survive, the rest is stamped anew. */
            size_t size = random_size(&w->seed, w->max_size);
            unsigned char *moved = realloc(bin->block, size);
            if (!moved) {
                w->errors++;
                continue;
            }
            stamp_t kept = {size < bin->stamp.size ? size : bin->stamp.size, bin->stamp.seed};
            w->errors += count_damage(moved, kept);
            bin->block = moved;
            bin->stamp = (stamp_t){size, next_random(&w->seed)};
            fill(moved, bin->stamp);
        } else {
            free(bin->block);
            bin_fill(w, bin);
        }
    }
    /* Every fourth live block goes to the main thread; the rest are freed here. */
    w->handed = calloc(w->bins, sizeof *w->handed);
    for (unsigned i = 0; i < w->bins; i++) {
        if (!bins[i].block) continue;
        w->errors += count_damage(bins[i].block, bins[i].stamp);
        if (w->handed && i % 4 == 0)
            w->handed[w->handed_out++] = bins[i];
        else
            free(bins[i].block);
    }
    free(bins);
    return NULL;
}

static long arg_or(int argc, char **argv, int index, long fallback)
{
    return argc > index ? strtol(argv[index], NULL, 10) : fallback;
}

int main(int argc, char **argv)
{
    long at_once = arg_or(argc, argv, 1, 4), total = arg_or(argc, argv, 2, 8);
    long actions = arg_or(argc, argv, 3, 20000), bins = arg_or(argc, argv, 4, 1000);
    long max_size = arg_or(argc, argv, 5, 10000);
    if (at_once < 1 || total < at_once || actions < 1 || bins < 1 || max_size < 1) {
        fprintf(stderr, "usage: check_t_test1 [threads at once] [threads in all] [actions] "
                        "[bins] [max size]\n");
        return 2;
    }
    worker_t *workers = calloc((size_t)total, sizeof *workers);
    pthread_t *threads = calloc((size_t)total, sizeof *threads);
    if (!workers || !threads) return 1;
    long errors = 0;
    for (long started = 0; started < total; started += at_once) {
        long wave = total - started < at_once ? total - started : at_once;
        for (long i = started; i < started + wave; i++) {
            workers[i] = (worker_t){.seed = (unsigned)(i * 2654435761u + 1),
                                    .actions = actions,
                                    .bins = (unsigned)bins,
                                    .max_size = (size_t)max_size};
            if (pthread_create(&threads[i], NULL, worker_run, &workers[i]) != 0) return 1;
        }
        for (long i = started; i < started + wave; i++) {
            pthread_join(threads[i], NULL);
            errors += workers[i].errors;
            for (unsigned h = 0; h < workers[i].handed_out; h++) {
                errors += count_damage(workers[i].handed[h].block, workers[i].handed[h].stamp);
                free(workers[i].handed[h].block);
            }
            free(workers[i].handed);
        }
    }
    free(workers);
    free(threads);
    printf("t-test1: %ld threads (%ld at once), %ld actions each, %ld bins, sizes up to %ld: %s\n",
           total, at_once, actions, bins, max_size, errors ? "FAILED" : "ok");
    return errors ? 1 : 0;
}
