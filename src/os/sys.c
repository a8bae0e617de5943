/* Linux implementation of the kernel layer (see sys.h for the contract). */
#include "os/sys.h"

#include <errno.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <unistd.h>

static struct {
    uint64_t mmap, munmap, madvise, mprotect, mincore, brk, failures;
    uint64_t mapped_bytes, mapped_peak_bytes, brk_bytes;
} counters;

static size_t page_size_cached;

#define COUNT(field) __atomic_fetch_add(&counters.field, 1, __ATOMIC_RELAXED)

static int fail(int saved_errno)
{
    int error = errno;
    COUNT(failures);
    errno = saved_errno;
    return error ? error : ENOMEM;
}

static void mapped_add(size_t size)
{
    uint64_t now = __atomic_add_fetch(&counters.mapped_bytes, size, __ATOMIC_RELAXED);
    uint64_t peak = __atomic_load_n(&counters.mapped_peak_bytes, __ATOMIC_RELAXED);
    while (now > peak && !__atomic_compare_exchange_n(&counters.mapped_peak_bytes, &peak, now,
                                                      1, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
    }
}

size_t sys_page_size(void)
{
    size_t size = __atomic_load_n(&page_size_cached, __ATOMIC_RELAXED);
    if (size == 0) {
        size = (size_t)getauxval(AT_PAGESZ);
        if (size == 0) size = 4096;
        __atomic_store_n(&page_size_cached, size, __ATOMIC_RELAXED);
    }
    return size;
}

int sys_map(size_t size, void **out)
{
    int saved = errno;
    COUNT(mmap);
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return fail(saved);
    mapped_add(size);
    *out = p;
    return 0;
}

int sys_unmap(void *addr, size_t size)
{
    int saved = errno;
    COUNT(munmap);
    if (munmap(addr, size) != 0) return fail(saved);
    __atomic_sub_fetch(&counters.mapped_bytes, size, __ATOMIC_RELAXED);
    return 0;
}

int sys_map_aligned(size_t size, size_t alignment, void **out)
{
    size_t page = sys_page_size();
    if (alignment <= page) return sys_map(size, out);
    if (size + alignment < size) return ENOMEM;
    void *raw;
    int error = sys_map(size + alignment, &raw);
    if (error) return error;
    uintptr_t start = (uintptr_t)raw;
    uintptr_t aligned = (start + alignment - 1) & ~(uintptr_t)(alignment - 1);
    size_t head = aligned - start;
    size_t tail = alignment - head;
    if (head) sys_unmap(raw, head);
    if (tail) sys_unmap((void *)(aligned + size), tail);
    *out = (void *)aligned;
    return 0;
}

int sys_decommit(void *addr, size_t size)
{
    int saved = errno;
    COUNT(madvise);
    if (madvise(addr, size, MADV_DONTNEED) != 0) return fail(saved);
    return 0;
}

int sys_resident(void *addr, size_t size, size_t *pages)
{
    int saved = errno;
    size_t page = sys_page_size();
    unsigned char vec[1024]; /* one byte per page: 4 MiB of 4 KiB pages per call */
    size_t count = 0;
    uint8_t *at = addr;
    while (size > 0) {
        size_t chunk = size < sizeof vec * page ? size : sizeof vec * page;
        COUNT(mincore);
        if (mincore(at, chunk, vec) != 0) return fail(saved);
        for (size_t i = 0; i < (chunk + page - 1) / page; i++) count += vec[i] & 1;
        at += chunk;
        size -= chunk;
    }
    *pages = count;
    return 0;
}

int sys_purge_lazy(void *addr, size_t size)
{
#ifdef MADV_FREE
    static int lazy_unsupported;
    if (!__atomic_load_n(&lazy_unsupported, __ATOMIC_RELAXED)) {
        int saved = errno;
        COUNT(madvise);
        if (madvise(addr, size, MADV_FREE) == 0) return 0;
        if (errno != EINVAL) return fail(saved);
        errno = saved;
        __atomic_store_n(&lazy_unsupported, 1, __ATOMIC_RELAXED);
    }
#endif
    return sys_decommit(addr, size);
}

int sys_protect(void *addr, size_t size, sys_prot_t prot)
{
    int saved = errno;
    int flags = prot == SYS_PROT_RW ? PROT_READ | PROT_WRITE
                : prot == SYS_PROT_READ ? PROT_READ
                                        : PROT_NONE;
    COUNT(mprotect);
    if (mprotect(addr, size, flags) != 0) return fail(saved);
    return 0;
}

int sys_brk(intptr_t increment, void **old_break)
{
    int saved = errno;
    if (increment != 0) COUNT(brk);
    void *old = sbrk(increment);
    if (old == (void *)-1) return fail(saved);
    __atomic_add_fetch(&counters.brk_bytes, (uint64_t)increment, __ATOMIC_RELAXED);
    *old_break = old;
    return 0;
}

void sys_counters(sys_counters_t *out)
{
    out->mmap = __atomic_load_n(&counters.mmap, __ATOMIC_RELAXED);
    out->munmap = __atomic_load_n(&counters.munmap, __ATOMIC_RELAXED);
    out->madvise = __atomic_load_n(&counters.madvise, __ATOMIC_RELAXED);
    out->mprotect = __atomic_load_n(&counters.mprotect, __ATOMIC_RELAXED);
    out->mincore = __atomic_load_n(&counters.mincore, __ATOMIC_RELAXED);
    out->brk = __atomic_load_n(&counters.brk, __ATOMIC_RELAXED);
    out->failures = __atomic_load_n(&counters.failures, __ATOMIC_RELAXED);
    out->mapped_bytes = __atomic_load_n(&counters.mapped_bytes, __ATOMIC_RELAXED);
    out->mapped_peak_bytes = __atomic_load_n(&counters.mapped_peak_bytes, __ATOMIC_RELAXED);
    out->brk_bytes = __atomic_load_n(&counters.brk_bytes, __ATOMIC_RELAXED);
}

void sys_counters_reset(void)
{
    __atomic_store_n(&counters.mmap, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&counters.munmap, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&counters.madvise, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&counters.mprotect, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&counters.mincore, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&counters.brk, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&counters.failures, 0, __ATOMIC_RELAXED);
}
