/* Function names for the folded file, found without allocating and without the dynamic
 * loader's lock, so a signal handler may do it: each return address's object comes from
 * _dl_find_object (lock-free, async-signal-safe), and its names from the object's ELF file,
 * read with pread into mappings: the full symbol table (.symtab) when the file has one, so
 * static functions are named too, else the dynamic one (.dynsym). dladdr would take the
 * loader's lock and knows only exported names.
 *
 * prepare sorts the distinct addresses, groups them by object, reads each object's table once
 * and copies the names of the functions that hold an address; name then is a binary search. */
#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <string.h>
#include <unistd.h>

#include "core/fmt.h"
#include "os/sys.h"
#include "prof/prof_internal.h"

#define MODULES_MAX    256
#define NAME_MAX_BYTES 256
#define NO_NAME        UINT32_MAX
#define NO_MODULE      UINT32_MAX

typedef struct {
    uintptr_t address; /* the return address */
    uint32_t name;     /* offset in names, or NO_NAME */
    uint32_t module;   /* index in modules, or NO_MODULE */
} pc_t;

typedef struct {
    uintptr_t start, end; /* its mapping */
    uintptr_t bias;       /* load address minus link-time address */
    const char *path;     /* the loader's name for it ("" for the program) */
} module_t;

static pc_t *pcs;
static size_t pc_count, pc_bytes;
static char *names;
static size_t names_used, names_bytes;
static module_t modules[MODULES_MAX];
static unsigned module_count;
static char program_path[PROF_PATH_MAX]; /* the program's file, for its module+offset names */

static size_t page_round(size_t bytes)
{
    size_t page = sys_page_size();
    return (bytes + page - 1) & ~(page - 1);
}

static void *map_bytes(size_t bytes)
{
    void *p = NULL;
    return bytes && sys_map(page_round(bytes), &p) == 0 ? p : NULL;
}

static void unmap_bytes(void *p, size_t bytes)
{
    if (p) sys_unmap(p, page_round(bytes));
}

/* ---- Sorting without qsort (glibc's may allocate) ------------------------------------------ */

static void sift_down(pc_t *a, size_t root, size_t n)
{
    for (;;) {
        size_t child = 2 * root + 1;
        if (child >= n) return;
        if (child + 1 < n && a[child + 1].address > a[child].address) child++;
        if (a[root].address >= a[child].address) return;
        pc_t t = a[root];
        a[root] = a[child];
        a[child] = t;
        root = child;
    }
}

static void heap_sort(pc_t *a, size_t n)
{
    for (size_t i = n / 2; i-- > 0;)
        sift_down(a, i, n);
    for (size_t end = n; end-- > 1;) {
        pc_t t = a[0];
        a[0] = a[end];
        a[end] = t;
        sift_down(a, 0, end);
    }
}

