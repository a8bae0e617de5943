/* A program run with the valgrind build of libheapkit preloaded (tests/test_valgrind.c): clean
 * work memcheck must find nothing in, or one misuse inside heapkit-managed memory it must
 * report. Usage: helper_vg_malloc clean|small-use-after-free|huge-use-after-free|leak */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *churn(void *arg)
{
    (void)arg;
    void *p[400];
    for (int i = 0; i < 400; i++) {
        p[i] = malloc(16 + (size_t)i * 7);
        memset(p[i], i, 16 + (size_t)i * 7);
    }
    for (int i = 0; i < 400; i++) free(p[i]);
    return NULL;
}

static int clean(void)
{
    char *big = calloc(1, 300000);
    big[299999] = 1;
    char *text = NULL;
    size_t len = 0;
    for (int i = 0; i < 1000; i++) { /* grows into a huge span, in place */
        text = realloc(text, len + 50);
        memset(text + len, 'x', 50);
        len += 50;
    }
    void *kept[2000];
    for (int i = 0; i < 2000; i++) {
        kept[i] = malloc((size_t)(i % 300) + 1);
        ((char *)kept[i])[0] = 1;
    }
    for (int i = 0; i < 2000; i += 2) free(kept[i]);
    pthread_t t[3];
    for (int i = 0; i < 3; i++) pthread_create(&t[i], NULL, churn, NULL);
    for (int i = 0; i < 3; i++) pthread_join(t[i], NULL);
    for (int i = 1; i < 2000; i += 2) free(kept[i]); /* some freed by other threads' pages */
    free(text);
    free(big);
    return 0;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "clean";
    if (!strcmp(mode, "clean")) return clean();
    if (!strcmp(mode, "small-use-after-free")) {
        char *p = malloc(48);
        free(p);
        ((volatile char *)p)[20] = 7;
        return 0;
    }
    if (!strcmp(mode, "huge-use-after-free")) {
        char *p = malloc(400000);
        free(p);
        ((volatile char *)p)[5000] = 7;
        return 0;
    }
    if (!strcmp(mode, "leak")) {
        void *volatile lost = malloc(100);
        lost = NULL;
        return lost != NULL;
    }
    fprintf(stderr, "usage: helper_vg_malloc clean|small-use-after-free|huge-use-after-free|leak\n");
    return 2;
}
