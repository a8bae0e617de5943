/* The kernel layer: the only code in heapkit that makes memory system calls.
 * Contract: every function returns 0 on success or an errno value on failure, never
 * prints, never allocates, leaves errno as it found it, and counts the call it made so
 * that tests and statistics can say exactly how many system calls an operation cost. */
#ifndef HK_OS_SYS_H
#define HK_OS_SYS_H

#include <stddef.h>
#include <stdint.h>

/* Protection for sys_protect: what the pages allow afterwards. */
typedef enum {
    SYS_PROT_NONE = 0, /* any access faults: guard pages */
    SYS_PROT_READ = 1, /* read-only */
    SYS_PROT_RW = 3,   /* ordinary heap memory */
} sys_prot_t;

/* Counts of system calls made through this layer, and the bytes it holds mapped. */
typedef struct {
    uint64_t mmap;              /* mmap calls, failed ones included */
    uint64_t munmap;            /* munmap calls */
    uint64_t madvise;           /* madvise calls (decommit and lazy purge) */
    uint64_t mprotect;          /* mprotect calls */
    uint64_t mincore;           /* mincore calls (resident-page counts) */
    uint64_t brk;               /* sbrk calls that moved the break */
    uint64_t failures;          /* calls of any kind that returned an error */
    uint64_t mapped_bytes;      /* bytes mapped now (mmap minus munmap) */
    uint64_t mapped_peak_bytes; /* the most mapped_bytes has been */
    uint64_t brk_bytes;         /* bytes the break has moved up (net) */
} sys_counters_t;

/* The page size, read once from the auxiliary vector (no system call). */
size_t sys_page_size(void);

/* Maps size bytes (a multiple of the page size) of zeroed read-write private memory. */
int sys_map(size_t size, void **out);

/* Maps size bytes whose start is a multiple of alignment (a power of two, at least a page):
 * maps size + alignment, then unmaps the unaligned head and the tail. */
int sys_map_aligned(size_t size, size_t alignment, void **out);

/* Unmaps [addr, addr + size); both page-aligned. */
int sys_unmap(void *addr, size_t size);

/* Gives the pages back to the kernel now; they read as zero afterwards (MADV_DONTNEED). */
int sys_decommit(void *addr, size_t size);

/* Lets the kernel take the pages when it needs memory (MADV_FREE, falling back to
 * MADV_DONTNEED on kernels without it); contents are undefined afterwards. */
int sys_purge_lazy(void *addr, size_t size);

/* Counts the resident pages of [addr, addr + size) (page-aligned) with mincore; never
 * allocates (one mincore call per 4 MiB). */
int sys_resident(void *addr, size_t size, size_t *pages);

/* Changes the protection of whole pages. */
int sys_protect(void *addr, size_t size, sys_prot_t prot);

/* Moves the program break by increment bytes (sbrk); *old_break receives the previous
 * break, which is the start of the new memory when increment > 0. The one owner of brk. */
int sys_brk(intptr_t increment, void **old_break);

/* A snapshot of the counters (each read atomically; the set is not one instant). */
void sys_counters(sys_counters_t *out);

/* Zeroes the call counters (not the byte figures); for tests that count calls. */
void sys_counters_reset(void);

#endif
