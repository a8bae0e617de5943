/* The seed's three reports, and the figures behind them (mm_family_stats_t, JSON).
 * Figures are gathered under each family's lock in turn. The text reports write straight to
 * stdout's descriptor with hk_dprintf (after flushing stdio so the order is kept), which lets
 * them print while holding a family lock without allocating. */
#include <stdio.h>
#include <string.h>

#include "core/fmt.h"
#include "family/family.h"
#include "os/sys.h"

/* Adds one family's figures to *out. Takes and releases the family's lock. */
static void stats_add_family(vm_page_family_t *family, mm_family_stats_t *out)
{
    size_t page_size = family_page_size();
    family_lock(family);
    for (vm_page_t *page = family->first_page; page; page = page->next) {
        out->pages++;
        out->mapped_bytes += page_size;
        out->meta_bytes += offsetof(vm_page_t, block_meta_data);
        for (block_meta_data_t *block = &page->block_meta_data; block; block = block->next_block) {
            out->blocks++;
            out->meta_bytes += sizeof(block_meta_data_t);
            if (block->is_free) {
                out->free_blocks++;
                out->free_bytes += block->block_size;
                if (block->block_size > out->largest_free_block)
                    out->largest_free_block = block->block_size;
            } else {
                out->occupied_blocks++;
                out->occupied_bytes += block->block_size;
            }
        }
    }
    out->alloc_calls += family->alloc_calls;
    out->free_calls += family->free_calls;
    out->pages_obtained += family->pages_obtained;
    out->pages_released += family->pages_released;
    family_unlock(family);
    out->families++;
}

static void stats_finish(mm_family_stats_t *out)
{
    out->fragmentation_permille =
        out->free_bytes ? (uint32_t)(1000 - out->largest_free_block * 1000 / out->free_bytes) : 0;
}

int family_stats(const char *name, mm_family_stats_t *out)
{
    memset(out, 0, sizeof *out);
    if (name) {
        vm_page_family_t *family = family_lookup(name);
        if (!family) return -1;
        memcpy(out->struct_name, family->struct_name, sizeof out->struct_name);
        out->struct_size = family->struct_size;
        stats_add_family(family, out);
    } else {
        family_iter_t it;
        family_iter_begin(&it);
        for (vm_page_family_t *f; (f = family_iter_next(&it));)
            stats_add_family(f, out);
    }
    stats_finish(out);
    return 0;
}

/* Where reports go: stdout's descriptor, with stdio's pending output flushed first. */
static int report_fd(void)
{
    fflush(stdout);
    return fileno(stdout);
}

void family_print_registered(void)
{
    int fd = report_fd();
    family_iter_t it;
    family_iter_begin(&it);
    hk_dprintf(fd, "Registered page families (VM page %zu bytes):\n", family_page_size());
    unsigned n = 0;
    for (vm_page_family_t *f; (f = family_iter_next(&it)); n++)
        hk_dprintf(fd, "  %-32s struct size %6u bytes\n", f->struct_name, f->struct_size);
    hk_dprintf(fd, "  %u famil%s\n", n, n == 1 ? "y" : "ies");
}

static void print_summary_line(int fd, const mm_family_stats_t *s)
{
    hk_dprintf(fd,
               "  %llu page(s), %llu bytes mapped; %llu block(s): %llu occupied (%llu bytes), "
               "%llu free (%llu bytes); largest free %llu; fragmentation %u.%u%%\n",
               (unsigned long long)s->pages, (unsigned long long)s->mapped_bytes,
               (unsigned long long)s->blocks, (unsigned long long)s->occupied_blocks,
               (unsigned long long)s->occupied_bytes, (unsigned long long)s->free_blocks,
               (unsigned long long)s->free_bytes, (unsigned long long)s->largest_free_block,
               s->fragmentation_permille / 10, s->fragmentation_permille % 10);
}

/* One family: every page and block, then its totals. */
static void print_family_usage(int fd, vm_page_family_t *family)
{
    hk_dprintf(fd, "vm_page_family %s, struct size %u bytes\n", family->struct_name,
               family->struct_size);
    family_lock(family);
    unsigned page_index = 0;
    for (vm_page_t *page = family->first_page; page; page = page->next) {
        hk_dprintf(fd, "  page %u at %p (prev %p, next %p)\n", page_index++, (void *)page,
                   (void *)page->prev, (void *)page->next);
        unsigned block_index = 0;
        for (block_meta_data_t *block = &page->block_meta_data; block; block = block->next_block) {
            hk_dprintf(fd, "    block %2u at %p  %-8s  size %5u  offset %5u  prev %p  next %p\n",
                       block_index++, (void *)block, block->is_free ? "FREE" : "OCCUPIED",
                       block->block_size, block->offset, (void *)block->prev_block,
                       (void *)block->next_block);
        }
    }
    family_unlock(family);
    mm_family_stats_t s;
    family_stats(family->struct_name, &s);
    print_summary_line(fd, &s);
}

