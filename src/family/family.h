/* The typed page-family engine (spec 004): what the front end (src/front/mm.c) and the tests
 * call. Everything here is internal; the seed names are exported by the front end. */
#ifndef HK_FAMILY_FAMILY_H
#define HK_FAMILY_FAMILY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "MM.h"
#include "UserAPI_MemoryManager.h"
#include "core/lock.h"

/* registry.c: initialisation and the families' registry. */
void family_init(void);
size_t family_page_size(void);       /* the VM page size (initialises on demand) */
size_t family_max_block_bytes(void); /* the largest data size one VM page can hold */
void family_register(const char *name, uint32_t struct_size);
vm_page_family_t *family_lookup(const char *name);

/* Walks the registry without a lock: families are only ever appended, and each is published
 * (count and next pointers stored with release order) after it is fully initialised. */
typedef struct {
    vm_page_for_families_t *page; /* registry page being walked */
    uint32_t index;               /* next family within it */
} family_iter_t;
void family_iter_begin(family_iter_t *it);
vm_page_for_families_t *family_registry_first(void);   /* for MM.h's ITERATE_PAGE_FAMILIES */
vm_page_family_t *family_iter_next(family_iter_t *it); /* NULL at the end */

/* block.c: allocation and release. */
void *family_alloc(const char *name, int units);
void family_free(void *data);
uint32_t family_block_magic(const block_meta_data_t *meta); /* canary of a live header */

/* Priority list of free blocks, largest first (block.c). The family's lock is held. */
void family_priority_insert(vm_page_family_t *family, block_meta_data_t *block);
void family_priority_remove(block_meta_data_t *block);

/* report.c: figures, text reports and JSON. */
int family_stats(const char *name, mm_family_stats_t *out);
void family_print_registered(void);
void family_print_memory_usage(const char *name);
void family_print_block_usage(void);
size_t family_usage_json(char *buf, size_t cap);

/* walk.c: the heap walk (core/walk.h's hk_walker_t): every VM page as a segment, then its
 * blocks; one family's lock at a time. */
#include "heapkit.h"
bool family_walk(hk_block_visitor_t visitor, void *arg, int max_level);

/* check.c: walks every family, page and block and verifies the invariants; on the first
 * violation prints one line on stderr and returns false. */
bool family_check(void);

/* A family's lock guards its pages, blocks, priority list and counters; its name and size
 * never change after registration. Never hold two family locks at once. */
static inline void family_lock(vm_page_family_t *family)
{
    hk_lock(family->lock);
}

static inline void family_unlock(vm_page_family_t *family)
{
    hk_unlock(family->lock);
}

#endif
