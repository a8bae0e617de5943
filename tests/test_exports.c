/* What each shared library shows the dynamic linker: exactly its documented functions (read with
 * `nm -D --defined-only`), a SONAME carrying the ABI number, the usual links, and the version
 * written once in heapkit.h. */
#include <criterion/criterion.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "heapkit.h"
#include "public_api.h"

#ifndef HK_BUILD_DIR
#error "HK_BUILD_DIR must name the build directory"
#endif
#ifndef HK_SOURCE_DIR
#error "HK_SOURCE_DIR must name the source tree"
#endif

#define MAX_SYMBOLS 256

typedef struct {
    char *names[MAX_SYMBOLS];
    size_t count;
} symbols_t;

/* Reads every line of a command's output into *out (one name per line). */
static void read_lines(const char *command, symbols_t *out)
{
    FILE *p = popen(command, "r");
    cr_assert_not_null(p, "cannot run %s", command);
    char line[512];
    out->count = 0;
    while (fgets(line, sizeof line, p)) {
        line[strcspn(line, "\n")] = '\0';
        cr_assert_lt(out->count, MAX_SYMBOLS, "too many lines from %s", command);
        out->names[out->count++] = strdup(line);
    }
    cr_assert_eq(pclose(p), 0, "%s failed", command);
}

static bool contains(const char *const *list, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i], name) == 0) return true;
    return false;
}

/* The dynamic symbols lib defines must be exactly expected[0..n). */
static void expect_exports(const char *lib, const char *const *expected, size_t n)
{
    char command[1024];
    snprintf(command, sizeof command,
             "nm -D --defined-only '%s/lib/%s' | awk '{ print $NF }' | sort -u", HK_BUILD_DIR, lib);
    symbols_t found;
    read_lines(command, &found);
    size_t unexpected = 0, missing = 0;
    for (size_t i = 0; i < found.count; i++) {
        if (!contains(expected, n, found.names[i])) {
            cr_log_error("%s exports %s, which is not documented", lib, found.names[i]);
            unexpected++;
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (!contains((const char *const *)found.names, found.count, expected[i])) {
            cr_log_error("%s does not export %s", lib, expected[i]);
            missing++;
        }
    }
    for (size_t i = 0; i < found.count; i++)
        free(found.names[i]);
    cr_expect_eq(unexpected, 0, "%s exports %zu undocumented symbols", lib, unexpected);
    cr_expect_eq(missing, 0, "%s lacks %zu documented symbols", lib, missing);
}

#define EXPECT_EXPORTS(lib, ...)                                                                   \
    do {                                                                                           \
        static const char *const expected[] = {__VA_ARGS__};                                       \
        expect_exports(lib, expected, sizeof expected / sizeof expected[0]);                       \
    } while (0)

Test(exports, libheapkit_exports_the_malloc_family_and_the_hk_api)
{
    EXPECT_EXPORTS("libheapkit.so", MALLOC_FAMILY, HK_API, HK_PROF_API);
}

Test(exports, libheapkit_secure_exports_what_libheapkit_exports)
{
    EXPECT_EXPORTS("libheapkit-secure.so", MALLOC_FAMILY, HK_API, HK_PROF_API);
}

Test(exports, libheapkit_buddy_exports_the_malloc_family_and_the_profile_dump)
{
    EXPECT_EXPORTS("libheapkit-buddy.so", MALLOC_FAMILY, HK_PROF_API);
}

Test(exports, libosmem_exports_the_os_functions)
{
    EXPECT_EXPORTS("libosmem.so", OSMEM_API);
}

Test(exports, libmemory_allocation_exports_the_chunk_functions)
{
    EXPECT_EXPORTS("libmemory_allocation.so", CHUNKS_API);
}

Test(exports, libmemalloc_exports_the_pool_functions)
{
    EXPECT_EXPORTS("libmemalloc.so", POOL_API);
}

Test(exports, libmm_exports_the_page_family_functions)
{
    EXPECT_EXPORTS("libmm.so", MM_API);
}

/* Every exported name outside the malloc family is declared in its product's public header. */
static void expect_declared(const char *header, const char *const *names, size_t n)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/include/%s", HK_SOURCE_DIR, header);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "cannot open %s", path);
    static char text[1 << 16];
    size_t len = fread(text, 1, sizeof text - 1, f);
    text[len] = '\0';
    fclose(f);
    for (size_t i = 0; i < n; i++) {
        char call[128];
        snprintf(call, sizeof call, "%s(", names[i]);
        cr_expect_not_null(strstr(text, call), "%s is exported but not declared in %s", names[i],
                           header);
    }
}

