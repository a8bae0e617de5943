/* The C++ allocation operators (Itanium ABI names), so C++ programs use the same engine.
 * operator new retries through std::new_handler and throws std::bad_alloc when the program
 * links libstdc++ (both reached through weak references, so C programs need no C++ runtime);
 * without a handler or libstdc++ it reports and aborts. The nothrow forms return NULL.
 * Built with -fexceptions so a throw unwinds through these frames. */
#include <stddef.h>
#include <stdlib.h>

#include "core/compiler.h"
#include "core/fatal.h"
#include "core/engine.h"

typedef void (*new_handler_fn)(void);
extern new_handler_fn _ZSt15get_new_handlerv(void) __attribute__((weak));
extern void _ZSt17__throw_bad_allocv(void) __attribute__((weak, noreturn));

#define NATURAL_ALIGNMENT_BYTES 16

static void *allocate(size_t size, size_t alignment)
{
    if (alignment <= NATURAL_ALIGNMENT_BYTES) return hk_engine_malloc(size);
    if (alignment & (alignment - 1)) return NULL;
    return hk_engine_aligned(alignment, size);
}

static HK_NOINLINE HK_COLD void *new_slow(size_t size, size_t alignment)
{
    for (;;) {
        void *p = allocate(size, alignment);
        if (p) return p;
        new_handler_fn handler = _ZSt15get_new_handlerv ? _ZSt15get_new_handlerv() : NULL;
        if (!handler) {
            if (_ZSt17__throw_bad_allocv) _ZSt17__throw_bad_allocv();
            hk_fatal("out of memory in operator new (%zu bytes)", size);
        }
        handler();
    }
}

static inline void *new_throwing(size_t size, size_t alignment)
{
    void *p = allocate(size, alignment);
    if (hk_likely(p != NULL)) return p;
    return new_slow(size, alignment);
}

static inline void delete_block(void *p)
{
    hk_engine_free(p, "operator delete");
}

/* The sized forms: the size (and alignment) checked in the hardened mode (override.c). */
void hk_free_sized(void *p, size_t size, size_t alignment, const char *who);

static inline void delete_sized(void *p, size_t size, size_t alignment)
{
    hk_free_sized(p, size, alignment, "operator delete");
}

/* new / new[] */
HK_EXPORT void *_Znwm(size_t n) { return new_throwing(n, 0); }
HK_EXPORT void *_Znam(size_t n) { return new_throwing(n, 0); }
HK_EXPORT void *_ZnwmRKSt9nothrow_t(size_t n, const void *tag) { (void)tag; return allocate(n, 0); }
HK_EXPORT void *_ZnamRKSt9nothrow_t(size_t n, const void *tag) { (void)tag; return allocate(n, 0); }
/* aligned new (C++17) */
HK_EXPORT void *_ZnwmSt11align_val_t(size_t n, size_t al) { return new_throwing(n, al); }
HK_EXPORT void *_ZnamSt11align_val_t(size_t n, size_t al) { return new_throwing(n, al); }
HK_EXPORT void *_ZnwmSt11align_val_tRKSt9nothrow_t(size_t n, size_t al, const void *tag)
{
    (void)tag;
    return allocate(n, al);
}
HK_EXPORT void *_ZnamSt11align_val_tRKSt9nothrow_t(size_t n, size_t al, const void *tag)
{
    (void)tag;
    return allocate(n, al);
}

/* delete / delete[], plain, sized, nothrow and aligned */
HK_EXPORT void _ZdlPv(void *p) { delete_block(p); }
HK_EXPORT void _ZdaPv(void *p) { delete_block(p); }
HK_EXPORT void _ZdlPvm(void *p, size_t n) { delete_sized(p, n, 0); }
HK_EXPORT void _ZdaPvm(void *p, size_t n) { delete_sized(p, n, 0); }
HK_EXPORT void _ZdlPvRKSt9nothrow_t(void *p, const void *tag) { (void)tag; delete_block(p); }
HK_EXPORT void _ZdaPvRKSt9nothrow_t(void *p, const void *tag) { (void)tag; delete_block(p); }
HK_EXPORT void _ZdlPvSt11align_val_t(void *p, size_t al) { (void)al; delete_block(p); }
HK_EXPORT void _ZdaPvSt11align_val_t(void *p, size_t al) { (void)al; delete_block(p); }
HK_EXPORT void _ZdlPvmSt11align_val_t(void *p, size_t n, size_t al)
{
    delete_sized(p, n, al);
}
HK_EXPORT void _ZdaPvmSt11align_val_t(void *p, size_t n, size_t al)
{
    delete_sized(p, n, al);
}
HK_EXPORT void _ZdlPvSt11align_val_tRKSt9nothrow_t(void *p, size_t al, const void *tag)
{
    (void)al, (void)tag;
    delete_block(p);
}
HK_EXPORT void _ZdaPvSt11align_val_tRKSt9nothrow_t(void *p, size_t al, const void *tag)
{
    (void)al, (void)tag;
    delete_block(p);
}
