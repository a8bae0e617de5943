/* Block metadata of libosmem (spec 001): every block, on the heap or with its own mapping,
 * starts with this 32-byte header; os_* return the address just after it (the payload). */
#ifndef BLOCK_META_H
#define BLOCK_META_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

struct block_meta {
	size_t size;             /* payload bytes (a multiple of 8) */
	int status;              /* STATUS_FREE, STATUS_ALLOC or STATUS_MAPPED */
	struct block_meta *prev; /* previous block (heap: lower address) */
	struct block_meta *next; /* next block (heap: higher address) */
};

#define STATUS_FREE   0 /* on the heap, available */
#define STATUS_ALLOC  1 /* on the heap, handed out */
#define STATUS_MAPPED 2 /* has its own mmap'd region, unmapped by os_free */

#ifdef __cplusplus
}
#endif

#endif
