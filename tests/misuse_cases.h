/* The misuse cases, OpenBSD style: each commits one misuse in a process of its own
 * (helper_misuse_cases.c, run under each product and mode), and this table says, for every case
 * and every product and mode, what must happen. It is the one place that says what heapkit
 * catches: tests/test_misuse_cases.c holds every run to it, tests/misuse_table.c prints it beside
 * glibc's own column for docs/hardening.md.
 *
 * An expectation is one of
 *   STOP  stopped with one line naming the misuse ("heapkit: double free of 0x… in free()")
 *         and SIGABRT;
 *   FLT   stopped by a fault (SIGSEGV or SIGBUS: a guard page, memory made inaccessible), or as
 *         STOP;
 *   MISS  not caught, and not a target of that product and mode (the case runs to its end);
 *   TODO  a target not met yet: expected to be stopped, not yet. The test is skipped with a
 *         warning that names the missing feature (the case's last column), so the suite stays
 *         green without passing silently; once the case is stopped the test fails until the
 *         entry is flipped to STOP or FLT.
 * Targets: every product's default mode catches at least what glibc's does; the
 * hardened modes of libheapkit (HEAPKIT_HARDEN=1, libheapkit-secure.so) stop every case;
 * HEAPKIT_CHECK=1 catches every double and invalid free; the buddy library's hardened mode adds
 * canaries, junk and a quarantine (its zero-size blocks are checked on free, not made to fault
 * on access).
 *
 * Columns: case name (the helper's argument), category, what the case does, then the
 * expectation for libheapkit.so, with HEAPKIT_CHECK=1, with HEAPKIT_HARDEN=1,
 * libheapkit-secure.so, libheapkit-buddy.so, with HEAPKIT_HARDEN=1, and the feature that
 * catches it (named in the TODO warnings). */
#ifndef HK_TESTS_MISUSE_CASES_H
#define HK_TESTS_MISUSE_CASES_H

/* clang-format off */
#define MISUSE_CASES(X)                                                                            \
/*  name                       category          what                                                                 fast  check harden secure buddy b-harden  needs */ \
  X("double-free-small",       "double free",    "free a 32 B block twice",                                           STOP, STOP, STOP, STOP, STOP, STOP, "a freed-block key checked on free (glibc's tcache key)") \
  X("double-free-medium",      "double free",    "free a 4 KiB block twice",                                          STOP, STOP, STOP, STOP, STOP, STOP, "a freed-block key checked on free") \
  X("double-free-huge",        "double free",    "free a 1 MiB block twice",                                          STOP, STOP, STOP, STOP, STOP, STOP, "huge blocks' state") \
  X("double-free-delayed",     "double free",    "free a 32 B block, free 8 others, free it again",                   STOP, STOP, STOP, STOP, STOP, STOP, "a freed-block key checked on free") \
  X("double-free-aba",         "double free",    "free a, free b, free a (fastbin/tcache dup)",                       STOP, STOP, STOP, STOP, STOP, STOP, "a freed-block key checked on free") \
  X("double-free-after-reuse", "double free",    "free two 64 B neighbours, reuse their memory, free one again",      STOP, STOP, STOP, STOP, STOP, STOP, "a freed-block key checked on free") \
  X("unaligned-free-1",        "invalid free",   "free p + 1 of a 64 B block",                                        STOP, STOP, STOP, STOP, STOP, STOP, "block-boundary check on free") \
  X("unaligned-free-8",        "invalid free",   "free p + 8 of a 64 B block",                                        STOP, STOP, STOP, STOP, STOP, STOP, "block-boundary check on free") \
  X("interior-free-small",     "invalid free",   "free p + 16 of a 64 B block",                                       STOP, STOP, STOP, STOP, STOP, STOP, "block-boundary check on free") \
  X("interior-free-huge",      "invalid free",   "free p + 4096 of a 1 MiB block",                                    STOP, STOP, STOP, STOP, STOP, STOP, "huge blocks' start check") \
  X("wild-free-stack",         "wild free",      "free a stack address",                                              STOP, STOP, STOP, STOP, STOP, STOP, "the segment registry") \
  X("wild-free-global",        "wild free",      "free a global array",                                               STOP, STOP, STOP, STOP, STOP, STOP, "the segment registry") \
  X("wild-free-mmap",          "wild free",      "free memory mapped with mmap, not from malloc",                     STOP, STOP, STOP, STOP, STOP, STOP, "the segment registry") \
  X("wild-free-garbage",       "wild free",      "free 0x4141414141414141",                                           STOP, STOP, STOP, STOP, STOP, STOP, "the segment registry") \
  X("realloc-freed",           "use after free", "realloc a freed 64 B block",                                        STOP, STOP, STOP, STOP, STOP, STOP, "a freed-block key checked on realloc") \
  X("usable-size-freed",       "use after free", "malloc_usable_size of a freed 64 B block",                          STOP, STOP, STOP, STOP, STOP, STOP, "a freed-block key checked on malloc_usable_size") \
  X("realloc-foreign",         "wild free",      "realloc a stack address",                                           STOP, STOP, STOP, STOP, STOP, STOP, "the segment registry") \
  X("usable-size-foreign",     "wild free",      "malloc_usable_size of a stack address",                             STOP, STOP, STOP, STOP, STOP, STOP, "the segment registry") \
  X("free-uninitialised",      "wild free",      "free the first word of a fresh, uninitialised 64 B block",          STOP, STOP, STOP, STOP, STOP, STOP, "encoded free lists and a freed-block key") \
  X("realloc-uninitialised",   "wild free",      "realloc the first word of a fresh, uninitialised 64 B block",       STOP, STOP, STOP, STOP, STOP, STOP, "encoded free lists and a freed-block key") \
  X("write-after-free",        "use after free", "write 8 bytes into a freed 64 B block, go on allocating",           MISS, MISS, STOP, STOP, MISS, STOP, "junk fill and a quarantine checked when blocks leave it") \
  X("write-after-free-reuse",  "use after free", "free a 64 B block, allocate one, write into the freed one",          MISS, MISS, STOP, STOP, MISS, STOP, "a quarantine (no immediate reuse) with junk checks") \
  X("write-after-free-link",   "heap exploit",   "overwrite a freed block's first 16 bytes with an address, allocate",STOP, STOP, STOP, STOP, STOP, STOP, "encoded free-list links checked when popped") \
  X("overflow-1-small",        "overflow",       "write 1 byte past a 24 B block, free it",                           MISS, MISS, STOP, STOP, MISS, STOP, "canaries checked on free") \
  X("overflow-8-small",        "overflow",       "write 8 bytes past a 24 B block, free it",                          TODO, TODO, STOP, STOP, TODO, STOP, "canaries checked on free, which only the hardened modes have (glibc catches it by the next chunk's size)") \
  X("overflow-1-small-realloc","overflow",       "write 1 byte past a 24 B block, realloc it",                        MISS, MISS, STOP, STOP, MISS, STOP, "canaries checked on realloc") \
  X("overflow-1-large",        "overflow",       "write 1 byte past a 256 KiB block, free it",                        MISS, MISS, STOP, STOP, MISS, STOP, "canaries or guard pages after huge blocks") \
  X("overflow-8-large",        "overflow",       "write 8 bytes past a 256 KiB block, free it",                       MISS, MISS, STOP, STOP, MISS, STOP, "canaries or guard pages after huge blocks") \
  X("overflow-into-free-link", "heap exploit",   "overflow a 64 B block into its free neighbour's header and link, allocate", FLT, FLT, STOP, STOP, STOP, STOP, "encoded free-list links checked when popped") \
  X("zero-size-write",         "zero size",      "write 1 byte into malloc(0), free it",                              MISS, MISS, FLT, FLT, MISS, STOP, "zero-size blocks that fault, or canaries") \
  X("zero-size-read",          "zero size",      "read 1 byte from malloc(0)",                                        MISS, MISS, FLT, FLT, MISS, MISS, "zero-size blocks that fault on access") \
  X("free-sized-mismatch",     "sized free",     "free_sized a 64 B block with 4096",                                 MISS, MISS, STOP, STOP, MISS, STOP, "free_sized checked against the size asked") \
  X("sized-delete-mismatch",   "sized free",     "operator delete(void *, size_t) of a 64 B new with 48",             MISS, MISS, STOP, STOP, MISS, STOP, "sized delete checked against the size asked") \
  X("house-of-spirit-stack",   "heap exploit",   "free a fake chunk on the stack (a copied header), allocate",        STOP, STOP, STOP, STOP, STOP, STOP, "the segment registry") \
  X("house-of-spirit-heap",    "heap exploit",   "free a fake chunk forged inside a live 1 KiB block",                STOP, STOP, STOP, STOP, STOP, STOP, "block-boundary check or header cookies")
