/* The standard malloc family, as a thin layer over one engine (core/engine.h). This file owns the
 * C/POSIX/glibc semantics — zero sizes, overflowing products, alignment rules, errno — so every
 * engine behind it answers the same way. Linked into libheapkit (fast engine) and
 * libheapkit-buddy (buddy engine); built with LTO there so malloc inlines the engine's fast path.
 *
 * free_sized, free_aligned_sized (C23) and the C++ sized delete check their size in the hardened
 * mode (core/harden.h). glibc compatibility choices: realloc(p, 0) frees p and returns NULL;
 * memalign rounds an alignment that is not a power of two up to the next one; aligned_alloc rejects
 * it (EINVAL, C17); sizes above PTRDIFF_MAX fail with ENOMEM; posix_memalign that fails with ENOMEM
 * also sets errno. */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/checked.h"
#include "core/compiler.h"
#include "core/fmt.h"
#include "core/harden.h"
#include "core/misuse.h"
#include "core/options.h"
#include "core/engine.h"
#include "front/library_name.h"
#include "heapkit.h"
#include "os/sys.h"
#include "prof/prof.h"

/* Blocks are at least this aligned without asking (x86-64 max_align_t). */
#define NATURAL_ALIGNMENT_BYTES 16

static HK_NOINLINE HK_COLD void *out_of_memory(void)
{
    errno = ENOMEM;
    return NULL;
}

HK_EXPORT void *malloc(size_t size)
{
    void *p = hk_engine_malloc(size);
    if (hk_unlikely(!p)) return out_of_memory();
    return p;
}

HK_EXPORT void free(void *p)
{
    hk_engine_free(p, "free");
}

HK_EXPORT void *calloc(size_t count, size_t size)
{
    size_t total;
    if (hk_unlikely(!hk_mul(count, size, &total))) return out_of_memory();
    void *p = hk_engine_calloc(total);
    if (hk_unlikely(!p)) return out_of_memory();
    return p;
}

HK_EXPORT void *realloc(void *p, size_t size)
{
    if (p == NULL) return malloc(size);
    if (size == 0) {
        hk_engine_free(p, "realloc");
        return NULL;
    }
    void *q = hk_engine_realloc(p, size, "realloc");
    if (hk_unlikely(!q)) return out_of_memory();
    return q;
}

HK_EXPORT void *reallocarray(void *p, size_t count, size_t size)
{
    size_t total;
    if (!hk_mul(count, size, &total)) return out_of_memory();
    return realloc(p, total);
}

/* alignment: a power of two. */
static void *aligned_block(size_t alignment, size_t size)
{
    void *p = alignment <= NATURAL_ALIGNMENT_BYTES ? hk_engine_malloc(size)
                                                   : hk_engine_aligned(alignment, size);
    if (hk_unlikely(!p)) return out_of_memory();
    return p;
}

HK_EXPORT int posix_memalign(void **out, size_t alignment, size_t size)
{
    if (!hk_is_power_of_two(alignment) || alignment % sizeof(void *) != 0) return EINVAL;
    void *p = aligned_block(alignment, size);
    /* The result is the return value; as glibc's does, a failure also leaves errno = ENOMEM
     * (aligned_block set it), and programs check it. A success leaves errno alone. */
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}

HK_EXPORT void *aligned_alloc(size_t alignment, size_t size)
{
    if (!hk_is_power_of_two(alignment)) {
        errno = EINVAL;
        return NULL;
    }
    return aligned_block(alignment, size);
}

HK_EXPORT void *memalign(size_t alignment, size_t size)
{
    if (alignment > SIZE_MAX / 2 + 1) {
        errno = EINVAL;
        return NULL;
    }
    if (!hk_is_power_of_two(alignment)) {
        size_t rounded = 1;
        while (rounded < alignment) rounded <<= 1;
        alignment = rounded;
    }
    return aligned_block(alignment, size);
}

