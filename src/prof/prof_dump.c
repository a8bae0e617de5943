/* The two dump files, written with open/write/rename only (no stdio, no malloc), so that a
 * signal handler may write them:
 *
 * - NAME.heap, the gperftools heap-profile text format, which `google-pprof` reads:
 *       heap profile: <live blocks>: <live bytes> [<blocks>: <bytes>] @ heapprofile
 *       <live blocks>: <live bytes> [<blocks>: <bytes>] @ 0x<ret> 0x<ret> ...   (one per stack)
 *       (blank line)
 *       MAPPED_LIBRARIES:
 *       <the process's /proc/self/maps, copied>
 *   The figures are already the estimates (each sample weighted by 1 / P(size)), and the
 *   "heapprofile" type tells pprof not to scale them again. The bracketed pair counts every
 *   sampled allocation of the stack, freed ones included (pprof --alloc_space). Addresses are
 *   return addresses, innermost first: pprof maps them to functions through the maps section.
 * - NAME.folded, for flame graphs: one line per stack holding live bytes,
 *       outermost;...;innermost <live bytes>
 *   with function names read from the ELF files (prof_symbols.c).
 * - NAME.alloc.folded, the same for every sampled allocation of the run, freed ones included
 *   (the bracketed pair's bytes): what a program that frees everything before it exits, as an
 *   interpreter does, allocated and where.
 *
 * Each file is written to NAME.tmp and renamed, so a reader never sees half a dump (or
 * straight into NAME when that is not a regular file, HEAPKIT_PROF_FILE=/dev/null or a pipe:
 * then the folded files are not written). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h> /* rename(2) only: no streams */
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fmt.h"
#include "prof/prof_internal.h"

/* ---- A buffered writer --------------------------------------------------------------------- */

typedef struct {
    int fd;
    int error; /* the first write error, 0 if none */
    size_t used;
    char buf[8192];
} writer_t;

static void writer_flush(writer_t *w)
{
    size_t done = 0;
    while (done < w->used && !w->error) {
        ssize_t n = write(w->fd, w->buf + done, w->used - done);
        if (n > 0)
            done += (size_t)n;
        else if (n < 0 && errno != EINTR)
            w->error = errno;
        else if (n == 0)
            w->error = EIO;
    }
    w->used = 0;
}

static void writer_bytes(writer_t *w, const char *data, size_t len)
{
    while (len) {
        if (w->used == sizeof w->buf) writer_flush(w);
        size_t n = sizeof w->buf - w->used < len ? sizeof w->buf - w->used : len;
        memcpy(w->buf + w->used, data, n);
        w->used += n;
        data += n;
        len -= n;
    }
}

static void HK_PRINTF(2, 3) writer_printf(writer_t *w, const char *format, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, format);
    size_t n = hk_vsnprintf(line, sizeof line, format, ap);
    va_end(ap);
    writer_bytes(w, line, n < sizeof line ? n : sizeof line - 1);
}

/* Opens path for writing: through a temporary twin, renamed over path at the end, so readers
 * never see half a dump; straight into path when it exists and is not a regular file (a pipe,
 * /dev/null, a terminal: renaming over those would replace them). 0 or an errno value. */
static int writer_open(writer_t *w, char *tmp, size_t cap, const char *path)
{
    struct stat st;
    w->error = 0;
    w->used = 0;
    tmp[0] = '\0';
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        w->fd = open(path, O_WRONLY | O_CLOEXEC);
    } else {
        if (hk_snprintf(tmp, cap, "%s.tmp", path) >= cap) return ENAMETOOLONG;
        w->fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    }
    return w->fd < 0 ? errno : 0;
}

/* Flushes and closes; renames the temporary file to path. 0 or an errno value. */
static int writer_close(writer_t *w, const char *tmp, const char *path)
{
    writer_flush(w);
    if (close(w->fd) != 0 && !w->error) w->error = errno;
    if (!tmp[0]) return w->error;
    if (!w->error && rename(tmp, path) != 0) w->error = errno;
    if (w->error) unlink(tmp);
    return w->error;
}

/* ---- The heap file ------------------------------------------------------------------------- */

static uint64_t rounded(double x)
{
    return x > 0 ? (uint64_t)(x + 0.5) : 0;
}

static void copy_maps(writer_t *w)
{
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    char chunk[4096];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        writer_bytes(w, chunk, (size_t)n);
    }
    close(fd);
}