/* The first pc whose lookup address (address - 1) is at least key. */
static size_t first_at_least(uintptr_t key)
{
    size_t lo = 0, hi = pc_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (pcs[mid].address - 1 < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* ---- Modules ------------------------------------------------------------------------------- */

static uint32_t module_of(uintptr_t address)
{
    for (unsigned i = 0; i < module_count; i++)
        if (address >= modules[i].start && address < modules[i].end) return i;
    struct dl_find_object found;
    if (_dl_find_object((void *)address, &found) != 0 || !found.dlfo_link_map) return NO_MODULE;
    if (module_count == MODULES_MAX) return NO_MODULE;
    modules[module_count] =
        (module_t){(uintptr_t)found.dlfo_map_start, (uintptr_t)found.dlfo_map_end,
                   (uintptr_t)found.dlfo_link_map->l_addr,
                   found.dlfo_link_map->l_name ? found.dlfo_link_map->l_name : ""};
    return module_count++;
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* Copies a name into the names arena (cut at NAME_MAX_BYTES; ';', spaces and control
 * characters, which would break a folded line, become '_'); NO_NAME when it cannot grow. */
static uint32_t name_add(const char *name, const char *limit)
{
    size_t len = 0;
    while (name + len < limit && name[len] && len < NAME_MAX_BYTES)
        len++;
    if (len == 0) return NO_NAME;
    if (names_used + len + 1 > names_bytes) {
        size_t bytes = names_bytes ? names_bytes * 2 : 64 * 1024;
        while (bytes < names_used + len + 1)
            bytes *= 2;
        if (bytes > UINT32_MAX) return NO_NAME;
        char *bigger = map_bytes(bytes);
        if (!bigger) return NO_NAME;
        if (names) memcpy(bigger, names, names_used);
        unmap_bytes(names, names_bytes);
        names = bigger;
        names_bytes = bytes;
    }
    uint32_t offset = (uint32_t)names_used;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        names[names_used++] = (c == ';' || (unsigned char)c <= ' ') ? '_' : c;
    }
    names[names_used++] = '\0';
    return offset;
}

static bool read_exact(int fd, void *buf, size_t len, uint64_t offset)
{
    char *p = buf;
    while (len) {
        ssize_t n = pread(fd, p, len, (off_t)offset);
        if (n <= 0) return false;
        p += n;
        len -= (size_t)n;
        offset += (uint64_t)n;
    }
    return true;
}

/* Reads section header index of the file into a mapping (its size in *bytes). */
static void *read_section(int fd, const Elf64_Shdr *section, size_t *bytes)
{
    *bytes = (size_t)section->sh_size;
    void *data = map_bytes(*bytes);
    if (data && !read_exact(fd, data, *bytes, section->sh_offset)) {
        unmap_bytes(data, *bytes);
        data = NULL;
    }
    return data;
}

/* Names every pc of module m that a function symbol of its file covers. */
static void module_name_pcs(uint32_t m)
{
    const module_t *module = &modules[m];
    const char *path = module->path[0] ? module->path : "/proc/self/exe";
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    Elf64_Ehdr header;
    size_t headers_bytes = 0, symbols_bytes = 0, strings_bytes = 0;
    Elf64_Shdr *sections = NULL;
    Elf64_Sym *symbols = NULL;
    char *strings = NULL;
    if (!read_exact(fd, &header, sizeof header, 0) ||
        memcmp(header.e_ident, ELFMAG, SELFMAG) != 0 || header.e_ident[EI_CLASS] != ELFCLASS64 ||
        header.e_shentsize != sizeof(Elf64_Shdr) || header.e_shnum == 0)
        goto done;
    headers_bytes = (size_t)header.e_shnum * sizeof *sections;
    sections = map_bytes(headers_bytes);
    if (!sections || !read_exact(fd, sections, headers_bytes, header.e_shoff)) goto done;
    const Elf64_Shdr *table = NULL;
    for (unsigned i = 0; i < header.e_shnum; i++) {
        if (sections[i].sh_type == SHT_SYMTAB) table = &sections[i];
        if (sections[i].sh_type == SHT_DYNSYM && !table) table = &sections[i];
    }
    if (!table || table->sh_link >= header.e_shnum || table->sh_entsize != sizeof(Elf64_Sym))
        goto done;
    symbols = read_section(fd, table, &symbols_bytes);
    strings = read_section(fd, &sections[table->sh_link], &strings_bytes);
    if (!symbols || !strings) goto done;
    size_t count = symbols_bytes / sizeof *symbols;
    for (size_t i = 0; i < count; i++) {
        const Elf64_Sym *sym = &symbols[i];
        unsigned type = ELF64_ST_TYPE(sym->st_info);
        if ((type != STT_FUNC && type != STT_GNU_IFUNC) || sym->st_shndx == SHN_UNDEF ||
            sym->st_size == 0 || sym->st_name >= strings_bytes)
            continue;
        uintptr_t lo = module->bias + (uintptr_t)sym->st_value;
        uintptr_t hi = lo + (uintptr_t)sym->st_size;
        uint32_t name = NO_NAME;
        for (size_t j = first_at_least(lo); j < pc_count && pcs[j].address - 1 < hi; j++) {
            if (pcs[j].module != m || pcs[j].name != NO_NAME) continue;
            if (name == NO_NAME) name = name_add(strings + sym->st_name, strings + strings_bytes);
            pcs[j].name = name;
        }
    }
done:
    unmap_bytes(strings, strings_bytes);
    unmap_bytes(symbols, symbols_bytes);
    unmap_bytes(sections, headers_bytes);
    close(fd);
}

/* ---- Interface ----------------------------------------------------------------------------- */

bool prof_symbols_prepare(const uintptr_t *addresses, size_t count)
{
    module_count = 0;
    names_used = 0;
    pc_count = 0;
    ssize_t len = readlink("/proc/self/exe", program_path, sizeof program_path - 1);
    hk_snprintf(program_path + (len > 0 ? len : 0),
                sizeof program_path - (len > 0 ? (size_t)len : 0), "%s",
                len > 0 ? "" : "[program]");
    pc_bytes = count * sizeof *pcs;
    pcs = map_bytes(pc_bytes);
    if (!pcs) return false;
    for (size_t i = 0; i < count; i++)
        pcs[i] = (pc_t){addresses[i], NO_NAME, NO_MODULE};
    heap_sort(pcs, count);
    for (size_t i = 0; i < count; i++)
        if (pc_count == 0 || pcs[pc_count - 1].address != pcs[i].address) pcs[pc_count++] = pcs[i];
    for (size_t i = 0; i < pc_count; i++)
        pcs[i].module = module_of(pcs[i].address - 1);
    for (uint32_t m = 0; m < module_count; m++)
        module_name_pcs(m);
    return true;
}

void prof_symbols_name(uintptr_t address, char *out, size_t cap)
{
    size_t i = first_at_least(address - 1);
    if (pcs && i < pc_count && pcs[i].address == address) {
        const pc_t *pc = &pcs[i];
        if (pc->name != NO_NAME) {
            hk_snprintf(out, cap, "%s", names + pc->name);
            return;
        }
        if (pc->module != NO_MODULE) {
            const module_t *module = &modules[pc->module];
            hk_snprintf(out, cap, "%s+0x%lx",
                        base_name(module->path[0] ? module->path : program_path),
                        (unsigned long)(address - module->bias));
            for (char *c = out; *c; c++)
                if (*c == ';' || (unsigned char)*c <= ' ') *c = '_';
            return;
        }
    }
    hk_snprintf(out, cap, "0x%lx", (unsigned long)address);
}

void prof_symbols_release(void)
{
    unmap_bytes(pcs, pc_bytes);
    unmap_bytes(names, names_bytes);
    pcs = NULL;
    names = NULL;
    pc_count = pc_bytes = names_used = names_bytes = 0;
    module_count = 0;
}
