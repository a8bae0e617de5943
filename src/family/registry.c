/* The registry of page families: VM pages of vm_page_for_families_t, appended to under one
 * lock and read without it. Each family's lock lives at the far end of its registry page so
 * that the public family record (MM.h) does not need heapkit's lock type. */
#include <string.h>

#include "core/fatal.h"
#include "family/family.h"
#include "os/sys.h"

static size_t page_size_bytes; /* VM page size, set once by family_init */
static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static hk_lock_t registry_lock = HK_LOCK_INIT; /* serialises registrations */
static vm_page_for_families_t *registry_first; /* first registry page (published) */

static void init_once_body(void)
{
    page_size_bytes = sys_page_size();
    /* Registered before any family lock, so "registry, then one family" is the fork order. */
    hk_lock_register(&registry_lock);
}

void family_init(void)
{
    pthread_once(&init_once, init_once_body);
}

size_t family_page_size(void)
{
    family_init();
    return page_size_bytes;
}

size_t family_max_block_bytes(void)
{
    return family_page_size() - MM_PAGE_HEADER_BYTES;
}

/* The lock of family number index in its registry page: counted back from the page's end. */
static hk_lock_t *registry_lock_slot(vm_page_for_families_t *page, uint32_t index)
{
    hk_lock_t *end = (hk_lock_t *)((char *)page + page_size_bytes);
    return end - 1 - index;
}

vm_page_for_families_t *family_registry_first(void)
{
    family_init();
    return __atomic_load_n(&registry_first, __ATOMIC_ACQUIRE);
}

void family_iter_begin(family_iter_t *it)
{
    family_init();
    it->page = __atomic_load_n(&registry_first, __ATOMIC_ACQUIRE);
    it->index = 0;
}

vm_page_family_t *family_iter_next(family_iter_t *it)
{
    while (it->page) {
        if (it->index < __atomic_load_n(&it->page->count, __ATOMIC_ACQUIRE))
            return &it->page->vm_page_family[it->index++];
        it->page = __atomic_load_n(&it->page->next, __ATOMIC_ACQUIRE);
        it->index = 0;
    }
    return NULL;
}

vm_page_family_t *family_lookup(const char *name)
{
    if (!name) return NULL;
    family_iter_t it;
    family_iter_begin(&it);
    for (vm_page_family_t *f; (f = family_iter_next(&it));)
        if (strncmp(f->struct_name, name, MM_MAX_STRUCT_NAME + 1) == 0) return f;
    return NULL;
}

/* A fresh registry page appended to the chain; NULL when the kernel refuses memory. Called
 * with registry_lock held. */
static vm_page_for_families_t *registry_page_add(vm_page_for_families_t *last)
{
    void *mem;
    if (sys_map(page_size_bytes, &mem) != 0) return NULL;
    vm_page_for_families_t *page = mem;
    size_t room = page_size_bytes - offsetof(vm_page_for_families_t, vm_page_family);
    page->capacity = (uint32_t)(room / (sizeof(vm_page_family_t) + sizeof(hk_lock_t)));
    page->count = 0;
    page->next = NULL;
    if (last)
        __atomic_store_n(&last->next, page, __ATOMIC_RELEASE);
    else
        __atomic_store_n(&registry_first, page, __ATOMIC_RELEASE);
    return page;
}

void family_register(const char *name, uint32_t struct_size)
{
    family_init();
    if (!name || !name[0]) {
        hk_warn("mm_instantiate_new_page_family: a struct name is required; not registered");
        return;
    }
    size_t len = strnlen(name, MM_MAX_STRUCT_NAME + 1);
    if (len > MM_MAX_STRUCT_NAME) {
        hk_warn("mm_instantiate_new_page_family: struct name %.32s... is longer than %d "
                "characters; not registered",
                name, MM_MAX_STRUCT_NAME);
        return;
    }
    if (struct_size == 0 || struct_size > family_max_block_bytes()) {
        hk_warn("mm_instantiate_new_page_family: struct %s of %u bytes does not fit in a VM "
                "page (1 to %zu bytes); not registered",
                name, struct_size, family_max_block_bytes());
        return;
    }

    hk_lock(&registry_lock);
    vm_page_family_t *existing = family_lookup(name);
    if (existing) {
        uint32_t old_size = existing->struct_size;
        hk_unlock(&registry_lock);
        /* The same type registered twice (two modules, say) is harmless; two different types
         * under one name would make every later XCALLOC of it ambiguous. */
        if (old_size != struct_size)
            hk_fatal("page family %s registered twice with different sizes (%u and %u bytes)", name,
                     old_size, struct_size);
        return;
    }

    vm_page_for_families_t *page = registry_first, *last = NULL;
    for (; page && page->count == page->capacity; page = page->next)
        last = page;
    if (!page) page = registry_page_add(last);
    if (!page) {
        hk_unlock(&registry_lock);
        hk_warn("mm_instantiate_new_page_family: no memory for the registry; %s not registered",
                name);
        return;
    }

    uint32_t index = page->count;
    vm_page_family_t *family = &page->vm_page_family[index];
    memset(family, 0, sizeof *family);
    memcpy(family->struct_name, name, len + 1);
    family->struct_size = struct_size;
    family->lock = registry_lock_slot(page, index);
    hk_lock_init(family->lock);
    hk_lock_register(family->lock);
    __atomic_store_n(&page->count, index + 1, __ATOMIC_RELEASE);
    hk_unlock(&registry_lock);
}
