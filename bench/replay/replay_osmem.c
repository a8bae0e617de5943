/* Trace replay through libosmem: os_malloc / os_free (spec 001). */
#include <osmem.h>

#include "replay.h"

static void engine_setup(void) {}
static uint32_t engine_clip(uint32_t size) { return size; }
static void *engine_alloc(uint32_t size) { return os_malloc(size); }
static void engine_free(void *p) { os_free(p); }
