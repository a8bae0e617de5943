// The seed headers used from C++: every one compiles as C++ and, linked against the shared
// libraries, each API resolves to its C symbol (without extern "C" the names would be mangled
// and the link would fail). Exits 0 when every call behaved.
#include "MM.h"
#include "UserAPI_MemoryManager.h"
#include "block_meta.h"
#include "memalloc.h"
#include "memory_allocation.h"
#include "osmem.h"

#include <cstdio>
#include <cstring>

struct point_t {
    int x, y;
};

int main()
{
    static_assert(sizeof(struct block_meta) == 32, "spec 001 header");
    static_assert(sizeof(memory_chunk_t) == 32, "spec 000 header");
    static_assert(sizeof(Block) == 24, "spec 002 header");

    char *a = static_cast<char *>(os_malloc(100));
    char *b = static_cast<char *>(os_calloc(4, 25));
    a = static_cast<char *>(os_realloc(a, 300));
    if (!a || !b || b[99] != 0) return 1;
    os_free(a);
    os_free(b);

    void *c = allocate_memory(64);
    if (!c) return 2;
    std::memset(c, 0xA, 64);
    free_memory(c);

    void *d = custom_malloc(200);
    if (!d) return 3;
    custom_free(d);

    char name[] = "point_t";
    mm_init();
    mm_instantiate_new_page_family(name, sizeof(point_t));
    point_t *p = static_cast<point_t *>(xcalloc(name, 3));
    if (!p || p[2].y != 0 || !lookup_page_family_by_name(name)) return 4;
    xfree(p);
    std::puts("headers_cxx: ok");
    return 0;
}
