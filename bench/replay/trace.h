/* The allocation trace shared by the generator and the replay programs.
 * A trace file is a header and then records; each record either allocates `size` bytes into
 * slot `slot` or (size 0) frees what the slot holds. Slots let a replay program keep its
 * pointers in a plain array, and make the trace independent of any allocator. */
#ifndef BENCH_TRACE_H
#define BENCH_TRACE_H

#include <stdint.h>

#define TRACE_MAGIC 0x52544b48u                 /* "HKTR" */

typedef struct {
    uint32_t magic;
    uint32_t slots;                             /* slot numbers are below this */
    uint64_t records;
} trace_header_t;

typedef struct {
    uint32_t slot;
    uint32_t size;                              /* 0: free the slot */
} trace_record_t;

#endif