HK_EXPORT void *valloc(size_t size)
{
    return aligned_block(sys_page_size(), size);
}

HK_EXPORT void *pvalloc(size_t size)
{
    size_t page = sys_page_size();
    size_t rounded;
    if (!hk_align_up(size ? size : 1, page, &rounded)) return out_of_memory();
    return aligned_block(page, rounded);
}

/* ---- Sized deallocation: C23 free_sized and free_aligned_sized, C++ sized delete ------------ */

/* The fallback for engines that keep no size asked (core/engine.h): the size must fit. */
__attribute__((weak)) bool hk_engine_size_matches(const void *p, size_t size, const char *who)
{
    return size <= hk_engine_usable_size(p, who);
}

/* Frees p, which the caller says it asked with size bytes (and alignment, 0 for none): in the
 * hardened mode a size or alignment that cannot be the block's is reported (one line, abort);
 * otherwise this is free. Also called by the sized operator delete (override_cxx.c). */
void hk_free_sized(void *p, size_t size, size_t alignment, const char *who)
{
    if (hk_unlikely(p != NULL && hk_harden()) &&
        ((alignment != 0 &&
          (!hk_is_power_of_two(alignment) || ((uintptr_t)p & (alignment - 1)) != 0)) ||
         !hk_engine_size_matches(p, size, who)))
        hk_misuse(HK_MISUSE_SIZE_MISMATCH, p, who);
    hk_engine_free(p, who);
}

/* C23 (not declared by glibc 2.36's headers). */
void free_sized(void *p, size_t size);
void free_aligned_sized(void *p, size_t alignment, size_t size);

HK_EXPORT void free_sized(void *p, size_t size)
{
    hk_free_sized(p, size, 0, "free_sized");
}

HK_EXPORT void free_aligned_sized(void *p, size_t alignment, size_t size)
{
    hk_free_sized(p, size, alignment, "free_aligned_sized");
}

HK_EXPORT size_t malloc_usable_size(void *p)
{
    return p ? hk_engine_usable_size(p, "malloc_usable_size") : 0;
}

/* glibc's internal names, which some programs and libraries call directly. (Wrappers rather
 * than aliases: the compiler turns each into a jump, and aliases would have to repeat every
 * attribute glibc's headers put on the targets.) */
HK_EXPORT void *__libc_malloc(size_t size) { return malloc(size); }
HK_EXPORT void __libc_free(void *p) { free(p); }
HK_EXPORT void *__libc_calloc(size_t n, size_t size) { return calloc(n, size); }
HK_EXPORT void *__libc_realloc(void *p, size_t size) { return realloc(p, size); }
HK_EXPORT void *__libc_memalign(size_t alignment, size_t size) { return memalign(alignment, size); }
HK_EXPORT void *__libc_valloc(size_t size) { return valloc(size); }
HK_EXPORT void *__libc_pvalloc(size_t size) { return pvalloc(size); }
HK_EXPORT int __posix_memalign(void **out, size_t alignment, size_t size)
{
    return posix_memalign(out, alignment, size);
}

/* ---- Introspection ------------------------------------------------------------------------ */

HK_EXPORT struct mallinfo2 mallinfo2(void)
{
    struct mallinfo2 info;
    memset(&info, 0, sizeof info);
    hk_engine_mallinfo(&info);
    return info;
}

static int clamp_int(size_t value)
{
    return value > INT32_MAX ? INT32_MAX : (int)value;
}

HK_EXPORT struct mallinfo mallinfo(void)
{
    struct mallinfo2 wide = mallinfo2();
    struct mallinfo info = {
        .arena = clamp_int(wide.arena),       .ordblks = clamp_int(wide.ordblks),
        .smblks = clamp_int(wide.smblks),     .hblks = clamp_int(wide.hblks),
        .hblkhd = clamp_int(wide.hblkhd),     .usmblks = clamp_int(wide.usmblks),
        .fsmblks = clamp_int(wide.fsmblks),   .uordblks = clamp_int(wide.uordblks),
        .fordblks = clamp_int(wide.fordblks), .keepcost = clamp_int(wide.keepcost),
    };
    return info;
}

