/* libosmem, step by step: each step names the call before making it, so that running this
 * program under `strace -e trace=brk,mmap,munmap,write` shows which system calls each call
 * costs. Output goes through write(2) so that stdio never touches the heap in between.
 *
 *   os_malloc(100)        first heap use: one brk moving the break by 128 KiB
 *   os_malloc(200)        split from the preallocation: no system call
 *   os_malloc(200000)     at or above 128 KiB: one mmap of 200000 + 32 bytes
 *   os_free(big)          one munmap
 *   os_calloc(1, 5000)    calloc maps from one page up: one mmap of 5032 bytes
 *   os_realloc(a, 1000)   a is followed by an allocated block: moves, no system call */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "osmem.h"

static void say(const char *text)
{
    if (write(1, text, strlen(text)) < 0) _exit(1);
}

static void show(const char *call, const void *result)
{
    char line[128];
    snprintf(line, sizeof line, "   %s -> %p\n", call, result);
    say(line);
}

int main(void)
{
    say("== os_malloc(100)\n");
    char *a = os_malloc(100);
    show("os_malloc(100)", a);
    say("== os_malloc(200)\n");
    char *b = os_malloc(200);
    show("os_malloc(200)", b);
    say("== os_malloc(200000)\n");
    char *big = os_malloc(200000);
    show("os_malloc(200000)", big);
    say("== os_free(big)\n");
    os_free(big);
    say("== os_calloc(1, 5000)\n");
    char *zeroed = os_calloc(1, 5000);
    show("os_calloc(1, 5000)", zeroed);
    say("== os_realloc(a, 1000)\n");
    memset(a, 'x', 100);
    char *moved = os_realloc(a, 1000);
    show("os_realloc(a, 1000)", moved);
    say("== os_free(everything)\n");
    int ok = a && b && big && zeroed && moved && zeroed[4999] == 0 && moved[99] == 'x';
    os_free(moved);
    os_free(b);
    os_free(zeroed);
    say(ok ? "== done\n" : "== FAILED\n");
    return ok ? 0 : 1;
}