#define EXPECT_DECLARED(header, ...)                                                               \
    do {                                                                                           \
        static const char *const names[] = {__VA_ARGS__};                                          \
        expect_declared(header, names, sizeof names / sizeof names[0]);                            \
    } while (0)

Test(exports, every_named_export_is_declared_in_its_public_header)
{
    EXPECT_DECLARED("heapkit.h", HK_API, HK_PROF_API);
    EXPECT_DECLARED("osmem.h", OSMEM_API);
    EXPECT_DECLARED("memory_allocation.h", CHUNKS_API);
    EXPECT_DECLARED("memalloc.h", POOL_API);
    EXPECT_DECLARED("UserAPI_MemoryManager.h", MM_API);
}

/* libNAME.so -> libNAME.so.MAJOR -> libNAME.so.VERSION, and the SONAME is libNAME.so.MAJOR. */
static void expect_versioned(const char *name)
{
    const char *major_end = strchr(HEAPKIT_VERSION, '.');
    cr_assert_not_null(major_end);
    char major[16], so[128], so_major[128], so_full[128];
    snprintf(major, sizeof major, "%.*s", (int)(major_end - HEAPKIT_VERSION), HEAPKIT_VERSION);
    snprintf(so, sizeof so, "%s.so", name);
    snprintf(so_major, sizeof so_major, "%s.so.%s", name, major);
    snprintf(so_full, sizeof so_full, "%s.so.%s", name, HEAPKIT_VERSION);

    char path[PATH_MAX], target[PATH_MAX];
    snprintf(path, sizeof path, "%s/lib/%s", HK_BUILD_DIR, so);
    ssize_t n = readlink(path, target, sizeof target - 1);
    cr_assert_gt(n, 0, "%s is not a link", path);
    target[n] = '\0';
    cr_expect_str_eq(target, so_major, "%s points at %s", path, target);

    snprintf(path, sizeof path, "%s/lib/%s", HK_BUILD_DIR, so_major);
    n = readlink(path, target, sizeof target - 1);
    cr_assert_gt(n, 0, "%s is not a link", path);
    target[n] = '\0';
    cr_expect_str_eq(target, so_full, "%s points at %s", path, target);

    char command[1024];
    snprintf(command, sizeof command,
             "objdump -p '%s/lib/%s' | awk '$1 == \"SONAME\" { print $2 }'", HK_BUILD_DIR, so_full);
    symbols_t soname;
    read_lines(command, &soname);
    cr_assert_eq(soname.count, 1, "%s has no SONAME", so_full);
    cr_expect_str_eq(soname.names[0], so_major);
    free(soname.names[0]);
}

Test(sonames, every_shared_library_has_a_soname_and_the_usual_links)
{
    expect_versioned("libheapkit");
    expect_versioned("libheapkit-buddy");
    expect_versioned("libheapkit-secure");
    expect_versioned("libosmem");
    expect_versioned("libmemory_allocation");
    expect_versioned("libmemalloc");
    expect_versioned("libmm");
}

Test(version, the_command_prints_the_version_of_heapkit_h)
{
    symbols_t out;
    read_lines(HK_BUILD_DIR "/bin/heapkit version", &out);
    cr_assert_eq(out.count, 1);
    cr_expect_str_eq(out.names[0], "heapkit " HEAPKIT_VERSION);
    free(out.names[0]);
}

/* The command is a compiled program (no interpreter), built with the version of heapkit.h. */
Test(version, the_command_is_a_compiled_program)
{
    FILE *f = fopen(HK_BUILD_DIR "/bin/heapkit", "rb");
    cr_assert_not_null(f);
    unsigned char magic[4] = {0};
    cr_assert_eq(fread(magic, 1, 4, f), 4);
    fclose(f);
    static const unsigned char elf[4] = {0x7f, 'E', 'L', 'F'};
    cr_expect(memcmp(magic, elf, 4) == 0, "build/bin/heapkit is an ELF executable");
}