HK_EXPORT void malloc_stats(void)
{
    hk_engine_stats_print(2, false);
}

HK_EXPORT int malloc_trim(size_t pad)
{
    return hk_engine_trim(pad) ? 1 : 0;
}

/* glibc's tuning knobs do not map onto heapkit's design; they are accepted (1 = success, as
 * glibc answers) so programs that set them keep working. Tune heapkit with HEAPKIT_* instead. */
HK_EXPORT int mallopt(int param, int value)
{
    (void)param;
    (void)value;
    return 1;
}

HK_EXPORT int malloc_info(int options, FILE *stream)
{
    if (options != 0) {
        errno = EINVAL;
        return -1;
    }
    struct mallinfo2 info = mallinfo2();
    fprintf(stream,
            "<malloc version=\"%s-1\">\n"
            "<total type=\"arena\" size=\"%zu\"/>\n"
            "<total type=\"mmap\" count=\"%zu\" size=\"%zu\"/>\n"
            "<system type=\"current\" size=\"%zu\"/>\n"
            "<aspace type=\"total\" size=\"%zu\"/>\n"
            "<total type=\"inuse\" size=\"%zu\"/>\n"
            "<total type=\"free\" size=\"%zu\"/>\n"
            "</malloc>\n",
            hk_engine_name, info.arena, info.hblks, info.hblkhd, info.arena + info.hblkhd,
            info.arena + info.hblkhd, info.uordblks, info.fordblks);
    return 0;
}

/* ---- Statistics at exit ------------------------------------------------------------------- */

/* HEAPKIT_SHOW_STATS=1 prints the statistics when the program exits: to stderr, or appended to
 * HEAPKIT_STATS_FILE; HEAPKIT_STATS_JSON=1 prints one JSON object per process instead. The
 * heading names the library: libheapkit-secure's statistics are the fast engine's, and its
 * heading says heapkit-secure. */
/* Programs built with gnulib (coreutils: sort, tail, ls …) close stderr in an atexit handler,
 * which runs before this library's destructor; a close-on-exec copy of fd 2 taken at start-up
 * keeps the report's destination open for them. */
static int stats_stderr_copy = -1;

__attribute__((constructor)) static void stats_keep_stderr(void)
{
    if (hk_env_bool("HEAPKIT_SHOW_STATS", false))
        stats_stderr_copy = fcntl(2, F_DUPFD_CLOEXEC, 100);
}

__attribute__((destructor)) static void stats_at_exit(void)
{
    if (!hk_env_bool("HEAPKIT_SHOW_STATS", false)) return;
    bool json = hk_env_bool("HEAPKIT_STATS_JSON", false);
    const char *path = hk_env_lookup("HEAPKIT_STATS_FILE");
    int fd = fcntl(2, F_GETFD) < 0 && stats_stderr_copy >= 0 ? stats_stderr_copy : 2;
    if (path && *path) {
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd < 0) return;
    }
    if (!json)
        hk_dprintf(fd, "== %s statistics: pid %d (%s) ==\n", front_library_name(),
                   (int)getpid(), program_invocation_short_name);
    hk_engine_stats_print(fd, json);
    if (fd != 2) close(fd);
}

/* ---- The heap profiler (src/prof) ---------------------------------------------------------- */

/* Exported by both malloc replacements (include/heapkit.h). */
HK_EXPORT int hk_prof_dump(const char *path)
{
    return hk_prof_dump_files(path);
}

/* HEAPKIT_PROF=1: the profile of what is still allocated when the program exits. */
__attribute__((destructor)) static void prof_at_exit(void)
{
    hk_prof_exit_dump();
}
