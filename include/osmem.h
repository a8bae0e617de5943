/* libosmem (spec 001): a small allocator on the program break and mmap.
 * Requests whose payload + header reach 128 KiB (os_calloc: the page size) get their own
 * mapping; smaller ones come from a brk heap preallocated with 128 KiB on first use, reused
 * with best fit after coalescing free neighbours. Payloads are 8-byte aligned. */
#ifndef OSMEM_H
#define OSMEM_H

#include <stddef.h>

#include "block_meta.h"

#ifdef __cplusplus
extern "C" {
#endif

void *os_malloc(size_t size);
void os_free(void *ptr);
void *os_calloc(size_t nmemb, size_t size);
void *os_realloc(void *ptr, size_t size);

#ifdef __cplusplus
}
#endif

#endif
