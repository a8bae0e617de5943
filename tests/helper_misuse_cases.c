/* The misuse cases of tests/misuse_cases.h, one per run: `helper_misuse_cases NAME` commits
 * that misuse against the process's malloc (whichever LD_PRELOAD names: a heapkit product, or
 * none for glibc's), then goes on allocating and freeing for a while, as a program would, and
 * trims the heap. It exits 0 when nothing stopped it, 77 when the process has no such function
 * (free_sized, the C++ operators under glibc), 2 for an unknown case. Built without heapkit and
 * with -fno-builtin, so the compiler keeps every call. */
#include <dlfcn.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define KiB ((size_t)1024)

/* Keeps pointers and values the compiler must not reason about. */
static void *volatile sink;
static volatile size_t size_sink;

/* Allocation as a program goes on doing after the misuse: enough frees of every common size
 * that a quarantine lets its blocks go, then a trim, which empties it. */
static void go_on(void)
{
    static const size_t sizes[] = {8, 16, 24, 32, 48, 64, 100, 128, 256, 512, 1000, 2000, 4096};
    for (unsigned i = 0; i < 3000; i++) {
        char *p = malloc(sizes[i % (sizeof sizes / sizeof sizes[0])]);
        if (!p) abort();
        p[0] = (char)i;
        sink = p;
        free(p);
    }
    malloc_trim(0);
}

static void *lookup(const char *name)
{
    void *f = dlsym(RTLD_DEFAULT, name);
    if (!f) exit(77);
    return f;
}

/* ---- Double frees ------------------------------------------------------------------------- */

static void double_free(size_t size)
{
    char *p = malloc(size);
    free(p);
    free(p);
}

static void case_double_free_small(void)
{
    double_free(32);
}
static void case_double_free_medium(void)
{
    double_free(4 * KiB);
}
static void case_double_free_huge(void)
{
    double_free(1024 * KiB);
}

static void case_double_free_delayed(void)
{
    char *p = malloc(32), *others[8];
    for (int i = 0; i < 8; i++)
        others[i] = malloc(32);
    free(p);
    for (int i = 0; i < 8; i++)
        free(others[i]);
    free(p);
}

static void case_double_free_aba(void)
{
    char *a = malloc(32), *b = malloc(32);
    free(a);
    free(b);
    free(a);
}

static void case_double_free_after_reuse(void)
{
    char *a = malloc(64), *b = malloc(64);
    free(a);
    free(b);
    char *c = malloc(128);
    memset(c, 'A', 128);
    sink = c;
    free(b);
}

/* ---- Frees of pointers malloc never returned ----------------------------------------------- */

static void case_unaligned_free_1(void)
{
    char *p = malloc(64);
    memset(p, 0, 64);
    free(p + 1);
}

static void case_unaligned_free_8(void)
{
    char *p = malloc(64);
    memset(p, 0, 64);
    free(p + 8);
}

static void case_interior_free_small(void)
{
    char *p = malloc(64);
    memset(p, 0, 64);
    free(p + 16);
}

static void case_interior_free_huge(void)
{
    char *p = malloc(1024 * KiB);
    memset(p, 0, 8 * KiB);
    free(p + 4 * KiB);
}

static void case_wild_free_stack(void)
{
    _Alignas(64) char local[128];
    memset(local, 0, sizeof local);
    free(local + 64);
}

static _Alignas(64) char global_bytes[128];

static void case_wild_free_global(void)
{
    free(global_bytes + 64);
}

