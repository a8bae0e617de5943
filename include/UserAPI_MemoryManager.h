/* UserAPI_MemoryManager.h — the user's side of the typed page-family allocator (spec 004).
 *
 *   mm_init();
 *   MM_REG_STRUCT(emp_t);                   register a struct type once
 *   emp_t *e = XCALLOC(3, emp_t);           three zeroed emp_t, or NULL
 *   XFREE(e);
 *   mm_print_memory_usage(NULL);            reports on stdout
 *
 * Errors (unknown type, impossible size) print one line on stderr and return NULL; misuse
 * (a double free, a pointer that xcalloc did not return) prints one line and aborts. */
#ifndef HEAPKIT_USERAPI_MEMORYMANAGER_H
#define HEAPKIT_USERAPI_MEMORYMANAGER_H

#include <stddef.h>
#include <stdint.h>

#include "MM.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Reads the page size. Calling it is optional (every entry point initialises on demand) and
 * calling it again does nothing. */
void mm_init(void);

/* Registers a struct type. Registering the same name with the same size again is ignored;
 * the same name with another size aborts. A name longer than MM_MAX_STRUCT_NAME, a size of
 * zero or a size no VM page can hold is refused with a message on stderr. */
void mm_instantiate_new_page_family(char *struct_name, uint32_t struct_size);

/* The family registered under struct_name, or NULL. */
vm_page_family_t *lookup_page_family_by_name(char *struct_name);

/* units zeroed instances of a registered struct type, or NULL with a message on stderr. */
void *xcalloc(char *struct_name, int units);

/* Gives back what xcalloc returned; NULL is ignored. */
void xfree(void *app_data);

/* Reports on stdout. */
void mm_print_registered_page_families(void);
void mm_print_memory_usage(char *struct_name); /* NULL: every family */
void mm_print_block_usage(void);

#define MM_REG_STRUCT(struct_name)                                                                 \
    (mm_instantiate_new_page_family(#struct_name, sizeof(struct_name)))
#define XCALLOC(units, struct_name) (xcalloc(#struct_name, units))
#define XFREE(ptr)                  (xfree(ptr))

/* The figures behind the reports, for programs and tests. */
typedef struct {
    char struct_name[MM_MAX_STRUCT_NAME + 1]; /* the family's name; "" for a total */
    uint32_t struct_size;                     /* its struct size; 0 for a total */
    uint32_t families;                        /* families counted (1, or all for a total) */
    uint64_t pages;                           /* VM pages the family holds now */
    uint64_t mapped_bytes;                    /* pages * page size */
    uint64_t blocks;                          /* blocks in those pages */
    uint64_t free_blocks;                     /* blocks on the priority list */
    uint64_t occupied_blocks;                 /* blocks handed out */
    uint64_t free_bytes;                      /* data bytes of the free blocks */
    uint64_t occupied_bytes;                  /* data bytes of the occupied blocks */
    uint64_t meta_bytes;                      /* block metadata and page headers */
    uint64_t largest_free_block;              /* data bytes of the biggest free block */
    uint32_t fragmentation_permille;          /* 1000 * (1 - largest_free / free_bytes) */
    uint64_t alloc_calls;                     /* successful xcalloc calls so far */
    uint64_t free_calls;                      /* xfree calls so far */
    uint64_t pages_obtained;                  /* VM pages mapped so far */
    uint64_t pages_released;                  /* VM pages given back so far */
} mm_family_stats_t;

/* Fills *out for the family named struct_name, or sums every family when it is NULL.
 * Returns 0, or -1 when no family has that name. */
int mm_get_family_stats(const char *struct_name, mm_family_stats_t *out);

/* Writes every family's figures as one JSON object into buf (snprintf semantics: returns the
 * length the whole text needs; buf is NUL-terminated when cap > 0). */
size_t mm_usage_json(char *buf, size_t cap);

#ifdef __cplusplus
}
#endif

#endif
