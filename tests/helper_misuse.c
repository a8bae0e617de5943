/* Helper for the misuse tests: commits one kind of misuse, named by argv[1], against the
 * process's malloc (a heapkit product is linked in). The test expects SIGABRT and one line. */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc != 2) return 2;
    const char *what = argv[1];
    void *volatile p;
    if (strcmp(what, "double-free-small") == 0) {
        p = malloc(32);
        free(p);
        free(p);
    } else if (strcmp(what, "double-free-large") == 0) {
        p = malloc(8u << 20);
        free(p);
        free(p);
    } else if (strcmp(what, "free-stack") == 0) {
        char local[64];
        p = local;
        free(p);
    } else if (strcmp(what, "free-interior") == 0) {
        char *block = malloc(256);
        p = block + 48;
        free(p);
    } else if (strcmp(what, "realloc-freed") == 0) {
        p = malloc(64);
        free(p);
        p = realloc(p, 128);
    } else {
        return 2;
    }
    return 0; /* misuse went unnoticed: the test fails on exit code 0 */
}