static void case_wild_free_mmap(void)
{
    char *page = mmap(NULL, 4 * KiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (page == MAP_FAILED) abort();
    free(page + 64);
}

static void case_wild_free_garbage(void)
{
    free((void *)(uintptr_t)0x4141414141414141u);
}

static void case_realloc_freed(void)
{
    char *p = malloc(64);
    free(p);
    sink = realloc(p, 128);
}

static void case_usable_size_freed(void)
{
    char *p = malloc(64);
    free(p);
    size_sink = malloc_usable_size(p);
}

static void case_realloc_foreign(void)
{
    _Alignas(64) char local[128];
    memset(local, 0, sizeof local);
    sink = realloc(local + 64, 256);
}

static void case_usable_size_foreign(void)
{
    _Alignas(64) char local[128];
    memset(local, 0, sizeof local);
    size_sink = malloc_usable_size(local + 64);
}

/* The first word of a block just handed out, never written: whatever the allocator left there
 * (a free-list link, in most). */
static void *stale_word(void)
{
    char *a = malloc(64), *b = malloc(64);
    free(a);
    free(b);
    char *fresh = malloc(64);
    void *word;
    memcpy(&word, fresh, sizeof word);
    return word;
}

static void case_free_uninitialised(void)
{
    free(stale_word());
}

static void case_realloc_uninitialised(void)
{
    sink = realloc(stale_word(), 256);
}

/* ---- Writes after free ---------------------------------------------------------------------- */

static void case_write_after_free(void)
{
    char *p = malloc(64);
    free(p);
    memset(p + 32, 'A', 8);
}

static void case_write_after_free_reuse(void)
{
    char *p = malloc(64);
    free(p);
    char *q = malloc(64);
    memset(p + 32, 'A', 8);
    free(q);
}

/* Tcache poisoning: a freed block's first bytes (the free-list link in most allocators) get an
 * address the attacker wants malloc to return. */
static _Alignas(64) char target_bytes[256];

static void case_write_after_free_link(void)
{
    char *p = malloc(64), *q = malloc(64);
    free(q);
    free(p);
    char *target = target_bytes + 64;
    memcpy(p, &target, sizeof target);
    memcpy(p + 8, &target, sizeof target);
    sink = malloc(64);
    sink = malloc(64);
    sink = malloc(64);
}

/* ---- Overflows ------------------------------------------------------------------------------ */

static void overflow(size_t size, size_t by, int then_realloc)
{
    char *p = malloc(size);
    memset(p, 0, size);
    memset(p + size, 'A', by);
    if (then_realloc) p = realloc(p, 4000);
    free(p);
}

static void case_overflow_1_small(void)
{
    overflow(24, 1, 0);
}
static void case_overflow_8_small(void)
{
    overflow(24, 8, 0);
}
static void case_overflow_1_small_realloc(void)
{
    overflow(24, 1, 1);
}
static void case_overflow_1_large(void)
{
    overflow(256 * KiB, 1, 0);
}
static void case_overflow_8_large(void)
{
    overflow(256 * KiB, 8, 0);
}

/* Overlapping chunks: a block overflows into its free neighbour (header and first 16 bytes),
 * then allocations of that size follow. */
static void case_overflow_into_free_link(void)
{
    char *blocks[16];
    for (int i = 0; i < 16; i++)
        blocks[i] = malloc(64);
    /* Two neighbours: the closest pair, b after a, at most 256 bytes apart. */
    char *a = NULL, *b = NULL;
    for (int i = 0; i < 16; i++)
        for (int j = 0; j < 16; j++)
            if (blocks[j] > blocks[i] && blocks[j] - blocks[i] <= 256 &&
                (!a || blocks[j] - blocks[i] < b - a)) {
                a = blocks[i];
                b = blocks[j];
            }
    if (!a) exit(3);
    free(b);
    memset(a, 'A', (size_t)(b - a) + 16);
    sink = malloc(64);
    sink = malloc(64);
    sink = malloc(64);
}

/* ---- Zero-size blocks ----------------------------------------------------------------------- */

static void case_zero_size_write(void)
{
    char *p = malloc(0);
    p[0] = 'A';
    free(p);
}

static void case_zero_size_read(void)
{
    char *p = malloc(0);
    volatile char c = p[0];
    (void)c;
    free(p);
}

/* ---- Sized deallocation --------------------------------------------------------------------- */

static void case_free_sized_mismatch(void)
{
    void (*free_sized)(void *, size_t) = (void (*)(void *, size_t))lookup("free_sized");
    char *p = malloc(64);
    free_sized(p, 4096);
}

static void case_sized_delete_mismatch(void)
{
    void *(*new_)(size_t) = (void *(*)(size_t))lookup("_Znwm");
    void (*delete_sized)(void *, size_t) = (void (*)(void *, size_t))lookup("_ZdlPvm");
    char *p = new_(64);
    delete_sized(p, 48);
}

/* ---- Fake chunks (house of spirit) ---------------------------------------------------------- */

/* A fake chunk at fake: the 16 bytes before it copied from a real block of the same size, so
 * whatever header the allocator keeps there looks right. */
static void forge(char *fake, size_t size)
{
    char *real = malloc(size);
    memcpy(fake - 16, real - 16, 16);
    sink = real;
}

static void case_house_of_spirit_stack(void)
{
    _Alignas(64) char frame[256];
    memset(frame, 0, sizeof frame);
    forge(frame + 64, 32);
    free(frame + 64);
    sink = malloc(32);
}

static void case_house_of_spirit_heap(void)
{
    char *big = malloc(1024);
    memset(big, 0, 1024);
    forge(big + 64, 32);
    free(big + 64);
    sink = malloc(32);
}

/* ---- Dispatch ------------------------------------------------------------------------------- */

static const struct {
    const char *name;
    void (*run)(void);
} cases[] = {
    {"double-free-small", case_double_free_small},
    {"double-free-medium", case_double_free_medium},
    {"double-free-huge", case_double_free_huge},
    {"double-free-delayed", case_double_free_delayed},
    {"double-free-aba", case_double_free_aba},
    {"double-free-after-reuse", case_double_free_after_reuse},
    {"unaligned-free-1", case_unaligned_free_1},
    {"unaligned-free-8", case_unaligned_free_8},
    {"interior-free-small", case_interior_free_small},
    {"interior-free-huge", case_interior_free_huge},
    {"wild-free-stack", case_wild_free_stack},
    {"wild-free-global", case_wild_free_global},
    {"wild-free-mmap", case_wild_free_mmap},
    {"wild-free-garbage", case_wild_free_garbage},
    {"realloc-freed", case_realloc_freed},
    {"usable-size-freed", case_usable_size_freed},
    {"realloc-foreign", case_realloc_foreign},
    {"usable-size-foreign", case_usable_size_foreign},
    {"free-uninitialised", case_free_uninitialised},
    {"realloc-uninitialised", case_realloc_uninitialised},
    {"write-after-free", case_write_after_free},
    {"write-after-free-reuse", case_write_after_free_reuse},
    {"write-after-free-link", case_write_after_free_link},
    {"overflow-1-small", case_overflow_1_small},
    {"overflow-8-small", case_overflow_8_small},
    {"overflow-1-small-realloc", case_overflow_1_small_realloc},
    {"overflow-1-large", case_overflow_1_large},
    {"overflow-8-large", case_overflow_8_large},
    {"overflow-into-free-link", case_overflow_into_free_link},
    {"zero-size-write", case_zero_size_write},
    {"zero-size-read", case_zero_size_read},
    {"free-sized-mismatch", case_free_sized_mismatch},
    {"sized-delete-mismatch", case_sized_delete_mismatch},
    {"house-of-spirit-stack", case_house_of_spirit_stack},
    {"house-of-spirit-heap", case_house_of_spirit_heap},
};

int main(int argc, char **argv)
{
    if (argc != 2) return 2;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (strcmp(cases[i].name, argv[1]) != 0) continue;
        cases[i].run();
        go_on();
        return 0; /* nothing stopped the process */
    }
    fprintf(stderr, "helper_misuse_cases: no case %s\n", argv[1]);
    return 2;
}
