/* A program with known allocation sites for the heap profiler's tests (test_prof.c). Linked with
 * libheapkit-buddy.so, so that library is its malloc; run with HEAPKIT_PROF=1.
 *
 *   helper_prof_sites sites            three sites keep 2, 8 and 32 MiB live, in blocks of
 *                                      varied sizes; prints "NAME BYTES" for each, then exits
 *                                      (the profile is the exit dump)
 *   helper_prof_sites freed            the same, then frees every block of site_eight_mib;
 *                                      prints "allocated NAME BYTES": the bytes each site's
 *                                      calls allocated (a realloc that moved counts as one)
 *   helper_prof_sites grown            site_grown_by_realloc grows 128 buffers by 256-byte
 *                                      appends (realloc) to 64 KiB each: 8 MiB
 *   helper_prof_sites api PATH         the sites, then hk_prof_dump(PATH); prints its result
 *   helper_prof_sites signal PATH      the sites, then raise(HEAPKIT_PROF_SIGNAL); renames the
 *                                      files the handler wrote (PATH, PATH's .folded) to
 *                                      *.signal.* and frees everything
 *   helper_prof_sites threads          threads allocate, resize and free (some across threads)
 *                                      and one forks; prints "ok"
 *   helper_prof_sites off              hk_prof_dump(NULL) with the profiler off; prints its
 *                                      result */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "heapkit.h"

#define MIB        ((size_t)1 << 20)
#define MAX_BLOCKS 100000

static void *blocks[3][MAX_BLOCKS];
static size_t block_count[3];
static size_t allocated_bytes[3]; /* every allocation of the site, freed or moved ones included */
static uint64_t random_state = 88172645463325252ull;

static uint64_t next_random(void)
{
    random_state ^= random_state << 13;
    random_state ^= random_state >> 7;
    random_state ^= random_state << 17;
    return random_state;
}

/* A size in [lo, hi], about log-uniform (a power-of-two range at random, then a size in it),
 * so small and big blocks both matter. */
static size_t size_between(size_t lo, size_t hi)
{
    unsigned ranges = 0;
    while ((lo << (ranges + 1)) <= hi)
        ranges++;
    size_t s = lo << (next_random() % (ranges + 1));
    size_t top = s * 2 < hi ? s * 2 : hi;
    return s + (size_t)(next_random() % (top - s + 1));
}

/* Allocates exactly total bytes (asked) in blocks of [lo, hi] with one of the allocation
 * calls, rotating through malloc, calloc, realloc (growing a block in two steps) and
 * posix_memalign. */
static void fill(int site, size_t total, size_t lo, size_t hi)
{
    size_t done = 0;
    for (unsigned call = 0; done < total; call++) {
        size_t size = size_between(lo, hi);
        if (size > total - done) size = total - done;
        void *p = NULL;
        size_t allocated = size;
        switch (call % 4) {
        case 0:
            p = malloc(size);
            break;
        case 1:
            p = calloc(1, size);
            break;
        case 2: { /* two allocations when realloc moves the block, one when it grows it */
            void *first = malloc(size / 2 + 1);
            uintptr_t first_address = (uintptr_t)first;
            p = realloc(first, size);
            allocated = size / 2 + 1 + ((uintptr_t)p != first_address ? size : 0);
            break;
        }
        case 3:
            if (posix_memalign(&p, 64, size) != 0) p = NULL;
            break;
        }
        if (!p || block_count[site] == MAX_BLOCKS) abort();
        memset(p, 1, size);
        blocks[site][block_count[site]++] = p;
        done += size;
        allocated_bytes[site] += allocated;
    }
}

/* The three sites: their names are what the profile must show. */
__attribute__((noinline)) void site_two_mib(void)
{
    fill(0, 2 * MIB, 16, 2000);
}

__attribute__((noinline)) void site_eight_mib(void)
{
    fill(1, 8 * MIB, 1024, 64 * 1024);
}

__attribute__((noinline)) void site_thirty_two_mib(void)
{
    fill(2, 32 * MIB, 16 * 1024, 1024 * 1024);
}

/* Buffers grown the way string builders grow: mostly in place, moved now and then. */
__attribute__((noinline)) void site_grown_by_realloc(void)
{
    enum { BUFFERS = 128, STEP = 256, FINAL = 64 * 1024 };
    for (size_t length = STEP; length <= FINAL; length += STEP) {
        for (int i = 0; i < BUFFERS; i++) {
            void *p = realloc(block_count[0] > (size_t)i ? blocks[0][i] : NULL, length);
            if (!p) abort();
            memset((char *)p + length - STEP, 2, STEP);
            if (block_count[0] <= (size_t)i) block_count[0] = (size_t)i + 1;
            blocks[0][i] = p;
        }
    }
    printf("site_grown_by_realloc %zu\n", (size_t)BUFFERS * FINAL);
}

