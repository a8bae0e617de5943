/* Workload 1 — many small short-lived objects.
 * Models the node churn of linked data structures (interpreters, compilers, document trees):
 * a doubly linked list of 16–256 byte nodes where each step unlinks and frees a random node
 * and allocates a new one in its place, plus a burst of temporary strings per step. Stresses
 * the small-size fast path and free-list reuse; almost no memory is live at a time. */
#include "common.h"

typedef struct node {
    struct node *prev, *next;
    size_t len;
    char payload[];
} node_t;

static node_t *node_new(uint64_t *rng) {
    size_t len = 16 + bench_rand(rng) % (256 - 16 + 1);   /* total size 16..256 B */
    node_t *n = malloc(len <= sizeof(node_t) ? sizeof(node_t) + 1 : len);
    if (!n)
        bench_die("malloc");
    n->len = len;
    n->payload[0] = (char)len;
    return n;
}

int main(void) {
    const size_t live = 20000;                 /* nodes kept in the list */
    const size_t steps = bench_scaled(6000000);
    uint64_t rng = 42;
    node_t **slots = calloc(live, sizeof(*slots));
    node_t head = {&head, &head, 0};
    if (!slots)
        bench_die("calloc");
    for (size_t i = 0; i < live; i++) {
        node_t *n = node_new(&rng);
        n->prev = head.prev;
        n->next = &head;
        head.prev->next = n;
        head.prev = n;
        slots[i] = n;
    }
    uint64_t checksum = 0;
    for (size_t s = 0; s < steps; s++) {
        size_t i = bench_rand(&rng) % live;
        node_t *old = slots[i], *n = node_new(&rng);
        n->prev = old->prev;
        n->next = old->next;
        old->prev->next = n;
        old->next->prev = n;
        checksum += (uint8_t)old->payload[0];
        free(old);
        slots[i] = n;
        if ((s & 7) == 0) {                    /* a short-lived temporary, freed at once */
            char *tmp = malloc(24 + (s & 63));
            if (!tmp)
                bench_die("malloc");
            tmp[0] = (char)s;
            checksum += (uint8_t)tmp[0];
            free(tmp);
        }
    }
    for (size_t i = 0; i < live; i++)
        free(slots[i]);
    free(slots);
    BENCH_RESULT("checksum", "%llu", (unsigned long long)checksum);
    return 0;
}
