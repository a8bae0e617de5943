/* The page map: one byte per page of the address space saying whether the page belongs to a
 * chunk of ours or holds the tag of one of our mapped blocks. free() asks it before reading any
 * header, so a pointer we never returned (a stack address, an unmapped one, a freed large
 * block) is reported instead of faulting. A three-level radix tree over the 35 page-number bits
 * of a 47-bit user address space; levels are mapped on first use and never freed, and a lookup
 * is three dependent loads without a lock. */
#include "buddy/buddy.h"
#include "os/sys.h"

#define PAGE_SHIFT   12
#define ADDRESS_BITS 47
#define LEAF_BITS    12 /* a leaf is one 4 KiB page of bytes */
#define MID_BITS     12 /* a mid table is 4096 pointers (32 KiB) */
#define TOP_BITS     (ADDRESS_BITS - PAGE_SHIFT - LEAF_BITS - MID_BITS) /* 11 */

typedef struct {
    uint8_t *leaf[1u << MID_BITS];
} mid_table_t;

static mid_table_t *top_table[1u << TOP_BITS];

/* Installs a zeroed table of size bytes at *slot unless another thread got there first. */
static void *install(void **slot, size_t size)
{
    void *table = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
    if (table) return table;
    void *fresh;
    if (sys_map(size, &fresh) != 0) return NULL;
    void *expected = NULL;
    if (__atomic_compare_exchange_n(slot, &expected, fresh, false, __ATOMIC_ACQ_REL,
                                    __ATOMIC_ACQUIRE))
        return fresh;
    sys_unmap(fresh, size);
    return expected;
}

static uint8_t *entry(uintptr_t page_number, bool create)
{
    size_t top = page_number >> (MID_BITS + LEAF_BITS);
    size_t mid = (page_number >> LEAF_BITS) & ((1u << MID_BITS) - 1);
    size_t low = page_number & ((1u << LEAF_BITS) - 1);
    mid_table_t *m = __atomic_load_n(&top_table[top], __ATOMIC_ACQUIRE);
    if (!m) {
        if (!create) return NULL;
        m = install((void **)&top_table[top], sizeof(mid_table_t));
        if (!m) return NULL;
    }
    uint8_t *leaf = __atomic_load_n(&m->leaf[mid], __ATOMIC_ACQUIRE);
    if (!leaf) {
        if (!create) return NULL;
        leaf = install((void **)&m->leaf[mid], (size_t)1 << LEAF_BITS);
        if (!leaf) return NULL;
    }
    return &leaf[low];
}

bool buddy_pagemap_set(const void *addr, size_t size, uint8_t kind)
{
    uintptr_t first = (uintptr_t)addr >> PAGE_SHIFT;
    uintptr_t last = ((uintptr_t)addr + size - 1) >> PAGE_SHIFT;
    if (last >> (ADDRESS_BITS - PAGE_SHIFT)) return false;
    for (uintptr_t page = first; page <= last; page++) {
        uint8_t *e = entry(page, true);
        if (!e) return false;
        __atomic_store_n(e, kind, __ATOMIC_RELEASE);
    }
    return true;
}

uint8_t buddy_pagemap_get(const void *addr)
{
    uintptr_t page = (uintptr_t)addr >> PAGE_SHIFT;
    if (page >> (ADDRESS_BITS - PAGE_SHIFT)) return PAGE_NOT_OURS;
    uint8_t *e = entry(page, false);
    return e ? __atomic_load_n(e, __ATOMIC_ACQUIRE) : PAGE_NOT_OURS;
}

bool buddy_pagemap_each(uint8_t kind, bool (*visit)(uintptr_t page, void *arg), void *arg)
{
    for (size_t top = 0; top < HK_ARRAY_LEN(top_table); top++) {
        mid_table_t *m = __atomic_load_n(&top_table[top], __ATOMIC_ACQUIRE);
        if (!m) continue;
        for (size_t mid = 0; mid < HK_ARRAY_LEN(m->leaf); mid++) {
            uint8_t *leaf = __atomic_load_n(&m->leaf[mid], __ATOMIC_ACQUIRE);
            if (!leaf) continue;
            for (size_t low = 0; low < (size_t)1 << LEAF_BITS; low++) {
                if (buddy_page_kind(__atomic_load_n(&leaf[low], __ATOMIC_ACQUIRE)) != kind)
                    continue;
                uintptr_t page_number =
                    (uintptr_t)top << (MID_BITS + LEAF_BITS) | (uintptr_t)mid << LEAF_BITS | low;
                if (!visit(page_number << PAGE_SHIFT, arg)) return false;
            }
        }
    }
    return true;
}
