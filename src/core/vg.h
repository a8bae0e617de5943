/* Valgrind client requests, in one place. They compile to nothing unless the build defines
 * HEAPKIT_VALGRIND=1 and valgrind's headers are installed (make VALGRIND=1), so release builds
 * pay nothing. With them, memcheck understands an engine's blocks as heap blocks. */
#ifndef HK_CORE_VG_H
#define HK_CORE_VG_H

#if defined(HEAPKIT_VALGRIND) && HEAPKIT_VALGRIND && __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#include <valgrind/valgrind.h>
#define HK_VG_MALLOCLIKE(p, size, zeroed) VALGRIND_MALLOCLIKE_BLOCK((p), (size), 0, (zeroed))
#define HK_VG_FREELIKE(p)                 VALGRIND_FREELIKE_BLOCK((p), 0)
#define HK_VG_RESIZE(p, old, new)         VALGRIND_RESIZEINPLACE_BLOCK((p), (old), (new), 0)
#define HK_VG_NOACCESS(p, size)           VALGRIND_MAKE_MEM_NOACCESS((p), (size))
#define HK_VG_DEFINED(p, size)            VALGRIND_MAKE_MEM_DEFINED((p), (size))
#define HK_VG_UNDEFINED(p, size)          VALGRIND_MAKE_MEM_UNDEFINED((p), (size))
#define HK_VG_RUNNING()                   RUNNING_ON_VALGRIND
#else
#define HK_VG_MALLOCLIKE(p, size, zeroed) ((void)0)
#define HK_VG_FREELIKE(p)                 ((void)0)
#define HK_VG_RESIZE(p, old, new)         ((void)0)
#define HK_VG_NOACCESS(p, size)           ((void)0)
#define HK_VG_DEFINED(p, size)            ((void)0)
#define HK_VG_UNDEFINED(p, size)          ((void)0)
#define HK_VG_RUNNING()                   0
#endif

#endif