static void write_heap(writer_t *w)
{
    uint32_t count;
    const prof_stack_t *stacks = prof_table_stacks(&count);
    size_t frame_count;
    const uintptr_t *frames = prof_table_frames(&frame_count);
    (void)frame_count;
    uint64_t live_n = 0, live_b = 0, all_n = 0, all_b = 0;
    for (uint32_t i = 0; i < count; i++) {
        live_n += rounded(stacks[i].live_count);
        live_b += rounded(stacks[i].live_bytes);
        all_n += rounded(stacks[i].alloc_count);
        all_b += rounded(stacks[i].alloc_bytes);
    }
    writer_printf(w, "heap profile: %6llu: %8llu [%6llu: %8llu] @ heapprofile\n",
                  (unsigned long long)live_n, (unsigned long long)live_b, (unsigned long long)all_n,
                  (unsigned long long)all_b);
    for (uint32_t i = 0; i < count; i++) {
        const prof_stack_t *s = &stacks[i];
        if (s->depth == 0) continue; /* pprof needs an address */
        writer_printf(
            w, "%6llu: %8llu [%6llu: %8llu] @", (unsigned long long)rounded(s->live_count),
            (unsigned long long)rounded(s->live_bytes), (unsigned long long)rounded(s->alloc_count),
            (unsigned long long)rounded(s->alloc_bytes));
        for (uint32_t f = 0; f < s->depth; f++)
            writer_printf(w, " 0x%lx", (unsigned long)frames[s->first_frame + f]);
        writer_bytes(w, "\n", 1);
    }
    writer_bytes(w, "\nMAPPED_LIBRARIES:\n", 19);
    copy_maps(w);
}

/* ---- The folded file ----------------------------------------------------------------------- */

/* One line per stack with live bytes (or, when allocated is set, with bytes ever allocated). */
static void write_folded(writer_t *w, bool allocated)
{
    uint32_t count;
    const prof_stack_t *stacks = prof_table_stacks(&count);
    size_t frame_count;
    const uintptr_t *frames = prof_table_frames(&frame_count);
    (void)frame_count;
    char name[320];
    for (uint32_t i = 0; i < count; i++) {
        const prof_stack_t *s = &stacks[i];
        uint64_t bytes = rounded(allocated ? s->alloc_bytes : s->live_bytes);
        if (bytes == 0) continue;
        if (s->depth == 0) writer_bytes(w, "[unknown]", 9);
        for (uint32_t f = s->depth; f-- > 0;) {
            prof_symbols_name(frames[s->first_frame + f], name, sizeof name);
            writer_bytes(w, name, strlen(name));
            if (f) writer_bytes(w, ";", 1);
        }
        writer_printf(w, " %llu\n", (unsigned long long)bytes);
    }
}

/* NAME.heap -> NAME<suffix>; anything else gets suffix appended. */
static int folded_path(const char *heap_path, const char *suffix, char *out, size_t cap)
{
    size_t len = strlen(heap_path);
    if (len > 5 && strcmp(heap_path + len - 5, ".heap") == 0) len -= 5;
    if (hk_snprintf(out, cap, "%.*s%s", (int)len, heap_path, suffix) >= cap) return ENAMETOOLONG;
    return 0;
}

/* Writes a folded file through w (its buffer reused: this may run on a signal's stack). */
static int write_folded_file(writer_t *w, char *tmp, size_t cap, const char *path, bool allocated)
{
    int error = writer_open(w, tmp, cap, path);
    if (error) return error;
    write_folded(w, allocated);
    return writer_close(w, tmp, path);
}

int prof_dump_locked(const char *heap_path)
{
    char tmp[PROF_PATH_MAX + 16], folded[PROF_PATH_MAX + 8], alloc_folded[PROF_PATH_MAX + 16];
    int error = folded_path(heap_path, ".folded", folded, sizeof folded);
    if (!error) error = folded_path(heap_path, ".alloc.folded", alloc_folded, sizeof alloc_folded);
    if (error) return error;
    prof_table_sum_live();

    writer_t w;
    error = writer_open(&w, tmp, sizeof tmp, heap_path);
    if (error) return error;
    write_heap(&w);
    error = writer_close(&w, tmp, heap_path);
    if (error) return error;

    /* A heap path that is no regular file (/dev/null, a pipe) gets the heap profile only:
     * its folded twins would be new files beside a device. */
    struct stat st;
    if (stat(heap_path, &st) == 0 && !S_ISREG(st.st_mode)) return 0;
    size_t frame_count;
    const uintptr_t *frames = prof_table_frames(&frame_count);
    prof_symbols_prepare(frames, frame_count);
    error = write_folded_file(&w, tmp, sizeof tmp, folded, false);
    if (!error) error = write_folded_file(&w, tmp, sizeof tmp, alloc_folded, true);
    prof_symbols_release();
    return error;
}