/* clang-format on */

/* The products and modes, in the table's column order: name, library (in the build's lib/),
 * the environment variable that selects the mode (or NULL). */
#define MISUSE_CONFIGS(X)                                                                          \
    X(FAST, "heapkit", "libheapkit.so", NULL)                                                      \
    X(FAST_CHECK, "heapkit CHECK=1", "libheapkit.so", "HEAPKIT_CHECK=1")                           \
    X(FAST_HARDEN, "heapkit HARDEN=1", "libheapkit.so", "HEAPKIT_HARDEN=1")                        \
    X(SECURE, "heapkit-secure", "libheapkit-secure.so", NULL)                                      \
    X(BUDDY, "buddy", "libheapkit-buddy.so", NULL)                                                 \
    X(BUDDY_HARDEN, "buddy HARDEN=1", "libheapkit-buddy.so", "HEAPKIT_HARDEN=1")

typedef enum { STOP, FLT, MISS, TODO } misuse_expect_t;

#define MISUSE_CONFIG_ENUM(id, name, lib, env) CONFIG_##id,
typedef enum { MISUSE_CONFIGS(MISUSE_CONFIG_ENUM) CONFIG_COUNT } misuse_config_t;
#undef MISUSE_CONFIG_ENUM

typedef struct {
    const char *name, *category, *what;
    misuse_expect_t expect[CONFIG_COUNT];
    const char *needs;
} misuse_case_t;

typedef struct {
    const char *name, *lib, *env;
} misuse_config_desc_t;

#define MISUSE_CASE_ROW(n, c, w, e0, e1, e2, e3, e4, e5, needs)                                    \
    {n, c, w, {e0, e1, e2, e3, e4, e5}, needs},
static const misuse_case_t misuse_cases[] = {MISUSE_CASES(MISUSE_CASE_ROW)};
#undef MISUSE_CASE_ROW
#define MISUSE_CASE_COUNT (sizeof misuse_cases / sizeof misuse_cases[0])

#define MISUSE_CONFIG_ROW(id, name, lib, env) {name, lib, env},
static const misuse_config_desc_t misuse_configs[CONFIG_COUNT] = {
    MISUSE_CONFIGS(MISUSE_CONFIG_ROW)};
#undef MISUSE_CONFIG_ROW

#endif
