/* The profiler's tables, all under prof_lock and all in mappings from src/os (never malloc):
 * - live sampled blocks: open addressing on the block's address, linear probing, deletion by
 *   shifting the rest of the run back (no tombstones, so a table that sees many frees stays
 *   short); grows to twice its size at half full, by mapping a new table and rehashing;
 * - stacks: each distinct call stack once (a sampled site allocates many times), found through
 *   an index of stack ids hashed on the frames; the frames themselves in one pool. Stacks are
 *   never removed: their cumulative figures are the profile's "allocated" columns.
 * A table that cannot grow drops the sample (the profile then under-counts; nothing fails). */
#include <string.h>

#include "os/sys.h"
#include "prof/prof_internal.h"

typedef struct {
    uintptr_t address;  /* the block; 0 for an empty slot */
    uint64_t requested; /* bytes asked for */
    uint64_t usable;    /* bytes usable (the engine's rounding) */
    float weight;       /* 1 / P(requested): blocks this sample stands for */
    uint32_t stack;     /* index into stacks */
} live_t;
_Static_assert(sizeof(live_t) == 32, "two records a cache line");

/* Small first tables (16 KiB of records, 24 KiB of stacks and frames): a program sampled once
 * per 512 KiB holds few samples, and the tables double as they fill. */
#define LIVE_INITIAL_SLOTS 512
#define STACKS_INITIAL     256
#define FRAMES_INITIAL     (2 * 1024)

static live_t *live;
static size_t live_slots; /* a power of two, or 0 before the first sample */
static size_t live_used;

static prof_stack_t *stacks;
static uint32_t stack_count, stack_slots;
static uint32_t *stack_index; /* id + 1, 0 for empty; at most half full */
static uint32_t index_slots;  /* a power of two */
static uintptr_t *frame_pool;
static size_t frames_used, frames_slots;

/* ---- Mappings ------------------------------------------------------------------------------ */

static size_t page_round(size_t bytes)
{
    size_t page = sys_page_size();
    return (bytes + page - 1) & ~(page - 1);
}

static void *map_zeroed(size_t bytes)
{
    void *p = NULL;
    return sys_map(page_round(bytes), &p) == 0 ? p : NULL;
}

static void unmap(void *p, size_t bytes)
{
    if (p) sys_unmap(p, page_round(bytes));
}

/* Moves an array of old_slots elements (used of them in use) to a mapping of new_slots. */
static bool grow_array(void **array, size_t element, size_t used, size_t old_slots,
                       size_t new_slots)
{
    void *bigger = map_zeroed(new_slots * element);
    if (!bigger) return false;
    if (*array) memcpy(bigger, *array, used * element);
    unmap(*array, old_slots * element);
    *array = bigger;
    return true;
}

/* ---- Live blocks --------------------------------------------------------------------------- */

static inline size_t live_home(uintptr_t address, size_t slots)
{
    uint64_t h = (uint64_t)(address >> 4) * 0x9E3779B97F4A7C15ull;
    return (size_t)(h ^ (h >> 29)) & (slots - 1);
}

static void live_put(live_t *table, size_t slots, const live_t *record)
{
    size_t i = live_home(record->address, slots);
    while (table[i].address && table[i].address != record->address)
        i = (i + 1) & (slots - 1);
    table[i] = *record;
}

static bool live_grow(void)
{
    size_t slots = live_slots ? live_slots * 2 : LIVE_INITIAL_SLOTS;
    live_t *table = map_zeroed(slots * sizeof *table);
    if (!table) return false;
    for (size_t i = 0; i < live_slots; i++)
        if (live[i].address) live_put(table, slots, &live[i]);
    unmap(live, live_slots * sizeof *live);
    live = table;
    live_slots = slots;
    return true;
}

static size_t live_find(uintptr_t address)
{
    if (!live_slots) return SIZE_MAX;
    for (size_t i = live_home(address, live_slots);; i = (i + 1) & (live_slots - 1)) {
        if (live[i].address == address) return i;
        if (!live[i].address) return SIZE_MAX;
    }
}

/* ---- Stacks -------------------------------------------------------------------------------- */

static uint64_t stack_hash(const uintptr_t *frames, unsigned depth)
{
    uint64_t h = 0xCBF29CE484222325ull ^ depth;
    for (unsigned i = 0; i < depth; i++) {
        h = (h ^ frames[i]) * 0x100000001B3ull;
        h ^= h >> 29;
    }
    return h ? h : 1;
}

static bool stack_index_grow(void)
{
    uint32_t slots = index_slots ? index_slots * 2 : 2 * STACKS_INITIAL;
    uint32_t *index = map_zeroed((size_t)slots * sizeof *index);
    if (!index) return false;
    uint32_t mask = slots - 1;
    for (uint32_t id = 0; id < stack_count; id++) {
        uint32_t i = (uint32_t)stacks[id].hash & mask;
        while (index[i])
            i = (i + 1) & mask;
        index[i] = id + 1;
    }
    unmap(stack_index, (size_t)index_slots * sizeof *stack_index);
    stack_index = index;
    index_slots = slots;
    return true;
}