static void free_site(int site)
{
    for (size_t i = 0; i < block_count[site]; i++)
        free(blocks[site][i]);
    block_count[site] = 0;
}

static void run_sites(void)
{
    site_two_mib();
    site_eight_mib();
    site_thirty_two_mib();
    printf("site_two_mib %zu\nsite_eight_mib %zu\nsite_thirty_two_mib %zu\n", 2 * MIB, 8 * MIB,
           32 * MIB);
}

/* ---- Threads -------------------------------------------------------------------------------- */

#define THREADS 4
#define SLOTS   256

static void *shared[SLOTS];
static pthread_mutex_t shared_lock = PTHREAD_MUTEX_INITIALIZER;

static void *worker(void *arg)
{
    uint64_t r = (uintptr_t)arg * 0x9E3779B97F4A7C15ull + 1;
    void *mine[64] = {0};
    for (int i = 0; i < 20000; i++) {
        r ^= r << 13, r ^= r >> 7, r ^= r << 17;
        unsigned slot = (unsigned)(r % 64);
        size_t size = 1 + (size_t)((r >> 8) % ((r & 1) ? 200 : 70000));
        if (mine[slot] && (r & 6) == 0) {
            mine[slot] = realloc(mine[slot], size);
        } else {
            free(mine[slot]);
            mine[slot] = (r & 8) ? calloc(1, size) : malloc(size);
        }
        if (!mine[slot]) abort();
        if ((r & 0xF0) == 0) { /* hand a block to whichever thread takes the shared slot next */
            pthread_mutex_lock(&shared_lock);
            void *old = shared[(r >> 16) % SLOTS];
            shared[(r >> 16) % SLOTS] = mine[slot];
            pthread_mutex_unlock(&shared_lock);
            mine[slot] = NULL;
            free(old);
        }
    }
    for (int i = 0; i < 64; i++)
        free(mine[i]);
    return NULL;
}

static int run_threads(void)
{
    pthread_t threads[THREADS];
    for (uintptr_t i = 0; i < THREADS; i++)
        if (pthread_create(&threads[i], NULL, worker, (void *)(i + 1)) != 0) return 1;
    /* A child of the threaded process allocates with the profiler's tables inherited. */
    pid_t pid = fork();
    if (pid == 0) {
        site_two_mib();
        free_site(0);
        exit(0); /* exit, not _exit: the child writes its own dump */
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0)
        return 1;
    for (int i = 0; i < THREADS; i++)
        pthread_join(threads[i], NULL);
    for (int i = 0; i < SLOTS; i++)
        free(shared[i]);
    printf("ok\n");
    return 0;
}

/* ---- Main ---------------------------------------------------------------------------------- */

static char *with_suffix(const char *path, const char *old_suffix, const char *new_suffix)
{
    static char out[4096];
    size_t len = strlen(path), old_len = strlen(old_suffix);
    if (len >= old_len && strcmp(path + len - old_len, old_suffix) == 0) len -= old_len;
    snprintf(out, sizeof out, "%.*s%s", (int)len, path, new_suffix);
    return out;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "sites";
    if (strcmp(mode, "sites") == 0) {
        run_sites();
    } else if (strcmp(mode, "grown") == 0) {
        site_grown_by_realloc();
    } else if (strcmp(mode, "freed") == 0) {
        run_sites();
        free_site(1);
        printf("allocated site_two_mib %zu\nallocated site_eight_mib %zu\n"
               "allocated site_thirty_two_mib %zu\n",
               allocated_bytes[0], allocated_bytes[1], allocated_bytes[2]);
    } else if (strcmp(mode, "api") == 0 && argc > 2) {
        run_sites();
        printf("hk_prof_dump %d\n", hk_prof_dump(argv[2]));
    } else if (strcmp(mode, "signal") == 0 && argc > 2) {
        run_sites();
        const char *number = getenv("HELPER_SIGNAL");
        raise(number ? atoi(number) : SIGUSR2);
        char heap[4096], folded[4096];
        snprintf(heap, sizeof heap, "%s", with_suffix(argv[2], ".heap", ".signal.heap"));
        snprintf(folded, sizeof folded, "%s", with_suffix(argv[2], ".heap", ".signal.folded"));
        if (rename(argv[2], heap) != 0 ||
            rename(with_suffix(argv[2], ".heap", ".folded"), folded) != 0) {
            printf("no dump after the signal: %s\n", strerror(errno));
            return 1;
        }
        for (int site = 0; site < 3; site++)
            free_site(site);
        printf("dumped\n");
    } else if (strcmp(mode, "threads") == 0) {
        return run_threads();
    } else if (strcmp(mode, "off") == 0) {
        int rc = hk_prof_dump(NULL);
        printf("hk_prof_dump %s\n", rc == ENOTSUP ? "ENOTSUP" : strerror(rc));
    } else {
        fprintf(stderr, "usage: %s sites|freed|grown|api PATH|signal PATH|threads|off\n", argv[0]);
        return 2;
    }
    return 0;
}
