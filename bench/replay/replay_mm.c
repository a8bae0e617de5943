/* Trace replay through libmm's typed page families: xcalloc / xfree (spec 004).
 * A few struct types are registered; each request becomes `units` instances of the smallest
 * registered struct with units * size >= the request; requests are clipped to 3 KiB so one
 * allocation fits in a VM page as the spec requires (the live-byte count uses the clipped size). */
#include <UserAPI_MemoryManager.h>

#include "replay.h"

typedef struct {
    char name[16];
    uint32_t size;
} family_t;

static family_t families[] = {{"obj16", 16},   {"obj48", 48},   {"obj112", 112},
                              {"obj240", 240}, {"obj496", 496}, {"obj1008", 1008}};
#define NFAMILIES (sizeof(families) / sizeof(families[0]))
#define MAX_UNITS 3                             /* 3 * 1008 stays inside a 4 KiB page */

static void engine_setup(void) {
    mm_init();
    for (size_t i = 0; i < NFAMILIES; i++)
        mm_instantiate_new_page_family(families[i].name, families[i].size);
}

static uint32_t engine_clip(uint32_t size) {
    uint32_t most = MAX_UNITS * families[NFAMILIES - 1].size;
    return size > most ? most : size;
}

static void *engine_alloc(uint32_t size) {
    for (size_t i = 0; i < NFAMILIES; i++)
        if (families[i].size >= size)
            return xcalloc(families[i].name, 1);
    family_t *big = &families[NFAMILIES - 1];
    return xcalloc(big->name, (int)((size + big->size - 1) / big->size));
}

static void engine_free(void *p) { xfree(p); }
