/* Capturing a call stack without allocating and without re-entering malloc. Frame pointers are
 * not there in Debian's binaries, so the stack is walked with libgcc's unwinder
 * (_Unwind_Backtrace, from the DWARF call-frame information every object carries for C++
 * exceptions and cancellation): it finds each object's tables through the C library's
 * lock-free _dl_find_object and allocates nothing, except possibly on its very first use,
 * which prof_stack_init makes at start-up with the thread's re-entrance guard set (a nested
 * malloc is then served normally and never sampled).
 *
 * The library's own frames (the profiler, the engine, malloc itself, inlined or not) are
 * skipped by address: they are the frames, innermost first, whose return address lies in the
 * object this code was loaded from. When that object is the program itself (heapkit linked
 * statically), the address range says nothing, and only the profiler's two frames are skipped:
 * malloc and the engine then show as the innermost frames. */
#include <dlfcn.h>
#include <link.h>
#include <unwind.h>

#include "core/compiler.h"
#include "prof/prof_internal.h"

/* Frames of the profiler itself, when the library's range cannot be used: the capture
 * function and hk_prof_sampled (both kept out of line). */
#define PROF_OWN_FRAMES 2

static uintptr_t self_lo, self_hi; /* the library's mapped object; 0, 0 when static */

void prof_stack_init(void)
{
    struct dl_find_object found;
    if (_dl_find_object((void *)(uintptr_t)&prof_stack_init, &found) == 0 && found.dlfo_link_map &&
        found.dlfo_link_map->l_name && found.dlfo_link_map->l_name[0] != '\0') {
        self_lo = (uintptr_t)found.dlfo_map_start;
        self_hi = (uintptr_t)found.dlfo_map_end;
    }
    uintptr_t warm[4];
    (void)prof_stack_capture(warm, 4);
}

typedef struct {
    uintptr_t *frames;
    unsigned max;
    unsigned kept;
    unsigned seen;
    bool skipping; /* still inside the library's own frames */
} capture_t;

static _Unwind_Reason_Code capture_frame(struct _Unwind_Context *context, void *arg)
{
    capture_t *c = arg;
    int before_instruction = 0;
    uintptr_t ip = (uintptr_t)_Unwind_GetIPInfo(context, &before_instruction);
    if (ip == 0) return _URC_END_OF_STACK;
    c->seen++;
    if (c->skipping) {
        bool own = self_hi ? ip - self_lo < self_hi - self_lo : c->seen <= PROF_OWN_FRAMES;
        if (own) return _URC_NO_REASON;
        c->skipping = false;
    }
    /* A signal frame's address is the interrupted instruction itself; the profile's readers
     * take every address but the first as a return address and step back one byte. */
    if (before_instruction && c->kept > 0) ip++;
    c->frames[c->kept++] = ip;
    return c->kept < c->max ? _URC_NO_REASON : _URC_END_OF_STACK;
}

HK_NOINLINE unsigned prof_stack_capture(uintptr_t *frames, unsigned max)
{
    capture_t c = {frames, max, 0, 0, true};
    if (max == 0) return 0;
    _Unwind_Backtrace(capture_frame, &c);
    return c.kept;
}
