/* The hardened mode's switch: HEAPKIT_HARDEN=1 in the environment, or a build with
 * -DHK_HARDEN_ALWAYS=1 (libheapkit-secure.so), where it is on from the first allocation and
 * cannot be turned off. What the mode does is each engine's (its *_harden.c); this says only
 * whether it is on.
 *
 * The answer is read once, when the environment can first be read, and never changes after.
 * Allocations made before that (the dynamic loader's, the C library's earliest) see the mode
 * off, so an engine must record in each block whether it was hardened when it was handed out
 * (a canary written, a size stored) and check only what it wrote. */
#ifndef HK_CORE_HARDEN_H
#define HK_CORE_HARDEN_H

#include <stdbool.h>

#include "core/compiler.h"

#ifndef HK_HARDEN_ALWAYS
#define HK_HARDEN_ALWAYS 0
#endif

enum { HK_HARDEN_UNREAD = 0, HK_HARDEN_OFF = 1, HK_HARDEN_ON = 2 };
extern int hk_harden_state;

/* Reads HEAPKIT_HARDEN (when the environment is ready) and returns the mode. */
HK_NOINLINE HK_COLD bool hk_harden_read(void);

/* Whether the hardened mode is on: a load and a test, or a constant in a build that forces it. */
static inline bool hk_harden(void)
{
#if HK_HARDEN_ALWAYS
    return true;
#else
    int state = __atomic_load_n(&hk_harden_state, __ATOMIC_RELAXED);
    if (hk_likely(state == HK_HARDEN_OFF)) return false;
    return state == HK_HARDEN_ON || hk_harden_read();
#endif
}

#endif