static bool stack_room(unsigned depth)
{
    if (frames_used + depth > frames_slots) {
        size_t slots = frames_slots ? frames_slots * 2 : FRAMES_INITIAL;
        while (slots < frames_used + depth)
            slots *= 2;
        if (slots > UINT32_MAX) return false;
        if (!grow_array((void **)&frame_pool, sizeof *frame_pool, frames_used, frames_slots, slots))
            return false;
        frames_slots = slots;
    }
    if (stack_count == stack_slots) {
        uint32_t slots = stack_slots ? stack_slots * 2 : STACKS_INITIAL;
        if (slots > UINT32_MAX / 4) return false;
        if (!grow_array((void **)&stacks, sizeof *stacks, stack_count, stack_slots, slots))
            return false;
        stack_slots = slots;
    }
    if ((stack_count + 1) * 2 > index_slots && !stack_index_grow()) return false;
    return true;
}

/* The id of the stack, added if new; UINT32_MAX when the tables cannot grow. */
static uint32_t stack_intern(const uintptr_t *frames, unsigned depth)
{
    uint64_t hash = stack_hash(frames, depth);
    if (index_slots) {
        uint32_t mask = index_slots - 1;
        for (uint32_t i = (uint32_t)hash & mask; stack_index[i]; i = (i + 1) & mask) {
            prof_stack_t *s = &stacks[stack_index[i] - 1];
            if (s->hash == hash && s->depth == depth &&
                memcmp(&frame_pool[s->first_frame], frames, depth * sizeof *frames) == 0)
                return stack_index[i] - 1;
        }
    }
    if (!stack_room(depth)) return UINT32_MAX;
    uint32_t id = stack_count++;
    stacks[id] = (prof_stack_t){.hash = hash, .first_frame = (uint32_t)frames_used, .depth = depth};
    memcpy(&frame_pool[frames_used], frames, depth * sizeof *frames);
    frames_used += depth;
    uint32_t mask = index_slots - 1;
    uint32_t i = (uint32_t)hash & mask;
    while (stack_index[i])
        i = (i + 1) & mask;
    stack_index[i] = id + 1;
    return id;
}

/* ---- Interface ----------------------------------------------------------------------------- */

bool prof_table_insert(uintptr_t address, size_t requested, size_t usable, double weight,
                       const uintptr_t *frames, unsigned depth)
{
    if ((live_used + 1) * 2 > live_slots && !live_grow()) return false;
    uint32_t id = stack_intern(frames, depth);
    if (id == UINT32_MAX) return false;
    /* The record keeps the weight as a float; the stack's sums use that same value, so the
     * live figures never exceed the allocated ones. */
    float kept = (float)weight;
    stacks[id].alloc_count += kept;
    stacks[id].alloc_bytes += (double)kept * (double)requested;
    size_t before = live_find(address);
    live_t record = {address, requested, usable, kept, id};
    live_put(live, live_slots, &record);
    if (before == SIZE_MAX) live_used++;
    return true;
}

bool prof_table_remove(uintptr_t address)
{
    size_t i = live_find(address);
    if (i == SIZE_MAX) return false;
    /* Shift the rest of the run back over the hole, keeping every record reachable from its
     * home slot. */
    size_t mask = live_slots - 1;
    for (size_t j = (i + 1) & mask; live[j].address; j = (j + 1) & mask) {
        size_t home = live_home(live[j].address, live_slots);
        bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
        if (!stays) {
            live[i] = live[j];
            i = j;
        }
    }
    live[i].address = 0;
    live_used--;
    return true;
}

bool prof_table_resize(uintptr_t address, size_t requested, size_t usable)
{
    size_t i = live_find(address);
    if (i == SIZE_MAX) return false;
    live[i].requested = requested;
    live[i].usable = usable;
    return true;
}

void prof_table_sum_live(void)
{
    for (uint32_t id = 0; id < stack_count; id++)
        stacks[id].live_count = stacks[id].live_bytes = 0;
    for (size_t i = 0; i < live_slots; i++) {
        if (!live[i].address) continue;
        prof_stack_t *s = &stacks[live[i].stack];
        s->live_count += live[i].weight;
        s->live_bytes += (double)live[i].weight * (double)live[i].requested;
    }
}

prof_stack_t *prof_table_stacks(uint32_t *count)
{
    *count = stack_count;
    return stacks;
}

const uintptr_t *prof_table_frames(size_t *count)
{
    *count = frames_used;
    return frame_pool;
}

uint64_t prof_table_live_records(void)
{
    return live_used;
}
