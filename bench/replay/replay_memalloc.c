/* Trace replay through libmemalloc: custom_malloc / custom_free (spec 002). */
#include <memalloc.h>

#include "replay.h"

static void engine_setup(void) {}
static uint32_t engine_clip(uint32_t size) { return size; }
static void *engine_alloc(uint32_t size) { return custom_malloc(size); }
static void engine_free(void *p) { custom_free(p); }
