/* Spec 004's user API (UserAPI_MemoryManager.h): the seed's names, exported from libmm.so,
 * each a thin call into the page-family engine (src/family). */
#include "UserAPI_MemoryManager.h"

#include "core/compiler.h"
#include "family/family.h"

HK_EXPORT void mm_init(void)
{
    family_init();
}

HK_EXPORT void mm_instantiate_new_page_family(char *struct_name, uint32_t struct_size)
{
    family_register(struct_name, struct_size);
}

HK_EXPORT vm_page_family_t *lookup_page_family_by_name(char *struct_name)
{
    return family_lookup(struct_name);
}

HK_EXPORT void *xcalloc(char *struct_name, int units)
{
    return family_alloc(struct_name, units);
}

HK_EXPORT void xfree(void *app_data)
{
    family_free(app_data);
}

HK_EXPORT void mm_print_registered_page_families(void)
{
    family_print_registered();
}

HK_EXPORT void mm_print_memory_usage(char *struct_name)
{
    family_print_memory_usage(struct_name);
}

HK_EXPORT void mm_print_block_usage(void)
{
    family_print_block_usage();
}

HK_EXPORT int mm_get_family_stats(const char *struct_name, mm_family_stats_t *out)
{
    return family_stats(struct_name, out);
}

HK_EXPORT size_t mm_usage_json(char *buf, size_t cap)
{
    return family_usage_json(buf, cap);
}