void family_print_memory_usage(const char *name)
{
    int fd = report_fd();
    hk_dprintf(fd, "Memory usage (VM page %zu bytes, block header %zu bytes)\n", family_page_size(),
               sizeof(block_meta_data_t));
    if (name) {
        vm_page_family_t *family = family_lookup(name);
        if (family)
            print_family_usage(fd, family);
        else
            hk_dprintf(fd, "  no page family is registered as %s\n", name);
        return;
    }
    family_iter_t it;
    family_iter_begin(&it);
    for (vm_page_family_t *f; (f = family_iter_next(&it));)
        print_family_usage(fd, f);
    mm_family_stats_t total;
    family_stats(NULL, &total);
    sys_counters_t sys;
    sys_counters(&sys);
    hk_dprintf(fd,
               "Total: %u famil%s, %llu VM page(s) in use, %llu obtained and %llu released "
               "so far (%llu mmap, %llu munmap calls in the process)\n",
               total.families, total.families == 1 ? "y" : "ies", (unsigned long long)total.pages,
               (unsigned long long)total.pages_obtained, (unsigned long long)total.pages_released,
               (unsigned long long)sys.mmap, (unsigned long long)sys.munmap);
}

void family_print_block_usage(void)
{
    int fd = report_fd();
    hk_dprintf(fd, "Block usage\n  %-16s %5s %6s %8s %5s %9s %10s %9s %7s %7s %7s\n", "family",
               "pages", "blocks", "occupied", "free", "occ bytes", "free bytes", "largest", "frag",
               "xcalloc", "xfree");
    family_iter_t it;
    family_iter_begin(&it);
    for (vm_page_family_t *f; (f = family_iter_next(&it));) {
        mm_family_stats_t s;
        family_stats(f->struct_name, &s);
        hk_dprintf(fd, "  %-16s %5llu %6llu %8llu %5llu %9llu %10llu %9llu %4u.%u%% %7llu %7llu\n",
                   s.struct_name, (unsigned long long)s.pages, (unsigned long long)s.blocks,
                   (unsigned long long)s.occupied_blocks, (unsigned long long)s.free_blocks,
                   (unsigned long long)s.occupied_bytes, (unsigned long long)s.free_bytes,
                   (unsigned long long)s.largest_free_block, s.fragmentation_permille / 10,
                   s.fragmentation_permille % 10, (unsigned long long)s.alloc_calls,
                   (unsigned long long)s.free_calls);
    }
}

/* Appends to buf like snprintf, tracking the full length in *len. */
#define JSON_PUT(...)                                                                              \
    (*len += hk_snprintf(buf + (*len < cap ? *len : cap), *len < cap ? cap - *len : 0, __VA_ARGS__))

static void json_family(char *buf, size_t cap, size_t *len, const mm_family_stats_t *s)
{
    JSON_PUT("{\"name\": \"%s\", \"struct_size\": %u, \"pages\": %llu, \"mapped_bytes\": %llu, "
             "\"blocks\": %llu, \"free_blocks\": %llu, \"occupied_blocks\": %llu, "
             "\"free_bytes\": %llu, \"occupied_bytes\": %llu, \"meta_bytes\": %llu, "
             "\"largest_free_block\": %llu, \"fragmentation_permille\": %u, "
             "\"alloc_calls\": %llu, \"free_calls\": %llu, \"pages_obtained\": %llu, "
             "\"pages_released\": %llu}",
             s->struct_name, s->struct_size, (unsigned long long)s->pages,
             (unsigned long long)s->mapped_bytes, (unsigned long long)s->blocks,
             (unsigned long long)s->free_blocks, (unsigned long long)s->occupied_blocks,
             (unsigned long long)s->free_bytes, (unsigned long long)s->occupied_bytes,
             (unsigned long long)s->meta_bytes, (unsigned long long)s->largest_free_block,
             s->fragmentation_permille, (unsigned long long)s->alloc_calls,
             (unsigned long long)s->free_calls, (unsigned long long)s->pages_obtained,
             (unsigned long long)s->pages_released);
}

size_t family_usage_json(char *buf, size_t cap)
{
    size_t n = 0, *len = &n;
    if (cap) buf[0] = '\0';
    JSON_PUT("{\"page_size\": %zu, \"block_header_bytes\": %zu, \"families\": [",
             family_page_size(), sizeof(block_meta_data_t));
    family_iter_t it;
    family_iter_begin(&it);
    const char *sep = "";
    for (vm_page_family_t *f; (f = family_iter_next(&it));) {
        mm_family_stats_t s;
        family_stats(f->struct_name, &s);
        JSON_PUT("%s", sep);
        json_family(buf, cap, len, &s);
        sep = ", ";
    }
    JSON_PUT("]}");
    return n;
}
