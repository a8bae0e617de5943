/* The public functions of each product, as the headers and man pages document them: what the
 * shared libraries must export (test_exports.c) and what has a man page (test_install.c). */
#ifndef HK_TESTS_PUBLIC_API_H
#define HK_TESTS_PUBLIC_API_H

/* The malloc family both malloc replacements export: C, POSIX and glibc names, and the C++
 * operators new and delete (Itanium ABI). */
#define MALLOC_FAMILY                                                                              \
    "malloc", "free", "calloc", "realloc", "reallocarray", "posix_memalign", "aligned_alloc",      \
        "memalign", "valloc", "pvalloc", "malloc_usable_size", "malloc_trim", "malloc_stats",      \
        "malloc_info", "mallopt", "mallinfo", "mallinfo2", "__libc_malloc", "__libc_free",         \
        "__libc_calloc", "__libc_realloc", "__libc_memalign", "__libc_valloc", "__libc_pvalloc",   \
        "__posix_memalign", "free_sized", "free_aligned_sized", "_Znwm", "_Znam",                  \
        "_ZnwmRKSt9nothrow_t", "_ZnamRKSt9nothrow_t", "_ZnwmSt11align_val_t",                      \
        "_ZnamSt11align_val_t", "_ZnwmSt11align_val_tRKSt9nothrow_t",                              \
        "_ZnamSt11align_val_tRKSt9nothrow_t", "_ZdlPv", "_ZdaPv", "_ZdlPvm", "_ZdaPvm",            \
        "_ZdlPvRKSt9nothrow_t", "_ZdaPvRKSt9nothrow_t", "_ZdlPvSt11align_val_t",                   \
        "_ZdaPvSt11align_val_t", "_ZdlPvmSt11align_val_t", "_ZdaPvmSt11align_val_t",               \
        "_ZdlPvSt11align_val_tRKSt9nothrow_t", "_ZdaPvSt11align_val_tRKSt9nothrow_t"

#define HK_API                                                                                     \
    "hk_version", "hk_stats_print", "hk_stats_to_json", "hk_collect", "hk_trim", "hk_heap_new",     \
        "hk_heap_malloc", "hk_heap_calloc", "hk_heap_realloc", "hk_heap_reset", "hk_heap_destroy",      \
        "hk_visit_blocks", "hk_map_dump"
#define OSMEM_API  "os_malloc", "os_free", "os_calloc", "os_realloc"
#define CHUNKS_API "allocate_memory", "free_memory", "chunk_split", "initialize_dynamic_memory"
#define POOL_API   "custom_malloc", "custom_free", "init_pool", "print_free_list"
#define MM_API                                                                                     \
    "mm_init", "mm_instantiate_new_page_family", "lookup_page_family_by_name", "xcalloc", "xfree", \
        "mm_print_registered_page_families", "mm_print_memory_usage", "mm_print_block_usage",      \
        "mm_get_family_stats", "mm_usage_json"

/* The heap profile's dump, which both malloc replacements export (documented in heapkit(3)). */
#define HK_PROF_API "hk_prof_dump"

#endif
